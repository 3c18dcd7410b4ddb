#include "zpack.h"

#include <string.h>

/* Leading zero words of w[0..n), checked four at a time. */
static size_t zero_run(const uint64_t *w, size_t n)
{
    size_t k = 0;
    while (k + 4 <= n && (w[k] | w[k + 1] | w[k + 2] | w[k + 3]) == 0)
        k += 4;
    while (k < n && w[k] == 0)
        k++;
    return k;
}

/* Leading words of w[0..n) up to the first pair of zero words (one zero word inside a run is
 * cheaper kept than a new 2-byte header; a final zero word ends the run). */
static size_t literal_run(const uint64_t *w, size_t n)
{
    size_t k = 0;
    while (k < n) {
        if (w[k] == 0 && (k + 1 >= n || w[k + 1] == 0))
            break;
        k++;
    }
    return k;
}

size_t vane_zpack(const uint64_t *src, size_t words, uint8_t *dst)
{
    uint8_t *p = dst;
    size_t i = 0;
    while (i < words) {
        size_t rest = words - i;
        size_t z = zero_run(src + i, rest < 255 ? rest : 255);
        i += z;
        rest -= z;
        size_t l = literal_run(src + i, rest < 255 ? rest : 255);
        *p++ = (uint8_t)z;
        *p++ = (uint8_t)l;
        memcpy(p, src + i, l * 8);
        p += l * 8;
        i += l;
    }
    return (size_t)(p - dst);
}

int vane_zunpack(const uint8_t *src, size_t len, uint64_t *dst, size_t words)
{
    /* Zero everything once (one wide memset), then place the literal runs. */
    memset(dst, 0, words * 8);
    size_t i = 0, pos = 0;
    while (pos < len) {
        if (len - pos < 2)
            return -1;
        size_t z = src[pos], l = src[pos + 1];
        pos += 2;
        if (z + l > words - i || l * 8 > len - pos)
            return -1;
        i += z;
        memcpy(dst + i, src + pos, l * 8);
        i += l;
        pos += l * 8;
    }
    return i == words ? 0 : -1;
}
