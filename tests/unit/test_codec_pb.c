/* test_codec_pb.c - the protobuf event decoder and encoder, cross-checked against protobuf-c's
 * own generated packer (an independent implementation of the same wire format), plus every
 * malformed input we could think of: truncation at every byte, random bytes, wrong wire
 * types, unknown enum numbers, embedded NULs, arena exhaustion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/codec.h"
#include "engine/codec_int.h"
#include "util/err.h"

#include "vane/v1/event.pb-c.h"

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

/* A hand-rolled protobuf writer for building exactly the bytes a test wants. */
typedef struct wb {
    uint8_t b[8192];
    size_t n;
} wb_t;

static void w_varint(wb_t *w, uint64_t v)
{
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        w->b[w->n++] = (uint8_t)(v ? byte | 0x80 : byte);
    } while (v);
}
static void w_tag(wb_t *w, unsigned field, unsigned wt)
{
    w_varint(w, (uint64_t)field << 3 | wt);
}
static void w_int(wb_t *w, unsigned field, int64_t v)
{
    w_tag(w, field, 0);
    w_varint(w, (uint64_t)v);
}
static void w_bytes(wb_t *w, unsigned field, const void *p, size_t n)
{
    w_tag(w, field, 2);
    w_varint(w, n);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void w_str(wb_t *w, unsigned field, const char *s)
{
    w_bytes(w, field, s, strlen(s));
}
static void w_sub(wb_t *w, unsigned field, const wb_t *sub)
{
    w_bytes(w, field, sub->b, sub->n);
}
/* customer_id C1, event_time_ms 1763800000000 */
static void w_head(wb_t *w)
{
    w->n = 0;
    w_str(w, 2, "C1");
    w_int(w, 3, 1763800000000LL);
}

static int decode(const wb_t *w, vane_event_t *ev, vane_decode_error_t *err)
{
    return vane_decoder_decode(dec, w->b, w->n, VANE_FORMAT_PROTOBUF, ev, err);
}

static void expect(const wb_t *w, vane_reject_t want, const char *field, int line)
{
    vane_event_t ev;
    vane_decode_error_t err;
    int rc = decode(w, &ev, &err);
    if (want == VANE_REJECT_NONE) {
        if (rc)
            fail_msg("line %d: expected success, got %s (%s): %s", line,
                     vane_reject_name(err.reason), err.field, err.msg);
        return;
    }
    if (rc == 0)
        fail_msg("line %d: expected %s, got success", line, vane_reject_name(want));
    if (err.reason != want || (field && strcmp(field, err.field) != 0))
        fail_msg("line %d: expected %s (%s), got %s (%s): %s", line, vane_reject_name(want),
                 field ? field : "", vane_reject_name(err.reason), err.field, err.msg);
    assert_true(err.msg[0] != '\0');
}
#define EXPECT(w, why, field) expect(w, VANE_REJECT_##why, field, __LINE__)

static void assert_str(vane_str_t s, const char *want)
{
    if (!vane_str_eq(s, vane_str_c(want)))
        fail_msg("got \"%.*s\", want \"%s\"", (int)s.len, s.p ? s.p : "", want);
}

/* Every field of every payload, packed by protobuf-c itself. */
static void test_every_field_from_protobuf_c(void **state)
{
    (void)state;
    uint8_t buf[1024];
    vane_event_t ev;
    vane_decode_error_t err;

    Vane__V1__Transaction txn = VANE__V1__TRANSACTION__INIT;
    txn.kind = VANE__V1__TRANSACTION__KIND__TRANSFER_OUT;
    txn.category = VANE__V1__PRODUCT_CATEGORY__PRECIOUS_METAL;
    txn.product_id = "GOLD-1";
    txn.amount_minor = 99999;
    txn.currency = "HKD";
    txn.balance_after_case = VANE__V1__TRANSACTION__BALANCE_AFTER_BALANCE_AFTER_MINOR;
    txn.balance_after_minor = 0;
    txn.counterparty_bank = "BOC";
    Vane__V1__Event m = VANE__V1__EVENT__INIT;
    m.event_id = "e-42";
    m.customer_id = "C1001";
    m.event_time_ms = 1763800000000LL;
    m.channel = VANE__V1__CHANNEL__PHONE;
    m.payload_case = VANE__V1__EVENT__PAYLOAD_TXN;
    m.txn = &txn;
    size_t n = vane__v1__event__pack(&m, buf);
    assert_int_equal(vane_decoder_decode(dec, buf, n, VANE_FORMAT_PROTOBUF, &ev, &err), 0);
    assert_str(ev.event_id, "e-42");
    assert_str(ev.customer_id, "C1001");
    assert_int_equal(ev.event_time_ms, 1763800000000LL);
    assert_int_equal(ev.channel, VANE_CHANNEL_PHONE);
    assert_int_equal(ev.type, VANE_EVENT_TXN);
    assert_int_equal(ev.txn.kind, VANE_TXN_TRANSFER_OUT);
    assert_int_equal(ev.txn.category, VANE_CAT_PRECIOUS_METAL);
    assert_str(ev.txn.product_id, "GOLD-1");
    assert_int_equal(ev.txn.amount_minor, 99999);
    assert_str(ev.txn.currency, "HKD");
    assert_true(ev.txn.has_balance_after); /* a zero balance that is present */
    assert_int_equal(ev.txn.balance_after_minor, 0);
    assert_str(ev.txn.counterparty_bank, "BOC");

    txn.balance_after_case = VANE__V1__TRANSACTION__BALANCE_AFTER__NOT_SET;
    n = vane__v1__event__pack(&m, buf);
    assert_int_equal(vane_decoder_decode(dec, buf, n, VANE_FORMAT_PROTOBUF, &ev, &err), 0);
    assert_false(ev.txn.has_balance_after);

    Vane__V1__Login login = VANE__V1__LOGIN__INIT;
    login.success = 1;
    login.device_id = "dev-1";
    m.payload_case = VANE__V1__EVENT__PAYLOAD_LOGIN;
    m.login = &login;
    n = vane__v1__event__pack(&m, buf);
    assert_int_equal(vane_decoder_decode(dec, buf, n, VANE_FORMAT_PROTOBUF, &ev, &err), 0);
    assert_int_equal(ev.type, VANE_EVENT_LOGIN);
    assert_true(ev.login.success);
    assert_str(ev.login.device_id, "dev-1");

    Vane__V1__Engagement eng = VANE__V1__ENGAGEMENT__INIT;
    eng.kind = VANE__V1__ENGAGEMENT__KIND__SURVEY;
    eng.category = VANE__V1__PRODUCT_CATEGORY__BOND;
    eng.product_id = "B-7";
    eng.service = "wealth-desk";
    eng.has_score_case = VANE__V1__ENGAGEMENT__HAS_SCORE_SCORE;
    eng.score = 0;
    m.payload_case = VANE__V1__EVENT__PAYLOAD_ENGAGEMENT;
    m.engagement = &eng;
    n = vane__v1__event__pack(&m, buf);
    assert_int_equal(vane_decoder_decode(dec, buf, n, VANE_FORMAT_PROTOBUF, &ev, &err), 0);
    assert_int_equal(ev.type, VANE_EVENT_ENGAGEMENT);
    assert_int_equal(ev.eng.kind, VANE_ENG_SURVEY);
    assert_int_equal(ev.eng.category, VANE_CAT_BOND);
    assert_str(ev.eng.product_id, "B-7");
    assert_str(ev.eng.service, "wealth-desk");
    assert_true(ev.eng.has_score);
    assert_int_equal(ev.eng.score, 0);

    eng.has_score_case = VANE__V1__ENGAGEMENT__HAS_SCORE__NOT_SET;
    n = vane__v1__event__pack(&m, buf);
    assert_int_equal(vane_decoder_decode(dec, buf, n, VANE_FORMAT_PROTOBUF, &ev, &err),
                     VANE_EMISSING); /* SURVEY needs a score */
    assert_string_equal(err.field, "engagement.score");

    Vane__V1__Profile prof = VANE__V1__PROFILE__INIT;
    prof.segment = "mass";
    prof.since_ms = 1000;
    prof.manager_id = "RM-2";
    prof.tier = "front";
    m.payload_case = VANE__V1__EVENT__PAYLOAD_PROFILE;
    m.profile = &prof;
    n = vane__v1__event__pack(&m, buf);
    assert_int_equal(vane_decoder_decode(dec, buf, n, VANE_FORMAT_PROTOBUF, &ev, &err), 0);
    assert_int_equal(ev.type, VANE_EVENT_PROFILE);
    assert_str(ev.profile.segment, "mass");
    assert_int_equal(ev.profile.since_ms, 1000);
    assert_str(ev.profile.manager_id, "RM-2");
    assert_str(ev.profile.tier, "front");
}

/* Our hand-written encoder produces exactly protobuf-c's bytes. */
static void to_pb(const vane_event_t *ev, Vane__V1__Event *m, Vane__V1__Transaction *t,
                  Vane__V1__Login *l, Vane__V1__Engagement *g, Vane__V1__Profile *p,
                  char strs[][80])
{
    int k = 0;
#define S(v) (vane_str_copy(strs[k], 80, (v)), strs[k++])
    m->event_id = S(ev->event_id);
    m->customer_id = S(ev->customer_id);
    m->event_time_ms = ev->event_time_ms;
    m->channel = (Vane__V1__Channel)ev->channel;
    switch (ev->type) {
    case VANE_EVENT_TXN:
        m->payload_case = VANE__V1__EVENT__PAYLOAD_TXN;
        m->txn = t;
        t->kind = (Vane__V1__Transaction__Kind)ev->txn.kind;
        t->category = (Vane__V1__ProductCategory)ev->txn.category;
        t->product_id = S(ev->txn.product_id);
        t->amount_minor = ev->txn.amount_minor;
        t->currency = S(ev->txn.currency);
        if (ev->txn.has_balance_after) {
            t->balance_after_case = VANE__V1__TRANSACTION__BALANCE_AFTER_BALANCE_AFTER_MINOR;
            t->balance_after_minor = ev->txn.balance_after_minor;
        }
        t->counterparty_bank = S(ev->txn.counterparty_bank);
        break;
    case VANE_EVENT_LOGIN:
        m->payload_case = VANE__V1__EVENT__PAYLOAD_LOGIN;
        m->login = l;
        l->success = ev->login.success;
        l->device_id = S(ev->login.device_id);
        break;
    case VANE_EVENT_ENGAGEMENT:
        m->payload_case = VANE__V1__EVENT__PAYLOAD_ENGAGEMENT;
        m->engagement = g;
        g->kind = (Vane__V1__Engagement__Kind)ev->eng.kind;
        g->category = (Vane__V1__ProductCategory)ev->eng.category;
        g->product_id = S(ev->eng.product_id);
        g->service = S(ev->eng.service);
        if (ev->eng.has_score) {
            g->has_score_case = VANE__V1__ENGAGEMENT__HAS_SCORE_SCORE;
            g->score = ev->eng.score;
        }
        break;
    case VANE_EVENT_PROFILE:
        m->payload_case = VANE__V1__EVENT__PAYLOAD_PROFILE;
        m->profile = p;
        p->segment = S(ev->profile.segment);
        p->since_ms = ev->profile.since_ms;
        p->manager_id = S(ev->profile.manager_id);
        p->tier = S(ev->profile.tier);
        break;
    case VANE_EVENT_NONE:
        break;
    }
#undef S
}

static void test_encoder_matches_protobuf_c(void **state)
{
    (void)state;
    vane_event_t evs[6];
    memset(evs, 0, sizeof evs);
    for (int i = 0; i < 6; i++) {
        evs[i].event_id = vane_str_c("e-1");
        evs[i].customer_id = vane_str_c("C1001");
        evs[i].event_time_ms = 1763800000000LL;
        evs[i].channel = VANE_CHANNEL_WEB;
    }
    evs[0].type = VANE_EVENT_TXN;
    evs[0].txn.kind = VANE_TXN_PURCHASE;
    evs[0].txn.category = VANE_CAT_WEALTH;
    evs[0].txn.product_id = vane_str_c("W-1");
    evs[0].txn.amount_minor = 100000000000000000LL;
    evs[0].txn.currency = vane_str_c("CNY");
    evs[0].txn.has_balance_after = true;
    evs[0].txn.balance_after_minor = -1; /* ten-byte varint */
    evs[0].txn.counterparty_bank = vane_str_c("X");
    evs[1].type = VANE_EVENT_LOGIN;
    evs[1].login.success = true;
    evs[1].login.device_id = vane_str_c("d");
    evs[2].type = VANE_EVENT_ENGAGEMENT;
    evs[2].eng.kind = VANE_ENG_SURVEY;
    evs[2].eng.has_score = true;
    evs[2].eng.score = 0;
    evs[3].type = VANE_EVENT_ENGAGEMENT;
    evs[3].eng.kind = VANE_ENG_PRODUCT_VIEW;
    evs[3].eng.category = VANE_CAT_FOREX;
    evs[3].eng.service = vane_str_c("fx");
    evs[4].type = VANE_EVENT_PROFILE;
    evs[4].profile.segment = vane_str_c("mass");
    evs[4].profile.since_ms = 5;
    evs[4].profile.tier = vane_str_c("t");
    evs[5].type = VANE_EVENT_PROFILE; /* a sub-message over 127 bytes: two-byte length */
    evs[5].profile.segment = vane_str_c("sssssssssssssssssssssssssssssssssssssssssssssssssssssss");
    evs[5].profile.manager_id =
        vane_str_c("mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm");
    evs[5].profile.tier = vane_str_c("tttttttttttttttttttttttttttttttttttttttttttttttttttttttt");
    vane_buf_t out = VANE_BUF_INIT;
    for (int i = 0; i < 6; i++) {
        Vane__V1__Event m = VANE__V1__EVENT__INIT;
        Vane__V1__Transaction t = VANE__V1__TRANSACTION__INIT;
        Vane__V1__Login l = VANE__V1__LOGIN__INIT;
        Vane__V1__Engagement g = VANE__V1__ENGAGEMENT__INIT;
        Vane__V1__Profile p = VANE__V1__PROFILE__INIT;
        char strs[16][80];
        to_pb(&evs[i], &m, &t, &l, &g, &p, strs);
        uint8_t want[1024];
        size_t wn = vane__v1__event__pack(&m, want);
        vane_buf_reset(&out);
        assert_int_equal(vane_codec_encode_event(&evs[i], VANE_FORMAT_PROTOBUF, &out), 0);
        assert_int_equal(out.len, wn);
        assert_memory_equal(out.data, want, wn);
    }
    vane_buf_free(&out);
}

static void test_required_and_values(void **state)
{
    (void)state;
    wb_t w, sub;
    /* a minimal valid login */
    w_head(&w);
    sub.n = 0;
    w_sub(&w, 11, &sub);
    EXPECT(&w, NONE, NULL);

    w.n = 0;
    w_int(&w, 3, 5);
    w_sub(&w, 11, &sub);
    EXPECT(&w, MISSING_FIELD, "customer_id");
    w.n = 0;
    w_str(&w, 2, "C1");
    w_sub(&w, 11, &sub);
    EXPECT(&w, MISSING_FIELD, "event_time_ms");
    w.n = 0;
    w_str(&w, 2, "C1");
    w_int(&w, 3, -5);
    w_sub(&w, 11, &sub);
    EXPECT(&w, BAD_VALUE, "event_time_ms");
    w_head(&w);
    EXPECT(&w, MISSING_FIELD, "payload");

    /* txn */
    w_head(&w);
    sub.n = 0;
    w_int(&sub, 4, 5);
    w_sub(&w, 10, &sub);
    EXPECT(&w, MISSING_FIELD, "txn.kind");
    w_head(&w);
    sub.n = 0;
    w_int(&sub, 1, 1);
    w_int(&sub, 4, -1);
    w_sub(&w, 10, &sub);
    EXPECT(&w, BAD_VALUE, "txn.amount_minor");
    w_head(&w);
    sub.n = 0;
    w_int(&sub, 1, 1);
    w_int(&sub, 4, 100000000000000001LL);
    w_sub(&w, 10, &sub);
    EXPECT(&w, BAD_VALUE, "txn.amount_minor");
    w_head(&w);
    sub.n = 0;
    w_int(&sub, 1, 1);
    w_int(&sub, 4, 100000000000000000LL);
    w_sub(&w, 10, &sub);
    EXPECT(&w, NONE, NULL);

    /* engagement score */
    int64_t scores[] = {11, -1, 1000, INT32_MIN};
    for (size_t i = 0; i < 4; i++) {
        w_head(&w);
        sub.n = 0;
        w_int(&sub, 1, 8);
        w_int(&sub, 5, scores[i]);
        w_sub(&w, 12, &sub);
        EXPECT(&w, BAD_VALUE, "engagement.score");
    }
    w_head(&w);
    sub.n = 0;
    w_int(&sub, 1, 8);
    w_int(&sub, 5, 10);
    w_sub(&w, 12, &sub);
    EXPECT(&w, NONE, NULL);
    w_head(&w);
    sub.n = 0;
    w_int(&sub, 5, 10);
    w_sub(&w, 12, &sub);
    EXPECT(&w, MISSING_FIELD, "engagement.kind");

    /* profile */
    w_head(&w);
    sub.n = 0;
    w_int(&sub, 2, -1);
    w_sub(&w, 13, &sub);
    EXPECT(&w, BAD_VALUE, "profile.since_ms");
}

static void test_unknown_enums(void **state)
{
    (void)state;
    wb_t w, sub;
    struct {
        unsigned payload, field;
        int64_t v;
        const char *path;
    } cases[] = {
        {0, 4, 6, "channel"},          {0, 4, 99, "channel"},
        {0, 4, -1, "channel"},         {10, 1, 10, "txn.kind"},
        {10, 1, -3, "txn.kind"},       {10, 2, 12, "txn.category"},
        {12, 1, 9, "engagement.kind"}, {12, 2, 1000, "engagement.category"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        w_head(&w);
        sub.n = 0;
        if (cases[i].payload == 0) {
            w_int(&w, cases[i].field, cases[i].v);
            w_sub(&w, 11, &sub);
        } else {
            if (cases[i].field != 1)
                w_int(&sub, 1, 1); /* a valid kind */
            w_int(&sub, cases[i].field, cases[i].v);
            w_sub(&w, cases[i].payload, &sub);
        }
        expect(&w, VANE_REJECT_UNKNOWN_ENUM, cases[i].path, (int)i);
    }
}

static void test_strings(void **state)
{
    (void)state;
    wb_t w, sub;
    sub.n = 0;
    /* non-UTF-8 */
    w.n = 0;
    w_str(&w, 2, "C\xff");
    w_int(&w, 3, 5);
    w_sub(&w, 11, &sub);
    EXPECT(&w, NOT_UTF8, "customer_id");
    w_head(&w);
    w_str(&w, 1, "\xed\xa0\x80"); /* an encoded surrogate */
    w_sub(&w, 11, &sub);
    EXPECT(&w, NOT_UTF8, "event_id");
    /* an embedded NUL must not silently truncate the id */
    w.n = 0;
    w_bytes(&w, 2, "C1\0evil", 7);
    w_int(&w, 3, 5);
    w_sub(&w, 11, &sub);
    EXPECT(&w, BAD_VALUE, "customer_id");
    w_head(&w);
    sub.n = 0;
    w_bytes(&sub, 2, "d\0", 2);
    w_sub(&w, 11, &sub);
    EXPECT(&w, BAD_VALUE, "login.device_id");
    /* lengths */
    char id[80];
    memset(id, 'x', sizeof id);
    id[63] = '\0';
    w.n = 0;
    w_str(&w, 2, id);
    w_int(&w, 3, 5);
    sub.n = 0;
    w_sub(&w, 11, &sub);
    EXPECT(&w, NONE, NULL);
    id[63] = 'x';
    id[64] = '\0';
    w.n = 0;
    w_str(&w, 2, id);
    w_int(&w, 3, 5);
    w_sub(&w, 11, &sub);
    EXPECT(&w, TOO_LONG, "customer_id");
    w_head(&w);
    sub.n = 0;
    w_int(&sub, 1, 1);
    w_str(&sub, 7, id);
    w_sub(&w, 10, &sub);
    EXPECT(&w, TOO_LONG, "txn.counterparty_bank");
}

static void test_malformed(void **state)
{
    (void)state;
    wb_t w, sub;
    vane_event_t ev;
    vane_decode_error_t err;
    assert_int_equal(vane_decoder_decode(dec, "", 0, VANE_FORMAT_PROTOBUF, &ev, &err),
                     VANE_EMISSING);
    assert_int_equal(err.reason, VANE_REJECT_EMPTY);

    /* customer_id sent as a varint: wrong wire type */
    w.n = 0;
    w_int(&w, 2, 7);
    w_int(&w, 3, 5);
    EXPECT(&w, PB_MALFORMED, NULL);
    /* a length prefix beyond the end */
    w.n = 0;
    w_tag(&w, 2, 2);
    w_varint(&w, 50);
    memcpy(w.b + w.n, "C1", 2);
    w.n += 2;
    EXPECT(&w, PB_MALFORMED, NULL);
    /* an 11-byte varint */
    w.n = 0;
    w_tag(&w, 3, 0);
    memset(w.b + w.n, 0xff, 10);
    w.n += 10;
    w.b[w.n++] = 0x01;
    EXPECT(&w, PB_MALFORMED, NULL);
    /* field number 0, and the reserved wire types 6 and 7 */
    uint8_t bad_tags[] = {0x00, 0x0e, 0x0f, 0x1e, 0x1f};
    for (size_t i = 0; i < sizeof bad_tags; i++) {
        w_head(&w);
        w.b[w.n++] = bad_tags[i];
        w.b[w.n++] = 0x01;
        expect(&w, VANE_REJECT_PB_MALFORMED, NULL, (int)(1000 + i));
    }
    /* a payload that is not a valid sub-message */
    w_head(&w);
    w_bytes(&w, 10, "\xff\xff", 2);
    EXPECT(&w, PB_MALFORMED, NULL);

    /* unknown fields of every wire type are skipped (forward compatibility) */
    w_head(&w);
    w_int(&w, 99, 12345);
    w_str(&w, 100, "future");
    w_tag(&w, 101, 1);
    memcpy(w.b + w.n, "12345678", 8);
    w.n += 8;
    w_tag(&w, 102, 5);
    memcpy(w.b + w.n, "1234", 4);
    w.n += 4;
    sub.n = 0;
    w_int(&sub, 50, 1);
    w_sub(&w, 11, &sub);
    EXPECT(&w, NONE, NULL);

    /* two payloads: protobuf's oneof rule, the last one wins */
    w_head(&w);
    sub.n = 0;
    w_int(&sub, 1, 1);
    w_sub(&w, 10, &sub);
    sub.n = 0;
    w_str(&sub, 2, "dev");
    w_sub(&w, 11, &sub);
    assert_int_equal(decode(&w, &ev, &err), 0);
    assert_int_equal(ev.type, VANE_EVENT_LOGIN);
    assert_str(ev.login.device_id, "dev");

    /* over max_bytes */
    vane_decoder_t *small = vane_decoder_new(16);
    w_head(&w);
    sub.n = 0;
    w_sub(&w, 11, &sub);
    w_str(&w, 100, "padding-padding");
    assert_int_equal(vane_decoder_decode(small, w.b, w.n, VANE_FORMAT_PROTOBUF, &ev, &err),
                     VANE_ETOOBIG);
    assert_int_equal(err.reason, VANE_REJECT_TOO_LARGE);
    vane_decoder_free(small);
}

/* Every prefix of a valid message either decodes (a cut at a field boundary can be valid) or
 * is rejected with a reason; none crashes. Cuts inside a string must be malformed. */
static void test_truncation(void **state)
{
    (void)state;
    wb_t w, sub;
    w.n = 0;
    w_str(&w, 1, "e-000017");
    w_str(&w, 2, "C1001");
    w_int(&w, 3, 1763800000000LL);
    w_int(&w, 4, 2);
    sub.n = 0;
    w_int(&sub, 1, 6);
    w_int(&sub, 2, 4);
    w_str(&sub, 3, "F-123");
    w_int(&sub, 4, 5000000);
    w_str(&sub, 5, "CNY");
    w_sub(&w, 10, &sub);
    int ok = 0, rejected = 0;
    for (size_t cut = 1; cut <= w.n; cut++) {
        vane_event_t ev;
        vane_decode_error_t err;
        uint8_t *copy = malloc(cut); /* exact size, so ASan sees any over-read */
        memcpy(copy, w.b, cut);
        int rc = vane_decoder_decode(dec, copy, cut, VANE_FORMAT_PROTOBUF, &ev, &err);
        free(copy);
        if (rc == 0) {
            ok++;
        } else {
            rejected++;
            assert_true(err.reason != VANE_REJECT_NONE);
        }
        if (cut == 5) /* inside "e-000017" */
            assert_int_equal(err.reason, VANE_REJECT_PB_MALFORMED);
    }
    assert_int_equal(ok, 1); /* only the whole message */
    assert_int_equal(rejected, (int)w.n - 1);
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_random_bytes(void **state)
{
    (void)state;
    uint8_t buf[256];
    int ok = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = 1 + next_rand() % sizeof buf;
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)next_rand();
        /* half the time, start from a valid head so the parser gets further in */
        if (i % 2) {
            wb_t w;
            w_head(&w);
            memcpy(buf, w.b, w.n < n ? w.n : n);
        }
        vane_event_t ev;
        vane_decode_error_t err;
        int rc = vane_decoder_decode(dec, buf, n, VANE_FORMAT_PROTOBUF, &ev, &err);
        if (rc == 0)
            ok++;
        else
            assert_true(err.reason > VANE_REJECT_NONE && err.reason < VANE_REJECT__COUNT);
        rc = vane_decoder_decode(dec, buf, n, VANE_FORMAT_JSON, &ev, &err);
        assert_true(rc == 0 || err.reason != VANE_REJECT_NONE);
    }
    (void)ok;
}

/* Thousands of repeated empty payloads (which made protobuf-c's arena run out) decode in
 * constant memory: the event is rejected only for what it lacks. */
static void test_repeated_payloads(void **state)
{
    (void)state;
    wb_t w, sub;
    w_head(&w);
    while (w.n + 2 <= 4096) {
        w.b[w.n++] = 0x52; /* field 10 (txn), length-delimited */
        w.b[w.n++] = 0x00; /* empty */
    }
    EXPECT(&w, MISSING_FIELD, "txn.kind");
    /* a oneof member seen twice: the second replaces the first (no merge, as protobuf-c) */
    w_head(&w);
    sub.n = 0;
    w_int(&sub, 1, 8);
    w_sub(&w, 10, &sub);
    sub.n = 0;
    w_int(&sub, 4, 250);
    w_sub(&w, 10, &sub);
    vane_event_t ev;
    vane_decode_error_t err;
    vane_pb_dec_t *pd = vane__pb_dec_new(4096);
    memset(&ev, 0, sizeof ev);
    assert_int_equal(vane__pb_decode_event(pd, w.b, w.n, &ev, &err), 0);
    assert_int_equal(ev.type, VANE_EVENT_TXN);
    assert_int_equal(ev.txn.kind, 0);
    assert_int_equal(ev.txn.amount_minor, 250);
    vane__pb_dec_free(pd);
    EXPECT(&w, MISSING_FIELD, "txn.kind");
}

/* Random field from the schema (or an unknown one), with a plausible or odd value. */
static void w_random_field(wb_t *w, unsigned depth)
{
    unsigned r = next_rand() % 16;
    if (depth == 0 && r < 4) { /* a payload */
        wb_t sub;
        sub.n = 0;
        unsigned k = next_rand() % 5;
        for (unsigned i = 0; i < k; i++)
            w_random_field(&sub, 1);
        w_sub(w, 10 + next_rand() % 4, &sub);
        return;
    }
    unsigned field = r < 14 ? 1 + next_rand() % 7 : 5 + next_rand() % 200;
    switch (next_rand() % 6) {
    case 0:
    case 1:
        w_int(w, field, (int64_t)(next_rand() % 12));
        break;
    case 2:
        w_int(w, field, (int64_t)((uint64_t)next_rand() << 32 | next_rand()));
        break;
    case 3: {
        char s[12];
        size_t n = next_rand() % sizeof s;
        for (size_t i = 0; i < n; i++)
            s[i] = (char)(next_rand() % 4 ? 'a' + next_rand() % 26 : next_rand());
        w_bytes(w, field, s, n);
        break;
    }
    case 4: /* fixed64 / fixed32 */
        w_tag(w, field, next_rand() % 2 ? 1 : 5);
        for (int i = 0; i < 8; i++)
            w->b[w->n++] = (uint8_t)next_rand();
        w->n -= next_rand() % 2 ? 4 : 0;
        break;
    default:
        w_tag(w, field, next_rand() % 8);
        w_varint(w, next_rand() % 300);
        break;
    }
}

static void assert_same_str(vane_str_t a, vane_str_t b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.p, b.p, a.len);
}

/* The wire reader against protobuf-c's generated unpack (an independent implementation) on
 * random schema-shaped messages, some of them mutated: both accept or both reject, and what
 * they accept decodes to the same event. */
static void test_reader_matches_protobuf_c(void **state)
{
    (void)state;
    vane_pb_dec_t *pd = vane__pb_dec_new(4096);
    assert_non_null(pd);
    int both_ok = 0, both_bad = 0;
    for (int i = 0; i < 100000; i++) {
        wb_t w;
        w.n = 0;
        unsigned k = 1 + next_rand() % 8;
        for (unsigned f = 0; f < k; f++)
            w_random_field(&w, 0);
        switch (next_rand() % 5) { /* mutate three in five, each way a fifth */
        case 0:
            if (w.n)
                w.b[next_rand() % w.n] ^= (uint8_t)(1u << (next_rand() % 8));
            break;
        case 1:
            if (w.n)
                w.n = next_rand() % w.n;
            break;
        case 2: { /* a run of continuation bytes: over-long varints, tags and lengths */
            size_t at = w.n ? next_rand() % w.n : 0, run = 1 + next_rand() % 11;
            memmove(w.b + at + run, w.b + at, w.n - at);
            for (size_t x = 0; x < run; x++)
                w.b[at + x] = (uint8_t)(0x80 | next_rand());
            w.n += run;
            break;
        }
        default:
            break;
        }
        vane_event_t a, b;
        vane_decode_error_t ea, eb;
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        int ra = vane__pb_decode_event(pd, w.b, w.n, &a, &ea);
        int rb = vane__pb_decode_event_reference(pd, w.b, w.n, &b, &eb);
        if (rb != 0 && eb.reason == VANE_REJECT_TOO_LARGE)
            continue; /* the reference's arena, not the format */
        if ((ra == 0) != (rb == 0)) {
            for (size_t x = 0; x < w.n; x++)
                fprintf(stderr, "%02x ", w.b[x]);
            fprintf(stderr, "\n");
        }
        if ((ra == 0) != (rb == 0))
            fail_msg("message %d (%zu bytes): reader %s, protobuf-c %s", i, w.n,
                     ra ? ea.msg : "accepts", rb ? eb.msg : "accepts");
        if (ra) {
            assert_int_equal(ea.reason, VANE_REJECT_PB_MALFORMED);
            both_bad++;
            continue;
        }
        both_ok++;
        assert_same_str(a.event_id, b.event_id);
        assert_same_str(a.customer_id, b.customer_id);
        assert_int_equal(a.event_time_ms, b.event_time_ms);
        assert_int_equal(a.channel, b.channel);
        assert_int_equal(a.type, b.type);
        switch (a.type) {
        case VANE_EVENT_TXN:
            assert_int_equal(a.txn.kind, b.txn.kind);
            assert_int_equal(a.txn.category, b.txn.category);
            assert_same_str(a.txn.product_id, b.txn.product_id);
            assert_int_equal(a.txn.amount_minor, b.txn.amount_minor);
            assert_same_str(a.txn.currency, b.txn.currency);
            assert_int_equal(a.txn.has_balance_after, b.txn.has_balance_after);
            assert_int_equal(a.txn.balance_after_minor, b.txn.balance_after_minor);
            assert_same_str(a.txn.counterparty_bank, b.txn.counterparty_bank);
            break;
        case VANE_EVENT_LOGIN:
            assert_int_equal(a.login.success, b.login.success);
            assert_same_str(a.login.device_id, b.login.device_id);
            break;
        case VANE_EVENT_ENGAGEMENT:
            assert_int_equal(a.eng.kind, b.eng.kind);
            assert_int_equal(a.eng.category, b.eng.category);
            assert_same_str(a.eng.product_id, b.eng.product_id);
            assert_same_str(a.eng.service, b.eng.service);
            assert_int_equal(a.eng.has_score, b.eng.has_score);
            assert_int_equal(a.eng.score, b.eng.score);
            break;
        case VANE_EVENT_PROFILE:
            assert_same_str(a.profile.segment, b.profile.segment);
            assert_int_equal(a.profile.since_ms, b.profile.since_ms);
            assert_same_str(a.profile.manager_id, b.profile.manager_id);
            assert_same_str(a.profile.tier, b.profile.tier);
            break;
        default:
            break;
        }
    }
    /* the generator reaches both sides of the decision */
    assert_true(both_ok > 5000);
    assert_true(both_bad > 5000);
    vane__pb_dec_free(pd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_from_protobuf_c),
        cmocka_unit_test(test_encoder_matches_protobuf_c),
        cmocka_unit_test(test_required_and_values),
        cmocka_unit_test(test_unknown_enums),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_repeated_payloads),
        cmocka_unit_test(test_reader_matches_protobuf_c),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
