/* codec.c - format choice, reject names, the decoder object and the contract checks that
 * both wire formats share. The format-specific halves live in codec_json.c and codec_pb.c. */
#include "codec.h"

#include "codec_int.h"

#include "../util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*---------------------------------------------------------------------------------------------
 * Reject reasons
 *-------------------------------------------------------------------------------------------*/

static const char *const reject_names[VANE_REJECT__COUNT] = {"none",
#define VANE__REJ_NAME(name, label) label,
                                                             VANE_REJECT_MAP(VANE__REJ_NAME)
#undef VANE__REJ_NAME
};

const char *vane_reject_name(vane_reject_t r)
{
    if ((unsigned)r >= VANE_REJECT__COUNT)
        return "unknown";
    return reject_names[r];
}

int vane__codec_reject_code(vane_reject_t reason)
{
    switch (reason) {
    case VANE_REJECT_NONE:
        return VANE_OK;
    case VANE_REJECT_TOO_LARGE:
    case VANE_REJECT_TOO_LONG:
        return VANE_ETOOBIG;
    case VANE_REJECT_EMPTY:
    case VANE_REJECT_MISSING_FIELD:
        return VANE_EMISSING;
    case VANE_REJECT_JSON_SYNTAX:
    case VANE_REJECT_PB_MALFORMED:
        return VANE_EPARSE;
    case VANE_REJECT_JSON_TYPE:
        return VANE_ETYPE;
    case VANE_REJECT_UNKNOWN_ENUM:
        return VANE_EENUM;
    case VANE_REJECT_NOT_UTF8:
        return VANE_EUTF8;
    case VANE_REJECT_BAD_VALUE:
    case VANE_REJECT_BAD_TIME:
        return VANE_ERANGE;
    case VANE_REJECT_KEY_MISMATCH:
        return VANE_EINVAL;
    case VANE_REJECT__COUNT:
        break;
    }
    return VANE_EINVAL;
}

int vane__codec_reject(vane_decode_error_t *err, vane_reject_t reason, const char *field,
                       size_t offset, const char *fmt, ...)
{
    err->reason = reason;
    err->offset = offset;
    vane_str_copy(err->field, sizeof err->field, vane_str_c(field ? field : ""));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    /* One line, always: a message quoting input must not smuggle a newline into logs. */
    for (char *c = err->msg; *c; c++) {
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    }
    return vane__codec_reject_code(reason);
}

static void error_clear(vane_decode_error_t *err)
{
    err->reason = VANE_REJECT_NONE;
    err->field[0] = '\0';
    err->msg[0] = '\0';
    err->offset = 0;
}

/*---------------------------------------------------------------------------------------------
 * UTF-8
 *-------------------------------------------------------------------------------------------*/

bool vane__utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* UTF-16 surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* beyond U+10FFFF */
        } else {
            return false; /* continuation byte first, C0/C1 overlong, F5..FF */
        }
        if (n - i <= need)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        }
        i += need + 1;
    }
    return true;
}

/*---------------------------------------------------------------------------------------------
 * Format choice
 *-------------------------------------------------------------------------------------------*/

/* The media type of a content-type header value ("application/json; charset=utf-8"). */
static vane_format_t format_of_content_type(const char *ct, size_t n)
{
    size_t b = 0;
    while (b < n && (ct[b] == ' ' || ct[b] == '\t'))
        b++;
    size_t e = b;
    while (e < n && ct[e] != ';' && ct[e] != ' ' && ct[e] != '\t')
        e++;
    const char *m = ct + b;
    size_t ml = e - b;
    static const char *const json_types[] = {"application/json", "text/json"};
    static const char *const pb_types[] = {"application/x-protobuf", "application/protobuf",
                                           "application/x-protobuffer",
                                           "application/vnd.google.protobuf"};
    for (size_t i = 0; i < sizeof json_types / sizeof json_types[0]; i++) {
        if (strlen(json_types[i]) == ml && strncasecmp(m, json_types[i], ml) == 0)
            return VANE_FORMAT_JSON;
    }
    for (size_t i = 0; i < sizeof pb_types / sizeof pb_types[0]; i++) {
        if (strlen(pb_types[i]) == ml && strncasecmp(m, pb_types[i], ml) == 0)
            return VANE_FORMAT_PROTOBUF;
    }
    /* Structured-syntax suffixes (RFC 6839): application/vnd.bank.event+json. */
    if (ml > 5 && strncasecmp(m + ml - 5, "+json", 5) == 0)
        return VANE_FORMAT_JSON;
    if (ml > 6 && strncasecmp(m + ml - 6, "+proto", 6) == 0)
        return VANE_FORMAT_PROTOBUF;
    return VANE_FORMAT_AUTO;
}

static vane_format_t sniff(const void *bytes, size_t len)
{
    const char *s = bytes;
    for (size_t i = 0; s && i < len; i++) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        return c == '{' ? VANE_FORMAT_JSON : VANE_FORMAT_PROTOBUF;
    }
    return VANE_FORMAT_PROTOBUF;
}

vane_format_t vane_format_detect(const char *content_type, size_t ct_len, vane_format_t configured,
                                 const void *bytes, size_t len)
{
    if (content_type && ct_len) {
        vane_format_t f = format_of_content_type(content_type, ct_len);
        if (f != VANE_FORMAT_AUTO)
            return f;
    }
    if (configured == VANE_FORMAT_JSON || configured == VANE_FORMAT_PROTOBUF)
        return configured;
    return sniff(bytes, len);
}

int vane_format_parse(const char *s, vane_format_t *out)
{
    if (!s)
        return VANE_EINVAL;
    if (strcasecmp(s, "json") == 0)
        *out = VANE_FORMAT_JSON;
    else if (strcasecmp(s, "protobuf") == 0)
        *out = VANE_FORMAT_PROTOBUF;
    else if (strcasecmp(s, "auto") == 0)
        *out = VANE_FORMAT_AUTO;
    else
        return VANE_EINVAL;
    return VANE_OK;
}

const char *vane_format_name(vane_format_t f)
{
    switch (f) {
    case VANE_FORMAT_JSON:
        return "json";
    case VANE_FORMAT_PROTOBUF:
        return "protobuf";
    case VANE_FORMAT_AUTO:
        break;
    }
    return "auto";
}

/*---------------------------------------------------------------------------------------------
 * The decoder
 *-------------------------------------------------------------------------------------------*/

struct vane_decoder {
    size_t max_bytes;
    vane_json_dec_t *json; /* owned */
    vane_pb_dec_t *pb;     /* owned */
};

vane_decoder_t *vane_decoder_new(size_t max_bytes)
{
    if (max_bytes == 0 || max_bytes > VANE_DECODE_MAX_BYTES)
        return NULL;
    vane_decoder_t *dec = calloc(1, sizeof *dec);
    if (!dec)
        return NULL;
    dec->max_bytes = max_bytes;
    dec->json = vane__json_dec_new(max_bytes);
    dec->pb = vane__pb_dec_new(max_bytes);
    if (!dec->json || !dec->pb)
        goto err;
    return dec;
err:
    vane_decoder_free(dec);
    return NULL;
}

void vane_decoder_free(vane_decoder_t *dec)
{
    if (!dec)
        return;
    vane__json_dec_free(dec->json);
    vane__pb_dec_free(dec->pb);
    free(dec);
}

int vane_decoder_decode(vane_decoder_t *dec, const void *bytes, size_t len, vane_format_t fmt,
                        vane_event_t *ev, vane_decode_error_t *err)
{
    vane_decode_error_t local;
    if (!err)
        err = &local;
    error_clear(err);
    memset(ev, 0, sizeof *ev);
    if (len == 0 || !bytes)
        return vane__codec_reject(err, VANE_REJECT_EMPTY, NULL, 0, "empty message");
    if (len > dec->max_bytes)
        return vane__codec_reject(err, VANE_REJECT_TOO_LARGE, NULL, 0,
                                  "message is %zu bytes, the limit is %zu", len, dec->max_bytes);
    if (fmt != VANE_FORMAT_JSON && fmt != VANE_FORMAT_PROTOBUF)
        fmt = sniff(bytes, len);
    bool checked = false;
    int rc = fmt == VANE_FORMAT_JSON
                 ? vane__json_decode_event(dec->json, bytes, len, ev, err, &checked)
                 : vane__pb_decode_event(dec->pb, (const uint8_t *)bytes, len, ev, err);
    if (rc)
        return rc;
    return vane__codec_validate(ev, err, checked);
}

/*---------------------------------------------------------------------------------------------
 * Contract checks shared by both formats
 *-------------------------------------------------------------------------------------------*/

static int check_str(vane_decode_error_t *err, vane_str_t s, const char *field, uint32_t max,
                     bool checked)
{
    if (s.len == 0)
        return VANE_OK;
    if (s.len > max)
        return vane__codec_reject(err, VANE_REJECT_TOO_LONG, field, 0,
                                  "%s is %u bytes, the limit is %u", field, s.len, max);
    if (checked)
        return VANE_OK;
    if (!vane__utf8_valid(s.p, s.len))
        return vane__codec_reject(err, VANE_REJECT_NOT_UTF8, field, 0, "%s is not valid UTF-8",
                                  field);
    if (memchr(s.p, '\0', s.len))
        return vane__codec_reject(err, VANE_REJECT_BAD_VALUE, field, 0, "%s contains a NUL byte",
                                  field);
    return VANE_OK;
}

static int check_enum(vane_decode_error_t *err, int v, int count, bool required, const char *field)
{
    if (v < 0 || v >= count)
        return vane__codec_reject(err, VANE_REJECT_UNKNOWN_ENUM, field, 0,
                                  "%s: unknown enum number %d", field, v);
    if (required && v == 0)
        return vane__codec_reject(err, VANE_REJECT_MISSING_FIELD, field, 0, "%s is required",
                                  field);
    return VANE_OK;
}

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
    } while (0)

int vane_codec_validate_event(const vane_event_t *ev, vane_decode_error_t *err)
{
    return vane__codec_validate(ev, err, false);
}

int vane__codec_validate(const vane_event_t *ev, vane_decode_error_t *err, bool checked)
{
    vane_decode_error_t local;
    if (!err)
        err = &local;
    if (ev->customer_id.len == 0)
        return vane__codec_reject(err, VANE_REJECT_MISSING_FIELD, "customer_id", 0,
                                  "customer_id is required");
    CHECK(check_str(err, ev->customer_id, "customer_id", VANE_ID_MAX, checked));
    CHECK(check_str(err, ev->event_id, "event_id", VANE_ID_MAX, checked));
    if (ev->event_time_ms == 0)
        return vane__codec_reject(err, VANE_REJECT_MISSING_FIELD, "event_time_ms", 0,
                                  "event_time_ms is required");
    if (ev->event_time_ms < 0)
        return vane__codec_reject(err, VANE_REJECT_BAD_VALUE, "event_time_ms", 0,
                                  "event_time_ms is negative (%lld)", (long long)ev->event_time_ms);
    CHECK(check_enum(err, (int)ev->channel, VANE_CHANNEL__COUNT, false, "channel"));

    switch (ev->type) {
    case VANE_EVENT_TXN: {
        const vane_txn_t *t = &ev->txn;
        CHECK(check_enum(err, (int)t->kind, VANE_TXN__COUNT, true, "txn.kind"));
        CHECK(check_enum(err, (int)t->category, VANE_CAT__COUNT, false, "txn.category"));
        CHECK(check_str(err, t->product_id, "txn.product_id", VANE_SHORT_MAX, checked));
        if (t->amount_minor < 0)
            return vane__codec_reject(err, VANE_REJECT_BAD_VALUE, "txn.amount_minor", 0,
                                      "txn.amount_minor is negative (%lld)",
                                      (long long)t->amount_minor);
        if (t->amount_minor > VANE_AMOUNT_MAX)
            return vane__codec_reject(err, VANE_REJECT_BAD_VALUE, "txn.amount_minor", 0,
                                      "txn.amount_minor is absurdly large (%lld)",
                                      (long long)t->amount_minor);
        CHECK(check_str(err, t->currency, "txn.currency", VANE_SHORT_MAX, checked));
        if (t->has_balance_after &&
            (t->balance_after_minor > VANE_AMOUNT_MAX || t->balance_after_minor < -VANE_AMOUNT_MAX))
            return vane__codec_reject(err, VANE_REJECT_BAD_VALUE, "txn.balance_after_minor", 0,
                                      "txn.balance_after_minor is absurd (%lld)",
                                      (long long)t->balance_after_minor);
        CHECK(
            check_str(err, t->counterparty_bank, "txn.counterparty_bank", VANE_SHORT_MAX, checked));
        break;
    }
    case VANE_EVENT_LOGIN:
        CHECK(check_str(err, ev->login.device_id, "login.device_id", VANE_SHORT_MAX, checked));
        break;
    case VANE_EVENT_ENGAGEMENT: {
        const vane_engagement_t *g = &ev->eng;
        CHECK(check_enum(err, (int)g->kind, VANE_ENG__COUNT, true, "engagement.kind"));
        CHECK(check_enum(err, (int)g->category, VANE_CAT__COUNT, false, "engagement.category"));
        CHECK(check_str(err, g->product_id, "engagement.product_id", VANE_SHORT_MAX, checked));
        CHECK(check_str(err, g->service, "engagement.service", VANE_SHORT_MAX, checked));
        if (g->has_score && (g->score < 0 || g->score > 10))
            return vane__codec_reject(err, VANE_REJECT_BAD_VALUE, "engagement.score", 0,
                                      "engagement.score %d is outside 0..10", (int)g->score);
        if (g->kind == VANE_ENG_SURVEY && !g->has_score)
            return vane__codec_reject(err, VANE_REJECT_MISSING_FIELD, "engagement.score", 0,
                                      "engagement.score is required for SURVEY");
        break;
    }
    case VANE_EVENT_PROFILE: {
        const vane_profile_t *p = &ev->profile;
        CHECK(check_str(err, p->segment, "profile.segment", VANE_SHORT_MAX, checked));
        if (p->since_ms < 0)
            return vane__codec_reject(err, VANE_REJECT_BAD_VALUE, "profile.since_ms", 0,
                                      "profile.since_ms is negative (%lld)",
                                      (long long)p->since_ms);
        CHECK(check_str(err, p->manager_id, "profile.manager_id", VANE_SHORT_MAX, checked));
        CHECK(check_str(err, p->tier, "profile.tier", VANE_SHORT_MAX, checked));
        break;
    }
    case VANE_EVENT_NONE:
    default:
        return vane__codec_reject(err, VANE_REJECT_MISSING_FIELD, "payload", 0,
                                  "no payload: exactly one of txn, login, engagement, profile "
                                  "is required");
    }
    return VANE_OK;
}

/*---------------------------------------------------------------------------------------------
 * Encoders and the alert decoder: dispatch by format
 *-------------------------------------------------------------------------------------------*/

int vane_codec_encode_event(const vane_event_t *ev, vane_format_t fmt, vane_buf_t *out)
{
    size_t mark = out->len;
    int rc;
    if (fmt == VANE_FORMAT_JSON)
        rc = vane__json_encode_event(ev, out);
    else if (fmt == VANE_FORMAT_PROTOBUF)
        rc = vane__pb_encode_event(ev, out);
    else
        return VANE_EINVAL;
    if (rc) {
        out->len = mark; /* all or nothing */
        if (out->data)
            out->data[mark] = '\0';
    }
    return rc;
}

int vane_codec_encode_alert(const vane_alert_t *a, vane_format_t fmt, vane_buf_t *out)
{
    size_t mark = out->len;
    int rc;
    if (fmt == VANE_FORMAT_JSON)
        rc = vane__json_encode_alert(a, out);
    else if (fmt == VANE_FORMAT_PROTOBUF)
        rc = vane__pb_encode_alert(a, out);
    else
        return VANE_EINVAL;
    if (rc) {
        out->len = mark;
        if (out->data)
            out->data[mark] = '\0';
    }
    return rc;
}

int vane_codec_decode_alert(const void *bytes, size_t len, vane_format_t fmt, vane_alert_t *a,
                            vane_decode_error_t *err)
{
    vane_decode_error_t local;
    if (!err)
        err = &local;
    error_clear(err);
    memset(a, 0, sizeof *a);
    if (fmt != VANE_FORMAT_JSON && fmt != VANE_FORMAT_PROTOBUF)
        fmt = sniff(bytes, len);
    /* An all-default alert is zero bytes of protobuf, which is valid; empty JSON is not. */
    if (len == 0 && fmt == VANE_FORMAT_PROTOBUF)
        return VANE_OK;
    if (len == 0 || !bytes)
        return vane__codec_reject(err, VANE_REJECT_EMPTY, NULL, 0, "empty message");
    if (fmt == VANE_FORMAT_JSON)
        return vane__json_decode_alert(bytes, len, a, err);
    return vane__pb_decode_alert(bytes, len, a, err);
}
