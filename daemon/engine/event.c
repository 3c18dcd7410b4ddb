#include "event.h"

#include <string.h>
#include <strings.h>

static const char *const channel_names[VANE_CHANNEL__COUNT] = {
    "UNSPECIFIED", "BRANCH", "MOBILE", "WEB", "ATM", "PHONE",
};
static const char *const category_names[VANE_CAT__COUNT] = {
    "UNSPECIFIED",    "DEMAND_DEPOSIT", "TIME_DEPOSIT", "WEALTH", "FUND",        "INSURANCE",
    "PRECIOUS_METAL", "FOREX",          "BOND",         "LOAN",   "CREDIT_CARD", "PENSION",
};
static const char *const txn_kind_names[VANE_TXN__COUNT] = {
    "UNSPECIFIED", "DEPOSIT",    "WITHDRAWAL", "TRANSFER_IN", "TRANSFER_OUT",
    "PURCHASE",    "REDEMPTION", "PAYMENT",    "FEE",         "INTEREST",
};
static const char *const eng_kind_names[VANE_ENG__COUNT] = {
    "UNSPECIFIED",     "PRODUCT_VIEW",     "SERVICE_SUBSCRIBE", "SERVICE_CANCEL", "ACCOUNT_CLOSE",
    "CONTACT_REFUSED", "CONTACT_ACCEPTED", "COMPLAINT",         "SURVEY",
};

static const char *name_of(const char *const *names, int count, int v)
{
    return (v > 0 && v < count) ? names[v] : names[0];
}

/* Index 0 (UNSPECIFIED) is deliberately not matchable: it is the absence of a value. */
static int parse_in(const char *const *names, int count, const char *s, size_t len)
{
    /* Exact (canonical upper-case) spelling first: the common case, without case folding. */
    for (int i = 1; i < count; i++) {
        if (len && names[i][0] == s[0] && strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
            return i;
    }
    for (int i = 1; i < count; i++) {
        if (strlen(names[i]) == len && strncasecmp(names[i], s, len) == 0)
            return i;
    }
    return -1;
}

const char *vane_channel_name(vane_channel_t v)
{
    return name_of(channel_names, VANE_CHANNEL__COUNT, (int)v);
}
const char *vane_category_name(vane_category_t v)
{
    return name_of(category_names, VANE_CAT__COUNT, (int)v);
}
const char *vane_txn_kind_name(vane_txn_kind_t v)
{
    return name_of(txn_kind_names, VANE_TXN__COUNT, (int)v);
}
const char *vane_eng_kind_name(vane_eng_kind_t v)
{
    return name_of(eng_kind_names, VANE_ENG__COUNT, (int)v);
}
int vane_channel_parse(const char *s, size_t len)
{
    return parse_in(channel_names, VANE_CHANNEL__COUNT, s, len);
}
int vane_category_parse(const char *s, size_t len)
{
    return parse_in(category_names, VANE_CAT__COUNT, s, len);
}
int vane_txn_kind_parse(const char *s, size_t len)
{
    return parse_in(txn_kind_names, VANE_TXN__COUNT, s, len);
}
int vane_eng_kind_parse(const char *s, size_t len)
{
    return parse_in(eng_kind_names, VANE_ENG__COUNT, s, len);
}

vane_str_t vane_str_c(const char *s)
{
    vane_str_t r = {s, s ? (uint32_t)strlen(s) : 0};
    return r;
}

bool vane_str_eq(vane_str_t a, vane_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

size_t vane_str_copy(char *dst, size_t cap, vane_str_t s)
{
    if (cap == 0)
        return 0;
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    if (n)
        memcpy(dst, s.p, n);
    dst[n] = '\0';
    return n;
}

/* Every string field of an event, for the two functions below. A field added to vane_event_t
 * changes its size: the assertion makes whoever adds one look here (LP64 layout). */
#if defined(__x86_64__) || defined(__aarch64__)
_Static_assert(sizeof(vane_event_t) == 256, "vane_event_t changed: update EVENT_STRINGS below");
#endif
#define EVENT_STRINGS(ev)                                                                          \
    {                                                                                              \
        &(ev)->event_id, &(ev)->customer_id, &(ev)->txn.product_id, &(ev)->txn.currency,           \
            &(ev)->txn.counterparty_bank, &(ev)->login.device_id, &(ev)->eng.product_id,           \
            &(ev)->eng.service, &(ev)->profile.segment, &(ev)->profile.manager_id,                 \
            &(ev)->profile.tier                                                                    \
    }

size_t vane_event_strings_len(const vane_event_t *ev)
{
    const vane_str_t *f[] = EVENT_STRINGS(ev);
    size_t n = 0;
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        n += f[i]->len;
    return n;
}

size_t vane_event_copy_strings(vane_event_t *ev, char *dst)
{
    vane_str_t *f[] = EVENT_STRINGS(ev);
    size_t n = 0;
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        if (f[i]->len == 0) {
            f[i]->p = NULL;
            continue;
        }
        memcpy(dst + n, f[i]->p, f[i]->len);
        f[i]->p = dst + n;
        n += f[i]->len;
    }
    return n;
}
