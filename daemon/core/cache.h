/* cache.h - the in-memory cache of customer states, for the partitions this instance owns.
 *
 * A cache maps customer_id -> vane_cache_entry_t. Each entry holds one customer's state and the
 * bookkeeping the daemon needs around it:
 *   - status: LOADING while its GET to Redis is in flight, READY once the state is known;
 *   - a FIFO of messages that arrived while LOADING (per-customer order across cache misses:
 *     those wait, other customers go on). Messages are opaque void* to the cache;
 *   - dirty: applied events not yet written back; dirty entries form a list for the flush;
 *   - pins: in-flight Redis writes referencing the entry (an entry is never evicted or freed
 *     while pinned, so Redis callbacks may hold entry pointers);
 *   - an LRU list, so clean READY entries are evicted beyond the configured limit.
 *
 * States: a full vane_state_t is ~1.9 KB, but most customers have used little of it. So the
 * cache keeps states packed (zpack.h: zero runs dropped, typically 150-400 bytes, in a block
 * pool, pool.h) and unpacks the ones being worked on into a small hot set of full states
 * (direct-mapped by the key's hash). vane_cache_state() hands out a customer's full state,
 * unpacking it and packing the line's previous occupant; vane_cache_peek() reads one without
 * disturbing the hot set. The hot set starts at VANE_CACHE_HOT states and doubles, up to
 * VANE_CACHE_HOT_MAX, while states come back soon after they were packed (few customers with
 * many events each); a stream spread over many customers keeps it small and in the CPU cache.
 * A new entry's state is the empty state of its id (vane_state_init) until first unpacked.
 * (The hot set's bookkeeping and sizing rule are util/hotset.h, shared with `vane replay`.)
 *
 * Memory: entries come from slabs that are never returned to the OS while the cache lives,
 * and the hash table is sized once for the limit, so a warmed-up cache does not allocate.
 * Entry pointers are stable for the entry's lifetime; state pointers are not (see
 * vane_cache_state). Pure bookkeeping: no I/O, loop thread.
 */
#ifndef VANE_CACHE_H
#define VANE_CACHE_H

#include "engine/state.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum vane_cache_status {
    VANE_CACHE_LOADING = 0, /* GET in flight; messages queue up in pending */
    VANE_CACHE_READY = 1,   /* state valid */
} vane_cache_status_t;

typedef struct vane_cache_msg {
    void *msg;                   /* opaque to the cache (the daemon's Kafka message) */
    struct vane_cache_msg *next; /* FIFO link */
    bool has_ev;                 /* ev holds the message's decoded event */
    vane_event_t ev;             /* borrows from msg's bytes only (see push_pending_ev) */
} vane_cache_msg_t;

typedef struct vane_cache_entry {
    char id[VANE_ID_MAX + 1]; /* the key, customer_id, NUL-terminated */
    uint64_t hash;            /* hash of the key */
    int32_t partition;        /* Kafka partition the customer's events come from */
    uint8_t status;           /* vane_cache_status_t */
    uint8_t dirty;            /* on the dirty list */
    uint8_t load_failed;      /* on the failed-load list (vane_cache_note_failed_load) */
    uint32_t pins;            /* in-flight operations holding this pointer */
    uint32_t npending;        /* messages in the pending FIFO */
    uint8_t timer_pending;    /* a due timer waits for the load to finish */
    uint8_t state_changed;    /* dirty because the state changed (not only its index) */
    uint32_t owner_gen;       /* the partition's assignment count when the entry was added
                                 (owned by the pipeline: an older one may be stale) */
    int64_t indexed_due;      /* due time in the partition's timer index; 0 = none known,
                                 -1 = must be reconciled at the next write-back */
    uint64_t alert_epoch;     /* 1 + the write-back epoch of the newest alert made from this
                                 state, 0 = none unacknowledged: the state is not written back
                                 before Kafka acknowledged that alert (owned by the pipeline) */
    int64_t unwritten_from;   /* 1 + the offset of the oldest event applied to the state since
                                 its last write-back was sent, 0 = none: while the write-back is
                                 held, offsets are not committed past it (owned by the pipeline) */
    int32_t unwritten_part;   /* the partition of that event */
    uint8_t unwritten_mixed;  /* unwritten events came from more than one partition, or a
                                 write failed: the oldest is not known */
    int64_t next_due;         /* the state's next timer due time (vane_engine_next_due), kept by
                                 the pipeline after each change so scans and write-backs need
                                 not unpack the state; INT64_MAX = none */
    vane_cache_msg_t *pending_head, *pending_tail;
    struct vane_cache_entry *lru_prev, *lru_next; /* most recent at head */
    /* The dirty list's link; while LOADING (never dirty then), the failed-load list's. */
    struct vane_cache_entry *dirty_next;
    /* The packed state (private to the cache): a pool block, or NULL for the empty state. */
    uint8_t *packed;
    uint16_t packed_len;   /* bytes used */
    uint16_t packed_units; /* block size, in pool units */
    uint8_t hot;           /* unpacked in the hot set (the packing is then stale) */
    uint32_t out_at;       /* the hot set's clock when it last left the hot set */
} vane_cache_entry_t;

#define VANE_CACHE_HOT     256   /* initial hot set: ~0.5 MB of full states */
#define VANE_CACHE_HOT_MAX 16384 /* largest hot set: ~31 MB */

typedef struct vane_cache vane_cache_t;

/* Create a cache sized for max_entries READY states (a soft limit: LOADING, dirty and pinned
 * entries are never evicted, so the count can exceed it briefly). NULL on allocation failure. */
vane_cache_t *vane_cache_new(size_t max_entries);
/* Free the cache and every entry. Pending messages are handed to release_msg (may be NULL). */
void vane_cache_free(vane_cache_t *c, void (*release_msg)(void *msg));

/* Find a customer's entry; NULL when absent. Touches the LRU. */
vane_cache_entry_t *vane_cache_get(vane_cache_t *c, const char *id, size_t len);
/* Insert a new LOADING entry for id (must be absent). NULL on allocation failure. */
vane_cache_entry_t *vane_cache_add(vane_cache_t *c, const char *id, size_t len, int32_t partition);
/* Remove and free an entry (must be unpinned, clean and without pending messages). */
void vane_cache_remove(vane_cache_t *c, vane_cache_entry_t *e);
/* May e be removed (or evicted) now: READY, clean, unpinned, nothing pending? */
static inline bool vane_cache_removable(const vane_cache_entry_t *e)
{
    return e->status == VANE_CACHE_READY && !e->dirty && e->pins == 0 && e->npending == 0;
}

/* e's full state, read-write. The pointer is valid until the next vane_cache_state,
 * vane_cache_add, vane_cache_remove or vane_cache_evict on c (any of them may pack it away
 * or move it); callers keep entry pointers, not state pointers, across those. NULL when out
 * of memory (a packing needed a block the pool could not get; every state is still intact). */
vane_state_t *vane_cache_state(vane_cache_t *c, vane_cache_entry_t *e);
/* e's state, read-only: its hot copy, or else unpacked into *scratch. Does not change the hot
 * set, so it suits a pass over many entries (the write-back). Valid as vane_cache_state's. */
const vane_state_t *vane_cache_peek(const vane_cache_t *c, const vane_cache_entry_t *e,
                                    vane_state_t *scratch);

/* A packed state that changed size leaves its old block to states of that size or smaller
 * (the pool does not coalesce), so while states grow, freed blocks can pile up. When the free
 * blocks exceed both VANE_CACHE_COMPACT_MIN bytes and the packed bytes in use (or with force),
 * vane_cache_compact moves every packed state into one fresh chunk, front to back, and returns
 * the old pool's memory to the OS: O(packed bytes), a copy of typically ~100 MB at 500,000
 * customers. Entries and state pointers from vane_cache_state stay valid (hot states are not
 * packed; only the blocks move). Returns true when it compacted, false when not needed or when
 * the new chunk could not be mapped (nothing changed then). */
#define VANE_CACHE_COMPACT_MIN ((size_t)32 << 20)
bool vane_cache_compact(vane_cache_t *c, bool force);

/* Queue msg behind e's load. Returns 0 or VANE_ENOMEM. */
int vane_cache_push_pending(vane_cache_t *c, vane_cache_entry_t *e, void *msg);
/* Pop the oldest pending message of e; NULL when none. */
void *vane_cache_pop_pending(vane_cache_t *c, vane_cache_entry_t *e);
/* The same, keeping msg's decoded event beside it so it is not decoded twice. ev may be NULL;
 * when given, it must borrow only from msg's own bytes (which live as long as msg), never
 * from a decoder's scratch space. pop copies it to *ev_out and returns whether there was one. */
int vane_cache_push_pending_ev(vane_cache_t *c, vane_cache_entry_t *e, void *msg,
                               const vane_event_t *ev);
void *vane_cache_pop_pending_ev(vane_cache_t *c, vane_cache_entry_t *e, vane_event_t *ev_out,
                                bool *has_ev);
/* Pop every pending message of every entry and hand it to release_msg; returns how many.
 * O(cache): for shutdown, where Kafka's messages must all be gone before its handle is
 * destroyed (librdkafka's rd_kafka_destroy waits for them). */
size_t vane_cache_release_pending(vane_cache_t *c, void (*release_msg)(void *msg));

/* Mark e dirty (idempotent). */
void vane_cache_mark_dirty(vane_cache_t *c, vane_cache_entry_t *e);
/* Detach the whole dirty list; returns its head, linked through dirty_next. The caller walks
 * the whole list with vane_cache_pop_dirty() at once (before anything else marks entries),
 * writes them back and re-marks failures dirty. Entries not yet popped still say dirty = 1
 * (so they are not evictable meanwhile); popping clears it. Clearing the flags as the caller
 * walks, not here, saves a pass over entries scattered in memory. */
vane_cache_entry_t *vane_cache_take_dirty(vane_cache_t *c);
/* Hints for a walk over entries scattered in memory (the write-back's dirty list): start
 * loading e's fields, or the packed state vane_cache_peek() will read, before they are needed.
 * No effect on contents. */
static inline void vane_cache_prefetch(const vane_cache_entry_t *e)
{
    for (size_t off = 0; off < sizeof *e; off += 64)
        __builtin_prefetch((const char *)e + off);
}
static inline void vane_cache_prefetch_state(const vane_cache_entry_t *e)
{
    if (e->hot || !e->packed)
        return;
    for (size_t off = 0; off < e->packed_len; off += 64)
        __builtin_prefetch(e->packed + off);
}
/* Hints for a caller that knows the next keys ahead of time (a batch of messages): it may
 * overlap their cache misses in three steps, each some keys closer: vane_cache_prefetch_slot(c,
 * h) (h is vane_cache_hash(id, len)); then vane_cache_prefetch_entry(c, h), which reads the slot,
 * starts loading the entry it names and returns it (NULL when absent); then
 * vane_cache_prefetch_near(e) with that entry: its LRU neighbours and packed state, which a
 * vane_cache_get and vane_cache_state of it touch. No effect on contents, and an entry removed
 * in between is harmless (its memory stays the cache's). */
uint64_t vane_cache_hash(const char *id, size_t len);
void vane_cache_prefetch_slot(const vane_cache_t *c, uint64_t h);
const vane_cache_entry_t *vane_cache_prefetch_entry(const vane_cache_t *c, uint64_t h);
void vane_cache_prefetch_near(const vane_cache_entry_t *e);
/* The next entry of a taken list (NULL at its end), with dirty = 0: it may be re-marked. */
static inline vane_cache_entry_t *vane_cache_pop_dirty(vane_cache_entry_t **list)
{
    vane_cache_entry_t *e = *list;
    if (e) {
        *list = e->dirty_next;
        e->dirty = 0;
    }
    return e;
}

/* Failed loads: LOADING entries whose GET could not be sent or was refused, waiting to be
 * issued again. The list is linked through the entries themselves (dirty_next: a LOADING entry
 * is never dirty), so noting one never allocates and retrying costs O(failed loads), not
 * O(cache). A LOADING entry is never evicted, so listed pointers stay valid.
 * note: put e (LOADING, no GET in flight) on the list; idempotent. take: detach the whole list
 * and return its head; walk it with pop_failed_load, which clears load_failed (so the entry can
 * be noted again, onto the new list, when its retry fails too). */
void vane_cache_note_failed_load(vane_cache_t *c, vane_cache_entry_t *e);
vane_cache_entry_t *vane_cache_take_failed_loads(vane_cache_t *c);
static inline vane_cache_entry_t *vane_cache_pop_failed_load(vane_cache_entry_t **list)
{
    vane_cache_entry_t *e = *list;
    if (e) {
        *list = e->dirty_next;
        e->dirty_next = NULL;
        e->load_failed = 0;
    }
    return e;
}

/* Evict clean, unpinned READY entries from the LRU tail until the count is within the limit
 * (or, with partition >= 0, every such entry of that partition regardless of the limit).
 * Toward the limit, a pass stops after 4,096 unevictable entries in a row (the rest were used
 * more recently still), so it costs O(evicted), not O(cache); beyond twice the limit it walks
 * the whole list. Returns the number evicted. */
size_t vane_cache_evict(vane_cache_t *c, int32_t partition);

/* Spare entry memory, prepared off the loop thread. A new slab's pages are faulted in by
 * vane_cache_slab_new (thread-safe, touches no cache), so a worker thread can pay the kernel's
 * page zeroing instead of the event loop; vane_cache_slab_give (loop thread) hands it to the
 * cache. vane_cache_spare tells how many free entries the cache has before it must allocate
 * itself, vane_cache_slab_entries how many one slab holds. */
void *vane_cache_slab_new(void);
void vane_cache_slab_give(vane_cache_t *c, void *slab);
size_t vane_cache_spare(const vane_cache_t *c);
size_t vane_cache_slab_entries(void);
/* The same for the packed states' block pool: vane_cache_pool_want (loop thread) tells how
 * many bytes its next chunk should have when it wants one prepared now (0: not now);
 * vane_cache_pool_chunk_new (thread-safe) maps and faults in that many; vane_cache_pool_give
 * (loop thread) hands them over, to be used when the pool next runs out of room. */
size_t vane_cache_pool_want(const vane_cache_t *c);
void *vane_cache_pool_chunk_new(size_t bytes);
void vane_cache_pool_give(vane_cache_t *c, void *chunk, size_t bytes);
size_t vane_cache_max(const vane_cache_t *c);

size_t vane_cache_count(const vane_cache_t *c);

typedef struct vane_cache_mem {
    size_t entries_bytes; /* entry slabs mapped */
    size_t packed_bytes;  /* bytes of packed states (sum of their lengths) */
    size_t pool_bytes;    /* block pool chunks mapped */
    size_t pool_carved;   /* the part of them made into blocks (touched), in use or free */
    size_t pool_free;     /* bytes of free blocks in them */
    uint64_t compactions; /* vane_cache_compact runs that moved the states */
    size_t hot;           /* hot set size (states) */
    size_t hot_bytes;     /* the hot set's memory */
    size_t table_bytes;   /* the hash table's memory */
    uint64_t packs, unpacks;
} vane_cache_mem_t;
void vane_cache_mem(const vane_cache_t *c, vane_cache_mem_t *out);
size_t vane_cache_dirty_count(const vane_cache_t *c);

#endif
