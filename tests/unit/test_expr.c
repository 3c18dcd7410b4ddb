/* test_expr.c - the expression language: every construct evaluated, every parse error with its
 * position, compiled-program dumps. */
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

static const char *prelude = "- list: vips\n"
                             "  items: [private, affluent]\n"
                             "- list: nums\n"
                             "  items: [1, 2.5, 7]\n"
                             "- macro: two\n"
                             "  condition: 1 + 1\n"
                             "- macro: is_vip\n"
                             "  condition: segment in vips\n";

/* Compile `condition` in a one-rule file (plus the prelude) and evaluate it against cs/ev. */
static double eval(const char *cond, const vane_state_t *cs, const vane_event_t *ev, int64_t at)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "%s- rule: X\n  desc: t\n  kind: CUSTOM\n  severity: LOW\n  on: [any]\n"
             "  condition: '%s'\n",
             prelude, cond);
    vane_diags_t d = VANE_DIAGS_INIT;
    vane_ruleset_t *rs = vane_ruleset_load_string("expr.yaml", yaml, strlen(yaml), &d);
    if (!rs) {
        vane_diags_print(&d, stderr);
        fail_msg("did not compile: %s", cond);
    }
    double v = -999;
    assert_int_equal(vane_ruleset_eval(rs, "X", cs, ev, at, &v), 0);
    vane_diags_free(&d);
    vane_ruleset_free(rs);
    return v;
}

static vane_state_t empty;

static void is_true(const char *cond)
{
    if (eval(cond, &empty, NULL, ENG_T0) != 1)
        fail_msg("expected true: %s", cond);
}

static void is_false(const char *cond)
{
    if (eval(cond, &empty, NULL, ENG_T0) != 0)
        fail_msg("expected false: %s", cond);
}

static void test_literals_arith(void **st)
{
    (void)st;
    vane_state_init(&empty, vane_str_c("C1"));
    is_true("1 + 2 * 3 == 7");
    is_true("(1 + 2) * 3 == 9");
    is_true("10 - 4 - 3 == 3");
    is_true("8 / 2 / 2 == 2");
    is_true("1 / 0 == 0");
    is_true("-3 + 5 == 2");
    is_true("--3 == 3");
    is_true("1.5e3 == 1500");
    is_true(".5 == 0.5");
    is_true("24h == 86400000");
    is_true("7d == 604800000");
    is_true("500ms == 500");
    is_true("1h30m == 5400000");
    is_true("2w == 14d");
    is_true("true");
    is_false("false");
}

static void test_compare_logic(void **st)
{
    (void)st;
    is_true("1 < 2 and 2 <= 2 and 3 > 2 and 3 >= 3 and 1 != 2");
    is_false("1 > 2 or 2 < 1");
    is_true("not 1 > 2");
    is_true("! (1 > 2)");
    is_true("1 < 2 && 2 < 3 || 1 > 2");
    is_true("1 > 2 or 2 > 1 and 3 > 2"); /* and binds tighter */
    is_false("not (1 < 2)");
    is_true("true == true");
}

static void test_strings_lists_macros(void **st)
{
    (void)st;
    vane_state_t cs;
    vane_state_init(&cs, vane_str_c("C1"));
    snprintf(cs.f.segment, sizeof cs.f.segment, "affluent");
    assert_true(eval("segment == \"affluent\"", &cs, NULL, ENG_T0) == 1);
    assert_true(eval("segment == \"AFFLUENT\"", &cs, NULL, ENG_T0) == 1); /* case-insensitive */
    assert_true(eval("segment != \"mass\"", &cs, NULL, ENG_T0) == 1);
    assert_true(eval("segment in vips", &cs, NULL, ENG_T0) == 1);
    assert_true(eval("segment in (mass, \"private\")", &cs, NULL, ENG_T0) == 0);
    assert_true(eval("segment not in (mass, private)", &cs, NULL, ENG_T0) == 1);
    assert_true(eval("is_vip", &cs, NULL, ENG_T0) == 1);
    assert_true(eval("not is_vip", &cs, NULL, ENG_T0) == 0);
    assert_true(eval("two * 2 == 4", &cs, NULL, ENG_T0) == 1);
    assert_true(eval("2.5 in nums and 3 not in nums", &cs, NULL, ENG_T0) == 1);
    assert_true(eval("customer_id == \"C1\"", &cs, NULL, ENG_T0) == 1);
    assert_true(eval("stage == \"UNSPECIFIED\"", &cs, NULL, ENG_T0) == 1);
}

static void test_event_features(void **st)
{
    (void)st;
    vane_state_t cs;
    vane_state_init(&cs, vane_str_c("C1"));
    vane_event_t ev = eng_txn("e1", "C1", ENG_T0, VANE_TXN_PURCHASE, VANE_CAT_FUND, 12345);
    assert_true(eval("ev.amount == 12345", &cs, &ev, ENG_T0) == 1);
    assert_true(eval("ev.kind == \"PURCHASE\" and ev.category == \"FUND\"", &cs, &ev, ENG_T0) == 1);
    assert_true(eval("ev.type == \"txn\" and ev.channel == \"MOBILE\"", &cs, &ev, ENG_T0) == 1);
    assert_true(eval("ev.score == -1", &cs, &ev, ENG_T0) == 1);
    vane_event_t sv = eng_survey("e2", "C1", ENG_T0, 4);
    assert_true(eval("ev.score == 4 and ev.kind == \"SURVEY\"", &cs, &sv, ENG_T0) == 1);
    /* Without an event (timers) event features are neutral. */
    assert_true(eval("ev.amount == 0 and ev.type == \"timer\"", &cs, NULL, ENG_T0) == 1);
}

static void test_window_functions(void **st)
{
    (void)st;
    vane_ruleset_t *rs = eng_rules_default();
    vane_engine_t *eng = vane_engine_new(rs);
    vane_alert_batch_t *b = calloc(1, sizeof *b);
    vane_state_t cs;
    vane_state_init(&cs, vane_str_c("C1"));
    vane_event_t ev = eng_txn("d", "C1", ENG_T0 - ENG_D, VANE_TXN_DEPOSIT, 0, 9000);
    vane_engine_process(eng, &cs, &ev, 0, b);
    ev = eng_txn("r1", "C1", ENG_T0, VANE_TXN_REDEMPTION, VANE_CAT_FUND, 1000);
    vane_engine_process(eng, &cs, &ev, 0, b);
    ev = eng_txn("r2", "C1", ENG_T0 + ENG_H, VANE_TXN_REDEMPTION, VANE_CAT_WEALTH, 2000);
    ev.txn.product_id = vane_str_c("W-9");
    vane_engine_process(eng, &cs, &ev, 0, b);
    int64_t at = ENG_T0 + 2 * ENG_H;
    assert_true(eval("count(txn.REDEMPTION, 24h) == 2", &cs, NULL, at) == 1);
    assert_true(eval("count(txn.REDEMPTION, 1h) == 0", &cs, NULL, at) == 1);
    assert_true(eval("count(txn.REDEMPTION, 1h) == 1", &cs, NULL, at - 1) == 1);
    assert_true(eval("sum(txn.REDEMPTION, 24h) == 3000", &cs, NULL, at) == 1);
    assert_true(eval("avg(txn.REDEMPTION, 24h) == 1500", &cs, NULL, at) == 1);
    assert_true(eval("distinct(txn.REDEMPTION, 24h) == 2", &cs, NULL, at) == 1);
    assert_true(eval("rate(txn.REDEMPTION, 2d) == 1", &cs, NULL, at) == 1);
    /* assets after: 9000 deposit (redemptions of FUND/WEALTH holdings floor at 0) */
    assert_true(eval("share(txn.REDEMPTION, 24h) == 3000 / (3000 + 9000)", &cs, NULL, at) == 1);
    assert_true(eval("count(outflow, 30d) == 0 and share(outflow, 30d) == 0", &cs, NULL, at) == 1);
    assert_true(eval("min(1, 2) == 1 and max(1, 2) == 2 and abs(-3) == 3", &cs, NULL, at) == 1);
    assert_true(eval("divergence() == divergence and divergence == 0", &cs, NULL, at) == 1);
    assert_true(eval("cross_holding == 1 and assets == 9000", &cs, NULL, at) == 1);
    assert_true(eval("tenure == 1d + 2h and tenure_days > 1", &cs, NULL, at) == 1);
    assert_true(eval("quiet == 1h and events == 3", &cs, NULL, at) == 1);
    free(b);
    vane_engine_free(eng);
    vane_ruleset_free(rs);
}

/* Every parse error: code and the exact file:line:col of the token at fault. The condition
 * sits on line 6 after the 5-line rule head; `condition: '` puts its first char at col 15. */
static void expect_error(const char *cond, const char *code, int col)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "- rule: X\n  desc: t\n  kind: CUSTOM\n  severity: LOW\n  on: [any]\n"
             "  condition: '%s'\n",
             cond);
    vane_diags_t d = VANE_DIAGS_INIT;
    vane_ruleset_t *rs = vane_ruleset_load_string("bad.yaml", yaml, strlen(yaml), &d);
    if (rs)
        fail_msg("compiled but should not: %s", cond);
    const vane_diag_t *dg = vane_diags_find(&d, code);
    if (!dg) {
        vane_diags_print(&d, stderr);
        fail_msg("no %s diagnostic for: %s", code, cond);
    }
    assert_string_equal(dg->file, "bad.yaml");
    assert_int_equal(dg->line, 6);
    if (dg->col != col) {
        vane_diags_print(&d, stderr);
        fail_msg("column %d, expected %d for: %s", dg->col, col, cond);
    }
    assert_int_equal(dg->level, VANE_DIAG_ERROR);
    vane_diags_free(&d);
}

static void test_parse_errors(void **st)
{
    (void)st;
    /* col 15 = first character of the condition */
    expect_error("count(txn.REDEMPTION, 24h) >=", "expr-syntax", 15 + 29);
    expect_error("bogus_feature > 1", "unknown-feature", 15);
    expect_error("1 < nope(2)", "unknown-function", 19);
    expect_error("count(txn.NOPE, 24h) > 1", "unknown-class", 21);
    expect_error("count(txn.REDEMPTION, 24x) > 1", "bad-duration", 37);
    expect_error("count(txn.REDEMPTION, 0ms) > 1", "bad-duration", 37);
    expect_error("count(txn.REDEMPTION) > 1", "expr-syntax", 35);
    expect_error("segment + 1 > 0", "type-error", 23);
    expect_error("segment > \"a\"", "type-error", 23);
    expect_error("segment == 1", "type-error", 23);
    expect_error("risk and true", "type-error", 15);
    expect_error("not risk", "type-error", 15);
    expect_error("risk + 1", "type-error", 15);
    expect_error("segment in nolist", "unknown-list", 26);
    expect_error("(1 < 2", "expr-syntax", 21);
    expect_error("1 < 2)", "expr-syntax", 20);
    expect_error("1 < 2 $", "expr-syntax", 21);
    expect_error("\"abc == 1", "expr-syntax", 15);
    expect_error("min(1) > 0", "expr-syntax", 20);
    expect_error("abs(1, 2) > 0", "bad-arity", 20);
    expect_error("txn.REDEMPTION > 1", "expr-syntax", 15);
    expect_error("", "expr-syntax", 15);
}

static void test_deep_nesting(void **st)
{
    (void)st;
    char cond[400];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        cond[n++] = '(';
    cond[n++] = '1';
    for (int i = 0; i < 100; i++)
        cond[n++] = ')';
    memcpy(cond + n, " > 0", 5);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "- rule: X\n  desc: t\n  kind: CUSTOM\n  severity: LOW\n  on: [any]\n"
             "  condition: '%s'\n",
             cond);
    vane_diags_t d = VANE_DIAGS_INIT;
    assert_null(vane_ruleset_load_string("deep.yaml", yaml, strlen(yaml), &d));
    assert_non_null(vane_diags_find(&d, "expr-too-deep"));
    vane_diags_free(&d);
}

/* A multi-line folded condition: the error on its second line is reported there. */
static void test_block_scalar_position(void **st)
{
    (void)st;
    const char *yaml = "- rule: X\n"
                       "  desc: t\n"
                       "  kind: CUSTOM\n"
                       "  severity: LOW\n"
                       "  on: [any]\n"
                       "  condition: >\n"
                       "    risk > 0.5\n"
                       "    and whatever > 1\n";
    vane_diags_t d = VANE_DIAGS_INIT;
    assert_null(vane_ruleset_load_string("blk.yaml", yaml, strlen(yaml), &d));
    const vane_diag_t *dg = vane_diags_find(&d, "unknown-feature");
    assert_non_null(dg);
    assert_int_equal(dg->line, 8);
    assert_int_equal(dg->col, 9);
    vane_diags_free(&d);
}

static void test_dump(void **st)
{
    (void)st;
    vane_ruleset_t *rs =
        eng_rules_string("- macro: m\n  condition: count(txn.REDEMPTION, 24h)\n"
                         "- rule: X\n  desc: t\n  kind: CUSTOM\n  severity: LOW\n  on: [any]\n"
                         "  condition: m >= 3 and not segment in (a, b) or -risk < 2 * 1.5\n");
    vane_buf_t out = VANE_BUF_INIT;
    assert_int_equal(vane_ruleset_dump(rs, &out), 0);
    assert_non_null(strstr(out.data, "condition: (or (and (>= (macro m (count txn.REDEMPTION 1d)) "
                                     "3) (not (in segment [a b]))) (< (neg risk) (* 2 1.5)))"));
    assert_non_null(strstr(out.data, "tracked=[txn.REDEMPTION"));
    vane_buf_free(&out);
    vane_ruleset_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_arith),
        cmocka_unit_test(test_compare_logic),
        cmocka_unit_test(test_strings_lists_macros),
        cmocka_unit_test(test_event_features),
        cmocka_unit_test(test_window_functions),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_block_scalar_position),
        cmocka_unit_test(test_dump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
