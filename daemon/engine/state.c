/* state.c - the customer state and its versioned protobuf form (proto/vane/v1/state.proto).
 *
 * Encoding writes the protobuf wire format directly (every state write-back encodes one state,
 * so this is on the daemon's hot path; protobuf-c's reflective pack cost ~3x more). It emits
 * exactly the bytes protobuf-c's pack would (fields in number order, proto3 zero values
 * omitted, repeated scalars packed): vane__state_encode_reference() keeps the protobuf-c
 * version as the oracle, and tests/unit/test_state.c compares the two on random states.
 * Decoding unpacks with protobuf-c (heap, freed before return: decoding happens on a cache
 * miss, not per event) and validates every bound, so a corrupt or hostile value can never put
 * the engine outside its arrays.
 */
#include "state.h"

#include "../util/err.h"

#include "vane/v1/state.pb-c.h"

#include <string.h>

void vane_state_init(vane_state_t *cs, vane_str_t customer_id)
{
    memset(cs, 0, sizeof *cs);
    vane_str_copy(cs->customer_id, sizeof cs->customer_id, customer_id);
    cs->last_partition = -1;
    cs->last_offset = -1;
    cs->f.last_survey = -1;
}

/* protobuf-c wants char * for strings; the state's are never written through these. */
static char *cstr(const char *s)
{
    return (char *)(uintptr_t)s;
}

static void mix_out(Vane__V1__Mix *m, float *w, const vane_decay_t *d)
{
    vane__v1__mix__init(m);
    m->updated_ms = d->updated_ms;
    for (int c = 0; c < VANE_CAT__COUNT; c++)
        w[c] = d->w[c];
    m->n_weights = VANE_CAT__COUNT;
    m->weights = w;
}

static void rate_out(Vane__V1__Rate *m, const vane_rate_t *r)
{
    vane__v1__rate__init(m);
    m->avg = r->avg;
    m->cur = r->cur;
    m->period = r->period;
    m->seeded = r->seeded;
    m->started = r->started;
}

static void timer_out(Vane__V1__Timer *m, const vane_timer_t *t)
{
    vane__v1__timer__init(m);
    m->due_ms = t->due_ms;
    m->rule_ref = t->rule_ref;
    m->severity = t->severity;
    m->event_id = cstr(t->event_id);
}

int vane__state_encode_reference(const vane_state_t *cs, vane_buf_t *out)
{
    const vane_features_t *f = &cs->f;
    Vane__V1__CustomerState m;
    vane__v1__customer_state__init(&m);
    m.version = VANE_STATE_VERSION;
    m.customer_id = cstr(cs->customer_id);
    m.last_partition = cs->last_partition;
    m.last_offset = cs->last_offset;
    m.max_event_time_ms = f->max_event_time_ms;
    m.first_event_time_ms = f->first_event_time_ms;
    m.events_applied = f->events_applied;
    m.segment = cstr(f->segment);
    m.since_ms = f->since_ms;
    m.manager_id = cstr(f->manager_id);
    m.tier = cstr(f->tier);

    /* Windows: one Window message per run of same-class entries, so order survives. */
    Vane__V1__WindowEntry ents[VANE_WINDOW_CAP];
    Vane__V1__WindowEntry *entp[VANE_WINDOW_CAP];
    Vane__V1__Window wins[VANE_WINDOW_CAP];
    Vane__V1__Window *winp[VANE_WINDOW_CAP];
    size_t nw = 0;
    for (unsigned i = 0; i < f->win.n; i++) {
        const vane_window_entry_t *e = &f->win.e[i];
        vane__v1__window_entry__init(&ents[i]);
        ents[i].time_ms = e->time_ms;
        ents[i].amount_minor = e->amount_minor;
        ents[i].event_id = cstr(e->event_id);
        ents[i].tag = e->tag;
        ents[i].flags = e->flags;
        ents[i].category = e->category;
        entp[i] = &ents[i];
        if (nw == 0 || wins[nw - 1].cls != e->cls) {
            vane__v1__window__init(&wins[nw]);
            wins[nw].cls = e->cls;
            wins[nw].entries = &entp[i];
            winp[nw] = &wins[nw];
            nw++;
        }
        wins[nw - 1].n_entries++;
    }
    m.n_windows = nw;
    m.windows = winp;

    Vane__V1__Episode eps[VANE_EPISODE_KINDS];
    Vane__V1__Episode *epp[VANE_EPISODE_KINDS];
    size_t ne = 0;
    for (unsigned k = 0; k < VANE_EPISODE_KINDS; k++) {
        const vane_episode_t *ep = &f->episodes[k];
        if (ep->opened_ms == 0)
            continue;
        vane__v1__episode__init(&eps[ne]);
        eps[ne].kind = k;
        eps[ne].opened_ms = ep->opened_ms;
        eps[ne].last_alert_ms = ep->last_alert_ms;
        eps[ne].last_seen_ms = ep->last_seen_ms;
        eps[ne].severity = ep->severity;
        eps[ne].seq = ep->seq;
        epp[ne] = &eps[ne];
        ne++;
    }
    m.n_episodes = ne;
    m.episodes = epp;

    m.last_activity_ms = f->last_activity_ms;
    m.balance_minor = f->balance_minor;
    m.has_balance = f->has_balance;
    int64_t holdings[VANE_CAT__COUNT];
    memcpy(holdings, f->holdings, sizeof holdings);
    m.n_holdings = VANE_CAT__COUNT;
    m.holdings = holdings;
    m.last_survey = f->last_survey;
    m.stage = f->stage;
    m.risk = f->risk;
    Vane__V1__Mix ms, ml;
    float ws[VANE_CAT__COUNT], wl[VANE_CAT__COUNT];
    mix_out(&ms, ws, &f->mix_short);
    mix_out(&ml, wl, &f->mix_long);
    m.mix_short = &ms;
    m.mix_long = &ml;
    Vane__V1__Rate rl, rt, rw;
    rate_out(&rw, &f->logins_week);
    m.logins_week = &rw;
    rate_out(&rl, &f->logins_day);
    rate_out(&rt, &f->txns_week);
    m.logins_day = &rl;
    m.txns_week = &rt;
    m.gap_last_ms = f->gap.last_ms;
    m.gap_avg_ms = f->gap.avg_ms;
    m.gap_n = f->gap.n;
    Vane__V1__Timer td, tf;
    timer_out(&td, &f->dormancy);
    timer_out(&tf, &f->follow_up);
    m.dormancy = &td;
    m.follow_up = &tf;
    /* Dedup ring, oldest first. */
    uint64_t dd[VANE_DEDUP_RING];
    size_t nd = 0;
    for (size_t i = 0; i < VANE_DEDUP_RING; i++) {
        uint64_t h = f->dedup[(f->dedup_n + i) % VANE_DEDUP_RING];
        if (h)
            dd[nd++] = h;
    }
    m.n_dedup = nd;
    m.dedup = dd;
    m.window_evicted = f->win.evicted;

    size_t need = vane__v1__customer_state__get_packed_size(&m);
    int rc = vane_buf_reserve(out, need);
    if (rc)
        return rc;
    size_t got = vane__v1__customer_state__pack(&m, (uint8_t *)out->data + out->len);
    VANE_ASSERT(got == need);
    out->len += got;
    out->data[out->len] = '\0';
    return VANE_OK;
}

/* ---- direct wire-format encoder ------------------------------------------------------- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put_tag(uint8_t *p, unsigned field, unsigned wt)
{
    return put_varint(p, (uint64_t)field << 3 | wt);
}

/* proto3 scalars: zero values are not written. Negative int32/int64 are 10-byte varints. */
static uint8_t *f_u64(uint8_t *p, unsigned field, uint64_t v)
{
    return v ? put_varint(put_tag(p, field, WT_VARINT), v) : p;
}
static uint8_t *f_i64(uint8_t *p, unsigned field, int64_t v)
{
    return f_u64(p, field, (uint64_t)v);
}
static uint8_t *f_i32(uint8_t *p, unsigned field, int32_t v)
{
    return f_u64(p, field, (uint64_t)(int64_t)v);
}
static uint8_t *f_float(uint8_t *p, unsigned field, float v)
{
    if (v == 0) /* what protobuf-c tests: -0.0 is omitted too */
        return p;
    p = put_tag(p, field, WT_I32);
    memcpy(p, &v, 4); /* little-endian hosts only (x86-64, arm64) */
    return p + 4;
}
static uint8_t *f_str(uint8_t *p, unsigned field, const char *s)
{
    if (!s[0])
        return p; /* most optional strings are empty: no strlen call */
    size_t n = strlen(s);
    p = put_varint(put_tag(p, field, WT_LEN), n);
    memcpy(p, s, n);
    return p + n;
}

/* A length-delimited sub-message: open() leaves one byte for the length, close() writes it,
 * moving the body when the length needs more bytes (bodies over 127 bytes: windows). */
static uint8_t *sub_open(uint8_t *p, unsigned field)
{
    return put_tag(p, field, WT_LEN) + 1;
}
static uint8_t *sub_close(uint8_t *body, uint8_t *end)
{
    size_t n = (size_t)(end - body);
    uint8_t len[10];
    size_t ln = (size_t)(put_varint(len, n) - len);
    if (ln > 1)
        memmove(body + ln - 1, body, n);
    memcpy(body - 1, len, ln);
    return body - 1 + ln + n;
}

static uint8_t *m_rate(uint8_t *p, unsigned field, const vane_rate_t *r)
{
    uint8_t *b = sub_open(p, field);
    uint8_t *q = f_float(b, 1, r->avg);
    q = f_u64(q, 2, r->cur);
    q = f_i32(q, 3, r->period);
    q = f_u64(q, 4, r->seeded ? 1 : 0);
    q = f_u64(q, 5, r->started ? 1 : 0);
    return sub_close(b, q);
}

static uint8_t *m_mix(uint8_t *p, unsigned field, const vane_decay_t *d)
{
    uint8_t *b = sub_open(p, field);
    uint8_t *q = f_i64(b, 1, d->updated_ms);
    q = put_varint(put_tag(q, 2, WT_LEN), 4 * VANE_CAT__COUNT); /* packed floats */
    memcpy(q, d->w, 4 * VANE_CAT__COUNT);
    return sub_close(b, q + 4 * VANE_CAT__COUNT);
}

static uint8_t *m_timer(uint8_t *p, unsigned field, const vane_timer_t *t)
{
    uint8_t *b = sub_open(p, field);
    uint8_t *q = f_i64(b, 1, t->due_ms);
    q = f_u64(q, 2, t->rule_ref);
    q = f_u64(q, 3, t->severity);
    q = f_str(q, 4, t->event_id);
    return sub_close(b, q);
}

/* Generous bound on the encoding of any state: every field at its widest. */
#define ENCODE_MAX (2 * sizeof(vane_state_t) + 1024)

int vane_state_encode(const vane_state_t *cs, vane_buf_t *out)
{
    _Static_assert(sizeof(float) == 4 && sizeof(((vane_decay_t *)0)->w[0]) == 4, "float32");
    const vane_features_t *f = &cs->f;
    int rc = vane_buf_reserve(out, ENCODE_MAX);
    if (rc)
        return rc;
    uint8_t *start = (uint8_t *)out->data + out->len, *p = start;
    p = f_u64(p, 1, VANE_STATE_VERSION);
    p = f_str(p, 2, cs->customer_id);
    p = f_i32(p, 3, cs->last_partition);
    p = f_i64(p, 4, cs->last_offset);
    p = f_i64(p, 5, f->max_event_time_ms);
    p = f_i64(p, 6, f->first_event_time_ms);
    p = f_u64(p, 7, f->events_applied);
    p = f_str(p, 8, f->segment);
    p = f_i64(p, 9, f->since_ms);
    p = f_str(p, 10, f->manager_id);
    p = f_str(p, 11, f->tier);
    /* 12: one Window per run of same-class entries, so order survives. */
    for (unsigned i = 0; i < f->win.n;) {
        unsigned cls = f->win.e[i].cls;
        uint8_t *wb = sub_open(p, 12);
        uint8_t *q = f_u64(wb, 1, cls);
        for (; i < f->win.n && f->win.e[i].cls == cls; i++) {
            const vane_window_entry_t *e = &f->win.e[i];
            uint8_t *eb = sub_open(q, 2);
            uint8_t *r = f_i64(eb, 1, e->time_ms);
            r = f_i64(r, 2, e->amount_minor);
            r = f_str(r, 3, e->event_id);
            r = f_u64(r, 4, e->tag);
            r = f_u64(r, 5, e->flags);
            r = f_u64(r, 6, e->category);
            q = sub_close(eb, r);
        }
        p = sub_close(wb, q);
    }
    for (unsigned k = 0; k < VANE_EPISODE_KINDS; k++) { /* 13 */
        const vane_episode_t *ep = &f->episodes[k];
        if (ep->opened_ms == 0)
            continue;
        uint8_t *b = sub_open(p, 13);
        uint8_t *q = f_u64(b, 1, k);
        q = f_i64(q, 2, ep->opened_ms);
        q = f_i64(q, 3, ep->last_alert_ms);
        q = f_u64(q, 4, ep->severity);
        q = f_u64(q, 6, ep->seq);
        q = f_i64(q, 7, ep->last_seen_ms);
        p = sub_close(b, q);
    }
    p = f_i64(p, 15, f->last_activity_ms);
    p = f_i64(p, 16, f->balance_minor);
    p = f_u64(p, 17, f->has_balance ? 1 : 0);
    { /* 18: packed int64 holdings, always all categories */
        uint8_t *b = sub_open(p, 18);
        uint8_t *q = b;
        for (int c = 0; c < VANE_CAT__COUNT; c++)
            q = put_varint(q, (uint64_t)f->holdings[c]);
        p = sub_close(b, q);
    }
    p = f_i32(p, 19, f->last_survey);
    p = f_u64(p, 20, f->stage);
    p = f_float(p, 21, f->risk);
    p = m_mix(p, 22, &f->mix_short);
    p = m_mix(p, 23, &f->mix_long);
    p = m_rate(p, 24, &f->logins_day);
    p = m_rate(p, 25, &f->txns_week);
    p = f_i64(p, 26, f->gap.last_ms);
    p = f_float(p, 27, f->gap.avg_ms);
    p = f_u64(p, 28, f->gap.n);
    p = m_timer(p, 29, &f->dormancy);
    p = m_timer(p, 30, &f->follow_up);
    size_t nd = 0; /* 31: dedup ring, oldest first, packed fixed64 */
    for (size_t i = 0; i < VANE_DEDUP_RING; i++)
        nd += f->dedup[i] != 0;
    if (nd) {
        p = put_varint(put_tag(p, 31, WT_LEN), 8 * nd);
        for (size_t i = 0; i < VANE_DEDUP_RING; i++) {
            uint64_t h = f->dedup[(f->dedup_n + i) % VANE_DEDUP_RING];
            if (h) {
                memcpy(p, &h, 8);
                p += 8;
            }
        }
    }
    p = f_u64(p, 32, f->win.evicted);
    p = m_rate(p, 33, &f->logins_week);
    VANE_ASSERT((size_t)(p - start) <= ENCODE_MAX);
    out->len += (size_t)(p - start);
    out->data[out->len] = '\0';
    return VANE_OK;
}

/* Times are kept within +-2^62 ms so adding any duration the engine uses cannot overflow. */
#define TIME_LIMIT (INT64_C(1) << 62)
static bool time_ok(int64_t t)
{
    return t > -TIME_LIMIT && t < TIME_LIMIT;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        return VANE_ERANGE;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
    return VANE_OK;
}

static int mix_in(vane_decay_t *d, const Vane__V1__Mix *m)
{
    if (!m)
        return VANE_OK;
    if (m->n_weights > VANE_CAT__COUNT)
        return VANE_ERANGE;
    if (!time_ok(m->updated_ms))
        return VANE_ERANGE;
    d->updated_ms = m->updated_ms;
    for (size_t c = 0; c < m->n_weights; c++) {
        if (!(m->weights[c] >= 0) || m->weights[c] > 1e30f)
            return VANE_ERANGE;
        d->w[c] = m->weights[c];
    }
    return VANE_OK;
}

static int rate_in(vane_rate_t *r, const Vane__V1__Rate *m)
{
    if (!m)
        return VANE_OK;
    if (!(m->avg >= 0) || m->avg > 1e12f || m->period < 0)
        return VANE_ERANGE;
    r->avg = m->avg;
    r->cur = m->cur;
    r->period = m->period;
    r->seeded = m->seeded;
    r->started = m->started;
    return VANE_OK;
}

static int timer_in(vane_timer_t *t, const Vane__V1__Timer *m)
{
    if (!m)
        return VANE_OK;
    if (m->severity > 5 || m->due_ms < 0 || !time_ok(m->due_ms))
        return VANE_ERANGE;
    t->due_ms = m->due_ms;
    t->rule_ref = m->rule_ref;
    t->severity = (uint8_t)m->severity;
    return copy_str(t->event_id, sizeof t->event_id, m->event_id);
}

static int decode_msg(vane_state_t *cs, const Vane__V1__CustomerState *m)
{
    vane_features_t *f = &cs->f;
    int rc;
    if (m->version > VANE_STATE_VERSION)
        return VANE_EVERSION;
    if (!time_ok(m->max_event_time_ms) || !time_ok(m->first_event_time_ms) ||
        !time_ok(m->since_ms) || !time_ok(m->last_activity_ms) || !time_ok(m->gap_last_ms))
        return VANE_ERANGE;
    if ((rc = copy_str(cs->customer_id, sizeof cs->customer_id, m->customer_id)))
        return rc;
    cs->last_partition = m->last_partition;
    cs->last_offset = m->last_offset;
    f->max_event_time_ms = m->max_event_time_ms;
    f->first_event_time_ms = m->first_event_time_ms;
    f->events_applied = m->events_applied;
    f->since_ms = m->since_ms;
    /* Profile strings longer than kept are truncated (they were truncated on the way in). */
    vane_str_copy(f->segment, sizeof f->segment, vane_str_c(m->segment ? m->segment : ""));
    vane_str_copy(f->manager_id, sizeof f->manager_id,
                  vane_str_c(m->manager_id ? m->manager_id : ""));
    vane_str_copy(f->tier, sizeof f->tier, vane_str_c(m->tier ? m->tier : ""));

    for (size_t i = 0; i < m->n_windows; i++) {
        const Vane__V1__Window *w = m->windows[i];
        if (w->cls == 0 || w->cls >= VANE_WCLS__COUNT)
            return VANE_ERANGE;
        for (size_t j = 0; j < w->n_entries; j++) {
            const Vane__V1__WindowEntry *we = w->entries[j];
            if (f->win.n >= VANE_WINDOW_CAP || we->tag > UINT16_MAX || we->flags > 255 ||
                !time_ok(we->time_ms) || we->category >= VANE_CAT__COUNT || we->amount_minor < 0)
                return VANE_ERANGE;
            if (f->win.n && we->time_ms < f->win.e[f->win.n - 1].time_ms)
                return VANE_ERANGE; /* the ring is kept sorted */
            vane_window_entry_t *e = &f->win.e[f->win.n++];
            e->time_ms = we->time_ms;
            e->amount_minor = we->amount_minor;
            e->tag = (uint16_t)we->tag;
            e->cls = (uint8_t)w->cls;
            e->flags = (uint8_t)we->flags;
            e->category = (uint8_t)we->category;
            if ((rc = copy_str(e->event_id, sizeof e->event_id, we->event_id)))
                return rc;
        }
    }
    f->win.evicted = m->window_evicted;

    for (size_t i = 0; i < m->n_episodes; i++) {
        const Vane__V1__Episode *ep = m->episodes[i];
        if (ep->kind >= VANE_EPISODE_KINDS || ep->severity > 5 || ep->seq > UINT16_MAX ||
            !time_ok(ep->opened_ms) || !time_ok(ep->last_seen_ms) || !time_ok(ep->last_alert_ms))
            return VANE_ERANGE;
        vane_episode_t *e = &f->episodes[ep->kind];
        e->opened_ms = ep->opened_ms;
        e->last_alert_ms = ep->last_alert_ms;
        e->last_seen_ms = ep->last_seen_ms;
        e->severity = (uint8_t)ep->severity;
        e->seq = (uint16_t)ep->seq;
    }

    f->last_activity_ms = m->last_activity_ms;
    f->balance_minor = m->balance_minor;
    f->has_balance = m->has_balance;
    if (m->n_holdings > VANE_CAT__COUNT)
        return VANE_ERANGE;
    for (size_t c = 0; c < m->n_holdings; c++)
        f->holdings[c] = m->holdings[c];
    if (m->last_survey < -1 || m->last_survey > 10)
        return VANE_ERANGE;
    /* proto3 default 0 would read as "score 0": version-1 writers always set it, so a state
     * without the field is one that never saw the engine's features. */
    f->last_survey = (int8_t)m->last_survey;
    if (m->stage >= 5)
        return VANE_ERANGE;
    f->stage = (uint8_t)m->stage;
    if (!(m->risk >= 0 && m->risk <= 1))
        return VANE_ERANGE;
    f->risk = m->risk;
    if ((rc = mix_in(&f->mix_short, m->mix_short)) || (rc = mix_in(&f->mix_long, m->mix_long)))
        return rc;
    if ((rc = rate_in(&f->logins_day, m->logins_day)) ||
        (rc = rate_in(&f->txns_week, m->txns_week)) ||
        (rc = rate_in(&f->logins_week, m->logins_week)))
        return rc;
    if (!(m->gap_avg_ms >= 0))
        return VANE_ERANGE;
    f->gap.last_ms = m->gap_last_ms;
    f->gap.avg_ms = m->gap_avg_ms;
    f->gap.n = m->gap_n;
    if ((rc = timer_in(&f->dormancy, m->dormancy)) || (rc = timer_in(&f->follow_up, m->follow_up)))
        return rc;
    if (m->n_dedup > VANE_DEDUP_RING)
        return VANE_ERANGE;
    for (size_t i = 0; i < m->n_dedup; i++)
        f->dedup[i] = m->dedup[i];
    f->dedup_n = (uint8_t)(m->n_dedup % VANE_DEDUP_RING);
    return VANE_OK;
}

int vane_state_decode(vane_state_t *cs, const void *bytes, size_t len)
{
    Vane__V1__CustomerState *m =
        vane__v1__customer_state__unpack(NULL, len, (const uint8_t *)bytes);
    if (!m)
        return VANE_EPARSE;
    memset(cs, 0, sizeof *cs);
    int rc = decode_msg(cs, m);
    vane__v1__customer_state__free_unpacked(m, NULL);
    if (rc)
        vane_state_init(cs, vane_str_c(""));
    return rc;
}
