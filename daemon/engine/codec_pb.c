/* codec_pb.c - events and alerts as protobuf (proto/vane/v1/event.proto, alert.proto).
 *
 * Events are decoded by a small wire reader written for the Event message (see
 * vane__pb_decode_event): it reads fields straight from the message bytes and borrows
 * strings from them (their true length included, so an embedded NUL reaches the shared
 * validation instead of truncating an id), allocating nothing. A message waiting for its
 * customer's state can therefore keep its decoded event. It decodes exactly what
 * protobuf-c's generated unpack decodes; that unpack is kept as the reference
 * (vane__pb_decode_event_reference, over an arena that is made on first use), and
 * test_codec_pb compares the two on valid, mutated and random messages.
 *
 * Alerts (tools and tests) are unpacked by protobuf-c with its default allocator.
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
    /* the arena itself is made by the first reference decode: the wire reader needs none */
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

/* The wire reader: fields are read straight from the message bytes, strings borrowed from
 * them (protobuf strings are raw bytes: nothing to unescape), nothing allocated. It accepts
 * and rejects what protobuf-c's generated unpack does (the reference below; test_codec_pb
 * compares the two on valid, mutated and random messages): unknown fields of wire types 0, 1,
 * 2 and 5 are skipped; groups, wire types 6 and 7, field number 0, a known field with the
 * wrong wire type, a varint over 10 bytes and a length past the end are malformed; a scalar
 * seen twice keeps the last value; a second payload replaces the first, even one of the same
 * kind (payloads are a oneof, and protobuf-c does not merge oneof members). Enums and int32 keep
 * the low 32 bits of the varint, as protobuf-c does. */
typedef struct pbin {
    const uint8_t *p, *end;
} pbin_t;

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* A varint of at most max_bytes bytes; false when it is longer or runs past the end. */
static bool in_varint(pbin_t *in, unsigned max_bytes, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned i = 0; i < max_bytes && in->p < in->end; i++) {
        uint8_t b = *in->p++;
        if (i < 10)
            r |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

/* The next field's number and wire type; false when malformed. Read as protobuf-c reads
 * it: at most 5 bytes, the number kept to 32 bits, and "field 0" judged on the first byte
 * alone (a number that only later bytes make 0 or huge is merely unknown, and skipped). */
static bool in_tag(pbin_t *in, uint32_t *field, unsigned *wt)
{
    if (in->p >= in->end || (in->p[0] & 0xf8) == 0)
        return false;
    uint8_t b = *in->p++;
    uint32_t f = (uint32_t)(b & 0x7f) >> 3;
    *wt = b & 7u;
    for (unsigned i = 1, shift = 4; b & 0x80; i++, shift += 7) {
        if (i == 5 || in->p >= in->end)
            return false;
        b = *in->p++;
        f |= (uint32_t)(b & 0x7f) << shift;
    }
    *field = f;
    return true;
}

/* A length-delimited body: *body / *len; false when it does not fit in what is left. */
static bool in_len(pbin_t *in, const uint8_t **body, size_t *len)
{
    uint64_t l;
    if (!in_varint(in, 5, &l))
        return false;
    l = (uint32_t)l; /* protobuf-c keeps the low 32 bits of a 5-byte prefix */
    if (l > (uint64_t)(in->end - in->p))
        return false;
    *body = in->p;
    *len = (size_t)l;
    in->p += l;
    return true;
}

/* Skip the value of an unknown field of wire type wt. */
static bool in_skip(pbin_t *in, unsigned wt)
{
    uint64_t v;
    const uint8_t *b;
    size_t l;
    switch (wt) {
    case WT_VARINT:
        return in_varint(in, 10, &v);
    case WT_I64:
    case WT_I32: {
        size_t w = wt == WT_I64 ? 8 : 4;
        if ((size_t)(in->end - in->p) < w)
            return false;
        in->p += w;
        return true;
    }
    case WT_LEN:
        return in_len(in, &b, &l);
    default: /* groups (3, 4) are not supported by protobuf-c either; 6 and 7 do not exist */
        return false;
    }
}

/* A varint known field (wt must be WT_VARINT). */
static bool in_int(pbin_t *in, unsigned wt, uint64_t *v)
{
    return wt == WT_VARINT && in_varint(in, 10, v);
}

/* A bool: true when any value bit of the field's bytes is set. protobuf-c reads a bool this
 * way whatever its wire type (for a length-delimited one, over the length prefix and the
 * body), so the other wire types are accepted too, to decode exactly what it decodes. */
static bool in_bool(pbin_t *in, unsigned wt, bool *v)
{
    const uint8_t *start = in->p;
    if (wt == WT_VARINT) {
        uint64_t ignored;
        if (!in_varint(in, 10, &ignored))
            return false;
    } else if (!in_skip(in, wt)) {
        return false;
    }
    bool any = false;
    for (const uint8_t *q = start; q < in->p; q++)
        any |= (*q & 0x7f) != 0;
    *v = any;
    return true;
}

static bool in_str(pbin_t *in, unsigned wt, vane_str_t *s)
{
    const uint8_t *b;
    size_t l;
    if (wt != WT_LEN || !in_len(in, &b, &l))
        return false;
    s->p = (const char *)b;
    s->len = (uint32_t)l;
    return true;
}

/* What a known field holds and where it goes: one table per message, indexed by field
 * number (entries with kind PK_NONE, and numbers past the table, are unknown fields). */
typedef enum { PK_NONE, PK_STR, PK_I64, PK_ENUM, PK_I32, PK_BOOL } pkind_t;
typedef struct pbfield {
    uint8_t kind;
    uint16_t off; /* of the member in the payload (or event) struct */
    int16_t has;  /* offset of its "present" bool (a proto3 oneof of one), or -1 */
} pbfield_t;

#define PF(st, m, k)                                                                               \
    {                                                                                              \
        k, offsetof(st, m), -1                                                                     \
    }
#define PFH(st, m, k, h)                                                                           \
    {                                                                                              \
        k, offsetof(st, m), offsetof(st, h)                                                        \
    }

static const pbfield_t pb_event[] = {
    [1] = PF(vane_event_t, event_id, PK_STR),
    [2] = PF(vane_event_t, customer_id, PK_STR),
    [3] = PF(vane_event_t, event_time_ms, PK_I64),
    [4] = PF(vane_event_t, channel, PK_ENUM),
};
static const pbfield_t pb_txn[] = {
    [1] = PF(vane_txn_t, kind, PK_ENUM),
    [2] = PF(vane_txn_t, category, PK_ENUM),
    [3] = PF(vane_txn_t, product_id, PK_STR),
    [4] = PF(vane_txn_t, amount_minor, PK_I64),
    [5] = PF(vane_txn_t, currency, PK_STR),
    [6] = PFH(vane_txn_t, balance_after_minor, PK_I64, has_balance_after),
    [7] = PF(vane_txn_t, counterparty_bank, PK_STR),
};
static const pbfield_t pb_login[] = {
    [1] = PF(vane_login_t, success, PK_BOOL),
    [2] = PF(vane_login_t, device_id, PK_STR),
};
static const pbfield_t pb_eng[] = {
    [1] = PF(vane_engagement_t, kind, PK_ENUM),
    [2] = PF(vane_engagement_t, category, PK_ENUM),
    [3] = PF(vane_engagement_t, product_id, PK_STR),
    [4] = PF(vane_engagement_t, service, PK_STR),
    [5] = PFH(vane_engagement_t, score, PK_I32, has_score),
};
static const pbfield_t pb_profile[] = {
    [1] = PF(vane_profile_t, segment, PK_STR),
    [2] = PF(vane_profile_t, since_ms, PK_I64),
    [3] = PF(vane_profile_t, manager_id, PK_STR),
    [4] = PF(vane_profile_t, tier, PK_STR),
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Payload field numbers 10..13 of Event: its table and where the payload lives. */
static const struct {
    const pbfield_t *fields;
    size_t n;
    size_t off;
} pb_payloads[4] = {
    {pb_txn, NELEM(pb_txn), offsetof(vane_event_t, txn)},
    {pb_login, NELEM(pb_login), offsetof(vane_event_t, login)},
    {pb_eng, NELEM(pb_eng), offsetof(vane_event_t, eng)},
    {pb_profile, NELEM(pb_profile), offsetof(vane_event_t, profile)},
};

/* One known field's value (wire type wt) into base + f->off. */
static bool in_field(pbin_t *in, unsigned wt, const pbfield_t *f, char *base)
{
    void *at = base + f->off;
    uint64_t v;
    switch ((pkind_t)f->kind) {
    case PK_STR:
        return in_str(in, wt, at);
    case PK_BOOL:
        return in_bool(in, wt, at);
    case PK_I64:
    case PK_ENUM:
    case PK_I32:
        if (!in_int(in, wt, &v))
            return false;
        if (f->kind == PK_I64) {
            int64_t x = (int64_t)v;
            memcpy(at, &x, sizeof x);
        } else { /* enums and int32: the low 32 bits, as protobuf-c keeps them */
            int32_t x = (int32_t)(uint32_t)v;
            memcpy(at, &x, sizeof x);
        }
        if (f->has >= 0)
            base[f->has] = 1; /* a bool */
        return true;
    case PK_NONE:
        break;
    }
    return in_skip(in, wt);
}

/* The fields of one message (fields[n] by number) into base. depth 0 = the Event, whose
 * payload fields 10..13 are sub-messages into *ev. */
static bool in_message(pbin_t *in, const pbfield_t *fields, size_t n, char *base, vane_event_t *ev)
{
    while (in->p < in->end) {
        uint32_t num;
        unsigned wt;
        if (!in_tag(in, &num, &wt))
            return false;
        if (ev && num >= 10 && num <= 13) {
            pbin_t sub;
            size_t len;
            if (wt != WT_LEN || !in_len(in, &sub.p, &len))
                return false;
            sub.end = sub.p + len;
            /* oneof: a payload replaces the one before, even one of the same kind (protobuf-c
             * does not merge oneof members) */
            if (ev->type != VANE_EVENT_NONE) {
                memset(&ev->txn, 0, sizeof ev->txn);
                memset(&ev->login, 0, sizeof ev->login);
                memset(&ev->eng, 0, sizeof ev->eng);
                memset(&ev->profile, 0, sizeof ev->profile);
            }
            ev->type = (vane_event_type_t)(VANE_EVENT_TXN + (num - 10));
            const pbfield_t *pf = pb_payloads[num - 10].fields;
            if (!in_message(&sub, pf, pb_payloads[num - 10].n,
                            (char *)ev + pb_payloads[num - 10].off, NULL))
                return false;
            continue;
        }
        static const pbfield_t unknown = {PK_NONE, 0, -1};
        if (!in_field(in, wt, num < n ? &fields[num] : &unknown, base))
            return false;
    }
    return true;
}

int vane__pb_decode_event(vane_pb_dec_t *pd, const uint8_t *p, size_t n, vane_event_t *ev,
                          vane_decode_error_t *err)
{
    (void)pd;
    pbin_t in = {p, p + n};
    if (in_message(&in, pb_event, NELEM(pb_event), (char *)ev, ev))
        return VANE_OK;
    return vane__codec_reject(err, VANE_REJECT_PB_MALFORMED, NULL, (size_t)(in.p - p),
                              "malformed protobuf near byte %zu of %zu (truncated, a bad wire "
                              "type or tag, or a field of the wrong type)",
                              (size_t)(in.p - p), n);
}

/* The same decoding through protobuf-c's generated unpack (into the arena): the oracle the
 * tests compare vane__pb_decode_event with. */
int vane__pb_decode_event_reference(vane_pb_dec_t *pd, const uint8_t *p, size_t n, vane_event_t *ev,
                                    vane_decode_error_t *err)
{
    if (!pd->base && !(pd->base = aligned_alloc(ARENA_ALIGN, pd->cap)))
        return vane__codec_reject(err, VANE_REJECT_TOO_LARGE, NULL, 0, "no decode memory");
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
