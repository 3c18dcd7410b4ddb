/* replay_input.h - vane_replay_input_t: read recorded events from a file, one message at a time.
 *
 * Two framings, the two `vane gen` writes and a bank exports:
 *   JSON lines             one event object per line; blank lines are skipped, a trailing CR
 *                          is dropped;
 *   length-delimited pb    each message preceded by its length as a protobuf varint (the
 *                          framing of protobuf's writeDelimitedTo / vane_buf_varint).
 * VANE_FORMAT_AUTO sniffs the start of the input: JSON lines when the first non-blank byte is
 * '{' or when the first 4 KiB hold no control bytes (besides tab, CR, LF), so a JSON-lines file
 * that opens with a broken line is still read as JSON; otherwise protobuf (every protobuf event
 * holds control bytes: the tag of event_time_ms is 0x18).
 *
 * The reader owns one buffer, sized at open from max_bytes, and never allocates afterwards.
 * A message returned by next() borrows that buffer until the following call. Not thread-safe.
 */
#ifndef VANE_REPLAY_INPUT_H
#define VANE_REPLAY_INPUT_H

#include "../engine/codec.h"

#include <stddef.h>
#include <stdint.h>

typedef struct vane_replay_input vane_replay_input_t;

/* Open path ("-" = stdin) for reading messages of at most max_bytes. fmt may be AUTO.
 * Returns NULL and fills errbuf on failure (cannot open, cannot allocate). */
vane_replay_input_t *vane_replay_input_open(const char *path, vane_format_t fmt, size_t max_bytes,
                                            char *errbuf, size_t errlen);
/* Close the file (unless stdin) and free the reader. NULL-safe. */
void vane_replay_input_close(vane_replay_input_t *in);

/* Next message. Returns 1 and sets *msg and *len (borrowed until the next call); 0 at the end of
 * input; VANE_ETOOBIG when a message was over max_bytes (it was skipped: call again);
 * VANE_ETRUNC when the input ends inside a message (then 0 on the next call); VANE_EIO on a
 * read error. */
int vane_replay_input_next(vane_replay_input_t *in, const char **msg, size_t *len);

/* The framing in use (never AUTO once open returned). */
vane_format_t vane_replay_input_format(const vane_replay_input_t *in);
/* Ordinal of the message last returned or skipped (1-based; the line number for JSON lines). */
uint64_t vane_replay_input_record(const vane_replay_input_t *in);
/* Bytes consumed so far, and the input's total size (-1 when unknown: a pipe). */
uint64_t vane_replay_input_offset(const vane_replay_input_t *in);
int64_t vane_replay_input_size(const vane_replay_input_t *in);

#endif
