#include "replay.h"

#include "replay_map.h"

#include "../util/err.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One armed timer: the customer in slot is due at due (event time). */
typedef struct heap_item {
    int64_t due;
    uint32_t slot;
} heap_item_t;

#define NOT_IN_HEAP UINT32_MAX

/* Per customer slot: where its heap entry is, its key there, and the due time it should fire
 * at. key mirrors heap[pos].due so an update that needs no heap work touches only this. */
typedef struct slot_timer {
    int64_t want; /* the engine's next_due (INT64_MAX: nothing armed) */
    int64_t key;  /* heap[pos].due, valid when pos != NOT_IN_HEAP */
    uint32_t pos; /* index of its entry in heap, NOT_IN_HEAP when it has none */
} slot_timer_t;

struct vane_replay {
    vane_engine_t *eng;
    vane_replay_map_t *map;
    vane_decoder_t *dec;
    vane_replay_opts_t opts;
    vane_replay_alert_cb cb;
    void *ud;
    /* An indexed min-heap on due: at most one entry per customer (tm[slot].pos says where),
     * so the heap never holds more entries than customers. An entry's key is never later than
     * the customer's wanted due time (tm[slot].want): an earlier due moves the entry up at
     * once, a later one (the common case: activity pushes dormancy back) or a disarm only
     * updates want, and the entry is moved down (or dropped) when it reaches the top. Timers
     * fire in exactly the same (due, slot) order as with eager updates, and an event costs
     * O(1) heap work instead of a sift through a heap of a million customers. */
    heap_item_t *heap;
    size_t heap_len;
    slot_timer_t *tm; /* per slot */
    size_t cap;       /* entries allocated in heap and tm */
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

/* ---- the timer heap ------------------------------------------------------------------- */

/* Order: due, then slot (first-seen order of the customer), so timers due at the same time fire
 * in a defined order and the output does not depend on the heap's history. */
static bool item_less(heap_item_t a, heap_item_t b)
{
    return a.due < b.due || (a.due == b.due && a.slot < b.slot);
}

static void heap_place(vane_replay_t *rp, size_t i, heap_item_t it)
{
    rp->heap[i] = it;
    rp->tm[it.slot].pos = (uint32_t)i;
    rp->tm[it.slot].key = it.due;
}

static void sift_up(vane_replay_t *rp, size_t i)
{
    heap_item_t it = rp->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!item_less(it, rp->heap[parent]))
            break;
        heap_place(rp, i, rp->heap[parent]);
        i = parent;
    }
    heap_place(rp, i, it);
}

static void sift_down(vane_replay_t *rp, size_t i)
{
    heap_item_t it = rp->heap[i];
    size_t n = rp->heap_len;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && item_less(rp->heap[c + 1], rp->heap[c]))
            c++;
        if (!item_less(rp->heap[c], it))
            break;
        heap_place(rp, i, rp->heap[c]);
        i = c;
    }
    heap_place(rp, i, it);
}

/* Remove the entry at index i. */
static void heap_remove_at(vane_replay_t *rp, size_t i)
{
    uint32_t slot = rp->heap[i].slot;
    rp->tm[slot].pos = NOT_IN_HEAP;
    heap_item_t last = rp->heap[--rp->heap_len];
    if (i == rp->heap_len)
        return;
    heap_place(rp, i, last);
    sift_down(rp, i);
    sift_up(rp, rp->tm[last.slot].pos);
}

/* Arm slot's timer at due (INT64_MAX = disarm). The arrays hold every slot (reserved when the
 * customer was created), so this never allocates. Lazy for a later due (see the struct). */
static void heap_set(vane_replay_t *rp, uint32_t slot, int64_t due)
{
    slot_timer_t *t = &rp->tm[slot];
    t->want = due;
    if (due == INT64_MAX)
        return;
    uint32_t i = t->pos;
    if (i == NOT_IN_HEAP) {
        i = (uint32_t)rp->heap_len++;
        rp->heap[i] = (heap_item_t){due, slot};
        t->pos = i;
        t->key = due;
        sift_up(rp, i);
    } else if (due < t->key) {
        rp->heap[i].due = due;
        sift_up(rp, i);
    }
}

/* Bring the top entry's key up to date: drop it when disarmed, move it down when its due is
 * later. Returns true when the top entry is current. */
static bool heap_settle_top(vane_replay_t *rp)
{
    heap_item_t *top = &rp->heap[0];
    int64_t want = rp->tm[top->slot].want;
    if (want == top->due)
        return true;
    if (want == INT64_MAX) {
        heap_remove_at(rp, 0);
    } else {
        top->due = want;
        sift_down(rp, 0);
    }
    return false;
}

/* Make room for slots [0, slots) in the heap and the position index. */
static int heap_reserve(vane_replay_t *rp, size_t slots)
{
    if (slots <= rp->cap)
        return VANE_OK;
    size_t ncap = rp->cap ? rp->cap : 1024;
    while (ncap < slots)
        ncap *= 2;
    heap_item_t *nh = realloc(rp->heap, ncap * sizeof *nh);
    if (!nh)
        return VANE_ENOMEM;
    rp->heap = nh;
    slot_timer_t *nt = realloc(rp->tm, ncap * sizeof *nt);
    if (!nt)
        return VANE_ENOMEM; /* heap grew, tm did not: cap unchanged, retried next time */
    for (size_t i = rp->cap; i < ncap; i++)
        nt[i] = (slot_timer_t){INT64_MAX, INT64_MAX, NOT_IN_HEAP};
    rp->tm = nt;
    rp->cap = ncap;
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
    rp->map = vane_replay_map_new(opts->expected_custs, opts->hot_states, opts->hot_states);
    rp->dec = vane_decoder_new(rp->opts.max_bytes);
    rp->q = malloc(QUEUE_EVENTS * sizeof *rp->q);
    rp->qstr = malloc(QUEUE_BYTES);
    if (!rp->eng || !rp->map || !rp->dec || !rp->q || !rp->qstr ||
        heap_reserve(rp, 1024) != VANE_OK)
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
    free(rp->tm);
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

/* Arm slot's timer at the engine's current next_due. */
static int reschedule(vane_replay_t *rp, uint32_t slot)
{
    const vane_state_t *cs = vane_replay_map_state(rp->map, slot);
    if (!cs)
        return VANE_ENOMEM;
    heap_set(rp, slot, vane_engine_next_due(rp->eng, cs));
    return VANE_OK;
}

/* Fire every timer due by watermark. VANE_ENOMEM when a state could not be brought in (its
 * timer stays armed, so a later call retries it). */
static int fire_due(vane_replay_t *rp, int64_t watermark)
{
    int64_t now = rp->opts.wall_clock ? wall_ms() : watermark;
    while (rp->heap_len > 0 && rp->heap[0].due <= watermark) {
        if (!heap_settle_top(rp))
            continue;
        uint32_t slot = rp->heap[0].slot;
        vane_state_t *cs = vane_replay_map_state(rp->map, slot);
        if (!cs)
            return VANE_ENOMEM;
        heap_remove_at(rp, 0);
        rp->tm[slot].want = INT64_MAX;
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
        heap_set(rp, slot, due);
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
    if (wm > rp->stats.watermark_ms) {
        rp->stats.watermark_ms = wm;
        return fire_due(rp, wm);
    }
    return VANE_OK;
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
    if (heap_reserve(rp, (size_t)slot + 1) != VANE_OK)
        return VANE_ENOMEM;
    /* The slot's timer record is read after the engine ran (reschedule): start loading it now,
     * for a customer not seen for a while it is a cache miss. */
    __builtin_prefetch(&rp->tm[slot], 1);
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
    return reschedule(rp, (uint32_t)slot);
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
    if (until_ms > rp->stats.watermark_ms)
        rp->stats.watermark_ms = until_ms;
    return fire_due(rp, rp->stats.watermark_ms);
}

const vane_replay_stats_t *vane_replay_stats(const vane_replay_t *rp)
{
    return &rp->stats;
}

const vane_engine_stats_t *vane_replay_engine_stats(const vane_replay_t *rp)
{
    return vane_engine_stats(rp->eng);
}
