/* test_codec_json.c - the JSON event decoder: every field, and every malformed input we could
 * think of, each checked for the exact reject reason and field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/codec.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vane_decoder_t *dec;

static int setup(void **state)
{
    (void)state;
    dec = vane_decoder_new(4096);
    return dec ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    vane_decoder_free(dec);
    return 0;
}

static void check(const char *js, size_t len, vane_reject_t want, const char *want_field, int line)
{
    vane_event_t ev;
    vane_decode_error_t err;
    int rc = vane_decoder_decode(dec, js, len, VANE_FORMAT_JSON, &ev, &err);
    if (want == VANE_REJECT_NONE) {
        if (rc != 0)
            fail_msg("line %d: expected success, got %s (%s): %s\n  input: %.*s", line,
                     vane_reject_name(err.reason), err.field, err.msg, (int)len, js);
        return;
    }
    if (rc == 0)
        fail_msg("line %d: expected %s, got success\n  input: %.*s", line, vane_reject_name(want),
                 (int)len, js);
    assert_true(rc < 0);
    if (err.reason != want)
        fail_msg("line %d: expected %s, got %s (%s): %s\n  input: %.*s", line,
                 vane_reject_name(want), vane_reject_name(err.reason), err.field, err.msg, (int)len,
                 js);
    if (want_field && strcmp(err.field, want_field) != 0)
        fail_msg("line %d: expected field %s, got \"%s\" (%s)", line, want_field, err.field,
                 err.msg);
    /* every reject explains itself in one line */
    assert_true(err.msg[0] != '\0');
    assert_null(strchr(err.msg, '\n'));
}

#define OK(js)                  check(js, strlen(js), VANE_REJECT_NONE, NULL, __LINE__)
#define REJ(js, why, field)     check(js, strlen(js), VANE_REJECT_##why, field, __LINE__)
#define REJN(js, n, why, field) check(js, n, VANE_REJECT_##why, field, __LINE__)

#define HEAD       "{\"customer_id\":\"C1\",\"event_time_ms\":1763800000000,"
#define TXN(body)  HEAD "\"txn\":{\"kind\":\"DEPOSIT\"" body "}}"
#define ENG(body)  HEAD "\"engagement\":{" body "}}"
#define LOGIN_TAIL "\"login\":{\"success\":true}}"
#define GOOD       HEAD LOGIN_TAIL

static vane_event_t decode_ok(const char *js, int line)
{
    vane_event_t ev;
    vane_decode_error_t err;
    int rc = vane_decoder_decode(dec, js, strlen(js), VANE_FORMAT_JSON, &ev, &err);
    if (rc)
        fail_msg("line %d: %s (%s): %s", line, vane_reject_name(err.reason), err.field, err.msg);
    return ev;
}
#define DECODE(js) decode_ok(js, __LINE__)

static void assert_str(vane_str_t s, const char *want)
{
    if (!vane_str_eq(s, vane_str_c(want)))
        fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, s.p ? s.p : "", want);
}

static void test_every_field(void **state)
{
    (void)state;
    vane_event_t ev = DECODE(
        "{\"event_id\":\"e-1\",\"customer_id\":\"C1001\",\"event_time_ms\":1763800000000,"
        "\"channel\":\"ATM\",\"txn\":{\"kind\":\"TRANSFER_OUT\",\"category\":\"TIME_DEPOSIT\","
        "\"product_id\":\"TD-3Y\",\"amount_minor\":123456789,\"currency\":\"USD\","
        "\"balance_after_minor\":-17,\"counterparty_bank\":\"HSBC\"}}");
    assert_str(ev.event_id, "e-1");
    assert_str(ev.customer_id, "C1001");
    assert_int_equal(ev.event_time_ms, 1763800000000LL);
    assert_int_equal(ev.channel, VANE_CHANNEL_ATM);
    assert_int_equal(ev.type, VANE_EVENT_TXN);
    assert_int_equal(ev.txn.kind, VANE_TXN_TRANSFER_OUT);
    assert_int_equal(ev.txn.category, VANE_CAT_TIME_DEPOSIT);
    assert_str(ev.txn.product_id, "TD-3Y");
    assert_int_equal(ev.txn.amount_minor, 123456789);
    assert_str(ev.txn.currency, "USD");
    assert_true(ev.txn.has_balance_after);
    assert_int_equal(ev.txn.balance_after_minor, -17);
    assert_str(ev.txn.counterparty_bank, "HSBC");

    ev = DECODE(HEAD "\"channel\":\"web\",\"login\":{\"success\":false,\"device_id\":\"d-9\"}}");
    assert_int_equal(ev.channel, VANE_CHANNEL_WEB);
    assert_int_equal(ev.type, VANE_EVENT_LOGIN);
    assert_false(ev.login.success);
    assert_str(ev.login.device_id, "d-9");
    assert_int_equal(ev.event_id.len, 0);

    ev = DECODE(HEAD "\"login\":{\"success\":true}}");
    assert_true(ev.login.success);
    assert_int_equal(ev.login.device_id.len, 0);

    ev = DECODE(ENG("\"kind\":\"survey\",\"category\":\"Insurance\",\"product_id\":\"INS-1\","
                    "\"service\":\"claims\",\"score\":10"));
    assert_int_equal(ev.type, VANE_EVENT_ENGAGEMENT);
    assert_int_equal(ev.eng.kind, VANE_ENG_SURVEY);
    assert_int_equal(ev.eng.category, VANE_CAT_INSURANCE);
    assert_str(ev.eng.product_id, "INS-1");
    assert_str(ev.eng.service, "claims");
    assert_true(ev.eng.has_score);
    assert_int_equal(ev.eng.score, 10);

    ev = DECODE(ENG("\"kind\":\"SERVICE_CANCEL\",\"service\":\"sms\""));
    assert_false(ev.eng.has_score);
    assert_int_equal(ev.eng.kind, VANE_ENG_SERVICE_CANCEL);

    ev = DECODE(HEAD "\"profile\":{\"segment\":\"private\",\"since_ms\":\"1262304000000\","
                     "\"manager_id\":\"RM-1\",\"tier\":\"senior\"}}");
    assert_int_equal(ev.type, VANE_EVENT_PROFILE);
    assert_str(ev.profile.segment, "private");
    assert_int_equal(ev.profile.since_ms, 1262304000000LL);
    assert_str(ev.profile.manager_id, "RM-1");
    assert_str(ev.profile.tier, "senior");

    /* an empty payload object is still a payload */
    ev = DECODE(HEAD "\"profile\":{}}");
    assert_int_equal(ev.type, VANE_EVENT_PROFILE);
}

static void test_every_enum_name(void **state)
{
    (void)state;
    char js[512];
    for (int v = 1; v < VANE_CHANNEL__COUNT; v++) {
        snprintf(js, sizeof js, HEAD "\"channel\":\"%s\"," LOGIN_TAIL,
                 vane_channel_name((vane_channel_t)v));
        assert_int_equal(DECODE(js).channel, v);
    }
    for (int v = 1; v < VANE_TXN__COUNT; v++) {
        snprintf(js, sizeof js, HEAD "\"txn\":{\"kind\":\"%s\"}}",
                 vane_txn_kind_name((vane_txn_kind_t)v));
        assert_int_equal(DECODE(js).txn.kind, v);
    }
    for (int v = 1; v < VANE_CAT__COUNT; v++) {
        snprintf(js, sizeof js, TXN(",\"category\":\"%s\""),
                 vane_category_name((vane_category_t)v));
        assert_int_equal(DECODE(js).txn.category, v);
    }
    for (int v = 1; v < VANE_ENG__COUNT; v++) {
        snprintf(js, sizeof js, ENG("\"kind\":\"%s\",\"score\":5"),
                 vane_eng_kind_name((vane_eng_kind_t)v));
        assert_int_equal(DECODE(js).eng.kind, v);
    }
    /* case-insensitive, and the protobuf number is accepted too */
    assert_int_equal(DECODE(HEAD "\"channel\":\"mObIlE\"," LOGIN_TAIL).channel,
                     VANE_CHANNEL_MOBILE);
    assert_int_equal(DECODE(HEAD "\"channel\":2," LOGIN_TAIL).channel, VANE_CHANNEL_MOBILE);
    assert_int_equal(DECODE(HEAD "\"channel\":\"\\u004dOBILE\"," LOGIN_TAIL).channel,
                     VANE_CHANNEL_MOBILE);
}

static void test_syntax(void **state)
{
    (void)state;
    REJN("", 0, EMPTY, NULL);
    REJ(" ", JSON_SYNTAX, NULL);
    REJ("[]", JSON_SYNTAX, NULL);
    REJ("\"C1\"", JSON_SYNTAX, NULL);
    REJ("42", JSON_SYNTAX, NULL);
    REJ("null", JSON_SYNTAX, NULL);
    REJ("{", JSON_SYNTAX, NULL);
    REJ("{\"customer_id\"", JSON_SYNTAX, NULL);
    REJ("{\"customer_id\":", JSON_SYNTAX, NULL);
    REJ("{\"customer_id\":\"C1", JSON_SYNTAX, NULL);
    REJ("}", JSON_SYNTAX, NULL);
    OK(GOOD);
    OK("  \r\n\t" GOOD " \n");
    REJ(GOOD "x", JSON_SYNTAX, NULL);
    REJ(GOOD "{}", JSON_SYNTAX, NULL);
    REJ(GOOD ",", JSON_SYNTAX, NULL);
    REJ(GOOD "}", JSON_SYNTAX, NULL);
    REJ("{\"customer_id\":\"C1\" \"event_time_ms\":1," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ("{\"customer_id\":\"C1\",,\"event_time_ms\":1," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"login\":{\"success\":true,}}", JSON_SYNTAX, NULL);
    REJ(HEAD "\"login\":{\"success\":true}", JSON_SYNTAX, NULL);
    REJ(HEAD "\"login\":{\"success\":true]}", JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":[1,2,]," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":[1 2]," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":{1:2}," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\"=1," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ("{'customer_id':'C1'}", JSON_SYNTAX, NULL);
    REJ(HEAD "\"login\":{\"success\":tru}}", JSON_SYNTAX, NULL);
    REJ(HEAD "\"login\":{\"success\":truex}}", JSON_SYNTAX, NULL);
    REJ(HEAD "\"login\":{\"success\":True}}", JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":NaN," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":Infinity," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":01," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":+1," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":1.," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":.5," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":1e," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":-," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":0x10," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":\"a\\x\"," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":\"a\\u12\"," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":\"a\\u12g4\"," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":\"a\\", JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":\"new\nline\"," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ(HEAD "\"x\":\"tab\there\"," LOGIN_TAIL, JSON_SYNTAX, NULL);
    REJ("{\"customer_id\":\"C1\"/*c*/," LOGIN_TAIL, JSON_SYNTAX, NULL);
    /* a raw NUL byte: jsmn alone would stop there and accept the prefix */
    static const char nul[] = "{\"customer_id\":\"C1\",\"event_time_ms\":1,\"login\":{}}\0junk";
    REJN(nul, sizeof nul - 1, JSON_SYNTAX, NULL);
    static const char nul2[] = "{\"customer_id\":\"C\0\",\"event_time_ms\":1,\"login\":{}}";
    REJN(nul2, sizeof nul2 - 1, JSON_SYNTAX, NULL);

    /* the offset of a syntax error points at it */
    vane_event_t ev;
    vane_decode_error_t err;
    const char *bad = "{\"customer_id\":\"C1\" \"x\":1}";
    assert_int_equal(vane_decoder_decode(dec, bad, strlen(bad), VANE_FORMAT_JSON, &ev, &err),
                     VANE_EPARSE);
    assert_int_equal(err.offset, 20);
}

static void test_nesting(void **state)
{
    (void)state;
    /* nesting in an unknown key is skipped up to the depth limit, rejected beyond it */
    char js[1024];
    for (int depth = 60; depth <= 70; depth++) {
        int n = snprintf(js, sizeof js, "{\"customer_id\":\"C1\",\"event_time_ms\":1,\"x\":");
        /* the event object is level 1; depth - 1 more containers, alternating */
        for (int i = 0; i < depth - 1; i++)
            n += snprintf(js + n, sizeof js - (size_t)n, "%s", i % 2 ? "[" : "{\"k\":");
        js[n++] = '1';
        for (int i = depth - 2; i >= 0; i--)
            js[n++] = i % 2 ? ']' : '}';
        n += snprintf(js + n, sizeof js - (size_t)n, ",\"login\":{}}");
        vane_event_t ev;
        vane_decode_error_t err;
        int rc = vane_decoder_decode(dec, js, (size_t)n, VANE_FORMAT_JSON, &ev, &err);
        if (depth <= 64)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(err.reason, VANE_REJECT_JSON_SYNTAX);
    }
    /* 100 000 open brackets: rejected quickly, no recursion */
    vane_decoder_t *big = vane_decoder_new(200000);
    char *deep = malloc(100001);
    deep[0] = '{';
    memset(deep + 1, '[', 100000);
    vane_event_t ev;
    vane_decode_error_t err;
    assert_int_equal(vane_decoder_decode(big, deep, 100001, VANE_FORMAT_JSON, &ev, &err),
                     VANE_EPARSE);
    assert_int_equal(err.reason, VANE_REJECT_JSON_SYNTAX);
    free(deep);
    vane_decoder_free(big);
}

static void test_strings(void **state)
{
    (void)state;
    /* escapes are unescaped; plain strings are borrowed from the input */
    const char *js =
        HEAD "\"event_id\":\"e\\\"1\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u4e2d\\ud83d\\ude00\","
             "\"login\":{\"device_id\":\"plain\"}}";
    vane_event_t ev = DECODE(js);
    assert_str(ev.event_id, "e\"1\\/\b\f\n\r\t\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80");
    assert_str(ev.login.device_id, "plain");
    assert_true(ev.login.device_id.p > js && ev.login.device_id.p < js + strlen(js));
    assert_str(ev.customer_id, "C1");
    /* raw UTF-8 is fine */
    ev = DECODE(HEAD "\"event_id\":\"\xe4\xb8\xad\xf0\x9f\x98\x80\"," LOGIN_TAIL);
    assert_str(ev.event_id, "\xe4\xb8\xad\xf0\x9f\x98\x80");
    /* escaped keys are keys */
    ev = DECODE("{\"customer\\u005fid\":\"C9\",\"event_time_ms\":5," LOGIN_TAIL);
    assert_str(ev.customer_id, "C9");

    /* lone surrogates */
    REJ(HEAD "\"event_id\":\"\\ud800\"," LOGIN_TAIL, NOT_UTF8, NULL);
    REJ(HEAD "\"event_id\":\"\\udc00\"," LOGIN_TAIL, NOT_UTF8, NULL);
    REJ(HEAD "\"event_id\":\"\\ud800\\u0041\"," LOGIN_TAIL, NOT_UTF8, NULL);
    REJ(HEAD "\"event_id\":\"\\ud800\\ud800\"," LOGIN_TAIL, NOT_UTF8, NULL);
    REJ(HEAD "\"event_id\":\"\\ud800x\"," LOGIN_TAIL, NOT_UTF8, NULL);
    REJ(HEAD "\"x\":\"\\uDFFF\"," LOGIN_TAIL, NOT_UTF8, NULL); /* even in an unknown key */
    /* invalid UTF-8 bytes */
    REJ(HEAD "\"event_id\":\"\xff\"," LOGIN_TAIL, NOT_UTF8, NULL);
    REJ(HEAD "\"event_id\":\"\xc0\xaf\"," LOGIN_TAIL, NOT_UTF8, NULL);         /* overlong */
    REJ(HEAD "\"event_id\":\"\xe0\x80\xaf\"," LOGIN_TAIL, NOT_UTF8, NULL);     /* overlong */
    REJ(HEAD "\"event_id\":\"\xed\xa0\x80\"," LOGIN_TAIL, NOT_UTF8, NULL);     /* surrogate */
    REJ(HEAD "\"event_id\":\"\xf4\x90\x80\x80\"," LOGIN_TAIL, NOT_UTF8, NULL); /* >10FFFF */
    REJ(HEAD "\"event_id\":\"\xe4\xb8\"," LOGIN_TAIL, NOT_UTF8, NULL);         /* truncated */
    REJ(HEAD "\"event_id\":\"\x80\"," LOGIN_TAIL, NOT_UTF8, NULL);             /* stray */
    REJ(HEAD "\"login\":{\"device_id\":\"a\xe4\xb8\"}}", NOT_UTF8, NULL);
    REJ("{\"customer_id\":\"C1\xf8\",\"event_time_ms\":5," LOGIN_TAIL, NOT_UTF8, NULL);
    /* an escaped NUL decodes to a NUL byte, which no id may hold */
    REJ("{\"customer_id\":\"C\\u0000\",\"event_time_ms\":5," LOGIN_TAIL, BAD_VALUE, "customer_id");
    REJ(HEAD "\"login\":{\"device_id\":\"\\u0000\"}}", BAD_VALUE, "login.device_id");
}

static void test_types(void **state)
{
    (void)state;
    REJ("{\"customer_id\":1001,\"event_time_ms\":5," LOGIN_TAIL, JSON_TYPE, "customer_id");
    REJ("{\"customer_id\":[\"C1\"],\"event_time_ms\":5," LOGIN_TAIL, JSON_TYPE, "customer_id");
    REJ("{\"customer_id\":true,\"event_time_ms\":5," LOGIN_TAIL, JSON_TYPE, "customer_id");
    REJ("{\"customer_id\":\"C1\",\"event_time_ms\":true," LOGIN_TAIL, JSON_TYPE, "event_time_ms");
    REJ("{\"customer_id\":\"C1\",\"event_time_ms\":{}," LOGIN_TAIL, JSON_TYPE, "event_time_ms");
    REJ("{\"customer_id\":\"C1\",\"event_time_ms\":[5]," LOGIN_TAIL, JSON_TYPE, "event_time_ms");
    REJ(HEAD "\"channel\":true," LOGIN_TAIL, JSON_TYPE, "channel");
    REJ(HEAD "\"channel\":[\"WEB\"]," LOGIN_TAIL, JSON_TYPE, "channel");
    REJ(HEAD "\"txn\":[]}", JSON_TYPE, "txn");
    REJ(HEAD "\"txn\":\"DEPOSIT\"}", JSON_TYPE, "txn");
    REJ(HEAD "\"login\":true}", JSON_TYPE, "login");
    REJ(HEAD "\"engagement\":5}", JSON_TYPE, "engagement");
    REJ(HEAD "\"profile\":[{}]}", JSON_TYPE, "profile");
    REJ(HEAD "\"login\":{\"success\":\"true\"}}", JSON_TYPE, "login.success");
    REJ(HEAD "\"login\":{\"success\":1}}", JSON_TYPE, "login.success");
    REJ(HEAD "\"login\":{\"device_id\":7}}", JSON_TYPE, "login.device_id");
    REJ(TXN(",\"amount_minor\":[1]"), JSON_TYPE, "txn.amount_minor");
    REJ(TXN(",\"amount_minor\":true"), JSON_TYPE, "txn.amount_minor");
    REJ(TXN(",\"product_id\":{}"), JSON_TYPE, "txn.product_id");
    REJ(ENG("\"kind\":\"SURVEY\",\"score\":[7]"), JSON_TYPE, "engagement.score");
    REJ(HEAD "\"profile\":{\"since_ms\":false}}", JSON_TYPE, "profile.since_ms");
    /* null means absent */
    vane_event_t ev = DECODE(HEAD "\"channel\":null,\"event_id\":null,\"txn\":null," LOGIN_TAIL);
    assert_int_equal(ev.channel, VANE_CHANNEL_UNSPECIFIED);
    assert_int_equal(ev.type, VANE_EVENT_LOGIN);
    ev = DECODE(TXN(",\"balance_after_minor\":null"));
    assert_false(ev.txn.has_balance_after);
    REJ("{\"customer_id\":null,\"event_time_ms\":5," LOGIN_TAIL, MISSING_FIELD, "customer_id");
}

static void test_required(void **state)
{
    (void)state;
    REJ("{}", MISSING_FIELD, "customer_id");
    REJ("{\"event_time_ms\":5," LOGIN_TAIL, MISSING_FIELD, "customer_id");
    REJ("{\"customer_id\":\"\",\"event_time_ms\":5," LOGIN_TAIL, MISSING_FIELD, "customer_id");
    REJ("{\"customer_id\":\"C1\"," LOGIN_TAIL, MISSING_FIELD, "event_time_ms");
    REJ("{\"customer_id\":\"C1\",\"event_time_ms\":0," LOGIN_TAIL, MISSING_FIELD, "event_time_ms");
    REJ("{\"customer_id\":\"C1\",\"event_time_ms\":-1," LOGIN_TAIL, BAD_VALUE, "event_time_ms");
    REJ("{\"customer_id\":\"C1\",\"event_time_ms\":5}", MISSING_FIELD, "payload");
    REJ("{\"customer_id\":\"C1\",\"event_time_ms\":5,\"txn\":null}", MISSING_FIELD, "payload");
    REJ(HEAD "\"txn\":{}}", MISSING_FIELD, "txn.kind");
    REJ(HEAD "\"txn\":{\"amount_minor\":5}}", MISSING_FIELD, "txn.kind");
    REJ(HEAD "\"engagement\":{}}", MISSING_FIELD, "engagement.kind");
    REJ(ENG("\"kind\":\"SURVEY\""), MISSING_FIELD, "engagement.score");
    REJ(ENG("\"kind\":\"SURVEY\",\"score\":null"), MISSING_FIELD, "engagement.score");
    OK(ENG("\"kind\":\"SURVEY\",\"score\":0"));
}

static void test_enums(void **state)
{
    (void)state;
    REJ(HEAD "\"channel\":\"FAX\"," LOGIN_TAIL, UNKNOWN_ENUM, "channel");
    /* a name followed by anything, even an escaped NUL, is not that name */
    REJ(HEAD "\"channel\":\"WEB\\u0000\"," LOGIN_TAIL, UNKNOWN_ENUM, "channel");
    REJ(HEAD "\"channel\":\"WEB\\u0000XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\"," LOGIN_TAIL,
        UNKNOWN_ENUM, "channel");
    REJ(HEAD "\"channel\":\"WEBX\"," LOGIN_TAIL, UNKNOWN_ENUM, "channel");
    REJ(HEAD "\"channel\":\"WE\"," LOGIN_TAIL, UNKNOWN_ENUM, "channel");
    OK(HEAD "\"channel\":\"web\"," LOGIN_TAIL);
    REJ(HEAD "\"channel\":\"UNSPECIFIED\"," LOGIN_TAIL, UNKNOWN_ENUM, "channel");
    REJ(HEAD "\"channel\":\"CHANNEL_UNSPECIFIED\"," LOGIN_TAIL, UNKNOWN_ENUM, "channel");
    REJ(HEAD "\"channel\":\"\"," LOGIN_TAIL, UNKNOWN_ENUM, "channel");
    REJ(HEAD "\"channel\":\"MOBILE \"," LOGIN_TAIL, UNKNOWN_ENUM, "channel");
    REJ(HEAD "\"channel\":99," LOGIN_TAIL, UNKNOWN_ENUM, "channel");
    REJ(HEAD "\"channel\":-1," LOGIN_TAIL, UNKNOWN_ENUM, "channel");
    REJ(HEAD "\"channel\":6," LOGIN_TAIL, UNKNOWN_ENUM, "channel");
    REJ(HEAD "\"channel\":99999999999999999999," LOGIN_TAIL, BAD_VALUE, "channel");
    REJ(HEAD "\"txn\":{\"kind\":\"STEAL\"}}", UNKNOWN_ENUM, "txn.kind");
    REJ(HEAD "\"txn\":{\"kind\":10}}", UNKNOWN_ENUM, "txn.kind");
    REJ(HEAD "\"txn\":{\"kind\":0}}", MISSING_FIELD, "txn.kind");
    REJ(TXN(",\"category\":\"STOCKS\""), UNKNOWN_ENUM, "txn.category");
    REJ(TXN(",\"category\":12"), UNKNOWN_ENUM, "txn.category");
    REJ(ENG("\"kind\":\"LIKE\""), UNKNOWN_ENUM, "engagement.kind");
    REJ(ENG("\"kind\":\"PRODUCT_VIEW\",\"category\":\"FUNDS\""), UNKNOWN_ENUM,
        "engagement.category");
    /* a category of 0 is "not given", which optional fields allow */
    assert_int_equal(DECODE(TXN(",\"category\":0")).txn.category, VANE_CAT_UNSPECIFIED);
}

static void test_integers(void **state)
{
    (void)state;
    struct {
        const char *lit;
        int64_t want;
    } good[] = {
        {"0", 0},
        {"-0", 0},
        {"0.0", 0},
        {"1500", 1500},
        {"1.5e3", 1500},
        {"15E+2", 1500},
        {"150000e-2", 1500},
        {"1500.000", 1500},
        {"\"1500\"", 1500},
        {"\"0001500\"", 1500},
        {"100000000000000000", 100000000000000000LL},
        {"1e17", 100000000000000000LL},
        {"100000000000000000000e-3", 100000000000000000LL},
        {"0e999999", 0},
    };
    char js[256];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(js, sizeof js, TXN(",\"amount_minor\":%s"), good[i].lit);
        vane_event_t ev = DECODE(js);
        if (ev.txn.amount_minor != good[i].want)
            fail_msg("%s -> %lld", good[i].lit, (long long)ev.txn.amount_minor);
    }
    const char *bad[] = {
        "1.5",
        "0.1",
        "1e-1",
        "15e-1",
        "1e300",
        "\"1.5e3\"",
        "\"12abc\"",
        "\"\"",
        "\" 12\"",
        "\"+12\"",
        "\"1e3\"",
        "\"0x10\"",
        "\"-\"",
        "\"1\\u0030\"",
        "100000000000000001",
        "-5",
        "\"-5\"",
        "1e18",
        "123456789012345678901234567890",
        "-9223372036854775809",
        "9223372036854775808",
        "18446744073709551616",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(js, sizeof js, TXN(",\"amount_minor\":%s"), bad[i]);
        check(js, strlen(js), VANE_REJECT_BAD_VALUE, "txn.amount_minor", __LINE__);
    }
    /* the int64 extremes */
    vane_event_t ev =
        DECODE("{\"customer_id\":\"C1\",\"event_time_ms\":9223372036854775807," LOGIN_TAIL);
    assert_int_equal(ev.event_time_ms, INT64_MAX);
    ev = DECODE("{\"customer_id\":\"C1\",\"event_time_ms\":\"9223372036854775807\"," LOGIN_TAIL);
    assert_int_equal(ev.event_time_ms, INT64_MAX);
    REJ("{\"customer_id\":\"C1\",\"event_time_ms\":9223372036854775808," LOGIN_TAIL, BAD_VALUE,
        "event_time_ms");
    ev = DECODE(TXN(",\"balance_after_minor\":\"-100000000000000000\""));
    assert_int_equal(ev.txn.balance_after_minor, -100000000000000000LL);
    REJ(TXN(",\"balance_after_minor\":-9223372036854775808"), BAD_VALUE, "txn.balance_after_minor");
    REJ(HEAD "\"profile\":{\"since_ms\":-1}}", BAD_VALUE, "profile.since_ms");

    /* score: int32, 0..10 */
    REJ(ENG("\"kind\":\"SURVEY\",\"score\":11"), BAD_VALUE, "engagement.score");
    REJ(ENG("\"kind\":\"SURVEY\",\"score\":-1"), BAD_VALUE, "engagement.score");
    REJ(ENG("\"kind\":\"SURVEY\",\"score\":4294967297"), BAD_VALUE, "engagement.score");
    REJ(ENG("\"kind\":\"SURVEY\",\"score\":7.5"), BAD_VALUE, "engagement.score");
    assert_int_equal(DECODE(ENG("\"kind\":\"SURVEY\",\"score\":\"7\"")).eng.score, 7);
    assert_int_equal(DECODE(ENG("\"kind\":\"SURVEY\",\"score\":1e1")).eng.score, 10);
}

static void test_lengths(void **state)
{
    (void)state;
    char id63[64], id64[65], js[512];
    memset(id63, 'x', 63);
    id63[63] = '\0';
    memset(id64, 'x', 64);
    id64[64] = '\0';
    snprintf(js, sizeof js, "{\"customer_id\":\"%s\",\"event_time_ms\":5," LOGIN_TAIL, id63);
    OK(js);
    snprintf(js, sizeof js, "{\"customer_id\":\"%s\",\"event_time_ms\":5," LOGIN_TAIL, id64);
    REJ(js, TOO_LONG, "customer_id");
    snprintf(js, sizeof js, HEAD "\"event_id\":\"%s\"," LOGIN_TAIL, id64);
    REJ(js, TOO_LONG, "event_id");
    const char *fields[] = {"product_id", "currency", "counterparty_bank"};
    for (size_t i = 0; i < 3; i++) {
        char path[64];
        snprintf(js, sizeof js, TXN(",\"%s\":\"%s\""), fields[i], id63);
        OK(js);
        snprintf(js, sizeof js, TXN(",\"%s\":\"%s\""), fields[i], id64);
        snprintf(path, sizeof path, "txn.%s", fields[i]);
        check(js, strlen(js), VANE_REJECT_TOO_LONG, path, __LINE__);
    }
    snprintf(js, sizeof js, HEAD "\"profile\":{\"tier\":\"%s\"}}", id64);
    REJ(js, TOO_LONG, "profile.tier");
    snprintf(js, sizeof js, ENG("\"kind\":\"SERVICE_CANCEL\",\"service\":\"%s\""), id64);
    REJ(js, TOO_LONG, "engagement.service");
    /* 63 bytes after unescaping is fine even when the escaped form is longer */
    snprintf(js, sizeof js,
             "{\"customer_id\":\"\\u00e9\\u00e9%.59s\",\"event_time_ms\":5," LOGIN_TAIL, id63);
    OK(js);

    /* message size: max_bytes exactly is fine, one more is too large */
    vane_decoder_t *small = vane_decoder_new(128);
    char msg[200];
    memset(msg, ' ', sizeof msg);
    memcpy(msg, GOOD, strlen(GOOD));
    vane_event_t ev;
    vane_decode_error_t err;
    assert_int_equal(vane_decoder_decode(small, msg, 128, VANE_FORMAT_JSON, &ev, &err), 0);
    assert_int_equal(vane_decoder_decode(small, msg, 129, VANE_FORMAT_JSON, &ev, &err),
                     VANE_ETOOBIG);
    assert_int_equal(err.reason, VANE_REJECT_TOO_LARGE);
    vane_decoder_free(small);
    assert_null(vane_decoder_new(0));
    assert_null(vane_decoder_new((size_t)VANE_DECODE_MAX_BYTES + 1));
}

static void test_payloads_and_keys(void **state)
{
    (void)state;
    REJ(HEAD "\"txn\":{\"kind\":\"FEE\"},\"login\":{}}", BAD_VALUE, "payload");
    REJ(HEAD "\"profile\":{},\"engagement\":{\"kind\":\"COMPLAINT\"}}", BAD_VALUE, "payload");
    REJ(HEAD "\"login\":{},\"login\":{}}", JSON_SYNTAX, "login");
    REJ("{\"customer_id\":\"C1\",\"customer_id\":\"C2\",\"event_time_ms\":5," LOGIN_TAIL,
        JSON_SYNTAX, "customer_id");
    REJ(HEAD "\"login\":{\"success\":true,\"success\":false}}", JSON_SYNTAX, "login.success");
    /* unknown keys are ignored, whatever they hold, at every level */
    vane_event_t ev = DECODE(
        "{\"schema\":2,\"customer_id\":\"C1\",\"extra\":{\"deep\":[1,{\"txn\":{}},[[]],null]},"
        "\"event_time_ms\":7,\"txn2\":{\"kind\":\"nope\"},\"txn\":{\"kind\":\"FEE\",\"memo\":"
        "\"x\",\"amount_minor\":3,\"tags\":[\"a\",{\"b\":false}]},\"after\":\"\"}");
    assert_int_equal(ev.type, VANE_EVENT_TXN);
    assert_int_equal(ev.txn.kind, VANE_TXN_FEE);
    assert_int_equal(ev.txn.amount_minor, 3);
    assert_int_equal(ev.event_time_ms, 7);
    /* keys are case-sensitive: "Customer_ID" is an unknown key */
    REJ("{\"Customer_ID\":\"C1\",\"event_time_ms\":5," LOGIN_TAIL, MISSING_FIELD, "customer_id");

    /* The decoder is one pass: a field error is remembered while the grammar check goes on,
     * so a later syntax error still wins, wherever it is. */
    REJ(HEAD "\"channel\":7.5," LOGIN_TAIL, BAD_VALUE, "channel");
    REJ(HEAD "\"channel\":7.5," LOGIN_TAIL "x", JSON_SYNTAX, NULL);
    REJ(HEAD "\"channel\":{},\"login\":{\"success\":true,}}", JSON_SYNTAX, NULL);
    REJ(HEAD "\"login\":[],\"x\":[1 2]}", JSON_SYNTAX, NULL);
    REJ(HEAD "\"login\":{\"success\":1},\"txn\":{\"kind\":\"FEE\",}}", JSON_SYNTAX, NULL);
    /* the first field error is the one reported */
    REJ(HEAD "\"channel\":\"NOPE\",\"login\":{\"success\":1}}", UNKNOWN_ENUM, "channel");
    REJ(HEAD "\"login\":{\"success\":1},\"channel\":\"NOPE\"}", JSON_TYPE, "login.success");
    /* a payload that is not an object, and payloads after an error, are still checked */
    REJ(HEAD "\"login\":\"yes\"}", JSON_TYPE, "login");
    REJ(HEAD "\"login\":[{}]}", JSON_TYPE, "login");
    REJ(HEAD "\"login\":null}", MISSING_FIELD, "payload");
    /* any key order, escaped keys, whitespace everywhere */
    ev = DECODE(" {\n \"t\\u0078n\" : { \"amount_minor\" : 9 , \"kind\" : \"FEE\" } ,"
                "\t\"event_time_ms\":8 , \"cust\\u006fmer_id\":\"C\\u0031\" }\r\n");
    assert_int_equal(ev.type, VANE_EVENT_TXN);
    assert_int_equal(ev.txn.kind, VANE_TXN_FEE);
    assert_int_equal(ev.txn.amount_minor, 9);
    assert_int_equal(ev.event_time_ms, 8);
    assert_str(ev.customer_id, "C1");
}

/* A reject leaves nothing behind: the next message decodes normally, and err may be NULL. */
static void test_reuse(void **state)
{
    (void)state;
    vane_event_t ev;
    for (int i = 0; i < 3; i++) {
        REJ(HEAD "\"event_id\":\"\\ud800\"," LOGIN_TAIL, NOT_UTF8, NULL);
        ev = DECODE(HEAD "\"event_id\":\"\\u00e9\",\"login\":{\"device_id\":\"\\u00e8\"}}");
        assert_str(ev.event_id, "\xc3\xa9");
        assert_str(ev.login.device_id, "\xc3\xa8");
    }
    assert_int_equal(vane_decoder_decode(dec, "{}", 2, VANE_FORMAT_JSON, &ev, NULL), VANE_EMISSING);
    /* AUTO sniffs */
    assert_int_equal(vane_decoder_decode(dec, GOOD, strlen(GOOD), VANE_FORMAT_AUTO, &ev, NULL), 0);
}

/* vane_event_copy_strings: an event kept past the next decode keeps its strings, unescaped ones
 * (in the decoder's scratch) included, and every string field is moved. */
static void test_copy_strings(void **state)
{
    (void)state;
    char buf[256];
    char js[512];
    snprintf(js, sizeof js,
             HEAD
             "\"event_id\":\"e\\u00e9\",\"txn\":{\"kind\":\"PURCHASE\",\"amount_minor\":1,"
             "\"product_id\":\"P\\u00e8\",\"currency\":\"USD\",\"counterparty_bank\":\"B9\"}}");
    vane_event_t ev = DECODE(js);
    size_t n = vane_event_strings_len(&ev);
    assert_int_equal(n, strlen("e\xc3\xa9") + 2 + strlen("P\xc3\xa8") + 3 + 2);
    memset(buf, 'x', sizeof buf);
    assert_int_equal(vane_event_copy_strings(&ev, buf), n);
    memset(js, 0, sizeof js); /* the input is gone */
    vane_event_t other = DECODE(HEAD "\"event_id\":\"\\u00fc\\u00fc\\u00fc\"," LOGIN_TAIL);
    assert_str(other.event_id, "\xc3\xbc\xc3\xbc\xc3\xbc"); /* the scratch was reused */
    assert_str(ev.event_id, "e\xc3\xa9");
    assert_str(ev.customer_id, "C1");
    assert_str(ev.txn.product_id, "P\xc3\xa8");
    assert_str(ev.txn.currency, "USD");
    assert_str(ev.txn.counterparty_bank, "B9");
    assert_true(ev.event_id.p >= buf && ev.txn.counterparty_bank.p + 2 <= buf + n);
    assert_int_equal(buf[n], 'x'); /* nothing written past n */
    assert_null(ev.login.device_id.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field),
        cmocka_unit_test(test_every_enum_name),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_nesting),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_payloads_and_keys),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_copy_strings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
