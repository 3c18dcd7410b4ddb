/* test_rules_robust.c - the loader and the state decoder never crash or leak on damaged input:
 * deterministic byte mutations of rules/default.yaml and of an encoded state (run under
 * ASan/UBSan). A damaged rules file either loads or reports at least one error; a damaged state
 * either decodes to something the engine can process or is refused. */
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

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *b = malloc(1 << 16);
    *len = fread(b, 1, (1 << 16) - 1, fp);
    b[*len] = '\0';
    fclose(fp);
    return b;
}

static void test_mutated_rules(void **st)
{
    (void)st;
    size_t len;
    char *orig = slurp(VANE_SOURCE_DIR "/rules/default.yaml", &len);
    char *buf = malloc(len + 1);
    static const char junk[] = "(){}[]:,'\"-#&*!|>%@` \n\tabcXYZ0123456789.<=>_";
    int loaded = 0, refused = 0;
    for (int round = 0; round < 400; round++) {
        memcpy(buf, orig, len + 1);
        int muts = 1 + (int)(next_rand() % 4);
        for (int m = 0; m < muts; m++)
            buf[next_rand() % len] = junk[next_rand() % (sizeof junk - 1)];
        size_t cut = round % 10 == 0 ? next_rand() % len : len; /* sometimes truncated */
        vane_diags_t d = VANE_DIAGS_INIT;
        vane_ruleset_t *rs = vane_ruleset_load_string("m.yaml", buf, cut, &d);
        if (rs) {
            assert_int_equal(d.errors, 0);
            loaded++;
            /* A ruleset that loads must also run. */
            vane_engine_t *eng = vane_engine_new(rs);
            vane_alert_batch_t *b = calloc(1, sizeof *b);
            vane_state_t cs;
            vane_state_init(&cs, vane_str_c("C1"));
            for (int i = 0; i < 5; i++) {
                vane_event_t ev = eng_txn(eng_id("m", i), "C1", ENG_T0 + i, VANE_TXN_REDEMPTION,
                                          VANE_CAT_FUND, 10);
                vane_engine_process(eng, &cs, &ev, 0, b);
            }
            vane_engine_timers(eng, &cs, ENG_T0 + 400 * ENG_D, 0, b);
            free(b);
            vane_engine_free(eng);
            vane_ruleset_free(rs);
        } else {
            assert_true(d.errors > 0);
            assert_true(d.n > 0);
            for (size_t i = 0; i < d.n; i++)
                assert_true(d.v[i].msg[0] != '\0');
            refused++;
        }
        vane_diags_free(&d);
    }
    printf("mutated rules: %d loaded, %d refused with diagnostics\n", loaded, refused);
    assert_true(refused > 0);
    free(buf);
    free(orig);
}

static void test_mutated_expressions(void **st)
{
    (void)st;
    static const char *toks[] = {"count(",  "txn.REDEMPTION",
                                 ",",       "24h",
                                 ")",       "and",
                                 "or",      "not",
                                 "(",       "risk",
                                 ">=",      "0.5",
                                 "+",       "-",
                                 "*",       "/",
                                 "segment", "in",
                                 "\"x\"",   "==",
                                 "min(",    "divergence()",
                                 "7d",      "true",
                                 "!",       "&&"};
    for (int round = 0; round < 400; round++) {
        char cond[256] = "";
        int n = 1 + (int)(next_rand() % 10);
        for (int i = 0; i < n; i++) {
            strcat(cond, toks[next_rand() % (sizeof toks / sizeof toks[0])]);
            strcat(cond, " ");
        }
        char yaml[512];
        snprintf(yaml, sizeof yaml,
                 "- rule: X\n  desc: d\n  kind: CUSTOM\n  severity: LOW\n  on: [any]\n"
                 "  condition: '%s'\n",
                 cond);
        vane_diags_t d = VANE_DIAGS_INIT;
        vane_ruleset_t *rs = vane_ruleset_load_string("e.yaml", yaml, strlen(yaml), &d);
        if (rs) {
            vane_state_t cs;
            vane_state_init(&cs, vane_str_c("C1"));
            double v;
            assert_int_equal(vane_ruleset_eval(rs, "X", &cs, NULL, ENG_T0, &v), 0);
            assert_true(v == 0 || v == 1);
        } else {
            /* Errors in the condition point into line 6. */
            assert_true(d.errors > 0);
            assert_int_equal(d.v[0].line, 6);
            assert_true(d.v[0].col >= 15);
        }
        vane_ruleset_free(rs);
        vane_diags_free(&d);
    }
}

static void test_mutated_state(void **st)
{
    (void)st;
    vane_ruleset_t *rs = eng_rules_default();
    vane_engine_t *eng = vane_engine_new(rs);
    vane_alert_batch_t *b = calloc(1, sizeof *b);
    vane_state_t cs;
    vane_state_init(&cs, vane_str_c("C1"));
    for (int i = 0; i < 40; i++) {
        vane_event_t ev = i % 3 ? eng_txn(eng_id("s", i), "C1", ENG_T0 + i * ENG_H,
                                          i % 2 ? VANE_TXN_REDEMPTION : VANE_TXN_PURCHASE,
                                          (vane_category_t)(1 + i % 11), 1000 + i)
                                : eng_survey(eng_id("s", i), "C1", ENG_T0 + i * ENG_H, i % 11);
        b->count = 0;
        vane_engine_process(eng, &cs, &ev, 0, b);
    }
    vane_buf_t buf = VANE_BUF_INIT;
    assert_int_equal(vane_state_encode(&cs, &buf), 0);
    char *m = malloc(buf.len);
    int ok = 0, bad = 0;
    for (int round = 0; round < 2000; round++) {
        memcpy(m, buf.data, buf.len);
        int muts = 1 + (int)(next_rand() % 3);
        for (int k = 0; k < muts; k++)
            m[next_rand() % buf.len] = (char)next_rand();
        size_t len = round % 7 == 0 ? next_rand() % buf.len : buf.len;
        vane_state_t d;
        int rc = vane_state_decode(&d, m, len);
        if (rc == 0) {
            ok++;
            vane_event_t ev =
                eng_txn("z", "C1", ENG_T0 + 50 * ENG_H, VANE_TXN_REDEMPTION, VANE_CAT_FUND, 5);
            b->count = 0;
            vane_engine_process(eng, &d, &ev, 0, b);
            vane_engine_timers(eng, &d, INT64_MAX / 2, 0, b);
            vane_buf_t again = VANE_BUF_INIT;
            assert_int_equal(vane_state_encode(&d, &again), 0);
            vane_buf_free(&again);
        } else {
            assert_true(rc == VANE_EPARSE || rc == VANE_ERANGE || rc == VANE_EVERSION);
            bad++;
        }
    }
    printf("mutated states: %d decoded and processed, %d refused\n", ok, bad);
    assert_true(ok > 0 && bad > 0);
    free(m);
    vane_buf_free(&buf);
    free(b);
    vane_engine_free(eng);
    vane_ruleset_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutated_rules),
        cmocka_unit_test(test_mutated_expressions),
        cmocka_unit_test(test_mutated_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
