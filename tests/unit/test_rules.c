/* test_rules.c - the rule loader: diagnostics (code, file:line:col, level), settings, multi-file
 * overrides, and the rule features: shadow mode, topics, scope, exceptions, routes, templates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/eng_events.h"
#include "util/err.h"

#define HEAD "- rule: X\n  desc: t\n  kind: CUSTOM\n  severity: LOW\n  on: [any]\n"

static vane_diags_t load_bad(const char *yaml)
{
    vane_diags_t d = VANE_DIAGS_INIT;
    vane_ruleset_t *rs = vane_ruleset_load_string("r.yaml", yaml, strlen(yaml), &d);
    if (rs) {
        vane_ruleset_free(rs);
        fail_msg("loaded but should not:\n%s", yaml);
    }
    assert_true(d.errors > 0);
    return d;
}

static void expect_diag(const char *yaml, const char *code, int line, int col)
{
    vane_diags_t d = load_bad(yaml);
    const vane_diag_t *dg = vane_diags_find(&d, code);
    if (!dg || dg->line != line || dg->col != col) {
        vane_diags_print(&d, stderr);
        fail_msg("expected %s at %d:%d", code, line, col);
    }
    vane_diags_free(&d);
}

static void test_diagnostics(void **st)
{
    (void)st;
    expect_diag("- rule: X\n  kind: [unclosed\n", "yaml-syntax", 3, 1);
    expect_diag("rule: X\n", "bad-structure", 1, 1);
    expect_diag("- 42\n", "bad-structure", 1, 3);
    expect_diag("- frobnicate: 1\n", "bad-structure", 1, 3);
    expect_diag("- rule: X\n  desc: t\n  kind: CUSTOM\n  severity: LOW\n  on: [any]\n",
                "missing-key", 1, 9);
    expect_diag("- rule: X\n  desc: t\n  kind: NOPE\n  severity: LOW\n  on: [any]\n"
                "  condition: true\n",
                "bad-value", 3, 9);
    expect_diag("- rule: X\n  desc: t\n  kind: CUSTOM\n  severity: HUGE\n  on: [any]\n"
                "  condition: true\n",
                "bad-value", 4, 13);
    expect_diag("- rule: X\n  desc: t\n  kind: CUSTOM\n  severity: LOW\n  on: [txn, bogus]\n"
                "  condition: true\n",
                "unknown-class", 5, 13);
    expect_diag(HEAD "  condition: true\n  cooldown: 3 days\n", "bad-duration", 7, 13);
    expect_diag(HEAD "  condition: true\n  mode: loud\n", "bad-value", 7, 9);
    expect_diag(HEAD "  condition: true\n" HEAD "  condition: true\n", "duplicate-id", 7, 9);
    expect_diag("- required_engine_version: 99\n", "engine-version", 1, 28);
    expect_diag(HEAD "  condition: true\n  required_engine_version: 2\n", "engine-version", 7, 28);
    expect_diag(HEAD "  condition: true\n  summary: \"{nope} happened\"\n", "bad-template", 7, 12);
    expect_diag(HEAD "  condition: true\n  summary: \"{risk:weird}\"\n", "bad-template", 7, 12);
    expect_diag(HEAD "  condition: true\n  summary: \"{risk\"\n", "bad-template", 7, 12);
    expect_diag("- macro: m\n  condition: n > 1\n- macro: n\n  condition: 2\n", "unknown-macro", 2,
                14);
    expect_diag("- macro: m\n  condition: 1\n- macro: m\n  condition: 2\n", "duplicate-id", 3, 10);
    expect_diag("- macro: risk\n  condition: 1\n", "duplicate-id", 1, 10);
    expect_diag("- list: l\n  items: [a]\n- list: l\n  items: [b]\n", "duplicate-id", 3, 9);
    expect_diag("- list: l\n", "missing-key", 1, 3);
    expect_diag("- rule: X\n  desc: t\n  kind: DORMANCY\n  severity: LOW\n  on: [absence]\n"
                "  condition: true\n",
                "missing-key", 5, 7);
    expect_diag(HEAD "  condition: true\n  follow_up: {severity: HIGH}\n", "missing-key", 7, 14);
    expect_diag(HEAD "  condition: true\n  exceptions:\n    - name: e\n", "missing-key", 8, 7);
    expect_diag(HEAD "  condition: true\n  escalate:\n    - when: risk > 1\n", "missing-key", 8, 7);
    expect_diag("- settings:\n    risk:\n      redemption: 2\n", "bad-value", 3, 19);
    expect_diag("- settings:\n    topics:\n      NOPE: t\n", "bad-value", 3, 7);
}

static void test_warnings_do_not_fail(void **st)
{
    (void)st;
    const char *yaml = "- macro: unused_m\n  condition: 1\n"
                       "- list: unused_l\n  items: [a]\n"
                       "- rule: X\n  kind: CUSTOM\n  severity: LOW\n  on: [any]\n"
                       "  condition: true\n  colour: blue\n"
                       "- settings:\n    wat: 1\n";
    vane_diags_t d = VANE_DIAGS_INIT;
    vane_ruleset_t *rs = vane_ruleset_load_string("w.yaml", yaml, strlen(yaml), &d);
    assert_non_null(rs);
    assert_int_equal(d.errors, 0);
    assert_int_equal(d.warnings, 5);
    const vane_diag_t *u = vane_diags_find(&d, "unused-macro");
    assert_non_null(u);
    assert_int_equal(u->line, 1);
    assert_int_equal(u->level, VANE_DIAG_WARNING);
    assert_non_null(vane_diags_find(&d, "unused-list"));
    const vane_diag_t *k = vane_diags_find(&d, "unknown-key");
    assert_int_equal(k->line, 12); /* settings are collected before rules */
    assert_int_equal(k->col, 5);
    assert_non_null(vane_diags_find(&d, "missing-desc"));
    /* Printing: "file:line:col: level: message [code]". */
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    vane_diags_print(&d, fp);
    fclose(fp);
    assert_non_null(strstr(text, "w.yaml:10:3: warning: unknown key 'colour' in a rule (ignored) "
                                 "[unknown-key]"));
    free(text);
    vane_diags_free(&d);
    vane_ruleset_free(rs);
}

static void test_io_error(void **st)
{
    (void)st;
    const char *path = "/nonexistent/vane/rules.yaml";
    vane_diags_t d = VANE_DIAGS_INIT;
    assert_null(vane_ruleset_load(&path, 1, &d));
    assert_non_null(vane_diags_find(&d, "io"));
    vane_diags_free(&d);
    assert_null(vane_ruleset_load(&path, 1, NULL)); /* diags optional */
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/vane-test-rules-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_multi_file_override(void **st)
{
    (void)st;
    char *local =
        write_tmp("- rule: DETRACTOR\n  enabled: false\n"
                  "- rule: REDEMPTION_SURGE\n  desc: stricter\n"
                  "  kind: REDEMPTION_SURGE\n  severity: HIGH\n  on: [txn.REDEMPTION]\n"
                  "  condition: count(txn.REDEMPTION, 24h) >= 2 and cancellations_7d >= 0\n"
                  "- rule: LOCAL\n  desc: uses a default macro\n  kind: CUSTOM\n"
                  "  severity: INFO\n  on: [login]\n  condition: is_strategic\n");
    const char *paths[2] = {VANE_SOURCE_DIR "/rules/default.yaml", local};
    vane_diags_t d = VANE_DIAGS_INIT;
    vane_ruleset_t *rs = vane_ruleset_load(paths, 2, &d);
    if (!rs)
        vane_diags_print(&d, stderr);
    assert_non_null(rs);
    assert_non_null(vane_diags_find(&d, "rule-replaced"));
    assert_int_equal(vane_ruleset_count(rs), 9);
    vane_engine_t *eng = vane_engine_new(rs);
    vane_alert_batch_t *b = calloc(1, sizeof *b);
    vane_state_t cs;
    vane_state_init(&cs, vane_str_c("C1"));
    vane_event_t ev = eng_survey("s", "C1", ENG_T0, 1);
    vane_engine_process(eng, &cs, &ev, 0, b);
    assert_int_equal(b->count, 0); /* disabled */
    ev = eng_txn("r1", "C1", ENG_T0 + 1, VANE_TXN_REDEMPTION, VANE_CAT_FUND, 1);
    vane_engine_process(eng, &cs, &ev, 0, b);
    ev = eng_txn("r2", "C1", ENG_T0 + 2, VANE_TXN_REDEMPTION, VANE_CAT_FUND, 1);
    vane_engine_process(eng, &cs, &ev, 0, b);
    assert_int_equal(b->count, 1);
    assert_int_equal(b->alerts[0].severity, VANE_SEV_HIGH);
    free(b);
    vane_engine_free(eng);
    vane_ruleset_free(rs);
    vane_diags_free(&d);
    unlink(local);
    free(local);
}

static void run(vane_ruleset_t *rs, vane_state_t *cs, vane_event_t ev, vane_alert_batch_t *b)
{
    vane_engine_t *eng = vane_engine_new(rs);
    vane_engine_process(eng, cs, &ev, 0, b);
    vane_engine_free(eng);
}

static void test_shadow_topic_route_score(void **st)
{
    (void)st;
    vane_ruleset_t *rs = eng_rules_string(
        "- settings:\n    topics:\n      CUSTOM: kind.topic\n    route_default: desk\n"
        "- rule: A\n  desc: d\n  kind: CUSTOM\n  severity: LOW\n  on: [login]\n"
        "  condition: true\n  mode: shadow\n  score: 0.25 + 0.5\n"
        "  features:\n    big: 2 * 3\n  summary: \"{rule} {kind} {severity} big={big} "
        "{{x}} {customer_id}\"\n"
        "- rule: B\n  desc: d\n  kind: PREFERENCE_SHIFT\n  severity: LOW\n  on: [login]\n"
        "  condition: true\n  topic: marketing.pref\n"
        "  route:\n    - when: segment == \"mass\"\n      tier: branch\n    - tier: hq\n");
    vane_alert_batch_t *b = calloc(1, sizeof *b);
    vane_state_t cs;
    vane_state_init(&cs, vane_str_c("C1"));
    run(rs, &cs, eng_login("l1", "C1", ENG_T0, true), b);
    assert_int_equal(b->count, 2);
    const vane_alert_t *a = &b->alerts[0], *p = &b->alerts[1];
    assert_true(a->shadow);
    assert_string_equal(a->topic, "kind.topic");
    assert_string_equal(a->route, "desk");
    assert_true(a->score == 0.75);
    assert_string_equal(a->summary, "A CUSTOM LOW big=6 {x} C1");
    assert_false(p->shadow);
    assert_string_equal(p->topic, "marketing.pref");
    assert_string_equal(p->route, "hq");
    assert_true(p->score == 2 / 5.0); /* default: severity / 5 */
    free(b);
    vane_ruleset_free(rs);
}

static void test_scope_and_exceptions(void **st)
{
    (void)st;
    vane_ruleset_t *rs =
        eng_rules_string("- rule: S\n  desc: d\n  kind: CUSTOM\n  severity: LOW\n  on: [login]\n"
                         "  condition: true\n  cooldown: 0\n"
                         "  scope:\n    segments: [affluent]\n    stages: [ESTABLISHING]\n"
                         "  exceptions:\n    - name: vip\n      customers: [C2]\n"
                         "    - name: late night\n      condition: ev.channel == \"ATM\"\n");
    vane_alert_batch_t *b = calloc(1, sizeof *b);
    vane_state_t cs;
    vane_state_init(&cs, vane_str_c("C1"));
    run(rs, &cs, eng_login("l1", "C1", ENG_T0, true), b);
    assert_int_equal(b->count, 0); /* no segment yet: out of scope */
    run(rs, &cs, eng_profile("p", "C1", ENG_T0 + 1, "affluent", 0, NULL), b);
    run(rs, &cs, eng_login("l2", "C1", ENG_T0 + 2, true), b);
    assert_int_equal(b->count, 1);
    vane_event_t atm = eng_login("l3", "C1", ENG_T0 + 3, true);
    atm.channel = VANE_CHANNEL_ATM;
    run(rs, &cs, atm, b);
    assert_int_equal(b->count, 1); /* excepted by condition */
    vane_state_init(&cs, vane_str_c("C2"));
    run(rs, &cs, eng_profile("p", "C2", ENG_T0 + 1, "affluent", 0, NULL), b);
    run(rs, &cs, eng_login("l4", "C2", ENG_T0 + 4, true), b);
    assert_int_equal(b->count, 1); /* allow-listed customer */
    free(b);
    vane_ruleset_free(rs);
}

static void test_default_rules_clean(void **st)
{
    (void)st;
    const char *path = VANE_SOURCE_DIR "/rules/default.yaml";
    vane_diags_t d = VANE_DIAGS_INIT;
    vane_ruleset_t *rs = vane_ruleset_load(&path, 1, &d);
    if (d.n)
        vane_diags_print(&d, stderr);
    assert_non_null(rs);
    assert_int_equal(d.n, 0); /* not even a warning */
    assert_int_equal(vane_ruleset_count(rs), 8);
    static const char *ids[] = {"REDEMPTION_SURGE", "CANCELLATION_SURGE", "OUTFLOW_SURGE",
                                "PREFERENCE_SHIFT", "DORMANCY",           "DORMANCY_MONTHLY",
                                "DECLINE_RISK",     "DETRACTOR"};
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(vane_ruleset_rule_id(rs, i), ids[i]);
    vane_diags_free(&d);
    vane_ruleset_free(rs);
}

/* The examples in rules/README.md compile (the documentation cannot drift from the loader). */
static void test_readme_examples(void **st)
{
    (void)st;
    FILE *fp = fopen(VANE_SOURCE_DIR "/rules/README.md", "r");
    assert_non_null(fp);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    char *ex = strstr(text, "## Examples");
    assert_non_null(ex);
    char *start = strstr(ex, "```yaml\n");
    assert_non_null(start);
    start += 8;
    char *end = strstr(start, "```");
    assert_non_null(end);
    *end = '\0';
    vane_ruleset_t *rs = eng_rules_string(start);
    assert_int_equal(vane_ruleset_count(rs), 2);
    vane_ruleset_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diagnostics),
        cmocka_unit_test(test_warnings_do_not_fail),
        cmocka_unit_test(test_io_error),
        cmocka_unit_test(test_multi_file_override),
        cmocka_unit_test(test_shadow_topic_route_score),
        cmocka_unit_test(test_scope_and_exceptions),
        cmocka_unit_test(test_default_rules_clean),
        cmocka_unit_test(test_readme_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
