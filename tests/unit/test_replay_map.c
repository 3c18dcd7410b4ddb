/* test_replay_map.c - zpack round trips and the replay map's hot set / packed store: every
 * state read back is exactly the state last written, whatever the hot set size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/replay_map.h"
#include "util/err.h"
#include "util/zpack.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Words that are zero with probability zero_pct %, in runs of random length. */
static void fill(uint64_t *w, size_t n, unsigned zero_pct)
{
    size_t i = 0;
    while (i < n) {
        size_t run = 1 + rnd() % 40;
        int zero = (unsigned)(rnd() % 100) < zero_pct;
        for (size_t k = 0; k < run && i < n; k++, i++)
            w[i] = zero ? 0 : (rnd() | 1) << (rnd() % 8 * 8); /* nonzero, any byte position */
    }
}

static void test_zpack_roundtrip(void **st)
{
    (void)st;
    static const size_t sizes[] = {0, 1, 2, 3, 254, 255, 256, 257, 511, 600};
    static const unsigned zeros[] = {0, 10, 50, 90, 100};
    uint64_t src[600], dst[600];
    uint8_t packed[VANE_ZPACK_MAX(600)];
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        for (size_t zi = 0; zi < sizeof zeros / sizeof *zeros; zi++) {
            for (int rep = 0; rep < 50; rep++) {
                size_t n = sizes[si];
                fill(src, n, zeros[zi]);
                if (rep == 1 && n > 2) /* isolated zero words inside a literal run */
                    for (size_t i = 0; i < n; i++)
                        src[i] = i % 2 ? 0 : i + 1;
                size_t len = vane_zpack(src, n, packed);
                assert_true(len <= VANE_ZPACK_MAX(n));
                memset(dst, 0xa5, sizeof dst);
                assert_int_equal(vane_zunpack(packed, len, dst, n), 0);
                assert_memory_equal(src, dst, n * 8);
                if (zeros[zi] == 100 && rep != 1)
                    assert_true(len <= 2 * ((n + 254) / 255));
            }
        }
    }
}

static void test_zpack_rejects_garbage(void **st)
{
    (void)st;
    uint64_t src[100], dst[101];
    uint8_t packed[VANE_ZPACK_MAX(100)];
    fill(src, 100, 50);
    size_t len = vane_zpack(src, 100, packed);
    /* Too few words, too many words, truncated anywhere. */
    assert_int_equal(vane_zunpack(packed, len, dst, 99), -1);
    assert_int_equal(vane_zunpack(packed, len, dst, 101), -1);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(vane_zunpack(packed, cut, dst, 100), -1);
    const uint8_t big[2] = {200, 200};
    assert_int_equal(vane_zunpack(big, 2, dst, 100), -1);
}

/* A state that looks like a real one: the id and init header, then random words in a random
 * fraction of the engine's part. */
static void scribble(vane_state_t *cs, unsigned zero_pct)
{
    uint64_t *w = (uint64_t *)(void *)&cs->f;
    fill(w, sizeof cs->f / 8, zero_pct);
    cs->last_offset = (int64_t)(rnd() % 1000000);
}

static void id_of(char *buf, size_t cap, size_t i)
{
    /* Ids of many lengths, up to VANE_ID_MAX. */
    if (i % 97 == 0) {
        memset(buf, 'x', VANE_ID_MAX);
        snprintf(buf + VANE_ID_MAX - 10, 11, "%010zu", i);
    } else {
        snprintf(buf, cap, "C%zu", i * 7919);
    }
}

static void check_map(size_t customers, size_t hot, size_t hot_max, int rounds)
{
    vane_replay_map_t *map = vane_replay_map_new(customers / 4, hot, hot_max);
    assert_non_null(map);
    vane_state_t *ref = calloc(customers, sizeof *ref);
    assert_non_null(ref);
    char id[VANE_ID_MAX + 1];
    for (size_t i = 0; i < customers; i++) {
        id_of(id, sizeof id, i);
        int created = 0;
        int64_t s = vane_replay_map_upsert(map, vane_str_c(id), &created);
        assert_int_equal(s, (int64_t)i);
        assert_int_equal(created, 1);
        vane_state_t *cs = vane_replay_map_state(map, s);
        assert_non_null(cs);
        assert_string_equal(cs->customer_id, id);
        vane_state_init(&ref[i], vane_str_c(id));
        assert_memory_equal(cs, &ref[i], sizeof *cs); /* a new state is the init state */
        if (i % 3)                                    /* some stay untouched */
            scribble(cs, 80);
        ref[i] = *cs;
    }
    assert_int_equal(vane_replay_map_count(map), customers);
    for (int r = 0; r < rounds; r++) {
        for (size_t k = 0; k < customers; k++) {
            size_t i = (size_t)(rnd() % customers);
            id_of(id, sizeof id, i);
            int created = 1;
            int64_t s = vane_replay_map_upsert(map, vane_str_c(id), &created);
            assert_int_equal(s, (int64_t)i);
            assert_int_equal(created, 0);
            assert_int_equal(vane_replay_map_find(map, vane_str_c(id)), (int64_t)i);
            vane_state_t *cs = vane_replay_map_state(map, s);
            assert_non_null(cs);
            assert_memory_equal(cs, &ref[i], sizeof *cs);
            /* grow and shrink: more or fewer zero words */
            scribble(cs, (unsigned)(rnd() % 101));
            ref[i] = *cs;
        }
    }
    for (size_t i = 0; i < customers; i++) {
        vane_state_t *cs = vane_replay_map_state(map, (int64_t)i);
        assert_memory_equal(cs, &ref[i], sizeof *cs);
    }
    assert_int_equal(vane_replay_map_find(map, vane_str_c("nobody")), VANE_ENOTFOUND);
    assert_int_equal(vane_replay_map_upsert(map, vane_str_c(""), NULL), VANE_EINVAL);
    vane_replay_map_stats_t stt;
    vane_replay_map_stats(map, &stt);
    if (hot && hot_max == hot) {
        assert_int_equal(stt.hot_grows, 0);
        if (customers > stt.hot)
            assert_true(stt.packs > 0 && stt.unpacks > 0);
        else
            assert_int_equal(stt.packs, 0);
    } else if (hot_max >= 2 * customers) {
        /* Every state comes back soon: the set grows until all fit. */
        assert_true(stt.hot_grows > 0);
        assert_true(stt.hot >= customers);
    }
    assert_true(stt.pool_bytes >= stt.packed_bytes);
    free(ref);
    vane_replay_map_free(map);
}

static void test_map_tiny_hot_set(void **st)
{
    (void)st;
    check_map(3000, 16, 16, 4); /* nearly every access packs one state and unpacks another */
}

static void test_map_all_hot(void **st)
{
    (void)st;
    check_map(500, 1024, 1024, 2); /* never packs */
}

static void test_map_default_hot(void **st)
{
    (void)st;
    check_map(40000, 0, 0, 1);
}

/* Random access over few customers: the set starts tiny, grows while packing, stays exact. */
static void test_map_grows(void **st)
{
    (void)st;
    check_map(3000, 16, 8192, 6);
}

/* A mostly-empty state packs small: the point of the store. */
static void test_map_packs_small(void **st)
{
    (void)st;
    vane_replay_map_t *map = vane_replay_map_new(0, 16, 16);
    char id[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof id, "C%d", i);
        int64_t s = vane_replay_map_upsert(map, vane_str_c(id), NULL);
        vane_state_t *cs = vane_replay_map_state(map, s);
        cs->f.events_applied = 1;
        cs->f.max_event_time_ms = 1700000000000 + i;
    }
    vane_replay_map_stats_t stt;
    vane_replay_map_stats(map, &stt);
    assert_true(stt.packs >= 1000 - 16);
    printf("packed: %zu bytes for %zu customers (%zu per customer; a state is %zu)\n",
           stt.packed_bytes, (size_t)1000, stt.packed_bytes / 1000, sizeof(vane_state_t));
    assert_true(stt.packed_bytes / 1000 < sizeof(vane_state_t) / 8);
    vane_replay_map_free(map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zpack_roundtrip),  cmocka_unit_test(test_zpack_rejects_garbage),
        cmocka_unit_test(test_map_tiny_hot_set), cmocka_unit_test(test_map_all_hot),
        cmocka_unit_test(test_map_default_hot),  cmocka_unit_test(test_map_packs_small),
        cmocka_unit_test(test_map_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
