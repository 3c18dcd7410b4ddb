/* replay_map.h - vane_replay_map_t: every customer's state, in memory, for `vane replay`.
 *
 * The replay tool has no Redis: it keeps every customer's vane_state_t itself and finds it
 * through an open-addressing index keyed by customer_id (xxh3 hash, linear probing, load factor
 * <= 1/2). Customers are never removed during a replay, so there are no tombstones. A customer
 * is identified by its slot number, stable for the map's lifetime.
 *
 * Memory: a full vane_state_t is ~1.9 KB, but most customers of a long history are seen a few
 * times and leave most of it zero. So states live in two places:
 *   - a hot set of full states (direct-mapped: slot s lives in line s % size), the ones the
 *     engine reads and updates; it grows while states come back soon after leaving it;
 *   - every other state packed (zpack.h: zero runs dropped, typically 150-400 bytes) in a
 *     block pool (pool.h: 32-byte-granular blocks with per-size free lists, carved from
 *     huge-page-backed chunks of 2 MiB doubling to 64 MiB).
 * (The daemon's cache, core/cache.h, keeps its states the same way; both leave the hot set's
 * bookkeeping and sizing rule to util/hotset.h.)
 * Asking for a state that is not hot packs the line's occupant into its block and unpacks the
 * wanted one into the line. A replay of 1 M customers holds ~0.3 GB instead of ~1.9 GB, and
 * the kernel's zeroing of first-touched memory (the bulk of the cost at that scale) shrinks
 * with it. The packed form is this process's memory only; nothing is persisted from here.
 *
 * Pointers: a vane_state_t pointer from vane_replay_map_state() is valid only until the next
 * call of vane_replay_map_state() or vane_replay_map_upsert() on the same map (either may move
 * the state out of the hot set); callers hold slot numbers across calls.
 *
 * Allocation happens only when a new customer arrives and the slot table or index is full
 * (amortised doubling), when a state needs a block no free list holds and the chunk is used
 * up, or when the hot set doubles (inside vane_replay_map_state, even on a hit: up to ~250 MB
 * held briefly for the old and new set at the largest size); a warm map looks up, packs and
 * unpacks without allocating.
 * Owned by the caller: vane_replay_map_new / vane_replay_map_free. Single-threaded.
 */
#ifndef VANE_REPLAY_MAP_H
#define VANE_REPLAY_MAP_H

#include "../engine/event.h"
#include "../engine/state.h"

#include <stddef.h>
#include <stdint.h>

/* Default initial size of the hot set (full states held unpacked): 256 x ~1.9 KB = ~0.5 MB, small
 * enough to stay in the CPU cache, large enough for the busy customers of a skewed stream. It
 * doubles, up to VANE_REPLAY_MAP_HOT_MAX (~125 MB), while states keep coming back soon after
 * being packed (few customers, many events each: then every one of them stays unpacked). */
#define VANE_REPLAY_MAP_HOT     256
#define VANE_REPLAY_MAP_HOT_MAX 65536

typedef struct vane_replay_map vane_replay_map_t;

/* Create an empty map with room for about expected customers (0 = a small default) and a hot
 * set of `hot` states (rounded up to a power of two; 0 = VANE_REPLAY_MAP_HOT) that may grow
 * to hot_max (0 = VANE_REPLAY_MAP_HOT_MAX; hot_max <= hot fixes the size).
 * Returns NULL on allocation failure. */
vane_replay_map_t *vane_replay_map_new(size_t expected, size_t hot, size_t hot_max);
/* Free the map and every state in it. NULL-safe. */
void vane_replay_map_free(vane_replay_map_t *map);

/* Find customer_id's slot, creating a fresh state (vane_state_init) when absent.
 * Returns the slot number (>= 0), or VANE_ENOMEM (map unchanged), or VANE_EINVAL when
 * customer_id is empty or longer than VANE_ID_MAX. *created (optional) tells whether it
 * was new. */
int64_t vane_replay_map_upsert(vane_replay_map_t *map, vane_str_t customer_id, int *created);
/* Lookahead for a batch (vane_replay_events): a lookup of a customer not seen for a while
 * waits on two dependent cache misses (index entry, then slot record). Calling
 * prefetch_index a few lookups ahead and prefetch_slot (with the hash it returned) a couple
 * ahead starts both loads early. Hints only: nothing changes, any id is fine. */
uint64_t vane_replay_map_prefetch_index(const vane_replay_map_t *map, vane_str_t customer_id);
void vane_replay_map_prefetch_slot(const vane_replay_map_t *map, uint64_t hash);
/* Find customer_id's slot; returns the slot number or VANE_ENOTFOUND. */
int64_t vane_replay_map_find(const vane_replay_map_t *map, vane_str_t customer_id);

/* The state in slot (0 <= slot < count), read-write. Valid until the next
 * vane_replay_map_state() or vane_replay_map_upsert() call (see Pointers above). NULL when
 * out of memory (the line's occupant could not be packed; every state is still intact). */
vane_state_t *vane_replay_map_state(vane_replay_map_t *map, int64_t slot);
/* Number of customers held. */
size_t vane_replay_map_count(const vane_replay_map_t *map);

typedef struct vane_replay_map_stats {
    uint64_t unpacks;    /* states brought into the hot set from their packed form */
    uint64_t packs;      /* states packed out of the hot set */
    size_t packed_bytes; /* bytes of packed states (sum of their lengths) */
    size_t pool_bytes;   /* bytes of pool chunks allocated */
    size_t hot;          /* hot set size (states) */
    uint64_t hot_grows;  /* times the hot set doubled */
} vane_replay_map_stats_t;
void vane_replay_map_stats(const vane_replay_map_t *map, vane_replay_map_stats_t *out);

#endif
