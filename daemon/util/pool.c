#include "pool.h"

#include "bigmem.h"
#include "err.h"

#include <string.h>

#define CHUNK_MIN VANE_BIGMEM_HUGE
#define CHUNK_MAX ((size_t)64 << 20)
/* A spare is at most this big: it may sit unused (the pool stopped growing), and a pool fed
 * spares grows in chunks of this size. */
#define SPARE_MAX ((size_t)16 << 20)

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
    if (pool->spare)
        vane_bigmem_free(pool->spare, pool->spare_size);
    vane_pool_init(pool);
}

static void push_free(vane_pool_t *pool, uint8_t *blk, unsigned units)
{
    memcpy(blk, &pool->free_blk[units], sizeof blk);
    pool->free_blk[units] = blk;
    pool->nonempty[units / 64] |= (uint64_t)1 << (units % 64);
    pool->free_bytes += (size_t)units * VANE_POOL_UNIT;
}

static uint8_t *pop_free(vane_pool_t *pool, unsigned units)
{
    uint8_t *b = pool->free_blk[units];
    memcpy(&pool->free_blk[units], b, sizeof b);
    if (!pool->free_blk[units])
        pool->nonempty[units / 64] &= ~((uint64_t)1 << (units % 64));
    pool->free_bytes -= (size_t)units * VANE_POOL_UNIT;
    return b;
}

/* The smallest size >= units with a free block, or 0 when none. */
static unsigned smallest_free(const vane_pool_t *pool, unsigned units)
{
    for (unsigned w = units / 64; w < sizeof pool->nonempty / sizeof pool->nonempty[0]; w++) {
        uint64_t bits = pool->nonempty[w];
        if (w == units / 64)
            bits &= ~(uint64_t)0 << (units % 64);
        if (bits)
            return w * 64 + (unsigned)__builtin_ctzll(bits);
    }
    return 0;
}

/* Map a chunk of size bytes (or take the spare, when it has at least min) and carve from it
 * from now on; the previous chunk's unused tail becomes free blocks. */
static int add_chunk(vane_pool_t *pool, size_t size, size_t min)
{
    vane_pool_chunk_t *nc;
    if (pool->spare && pool->spare_size >= min) {
        nc = pool->spare;
        size = pool->spare_size;
        pool->spare = NULL;
        pool->spare_size = 0;
    } else if (!(nc = vane_bigmem_alloc(size))) {
        return VANE_ENOMEM;
    }
    vane_pool_chunk_t *c = pool->chunks;
    if (c) {
        size_t left = c->size - sizeof *c - c->used;
        for (uint8_t *t = c->data + c->used; left >= VANE_POOL_UNIT;) {
            unsigned u = (unsigned)(left / VANE_POOL_UNIT);
            if (u > VANE_POOL_MAX_UNITS)
                u = VANE_POOL_MAX_UNITS;
            push_free(pool, t, u);
            pool->carved_bytes += (size_t)u * VANE_POOL_UNIT;
            t += (size_t)u * VANE_POOL_UNIT;
            left -= (size_t)u * VANE_POOL_UNIT;
        }
        c->used = c->size - sizeof *c;
    }
    nc->next = c;
    nc->size = size;
    nc->used = 0;
    pool->chunks = nc;
    pool->chunk_bytes += size;
    return VANE_OK;
}

/* The size of the chunk to map after c (NULL: the first). */
static size_t next_chunk_size(const vane_pool_chunk_t *c)
{
    size_t size = c ? c->size * 2 : CHUNK_MIN;
    return size > CHUNK_MAX ? CHUNK_MAX : size;
}

size_t vane_pool_spare_want(const vane_pool_t *pool)
{
    const vane_pool_chunk_t *c = pool->chunks;
    if (pool->spare || (c && (c->size - sizeof *c - c->used) * 4 > c->size))
        return 0;
    size_t size = next_chunk_size(c);
    return size < SPARE_MAX ? size : SPARE_MAX;
}

void vane_pool_spare_give(vane_pool_t *pool, void *mem, size_t size)
{
    if (pool->spare || size < CHUNK_MIN) {
        vane_bigmem_free(mem, size);
        return;
    }
    pool->spare = mem;
    pool->spare_size = size;
}

uint8_t *vane_pool_get(vane_pool_t *pool, unsigned units)
{
    VANE_ASSERT(units >= 1 && units <= VANE_POOL_MAX_UNITS);
    unsigned have = smallest_free(pool, units);
    if (have) {
        uint8_t *b = pop_free(pool, have);
        if (have > units)
            push_free(pool, b + (size_t)units * VANE_POOL_UNIT, have - units);
        return b;
    }
    size_t need = (size_t)units * VANE_POOL_UNIT;
    vane_pool_chunk_t *c = pool->chunks;
    if (!c || c->size - sizeof *c - c->used < need) {
        if (add_chunk(pool, next_chunk_size(c), sizeof *c + need) != VANE_OK)
            return NULL;
        c = pool->chunks;
    }
    uint8_t *b = c->data + c->used;
    c->used += need;
    pool->carved_bytes += need;
    return b;
}

int vane_pool_reserve(vane_pool_t *pool, size_t bytes)
{
    const vane_pool_chunk_t *c = pool->chunks;
    if (c && c->size - sizeof *c - c->used >= bytes)
        return VANE_OK;
    size_t size = (sizeof *c + bytes + CHUNK_MIN - 1) / CHUNK_MIN * CHUNK_MIN;
    return add_chunk(pool, size, size);
}

void vane_pool_put(vane_pool_t *pool, uint8_t *blk, unsigned units)
{
    VANE_ASSERT(units >= 1 && units <= VANE_POOL_MAX_UNITS);
    push_free(pool, blk, units);
}
