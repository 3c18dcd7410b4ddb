/* test_timers.c - absence timers: several absence rules, persistence through encode/decode,
 * hot reload (timers refer to rules by id), episodes surviving a state round trip. */
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

static const char *TWO_ABSENCES =
    "- rule: QUIET3\n  desc: d\n  kind: DORMANCY\n  severity: LOW\n  on: [absence]\n"
    "  after: 3d\n  condition: true\n  cooldown: 0\n  features: {quiet: quiet}\n"
    "- rule: QUIET7\n  desc: d\n  kind: CUSTOM\n  severity: HIGH\n  on: [absence]\n"
    "  after: 7d\n  condition: true\n  cooldown: 0\n";

static void test_fresh_state_has_no_timer(void **st)
{
    (void)st;
    vane_ruleset_t *rs = eng_rules_default();
    vane_engine_t *eng = vane_engine_new(rs);
    vane_state_t cs;
    vane_state_init(&cs, vane_str_c("C1"));
    assert_true(vane_engine_next_due(eng, &cs) == INT64_MAX);
    vane_alert_batch_t *b = calloc(1, sizeof *b);
    assert_int_equal(vane_engine_timers(eng, &cs, INT64_MAX, 0, b), 0);
    free(b);
    vane_engine_free(eng);
    vane_ruleset_free(rs);
}

static void test_two_absence_rules(void **st)
{
    (void)st;
    vane_ruleset_t *rs = eng_rules_string(TWO_ABSENCES);
    vane_engine_t *eng = vane_engine_new(rs);
    vane_alert_batch_t *b = calloc(1, sizeof *b);
    vane_state_t cs;
    vane_state_init(&cs, vane_str_c("C1"));
    vane_event_t ev = eng_login("l", "C1", ENG_T0, true);
    vane_engine_process(eng, &cs, &ev, 0, b);
    assert_true(vane_engine_next_due(eng, &cs) == ENG_T0 + 3 * ENG_D);
    assert_int_equal(vane_engine_timers(eng, &cs, ENG_T0 + 3 * ENG_D, 0, b), 1);
    assert_string_equal(b->alerts[0].rule_id, "QUIET3");
    assert_true(vane_alert_feature(&b->alerts[0], "quiet")->value == 3 * ENG_D);
    assert_true(vane_engine_next_due(eng, &cs) == ENG_T0 + 7 * ENG_D);
    assert_int_equal(vane_engine_timers(eng, &cs, ENG_T0 + 6 * ENG_D, 0, b), 0);
    assert_int_equal(vane_engine_timers(eng, &cs, ENG_T0 + 7 * ENG_D, 0, b), 1);
    assert_string_equal(b->alerts[1].rule_id, "QUIET7");
    assert_true(vane_engine_next_due(eng, &cs) == INT64_MAX);
    /* A watermark that jumps past both at once fires both, once. */
    vane_state_init(&cs, vane_str_c("C2"));
    ev = eng_login("l2", "C2", ENG_T0, true);
    vane_engine_process(eng, &cs, &ev, 0, b);
    assert_int_equal(vane_engine_timers(eng, &cs, ENG_T0 + 30 * ENG_D, 0, b), 2);
    assert_int_equal(vane_engine_timers(eng, &cs, ENG_T0 + 60 * ENG_D, 0, b), 0);
    free(b);
    vane_engine_free(eng);
    vane_ruleset_free(rs);
}

static void roundtrip(vane_state_t *cs)
{
    vane_buf_t buf = VANE_BUF_INIT;
    assert_int_equal(vane_state_encode(cs, &buf), 0);
    vane_state_t back;
    assert_int_equal(vane_state_decode(&back, buf.data, buf.len), 0);
    *cs = back;
    vane_buf_free(&buf);
}

static void test_timers_and_episodes_persist(void **st)
{
    (void)st;
    vane_ruleset_t *rs = eng_rules_default();
    vane_engine_t *eng = vane_engine_new(rs);
    vane_alert_batch_t *b = calloc(1, sizeof *b);
    vane_state_t cs;
    vane_state_init(&cs, vane_str_c("C1"));
    vane_event_t ev = eng_survey("s1", "C1", ENG_T0, 2);
    vane_engine_process(eng, &cs, &ev, 0, b);
    for (int i = 0; i < 3; i++) {
        ev = eng_txn(eng_id("r", i), "C1", ENG_T0 + i, VANE_TXN_REDEMPTION, VANE_CAT_FUND, 1);
        vane_engine_process(eng, &cs, &ev, 0, b);
    }
    assert_int_equal(b->count, 2);
    int64_t due = vane_engine_next_due(eng, &cs);
    roundtrip(&cs); /* evicted from the cache, read back from Redis */
    assert_true(vane_engine_next_due(eng, &cs) == due);
    /* The surge episode survived: a 4th redemption is held. */
    ev = eng_txn("r9", "C1", ENG_T0 + 10, VANE_TXN_REDEMPTION, VANE_CAT_FUND, 1);
    vane_engine_process(eng, &cs, &ev, 0, b);
    assert_int_equal(b->count, 2);
    /* The duplicate ring survived too. */
    assert_int_equal(vane_engine_process(eng, &cs, &ev, 0, b), VANE_EDUP);
    /* The follow-up fires from the decoded state. */
    assert_int_equal(vane_engine_timers(eng, &cs, ENG_T0 + ENG_D, 0, b), 1);
    assert_int_equal(b->alerts[2].severity, VANE_SEV_HIGH);
    assert_string_equal(b->alerts[2].event_ids[0], "s1");
    free(b);
    vane_engine_free(eng);
    vane_ruleset_free(rs);
}

static void test_reload_keeps_timers_by_id(void **st)
{
    (void)st;
    vane_ruleset_t *rs = eng_rules_default();
    vane_engine_t *eng = vane_engine_new(rs);
    vane_alert_batch_t *b = calloc(1, sizeof *b);
    vane_state_t cs, cs2;
    vane_state_init(&cs, vane_str_c("C1"));
    vane_event_t ev = eng_survey("s1", "C1", ENG_T0, 2);
    vane_engine_process(eng, &cs, &ev, 0, b);
    cs2 = cs;
    /* Reload: the same rules again (a new ruleset object, other addresses). */
    vane_ruleset_t *rs2 = eng_rules_default();
    const vane_ruleset_t *old = vane_engine_set_rules(eng, rs2);
    vane_ruleset_free((vane_ruleset_t *)old);
    assert_int_equal(vane_engine_timers(eng, &cs, ENG_T0 + ENG_D, 0, b), 1);
    assert_string_equal(b->alerts[1].rule_id, "DETRACTOR");
    /* Reload without the rule: its pending follow-up is dropped, nothing fires. */
    vane_ruleset_t *rs3 = eng_rules_string("- rule: OTHER\n  desc: d\n  kind: CUSTOM\n"
                                           "  severity: LOW\n  on: [login]\n"
                                           "  condition: false\n");
    old = vane_engine_set_rules(eng, rs3);
    assert_int_equal(vane_engine_timers(eng, &cs2, ENG_T0 + ENG_D, 0, b), 0);
    assert_true(vane_engine_next_due(eng, &cs2) == INT64_MAX);
    vane_engine_set_rules(eng, old);
    free(b);
    vane_engine_free(eng);
    vane_ruleset_free(rs2);
    vane_ruleset_free(rs3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_state_has_no_timer),
        cmocka_unit_test(test_two_absence_rules),
        cmocka_unit_test(test_timers_and_episodes_persist),
        cmocka_unit_test(test_reload_keeps_timers_by_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
