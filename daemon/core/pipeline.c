/* pipeline.c - see pipeline.h for the contract.
 *
 * Write-back epochs. Alerts and dead letters are tagged with the open epoch number. A flush
 * closes the open epoch: it snapshots, per partition, the highest offset up to which every
 * message has been applied, writes every dirty state (one SET each, pipelined), and completes
 * when all those SETs are acknowledged and no message tagged with this or an older epoch is
 * still unacknowledged by Kafka. Only then are the snapshot offsets stored for commit. A
 * failed SET re-marks its state dirty and the epoch commits nothing; the next flush covers it.
 */
#include "pipeline.h"

#include "cache.h"
#include "offsets.h"

#include "metrics.h"

#include "engine/codec.h"
#include "engine/engine.h"
#include "engine/rules.h"
#include "io/http.h"

#include <hiredis/hiredis.h>
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Epoch ring size; a message's Kafka opaque packs (source timestamp ms << EPOCH_BITS) | epoch
 * slot, so the delivery report can time event -> alert latency without a lookup. */
#define EPOCH_BITS        10
#define EPOCH_RING        (1u << EPOCH_BITS)
#define TAG(epoch, ts_ms) (((uint64_t)(ts_ms) << EPOCH_BITS) | ((epoch) & (EPOCH_RING - 1)))
#define MAX_PARTITIONS    4096
#define WRITE_RETRY_NS    1000000000u /* retry a refused write-back after this long */

typedef enum run_state {
    RUN_STARTING = 0,
    RUN_RUNNING,
    RUN_DRAINING, /* signal received: no new input, finishing loads, flushing */
    RUN_DRAINED,  /* everything durable and acknowledged: closing on the next loop turn */
    RUN_CLOSING,  /* handles closing */
} run_state_t;

struct vane_pipeline {
    const vane_pipeline_opts_t *opts;
    uv_loop_t loop;
    run_state_t state;
    int exit_code;

    vane_kafka_source_t *src;
    vane_alert_sink_t *sink;
    vane_state_store_t *store;
    /* State loads (GETs) go over a connection of their own: behind a write-back of 100,000
     * SETs on one connection a GET waited ~100 ms, and consumption paused on "waiting for
     * state loads". Ordering holds without a shared connection: a customer is (re)loaded only
     * when it is not cached, and an entry leaves the cache only once its SETs were answered. */
    vane_state_store_t *rstore;
    bool wup, rup; /* each connection up; store_up = both */
    vane_cache_t *cache;
    vane_offsets_t *offsets;
    vane_decoder_t *dec;
    vane_engine_t *eng;
    vane_ruleset_t *rs; /* owned; the engine borrows it */

    vane_alert_batch_t batch; /* scratch for one engine call */
    vane_buf_t statebuf;      /* scratch for one state encoding */
    vane_state_t peek;        /* scratch for a state read without unpacking it (write-back) */
    /* Timer-index updates of the flush being built, sent as one ZADD and one ZREM per
     * partition (grown as needed, reused across flushes). */
    struct index_op *iops;
    struct index_op *iops_sorted; /* index_send's sort output, iops_cap long */
    size_t niops, iops_cap;
    uint32_t iop_start[MAX_PARTITIONS * 2 + 1]; /* index_sort's bucket starts */

    /* Epochs. */
    uint64_t open_epoch;              /* tag for messages produced now */
    uint64_t acked_floor;             /* every epoch below this is fully acknowledged */
    uint32_t outstanding[EPOCH_RING]; /* unacknowledged messages per epoch */
    uint64_t outstanding_total;
    bool flushing;
    bool flush_failed;
    bool flush_nocommit; /* a held state's oldest unwritten event is unknown: commit nothing */
    uint64_t flush_epoch;
    uint32_t flush_pending; /* SETs and timer-index batches in flight */
    /* The write-back's entries not yet issued (taken from the dirty list, linked through
     * dirty_next, still dirty = 1); issued a slice at a time (see flush_walk). */
    vane_cache_entry_t *flush_list;
    size_t flush_left;           /* entries on flush_list */
    uint32_t flush_inflight_max; /* opts->flush_inflight_max, or its default */
    uint64_t flush_started_ns;
    int64_t *snap;      /* per partition: applied offset at flush start, -1 none (owned) */
    int64_t *committed; /* per partition: last offset stored for commit (owned) */

    /* Partition hand-over. */
    bool *revoking; /* per partition (owned) */
    uint32_t *gen;  /* per partition (owned): times it was assigned to this instance */
    bool revoke_pending;
    bool revoke_lost;

    size_t waiting; /* messages waiting for state loads */
    bool paused_waiting, paused_store, paused_outstanding;
    bool writes_failing; /* the last write-back failed (cleared when the store comes back up) */
    bool paused_writes;  /* writes_failing with the store up: -OOM, -READONLY, ... */
    bool store_up;
    bool loads_to_retry; /* a GET failed; house_cb retries failed loads while the store is up */
    bool sink_failed;    /* an alert cannot be delivered: stopping (on_sink_failed) */

    uv_timer_t flush_timer;
    /* A worker thread faults in the cache's next slab before it is needed (cache.h), so the
     * kernel zeroes new state memory off the loop: it was ~20% of the loop's time when every
     * event brought a new customer. */
    uv_work_t prefault_req;
    void *prefault_mem;         /* written by the worker, taken in prefault_done */
    size_t prefault_pool_bytes; /* the work makes a pool chunk of this size; 0: a slab */
    bool prefault_busy;
    uv_timer_t house_timer;
    uv_timer_t grace_timer;
    uv_signal_t sig_term, sig_int, sig_hup;
    int closing_handles;

    /* Operations: metrics registry, HTTP endpoint. */
    vane_metrics_t *reg;
    vane_metrics_std_t m;
    vane_http_t *http;      /* NULL when http.listen is off */
    vane_buf_t metrics_buf; /* render scratch */
    uv_timer_t metrics_timer;
    uint64_t *rej_child[VANE_REJECT__COUNT];
    uint64_t *dlq_child[VANE_REJECT__COUNT];
    double **lag_child; /* per partition (owned array; children owned by reg) */
    uint32_t sample;    /* engine timing: every 8th event */

    /* Absence timers: per-partition sorted sets "<prefix>:timers:{p<N>}" (score = due event
     * time, member = customer id) index the customers whose state has a timer armed. */
    bool *scan_inflight;    /* per partition (owned) */
    int64_t *part_max_time; /* per partition: max event time applied (owned) */
    int64_t last_event_wall_ms;
    uint64_t timers_fired;

    vane_pipeline_stats_t stats;
    int64_t max_event_time_ms;
    int64_t last_report_ms;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The wall clock to the kernel tick (a few ms), without reading the TSC: for range checks. */
static int64_t coarse_wall_ms(void)
{
    struct timespec ts;
#ifdef CLOCK_REALTIME_COARSE
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
#else
    clock_gettime(CLOCK_REALTIME, &ts);
#endif
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void update_pause(vane_pipeline_t *pl);
static void arm_flush_timer(vane_pipeline_t *pl);
static void maybe_flush(vane_pipeline_t *pl, bool force);
static void check_flush_done(vane_pipeline_t *pl);
static void maybe_finish_revoke(vane_pipeline_t *pl);
static void maybe_finish_drain(vane_pipeline_t *pl);
static void close_cb(uv_timer_t *t);

/* ---------------------------------------------------------------------------------------
 * Applying events
 * ------------------------------------------------------------------------------------- */

static void count_reject(vane_pipeline_t *pl, rd_kafka_message_t *m, const vane_decode_error_t *de)
{
    pl->stats.rejected[de->reason < 32 ? de->reason : 0]++;
    if (de->reason < VANE_REJECT__COUNT && pl->rej_child[de->reason])
        (*pl->rej_child[de->reason])++;
    VANE_LOG(VANE_LOG_WARN, "engine", "rejected message %s[%d]@%lld: %s: %s%s%s",
             rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset,
             vane_reject_name(de->reason), de->field, de->field[0] ? ": " : "", de->msg);
    if (vane_alert_sink_dlq(pl->sink, m, de, TAG(pl->open_epoch, 0)) > 0) {
        pl->outstanding[pl->open_epoch % EPOCH_RING]++;
        pl->outstanding_total++;
        if (de->reason < VANE_REJECT__COUNT && pl->dlq_child[de->reason])
            (*pl->dlq_child[de->reason])++;
    }
}

/* Decode and validate m into *ev. Returns 0, or a reject (counted when first). first: the
 * message's first decode; a message decoded again after its customer's state loaded was
 * accepted once, so the wall-clock window is not checked again (time has passed: an event
 * near max_past could fail now and be dropped without a trace). */
static int decode(vane_pipeline_t *pl, rd_kafka_message_t *m, vane_event_t *ev, bool first)
{
    vane_decode_error_t de;
    memset(&de, 0, sizeof de);
    const char *ct = NULL;
    size_t ctlen = 0;
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
        const void *v = NULL;
        if (rd_kafka_header_get_last(hdrs, "content-type", &v, &ctlen) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
            ct = v;
    }
    if (m->len > pl->opts->max_message_bytes) {
        de.reason = VANE_REJECT_TOO_LARGE;
        snprintf(de.msg, sizeof de.msg, "%zu bytes > max_message_bytes %zu", m->len,
                 pl->opts->max_message_bytes);
        goto reject;
    }
    vane_format_t fmt =
        vane_format_detect(ct, ctlen, (vane_format_t)pl->opts->input_format, m->payload, m->len);
    if (vane_decoder_decode(pl->dec, m->payload, m->len, fmt, ev, &de) != VANE_OK)
        goto reject;
    if (m->key_len &&
        (m->key_len != ev->customer_id.len || memcmp(m->key, ev->customer_id.p, m->key_len) != 0)) {
        de.reason = VANE_REJECT_KEY_MISMATCH;
        snprintf(de.field, sizeof de.field, "customer_id");
        snprintf(de.msg, sizeof de.msg, "message key differs from customer_id");
        goto reject;
    }
    int64_t now = coarse_wall_ms(); /* lags by up to a tick: a miss is checked precisely */
    if (first &&
        (ev->event_time_ms > now + pl->opts->max_future_ms ||
         ev->event_time_ms < now - pl->opts->max_past_ms) &&
        ((now = wall_ms()), ev->event_time_ms > now + pl->opts->max_future_ms ||
                                ev->event_time_ms < now - pl->opts->max_past_ms)) {
        de.reason = VANE_REJECT_BAD_TIME;
        snprintf(de.field, sizeof de.field, "event_time_ms");
        snprintf(de.msg, sizeof de.msg, "event time %lld is %s the accepted range",
                 (long long)ev->event_time_ms, ev->event_time_ms > now ? "ahead of" : "behind");
        goto reject;
    }
    return VANE_OK;
reject:
    if (first)
        count_reject(pl, m, &de);
    return VANE_EPARSE;
}

static void on_fatal(void *arg, const char *why);

/* An alert that will never be delivered, or a producer that failed for good (tag 0). The
 * alert stays counted as outstanding, so its epoch never completes: nothing past it is
 * committed and the state that made it is not written. vane stops (exit 1 once the grace
 * expires); the restart consumes the event again and produces the alert again. */
static void on_sink_failed(void *arg, uint64_t tag, const char *why)
{
    vane_pipeline_t *pl = arg;
    (void)tag;
    if (pl->sink_failed)
        return; /* stopping already; the sink logs each alert */
    pl->sink_failed = true;
    VANE_LOG(VANE_LOG_ERROR, "main",
             "stopping: %s; nothing after it is committed, so a restart produces it again", why);
    on_fatal(pl, why);
}

static void emit_alerts(vane_pipeline_t *pl, int64_t now, const rd_kafka_message_t *m)
{
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = m ? rd_kafka_message_timestamp(m, &tstype) : 0;
    if (ts < 0 || ts > now)
        ts = 0;
    for (uint32_t i = 0; i < pl->batch.count; i++) {
        vane_alert_t *a = &pl->batch.alerts[i];
        if (vane_alert_sink_alert(pl->sink, a, now, TAG(pl->open_epoch, ts)) != VANE_OK) {
            /* Not sent (logged by the sink): it counts as outstanding for good, so this epoch
             * is never committed. */
            pl->outstanding[pl->open_epoch % EPOCH_RING]++;
            pl->outstanding_total++;
            on_sink_failed(pl, 0, "an alert could not be produced");
            continue;
        }
        const char *labels[3] = {vane_alert_kind_name(a->kind), a->rule_id, NULL};
        uint64_t *c = vane_metrics_counter(pl->m.alerts, labels); /* alerts are rare */
        if (c)
            (*c)++;
        pl->outstanding[pl->open_epoch % EPOCH_RING]++;
        pl->outstanding_total++;
        pl->stats.alerts++;
        pl->stats.alerts_by_kind[(unsigned)a->kind < 16 ? (unsigned)a->kind : 0]++;
    }
    pl->batch.count = 0;
}

/* Event time up to which absence timers of partition p's customers may fire: p's watermark
 * (max event time applied from p minus the allowed lateness; per partition, because
 * partitions are consumed at different speeds and a customer's events all come from one) and,
 * once the stream has been quiet for QUIET_MS of wall clock, the wall clock minus the
 * lateness, so a quiet customer still fires when nothing else arrives. */
#define QUIET_MS 60000
static int64_t timer_time(const vane_pipeline_t *pl, int32_t p, int64_t now)
{
    int64_t lateness = vane_ruleset_lateness(pl->rs);
    int64_t mx = (p >= 0 && p < MAX_PARTITIONS) ? pl->part_max_time[p] : 0;
    int64_t t = mx ? mx - lateness : INT64_MIN;
    if (pl->last_event_wall_ms && now - pl->last_event_wall_ms >= QUIET_MS && now - lateness > t)
        t = now - lateness;
    return t;
}

/* Out of memory with a message taken but neither applied nor queued: the offsets tracker
 * would count it as done and a later commit would skip it. Crash-only from here (nothing more
 * is written or committed): a restart resumes from the committed offsets, as after kill -9. */
static void die_out_of_memory(const char *what)
{
    VANE_LOG(VANE_LOG_ERROR, "engine",
             "out of memory %s: exiting at once without committing; a restart resumes from the "
             "committed offsets",
             what);
    _exit(1);
}

/* e's full state (see vane_cache_state for how long the pointer lives). Unpacking it can need
 * a pool block; without one the event at hand can be neither applied nor kept. */
static vane_state_t *state_of(vane_pipeline_t *pl, vane_cache_entry_t *e)
{
    vane_state_t *cs = vane_cache_state(pl->cache, e);
    if (!cs)
        die_out_of_memory("unpacking a customer's state");
    return cs;
}

/* Fire e's due timers; alerts go out, the state and its index entry are written back. */
static void fire_timers(vane_pipeline_t *pl, vane_cache_entry_t *e, int64_t until, int64_t now)
{
    if (e->next_due > until)
        return;
    vane_state_t *cs = state_of(pl, e);
    pl->batch.count = 0;
    int n = vane_engine_timers(pl->eng, cs, until, now, &pl->batch);
    e->next_due = vane_engine_next_due(pl->eng, cs);
    pl->timers_fired++;
    e->indexed_due = -1;
    e->state_changed = 1;
    vane_cache_mark_dirty(pl->cache, e);
    if (n > 0) {
        emit_alerts(pl, now, NULL);
        e->alert_epoch = pl->open_epoch + 1;
    }
}

/* Apply a decoded event to a READY entry. */
static void apply(vane_pipeline_t *pl, vane_cache_entry_t *e, const vane_event_t *ev,
                  const rd_kafka_message_t *m)
{
    vane_state_t *cs = state_of(pl, e);
    /* A replayed event is still stream progress: the partition's watermark moves with it, or
     * an instance that took the partition over would fire its timers later than one that
     * owned it all along. */
    if (ev->event_time_ms > pl->part_max_time[m->partition])
        pl->part_max_time[m->partition] = ev->event_time_ms;
    if (cs->last_partition == m->partition && m->offset <= cs->last_offset) {
        pl->stats.replay_skipped++;
        return;
    }
    int64_t now = wall_ms();
    pl->batch.count = 0;
    /* Never past the event itself: while this customer's state was loading, other customers'
     * events may have moved the partition's watermark far ahead; its own pending events, applied
     * now, still prove it was active until their times. */
    int64_t until = timer_time(pl, m->partition, now);
    if (until > ev->event_time_ms)
        until = ev->event_time_ms;
    fire_timers(pl, e, until, now);
    cs = state_of(pl, e); /* fire_timers may have moved it */
    bool timed = (pl->sample++ & 7) == 0;
    uint64_t t0 = timed ? uv_hrtime() : 0;
    int rc = vane_engine_process(pl->eng, cs, ev, now, &pl->batch);
    if (timed)
        vane_histogram_observe(pl->m.engine_process, (double)(uv_hrtime() - t0) / 1e9);
    if (rc == VANE_EDUP)
        pl->stats.duplicates++;
    else if (rc == VANE_ELATE)
        pl->stats.late++;
    cs->last_partition = m->partition;
    cs->last_offset = m->offset;
    e->next_due = vane_engine_next_due(pl->eng, cs);
    if (!e->unwritten_from) {
        e->unwritten_from = m->offset + 1;
        e->unwritten_part = m->partition;
    } else if (e->unwritten_part != m->partition) {
        e->unwritten_mixed = 1;
    }
    e->state_changed = 1;
    vane_cache_mark_dirty(pl->cache, e);
    pl->stats.applied++;
    pl->stats.last_applied_wall_ms = now;
    pl->last_event_wall_ms = now;
    if (ev->event_time_ms > pl->max_event_time_ms)
        pl->max_event_time_ms = ev->event_time_ms;
    if (pl->batch.count) {
        emit_alerts(pl, now, m);
        e->alert_epoch = pl->open_epoch + 1;
    }
}

static void on_state_loaded(void *arg, int status, const char *bytes, size_t len);

/* Is partition p this instance's: assigned, and not being handed over? */
static bool owned(const vane_pipeline_t *pl, int32_t p)
{
    return p >= 0 && p < MAX_PARTITIONS && vane_offsets_assigned(pl->offsets, p) &&
           !pl->revoking[p];
}

/* A customer's cached entry, or NULL. An entry added under an earlier assignment of its
 * partition (revoked, then assigned to this instance again) may hold a state that another
 * instance changed in Redis meanwhile: it is dropped, so the state is loaded afresh. One that
 * cannot be dropped yet (a write of it still in flight) is used as it is; see
 * docs/recovery.md, "Known limits". */
static vane_cache_entry_t *cached(vane_pipeline_t *pl, const char *id, size_t len)
{
    vane_cache_entry_t *e = vane_cache_get(pl->cache, id, len);
    if (e && e->partition >= 0 && e->partition < MAX_PARTITIONS &&
        e->owner_gen != pl->gen[e->partition] && vane_cache_removable(e)) {
        vane_cache_remove(pl->cache, e);
        pl->stats.stale_dropped++;
        return NULL;
    }
    return e;
}

/* A new LOADING entry of a customer of partition p (assigned); NULL when out of memory. */
static vane_cache_entry_t *add_entry(vane_pipeline_t *pl, const char *id, size_t len, int32_t p)
{
    vane_cache_entry_t *e = vane_cache_add(pl->cache, id, len, p);
    if (e)
        e->owner_gen = pl->gen[p];
    return e;
}

static void issue_load(vane_pipeline_t *pl, vane_cache_entry_t *e)
{
    if (vane_state_store_get(pl->rstore, e->id, on_state_loaded, e) != VANE_OK) {
        vane_cache_note_failed_load(pl->cache, e); /* retried when Redis is back */
        return;
    }
    e->pins++;
}

/* The pipeline pointer for Redis callbacks that only carry an entry. One pipeline per
 * process (the daemon), so a static is the honest representation. */
static vane_pipeline_t *the_pipeline;

static void drain_pending(vane_pipeline_t *pl, vane_cache_entry_t *e)
{
    rd_kafka_message_t *m;
    vane_event_t ev;
    bool has_ev;
    while ((m = vane_cache_pop_pending_ev(pl->cache, e, &ev, &has_ev)) != NULL) {
        pl->waiting--;
        if (vane_offsets_assigned(pl->offsets, m->partition) && !pl->revoke_lost &&
            (has_ev || decode(pl, m, &ev, false) == VANE_OK))
            apply(pl, e, &ev, m);
        vane_offsets_done_offset(pl->offsets, m->partition, m->offset);
        rd_kafka_message_destroy(m);
    }
}

static void on_state_loaded(void *arg, int status, const char *bytes, size_t len)
{
    vane_cache_entry_t *e = arg;
    vane_pipeline_t *pl = the_pipeline;
    e->pins--;
    if (pl->state == RUN_CLOSING)
        return; /* a late reply: the sink and the consumer are gone, nothing is applied now */
    if (status != VANE_OK) {
        /* Down: reloaded when the store is back (store_state_changed). Up: Redis refused this
         * GET with an error reply (-WRONGTYPE, -BUSY, ...); house_cb retries it every second,
         * so the customer's events wait, logged, instead of being stuck until a reconnect. */
        vane_cache_note_failed_load(pl->cache, e);
        pl->loads_to_retry = true;
        return;
    }
    if (bytes) {
        vane_state_t *cs = state_of(pl, e);
        int rc = vane_state_decode(cs, bytes, len);
        if (rc != VANE_OK) {
            pl->stats.state_decode_errors++;
            VANE_LOG(VANE_LOG_ERROR, "redis",
                     "stored state of a customer is unreadable (%s); starting it afresh",
                     vane_strerror(rc));
            vane_state_init(cs, vane_str_c(e->id));
        }
        e->next_due = vane_engine_next_due(pl->eng, cs);
    }
    e->status = VANE_CACHE_READY;
    e->indexed_due = 0;
    drain_pending(pl, e);
    if (e->timer_pending) {
        e->timer_pending = 0;
        /* Loaded for a timer scan: fire what is due, unless the partition was revoked since. */
        if (owned(pl, e->partition)) {
            int64_t now = wall_ms();
            fire_timers(pl, e, timer_time(pl, e->partition, now), now);
            if (e->indexed_due != -1) {
                e->indexed_due = -1; /* the index entry was stale: reconcile it */
                vane_cache_mark_dirty(pl->cache, e);
            }
        }
    }
    update_pause(pl);
    maybe_finish_revoke(pl);
    maybe_finish_drain(pl);
}

static bool str_within(vane_str_t s, const char *base, size_t len)
{
    uintptr_t p = (uintptr_t)s.p, b = (uintptr_t)base;
    return s.len == 0 || (p >= b && p - b <= len && s.len <= len - (p - b));
}

/* Does every string of ev point into [base, base+len)? Then ev stays valid as long as the
 * message does, and need not be decoded again after a state load. */
static bool borrows_only_from(const vane_event_t *ev, const void *base_, size_t len)
{
    const char *base = base_;
    const vane_str_t all[] = {
        ev->event_id,           ev->customer_id,           ev->txn.product_id,
        ev->txn.currency,       ev->txn.counterparty_bank, ev->login.device_id,
        ev->eng.product_id,     ev->eng.service,           ev->profile.segment,
        ev->profile.manager_id, ev->profile.tier,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!str_within(all[i], base, len))
            return false;
    return true;
}

static void process_message(vane_pipeline_t *pl, rd_kafka_message_t *m)
{
    pl->stats.consumed++;
    if (pl->stats.first_event_wall_ms == 0)
        pl->stats.first_event_wall_ms = wall_ms();
    int32_t p = m->partition;
    if (p < 0 || p >= MAX_PARTITIONS || pl->revoking[p] || !vane_offsets_assigned(pl->offsets, p)) {
        pl->stats.dropped_revoked++;
        rd_kafka_message_destroy(m);
        return;
    }
    vane_offsets_consumed(pl->offsets, p, m->offset);
    vane_event_t ev;
    if (decode(pl, m, &ev, true) != VANE_OK) {
        rd_kafka_message_destroy(m);
        return;
    }
    pl->stats.decoded++;
    vane_cache_entry_t *e = cached(pl, ev.customer_id.p, ev.customer_id.len);
    if (e && e->status == VANE_CACHE_READY) {
        pl->stats.cache_hits++;
        apply(pl, e, &ev, m);
        rd_kafka_message_destroy(m);
        return;
    }
    if (!e) {
        pl->stats.cache_misses++;
        e = add_entry(pl, ev.customer_id.p, ev.customer_id.len, p);
        if (!e)
            die_out_of_memory("adding a customer to the cache");
        issue_load(pl, e);
    }
    /* Wait behind the load (per-customer order holds; other customers go on), with the decoded
     * event when it points only into the message's own bytes (JSON without escapes). */
    if (vane_offsets_wait(pl->offsets, p, m->offset) < 0 ||
        vane_cache_push_pending_ev(
            pl->cache, e, m, borrows_only_from(&ev, m->payload, m->len) ? &ev : NULL) != VANE_OK)
        die_out_of_memory("queueing a message behind its customer's state load");
    pl->waiting++;
}

static void prefault_work(uv_work_t *w)
{
    vane_pipeline_t *pl = w->data;
    pl->prefault_mem = pl->prefault_pool_bytes ? vane_cache_pool_chunk_new(pl->prefault_pool_bytes)
                                               : vane_cache_slab_new();
}

static void maybe_prefault(vane_pipeline_t *pl);

static void prefault_done(uv_work_t *w, int status)
{
    vane_pipeline_t *pl = w->data;
    (void)status; /* cancelled at shutdown: no memory */
    pl->prefault_busy = false;
    if (!pl->prefault_mem)
        return; /* cancelled, or the mapping failed: the next batch asks again, not this turn */
    /* Also at shutdown: the cache frees it with the others. */
    if (pl->prefault_pool_bytes)
        vane_cache_pool_give(pl->cache, pl->prefault_mem, pl->prefault_pool_bytes);
    else
        vane_cache_slab_give(pl->cache, pl->prefault_mem);
    pl->prefault_mem = NULL;
    maybe_prefault(pl);
}

/* Fault in the cache's next memory on a worker thread, before the loop needs it: the block
 * pool's next chunk (16 MiB at most) once three quarters of its current one are carved (at 1 M
 * customers the loop zeroed packed-state pages for ~4% of its time), and up to four slabs of spare
 * entries while the cache grows: up to its limit, and up to as much again for the states it cannot
 * evict yet (dirty, loading, pinned) while a write-back is in flight. Beyond that, evictions supply
 * the entries. (With two slabs and 1.5x the limit, a 1 M-customer stream still had the loop fault
 * its own slabs: 14% of the loop thread's time in page zeroing; now ~5%.) */
static void maybe_prefault(vane_pipeline_t *pl)
{
    if (pl->prefault_busy || pl->state == RUN_CLOSING)
        return;
    pl->prefault_pool_bytes = vane_cache_pool_want(pl->cache);
    if (!pl->prefault_pool_bytes) {
        size_t spare = vane_cache_spare(pl->cache), max = vane_cache_max(pl->cache);
        if (spare >= 4 * vane_cache_slab_entries() ||
            vane_cache_count(pl->cache) + spare >= 2 * max)
            return;
    }
    pl->prefault_req.data = pl;
    if (uv_queue_work(&pl->loop, &pl->prefault_req, prefault_work, prefault_done) == 0)
        pl->prefault_busy = true;
}

/* A batch's messages are handled in order, but the memory each will touch is known ahead: its
 * bytes and, through its Kafka key (the producer's partitioning key, normally the customer_id),
 * its cache table slot, entry, LRU neighbours and packed state. Over a million customers each of
 * those is a cache miss; on_batch starts loading them some messages ahead, step by step, so
 * the misses overlap instead of stalling one after another (on the 1 M-customer benchmark
 * stream, alternating A/B runs: events/s +8% and CPU per event -2% at the medians, within the
 * build machine's noise; bench/REPORT.md). A key that is not the customer_id only makes the
 * hints useless. */
#define PREFETCH_MSG   24 /* messages ahead whose message struct is prefetched */
#define PREFETCH_BYTES 16 /* ... whose key and value bytes are prefetched */
#define PREFETCH_SLOT  10 /* ... whose key is hashed and table slot prefetched */
#define PREFETCH_ENTRY 5  /* ... whose cache entry is prefetched */
#define PREFETCH_NEAR  2  /* ... whose entry's LRU neighbours and packed state are prefetched */
#define PREFETCH_RING  16 /* > PREFETCH_SLOT: the hashes and entries found, by message */

static bool has_key(const rd_kafka_message_t *m)
{
    return m->key && m->key_len > 0 && m->key_len <= VANE_ID_MAX;
}

/* Start the memory loads for message i + d of the batch, step by step as it comes nearer. */
static void prefetch_ahead(vane_pipeline_t *pl, rd_kafka_message_t **msgs, size_t n, size_t i,
                           uint64_t *h, const vane_cache_entry_t **e)
{
    if (i + PREFETCH_MSG < n)
        __builtin_prefetch(msgs[i + PREFETCH_MSG]);
    if (i + PREFETCH_BYTES < n) {
        const rd_kafka_message_t *m = msgs[i + PREFETCH_BYTES];
        __builtin_prefetch(m->payload);
        if (has_key(m))
            __builtin_prefetch(m->key);
    }
    if (i + PREFETCH_SLOT < n) {
        const rd_kafka_message_t *m = msgs[i + PREFETCH_SLOT];
        size_t r = (i + PREFETCH_SLOT) % PREFETCH_RING;
        h[r] = has_key(m) ? vane_cache_hash(m->key, m->key_len) : 0;
        e[r] = NULL;
        if (h[r])
            vane_cache_prefetch_slot(pl->cache, h[r]);
    }
    size_t r = (i + PREFETCH_ENTRY) % PREFETCH_RING;
    if (i + PREFETCH_ENTRY < n && h[r])
        e[r] = vane_cache_prefetch_entry(pl->cache, h[r]);
    r = (i + PREFETCH_NEAR) % PREFETCH_RING;
    if (i + PREFETCH_NEAR < n && e[r])
        vane_cache_prefetch_near(e[r]);
}

static void on_batch(void *arg, rd_kafka_message_t **msgs, size_t n)
{
    vane_pipeline_t *pl = arg;
    uint64_t h[PREFETCH_RING] = {0};
    const vane_cache_entry_t *e[PREFETCH_RING] = {0};
    for (size_t i = 0; i < n; i++) {
        prefetch_ahead(pl, msgs, n, i, h, e);
        process_message(pl, msgs[i]);
    }
    maybe_prefault(pl);
    update_pause(pl);
    if (vane_cache_dirty_count(pl->cache) >= pl->opts->flush_max_dirty)
        maybe_flush(pl, true);
    arm_flush_timer(pl);
}

/* ---------------------------------------------------------------------------------------
 * Backpressure
 * ------------------------------------------------------------------------------------- */

static void update_pause(vane_pipeline_t *pl)
{
    if (pl->state == RUN_CLOSING || !pl->src)
        return;
    if (pl->waiting >= pl->opts->max_waiting)
        pl->paused_waiting = true;
    else if (pl->waiting <= pl->opts->max_waiting / 2)
        pl->paused_waiting = false;
    if (pl->outstanding_total >= pl->opts->max_outstanding ||
        pl->open_epoch - pl->acked_floor >= EPOCH_RING - 2)
        pl->paused_outstanding = true;
    else if (pl->outstanding_total <= pl->opts->max_outstanding / 2)
        pl->paused_outstanding = false;
    pl->paused_store = !pl->store_up;
    /* A write-back that failed while Redis is up (-OOM at maxmemory, -READONLY after a
     * failover, ...) would fail again: consuming on would only grow the dirty states, which
     * cannot be evicted, without bound. Pause until a write-back succeeds (the flush timer
     * retries it once a second). Evaluated here, not when the flush fails: when the connection
     * drops, the failed writes are answered just before the store reports itself down. */
    bool paused_writes = pl->writes_failing && pl->store_up;
    if (paused_writes && !pl->paused_writes)
        VANE_LOG(VANE_LOG_WARN, "redis",
                 "state write-back refused by Redis: pausing consumption until one succeeds");
    pl->paused_writes = paused_writes;
    /* During a hand-over every partition waits, also those kept under the cooperative
     * protocol: the revoke needs a moment with nothing dirty and no alert unacknowledged,
     * which steady input on the kept partitions would otherwise never leave. */
    bool pause = pl->paused_waiting || pl->paused_outstanding || pl->paused_store ||
                 pl->paused_writes || pl->revoke_pending || pl->state >= RUN_DRAINING;
    if (pause != vane_kafka_source_paused(pl->src)) {
        if (pause) {
            pl->stats.pauses++;
            VANE_LOG(VANE_LOG_INFO, "kafka", "consumption paused (%s)",
                     pl->state >= RUN_DRAINING ? "shutting down"
                     : pl->paused_store        ? "redis unreachable"
                     : pl->paused_writes       ? "state writes failing"
                     : pl->paused_waiting      ? "too many messages waiting for state loads"
                     : pl->revoke_pending      ? "handing partitions over"
                                               : "too many unacknowledged alerts");
        } else {
            VANE_LOG(VANE_LOG_INFO, "kafka", "consumption resumed");
        }
        vane_kafka_source_pause(pl->src, pause);
    }
}

/* ---------------------------------------------------------------------------------------
 * Write-back
 * ------------------------------------------------------------------------------------- */

static void on_state_written(void *arg, int status)
{
    vane_cache_entry_t *e = arg;
    vane_pipeline_t *pl = the_pipeline;
    e->pins--;
    pl->flush_pending--;
    if (status == VANE_OK) {
        pl->stats.states_written++;
    } else {
        pl->flush_failed = true;
        /* Written again later, unless its partition is gone (a revoke completed, or was
         * lost, meanwhile): the new owner has the events, and this state could overwrite the
         * owner's newer one. */
        if (vane_offsets_assigned(pl->offsets, e->partition)) {
            e->state_changed = 1;
            /* Which events that write carried is no longer known: until a write succeeds, a
             * hold of this state stops every commit (see hold_offsets). */
            e->unwritten_from = 1;
            e->unwritten_mixed = 1;
            vane_cache_mark_dirty(pl->cache, e);
        }
    }
    check_flush_done(pl);
}

/* One timer-index update: ZADD e at due, or ZREM e (due == INT64_MAX). */
typedef struct index_op {
    vane_cache_entry_t *e; /* pinned until the reply */
    int64_t due;
    int32_t partition; /* e's, copied so that sorting need not touch the entries */
} index_op_t;

/* The entries of one batched ZADD or ZREM, for its reply. */
typedef struct index_batch {
    size_t n;
    vane_cache_entry_t *e[]; /* each pinned once */
} index_batch_t;

static void on_index_written(void *arg, int status, void *reply)
{
    index_batch_t *ib = arg;
    vane_pipeline_t *pl = the_pipeline;
    (void)reply;
    for (size_t i = 0; i < ib->n; i++) {
        vane_cache_entry_t *e = ib->e[i];
        e->pins--;
        if (status != VANE_OK) {
            pl->flush_failed = true;
            if (!vane_offsets_assigned(pl->offsets, e->partition))
                continue; /* not ours any more (see on_state_written) */
            e->indexed_due = -1;
            vane_cache_mark_dirty(pl->cache, e);
        }
    }
    free(ib);
    pl->flush_pending--;
    check_flush_done(pl);
}

static size_t timers_key(const vane_pipeline_t *pl, int32_t p, char *buf, size_t cap)
{
    const char *prefix =
        pl->opts->store.prefix && *pl->opts->store.prefix ? pl->opts->store.prefix : "vane";
    int n = snprintf(buf, cap, "%s:timers:{p%d}", prefix, (int)p);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Keep the partition's timer index in step with e's state, in the same pipeline as the state
 * write, so the offsets commit only once both are durable. The index may hold a due time
 * earlier than the state's (a timer that moved later): the scan then finds nothing due and
 * reconciles it. Here the update is only collected; index_send() batches them. */
static void index_timer(vane_pipeline_t *pl, vane_cache_entry_t *e)
{
    int64_t due = e->next_due;
    if (due == INT64_MAX) {
        if (e->indexed_due != -1)
            return; /* nothing armed, nothing indexed by us */
    } else if (e->indexed_due > 0 && e->indexed_due <= due) {
        return; /* the index fires no later than the state needs */
    }
    if (pl->niops == pl->iops_cap) {
        size_t ncap = pl->iops_cap ? pl->iops_cap * 2 : 1024;
        index_op_t *n = realloc(pl->iops, ncap * sizeof *n);
        index_op_t *ns = n ? realloc(pl->iops_sorted, ncap * sizeof *ns) : NULL;
        if (n)
            pl->iops = n;
        if (!ns) {
            pl->flush_failed = true;
            e->indexed_due = -1;
            return;
        }
        pl->iops_sorted = ns;
        pl->iops_cap = ncap;
    }
    pl->iops[pl->niops++] = (index_op_t){e, due, e->partition};
    e->pins++;
    e->indexed_due = due == INT64_MAX ? 0 : due;
}

/* Where op goes in index_send's order: by partition, each partition's ZADDs before its ZREMs. */
static size_t iop_key(const index_op_t *op)
{
    return (size_t)op->partition * 2 + (op->due == INT64_MAX);
}

/* Order pl->iops by iop_key. A flush can hold a million ops: a counting sort over the
 * partitions is one pass to count and one to place, and reads only the ops themselves. Every
 * cached entry's partition is below MAX_PARTITIONS (messages of others are dropped on arrival). */
static void index_sort(vane_pipeline_t *pl)
{
    uint32_t *start = pl->iop_start;
    memset(start, 0, sizeof pl->iop_start);
    for (size_t i = 0; i < pl->niops; i++) {
        VANE_ASSERT(pl->iops[i].partition >= 0 && pl->iops[i].partition < MAX_PARTITIONS);
        start[iop_key(&pl->iops[i]) + 1]++;
    }
    for (size_t k = 1; k <= MAX_PARTITIONS * 2; k++)
        start[k] += start[k - 1];
    for (size_t i = 0; i < pl->niops; i++)
        pl->iops_sorted[start[iop_key(&pl->iops[i])]++] = pl->iops[i];
    index_op_t *t = pl->iops;
    pl->iops = pl->iops_sorted;
    pl->iops_sorted = t;
}

/* Send the collected index updates: one ZADD (score member pairs) and one ZREM per partition
 * and flush, not one command per customer. */
static void index_send(vane_pipeline_t *pl)
{
    if (!pl->niops)
        return;
    index_sort(pl);
    size_t i = 0;
    while (i < pl->niops) {
        size_t j = i;
        bool rem = pl->iops[i].due == INT64_MAX;
        int32_t part = pl->iops[i].partition;
        while (j < pl->niops && iop_key(&pl->iops[j]) == iop_key(&pl->iops[i]))
            j++;
        size_t n = j - i;
        size_t argc = 2 + (rem ? n : 2 * n);
        const char **argv = malloc(argc * sizeof *argv);
        size_t *lens = malloc(argc * sizeof *lens);
        char *scores = rem ? NULL : malloc(n * VANE_BUF_I64_MAX);
        index_batch_t *ib = malloc(sizeof *ib + n * sizeof ib->e[0]);
        char key[128];
        bool sent = false;
        if (argv && lens && ib && (rem || scores)) {
            argv[0] = rem ? "ZREM" : "ZADD";
            lens[0] = 4;
            lens[1] = timers_key(pl, part, key, sizeof key);
            argv[1] = key;
            size_t k = 2;
            for (size_t x = 0; x < n; x++) {
                vane_cache_entry_t *e = pl->iops[i + x].e;
                if (!rem) {
                    char *sc = scores + x * VANE_BUF_I64_MAX;
                    lens[k] = vane_buf_fmt_i64(sc, pl->iops[i + x].due);
                    argv[k++] = sc;
                }
                argv[k] = e->id;
                lens[k++] = strlen(e->id);
                ib->e[x] = e;
            }
            ib->n = n;
            sent = vane_state_store_command(pl->store, (int)argc, argv, lens, on_index_written,
                                            ib) == VANE_OK;
        }
        if (sent) {
            pl->flush_pending++;
        } else {
            pl->flush_failed = true;
            for (size_t x = i; x < j; x++) {
                pl->iops[x].e->pins--;
                pl->iops[x].e->indexed_due = -1;
                vane_cache_mark_dirty(pl->cache, pl->iops[x].e);
            }
            free(ib);
        }
        free(argv);
        free(lens);
        free(scores);
        i = j;
    }
    pl->niops = 0;
}

/* Scan reply: customers of partition p whose indexed timer is due. */
typedef struct scan_req {
    vane_pipeline_t *pl;
    int32_t p;
    int64_t until;
} scan_req_t;

static void on_scan(void *arg, int status, void *reply_)
{
    scan_req_t *sr = arg;
    vane_pipeline_t *pl = sr->pl;
    int32_t p = sr->p;
    int64_t until = sr->until;
    free(sr);
    pl->scan_inflight[p] = false;
    redisReply *reply = reply_;
    if (status != VANE_OK || !reply || reply->type != REDIS_REPLY_ARRAY ||
        !vane_offsets_assigned(pl->offsets, p) || pl->revoking[p] || pl->state == RUN_CLOSING)
        return;
    int64_t now = wall_ms();
    for (size_t i = 0; i < reply->elements; i++) {
        redisReply *m = reply->element[i];
        if (m->type != REDIS_REPLY_STRING || m->len == 0 || m->len > VANE_ID_MAX)
            continue;
        vane_cache_entry_t *e = cached(pl, m->str, (size_t)m->len);
        if (!e) {
            e = add_entry(pl, m->str, (size_t)m->len, p);
            if (!e)
                return;
            issue_load(pl, e);
        }
        if (e->status != VANE_CACHE_READY) {
            e->timer_pending = 1;
            continue;
        }
        fire_timers(pl, e, until, now);
        if (e->indexed_due != -1) {
            e->indexed_due = -1; /* nothing was due: the index entry is stale, reconcile it */
            vane_cache_mark_dirty(pl->cache, e);
        }
    }
    arm_flush_timer(pl);
}

/* Bounded work per tick: at most SCAN_LIMIT due customers per partition per second. */
#define SCAN_LIMIT 200
static void scan_timers(vane_pipeline_t *pl, int64_t now)
{
    if (!pl->store_up || pl->state != RUN_RUNNING)
        return;
    for (int32_t p = vane_offsets_next(pl->offsets, -1); p >= 0;
         p = vane_offsets_next(pl->offsets, p)) {
        int64_t until = timer_time(pl, p, now);
        if (pl->scan_inflight[p] || pl->revoking[p] || until == INT64_MIN)
            continue;
        char key[128], max[32];
        size_t klen = timers_key(pl, p, key, sizeof key);
        size_t mlen = (size_t)snprintf(max, sizeof max, "%lld", (long long)until);
        char lim[16];
        size_t llen = (size_t)snprintf(lim, sizeof lim, "%d", SCAN_LIMIT);
        const char *argv[7] = {"ZRANGEBYSCORE", key, "-inf", max, "LIMIT", "0", lim};
        size_t lens[7] = {13, klen, 4, mlen, 5, 1, llen};
        scan_req_t *sr = malloc(sizeof *sr); /* one per partition per tick, not per event */
        if (!sr)
            return;
        *sr = (scan_req_t){pl, p, until};
        if (vane_state_store_command(pl->store, 7, argv, lens, on_scan, sr) != VANE_OK) {
            free(sr);
            return;
        }
        pl->scan_inflight[p] = true;
    }
}

/* Move acked_floor past every fully acknowledged epoch at its front. Epochs in flight span
 * less than the ring (maybe_flush waits otherwise), so x's slot is x's alone while
 * x >= acked_floor. */
static void advance_acked_floor(vane_pipeline_t *pl)
{
    while (pl->acked_floor < pl->open_epoch && pl->outstanding[pl->acked_floor % EPOCH_RING] == 0)
        pl->acked_floor++;
}

/* Every message produced in epoch x and in every epoch before it is acknowledged. Not x's
 * count alone: an entry's alert_epoch names only its newest alert, and while it waits in a
 * sliced write-back an older alert of an earlier epoch may still be unacknowledged. */
static bool acked_through(vane_pipeline_t *pl, uint64_t x)
{
    advance_acked_floor(pl);
    return x < pl->acked_floor;
}

/* e's write-back is held: this flush must not commit its partition's offset past e's oldest
 * unwritten event, or a crash before the later write-back would lose the events in between
 * (the replay would start after them and Redis would not have them). */
static void hold_offsets(vane_pipeline_t *pl, const vane_cache_entry_t *e)
{
    if (!e->unwritten_from)
        return;
    int32_t p = e->unwritten_part;
    if (e->unwritten_mixed || p < 0 || p >= MAX_PARTITIONS) {
        pl->flush_nocommit = true;
        return;
    }
    int64_t last_safe = e->unwritten_from - 2; /* the offset just before that event */
    if (pl->snap[p] > last_safe)
        pl->snap[p] = last_safe;
}

static void flush_walk(vane_pipeline_t *pl);

static void maybe_flush(vane_pipeline_t *pl, bool force)
{
    (void)force;
    if (pl->flushing || !pl->store_up || pl->state == RUN_CLOSING)
        return;
    if (pl->open_epoch - pl->acked_floor >= EPOCH_RING - 1)
        return; /* too many epochs waiting for Kafka acknowledgements */
    if (pl->writes_failing && uv_hrtime() - pl->flush_started_ns < WRITE_RETRY_NS)
        return; /* Redis refused the last write-back: retry once a second, not every tick */
    bool any_dirty = vane_cache_dirty_count(pl->cache) > 0;
    bool any_progress = false;
    for (int32_t p = vane_offsets_next(pl->offsets, -1); p >= 0;
         p = vane_offsets_next(pl->offsets, p)) {
        int64_t a = vane_offsets_applied(pl->offsets, p);
        pl->snap[p] = a;
        if (a > pl->committed[p])
            any_progress = true;
    }
    if (!any_dirty && !any_progress && pl->outstanding_total == 0) {
        if (pl->writes_failing) { /* what failed is gone (a lost revoke dropped it) */
            pl->writes_failing = false;
            update_pause(pl);
        }
        return;
    }
    pl->flushing = true;
    pl->flush_failed = false;
    pl->flush_nocommit = false;
    pl->flush_epoch = pl->open_epoch++;
    pl->flush_started_ns = uv_hrtime();
    pl->stats.flushes++;
    pl->flush_left = vane_cache_dirty_count(pl->cache);
    pl->flush_list = vane_cache_take_dirty(pl->cache);
    flush_walk(pl);
    check_flush_done(pl);
}

/* Issue the write-back's next entries until opts->flush_inflight_max commands are in flight.
 *
 * A catching-up instance dirties hundreds of thousands of states between two write-backs;
 * formatted at once they held ~190 MB of commands waiting for Redis (and the loop paid a page
 * fault for every 4 KiB of it). Issued a slice at a time, as replies come back, the queue
 * stays a few MB. An entry waiting in flush_list may have events applied meanwhile: it is
 * still dirty, so it is not listed again, and its write carries them too. That is safe: the
 * state records the last offset it applied (a replay skips those events), and an alert made
 * meanwhile holds the write back like any other unacknowledged alert. */
static void flush_walk(vane_pipeline_t *pl)
{
    vane_cache_entry_t *e;
    if (pl->flush_list)
        vane_cache_prefetch(pl->flush_list);
    while (pl->flush_pending < pl->flush_inflight_max &&
           (e = vane_cache_pop_dirty(&pl->flush_list))) {
        pl->flush_left--;
        vane_cache_entry_t *list = pl->flush_list;
        /* The list is scattered over the cache's memory: while e is written, load the next
         * entry's packed state and the entry after it (each fetched one step earlier). */
        if (list) {
            if (list->dirty_next)
                vane_cache_prefetch(list->dirty_next);
            vane_cache_prefetch_state(list);
        }
        if (!e->state_changed) { /* only the timer index needs an update */
            index_timer(pl, e);
            continue;
        }
        if (e->alert_epoch && !acked_through(pl, e->alert_epoch - 1)) {
            /* Written now, the state would say "applied" for an event whose alert Kafka may
             * still lose: a crash before the acknowledgement and the replay would skip the
             * event without alerting again. It waits for a later write-back. */
            vane_cache_mark_dirty(pl->cache, e);
            hold_offsets(pl, e);
            pl->stats.writes_held++;
            continue;
        }
        e->alert_epoch = 0;
        e->state_changed = 0;
        vane_buf_reset(&pl->statebuf);
        if (vane_state_encode(vane_cache_peek(pl->cache, e, &pl->peek), &pl->statebuf) != VANE_OK ||
            vane_state_store_set(pl->store, e->id, pl->statebuf.data, pl->statebuf.len,
                                 on_state_written, e) != VANE_OK) {
            pl->flush_failed = true;
            e->state_changed = 1;
            vane_cache_mark_dirty(pl->cache, e);
        } else {
            e->unwritten_from = 0;
            e->unwritten_mixed = 0;
            e->pins++;
            pl->flush_pending++;
            index_timer(pl, e);
        }
    }
    index_send(pl);
}

/* States changed and not written yet: dirty, or waiting in the write-back's slices (what the
 * vane_dirty_states gauge and the logs report; the cache counts only the former). */
static size_t unwritten_states(const vane_pipeline_t *pl)
{
    return vane_cache_dirty_count(pl->cache) + pl->flush_left;
}

static void check_flush_done(vane_pipeline_t *pl)
{
    /* Closing: the stores and the source are gone (close_all), late replies change nothing. */
    if (!pl->flushing || pl->state == RUN_CLOSING)
        return;
    if (pl->flush_list && pl->flush_pending <= pl->flush_inflight_max / 2)
        flush_walk(pl);
    if (pl->flush_list || pl->flush_pending > 0)
        return;
    advance_acked_floor(pl);
    if (pl->acked_floor <= pl->flush_epoch)
        return; /* alerts of this epoch still unacknowledged: on_delivered calls again */
    pl->flushing = false;
    double flush_s = (double)(uv_hrtime() - pl->flush_started_ns) / 1e9;
    pl->stats.flush_seconds_sum += flush_s;
    vane_histogram_observe(pl->m.redis_flush, flush_s);
    bool was_failing = pl->writes_failing;
    pl->writes_failing = pl->flush_failed; /* update_pause acts on it (see there) */
    if (was_failing && !pl->writes_failing) {
        VANE_LOG(VANE_LOG_INFO, "redis", "state write-back succeeded again");
        update_pause(pl);
    }
    if (pl->flush_failed) {
        pl->stats.flush_failures++;
    } else if (!pl->flush_nocommit) {
        for (int32_t p = vane_offsets_next(pl->offsets, -1); p >= 0;
             p = vane_offsets_next(pl->offsets, p)) {
            if (pl->snap[p] > pl->committed[p] &&
                vane_kafka_source_store(pl->src, p, pl->snap[p] + 1) == VANE_OK)
                pl->committed[p] = pl->snap[p];
        }
    }
    pl->stats.cache_evictions += vane_cache_evict(pl->cache, -1);
    maybe_finish_revoke(pl);
    maybe_finish_drain(pl);
    /* More work arrived meanwhile: the timer (or the drain path) picks it up. */
    arm_flush_timer(pl);
}

static void on_delivered(void *arg, uint64_t tag)
{
    vane_pipeline_t *pl = arg;
    int64_t ts = (int64_t)(tag >> EPOCH_BITS);
    if (ts > 0) {
        int64_t lat = wall_ms() - ts;
        vane_histogram_observe(pl->m.event_alert_latency, lat > 0 ? (double)lat / 1000.0 : 0.0);
    }
    pl->outstanding[tag & (EPOCH_RING - 1)]--;
    pl->outstanding_total--;
    check_flush_done(pl);
    update_pause(pl);
}

static void flush_timer_cb(uv_timer_t *t)
{
    vane_pipeline_t *pl = t->data;
    maybe_flush(pl, false);
    /* Idle: no timer wakeups at all while nothing is dirty (~0% CPU without traffic). */
    if (!vane_cache_dirty_count(pl->cache) && !pl->flushing)
        uv_timer_stop(t);
}

static void arm_flush_timer(vane_pipeline_t *pl)
{
    if (pl->state == RUN_CLOSING || !vane_cache_dirty_count(pl->cache))
        return;
    if (!uv_is_active((uv_handle_t *)&pl->flush_timer))
        uv_timer_start(&pl->flush_timer, flush_timer_cb, (uint64_t)pl->opts->flush_interval_ms,
                       (uint64_t)pl->opts->flush_interval_ms);
}

/* ---------------------------------------------------------------------------------------
 * Rebalances
 * ------------------------------------------------------------------------------------- */

static void on_assign(void *arg, const rd_kafka_topic_partition_list_t *parts)
{
    vane_pipeline_t *pl = arg;
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p < 0 || p >= MAX_PARTITIONS)
            continue;
        vane_offsets_assign(pl->offsets, p);
        pl->revoking[p] = false;
        pl->gen[p]++; /* entries cached under an earlier assignment may be stale now */
        char pnum[16];
        snprintf(pnum, sizeof pnum, "%d", (int)p);
        const char *labels[2] = {pnum, NULL};
        pl->lag_child[p] = vane_metrics_gauge(pl->m.consumer_lag, labels);
        pl->snap[p] = pl->committed[p] = -1;
        pl->part_max_time[p] = 0;
    }
    if (pl->state == RUN_STARTING)
        pl->state = RUN_RUNNING;
}

/* Forget e's unwritten changes when its partition is being revoked; true when it did. */
static bool drop_if_revoked(vane_pipeline_t *pl, vane_cache_entry_t *e)
{
    int32_t p = e->partition;
    if (p < 0 || p >= MAX_PARTITIONS || !pl->revoking[p])
        return false;
    e->state_changed = 0;
    e->alert_epoch = 0;
    e->unwritten_from = 0;
    e->unwritten_mixed = 0;
    e->indexed_due = 0;
    return true;
}

/* A lost revoke: drop the unwritten changes of the revoked partitions' states (the new owner
 * applies those events again from the committed offsets). Written later, they could overwrite
 * newer states the new owner wrote; the entries are clean afterwards, so they are evicted. */
static void drop_revoked_changes(vane_pipeline_t *pl)
{
    vane_cache_entry_t *list = vane_cache_take_dirty(pl->cache), *e;
    while ((e = vane_cache_pop_dirty(&list))) {
        if (!drop_if_revoked(pl, e))
            vane_cache_mark_dirty(pl->cache, e);
    }
    /* The same for those a write-back in progress has yet to issue. */
    vane_cache_entry_t *keep = NULL, **tail = &keep;
    pl->flush_left = 0;
    while ((e = vane_cache_pop_dirty(&pl->flush_list))) {
        if (drop_if_revoked(pl, e))
            continue;
        e->dirty = 1; /* still the write-back's */
        *tail = e;
        tail = &e->dirty_next;
        pl->flush_left++;
    }
    *tail = NULL;
    pl->flush_list = keep; /* a list left means commands in flight: their replies go on */
}

static void finish_revoke(vane_pipeline_t *pl)
{
    if (!pl->revoke_lost)
        vane_kafka_source_commit(pl->src);
    else
        drop_revoked_changes(pl);
    for (int32_t p = 0; p < MAX_PARTITIONS; p++) {
        if (!pl->revoking[p])
            continue;
        pl->stats.cache_evictions += vane_cache_evict(pl->cache, p);
        vane_offsets_revoke(pl->offsets, p);
        if (pl->lag_child[p]) {
            char pnum[16];
            snprintf(pnum, sizeof pnum, "%d", (int)p);
            const char *labels[2] = {pnum, NULL};
            vane_metrics_remove(pl->m.consumer_lag, labels);
            pl->lag_child[p] = NULL;
        }
        pl->revoking[p] = false;
    }
    pl->revoke_pending = false;
    pl->revoke_lost = false;
    vane_kafka_source_revoke_done(pl->src);
    update_pause(pl);
}

static void maybe_finish_revoke(vane_pipeline_t *pl)
{
    if (!pl->revoke_pending)
        return;
    for (int32_t p = 0; p < MAX_PARTITIONS; p++) {
        if (pl->revoking[p] && vane_offsets_waiting(pl->offsets, p) > 0)
            return; /* loads in flight for a revoked partition */
    }
    if (pl->revoke_lost) {
        /* Lost: another member owns these partitions already; writing our states could
         * overwrite newer ones, so their unflushed changes are dropped (their events are
         * beyond the committed offset and will be applied again by the new owner). */
        finish_revoke(pl);
        return;
    }
    if (pl->flushing)
        return;
    if (vane_cache_dirty_count(pl->cache) > 0 || pl->outstanding_total > 0) {
        maybe_flush(pl, true);
        return;
    }
    /* Store the final offsets of the revoked partitions, then commit and release. */
    for (int32_t p = 0; p < MAX_PARTITIONS; p++) {
        if (!pl->revoking[p])
            continue;
        int64_t a = vane_offsets_applied(pl->offsets, p);
        if (a > pl->committed[p] && vane_kafka_source_store(pl->src, p, a + 1) == VANE_OK)
            pl->committed[p] = a;
    }
    finish_revoke(pl);
}

static void on_revoke(void *arg, const rd_kafka_topic_partition_list_t *parts, bool lost)
{
    vane_pipeline_t *pl = arg;
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        if (p >= 0 && p < MAX_PARTITIONS && vane_offsets_assigned(pl->offsets, p))
            pl->revoking[p] = true;
    }
    pl->revoke_pending = true;
    pl->revoke_lost = lost;
    update_pause(pl);
    maybe_finish_revoke(pl);
}

static void on_fatal(void *arg, const char *why)
{
    vane_pipeline_t *pl = arg;
    (void)why;
    pl->exit_code = 1;
    if (pl->state < RUN_DRAINING)
        raise(SIGTERM);
}

/* ---------------------------------------------------------------------------------------
 * Redis up/down
 * ------------------------------------------------------------------------------------- */

/* Issue the failed loads again (cache.h keeps them in a list: O(failed loads), not O(cache),
 * as a key that keeps failing, -WRONGTYPE, is retried every second). A retry that fails puts
 * its entry on the list again, for the next call. */
static void retry_failed_loads(vane_pipeline_t *pl)
{
    vane_cache_entry_t *list = vane_cache_take_failed_loads(pl->cache), *e;
    while ((e = vane_cache_pop_failed_load(&list)))
        issue_load(pl, e);
}

static void store_state_changed(vane_pipeline_t *pl, const char *why)
{
    if (pl->state == RUN_CLOSING) /* the stores are being closed: a late "up" changes nothing */
        return;
    bool up = pl->wup && pl->rup;
    if (up == pl->store_up)
        return;
    pl->store_up = up;
    if (up) {
        pl->writes_failing = false; /* failed with the connection; the next flush will tell */
        retry_failed_loads(pl);
        maybe_flush(pl, true);
    } else {
        VANE_LOG(VANE_LOG_WARN, "redis", "state store unavailable (%s): pausing consumption", why);
    }
    update_pause(pl);
}

static void on_wstore_state(void *arg, bool up, const char *why)
{
    vane_pipeline_t *pl = arg;
    pl->wup = up;
    store_state_changed(pl, why);
}

static void on_rstore_state(void *arg, bool up, const char *why)
{
    vane_pipeline_t *pl = arg;
    pl->rup = up;
    store_state_changed(pl, why);
}

/* ---------------------------------------------------------------------------------------
 * Housekeeping, signals, shutdown
 * ------------------------------------------------------------------------------------- */

/* Load the configured rules beside the active ones and swap on success. Every diagnostic is
 * logged and, when report is given, appended to it (file:line:col: level: message [code]). */
static int reload_rules(vane_pipeline_t *pl, vane_buf_t *report)
{
    vane_diags_t diags = VANE_DIAGS_INIT;
    vane_ruleset_t *rs = vane_ruleset_load(pl->opts->rule_paths, pl->opts->nrule_paths, &diags);
    for (size_t i = 0; i < diags.n; i++) {
        const vane_diag_t *d = &diags.v[i];
        bool err = d->level == VANE_DIAG_ERROR;
        VANE_LOG(err ? VANE_LOG_ERROR : VANE_LOG_WARN, "rules", "%s:%d:%d: %s [%s]", d->file,
                 d->line, d->col, d->msg, d->code);
        if (report)
            vane_buf_printf(report, "%s:%d:%d: %s: %s [%s]\n", d->file, d->line, d->col,
                            err ? "error" : "warning", d->msg, d->code);
    }
    vane_diags_free(&diags);
    if (!rs) {
        pl->stats.rule_reload_failures++;
        (*pl->m.rule_reloads_error)++;
        VANE_LOG(VANE_LOG_ERROR, "rules", "reload failed; keeping the current rules");
        if (report)
            vane_buf_puts(report, "reload refused; the current rules stay active\n");
        return VANE_ECONFIG;
    }
    vane_engine_set_rules(pl->eng, rs);
    vane_ruleset_free(pl->rs);
    pl->rs = rs;
    pl->stats.rule_reloads++;
    (*pl->m.rule_reloads_ok)++;
    *pl->m.rules_loaded = (double)vane_ruleset_count(rs);
    VANE_LOG(VANE_LOG_INFO, "rules", "reloaded %zu rule(s)", vane_ruleset_count(rs));
    if (report)
        vane_buf_printf(report, "reloaded %zu rule(s)\n", vane_ruleset_count(rs));
    return VANE_OK;
}

static int http_reload(void *arg, vane_buf_t *report)
{
    return reload_rules(arg, report);
}

/* Copy the loop's counters into the registry and publish a snapshot for /metrics; update
 * readiness. Runs every metrics_interval_ms: the event path itself never touches HTTP. */
static void metrics_cb(uv_timer_t *t)
{
    vane_pipeline_t *pl = t->data;
    *pl->m.events_consumed = pl->stats.consumed;
    *pl->m.events_decoded = pl->stats.decoded;
    *pl->m.events_applied = pl->stats.applied;
    *pl->m.cache_hits = pl->stats.cache_hits;
    *pl->m.cache_misses = pl->stats.cache_misses;
    *pl->m.cache_evictions = pl->stats.cache_evictions;
    *pl->m.dirty_states = (double)unwritten_states(pl);
    vane_cache_mem_t cm;
    vane_cache_mem(pl->cache, &cm);
    *pl->m.cache_customers = (double)vane_cache_count(pl->cache);
    *pl->m.cache_packed_bytes = (double)cm.packed_bytes;
    *pl->m.cache_memory_bytes =
        (double)(cm.entries_bytes + cm.pool_carved + cm.hot_bytes + cm.table_bytes);
    *pl->m.redis_connected = pl->store_up ? 1.0 : 0.0;
    if (pl->sink) {
        const vane_alert_sink_stats_t *ss = vane_alert_sink_stats(pl->sink);
        *pl->m.alerts_failed = ss->alerts_failed;
        *pl->m.dlq_failed = ss->dlq_failed;
    }
    *pl->m.redis_errors = (pl->store ? vane_state_store_stats(pl->store)->errors : 0) +
                          (pl->rstore ? vane_state_store_stats(pl->rstore)->errors : 0);
    *pl->m.redis_unsent_bytes =
        (double)((pl->store ? vane_state_store_unsent_bytes(pl->store) : 0) +
                 (pl->rstore ? vane_state_store_unsent_bytes(pl->rstore) : 0));
    bool paused = pl->src && vane_kafka_source_paused(pl->src);
    int assigned = pl->src ? vane_kafka_source_assigned(pl->src) : 0;
    *pl->m.paused_partitions = paused ? (double)assigned : 0.0;
    for (int32_t p = vane_offsets_next(pl->offsets, -1); p >= 0;
         p = vane_offsets_next(pl->offsets, p)) {
        if (!pl->lag_child[p] || !pl->src)
            continue;
        int64_t lag = vane_kafka_source_lag(pl->src, p, vane_offsets_applied(pl->offsets, p) + 1);
        if (lag >= 0)
            *pl->lag_child[p] = (double)lag;
    }
    const char *why = NULL;
    if (pl->state >= RUN_DRAINING)
        why = "shutting down";
    else if (!pl->store_up)
        why = "redis: unreachable";
    else if (assigned == 0)
        why = "kafka: no partitions assigned";
    else if (paused)
        why = pl->paused_writes    ? "paused: redis refuses state writes"
              : pl->paused_waiting ? "paused: too many messages waiting for state loads"
                                   : "paused: too many unacknowledged alerts";
    *pl->m.ready = why ? 0.0 : 1.0;
    if (pl->http) {
        vane_http_set_ready(pl->http, why == NULL, why);
        vane_http_publish_metrics(pl->http, pl->reg, &pl->metrics_buf);
    }
}

static void house_cb(uv_timer_t *t)
{
    vane_pipeline_t *pl = t->data;
    int64_t now = wall_ms();
    pl->stats.cache_evictions += vane_cache_evict(pl->cache, -1);
    vane_cache_mem_t cm;
    vane_cache_mem(pl->cache, &cm);
    if (vane_cache_compact(pl->cache, false)) {
        vane_cache_mem_t after;
        vane_cache_mem(pl->cache, &after);
        VANE_LOG(VANE_LOG_INFO, "cache",
                 "packed states compacted: block pool %zu -> %zu MiB (%zu MiB were free blocks)",
                 cm.pool_bytes >> 20, after.pool_bytes >> 20, cm.pool_free >> 20);
    }
    maybe_flush(pl, false); /* offsets may have advanced without any dirty state */
    if (pl->loads_to_retry && pl->store_up) {
        pl->loads_to_retry = false;
        retry_failed_loads(pl);
    }
    update_pause(pl); /* a refused write-back pauses even when no batch arrives */
    scan_timers(pl, now);
    /* Progress report: every second at debug level while counters move, every 10 s at info. */
    static uint64_t last_consumed = UINT64_MAX, last_written = UINT64_MAX;
    bool moved = pl->stats.consumed != last_consumed || pl->stats.states_written != last_written;
    bool info = moved && now - pl->last_report_ms >= 10000;
    if (moved && (info || vane_log_level <= VANE_LOG_DEBUG)) {
        if (info)
            pl->last_report_ms = now;
        last_consumed = pl->stats.consumed;
        last_written = pl->stats.states_written;
        VANE_LOG(info ? VANE_LOG_INFO : VANE_LOG_DEBUG, "main",
                 "progress: consumed=%llu applied=%llu skipped=%llu rejected=%llu alerts=%llu "
                 "cached=%zu dirty=%zu waiting=%zu written=%llu",
                 (unsigned long long)pl->stats.consumed, (unsigned long long)pl->stats.applied,
                 (unsigned long long)pl->stats.replay_skipped,
                 (unsigned long long)(pl->stats.consumed - pl->stats.decoded -
                                      pl->stats.dropped_revoked),
                 (unsigned long long)pl->stats.alerts, vane_cache_count(pl->cache),
                 unwritten_states(pl), pl->waiting, (unsigned long long)pl->stats.states_written);
    }
}

static void close_all(vane_pipeline_t *pl);

static void maybe_finish_drain(vane_pipeline_t *pl)
{
    if (pl->state != RUN_DRAINING)
        return;
    if (pl->waiting > 0 || pl->flushing)
        return;
    if (vane_cache_dirty_count(pl->cache) > 0 || pl->outstanding_total > 0) {
        maybe_flush(pl, true);
        return;
    }
    /* Everything applied is durable and acknowledged: store the final offsets. */
    for (int32_t p = vane_offsets_next(pl->offsets, -1); p >= 0;
         p = vane_offsets_next(pl->offsets, p)) {
        int64_t a = vane_offsets_applied(pl->offsets, p);
        if (a > pl->committed[p] && vane_kafka_source_store(pl->src, p, a + 1) == VANE_OK)
            pl->committed[p] = a;
    }
    /* Not from here: this runs inside the callbacks of the very components close_all destroys
     * (the producer's delivery report, a Redis reply). Close on the next loop turn instead. */
    pl->state = RUN_DRAINED;
    uv_timer_start(&pl->grace_timer, close_cb, 0, 0);
}

static void close_cb(uv_timer_t *t)
{
    close_all(t->data);
}

static void grace_cb(uv_timer_t *t)
{
    vane_pipeline_t *pl = t->data;
    VANE_LOG(VANE_LOG_ERROR, "main",
             "shutdown grace period expired with %zu dirty state(s), %zu waiting message(s) and "
             "%llu unacknowledged alert(s); offsets of unfinished work are not committed",
             unwritten_states(pl), pl->waiting, (unsigned long long)pl->outstanding_total);
    pl->exit_code = 1;
    close_all(pl);
}

static void on_signal(uv_signal_t *h, int signum)
{
    vane_pipeline_t *pl = h->data;
    if (signum == SIGHUP) {
        reload_rules(pl, NULL);
        return;
    }
    if (pl->state >= RUN_DRAINING) {
        VANE_LOG(VANE_LOG_WARN, "main", "second signal: stopping now");
        pl->exit_code = 1;
        close_all(pl);
        return;
    }
    VANE_LOG(VANE_LOG_INFO, "main", "%s: draining, flushing and committing (grace %d ms)",
             strsignal(signum), pl->opts->shutdown_grace_ms);
    pl->state = RUN_DRAINING;
    update_pause(pl);
    uv_timer_start(&pl->grace_timer, grace_cb, (uint64_t)pl->opts->shutdown_grace_ms, 0);
    maybe_finish_drain(pl);
}

static void handle_closed(uv_handle_t *h)
{
    vane_pipeline_t *pl = h->data;
    pl->closing_handles--;
}

static void component_closed(void *arg)
{
    vane_pipeline_t *pl = arg;
    pl->closing_handles--;
}

static void release_msg(void *m);

static void close_all(vane_pipeline_t *pl)
{
    if (pl->state == RUN_CLOSING)
        return;
    pl->state = RUN_CLOSING;
    pl->store_up = false;
    if (pl->prefault_busy)
        uv_cancel(
            (uv_req_t *)&pl->prefault_req); /* or it finishes; prefault_done runs either way */
    uv_handle_t *handles[] = {
        (uv_handle_t *)&pl->flush_timer, (uv_handle_t *)&pl->house_timer,
        (uv_handle_t *)&pl->grace_timer, (uv_handle_t *)&pl->metrics_timer,
        (uv_handle_t *)&pl->sig_term,    (uv_handle_t *)&pl->sig_int,
        (uv_handle_t *)&pl->sig_hup,
    };
    for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++) {
        pl->closing_handles++;
        uv_close(handles[i], handle_closed);
    }
    vane_http_stop(pl->http); /* frees itself once its handle closed */
    pl->http = NULL;
    /* Messages still waiting for their state loads (a grace that expired, a second signal)
     * are dropped, uncommitted: the consumer's handle cannot be destroyed while any of its
     * messages lives. */
    size_t dropped = vane_cache_release_pending(pl->cache, release_msg);
    if (dropped) {
        pl->waiting -= dropped;
        VANE_LOG(VANE_LOG_WARN, "main",
                 "%zu message(s) still waiting for their state were dropped, uncommitted (they "
                 "are consumed again after the restart)",
                 dropped);
    }
    /* Consumer first (leaves the group, commits stored offsets), then the producer (waits for
     * outstanding deliveries), then Redis. */
    pl->closing_handles += 4;
    vane_kafka_source_close(pl->src, component_closed, pl);
    pl->src = NULL;
    vane_alert_sink_close(pl->sink, 5000, component_closed, pl);
    pl->sink = NULL;
    vane_state_store_close(pl->store, component_closed, pl);
    pl->store = NULL;
    vane_state_store_close(pl->rstore, component_closed, pl);
    pl->rstore = NULL;
}

/* ---------------------------------------------------------------------------------------
 * Run
 * ------------------------------------------------------------------------------------- */

static void release_msg(void *m)
{
    rd_kafka_message_destroy(m);
}

int vane_pipeline_run(const vane_pipeline_opts_t *opts)
{
    vane_pipeline_t *pl = calloc(1, sizeof *pl);
    if (!pl) {
        VANE_LOG(VANE_LOG_ERROR, "main", "out of memory");
        return 1;
    }
    the_pipeline = pl;
    pl->opts = opts;
    pl->flush_inflight_max =
        opts->flush_inflight_max ? opts->flush_inflight_max : VANE_PIPELINE_FLUSH_INFLIGHT;
    int rc = 1;
    char err[512] = "";

    /* Startup steps, in order; teardown below runs in reverse. */
    vane_diags_t diags = VANE_DIAGS_INIT;
    pl->rs = vane_ruleset_load(opts->rule_paths, opts->nrule_paths, &diags);
    for (size_t i = 0; i < diags.n; i++) {
        const vane_diag_t *d = &diags.v[i];
        VANE_LOG(d->level == VANE_DIAG_ERROR ? VANE_LOG_ERROR : VANE_LOG_WARN, "rules",
                 "%s:%d:%d: %s [%s]", d->file, d->line, d->col, d->msg, d->code);
    }
    vane_diags_free(&diags);
    if (!pl->rs) {
        VANE_LOG(VANE_LOG_ERROR, "rules", "cannot start without valid rules");
        goto out;
    }
    pl->eng = vane_engine_new(pl->rs);
    pl->dec = vane_decoder_new(opts->max_message_bytes);
    pl->cache = vane_cache_new(opts->cache_max);
    pl->offsets = vane_offsets_new();
    pl->snap = malloc(MAX_PARTITIONS * sizeof *pl->snap);
    pl->committed = malloc(MAX_PARTITIONS * sizeof *pl->committed);
    pl->revoking = calloc(MAX_PARTITIONS, sizeof *pl->revoking);
    pl->gen = calloc(MAX_PARTITIONS, sizeof *pl->gen);
    pl->scan_inflight = calloc(MAX_PARTITIONS, sizeof *pl->scan_inflight);
    pl->part_max_time = calloc(MAX_PARTITIONS, sizeof *pl->part_max_time);
    if (!pl->eng || !pl->dec || !pl->cache || !pl->offsets || !pl->snap || !pl->committed ||
        !pl->revoking || !pl->gen || !pl->scan_inflight || !pl->part_max_time) {
        VANE_LOG(VANE_LOG_ERROR, "main", "out of memory");
        goto out;
    }
    for (int i = 0; i < MAX_PARTITIONS; i++)
        pl->snap[i] = pl->committed[i] = -1;
    pl->reg = vane_metrics_new();
    pl->lag_child = calloc(MAX_PARTITIONS, sizeof *pl->lag_child);
    if (!pl->reg || !pl->lag_child ||
        vane_metrics_std_init(pl->reg, &pl->m, VANE_VERSION, VANE_GIT_COMMIT,
                              (double)wall_ms() / 1000.0) != VANE_OK) {
        VANE_LOG(VANE_LOG_ERROR, "main", "out of memory");
        goto out;
    }
    for (int r = 1; r < VANE_REJECT__COUNT; r++) {
        const char *labels[2] = {vane_reject_name((vane_reject_t)r), NULL};
        pl->rej_child[r] = vane_metrics_counter(pl->m.events_rejected, labels);
        pl->dlq_child[r] = vane_metrics_counter(pl->m.dlq_messages, labels);
    }
    *pl->m.rules_loaded = (double)vane_ruleset_count(pl->rs);

    if (uv_loop_init(&pl->loop) != 0)
        goto out;
    pl->store = vane_state_store_new(&pl->loop, &opts->store, on_wstore_state, pl, err, sizeof err);
    if (pl->store)
        pl->rstore =
            vane_state_store_new(&pl->loop, &opts->store, on_rstore_state, pl, err, sizeof err);
    if (!pl->store || !pl->rstore) {
        VANE_LOG(VANE_LOG_ERROR, "redis", "%s", err);
        goto out_loop;
    }
    vane_state_store_set_rtt_histogram(pl->store, pl->m.redis_roundtrip);
    vane_state_store_set_rtt_histogram(pl->rstore, pl->m.redis_roundtrip);
    if (opts->http_listen && *opts->http_listen && strcmp(opts->http_listen, "off") != 0) {
        vane_http_opts_t ho = {
            .listen = opts->http_listen,
            .reload = http_reload,
            .reload_arg = pl,
            .reload_timeout_ms =
                opts->http_reload_timeout_ms > 0 ? opts->http_reload_timeout_ms : 10000,
            /* three snapshots missed, and never below 30 s */
            .stall_ms = opts->metrics_interval_ms > 10000 ? 3 * opts->metrics_interval_ms : 30000,
        };
        pl->http = vane_http_start(&pl->loop, &ho, err, sizeof err);
        if (!pl->http) {
            VANE_LOG(VANE_LOG_ERROR, "http", "%s", err);
            goto out_loop;
        }
        VANE_LOG(VANE_LOG_INFO, "http", "serving /metrics, /healthz, /readyz on %s (port %d)",
                 opts->http_listen, vane_http_port(pl->http));
    }
    pl->sink = vane_alert_sink_new(&pl->loop, &opts->sink, on_delivered, on_sink_failed, pl, err,
                                   sizeof err);
    if (!pl->sink) {
        VANE_LOG(VANE_LOG_ERROR, "kafka", "%s", err);
        goto out_loop;
    }
    vane_kafka_source_hooks_t hooks = {on_batch, on_assign, on_revoke, on_fatal};
    pl->src = vane_kafka_source_new(&pl->loop, &opts->source, &hooks, pl, err, sizeof err);
    if (!pl->src) {
        VANE_LOG(VANE_LOG_ERROR, "kafka", "%s", err);
        goto out_loop;
    }
    /* Until Redis answers, nothing can be applied: start paused. */
    update_pause(pl);

    uv_timer_init(&pl->loop, &pl->flush_timer);
    uv_timer_init(&pl->loop, &pl->house_timer);
    uv_timer_init(&pl->loop, &pl->grace_timer);
    uv_timer_init(&pl->loop, &pl->metrics_timer);
    pl->flush_timer.data = pl->house_timer.data = pl->grace_timer.data = pl;
    pl->metrics_timer.data = pl;
    uint64_t mi = opts->metrics_interval_ms > 0 ? (uint64_t)opts->metrics_interval_ms : 1000;
    uv_timer_start(&pl->metrics_timer, metrics_cb, 0, mi);
    uv_timer_start(&pl->house_timer, house_cb, 1000, 1000);
    uv_signal_init(&pl->loop, &pl->sig_term);
    uv_signal_init(&pl->loop, &pl->sig_int);
    uv_signal_init(&pl->loop, &pl->sig_hup);
    pl->sig_term.data = pl->sig_int.data = pl->sig_hup.data = pl;
    uv_signal_start(&pl->sig_term, on_signal, SIGTERM);
    uv_signal_start(&pl->sig_int, on_signal, SIGINT);
    uv_signal_start(&pl->sig_hup, on_signal, SIGHUP);

    VANE_LOG(VANE_LOG_INFO, "main", "vane running: %zu rule(s), consuming %s as group %s",
             vane_ruleset_count(pl->rs), opts->source.topic, opts->source.group);
    uv_run(&pl->loop, UV_RUN_DEFAULT);
    rc = pl->exit_code;
    VANE_LOG(VANE_LOG_INFO, "main",
             "stopped: consumed=%llu applied=%llu replay_skipped=%llu alerts=%llu "
             "states_written=%llu writes_held=%llu stale_dropped=%llu",
             (unsigned long long)pl->stats.consumed, (unsigned long long)pl->stats.applied,
             (unsigned long long)pl->stats.replay_skipped, (unsigned long long)pl->stats.alerts,
             (unsigned long long)pl->stats.states_written,
             (unsigned long long)pl->stats.writes_held,
             (unsigned long long)pl->stats.stale_dropped);
out_loop:
    if (pl->state != RUN_CLOSING && (pl->src || pl->sink || pl->store || pl->rstore || pl->http)) {
        vane_http_stop(pl->http);
        /* Startup failed part-way: close what was opened. */
        if (pl->src)
            vane_kafka_source_close(pl->src, NULL, NULL);
        if (pl->sink)
            vane_alert_sink_close(pl->sink, 1000, NULL, NULL);
        if (pl->store)
            vane_state_store_close(pl->store, NULL, NULL);
        if (pl->rstore)
            vane_state_store_close(pl->rstore, NULL, NULL);
        uv_run(&pl->loop, UV_RUN_DEFAULT);
        rc = 1;
    }
    if (uv_loop_close(&pl->loop) != 0) {
        VANE_LOG(VANE_LOG_WARN, "main", "event loop closed with handles still open");
    }
out:
    vane_cache_free(pl->cache, release_msg);
    vane_offsets_free(pl->offsets);
    vane_decoder_free(pl->dec);
    vane_engine_free(pl->eng);
    vane_ruleset_free(pl->rs);
    vane_buf_free(&pl->statebuf);
    free(pl->iops);
    free(pl->iops_sorted);
    vane_buf_free(&pl->metrics_buf);
    vane_metrics_free(pl->reg);
    free(pl->lag_child);
    free(pl->snap);
    free(pl->committed);
    free(pl->revoking);
    free(pl->gen);
    free(pl->scan_inflight);
    free(pl->part_max_time);
    free(pl);
    the_pipeline = NULL;
    return rc;
}
