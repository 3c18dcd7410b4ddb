/* buf.h - vane_buf_t: a growable byte buffer.
 *
 * The buffer owns its bytes (heap). It grows geometrically and never shrinks on reset, so a
 * buffer reused across messages stops allocating once it has seen the largest message: that
 * is how encoders stay allocation-free in the steady state. data is always NUL-terminated
 * (one spare byte beyond len) so text can be passed to C string functions.
 * Zero-initialised (VANE_BUF_INIT) is a valid empty buffer; vane_buf_free() accepts it.
 */
#ifndef VANE_BUF_H
#define VANE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vane_buf {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated, excluding the NUL spare */
} vane_buf_t;

#define VANE_BUF_INIT                                                                              \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Make room for at least extra more bytes; returns 0 or VANE_ENOMEM (buffer unchanged). */
int vane_buf_reserve(vane_buf_t *b, size_t extra);
int vane_buf_append(vane_buf_t *b, const void *p, size_t n);
int vane_buf_putc(vane_buf_t *b, char c);
int vane_buf_puts(vane_buf_t *b, const char *s);
int vane_buf_printf(vane_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal, quotes included, escaping as RFC 8259 requires. */
int vane_buf_json_str(vane_buf_t *b, const char *s, size_t n);
/* The value of hex digit c (0-9, a-f, A-F), or -1. For parsers of \u and %XX escapes. */
int vane_buf_hex_digit(char c);
/* Write v in decimal at dst (VANE_BUF_I64_MAX bytes at least; no NUL); returns the length.
 * What snprintf("%lld") prints, at a small fraction of its cost (the write-back formats one
 * score per customer). */
#define VANE_BUF_I64_MAX 20
size_t vane_buf_fmt_i64(char *dst, int64_t v);
/* Append v in decimal. */
int vane_buf_i64(vane_buf_t *b, int64_t v);
/* Append an unsigned LEB128 varint (the protobuf length-delimited framing). */
int vane_buf_varint(vane_buf_t *b, uint64_t v);
static inline void vane_buf_reset(vane_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}
/* Release the bytes; the buffer is empty and reusable afterwards. NULL-safe. */
void vane_buf_free(vane_buf_t *b);

#endif
