#include "bigmem.h"

#include <stdint.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

void vane_bigmem_advise(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
    uintptr_t start = round_up((uintptr_t)p, VANE_BIGMEM_HUGE);
    uintptr_t end = ((uintptr_t)p + len) / VANE_BIGMEM_HUGE * VANE_BIGMEM_HUGE;
    if (end > start)
        (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p;
    (void)len;
#endif
}

void *vane_bigmem_alloc(size_t len)
{
    if (len == 0 || len > SIZE_MAX - 2 * VANE_BIGMEM_HUGE)
        return NULL;
    len = round_up(len, VANE_BIGMEM_HUGE);
    /* Over-map by one huge page and trim both ends, so the region starts 2 MiB-aligned. */
    size_t span = len + VANE_BIGMEM_HUGE;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *p = (char *)round_up((uintptr_t)raw, VANE_BIGMEM_HUGE);
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    size_t tail = (size_t)((raw + span) - (p + len));
    if (tail)
        munmap(p + len, tail);
    vane_bigmem_advise(p, len);
    return p;
}

void vane_bigmem_free(void *p, size_t len)
{
    if (p)
        munmap(p, round_up(len, VANE_BIGMEM_HUGE));
}

void vane_bigmem_populate(void *p, size_t len)
{
    if (!p || len == 0)
        return;
    /* madvise wants a page-aligned start: round down (the page is the caller's too). */
    uintptr_t start = (uintptr_t)p / 4096 * 4096;
    if (madvise((void *)start, (uintptr_t)p + len - start, MADV_POPULATE_WRITE) == 0)
        return;
    volatile char *c = (volatile char *)p;
    for (size_t off = 0; off < len; off += 4096)
        c[off] = c[off];
}
