/* Unit tests for daemon/util/buf.c: appends, growth, and the decimal formatter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"

/* vane_buf_fmt_i64 prints what printf's %lld prints: the extremes, zero, signs, and every
 * length from 1 to 19 digits, plus a pseudo-random sweep. */
static void check_i64(int64_t v)
{
    char want[32], got[VANE_BUF_I64_MAX + 1];
    int wn = snprintf(want, sizeof want, "%lld", (long long)v);
    memset(got, 'x', sizeof got);
    size_t n = vane_buf_fmt_i64(got, v);
    assert_int_equal(n, (size_t)wn);
    assert_int_equal(got[n], 'x'); /* nothing written beyond the digits */
    got[n] = '\0';
    assert_string_equal(got, want);
}

static void test_buf_fmt_i64(void **state)
{
    (void)state;
    check_i64(0);
    check_i64(1);
    check_i64(-1);
    check_i64(INT64_MAX);
    check_i64(INT64_MIN);
    check_i64(INT64_MIN + 1);
    int64_t p = 1;
    for (int d = 1; d <= 18; d++, p *= 10) {
        check_i64(p);
        check_i64(p - 1);
        check_i64(-p);
        check_i64(-(p * 10 - 1));
    }
    uint64_t x = 88172645463325252ull; /* xorshift64 */
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        check_i64((int64_t)(x >> (x & 63)));
        check_i64((int64_t)x);
    }
}

/* vane_buf_i64 appends after what the buffer holds and keeps it NUL-terminated. */
static void test_buf_i64_append(void **state)
{
    (void)state;
    vane_buf_t b = VANE_BUF_INIT;
    assert_int_equal(vane_buf_puts(&b, "due="), 0);
    assert_int_equal(vane_buf_i64(&b, -1733333333000), 0);
    assert_int_equal(vane_buf_putc(&b, ','), 0);
    assert_int_equal(vane_buf_i64(&b, 0), 0);
    assert_string_equal(b.data, "due=-1733333333000,0");
    assert_int_equal(b.len, strlen("due=-1733333333000,0"));
    vane_buf_free(&b);
}

/* Every byte: the hex digits map to their values, nothing else does. */
static void test_buf_hex_digit(void **state)
{
    (void)state;
    const char *digits = "0123456789abcdef", *upper = "ABCDEF";
    for (int c = -128; c < 128; c++) {
        const char *d = c ? strchr(digits, c) : NULL, *u = c ? strchr(upper, c) : NULL;
        int want = d ? (int)(d - digits) : u ? 10 + (int)(u - upper) : -1;
        assert_int_equal(vane_buf_hex_digit((char)c), want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_fmt_i64),
        cmocka_unit_test(test_buf_i64_append),
        cmocka_unit_test(test_buf_hex_digit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
