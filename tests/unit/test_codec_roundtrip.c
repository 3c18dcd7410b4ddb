/* test_codec_roundtrip.c - encode -> decode round trips of events and alerts in both formats,
 * format choice (header, configuration, sniff) and the reject-name table. */
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

static const vane_format_t formats[] = {VANE_FORMAT_JSON, VANE_FORMAT_PROTOBUF};

static void assert_str_eq(vane_str_t a, vane_str_t b)
{
    if (!vane_str_eq(a, b))
        fail_msg("strings differ: \"%.*s\" vs \"%.*s\"", (int)a.len, a.p ? a.p : "", (int)b.len,
                 b.p ? b.p : "");
}

/* Field-by-field equality of the parts of two events that their type makes meaningful. */
static void assert_event_eq(const vane_event_t *a, const vane_event_t *b)
{
    assert_str_eq(a->event_id, b->event_id);
    assert_str_eq(a->customer_id, b->customer_id);
    assert_int_equal(a->event_time_ms, b->event_time_ms);
    assert_int_equal(a->channel, b->channel);
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case VANE_EVENT_TXN:
        assert_int_equal(a->txn.kind, b->txn.kind);
        assert_int_equal(a->txn.category, b->txn.category);
        assert_str_eq(a->txn.product_id, b->txn.product_id);
        assert_int_equal(a->txn.amount_minor, b->txn.amount_minor);
        assert_str_eq(a->txn.currency, b->txn.currency);
        assert_int_equal(a->txn.has_balance_after, b->txn.has_balance_after);
        assert_int_equal(a->txn.balance_after_minor, b->txn.balance_after_minor);
        assert_str_eq(a->txn.counterparty_bank, b->txn.counterparty_bank);
        break;
    case VANE_EVENT_LOGIN:
        assert_int_equal(a->login.success, b->login.success);
        assert_str_eq(a->login.device_id, b->login.device_id);
        break;
    case VANE_EVENT_ENGAGEMENT:
        assert_int_equal(a->eng.kind, b->eng.kind);
        assert_int_equal(a->eng.category, b->eng.category);
        assert_str_eq(a->eng.product_id, b->eng.product_id);
        assert_str_eq(a->eng.service, b->eng.service);
        assert_int_equal(a->eng.has_score, b->eng.has_score);
        assert_int_equal(a->eng.score, b->eng.score);
        break;
    case VANE_EVENT_PROFILE:
        assert_str_eq(a->profile.segment, b->profile.segment);
        assert_int_equal(a->profile.since_ms, b->profile.since_ms);
        assert_str_eq(a->profile.manager_id, b->profile.manager_id);
        assert_str_eq(a->profile.tier, b->profile.tier);
        break;
    case VANE_EVENT_NONE:
        break;
    }
}

static vane_event_t base_event(const char *id)
{
    vane_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.event_id = vane_str_c(id);
    ev.customer_id = vane_str_c("C1001");
    ev.event_time_ms = 1763800000000LL;
    ev.channel = VANE_CHANNEL_MOBILE;
    return ev;
}

/* A spread of events covering every field of every payload, edge values included. */
static int sample_events(vane_event_t *out, int cap)
{
    int n = 0;
    vane_event_t ev = base_event("e-000017");
    ev.type = VANE_EVENT_TXN;
    ev.txn.kind = VANE_TXN_REDEMPTION;
    ev.txn.category = VANE_CAT_FUND;
    ev.txn.product_id = vane_str_c("F-123");
    ev.txn.amount_minor = 5000000;
    ev.txn.currency = vane_str_c("CNY");
    ev.txn.has_balance_after = true;
    ev.txn.balance_after_minor = 0; /* presence of a zero balance must survive */
    ev.txn.counterparty_bank = vane_str_c("ICBC \"quoted\" \\ back\tslash");
    out[n++] = ev;

    ev = base_event("e-2");
    ev.type = VANE_EVENT_TXN;
    ev.txn.kind = VANE_TXN_TRANSFER_OUT;
    ev.txn.amount_minor = 100000000000000000LL; /* the largest accepted amount */
    ev.txn.has_balance_after = true;
    ev.txn.balance_after_minor = -42;
    out[n++] = ev;

    ev = base_event("");
    ev.channel = VANE_CHANNEL_UNSPECIFIED;
    ev.type = VANE_EVENT_LOGIN;
    ev.login.success = true;
    ev.login.device_id = vane_str_c("dev-\xe6\x89\x8b\xe6\x9c\xba"); /* UTF-8 */
    out[n++] = ev;

    ev = base_event("e-4");
    ev.type = VANE_EVENT_LOGIN;
    ev.login.success = false;
    out[n++] = ev;

    ev = base_event("e-5");
    ev.channel = VANE_CHANNEL_PHONE;
    ev.type = VANE_EVENT_ENGAGEMENT;
    ev.eng.kind = VANE_ENG_SURVEY;
    ev.eng.has_score = true;
    ev.eng.score = 0; /* a real zero, not absence */
    out[n++] = ev;

    ev = base_event("e-6");
    ev.type = VANE_EVENT_ENGAGEMENT;
    ev.eng.kind = VANE_ENG_PRODUCT_VIEW;
    ev.eng.category = VANE_CAT_PENSION;
    ev.eng.product_id = vane_str_c("P-9");
    ev.eng.service = vane_str_c("sms-alerts");
    out[n++] = ev;

    ev = base_event("e-7");
    ev.channel = VANE_CHANNEL_BRANCH;
    ev.type = VANE_EVENT_PROFILE;
    ev.profile.segment = vane_str_c("affluent");
    ev.profile.since_ms = 1262304000000LL;
    ev.profile.manager_id = vane_str_c("RM-77");
    ev.profile.tier = vane_str_c("line");
    out[n++] = ev;

    ev = base_event("e-8");
    ev.event_time_ms = INT64_MAX;
    ev.type = VANE_EVENT_TXN;
    ev.txn.kind = VANE_TXN_INTEREST;
    ev.txn.amount_minor = 0;
    out[n++] = ev;
    assert_true(n <= cap);
    return n;
}

static void test_event_round_trip(void **state)
{
    (void)state;
    vane_event_t evs[16];
    int n = sample_events(evs, 16);
    vane_decoder_t *dec = vane_decoder_new(4096);
    assert_non_null(dec);
    vane_buf_t buf = VANE_BUF_INIT;
    for (size_t f = 0; f < 2; f++) {
        for (int i = 0; i < n; i++) {
            vane_buf_reset(&buf);
            assert_int_equal(vane_codec_encode_event(&evs[i], formats[f], &buf), 0);
            vane_event_t back;
            vane_decode_error_t err;
            int rc = vane_decoder_decode(dec, buf.data, buf.len, formats[f], &back, &err);
            if (rc)
                fail_msg("%s event %d: %s (%s): %s", vane_format_name(formats[f]), i,
                         vane_reject_name(err.reason), err.field, err.msg);
            assert_event_eq(&evs[i], &back);
        }
    }
    vane_buf_free(&buf);
    vane_decoder_free(dec);
}

/* The JSON of the contract's own example decodes to what it says. */
static void test_contract_example(void **state)
{
    (void)state;
    static const char js[] =
        "{\"event_id\":\"e-000017\",\"customer_id\":\"C1001\",\"event_time_ms\":1763800000000,"
        "\"channel\":\"MOBILE\",\n \"txn\":{\"kind\":\"REDEMPTION\",\"category\":\"FUND\","
        "\"product_id\":\"F-123\",\"amount_minor\":5000000,\"currency\":\"CNY\"}}";
    vane_decoder_t *dec = vane_decoder_new(1024);
    vane_event_t ev;
    vane_decode_error_t err;
    assert_int_equal(vane_decoder_decode(dec, js, strlen(js), VANE_FORMAT_JSON, &ev, &err), 0);
    assert_true(vane_str_eq(ev.event_id, vane_str_c("e-000017")));
    assert_true(vane_str_eq(ev.customer_id, vane_str_c("C1001")));
    assert_int_equal(ev.event_time_ms, 1763800000000LL);
    assert_int_equal(ev.channel, VANE_CHANNEL_MOBILE);
    assert_int_equal(ev.type, VANE_EVENT_TXN);
    assert_int_equal(ev.txn.kind, VANE_TXN_REDEMPTION);
    assert_int_equal(ev.txn.category, VANE_CAT_FUND);
    assert_true(vane_str_eq(ev.txn.product_id, vane_str_c("F-123")));
    assert_int_equal(ev.txn.amount_minor, 5000000);
    assert_true(vane_str_eq(ev.txn.currency, vane_str_c("CNY")));
    assert_false(ev.txn.has_balance_after);
    assert_int_equal(ev.txn.counterparty_bank.len, 0);
    vane_decoder_free(dec);
}

static vane_alert_t sample_alert(void)
{
    vane_alert_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.alert_id, sizeof a.alert_id, "a-7f3e");
    snprintf(a.rule_id, sizeof a.rule_id, "redemption_surge");
    a.kind = VANE_ALERT_PREFERENCE_SHIFT;
    a.severity = VANE_SEV_HIGH;
    snprintf(a.customer_id, sizeof a.customer_id, "C1001");
    a.score = 0.1; /* not exactly representable: must still round-trip */
    a.stage = VANE_STAGE_DECLINE;
    a.from_category = VANE_CAT_TIME_DEPOSIT;
    a.to_category = VANE_CAT_FUND;
    a.event_time_ms = 1763800000000LL;
    a.detected_at_ms = 1763800000123LL;
    assert_int_equal(vane_alert_add_event_id(&a, vane_str_c("e-1")), 0);
    assert_int_equal(vane_alert_add_event_id(&a, vane_str_c("e-\"2\"")), 0);
    assert_int_equal(vane_alert_add_feature(&a, "redemptions_7d", 3), 0);
    assert_int_equal(vane_alert_add_feature(&a, "share_redeemed", 0.8333333333333334), 0);
    assert_int_equal(vane_alert_add_feature(&a, "tiny", -1.5e-300), 0);
    snprintf(a.summary, sizeof a.summary, "3 redemptions in 7d, 83%% of holdings \xe2\x9c\x93");
    snprintf(a.segment, sizeof a.segment, "affluent");
    snprintf(a.route, sizeof a.route, "line-management");
    snprintf(a.manager_id, sizeof a.manager_id, "RM-77");
    return a;
}

static void assert_alert_eq(const vane_alert_t *a, const vane_alert_t *b)
{
    assert_string_equal(a->alert_id, b->alert_id);
    assert_string_equal(a->rule_id, b->rule_id);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->severity, b->severity);
    assert_string_equal(a->customer_id, b->customer_id);
    assert_true(a->score == b->score);
    assert_int_equal(a->stage, b->stage);
    assert_int_equal(a->from_category, b->from_category);
    assert_int_equal(a->to_category, b->to_category);
    assert_int_equal(a->event_time_ms, b->event_time_ms);
    assert_int_equal(a->detected_at_ms, b->detected_at_ms);
    assert_int_equal(a->n_event_ids, b->n_event_ids);
    for (uint32_t i = 0; i < a->n_event_ids; i++)
        assert_string_equal(a->event_ids[i], b->event_ids[i]);
    assert_int_equal(a->n_features, b->n_features);
    for (uint32_t i = 0; i < a->n_features; i++) {
        assert_string_equal(a->features[i].name, b->features[i].name);
        assert_true(a->features[i].value == b->features[i].value);
    }
    assert_string_equal(a->summary, b->summary);
    assert_string_equal(a->segment, b->segment);
    assert_string_equal(a->route, b->route);
    assert_string_equal(a->manager_id, b->manager_id);
}

static void test_alert_round_trip(void **state)
{
    (void)state;
    vane_alert_t empty;
    memset(&empty, 0, sizeof empty);
    vane_alert_t alerts[2] = {sample_alert(), empty};
    vane_buf_t buf = VANE_BUF_INIT;
    for (size_t f = 0; f < 2; f++) {
        for (size_t i = 0; i < 2; i++) {
            vane_buf_reset(&buf);
            assert_int_equal(vane_codec_encode_alert(&alerts[i], formats[f], &buf), 0);
            vane_alert_t back;
            vane_decode_error_t err;
            int rc = vane_codec_decode_alert(buf.data, buf.len, formats[f], &back, &err);
            if (rc)
                fail_msg("%s alert %zu: %s (%s): %s", vane_format_name(formats[f]), i,
                         vane_reject_name(err.reason), err.field, err.msg);
            assert_alert_eq(&alerts[i], &back);
        }
    }
    vane_buf_free(&buf);
}

/* The JSON alert uses the contract's names, enums by name, features as an object, event_ids
 * as an array and int64 as numbers. */
static void test_alert_json_shape(void **state)
{
    (void)state;
    vane_alert_t a = sample_alert();
    vane_buf_t buf = VANE_BUF_INIT;
    assert_int_equal(vane_codec_encode_alert(&a, VANE_FORMAT_JSON, &buf), 0);
    const char *want[] = {
        "\"alert_id\":\"a-7f3e\"",
        "\"rule_id\":\"redemption_surge\"",
        "\"kind\":\"PREFERENCE_SHIFT\"",
        "\"severity\":\"HIGH\"",
        "\"customer_id\":\"C1001\"",
        "\"score\":0.1",
        "\"stage\":\"DECLINE\"",
        "\"from_category\":\"TIME_DEPOSIT\"",
        "\"to_category\":\"FUND\"",
        "\"event_time_ms\":1763800000000",
        "\"detected_at_ms\":1763800000123",
        "\"event_ids\":[\"e-1\",\"e-\\\"2\\\"\"]",
        "\"features\":{\"redemptions_7d\":3,\"share_redeemed\":0.8333333333333334,",
        "\"summary\":\"3 redemptions",
        "\"segment\":\"affluent\"",
        "\"route\":\"line-management\"",
        "\"manager_id\":\"RM-77\"",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(buf.data, want[i]))
            fail_msg("missing %s in %s", want[i], buf.data);
    }
    assert_int_equal(buf.data[0], '{');
    assert_int_equal(buf.data[buf.len - 1], '}');
    assert_null(strchr(buf.data, '\n'));
    vane_buf_free(&buf);
}

static void test_encode_appends(void **state)
{
    (void)state;
    vane_event_t evs[16];
    sample_events(evs, 16);
    vane_buf_t buf = VANE_BUF_INIT;
    assert_int_equal(vane_buf_puts(&buf, "prefix"), 0);
    assert_int_equal(vane_codec_encode_event(&evs[0], VANE_FORMAT_JSON, &buf), 0);
    assert_memory_equal(buf.data, "prefix{", 7);
    size_t len = buf.len;
    assert_int_equal(vane_codec_encode_event(&evs[0], VANE_FORMAT_AUTO, &buf), VANE_EINVAL);
    assert_int_equal(buf.len, len);
    vane_buf_free(&buf);
}

static void test_format_detect(void **state)
{
    (void)state;
    const char js[] = "  \n{\"a\":1}";
    const char pb[] = "\x0a\x02id";
    /* header wins over configuration and sniffing */
    assert_int_equal(vane_format_detect("application/x-protobuf", 22, VANE_FORMAT_JSON, js, 10),
                     VANE_FORMAT_PROTOBUF);
    assert_int_equal(
        vane_format_detect("application/json; charset=utf-8", 31, VANE_FORMAT_PROTOBUF, pb, 4),
        VANE_FORMAT_JSON);
    assert_int_equal(vane_format_detect("Application/JSON", 16, VANE_FORMAT_AUTO, pb, 4),
                     VANE_FORMAT_JSON);
    assert_int_equal(
        vane_format_detect("application/vnd.bank.event+json", 31, VANE_FORMAT_AUTO, pb, 4),
        VANE_FORMAT_JSON);
    /* ct_len bounds the header (not NUL-terminated in Kafka) */
    assert_int_equal(vane_format_detect("application/jsonXYZ", 16, VANE_FORMAT_AUTO, pb, 4),
                     VANE_FORMAT_JSON);
    /* an unknown header falls through to configuration, then sniffing */
    assert_int_equal(vane_format_detect("text/plain", 10, VANE_FORMAT_PROTOBUF, js, 10),
                     VANE_FORMAT_PROTOBUF);
    assert_int_equal(vane_format_detect("text/plain", 10, VANE_FORMAT_AUTO, js, 10),
                     VANE_FORMAT_JSON);
    assert_int_equal(vane_format_detect(NULL, 0, VANE_FORMAT_JSON, pb, 4), VANE_FORMAT_JSON);
    assert_int_equal(vane_format_detect("", 0, VANE_FORMAT_AUTO, js, 10), VANE_FORMAT_JSON);
    assert_int_equal(vane_format_detect(NULL, 0, VANE_FORMAT_AUTO, pb, 4), VANE_FORMAT_PROTOBUF);
    assert_int_equal(vane_format_detect(NULL, 0, VANE_FORMAT_AUTO, "", 0), VANE_FORMAT_PROTOBUF);
    assert_int_equal(vane_format_detect(NULL, 0, VANE_FORMAT_AUTO, "   ", 3), VANE_FORMAT_PROTOBUF);
}

static void test_format_names(void **state)
{
    (void)state;
    vane_format_t f = VANE_FORMAT_AUTO;
    assert_int_equal(vane_format_parse("json", &f), 0);
    assert_int_equal(f, VANE_FORMAT_JSON);
    assert_int_equal(vane_format_parse("PROTOBUF", &f), 0);
    assert_int_equal(f, VANE_FORMAT_PROTOBUF);
    assert_int_equal(vane_format_parse("auto", &f), 0);
    assert_int_equal(f, VANE_FORMAT_AUTO);
    assert_int_equal(vane_format_parse("xml", &f), VANE_EINVAL);
    assert_int_equal(vane_format_parse(NULL, &f), VANE_EINVAL);
    for (int i = 0; i < 3; i++) {
        vane_format_t g;
        assert_int_equal(vane_format_parse(vane_format_name((vane_format_t)i), &g), 0);
        assert_int_equal(g, i);
    }
    assert_string_equal(vane_reject_name(VANE_REJECT_NONE), "none");
    assert_string_equal(vane_reject_name(VANE_REJECT_JSON_SYNTAX), "json_syntax");
    assert_string_equal(vane_reject_name(VANE_REJECT_PB_MALFORMED), "protobuf_malformed");
    assert_string_equal(vane_reject_name(VANE_REJECT_TOO_LONG), "field_too_long");
    assert_string_equal(vane_reject_name(VANE_REJECT_KEY_MISMATCH), "key_mismatch");
    assert_string_equal(vane_reject_name((vane_reject_t)999), "unknown");
    for (int r = 0; r < VANE_REJECT__COUNT; r++) {
        for (int s = r + 1; s < VANE_REJECT__COUNT; s++)
            assert_string_not_equal(vane_reject_name((vane_reject_t)r),
                                    vane_reject_name((vane_reject_t)s));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_round_trip), cmocka_unit_test(test_contract_example),
        cmocka_unit_test(test_alert_round_trip), cmocka_unit_test(test_alert_json_shape),
        cmocka_unit_test(test_encode_appends),   cmocka_unit_test(test_format_detect),
        cmocka_unit_test(test_format_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
