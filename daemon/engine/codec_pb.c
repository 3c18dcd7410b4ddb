/* codec_pb.c - events and alerts as protobuf (proto/vane/v1/event.proto, alert.proto).
 *
 * Decoding uses protobuf-c's generated vane__v1__event__unpack with a ProtobufCAllocator
 * backed by an arena that the decoder owns and resets before every message, so unpacking
 * calls malloc zero times. The arena is sized at creation (ARENA_PER_BYTE per byte of
 * max_bytes plus a fixed floor); a message that would need more (only crafted ones do: e.g.
 * hundreds of thousands of repeated empty sub-messages) is rejected as too_large instead of
 * growing it. The decoded event borrows its strings from the arena.
 *
 * protobuf-c stores strings as NUL-terminated char * and drops their length, so an embedded
 * NUL would silently truncate an id. Each arena block records its size, and protobuf-c
 * allocates exactly length + 1 bytes per string, which gives the true length back; the shared
 * validation then rejects the NUL.
 *
 * Encoding is written by hand (a few varints and length prefixes): it works straight from the
 * borrowed, non-NUL-terminated vane_str_t fields without copying them, and emits fields in
 * number order with proto3 defaults omitted, which is byte-for-byte what protobuf-c's own
 * packer produces (test_codec_pb checks this).
 */
#include "codec_int.h"

#include "../util/err.h"

#include "vane/v1/alert.pb-c.h"
#include "vane/v1/event.pb-c.h"

#include <stdlib.h>
#include <string.h>

/*---------------------------------------------------------------------------------------------
 * Arena
 *-------------------------------------------------------------------------------------------*/

#define ARENA_ALIGN    16
#define ARENA_PER_BYTE 8
#define ARENA_FLOOR    (64 * 1024)

struct vane_pb_dec {
    unsigned char *base; /* owned; cap bytes, ARENA_ALIGN-aligned */
    size_t cap;
    size_t used;
    bool exhausted; /* an allocation failed during this message */
    ProtobufCAllocator alloc;
};

/* Each block: a header of ARENA_ALIGN bytes holding the requested size, then the payload. */
static void *arena_alloc(void *data, size_t size)
{
    vane_pb_dec_t *pd = data;
    size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (size > pd->cap || rounded + ARENA_ALIGN > pd->cap - pd->used) {
        pd->exhausted = true;
        return NULL;
    }
    unsigned char *p = pd->base + pd->used;
    pd->used += rounded + ARENA_ALIGN;
    memcpy(p, &size, sizeof size);
    return p + ARENA_ALIGN;
}

static void arena_free(void *data, void *ptr)
{
    (void)data; /* everything goes at once, when the next message resets the arena */
    (void)ptr;
}

vane_pb_dec_t *vane__pb_dec_new(size_t max_bytes)
{
    vane_pb_dec_t *pd = calloc(1, sizeof *pd);
    if (!pd)
        return NULL;
    pd->cap = max_bytes * ARENA_PER_BYTE + ARENA_FLOOR;
    pd->cap = (pd->cap + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    pd->base = aligned_alloc(ARENA_ALIGN, pd->cap);
    if (!pd->base) {
        free(pd);
        return NULL;
    }
    pd->alloc.alloc = arena_alloc;
    pd->alloc.free = arena_free;
    pd->alloc.allocator_data = pd;
    return pd;
}

void vane__pb_dec_free(vane_pb_dec_t *pd)
{
    if (!pd)
        return;
    free(pd->base);
    free(pd);
}

/* The true length of a string protobuf-c unpacked into the arena (see the file comment); for
 * anything else (protobuf_c_empty_string) strlen. */
static vane_str_t pb_str(const vane_pb_dec_t *pd, const char *s)
{
    vane_str_t r = {s, 0};
    if (!s)
        return r;
    uintptr_t u = (uintptr_t)s;
    uintptr_t lo = (uintptr_t)pd->base + ARENA_ALIGN;
    uintptr_t hi = (uintptr_t)pd->base + pd->used;
    if (u >= lo && u < hi) {
        size_t size;
        memcpy(&size, s - ARENA_ALIGN, sizeof size);
        if (size >= 1 && size <= hi - u && s[size - 1] == '\0') {
            r.len = (uint32_t)(size - 1);
            return r;
        }
    }
    r.len = (uint32_t)strlen(s);
    return r;
}

/*---------------------------------------------------------------------------------------------
 * Decoding
 *-------------------------------------------------------------------------------------------*/

int vane__pb_decode_event(vane_pb_dec_t *pd, const uint8_t *p, size_t n, vane_event_t *ev,
                          vane_decode_error_t *err)
{
    pd->used = 0;
    pd->exhausted = false;
    Vane__V1__Event *m = vane__v1__event__unpack(&pd->alloc, n, p);
    if (!m) {
        if (pd->exhausted)
            return vane__codec_reject(err, VANE_REJECT_TOO_LARGE, NULL, 0,
                                      "the message needs more than %zu bytes of decode memory",
                                      pd->cap);
        return vane__codec_reject(err, VANE_REJECT_PB_MALFORMED, NULL, 0,
                                  "protobuf-c could not unpack the message (truncated or "
                                  "malformed, %zu bytes)",
                                  n);
    }
    ev->event_id = pb_str(pd, m->event_id);
    ev->customer_id = pb_str(pd, m->customer_id);
    ev->event_time_ms = m->event_time_ms;
    ev->channel = (vane_channel_t)m->channel;
    switch (m->payload_case) {
    case VANE__V1__EVENT__PAYLOAD_TXN: {
        const Vane__V1__Transaction *t = m->txn;
        ev->type = VANE_EVENT_TXN;
        ev->txn.kind = (vane_txn_kind_t)t->kind;
        ev->txn.category = (vane_category_t)t->category;
        ev->txn.product_id = pb_str(pd, t->product_id);
        ev->txn.amount_minor = t->amount_minor;
        ev->txn.currency = pb_str(pd, t->currency);
        ev->txn.has_balance_after =
            t->balance_after_case == VANE__V1__TRANSACTION__BALANCE_AFTER_BALANCE_AFTER_MINOR;
        ev->txn.balance_after_minor = ev->txn.has_balance_after ? t->balance_after_minor : 0;
        ev->txn.counterparty_bank = pb_str(pd, t->counterparty_bank);
        break;
    }
    case VANE__V1__EVENT__PAYLOAD_LOGIN:
        ev->type = VANE_EVENT_LOGIN;
        ev->login.success = m->login->success != 0;
        ev->login.device_id = pb_str(pd, m->login->device_id);
        break;
    case VANE__V1__EVENT__PAYLOAD_ENGAGEMENT: {
        const Vane__V1__Engagement *g = m->engagement;
        ev->type = VANE_EVENT_ENGAGEMENT;
        ev->eng.kind = (vane_eng_kind_t)g->kind;
        ev->eng.category = (vane_category_t)g->category;
        ev->eng.product_id = pb_str(pd, g->product_id);
        ev->eng.service = pb_str(pd, g->service);
        ev->eng.has_score = g->has_score_case == VANE__V1__ENGAGEMENT__HAS_SCORE_SCORE;
        ev->eng.score = ev->eng.has_score ? g->score : 0;
        break;
    }
    case VANE__V1__EVENT__PAYLOAD_PROFILE: {
        const Vane__V1__Profile *pr = m->profile;
        ev->type = VANE_EVENT_PROFILE;
        ev->profile.segment = pb_str(pd, pr->segment);
        ev->profile.since_ms = pr->since_ms;
        ev->profile.manager_id = pb_str(pd, pr->manager_id);
        ev->profile.tier = pb_str(pd, pr->tier);
        break;
    }
    default:
        ev->type = VANE_EVENT_NONE;
        break;
    }
    return VANE_OK;
}

static int copy_cstr(vane_decode_error_t *err, const char *path, const char *s, char *dst,
                     size_t cap)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= cap)
        return vane__codec_reject(err, VANE_REJECT_TOO_LONG, path, 0,
                                  "%s is %zu bytes, the limit is %zu", path, n, cap - 1);
    if (!vane__utf8_valid(s, n))
        return vane__codec_reject(err, VANE_REJECT_NOT_UTF8, path, 0, "%s is not valid UTF-8",
                                  path);
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
    return VANE_OK;
}

static int alert_enum(vane_decode_error_t *err, const char *path, int v, int count, void *dst)
{
    if (v < 0 || v >= count)
        return vane__codec_reject(err, VANE_REJECT_UNKNOWN_ENUM, path, 0,
                                  "%s: unknown enum number %d", path, v);
    memcpy(dst, &v, sizeof v);
    return VANE_OK;
}

static int alert_from_pb(const Vane__V1__Alert *m, vane_alert_t *a, vane_decode_error_t *err)
{
    int rc;
#define CP(nm)                                                                                     \
    if ((rc = copy_cstr(err, #nm, m->nm, a->nm, sizeof a->nm)))                                    \
        return rc;
    CP(alert_id);
    CP(rule_id);
    CP(customer_id);
    CP(summary);
    CP(segment);
    CP(route);
    CP(manager_id);
#undef CP
    if ((rc = alert_enum(err, "kind", (int)m->kind, VANE_ALERT__COUNT, &a->kind)) ||
        (rc = alert_enum(err, "severity", (int)m->severity, VANE_SEV__COUNT, &a->severity)) ||
        (rc = alert_enum(err, "stage", (int)m->stage, VANE_STAGE__COUNT, &a->stage)) ||
        (rc = alert_enum(err, "from_category", (int)m->from_category, VANE_CAT__COUNT,
                         &a->from_category)) ||
        (rc =
             alert_enum(err, "to_category", (int)m->to_category, VANE_CAT__COUNT, &a->to_category)))
        return rc;
    a->score = m->score;
    a->event_time_ms = m->event_time_ms;
    a->detected_at_ms = m->detected_at_ms;
    if (m->n_event_ids > VANE_ALERT_MAX_EVENT_IDS)
        return vane__codec_reject(err, VANE_REJECT_TOO_LONG, "event_ids", 0,
                                  "more than %d event_ids", VANE_ALERT_MAX_EVENT_IDS);
    for (size_t i = 0; i < m->n_event_ids; i++) {
        if ((rc = copy_cstr(err, "event_ids", m->event_ids[i], a->event_ids[i],
                            sizeof a->event_ids[i])))
            return rc;
    }
    a->n_event_ids = (uint32_t)m->n_event_ids;
    if (m->n_features > VANE_ALERT_MAX_FEATURES)
        return vane__codec_reject(err, VANE_REJECT_TOO_LONG, "features", 0, "more than %d features",
                                  VANE_ALERT_MAX_FEATURES);
    for (size_t i = 0; i < m->n_features; i++) {
        if ((rc = copy_cstr(err, "features", m->features[i]->key, a->features[i].name,
                            sizeof a->features[i].name)))
            return rc;
        a->features[i].value = m->features[i]->value;
    }
    a->n_features = (uint32_t)m->n_features;
    return VANE_OK;
}

int vane__pb_decode_alert(const uint8_t *p, size_t n, vane_alert_t *a, vane_decode_error_t *err)
{
    Vane__V1__Alert *m = vane__v1__alert__unpack(NULL, n, p);
    if (!m)
        return vane__codec_reject(err, VANE_REJECT_PB_MALFORMED, NULL, 0,
                                  "protobuf-c could not unpack the alert (%zu bytes)", n);
    int rc = alert_from_pb(m, a, err);
    vane__v1__alert__free_unpacked(m, NULL);
    return rc;
}

/*---------------------------------------------------------------------------------------------
 * Encoding
 *-------------------------------------------------------------------------------------------*/

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2 };

typedef struct pw {
    vane_buf_t *b;
    int rc;
} pw_t;

static void pw_varint(pw_t *w, uint64_t v)
{
    if (!w->rc)
        w->rc = vane_buf_varint(w->b, v);
}

static void pw_tag(pw_t *w, unsigned field, unsigned wt)
{
    pw_varint(w, (uint64_t)field << 3 | wt);
}

static void pw_bytes(pw_t *w, unsigned field, const char *p, size_t n)
{
    pw_tag(w, field, WT_LEN);
    pw_varint(w, n);
    if (!w->rc && n)
        w->rc = vane_buf_append(w->b, p, n);
}

/* proto3: a string equal to the default ("") is not written. */
static void pw_str(pw_t *w, unsigned field, vane_str_t s)
{
    if (s.len)
        pw_bytes(w, field, s.p, s.len);
}

static void pw_cstr(pw_t *w, unsigned field, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n)
        pw_bytes(w, field, s, n);
}

/* int64/int32/enum/bool: a varint; negative values are sign-extended to ten bytes. */
static void pw_int(pw_t *w, unsigned field, int64_t v)
{
    pw_tag(w, field, WT_VARINT);
    pw_varint(w, (uint64_t)v);
}

static void pw_int_opt(pw_t *w, unsigned field, int64_t v)
{
    if (v)
        pw_int(w, field, v);
}

static void pw_double(pw_t *w, unsigned field, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(bits >> (8 * i));
    pw_tag(w, field, WT_I64);
    if (!w->rc)
        w->rc = vane_buf_append(w->b, le, sizeof le);
}

/* A sub-message: write the tag and a one-byte length placeholder; pw_end() fixes it up,
 * moving the body when the length needs more than one byte. */
static size_t pw_begin(pw_t *w, unsigned field)
{
    pw_tag(w, field, WT_LEN);
    size_t at = w->b->len;
    if (!w->rc)
        w->rc = vane_buf_putc(w->b, 0);
    return at;
}

static void pw_end(pw_t *w, size_t at)
{
    if (w->rc)
        return;
    size_t body = w->b->len - at - 1;
    unsigned char len[10];
    size_t k = 0;
    uint64_t v = body;
    do {
        unsigned char byte = v & 0x7f;
        v >>= 7;
        len[k++] = (unsigned char)(v ? byte | 0x80 : byte);
    } while (v);
    if (k > 1) {
        if ((w->rc = vane_buf_reserve(w->b, k - 1)))
            return;
        memmove(w->b->data + at + k, w->b->data + at + 1, body);
        w->b->len += k - 1;
        w->b->data[w->b->len] = '\0';
    }
    memcpy(w->b->data + at, len, k);
}

int vane__pb_encode_event(const vane_event_t *ev, vane_buf_t *out)
{
    pw_t w = {out, 0};
    pw_str(&w, 1, ev->event_id);
    pw_str(&w, 2, ev->customer_id);
    pw_int_opt(&w, 3, ev->event_time_ms);
    pw_int_opt(&w, 4, (int)ev->channel);
    size_t at;
    switch (ev->type) {
    case VANE_EVENT_TXN: {
        const vane_txn_t *t = &ev->txn;
        at = pw_begin(&w, 10);
        pw_int_opt(&w, 1, (int)t->kind);
        pw_int_opt(&w, 2, (int)t->category);
        pw_str(&w, 3, t->product_id);
        pw_int_opt(&w, 4, t->amount_minor);
        pw_str(&w, 5, t->currency);
        if (t->has_balance_after)
            pw_int(&w, 6, t->balance_after_minor); /* oneof: written even when 0 */
        pw_str(&w, 7, t->counterparty_bank);
        pw_end(&w, at);
        break;
    }
    case VANE_EVENT_LOGIN:
        at = pw_begin(&w, 11);
        pw_int_opt(&w, 1, ev->login.success ? 1 : 0);
        pw_str(&w, 2, ev->login.device_id);
        pw_end(&w, at);
        break;
    case VANE_EVENT_ENGAGEMENT: {
        const vane_engagement_t *g = &ev->eng;
        at = pw_begin(&w, 12);
        pw_int_opt(&w, 1, (int)g->kind);
        pw_int_opt(&w, 2, (int)g->category);
        pw_str(&w, 3, g->product_id);
        pw_str(&w, 4, g->service);
        if (g->has_score)
            pw_int(&w, 5, g->score);
        pw_end(&w, at);
        break;
    }
    case VANE_EVENT_PROFILE: {
        const vane_profile_t *p = &ev->profile;
        at = pw_begin(&w, 13);
        pw_str(&w, 1, p->segment);
        pw_int_opt(&w, 2, p->since_ms);
        pw_str(&w, 3, p->manager_id);
        pw_str(&w, 4, p->tier);
        pw_end(&w, at);
        break;
    }
    case VANE_EVENT_NONE:
        break;
    }
    return w.rc;
}

int vane__pb_encode_alert(const vane_alert_t *a, vane_buf_t *out)
{
    pw_t w = {out, 0};
    pw_cstr(&w, 1, a->alert_id, sizeof a->alert_id);
    pw_cstr(&w, 2, a->rule_id, sizeof a->rule_id);
    pw_int_opt(&w, 3, (int)a->kind);
    pw_int_opt(&w, 4, (int)a->severity);
    pw_cstr(&w, 5, a->customer_id, sizeof a->customer_id);
    uint64_t bits;
    memcpy(&bits, &a->score, sizeof bits);
    if (bits)
        pw_double(&w, 6, a->score);
    pw_int_opt(&w, 7, (int)a->stage);
    pw_int_opt(&w, 8, (int)a->from_category);
    pw_int_opt(&w, 9, (int)a->to_category);
    pw_int_opt(&w, 10, a->event_time_ms);
    pw_int_opt(&w, 11, a->detected_at_ms);
    uint32_t nids =
        a->n_event_ids < VANE_ALERT_MAX_EVENT_IDS ? a->n_event_ids : VANE_ALERT_MAX_EVENT_IDS;
    for (uint32_t i = 0; i < nids; i++) /* repeated: every element, even "" */
        pw_bytes(&w, 12, a->event_ids[i], strnlen(a->event_ids[i], sizeof a->event_ids[i]));
    uint32_t nf = a->n_features < VANE_ALERT_MAX_FEATURES ? a->n_features : VANE_ALERT_MAX_FEATURES;
    for (uint32_t i = 0; i < nf; i++) {
        /* map<string, double> entry: key and value always written, as protoc does */
        size_t at = pw_begin(&w, 13);
        const vane_alert_feature_t *f = &a->features[i];
        pw_bytes(&w, 1, f->name, strnlen(f->name, sizeof f->name));
        pw_double(&w, 2, f->value);
        pw_end(&w, at);
    }
    pw_cstr(&w, 14, a->summary, sizeof a->summary);
    pw_cstr(&w, 15, a->segment, sizeof a->segment);
    pw_cstr(&w, 16, a->route, sizeof a->route);
    pw_cstr(&w, 17, a->manager_id, sizeof a->manager_id);
    return w.rc;
}
