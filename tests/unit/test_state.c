/* test_state.c - CustomerState encode/decode: round trip, versions, bounds, size report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "engine/rules.h"
#include "engine/state.h"
#include "support/eng_events.h"
#include "util/err.h"
#include "vane/v1/state.pb-c.h"

/* A typical active customer: a profile, some logins, purchases, views, a redemption surge. */
static void typical(vane_state_t *cs, vane_engine_t *eng, int seed)
{
    vane_alert_batch_t *b = calloc(1, sizeof *b);
    int64_t t = ENG_T0;
    vane_event_t ev = eng_profile("p", cs->customer_id, t, "affluent", t - 400 * ENG_D, "line");
    vane_engine_process(eng, cs, &ev, 0, b);
    for (int i = 0; i < 60; i++) {
        t += ENG_D / 2 + (seed * 7919 + i * 104729) % ENG_H;
        const char *id = eng_id("e", i);
        switch (i % 5) {
        case 0:
        case 1:
            ev = eng_login(id, cs->customer_id, t, true);
            break;
        case 2:
            ev = eng_txn(id, cs->customer_id, t, VANE_TXN_PURCHASE, 1 + (i % 4), 100000 + i);
            break;
        case 3:
            ev = eng_eng(id, cs->customer_id, t, VANE_ENG_PRODUCT_VIEW, VANE_CAT_FUND);
            break;
        default:
            ev = eng_txn(id, cs->customer_id, t, VANE_TXN_REDEMPTION, VANE_CAT_FUND, 5000 + i);
            break;
        }
        b->count = 0;
        vane_engine_process(eng, cs, &ev, 0, b);
    }
    free(b);
}

/* The dedup ring is persisted oldest first, so its slot layout may differ after a round trip;
 * put it in canonical order (oldest first from slot 0) before comparing bytes. */
static void canon_dedup(vane_state_t *cs)
{
    uint64_t tmp[VANE_DEDUP_RING];
    unsigned n = 0;
    for (unsigned i = 0; i < VANE_DEDUP_RING; i++) {
        uint64_t h = cs->f.dedup[(cs->f.dedup_n + i) % VANE_DEDUP_RING];
        if (h)
            tmp[n++] = h;
    }
    memset(cs->f.dedup, 0, sizeof cs->f.dedup);
    memcpy(cs->f.dedup, tmp, n * sizeof tmp[0]);
    cs->f.dedup_n = (uint8_t)(n % VANE_DEDUP_RING);
}

static void test_roundtrip(void **st)
{
    (void)st;
    vane_ruleset_t *rs = eng_rules_default();
    vane_engine_t *eng = vane_engine_new(rs);
    vane_state_t *cs = calloc(1, sizeof *cs), *back = calloc(1, sizeof *back);
    vane_state_init(cs, vane_str_c("C1001"));
    cs->last_partition = 3;
    cs->last_offset = 123456789;
    typical(cs, eng, 1);
    vane_buf_t buf = VANE_BUF_INIT;
    assert_int_equal(vane_state_encode(cs, &buf), 0);
    assert_true(buf.len > 0);
    assert_int_equal(vane_state_decode(back, buf.data, buf.len), 0);
    /* Field by field through the fixed layout: everything must survive (padding is zeroed by
     * init and decode both start from memset). */
    canon_dedup(cs);
    canon_dedup(back);
    assert_memory_equal(cs, back, sizeof *cs);
    /* Encoding the decoded state gives the same bytes. */
    vane_buf_t buf2 = VANE_BUF_INIT;
    assert_int_equal(vane_state_encode(back, &buf2), 0);
    assert_int_equal(buf.len, buf2.len);
    assert_memory_equal(buf.data, buf2.data, buf.len);
    vane_buf_free(&buf);
    vane_buf_free(&buf2);
    free(cs);
    free(back);
    vane_engine_free(eng);
    vane_ruleset_free(rs);
}

static void test_empty_roundtrip(void **st)
{
    (void)st;
    vane_state_t cs, back;
    vane_state_init(&cs, vane_str_c("X"));
    vane_buf_t buf = VANE_BUF_INIT;
    assert_int_equal(vane_state_encode(&cs, &buf), 0);
    memset(&back, 0x5a, sizeof back);
    assert_int_equal(vane_state_decode(&back, buf.data, buf.len), 0);
    assert_memory_equal(&cs, &back, sizeof cs);
    vane_buf_free(&buf);
}

static void test_refuses_newer_version(void **st)
{
    (void)st;
    Vane__V1__CustomerState m;
    vane__v1__customer_state__init(&m);
    m.version = VANE_STATE_VERSION + 1;
    m.customer_id = (char *)"C1";
    uint8_t out[256];
    size_t n = vane__v1__customer_state__pack(&m, out);
    vane_state_t cs;
    assert_int_equal(vane_state_decode(&cs, out, n), VANE_EVERSION);
    m.version = VANE_STATE_VERSION;
    n = vane__v1__customer_state__pack(&m, out);
    assert_int_equal(vane_state_decode(&cs, out, n), 0);
    assert_string_equal(cs.customer_id, "C1");
}

static void test_bounds(void **st)
{
    (void)st;
    uint8_t out[512];
    size_t n;
    vane_state_t cs;
    Vane__V1__CustomerState m;
    /* Too many holdings entries. */
    vane__v1__customer_state__init(&m);
    m.version = 1;
    int64_t h[40] = {0};
    m.n_holdings = 40;
    m.holdings = h;
    n = vane__v1__customer_state__pack(&m, out);
    assert_int_equal(vane_state_decode(&cs, out, n), VANE_ERANGE);
    /* An episode of an unknown kind. */
    vane__v1__customer_state__init(&m);
    m.version = 1;
    Vane__V1__Episode ep, *epp = &ep;
    vane__v1__episode__init(&ep);
    ep.kind = 99;
    m.n_episodes = 1;
    m.episodes = &epp;
    n = vane__v1__customer_state__pack(&m, out);
    assert_int_equal(vane_state_decode(&cs, out, n), VANE_ERANGE);
    /* A survey score of 11 / a risk of 2. */
    vane__v1__customer_state__init(&m);
    m.version = 1;
    m.last_survey = 11;
    n = vane__v1__customer_state__pack(&m, out);
    assert_int_equal(vane_state_decode(&cs, out, n), VANE_ERANGE);
    vane__v1__customer_state__init(&m);
    m.version = 1;
    m.risk = 2.0f;
    n = vane__v1__customer_state__pack(&m, out);
    assert_int_equal(vane_state_decode(&cs, out, n), VANE_ERANGE);
    /* Window entries out of order, an unknown class, a customer id that is too long. */
    vane__v1__customer_state__init(&m);
    m.version = 1;
    Vane__V1__WindowEntry e1, e2, *ep2[2] = {&e1, &e2};
    vane__v1__window_entry__init(&e1);
    vane__v1__window_entry__init(&e2);
    e1.time_ms = 20;
    e2.time_ms = 10;
    Vane__V1__Window w, *wp = &w;
    vane__v1__window__init(&w);
    w.cls = 6;
    w.n_entries = 2;
    w.entries = ep2;
    m.n_windows = 1;
    m.windows = &wp;
    n = vane__v1__customer_state__pack(&m, out);
    assert_int_equal(vane_state_decode(&cs, out, n), VANE_ERANGE);
    w.cls = 200;
    e2.time_ms = 30;
    n = vane__v1__customer_state__pack(&m, out);
    assert_int_equal(vane_state_decode(&cs, out, n), VANE_ERANGE);
    vane__v1__customer_state__init(&m);
    m.version = 1;
    char longid[100];
    memset(longid, 'x', 99);
    longid[99] = '\0';
    m.customer_id = longid;
    n = vane__v1__customer_state__pack(&m, out);
    assert_int_equal(vane_state_decode(&cs, out, n), VANE_ERANGE);
    /* Garbage. */
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    assert_int_equal(vane_state_decode(&cs, junk, sizeof junk), VANE_EPARSE);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Reports the in-memory and persisted sizes (the numbers quoted in features.h's comment). */
static void test_size_report(void **st)
{
    (void)st;
    vane_ruleset_t *rs = eng_rules_default();
    vane_engine_t *eng = vane_engine_new(rs);
    enum { N = 50 };
    size_t sizes[N];
    vane_buf_t buf = VANE_BUF_INIT;
    vane_state_t *cs = calloc(1, sizeof *cs);
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "C%06d", i);
        vane_state_init(cs, vane_str_c(id));
        typical(cs, eng, i);
        vane_buf_reset(&buf);
        assert_int_equal(vane_state_encode(cs, &buf), 0);
        sizes[i] = buf.len;
    }
    qsort(sizes, N, sizeof sizes[0], cmp_size);
    printf("state size: in memory sizeof(vane_state_t) = %zu bytes; persisted (typical customer, "
           "60 events) median %zu max %zu bytes\n",
           sizeof(vane_state_t), sizes[N / 2], sizes[N - 1]);
    assert_true(sizeof(vane_state_t) < 2048);
    vane_buf_free(&buf);
    free(cs);
    vane_engine_free(eng);
    vane_ruleset_free(rs);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A value that exercises every varint width, zero (omitted) and negatives (10 bytes). */
static int64_t rnd_i64(void)
{
    switch (rnd() % 5) {
    case 0:
        return 0;
    case 1:
        return -(int64_t)(rnd() % 1000) - 1;
    case 2:
        return (int64_t)(rnd() % 200);
    default:
        return (int64_t)(rnd() >> (rnd() % 64));
    }
}

static float rnd_float(void)
{
    static const float special[] = {0.0f, -0.0f, 1.0f, 1e-30f, 3.5e30f};
    uint64_t r = rnd();
    return r % 3 ? special[r % 5] : (float)(int64_t)rnd_i64() / 7.0f;
}

static void rnd_str(char *dst, size_t cap)
{
    size_t n = rnd() % 3 ? rnd() % cap : 0;
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)('a' + rnd() % 26);
    dst[n] = '\0';
}

static void rnd_rate(vane_rate_t *r)
{
    r->avg = rnd_float();
    r->cur = (uint32_t)rnd_i64();
    r->period = (int32_t)rnd_i64();
    r->seeded = rnd() % 2;
    r->started = rnd() % 2;
}

static void rnd_timer(vane_timer_t *t)
{
    t->due_ms = rnd_i64();
    t->rule_ref = (uint32_t)rnd();
    t->severity = (uint8_t)(rnd() % 4);
    rnd_str(t->event_id, sizeof t->event_id);
}

/* The direct encoder writes exactly what protobuf-c's pack writes, for typical states and for
 * random ones (every field, every width, negatives, empty and full arrays, long windows). */
static void test_encode_matches_reference(void **st)
{
    (void)st;
    vane_buf_t a = VANE_BUF_INIT, b = VANE_BUF_INIT;
    vane_state_t *cs = calloc(1, sizeof *cs);
    vane_ruleset_t *rs = eng_rules_default();
    vane_engine_t *eng = vane_engine_new(rs);
    for (int i = 0; i < 3000; i++) {
        char id[VANE_ID_MAX + 1];
        rnd_str(id, sizeof id);
        vane_state_init(cs, vane_str_c(id));
        if (i < 50) {
            typical(cs, eng, i);
        } else if (i >= 100) {
            vane_features_t *f = &cs->f;
            cs->last_partition = (int32_t)rnd_i64();
            cs->last_offset = rnd_i64();
            f->max_event_time_ms = rnd_i64();
            f->first_event_time_ms = rnd_i64();
            f->last_activity_ms = rnd_i64();
            f->events_applied = (uint64_t)rnd_i64();
            f->since_ms = rnd_i64();
            rnd_str(f->segment, sizeof f->segment);
            rnd_str(f->tier, sizeof f->tier);
            rnd_str(f->manager_id, sizeof f->manager_id);
            f->balance_minor = rnd_i64();
            for (int c = 0; c < VANE_CAT__COUNT; c++)
                f->holdings[c] = rnd_i64();
            f->has_balance = rnd() % 2;
            f->last_survey = (int8_t)(rnd() % 12) - 1;
            f->stage = (uint8_t)(rnd() % 6);
            f->dedup_n = (uint8_t)(rnd() % VANE_DEDUP_RING);
            f->risk = rnd_float();
            f->win.n = (uint8_t)(rnd() % (VANE_WINDOW_CAP + 1));
            f->win.evicted = (uint32_t)rnd_i64();
            for (unsigned k = 0; k < f->win.n; k++) {
                vane_window_entry_t *e = &f->win.e[k];
                e->time_ms = rnd_i64();
                e->amount_minor = rnd_i64();
                e->tag = (uint16_t)rnd();
                e->cls = (uint8_t)(rnd() % 3 ? (k ? f->win.e[k - 1].cls : 0) : rnd() % 35);
                e->flags = (uint8_t)(rnd() % 2);
                e->category = (uint8_t)(rnd() % VANE_CAT__COUNT);
                rnd_str(e->event_id, sizeof e->event_id);
            }
            for (int k = 0; k < VANE_EPISODE_KINDS; k++) {
                vane_episode_t *ep = &f->episodes[k];
                ep->opened_ms = rnd() % 2 ? rnd_i64() : 0;
                ep->last_seen_ms = rnd_i64();
                ep->last_alert_ms = rnd_i64();
                ep->severity = (uint8_t)(rnd() % 4);
                ep->seq = (uint16_t)rnd();
            }
            f->mix_short.updated_ms = rnd_i64();
            f->mix_long.updated_ms = rnd_i64();
            for (int c = 0; c < VANE_CAT__COUNT; c++) {
                f->mix_short.w[c] = rnd_float();
                f->mix_long.w[c] = rnd_float();
            }
            rnd_rate(&f->logins_day);
            rnd_rate(&f->logins_week);
            rnd_rate(&f->txns_week);
            f->gap.last_ms = rnd_i64();
            f->gap.avg_ms = rnd_float();
            f->gap.n = (uint32_t)rnd_i64();
            rnd_timer(&f->dormancy);
            rnd_timer(&f->follow_up);
            for (int k = 0; k < VANE_DEDUP_RING; k++)
                f->dedup[k] = rnd() % 3 ? rnd() : 0;
        }
        vane_buf_reset(&a);
        vane_buf_reset(&b);
        assert_int_equal(vane_state_encode(cs, &a), 0);
        assert_int_equal(vane__state_encode_reference(cs, &b), 0);
        if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
            fail_msg("state %d: direct encoding (%zu bytes) differs from protobuf-c's (%zu)", i,
                     a.len, b.len);
    }
    vane_engine_free(eng);
    vane_ruleset_free(rs);
    free(cs);
    vane_buf_free(&a);
    vane_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_matches_reference),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_empty_roundtrip),
        cmocka_unit_test(test_refuses_newer_version),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_size_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
