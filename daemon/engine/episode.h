/* episode.h - one alert per (customer, kind) episode: cooldown and escalation.
 *
 * An episode opens when a rule of a kind fires and no episode of that kind is live. It stays
 * live while the rule keeps firing less than `cooldown` apart (last_seen_ms moves on every
 * firing, sent or held), so a surge that goes on gives one alert, not one per cooldown period.
 * Inside a live episode a firing is suppressed unless its severity is higher than the highest
 * sent so far: that escalation goes out, with seq + 1. alert_id = hash(rule id, customer,
 * kind, opened_ms, seq) is therefore the same on every replay of the same events.
 * Pure value code; the slot lives in vane_features_t.
 */
#ifndef VANE_EPISODE_H
#define VANE_EPISODE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct vane_episode {
    int64_t opened_ms;     /* event time the episode began; 0 = none */
    int64_t last_seen_ms;  /* event time of the latest firing (sent or held) */
    int64_t last_alert_ms; /* event time of the latest alert sent */
    uint8_t severity;      /* highest severity sent in it */
    uint8_t pad;
    uint16_t seq; /* alerts sent in it, minus one */
    uint32_t pad2;
} vane_episode_t;

typedef enum vane_episode_verdict {
    VANE_EPISODE_NEW = 0,      /* a new episode: send (seq 0) */
    VANE_EPISODE_ESCALATE = 1, /* higher severity inside a live episode: send (seq + 1) */
    VANE_EPISODE_HOLD = 2,     /* repeat inside a live episode: suppress */
} vane_episode_verdict_t;

/* Decide and record a firing at t_ms with severity sev and cooldown_ms. */
vane_episode_verdict_t vane_episode_fire(vane_episode_t *ep, int64_t t_ms, int severity,
                                         int64_t cooldown_ms);

#endif
