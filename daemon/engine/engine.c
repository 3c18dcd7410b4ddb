/* engine.c - events in, alerts out (see engine.h).
 *
 * Per event, in this order:
 *   1. dedup: an event_id whose hash is in the customer's ring of the last VANE_DEDUP_RING ids
 *      is skipped (VANE_EDUP, stats.duplicates); an empty event_id is never a duplicate;
 *   2. lateness: an event older than the customer's newest event time minus the ruleset's
 *      `lateness` is not applied (VANE_ELATE, stats.late) - its id is remembered so a redelivery
 *      is still a duplicate. So is an absurd event time (beyond +-2^62 ms). Within the lateness, an
 * out-of-order event is applied at its own event time: windows insert it in order, decayed mixes
 * add it pre-decayed, baselines count it in the current period; rules are evaluated with windows
 * ending at its time;
 *   3. features: windows (tracked classes only), mixes, baselines, holdings, profile, survey;
 *      a follow-up timer is cancelled by one of its cancel events; then decline risk and
 *      lifecycle stage are recomputed;
 *   4. absence timer: re-armed from the last activity (login or transaction);
 *   5. rules whose `on:` matches the event: scope, condition, exceptions, escalations, then
 *      the episode decides send / escalate / hold (episode.h); a sent alert may arm a follow-up.
 * Nothing here allocates: alerts go into the caller's batch, evaluation uses the stack.
 */
#include "engine.h"

#include "rules_int.h"

#include "../util/duration.h"
#include "../util/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct vane_engine {
    const vane_ruleset_t *rs; /* borrowed */
    vane_engine_stats_t stats;
};

vane_engine_t *vane_engine_new(const vane_ruleset_t *rs)
{
    vane_engine_t *eng = calloc(1, sizeof *eng);
    if (eng)
        eng->rs = rs;
    return eng;
}

void vane_engine_free(vane_engine_t *eng)
{
    free(eng);
}

const vane_ruleset_t *vane_engine_set_rules(vane_engine_t *eng, const vane_ruleset_t *rs)
{
    const vane_ruleset_t *old = eng->rs;
    eng->rs = rs;
    return old;
}

const vane_ruleset_t *vane_engine_rules(const vane_engine_t *eng)
{
    return eng->rs;
}

const vane_engine_stats_t *vane_engine_stats(const vane_engine_t *eng)
{
    return &eng->stats;
}

/* ================================================================================
 * Feature maintenance
 * ================================================================================ */

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static void holding_add(vane_features_t *f, int cat, int64_t amount)
{
    if (cat <= 0 || cat >= VANE_CAT__COUNT)
        cat = VANE_CAT_DEMAND_DEPOSIT;
    f->holdings[cat] = sat_add(f->holdings[cat], amount);
    if (f->holdings[cat] < 0)
        f->holdings[cat] = 0;
}

/* The event's trigger mask (`on:` bits) and primary window class (0 = none). */
static uint64_t event_mask(const vane_event_t *ev, unsigned *cls, bool *outflow)
{
    uint64_t m = 1ULL << VANE__ON_ANY;
    *cls = 0;
    *outflow = false;
    switch (ev->type) {
    case VANE_EVENT_TXN:
        m |= 1ULL << VANE__ON_TXN;
        if (ev->txn.kind > 0 && ev->txn.kind < VANE_TXN__COUNT)
            *cls = VANE_WCLS_TXN_BASE + ev->txn.kind;
        if (ev->txn.kind == VANE_TXN_TRANSFER_OUT && ev->txn.counterparty_bank.len > 0) {
            *outflow = true;
            m |= 1ULL << VANE_WCLS_OUTFLOW;
        }
        break;
    case VANE_EVENT_ENGAGEMENT:
        m |= 1ULL << VANE__ON_ENG;
        if (ev->eng.kind > 0 && ev->eng.kind < VANE_ENG__COUNT)
            *cls = VANE_WCLS_ENG_BASE + ev->eng.kind;
        break;
    case VANE_EVENT_LOGIN:
        *cls = ev->login.success ? VANE_WCLS_LOGIN : VANE_WCLS_LOGIN_FAILED;
        m |= 1ULL << VANE_WCLS_LOGIN;
        break;
    case VANE_EVENT_PROFILE:
        m |= 1ULL << VANE__ON_PROFILE;
        break;
    default:
        break;
    }
    if (*cls)
        m |= 1ULL << *cls;
    return m;
}

static double risk_of(const vane_ruleset_t *rs, const vane_state_t *cs, int64_t at)
{
    const vane__settings_t *s = &rs->set;
    const vane_window_t *w = &cs->f.win;
    int64_t win = s->risk_window_ms;
    double red = vane_window_count(w, VANE_WCLS_TXN_BASE + VANE_TXN_REDEMPTION, at, win);
    double can = vane_window_count(w, VANE_WCLS_ENG_BASE + VANE_ENG_SERVICE_CANCEL, at, win) +
                 vane_window_count(w, VANE_WCLS_ENG_BASE + VANE_ENG_ACCOUNT_CLOSE, at, win) +
                 vane_window_count(w, VANE_WCLS_ENG_BASE + VANE_ENG_CONTACT_REFUSED, at, win);
    double out = vane_window_sum(w, VANE_WCLS_OUTFLOW, at, win);
    double assets = vane__assets(cs);
    double share = out > 0 ? out / (out + (assets > 0 ? assets : 0)) : 0;
    double r = s->w_redemption * fmin(1.0, red / s->sat_redemption) +
               s->w_cancellation * fmin(1.0, can / s->sat_cancellation) + s->w_outflow * share +
               s->w_drop * vane__engagement_drop(rs, cs, at) +
               s->w_detractor * (cs->f.last_survey >= 0 && cs->f.last_survey <= 6);
    return r < 0 ? 0 : r > 1 ? 1 : r;
}

static vane_stage_t stage_of(const vane_ruleset_t *rs, const vane_state_t *cs, int64_t at)
{
    const vane__settings_t *s = &rs->set;
    if (cs->f.risk >= s->stage_decline_risk)
        return VANE_STAGE_DECLINE;
    int64_t since = cs->f.since_ms ? cs->f.since_ms : cs->f.first_event_time_ms;
    int64_t tenure = since && at > since ? at - since : 0;
    int cross = vane__cross_holding(cs);
    if (tenure >= s->stage_trust_tenure_ms && cross >= s->stage_trust_cross)
        return VANE_STAGE_TRUST;
    if (tenure >= s->stage_strength_tenure_ms && cross >= s->stage_strength_cross)
        return VANE_STAGE_STRENGTHENING;
    return VANE_STAGE_ESTABLISHING;
}

static void apply(const vane_ruleset_t *rs, vane_state_t *cs, const vane_event_t *ev, unsigned cls,
                  bool outflow)
{
    const vane__settings_t *s = &rs->set;
    vane_features_t *f = &cs->f;
    int64_t t = ev->event_time_ms;
    if (f->events_applied == 0 || t < f->first_event_time_ms)
        f->first_event_time_ms = t;
    if (t > f->max_event_time_ms)
        f->max_event_time_ms = t;
    f->events_applied++;

    bool tracked = cls && ((rs->tracked >> cls) & 1);
    if (outflow && ((rs->tracked >> VANE_WCLS_OUTFLOW) & 1))
        tracked = true;
    if (tracked) {
        vane_window_entry_t e;
        memset(&e, 0, sizeof e);
        e.time_ms = t;
        e.cls = (uint8_t)cls;
        e.flags = outflow ? VANE_WFLAG_OUTFLOW : 0;
        vane_str_t key = {0};
        if (ev->type == VANE_EVENT_TXN) {
            e.amount_minor = ev->txn.amount_minor > 0 ? ev->txn.amount_minor : 0;
            e.category = (uint8_t)ev->txn.category;
            key = ev->txn.product_id;
        } else if (ev->type == VANE_EVENT_ENGAGEMENT) {
            e.category = (uint8_t)ev->eng.category;
            key = ev->eng.service.len ? ev->eng.service : ev->eng.product_id;
        }
        e.tag = (uint16_t)(key.len ? XXH32(key.p, key.len, 1) : 0);
        vane_str_copy(e.event_id, sizeof e.event_id, ev->event_id);
        vane_window_add(&f->win, &e, s->horizon_ms);
    }

    bool activity = false;
    switch (ev->type) {
    case VANE_EVENT_TXN: {
        const vane_txn_t *x = &ev->txn;
        activity = true;
        vane_rate_add(&f->txns_week, t, 7 * 86400000LL, s->alpha_week);
        int64_t amt = x->amount_minor > 0 ? x->amount_minor : 0;
        switch (x->kind) {
        case VANE_TXN_PURCHASE:
            holding_add(f, x->category, amt);
            vane_decay_add(&f->mix_short, t, x->category, s->purchase_weight,
                           s->short_half_life_ms);
            vane_decay_add(&f->mix_long, t, x->category, s->purchase_weight, s->long_half_life_ms);
            break;
        case VANE_TXN_REDEMPTION:
            holding_add(f, x->category, -amt);
            break;
        case VANE_TXN_DEPOSIT:
        case VANE_TXN_TRANSFER_IN:
        case VANE_TXN_INTEREST:
            holding_add(f, x->category, amt);
            break;
        case VANE_TXN_WITHDRAWAL:
        case VANE_TXN_TRANSFER_OUT:
        case VANE_TXN_PAYMENT:
        case VANE_TXN_FEE:
            holding_add(f, x->category, -amt);
            break;
        default:
            break;
        }
        if (x->has_balance_after && t >= f->max_event_time_ms) {
            f->balance_minor = x->balance_after_minor;
            f->has_balance = 1;
        }
        break;
    }
    case VANE_EVENT_LOGIN:
        if (ev->login.success) {
            activity = true;
            vane_rate_add(&f->logins_day, t, 86400000LL, s->alpha_day);
            vane_rate_add(&f->logins_week, t, 7 * 86400000LL, s->alpha_week);
        }
        break;
    case VANE_EVENT_ENGAGEMENT:
        if (ev->eng.kind == VANE_ENG_PRODUCT_VIEW) {
            vane_decay_add(&f->mix_short, t, ev->eng.category, s->view_weight,
                           s->short_half_life_ms);
            vane_decay_add(&f->mix_long, t, ev->eng.category, s->view_weight, s->long_half_life_ms);
        }
        if (ev->eng.kind == VANE_ENG_SURVEY && ev->eng.has_score && ev->eng.score >= 0 &&
            ev->eng.score <= 10)
            f->last_survey = (int8_t)ev->eng.score;
        break;
    case VANE_EVENT_PROFILE:
        vane_str_copy(f->segment, sizeof f->segment, ev->profile.segment);
        vane_str_copy(f->tier, sizeof f->tier, ev->profile.tier);
        vane_str_copy(f->manager_id, sizeof f->manager_id, ev->profile.manager_id);
        if (ev->profile.since_ms > 0)
            f->since_ms = ev->profile.since_ms;
        break;
    default:
        break;
    }
    if (activity) {
        vane_gap_add(&f->gap, t, s->alpha_gap);
        if (t > f->last_activity_ms)
            f->last_activity_ms = t;
    }
}

/* ================================================================================
 * Alerts
 * ================================================================================ */

static void fmt_value(char *buf, size_t cap, double v, int fmt)
{
    switch (fmt) {
    case 1: /* money: minor units -> major with 2 decimals */
        snprintf(buf, cap, "%.2f", v / 100.0);
        return;
    case 2:
        vane_duration_format((int64_t)llround(v), buf, cap);
        return;
    case 3:
        snprintf(buf, cap, "%.0f%%", v * 100.0);
        return;
    default:
        if (fabs(v) < 1e15 && v == floor(v))
            snprintf(buf, cap, "%.0f", v);
        else
            snprintf(buf, cap, "%.3g", v);
    }
}

static void render(const vane__ctx_t *ctx, const vane__rule_t *r, const vane__tpl_t *t,
                   const vane_alert_t *a, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->n && n + 1 < cap; i++) {
        const vane__tpl_part_t *p = &t->parts[i];
        char buf[96];
        const char *s = buf;
        if (p->text) {
            s = p->text;
        } else if (p->evid >= 0) {
            const vane_alert_feature_t *af = vane_alert_feature(a, r->evid[p->evid].name);
            fmt_value(buf, sizeof buf, af ? af->value : 0, p->fmt);
        } else if (p->special) {
            switch (p->special) {
            case 1:
                s = vane_category_name(a->from_category);
                break;
            case 2:
                s = vane_category_name(a->to_category);
                break;
            case 3:
                s = vane_alert_kind_name(a->kind);
                break;
            case 4:
                s = vane_severity_name(a->severity);
                break;
            default:
                s = r->id;
                break;
            }
        } else {
            vane__type_t ty;
            vane__feat_lookup(vane__feat_name(p->feat), strlen(vane__feat_name(p->feat)), &ty);
            if (ty == VANE__T_STR) {
                vane_str_copy(buf, sizeof buf, vane__feat_str(ctx, p->feat));
            } else {
                fmt_value(buf, sizeof buf, vane__feat_num(ctx, p->feat), p->fmt);
            }
        }
        size_t len = strlen(s);
        if (len > cap - 1 - n)
            len = cap - 1 - n;
        memcpy(out + n, s, len);
        n += len;
        out[n] = '\0';
    }
}

static bool has_event_id(const vane_alert_t *a, const char *id)
{
    for (uint32_t i = 0; i < a->n_event_ids; i++)
        if (!strcmp(a->event_ids[i], id))
            return true;
    return false;
}

static void add_event_id(vane_alert_t *a, const char *id)
{
    if (!id[0] || has_event_id(a, id) || a->n_event_ids >= VANE_ALERT_MAX_EVENT_IDS)
        return;
    vane_alert_add_event_id(a, vane_str_c(id));
}

/* Build and append one alert. Returns true when it was appended. */
static bool emit(vane_engine_t *eng, const vane__ctx_t *ctx, const vane__rule_t *r,
                 const vane_episode_t *ep, uint8_t severity, const vane__tpl_t *tpl,
                 const char *extra_id, int64_t now_ms, vane_alert_batch_t *out)
{
    const vane_ruleset_t *rs = ctx->rs;
    const vane_state_t *cs = ctx->cs;
    eng->stats.alerts++;
    if (r->shadow)
        eng->stats.shadow++;
    if (out->count >= VANE_ALERT_BATCH_MAX) {
        out->dropped++;
        eng->stats.dropped++;
        return false;
    }
    vane_alert_t *a = &out->alerts[out->count++];
    memset(a, 0, sizeof *a);
    snprintf(a->rule_id, sizeof a->rule_id, "%s", r->id);
    a->kind = r->kind;
    a->severity = (vane_severity_t)severity;
    snprintf(a->customer_id, sizeof a->customer_id, "%s", cs->customer_id);
    a->stage = (vane_stage_t)cs->f.stage;
    a->event_time_ms = ctx->anchor_ms;
    a->detected_at_ms = now_ms;
    a->shadow = r->shadow;
    snprintf(a->segment, sizeof a->segment, "%s", cs->f.segment);
    snprintf(a->manager_id, sizeof a->manager_id, "%s", cs->f.manager_id);
    a->score = r->score >= 0 ? vane__expr_num(ctx, r->score) : severity / 5.0;
    if (r->kind == VANE_ALERT_PREFERENCE_SHIFT) {
        vane_decay_t bg;
        vane_decay_background(&cs->f.mix_short, &cs->f.mix_long, &bg);
        a->from_category = (vane_category_t)vane_decay_dominant(&bg);
        a->to_category = (vane_category_t)vane_decay_emerging(&cs->f.mix_short, &bg);
    }
    /* alert_id: hash of what identifies this detection, never of wall-clock time. */
    char key[VANE_RULE_ID_MAX + VANE_ID_MAX + 64];
    int kn = snprintf(key, sizeof key, "%s|%s|%d|%lld|%u", r->id, cs->customer_id, (int)r->kind,
                      (long long)ep->opened_ms, (unsigned)ep->seq);
    XXH128_hash_t h = XXH3_128bits(key, (size_t)kn);
    snprintf(a->alert_id, sizeof a->alert_id, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
    /* Evidence events: the in-window entries of the classes the condition reads, then the
     * triggering event (or the timer's arming event). */
    if (r->ev_classes) {
        const vane_window_t *w = &cs->f.win;
        for (unsigned i = 0; i < w->n; i++) {
            const vane_window_entry_t *e = &w->e[i];
            bool match = false;
            for (unsigned c = 1; c < VANE_WCLS__COUNT && !match; c++)
                match = ((r->ev_classes >> c) & 1) && vane_window_match(e, c);
            if (match && e->time_ms <= ctx->anchor_ms && ctx->anchor_ms - e->time_ms < r->ev_dur_ms)
                add_event_id(a, e->event_id);
        }
    }
    if (ctx->ev && ctx->ev->event_id.len) {
        char id[VANE_ID_MAX + 1];
        vane_str_copy(id, sizeof id, ctx->ev->event_id);
        /* a truncated copy of it may already be listed from the window */
        char tr[VANE_WINDOW_ID_MAX + 1];
        vane_str_copy(tr, sizeof tr, ctx->ev->event_id);
        if (!has_event_id(a, tr))
            add_event_id(a, id);
    }
    if (extra_id && extra_id[0])
        add_event_id(a, extra_id);
    for (size_t i = 0; i < r->nevid; i++)
        vane_alert_add_feature(a, r->evid[i].name, vane__expr_num(ctx, r->evid[i].root));
    /* Route: first matching rule route, else the CRM tier, else the default. */
    const char *route = NULL;
    for (size_t i = 0; i < r->nroutes && !route; i++)
        if (r->routes[i].when < 0 || vane__expr_bool(ctx, r->routes[i].when))
            route = r->routes[i].tier;
    if (!route)
        route = cs->f.tier[0] ? cs->f.tier : rs->set.route_default;
    snprintf(a->route, sizeof a->route, "%s", route);
    snprintf(a->topic, sizeof a->topic, "%s", r->topic[0] ? r->topic : rs->set.topics[r->kind]);
    if (tpl->n)
        render(ctx, r, tpl, a, a->summary, sizeof a->summary);
    else
        snprintf(a->summary, sizeof a->summary, "%s %s for customer %s",
                 vane_severity_name(a->severity), vane_alert_kind_name(a->kind), cs->customer_id);
    return true;
}

static bool list_has(const vane_ruleset_t *rs, int32_t li, const char *s)
{
    if (li < 0)
        return false;
    const vane__list_t *l = &rs->lists[li];
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->items[i], s))
            return true;
    return false;
}

static bool in_scope(const vane__ctx_t *ctx, const vane__rule_t *r)
{
    const vane_features_t *f = &ctx->cs->f;
    if (r->scope_segments >= 0 && !list_has(ctx->rs, r->scope_segments, f->segment))
        return false;
    if (r->scope_stages && !(r->scope_stages & (1u << f->stage)))
        return false;
    return true;
}

static bool excepted(const vane__ctx_t *ctx, const vane__rule_t *r)
{
    for (size_t i = 0; i < r->nexc; i++) {
        const vane__exception_t *x = &r->exc[i];
        if (x->customers >= 0 && list_has(ctx->rs, x->customers, ctx->cs->customer_id))
            return true;
        if (x->segments >= 0 && list_has(ctx->rs, x->segments, ctx->cs->f.segment))
            return true;
        if (x->when >= 0 && vane__expr_bool(ctx, x->when))
            return true;
    }
    return false;
}

/* Evaluate one rule; on a firing run the episode and maybe emit. */
static void run_rule(vane_engine_t *eng, const vane__ctx_t *ctx, vane_state_t *cs,
                     const vane__rule_t *r, int64_t now_ms, vane_alert_batch_t *out)
{
    if (!r->enabled || !in_scope(ctx, r) || !vane__expr_bool(ctx, r->cond) || excepted(ctx, r))
        return;
    uint8_t sev = r->severity;
    for (size_t i = 0; i < r->nesc; i++)
        if (r->esc[i].severity > sev && vane__expr_bool(ctx, r->esc[i].when))
            sev = r->esc[i].severity;
    vane_episode_t *ep = &cs->f.episodes[r->kind < VANE_EPISODE_KINDS ? r->kind : 0];
    vane_episode_verdict_t v = vane_episode_fire(ep, ctx->anchor_ms, sev, r->cooldown_ms);
    if (v == VANE_EPISODE_HOLD) {
        eng->stats.suppressed++;
        return;
    }
    emit(eng, ctx, r, ep, sev, &r->summary, NULL, now_ms, out);
    if (r->fu_after_ms > 0 && v == VANE_EPISODE_NEW) {
        vane_timer_t *t = &cs->f.follow_up;
        t->due_ms = ctx->anchor_ms + r->fu_after_ms;
        t->rule_ref = r->ref;
        t->severity = r->fu_severity;
        if (ctx->ev)
            vane_str_copy(t->event_id, sizeof t->event_id, ctx->ev->event_id);
        else
            t->event_id[0] = '\0';
    }
}

/* Re-arm the absence timer: the earliest due of the absence rules after the last activity. */
static void arm_absence(const vane_ruleset_t *rs, vane_state_t *cs, int64_t after_ms)
{
    vane_timer_t *t = &cs->f.dormancy;
    /* All of it: a disarmed timer must not keep the rule_ref of whichever rule last armed it,
     * or the persisted bytes would depend on when the timers happened to fire. */
    memset(t, 0, sizeof *t);
    if (!cs->f.last_activity_ms)
        return;
    vane__ctx_t ctx = {.rs = rs, .cs = cs, .ev = NULL, .anchor_ms = cs->f.last_activity_ms};
    for (size_t i = 0; i < rs->nrules; i++) {
        const vane__rule_t *r = &rs->rules[i];
        if (!r->enabled || !(r->on & (1ULL << VANE__ON_ABSENCE)) || r->after < 0)
            continue;
        double q = vane__expr_num(&ctx, r->after);
        if (!(q >= 1))
            q = 1;
        if (q > 3650.0 * 86400000.0)
            q = 3650.0 * 86400000.0;
        int64_t due = cs->f.last_activity_ms + (int64_t)q;
        if (due <= after_ms)
            continue;
        if (t->due_ms == 0 || due < t->due_ms) {
            t->due_ms = due;
            t->rule_ref = r->ref;
        }
    }
}

int vane_engine_process(vane_engine_t *eng, vane_state_t *cs, const vane_event_t *ev,
                        int64_t now_ms, vane_alert_batch_t *out)
{
    const vane_ruleset_t *rs = eng->rs;
    vane_features_t *f = &cs->f;
    uint64_t h = 0;
    if (ev->event_id.len) {
        h = XXH3_64bits(ev->event_id.p, ev->event_id.len);
        if (h == 0)
            h = 1;
        for (unsigned i = 0; i < VANE_DEDUP_RING; i++)
            if (f->dedup[i] == h) {
                eng->stats.duplicates++;
                return VANE_EDUP;
            }
        f->dedup[f->dedup_n] = h;
        f->dedup_n = (uint8_t)((f->dedup_n + 1) % VANE_DEDUP_RING);
    }
    int64_t t = ev->event_time_ms;
    /* Event times beyond +-2^62 ms (codec and daemon reject far earlier) cannot be applied
     * without overflow in window and timer arithmetic: counted as late. */
    if (t <= -(INT64_C(1) << 62) || t >= (INT64_C(1) << 62) ||
        (f->events_applied && t < f->max_event_time_ms - rs->set.lateness_ms)) {
        eng->stats.late++;
        return VANE_ELATE;
    }
    eng->stats.events++;
    unsigned cls;
    bool outflow;
    uint64_t mask = event_mask(ev, &cls, &outflow);
    apply(rs, cs, ev, cls, outflow);

    /* A cancelling event (e.g. CONTACT_ACCEPTED) disarms the follow-up. */
    if (f->follow_up.due_ms && t <= f->follow_up.due_ms) {
        const vane__rule_t *fr = vane__rule_by_ref(rs, f->follow_up.rule_ref);
        if (!fr || (fr->fu_cancel & mask))
            memset(&f->follow_up, 0, sizeof f->follow_up);
    }
    f->risk = (float)risk_of(rs, cs, f->max_event_time_ms);
    f->stage = (uint8_t)stage_of(rs, cs, f->max_event_time_ms);
    arm_absence(rs, cs, 0);

    vane__ctx_t ctx = {.rs = rs, .cs = cs, .ev = ev, .anchor_ms = t};
    for (size_t i = 0; i < rs->nrules; i++) {
        const vane__rule_t *r = &rs->rules[i];
        if (r->on & mask)
            run_rule(eng, &ctx, cs, r, now_ms, out);
    }
    return VANE_OK;
}

int vane_engine_timers(vane_engine_t *eng, vane_state_t *cs, int64_t watermark_ms, int64_t now_ms,
                       vane_alert_batch_t *out)
{
    const vane_ruleset_t *rs = eng->rs;
    vane_features_t *f = &cs->f;
    uint32_t before = out->count;

    /* Follow-up first: it belongs to an alert already sent. */
    if (f->follow_up.due_ms && f->follow_up.due_ms <= watermark_ms) {
        vane_timer_t t = f->follow_up;
        memset(&f->follow_up, 0, sizeof f->follow_up);
        const vane__rule_t *r = vane__rule_by_ref(rs, t.rule_ref);
        if (r && r->enabled) {
            vane__ctx_t ctx = {.rs = rs, .cs = cs, .ev = NULL, .anchor_ms = t.due_ms};
            vane_episode_t *ep = &f->episodes[r->kind < VANE_EPISODE_KINDS ? r->kind : 0];
            vane_episode_verdict_t v = vane_episode_fire(
                ep, t.due_ms, t.severity,
                r->cooldown_ms > r->fu_after_ms ? r->cooldown_ms : r->fu_after_ms + 1);
            if (v == VANE_EPISODE_HOLD)
                eng->stats.suppressed++;
            else
                emit(eng, &ctx, r, ep, t.severity, r->fu_summary.n ? &r->fu_summary : &r->summary,
                     t.event_id, now_ms, out);
        }
    }
    /* Absence: every absence rule whose quiet time has elapsed by the watermark. */
    if (f->dormancy.due_ms && f->dormancy.due_ms <= watermark_ms) {
        int64_t last = f->last_activity_ms;
        int64_t fired_until = watermark_ms;
        for (size_t i = 0; i < rs->nrules; i++) {
            const vane__rule_t *r = &rs->rules[i];
            if (!r->enabled || !(r->on & (1ULL << VANE__ON_ABSENCE)) || r->after < 0)
                continue;
            vane__ctx_t q = {.rs = rs, .cs = cs, .ev = NULL, .anchor_ms = last};
            double after = vane__expr_num(&q, r->after);
            if (!(after >= 1))
                after = 1;
            int64_t due = last + (int64_t)fmin(after, 3650.0 * 86400000.0);
            if (due > watermark_ms || due < f->dormancy.due_ms)
                continue; /* not yet, or fired in an earlier call */
            vane__ctx_t ctx = {.rs = rs, .cs = cs, .ev = NULL, .anchor_ms = due};
            run_rule(eng, &ctx, cs, r, now_ms, out);
        }
        arm_absence(rs, cs, fired_until);
    }
    return (int)(out->count - before);
}

int64_t vane_engine_next_due(const vane_engine_t *eng, const vane_state_t *cs)
{
    (void)eng;
    int64_t due = INT64_MAX;
    if (cs->f.dormancy.due_ms && cs->f.dormancy.due_ms < due)
        due = cs->f.dormancy.due_ms;
    if (cs->f.follow_up.due_ms && cs->f.follow_up.due_ms < due)
        due = cs->f.follow_up.due_ms;
    return due;
}
