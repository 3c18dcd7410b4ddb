/* test_metrics.c - the metrics registry: stable child pointers, Prometheus text rendering
 * (checked by promtool when it is installed), label escaping, histogram buckets, vane's set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/metrics.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *render(const vane_metrics_t *reg)
{
    vane_buf_t b = VANE_BUF_INIT;
    assert_int_equal(vane_metrics_render(reg, &b), VANE_OK);
    char *s = strdup(b.data ? b.data : "");
    vane_buf_free(&b);
    return s;
}

/* Value of the exposition line that starts with series + ' ', or -1. */
static double series_value(const char *text, const char *series)
{
    size_t l = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, series, l) == 0 && p[l] == ' ')
            return strtod(p + l + 1, NULL);
    }
    return -1;
}

static void test_counter_gauge_render(void **state)
{
    (void)state;
    vane_metrics_t *reg = vane_metrics_new();
    assert_non_null(reg);
    vane_metric_family_t *f =
        vane_metrics_family(reg, "t_events_total", VANE_METRIC_COUNTER, "Events.", NULL, NULL, 0);
    assert_non_null(f);
    uint64_t *c = vane_metrics_counter(f, NULL);
    assert_non_null(c);
    assert_ptr_equal(vane_metrics_counter(f, NULL), c); /* same child */
    (*c) += 41;
    (*c)++;
    static const char *const lbl[] = {"reason", NULL};
    vane_metric_family_t *r = vane_metrics_family(reg, "t_rejected_total", VANE_METRIC_COUNTER,
                                                  "Rejected \\ by\nreason.", lbl, NULL, 0);
    uint64_t *parse = vane_metrics_counter(r, (const char *const[]){"parse", NULL});
    uint64_t *weird = vane_metrics_counter(r, (const char *const[]){"a\"b\\c\nd", NULL});
    assert_non_null(parse);
    assert_non_null(weird);
    assert_ptr_not_equal(parse, weird);
    /* creating more children never moves existing ones */
    for (int i = 0; i < 100; i++) {
        char v[16];
        snprintf(v, sizeof v, "r%d", i);
        assert_non_null(vane_metrics_counter(r, (const char *const[]){v, NULL}));
    }
    assert_ptr_equal(vane_metrics_counter(r, (const char *const[]){"parse", NULL}), parse);
    *parse = 3;
    vane_metric_family_t *g = vane_metrics_family(
        reg, "t_lag", VANE_METRIC_GAUGE, "Lag.", (const char *const[]){"partition", NULL}, NULL, 0);
    double *g0 = vane_metrics_gauge(g, (const char *const[]){"0", NULL});
    double *g1 = vane_metrics_gauge(g, (const char *const[]){"1", NULL});
    *g0 = 12;
    *g1 = 0.5;

    char *text = render(reg);
    assert_non_null(strstr(text, "# HELP t_events_total Events.\n# TYPE t_events_total counter\n"
                                 "t_events_total 42\n"));
    assert_non_null(strstr(text, "# HELP t_rejected_total Rejected \\\\ by\\nreason.\n"));
    assert_non_null(strstr(text, "t_rejected_total{reason=\"parse\"} 3\n"));
    assert_non_null(strstr(text, "t_rejected_total{reason=\"a\\\"b\\\\c\\nd\"} 0\n"));
    assert_non_null(strstr(text, "# TYPE t_lag gauge\nt_lag{partition=\"0\"} 12\n"
                                 "t_lag{partition=\"1\"} 0.5\n"));
    free(text);

    /* remove: the series disappears, the others stay */
    assert_int_equal(vane_metrics_remove(g, (const char *const[]){"0", NULL}), VANE_OK);
    assert_int_equal(vane_metrics_remove(g, (const char *const[]){"0", NULL}), VANE_ENOTFOUND);
    *g1 = 7;
    text = render(reg);
    assert_null(strstr(text, "t_lag{partition=\"0\"}"));
    assert_true(series_value(text, "t_lag{partition=\"1\"}") == 7);
    free(text);
    vane_metrics_free(reg);
    vane_metrics_free(NULL);
}

static void test_family_validation(void **state)
{
    (void)state;
    vane_metrics_t *reg = vane_metrics_new();
    assert_non_null(vane_metrics_family(reg, "ok_total", VANE_METRIC_COUNTER, "x", NULL, NULL, 0));
    /* duplicate, counter without _total, bad characters, reserved label, too many labels */
    assert_null(vane_metrics_family(reg, "ok_total", VANE_METRIC_COUNTER, "x", NULL, NULL, 0));
    assert_null(vane_metrics_family(reg, "no_suffix", VANE_METRIC_COUNTER, "x", NULL, NULL, 0));
    assert_null(vane_metrics_family(reg, "9bad", VANE_METRIC_GAUGE, "x", NULL, NULL, 0));
    assert_null(vane_metrics_family(reg, "bad-name", VANE_METRIC_GAUGE, "x", NULL, NULL, 0));
    assert_null(vane_metrics_family(reg, "h", VANE_METRIC_GAUGE, "x",
                                    (const char *const[]){"le", NULL}, NULL, 0));
    assert_null(vane_metrics_family(reg, "h2", VANE_METRIC_GAUGE, "x",
                                    (const char *const[]){"a", "b", "c", "d", "e", NULL}, NULL, 0));
    static const double unsorted[] = {1, 0.5};
    assert_null(vane_metrics_family(reg, "h3", VANE_METRIC_HISTOGRAM, "x", NULL, unsorted, 2));
    assert_null(vane_metrics_family(reg, "h4", VANE_METRIC_HISTOGRAM, "x", NULL, NULL, 0));
    /* wrong type or label count for a child */
    vane_metric_family_t *g = vane_metrics_family(reg, "g", VANE_METRIC_GAUGE, "x",
                                                  (const char *const[]){"a", NULL}, NULL, 0);
    assert_non_null(g);
    assert_null(vane_metrics_counter(g, (const char *const[]){"1", NULL}));
    assert_null(vane_metrics_gauge(g, NULL));
    assert_null(vane_metrics_gauge(g, (const char *const[]){"1", "2", NULL}));
    vane_metrics_free(reg);
}

static void test_histogram(void **state)
{
    (void)state;
    vane_metrics_t *reg = vane_metrics_new();
    static const double bounds[] = {0.001, 0.01, 0.1};
    vane_metric_family_t *f =
        vane_metrics_family(reg, "t_seconds", VANE_METRIC_HISTOGRAM, "Latency.", NULL, bounds, 3);
    vane_histogram_t *h = vane_metrics_histogram(f, NULL);
    assert_non_null(h);
    vane_histogram_observe(h, 0.0005); /* bucket 0.001 */
    vane_histogram_observe(h, 0.001);  /* le is inclusive: bucket 0.001 */
    vane_histogram_observe(h, 0.05);   /* 0.1 */
    vane_histogram_observe(h, 3);      /* +Inf */
    char *text = render(reg);
    assert_true(series_value(text, "t_seconds_bucket{le=\"0.001\"}") == 2);
    assert_true(series_value(text, "t_seconds_bucket{le=\"0.01\"}") == 2);
    assert_true(series_value(text, "t_seconds_bucket{le=\"0.1\"}") == 3);
    assert_true(series_value(text, "t_seconds_bucket{le=\"+Inf\"}") == 4);
    assert_true(series_value(text, "t_seconds_count") == 4);
    double sum = series_value(text, "t_seconds_sum");
    assert_true(sum > 3.0514 && sum < 3.0516);
    free(text);

    /* labelled histogram: le comes last */
    vane_metric_family_t *lf = vane_metrics_family(reg, "t_l_seconds", VANE_METRIC_HISTOGRAM, "L.",
                                                   (const char *const[]){"op", NULL}, bounds, 3);
    vane_histogram_observe(vane_metrics_histogram(lf, (const char *const[]){"get", NULL}), 0.002);
    text = render(reg);
    assert_true(series_value(text, "t_l_seconds_bucket{op=\"get\",le=\"0.01\"}") == 1);
    assert_true(series_value(text, "t_l_seconds_count{op=\"get\"}") == 1);
    free(text);
    vane_metrics_free(reg);
}

/* Run promtool check metrics on text; -1 when promtool is not installed. */
static int promtool_check(const char *text)
{
    if (access("/usr/bin/promtool", X_OK) != 0 && system("command -v promtool >/dev/null") != 0)
        return -1;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "promtool check metrics >/tmp/vane-test-promtool.%d.out 2>&1",
             (int)getpid());
    FILE *p = popen(cmd, "w");
    assert_non_null(p);
    fputs(text, p);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

static void test_std_set(void **state)
{
    (void)state;
    vane_metrics_t *reg = vane_metrics_new();
    vane_metrics_std_t std;
    assert_int_equal(vane_metrics_std_init(reg, &std, "0.1.0", "abc1234", 1763800000.0), VANE_OK);
    (*std.events_consumed) += 10;
    (*std.events_decoded) += 9;
    (*vane_metrics_counter(std.events_rejected, (const char *const[]){"parse", NULL}))++;
    (*vane_metrics_counter(std.alerts, (const char *const[]){"REDEMPTION_SURGE", "rs-1", NULL}))++;
    *vane_metrics_gauge(std.consumer_lag, (const char *const[]){"3", NULL}) = 17;
    vane_histogram_observe(std.engine_process, 0.000004);
    vane_histogram_observe(std.event_alert_latency, 0.003);
    (*std.rule_reloads_ok)++;
    *std.ready = 1;
    char *text = render(reg);
    static const char *const names[] = {"vane_events_consumed_total",
                                        "vane_events_decoded_total",
                                        "vane_events_rejected_total",
                                        "vane_alerts_total",
                                        "vane_engine_process_seconds",
                                        "vane_event_alert_latency_seconds",
                                        "vane_consumer_lag",
                                        "vane_redis_roundtrip_seconds",
                                        "vane_redis_flush_seconds",
                                        "vane_cache_hits_total",
                                        "vane_cache_misses_total",
                                        "vane_cache_evictions_total",
                                        "vane_dirty_states",
                                        "vane_paused_partitions",
                                        "vane_rule_reloads_total",
                                        "vane_dlq_messages_total",
                                        "vane_build_info",
                                        NULL};
    for (int i = 0; names[i]; i++) {
        char want[128];
        snprintf(want, sizeof want, "# TYPE %s ", names[i]);
        assert_non_null(strstr(text, want));
    }
    assert_true(series_value(text, "vane_events_consumed_total") == 10);
    assert_true(series_value(text, "vane_build_info{version=\"0.1.0\",commit=\"abc1234\"}") == 1);
    assert_true(series_value(text, "vane_rule_reloads_total{result=\"ok\"}") == 1);
    assert_true(series_value(text, "vane_rule_reloads_total{result=\"error\"}") == 0);
    assert_true(series_value(text, "vane_consumer_lag{partition=\"3\"}") == 17);
    assert_true(series_value(text, "vane_start_time_seconds") == 1763800000.0);
    int rc = promtool_check(text);
    if (rc < 0) {
        fprintf(stderr, "promtool not installed: format check skipped\n");
    } else {
        if (rc != 0) {
            char cmd[128];
            snprintf(cmd, sizeof cmd, "cat /tmp/vane-test-promtool.%d.out >&2", (int)getpid());
            assert_true(system(cmd) >= 0);
        }
        assert_int_equal(rc, 0);
    }
    char out[64];
    snprintf(out, sizeof out, "/tmp/vane-test-promtool.%d.out", (int)getpid());
    unlink(out);
    free(text);

    /* rendering into a reused buffer stops allocating: capacity is stable */
    vane_buf_t b = VANE_BUF_INIT;
    assert_int_equal(vane_metrics_render(reg, &b), VANE_OK);
    size_t cap = b.cap;
    for (int i = 0; i < 50; i++) {
        (*std.events_consumed)++;
        vane_buf_reset(&b);
        assert_int_equal(vane_metrics_render(reg, &b), VANE_OK);
    }
    assert_int_equal(b.cap, cap);
    vane_buf_free(&b);
    vane_metrics_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_gauge_render),
        cmocka_unit_test(test_family_validation),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_std_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
