/* Unit tests for daemon/core/cache.c and offsets.c: the daemon's bookkeeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/cache.h"
#include "core/offsets.h"

static vane_cache_entry_t *add(vane_cache_t *c, const char *id, int32_t p)
{
    vane_cache_entry_t *e = vane_cache_add(c, id, strlen(id), p);
    assert_non_null(e);
    return e;
}

static void test_cache_add_get_remove(void **state)
{
    (void)state;
    vane_cache_t *c = vane_cache_new(100);
    assert_non_null(c);
    vane_cache_entry_t *a = add(c, "C1", 0);
    vane_cache_entry_t *b = add(c, "C2", 1);
    assert_ptr_equal(vane_cache_get(c, "C1", 2), a);
    assert_ptr_equal(vane_cache_get(c, "C2", 2), b);
    assert_null(vane_cache_get(c, "C3", 2));
    assert_null(vane_cache_get(c, "C", 1)); /* prefix of a key is not the key */
    assert_string_equal(a->id, "C1");
    assert_int_equal(a->status, VANE_CACHE_LOADING);
    assert_int_equal(vane_cache_count(c), 2);
    a->status = VANE_CACHE_READY;
    vane_cache_remove(c, a);
    assert_null(vane_cache_get(c, "C1", 2));
    assert_ptr_equal(vane_cache_get(c, "C2", 2), b);
    assert_int_equal(vane_cache_count(c), 1);
    vane_cache_free(c, NULL);
}

/* The prefetch hints find the entry a lookup would (through the probe sequence, past removed
 * slots), and nothing for an absent key; they change nothing. */
static void test_cache_prefetch_finds_entries(void **state)
{
    (void)state;
    vane_cache_t *c = vane_cache_new(8);
    char id[32];
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "cust-%d", i);
        add(c, id, 0)->status = VANE_CACHE_READY;
    }
    for (int i = 0; i < 200; i += 2) { /* tombstones in the probe sequences */
        snprintf(id, sizeof id, "cust-%d", i);
        vane_cache_remove(c, vane_cache_get(c, id, strlen(id)));
    }
    for (int i = 0; i < 220; i++) {
        snprintf(id, sizeof id, "cust-%d", i);
        uint64_t h = vane_cache_hash(id, strlen(id));
        vane_cache_prefetch_slot(c, h);
        const vane_cache_entry_t *e = vane_cache_prefetch_entry(c, h);
        if (i % 2 == 0 || i >= 200) {
            assert_null(e);
            continue;
        }
        assert_ptr_equal(e, vane_cache_get(c, id, strlen(id)));
        vane_cache_prefetch_near(e);
    }
    assert_int_equal(vane_cache_count(c), 100);
    vane_cache_free(c, NULL);
}

static void test_cache_many_keys_rehash(void **state)
{
    (void)state;
    vane_cache_t *c = vane_cache_new(8); /* far fewer than we insert: the table must grow */
    char id[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "cust-%d", i);
        add(c, id, i % 16)->status = VANE_CACHE_READY;
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "cust-%d", i);
        vane_cache_entry_t *e = vane_cache_get(c, id, strlen(id));
        assert_non_null(e);
        assert_string_equal(e->id, id);
        assert_int_equal(e->partition, i % 16);
    }
    /* Prefixes and extensions of stored ids are different customers. */
    assert_null(vane_cache_get(c, "cust-", 5));
    assert_null(vane_cache_get(c, "cust-49990", 10));
    assert_null(vane_cache_get(c, "cust-1x", 7));
    vane_cache_free(c, NULL);
}

/* Slabs prepared elsewhere (a worker thread in the daemon) become spare entries. */
static void test_cache_slab_give_and_spare(void **state)
{
    (void)state;
    vane_cache_t *c = vane_cache_new(10);
    assert_int_equal(vane_cache_spare(c), 0);
    void *slab = vane_cache_slab_new();
    assert_non_null(slab);
    vane_cache_slab_give(c, slab);
    size_t per = vane_cache_slab_entries();
    assert_true(per > 1000);
    assert_int_equal(vane_cache_spare(c), per);
    vane_cache_entry_t *e = add(c, "A", 0);
    add(c, "B", 0);
    assert_int_equal(vane_cache_spare(c), per - 2);
    e->status = VANE_CACHE_READY;
    vane_cache_remove(c, e);
    assert_int_equal(vane_cache_spare(c), per - 1);
    assert_int_equal(vane_cache_max(c), 10);
    vane_cache_free(c, NULL); /* frees the given slab too */
}

/* An eviction pass over the limit stops after a long run of unevictable (dirty) entries at the
 * old end instead of walking the whole cache; evictable ones behind a short run still go; twice
 * over the limit a pass walks as far as it takes. */
static void test_cache_evict_gives_up_on_long_unevictable_run(void **state)
{
    (void)state;
    char id[32];
    const struct {
        size_t max;
        int ndirty;
        size_t evicted, left;
    } cases[] = {
        {3500, 100, 2500, 3500}, /* short run: evicts down to the limit */
        {3500, 5000, 0, 6000},   /* run over 4,096: gives up (6,000 <= 2 x 3,500) */
        {1, 5000, 1000, 5000},   /* 6,000 > 2 x 1: walks past the run */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        vane_cache_t *c = vane_cache_new(cases[k].max);
        for (int i = 0; i < 6000; i++) {
            snprintf(id, sizeof id, "c%d", i);
            vane_cache_entry_t *e = add(c, id, 0);
            e->status = VANE_CACHE_READY;
            if (i < cases[k].ndirty)
                vane_cache_mark_dirty(c, e); /* the oldest entries: the LRU tail */
        }
        assert_int_equal(vane_cache_evict(c, -1), cases[k].evicted);
        assert_int_equal(vane_cache_count(c), cases[k].left);
        vane_cache_free(c, NULL);
    }
}

/* A pending message can carry its decoded event; pop hands it back, or says there is none. */
static void test_cache_pending_with_event(void **state)
{
    (void)state;
    vane_cache_t *c = vane_cache_new(10);
    vane_cache_entry_t *e = add(c, "A", 0);
    int m1, m2;
    vane_event_t ev = {0}, out;
    ev.event_time_ms = 1234;
    ev.customer_id = vane_str_c("A");
    assert_int_equal(vane_cache_push_pending_ev(c, e, &m1, &ev), 0);
    assert_int_equal(vane_cache_push_pending_ev(c, e, &m2, NULL), 0);
    bool has = false;
    memset(&out, 0, sizeof out);
    assert_ptr_equal(vane_cache_pop_pending_ev(c, e, &out, &has), &m1);
    assert_true(has);
    assert_int_equal(out.event_time_ms, 1234);
    assert_ptr_equal(vane_cache_pop_pending_ev(c, e, &out, &has), &m2);
    assert_false(has);
    assert_null(vane_cache_pop_pending_ev(c, e, &out, &has));
    e->status = VANE_CACHE_READY;
    vane_cache_free(c, NULL);
}

static int released;
static void release(void *m)
{
    (void)m;
    released++;
}

static void test_cache_pending_fifo(void **state)
{
    (void)state;
    vane_cache_t *c = vane_cache_new(10);
    vane_cache_entry_t *e = add(c, "C1", 0);
    int msgs[3000];
    for (int i = 0; i < 3000; i++)
        assert_int_equal(vane_cache_push_pending(c, e, &msgs[i]), 0);
    assert_int_equal(e->npending, 3000);
    for (int i = 0; i < 2000; i++)
        assert_ptr_equal(vane_cache_pop_pending(c, e), &msgs[i]);
    /* At shutdown: every entry's pending messages are handed back, the entries kept. */
    vane_cache_entry_t *e2 = add(c, "C2", 1);
    assert_int_equal(vane_cache_push_pending(c, e2, &msgs[0]), 0);
    released = 0;
    assert_int_equal(vane_cache_release_pending(c, release), 1001);
    assert_int_equal(released, 1001);
    assert_int_equal(e->npending + e2->npending, 0);
    assert_null(vane_cache_pop_pending(c, e));
    assert_int_equal(vane_cache_count(c), 2);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(vane_cache_push_pending(c, e, &msgs[i]), 0);
    released = 0;
    vane_cache_free(c, release); /* the rest are handed back, not leaked */
    assert_int_equal(released, 1000);
}

/* Failed loads wait on a list threaded through the entries: noting is idempotent, taking
 * detaches the whole list, popping frees an entry to be noted again (onto the next list), and
 * a LOADING entry on it is never evicted, however far over its limit the cache is. */
static void test_cache_failed_loads_list(void **state)
{
    (void)state;
    vane_cache_t *c = vane_cache_new(1);
    enum { N = 5000 };
    static vane_cache_entry_t *es[N];
    char id[16];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "f%d", i);
        es[i] = add(c, id, 0);
        vane_cache_note_failed_load(c, es[i]);
        vane_cache_note_failed_load(c, es[i]); /* idempotent */
        assert_int_equal(es[i]->load_failed, 1);
    }
    assert_int_equal(vane_cache_evict(c, -1), 0);
    assert_int_equal(vane_cache_evict(c, 0), 0);
    static unsigned char seen[N];
    vane_cache_entry_t *list = vane_cache_take_failed_loads(c), *e;
    assert_null(vane_cache_take_failed_loads(c)); /* taken: the cache's list is empty */
    size_t n = 0;
    while ((e = vane_cache_pop_failed_load(&list))) {
        int i = atoi(e->id + 1);
        assert_ptr_equal(es[i], e);
        assert_int_equal(seen[i]++, 0);
        assert_int_equal(e->load_failed, 0);
        n++;
        if (i % 2 == 0) /* its retry failed again: onto the new list */
            vane_cache_note_failed_load(c, e);
    }
    assert_int_equal(n, N);
    list = vane_cache_take_failed_loads(c);
    for (n = 0; (e = vane_cache_pop_failed_load(&list)); n++)
        assert_int_equal(atoi(e->id + 1) % 2, 0);
    assert_int_equal(n, N / 2);
    /* Loaded after all: READY entries use the same link for the dirty list. */
    es[0]->status = VANE_CACHE_READY;
    vane_cache_mark_dirty(c, es[0]);
    list = vane_cache_take_dirty(c);
    assert_ptr_equal(vane_cache_pop_dirty(&list), es[0]);
    assert_null(list);
    vane_cache_free(c, NULL);
}

static void test_cache_dirty_and_evict(void **state)
{
    (void)state;
    vane_cache_t *c = vane_cache_new(2);
    vane_cache_entry_t *a = add(c, "A", 0), *b = add(c, "B", 0), *d = add(c, "D", 1);
    a->status = b->status = d->status = VANE_CACHE_READY;
    vane_cache_mark_dirty(c, a);
    vane_cache_mark_dirty(c, a); /* idempotent */
    assert_int_equal(vane_cache_dirty_count(c), 1);
    /* Over the limit by one: the least recently used clean entry (B, since A is dirty) goes. */
    vane_cache_get(c, "D", 1);
    assert_int_equal(vane_cache_evict(c, -1), 1);
    assert_null(vane_cache_get(c, "B", 1));
    assert_non_null(vane_cache_get(c, "A", 1));
    /* Dirty entries survive a partition eviction; clean ones of that partition go. */
    assert_int_equal(vane_cache_evict(c, 0), 0);
    vane_cache_entry_t *list = vane_cache_take_dirty(c);
    assert_ptr_equal(list, a);
    assert_null(list->dirty_next);
    assert_int_equal(vane_cache_dirty_count(c), 0);
    assert_int_equal(vane_cache_evict(c, 0), 0); /* taken, not yet popped: still dirty */
    assert_ptr_equal(vane_cache_pop_dirty(&list), a);
    assert_null(list);
    assert_null(vane_cache_pop_dirty(&list));
    vane_cache_mark_dirty(c, a); /* a popped entry can be marked again */
    assert_int_equal(vane_cache_dirty_count(c), 1);
    list = vane_cache_take_dirty(c);
    assert_ptr_equal(vane_cache_pop_dirty(&list), a);
    a->pins = 1; /* a write in flight pins it */
    assert_int_equal(vane_cache_evict(c, 0), 0);
    a->pins = 0;
    assert_int_equal(vane_cache_evict(c, 0), 1);
    assert_int_equal(vane_cache_evict(c, 1), 1);
    assert_int_equal(vane_cache_count(c), 0);
    vane_cache_free(c, NULL);
}

static void test_offsets_in_order(void **state)
{
    (void)state;
    vane_offsets_t *t = vane_offsets_new();
    assert_int_equal(vane_offsets_applied(t, 3), -1); /* unassigned */
    assert_int_equal(vane_offsets_assign(t, 3), 0);
    assert_int_equal(vane_offsets_applied(t, 3), -1);
    for (int64_t o = 10; o < 20; o++)
        vane_offsets_consumed(t, 3, o);
    assert_int_equal(vane_offsets_applied(t, 3), 19);
    vane_offsets_free(t);
}

static void test_offsets_waiting_out_of_order(void **state)
{
    (void)state;
    vane_offsets_t *t = vane_offsets_new();
    vane_offsets_assign(t, 0);
    vane_offsets_consumed(t, 0, 100);
    vane_offsets_consumed(t, 0, 101); /* waits */
    int64_t h101 = vane_offsets_wait(t, 0, 101);
    vane_offsets_consumed(t, 0, 102);
    vane_offsets_consumed(t, 0, 103); /* waits */
    vane_offsets_wait(t, 0, 103);
    vane_offsets_consumed(t, 0, 104);
    assert_int_equal(vane_offsets_applied(t, 0), 100);
    assert_int_equal(vane_offsets_waiting(t, 0), 2);
    vane_offsets_done_offset(t, 0, 103); /* later one finishes first: nothing moves */
    assert_int_equal(vane_offsets_applied(t, 0), 100);
    vane_offsets_done(t, 0, h101);
    assert_int_equal(vane_offsets_applied(t, 0), 104);
    assert_int_equal(vane_offsets_waiting(t, 0), 0);
    vane_offsets_free(t);
}

static void test_offsets_ring_growth_and_revoke(void **state)
{
    (void)state;
    vane_offsets_t *t = vane_offsets_new();
    vane_offsets_assign(t, 7);
    for (int64_t o = 0; o < 1000; o++) {
        vane_offsets_consumed(t, 7, o);
        assert_true(vane_offsets_wait(t, 7, o) >= 0);
    }
    for (int64_t o = 999; o >= 1; o--)
        vane_offsets_done_offset(t, 7, o);
    assert_int_equal(vane_offsets_applied(t, 7), -1); /* offset 0 still waits */
    vane_offsets_done_offset(t, 7, 0);
    assert_int_equal(vane_offsets_applied(t, 7), 999);
    assert_int_equal(vane_offsets_next(t, -1), 7);
    assert_int_equal(vane_offsets_next(t, 7), -1);
    vane_offsets_revoke(t, 7);
    assert_false(vane_offsets_assigned(t, 7));
    assert_int_equal(vane_offsets_next(t, -1), -1);
    vane_offsets_free(t);
}

/* Write a recognisable state for customer i (fields spread over the struct, so packing must
 * keep words far apart). */
static void fill_state(vane_state_t *cs, int i)
{
    cs->last_partition = i % 64;
    cs->last_offset = (int64_t)i * 7;
    cs->f.events_applied = (uint64_t)i + 1;
    cs->f.holdings[1] = (int64_t)i * 100;
    cs->f.win.n = 1;
    cs->f.win.e[0].time_ms = 1700000000000 + i;
    snprintf(cs->f.win.e[0].event_id, sizeof cs->f.win.e[0].event_id, "ev-%d", i);
    cs->f.dedup[VANE_DEDUP_RING - 1] = (uint64_t)i * 0x9E3779B97F4A7C15u;
}

static void check_state(const vane_state_t *cs, const char *id, int i)
{
    assert_string_equal(cs->customer_id, id);
    assert_int_equal(cs->last_partition, i % 64);
    assert_int_equal(cs->last_offset, (int64_t)i * 7);
    assert_int_equal(cs->f.events_applied, (uint64_t)i + 1);
    assert_int_equal(cs->f.holdings[1], (int64_t)i * 100);
    assert_int_equal(cs->f.win.n, 1);
    assert_int_equal(cs->f.win.e[0].time_ms, 1700000000000 + i);
    char ev[32];
    snprintf(ev, sizeof ev, "ev-%d", i);
    assert_string_equal(cs->f.win.e[0].event_id, ev);
    assert_int_equal(cs->f.dedup[VANE_DEDUP_RING - 1], (uint64_t)i * 0x9E3779B97F4A7C15u);
}

/* Add n customers "<prefix>-<i>" to c, each with fill_state(i); entries go to es[i]. */
static void add_filled(vane_cache_t *c, const char *prefix, int n, vane_cache_entry_t **es)
{
    char id[32];
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        es[i] = add(c, id, 0);
        fill_state(vane_cache_state(c, es[i]), i);
    }
}

/* States leave the hot set packed and come back intact; a new entry starts from the empty
 * state of its id; peek reads a packed state without unpacking it into the hot set. */
static void test_cache_states_survive_packing(void **state)
{
    (void)state;
    enum { N = 40000 }; /* more than VANE_CACHE_HOT_MAX: most states are packed at any time */
    vane_cache_t *c = vane_cache_new(N);
    assert_non_null(c);
    static vane_cache_entry_t *es[N];
    char id[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "cust-%d", i);
        es[i] = add(c, id, 0);
        vane_state_t *cs = vane_cache_state(c, es[i]);
        assert_non_null(cs);
        /* The empty state of this customer, as vane_state_init makes it. */
        vane_state_t fresh;
        vane_state_init(&fresh, vane_str_c(id));
        assert_memory_equal(cs, &fresh, sizeof fresh);
        fill_state(cs, i);
    }
    vane_cache_mem_t m0;
    vane_cache_mem(c, &m0);
    assert_true(m0.packs > N / 2);
    assert_true(m0.packed_bytes > 0 && m0.packed_bytes < (size_t)N * 200);
    /* Read back through peek (no change to the hot set) and through state, in another order. */
    static vane_state_t scratch;
    for (int i = N - 1; i >= 0; i--) {
        snprintf(id, sizeof id, "cust-%d", i);
        check_state(vane_cache_peek(c, es[i], &scratch), id, i);
    }
    vane_cache_mem_t m1;
    vane_cache_mem(c, &m1);
    assert_int_equal(m1.packs, m0.packs);
    assert_int_equal(m1.unpacks, m0.unpacks);
    for (int i = 0; i < N; i += 3) {
        snprintf(id, sizeof id, "cust-%d", i);
        vane_state_t *cs = vane_cache_state(c, es[i]);
        check_state(cs, id, i);
        cs->f.events_applied += 1000; /* a change made in the hot set must be packed too */
    }
    for (int i = 0; i < N; i += 3) {
        vane_state_t *cs = vane_cache_state(c, es[(i * 7919) % N]);
        assert_non_null(cs);
    }
    for (int i = 0; i < N; i += 3) {
        vane_state_t *cs = vane_cache_state(c, es[i]);
        assert_int_equal(cs->f.events_applied, (uint64_t)i + 1 + 1000);
    }
    /* Removing an entry (hot or packed) and adding its id again starts afresh. */
    vane_cache_entry_t *hot = es[0], *cold = es[N / 2];
    assert_non_null(vane_cache_state(c, hot));
    assert_true(hot->hot);
    for (int i = N / 2; cold->hot; i++)
        cold = es[i];
    char cold_id[32];
    snprintf(cold_id, sizeof cold_id, "%s", cold->id);
    hot->status = cold->status = VANE_CACHE_READY;
    vane_cache_remove(c, hot);
    vane_cache_remove(c, cold);
    vane_cache_entry_t *again = add(c, "cust-0", 0);
    assert_int_equal(vane_cache_state(c, again)->f.events_applied, 0);
    again = add(c, cold_id, 0);
    assert_int_equal(vane_cache_peek(c, again, &scratch)->f.events_applied, 0);
    assert_int_equal(vane_cache_state(c, again)->last_partition, -1);
    vane_cache_free(c, NULL);
}

/* A few customers with many events each: the hot set grows until they stay unpacked. */
static void test_cache_hot_set_grows_for_few_customers(void **state)
{
    (void)state;
    enum { N = 3000 };
    vane_cache_t *c = vane_cache_new(N);
    static vane_cache_entry_t *es[N];
    char id[32];
    add_filled(c, "few", N, es);
    for (int round = 0; round < 20; round++)
        for (int i = 0; i < N; i++)
            assert_non_null(vane_cache_state(c, es[i]));
    vane_cache_mem_t a, b;
    vane_cache_mem(c, &a);
    assert_true(a.hot > N);
    assert_true(a.hot <= VANE_CACHE_HOT_MAX);
    for (int i = 0; i < N; i++)
        assert_non_null(vane_cache_state(c, es[i]));
    vane_cache_mem(c, &b);
    /* Direct-mapped, so colliding customers still take turns; most stay hot. */
    assert_true(b.unpacks - a.unpacks < N / 2);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "few-%d", i);
        check_state(vane_cache_state(c, es[i]), id, i);
    }
    /* A spread of many customers, each seen once, keeps the set at its initial size. */
    vane_cache_t *u = vane_cache_new(100000);
    for (int i = 0; i < 100000; i++) {
        snprintf(id, sizeof id, "u-%d", i);
        assert_non_null(vane_cache_state(u, add(u, id, 0)));
    }
    vane_cache_mem(u, &a);
    assert_int_equal(a.hot, VANE_CACHE_HOT);
    vane_cache_free(u, NULL);
    vane_cache_free(c, NULL);
}

/* States that grew left their old blocks free; compaction moves every packed state into a
 * fresh chunk and keeps them intact. */
static void test_cache_compact_keeps_states(void **state)
{
    (void)state;
    enum { N = 20000 };
    vane_cache_t *c = vane_cache_new(N);
    static vane_cache_entry_t *es[N];
    char id[32];
    add_filled(c, "cmp", N, es);
    /* Grow every state (more window entries) so each moves to a larger block. */
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < N; i++) {
            vane_state_t *cs = vane_cache_state(c, es[i]);
            unsigned k = cs->f.win.n++;
            cs->f.win.e[k].time_ms = 1700000000000 + i + k;
            cs->f.win.e[k].amount_minor = -(int64_t)i - 1;
            snprintf(cs->f.win.e[k].event_id, sizeof cs->f.win.e[k].event_id, "grow-%d-%u", i, k);
        }
    }
    vane_cache_mem_t a, b;
    vane_cache_mem(c, &a);
    assert_true(a.pool_free > 0);
    assert_false(vane_cache_compact(c, false)); /* below VANE_CACHE_COMPACT_MIN */
    assert_true(vane_cache_compact(c, true));
    vane_cache_mem(c, &b);
    assert_int_equal(b.compactions, 1);
    assert_int_equal(b.packed_bytes, a.packed_bytes);
    assert_true(b.pool_free < a.pool_free);
    static vane_state_t scratch;
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "cmp-%d", i);
        const vane_state_t *cs = vane_cache_peek(c, es[i], &scratch);
        assert_int_equal(cs->f.win.n, 7);
        cs = vane_cache_state(c, es[i]);
        assert_int_equal(cs->f.win.e[6].amount_minor, -(int64_t)i - 1);
        assert_int_equal(cs->f.events_applied, (uint64_t)i + 1);
        assert_string_equal(cs->customer_id, id);
    }
    vane_cache_free(c, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_add_get_remove),
        cmocka_unit_test(test_cache_states_survive_packing),
        cmocka_unit_test(test_cache_compact_keeps_states),
        cmocka_unit_test(test_cache_hot_set_grows_for_few_customers),
        cmocka_unit_test(test_cache_slab_give_and_spare),
        cmocka_unit_test(test_cache_pending_with_event),
        cmocka_unit_test(test_cache_evict_gives_up_on_long_unevictable_run),
        cmocka_unit_test(test_cache_many_keys_rehash),
        cmocka_unit_test(test_cache_prefetch_finds_entries),
        cmocka_unit_test(test_cache_pending_fifo),
        cmocka_unit_test(test_cache_dirty_and_evict),
        cmocka_unit_test(test_cache_failed_loads_list),
        cmocka_unit_test(test_offsets_in_order),
        cmocka_unit_test(test_offsets_waiting_out_of_order),
        cmocka_unit_test(test_offsets_ring_growth_and_revoke),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
