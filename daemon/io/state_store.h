/* state_store.h - customer states in Redis, through hiredis' async API on the libuv loop.
 *
 * Keys: "<prefix>:{<customer_id>}:s" holds the protobuf vane.v1.CustomerState. The {...}
 * hash tag keeps every key of one customer in one Redis Cluster slot, and nothing here
 * needs a cross-key transaction. Commands are pipelined: every get/set issued during one loop
 * iteration goes out in one write when the socket becomes writable. Commands are formatted into
 * the store's own backlog and handed to hiredis only while its output buffer is short (hiredis
 * 0.14 moves its whole unsent buffer after each partial write, quadratic for big pipelines);
 * replies and callbacks keep the order of issue.
 *
 * vane's own libuv adapter (not hiredis' stock one) re-arms the poll handle only when the
 * wanted events change, so a batch of N commands costs one epoll_ctl, not N.
 *
 * Failures: when Redis is unreachable, get/set return VANE_EAGAIN at once and callbacks of
 * commands in flight run with status VANE_EREDIS; the store reconnects with exponential
 * backoff (100 ms doubling to reconnect_max_ms) and reports up/down through on_state. The
 * store is up only once a PING is answered: a server that refuses it on a live socket (-LOADING
 * while a restarted Redis replays its AOF) is disconnected and retried after the backoff. An
 * error reply to any other command fails that command alone (VANE_EREDIS) and keeps the link.
 * A command still unanswered after command_timeout_ms drops the connection (a hung Redis is
 * treated as a down one). Callbacks never run inside the call that issued the command.
 * Loop thread only.
 */
#ifndef VANE_STATE_STORE_H
#define VANE_STATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct vane_state_store vane_state_store_t;

typedef struct vane_state_store_opts {
    const char *url;        /* redis.url: see util/redis_url.h */
    const char *user;       /* ACL user, NULL/"" for none (overrides the URL's) */
    const char *password;   /* NULL/"" for none (overrides the URL's) */
    const char *prefix;     /* key prefix, e.g. "vane" */
    int reconnect_max_ms;   /* backoff ceiling */
    int command_timeout_ms; /* a reply slower than this drops the connection */
    int connect_timeout_ms; /* a connect attempt slower than this is abandoned and retried */
    int64_t state_ttl_ms;   /* > 0: states are SET with this expiry (PX), refreshed by each */
} vane_state_store_opts_t;

/* bytes/len valid only during the callback; status 0 with bytes == NULL: no such key. */
typedef void (*vane_store_get_cb)(void *arg, int status, const char *bytes, size_t len);
typedef void (*vane_store_set_cb)(void *arg, int status);
/* Called on every transition: up = true when connected (and authenticated). */
typedef void (*vane_store_state_cb)(void *arg, bool up, const char *why);

typedef struct vane_state_store_stats {
    uint64_t gets, sets, errors, reconnects;
    uint64_t writes;    /* socket write batches (round trips of a pipeline) */
    uint64_t inflight;  /* commands issued and not yet answered */
    double rtt_sum_s;   /* sum of command round-trip seconds (for the mean), over a sample: */
    uint64_t rtt_count; /* the commands timed (1 in 8) */
} vane_state_store_stats_t;

/* Create the store and start connecting. Returns NULL and fills errbuf on a bad URL or
 * allocation failure. on_state may be NULL. */
vane_state_store_t *vane_state_store_new(uv_loop_t *loop, const vane_state_store_opts_t *opts,
                                         vane_store_state_cb on_state, void *state_arg,
                                         char *errbuf, size_t errlen);

/* Issue a GET of customer id's state. 0, or VANE_EAGAIN when down (cb will not run). */
int vane_state_store_get(vane_state_store_t *st, const char *id, vane_store_get_cb cb, void *arg);
/* Issue a SET of customer id's state (bytes are copied). 0, or VANE_EAGAIN when down. */
int vane_state_store_set(vane_state_store_t *st, const char *id, const void *bytes, size_t len,
                         vane_store_set_cb cb, void *arg);
/* Issue a raw command (argv copied); reply handling is the caller's: cb gets the hiredis
 * redisReply* as `reply` (valid during the callback; NULL on failure). For ZADD/ZRANGE... */
typedef void (*vane_store_raw_cb)(void *arg, int status, void *reply);
int vane_state_store_command(vane_state_store_t *st, int argc, const char **argv,
                             const size_t *argvlen, vane_store_raw_cb cb, void *arg);

/* Observe commands' round trips (seconds; 1 command in 8 is timed) into h (borrowed; NULL to
 * stop). */
struct vane_histogram;
void vane_state_store_set_rtt_histogram(vane_state_store_t *st, struct vane_histogram *h);

bool vane_state_store_up(const vane_state_store_t *st);
const vane_state_store_stats_t *vane_state_store_stats(const vane_state_store_t *st);
/* Bytes of commands issued and not yet written to the socket (the store's backlog and
 * hiredis' output buffer). */
size_t vane_state_store_unsent_bytes(const vane_state_store_t *st);
/* Format the key of customer id into buf; returns its length (truncated to cap-1). */
size_t vane_state_store_key(const vane_state_store_t *st, const char *id, char *buf, size_t cap);

/* Disconnect: commands in flight get their replies first when they come within
 * VANE_STATE_STORE_CLOSE_WAIT_MS (or the command timeout, if shorter); after that, or when the
 * link fails, they get status VANE_EREDIS, so a frozen Redis cannot hold a shutdown. Then the
 * store frees itself and calls done (may be NULL) on the loop. */
#define VANE_STATE_STORE_CLOSE_WAIT_MS 1000
void vane_state_store_close(vane_state_store_t *st, void (*done)(void *arg), void *arg);

#endif
