#include "kafka_source.h"

#include "util/err.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vane_kafka_source {
    uv_loop_t *loop;
    rd_kafka_t *rk;          /* owned */
    rd_kafka_queue_t *queue; /* consumer queue; owned reference */
    int pipefd[2];           /* librdkafka writes [1], the loop polls [0] */
    uv_poll_t poll;          /* on pipefd[0] */
    uv_idle_t drain_idle;    /* resumes draining when a wakeup stopped early */
    uv_timer_t keepalive;    /* polls librdkafka while paused (see keepalive_cb) */
    int open_handles;
    bool paused;
    bool closing;
    bool cooperative;
    rd_kafka_topic_partition_list_t *revoking; /* owned copy while a revoke is pending */
    int assigned;
    int batch_size;
    int max_batches;
    rd_kafka_message_t **batch; /* owned array of batch_size */
    char topic[256];
    vane_kafka_source_hooks_t hooks;
    void *arg;
    void (*done)(void *);
    void *done_arg;
};

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    VANE_LOG(vane_log_level_of_syslog(level), "kafka", "%s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    vane_kafka_source_t *src = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof why);
        VANE_LOG(VANE_LOG_ERROR, "kafka", "fatal consumer error: %s", why);
        if (src->hooks.on_fatal)
            src->hooks.on_fatal(src->arg, why);
        return;
    }
    /* Consumer errors are informational: librdkafka retries by itself. */
    VANE_LOG(VANE_LOG_WARN, "kafka", "consumer: %s: %s", rd_kafka_err2name(err), reason);
}

static void pause_list(vane_kafka_source_t *src, rd_kafka_topic_partition_list_t *parts, bool pause)
{
    if (!parts || parts->cnt == 0)
        return;
    rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(src->rk, parts)
                                    : rd_kafka_resume_partitions(src->rk, parts);
    if (err)
        VANE_LOG(VANE_LOG_WARN, "kafka", "%s partitions: %s", pause ? "pause" : "resume",
                 rd_kafka_err2str(err));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    vane_kafka_source_t *src = opaque;
    src->cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (src->hooks.on_assign && !src->closing)
            src->hooks.on_assign(src->arg, parts);
        rd_kafka_error_t *e = NULL;
        rd_kafka_resp_err_t e2 = 0;
        if (src->cooperative)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            e2 = rd_kafka_assign(rk, parts);
        if (e || e2) {
            VANE_LOG(VANE_LOG_ERROR, "kafka", "assign failed: %s",
                     e ? rd_kafka_error_string(e) : rd_kafka_err2str(e2));
            rd_kafka_error_destroy(e);
        }
        src->assigned = src->cooperative ? src->assigned + parts->cnt : parts->cnt;
        VANE_LOG(VANE_LOG_INFO, "kafka", "assigned %d partition(s) (%d in total)", parts->cnt,
                 src->assigned);
        /* Either way explicitly: librdkafka keeps a partition's pause across an unassign and
         * a new assign, so one paused while it was revoked would otherwise never fetch again
         * once assigned back. */
        pause_list(src, parts, src->paused);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        bool lost = rd_kafka_assignment_lost(rk);
        VANE_LOG(VANE_LOG_INFO, "kafka", "%s %d partition(s)", lost ? "lost" : "revoking",
                 parts->cnt);
        if (src->revoking)
            rd_kafka_topic_partition_list_destroy(src->revoking);
        src->revoking = rd_kafka_topic_partition_list_copy(parts);
        if (src->closing || !src->hooks.on_revoke) {
            vane_kafka_source_revoke_done(src);
            return;
        }
        src->hooks.on_revoke(src->arg, parts, lost);
        return;
    }
    VANE_LOG(VANE_LOG_ERROR, "kafka", "rebalance error: %s", rd_kafka_err2str(err));
    rd_kafka_assign(rk, NULL);
    src->assigned = 0;
}

void vane_kafka_source_revoke_done(vane_kafka_source_t *src)
{
    if (!src->revoking)
        return;
    if (src->cooperative) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(src->rk, src->revoking);
        if (e) {
            VANE_LOG(VANE_LOG_ERROR, "kafka", "unassign failed: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        src->assigned -= src->revoking->cnt;
        if (src->assigned < 0)
            src->assigned = 0;
    } else {
        rd_kafka_assign(src->rk, NULL);
        src->assigned = 0;
    }
    rd_kafka_topic_partition_list_destroy(src->revoking);
    src->revoking = NULL;
}

/* Drain up to max_batches batches; returns true when the queue may hold more. Also while
 * paused: the consume call is what serves rebalance callbacks and errors and tells the group
 * this member is alive (max.poll.interval.ms); the paused partitions' messages do not come
 * (pausing bumps their version barrier, so what was fetched before is discarded here and
 * fetched again from the consumed position on resume). */
static bool drain(vane_kafka_source_t *src)
{
    for (int b = 0; b < src->max_batches; b++) {
        if (src->closing)
            return false;
        ssize_t n =
            rd_kafka_consume_batch_queue(src->queue, 0, src->batch, (size_t)src->batch_size);
        if (n <= 0)
            return false;
        /* Errors travel as messages: log and drop them, pass the rest on. */
        size_t keep = 0;
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = src->batch[i];
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    VANE_LOG(VANE_LOG_WARN, "kafka", "consume: %s", rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                continue;
            }
            src->batch[keep++] = m;
        }
        if (keep)
            src->hooks.on_batch(src->arg, src->batch, keep);
        if (n < src->batch_size)
            return false;
    }
    return true;
}

static void idle_cb(uv_idle_t *h)
{
    vane_kafka_source_t *src = h->data;
    if (!drain(src))
        uv_idle_stop(&src->drain_idle);
}

/* While paused nothing may wake the loop for this consumer for minutes (a Redis outage):
 * without a consume call librdkafka would leave the group after max.poll.interval.ms, and a
 * rebalance or the resulting lost revoke would only be seen after resuming, once write-backs
 * of partitions already owned by another instance had been sent. */
static void keepalive_cb(uv_timer_t *t)
{
    vane_kafka_source_t *src = t->data;
    if (src->paused && !src->closing && drain(src))
        uv_idle_start(&src->drain_idle, idle_cb);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    vane_kafka_source_t *src = h->data;
    (void)events;
    if (status < 0)
        return;
    char buf[256];
    while (read(src->pipefd[0], buf, sizeof buf) > 0) {
    }
    if (drain(src))
        uv_idle_start(&src->drain_idle, idle_cb);
}

static int set_conf(rd_kafka_conf_t *conf, const char *k, const char *v, char *errbuf,
                    size_t errlen)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        snprintf(errbuf, errlen, "kafka property %s=%s: %s", k, v, err);
        return VANE_ECONFIG;
    }
    return VANE_OK;
}

vane_kafka_source_t *vane_kafka_source_new(uv_loop_t *loop, const vane_kafka_source_opts_t *opts,
                                           const vane_kafka_source_hooks_t *hooks, void *arg,
                                           char *errbuf, size_t errlen)
{
    vane_kafka_source_t *src = calloc(1, sizeof *src);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *topics = NULL;
    if (!src || !conf) {
        snprintf(errbuf, errlen, "out of memory");
        goto err;
    }
    src->loop = loop;
    src->hooks = *hooks;
    src->arg = arg;
    src->pipefd[0] = src->pipefd[1] = -1;
    src->batch_size = opts->batch_size > 0 ? opts->batch_size : 1000;
    src->max_batches = opts->max_batches_per_wakeup > 0 ? opts->max_batches_per_wakeup : 8;
    snprintf(src->topic, sizeof src->topic, "%s", opts->topic);
    src->batch = calloc((size_t)src->batch_size, sizeof *src->batch);
    if (!src->batch) {
        snprintf(errbuf, errlen, "out of memory");
        goto err;
    }

    char num[32];
    if (set_conf(conf, "bootstrap.servers", opts->brokers, errbuf, errlen) ||
        set_conf(conf, "group.id", opts->group, errbuf, errlen) ||
        set_conf(conf, "enable.auto.commit", "true", errbuf, errlen) ||
        set_conf(conf, "enable.auto.offset.store", "false", errbuf, errlen) ||
        set_conf(conf, "auto.commit.interval.ms", "1000", errbuf, errlen) ||
        set_conf(conf, "auto.offset.reset",
                 opts->auto_offset_reset ? opts->auto_offset_reset : "earliest", errbuf, errlen) ||
        set_conf(conf, "enable.partition.eof", "false", errbuf, errlen))
        goto err;
    if (opts->fetch_wait_max_ms > 0) {
        snprintf(num, sizeof num, "%d", opts->fetch_wait_max_ms);
        if (set_conf(conf, "fetch.wait.max.ms", num, errbuf, errlen))
            goto err;
    }
    if (opts->queued_max_messages_kbytes > 0) {
        snprintf(num, sizeof num, "%d", opts->queued_max_messages_kbytes);
        if (set_conf(conf, "queued.max.messages.kbytes", num, errbuf, errlen))
            goto err;
    }
    if (opts->queued_min_messages > 0) {
        snprintf(num, sizeof num, "%d", opts->queued_min_messages);
        if (set_conf(conf, "queued.min.messages", num, errbuf, errlen))
            goto err;
    }
    if (opts->max_message_bytes > 0) {
        /* Fetch sizes must allow the largest accepted message (plus framing). */
        snprintf(num, sizeof num, "%d", opts->max_message_bytes + 65536);
        if (set_conf(conf, "fetch.message.max.bytes", num, errbuf, errlen))
            goto err;
    }
    if (opts->session_timeout_ms > 0) {
        snprintf(num, sizeof num, "%d", opts->session_timeout_ms);
        if (set_conf(conf, "session.timeout.ms", num, errbuf, errlen))
            goto err;
        int hb = opts->session_timeout_ms / 3;
        snprintf(num, sizeof num, "%d", hb < 3000 ? hb : 3000);
        if (set_conf(conf, "heartbeat.interval.ms", num, errbuf, errlen))
            goto err;
    }
    /* Pass-through properties last: an explicit librdkafka setting wins. */
    for (size_t i = 0; i < opts->nprops; i++) {
        if (set_conf(conf, opts->props[i].key, opts->props[i].value, errbuf, errlen))
            goto err;
    }
    rd_kafka_conf_set_opaque(conf, src);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);

    char err[512];
    src->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!src->rk) {
        snprintf(errbuf, errlen, "kafka consumer: %s", err);
        goto err;
    }
    conf = NULL; /* owned by rk now */
    rd_kafka_poll_set_consumer(src->rk);
    src->queue = rd_kafka_queue_get_consumer(src->rk);

    if (pipe2(src->pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(errbuf, errlen, "pipe: %s", strerror(errno));
        goto err;
    }
    rd_kafka_queue_io_event_enable(src->queue, src->pipefd[1], "1", 1);

    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, opts->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(src->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (se) {
        snprintf(errbuf, errlen, "subscribe to %s: %s", opts->topic, rd_kafka_err2str(se));
        goto err;
    }

    uv_poll_init(loop, &src->poll, src->pipefd[0]);
    uv_idle_init(loop, &src->drain_idle);
    uv_timer_init(loop, &src->keepalive);
    src->poll.data = src->drain_idle.data = src->keepalive.data = src;
    src->open_handles = 3;
    uv_timer_start(&src->keepalive, keepalive_cb, 1000, 1000);
    uv_unref((uv_handle_t *)&src->keepalive);
    uv_poll_start(&src->poll, UV_READABLE, poll_cb);
    /* Anything queued before the pipe was armed would never trigger it: drain once. */
    uv_idle_start(&src->drain_idle, idle_cb);
    return src;
err:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (src) {
        if (src->queue)
            rd_kafka_queue_destroy(src->queue);
        if (src->rk)
            rd_kafka_destroy(src->rk);
        if (src->pipefd[0] >= 0)
            close(src->pipefd[0]);
        if (src->pipefd[1] >= 0)
            close(src->pipefd[1]);
        free(src->batch);
        free(src);
    }
    return NULL;
}

void vane_kafka_source_pause(vane_kafka_source_t *src, bool paused)
{
    if (src->paused == paused)
        return;
    src->paused = paused;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(src->rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        pause_list(src, parts, paused);
        rd_kafka_topic_partition_list_destroy(parts);
    }
    if (!paused && !src->closing)
        uv_idle_start(&src->drain_idle, idle_cb);
}

bool vane_kafka_source_paused(const vane_kafka_source_t *src)
{
    return src->paused;
}

int vane_kafka_source_assigned(const vane_kafka_source_t *src)
{
    return src->assigned;
}

int vane_kafka_source_store(vane_kafka_source_t *src, int32_t partition, int64_t next_offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, src->topic, partition)->offset = next_offset;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(src->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        VANE_LOG(VANE_LOG_DEBUG, "kafka", "store offset %d@%lld: %s", (int)partition,
                 (long long)next_offset, rd_kafka_err2str(err));
        return VANE_EKAFKA;
    }
    return VANE_OK;
}

int vane_kafka_source_commit(vane_kafka_source_t *src)
{
    rd_kafka_resp_err_t err = rd_kafka_commit(src->rk, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        VANE_LOG(VANE_LOG_WARN, "kafka", "commit: %s", rd_kafka_err2str(err));
        return VANE_EKAFKA;
    }
    return VANE_OK;
}

int64_t vane_kafka_source_lag(vane_kafka_source_t *src, int32_t partition, int64_t position)
{
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(src->rk, src->topic, partition, &lo, &hi) != 0 || hi < 0)
        return -1;
    if (position < 0)
        position = lo;
    return hi > position ? hi - position : 0;
}

rd_kafka_t *vane_kafka_source_handle(vane_kafka_source_t *src)
{
    return src->rk;
}

static void handle_closed(uv_handle_t *h)
{
    vane_kafka_source_t *src = h->data;
    if (--src->open_handles > 0)
        return;
    void (*done)(void *) = src->done;
    void *arg = src->done_arg;
    /* Only now: libuv must not see the descriptor reused while the poll handle is closing. */
    close(src->pipefd[0]);
    close(src->pipefd[1]);
    free(src->batch);
    free(src);
    if (done)
        done(arg);
}

void vane_kafka_source_close(vane_kafka_source_t *src, void (*done)(void *arg), void *arg)
{
    src->closing = true;
    src->done = done;
    src->done_arg = arg;
    uv_idle_stop(&src->drain_idle);
    uv_timer_stop(&src->keepalive);
    uv_poll_stop(&src->poll);
    /* consumer_close serves the queue itself (rebalance callbacks run with closing set, so a
     * revoke is released at once: the pipeline flushed and stored everything before). */
    rd_kafka_queue_io_event_enable(src->queue, -1, NULL, 0);
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(src->rk);
    if (err)
        VANE_LOG(VANE_LOG_WARN, "kafka", "consumer close: %s", rd_kafka_err2str(err));
    if (src->revoking) {
        rd_kafka_topic_partition_list_destroy(src->revoking);
        src->revoking = NULL;
    }
    rd_kafka_queue_destroy(src->queue);
    rd_kafka_destroy(src->rk);
    src->rk = NULL;
    uv_close((uv_handle_t *)&src->poll, handle_closed);
    uv_close((uv_handle_t *)&src->drain_idle, handle_closed);
    uv_close((uv_handle_t *)&src->keepalive, handle_closed);
}
