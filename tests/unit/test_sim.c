/* test_sim.c - the synthetic bank (daemon/sim/bank.h): determinism, population, ground truth,
 * the stream's ordering and contract validity (through the codec, both formats), the
 * controls' safety rules and the presence of every planted behaviour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/codec.h"
#include "sim/bank.h"
#include "util/buf.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define START_MS 1700000000000LL
#define DAY      VANE_BANK_DAY_MS

static void small_config(vane_bank_config_t *cfg, uint64_t seed, uint32_t customers)
{
    vane_bank_config_default(cfg);
    cfg->seed = seed;
    cfg->customers = customers;
    cfg->start_ms = START_MS;
    cfg->history_days = 10;
    cfg->tail_days = 31;
}

/* FNV-1a over the JSON encoding of every event; also returns the count. */
static uint64_t stream_hash(const vane_bank_config_t *cfg, uint64_t *count)
{
    vane_bank_t *bank = vane_bank_new(cfg, NULL, 0);
    assert_non_null(bank);
    vane_buf_t buf = VANE_BUF_INIT;
    uint64_t h = 1469598103934665603ULL;
    uint64_t n = 0;
    vane_event_t ev;
    while (vane_bank_next(bank, &ev) == VANE_OK) {
        vane_buf_reset(&buf);
        assert_int_equal(vane_codec_encode_event(&ev, VANE_FORMAT_JSON, &buf), VANE_OK);
        for (size_t i = 0; i < buf.len; i++) {
            h ^= (unsigned char)buf.data[i];
            h *= 1099511628211ULL;
        }
        n++;
    }
    vane_buf_free(&buf);
    vane_bank_free(bank);
    *count = n;
    return h;
}

static void test_determinism(void **state)
{
    (void)state;
    vane_bank_config_t cfg;
    small_config(&cfg, 42, 80);
    uint64_t n1, n2, n3;
    uint64_t h1 = stream_hash(&cfg, &n1);
    uint64_t h2 = stream_hash(&cfg, &n2);
    assert_true(n1 > 1000);
    assert_int_equal(n1, n2);
    assert_true(h1 == h2);
    cfg.seed = 43;
    uint64_t h3 = stream_hash(&cfg, &n3);
    assert_true(h3 != h1);
}

static void test_bad_config(void **state)
{
    (void)state;
    vane_bank_config_t cfg;
    char err[128] = "";
    small_config(&cfg, 1, 0);
    assert_null(vane_bank_new(&cfg, err, sizeof err));
    assert_non_null(strstr(err, "customers"));
    small_config(&cfg, 1, 10);
    cfg.start_ms = 0;
    assert_null(vane_bank_new(&cfg, err, sizeof err));
    small_config(&cfg, 1, 10);
    cfg.planted_fraction = 1.5;
    assert_null(vane_bank_new(&cfg, err, sizeof err));
    vane_bank_free(NULL);
}

static void test_archetype_mix(void **state)
{
    (void)state;
    vane_bank_config_t cfg;
    small_config(&cfg, 7, 4000);
    cfg.planted_fraction = 0.0;
    vane_bank_t *bank = vane_bank_new(&cfg, NULL, 0);
    assert_non_null(bank);
    uint32_t counts[VANE_BANK_ARCHETYPE__COUNT] = {0};
    for (uint32_t i = 0; i < vane_bank_customer_count(bank); i++) {
        vane_bank_truth_t t;
        vane_bank_truth(bank, i, &t);
        assert_int_equal(t.kind, VANE_ALERT_UNSPECIFIED);
        assert_true(t.archetype < VANE_BANK_ARCHETYPE__COUNT);
        counts[t.archetype]++;
    }
    static const double mix[VANE_BANK_ARCHETYPE__COUNT] = {0.35, 0.25, 0.20, 0.20};
    for (int a = 0; a < VANE_BANK_ARCHETYPE__COUNT; a++) {
        double share = counts[a] / 4000.0;
        assert_true(share > mix[a] - 0.03 && share < mix[a] + 0.03);
    }
    vane_bank_free(bank);
}

static void test_truth(void **state)
{
    (void)state;
    vane_bank_config_t cfg;
    small_config(&cfg, 9, 350);
    cfg.history_days = 60;
    vane_bank_t *bank = vane_bank_new(&cfg, NULL, 0);
    assert_non_null(bank);
    uint32_t per_kind[VANE_ALERT__COUNT] = {0};
    int64_t hist_end = START_MS + 60 * DAY;
    for (uint32_t i = 0; i < vane_bank_customer_count(bank); i++) {
        vane_bank_truth_t t;
        vane_bank_truth(bank, i, &t);
        char want[16];
        snprintf(want, sizeof want, "C%07u", i + 1);
        assert_string_equal(t.customer_id, want);
        per_kind[t.kind]++;
        if (t.kind == VANE_ALERT_UNSPECIFIED) {
            assert_int_equal(t.onset_ms, 0);
            continue;
        }
        assert_true(t.onset_ms >= hist_end);
        assert_true(t.onset_ms < hist_end + 2 * DAY);
        if (t.kind == VANE_ALERT_PREFERENCE_SHIFT) {
            assert_int_equal(t.archetype, VANE_BANK_SAVER);
            assert_true(t.to_category == VANE_CAT_FUND || t.to_category == VANE_CAT_WEALTH ||
                        t.to_category == VANE_CAT_PRECIOUS_METAL ||
                        t.to_category == VANE_CAT_INSURANCE);
        }
        if (t.kind == VANE_ALERT_REDEMPTION_SURGE || t.kind == VANE_ALERT_DECLINE_RISK)
            assert_int_equal(t.archetype, VANE_BANK_INVESTOR);
    }
    /* 350 * 0.2 = 70 planted, round-robin over 7 kinds: 10 each. */
    for (int k = VANE_ALERT_PREFERENCE_SHIFT; k <= VANE_ALERT_DETRACTOR; k++)
        assert_int_equal(per_kind[k], 10);
    assert_int_equal(per_kind[VANE_ALERT_UNSPECIFIED], 280);
    assert_int_equal(per_kind[VANE_ALERT_CUSTOM], 0);
    vane_bank_free(bank);
}

/* ------------------------------------------------------------------------------------------
 * The whole stream, checked event by event.
 * ---------------------------------------------------------------------------------------- */

typedef struct cust_track {
    vane_bank_truth_t truth;
    uint32_t events;
    int64_t last_ms;
    int64_t redeem[3];                /* last three redemption times (ring) */
    uint32_t n_redeem;                /* */
    bool burst3;                      /* >= 3 redemptions within 24 h seen */
    bool burst3_after_onset;          /* ... with the first of them at/after onset */
    int min_score;                    /* lowest survey score, 11 = none */
    bool contact_after_survey;        /* CONTACT_ACCEPTED after a score < 7 */
    bool low_survey_seen;             /* */
    uint32_t cancels;                 /* SERVICE_CANCEL */
    uint32_t refusals_closes;         /* CONTACT_REFUSED + ACCOUNT_CLOSE */
    uint32_t complaints;              /* */
    uint32_t cancel_like_after_onset; /* cancel/refuse/close at/after onset */
    int64_t first_cancel_like_after;  /* */
    int64_t last_cancel_like_after;   /* */
    double max_xfer_share;            /* largest TRANSFER_OUT / (balance before) */
    int64_t xfer_out_after;           /* sum of TRANSFER_OUT amounts after onset */
    int64_t assets_at_onset;          /* balance_after of the last txn before onset */
    uint32_t cat_used_before;         /* bitmask of categories in views/txns before onset */
    bool new_cat_view_after;          /* a view of a category unused before onset */
    bool new_cat_buy_after;           /* a purchase of it */
    uint32_t logins_before_last10d;   /* logins in the 10 days before onset */
    uint32_t logins_after_10d;        /* logins in the 10 days after onset */
    bool any_at_or_after_onset;
} cust_track_t;

static void check_roundtrip(vane_decoder_t *dec, vane_buf_t *buf, const vane_event_t *ev,
                            vane_format_t fmt)
{
    vane_buf_reset(buf);
    assert_int_equal(vane_codec_encode_event(ev, fmt, buf), VANE_OK);
    vane_event_t back;
    vane_decode_error_t err;
    int rc = vane_decoder_decode(dec, buf->data, buf->len, fmt, &back, &err);
    if (rc != VANE_OK)
        fail_msg("decode (%s) failed: %s %s: %s", vane_format_name(fmt),
                 vane_reject_name(err.reason), err.field, err.msg);
    assert_true(vane_str_eq(back.customer_id, ev->customer_id));
    assert_true(vane_str_eq(back.event_id, ev->event_id));
    assert_true(back.event_time_ms == ev->event_time_ms);
    assert_int_equal(back.type, ev->type);
    assert_int_equal(back.channel, ev->channel);
    switch (ev->type) {
    case VANE_EVENT_TXN:
        assert_int_equal(back.txn.kind, ev->txn.kind);
        assert_int_equal(back.txn.category, ev->txn.category);
        assert_true(back.txn.amount_minor == ev->txn.amount_minor);
        assert_true(back.txn.has_balance_after);
        assert_true(back.txn.balance_after_minor == ev->txn.balance_after_minor);
        assert_true(vane_str_eq(back.txn.counterparty_bank, ev->txn.counterparty_bank));
        break;
    case VANE_EVENT_ENGAGEMENT:
        assert_int_equal(back.eng.kind, ev->eng.kind);
        assert_int_equal(back.eng.has_score, ev->eng.has_score);
        assert_int_equal(back.eng.score, ev->eng.score);
        assert_int_equal(back.eng.category, ev->eng.category);
        break;
    case VANE_EVENT_LOGIN:
        assert_int_equal(back.login.success, ev->login.success);
        break;
    case VANE_EVENT_PROFILE:
        assert_true(vane_str_eq(back.profile.segment, ev->profile.segment));
        assert_true(back.profile.since_ms == ev->profile.since_ms);
        assert_true(vane_str_eq(back.profile.tier, ev->profile.tier));
        break;
    default:
        fail_msg("event without a payload");
    }
}

static void track(cust_track_t *t, const vane_event_t *ev)
{
    int64_t now = ev->event_time_ms;
    int64_t onset = t->truth.onset_ms;
    bool planted = t->truth.kind != VANE_ALERT_UNSPECIFIED;
    bool after = planted && now >= onset;
    if (after)
        t->any_at_or_after_onset = true;
    if (ev->type == VANE_EVENT_LOGIN && planted) {
        if (now < onset && now >= onset - 10 * DAY)
            t->logins_before_last10d++;
        if (now >= onset && now < onset + 10 * DAY)
            t->logins_after_10d++;
    }
    if (ev->type == VANE_EVENT_TXN) {
        const vane_txn_t *x = &ev->txn;
        assert_true(x->amount_minor >= 0);
        assert_true(x->balance_after_minor >= 0);
        if (!after)
            t->assets_at_onset = x->balance_after_minor;
        if (!after && x->category)
            t->cat_used_before |= 1u << x->category;
        if (after && x->kind == VANE_TXN_PURCHASE && !(t->cat_used_before & (1u << x->category)))
            t->new_cat_buy_after = true;
        if (x->kind == VANE_TXN_REDEMPTION) {
            t->redeem[t->n_redeem % 3] = now;
            t->n_redeem++;
            if (t->n_redeem >= 3) {
                int64_t oldest = t->redeem[t->n_redeem % 3];
                if (now - oldest <= DAY) {
                    t->burst3 = true;
                    if (planted && oldest >= onset)
                        t->burst3_after_onset = true;
                }
            }
        }
        if (x->kind == VANE_TXN_TRANSFER_OUT) {
            assert_true(x->counterparty_bank.len > 0);
            double before = (double)(x->balance_after_minor + x->amount_minor);
            double share = before > 0 ? (double)x->amount_minor / before : 0.0;
            if (share > t->max_xfer_share)
                t->max_xfer_share = share;
            if (after)
                t->xfer_out_after += x->amount_minor;
        }
    }
    if (ev->type == VANE_EVENT_ENGAGEMENT) {
        const vane_engagement_t *g = &ev->eng;
        if (g->kind == VANE_ENG_PRODUCT_VIEW) {
            if (!after)
                t->cat_used_before |= 1u << g->category;
            else if (!(t->cat_used_before & (1u << g->category)))
                t->new_cat_view_after = true;
        }
        if (g->kind == VANE_ENG_SURVEY) {
            assert_true(g->has_score);
            if (g->score < t->min_score)
                t->min_score = g->score;
            if (g->score < 7)
                t->low_survey_seen = true;
        }
        if (g->kind == VANE_ENG_CONTACT_ACCEPTED && t->low_survey_seen)
            t->contact_after_survey = true;
        if (g->kind == VANE_ENG_SERVICE_CANCEL)
            t->cancels++;
        if (g->kind == VANE_ENG_CONTACT_REFUSED || g->kind == VANE_ENG_ACCOUNT_CLOSE)
            t->refusals_closes++;
        if (g->kind == VANE_ENG_COMPLAINT)
            t->complaints++;
        if (after && (g->kind == VANE_ENG_SERVICE_CANCEL || g->kind == VANE_ENG_CONTACT_REFUSED ||
                      g->kind == VANE_ENG_ACCOUNT_CLOSE)) {
            if (t->cancel_like_after_onset++ == 0)
                t->first_cancel_like_after = now;
            t->last_cancel_like_after = now;
        }
    }
}

static void test_stream(void **state)
{
    (void)state;
    vane_bank_config_t cfg;
    small_config(&cfg, 2026, 350);
    cfg.history_days = 60;
    cfg.tail_days = 35;
    vane_bank_t *bank = vane_bank_new(&cfg, NULL, 0);
    assert_non_null(bank);
    uint32_t n = vane_bank_customer_count(bank);
    cust_track_t *tr = calloc(n, sizeof *tr);
    assert_non_null(tr);
    for (uint32_t i = 0; i < n; i++) {
        vane_bank_truth(bank, i, &tr[i].truth);
        tr[i].min_score = 11;
    }
    vane_decoder_t *dec = vane_decoder_new(1 << 16);
    assert_non_null(dec);
    vane_buf_t buf = VANE_BUF_INIT;

    uint64_t events = 0;
    uint64_t per_type[5] = {0};
    int64_t prev = 0;
    int64_t last_ms = 0;
    vane_event_t ev;
    while (vane_bank_next(bank, &ev) == VANE_OK) {
        assert_true(ev.event_time_ms >= prev);
        assert_true(ev.event_time_ms >= START_MS);
        assert_true(ev.event_time_ms < vane_bank_end_ms(bank));
        prev = ev.event_time_ms;
        last_ms = ev.event_time_ms;
        char cid[16];
        vane_str_copy(cid, sizeof cid, ev.customer_id);
        uint32_t idx = (uint32_t)strtoul(cid + 1, NULL, 10) - 1;
        assert_true(idx < n);
        cust_track_t *t = &tr[idx];
        if (t->events == 0)
            assert_int_equal(ev.type, VANE_EVENT_PROFILE);
        else
            assert_int_not_equal(ev.type, VANE_EVENT_PROFILE);
        t->events++;
        t->last_ms = ev.event_time_ms;
        per_type[ev.type]++;
        check_roundtrip(dec, &buf, &ev, VANE_FORMAT_JSON);
        if (events % 3 == 0)
            check_roundtrip(dec, &buf, &ev, VANE_FORMAT_PROTOBUF);
        track(t, &ev);
        events++;
    }
    /* Ended for good. */
    assert_int_equal(vane_bank_next(bank, &ev), VANE_ESTOPPED);

    /* Realistic volume: ~2-5 events per customer per day over 97 days. */
    assert_true(events > (uint64_t)n * 97 * 2);
    assert_true(events < (uint64_t)n * 97 * 5);
    for (int ty = VANE_EVENT_TXN; ty <= VANE_EVENT_PROFILE; ty++)
        assert_true(per_type[ty] > 0);
    assert_int_equal(per_type[VANE_EVENT_PROFILE], n);

    uint32_t seen_kind[VANE_ALERT__COUNT] = {0};
    for (uint32_t i = 0; i < n; i++) {
        cust_track_t *t = &tr[i];
        vane_alert_kind_t kind = t->truth.kind;
        int64_t onset = t->truth.onset_ms;
        if (kind == VANE_ALERT_UNSPECIFIED) {
            /* Controls never look like a planted behaviour. */
            assert_false(t->burst3);
            assert_true(t->min_score >= 7);
            assert_true(t->max_xfer_share <= 0.30);
            assert_true(t->cancels <= 1);
            assert_int_equal(t->refusals_closes, 0);
            assert_int_equal(t->complaints, 0);
            assert_true(t->last_ms > last_ms - 30 * DAY); /* active to the end: not dormant */
            continue;
        }
        seen_kind[kind]++;
        switch (kind) {
        case VANE_ALERT_PREFERENCE_SHIFT:
            assert_true(t->new_cat_view_after);
            assert_true(t->new_cat_buy_after);
            break;
        case VANE_ALERT_REDEMPTION_SURGE:
            assert_true(t->burst3_after_onset);
            break;
        case VANE_ALERT_CANCELLATION_SURGE:
            assert_true(t->cancel_like_after_onset >= 3);
            assert_true(t->last_cancel_like_after - t->first_cancel_like_after <= 2 * DAY);
            assert_true(t->first_cancel_like_after == onset);
            break;
        case VANE_ALERT_OUTFLOW_SURGE:
            assert_true(t->assets_at_onset > 0);
            assert_true((double)t->xfer_out_after >= 0.45 * (double)t->assets_at_onset);
            break;
        case VANE_ALERT_DORMANCY:
            assert_false(t->any_at_or_after_onset);
            assert_true(t->last_ms < onset);
            assert_true(last_ms >= onset + 30 * DAY); /* the watermark moves past 30 days */
            assert_true(t->events > 40);              /* it was a regular customer */
            break;
        case VANE_ALERT_DECLINE_RISK:
            assert_true(t->complaints >= 1);
            assert_true(t->cancels >= 2);
            assert_false(t->burst3);
            assert_true(t->logins_after_10d < t->logins_before_last10d ||
                        t->logins_before_last10d == 0);
            break;
        case VANE_ALERT_DETRACTOR:
            assert_true(t->min_score <= 6);
            assert_false(t->contact_after_survey);
            break;
        default:
            fail_msg("unexpected planted kind %d", kind);
        }
    }
    for (int k = VANE_ALERT_PREFERENCE_SHIFT; k <= VANE_ALERT_DETRACTOR; k++)
        assert_int_equal(seen_kind[k], 10);

    vane_buf_free(&buf);
    vane_decoder_free(dec);
    free(tr);
    vane_bank_free(bank);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),   cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_archetype_mix), cmocka_unit_test(test_truth),
        cmocka_unit_test(test_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
