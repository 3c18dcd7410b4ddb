/* engine.h - the detection engine: events in, alerts out, per customer.
 *
 * Pure and deterministic: no I/O, no clock reads ("now" is an argument), no allocation per
 * event. The daemon (`vane run`) and the replay tool (`vane replay`) drive the same engine:
 *
 *   vane_engine_process(eng, cs, ev, now_ms, out)   apply one event, maybe alert
 *   vane_engine_timers(eng, cs, watermark_ms, out)  fire due absence timers (dormancy, ...)
 *   vane_engine_next_due(eng, cs)                   when the customer's next timer is due
 *
 * The engine borrows its ruleset (rules.h); vane_engine_set_rules swaps it between events
 * (hot reload) and hands the old one back to the caller, who frees it. States refer to rules
 * by id, never by pointer, so a swap is safe while states are cached.
 */
#ifndef VANE_ENGINE_H
#define VANE_ENGINE_H

#include "alert.h"
#include "event.h"
#include "state.h"

#include <stdint.h>

typedef struct vane_ruleset vane_ruleset_t;
typedef struct vane_engine vane_engine_t;

typedef struct vane_engine_stats {
    uint64_t events;     /* events applied */
    uint64_t duplicates; /* skipped: event_id seen within the dedup horizon */
    uint64_t late;       /* beyond the allowed lateness: handled as documented in engine.c */
    uint64_t alerts;     /* alerts produced (including shadow) */
    uint64_t shadow;     /* alerts from shadow rules */
    uint64_t suppressed; /* held back by an episode's cooldown */
    uint64_t dropped;    /* did not fit in the caller's batch */
} vane_engine_stats_t;

/* Create an engine over rs (borrowed; must outlive the engine or be swapped out).
 * Returns NULL on allocation failure. */
vane_engine_t *vane_engine_new(const vane_ruleset_t *rs);
void vane_engine_free(vane_engine_t *eng); /* NULL-safe; does not free the ruleset */

/* Swap the ruleset; returns the previous one (caller frees it). */
const vane_ruleset_t *vane_engine_set_rules(vane_engine_t *eng, const vane_ruleset_t *rs);
const vane_ruleset_t *vane_engine_rules(const vane_engine_t *eng);

/* Apply ev to cs and append any alerts to out (not cleared first). ev->customer_id must be
 * cs's customer. now_ms is the wall clock, used only for detected_at_ms.
 * Returns VANE_OK when applied, VANE_EDUP when skipped as a duplicate, VANE_ELATE when
 * the event was too late to apply. Never fails otherwise. */
int vane_engine_process(vane_engine_t *eng, vane_state_t *cs, const vane_event_t *ev,
                        int64_t now_ms, vane_alert_batch_t *out);

/* Fire every timer of cs due at or before watermark_ms; append alerts to out.
 * Returns the number of alerts appended. */
int vane_engine_timers(vane_engine_t *eng, vane_state_t *cs, int64_t watermark_ms, int64_t now_ms,
                       vane_alert_batch_t *out);

/* Event time of cs's next due timer, or INT64_MAX when it has none. */
int64_t vane_engine_next_due(const vane_engine_t *eng, const vane_state_t *cs);

const vane_engine_stats_t *vane_engine_stats(const vane_engine_t *eng);

#endif
