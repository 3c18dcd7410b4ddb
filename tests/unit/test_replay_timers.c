/* test_replay_timers.c - the replay's timer heap (daemon/cmd/timer_heap.h) fires in exactly the
 * order of an eager reference, whatever mix of earlier, later, repeated and disarmed due times
 * and stuck timers comes between the watermark steps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/timer_heap.h"
#include "util/err.h"

static uint64_t rng;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define MAXN 2000

/* The reference: a plain array of due times, the earliest (due, slot) found by a scan. */
static int64_t ref_due[MAXN];

static int ref_peek(size_t n, int64_t until)
{
    int best = -1;
    for (size_t s = 0; s < n; s++)
        if (ref_due[s] <= until && (best < 0 || ref_due[s] < ref_due[best]))
            best = (int)s;
    return best;
}

/* A due time around the watermark: disarm, already due, a little later or much later. */
static int64_t some_due(int64_t wm)
{
    uint64_t k = rnd() % 10;
    if (k < 2)
        return VANE_TIMER_NONE;
    if (k < 3)
        return wm - (int64_t)(rnd() % 5);
    if (k < 8)
        return wm + (int64_t)(rnd() % 60);
    return wm + (int64_t)(rnd() % 100000);
}

static void run(size_t n, int steps, uint64_t seed)
{
    rng = seed;
    vane_timer_heap_t *h = vane_timer_heap_new();
    assert_non_null(h);
    assert_int_equal(vane_timer_heap_reserve(h, n), VANE_OK);
    for (size_t s = 0; s < n; s++)
        ref_due[s] = VANE_TIMER_NONE;
    int64_t wm = 0;
    size_t fired = 0;
    for (int it = 0; it < steps; it++) {
        if (rnd() % 5 == 0) {
            wm += (int64_t)(rnd() % 20);
            /* Fire everything due, as replay.c does: peek, pop, then re-arm or leave stuck. */
            for (;;) {
                uint32_t slot;
                int64_t due;
                bool got = vane_timer_heap_peek(h, wm, &slot, &due);
                int want = ref_peek(n, wm);
                if (!got) {
                    assert_int_equal(want, -1);
                    break;
                }
                assert_int_equal((int)slot, want);
                assert_true(due == ref_due[want]);
                vane_timer_heap_pop(h);
                ref_due[want] = VANE_TIMER_NONE;
                assert_true(vane_timer_heap_due(h, slot) == VANE_TIMER_NONE);
                fired++;
                int64_t next = some_due(wm);
                if (next <= wm)
                    continue; /* stuck: not re-armed (the replay waits for the next event) */
                vane_timer_heap_set(h, slot, next);
                ref_due[slot] = next;
            }
        } else {
            uint32_t slot = (uint32_t)(rnd() % n);
            int64_t due = some_due(wm);
            vane_timer_heap_set(h, slot, due);
            ref_due[slot] = due;
        }
        uint32_t s = (uint32_t)(rnd() % n);
        assert_true(vane_timer_heap_due(h, s) == ref_due[s]);
        assert_true(vane_timer_heap_len(h) <= n);
    }
    assert_true(fired > (size_t)steps / 20); /* the mix really fired timers */
    /* Drain at the end of time: everything armed fires, in order. */
    uint32_t slot;
    int64_t due;
    while (vane_timer_heap_peek(h, INT64_MAX - 1, &slot, &due)) {
        assert_int_equal((int)slot, ref_peek(n, INT64_MAX - 1));
        vane_timer_heap_pop(h);
        ref_due[slot] = VANE_TIMER_NONE;
    }
    assert_int_equal(ref_peek(n, INT64_MAX - 1), -1);
    vane_timer_heap_free(h);
}

static void test_matches_eager_small(void **st)
{
    (void)st;
    run(7, 20000, 1); /* few slots: many ties and repeated updates of one slot */
}

static void test_matches_eager_large(void **st)
{
    (void)st;
    run(MAXN, 60000, 42);
}

static void test_reserve_and_ties(void **st)
{
    (void)st;
    vane_timer_heap_t *h = vane_timer_heap_new();
    assert_int_equal(vane_timer_heap_reserve(h, 3000), VANE_OK); /* grows past the first 1024 */
    for (uint32_t s = 3000; s-- > 0;)
        vane_timer_heap_set(h, s, 500); /* all due at once: fire in slot order */
    for (uint32_t want = 0; want < 3000; want++) {
        uint32_t slot;
        assert_true(vane_timer_heap_peek(h, 500, &slot, NULL));
        assert_int_equal(slot, want);
        vane_timer_heap_pop(h);
    }
    uint32_t slot;
    assert_false(vane_timer_heap_peek(h, INT64_MAX - 1, &slot, NULL));
    /* A later due is lazy: not due at the old time, due at the new one. */
    vane_timer_heap_set(h, 5, 100);
    vane_timer_heap_set(h, 5, 200);
    assert_false(vane_timer_heap_peek(h, 150, &slot, NULL));
    assert_true(vane_timer_heap_peek(h, 200, &slot, NULL));
    assert_int_equal(slot, 5);
    vane_timer_heap_set(h, 5, VANE_TIMER_NONE);
    assert_false(vane_timer_heap_peek(h, INT64_MAX - 1, &slot, NULL));
    assert_int_equal(vane_timer_heap_len(h), 0);
    vane_timer_heap_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_eager_small),
        cmocka_unit_test(test_matches_eager_large),
        cmocka_unit_test(test_reserve_and_ties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
