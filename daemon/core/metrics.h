/* metrics.h - a registry of counters, gauges and histograms, rendered as Prometheus text.
 *
 * Families (name, type, help, label names, histogram buckets) are registered once; each
 * combination of label values is a child whose value lives at a stable address until the
 * child is removed or the registry is freed. The event path keeps those addresses and updates
 * them with a plain add (`(*c)++`, vane_histogram_observe): no lock, no lookup, no allocation.
 * Creating a family or a child allocates, so do it at start-up, on partition assignment or on a
 * rules reload, never per event.
 *
 * Threading: the registry belongs to the loop thread. Everything here, rendering included, runs
 * on that thread; vane_metrics_render() writes a text snapshot that the HTTP thread serves
 * (io/http.h copies it under its own mutex), so a scrape never reads a live counter.
 * Pure: no uv/rdkafka/microhttpd; compiled into vane_util.
 */
#ifndef VANE_METRICS_H
#define VANE_METRICS_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum vane_metric_type {
    VANE_METRIC_COUNTER,   /* uint64_t, only goes up; the name ends in _total */
    VANE_METRIC_GAUGE,     /* double, set to the current value */
    VANE_METRIC_HISTOGRAM, /* vane_histogram_t, cumulative buckets + sum + count */
} vane_metric_type_t;

#define VANE_METRIC_MAX_LABELS  4
#define VANE_METRIC_MAX_BUCKETS 24

typedef struct vane_histogram {
    const double *bounds;                          /* borrowed from the family, ascending */
    size_t nbounds;                                /* finite buckets; +Inf is implicit */
    uint64_t buckets[VANE_METRIC_MAX_BUCKETS + 1]; /* NOT cumulative: per-bucket counts */
    double sum;
    uint64_t count;
} vane_histogram_t;

/* Record one observation. O(number of buckets), no allocation. Loop thread only. */
static inline void vane_histogram_observe(vane_histogram_t *h, double v)
{
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    h->buckets[i]++;
    h->sum += v;
    h->count++;
}

typedef struct vane_metrics vane_metrics_t;
typedef struct vane_metric_family vane_metric_family_t;

/* A new empty registry; NULL when out of memory. Free with vane_metrics_free (NULL-safe),
 * which invalidates every pointer the registry handed out. */
vane_metrics_t *vane_metrics_new(void);
void vane_metrics_free(vane_metrics_t *reg);

/* Register a family. name: [a-zA-Z_:][a-zA-Z0-9_:]*, unique (counters must end in _total);
 * labels: NULL-terminated label names (NULL for none, at most VANE_METRIC_MAX_LABELS);
 * bounds/nbounds: histogram upper bounds, ascending (copied); ignored for other types.
 * name, help and labels are copied. Returns NULL on a bad or duplicate name or no memory.
 * The family lives as long as the registry. */
vane_metric_family_t *vane_metrics_family(vane_metrics_t *reg, const char *name,
                                          vane_metric_type_t type, const char *help,
                                          const char *const *labels, const double *bounds,
                                          size_t nbounds);

/* The child for these label values (NULL or a NULL-terminated array with exactly one value per
 * label name), created on first use. The returned pointer stays valid until the child is
 * removed or the registry is freed. Allocates on first use; NULL when out of memory or when the
 * type or label count does not match. */
uint64_t *vane_metrics_counter(vane_metric_family_t *fam, const char *const *values);
double *vane_metrics_gauge(vane_metric_family_t *fam, const char *const *values);
vane_histogram_t *vane_metrics_histogram(vane_metric_family_t *fam, const char *const *values);

/* Drop a child (e.g. the lag gauge of a revoked partition); its pointer becomes invalid.
 * Returns 0 or VANE_ENOTFOUND. */
int vane_metrics_remove(vane_metric_family_t *fam, const char *const *values);

/* Append the whole registry in the Prometheus text exposition format 0.0.4 (families in
 * registration order, children in creation order; a family without children prints only its
 * HELP and TYPE lines). Returns 0 or VANE_ENOMEM. Loop thread. */
int vane_metrics_render(const vane_metrics_t *reg, vane_buf_t *out);

/* Write a Markdown reference of every registered family (used for docs/metrics.md). */
int vane_metrics_write_markdown(const vane_metrics_t *reg, FILE *out);

/*-----------------------------------------------------------------------------------------
 * vane's own metrics (issue 7). The loop creates them once with vane_metrics_std_init and
 * wires the values; docs/metrics.md is generated from exactly this set.
 *---------------------------------------------------------------------------------------*/

typedef struct vane_metrics_std {
    /* Kafka input */
    uint64_t *events_consumed;             /* messages taken from the input topic */
    uint64_t *events_decoded;              /* decoded into an event */
    uint64_t *events_applied;              /* applied to their customer's state */
    vane_metric_family_t *events_rejected; /* counter {reason}: not processed */
    vane_metric_family_t *dlq_messages;    /* counter {reason}: copied to the DLQ */
    vane_metric_family_t *consumer_lag;    /* gauge {partition}: high watermark - position */
    double *paused_partitions;             /* gauge: partitions paused for back-pressure */
    /* engine */
    vane_metric_family_t *alerts;          /* counter {kind,rule}: alerts emitted */
    uint64_t *alerts_failed;               /* alerts Kafka could not take: vane stops */
    uint64_t *dlq_failed;                  /* dead letters given up */
    vane_histogram_t *engine_process;      /* seconds per event in vane_engine_process */
    vane_histogram_t *event_alert_latency; /* seconds from consume to alert delivery */
    vane_metric_family_t *rule_reloads;    /* counter {result="ok"|"error"} */
    uint64_t *rule_reloads_ok;             /* child result="ok" */
    uint64_t *rule_reloads_error;          /* child result="error" */
    double *rules_loaded;                  /* gauge: rules in the active ruleset */
    /* Redis state */
    vane_histogram_t *redis_roundtrip; /* seconds per read round trip */
    vane_histogram_t *redis_flush;     /* seconds per write-back batch */
    uint64_t *cache_hits;              /* state found in memory */
    uint64_t *cache_misses;            /* state read from Redis */
    uint64_t *cache_evictions;         /* states dropped from memory */
    double *dirty_states;              /* gauge: states changed, not yet written */
    double *cache_customers;           /* gauge: customer states held in memory */
    double *cache_packed_bytes;        /* gauge: bytes of those states, packed */
    double *cache_memory_bytes;        /* gauge: memory the cache holds (all of it) */
    double *redis_connected;           /* gauge: 1 when the Redis link is up */
    uint64_t *redis_errors;            /* commands Redis refused or that failed with the link */
    double *redis_unsent_bytes;        /* gauge: commands issued, not yet written to Redis */
    /* process */
    double *ready;      /* gauge: 1 when /readyz says ready */
    double *start_time; /* gauge: process start, unix seconds */
    double *build_info; /* gauge {version,commit} = 1 */
} vane_metrics_std_t;

/* Register vane's metrics in reg and fill std. Returns 0 or VANE_ENOMEM / VANE_EINVAL.
 * version/commit label vane_build_info; start_time_s sets vane_start_time_seconds. */
int vane_metrics_std_init(vane_metrics_t *reg, vane_metrics_std_t *std, const char *version,
                          const char *commit, double start_time_s);

#endif
