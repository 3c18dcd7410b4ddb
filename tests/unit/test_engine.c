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

#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
#define ENG_COUNT_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ENG_COUNT_MALLOC 1
#endif
#endif
#ifdef ENG_COUNT_MALLOC
/* From <sanitizer/allocator_interface.h> (not shipped with gcc; the symbol is in libasan). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
static volatile long mallocs;
static void on_malloc(const volatile void *p, size_t n)
{
    (void)p;
    (void)n;
    mallocs++;
}
static void on_free(const volatile void *p)
{
    (void)p;
}
#endif

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
    /* Absurd event times are never applied (no overflow in window/timer arithmetic). */
    assert_int_equal(redeem(f, "r6", INT64_MAX, 100), VANE_ELATE);
    assert_int_equal(redeem(f, "r7", INT64_MIN, 100), VANE_ELATE);
    assert_int_equal(vane_engine_stats(f->eng)->late, 3);
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

/* A mixed stream over many customers, all seven kinds firing now and then. */
static vane_event_t mixed(int i, const char *cust, int64_t t, char *idbuf, size_t cap)
{
    snprintf(idbuf, cap, "ev-%d", i);
    switch (i % 11) {
    case 0:
    case 1:
    case 2:
        return eng_login(idbuf, cust, t, i % 29 != 0);
    case 3:
        return eng_txn(idbuf, cust, t, VANE_TXN_PURCHASE, (vane_category_t)(1 + i % 11), 100000);
    case 4:
        return eng_eng(idbuf, cust, t, VANE_ENG_PRODUCT_VIEW, (vane_category_t)(1 + i % 5));
    case 5:
        return eng_txn(idbuf, cust, t, VANE_TXN_REDEMPTION, VANE_CAT_FUND, 5000);
    case 6:
        return eng_outflow(idbuf, cust, t, 2000000, 3000000);
    case 7:
        return eng_eng(idbuf, cust, t, VANE_ENG_SERVICE_CANCEL, 0);
    case 8:
        return eng_survey(idbuf, cust, t, i % 10);
    case 9:
        return eng_txn(idbuf, cust, t, VANE_TXN_DEPOSIT, 0, 10000000);
    default:
        return eng_profile(idbuf, cust, t, i % 3 ? "mass" : "private", t - 900 * ENG_D, NULL);
    }
}

enum { NCUST = 64 };

static void drive(vane_engine_t *eng, vane_state_t *cs, vane_alert_batch_t *b, int from, int to,
                  long *alerts)
{
    char id[32];
    for (int i = from; i < to; i++) {
        int c = (i * 7) % NCUST;
        int64_t t = ENG_T0 + (int64_t)i * 97 * 60000LL;
        vane_event_t ev = mixed(i, cs[c].customer_id, t, id, sizeof id);
        b->count = 0;
        vane_engine_process(eng, &cs[c], &ev, 0, b);
        *alerts += b->count;
        if (i % 50 == 0) {
            b->count = 0;
            vane_engine_timers(eng, &cs[c], t, 0, b);
            *alerts += b->count;
        }
    }
}

/* Steady state: no allocation per event (counted with the sanitizer's malloc hook), and a
 * throughput figure for the report (Debug+ASan figures are far below Release). */
static void test_no_alloc_and_throughput(void **st)
{
    fx_t *f = *st;
    vane_state_t *cs = calloc(NCUST, sizeof *cs);
    for (int c = 0; c < NCUST; c++) {
        char name[16];
        snprintf(name, sizeof name, "C%03d", c);
        vane_state_init(&cs[c], vane_str_c(name));
    }
    long alerts = 0;
    drive(f->eng, cs, &f->b, 0, 20000, &alerts); /* warm-up */
#ifdef ENG_COUNT_MALLOC
    mallocs = 0;
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    free(malloc(16)); /* the counter works: */
    assert_int_equal(mallocs, 1);
    mallocs = 0;
#endif
    struct timespec a, z;
    clock_gettime(CLOCK_MONOTONIC, &a);
    const int N = 200000;
    drive(f->eng, cs, &f->b, 20000, 20000 + N, &alerts);
    clock_gettime(CLOCK_MONOTONIC, &z);
#ifdef ENG_COUNT_MALLOC
    __sanitizer_install_malloc_and_free_hooks(NULL, NULL);
    printf("allocations during %d events: %ld\n", N, mallocs);
    assert_int_equal(mallocs, 0);
#else
    printf("allocation count not measured (no sanitizer hooks in this build)\n");
#endif
    double secs = (double)(z.tv_sec - a.tv_sec) + (double)(z.tv_nsec - a.tv_nsec) / 1e9;
    printf("engine throughput: %.0f events/s (%d events, %ld alerts, %.3f s, 1 core)\n", N / secs,
           N, alerts, secs);
    assert_true(alerts > 0);
    free(cs);
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
        T(test_no_alloc_and_throughput),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
