/* bigmem.h - large, long-lived, zeroed allocations backed by transparent huge pages.
 *
 * The state cache and the replay map hold hundreds of megabytes of per-customer states that are
 * touched for the first time as customers arrive. With 4 KiB pages every first touch is a page
 * fault (measured ~2.6 us each on the 2-core bench VM: 2.7 s per GiB); asking the kernel for
 * 2 MiB pages (madvise MADV_HUGEPAGE, honoured when transparent_hugepage is "madvise" or
 * "always") makes that 512 times fewer faults. Where the kernel refuses, the memory is still
 * valid, just backed by small pages.
 *
 * vane_bigmem_alloc returns len bytes of zeroed memory aligned to 2 MiB, or NULL when the
 * mapping fails. The caller owns it and returns it with vane_bigmem_free(p, len), passing the
 * same len. Thread-safe (plain mmap/munmap); not for small or short-lived objects.
 */
#ifndef VANE_BIGMEM_H
#define VANE_BIGMEM_H

#include <stddef.h>

#define VANE_BIGMEM_HUGE ((size_t)2 << 20) /* the huge page size the alignment targets */

void *vane_bigmem_alloc(size_t len);
void vane_bigmem_free(void *p, size_t len);

/* Ask for huge pages on the 2 MiB-aligned part of [p, p+len) of memory the caller mapped
 * some other way (e.g. a large realloc). Advisory; silently ignored when unsupported. */
void vane_bigmem_advise(void *p, size_t len);

/* Fault in every page of [p, p+len) for writing now (MADV_POPULATE_WRITE; on kernels before
 * 5.14, by writing one byte per 4 KiB page, which must be safe for the caller's contents:
 * freshly mapped zeroed memory). Moves the kernel's page zeroing out of a later hot loop. */
void vane_bigmem_populate(void *p, size_t len);

#endif
