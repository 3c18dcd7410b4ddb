#include "replay_map.h"

#include "../util/bigmem.h"
#include "../util/err.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Index entries: 0 means empty, otherwise slot + 1. The hash is kept beside the slot so a
 * probe compares ids only on a full-hash match, and a rehash needs no id re-hashing. */
typedef struct map_entry {
    uint64_t hash;
    uint64_t slot1; /* slot + 1; 0 = empty */
} map_entry_t;

struct vane_replay_map {
    vane_state_t *states; /* slab: count used, cap allocated */
    size_t count;
    size_t cap;
    map_entry_t *index; /* power-of-two sized, load <= 1/2 */
    size_t index_mask;
};

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

vane_replay_map_t *vane_replay_map_new(size_t expected)
{
    vane_replay_map_t *map = calloc(1, sizeof *map);
    if (!map)
        goto err;
    map->cap = expected ? expected : 1024;
    map->states = malloc(map->cap * sizeof *map->states);
    if (!map->states)
        goto err;
    vane_bigmem_advise(map->states, map->cap * sizeof *map->states);
    size_t isize = pow2_at_least(map->cap * 2);
    map->index = calloc(isize, sizeof *map->index);
    if (!map->index)
        goto err;
    map->index_mask = isize - 1;
    return map;
err:
    vane_replay_map_free(map);
    return NULL;
}

void vane_replay_map_free(vane_replay_map_t *map)
{
    if (!map)
        return;
    free(map->states);
    free(map->index);
    free(map);
}

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
        if (e->hash == h) {
            const vane_state_t *cs = &map->states[e->slot1 - 1];
            /* id.len <= VANE_ID_MAX (checked by the callers), so [id.len] is in bounds. */
            if (memcmp(cs->customer_id, id.p, id.len) == 0 && cs->customer_id[id.len] == '\0') {
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
    map_entry_t *idx = calloc(isize, sizeof *idx);
    if (!idx)
        return VANE_ENOMEM;
    vane_bigmem_advise(idx, isize * sizeof *idx);
    for (size_t i = 0; i <= map->index_mask; i++) {
        const map_entry_t *e = &map->index[i];
        if (e->slot1 == 0)
            continue;
        size_t j = (size_t)e->hash & (isize - 1);
        while (idx[j].slot1 != 0)
            j = (j + 1) & (isize - 1);
        idx[j] = *e;
    }
    free(map->index);
    map->index = idx;
    map->index_mask = isize - 1;
    return VANE_OK;
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
    if (map->count == map->cap) {
        size_t ncap = map->cap * 2;
        vane_state_t *ns = realloc(map->states, ncap * sizeof *ns);
        if (!ns)
            return VANE_ENOMEM;
        map->states = ns;
        map->cap = ncap;
        /* States are first touched as customers arrive: huge pages make that 512x fewer
         * faults (bigmem.h). */
        vane_bigmem_advise(ns, ncap * sizeof *ns);
    }
    if ((map->count + 1) * 2 > map->index_mask + 1) {
        if (grow_index(map) != VANE_OK)
            return VANE_ENOMEM;
        probe(map, customer_id, h, &pos); /* find the empty position in the new index */
    }
    slot = (int64_t)map->count++;
    vane_state_init(&map->states[slot], customer_id);
    map->index[pos].hash = h;
    map->index[pos].slot1 = (uint64_t)slot + 1;
    if (created)
        *created = 1;
    return slot;
}

vane_state_t *vane_replay_map_state(vane_replay_map_t *map, int64_t slot)
{
    VANE_ASSERT(slot >= 0 && (size_t)slot < map->count);
    return &map->states[slot];
}

size_t vane_replay_map_count(const vane_replay_map_t *map)
{
    return map->count;
}
