/* codec.h - bytes <-> events and alerts, in JSON and protobuf (shared/CONTRACT.md).
 *
 * Decoding is allocation-free in the steady state: a vane_decoder_t owns all scratch space
 * (unescaped JSON strings) sized at creation, and a decoded vane_event_t borrows from the
 * input bytes and that scratch until the next decode call.
 * Every reject says why with a reason code (counted by the daemon as a metric label, and
 * the dead-letter header), the field it concerns, and a one-line message.
 *
 * Format choice (CONTRACT.md): the Kafka header content-type when present, else the
 * configured default, else JSON when the first non-blank byte is '{', else protobuf.
 * Recognised content types (parameters such as "; charset=utf-8" ignored, case-insensitive):
 * application/json, text/json, any "+json" suffix; application/x-protobuf,
 * application/protobuf, application/x-protobuffer, application/vnd.google.protobuf, any
 * "+proto" suffix. Any other content type falls through to the configured default.
 *
 * Encoders append to a caller-owned vane_buf_t (reused across calls, so no steady-state
 * allocation). Pure code: no I/O, no clock.
 *
 * What producers must know about accepted input (both formats unless noted):
 *   - Unknown fields are ignored, whatever their value (forward compatibility: a producer
 *     may add fields before vane knows them). JSON keys are case-sensitive; they are matched
 *     after unescaping.
 *   - Required: customer_id (non-empty), event_time_ms (> 0), exactly one payload (txn,
 *     login, engagement, profile), txn.kind and engagement.kind (not UNSPECIFIED), and
 *     engagement.score when the kind is SURVEY.
 *   - Ranges: txn.amount_minor 0..10^17, txn.balance_after_minor -10^17..10^17,
 *     engagement.score 0..10, profile.since_ms >= 0.
 *   - Strings: valid UTF-8 with no NUL byte; event_id and customer_id at most VANE_ID_MAX
 *     bytes, every other string at most VANE_SHORT_MAX bytes (after JSON unescaping).
 *   - A message over the decoder's max_bytes is too_large; a zero-length one is empty.
 *   - JSON: exactly one object with nothing but whitespace after it; RFC 8259 syntax only (no
 *     comments, trailing commas, NaN, single quotes); at most 64 levels of nesting; strings
 *     must be UTF-8 and \u escapes must pair surrogates. Enums are names, case-insensitive
 *     ("mobile"), or their protobuf number; "UNSPECIFIED" is not a name. 64-bit integers are
 *     numbers or decimal strings ("5000000": optional '-', digits only); a number may use a
 *     fraction or exponent only when its value is a whole number (1.5e3 is 1500, 1.5 is
 *     rejected), and anything outside int64 is rejected, never rounded. null is the same as
 *     an absent field. A key given twice, or two payloads, is rejected (unlike protobuf,
 *     where the last payload wins).
 *   - Protobuf: unknown enum numbers are unknown_enum; the proto3 rule applies for repeated
 *     scalar fields and oneofs (the last one wins; a payload seen twice is replaced, not
 *     merged, as protobuf-c's unpack does). Decoding uses no memory beyond the message.
 * Memory per decoder: about max_bytes (the JSON unescape scratch), allocated by
 * vane_decoder_new.
 * A decoder is single-threaded state: use one per thread.
 */
#ifndef VANE_CODEC_H
#define VANE_CODEC_H

#include "alert.h"
#include "event.h"

#include "../util/buf.h"

#include <stddef.h>

typedef enum vane_format {
    VANE_FORMAT_AUTO = 0,
    VANE_FORMAT_JSON = 1,
    VANE_FORMAT_PROTOBUF = 2,
} vane_format_t;

/* Why a message was rejected. The name column is the metric label / DLQ header value. */
#define VANE_REJECT_MAP(XX)                                                                        \
    XX(TOO_LARGE, "too_large")             /* over the configured max message size */              \
    XX(EMPTY, "empty")                     /* zero-length value */                                 \
    XX(JSON_SYNTAX, "json_syntax")         /* not well-formed JSON, or not an object */            \
    XX(JSON_TYPE, "json_type")             /* a field has the wrong JSON type */                   \
    XX(PB_MALFORMED, "protobuf_malformed") /* protobuf-c could not unpack it */                    \
    XX(MISSING_FIELD, "missing_field")     /* customer_id, event_time_ms, payload, ... */          \
    XX(UNKNOWN_ENUM, "unknown_enum")       /* enum name or number not in the contract */           \
    XX(BAD_VALUE, "bad_value")             /* out of range: negative amount, score 11 ... */       \
    XX(NOT_UTF8, "not_utf8")               /* a string is not valid UTF-8 */                       \
    XX(TOO_LONG, "field_too_long")         /* an id or string over its limit */                    \
    XX(BAD_TIME, "bad_time")               /* event time absurdly far from now (daemon) */         \
    XX(KEY_MISMATCH, "key_mismatch")       /* Kafka key differs from customer_id (daemon) */

typedef enum vane_reject {
    VANE_REJECT_NONE = 0,
#define VANE__REJ_ENUM(name, label) VANE_REJECT_##name,
    VANE_REJECT_MAP(VANE__REJ_ENUM)
#undef VANE__REJ_ENUM
        VANE_REJECT__COUNT
} vane_reject_t;

/* Metric label of a reason ("json_syntax"); "none" for VANE_REJECT_NONE. */
const char *vane_reject_name(vane_reject_t r);

typedef struct vane_decode_error {
    vane_reject_t reason;
    char field[48]; /* the field concerned ("txn.amount_minor"), or "" */
    char msg[160];  /* one line, e.g. "amount_minor is negative (-5)" */
    size_t offset;  /* byte offset into the input where known, else 0 */
} vane_decode_error_t;

typedef struct vane_decoder vane_decoder_t;

/* Largest max_bytes vane_decoder_new accepts (JSON token offsets are ints). */
#define VANE_DECODE_MAX_BYTES (16u * 1024 * 1024)

/* Create a decoder for messages of at most max_bytes (1..VANE_DECODE_MAX_BYTES). NULL on
 * allocation failure or a bad size.
 * Owned by the caller; free with vane_decoder_free (NULL-safe). */
vane_decoder_t *vane_decoder_new(size_t max_bytes);
void vane_decoder_free(vane_decoder_t *dec);

/* Choose the format: content_type (may be NULL/empty) wins, then configured (if not AUTO),
 * then a sniff of the bytes. */
vane_format_t vane_format_detect(const char *content_type, size_t ct_len, vane_format_t configured,
                                 const void *bytes, size_t len);
/* "json" | "protobuf" | "auto" -> format; returns 0 or VANE_EINVAL. */
int vane_format_parse(const char *s, vane_format_t *out);
const char *vane_format_name(vane_format_t f);

/* Decode one event. On success returns 0 and fills *ev (borrowed, see above). On a reject
 * returns a negative VANE_E* code, fills *err (may be NULL) and leaves *ev unspecified. fmt
 * should not be AUTO (call vane_format_detect first); AUTO sniffs the bytes. Validates the
 * contract: customer_id and event_time_ms present, exactly one payload, enums known, amounts >= 0,
 * score 0..10, strings UTF-8 and within VANE_ID_MAX / VANE_SHORT_MAX. */
int vane_decoder_decode(vane_decoder_t *dec, const void *bytes, size_t len, vane_format_t fmt,
                        vane_event_t *ev, vane_decode_error_t *err);

/* The contract checks vane_decoder_decode applies after either format's parse (exposed for
 * producers that build events in code, e.g. `vane gen`). Returns 0 or a negative VANE_E*
 * code and fills *err (may be NULL). */
int vane_codec_validate_event(const vane_event_t *ev, vane_decode_error_t *err);

/* Encoders: append one message to out (JSON: a single-line object, no trailing newline). */
int vane_codec_encode_event(const vane_event_t *ev, vane_format_t fmt, vane_buf_t *out);
int vane_codec_encode_alert(const vane_alert_t *a, vane_format_t fmt, vane_buf_t *out);

/* Decode an alert (for `vane tail`, tests and `vane rules test`). Allocates nothing that
 * outlives the call; fills *a completely. Returns 0 or a negative VANE_E* code. */
int vane_codec_decode_alert(const void *bytes, size_t len, vane_format_t fmt, vane_alert_t *a,
                            vane_decode_error_t *err);

#endif
