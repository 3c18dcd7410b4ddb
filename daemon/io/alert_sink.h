/* alert_sink.h - the output: alerts (and dead letters) produced to Kafka from the loop.
 *
 * One idempotent librdkafka producer (enable.idempotence=true, so retries never duplicate
 * or reorder) sends:
 *   - alerts to the alert topic (or the alert's own topic, or the shadow topic for shadow
 *     rules), key = customer_id, headers alert-kind and content-type, value JSON or protobuf;
 *   - rejected input to the dead-letter topic with the original key, value and headers plus
 *     vane-reject-reason / -field / -message and vane-source-topic / -partition / -offset.
 * Delivery reports arrive on the loop (the producer's main queue is wired to a pipe and a
 * uv_poll_t, like the consumer). Each message carries the caller's tag; on_delivered(tag)
 * runs once per message when Kafka acknowledged it. A delivery that failed for a reason that
 * may pass (brokers unreachable past librdkafka's retries) is produced again (logged,
 * counted). One that cannot succeed (authorization, size, unknown topic, a fatal idempotence
 * error), or whose produce fails: an alert goes to on_failed(tag) and never to on_delivered,
 * so the caller can stop without committing past it; a dead letter is given up (logged with
 * its source position, counted) and reported to on_delivered, as it is only a copy of input
 * already counted. A fatal producer error calls on_failed(0) once. Encoding reuses one
 * buffer: no allocation per alert beyond librdkafka's copy.
 * Loop thread only.
 */
#ifndef VANE_ALERT_SINK_H
#define VANE_ALERT_SINK_H

#include "engine/alert.h"
#include "engine/codec.h"
#include "io/kafka_source.h"

#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <uv.h>

typedef struct vane_alert_sink vane_alert_sink_t;

typedef struct vane_alert_sink_opts {
    const char *brokers;
    const char *alert_topic;  /* default topic for alerts */
    const char *shadow_topic; /* alerts of mode: shadow rules; NULL/"" = drop (counted) */
    const char *dlq_topic;    /* dead letters; NULL/"" = none (counted, logged) */
    vane_format_t format;     /* JSON or PROTOBUF */
    int linger_ms;
    int max_message_bytes;  /* largest input: a dead letter copies it (0 = librdkafka's) */
    const vane_kv_t *props; /* extra librdkafka properties (common + producer), may be NULL */
    size_t nprops;
} vane_alert_sink_opts_t;

typedef struct vane_alert_sink_stats {
    uint64_t alerts_sent;  /* produced (queued) */
    uint64_t alerts_acked; /* acknowledged by Kafka */
    uint64_t shadow_sent;
    uint64_t dlq_sent;
    uint64_t retries;       /* failed deliveries produced again */
    uint64_t alerts_failed; /* alerts that could not be produced or delivered */
    uint64_t dlq_failed;    /* dead letters given up */
    uint64_t outstanding;   /* produced, not yet acknowledged */
} vane_alert_sink_stats_t;

/* tag: the caller's; produced_ms: wall clock when the message was produced. */
typedef void (*vane_alert_sink_delivered_cb)(void *arg, uint64_t tag);
/* An alert that will never be delivered (tag), or the producer failed for good (tag 0). */
typedef void (*vane_alert_sink_failed_cb)(void *arg, uint64_t tag, const char *why);

vane_alert_sink_t *vane_alert_sink_new(uv_loop_t *loop, const vane_alert_sink_opts_t *opts,
                                       vane_alert_sink_delivered_cb on_delivered,
                                       vane_alert_sink_failed_cb on_failed, void *arg, char *errbuf,
                                       size_t errlen);

/* Produce one alert; sets a->detected_at_ms to now_ms when unset. 0, or a negative code
 * (encoding failure, a full queue not drained within ~10 s, a fatal producer): the alert is
 * not sent and the caller must not commit past it. */
int vane_alert_sink_alert(vane_alert_sink_t *sink, vane_alert_t *a, int64_t now_ms, uint64_t tag);

/* Produce a dead letter for a rejected input message. Returns 1 when produced (on_delivered
 * will run for tag), 0 when no dead-letter topic is configured, or a negative code. */
int vane_alert_sink_dlq(vane_alert_sink_t *sink, const rd_kafka_message_t *src,
                        const vane_decode_error_t *why, uint64_t tag);

const vane_alert_sink_stats_t *vane_alert_sink_stats(const vane_alert_sink_t *sink);

/* Wait up to timeout_ms for every outstanding message, then destroy the producer and free
 * the sink; done runs once the handles are closed. Messages still unacknowledged are
 * reported in the log. Blocking for up to timeout_ms (shutdown path only). */
void vane_alert_sink_close(vane_alert_sink_t *sink, int timeout_ms, void (*done)(void *arg),
                           void *arg);

#endif
