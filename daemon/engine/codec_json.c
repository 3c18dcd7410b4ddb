/* codec_json.c - events and alerts as JSON (shared/CONTRACT.md field names).
 *
 * Events are decoded in one pass over the bytes that neither allocates nor builds tokens:
 * parse_members() walks the message with a strict RFC 8259 grammar check (it rejects what a
 * lenient tokenizer accepts: missing or trailing commas, bad literals, a NUL byte; it bounds
 * the nesting depth, validates UTF-8 and \u escapes, whose surrogate pairs must pair up, and
 * insists on exactly one top-level object with nothing after it) and stores each contract
 * field as it meets its key, trying first the key that follows the last one matched, since
 * producers write keys in a fixed order. A field error is remembered and the grammar check
 * goes on, so a malformed message is reported as malformed before any field error. Strings
 * without escapes are borrowed from the input; strings with escapes are unescaped into the
 * decoder's scratch buffer (never longer than the input, so max_bytes is always enough).
 * (Earlier versions ran a grammar check and jsmn, then a token walk: three passes.)
 *
 * Alerts (tools and tests, not the hot path) go through lex_json(), the same grammar check
 * emitting jsmn-shaped tokens, and a walk over those tokens. */
#include "codec_int.h"

#include "../util/buf.h"
#include "../util/err.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A token: a value's type and byte range (strings without their quotes); size = keys of an
 * object, elements of an array, 1 for a key (its value), 0 otherwise. */
typedef enum { JT_UNDEF = 0, JT_OBJECT = 1, JT_ARRAY = 2, JT_STRING = 3, JT_PRIMITIVE = 4 } jtype_t;
typedef struct jtok {
    jtype_t type;
    int start, end, size;
} jtok_t;

_Static_assert(sizeof(vane_channel_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(vane_category_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(vane_txn_kind_t) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(vane_eng_kind_t) == sizeof(int), "enums are stored as int");

/*---------------------------------------------------------------------------------------------
 * Pass 1: strict grammar check
 *-------------------------------------------------------------------------------------------*/

typedef struct jcheck {
    vane_reject_t reason;
    size_t off;
    const char *what;
    bool escapes; /* some string had a backslash escape */
} jcheck_t;

static size_t check_fail(jcheck_t *jc, vane_reject_t reason, size_t off, const char *what)
{
    jc->reason = reason;
    jc->off = off;
    jc->what = what;
    return 0;
}

static inline size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (unsigned char)s[i] <= ' ' &&
           (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Non-zero when one of the 8 bytes of w is '"', '\\', a control character or non-ASCII:
 * the bytes a string scan must stop at (classic SWAR zero-byte tests). */
static inline uint64_t swar_special(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t zq = (q - ones) & ~q, zb = (b - ones) & ~b;
    uint64_t ctl = (w - ones * 0x20) & ~w; /* high bit set where byte < 0x20 (or >= 0x80) */
    return (zq | zb | ctl | w) & high;
}

/* Four hex digits at s[i..i+4) -> *cp; false when short or not hex. */
static bool hex4(const char *s, size_t n, size_t i, unsigned *cp)
{
    if (i > n || n - i < 4)
        return false;
    unsigned v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = vane_buf_hex_digit(s[i + k]);
        if (h < 0)
            return false;
        v = v << 4 | (unsigned)h;
    }
    *cp = v;
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* s[i] is the opening quote. Returns the index after the closing quote, or 0 on error. */
static size_t scan_string(const char *s, size_t n, size_t i, jcheck_t *jc)
{
    i++;
    /* fastest path: 8 plain printable ASCII bytes at a time */
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t m = swar_special(w);
        if (m) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            /* The lowest flagged byte is exact (the tests' borrows only flag bytes above a
             * true hit): when it is the closing quote, the string ends here. */
            i += (size_t)__builtin_ctzll(m) / 8;
            if (s[i] == '"')
                return i + 1;
#endif
            break;
        }
        i += 8;
    }
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        /* fast path: the printable ASCII that makes up nearly every string */
        while (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && ++i < n)
            c = (unsigned char)s[i];
        if (i >= n)
            break;
        if (c == '"')
            return i + 1;
        if (c < 0x20)
            return check_fail(jc, VANE_REJECT_JSON_SYNTAX, i, "control character in a string");
        if (c == '\\') {
            if (i + 1 >= n)
                break;
            jc->escapes = true;
            char e = s[i + 1];
            if (e == 'u') {
                unsigned cp;
                if (!hex4(s, n, i + 2, &cp))
                    return check_fail(jc, VANE_REJECT_JSON_SYNTAX, i, "bad \\u escape");
                size_t at = i;
                i += 6;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (i + 1 < n && s[i] == '\\' && s[i + 1] == 'u' && hex4(s, n, i + 2, &lo) &&
                        lo >= 0xDC00 && lo <= 0xDFFF)
                        i += 6;
                    else
                        return check_fail(jc, VANE_REJECT_NOT_UTF8, at,
                                          "lone UTF-16 surrogate in a \\u escape");
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return check_fail(jc, VANE_REJECT_NOT_UTF8, at,
                                      "lone UTF-16 surrogate in a \\u escape");
                }
                continue;
            }
            if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
                e == 't') {
                i += 2;
                continue;
            }
            return check_fail(jc, VANE_REJECT_JSON_SYNTAX, i, "bad escape in a string");
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (len > n - i || !vane__utf8_valid(s + i, len))
            return check_fail(jc, VANE_REJECT_NOT_UTF8, i, "a string is not valid UTF-8");
        i += len;
    }
    return check_fail(jc, VANE_REJECT_JSON_SYNTAX, n, "unterminated string");
}

static size_t scan_number(const char *s, size_t n, size_t i, jcheck_t *jc)
{
    size_t start = i;
    if (s[i] == '-')
        i++;
    if (i >= n || !is_digit(s[i]))
        return check_fail(jc, VANE_REJECT_JSON_SYNTAX, start, "bad number");
    if (s[i] == '0') {
        i++;
    } else {
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i]))
            return check_fail(jc, VANE_REJECT_JSON_SYNTAX, start, "bad number");
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return check_fail(jc, VANE_REJECT_JSON_SYNTAX, start, "bad number");
        while (i < n && is_digit(s[i]))
            i++;
    }
    return i;
}

static size_t scan_literal(const char *s, size_t n, size_t i, jcheck_t *jc)
{
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t k = 0; k < 3; k++) {
        size_t l = strlen(lits[k]);
        if (n - i >= l && memcmp(s + i, lits[k], l) == 0)
            return i + l;
    }
    return check_fail(jc, VANE_REJECT_JSON_SYNTAX, i, "unexpected character");
}

/*---------------------------------------------------------------------------------------------
 * Values
 *-------------------------------------------------------------------------------------------*/

static size_t put_utf8(char *d, unsigned cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xC0 | cp >> 6);
        d[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xE0 | cp >> 12);
        d[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        d[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | cp >> 18);
    d[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    d[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    d[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unescape the body of a string that lex_json() accepted into d (room for n bytes: output
 * is never longer than input). Returns the output length. */
static size_t unescape(const char *s, size_t n, char *d)
{
    size_t o = 0;
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c != '\\' || i + 1 >= n) {
            d[o++] = c;
            i++;
            continue;
        }
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'b':
            d[o++] = '\b';
            break;
        case 'f':
            d[o++] = '\f';
            break;
        case 'n':
            d[o++] = '\n';
            break;
        case 'r':
            d[o++] = '\r';
            break;
        case 't':
            d[o++] = '\t';
            break;
        case 'u': {
            unsigned cp = 0, lo = 0;
            if (!hex4(s, n, i, &cp))
                return o; /* unreachable after lex_json */
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < n && s[i] == '\\' && s[i + 1] == 'u' &&
                hex4(s, n, i + 2, &lo)) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            o += put_utf8(d + o, cp);
            break;
        }
        default: /* " \ / */
            d[o++] = e;
        }
    }
    return o;
}

/* An exact 64-bit integer from s[0..n). JSON number syntax (float_syntax) may use a fraction
 * or an exponent as long as the value is a whole number ("1.5e3"); a decimal string may not.
 * Returns NULL on success, else why not. */
static const char *parse_i64(const char *s, size_t n, bool float_syntax, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && s[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= n || !is_digit(s[i]))
        return "not a decimal integer";
    uint64_t mant = 0;
    long exp10 = 0;
    bool inexact = false; /* a non-zero digit was lost to overflow */
    for (; i < n && is_digit(s[i]); i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (mant > (UINT64_MAX - d) / 10) {
            if (d)
                inexact = true;
            exp10++;
        } else {
            mant = mant * 10 + d;
        }
    }
    if (i < n && s[i] == '.' && float_syntax) {
        for (i++; i < n && is_digit(s[i]); i++) {
            unsigned d = (unsigned)(s[i] - '0');
            if (mant > (UINT64_MAX - d) / 10) {
                if (d)
                    inexact = true;
            } else {
                mant = mant * 10 + d;
                exp10--;
            }
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E') && float_syntax) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        long e = 0;
        for (; i < n && is_digit(s[i]); i++) {
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
        }
        exp10 += eneg ? -e : e;
    }
    if (i != n)
        return "not a decimal integer";
    if (inexact)
        return "out of the 64-bit integer range";
    while (exp10 < 0 && mant != 0) {
        if (mant % 10 != 0)
            return "not a whole number";
        mant /= 10;
        exp10++;
    }
    while (exp10 > 0 && mant != 0) {
        if (mant > UINT64_MAX / 10)
            return "out of the 64-bit integer range";
        mant *= 10;
        exp10--;
    }
    if (neg) {
        if (mant > (uint64_t)INT64_MAX + 1)
            return "out of the 64-bit integer range";
        *out = mant == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mant;
    } else {
        if (mant > (uint64_t)INT64_MAX)
            return "out of the 64-bit integer range";
        *out = (int64_t)mant;
    }
    return NULL;
}

static const char *tok_type_name(const char *s, const jtok_t *tk)
{
    switch (tk->type) {
    case JT_OBJECT:
        return "an object";
    case JT_ARRAY:
        return "an array";
    case JT_STRING:
        return "a string";
    case JT_PRIMITIVE:
        if (s[tk->start] == 't' || s[tk->start] == 'f')
            return "a boolean";
        if (s[tk->start] == 'n')
            return "null";
        return "a number";
    case JT_UNDEF:
        break;
    }
    return "nothing";
}

static bool tok_is_null(const char *s, const jtok_t *tk)
{
    return tk->type == JT_PRIMITIVE && s[tk->start] == 'n';
}

static bool tok_is_number(const char *s, const jtok_t *tk)
{
    return tk->type == JT_PRIMITIVE && (s[tk->start] == '-' || is_digit(s[tk->start]));
}

/* The index of the first token after the subtree rooted at token i. */
static int tok_skip(const jtok_t *t, int ntok, int i)
{
    int end = t[i].end;
    i++;
    while (i < ntok && t[i].start < end)
        i++;
    return i;
}

/* Short, known-length byte comparison (keys are a few bytes: a libc call costs more). */
static inline bool bytes_eq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* key_is_n() for a key with escapes: compared after unescaping. */
static bool __attribute__((noinline))
key_escaped_is(const char *p, size_t n, const char *name, size_t nl)
{
    if (n <= nl || n > 64 || !memchr(p, '\\', n))
        return false;
    char tmp[64];
    size_t o = unescape(p, n, tmp);
    return o == nl && memcmp(tmp, name, nl) == 0;
}

/* Does key token tk spell name (nl bytes)? escapes: the key may contain escapes. */
static inline bool key_is_n(const char *s, const jtok_t *tk, const char *name, size_t nl,
                            bool escapes)
{
    const char *p = s + tk->start;
    size_t n = (size_t)(tk->end - tk->start);
    if (n == nl && p[0] == name[0] && bytes_eq(p, name, n))
        return true;
    return escapes && key_escaped_is(p, n, name, nl);
}

static bool key_is(const char *s, const jtok_t *tk, const char *name)
{
    return key_is_n(s, tk, name, strlen(name), true);
}

/*---------------------------------------------------------------------------------------------
 * Event decoding
 *-------------------------------------------------------------------------------------------*/

struct vane_json_dec {
    char *scratch; /* owned; unescaped strings of the current message */
    size_t scratch_cap;
    size_t scratch_used;
};

vane_json_dec_t *vane__json_dec_new(size_t max_bytes)
{
    vane_json_dec_t *jd = calloc(1, sizeof *jd);
    if (!jd)
        return NULL;
    jd->scratch_cap = max_bytes;
    jd->scratch = malloc(max_bytes);
    if (!jd->scratch) {
        vane__json_dec_free(jd);
        return NULL;
    }
    return jd;
}

void vane__json_dec_free(vane_json_dec_t *jd)
{
    if (!jd)
        return;
    free(jd->scratch);
    free(jd);
}

typedef enum jftype { FT_STR, FT_I64, FT_I32, FT_BOOL, FT_ENUM } jftype_t;

typedef struct jfield {
    const char *name; /* JSON key */
    size_t name_len;
    const char *path; /* for errors: "txn.amount_minor" */
    jftype_t type;
    size_t off;    /* offset of the value in its struct */
    ptrdiff_t has; /* offset of the bool saying "present", or -1 */
    int (*parse_enum)(const char *s, size_t len);
} jfield_t;

#define F(st, nm, path, ty, member)                                                                \
    {                                                                                              \
        nm, sizeof(nm) - 1, path, ty, offsetof(st, member), -1, NULL                               \
    }
#define FH(st, nm, path, ty, member, hasm)                                                         \
    {                                                                                              \
        nm, sizeof(nm) - 1, path, ty, offsetof(st, member), offsetof(st, hasm), NULL               \
    }
#define FE(st, nm, path, member, fn)                                                               \
    {                                                                                              \
        nm, sizeof(nm) - 1, path, FT_ENUM, offsetof(st, member), -1, fn                            \
    }

static const jfield_t event_fields[] = {
    F(vane_event_t, "event_id", "event_id", FT_STR, event_id),
    F(vane_event_t, "customer_id", "customer_id", FT_STR, customer_id),
    F(vane_event_t, "event_time_ms", "event_time_ms", FT_I64, event_time_ms),
    FE(vane_event_t, "channel", "channel", channel, vane_channel_parse),
};
static const jfield_t txn_fields[] = {
    FE(vane_txn_t, "kind", "txn.kind", kind, vane_txn_kind_parse),
    FE(vane_txn_t, "category", "txn.category", category, vane_category_parse),
    F(vane_txn_t, "product_id", "txn.product_id", FT_STR, product_id),
    F(vane_txn_t, "amount_minor", "txn.amount_minor", FT_I64, amount_minor),
    F(vane_txn_t, "currency", "txn.currency", FT_STR, currency),
    FH(vane_txn_t, "balance_after_minor", "txn.balance_after_minor", FT_I64, balance_after_minor,
       has_balance_after),
    F(vane_txn_t, "counterparty_bank", "txn.counterparty_bank", FT_STR, counterparty_bank),
};
static const jfield_t login_fields[] = {
    F(vane_login_t, "success", "login.success", FT_BOOL, success),
    F(vane_login_t, "device_id", "login.device_id", FT_STR, device_id),
};
static const jfield_t eng_fields[] = {
    FE(vane_engagement_t, "kind", "engagement.kind", kind, vane_eng_kind_parse),
    FE(vane_engagement_t, "category", "engagement.category", category, vane_category_parse),
    F(vane_engagement_t, "product_id", "engagement.product_id", FT_STR, product_id),
    F(vane_engagement_t, "service", "engagement.service", FT_STR, service),
    FH(vane_engagement_t, "score", "engagement.score", FT_I32, score, has_score),
};
static const jfield_t profile_fields[] = {
    F(vane_profile_t, "segment", "profile.segment", FT_STR, segment),
    F(vane_profile_t, "since_ms", "profile.since_ms", FT_I64, since_ms),
    F(vane_profile_t, "manager_id", "profile.manager_id", FT_STR, manager_id),
    F(vane_profile_t, "tier", "profile.tier", FT_STR, tier),
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

typedef struct payload_def {
    const char *name;
    size_t name_len;
    vane_event_type_t type;
    const jfield_t *fields;
    size_t nfields;
    size_t off; /* of the payload struct in vane_event_t */
} payload_def_t;

static const payload_def_t payloads[] = {
    {"txn", sizeof "txn" - 1, VANE_EVENT_TXN, txn_fields, NELEM(txn_fields),
     offsetof(vane_event_t, txn)},
    {"login", sizeof "login" - 1, VANE_EVENT_LOGIN, login_fields, NELEM(login_fields),
     offsetof(vane_event_t, login)},
    {"engagement", sizeof "engagement" - 1, VANE_EVENT_ENGAGEMENT, eng_fields, NELEM(eng_fields),
     offsetof(vane_event_t, eng)},
    {"profile", sizeof "profile" - 1, VANE_EVENT_PROFILE, profile_fields, NELEM(profile_fields),
     offsetof(vane_event_t, profile)},
};

typedef struct jctx {
    const char *s;
    size_t n;
    const jtok_t *t;
    int ntok;
    vane_json_dec_t *jd;
    vane_decode_error_t *err;
    bool escapes; /* some string in the message has an escape (else none needs unescaping) */
} jctx_t;

/* The string value of token tk: borrowed from the input when it has no escapes, else
 * unescaped into the decoder's scratch space. */
static vane_str_t tok_str(jctx_t *c, const jtok_t *tk)
{
    const char *p = c->s + tk->start;
    size_t len = (size_t)(tk->end - tk->start);
    vane_str_t r = {p, (uint32_t)len};
    if (!c->escapes || !memchr(p, '\\', len))
        return r;
    char *d = c->jd->scratch + c->jd->scratch_used;
    r.p = d;
    r.len = (uint32_t)unescape(p, len, d);
    c->jd->scratch_used += r.len;
    return r;
}

static int type_error(jctx_t *c, const jfield_t *f, const jtok_t *tk, const char *expected)
{
    return vane__codec_reject(c->err, VANE_REJECT_JSON_TYPE, f->path, (size_t)tk->start,
                              "%s: expected %s, got %s", f->path, expected,
                              tok_type_name(c->s, tk));
}

/* An integer from a number token or a decimal-string token. */
static int tok_i64(jctx_t *c, const char *path, const jtok_t *tk, int64_t *v)
{
    const char *why;
    const char *p = c->s + tk->start;
    size_t len = (size_t)(tk->end - tk->start);
    if (tk->type == JT_STRING)
        why = parse_i64(p, len, false, v);
    else
        why = parse_i64(p, len, true, v);
    if (why)
        return vane__codec_reject(c->err, VANE_REJECT_BAD_VALUE, path, (size_t)tk->start,
                                  "%s: %.*s is %s", path, (int)(len > 40 ? 40 : len), p, why);
    return VANE_OK;
}

static int set_field(jctx_t *c, const jfield_t *f, const jtok_t *tk, void *base)
{
    char *at = (char *)base + f->off;
    switch (f->type) {
    case FT_STR:
        if (tk->type != JT_STRING)
            return type_error(c, f, tk, "a string");
        *(vane_str_t *)(void *)at = tok_str(c, tk);
        break;
    case FT_I64:
    case FT_I32: {
        if (tk->type != JT_STRING && !tok_is_number(c->s, tk))
            return type_error(c, f, tk, "an integer (number or decimal string)");
        int64_t v;
        int rc = tok_i64(c, f->path, tk, &v);
        if (rc)
            return rc;
        if (f->type == FT_I64) {
            *(int64_t *)(void *)at = v;
        } else {
            if (v < INT32_MIN || v > INT32_MAX)
                return vane__codec_reject(c->err, VANE_REJECT_BAD_VALUE, f->path, (size_t)tk->start,
                                          "%s: %lld is out of range", f->path, (long long)v);
            *(int32_t *)(void *)at = (int32_t)v;
        }
        break;
    }
    case FT_BOOL:
        if (tk->type != JT_PRIMITIVE || (c->s[tk->start] != 't' && c->s[tk->start] != 'f'))
            return type_error(c, f, tk, "a boolean");
        *(bool *)(void *)at = c->s[tk->start] == 't';
        break;
    case FT_ENUM: {
        int v;
        if (tk->type == JT_STRING) {
            vane_str_t name = tok_str(c, tk);
            v = f->parse_enum(name.p, name.len);
            if (v < 0)
                return vane__codec_reject(c->err, VANE_REJECT_UNKNOWN_ENUM, f->path,
                                          (size_t)tk->start, "%s: unknown value \"%.*s\"", f->path,
                                          (int)(name.len > 40 ? 40 : name.len), name.p);
        } else if (tok_is_number(c->s, tk)) {
            /* The protobuf number, as proto3's JSON mapping allows; range-checked later. */
            int64_t n;
            int rc = tok_i64(c, f->path, tk, &n);
            if (rc)
                return rc;
            if (n < 0 || n > 1000)
                return vane__codec_reject(c->err, VANE_REJECT_UNKNOWN_ENUM, f->path,
                                          (size_t)tk->start, "%s: unknown enum number %lld",
                                          f->path, (long long)n);
            v = (int)n;
        } else {
            return type_error(c, f, tk, "an enum name");
        }
        memcpy(at, &v, sizeof v);
        break;
    }
    }
    if (f->has >= 0)
        *((bool *)(void *)((char *)base + f->has)) = true;
    return VANE_OK;
}

/* Event decoding is one pass over the bytes (no token array): parse_members() checks the
 * grammar exactly as lex_json() does and stores the contract fields as it meets them. A
 * field error (wrong type, bad value, duplicate key) is remembered, the first one only, and
 * the grammar check goes on to the end, so a malformed message is always reported as
 * malformed first, as the token walk did. */
typedef struct jparse {
    jctx_t c;     /* s, n, jd, err; c.escapes = the current string's own escape flag */
    size_t i;     /* read position */
    jcheck_t jc;  /* the syntax error, when a scan returns 0 */
    int field_rc; /* first field error (0 = none yet); *c.err describes it */
    bool escapes; /* some string in the message had an escape */
} jparse_t;

static void field_fail(jparse_t *p, int rc)
{
    if (!p->field_rc)
        p->field_rc = rc;
}

/* Scan the string at p->i (its opening quote) into *tk; false on a syntax error. */
static bool parse_string(jparse_t *p, jtok_t *tk)
{
    size_t start = p->i;
    p->jc.escapes = false;
    size_t end = scan_string(p->c.s, p->c.n, start, &p->jc);
    if (end == 0)
        return false;
    p->c.escapes = p->jc.escapes;
    p->escapes |= p->jc.escapes;
    tk->type = JT_STRING;
    tk->start = (int)start + 1;
    tk->end = (int)end - 1;
    tk->size = 0;
    p->i = end;
    return true;
}

/* The string, number or literal at p->i (p->i < n) into *tk; p->i is left after it. */
static bool parse_scalar(jparse_t *p, jtok_t *tk)
{
    const char *s = p->c.s;
    size_t v = p->i;
    if (s[v] == '"')
        return parse_string(p, tk);
    size_t end = s[v] == '-' || is_digit(s[v]) ? scan_number(s, p->c.n, v, &p->jc)
                                               : scan_literal(s, p->c.n, v, &p->jc);
    if (end == 0)
        return false;
    tk->type = JT_PRIMITIVE;
    tk->start = (int)v;
    tk->end = (int)end;
    tk->size = 0;
    p->i = end;
    return true;
}

/* A key at s[i] and the ':' after it; p->i is left just past the ':'. false on a syntax
 * error. p->c.escapes tells whether the key had escapes. */
static bool parse_key(jparse_t *p, size_t i, jtok_t *key)
{
    const char *s = p->c.s;
    size_t n = p->c.n;
    if (i >= n || s[i] != '"') {
        check_fail(&p->jc, VANE_REJECT_JSON_SYNTAX, i, "expected a string key");
        return false;
    }
    p->i = i;
    if (!parse_string(p, key))
        return false;
    i = skip_ws(s, n, p->i);
    if (i >= n || s[i] != ':') {
        check_fail(&p->jc, VANE_REJECT_JSON_SYNTAX, i, "expected ':' after a key");
        return false;
    }
    p->i = i + 1;
    return true;
}

/* Where lex_value() writes tokens (jsmn's shape); NULL when only the grammar matters. */
typedef struct jsink {
    jtok_t *toks;
    int cap, nt;
    bool full; /* a token did not fit: the grammar check went on without tokens */
} jsink_t;

/* Append a token; -1 (and full set) when the array is full, so a malformed document is
 * reported as such before "too many tokens". */
static int tok_new(jsink_t *k, jtype_t type, size_t start, size_t end)
{
    if (k->nt >= k->cap) {
        k->full = true;
        return -1;
    }
    jtok_t *t = &k->toks[k->nt];
    t->type = type;
    t->start = (int)start;
    t->end = (int)end;
    t->size = 0;
    return k->nt++;
}

/* Check one value of any shape at p->i (whitespace skipped before it) and leave p->i after
 * it. depth = containers already open around it. Iterative, so no input can exhaust the C
 * stack. *tk receives the value's type and range (strings without their quotes); with a sink,
 * every token of the value is appended to it as well. false on a syntax error (p->jc). */
static bool lex_value(jparse_t *p, int depth, jtok_t *tk, jsink_t *sink)
{
    const char *s = p->c.s;
    size_t n = p->c.n;
    char close[VANE_JSON_MAX_DEPTH]; /* the closing bracket of each container opened here */
    int otok[VANE_JSON_MAX_DEPTH];   /* and its token in the sink (-1: none) */
    int open = 0;
    enum { S_VALUE, S_AFTER, S_FIRST_KEY, S_KEY, S_FIRST_ELEM } st = S_VALUE;
    size_t i = p->i;
    for (;;) {
        i = skip_ws(s, n, i);
        switch (st) {
        case S_FIRST_ELEM:
        case S_FIRST_KEY:
            if (i < n && s[i] == close[open - 1]) {
                st = S_AFTER;
                goto close_container;
            }
            st = st == S_FIRST_ELEM ? S_VALUE : S_KEY;
            continue;
        case S_VALUE: {
            if (i >= n) {
                check_fail(&p->jc, VANE_REJECT_JSON_SYNTAX, n, "unexpected end of input");
                return false;
            }
            /* A value is a child of the enclosing array; in an object its key counted it. */
            if (sink && open > 0 && close[open - 1] == ']' && otok[open - 1] >= 0)
                sink->toks[otok[open - 1]].size++;
            char c = s[i];
            jtok_t inner, *vt = open ? &inner : tk;
            if (c == '{' || c == '[') {
                if (depth + open == VANE_JSON_MAX_DEPTH) {
                    check_fail(&p->jc, VANE_REJECT_JSON_SYNTAX, i, "nesting too deep");
                    return false;
                }
                vt->type = c == '{' ? JT_OBJECT : JT_ARRAY;
                vt->start = (int)i;
                vt->size = 0;
                otok[open] = sink ? tok_new(sink, vt->type, i, n) : -1;
                close[open++] = c == '{' ? '}' : ']';
                i++;
                st = c == '{' ? S_FIRST_KEY : S_FIRST_ELEM;
                continue;
            }
            p->i = i;
            if (!parse_scalar(p, vt))
                return false;
            i = p->i;
            if (sink)
                tok_new(sink, vt->type, (size_t)vt->start, (size_t)vt->end);
            st = S_AFTER;
            continue;
        }
        case S_KEY: {
            jtok_t key;
            if (!parse_key(p, i, &key))
                return false;
            if (sink) {
                int t = tok_new(sink, JT_STRING, (size_t)key.start, (size_t)key.end);
                if (t >= 0)
                    sink->toks[t].size = 1;
                if (otok[open - 1] >= 0)
                    sink->toks[otok[open - 1]].size++;
            }
            i = p->i;
            st = S_VALUE;
            continue;
        }
        case S_AFTER:
            if (open == 0) {
                p->i = i;
                return true;
            }
            if (i >= n) {
                check_fail(&p->jc, VANE_REJECT_JSON_SYNTAX, n, "unexpected end of input");
                return false;
            }
            if (s[i] == ',') {
                i++;
                st = close[open - 1] == '}' ? S_KEY : S_VALUE;
                continue;
            }
            if (s[i] != close[open - 1]) {
                check_fail(&p->jc, VANE_REJECT_JSON_SYNTAX, i, "expected ',' or a closing bracket");
                return false;
            }
        close_container:
            i++;
            open--;
            if (sink && otok[open] >= 0)
                sink->toks[otok[open]].end = (int)i;
            if (open == 0)
                tk->end = (int)i;
            continue;
        }
    }
}

/* The whole of s[0..n) as one JSON object (surrounding whitespace allowed) into toks[cap].
 * Returns the number of tokens, or -1 with *jc filled (VANE_REJECT_TOO_LARGE when it is
 * well-formed but its tokens do not fit). */
static int lex_json(const char *s, size_t n, jtok_t *toks, int cap, jcheck_t *jc)
{
    jparse_t p = {.c = {.s = s, .n = n}};
    jsink_t sink = {toks, cap, 0, false};
    jtok_t top;
    p.i = skip_ws(s, n, 0);
    bool ok;
    if (p.i >= n || s[p.i] != '{')
        ok = check_fail(&p.jc, VANE_REJECT_JSON_SYNTAX, p.i, "the message is not a JSON object");
    else if ((ok = lex_value(&p, 0, &top, &sink)) && skip_ws(s, n, p.i) != n)
        ok = check_fail(&p.jc, VANE_REJECT_JSON_SYNTAX, skip_ws(s, n, p.i),
                        "trailing characters after the object");
    if (ok && sink.full)
        ok = check_fail(&p.jc, VANE_REJECT_TOO_LARGE, 0, "too many JSON tokens");
    *jc = p.jc;
    jc->escapes = p.escapes;
    return ok ? sink.nt : -1;
}

/* lex_value() without a sink, with the scalars that make up nearly every field inline. */
static inline bool scan_value(jparse_t *p, int depth, jtok_t *tk)
{
    char c = p->c.s[p->i]; /* p->i < n: checked by the caller */
    if (c == '{' || c == '[')
        return lex_value(p, depth, tk, NULL);
    return parse_scalar(p, tk);
}

/* The members of the object whose '{' is at p->i, at nesting depth (1 = the message). fields /
 * base: the contract fields of this level; at the top level (ev != NULL) the payload keys are
 * recognised too. Unknown keys are skipped whatever their value (forward compatibility).
 * Returns false on a syntax error (p->jc says which). */
static bool parse_members(jparse_t *p, int depth, const jfield_t *fields, size_t nf, void *base,
                          vane_event_t *ev)
{
    const char *s = p->c.s;
    size_t n = p->c.n;
    uint32_t seen = 0; /* bit per field, then one per payload */
    size_t hint = 0;   /* producers write keys in a fixed order: try the one after the last */
    size_t i = skip_ws(s, n, p->i + 1);
    if (i < n && s[i] == '}') {
        p->i = i + 1;
        return true;
    }
    for (;;) {
        jtok_t key;
        if (!parse_key(p, i, &key))
            return false;
        bool key_esc = p->c.escapes;
        p->i = skip_ws(s, n, p->i);
        if (p->i >= n) {
            check_fail(&p->jc, VANE_REJECT_JSON_SYNTAX, n, "unexpected end of input");
            return false;
        }
        size_t fi = hint;
        if (fi >= nf || !key_is_n(s, &key, fields[fi].name, fields[fi].name_len, key_esc)) {
            for (fi = 0; fi < nf; fi++)
                if (fi != hint && key_is_n(s, &key, fields[fi].name, fields[fi].name_len, key_esc))
                    break;
        }
        const payload_def_t *pd = NULL;
        size_t pi = 0;
        if (fi == nf && ev) {
            for (pi = 0; pi < NELEM(payloads); pi++)
                if (key_is_n(s, &key, payloads[pi].name, payloads[pi].name_len, key_esc))
                    break;
            pd = pi < NELEM(payloads) ? &payloads[pi] : NULL;
        }
        jtok_t val;
        if (fi < nf) {
            hint = fi + 1;
            if (!scan_value(p, depth, &val))
                return false;
            if (p->field_rc) {
                /* only the grammar is checked after the first field error */
            } else if (seen & (1u << fi)) {
                field_fail(p, vane__codec_reject(p->c.err, VANE_REJECT_JSON_SYNTAX, fields[fi].path,
                                                 (size_t)key.start, "duplicate key \"%s\"",
                                                 fields[fi].path));
            } else {
                seen |= 1u << fi;
                if (!tok_is_null(s, &val)) {
                    int rc = set_field(&p->c, &fields[fi], &val, base);
                    if (rc)
                        field_fail(p, rc);
                }
            }
        } else if (pd) {
            bool dup = seen & (1u << (16 + pi));
            seen |= 1u << (16 + pi);
            if (!p->field_rc && !dup && s[p->i] == '{' && ev->type == VANE_EVENT_NONE) {
                if (depth == VANE_JSON_MAX_DEPTH) {
                    check_fail(&p->jc, VANE_REJECT_JSON_SYNTAX, p->i, "nesting too deep");
                    return false;
                }
                ev->type = pd->type;
                if (!parse_members(p, depth + 1, pd->fields, pd->nfields, (char *)ev + pd->off,
                                   NULL))
                    return false;
            } else {
                if (!scan_value(p, depth, &val))
                    return false;
                if (p->field_rc || (!dup && tok_is_null(s, &val)))
                    ;
                else if (dup)
                    field_fail(p, vane__codec_reject(p->c.err, VANE_REJECT_JSON_SYNTAX, pd->name,
                                                     (size_t)key.start, "duplicate key \"%s\"",
                                                     pd->name));
                else if (val.type != JT_OBJECT)
                    field_fail(p, vane__codec_reject(p->c.err, VANE_REJECT_JSON_TYPE, pd->name,
                                                     (size_t)val.start,
                                                     "%s: expected an object, got %s", pd->name,
                                                     tok_type_name(s, &val)));
                else
                    field_fail(p, vane__codec_reject(
                                      p->c.err, VANE_REJECT_BAD_VALUE, "payload", (size_t)key.start,
                                      "more than one payload (%s and %s): exactly one is allowed",
                                      payloads[ev->type - 1].name, pd->name));
            }
        } else if (!scan_value(p, depth, &val)) {
            return false;
        }
        i = skip_ws(s, n, p->i);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, n, i + 1);
            continue;
        }
        if (i < n && s[i] == '}') {
            p->i = i + 1;
            return true;
        }
        if (i >= n)
            check_fail(&p->jc, VANE_REJECT_JSON_SYNTAX, n, "unexpected end of input");
        else
            check_fail(&p->jc, VANE_REJECT_JSON_SYNTAX, i, "expected ',' or a closing bracket");
        return false;
    }
}

int vane__json_decode_event(vane_json_dec_t *jd, const char *s, size_t n, vane_event_t *ev,
                            vane_decode_error_t *err, bool *strings_checked)
{
    *strings_checked = false;
    jd->scratch_used = 0;
    jparse_t p = {.c = {s, n, NULL, 0, jd, err, false}};
    p.i = skip_ws(s, n, 0);
    if (p.i >= n || s[p.i] != '{')
        return vane__codec_reject(err, VANE_REJECT_JSON_SYNTAX, NULL, p.i,
                                  "the message is not a JSON object at byte %zu", p.i);
    bool ok = parse_members(&p, 1, event_fields, NELEM(event_fields), ev, ev);
    if (ok) {
        p.i = skip_ws(s, n, p.i);
        if (p.i != n) {
            check_fail(&p.jc, VANE_REJECT_JSON_SYNTAX, p.i, "trailing characters after the object");
            ok = false;
        }
    }
    if (!ok)
        return vane__codec_reject(err, p.jc.reason, NULL, p.jc.off, "%s at byte %zu", p.jc.what,
                                  p.jc.off);
    if (p.field_rc)
        return p.field_rc;
    /* Without escapes every string is a slice the lexer checked: UTF-8, no control bytes. */
    *strings_checked = !p.escapes;
    return VANE_OK;
}

/*---------------------------------------------------------------------------------------------
 * Alert decoding (tools and tests; not on the hot path)
 *-------------------------------------------------------------------------------------------*/

#define ALERT_MAX_TOKENS 1024

/* Copy string token tk into dst[cap] (NUL-terminated); TOO_LONG when it does not fit. */
static int alert_str(jctx_t *c, const char *path, const jtok_t *tk, char *dst, size_t cap)
{
    if (tk->type != JT_STRING)
        return vane__codec_reject(c->err, VANE_REJECT_JSON_TYPE, path, (size_t)tk->start,
                                  "%s: expected a string, got %s", path, tok_type_name(c->s, tk));
    const char *p = c->s + tk->start;
    size_t len = (size_t)(tk->end - tk->start);
    char tmp[1024];
    if (len > sizeof tmp)
        return vane__codec_reject(c->err, VANE_REJECT_TOO_LONG, path, (size_t)tk->start,
                                  "%s is too long", path);
    size_t o = unescape(p, len, tmp);
    if (o >= cap)
        return vane__codec_reject(c->err, VANE_REJECT_TOO_LONG, path, (size_t)tk->start,
                                  "%s is %zu bytes, the limit is %zu", path, o, cap - 1);
    memcpy(dst, tmp, o);
    dst[o] = '\0';
    return VANE_OK;
}

static int alert_double(jctx_t *c, const char *path, const jtok_t *tk, double *v)
{
    if (tok_is_null(c->s, tk)) {
        *v = NAN; /* the encoder writes non-finite values as null */
        return VANE_OK;
    }
    if (!tok_is_number(c->s, tk))
        return vane__codec_reject(c->err, VANE_REJECT_JSON_TYPE, path, (size_t)tk->start,
                                  "%s: expected a number, got %s", path, tok_type_name(c->s, tk));
    char tmp[128];
    size_t len = (size_t)(tk->end - tk->start);
    if (len >= sizeof tmp)
        return vane__codec_reject(c->err, VANE_REJECT_BAD_VALUE, path, (size_t)tk->start,
                                  "%s: number too long", path);
    memcpy(tmp, c->s + tk->start, len);
    tmp[len] = '\0';
    *v = strtod(tmp, NULL);
    return VANE_OK;
}

/* Enum by name; alerts also accept "UNSPECIFIED" (what an encoder of a 0 would mean). */
static int alert_enum(jctx_t *c, const char *path, const jtok_t *tk,
                      int (*parse)(const char *, size_t), int *v)
{
    if (tk->type != JT_STRING)
        return vane__codec_reject(c->err, VANE_REJECT_JSON_TYPE, path, (size_t)tk->start,
                                  "%s: expected an enum name, got %s", path,
                                  tok_type_name(c->s, tk));
    char tmp[64];
    size_t raw = (size_t)(tk->end - tk->start);
    vane_str_t name = {tmp, 0};
    if (raw <= sizeof tmp)
        name.len = (uint32_t)unescape(c->s + tk->start, raw, tmp);
    else
        name = (vane_str_t){c->s + tk->start, 40};
    if (name.len == 11 && strncasecmp(name.p, "UNSPECIFIED", 11) == 0) {
        *v = 0;
        return VANE_OK;
    }
    *v = parse(name.p, name.len);
    if (*v < 0)
        return vane__codec_reject(c->err, VANE_REJECT_UNKNOWN_ENUM, path, (size_t)tk->start,
                                  "%s: unknown value \"%.*s\"", path,
                                  (int)(name.len > 40 ? 40 : name.len), name.p);
    return VANE_OK;
}

static int alert_field(jctx_t *c, const jtok_t *key, int vi, vane_alert_t *a)
{
    const char *s = c->s;
    const jtok_t *t = c->t;
    const jtok_t *val = &t[vi];
    int rc = VANE_OK;
    int e;
    if (tok_is_null(s, val) && !key_is(s, key, "score"))
        return VANE_OK;
#define STRF(nm)                                                                                   \
    if (key_is(s, key, #nm))                                                                       \
        return alert_str(c, #nm, val, a->nm, sizeof a->nm);
    STRF(alert_id);
    STRF(rule_id);
    STRF(customer_id);
    STRF(summary);
    STRF(segment);
    STRF(route);
    STRF(manager_id);
#undef STRF
#define ENUMF(nm, fn)                                                                              \
    if (key_is(s, key, #nm)) {                                                                     \
        if ((rc = alert_enum(c, #nm, val, fn, &e)) == 0)                                           \
            memcpy(&a->nm, &e, sizeof e);                                                          \
        return rc;                                                                                 \
    }
    ENUMF(kind, vane_alert_kind_parse);
    ENUMF(severity, vane_severity_parse);
    ENUMF(stage, vane_stage_parse);
    ENUMF(from_category, vane_category_parse);
    ENUMF(to_category, vane_category_parse);
#undef ENUMF
    if (key_is(s, key, "score"))
        return alert_double(c, "score", val, &a->score);
    if (key_is(s, key, "event_time_ms") || key_is(s, key, "detected_at_ms")) {
        bool et = key_is(s, key, "event_time_ms");
        const char *path = et ? "event_time_ms" : "detected_at_ms";
        if (val->type != JT_STRING && !tok_is_number(s, val))
            return vane__codec_reject(c->err, VANE_REJECT_JSON_TYPE, path, (size_t)val->start,
                                      "%s: expected an integer, got %s", path,
                                      tok_type_name(s, val));
        return tok_i64(c, path, val, et ? &a->event_time_ms : &a->detected_at_ms);
    }
    if (key_is(s, key, "event_ids")) {
        if (val->type != JT_ARRAY)
            return vane__codec_reject(c->err, VANE_REJECT_JSON_TYPE, "event_ids",
                                      (size_t)val->start, "event_ids: expected an array, got %s",
                                      tok_type_name(s, val));
        if (val->size > VANE_ALERT_MAX_EVENT_IDS)
            return vane__codec_reject(c->err, VANE_REJECT_TOO_LONG, "event_ids", (size_t)val->start,
                                      "more than %d event_ids", VANE_ALERT_MAX_EVENT_IDS);
        int j = vi + 1;
        for (int k = 0; k < val->size; k++) {
            rc = alert_str(c, "event_ids", &t[j], a->event_ids[k], sizeof a->event_ids[k]);
            if (rc)
                return rc;
            j = tok_skip(t, c->ntok, j);
        }
        a->n_event_ids = (uint32_t)val->size;
        return VANE_OK;
    }
    if (key_is(s, key, "features")) {
        if (val->type != JT_OBJECT)
            return vane__codec_reject(c->err, VANE_REJECT_JSON_TYPE, "features", (size_t)val->start,
                                      "features: expected an object, got %s",
                                      tok_type_name(s, val));
        if (val->size > VANE_ALERT_MAX_FEATURES)
            return vane__codec_reject(c->err, VANE_REJECT_TOO_LONG, "features", (size_t)val->start,
                                      "more than %d features", VANE_ALERT_MAX_FEATURES);
        int j = vi + 1;
        for (int k = 0; k < val->size; k++) {
            vane_alert_feature_t *f = &a->features[k];
            rc = alert_str(c, "features", &t[j], f->name, sizeof f->name);
            if (!rc)
                rc = alert_double(c, "features", &t[j + 1], &f->value);
            if (rc)
                return rc;
            j = tok_skip(t, c->ntok, j + 1);
        }
        a->n_features = (uint32_t)val->size;
        return VANE_OK;
    }
    return VANE_OK; /* unknown key: ignored */
}

int vane__json_decode_alert(const char *s, size_t n, vane_alert_t *a, vane_decode_error_t *err)
{
    jcheck_t jc;
    jtok_t toks[ALERT_MAX_TOKENS];
    int ntok = lex_json(s, n, toks, ALERT_MAX_TOKENS, &jc);
    if (ntok < 0 && jc.reason == VANE_REJECT_TOO_LARGE)
        return vane__codec_reject(err, VANE_REJECT_TOO_LARGE, NULL, 0, "more than %d JSON tokens",
                                  ALERT_MAX_TOKENS);
    if (ntok < 0)
        return vane__codec_reject(err, jc.reason, NULL, jc.off, "%s at byte %zu", jc.what, jc.off);
    /* no scratch: strings are copied out */
    jctx_t c = {s, n, toks, ntok, NULL, err, jc.escapes};
    int i = 1;
    for (int k = 0; k < toks[0].size; k++) {
        if (i + 1 >= ntok)
            return vane__codec_reject(err, VANE_REJECT_JSON_SYNTAX, NULL, n, "truncated object");
        int rc = alert_field(&c, &toks[i], i + 1, a);
        if (rc)
            return rc;
        i = tok_skip(toks, ntok, i + 1);
    }
    return VANE_OK;
}

/*---------------------------------------------------------------------------------------------
 * Encoding
 *-------------------------------------------------------------------------------------------*/

typedef struct jout {
    vane_buf_t *b;
    int rc;
    bool first;
} jout_t;

static void j_keyn(jout_t *o, const char *k, size_t n)
{
    if (o->rc)
        return;
    if (!o->first)
        o->rc = vane_buf_putc(o->b, ',');
    o->first = false;
    if (!o->rc)
        o->rc = vane_buf_json_str(o->b, k, n);
    if (!o->rc)
        o->rc = vane_buf_putc(o->b, ':');
}

static void j_key(jout_t *o, const char *k)
{
    j_keyn(o, k, strlen(k));
}

static void j_raw(jout_t *o, const char *s)
{
    if (!o->rc)
        o->rc = vane_buf_puts(o->b, s);
}

static void j_str(jout_t *o, const char *k, const char *p, size_t n)
{
    j_key(o, k);
    if (!o->rc)
        o->rc = vane_buf_json_str(o->b, p ? p : "", n);
}

/* An optional string: omitted when empty. */
static void j_vstr(jout_t *o, const char *k, vane_str_t s)
{
    if (s.len)
        j_str(o, k, s.p, s.len);
}

static void j_i64(jout_t *o, const char *k, int64_t v)
{
    j_key(o, k);
    if (!o->rc)
        o->rc = vane_buf_i64(o->b, v);
}

/* An enum: its name, omitted when unspecified; a number when out of the name table. */
static void j_enum(jout_t *o, const char *k, int v, int count, const char *name)
{
    if (v == 0)
        return;
    j_key(o, k);
    if (o->rc)
        return;
    if (v > 0 && v < count)
        o->rc = vane_buf_json_str(o->b, name, strlen(name));
    else
        o->rc = vane_buf_printf(o->b, "%d", v);
}

/* The shortest of %.15g, %.16g, %.17g that reads back exactly; null for NaN and infinities. */
static void j_double(jout_t *o, double v)
{
    if (o->rc)
        return;
    if (!isfinite(v)) {
        o->rc = vane_buf_puts(o->b, "null");
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    o->rc = vane_buf_puts(o->b, tmp);
}

static void j_open(jout_t *o, const char *k)
{
    if (k)
        j_key(o, k);
    j_raw(o, "{");
    o->first = true;
}

static void j_close(jout_t *o)
{
    j_raw(o, "}");
    o->first = false;
}

int vane__json_encode_event(const vane_event_t *ev, vane_buf_t *out)
{
    jout_t o = {out, 0, true};
    j_open(&o, NULL);
    j_vstr(&o, "event_id", ev->event_id);
    j_str(&o, "customer_id", ev->customer_id.p, ev->customer_id.len);
    j_i64(&o, "event_time_ms", ev->event_time_ms);
    j_enum(&o, "channel", (int)ev->channel, VANE_CHANNEL__COUNT, vane_channel_name(ev->channel));
    switch (ev->type) {
    case VANE_EVENT_TXN: {
        const vane_txn_t *t = &ev->txn;
        j_open(&o, "txn");
        j_enum(&o, "kind", (int)t->kind, VANE_TXN__COUNT, vane_txn_kind_name(t->kind));
        j_enum(&o, "category", (int)t->category, VANE_CAT__COUNT, vane_category_name(t->category));
        j_vstr(&o, "product_id", t->product_id);
        j_i64(&o, "amount_minor", t->amount_minor);
        j_vstr(&o, "currency", t->currency);
        if (t->has_balance_after)
            j_i64(&o, "balance_after_minor", t->balance_after_minor);
        j_vstr(&o, "counterparty_bank", t->counterparty_bank);
        j_close(&o);
        break;
    }
    case VANE_EVENT_LOGIN:
        j_open(&o, "login");
        j_key(&o, "success");
        j_raw(&o, ev->login.success ? "true" : "false");
        j_vstr(&o, "device_id", ev->login.device_id);
        j_close(&o);
        break;
    case VANE_EVENT_ENGAGEMENT: {
        const vane_engagement_t *g = &ev->eng;
        j_open(&o, "engagement");
        j_enum(&o, "kind", (int)g->kind, VANE_ENG__COUNT, vane_eng_kind_name(g->kind));
        j_enum(&o, "category", (int)g->category, VANE_CAT__COUNT, vane_category_name(g->category));
        j_vstr(&o, "product_id", g->product_id);
        j_vstr(&o, "service", g->service);
        if (g->has_score)
            j_i64(&o, "score", g->score);
        j_close(&o);
        break;
    }
    case VANE_EVENT_PROFILE: {
        const vane_profile_t *p = &ev->profile;
        j_open(&o, "profile");
        j_vstr(&o, "segment", p->segment);
        if (p->since_ms)
            j_i64(&o, "since_ms", p->since_ms);
        j_vstr(&o, "manager_id", p->manager_id);
        j_vstr(&o, "tier", p->tier);
        j_close(&o);
        break;
    }
    case VANE_EVENT_NONE:
        break;
    }
    j_close(&o);
    return o.rc;
}

static void j_cstr(jout_t *o, const char *k, const char *s, size_t cap)
{
    j_str(o, k, s, strnlen(s, cap));
}

int vane__json_encode_alert(const vane_alert_t *a, vane_buf_t *out)
{
    jout_t o = {out, 0, true};
    j_open(&o, NULL);
    j_cstr(&o, "alert_id", a->alert_id, sizeof a->alert_id);
    j_cstr(&o, "rule_id", a->rule_id, sizeof a->rule_id);
    j_enum(&o, "kind", (int)a->kind, VANE_ALERT__COUNT, vane_alert_kind_name(a->kind));
    j_enum(&o, "severity", (int)a->severity, VANE_SEV__COUNT, vane_severity_name(a->severity));
    j_cstr(&o, "customer_id", a->customer_id, sizeof a->customer_id);
    j_key(&o, "score");
    j_double(&o, a->score);
    j_enum(&o, "stage", (int)a->stage, VANE_STAGE__COUNT, vane_stage_name(a->stage));
    j_enum(&o, "from_category", (int)a->from_category, VANE_CAT__COUNT,
           vane_category_name(a->from_category));
    j_enum(&o, "to_category", (int)a->to_category, VANE_CAT__COUNT,
           vane_category_name(a->to_category));
    j_i64(&o, "event_time_ms", a->event_time_ms);
    j_i64(&o, "detected_at_ms", a->detected_at_ms);
    j_key(&o, "event_ids");
    j_raw(&o, "[");
    uint32_t nids =
        a->n_event_ids < VANE_ALERT_MAX_EVENT_IDS ? a->n_event_ids : VANE_ALERT_MAX_EVENT_IDS;
    for (uint32_t i = 0; i < nids && !o.rc; i++) {
        if (i)
            j_raw(&o, ",");
        if (!o.rc)
            o.rc = vane_buf_json_str(out, a->event_ids[i],
                                     strnlen(a->event_ids[i], sizeof a->event_ids[i]));
    }
    j_raw(&o, "]");
    j_open(&o, "features");
    uint32_t nf = a->n_features < VANE_ALERT_MAX_FEATURES ? a->n_features : VANE_ALERT_MAX_FEATURES;
    for (uint32_t i = 0; i < nf; i++) {
        const vane_alert_feature_t *f = &a->features[i];
        j_keyn(&o, f->name, strnlen(f->name, sizeof f->name));
        j_double(&o, f->value);
    }
    j_close(&o);
    j_cstr(&o, "summary", a->summary, sizeof a->summary);
    j_cstr(&o, "segment", a->segment, sizeof a->segment);
    j_cstr(&o, "route", a->route, sizeof a->route);
    j_cstr(&o, "manager_id", a->manager_id, sizeof a->manager_id);
    j_close(&o);
    return o.rc;
}
