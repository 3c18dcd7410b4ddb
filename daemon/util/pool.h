/* pool.h - vane_pool_t: variable-size blocks for many small, long-lived values.
 *
 * Packed customer states (zpack.h) are a few hundred bytes each and change size as customers
 * act; a general-purpose malloc per packing would be an allocation per event. A pool hands out
 * blocks in whole units of VANE_POOL_UNIT bytes (up to VANE_POOL_MAX_UNITS units), keeps a free
 * list per block size, and carves new blocks from chunks that double from 2 MiB to 64 MiB
 * (huge-page backed, bigmem.h). A request no free list of its size can serve takes the smallest
 * larger free block and returns the rest to the free list of its size, so blocks freed by
 * values that shrank serve smaller ones instead of lying idle (there is no coalescing: blocks
 * freed by values that grew serve only values of their size or smaller). A warm pool recycles
 * blocks without allocating; chunk memory goes back to the OS only when the pool is freed.
 * The next chunk can be prepared on another thread (vane_pool_spare_want / _give), so that the
 * kernel zeroes its pages there rather than on the thread carving blocks.
 *
 * Blocks are 16-byte aligned. The caller remembers each block's size in units and passes it
 * back to vane_pool_put. Owned by the caller: vane_pool_init / vane_pool_destroy, not
 * thread-safe. Pure memory code.
 */
#ifndef VANE_POOL_H
#define VANE_POOL_H

#include <stddef.h>
#include <stdint.h>

#define VANE_POOL_UNIT      32u
#define VANE_POOL_MAX_UNITS 128u /* largest block: 4 KiB */

typedef struct vane_pool_chunk vane_pool_chunk_t;

typedef struct vane_pool {
    uint8_t *free_blk[VANE_POOL_MAX_UNITS + 1]; /* by size in units; linked through first bytes */
    uint64_t nonempty[(VANE_POOL_MAX_UNITS + 64) / 64]; /* bit u: free_blk[u] is not empty */
    size_t free_bytes;                                  /* bytes on the free lists */
    vane_pool_chunk_t *chunks;                          /* owned; newest first */
    size_t chunk_bytes;                                 /* bytes of chunks mapped */
    size_t carved_bytes; /* bytes of chunks made into blocks (in use or free): the part touched */
    void *spare;         /* owned; the next chunk's memory, given by vane_pool_spare_give */
    size_t spare_size;
} vane_pool_t;

/* An empty pool (no memory until the first block). */
void vane_pool_init(vane_pool_t *pool);
/* Return every chunk to the OS; every block handed out becomes invalid. */
void vane_pool_destroy(vane_pool_t *pool);

/* Units needed for len bytes (0 for 0). */
static inline unsigned vane_pool_units(size_t len)
{
    return (unsigned)((len + VANE_POOL_UNIT - 1) / VANE_POOL_UNIT);
}
/* A block of exactly `units` units (1..VANE_POOL_MAX_UNITS), or NULL when out of memory. */
uint8_t *vane_pool_get(vane_pool_t *pool, unsigned units);
/* Map one chunk with room for `bytes` of blocks now (unless the current one has it), so that
 * blocks summing to at most that many bytes are then handed out without failing: for filling
 * a pool with a known amount. Returns 0 or VANE_ENOMEM. */
int vane_pool_reserve(vane_pool_t *pool, size_t bytes);
/* Give back a block of `units` units from vane_pool_get. */
void vane_pool_put(vane_pool_t *pool, uint8_t *blk, unsigned units);

/* The size of the chunk the pool would map next (at most 16 MiB), when it wants one prepared
 * now: it holds no spare and at most a quarter of the current chunk is left (or there is
 * none). 0 otherwise. A pool that stops growing there keeps its spare unused. */
size_t vane_pool_spare_want(const vane_pool_t *pool);
/* Hand the pool mem, size bytes from vane_bigmem_alloc (zeroed; typically faulted in with
 * vane_bigmem_populate on another thread): its next chunk, when it needs one of at most that
 * size. The pool owns mem from now on (it unmaps it at once when it holds a spare already). */
void vane_pool_spare_give(vane_pool_t *pool, void *mem, size_t size);

#endif
