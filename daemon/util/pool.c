#include "pool.h"

#include "bigmem.h"
#include "err.h"

#include <string.h>

#define CHUNK_MIN VANE_BIGMEM_HUGE
#define CHUNK_MAX ((size_t)64 << 20)

struct vane_pool_chunk {
    vane_pool_chunk_t *next;
    size_t size; /* bytes mapped, this header included */
    size_t used; /* bytes of data[] handed out */
    _Alignas(16) uint8_t data[];
};

void vane_pool_init(vane_pool_t *pool)
{
    memset(pool, 0, sizeof *pool);
}

void vane_pool_destroy(vane_pool_t *pool)
{
    for (vane_pool_chunk_t *c = pool->chunks, *next; c; c = next) {
        next = c->next;
        vane_bigmem_free(c, c->size);
    }
    vane_pool_init(pool);
}

uint8_t *vane_pool_get(vane_pool_t *pool, unsigned units)
{
    VANE_ASSERT(units >= 1 && units <= VANE_POOL_MAX_UNITS);
    uint8_t *b = pool->free_blk[units];
    if (b) {
        memcpy(&pool->free_blk[units], b, sizeof b);
        return b;
    }
    size_t need = (size_t)units * VANE_POOL_UNIT;
    vane_pool_chunk_t *c = pool->chunks;
    if (!c || c->size - sizeof *c - c->used < need) {
        size_t size = c ? c->size * 2 : CHUNK_MIN;
        if (size > CHUNK_MAX)
            size = CHUNK_MAX;
        vane_pool_chunk_t *nc = vane_bigmem_alloc(size);
        if (!nc)
            return NULL;
        nc->next = c;
        nc->size = size;
        nc->used = 0;
        pool->chunks = c = nc;
        pool->chunk_bytes += size;
    }
    b = c->data + c->used;
    c->used += need;
    return b;
}

void vane_pool_put(vane_pool_t *pool, uint8_t *blk, unsigned units)
{
    VANE_ASSERT(units >= 1 && units <= VANE_POOL_MAX_UNITS);
    memcpy(blk, &pool->free_blk[units], sizeof blk);
    pool->free_blk[units] = blk;
}
