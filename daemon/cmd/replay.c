#include "replay.h"

#include "replay_map.h"
#include "timer_heap.h"

#include "../util/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct vane_replay {
    vane_engine_t *eng;
    vane_replay_map_t *map;
    vane_decoder_t *dec;
    vane_replay_opts_t opts;
    vane_replay_alert_cb cb;
    void *ud;
    vane_timer_heap_t *timers; /* each customer slot's next due time (timer_heap.h) */
    vane_alert_batch_t batch;
    vane_replay_stats_t stats;
    /* Events decoded by vane_replay_feed_queued, not yet applied; their strings in qstr. */
    vane_event_t *q; /* QUEUE_EVENTS */
    size_t qn;
    char *qstr; /* QUEUE_BYTES */
    size_t qstr_len;
};

/* A queue of 64 events is enough lookahead for vane_replay_events; 256 KiB of strings holds
 * 64 events of any usual size (a larger one drains the queue first). */
#define QUEUE_EVENTS 64
#define QUEUE_BYTES  ((size_t)256 << 10)

/* ---- construction --------------------------------------------------------------------- */

vane_replay_t *vane_replay_new(const vane_ruleset_t *rs, const vane_replay_opts_t *opts,
                               vane_replay_alert_cb cb, void *ud)
{
    vane_replay_t *rp = calloc(1, sizeof *rp);
    if (!rp)
        return NULL;
    rp->opts = *opts;
    if (rp->opts.max_bytes == 0)
        rp->opts.max_bytes = 1 << 20;
    rp->cb = cb;
    rp->ud = ud;
    rp->eng = vane_engine_new(rs);
    rp->map = vane_replay_map_new(opts->expected_custs, opts->hot_states, opts->hot_states);
    rp->dec = vane_decoder_new(rp->opts.max_bytes);
    rp->q = malloc(QUEUE_EVENTS * sizeof *rp->q);
    rp->qstr = malloc(QUEUE_BYTES);
    rp->timers = vane_timer_heap_new();
    if (!rp->eng || !rp->map || !rp->dec || !rp->q || !rp->qstr || !rp->timers ||
        vane_timer_heap_reserve(rp->timers, 1024) != VANE_OK)
        goto err;
    rp->stats.min_event_ms = INT64_MAX;
    rp->stats.max_event_ms = INT64_MIN;
    rp->stats.watermark_ms = INT64_MIN;
    return rp;
err:
    vane_replay_free(rp);
    return NULL;
}

void vane_replay_free(vane_replay_t *rp)
{
    if (!rp)
        return;
    vane_engine_free(rp->eng);
    vane_replay_map_free(rp->map);
    vane_decoder_free(rp->dec);
    vane_timer_heap_free(rp->timers);
    free(rp->q);
    free(rp->qstr);
    free(rp);
}

/* ---- alerts ----------------------------------------------------------------------------- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Hand the batch's alerts on, stamping detected_at_ms, then empty it. */
static void emit_batch(vane_replay_t *rp, int64_t now_ms)
{
    vane_alert_batch_t *b = &rp->batch;
    rp->stats.dropped += b->dropped;
    for (uint32_t i = 0; i < b->count; i++) {
        vane_alert_t *a = &b->alerts[i];
        a->detected_at_ms = now_ms;
        if (a->shadow) {
            rp->stats.shadow++;
            if (!rp->opts.include_shadow)
                continue;
        }
        rp->stats.alerts++;
        if (a->kind >= 0 && a->kind < VANE_ALERT__COUNT)
            rp->stats.by_kind[a->kind]++;
        if (rp->cb)
            rp->cb(rp->ud, a);
    }
    b->count = 0;
    b->dropped = 0;
}

/* ---- timers ----------------------------------------------------------------------------- */

/* Fire every timer due by watermark. VANE_ENOMEM when a state could not be brought in (its
 * timer stays armed; the caller keeps the watermark where it was, so the next advance or flush
 * retries it). */
static int fire_due(vane_replay_t *rp, int64_t watermark)
{
    int64_t now = rp->opts.wall_clock ? wall_ms() : watermark;
    uint32_t slot;
    while (vane_timer_heap_peek(rp->timers, watermark, &slot, NULL)) {
        vane_state_t *cs = vane_replay_map_state(rp->map, slot);
        if (!cs)
            return VANE_ENOMEM;
        vane_timer_heap_pop(rp->timers);
        rp->stats.timer_calls++;
        int n = vane_engine_timers(rp->eng, cs, watermark, now, &rp->batch);
        if (n > 0)
            rp->stats.timer_alerts += (uint64_t)n;
        emit_batch(rp, now);
        int64_t due = vane_engine_next_due(rp->eng, cs);
        if (due <= watermark) {
            /* The engine should have fired everything due by the watermark; never loop on
             * it. The customer is re-armed at its next event. */
            rp->stats.stuck_timers++;
            continue;
        }
        vane_timer_heap_set(rp->timers, slot, due);
    }
    return VANE_OK;
}

static int advance(vane_replay_t *rp, int64_t event_ms)
{
    if (event_ms > rp->stats.max_event_ms)
        rp->stats.max_event_ms = event_ms;
    if (event_ms < rp->stats.min_event_ms)
        rp->stats.min_event_ms = event_ms;
    int64_t wm = rp->stats.max_event_ms - rp->opts.lateness_ms;
    if (wm <= rp->stats.watermark_ms)
        return VANE_OK;
    int rc = fire_due(rp, wm);
    if (rc == VANE_OK)
        rp->stats.watermark_ms = wm;
    return rc;
}

/* ---- events ----------------------------------------------------------------------------- */

int vane_replay_event(vane_replay_t *rp, const vane_event_t *ev)
{
    rp->stats.events++;
    if (advance(rp, ev->event_time_ms) != VANE_OK)
        return VANE_ENOMEM;
    int64_t slot = vane_replay_map_upsert(rp->map, ev->customer_id, NULL);
    if (slot < 0)
        return (int)slot;
    if (vane_timer_heap_reserve(rp->timers, (size_t)slot + 1) != VANE_OK)
        return VANE_ENOMEM;
    /* The slot's timer record is read after the engine ran: start loading it now, for a
     * customer not seen for a while it is a cache miss. */
    vane_timer_heap_prefetch(rp->timers, (uint32_t)slot);
    rp->stats.customers = vane_replay_map_count(rp->map);
    vane_state_t *cs = vane_replay_map_state(rp->map, slot);
    if (!cs)
        return VANE_ENOMEM;
    int64_t now = rp->opts.wall_clock ? wall_ms() : ev->event_time_ms;
    int rc = vane_engine_process(rp->eng, cs, ev, now, &rp->batch);
    if (rc == VANE_EDUP)
        rp->stats.duplicates++;
    else if (rc == VANE_ELATE)
        rp->stats.late++;
    else
        rp->stats.applied++;
    emit_batch(rp, now);
    /* cs is still valid: no map call since it was fetched. */
    vane_timer_heap_set(rp->timers, (uint32_t)slot, vane_engine_next_due(rp->eng, cs));
    return VANE_OK;
}

/* Lookahead distances (events) of the two prefetch stages: far enough for a DRAM miss to
 * complete behind the work of the events in between (~0.3-1 us each), near enough that the
 * lines are still cached when used. */
#define AHEAD_INDEX 8
#define AHEAD_SLOT  4

int vane_replay_events(vane_replay_t *rp, const vane_event_t *evs, size_t n)
{
    uint64_t hash[AHEAD_INDEX];
    for (size_t i = 0; i < n && i < AHEAD_INDEX; i++)
        hash[i] = vane_replay_map_prefetch_index(rp->map, evs[i].customer_id);
    for (size_t i = 0; i < n && i < AHEAD_SLOT; i++)
        vane_replay_map_prefetch_slot(rp->map, hash[i]);
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD_INDEX < n)
            hash[(i + AHEAD_INDEX) % AHEAD_INDEX] =
                vane_replay_map_prefetch_index(rp->map, evs[i + AHEAD_INDEX].customer_id);
        if (i + AHEAD_SLOT < n)
            vane_replay_map_prefetch_slot(rp->map, hash[(i + AHEAD_SLOT) % AHEAD_INDEX]);
        int rc = vane_replay_event(rp, &evs[i]);
        if (rc == VANE_ENOMEM)
            return rc;
    }
    return VANE_OK;
}

void vane_replay_reject(vane_replay_t *rp, vane_reject_t reason, uint64_t record, const char *msg)
{
    if (reason <= VANE_REJECT_NONE || reason >= VANE_REJECT__COUNT)
        reason = VANE_REJECT_BAD_VALUE;
    rp->stats.rejects++;
    if (rp->stats.reject[reason]++ == 0)
        snprintf(rp->stats.first_reject_msg[reason], sizeof rp->stats.first_reject_msg[reason],
                 "record %llu: %s", (unsigned long long)record, msg);
}

/* Count and decode one message into *ev (borrowing from bytes and the decoder). Returns 0 or
 * the reject's negative code, already counted. */
static int decode(vane_replay_t *rp, const void *bytes, size_t len, vane_format_t fmt,
                  uint64_t record, vane_event_t *ev)
{
    rp->stats.messages++;
    vane_decode_error_t derr;
    memset(&derr, 0, sizeof derr);
    int rc = vane_decoder_decode(rp->dec, bytes, len, fmt, ev, &derr);
    if (rc < 0) {
        char msg[220];
        if (derr.field[0])
            snprintf(msg, sizeof msg, "%s: %s", derr.field, derr.msg);
        else
            snprintf(msg, sizeof msg, "%s", derr.msg[0] ? derr.msg : vane_strerror(rc));
        vane_replay_reject(rp, derr.reason, record, msg);
        return rc;
    }
    return VANE_OK;
}

int vane_replay_feed(vane_replay_t *rp, const void *bytes, size_t len, vane_format_t fmt,
                     uint64_t record)
{
    vane_event_t ev;
    int rc = decode(rp, bytes, len, fmt, record, &ev);
    if (rc < 0)
        return rc;
    return vane_replay_event(rp, &ev);
}

int vane_replay_feed_queued(vane_replay_t *rp, const void *bytes, size_t len, vane_format_t fmt,
                            uint64_t record)
{
    vane_event_t ev;
    int rc = decode(rp, bytes, len, fmt, record, &ev);
    if (rc < 0)
        return rc;
    size_t need = vane_event_strings_len(&ev);
    if (rp->qn == QUEUE_EVENTS || QUEUE_BYTES - rp->qstr_len < need) {
        rc = vane_replay_drain(rp);
        if (rc != VANE_OK)
            return rc;
    }
    if (need > QUEUE_BYTES)
        return vane_replay_event(rp, &ev); /* the queue is empty: order is kept */
    rp->qstr_len += vane_event_copy_strings(&ev, rp->qstr + rp->qstr_len);
    rp->q[rp->qn++] = ev;
    return VANE_OK;
}

int vane_replay_drain(vane_replay_t *rp)
{
    size_t n = rp->qn;
    rp->qn = 0;
    rp->qstr_len = 0;
    return vane_replay_events(rp, rp->q, n);
}

int vane_replay_flush(vane_replay_t *rp, int64_t until_ms)
{
    if (vane_replay_drain(rp) != VANE_OK)
        return VANE_ENOMEM;
    int64_t wm = until_ms > rp->stats.watermark_ms ? until_ms : rp->stats.watermark_ms;
    int rc = fire_due(rp, wm);
    if (rc == VANE_OK)
        rp->stats.watermark_ms = wm;
    return rc;
}

const vane_replay_stats_t *vane_replay_stats(const vane_replay_t *rp)
{
    return &rp->stats;
}

const vane_engine_stats_t *vane_replay_engine_stats(const vane_replay_t *rp)
{
    return vane_engine_stats(rp->eng);
}
