/* kafka_source.h - the input: a librdkafka high-level consumer wired into the libuv loop.
 *
 * No polling thread, no busy loop, no sleep: librdkafka writes a byte to a pipe when its
 * consumer queue goes from empty to non-empty (rd_kafka_queue_io_event_enable); a uv_poll_t
 * on the pipe wakes the loop, which drains the queue in batches (rd_kafka_consume_batch_queue)
 * and hands each batch to on_batch. At most max_batches_per_wakeup batches run per wakeup,
 * then an idle handle resumes, so one busy input never starves the rest of the loop.
 * Paused (vane_kafka_source_pause), the partitions stop fetching but the consumer is still
 * served (on wakeups and once a second), so rebalances and errors are handled and the group
 * sees the member alive (max.poll.interval.ms) however long the pause lasts.
 *
 * Offsets: auto-commit is on but automatic offset *storing* is off. The pipeline calls
 * vane_kafka_source_store() only for offsets whose effects are durable, so a commit never
 * covers an event that is not yet in Redis and whose alerts are not yet acknowledged.
 *
 * Rebalances: on_assign runs before consumption of new partitions starts. on_revoke starts
 * the pipeline's hand-over (flush, store, commit); the partitions are released only when the
 * pipeline calls vane_kafka_source_revoke_done(). Works with eager and cooperative assignors.
 *
 * Ownership: messages passed to on_batch belong to the callee (rd_kafka_message_destroy).
 * Errors: consumer errors are informational and logged (rate-limited); a fatal librdkafka
 * error calls on_fatal and the pipeline shuts down. Loop thread only.
 */
#ifndef VANE_KAFKA_SOURCE_H
#define VANE_KAFKA_SOURCE_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct vane_kafka_source vane_kafka_source_t;

typedef struct vane_kv {
    const char *key;
    const char *value;
} vane_kv_t;

typedef struct vane_kafka_source_opts {
    const char *brokers;
    const char *group;
    const char *topic;
    const char *auto_offset_reset; /* earliest | latest */
    int batch_size;                /* messages per consume call */
    int max_batches_per_wakeup;
    int fetch_wait_max_ms;
    int queued_max_messages_kbytes;
    int queued_min_messages;
    int max_message_bytes;
    int session_timeout_ms; /* group session timeout; heartbeats at a third of it */
    const vane_kv_t *props; /* extra librdkafka properties (common + consumer), may be NULL */
    size_t nprops;
} vane_kafka_source_opts_t;

typedef struct vane_kafka_source_hooks {
    void (*on_batch)(void *arg, rd_kafka_message_t **msgs, size_t n);
    void (*on_assign)(void *arg, const rd_kafka_topic_partition_list_t *parts);
    void (*on_revoke)(void *arg, const rd_kafka_topic_partition_list_t *parts, bool lost);
    void (*on_fatal)(void *arg, const char *why);
} vane_kafka_source_hooks_t;

/* Create the consumer and subscribe. NULL with errbuf filled on bad configuration. */
vane_kafka_source_t *vane_kafka_source_new(uv_loop_t *loop, const vane_kafka_source_opts_t *opts,
                                           const vane_kafka_source_hooks_t *hooks, void *arg,
                                           char *errbuf, size_t errlen);

/* Stop/restart delivering batches (backpressure). Pausing also pauses fetching of every
 * assigned partition; librdkafka re-fetches from the last delivered offset on resume. */
void vane_kafka_source_pause(vane_kafka_source_t *src, bool paused);
bool vane_kafka_source_paused(const vane_kafka_source_t *src);
/* Number of partitions currently assigned. */
int vane_kafka_source_assigned(const vane_kafka_source_t *src);

/* Release the partitions of the pending revoke (call once after on_revoke). */
void vane_kafka_source_revoke_done(vane_kafka_source_t *src);

/* Store next_offset (= last durable offset + 1) of partition for the next commit. */
int vane_kafka_source_store(vane_kafka_source_t *src, int32_t partition, int64_t next_offset);
/* Commit stored offsets now, synchronously (revoke and shutdown paths). */
int vane_kafka_source_commit(vane_kafka_source_t *src);

/* Consumer lag of a partition from cached watermarks; -1 when unknown. */
int64_t vane_kafka_source_lag(vane_kafka_source_t *src, int32_t partition, int64_t position);

rd_kafka_t *vane_kafka_source_handle(vane_kafka_source_t *src);

/* Leave the group (commits stored offsets), destroy the consumer, close the handles, free
 * src; done runs from the loop once every handle is closed. Blocking for the duration of
 * rd_kafka_consumer_close (bounded by librdkafka's timeouts). */
void vane_kafka_source_close(vane_kafka_source_t *src, void (*done)(void *arg), void *arg);

#endif
