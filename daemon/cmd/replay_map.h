/* replay_map.h - vane_replay_map_t: every customer's state, in memory, for `vane replay`.
 *
 * The replay tool has no Redis: it keeps each customer's vane_state_t in one slab (an array
 * that grows by doubling) and finds it through an open-addressing index keyed by customer_id
 * (xxh3 hash, linear probing, load factor <= 1/2). Customers are never removed during a replay,
 * so there are no tombstones. A customer is identified by its slot number in the slab, which is
 * stable for the map's lifetime; a vane_state_t pointer is NOT stable (the slab moves when it
 * grows), so callers hold slot numbers across calls and pointers only within one step.
 *
 * Allocation happens only when a new customer arrives and the slab or index is full (amortised
 * doubling); a warm map looks up and returns states without allocating.
 * Owned by the caller: vane_replay_map_new / vane_replay_map_free. Single-threaded.
 */
#ifndef VANE_REPLAY_MAP_H
#define VANE_REPLAY_MAP_H

#include "../engine/event.h"
#include "../engine/state.h"

#include <stddef.h>
#include <stdint.h>

typedef struct vane_replay_map vane_replay_map_t;

/* Create an empty map with room for about expected customers (0 = a small default).
 * Returns NULL on allocation failure. */
vane_replay_map_t *vane_replay_map_new(size_t expected);
/* Free the map and every state in it. NULL-safe. */
void vane_replay_map_free(vane_replay_map_t *map);

/* Find customer_id's slot, creating a fresh state (vane_state_init) when absent.
 * Returns the slot number (>= 0), or VANE_ENOMEM (map unchanged), or VANE_EINVAL when
 * customer_id is empty or longer than VANE_ID_MAX. *created (optional) tells whether it
 * was new. */
int64_t vane_replay_map_upsert(vane_replay_map_t *map, vane_str_t customer_id, int *created);
/* Find customer_id's slot; returns the slot number or VANE_ENOTFOUND. */
int64_t vane_replay_map_find(const vane_replay_map_t *map, vane_str_t customer_id);

/* The state in slot (0 <= slot < count). Valid until the next upsert that creates a customer. */
vane_state_t *vane_replay_map_state(vane_replay_map_t *map, int64_t slot);
/* Number of customers held. */
size_t vane_replay_map_count(const vane_replay_map_t *map);

#endif
