/* metrics.c - registry, Prometheus text rendering, vane's metric set.
 *
 * Families and children are singly linked lists of individually allocated nodes, so the
 * address of a child's value never moves. Lookups are linear: they happen when a child is
 * created (start-up, assignment, reload), never on the event path.
 */
#include "metrics.h"

#include "util/err.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct child {
    struct child *next;
    char *values[VANE_METRIC_MAX_LABELS]; /* owned */
    union {
        uint64_t counter;
        double gauge;
        vane_histogram_t hist;
    } v;
} child_t;

struct vane_metric_family {
    struct vane_metric_family *next;
    char *name; /* owned */
    char *help; /* owned */
    vane_metric_type_t type;
    size_t nlabels;
    char *labels[VANE_METRIC_MAX_LABELS]; /* owned */
    double bounds[VANE_METRIC_MAX_BUCKETS];
    size_t nbounds;
    child_t *children; /* creation order */
    child_t *last;
};

struct vane_metrics {
    vane_metric_family_t *first; /* registration order */
    vane_metric_family_t *last;
};

vane_metrics_t *vane_metrics_new(void)
{
    return calloc(1, sizeof(vane_metrics_t));
}

static void child_free(child_t *c, size_t nlabels)
{
    for (size_t i = 0; i < nlabels; i++)
        free(c->values[i]);
    free(c);
}

void vane_metrics_free(vane_metrics_t *reg)
{
    if (!reg)
        return;
    vane_metric_family_t *f = reg->first;
    while (f) {
        vane_metric_family_t *fn = f->next;
        child_t *c = f->children;
        while (c) {
            child_t *cn = c->next;
            child_free(c, f->nlabels);
            c = cn;
        }
        for (size_t i = 0; i < f->nlabels; i++)
            free(f->labels[i]);
        free(f->name);
        free(f->help);
        free(f);
        f = fn;
    }
    free(reg);
}

static bool valid_name(const char *s, bool label)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (!label && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

vane_metric_family_t *vane_metrics_family(vane_metrics_t *reg, const char *name,
                                          vane_metric_type_t type, const char *help,
                                          const char *const *labels, const double *bounds,
                                          size_t nbounds)
{
    if (!valid_name(name, false) || (type == VANE_METRIC_COUNTER && !ends_with(name, "_total")))
        return NULL;
    for (vane_metric_family_t *f = reg->first; f; f = f->next) {
        if (strcmp(f->name, name) == 0)
            return NULL;
    }
    if (type == VANE_METRIC_HISTOGRAM) {
        if (nbounds == 0 || nbounds > VANE_METRIC_MAX_BUCKETS)
            return NULL;
        for (size_t i = 1; i < nbounds; i++) {
            if (!(bounds[i] > bounds[i - 1]))
                return NULL;
        }
    }
    vane_metric_family_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->type = type;
    if (!(f->name = strdup(name)) || !(f->help = strdup(help ? help : "")))
        goto err;
    for (size_t i = 0; labels && labels[i]; i++) {
        if (i >= VANE_METRIC_MAX_LABELS || !valid_name(labels[i], true) ||
            strcmp(labels[i], "le") == 0)
            goto err;
        if (!(f->labels[i] = strdup(labels[i])))
            goto err;
        f->nlabels = i + 1;
    }
    if (type == VANE_METRIC_HISTOGRAM) {
        memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
        f->nbounds = nbounds;
    }
    if (reg->last)
        reg->last->next = f;
    else
        reg->first = f;
    reg->last = f;
    return f;
err:
    for (size_t i = 0; i < VANE_METRIC_MAX_LABELS; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f);
    return NULL;
}

static size_t count_values(const char *const *values)
{
    size_t n = 0;
    while (values && values[n])
        n++;
    return n;
}

static child_t *find_child(vane_metric_family_t *f, const char *const *values, child_t **prev)
{
    child_t *p = NULL;
    for (child_t *c = f->children; c; p = c, c = c->next) {
        size_t i = 0;
        while (i < f->nlabels && strcmp(c->values[i], values[i]) == 0)
            i++;
        if (i == f->nlabels) {
            if (prev)
                *prev = p;
            return c;
        }
    }
    return NULL;
}

static child_t *get_child(vane_metric_family_t *f, vane_metric_type_t type,
                          const char *const *values)
{
    if (!f || f->type != type || count_values(values) != f->nlabels)
        return NULL;
    child_t *c = find_child(f, values, NULL);
    if (c)
        return c;
    if (!(c = calloc(1, sizeof *c)))
        return NULL;
    for (size_t i = 0; i < f->nlabels; i++) {
        if (!(c->values[i] = strdup(values[i]))) {
            child_free(c, f->nlabels);
            return NULL;
        }
    }
    if (type == VANE_METRIC_HISTOGRAM) {
        c->v.hist.bounds = f->bounds;
        c->v.hist.nbounds = f->nbounds;
    }
    if (f->last)
        f->last->next = c;
    else
        f->children = c;
    f->last = c;
    return c;
}

uint64_t *vane_metrics_counter(vane_metric_family_t *fam, const char *const *values)
{
    child_t *c = get_child(fam, VANE_METRIC_COUNTER, values);
    return c ? &c->v.counter : NULL;
}

double *vane_metrics_gauge(vane_metric_family_t *fam, const char *const *values)
{
    child_t *c = get_child(fam, VANE_METRIC_GAUGE, values);
    return c ? &c->v.gauge : NULL;
}

vane_histogram_t *vane_metrics_histogram(vane_metric_family_t *fam, const char *const *values)
{
    child_t *c = get_child(fam, VANE_METRIC_HISTOGRAM, values);
    return c ? &c->v.hist : NULL;
}

int vane_metrics_remove(vane_metric_family_t *fam, const char *const *values)
{
    if (count_values(values) != fam->nlabels)
        return VANE_EINVAL;
    child_t *prev = NULL;
    child_t *c = find_child(fam, values, &prev);
    if (!c)
        return VANE_ENOTFOUND;
    if (prev)
        prev->next = c->next;
    else
        fam->children = c->next;
    if (fam->last == c)
        fam->last = prev;
    child_free(c, fam->nlabels);
    return VANE_OK;
}

/*-----------------------------------------------------------------------------------------
 * Rendering (text exposition format 0.0.4)
 *---------------------------------------------------------------------------------------*/

static int put_double(vane_buf_t *out, double v)
{
    if (isnan(v))
        return vane_buf_puts(out, "NaN");
    if (isinf(v))
        return vane_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 1e15)
        return vane_buf_printf(out, "%.0f", v);
    return vane_buf_printf(out, "%.9g", v);
}

/* HELP text escapes backslash and newline; label values also escape the double quote. */
static int put_escaped(vane_buf_t *out, const char *s, bool quote)
{
    int rc = VANE_OK;
    for (; *s && rc == VANE_OK; s++) {
        if (*s == '\\')
            rc = vane_buf_puts(out, "\\\\");
        else if (*s == '\n')
            rc = vane_buf_puts(out, "\\n");
        else if (quote && *s == '"')
            rc = vane_buf_puts(out, "\\\"");
        else
            rc = vane_buf_putc(out, *s);
    }
    return rc;
}

/* "{a="x",b="y"" without the closing brace, or "" when there are no labels and no le. */
static int put_labels(vane_buf_t *out, const vane_metric_family_t *f, const child_t *c,
                      const char *le)
{
    if (f->nlabels == 0 && !le)
        return VANE_OK;
    int rc = vane_buf_putc(out, '{');
    for (size_t i = 0; i < f->nlabels && rc == VANE_OK; i++) {
        rc = vane_buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        if (rc == VANE_OK)
            rc = put_escaped(out, c->values[i], true);
        if (rc == VANE_OK)
            rc = vane_buf_putc(out, '"');
    }
    if (rc == VANE_OK && le)
        rc = vane_buf_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    if (rc == VANE_OK)
        rc = vane_buf_putc(out, '}');
    return rc;
}

static int render_family(const vane_metric_family_t *f, vane_buf_t *out)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    int rc = vane_buf_printf(out, "# HELP %s ", f->name);
    if (rc == VANE_OK)
        rc = put_escaped(out, f->help, false);
    if (rc == VANE_OK)
        rc = vane_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    for (const child_t *c = f->children; c && rc == VANE_OK; c = c->next) {
        switch (f->type) {
        case VANE_METRIC_COUNTER:
            rc = vane_buf_puts(out, f->name);
            rc = rc ? rc : put_labels(out, f, c, NULL);
            rc = rc ? rc : vane_buf_printf(out, " %llu\n", (unsigned long long)c->v.counter);
            break;
        case VANE_METRIC_GAUGE:
            rc = vane_buf_puts(out, f->name);
            rc = rc ? rc : put_labels(out, f, c, NULL);
            rc = rc ? rc : vane_buf_putc(out, ' ');
            rc = rc ? rc : put_double(out, c->v.gauge);
            rc = rc ? rc : vane_buf_putc(out, '\n');
            break;
        case VANE_METRIC_HISTOGRAM: {
            const vane_histogram_t *h = &c->v.hist;
            uint64_t cum = 0;
            for (size_t i = 0; i <= h->nbounds && rc == VANE_OK; i++) {
                char le[40];
                if (i < h->nbounds)
                    snprintf(le, sizeof le, "%.9g", h->bounds[i]);
                else
                    snprintf(le, sizeof le, "+Inf");
                cum += h->buckets[i];
                rc = vane_buf_printf(out, "%s_bucket", f->name);
                rc = rc ? rc : put_labels(out, f, c, le);
                rc = rc ? rc : vane_buf_printf(out, " %llu\n", (unsigned long long)cum);
            }
            rc = rc ? rc : vane_buf_printf(out, "%s_sum", f->name);
            rc = rc ? rc : put_labels(out, f, c, NULL);
            rc = rc ? rc : vane_buf_putc(out, ' ');
            rc = rc ? rc : put_double(out, h->sum);
            rc = rc ? rc : vane_buf_printf(out, "\n%s_count", f->name);
            rc = rc ? rc : put_labels(out, f, c, NULL);
            rc = rc ? rc : vane_buf_printf(out, " %llu\n", (unsigned long long)h->count);
            break;
        }
        }
    }
    return rc;
}

int vane_metrics_render(const vane_metrics_t *reg, vane_buf_t *out)
{
    for (const vane_metric_family_t *f = reg->first; f; f = f->next) {
        int rc = render_family(f, out);
        if (rc)
            return rc;
    }
    return VANE_OK;
}

int vane_metrics_write_markdown(const vane_metrics_t *reg, FILE *out)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    fputs("# vane metrics reference\n"
          "\n"
          "<!-- Generated from vane_metrics_std_init() in daemon/core/metrics.c; do not edit.\n"
          "     Regenerate with VANE_UPDATE_DOCS=1 build/test_metrics_docs. -->\n"
          "\n"
          "`vane run` serves these at `GET /metrics` on `http.listen` (default\n"
          "`127.0.0.1:9464`) in the Prometheus text format. The event loop renders a snapshot\n"
          "every `metrics.render_interval` (500 ms); a scrape returns the latest snapshot and\n"
          "never waits for, or slows, event processing. Histograms have the usual `_bucket`,\n"
          "`_sum` and `_count` series; counters only go up (use `rate()`). Alerting rules and a\n"
          "Grafana dashboard built on these names are in `deploy/prometheus/` and\n"
          "`deploy/grafana/`.\n"
          "\n"
          "| Metric | Type | Labels | Description |\n"
          "|---|---|---|---|\n",
          out);
    for (const vane_metric_family_t *f = reg->first; f; f = f->next) {
        char labels[256] = "";
        size_t len = 0;
        for (size_t i = 0; i < f->nlabels && len < sizeof labels; i++)
            len += (size_t)snprintf(labels + len, sizeof labels - len, "%s`%s`", i ? ", " : "",
                                    f->labels[i]);
        fprintf(out, "| `%s` | %s | %s | %s", f->name, type_names[f->type], labels, f->help);
        if (f->type == VANE_METRIC_HISTOGRAM) {
            fputs(" Buckets (s): ", out);
            for (size_t i = 0; i < f->nbounds; i++)
                fprintf(out, "%s%.9g", i ? ", " : "", f->bounds[i]);
            fputc('.', out);
        }
        fputs(" |\n", out);
    }
    return ferror(out) ? VANE_EIO : VANE_OK;
}

/*-----------------------------------------------------------------------------------------
 * vane's metric set
 *---------------------------------------------------------------------------------------*/

/* Event-to-alert and Redis latencies: 100 us .. 10 s. */
static const double latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
/* One engine call: 1 us .. 10 ms. */
static const double engine_bounds[] = {0.000001, 0.0000025, 0.000005, 0.00001, 0.000025,
                                       0.00005,  0.0001,    0.00025,  0.0005,  0.001,
                                       0.0025,   0.005,     0.01};

#define NB(a) (sizeof(a) / sizeof((a)[0]))

int vane_metrics_std_init(vane_metrics_t *reg, vane_metrics_std_t *std, const char *version,
                          const char *commit, double start_time_s)
{
    memset(std, 0, sizeof *std);
    static const char *const reason[] = {"reason", NULL};
    static const char *const partition[] = {"partition", NULL};
    static const char *const kind_rule[] = {"kind", "rule", NULL};
    static const char *const result[] = {"result", NULL};
    static const char *const build[] = {"version", "commit", NULL};
    vane_metric_family_t *f;

#define FAM(var, name, type, help, labels, bounds, nb)                                             \
    do {                                                                                           \
        if (!((var) = vane_metrics_family(reg, name, type, help, labels, bounds, nb)))             \
            return VANE_ENOMEM;                                                                    \
    } while (0)
#define SIMPLE(ptr, getter, name, type, help, bounds, nb)                                          \
    do {                                                                                           \
        FAM(f, name, type, help, NULL, bounds, nb);                                                \
        if (!((ptr) = getter(f, NULL)))                                                            \
            return VANE_ENOMEM;                                                                    \
    } while (0)

    /* Kafka input */
    SIMPLE(std->events_consumed, vane_metrics_counter, "vane_events_consumed_total",
           VANE_METRIC_COUNTER, "Messages consumed from the input topic.", NULL, 0);
    SIMPLE(std->events_decoded, vane_metrics_counter, "vane_events_decoded_total",
           VANE_METRIC_COUNTER, "Input messages decoded into an event.", NULL, 0);
    SIMPLE(std->events_applied, vane_metrics_counter, "vane_events_applied_total",
           VANE_METRIC_COUNTER,
           "Events applied to their customer's state (the engine ran on them; events a replay "
           "after a restart finds already in the state are not counted again).",
           NULL, 0);
    FAM(std->events_rejected, "vane_events_rejected_total", VANE_METRIC_COUNTER,
        "Input messages not processed, by reason (decode errors, missing fields, too old, too "
        "far in the future, too big, ...).",
        reason, NULL, 0);
    FAM(std->dlq_messages, "vane_dlq_messages_total", VANE_METRIC_COUNTER,
        "Input messages copied to the dead-letter topic, by reject reason.", reason, NULL, 0);
    FAM(std->consumer_lag, "vane_consumer_lag", VANE_METRIC_GAUGE,
        "Messages behind the partition's high watermark, per assigned input partition.", partition,
        NULL, 0);
    SIMPLE(std->paused_partitions, vane_metrics_gauge, "vane_paused_partitions", VANE_METRIC_GAUGE,
           "Input partitions paused for back-pressure (Redis down or slow, output queue full).",
           NULL, 0);

    /* engine */
    FAM(std->alerts, "vane_alerts_total", VANE_METRIC_COUNTER,
        "Alerts emitted, by alert kind and rule id (shadow-mode rules included).", kind_rule, NULL,
        0);
    SIMPLE(std->engine_process, vane_metrics_histogram, "vane_engine_process_seconds",
           VANE_METRIC_HISTOGRAM,
           "Time the detection engine spends on one event. A sample of events (1 in 8) is timed, "
           "so read quantiles and the mean (_sum / _count), not _count.",
           engine_bounds, NB(engine_bounds));
    SIMPLE(std->event_alert_latency, vane_metrics_histogram, "vane_event_alert_latency_seconds",
           VANE_METRIC_HISTOGRAM,
           "End-to-end latency of an alert: from the Kafka timestamp of the triggering event "
           "(when it was produced) to the alert's delivery report from Kafka.",
           latency_bounds, NB(latency_bounds));
    FAM(std->rule_reloads, "vane_rule_reloads_total", VANE_METRIC_COUNTER,
        "Rules reloads (SIGHUP or POST /-/reload) by result: ok, or error (the old rules stay "
        "active).",
        result, NULL, 0);
    if (!(std->rule_reloads_ok =
              vane_metrics_counter(std->rule_reloads, (const char *const[]){"ok", NULL})) ||
        !(std->rule_reloads_error =
              vane_metrics_counter(std->rule_reloads, (const char *const[]){"error", NULL})))
        return VANE_ENOMEM;
    SIMPLE(std->rules_loaded, vane_metrics_gauge, "vane_rules_loaded", VANE_METRIC_GAUGE,
           "Rules in the active ruleset.", NULL, 0);

    /* Redis state */
    SIMPLE(std->redis_roundtrip, vane_metrics_histogram, "vane_redis_roundtrip_seconds",
           VANE_METRIC_HISTOGRAM,
           "Round trip of one Redis state read. A sample of reads (1 in 8) is timed, so read "
           "quantiles and the mean (_sum / _count), not _count.",
           latency_bounds, NB(latency_bounds));
    SIMPLE(std->redis_flush, vane_metrics_histogram, "vane_redis_flush_seconds",
           VANE_METRIC_HISTOGRAM, "Time to write one batch of dirty states back to Redis.",
           latency_bounds, NB(latency_bounds));
    SIMPLE(std->cache_hits, vane_metrics_counter, "vane_cache_hits_total", VANE_METRIC_COUNTER,
           "Customer states found in the in-memory cache.", NULL, 0);
    SIMPLE(std->cache_misses, vane_metrics_counter, "vane_cache_misses_total", VANE_METRIC_COUNTER,
           "Customer states that had to be read from Redis.", NULL, 0);
    SIMPLE(std->cache_evictions, vane_metrics_counter, "vane_cache_evictions_total",
           VANE_METRIC_COUNTER, "Customer states evicted from the in-memory cache.", NULL, 0);
    SIMPLE(std->dirty_states, vane_metrics_gauge, "vane_dirty_states", VANE_METRIC_GAUGE,
           "Customer states changed in memory and not yet written to Redis (waiting for the next "
           "write-back, or in the current one's queue of commands not yet sent).",
           NULL, 0);
    SIMPLE(std->cache_customers, vane_metrics_gauge, "vane_cache_customers", VANE_METRIC_GAUGE,
           "Customer states held in memory (redis.cache_max_customers is the limit; dirty and "
           "loading states can exceed it until written).",
           NULL, 0);
    SIMPLE(std->cache_packed_bytes, vane_metrics_gauge, "vane_cache_packed_bytes",
           VANE_METRIC_GAUGE,
           "Bytes of the cached states held packed (zero runs dropped), i.e. all but those in the "
           "hot set of unpacked states; grows with the customers cached and with how much of its "
           "state each one uses.",
           NULL, 0);
    SIMPLE(std->cache_memory_bytes, vane_metrics_gauge, "vane_cache_memory_bytes",
           VANE_METRIC_GAUGE,
           "Memory the state cache holds: entries, packed-state blocks (used and free), the hot "
           "set of unpacked states and the hash table. Kept for reuse, not returned to the OS "
           "(except when packed states are compacted).",
           NULL, 0);
    SIMPLE(std->alerts_failed, vane_metrics_counter, "vane_alerts_failed_total",
           VANE_METRIC_COUNTER,
           "Alerts Kafka could not take for good (authorization, size, unknown topic, a fatal "
           "producer error; each logged). vane then stops without committing past them, so a "
           "restart produces them again: any increase needs an operator.",
           NULL, 0);
    SIMPLE(std->dlq_failed, vane_metrics_counter, "vane_dlq_failed_total", VANE_METRIC_COUNTER,
           "Dead letters that could not be produced and were given up (each logged with its "
           "source topic, partition and offset); the input message was counted as rejected.",
           NULL, 0);
    SIMPLE(std->redis_errors, vane_metrics_counter, "vane_redis_errors_total", VANE_METRIC_COUNTER,
           "Redis commands that failed: refused with an error reply (-WRONGTYPE, -OOM, ...; each "
           "logged) or lost with a dropped connection. Retried; a rising count with "
           "vane_redis_connected 1 means Redis refuses something.",
           NULL, 0);
    SIMPLE(std->redis_unsent_bytes, vane_metrics_gauge, "vane_redis_unsent_bytes",
           VANE_METRIC_GAUGE,
           "Bytes of Redis commands (mostly state write-backs) issued and not yet written to the "
           "socket. Grows when Redis accepts commands slower than vane issues them.",
           NULL, 0);
    SIMPLE(std->redis_connected, vane_metrics_gauge, "vane_redis_connected", VANE_METRIC_GAUGE,
           "1 while both Redis connections (state loads, write-back) are up, 0 while "
           "reconnecting.",
           NULL, 0);

    /* process */
    SIMPLE(std->ready, vane_metrics_gauge, "vane_ready", VANE_METRIC_GAUGE,
           "1 when vane is ready (GET /readyz answers 200), else 0.", NULL, 0);
    SIMPLE(std->start_time, vane_metrics_gauge, "vane_start_time_seconds", VANE_METRIC_GAUGE,
           "Process start time, seconds since the Unix epoch.", NULL, 0);
    FAM(f, "vane_build_info", VANE_METRIC_GAUGE,
        "Always 1; the labels carry the version and git commit of the running binary.", build, NULL,
        0);
    if (!(std->build_info = vane_metrics_gauge(f, (const char *const[]){version, commit, NULL})))
        return VANE_ENOMEM;
    *std->build_info = 1;
    *std->start_time = start_time_s;
#undef FAM
#undef SIMPLE
    return VANE_OK;
}
