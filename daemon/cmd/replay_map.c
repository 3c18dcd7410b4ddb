#include "replay_map.h"

#include "../util/bigmem.h"
#include "../util/err.h"
#include "../util/hotset.h"
#include "../util/pool.h"
#include "../util/zpack.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

_Static_assert(sizeof(vane_state_t) % 8 == 0, "zpack packs whole 8-byte words");
#define STATE_WORDS (sizeof(vane_state_t) / 8)

/* Index entries: slot1 0 means empty, otherwise slot + 1. Beside it the hash's low 32 bits,
 * which place the entry (the index has at most 2^32 entries) and let a probe skip the slot
 * record of nearly every other id; 8 bytes an entry keep the index half the size (more of it
 * stays in the CPU cache). */
typedef struct map_entry {
    uint32_t hash_lo;
    uint32_t slot1;
} map_entry_t;

/* A customer's block in the pool: [id length: 1 byte][id bytes][zpack of the state]. The id
 * is always there (probes compare it); the packing is absent (len == 1 + id length) until the
 * state first leaves the hot set. */
#define ID_PREFIX 15
typedef struct slot_rec {
    uint8_t *blk;
    uint16_t len;    /* bytes used */
    uint16_t units;  /* capacity in POOL_UNIT-byte units */
    uint32_t out_at; /* the hot set's clock when it last left the hot set */
    /* The id's length and first bytes, so a lookup of an id of up to ID_PREFIX bytes (the
     * usual case) is decided here, and the block (the state) can be fetched from memory while
     * the hot set makes room for it instead of before. */
    uint8_t idlen;
    char id[ID_PREFIX];
} slot_rec_t;

#define BLK_MAX (1 + VANE_ID_MAX + VANE_ZPACK_MAX(STATE_WORDS))
_Static_assert(BLK_MAX <= VANE_POOL_UNIT * VANE_POOL_MAX_UNITS, "a packed state fits a pool block");

struct vane_replay_map {
    slot_rec_t *slots; /* count used, cap allocated */
    size_t count;
    size_t cap;
    map_entry_t *index; /* power-of-two sized, load <= 1/2 */
    size_t index_mask;
    /* Hot set: full states; a line's tag is its slot + 1, its key the slot. Its clock counts
     * state requests. */
    vane_hotset_t hot;
    vane_pool_t pool; /* the packed states' blocks */
    uint8_t scratch[BLK_MAX];
    vane_replay_map_stats_t st;
};

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

vane_replay_map_t *vane_replay_map_new(size_t expected, size_t hot, size_t hot_max)
{
    vane_replay_map_t *map = calloc(1, sizeof *map);
    if (!map)
        goto err;
    vane_pool_init(&map->pool);
    map->cap = expected ? expected : 1024;
    map->slots = malloc(map->cap * sizeof *map->slots);
    if (!map->slots)
        goto err;
    vane_bigmem_advise(map->slots, map->cap * sizeof *map->slots);
    size_t isize = pow2_at_least(map->cap * 2);
    map->index = calloc(isize, sizeof *map->index);
    if (!map->index)
        goto err;
    vane_bigmem_advise(map->index, isize * sizeof *map->index);
    map->index_mask = isize - 1;
    if (vane_hotset_init(&map->hot, STATE_WORDS, hot ? hot : VANE_REPLAY_MAP_HOT,
                         hot_max ? hot_max : VANE_REPLAY_MAP_HOT_MAX) != VANE_OK)
        goto err;
    return map;
err:
    vane_replay_map_free(map);
    return NULL;
}

void vane_replay_map_free(vane_replay_map_t *map)
{
    if (!map)
        return;
    vane_pool_destroy(&map->pool);
    free(map->slots);
    free(map->index);
    vane_hotset_destroy(&map->hot);
    free(map);
}

/* ---- hot set ------------------------------------------------------------------------------- */

/* Pack the state in line into its slot's block (moving it to a block of the new size).
 * Returns VANE_OK or VANE_ENOMEM (the line is then left as it was). */
static int spill(vane_replay_map_t *map, size_t line)
{
    slot_rec_t *r = &map->slots[vane_hotset_tag(&map->hot, line) - 1];
    size_t head = 1 + (size_t)r->idlen;
    size_t plen = vane_zpack(vane_hotset_value(&map->hot, line), STATE_WORDS, map->scratch);
    size_t len = head + plen;
    uint16_t units = (uint16_t)vane_pool_units(len);
    if (units != r->units) {
        uint8_t *nb = vane_pool_get(&map->pool, units);
        if (!nb)
            return VANE_ENOMEM;
        memcpy(nb, r->blk, head);
        vane_pool_put(&map->pool, r->blk, r->units);
        r->blk = nb;
        r->units = units;
    }
    memcpy(r->blk + head, map->scratch, plen);
    map->st.packed_bytes += len;
    map->st.packed_bytes -= r->len;
    r->len = (uint16_t)len;
    r->out_at = map->hot.clock;
    map->st.packs++;
    vane_hotset_clear(&map->hot, line);
    return VANE_OK;
}

/* Make line free for a new occupant. */
static int vacate(vane_replay_map_t *map, size_t line)
{
    return vane_hotset_tag(&map->hot, line) ? spill(map, line) : VANE_OK;
}

vane_state_t *vane_replay_map_state(vane_replay_map_t *map, int64_t slot)
{
    VANE_ASSERT(slot >= 0 && (size_t)slot < map->count);
    vane_hotset_t *hs = &map->hot;
    uintptr_t tag = (uintptr_t)slot + 1;
    size_t line = vane_hotset_line(hs, (uint64_t)slot);
    bool hit = vane_hotset_tag(hs, line) == tag;
    /* (Up to the unpack only the slot record is read, not the block: the block is still on
     * its way from memory.) */
    if (vane_hotset_request(hs, !hit, hit ? 0 : map->slots[slot].out_at)) {
        line = vane_hotset_line(hs, (uint64_t)slot); /* the set grew: lines moved */
        hit = vane_hotset_tag(hs, line) == tag;
    }
    vane_state_t *cs = (vane_state_t *)(void *)vane_hotset_value(hs, line);
    if (hit)
        return cs;
    /* Start loading the wanted block while the occupant is packed. */
    const slot_rec_t *r = &map->slots[slot];
    for (size_t off = 0; off < r->len; off += 64)
        __builtin_prefetch(r->blk + off);
    /* Packing fails only when the occupant needs a block of a new size and none can be
     * allocated; the occupant then stays hot and intact. */
    if (vacate(map, line) != VANE_OK)
        return NULL;
    /* A slot outside the hot set has been packed: it was created hot and packed when it left. */
    size_t head = 1 + (size_t)r->idlen;
    int rc = vane_zunpack(r->blk + head, r->len - head, (uint64_t *)(void *)cs, STATE_WORDS);
    VANE_ASSERT(r->len > head && rc == 0);
    vane_hotset_put(hs, line, tag, (uint64_t)slot);
    map->st.unpacks++;
    return cs;
}

/* ---- index --------------------------------------------------------------------------------- */

static uint64_t id_hash(vane_str_t id)
{
    return XXH3_64bits(id.p, id.len);
}

static int64_t probe(const vane_replay_map_t *map, vane_str_t id, uint64_t h, size_t *pos)
{
    size_t i = (size_t)h & map->index_mask;
    for (;;) {
        const map_entry_t *e = &map->index[i];
        if (e->slot1 == 0) {
            *pos = i;
            return VANE_ENOTFOUND;
        }
        if (e->hash_lo == (uint32_t)h) {
            const slot_rec_t *r = &map->slots[e->slot1 - 1];
            size_t pre = id.len < ID_PREFIX ? id.len : ID_PREFIX;
            if (r->idlen == id.len && memcmp(r->id, id.p, pre) == 0 &&
                (id.len == pre || memcmp(r->blk + 1 + pre, id.p + pre, id.len - pre) == 0)) {
                *pos = i;
                return (int64_t)(e->slot1 - 1);
            }
        }
        i = (i + 1) & map->index_mask;
    }
}

int64_t vane_replay_map_find(const vane_replay_map_t *map, vane_str_t customer_id)
{
    size_t pos;
    if (customer_id.len == 0 || customer_id.len > VANE_ID_MAX)
        return VANE_ENOTFOUND;
    return probe(map, customer_id, id_hash(customer_id), &pos);
}

static int grow_index(vane_replay_map_t *map)
{
    size_t isize = (map->index_mask + 1) * 2;
    if (isize > ((size_t)1 << 32))
        return VANE_ENOMEM; /* entries are placed by 32 hash bits */
    map_entry_t *idx = calloc(isize, sizeof *idx);
    if (!idx)
        return VANE_ENOMEM;
    vane_bigmem_advise(idx, isize * sizeof *idx);
    for (size_t i = 0; i <= map->index_mask; i++) {
        const map_entry_t *e = &map->index[i];
        if (e->slot1 == 0)
            continue;
        size_t j = (size_t)e->hash_lo & (isize - 1);
        while (idx[j].slot1 != 0)
            j = (j + 1) & (isize - 1);
        idx[j] = *e;
    }
    free(map->index);
    map->index = idx;
    map->index_mask = isize - 1;
    return VANE_OK;
}

uint64_t vane_replay_map_prefetch_index(const vane_replay_map_t *map, vane_str_t customer_id)
{
    uint64_t h = id_hash(customer_id);
    __builtin_prefetch(&map->index[(size_t)h & map->index_mask]);
    return h;
}

void vane_replay_map_prefetch_slot(const vane_replay_map_t *map, uint64_t hash)
{
    size_t i = (size_t)hash & map->index_mask;
    for (int k = 0; k < 4; k++, i = (i + 1) & map->index_mask) {
        const map_entry_t *e = &map->index[i];
        if (e->slot1 == 0)
            return;
        if (e->hash_lo == (uint32_t)hash) {
            __builtin_prefetch(&map->slots[e->slot1 - 1]);
            return;
        }
    }
}

int64_t vane_replay_map_upsert(vane_replay_map_t *map, vane_str_t customer_id, int *created)
{
    if (created)
        *created = 0;
    if (customer_id.len == 0 || customer_id.len > VANE_ID_MAX)
        return VANE_EINVAL;
    uint64_t h = id_hash(customer_id);
    size_t pos;
    int64_t slot = probe(map, customer_id, h, &pos);
    if (slot >= 0)
        return slot;
    if (map->count >= UINT32_MAX - 1)
        return VANE_ENOMEM; /* slot numbers are 32-bit */
    if (map->count == map->cap) {
        size_t ncap = map->cap * 2;
        slot_rec_t *ns = realloc(map->slots, ncap * sizeof *ns);
        if (!ns)
            return VANE_ENOMEM;
        map->slots = ns;
        map->cap = ncap;
        vane_bigmem_advise(ns, ncap * sizeof *ns);
    }
    if ((map->count + 1) * 2 > map->index_mask + 1) {
        if (grow_index(map) != VANE_OK)
            return VANE_ENOMEM;
        probe(map, customer_id, h, &pos); /* find the empty position in the new index */
    }
    slot = (int64_t)map->count;
    size_t line = vane_hotset_line(&map->hot, (uint64_t)slot);
    if (vacate(map, line) != VANE_OK)
        return VANE_ENOMEM;
    size_t head = 1 + customer_id.len;
    unsigned units = vane_pool_units(head);
    uint8_t *b = vane_pool_get(&map->pool, units);
    if (!b)
        return VANE_ENOMEM;
    b[0] = (uint8_t)customer_id.len;
    memcpy(b + 1, customer_id.p, customer_id.len);
    slot_rec_t *r = &map->slots[slot];
    *r = (slot_rec_t){.blk = b, .len = (uint16_t)head, .units = (uint16_t)units};
    r->idlen = (uint8_t)customer_id.len;
    memcpy(r->id, customer_id.p, customer_id.len < ID_PREFIX ? customer_id.len : ID_PREFIX);
    map->st.packed_bytes += head;
    map->count++;
    vane_state_init((vane_state_t *)(void *)vane_hotset_value(&map->hot, line), customer_id);
    vane_hotset_put(&map->hot, line, (uintptr_t)slot + 1, (uint64_t)slot);
    map->index[pos].hash_lo = (uint32_t)h;
    map->index[pos].slot1 = (uint32_t)slot + 1;
    if (created)
        *created = 1;
    return slot;
}

size_t vane_replay_map_count(const vane_replay_map_t *map)
{
    return map->count;
}

void vane_replay_map_stats(const vane_replay_map_t *map, vane_replay_map_stats_t *out)
{
    *out = map->st;
    out->hot = vane_hotset_size(&map->hot);
    out->hot_grows = map->hot.grows;
    out->pool_bytes = map->pool.chunk_bytes;
}
