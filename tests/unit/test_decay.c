/* test_decay.c - decayed category mixes: half-life, huge gaps, out-of-order adds, unknown
 * categories, Jensen-Shannon divergence bounds, dominant / emerging categories. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/decay.h"

#define D  86400000LL
#define HL (7 * D)

static void test_half_life(void **st)
{
    (void)st;
    vane_decay_t m = {0};
    vane_decay_add(&m, 1000, VANE_CAT_FUND, 1.0, HL);
    assert_true(fabs(vane_decay_total(&m, 1000, HL) - 1.0) < 1e-6);
    assert_true(fabs(vane_decay_total(&m, 1000 + HL, HL) - 0.5) < 1e-6);
    assert_true(fabs(vane_decay_total(&m, 1000 + 2 * HL, HL) - 0.25) < 1e-6);
    /* Never grows backward in time. */
    assert_true(fabs(vane_decay_total(&m, 0, HL) - 1.0) < 1e-6);
    vane_decay_add(&m, 1000 + HL, VANE_CAT_FUND, 1.0, HL);
    assert_true(fabs(m.w[VANE_CAT_FUND] - 1.5) < 1e-6);
}

static void test_huge_gap(void **st)
{
    (void)st;
    vane_decay_t m = {0};
    vane_decay_add(&m, 1, VANE_CAT_FUND, 1e30, HL);
    /* 1000 years later: underflows to exactly 0, no NaN/Inf, and the new weight is intact. */
    vane_decay_add(&m, 1 + 365000 * D, VANE_CAT_BOND, 2.0, HL);
    assert_true(m.w[VANE_CAT_FUND] == 0.0f);
    assert_true(m.w[VANE_CAT_BOND] == 2.0f);
    assert_false(isnan(vane_decay_jsd(&m, &m)));
    assert_int_equal(vane_decay_dominant(&m), VANE_CAT_BOND);
    /* Zero half-life: everything older is forgotten. */
    vane_decay_t z = {0};
    vane_decay_add(&z, 10, VANE_CAT_FUND, 1, 0);
    vane_decay_add(&z, 11, VANE_CAT_BOND, 1, 0);
    assert_true(z.w[VANE_CAT_FUND] == 0.0f);
}

static void test_out_of_order_commutes(void **st)
{
    (void)st;
    vane_decay_t a = {0}, b = {0};
    vane_decay_add(&a, 1 * D, VANE_CAT_FUND, 1, HL);
    vane_decay_add(&a, 3 * D, VANE_CAT_BOND, 1, HL);
    vane_decay_add(&b, 3 * D, VANE_CAT_BOND, 1, HL);
    vane_decay_add(&b, 1 * D, VANE_CAT_FUND, 1, HL);
    for (int c = 0; c < VANE_CAT__COUNT; c++)
        assert_true(fabsf(a.w[c] - b.w[c]) < 1e-6f);
    assert_true(a.updated_ms == b.updated_ms);
}

static void test_unknown_and_bad_weights(void **st)
{
    (void)st;
    vane_decay_t m = {0};
    vane_decay_add(&m, 5, VANE_CAT_UNSPECIFIED, 1, HL);
    vane_decay_add(&m, 5, 99, 1, HL);
    vane_decay_add(&m, 5, -3, 1, HL);
    vane_decay_add(&m, 5, VANE_CAT_FUND, 0, HL);
    vane_decay_add(&m, 5, VANE_CAT_FUND, -1, HL);
    vane_decay_add(&m, 5, VANE_CAT_FUND, NAN, HL);
    assert_true(m.updated_ms == 0);
    assert_true(vane_decay_total(&m, 5, HL) == 0);
    assert_int_equal(vane_decay_dominant(&m), 0);
    assert_true(vane_decay_share(&m, VANE_CAT_FUND) == 0);
}

static void test_jsd(void **st)
{
    (void)st;
    vane_decay_t a = {0}, b = {0}, e = {0};
    vane_decay_add(&a, 1, VANE_CAT_FUND, 3, HL);
    vane_decay_add(&b, 1, VANE_CAT_BOND, 3, HL);
    assert_true(fabs(vane_decay_jsd(&a, &b) - 1.0) < 1e-9); /* disjoint: maximal */
    assert_true(vane_decay_jsd(&a, &a) < 1e-12);            /* identical: zero */
    assert_true(vane_decay_jsd(&a, &e) == 0);               /* empty: no evidence */
    /* Scale-free: only shares matter. */
    vane_decay_t c = {0};
    vane_decay_add(&c, 1, VANE_CAT_FUND, 300, HL);
    assert_true(vane_decay_jsd(&a, &c) < 1e-12);
    /* Half overlap: between 0 and 1, symmetric. */
    vane_decay_t h = {0};
    vane_decay_add(&h, 1, VANE_CAT_FUND, 1, HL);
    vane_decay_add(&h, 1, VANE_CAT_BOND, 1, HL);
    double j1 = vane_decay_jsd(&a, &h), j2 = vane_decay_jsd(&h, &a);
    assert_true(j1 > 0.2 && j1 < 0.4);
    assert_true(fabs(j1 - j2) < 1e-12);
}

static void test_dominant_emerging(void **st)
{
    (void)st;
    vane_decay_t s = {0}, l = {0};
    vane_decay_add(&l, 1, VANE_CAT_TIME_DEPOSIT, 8, HL);
    vane_decay_add(&l, 1, VANE_CAT_FUND, 2, HL);
    vane_decay_add(&s, 1, VANE_CAT_TIME_DEPOSIT, 1, HL);
    vane_decay_add(&s, 1, VANE_CAT_FUND, 3, HL);
    assert_int_equal(vane_decay_dominant(&l), VANE_CAT_TIME_DEPOSIT);
    assert_int_equal(vane_decay_emerging(&s, &l), VANE_CAT_FUND);
    assert_int_equal(vane_decay_emerging(&l, &l), 0); /* nothing grew */
    assert_true(fabs(vane_decay_share(&s, VANE_CAT_FUND) - 0.75) < 1e-6);
}

/* Background = long - short: a recent burst cancels out, old history stays. */
static void test_background(void **st)
{
    (void)st;
    vane_decay_t s = {0}, l = {0}, bg;
    const int64_t LHL = 180 * D;
    for (int i = 10; i >= 1; i--) {
        vane_decay_add(&s, 1000 * D - i * 30 * D, VANE_CAT_TIME_DEPOSIT, 1, HL);
        vane_decay_add(&l, 1000 * D - i * 30 * D, VANE_CAT_TIME_DEPOSIT, 1, LHL);
    }
    for (int i = 0; i < 3; i++) {
        vane_decay_add(&s, 1000 * D + i, VANE_CAT_FUND, 1, HL);
        vane_decay_add(&l, 1000 * D + i, VANE_CAT_FUND, 1, LHL);
    }
    vane_decay_background(&s, &l, &bg);
    assert_true(bg.w[VANE_CAT_FUND] < 1e-3f);        /* the burst is not history */
    assert_true(bg.w[VANE_CAT_TIME_DEPOSIT] > 5.0f); /* old saving habit is */
    assert_int_equal(vane_decay_dominant(&bg), VANE_CAT_TIME_DEPOSIT);
    assert_int_equal(vane_decay_emerging(&s, &bg), VANE_CAT_FUND);
    assert_true(vane_decay_jsd(&s, &bg) > vane_decay_jsd(&s, &l));
    /* Mixes at different times (never produced by the engine): background = long. */
    vane_decay_t s2 = s;
    s2.updated_ms++;
    vane_decay_background(&s2, &l, &bg);
    assert_memory_equal(&bg, &l, sizeof bg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_life),
        cmocka_unit_test(test_huge_gap),
        cmocka_unit_test(test_out_of_order_commutes),
        cmocka_unit_test(test_unknown_and_bad_weights),
        cmocka_unit_test(test_jsd),
        cmocka_unit_test(test_dominant_emerging),
        cmocka_unit_test(test_background),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
