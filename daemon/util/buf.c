#include "buf.h"

#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vane_buf_reserve(vane_buf_t *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return VANE_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) {
        if (cap > SIZE_MAX / 2)
            return VANE_ENOMEM;
        cap *= 2;
    }
    char *p = realloc(b->data, cap + 1);
    if (!p)
        return VANE_ENOMEM;
    b->data = p;
    b->cap = cap;
    return VANE_OK;
}

int vane_buf_append(vane_buf_t *b, const void *p, size_t n)
{
    int rc = vane_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return VANE_OK;
}

int vane_buf_putc(vane_buf_t *b, char c)
{
    return vane_buf_append(b, &c, 1);
}

int vane_buf_puts(vane_buf_t *b, const char *s)
{
    return vane_buf_append(b, s, strlen(s));
}

int vane_buf_printf(vane_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return VANE_EINVAL;
    if ((size_t)n < sizeof small)
        return vane_buf_append(b, small, (size_t)n);
    int rc = vane_buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return VANE_OK;
}

int vane_buf_json_str(vane_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = vane_buf_reserve(b, n + 2);
    if (rc)
        return rc;
    b->data[b->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            if ((rc = vane_buf_putc(b, (char)c)))
                return rc;
            continue;
        }
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t en = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            en = 6;
        }
        if ((rc = vane_buf_append(b, esc, en)))
            return rc;
    }
    return vane_buf_putc(b, '"');
}

size_t vane_buf_fmt_i64(char *dst, int64_t v)
{
    /* The magnitude as unsigned, so INT64_MIN has one too. */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    char tmp[VANE_BUF_I64_MAX];
    size_t k = sizeof tmp;
    do {
        tmp[--k] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--k] = '-';
    memcpy(dst, tmp + k, sizeof tmp - k);
    return sizeof tmp - k;
}

int vane_buf_i64(vane_buf_t *b, int64_t v)
{
    char tmp[VANE_BUF_I64_MAX];
    return vane_buf_append(b, tmp, vane_buf_fmt_i64(tmp, v));
}

int vane_buf_varint(vane_buf_t *b, uint64_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        unsigned char byte = v & 0x7f;
        v >>= 7;
        if (v)
            byte |= 0x80;
        tmp[n++] = (char)byte;
    } while (v);
    return vane_buf_append(b, tmp, n);
}

void vane_buf_free(vane_buf_t *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int vane_buf_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}
