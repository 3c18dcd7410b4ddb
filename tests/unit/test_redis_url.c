/* Unit tests for daemon/util/redis_url.c: the accepted forms of redis.url and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/err.h"
#include "util/redis_url.h"

static vane_redis_url_t parse_ok(const char *url)
{
    vane_redis_url_t u;
    char err[256] = "";
    int rc = vane_redis_url_parse(url, &u, err, sizeof err);
    if (rc != VANE_OK)
        fail_msg("'%s' refused: %s", url, err);
    return u;
}

static void test_redis_url_tcp(void **state)
{
    (void)state;
    vane_redis_url_t u = parse_ok("redis://127.0.0.1:6380");
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.unix_path, "");
    assert_string_equal(u.password, "");
    u = parse_ok("redis://redis.internal");
    assert_string_equal(u.host, "redis.internal");
    assert_int_equal(u.port, 6379);
    u = parse_ok("cache:7000"); /* no scheme */
    assert_string_equal(u.host, "cache");
    assert_int_equal(u.port, 7000);
    u = parse_ok("redis://h:1/3");
    assert_int_equal(u.db, 3);
    u = parse_ok("redis://h/");
    assert_int_equal(u.db, 0);
    u = parse_ok("redis://[::1]:6381/2");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6381);
    assert_int_equal(u.db, 2);
}

static void test_redis_url_credentials(void **state)
{
    (void)state;
    vane_redis_url_t u = parse_ok("redis://alice:s3cret@h:1");
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.password, "s3cret");
    u = parse_ok("redis://onlypw@h");
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "onlypw");
    u = parse_ok("redis://bob:p%40ss%3Aw%2Fd@h:1/5"); /* %-encoded '@', ':', '/' */
    assert_string_equal(u.user, "bob");
    assert_string_equal(u.password, "p@ss:w/d");
    assert_string_equal(u.host, "h");
    assert_int_equal(u.db, 5);
    u = parse_ok("redis://:p@w@h:2"); /* a raw '@': the last one ends the password */
    assert_string_equal(u.password, "p@w");
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, 2);
}

static void test_redis_url_unix(void **state)
{
    (void)state;
    vane_redis_url_t u = parse_ok("unix:///run/redis/redis.sock");
    assert_string_equal(u.unix_path, "/run/redis/redis.sock");
    assert_string_equal(u.host, "");
    assert_int_equal(u.db, 0);
    u = parse_ok("unix:///tmp/r.sock?db=4");
    assert_string_equal(u.unix_path, "/tmp/r.sock");
    assert_int_equal(u.db, 4);
    u = parse_ok("unix://pw@/tmp/r.sock");
    assert_string_equal(u.password, "pw");
    assert_string_equal(u.unix_path, "/tmp/r.sock");
}

/* Each bad URL is refused with a message naming the problem; the password never appears. */
static void test_redis_url_errors(void **state)
{
    (void)state;
    static const struct {
        const char *url, *says;
    } bad[] = {
        {"", "empty"},
        {"rediss://h:1", "TLS"},
        {"http://h:1", "unknown scheme 'http'"},
        {"redis://", "no host"},
        {"redis://:1", "no host"},
        {"redis://h:0", "port"},
        {"redis://h:65536", "port"},
        {"redis://h:x1", "port"},
        {"redis://h:", "port"},
        {"redis://h/x", "database"},
        {"redis://h/-1", "database"},
        {"redis://h?db=1", "query"},
        {"redis://[::1:1", "']'"},
        {"redis://u:%4@h", "%-escape"},
        {"unix://", "absolute socket path"},
        {"unix://relative.sock", "no host"},
        {"unix:///tmp/s?x=1", "?db=N"},
        {"unix:///tmp/s?db=", "?db=N"},
        {"redis://u:topsecret@h:99999", "port"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vane_redis_url_t u;
        char err[256] = "";
        int rc = vane_redis_url_parse(bad[i].url, &u, err, sizeof err);
        if (rc != VANE_ECONFIG || !strstr(err, bad[i].says))
            fail_msg("'%s': rc %d, message '%s' (want one saying '%s')", bad[i].url, rc, err,
                     bad[i].says);
        assert_null(strstr(err, "topsecret"));
    }
    char longpw[400];
    memset(longpw, 'a', sizeof longpw);
    memcpy(longpw, "redis://", 8);
    memcpy(longpw + sizeof longpw - 4, "@h", 3);
    vane_redis_url_t u;
    char err[256];
    assert_int_equal(vane_redis_url_parse(longpw, &u, err, sizeof err), VANE_ECONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_url_tcp),
        cmocka_unit_test(test_redis_url_credentials),
        cmocka_unit_test(test_redis_url_unix),
        cmocka_unit_test(test_redis_url_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
