/* test_detect.c - every alert kind of rules/default.yaml: positive cases and hard negatives,
 * absence timers (dormancy, detractor follow-up), routing, exceptions. */
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

static int setup(void **st)
{
    fx_t *f = calloc(1, sizeof *f);
    f->rs = eng_rules_default();
    f->eng = vane_engine_new(f->rs);
    vane_state_init(&f->cs, vane_str_c("C7"));
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
    assert_int_equal(vane_engine_process(f->eng, &f->cs, &ev, 7, &f->b), 0);
}

static const char *nid(fx_t *f)
{
    return eng_id("e", f->n++);
}

static const vane_alert_t *find(const fx_t *f, vane_alert_kind_t kind)
{
    for (uint32_t i = 0; i < f->b.count; i++)
        if (f->b.alerts[i].kind == kind)
            return &f->b.alerts[i];
    return NULL;
}

/* ---- PREFERENCE_SHIFT ---------------------------------------------------------------- */

/* A saver: time deposits bought every 20 days for half a year. */
static void saver_history(fx_t *f)
{
    for (int i = 8; i >= 1; i--)
        feed(f, eng_txn(nid(f), "C7", ENG_T0 - i * 20 * ENG_D, VANE_TXN_PURCHASE,
                        VANE_CAT_TIME_DEPOSIT, 5000000));
    assert_int_equal(f->b.count, 0);
}

static void test_preference_shift(void **st)
{
    fx_t *f = *st;
    saver_history(f);
    /* Views and a purchase of a never-used category within a day and a half. Two weighted
     * events (view 0.5, purchase 1) are not enough evidence; the fourth event is. */
    feed(f, eng_eng(nid(f), "C7", ENG_T0, VANE_ENG_PRODUCT_VIEW, VANE_CAT_FUND));
    feed(f, eng_eng(nid(f), "C7", ENG_T0 + 12 * ENG_H, VANE_ENG_PRODUCT_VIEW, VANE_CAT_FUND));
    feed(f, eng_txn(nid(f), "C7", ENG_T0 + ENG_D, VANE_TXN_PURCHASE, VANE_CAT_FUND, 100000));
    assert_int_equal(eng_count_kind(&f->b, VANE_ALERT_PREFERENCE_SHIFT), 0);
    feed(f, eng_eng(nid(f), "C7", ENG_T0 + 36 * ENG_H, VANE_ENG_PRODUCT_VIEW, VANE_CAT_FUND));
    const vane_alert_t *a = find(f, VANE_ALERT_PREFERENCE_SHIFT);
    assert_non_null(a);
    assert_int_equal(a->from_category, VANE_CAT_TIME_DEPOSIT);
    assert_int_equal(a->to_category, VANE_CAT_FUND);
    assert_true(vane_alert_feature(a, "divergence")->value >= 0.25);
    assert_true(vane_alert_feature(a, "emerging_evidence")->value >= 2);
    assert_true(vane_alert_feature(a, "emerging_prior_share")->value <= 0.05);
    assert_true(a->score >= 0.25 && a->score <= 1);
    assert_non_null(strstr(a->summary, "from TIME_DEPOSIT to FUND"));
    /* More fund interest in the same month: no repeat. */
    feed(f, eng_eng(nid(f), "C7", ENG_T0 + 4 * ENG_D, VANE_ENG_PRODUCT_VIEW, VANE_CAT_FUND));
    assert_int_equal(eng_count_kind(&f->b, VANE_ALERT_PREFERENCE_SHIFT), 1);
}

static void test_preference_single_large_purchase(void **st)
{
    fx_t *f = *st;
    saver_history(f);
    feed(f, eng_txn(nid(f), "C7", ENG_T0, VANE_TXN_PURCHASE, VANE_CAT_FUND, 900000000000LL));
    assert_int_equal(f->b.count, 0);
}

static void test_preference_new_customer_no_shift(void **st)
{
    fx_t *f = *st;
    /* Someone new buying a mix of things: no long-term preference to shift from. */
    for (int i = 0; i < 6; i++)
        feed(f, eng_txn(nid(f), "C7", ENG_T0 + i * ENG_D, VANE_TXN_PURCHASE,
                        (vane_category_t)(1 + i % 3), 1000));
    assert_int_equal(eng_count_kind(&f->b, VANE_ALERT_PREFERENCE_SHIFT), 0);
}

static void test_preference_unknown_category(void **st)
{
    fx_t *f = *st;
    saver_history(f);
    for (int i = 0; i < 5; i++)
        feed(f, eng_eng(nid(f), "C7", ENG_T0 + i, VANE_ENG_PRODUCT_VIEW, VANE_CAT_UNSPECIFIED));
    assert_int_equal(f->b.count, 0);
}

/* ---- CANCELLATION_SURGE -------------------------------------------------------------- */

static void test_cancellation_surge(void **st)
{
    fx_t *f = *st;
    feed(f, eng_eng(nid(f), "C7", ENG_T0, VANE_ENG_SERVICE_CANCEL, 0));
    feed(f, eng_eng(nid(f), "C7", ENG_T0 + 2 * ENG_D, VANE_ENG_CONTACT_REFUSED, 0));
    assert_int_equal(eng_count_kind(&f->b, VANE_ALERT_CANCELLATION_SURGE), 0);
    feed(f, eng_eng(nid(f), "C7", ENG_T0 + 6 * ENG_D, VANE_ENG_SERVICE_CANCEL, 0));
    const vane_alert_t *a = find(f, VANE_ALERT_CANCELLATION_SURGE);
    assert_non_null(a);
    assert_int_equal(a->severity, VANE_SEV_MEDIUM);
    assert_true(vane_alert_feature(a, "cancellations")->value == 3);
    assert_int_equal(a->n_event_ids, 3);
}

static void test_cancellation_with_close_is_high(void **st)
{
    fx_t *f = *st;
    feed(f, eng_eng(nid(f), "C7", ENG_T0, VANE_ENG_SERVICE_CANCEL, 0));
    feed(f, eng_eng(nid(f), "C7", ENG_T0 + ENG_H, VANE_ENG_ACCOUNT_CLOSE, 0));
    const vane_alert_t *a = find(f, VANE_ALERT_CANCELLATION_SURGE);
    assert_non_null(a);
    assert_int_equal(a->severity, VANE_SEV_HIGH);
}

static void test_cancellation_single_is_quiet(void **st)
{
    fx_t *f = *st;
    feed(f, eng_eng(nid(f), "C7", ENG_T0, VANE_ENG_SERVICE_CANCEL, 0));
    /* Spread out: never 3 within 7 days. */
    feed(f, eng_eng(nid(f), "C7", ENG_T0 + 8 * ENG_D, VANE_ENG_SERVICE_CANCEL, 0));
    feed(f, eng_eng(nid(f), "C7", ENG_T0 + 16 * ENG_D, VANE_ENG_SERVICE_CANCEL, 0));
    assert_int_equal(f->b.count, 0);
}

/* ---- OUTFLOW_SURGE ------------------------------------------------------------------- */

static void test_outflow_surge(void **st)
{
    fx_t *f = *st;
    feed(f, eng_txn(nid(f), "C7", ENG_T0 - ENG_D, VANE_TXN_DEPOSIT, 0, 100000000));
    feed(f, eng_outflow(nid(f), "C7", ENG_T0, 20000000, 80000000));
    assert_int_equal(f->b.count, 0); /* 20% */
    feed(f, eng_outflow(nid(f), "C7", ENG_T0 + ENG_D, 20000000, 60000000));
    const vane_alert_t *a = find(f, VANE_ALERT_OUTFLOW_SURGE);
    assert_non_null(a); /* 40M of 100M */
    assert_int_equal(a->severity, VANE_SEV_MEDIUM);
    assert_true(vane_alert_feature(a, "amount")->value == 40000000);
    assert_true(vane_alert_feature(a, "share")->value > 0.39 &&
                vane_alert_feature(a, "share")->value < 0.41);
    assert_int_equal(a->n_event_ids, 2);
    assert_string_equal(a->route, "line");
}

static void test_outflow_negatives(void **st)
{
    fx_t *f = *st;
    feed(f, eng_txn(nid(f), "C7", ENG_T0 - ENG_D, VANE_TXN_DEPOSIT, 0, 100000000));
    /* Internal transfer (no counterparty bank): not an outflow. */
    feed(f, eng_txn(nid(f), "C7", ENG_T0, VANE_TXN_TRANSFER_OUT, 0, 90000000));
    /* A large share but a small amount for a small customer: below the floor. */
    vane_state_init(&f->cs, vane_str_c("C8"));
    feed(f, eng_txn(nid(f), "C8", ENG_T0 - ENG_D, VANE_TXN_DEPOSIT, 0, 200000));
    feed(f, eng_outflow(nid(f), "C8", ENG_T0, 150000, 50000));
    assert_int_equal(f->b.count, 0);
}

/* ---- DORMANCY ------------------------------------------------------------------------ */

static void test_dormancy_timer(void **st)
{
    fx_t *f = *st;
    int64_t t = ENG_T0;
    for (int i = 0; i < 30; i++, t += ENG_D)
        feed(f, eng_login(nid(f), "C7", t, true));
    int64_t last = t - ENG_D;
    int64_t due = vane_engine_next_due(f->eng, &f->cs);
    assert_true(due == last + 14 * ENG_D); /* max(14d, 5 x 1d) */
    assert_int_equal(vane_engine_timers(f->eng, &f->cs, due - 1, 9, &f->b), 0);
    assert_int_equal(vane_engine_timers(f->eng, &f->cs, due, 9, &f->b), 1);
    const vane_alert_t *a = find(f, VANE_ALERT_DORMANCY);
    assert_non_null(a);
    assert_int_equal(a->event_time_ms, due);
    assert_int_equal(a->detected_at_ms, 9);
    assert_true(vane_alert_feature(a, "quiet")->value == 14 * ENG_D);
    assert_non_null(strstr(a->summary, "no login or transaction for 14d"));
    /* Fired once. DORMANCY_MONTHLY's quiet time (35d) is still ahead, but its condition (no
     * digital habit) is false for this customer: it fires nothing, then nothing is due. */
    assert_true(vane_engine_next_due(f->eng, &f->cs) == last + 35 * ENG_D);
    assert_int_equal(vane_engine_timers(f->eng, &f->cs, due + 30 * ENG_D, 9, &f->b), 0);
    assert_true(vane_engine_next_due(f->eng, &f->cs) == INT64_MAX);
    /* Activity re-arms it. */
    feed(f, eng_login(nid(f), "C7", due + ENG_D, true));
    assert_true(vane_engine_next_due(f->eng, &f->cs) > due + ENG_D);
}

/* A customer who only transacts (no logins), twice a week: two quiet weeks are a normal month
 * for them; DORMANCY_MONTHLY fires after 35 days. */
static void test_dormancy_monthly_no_logins(void **st)
{
    fx_t *f = *st;
    int64_t t = ENG_T0;
    for (int i = 0; i < 24; i++, t += 3 * ENG_D + 12 * ENG_H)
        feed(f, eng_txn(nid(f), "C7", t, VANE_TXN_DEPOSIT, VANE_CAT_DEMAND_DEPOSIT, 100000));
    int64_t last = t - (3 * ENG_D + 12 * ENG_H);
    assert_int_equal(vane_engine_timers(f->eng, &f->cs, last + 20 * ENG_D, 9, &f->b), 0);
    assert_true(vane_engine_next_due(f->eng, &f->cs) == last + 35 * ENG_D);
    assert_int_equal(vane_engine_timers(f->eng, &f->cs, last + 35 * ENG_D, 9, &f->b), 1);
    const vane_alert_t *a = find(f, VANE_ALERT_DORMANCY);
    assert_non_null(a);
    assert_string_equal(a->rule_id, "DORMANCY_MONTHLY");
    assert_non_null(strstr(a->summary, "no transaction for 35d"));
}

static void test_dormancy_activity_moves_timer(void **st)
{
    fx_t *f = *st;
    int64_t t = ENG_T0;
    for (int i = 0; i < 20; i++, t += ENG_D)
        feed(f, eng_login(nid(f), "C7", t, true));
    int64_t due = vane_engine_next_due(f->eng, &f->cs);
    feed(f, eng_txn(nid(f), "C7", due - ENG_D, VANE_TXN_PAYMENT, 0, 100));
    assert_true(vane_engine_next_due(f->eng, &f->cs) > due);
    assert_int_equal(vane_engine_timers(f->eng, &f->cs, due, 0, &f->b), 0);
}

static void test_dormancy_no_habit(void **st)
{
    fx_t *f = *st;
    feed(f, eng_login(nid(f), "C7", ENG_T0, true));
    feed(f, eng_login(nid(f), "C7", ENG_T0 + ENG_D, true));
    int64_t due = vane_engine_next_due(f->eng, &f->cs);
    assert_true(due != INT64_MAX);
    assert_int_equal(vane_engine_timers(f->eng, &f->cs, due + ENG_D, 0, &f->b), 0);
    /* Failed logins are not activity. */
    vane_state_init(&f->cs, vane_str_c("C9"));
    feed(f, eng_login(nid(f), "C9", ENG_T0, false));
    assert_true(vane_engine_next_due(f->eng, &f->cs) == INT64_MAX);
}

/* ---- DECLINE_RISK -------------------------------------------------------------------- */

static void test_decline_risk(void **st)
{
    fx_t *f = *st;
    feed(f, eng_txn(nid(f), "C7", ENG_T0 - 10 * ENG_D, VANE_TXN_DEPOSIT, 0, 100000000));
    for (int i = 0; i < 3; i++)
        feed(f, eng_txn(nid(f), "C7", ENG_T0 + i * 2 * ENG_D, VANE_TXN_REDEMPTION, VANE_CAT_FUND,
                        1000));
    assert_null(find(f, VANE_ALERT_DECLINE_RISK)); /* 0.3 */
    feed(f, eng_eng(nid(f), "C7", ENG_T0 + 7 * ENG_D, VANE_ENG_SERVICE_CANCEL, 0));
    feed(f, eng_eng(nid(f), "C7", ENG_T0 + 8 * ENG_D, VANE_ENG_CONTACT_REFUSED, 0));
    assert_null(find(f, VANE_ALERT_DECLINE_RISK)); /* 0.5 */
    feed(f, eng_survey(nid(f), "C7", ENG_T0 + 9 * ENG_D, 2));
    const vane_alert_t *a = find(f, VANE_ALERT_DECLINE_RISK); /* 0.6 */
    assert_non_null(a);
    assert_int_equal(a->stage, VANE_STAGE_DECLINE);
    assert_true(a->score >= 0.6);
    assert_true(vane_alert_feature(a, "redemptions")->value == 3);
}

static void test_decline_single_signals_quiet(void **st)
{
    fx_t *f = *st;
    feed(f, eng_txn(nid(f), "C7", ENG_T0, VANE_TXN_REDEMPTION, VANE_CAT_FUND, 1000));
    feed(f, eng_eng(nid(f), "C7", ENG_T0 + ENG_D, VANE_ENG_SERVICE_CANCEL, 0));
    feed(f, eng_survey(nid(f), "C7", ENG_T0 + 2 * ENG_D, 9));
    assert_int_equal(f->b.count, 0);
    assert_true(f->cs.f.risk < 0.6);
    assert_int_not_equal(f->cs.f.stage, VANE_STAGE_DECLINE);
}

/* ---- DETRACTOR ----------------------------------------------------------------------- */

static void test_detractor_follow_up(void **st)
{
    fx_t *f = *st;
    feed(f, eng_survey("s1", "C7", ENG_T0, 3));
    const vane_alert_t *a = find(f, VANE_ALERT_DETRACTOR);
    assert_non_null(a);
    assert_int_equal(a->severity, VANE_SEV_MEDIUM);
    assert_string_equal(a->route, "supervisor");
    assert_string_equal(a->event_ids[0], "s1");
    assert_non_null(strstr(a->summary, "score 3"));
    assert_true(vane_engine_next_due(f->eng, &f->cs) == ENG_T0 + ENG_D);
    assert_int_equal(vane_engine_timers(f->eng, &f->cs, ENG_T0 + ENG_D - 1, 0, &f->b), 0);
    assert_int_equal(vane_engine_timers(f->eng, &f->cs, ENG_T0 + ENG_D, 0, &f->b), 1);
    const vane_alert_t *e = &f->b.alerts[f->b.count - 1];
    assert_int_equal(e->kind, VANE_ALERT_DETRACTOR);
    assert_int_equal(e->severity, VANE_SEV_HIGH);
    assert_string_equal(e->event_ids[0], "s1");
    assert_non_null(strstr(e->summary, "not contacted within 24h"));
    assert_string_not_equal(e->alert_id, f->b.alerts[0].alert_id);
    assert_true(vane_engine_next_due(f->eng, &f->cs) == INT64_MAX);
}

static void test_detractor_contact_cancels(void **st)
{
    fx_t *f = *st;
    feed(f, eng_survey("s1", "C7", ENG_T0, 6));
    assert_int_equal(f->b.count, 1);
    feed(f, eng_eng(nid(f), "C7", ENG_T0 + 5 * ENG_H, VANE_ENG_CONTACT_ACCEPTED, 0));
    assert_true(vane_engine_next_due(f->eng, &f->cs) == INT64_MAX);
    assert_int_equal(vane_engine_timers(f->eng, &f->cs, ENG_T0 + 2 * ENG_D, 0, &f->b), 0);
    assert_int_equal(f->b.count, 1);
}

static void test_detractor_promoters_quiet(void **st)
{
    fx_t *f = *st;
    feed(f, eng_survey(nid(f), "C7", ENG_T0, 9));
    feed(f, eng_survey(nid(f), "C7", ENG_T0 + ENG_D, 10));
    feed(f, eng_survey(nid(f), "C7", ENG_T0 + 2 * ENG_D, 7));
    assert_int_equal(f->b.count, 0);
    assert_true(vane_engine_next_due(f->eng, &f->cs) == INT64_MAX);
}

static void test_detractor_staff_exception(void **st)
{
    fx_t *f = *st;
    feed(f, eng_profile(nid(f), "C7", ENG_T0 - ENG_D, "staff", ENG_T0 - 400 * ENG_D, NULL));
    feed(f, eng_survey(nid(f), "C7", ENG_T0, 0));
    assert_int_equal(f->b.count, 0);
}

/* ---- routing ------------------------------------------------------------------------- */

static void test_route_strategic_segment(void **st)
{
    fx_t *f = *st;
    feed(f, eng_profile(nid(f), "C7", ENG_T0 - ENG_D, "private", ENG_T0 - 900 * ENG_D, "x"));
    for (int i = 0; i < 3; i++)
        feed(f, eng_txn(nid(f), "C7", ENG_T0 + i, VANE_TXN_REDEMPTION, VANE_CAT_FUND, 10));
    const vane_alert_t *a = find(f, VANE_ALERT_REDEMPTION_SURGE);
    assert_non_null(a);
    assert_string_equal(a->route, "senior");
    assert_string_equal(a->segment, "private");
    assert_string_equal(a->manager_id, "M-7");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_preference_shift),
        T(test_preference_single_large_purchase),
        T(test_preference_new_customer_no_shift),
        T(test_preference_unknown_category),
        T(test_cancellation_surge),
        T(test_cancellation_with_close_is_high),
        T(test_cancellation_single_is_quiet),
        T(test_outflow_surge),
        T(test_outflow_negatives),
        T(test_dormancy_timer),
        T(test_dormancy_monthly_no_logins),
        T(test_dormancy_activity_moves_timer),
        T(test_dormancy_no_habit),
        T(test_decline_risk),
        T(test_decline_single_signals_quiet),
        T(test_detractor_follow_up),
        T(test_detractor_contact_cancels),
        T(test_detractor_promoters_quiet),
        T(test_detractor_staff_exception),
        T(test_route_strategic_segment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
