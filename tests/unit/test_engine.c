/* test_engine.c - engine core: REDEMPTION_SURGE window boundaries, cooldown, alert contents,
 * determinism, dedup, lateness, hot swap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/eng_events.h"
#include "util/err.h"

typedef struct fx {
    vane_ruleset_t *rs;
    vane_engine_t *eng;
    vane_state_t cs;
    vane_alert_batch_t b;
} fx_t;

static int setup(void **st)
{
    fx_t *f = calloc(1, sizeof *f);
    f->rs = eng_rules_default();
    f->eng = vane_engine_new(f->rs);
    vane_state_init(&f->cs, vane_str_c("C1001"));
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    fx_t *f = *st;
    vane_engine_free(f->eng);
    vane_ruleset_free(f->rs);
    free(f);
    return 0;
}

static int redeem(fx_t *f, const char *id, int64_t t, int64_t amount)
{
    vane_event_t ev = eng_txn(id, "C1001", t, VANE_TXN_REDEMPTION, VANE_CAT_FUND, amount);
    return vane_engine_process(f->eng, &f->cs, &ev, 42, &f->b);
}

static void deposit(fx_t *f, int64_t t, int64_t amount)
{
    vane_event_t ev =
        eng_txn(eng_id("dep", (int)(t % 100000)), "C1001", t, VANE_TXN_DEPOSIT, 0, amount);
    assert_int_equal(vane_engine_process(f->eng, &f->cs, &ev, 42, &f->b), 0);
}

static void test_surge_basic(void **st)
{
    fx_t *f = *st;
    deposit(f, ENG_T0 - ENG_D, 100000000); /* 1,000,000.00 of assets: no escalation */
    assert_int_equal(redeem(f, "r1", ENG_T0, 100000), 0);
    assert_int_equal(redeem(f, "r2", ENG_T0 + ENG_H, 200000), 0);
    assert_int_equal(f->b.count, 0);
    assert_int_equal(redeem(f, "r3", ENG_T0 + 2 * ENG_H, 300000), 0);
    assert_int_equal(f->b.count, 1);
    const vane_alert_t *a = &f->b.alerts[0];
    assert_int_equal(a->kind, VANE_ALERT_REDEMPTION_SURGE);
    assert_int_equal(a->severity, VANE_SEV_MEDIUM);
    assert_string_equal(a->rule_id, "REDEMPTION_SURGE");
    assert_string_equal(a->customer_id, "C1001");
    assert_int_equal(a->event_time_ms, ENG_T0 + 2 * ENG_H);
    assert_int_equal(a->detected_at_ms, 42);
    assert_int_equal(a->n_event_ids, 3);
    assert_string_equal(a->event_ids[0], "r1");
    assert_string_equal(a->event_ids[1], "r2");
    assert_string_equal(a->event_ids[2], "r3");
    assert_true(vane_alert_feature(a, "count")->value == 3);
    assert_true(vane_alert_feature(a, "amount")->value == 600000);
    assert_true(vane_alert_feature(a, "window")->value == 86400000.0);
    assert_non_null(strstr(a->summary, "3 redemptions"));
    assert_non_null(strstr(a->summary, "6000.00"));
    assert_non_null(strstr(a->summary, "1d"));
    assert_int_equal(strlen(a->alert_id), 32);
    assert_string_equal(a->route, "line"); /* assets >= 500,000.00 */
    assert_false(a->shadow);
}

/* Three redemptions spanning exactly 24h: the first is outside the window of the third. */
static void test_surge_boundary_exact(void **st)
{
    fx_t *f = *st;
    redeem(f, "r1", ENG_T0, 100);
    redeem(f, "r2", ENG_T0 + ENG_H, 100);
    redeem(f, "r3", ENG_T0 + ENG_D, 100);
    assert_int_equal(f->b.count, 0);
}

static void test_surge_boundary_inside(void **st)
{
    fx_t *f = *st;
    redeem(f, "r1", ENG_T0, 100);
    redeem(f, "r2", ENG_T0 + ENG_H, 100);
    redeem(f, "r3", ENG_T0 + ENG_D - 1, 100);
    assert_int_equal(f->b.count, 1);
}

static void test_surge_boundary_outside(void **st)
{
    fx_t *f = *st;
    redeem(f, "r1", ENG_T0, 100);
    redeem(f, "r2", ENG_T0 + ENG_H, 100);
    redeem(f, "r3", ENG_T0 + ENG_D + 1, 100);
    assert_int_equal(f->b.count, 0);
}

/* One surge, one alert: more redemptions in the episode are held; after a quiet cooldown a
 * new surge alerts again with a different id. */
static void test_surge_cooldown(void **st)
{
    fx_t *f = *st;
    deposit(f, ENG_T0 - ENG_D, 100000000);
    for (int i = 0; i < 6; i++)
        redeem(f, eng_id("r", i), ENG_T0 + i * ENG_H, 1000);
    assert_int_equal(f->b.count, 1);
    assert_int_equal(vane_engine_stats(f->eng)->suppressed, 3);
    char first[48];
    snprintf(first, sizeof first, "%s", f->b.alerts[0].alert_id);
    /* Three more 3 days later: a new episode. */
    for (int i = 0; i < 3; i++)
        redeem(f, eng_id("s", i), ENG_T0 + 3 * ENG_D + i * ENG_H, 1000);
    assert_int_equal(f->b.count, 2);
    assert_string_not_equal(f->b.alerts[1].alert_id, first);
}

/* Escalation passes the cooldown: the 4th redemption takes half the assets. */
static void test_surge_escalation(void **st)
{
    fx_t *f = *st;
    deposit(f, ENG_T0 - ENG_D, 800000);
    redeem(f, "r1", ENG_T0, 1000);
    redeem(f, "r2", ENG_T0 + 1, 1000);
    redeem(f, "r3", ENG_T0 + 2, 1000);
    assert_int_equal(f->b.count, 1);
    redeem(f, "r4", ENG_T0 + 3, 900000);
    assert_int_equal(f->b.count, 2);
    assert_int_equal(f->b.alerts[1].severity, VANE_SEV_HIGH);
    assert_string_not_equal(f->b.alerts[0].alert_id, f->b.alerts[1].alert_id);
    redeem(f, "r5", ENG_T0 + 4, 1000);
    assert_int_equal(f->b.count, 2); /* same severity again: held */
}

static void test_hard_negative_one_redemption(void **st)
{
    fx_t *f = *st;
    deposit(f, ENG_T0 - ENG_D, 1000000);
    redeem(f, "r1", ENG_T0, 999999); /* one large redemption */
    assert_int_equal(f->b.count, 0);
}

/* Same events, same alerts and ids. */
static void test_determinism(void **st)
{
    fx_t *f = *st;
    vane_alert_batch_t *b2 = calloc(1, sizeof *b2);
    vane_state_t cs2;
    vane_state_init(&cs2, vane_str_c("C1001"));
    vane_engine_t *eng2 = vane_engine_new(f->rs);
    for (int i = 0; i < 4; i++) {
        vane_event_t ev = eng_txn(eng_id("r", i), "C1001", ENG_T0 + i * 1000, VANE_TXN_REDEMPTION,
                                  VANE_CAT_FUND, 100);
        vane_engine_process(f->eng, &f->cs, &ev, 1, &f->b);
        vane_engine_process(eng2, &cs2, &ev, 999999, b2);
    }
    assert_int_equal(f->b.count, 1);
    assert_int_equal(b2->count, 1);
    assert_string_equal(f->b.alerts[0].alert_id, b2->alerts[0].alert_id);
    assert_string_equal(f->b.alerts[0].summary, b2->alerts[0].summary);
    vane_engine_free(eng2);
    free(b2);
}

static void test_dedup(void **st)
{
    fx_t *f = *st;
    assert_int_equal(redeem(f, "r1", ENG_T0, 100), 0);
    assert_int_equal(redeem(f, "r1", ENG_T0, 100), VANE_EDUP);
    assert_int_equal(redeem(f, "r2", ENG_T0 + 1, 100), 0);
    assert_int_equal(redeem(f, "r1", ENG_T0 + 2, 100), VANE_EDUP);
    assert_int_equal(f->b.count, 0); /* duplicates never count toward the surge */
    assert_int_equal(vane_engine_stats(f->eng)->duplicates, 2);
    /* Beyond the ring, an id is forgotten (horizon = last VANE_DEDUP_RING ids). */
    for (int i = 0; i < VANE_DEDUP_RING; i++) {
        vane_event_t ev = eng_login(eng_id("l", i), "C1001", ENG_T0 + 10 + i, true);
        assert_int_equal(vane_engine_process(f->eng, &f->cs, &ev, 0, &f->b), 0);
    }
    assert_int_equal(redeem(f, "r1", ENG_T0 + 100, 100), 0);
}

static void test_lateness(void **st)
{
    fx_t *f = *st;
    int64_t late = vane_ruleset_lateness(f->rs);
    assert_true(late == ENG_H);
    redeem(f, "r1", ENG_T0, 100);
    redeem(f, "r2", ENG_T0 + 2 * ENG_H, 100);
    /* Within the lateness, out of order: applied, and completes the surge at its own time? No:
     * evaluated at ENG_T0 + 90min its window holds r1 and itself only. */
    assert_int_equal(redeem(f, "r3", ENG_T0 + 2 * ENG_H - 30 * 60000, 100), 0);
    assert_int_equal(f->b.count, 0);
    /* Beyond the lateness: not applied. */
    assert_int_equal(redeem(f, "r4", ENG_T0 + ENG_H - 1, 100), VANE_ELATE);
    assert_int_equal(vane_engine_stats(f->eng)->late, 1);
    /* The late-but-allowed r3 counts for later events. */
    assert_int_equal(redeem(f, "r5", ENG_T0 + 3 * ENG_H, 100), 0);
    assert_int_equal(f->b.count, 1);
    assert_int_equal(f->b.alerts[0].n_event_ids, 4);
}

static void test_set_rules(void **st)
{
    fx_t *f = *st;
    vane_ruleset_t *rs2 = eng_rules_string("- rule: R\n"
                                           "  desc: d\n"
                                           "  kind: REDEMPTION_SURGE\n"
                                           "  severity: LOW\n"
                                           "  on: [txn.REDEMPTION]\n"
                                           "  condition: count(txn.REDEMPTION, 1h) >= 2\n");
    redeem(f, "r1", ENG_T0, 100);
    const vane_ruleset_t *old = vane_engine_set_rules(f->eng, rs2);
    assert_ptr_equal(old, f->rs);
    assert_ptr_equal(vane_engine_rules(f->eng), rs2);
    redeem(f, "r2", ENG_T0 + 1000, 100);
    assert_int_equal(f->b.count, 1);
    assert_string_equal(f->b.alerts[0].rule_id, "R");
    vane_engine_set_rules(f->eng, f->rs);
    vane_ruleset_free(rs2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_surge_basic),
        T(test_surge_boundary_exact),
        T(test_surge_boundary_inside),
        T(test_surge_boundary_outside),
        T(test_surge_cooldown),
        T(test_surge_escalation),
        T(test_hard_negative_one_redemption),
        T(test_determinism),
        T(test_dedup),
        T(test_lateness),
        T(test_set_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
