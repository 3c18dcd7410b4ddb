/* zpack.h - zero-run packing of fixed-size, mostly-zero values (in-memory only).
 *
 * A customer's vane_state_t is ~1.9 KB, but a customer seen a few times leaves most of it zero.
 * zpack stores such a value as runs of 8-byte words: a sequence of groups, each a header
 * (zero words: 1 byte, literal words: 1 byte) followed by the literal words verbatim. Packing
 * and unpacking are word loops (no parsing, no allocation); a mostly-empty state packs to
 * 10-20% of its size, a full one to about its size plus one header per 255 words.
 *
 * The format is for this process's memory only (host byte order, layout of the packed type as
 * compiled): never persist or send it. Values must be a whole number of 8-byte words.
 * Pure code.
 */
#ifndef VANE_ZPACK_H
#define VANE_ZPACK_H

#include <stddef.h>
#include <stdint.h>

/* Worst-case packed size of a value of `words` 8-byte words (all literal). */
#define VANE_ZPACK_MAX(words) ((size_t)(words)*8 + 2 * (((size_t)(words) + 254) / 255) + 2)

/* Pack src[words] into dst (room for VANE_ZPACK_MAX(words) bytes). Returns the packed length. */
size_t vane_zpack(const uint64_t *src, size_t words, uint8_t *dst);

/* Unpack len bytes of a packing into dst[words] (fully overwritten). Returns 0, or -1 when the
 * bytes are not a packing of exactly `words` words (dst is then unspecified). */
int vane_zunpack(const uint8_t *src, size_t len, uint64_t *dst, size_t words);

#endif
