/* test_features.c - per-customer features maintained by the engine: holdings and assets,
 * cross-holding, zero and huge amounts, profile, lifecycle stage, decline-risk score,
 * engagement drop, and what is tracked in windows. */
#include <math.h>
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
    int n;
} fx_t;

/* Rules with no detections of their own (so features can be observed quietly) but a window
 * function, and settings that make the stage thresholds easy to reach. */
static const char *RULES = "- settings:\n"
                           "    stage:\n"
                           "      trust_tenure: 365d\n"
                           "      trust_cross_holding: 3\n"
                           "      strengthening_tenure: 30d\n"
                           "      strengthening_cross_holding: 2\n"
                           "- rule: NEVER\n  desc: d\n  kind: CUSTOM\n  severity: LOW\n"
                           "  on: [any]\n  condition: count(eng.COMPLAINT, 2d) > 100\n";

static int setup(void **st)
{
    fx_t *f = calloc(1, sizeof *f);
    f->rs = eng_rules_string(RULES);
    f->eng = vane_engine_new(f->rs);
    vane_state_init(&f->cs, vane_str_c("C1"));
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

static void feed(fx_t *f, vane_event_t ev)
{
    assert_int_equal(vane_engine_process(f->eng, &f->cs, &ev, 0, &f->b), 0);
    assert_int_equal(f->b.count, 0);
}

static const char *nid(fx_t *f)
{
    return eng_id("x", f->n++);
}

static double ev_at(fx_t *f, const char *expr, int64_t at)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "- rule: E\n  desc: d\n  kind: CUSTOM\n  severity: LOW\n  on: [any]\n"
             "  condition: '%s'\n",
             expr);
    vane_ruleset_t *rs = eng_rules_string(yaml);
    double v = -1;
    assert_int_equal(vane_ruleset_eval(rs, "E", &f->cs, NULL, at, &v), 0);
    vane_ruleset_free(rs);
    return v;
}

static void test_holdings_and_cross_holding(void **st)
{
    fx_t *f = *st;
    feed(f, eng_txn(nid(f), "C1", ENG_T0, VANE_TXN_DEPOSIT, 0, 1000));
    feed(f, eng_txn(nid(f), "C1", ENG_T0 + 1, VANE_TXN_PURCHASE, VANE_CAT_FUND, 500));
    feed(f, eng_txn(nid(f), "C1", ENG_T0 + 2, VANE_TXN_PURCHASE, VANE_CAT_INSURANCE, 300));
    assert_true(f->cs.f.holdings[VANE_CAT_DEMAND_DEPOSIT] == 1000);
    assert_true(
        ev_at(f, "cross_holding == 3 and holdings == 1800 and assets == 1800", ENG_T0 + 3) == 1);
    /* Redeeming more than held floors at zero and drops the category. */
    feed(f, eng_txn(nid(f), "C1", ENG_T0 + 3, VANE_TXN_REDEMPTION, VANE_CAT_FUND, 9999));
    assert_true(f->cs.f.holdings[VANE_CAT_FUND] == 0);
    assert_true(ev_at(f, "cross_holding == 2", ENG_T0 + 4) == 1);
    /* A reported balance wins over the sum of holdings for `assets`. */
    vane_event_t ev = eng_outflow(nid(f), "C1", ENG_T0 + 5, 100, 777777);
    feed(f, ev);
    assert_true(ev_at(f, "assets == 777777 and balance == 777777", ENG_T0 + 6) == 1);
    /* An older balance (out of order) does not overwrite a newer one. */
    ev = eng_outflow(nid(f), "C1", ENG_T0 + 4, 100, 1);
    feed(f, ev);
    assert_true(f->cs.f.balance_minor == 777777);
}

static void test_zero_and_huge_amounts(void **st)
{
    fx_t *f = *st;
    feed(f, eng_txn(nid(f), "C1", ENG_T0, VANE_TXN_DEPOSIT, 0, 0));
    assert_true(f->cs.f.holdings[VANE_CAT_DEMAND_DEPOSIT] == 0);
    feed(f, eng_txn(nid(f), "C1", ENG_T0 + 1, VANE_TXN_DEPOSIT, 0, INT64_MAX));
    feed(f, eng_txn(nid(f), "C1", ENG_T0 + 2, VANE_TXN_DEPOSIT, 0, INT64_MAX));
    assert_true(f->cs.f.holdings[VANE_CAT_DEMAND_DEPOSIT] == INT64_MAX); /* saturates */
    feed(f, eng_txn(nid(f), "C1", ENG_T0 + 3, VANE_TXN_REDEMPTION, VANE_CAT_FUND, INT64_MAX));
    assert_true(ev_at(f, "sum(txn.REDEMPTION, 1d) > 9e18 and share(txn.REDEMPTION, 1d) > 0.49",
                      ENG_T0 + 4) == 1);
    /* A negative amount (should never pass the codec) is treated as zero. */
    feed(f, eng_txn(nid(f), "C1", ENG_T0 + 5, VANE_TXN_DEPOSIT, VANE_CAT_BOND, -5));
    assert_true(f->cs.f.holdings[VANE_CAT_BOND] == 0);
}

static void test_profile_and_tenure(void **st)
{
    fx_t *f = *st;
    feed(f, eng_profile(nid(f), "C1", ENG_T0, "a-very-long-segment-name-that-is-cut",
                        ENG_T0 - 10 * ENG_D, "branch"));
    assert_int_equal(strlen(f->cs.f.segment), 23);
    assert_string_equal(f->cs.f.tier, "branch");
    assert_string_equal(f->cs.f.manager_id, "M-7");
    assert_true(ev_at(f, "tenure == 10d and tenure_days == 10", ENG_T0) == 1);
}

static void test_stage(void **st)
{
    fx_t *f = *st;
    feed(f, eng_txn(nid(f), "C1", ENG_T0, VANE_TXN_DEPOSIT, 0, 1000));
    assert_int_equal(f->cs.f.stage, VANE_STAGE_ESTABLISHING);
    feed(f, eng_txn(nid(f), "C1", ENG_T0 + 40 * ENG_D, VANE_TXN_PURCHASE, VANE_CAT_FUND, 10));
    assert_int_equal(f->cs.f.stage, VANE_STAGE_STRENGTHENING); /* 40d, 2 categories */
    feed(f, eng_txn(nid(f), "C1", ENG_T0 + 400 * ENG_D, VANE_TXN_PURCHASE, VANE_CAT_BOND, 10));
    assert_int_equal(f->cs.f.stage, VANE_STAGE_TRUST); /* 400d, 3 categories */
    assert_true(ev_at(f, "stage == \"TRUST\"", ENG_T0 + 400 * ENG_D) == 1);
    /* Decline overrides: 3 redemptions (0.3) + 2 cancels (0.2) + detractor (0.1) = 0.6. */
    int64_t t = ENG_T0 + 401 * ENG_D;
    for (int i = 0; i < 3; i++)
        feed(f, eng_txn(nid(f), "C1", t + i, VANE_TXN_REDEMPTION, VANE_CAT_WEALTH, 1));
    feed(f, eng_eng(nid(f), "C1", t + 10, VANE_ENG_SERVICE_CANCEL, 0));
    feed(f, eng_eng(nid(f), "C1", t + 11, VANE_ENG_ACCOUNT_CLOSE, 0));
    assert_int_equal(f->cs.f.stage, VANE_STAGE_TRUST);
    assert_true(fabsf(f->cs.f.risk - 0.5f) < 1e-5f);
    feed(f, eng_survey(nid(f), "C1", t + 12, 5));
    assert_true(fabsf(f->cs.f.risk - 0.6f) < 1e-5f);
    assert_int_equal(f->cs.f.stage, VANE_STAGE_DECLINE);
    /* The signals leave the 30-day risk window: the stage recovers. */
    feed(f, eng_survey(nid(f), "C1", t + 31 * ENG_D, 9));
    assert_true(f->cs.f.risk < 0.01f);
    assert_int_equal(f->cs.f.stage, VANE_STAGE_TRUST);
}

static void test_engagement_drop(void **st)
{
    fx_t *f = *st;
    int64_t t = ENG_T0;
    /* Two logins a day for 10 weeks: a habit. */
    for (int d = 0; d < 70; d++) {
        feed(f, eng_login(nid(f), "C1", t + d * ENG_D, true));
        feed(f, eng_login(nid(f), "C1", t + d * ENG_D + ENG_H, true));
    }
    t += 70 * ENG_D;
    assert_true(ev_at(f, "engagement_drop < 0.05", t) == 1);
    assert_true(
        ev_at(f, "baseline.logins_per_day > 1.9 and baseline.logins_per_day_long > 1.5", t) == 1);
    /* Ten quiet days, then one login: the recent rate fell, the long-term one much less. */
    feed(f, eng_login(nid(f), "C1", t + 10 * ENG_D, true));
    assert_true(ev_at(f, "engagement_drop > 0.5", t + 10 * ENG_D) == 1);
    assert_true(ev_at(f, "baseline.gap > 0 and quiet == 0", t + 10 * ENG_D) == 1);
}

static void test_tracking_is_derived(void **st)
{
    fx_t *f = *st;
    /* COMPLAINT is read by the rule: tracked. PAYMENT is read by nothing: not kept. */
    feed(f, eng_eng(nid(f), "C1", ENG_T0, VANE_ENG_COMPLAINT, 0));
    feed(f, eng_txn(nid(f), "C1", ENG_T0 + 1, VANE_TXN_PAYMENT, 0, 5));
    assert_int_equal(f->cs.f.win.n, 1);
    vane_buf_t out = VANE_BUF_INIT;
    vane_ruleset_dump(f->rs, &out);
    assert_non_null(strstr(out.data, "eng.COMPLAINT"));
    assert_null(strstr(out.data, "txn.PAYMENT"));
    assert_non_null(strstr(out.data, "horizon=30d"));
    vane_buf_free(&out);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_holdings_and_cross_holding),
        T(test_zero_and_huge_amounts),
        T(test_profile_and_tenure),
        T(test_stage),
        T(test_engagement_drop),
        T(test_tracking_is_derived),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
