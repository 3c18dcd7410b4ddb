/* replay.h - vane_replay_t: drive the detection engine over recorded events, in event time.
 *
 * This is the core of `vane replay` and `vane rules test`: the same engine the daemon runs,
 * with every customer's state in memory (replay_map.h) and absence timers driven the way the
 * daemon drives them. The watermark is the highest event time seen minus the allowed lateness;
 * whenever it advances, every customer whose vane_engine_next_due() has passed gets
 * vane_engine_timers(). Due times sit in a heap of (due, customer slot) with at most one entry
 * per customer (timer_heap.h: a later due time is applied lazily, the firing order is that of
 * an eager heap).
 * Timers fire *before* the event that advanced the watermark is applied, so a customer who
 * comes back after a quiet month is first reported dormant (event-time semantics).
 *
 * "now" (detected_at_ms) is the event time of the event being applied, or the watermark for
 * timer alerts, so output is deterministic; opts.wall_clock uses the real clock instead.
 *
 * Ownership: the ruleset is borrowed (must outlive the replay); alerts are passed to the
 * callback by pointer, valid only during the call. No allocation per event once the customer
 * map and heap are warm (the map allocates when a customer arrives, a state outgrows the free
 * blocks, or its hot set doubles: replay_map.h). Single-threaded.
 */
#ifndef VANE_REPLAY_H
#define VANE_REPLAY_H

#include "../engine/alert.h"
#include "../engine/codec.h"
#include "../engine/engine.h"
#include "../engine/event.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct vane_replay vane_replay_t;

typedef struct vane_replay_opts {
    int64_t lateness_ms;   /* watermark = max event time - lateness_ms (>= 0) */
    bool wall_clock;       /* detected_at_ms from the real clock instead of event time */
    bool include_shadow;   /* pass shadow-rule alerts to the callback too */
    size_t max_bytes;      /* largest message accepted by the decoder */
    size_t expected_custs; /* sizing hint for the customer map (0 = default) */
    size_t hot_states;     /* fixed hot set size (replay_map.h); 0 = adaptive (the default) */
} vane_replay_opts_t;

/* Called once per alert (valid only during the call). */
typedef void (*vane_replay_alert_cb)(void *ud, const vane_alert_t *a);

typedef struct vane_replay_stats {
    uint64_t messages;                              /* messages read (decoded or not) */
    uint64_t events;                                /* decoded and handed to the engine */
    uint64_t applied;                               /* applied by the engine */
    uint64_t duplicates;                            /* skipped by the engine as duplicates */
    uint64_t late;                                  /* refused by the engine as too late */
    uint64_t rejects;                               /* sum of reject[] */
    uint64_t reject[VANE_REJECT__COUNT];            /* decode failures by reason */
    uint64_t alerts;                                /* alerts passed to the callback */
    uint64_t by_kind[VANE_ALERT__COUNT];            /* the same, per kind */
    uint64_t shadow;                                /* shadow alerts (passed on only if asked) */
    uint64_t dropped;                               /* alerts that did not fit a batch */
    uint64_t timer_calls;                           /* vane_engine_timers calls */
    uint64_t timer_alerts;                          /* alerts those calls produced */
    uint64_t stuck_timers;                          /* next_due not advanced by a timer call */
    uint64_t customers;                             /* distinct customers seen */
    int64_t min_event_ms;                           /* earliest event time seen (INT64_MAX: none) */
    int64_t max_event_ms;                           /* latest event time seen (INT64_MIN: none) */
    int64_t watermark_ms;                           /* current watermark (INT64_MIN: none) */
    char first_reject_msg[VANE_REJECT__COUNT][200]; /* an example per reason */
} vane_replay_stats_t;

/* Create a replay over rs (borrowed). cb may be NULL (count only). NULL on allocation
 * failure. */
vane_replay_t *vane_replay_new(const vane_ruleset_t *rs, const vane_replay_opts_t *opts,
                               vane_replay_alert_cb cb, void *ud);
void vane_replay_free(vane_replay_t *rp); /* NULL-safe */

/* Decode one message and apply it. record is the message's ordinal for diagnostics.
 * Returns 0 when applied (or skipped by the engine), or the negative code of a decode reject
 * (already counted in the stats by reason). */
int vane_replay_feed(vane_replay_t *rp, const void *bytes, size_t len, vane_format_t fmt,
                     uint64_t record);
/* The same for large inputs: decode the message (rejects counted at once) and queue its event,
 * its strings copied; the queue is applied with vane_replay_events (lookahead) whenever it
 * holds 64 events, and by vane_replay_drain. Until then the queued events are in no stats and
 * have raised no alerts: call vane_replay_drain before reading results (vane_replay_flush
 * drains first). Returns 0, a reject's negative code, or VANE_ENOMEM. */
int vane_replay_feed_queued(vane_replay_t *rp, const void *bytes, size_t len, vane_format_t fmt,
                            uint64_t record);
/* Apply every queued event. Returns 0 or VANE_ENOMEM; after VANE_ENOMEM the queued events
 * after the one that failed are dropped (running out of memory ends a replay). */
int vane_replay_drain(vane_replay_t *rp);
/* Count a message the input layer refused before decoding (too large, truncated). */
void vane_replay_reject(vane_replay_t *rp, vane_reject_t reason, uint64_t record, const char *msg);
/* Apply one already-decoded event. Returns 0 or VANE_ENOMEM (a new customer could not be
 * stored, or a state could not be brought into the customer map's hot set). */
int vane_replay_event(vane_replay_t *rp, const vane_event_t *ev);

/* Apply evs[0..n) in order, exactly as n calls of vane_replay_event, but with lookahead: the
 * memory each event's customer lookup will read is requested a few events early, so the
 * lookups of a stream spread over many customers overlap instead of each waiting on main
 * memory. Duplicates and late events are counted as vane_replay_event counts them; an event
 * whose customer id is empty or too long (never one the decoder produced) is skipped. Returns
 * 0, or VANE_ENOMEM at the first event that could not be applied for lack of memory (the ones
 * before it were applied). */
int vane_replay_events(vane_replay_t *rp, const vane_event_t *evs, size_t n);

/* Advance the watermark to until_ms (if it is ahead) and fire every timer due by then,
 * repeatedly, until none is due (queued events are applied first). Used at the end of input
 * (--flush-timers-until).
 * Returns 0 or VANE_ENOMEM (the timers not yet fired stay armed). */
int vane_replay_flush(vane_replay_t *rp, int64_t until_ms);

const vane_replay_stats_t *vane_replay_stats(const vane_replay_t *rp);
const vane_engine_stats_t *vane_replay_engine_stats(const vane_replay_t *rp);

#endif
