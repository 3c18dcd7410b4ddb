/* event.h - vane_event_t: one decoded customer event (shared/CONTRACT.md, proto Event).
 *
 * An event is a *borrowed view*: its strings point into the bytes it was decoded from or
 * into the decoder's scratch space, and are valid only until that decoder decodes again (or
 * the caller's bytes go away). Nothing in an event is owned; copying the struct is cheap and
 * copies no string. Strings are not NUL-terminated: use .p and .len.
 *
 * Enum values equal the protobuf numbers of proto/vane/v1/event.proto and alert.proto; 0 means
 * unspecified. The name tables below (vane_*_name / vane_*_parse) are the JSON spelling:
 * CONTRACT.md names, matched case-insensitively.
 */
#ifndef VANE_EVENT_H
#define VANE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest customer_id / event_id accepted, in bytes. Longer ids are rejected as bad input
 * (VANE_ETOOBIG) so per-customer state and alerts can hold ids in fixed arrays. */
#define VANE_ID_MAX 63
/* Longest short string (segment, tier, manager_id, product_id, currency, service, ...). */
#define VANE_SHORT_MAX 63

typedef struct vane_str {
    const char *p; /* borrowed; not NUL-terminated; NULL when len == 0 is allowed */
    uint32_t len;
} vane_str_t;

typedef enum vane_channel {
    VANE_CHANNEL_UNSPECIFIED = 0,
    VANE_CHANNEL_BRANCH = 1,
    VANE_CHANNEL_MOBILE = 2,
    VANE_CHANNEL_WEB = 3,
    VANE_CHANNEL_ATM = 4,
    VANE_CHANNEL_PHONE = 5,
    VANE_CHANNEL__COUNT
} vane_channel_t;

typedef enum vane_category {
    VANE_CAT_UNSPECIFIED = 0,
    VANE_CAT_DEMAND_DEPOSIT = 1,
    VANE_CAT_TIME_DEPOSIT = 2,
    VANE_CAT_WEALTH = 3,
    VANE_CAT_FUND = 4,
    VANE_CAT_INSURANCE = 5,
    VANE_CAT_PRECIOUS_METAL = 6,
    VANE_CAT_FOREX = 7,
    VANE_CAT_BOND = 8,
    VANE_CAT_LOAN = 9,
    VANE_CAT_CREDIT_CARD = 10,
    VANE_CAT_PENSION = 11,
    VANE_CAT__COUNT
} vane_category_t;

typedef enum vane_txn_kind {
    VANE_TXN_UNSPECIFIED = 0,
    VANE_TXN_DEPOSIT = 1,
    VANE_TXN_WITHDRAWAL = 2,
    VANE_TXN_TRANSFER_IN = 3,
    VANE_TXN_TRANSFER_OUT = 4,
    VANE_TXN_PURCHASE = 5,
    VANE_TXN_REDEMPTION = 6,
    VANE_TXN_PAYMENT = 7,
    VANE_TXN_FEE = 8,
    VANE_TXN_INTEREST = 9,
    VANE_TXN__COUNT
} vane_txn_kind_t;

typedef enum vane_eng_kind {
    VANE_ENG_UNSPECIFIED = 0,
    VANE_ENG_PRODUCT_VIEW = 1,
    VANE_ENG_SERVICE_SUBSCRIBE = 2,
    VANE_ENG_SERVICE_CANCEL = 3,
    VANE_ENG_ACCOUNT_CLOSE = 4,
    VANE_ENG_CONTACT_REFUSED = 5,
    VANE_ENG_CONTACT_ACCEPTED = 6,
    VANE_ENG_COMPLAINT = 7,
    VANE_ENG_SURVEY = 8,
    VANE_ENG__COUNT
} vane_eng_kind_t;

/* Which member of the Event oneof is set. */
typedef enum vane_event_type {
    VANE_EVENT_NONE = 0,
    VANE_EVENT_TXN = 1,
    VANE_EVENT_LOGIN = 2,
    VANE_EVENT_ENGAGEMENT = 3,
    VANE_EVENT_PROFILE = 4,
} vane_event_type_t;

typedef struct vane_txn {
    vane_txn_kind_t kind;
    vane_category_t category;
    vane_str_t product_id;
    int64_t amount_minor; /* >= 0, minor units */
    vane_str_t currency;  /* empty means CNY */
    bool has_balance_after;
    int64_t balance_after_minor;  /* valid when has_balance_after */
    vane_str_t counterparty_bank; /* non-empty: money crosses institutions */
} vane_txn_t;

typedef struct vane_login {
    bool success;
    vane_str_t device_id;
} vane_login_t;

typedef struct vane_engagement {
    vane_eng_kind_t kind;
    vane_category_t category; /* PRODUCT_VIEW */
    vane_str_t product_id;
    vane_str_t service; /* SERVICE_* */
    bool has_score;
    int32_t score; /* 0..10 when has_score (SURVEY) */
} vane_engagement_t;

typedef struct vane_profile {
    vane_str_t segment;
    int64_t since_ms;
    vane_str_t manager_id;
    vane_str_t tier;
} vane_profile_t;

/* Every vane_str_t field of an event must also be listed in event.c's EVENT_STRINGS (the copy
 * a queued event relies on: vane_event_copy_strings). */
typedef struct vane_event {
    vane_str_t event_id;
    vane_str_t customer_id; /* never empty in a decoded event */
    int64_t event_time_ms;  /* never 0 in a decoded event */
    vane_channel_t channel;
    vane_event_type_t type;
    vane_txn_t txn;         /* valid when type == VANE_EVENT_TXN */
    vane_login_t login;     /* valid when type == VANE_EVENT_LOGIN */
    vane_engagement_t eng;  /* valid when type == VANE_EVENT_ENGAGEMENT */
    vane_profile_t profile; /* valid when type == VANE_EVENT_PROFILE */
} vane_event_t;

/* Name tables: CONTRACT.md spelling ("MOBILE", "FUND", "REDEMPTION", ...).
 * *_name() returns "UNSPECIFIED" for 0 and for out-of-range values; never NULL.
 * *_parse() matches case-insensitively; returns the value, or -1 when unknown. */
const char *vane_channel_name(vane_channel_t v);
const char *vane_category_name(vane_category_t v);
const char *vane_txn_kind_name(vane_txn_kind_t v);
const char *vane_eng_kind_name(vane_eng_kind_t v);
int vane_channel_parse(const char *s, size_t len);
int vane_category_parse(const char *s, size_t len);
int vane_txn_kind_parse(const char *s, size_t len);
int vane_eng_kind_parse(const char *s, size_t len);

/* Make a vane_str_t from a NUL-terminated C string (borrowed). */
vane_str_t vane_str_c(const char *s);
/* true when a and b hold the same bytes. */
bool vane_str_eq(vane_str_t a, vane_str_t b);
/* Copy s into dst[cap] NUL-terminated, truncating to cap-1 bytes; returns bytes copied. */
size_t vane_str_copy(char *dst, size_t cap, vane_str_t s);

/* An event's strings borrow from their input (see codec.h). To keep an event beyond that:
 * vane_event_strings_len is the total length of its strings; vane_event_copy_strings copies
 * them, back to back, into dst (room for that many bytes, owned by the caller) and points the
 * event's strings there. Returns the bytes written. */
size_t vane_event_strings_len(const vane_event_t *ev);
size_t vane_event_copy_strings(vane_event_t *ev, char *dst);

#endif
