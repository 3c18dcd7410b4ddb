/* eng_events.c - see eng_events.h. */
#include "eng_events.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static vane_event_t base(const char *id, const char *cust, int64_t t, vane_event_type_t type)
{
    vane_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.event_id = vane_str_c(id ? id : "");
    ev.customer_id = vane_str_c(cust);
    ev.event_time_ms = t;
    ev.channel = VANE_CHANNEL_MOBILE;
    ev.type = type;
    return ev;
}

vane_event_t eng_txn(const char *id, const char *cust, int64_t t, vane_txn_kind_t kind,
                     vane_category_t cat, int64_t amount)
{
    vane_event_t ev = base(id, cust, t, VANE_EVENT_TXN);
    ev.txn.kind = kind;
    ev.txn.category = cat;
    ev.txn.amount_minor = amount;
    ev.txn.product_id = vane_str_c(cat == VANE_CAT_FUND ? "F-1" : "P-1");
    return ev;
}

vane_event_t eng_outflow(const char *id, const char *cust, int64_t t, int64_t amount,
                         int64_t balance_after)
{
    vane_event_t ev = eng_txn(id, cust, t, VANE_TXN_TRANSFER_OUT, VANE_CAT_DEMAND_DEPOSIT, amount);
    ev.txn.counterparty_bank = vane_str_c("OTHERBANK");
    ev.txn.has_balance_after = true;
    ev.txn.balance_after_minor = balance_after;
    return ev;
}

vane_event_t eng_login(const char *id, const char *cust, int64_t t, bool success)
{
    vane_event_t ev = base(id, cust, t, VANE_EVENT_LOGIN);
    ev.login.success = success;
    ev.login.device_id = vane_str_c("dev-1");
    return ev;
}

vane_event_t eng_eng(const char *id, const char *cust, int64_t t, vane_eng_kind_t kind,
                     vane_category_t cat)
{
    vane_event_t ev = base(id, cust, t, VANE_EVENT_ENGAGEMENT);
    ev.eng.kind = kind;
    ev.eng.category = cat;
    return ev;
}

vane_event_t eng_survey(const char *id, const char *cust, int64_t t, int score)
{
    vane_event_t ev = eng_eng(id, cust, t, VANE_ENG_SURVEY, VANE_CAT_UNSPECIFIED);
    ev.eng.has_score = true;
    ev.eng.score = score;
    return ev;
}

vane_event_t eng_profile(const char *id, const char *cust, int64_t t, const char *segment,
                         int64_t since_ms, const char *tier)
{
    vane_event_t ev = base(id, cust, t, VANE_EVENT_PROFILE);
    ev.profile.segment = vane_str_c(segment);
    ev.profile.since_ms = since_ms;
    ev.profile.tier = vane_str_c(tier ? tier : "");
    ev.profile.manager_id = vane_str_c("M-7");
    return ev;
}

vane_ruleset_t *eng_rules_default(void)
{
    const char *path = VANE_SOURCE_DIR "/rules/default.yaml";
    vane_diags_t d = VANE_DIAGS_INIT;
    vane_ruleset_t *rs = vane_ruleset_load(&path, 1, &d);
    if (!rs || d.errors || d.warnings)
        vane_diags_print(&d, stderr);
    assert_non_null(rs);
    assert_int_equal(d.errors, 0);
    vane_diags_free(&d);
    return rs;
}

vane_ruleset_t *eng_rules_string(const char *yaml)
{
    vane_diags_t d = VANE_DIAGS_INIT;
    vane_ruleset_t *rs = vane_ruleset_load_string("test.yaml", yaml, strlen(yaml), &d);
    if (!rs || d.errors)
        vane_diags_print(&d, stderr);
    assert_non_null(rs);
    vane_diags_free(&d);
    return rs;
}

const char *eng_id(const char *prefix, int n)
{
    static char pool[64][48];
    static unsigned next;
    char *s = pool[next++ % 64];
    snprintf(s, sizeof pool[0], "%s-%d", prefix, n);
    return s;
}

int eng_count_kind(const vane_alert_batch_t *b, vane_alert_kind_t kind)
{
    int n = 0;
    for (uint32_t i = 0; i < b->count; i++)
        n += b->alerts[i].kind == kind;
    return n;
}
