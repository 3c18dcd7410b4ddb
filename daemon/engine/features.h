/* features.h - the engine's per-customer feature block (vane_state_t.f) and its update.
 *
 * Everything here is a fixed-size value (no pointers), maintained incrementally per event:
 *   - win: exact sliding windows over the tracked event classes (window.h)
 *   - mix_short / mix_long: decayed category mixes of purchases + product views (decay.h)
 *   - logins/day, txns/week and the usual gap between activity events (baseline.h)
 *   - holdings per category, the last reported total balance, cross-holding
 *   - profile (segment, tier, manager) from CRM Profile events
 *   - episodes per alert kind (episode.h), absence timers (dormancy, follow-up)
 *   - a ring of recent event-id hashes for deduplication
 *
 * Size (x86-64, printed by tests/unit/test_state.c): sizeof(vane_state_t) = 1904 bytes in
 * memory, of which the window ring is 784 (16 entries x 48: the event ids for alerts cost the
 * most), episodes 288, dedup 128, timers 96, mixes 112, holdings 96. Persisted protobuf of a
 * typical customer (60 mixed events over a month): median 759 bytes, max 759 (test_state's
 * sample). VANE_WINDOW_CAP and VANE_WINDOW_ID_MAX are the knobs if memory matters more.
 * The parameters (half-lives, alphas, weights) come from the ruleset's settings (rules.h), so
 * this module only defines the layout and the primitive updates.
 */
#ifndef VANE_FEATURES_H
#define VANE_FEATURES_H

#include "baseline.h"
#include "decay.h"
#include "episode.h"
#include "window.h"

#include <stdint.h>

#define VANE_DEDUP_RING    16 /* recent event ids remembered per customer */
#define VANE_PROFILE_STR   24 /* segment / tier / manager_id bytes kept (NUL included) */
#define VANE_EPISODE_KINDS 9  /* one slot per vane_alert_kind_t value (index = kind) */

/* An absence timer: fires at due_ms unless cancelled. */
typedef struct vane_timer {
    int64_t due_ms;    /* event time it fires at; 0 = not armed */
    uint32_t rule_ref; /* hash of the rule id that armed it (rules are found by id) */
    uint8_t severity;  /* follow-up: severity to escalate to */
    uint8_t pad[3];
    char event_id[VANE_WINDOW_ID_MAX + 1]; /* the event that armed it (for event_ids) */
} vane_timer_t;

typedef struct vane_features {
    int64_t max_event_time_ms;   /* latest event time applied (the customer's watermark) */
    int64_t first_event_time_ms; /* earliest event time applied */
    int64_t last_activity_ms;    /* latest login or transaction */
    uint64_t events_applied;
    /* CRM profile, latest wins. */
    int64_t since_ms;
    char segment[VANE_PROFILE_STR];
    char tier[VANE_PROFILE_STR];
    char manager_id[VANE_PROFILE_STR];
    /* Money. */
    int64_t balance_minor;             /* last balance_after_minor seen */
    int64_t holdings[VANE_CAT__COUNT]; /* per category, from purchases/redemptions/deposits */
    uint8_t has_balance;
    int8_t last_survey; /* last SURVEY score, -1 = none */
    uint8_t stage;      /* vane_stage_t computed at the last event */
    uint8_t dedup_n;    /* next dedup slot to write (0..VANE_DEDUP_RING-1) */
    float risk;         /* decline-risk score at the last event */
    /* Behaviour. */
    vane_window_t win;
    vane_decay_t mix_short;
    vane_decay_t mix_long;
    vane_rate_t logins_day;  /* logins per day (recent: alpha_day) */
    vane_rate_t logins_week; /* logins per week (long-term: alpha_week) */
    vane_rate_t txns_week;
    vane_gap_t gap;
    vane_episode_t episodes[VANE_EPISODE_KINDS];
    vane_timer_t dormancy;
    vane_timer_t follow_up;
    uint64_t dedup[VANE_DEDUP_RING]; /* xxh64 of recent event ids (0 = empty slot), ring */
} vane_features_t;

#endif
