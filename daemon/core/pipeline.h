/* pipeline.h - the daemon: one libuv loop driving Kafka -> engine + Redis state -> alerts.
 *
 *   kafka_source --batch--> decode --> cache (load from Redis on a miss) --> engine
 *                                                   |                          |
 *                                   dirty states, pipelined write-back    alerts, dead letters
 *                                                   v                          v
 *                                              state_store                 alert_sink
 *
 * Order of effects: a partition's offset is stored for commit only when every event up to it
 * has its state durable in Redis (the write-back "epoch" that covered it was acknowledged) and
 * every alert and dead letter produced before that epoch closed was acknowledged by Kafka.
 * A state with an unacknowledged alert is held back from the write-back; while it is, its
 * partition is not committed past the oldest event that state holds unwritten.
 * Each state records the (partition, offset) of the last event applied to it, so events
 * replayed after a crash are skipped instead of counted twice.
 *
 * Backpressure: Redis unreachable, too many messages waiting for state loads, or too many
 * unacknowledged alerts pause every assigned partition until the condition clears.
 * Signals: SIGTERM/SIGINT drain, flush, commit and exit within shutdown_grace_ms; SIGHUP
 * reloads the rules (an invalid file keeps the old rules).
 */
#ifndef VANE_PIPELINE_H
#define VANE_PIPELINE_H

#include "io/alert_sink.h"
#include "io/kafka_source.h"
#include "io/state_store.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct vane_pipeline vane_pipeline_t;

/* Write-back commands in flight at most when opts do not say (config redis.writeback_inflight
 * has the same default). */
#define VANE_PIPELINE_FLUSH_INFLIGHT 16384

typedef struct vane_pipeline_opts {
    vane_kafka_source_opts_t source;
    vane_alert_sink_opts_t sink;
    vane_state_store_opts_t store;
    int input_format;            /* vane_format_t: AUTO, JSON, PROTOBUF */
    size_t max_message_bytes;    /* larger values are rejected (too_large) */
    size_t cache_max;            /* customer states kept in memory */
    int flush_interval_ms;       /* write-back period while states are dirty */
    size_t flush_max_dirty;      /* flush at once when this many states are dirty */
    uint32_t flush_inflight_max; /* write-back commands in flight at most (0: the default) */
    size_t max_waiting;          /* messages waiting for state loads before pausing */
    size_t max_outstanding;      /* unacknowledged alerts before pausing */
    int64_t max_future_ms;       /* reject events this far ahead of the wall clock */
    int64_t max_past_ms;         /* reject events this far behind it */
    int shutdown_grace_ms;
    const char *const *rule_paths; /* rule files, in order */
    size_t nrule_paths;
    const char *http_listen; /* "host:port" or NULL/"off" */
    int64_t http_reload_timeout_ms;
    int64_t metrics_interval_ms; /* how often /metrics is re-rendered */
} vane_pipeline_opts_t;

/* Counters, read by the metrics module and the final summary. Loop thread only. */
typedef struct vane_pipeline_stats {
    uint64_t consumed;        /* messages received from Kafka */
    uint64_t decoded;         /* messages decoded into events */
    uint64_t rejected[32];    /* by vane_reject_t */
    uint64_t applied;         /* events applied to state */
    uint64_t replay_skipped;  /* at or below the state's recorded position */
    uint64_t duplicates;      /* engine: duplicate event ids */
    uint64_t late;            /* engine: beyond the allowed lateness */
    uint64_t dropped_revoked; /* messages of partitions being handed over */
    uint64_t stale_dropped;   /* cache entries from an earlier assignment, loaded again */
    uint64_t alerts;          /* alerts produced */
    uint64_t alerts_by_kind[16];
    uint64_t cache_hits, cache_misses, cache_evictions;
    uint64_t state_decode_errors;
    uint64_t flushes, flush_failures, states_written;
    uint64_t writes_held; /* write-backs postponed until the state's alert was acknowledged */
    double flush_seconds_sum;
    uint64_t pauses; /* times consumption was paused */
    uint64_t rule_reloads, rule_reload_failures;
    int64_t first_event_wall_ms, last_applied_wall_ms;
    int64_t watermark_ms; /* max event time seen minus lateness */
} vane_pipeline_stats_t;

/* Run the daemon until a signal stops it. Returns the process exit code: 0 after a clean
 * shutdown, 1 on a startup failure (logged) or an unclean one. */
int vane_pipeline_run(const vane_pipeline_opts_t *opts);

#endif
