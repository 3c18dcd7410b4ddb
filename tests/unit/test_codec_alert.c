/* test_codec_alert.c - the alert decoders (used by `vane tail` and the golden tests): accepted
 * spellings and every kind of malformed alert. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/codec.h"
#include "util/err.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void check(const char *js, size_t n, vane_format_t fmt, vane_reject_t want,
                  const char *field, int line)
{
    vane_alert_t a;
    vane_decode_error_t err;
    int rc = vane_codec_decode_alert(js, n, fmt, &a, &err);
    if (want == VANE_REJECT_NONE) {
        if (rc)
            fail_msg("line %d: %s (%s): %s", line, vane_reject_name(err.reason), err.field,
                     err.msg);
        return;
    }
    if (rc == 0)
        fail_msg("line %d: expected %s, got success", line, vane_reject_name(want));
    if (err.reason != want || (field && strcmp(field, err.field) != 0))
        fail_msg("line %d: expected %s (%s), got %s (%s): %s", line, vane_reject_name(want),
                 field ? field : "", vane_reject_name(err.reason), err.field, err.msg);
}
#define JREJ(js, why, field)                                                                       \
    check(js, strlen(js), VANE_FORMAT_JSON, VANE_REJECT_##why, field, __LINE__)
#define JOK(js) check(js, strlen(js), VANE_FORMAT_JSON, VANE_REJECT_NONE, NULL, __LINE__)

static void test_json_accepts(void **state)
{
    (void)state;
    vane_alert_t a;
    vane_decode_error_t err;
    const char *js =
        "{\"kind\":\"redemption_surge\",\"severity\":\"Critical\",\"stage\":\"UNSPECIFIED\","
        "\"score\":null,\"features\":{\"n\":null,\"m\":2.5e-3},\"event_ids\":[\"a\\u00e9\"],"
        "\"event_time_ms\":\"17\",\"detected_at_ms\":1e3,\"new_field\":[{}],\"route\":null}";
    assert_int_equal(vane_codec_decode_alert(js, strlen(js), VANE_FORMAT_JSON, &a, &err), 0);
    assert_int_equal(a.kind, VANE_ALERT_REDEMPTION_SURGE);
    assert_int_equal(a.severity, VANE_SEV_CRITICAL);
    assert_int_equal(a.stage, VANE_STAGE_UNSPECIFIED);
    assert_true(isnan(a.score));
    assert_int_equal(a.n_features, 2);
    assert_true(isnan(a.features[0].value));
    assert_true(a.features[1].value == 2.5e-3);
    assert_int_equal(a.n_event_ids, 1);
    assert_string_equal(a.event_ids[0], "a\xc3\xa9");
    assert_int_equal(a.event_time_ms, 17);
    assert_int_equal(a.detected_at_ms, 1000);
    assert_string_equal(a.route, "");
    JOK("{}");
    JOK(" {} ");
}

static void test_json_rejects(void **state)
{
    (void)state;
    check("", 0, VANE_FORMAT_JSON, VANE_REJECT_EMPTY, NULL, __LINE__);
    JREJ("[]", JSON_SYNTAX, NULL);
    JREJ("{} {}", JSON_SYNTAX, NULL);
    JREJ("{\"kind\":\"DORMANCY\",}", JSON_SYNTAX, NULL);
    JREJ("{\"summary\":\"\\ud800\"}", NOT_UTF8, NULL);
    JREJ("{\"kind\":5}", JSON_TYPE, "kind");
    JREJ("{\"kind\":\"SLEEPY\"}", UNKNOWN_ENUM, "kind");
    JREJ("{\"severity\":\"URGENT\"}", UNKNOWN_ENUM, "severity");
    JREJ("{\"from_category\":\"STOCKS\"}", UNKNOWN_ENUM, "from_category");
    JREJ("{\"alert_id\":7}", JSON_TYPE, "alert_id");
    JREJ("{\"score\":\"high\"}", JSON_TYPE, "score");
    JREJ("{\"event_time_ms\":1.5}", BAD_VALUE, "event_time_ms");
    JREJ("{\"detected_at_ms\":true}", JSON_TYPE, "detected_at_ms");
    {
        /* More tokens than an alert may have (1,024): too large when well-formed, but a syntax
         * error past the token limit is still reported as the syntax error it is. */
        static char big[16384];
        size_t n = (size_t)snprintf(big, sizeof big, "{\"event_ids\":[");
        for (int i = 0; i < 2000; i++)
            n += (size_t)snprintf(big + n, sizeof big - n, "%s\"e\"", i ? "," : "");
        snprintf(big + n, sizeof big - n, "]}");
        check(big, strlen(big), VANE_FORMAT_JSON, VANE_REJECT_TOO_LARGE, NULL, __LINE__);
        snprintf(big + n, sizeof big - n, ",]}");
        check(big, strlen(big), VANE_FORMAT_JSON, VANE_REJECT_JSON_SYNTAX, NULL, __LINE__);
    }
    JREJ("{\"event_ids\":\"e-1\"}", JSON_TYPE, "event_ids");
    JREJ("{\"event_ids\":[1]}", JSON_TYPE, "event_ids");
    JREJ("{\"event_ids\":[[\"e\"]]}", JSON_TYPE, "event_ids");
    JREJ("{\"features\":[1]}", JSON_TYPE, "features");
    JREJ("{\"features\":{\"a\":\"1\"}}", JSON_TYPE, "features");
    JREJ("{\"features\":{\"a\":{}}}", JSON_TYPE, "features");
    char js[2048];
    int n = snprintf(js, sizeof js, "{\"event_ids\":[");
    for (int i = 0; i < VANE_ALERT_MAX_EVENT_IDS + 1; i++)
        n += snprintf(js + n, sizeof js - (size_t)n, "%s\"e%d\"", i ? "," : "", i);
    snprintf(js + n, sizeof js - (size_t)n, "]}");
    JREJ(js, TOO_LONG, "event_ids");
    n = snprintf(js, sizeof js, "{\"features\":{");
    for (int i = 0; i < VANE_ALERT_MAX_FEATURES + 1; i++)
        n += snprintf(js + n, sizeof js - (size_t)n, "%s\"f%d\":1", i ? "," : "", i);
    snprintf(js + n, sizeof js - (size_t)n, "}}");
    JREJ(js, TOO_LONG, "features");
    char id[100];
    memset(id, 'x', sizeof id);
    snprintf(js, sizeof js, "{\"alert_id\":\"%.48s\"}", id);
    JREJ(js, TOO_LONG, "alert_id");
    snprintf(js, sizeof js, "{\"alert_id\":\"%.47s\"}", id);
    JOK(js);
    snprintf(js, sizeof js, "{\"features\":{\"%.40s\":1}}", id);
    JREJ(js, TOO_LONG, "features");
}

static void test_pb(void **state)
{
    (void)state;
    vane_alert_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.alert_id, sizeof a.alert_id, "a-1");
    a.kind = VANE_ALERT_OUTFLOW_SURGE;
    vane_alert_add_feature(&a, "share_out", 0.4);
    vane_buf_t b = VANE_BUF_INIT;
    assert_int_equal(vane_codec_encode_alert(&a, VANE_FORMAT_PROTOBUF, &b), 0);
    vane_alert_t back;
    vane_decode_error_t err;
    /* every strict prefix is either a valid shorter alert or malformed, never a crash */
    int malformed = 0;
    for (size_t cut = 1; cut < b.len; cut++) {
        if (vane_codec_decode_alert(b.data, cut, VANE_FORMAT_PROTOBUF, &back, &err)) {
            assert_int_equal(err.reason, VANE_REJECT_PB_MALFORMED);
            malformed++;
        }
    }
    assert_true(malformed > 0);
    assert_int_equal(vane_codec_decode_alert(b.data, b.len, VANE_FORMAT_PROTOBUF, &back, &err), 0);
    assert_int_equal(back.kind, VANE_ALERT_OUTFLOW_SURGE);
    /* unknown enum numbers */
    static const char kind99[] = "\x18\x63";
    check(kind99, 2, VANE_FORMAT_PROTOBUF, VANE_REJECT_UNKNOWN_ENUM, "kind", __LINE__);
    static const char sev9[] = "\x20\x09";
    check(sev9, 2, VANE_FORMAT_PROTOBUF, VANE_REJECT_UNKNOWN_ENUM, "severity", __LINE__);
    /* a string that is not UTF-8 */
    static const char bad[] = "\x0a\x02\xff\xfe";
    check(bad, 4, VANE_FORMAT_PROTOBUF, VANE_REJECT_NOT_UTF8, "alert_id", __LINE__);
    /* an all-default alert is zero bytes */
    check("", 0, VANE_FORMAT_PROTOBUF, VANE_REJECT_NONE, NULL, __LINE__);
    vane_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_accepts),
        cmocka_unit_test(test_json_rejects),
        cmocka_unit_test(test_pb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
