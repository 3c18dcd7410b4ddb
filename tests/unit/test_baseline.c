/* test_baseline.c - EWMA rate and gap baselines: seeding, folding, empty periods, lateness. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/baseline.h"

#define D 86400000LL

static void test_rate_steady(void **st)
{
    (void)st;
    vane_rate_t r = {0};
    assert_true(vane_rate_avg(&r, 0, D, 0.3) == 0);
    /* Two events a day for 30 days: the average converges to 2. */
    for (int d = 0; d < 30; d++) {
        vane_rate_add(&r, 100 * D + d * D + 1000, D, 0.3);
        vane_rate_add(&r, 100 * D + d * D + 2000, D, 0.3);
    }
    double avg = vane_rate_avg(&r, 130 * D, D, 0.3);
    assert_true(fabs(avg - 2.0) < 1e-6);
    /* The first period still open: what we have so far. */
    vane_rate_t f = {0};
    vane_rate_add(&f, 5 * D, D, 0.3);
    assert_true(vane_rate_avg(&f, 5 * D + 1, D, 0.3) == 1);
}

static void test_rate_empty_periods(void **st)
{
    (void)st;
    vane_rate_t r = {0};
    for (int d = 0; d < 20; d++)
        vane_rate_add(&r, 10 * D + d * D, D, 0.5);
    double before = vane_rate_avg(&r, 30 * D, D, 0.5);
    assert_true(fabs(before - 1.0) < 1e-6);
    /* 3 empty days after the last folded one: avg * 0.5^3. */
    double after = vane_rate_avg(&r, 33 * D, D, 0.5);
    assert_true(fabs(after - 0.125) < 1e-6);
    /* Years of silence: decays to ~0, never negative or NaN. */
    double far = vane_rate_avg(&r, 10000 * D, D, 0.5);
    assert_true(far >= 0 && far < 1e-100);
    /* Reading does not change the stored state. */
    assert_true(fabs(vane_rate_avg(&r, 30 * D, D, 0.5) - before) < 1e-9);
}

static void test_rate_late_event(void **st)
{
    (void)st;
    vane_rate_t r = {0};
    vane_rate_add(&r, 10 * D, D, 0.5);
    vane_rate_add(&r, 11 * D, D, 0.5);
    uint32_t cur = r.cur;
    vane_rate_add(&r, 10 * D + 5, D, 0.5); /* an older period: counted in the current one */
    assert_int_equal(r.cur, cur + 1);
    assert_int_equal(r.period, 11);
}

static void test_gap(void **st)
{
    (void)st;
    vane_gap_t g = {0};
    vane_gap_add(&g, 1000, 0.2);
    assert_true(g.avg_ms == 0 && g.n == 0);
    vane_gap_add(&g, 1000 + D, 0.2);
    assert_true(g.avg_ms == (float)D && g.n == 1);
    vane_gap_add(&g, 1000 + D + 2 * D, 0.2); /* gap 2d: avg = 0.2*2d + 0.8*1d = 1.2d */
    assert_true(fabsf(g.avg_ms - 1.2f * D) < 1000);
    vane_gap_add(&g, 500, 0.2); /* older than the last: ignored */
    assert_int_equal(g.n, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_steady),
        cmocka_unit_test(test_rate_empty_periods),
        cmocka_unit_test(test_rate_late_event),
        cmocka_unit_test(test_gap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
