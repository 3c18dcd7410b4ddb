#include "replay.h"

#include "replay_map.h"

#include "../util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One pending timer: customer slot's next_due as it was when pushed. */
typedef struct heap_item {
    int64_t due;
    uint32_t slot;
} heap_item_t;

struct vane_replay {
    vane_engine_t *eng;
    vane_replay_map_t *map;
    vane_decoder_t *dec;
    vane_replay_opts_t opts;
    vane_replay_alert_cb cb;
    void *ud;
    heap_item_t *heap; /* min-heap on due */
    size_t heap_len;
    size_t heap_cap;
    int64_t *sched; /* per slot: the due currently in the heap, INT64_MAX = none */
    size_t sched_cap;
    vane_alert_batch_t batch;
    vane_replay_stats_t stats;
};

/* ---- the timer heap ------------------------------------------------------------------- */

static int heap_push(vane_replay_t *rp, int64_t due, uint32_t slot)
{
    if (rp->heap_len == rp->heap_cap) {
        size_t ncap = rp->heap_cap ? rp->heap_cap * 2 : 1024;
        heap_item_t *nh = realloc(rp->heap, ncap * sizeof *nh);
        if (!nh)
            return VANE_ENOMEM;
        rp->heap = nh;
        rp->heap_cap = ncap;
    }
    size_t i = rp->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (rp->heap[parent].due <= due)
            break;
        rp->heap[i] = rp->heap[parent];
        i = parent;
    }
    rp->heap[i] = (heap_item_t){due, slot};
    return VANE_OK;
}

static heap_item_t heap_pop(vane_replay_t *rp)
{
    heap_item_t top = rp->heap[0];
    heap_item_t last = rp->heap[--rp->heap_len];
    size_t i = 0;
    size_t n = rp->heap_len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && rp->heap[c + 1].due < rp->heap[c].due)
            c++;
        if (last.due <= rp->heap[c].due)
            break;
        rp->heap[i] = rp->heap[c];
        i = c;
    }
    if (n > 0)
        rp->heap[i] = last;
    return top;
}

static int sched_reserve(vane_replay_t *rp, size_t slots)
{
    if (slots <= rp->sched_cap)
        return VANE_OK;
    size_t ncap = rp->sched_cap ? rp->sched_cap : 1024;
    while (ncap < slots)
        ncap *= 2;
    int64_t *ns = realloc(rp->sched, ncap * sizeof *ns);
    if (!ns)
        return VANE_ENOMEM;
    for (size_t i = rp->sched_cap; i < ncap; i++)
        ns[i] = INT64_MAX;
    rp->sched = ns;
    rp->sched_cap = ncap;
    return VANE_OK;
}

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
    rp->map = vane_replay_map_new(opts->expected_custs);
    rp->dec = vane_decoder_new(rp->opts.max_bytes);
    if (!rp->eng || !rp->map || !rp->dec || sched_reserve(rp, 1024) != VANE_OK)
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
    free(rp->heap);
    free(rp->sched);
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

/* Put slot's current next_due in the heap unless it is already there. */
static void reschedule(vane_replay_t *rp, uint32_t slot)
{
    const vane_state_t *cs = vane_replay_map_state(rp->map, slot);
    int64_t due = vane_engine_next_due(rp->eng, cs);
    if (due == rp->sched[slot])
        return;
    rp->sched[slot] = due;
    if (due != INT64_MAX && heap_push(rp, due, slot) != VANE_OK)
        rp->sched[slot] = INT64_MAX; /* out of memory: this timer is lost, counted as stuck */
}

static void fire_due(vane_replay_t *rp, int64_t watermark)
{
    int64_t now = rp->opts.wall_clock ? wall_ms() : watermark;
    while (rp->heap_len > 0 && rp->heap[0].due <= watermark) {
        heap_item_t it = heap_pop(rp);
        if (rp->sched[it.slot] != it.due)
            continue; /* stale: the customer was rescheduled since */
        rp->sched[it.slot] = INT64_MAX;
        vane_state_t *cs = vane_replay_map_state(rp->map, it.slot);
        rp->stats.timer_calls++;
        int n = vane_engine_timers(rp->eng, cs, watermark, now, &rp->batch);
        if (n > 0)
            rp->stats.timer_alerts += (uint64_t)n;
        emit_batch(rp, now);
        int64_t due = vane_engine_next_due(rp->eng, cs);
        if (due <= watermark) {
            /* The engine should have fired everything due by the watermark; never loop on
             * it. The customer is rescheduled at its next event. */
            rp->stats.stuck_timers++;
            continue;
        }
        reschedule(rp, it.slot);
    }
}

static void advance(vane_replay_t *rp, int64_t event_ms)
{
    if (event_ms > rp->stats.max_event_ms)
        rp->stats.max_event_ms = event_ms;
    if (event_ms < rp->stats.min_event_ms)
        rp->stats.min_event_ms = event_ms;
    int64_t wm = rp->stats.max_event_ms - rp->opts.lateness_ms;
    if (wm > rp->stats.watermark_ms) {
        rp->stats.watermark_ms = wm;
        fire_due(rp, wm);
    }
}

/* ---- events ----------------------------------------------------------------------------- */

int vane_replay_event(vane_replay_t *rp, const vane_event_t *ev)
{
    rp->stats.events++;
    advance(rp, ev->event_time_ms);
    int64_t slot = vane_replay_map_upsert(rp->map, ev->customer_id, NULL);
    if (slot < 0)
        return (int)slot;
    if (sched_reserve(rp, (size_t)slot + 1) != VANE_OK)
        return VANE_ENOMEM;
    rp->stats.customers = vane_replay_map_count(rp->map);
    vane_state_t *cs = vane_replay_map_state(rp->map, slot);
    int64_t now = rp->opts.wall_clock ? wall_ms() : ev->event_time_ms;
    int rc = vane_engine_process(rp->eng, cs, ev, now, &rp->batch);
    if (rc == VANE_EDUP)
        rp->stats.duplicates++;
    else if (rc == VANE_ELATE)
        rp->stats.late++;
    else
        rp->stats.applied++;
    emit_batch(rp, now);
    reschedule(rp, (uint32_t)slot);
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

int vane_replay_feed(vane_replay_t *rp, const void *bytes, size_t len, vane_format_t fmt,
                     uint64_t record)
{
    rp->stats.messages++;
    vane_event_t ev;
    vane_decode_error_t derr;
    memset(&derr, 0, sizeof derr);
    int rc = vane_decoder_decode(rp->dec, bytes, len, fmt, &ev, &derr);
    if (rc < 0) {
        char msg[220];
        if (derr.field[0])
            snprintf(msg, sizeof msg, "%s: %s", derr.field, derr.msg);
        else
            snprintf(msg, sizeof msg, "%s", derr.msg[0] ? derr.msg : vane_strerror(rc));
        vane_replay_reject(rp, derr.reason, record, msg);
        return rc;
    }
    return vane_replay_event(rp, &ev);
}

void vane_replay_flush(vane_replay_t *rp, int64_t until_ms)
{
    if (until_ms > rp->stats.watermark_ms)
        rp->stats.watermark_ms = until_ms;
    fire_due(rp, rp->stats.watermark_ms);
}

const vane_replay_stats_t *vane_replay_stats(const vane_replay_t *rp)
{
    return &rp->stats;
}

const vane_engine_stats_t *vane_replay_engine_stats(const vane_replay_t *rp)
{
    return vane_engine_stats(rp->eng);
}
