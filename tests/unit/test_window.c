/* test_window.c - sliding windows: boundaries, ordering, eviction, distinct, class names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/window.h"

#define D 86400000LL

static vane_window_entry_t ent(int64_t t, unsigned cls, int64_t amount, uint16_t tag)
{
    vane_window_entry_t e;
    memset(&e, 0, sizeof e);
    e.time_ms = t;
    e.cls = (uint8_t)cls;
    e.amount_minor = amount;
    e.tag = tag;
    return e;
}

static void test_boundaries(void **st)
{
    (void)st;
    vane_window_t w = {0};
    const unsigned R = 6; /* txn.REDEMPTION */
    vane_window_entry_t e = ent(1000, R, 5, 1);
    vane_window_add(&w, &e, 30 * D);
    /* (anchor - 24h, anchor]: exactly 24h old is outside, 1 ms younger is inside. */
    assert_int_equal(vane_window_count(&w, R, 1000 + D, D), 0);
    assert_int_equal(vane_window_count(&w, R, 1000 + D - 1, D), 1);
    assert_int_equal(vane_window_count(&w, R, 1000, D), 1);
    /* An entry after the anchor (late evaluation) is outside. */
    assert_int_equal(vane_window_count(&w, R, 999, D), 0);
    assert_int_equal(vane_window_count(&w, R + 1, 1000, D), 0);
    assert_true(vane_window_sum(&w, R, 1000, D) == 5.0);
}

static void test_order_and_prune(void **st)
{
    (void)st;
    vane_window_t w = {0};
    vane_window_entry_t a = ent(5000, 6, 1, 1), b = ent(3000, 6, 2, 2), c = ent(4000, 6, 4, 3);
    vane_window_add(&w, &a, D);
    vane_window_add(&w, &b, D);
    vane_window_add(&w, &c, D);
    assert_int_equal(w.n, 3);
    assert_true(w.e[0].time_ms == 3000 && w.e[1].time_ms == 4000 && w.e[2].time_ms == 5000);
    /* A new entry a horizon later prunes everything older than the horizon. */
    vane_window_entry_t d = ent(5000 + D, 6, 8, 4);
    vane_window_add(&w, &d, D);
    assert_int_equal(w.n, 1);
    /* An entry already beyond the horizon is not kept. */
    vane_window_entry_t old = ent(10, 6, 8, 4);
    vane_window_add(&w, &old, D);
    assert_int_equal(w.n, 1);
}

static void test_eviction_lower_bound(void **st)
{
    (void)st;
    vane_window_t w = {0};
    for (int i = 0; i < VANE_WINDOW_CAP + 5; i++) {
        vane_window_entry_t e = ent(1000 + i, 6, 1, (uint16_t)i);
        vane_window_add(&w, &e, 30 * D);
    }
    assert_int_equal(w.n, VANE_WINDOW_CAP);
    assert_int_equal(w.evicted, 5);
    /* Lower bound: never more than really happened, and the newest are kept. */
    assert_int_equal(vane_window_count(&w, 6, 2000, D), VANE_WINDOW_CAP);
    assert_true(w.e[VANE_WINDOW_CAP - 1].time_ms == 1000 + VANE_WINDOW_CAP + 4);
    /* An entry older than all in a full ring is dropped. */
    vane_window_entry_t e = ent(1, 6, 1, 99);
    vane_window_add(&w, &e, 30 * D);
    assert_true(w.e[0].time_ms > 1);
}

/* A flood of one class evicts that class, not the rare ones. */
static void test_eviction_protects_rare_classes(void **st)
{
    (void)st;
    vane_window_t w = {0};
    for (int i = 0; i < 3; i++) {
        vane_window_entry_t r = ent(100 + i, 6, 10, 0); /* redemptions first (oldest) */
        vane_window_add(&w, &r, 30 * D);
    }
    for (int i = 0; i < 100; i++) {
        vane_window_entry_t l = ent(1000 + i, VANE_WCLS_LOGIN, 0, 0);
        vane_window_add(&w, &l, 30 * D);
    }
    assert_int_equal(w.n, VANE_WINDOW_CAP);
    assert_int_equal(vane_window_count(&w, 6, 2000, D), 3);
    assert_int_equal(vane_window_count(&w, VANE_WCLS_LOGIN, 2000, D), VANE_WINDOW_CAP - 3);
    /* The logins kept are the newest. */
    assert_true(w.e[VANE_WINDOW_CAP - 1].time_ms == 1099);
    assert_true(w.e[3].time_ms == 1099 - (VANE_WINDOW_CAP - 4));
    /* An old login arriving late into the full ring is the one dropped. */
    vane_window_entry_t late = ent(500, VANE_WCLS_LOGIN, 0, 0);
    vane_window_add(&w, &late, 30 * D);
    assert_true(w.e[3].time_ms > 500);
    assert_int_equal(vane_window_count(&w, 6, 2000, D), 3);
}

static void test_distinct_and_outflow(void **st)
{
    (void)st;
    vane_window_t w = {0};
    vane_window_entry_t a = ent(100, 19, 0, 7), b = ent(200, 19, 0, 7), c = ent(300, 19, 0, 8);
    vane_window_add(&w, &a, D);
    vane_window_add(&w, &b, D);
    vane_window_add(&w, &c, D);
    assert_int_equal(vane_window_count(&w, 19, 300, D), 3);
    assert_int_equal(vane_window_distinct(&w, 19, 300, D), 2);
    vane_window_entry_t o = ent(400, 4, 1000, 0);
    o.flags = VANE_WFLAG_OUTFLOW;
    vane_window_add(&w, &o, D);
    assert_int_equal(vane_window_count(&w, VANE_WCLS_OUTFLOW, 400, D), 1);
    assert_int_equal(vane_window_count(&w, 4, 400, D), 1);
    /* Huge amounts add without overflow in double. */
    vane_window_entry_t big = ent(500, 4, INT64_MAX, 0);
    vane_window_add(&w, &big, D);
    assert_true(vane_window_sum(&w, 4, 500, D) > 9e18);
    /* Huge durations do not overflow. */
    assert_int_equal(vane_window_count(&w, 4, 500, INT64_MAX), 2);
}

static void test_class_names(void **st)
{
    (void)st;
    char buf[48];
    assert_int_equal(vane_window_class_parse("txn.REDEMPTION", 14), 6);
    assert_int_equal(vane_window_class_parse("eng.service_cancel", 18), 16 + 3);
    assert_int_equal(vane_window_class_parse("outflow", 7), VANE_WCLS_OUTFLOW);
    assert_int_equal(vane_window_class_parse("login.failed", 12), VANE_WCLS_LOGIN_FAILED);
    assert_int_equal(vane_window_class_parse("txn.NOPE", 8), -1);
    assert_int_equal(vane_window_class_parse("bogus", 5), -1);
    assert_string_equal(vane_window_class_name(6, buf, sizeof buf), "txn.REDEMPTION");
    assert_string_equal(vane_window_class_name(19, buf, sizeof buf), "eng.SERVICE_CANCEL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundaries),
        cmocka_unit_test(test_order_and_prune),
        cmocka_unit_test(test_eviction_lower_bound),
        cmocka_unit_test(test_eviction_protects_rare_classes),
        cmocka_unit_test(test_distinct_and_outflow),
        cmocka_unit_test(test_class_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
