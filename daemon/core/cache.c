#include "cache.h"

#include "util/bigmem.h"
#include "util/err.h"
#include "util/hotset.h"
#include "util/pool.h"
#include "util/zpack.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define SLAB_BYTES     ((size_t)8 << 20) /* entries come in 8 MiB huge-page-backed slabs */
#define MSG_SLAB       1024
#define EVICT_MAX_SKIP 4096 /* consecutive unevictable entries before an eviction pass gives up */

_Static_assert(sizeof(vane_state_t) % 8 == 0, "zpack packs whole 8-byte words");
#define STATE_WORDS (sizeof(vane_state_t) / 8)
#define PACK_MAX    VANE_ZPACK_MAX(STATE_WORDS)
_Static_assert(PACK_MAX <= VANE_POOL_UNIT * VANE_POOL_MAX_UNITS, "a packed state fits a block");
_Static_assert(PACK_MAX <= UINT16_MAX, "packed lengths fit 16 bits");

typedef struct slab {
    struct slab *next;
    vane_cache_entry_t entries[]; /* SLAB_ENTRIES of them */
} slab_t;

#define SLAB_ENTRIES ((SLAB_BYTES - sizeof(slab_t)) / sizeof(vane_cache_entry_t))

typedef struct msg_slab {
    struct msg_slab *next;
    vane_cache_msg_t nodes[MSG_SLAB];
} msg_slab_t;

/* Open addressing with linear probing; TOMB marks a deleted slot. Each slot keeps the key's
 * hash beside the entry pointer, so a probe touches an entry (a cache miss of its own) only on
 * a full-hash match, and looking up an absent customer costs one or two table cache lines. */
#define TOMB ((vane_cache_entry_t *)(uintptr_t)1)

typedef struct slot {
    uint64_t hash;
    vane_cache_entry_t *e; /* NULL = empty, TOMB = deleted */
} slot_t;

struct vane_cache {
    slot_t *table;      /* owned (bigmem); size is a power of two */
    size_t mask;        /* table size - 1 */
    size_t count;       /* live entries */
    size_t used;        /* live + tombstones (drives rehash) */
    size_t max_entries; /* eviction target */
    size_t ndirty;
    slab_t *slabs;                    /* owned */
    vane_cache_entry_t *free_entries; /* linked through dirty_next */
    size_t nfree;                     /* entries on free_entries */
    msg_slab_t *msg_slabs;            /* owned */
    vane_cache_msg_t *free_msgs;
    vane_cache_entry_t *lru_head, *lru_tail;
    vane_cache_entry_t *dirty_head;
    vane_cache_entry_t *failed_head; /* failed loads, linked through dirty_next */
    size_t nslabs;
    /* Hot set: full states; a line's tag is its entry's pointer, its key the entry's hash.
     * Its clock counts vane_cache_state calls. */
    vane_hotset_t hot;
    vane_pool_t pool; /* packed states */
    size_t packed_bytes;
    size_t packed_blocks; /* bytes of the blocks holding packed states */
    uint64_t packs, unpacks, compactions;
    uint8_t scratch[PACK_MAX];
};

static uint64_t hash_id(const char *id, size_t len)
{
    return XXH3_64bits(id, len);
}

static size_t pow2_at_least(size_t n)
{
    size_t s = 16;
    while (s < n)
        s <<= 1;
    return s;
}

vane_cache_t *vane_cache_new(size_t max_entries)
{
    vane_cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    size_t size = pow2_at_least(max_entries * 2 + 16);
    c->table = vane_bigmem_alloc(size * sizeof *c->table);
    if (!c->table)
        goto err;
    c->mask = size - 1;
    c->max_entries = max_entries ? max_entries : 1;
    vane_pool_init(&c->pool);
    if (vane_hotset_init(&c->hot, STATE_WORDS, VANE_CACHE_HOT, VANE_CACHE_HOT_MAX) != VANE_OK)
        goto err;
    return c;
err:
    if (c->table)
        vane_bigmem_free(c->table, (c->mask + 1) * sizeof *c->table);
    free(c);
    return NULL;
}

void vane_cache_free(vane_cache_t *c, void (*release_msg)(void *msg))
{
    if (!c)
        return;
    if (release_msg)
        vane_cache_release_pending(c, release_msg);
    for (slab_t *s = c->slabs, *n; s; s = n) {
        n = s->next;
        vane_bigmem_free(s, SLAB_BYTES);
    }
    for (msg_slab_t *s = c->msg_slabs, *n; s; s = n) {
        n = s->next;
        free(s);
    }
    vane_bigmem_free(c->table, (c->mask + 1) * sizeof *c->table);
    vane_pool_destroy(&c->pool);
    vane_hotset_destroy(&c->hot);
    free(c);
}

static void lru_unlink(vane_cache_t *c, vane_cache_entry_t *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        c->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        c->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push_head(vane_cache_t *c, vane_cache_entry_t *e)
{
    e->lru_prev = NULL;
    e->lru_next = c->lru_head;
    if (c->lru_head)
        c->lru_head->lru_prev = e;
    c->lru_head = e;
    if (!c->lru_tail)
        c->lru_tail = e;
}

uint64_t vane_cache_hash(const char *id, size_t len)
{
    return hash_id(id, len);
}

void vane_cache_prefetch_slot(const vane_cache_t *c, uint64_t h)
{
    __builtin_prefetch(&c->table[h & c->mask]);
}

const vane_cache_entry_t *vane_cache_prefetch_entry(const vane_cache_t *c, uint64_t h)
{
    for (size_t i = h & c->mask;; i = (i + 1) & c->mask) {
        const vane_cache_entry_t *e = c->table[i].e;
        if (!e)
            return NULL;
        if (c->table[i].hash == h && e != TOMB) {
            vane_cache_prefetch(e);
            return e;
        }
    }
}

void vane_cache_prefetch_near(const vane_cache_entry_t *e)
{
    __builtin_prefetch(e->lru_prev);
    __builtin_prefetch(e->lru_next);
    vane_cache_prefetch_state(e);
}

static bool key_eq(const vane_cache_entry_t *e, const char *id, size_t len)
{
    return len <= VANE_ID_MAX && memcmp(e->id, id, len) == 0 && e->id[len] == '\0';
}

vane_cache_entry_t *vane_cache_get(vane_cache_t *c, const char *id, size_t len)
{
    uint64_t h = hash_id(id, len);
    for (size_t i = h & c->mask;; i = (i + 1) & c->mask) {
        vane_cache_entry_t *e = c->table[i].e;
        if (!e)
            return NULL;
        if (c->table[i].hash == h && e != TOMB && key_eq(e, id, len)) {
            if (c->lru_head != e) {
                lru_unlink(c, e);
                lru_push_head(c, e);
            }
            return e;
        }
    }
}

/* Rebuild the table at the same or double size, dropping tombstones. */
static int rehash(vane_cache_t *c)
{
    size_t size = c->mask + 1;
    if ((c->count + 1) * 2 > size)
        size *= 2;
    slot_t *t = vane_bigmem_alloc(size * sizeof *t);
    if (!t)
        return VANE_ENOMEM;
    for (size_t i = 0; i <= c->mask; i++) {
        vane_cache_entry_t *e = c->table[i].e;
        if (!e || e == TOMB)
            continue;
        size_t j = e->hash & (size - 1);
        while (t[j].e)
            j = (j + 1) & (size - 1);
        t[j] = c->table[i];
    }
    vane_bigmem_free(c->table, (c->mask + 1) * sizeof *c->table);
    c->table = t;
    c->mask = size - 1;
    c->used = c->count;
    return VANE_OK;
}

/* bytes of fresh memory with every page faulted in (for a worker thread to pay the zeroing). */
static void *map_faulted(size_t bytes)
{
    void *p = vane_bigmem_alloc(bytes);
    if (p)
        vane_bigmem_populate(p, bytes);
    return p;
}

void *vane_cache_slab_new(void)
{
    return map_faulted(SLAB_BYTES);
}

void vane_cache_slab_give(vane_cache_t *c, void *slab)
{
    slab_t *s = slab;
    s->next = c->slabs;
    c->slabs = s;
    c->nslabs++;
    /* Hand entries out in address order, so a growing cache touches its slab front to back. */
    for (size_t i = SLAB_ENTRIES; i-- > 0;) {
        s->entries[i].dirty_next = c->free_entries;
        c->free_entries = &s->entries[i];
    }
    c->nfree += SLAB_ENTRIES;
}

size_t vane_cache_pool_want(const vane_cache_t *c)
{
    return vane_pool_spare_want(&c->pool);
}

void *vane_cache_pool_chunk_new(size_t bytes)
{
    return map_faulted(bytes);
}

void vane_cache_pool_give(vane_cache_t *c, void *chunk, size_t bytes)
{
    vane_pool_spare_give(&c->pool, chunk, bytes);
}

size_t vane_cache_spare(const vane_cache_t *c)
{
    return c->nfree;
}

size_t vane_cache_slab_entries(void)
{
    return SLAB_ENTRIES;
}

size_t vane_cache_max(const vane_cache_t *c)
{
    return c->max_entries;
}

static vane_cache_entry_t *entry_alloc(vane_cache_t *c)
{
    if (!c->free_entries) {
        slab_t *s = vane_bigmem_alloc(SLAB_BYTES); /* faulted in on first use, on this thread */
        if (!s)
            return NULL;
        vane_cache_slab_give(c, s);
    }
    vane_cache_entry_t *e = c->free_entries;
    c->free_entries = e->dirty_next;
    c->nfree--;
    return e;
}

vane_cache_entry_t *vane_cache_add(vane_cache_t *c, const char *id, size_t len, int32_t partition)
{
    if ((c->used + 1) * 10 > (c->mask + 1) * 7 && rehash(c) != VANE_OK)
        return NULL;
    vane_cache_entry_t *e = entry_alloc(c);
    if (!e)
        return NULL;
    if (len > VANE_ID_MAX)
        len = VANE_ID_MAX; /* as vane_state_init truncates */
    memset(e, 0, sizeof *e);
    memcpy(e->id, id, len);
    e->next_due = INT64_MAX;
    e->hash = hash_id(id, len);
    e->partition = partition;
    e->status = VANE_CACHE_LOADING;
    size_t i = e->hash & c->mask;
    while (c->table[i].e && c->table[i].e != TOMB)
        i = (i + 1) & c->mask;
    if (!c->table[i].e)
        c->used++;
    c->table[i].hash = e->hash;
    c->table[i].e = e;
    c->count++;
    lru_push_head(c, e);
    return e;
}

void vane_cache_remove(vane_cache_t *c, vane_cache_entry_t *e)
{
    VANE_ASSERT(e->pins == 0 && !e->dirty && e->npending == 0);
    for (size_t i = e->hash & c->mask;; i = (i + 1) & c->mask) {
        VANE_ASSERT(c->table[i].e != NULL);
        if (c->table[i].e == e) {
            c->table[i].e = TOMB;
            break;
        }
    }
    c->count--;
    lru_unlink(c, e);
    if (e->hot)
        vane_hotset_clear(&c->hot, vane_hotset_line(&c->hot, e->hash));
    if (e->packed) {
        vane_pool_put(&c->pool, e->packed, e->packed_units);
        c->packed_bytes -= e->packed_len;
        c->packed_blocks -= (size_t)e->packed_units * VANE_POOL_UNIT;
    }
    e->dirty_next = c->free_entries;
    c->free_entries = e;
    c->nfree++;
}

/* ---- states: packed, and the hot set --------------------------------------------------- */

/* Pack the state in line into its entry's block (a block of the new size when the size class
 * changed) and free the line. VANE_ENOMEM leaves the line as it was. */
static int spill(vane_cache_t *c, size_t line)
{
    vane_cache_entry_t *e = (vane_cache_entry_t *)vane_hotset_tag(&c->hot, line);
    size_t len = vane_zpack(vane_hotset_value(&c->hot, line), STATE_WORDS, c->scratch);
    /* A block is kept while the packing fits and uses at least half of it; a state that
     * outgrows its block gets a quarter more than it needs, so one that keeps growing (a
     * customer's window filling up) moves less often and leaves fewer blocks behind. */
    unsigned need = vane_pool_units(len), units = need;
    if (e->packed && need > e->packed_units && need + need / 4 <= VANE_POOL_MAX_UNITS)
        units = need + need / 4;
    if (!e->packed || need > e->packed_units || need * 2 < e->packed_units) {
        uint8_t *b = vane_pool_get(&c->pool, units);
        if (!b)
            return VANE_ENOMEM;
        if (e->packed) {
            vane_pool_put(&c->pool, e->packed, e->packed_units);
            c->packed_blocks -= (size_t)e->packed_units * VANE_POOL_UNIT;
        }
        e->packed = b;
        e->packed_units = (uint16_t)units;
        c->packed_blocks += (size_t)units * VANE_POOL_UNIT;
    }
    memcpy(e->packed, c->scratch, len);
    c->packed_bytes += len;
    c->packed_bytes -= e->packed_len;
    e->packed_len = (uint16_t)len;
    e->hot = 0;
    e->out_at = c->hot.clock;
    vane_hotset_clear(&c->hot, line);
    c->packs++;
    return VANE_OK;
}

static void unpack(const vane_cache_entry_t *e, vane_state_t *cs)
{
    if (!e->packed) {
        vane_str_t key = {e->id, (uint32_t)strlen(e->id)};
        vane_state_init(cs, key);
        return;
    }
    int rc = vane_zunpack(e->packed, e->packed_len, (uint64_t *)(void *)cs, STATE_WORDS);
    VANE_ASSERT(rc == 0);
}

vane_state_t *vane_cache_state(vane_cache_t *c, vane_cache_entry_t *e)
{
    vane_hotset_request(&c->hot, !e->hot && e->packed, e->out_at);
    size_t line = vane_hotset_line(&c->hot, e->hash);
    vane_state_t *cs = (vane_state_t *)(void *)vane_hotset_value(&c->hot, line);
    if (e->hot)
        return cs;
    for (size_t off = 0; e->packed && off < e->packed_len; off += 64)
        __builtin_prefetch(e->packed + off);
    if (vane_hotset_tag(&c->hot, line) && spill(c, line) != VANE_OK)
        return NULL;
    unpack(e, cs);
    vane_hotset_put(&c->hot, line, (uintptr_t)e, e->hash);
    e->hot = 1;
    c->unpacks++;
    return cs;
}

const vane_state_t *vane_cache_peek(const vane_cache_t *c, const vane_cache_entry_t *e,
                                    vane_state_t *scratch)
{
    if (e->hot)
        return (const vane_state_t *)(const void *)vane_hotset_value(
            &c->hot, vane_hotset_line(&c->hot, e->hash));
    unpack(e, scratch);
    return scratch;
}

bool vane_cache_compact(vane_cache_t *c, bool force)
{
    if (!force &&
        (c->pool.free_bytes <= VANE_CACHE_COMPACT_MIN || c->pool.free_bytes <= c->packed_blocks))
        return false;
    vane_pool_t np;
    vane_pool_init(&np);
    if (c->packed_blocks && vane_pool_reserve(&np, c->packed_blocks) != VANE_OK)
        return false;
    for (size_t i = 0; i <= c->mask; i++) {
        vane_cache_entry_t *e = c->table[i].e;
        if (!e || e == TOMB || !e->packed)
            continue;
        uint8_t *b = vane_pool_get(&np, e->packed_units);
        VANE_ASSERT(b != NULL); /* reserved above */
        memcpy(b, e->packed, e->packed_len);
        e->packed = b;
    }
    vane_pool_destroy(&c->pool);
    c->pool = np;
    c->compactions++;
    return true;
}

void vane_cache_mem(const vane_cache_t *c, vane_cache_mem_t *out)
{
    out->entries_bytes = c->nslabs * SLAB_BYTES;
    out->packed_bytes = c->packed_bytes;
    out->pool_bytes = c->pool.chunk_bytes;
    out->pool_carved = c->pool.carved_bytes;
    out->pool_free = c->pool.free_bytes;
    out->compactions = c->compactions;
    out->hot = vane_hotset_size(&c->hot);
    out->hot_bytes = out->hot * (STATE_WORDS * 8 + sizeof *c->hot.tags + sizeof *c->hot.keys);
    out->table_bytes = (c->mask + 1) * sizeof *c->table;
    out->packs = c->packs;
    out->unpacks = c->unpacks;
}

int vane_cache_push_pending_ev(vane_cache_t *c, vane_cache_entry_t *e, void *msg,
                               const vane_event_t *ev)
{
    if (!c->free_msgs) {
        msg_slab_t *s = malloc(sizeof *s);
        if (!s)
            return VANE_ENOMEM;
        s->next = c->msg_slabs;
        c->msg_slabs = s;
        for (int i = MSG_SLAB - 1; i >= 0; i--) {
            s->nodes[i].next = c->free_msgs;
            c->free_msgs = &s->nodes[i];
        }
    }
    vane_cache_msg_t *m = c->free_msgs;
    c->free_msgs = m->next;
    m->msg = msg;
    m->next = NULL;
    m->has_ev = ev != NULL;
    if (ev)
        m->ev = *ev;
    if (e->pending_tail)
        e->pending_tail->next = m;
    else
        e->pending_head = m;
    e->pending_tail = m;
    e->npending++;
    return VANE_OK;
}

int vane_cache_push_pending(vane_cache_t *c, vane_cache_entry_t *e, void *msg)
{
    return vane_cache_push_pending_ev(c, e, msg, NULL);
}

void *vane_cache_pop_pending_ev(vane_cache_t *c, vane_cache_entry_t *e, vane_event_t *ev_out,
                                bool *has_ev)
{
    vane_cache_msg_t *m = e->pending_head;
    if (!m)
        return NULL;
    e->pending_head = m->next;
    if (!e->pending_head)
        e->pending_tail = NULL;
    e->npending--;
    void *msg = m->msg;
    if (has_ev)
        *has_ev = m->has_ev && ev_out;
    if (m->has_ev && ev_out)
        *ev_out = m->ev;
    m->next = c->free_msgs;
    c->free_msgs = m;
    return msg;
}

void *vane_cache_pop_pending(vane_cache_t *c, vane_cache_entry_t *e)
{
    return vane_cache_pop_pending_ev(c, e, NULL, NULL);
}

size_t vane_cache_release_pending(vane_cache_t *c, void (*release_msg)(void *msg))
{
    size_t n = 0;
    for (size_t i = 0; i <= c->mask; i++) {
        vane_cache_entry_t *e = c->table[i].e;
        if (!e || e == TOMB)
            continue;
        void *msg;
        while ((msg = vane_cache_pop_pending(c, e)) != NULL) {
            release_msg(msg);
            n++;
        }
    }
    return n;
}

void vane_cache_mark_dirty(vane_cache_t *c, vane_cache_entry_t *e)
{
    if (e->dirty)
        return;
    VANE_ASSERT(e->status == VANE_CACHE_READY); /* dirty_next may be the failed-load link */
    e->dirty = 1;
    e->dirty_next = c->dirty_head;
    c->dirty_head = e;
    c->ndirty++;
}

vane_cache_entry_t *vane_cache_take_dirty(vane_cache_t *c)
{
    vane_cache_entry_t *head = c->dirty_head;
    c->dirty_head = NULL;
    c->ndirty = 0;
    return head;
}

void vane_cache_note_failed_load(vane_cache_t *c, vane_cache_entry_t *e)
{
    VANE_ASSERT(e->status == VANE_CACHE_LOADING && !e->dirty);
    if (e->load_failed)
        return;
    e->load_failed = 1;
    e->dirty_next = c->failed_head;
    c->failed_head = e;
}

vane_cache_entry_t *vane_cache_take_failed_loads(vane_cache_t *c)
{
    vane_cache_entry_t *head = c->failed_head;
    c->failed_head = NULL;
    return head;
}

size_t vane_cache_evict(vane_cache_t *c, int32_t partition)
{
    size_t n = 0;
    if (partition >= 0) {
        for (vane_cache_entry_t *e = c->lru_tail, *prev; e; e = prev) {
            prev = e->lru_prev;
            if (e->partition == partition && vane_cache_removable(e)) {
                vane_cache_remove(c, e);
                n++;
            }
        }
        return n;
    }
    /* From the least recently used end. Entries that cannot go (dirty, pinned, loading) were
     * mostly used recently, so a long run of them means the rest are too: stop there instead
     * of walking the whole list on every call while the cache is over its limit. Twice over
     * the limit (unevictable entries piled up at the old end: failed loads, held writes), a
     * pass walks as far as it takes. */
    size_t skipped = 0;
    size_t max_skip = c->count > 2 * c->max_entries ? SIZE_MAX : EVICT_MAX_SKIP;
    for (vane_cache_entry_t *e = c->lru_tail, *prev;
         e && c->count > c->max_entries && skipped < max_skip; e = prev) {
        prev = e->lru_prev;
        if (vane_cache_removable(e)) {
            vane_cache_remove(c, e);
            n++;
            skipped = 0;
        } else {
            skipped++;
        }
    }
    return n;
}

size_t vane_cache_count(const vane_cache_t *c)
{
    return c->count;
}

size_t vane_cache_dirty_count(const vane_cache_t *c)
{
    return c->ndirty;
}
