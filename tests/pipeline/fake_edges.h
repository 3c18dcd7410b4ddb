/* fake_edges.h - scripted stand-ins for the pipeline's edges, so that a test can run the real
 * daemon core (core/pipeline.c with the real cache, offsets, engine and rules) and decide the
 * order in which Kafka and Redis events reach it.
 *
 * The test executable links pipeline.c with fake_edges.c instead of io/: the fakes define the
 * kafka_source, state_store, alert_sink and http functions pipeline.c calls, and the five
 * librdkafka message functions it uses on messages (the test makes its own messages and links
 * no librdkafka). Nothing is answered on its own: a GET, SET or raw command stays pending until
 * the test replies to it, so "the reply arrives after the revoke" is a line of the script.
 *
 * Driving: vane_pipeline_run() owns the loop. The fake consumer, once created, calls the
 * test's step function every millisecond on that loop (fake_set_driver); the step function
 * acts through the fake_* calls below and ends the run with raise(SIGTERM) like an operator.
 * Everything here runs on the pipeline's loop thread; no locking.
 *
 * Ownership: pending commands hold copies of their keys; messages made by fake_msg_new belong
 * to the pipeline once delivered (freed by its rd_kafka_message_destroy, which the fake counts).
 */
#ifndef VANE_FAKE_EDGES_H
#define VANE_FAKE_EDGES_H

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which Redis connection a command went to: pipeline.c opens one for writes (SETs, the timer
 * index and its scans) and one for state loads (GETs). */
enum { FAKE_WSTORE = 0, FAKE_RSTORE = 1 };
enum { FAKE_GET, FAKE_SET, FAKE_RAW };

typedef struct fake_counts {
    int gets, sets, raws;     /* commands issued */
    int alerts, dlq;          /* produced to the alert sink */
    int revoke_done, commits; /* consumer calls */
    bool paused;              /* the consumer's pause state now */
    int msgs_live;            /* messages made and not yet destroyed */
} fake_counts_t;

/* Forget every command, message count and callback of an earlier run. */
void fake_reset(void);
/* The step function, called every millisecond with the milliseconds since the first call. */
void fake_set_driver(void (*step)(int64_t ms));
const fake_counts_t *fake_counts(void);

/* Redis. Both stores report themselves up (or down) to the pipeline. */
void fake_stores_up(bool up);
/* The index of the oldest pending command of kind on the given store whose id is id (any id
 * when NULL), or -1. */
int fake_find(int store, int kind, const char *id);
/* Commands issued so far of kind whose id is id (all stores). */
int fake_issued(int kind, const char *id);
/* Answer pending command i. GET: bytes NULL is "no such key"; status < 0 fails it. */
void fake_reply_get(int i, int status, const void *bytes, size_t len);
void fake_reply_set(int i, int status);
/* RAW: the reply is an array of these member strings (ids NULL: integer 1). */
void fake_reply_raw(int i, int status, const char *const *ids, size_t n);
/* Answer every write (SET, ZADD, ZREM) pending at the call with status; writes the replies
 * lead the pipeline to issue stay pending. Returns how many were answered. */
int fake_reply_writes(int status);
/* Answer every pending timer-index scan (ZRANGEBYSCORE): nothing due. Returns how many. */
int fake_reply_scans(void);

/* Kafka. Alerts produced wait for fake_ack_alerts (returns how many it acknowledged). */
int fake_ack_alerts(void);
void fake_assign(const int32_t *parts, int n);
void fake_revoke(const int32_t *parts, int n, bool lost);
/* A message of partition p at offset off with value json (copied); delivered as one batch. */
void fake_deliver(int32_t p, int64_t off, const char *json);

#endif
