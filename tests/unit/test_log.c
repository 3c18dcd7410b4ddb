/* test_log.c - the logging macro: level filtering before formatting, JSON lines, repeat
 * suppression with a count, and customer-id masking. stderr is redirected to a temporary file
 * for each check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int saved_fd = -1;
static char cap_path[64];

static void capture_begin(void)
{
    snprintf(cap_path, sizeof cap_path, "/tmp/vane-test-log-XXXXXX");
    int fd = mkstemp(cap_path);
    assert_true(fd >= 0);
    saved_fd = dup(STDERR_FILENO);
    assert_true(saved_fd >= 0);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);
}

/* Restore stderr and return what was written (caller frees). */
static char *capture_end(void)
{
    assert_int_equal(dup2(saved_fd, STDERR_FILENO), STDERR_FILENO);
    close(saved_fd);
    FILE *f = fopen(cap_path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(cap_path);
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static int side_effects;
static int bump(void)
{
    return ++side_effects;
}

static void test_level_filter_skips_formatting(void **state)
{
    (void)state;
    vane_log_setup(VANE_LOG_WARN, VANE_LOG_FORMAT_JSON, 0);
    side_effects = 0;
    capture_begin();
    VANE_LOG(VANE_LOG_DEBUG, "test", "debug %d", bump());
    VANE_LOG(VANE_LOG_INFO, "test", "info %d", bump());
    VANE_LOG(VANE_LOG_WARN, "test", "warn %d", bump());
    char *out = capture_end();
    assert_int_equal(side_effects, 1); /* arguments below the level are never evaluated */
    assert_int_equal(count_lines(out), 1);
    assert_non_null(strstr(out, "\"msg\":\"warn 1\""));
    free(out);
}

static void test_json_line_escaping(void **state)
{
    (void)state;
    vane_log_setup(VANE_LOG_INFO, VANE_LOG_FORMAT_JSON, 0);
    capture_begin();
    VANE_LOG(VANE_LOG_INFO, "kafka", "quote \" backslash \\ newline \n tab \t end");
    char *out = capture_end();
    assert_int_equal(count_lines(out), 1); /* the embedded newline is escaped */
    assert_true(strncmp(out, "{\"ts\":\"", 7) == 0);
    assert_non_null(strstr(out, "\"level\":\"info\",\"sub\":\"kafka\""));
    assert_non_null(strstr(out, "quote \\\" backslash \\\\ newline \\u000a tab \\u0009 end\"}"));
    free(out);
}

static void spin_ms(int ms)
{
    /* Waits for the clock, not for another thread: the interval under test is time itself. */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do {
        clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

static void test_repeat_suppression(void **state)
{
    (void)state;
    /* Long interval: 100 identical warnings print once. */
    vane_log_setup(VANE_LOG_INFO, VANE_LOG_FORMAT_JSON, 60000);
    capture_begin();
    for (int i = 0; i < 100; i++)
        VANE_LOG(VANE_LOG_WARN, "redis", "connection refused (attempt %d)", i);
    VANE_LOG(VANE_LOG_WARN, "redis", "a different call site");
    for (int i = 0; i < 3; i++)
        VANE_LOG(VANE_LOG_INFO, "redis", "info is never suppressed");
    char *out = capture_end();
    assert_int_equal(count_lines(out), 1 + 1 + 3);
    assert_non_null(strstr(out, "attempt 0"));
    assert_null(strstr(out, "attempt 1)"));
    free(out);

    /* Short interval: after it passes, the next one prints with the count of the swallowed. */
    vane_log_setup(VANE_LOG_INFO, VANE_LOG_FORMAT_JSON, 20);
    capture_begin();
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 10; i++)
            VANE_LOG(VANE_LOG_ERROR, "kafka", "broker down %d", round * 10 + i);
        spin_ms(25);
    }
    out = capture_end();
    assert_int_equal(count_lines(out), 2);
    assert_non_null(strstr(out, "broker down 0\""));
    assert_non_null(strstr(out, "broker down 10\",\"suppressed\":9}"));
    free(out);

    /* Text format reports the count in words; 0 disables suppression. */
    vane_log_setup(VANE_LOG_INFO, VANE_LOG_FORMAT_TEXT, 20);
    capture_begin();
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4; i++)
            VANE_LOG(VANE_LOG_WARN, "http", "slow client");
        spin_ms(25);
    }
    vane_log_setup(VANE_LOG_INFO, VANE_LOG_FORMAT_TEXT, 0);
    for (int i = 0; i < 5; i++)
        VANE_LOG(VANE_LOG_WARN, "http", "unsuppressed");
    out = capture_end();
    assert_non_null(strstr(out, "warn  [http] slow client (repeated 3 times, suppressed)"));
    assert_int_equal(count_lines(out), 2 + 5);
    free(out);
}

/* librdkafka's syslog severities: 0-3 errors, 4 warnings, 5-6 info (notice, info), 7 debug. */
static void test_level_of_syslog(void **state)
{
    (void)state;
    static const vane_log_level_t want[8] = {VANE_LOG_ERROR, VANE_LOG_ERROR, VANE_LOG_ERROR,
                                             VANE_LOG_ERROR, VANE_LOG_WARN,  VANE_LOG_INFO,
                                             VANE_LOG_INFO,  VANE_LOG_DEBUG};
    for (int sev = 0; sev < 8; sev++)
        assert_int_equal(vane_log_level_of_syslog(sev), want[sev]);
}

static void test_customer_id_masking(void **state)
{
    (void)state;
    char buf[64];
    vane_log_set_mask_ids(true);
    assert_true(vane_log_mask_ids());
    assert_string_equal(vane_log_id_r("C10000001", buf, sizeof buf), "C1****01");
    assert_string_equal(vane_log_id_r("CUST-4242-9999", buf, sizeof buf), "CU****99");
    assert_string_equal(vane_log_id_r("C1001", buf, sizeof buf), "C****1");
    assert_string_equal(vane_log_id_r("C100", buf, sizeof buf), "****");
    assert_string_equal(vane_log_id_r("", buf, sizeof buf), "****");
    assert_string_equal(vane_log_id_r(NULL, buf, sizeof buf), "-");
    assert_string_equal(vane_log_id_r("C10000001", buf, 4), "C1*"); /* truncated, terminated */
    /* the full id never appears in a log line */
    vane_log_setup(VANE_LOG_INFO, VANE_LOG_FORMAT_JSON, 0);
    capture_begin();
    VANE_LOG(VANE_LOG_INFO, "engine", "alert for %s and %s", vane_log_id("C77777777"),
             vane_log_id("C88888888"));
    char *out = capture_end();
    assert_null(strstr(out, "C77777777"));
    assert_non_null(strstr(out, "alert for C7****77 and C8****88"));
    free(out);
    vane_log_set_mask_ids(false);
    assert_string_equal(vane_log_id("C10000001"), "C10000001");
    vane_log_set_mask_ids(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_filter_skips_formatting),
        cmocka_unit_test(test_json_line_escaping),
        cmocka_unit_test(test_repeat_suppression),
        cmocka_unit_test(test_customer_id_masking),
        cmocka_unit_test(test_level_of_syslog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
