/* episode.c - cooldown and escalation (see episode.h). */
#include "episode.h"

vane_episode_verdict_t vane_episode_fire(vane_episode_t *ep, int64_t t_ms, int severity,
                                         int64_t cooldown_ms)
{
    bool live = ep->opened_ms != 0 && t_ms >= ep->last_seen_ms - cooldown_ms &&
                t_ms - ep->last_seen_ms < cooldown_ms;
    if (!live) {
        ep->opened_ms = t_ms;
        ep->last_seen_ms = t_ms;
        ep->last_alert_ms = t_ms;
        ep->severity = (uint8_t)severity;
        ep->seq = 0;
        return VANE_EPISODE_NEW;
    }
    if (t_ms > ep->last_seen_ms)
        ep->last_seen_ms = t_ms;
    if (severity > ep->severity) {
        ep->severity = (uint8_t)severity;
        ep->last_alert_ms = t_ms;
        if (ep->seq < UINT16_MAX)
            ep->seq++;
        return VANE_EPISODE_ESCALATE;
    }
    return VANE_EPISODE_HOLD;
}
