#include "alert_sink.h"

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vane_alert_sink {
    uv_loop_t *loop;
    rd_kafka_t *rk; /* owned producer */
    int pipefd[2];
    uv_poll_t poll;
    vane_format_t format;
    char alert_topic[256];
    char shadow_topic[256];
    char dlq_topic[256];
    vane_buf_t buf; /* reused encoding buffer */
    vane_alert_sink_delivered_cb on_delivered;
    vane_alert_sink_failed_cb on_failed;
    void *arg;
    bool fatal_reported;
    vane_alert_sink_stats_t stats;
    void (*done)(void *);
    void *done_arg;
};

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    VANE_LOG(vane_log_level_of_syslog(level), "kafka", "producer %s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    vane_alert_sink_t *sink = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof why);
        VANE_LOG(VANE_LOG_ERROR, "kafka", "fatal producer error: %s", why);
        /* The idempotent producer is unusable from here on: every produce fails. */
        if (!sink->fatal_reported && sink->on_failed) {
            sink->fatal_reported = true;
            sink->on_failed(sink->arg, 0, why);
        }
        return;
    }
    VANE_LOG(VANE_LOG_WARN, "kafka", "producer: %s: %s", rd_kafka_err2name(err), reason);
}

/* Produce with the queue-full case waited out: serving delivery reports frees room. */
static rd_kafka_resp_err_t produce(vane_alert_sink_t *sink, const char *topic, const void *key,
                                   size_t klen, const void *val, size_t vlen,
                                   rd_kafka_headers_t *hdrs, uint64_t tag)
{
    for (int attempt = 0;; attempt++) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            sink->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, klen),
            RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE((void *)(uintptr_t)tag), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt >= 1000)
            return err;
        if (attempt == 0)
            VANE_LOG(VANE_LOG_WARN, "kafka", "producer queue full; waiting for deliveries");
        rd_kafka_poll(sink->rk, 10);
    }
}

/* Delivery errors that producing the message again may cure: the cluster was unreachable or
 * busy past librdkafka's own retries. Any other (authorization, a message too large, an
 * unknown topic, a fatal idempotence error) fails the same way every time. */
static bool transient(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        return true;
    default:
        return false;
    }
}

/* A message that cannot be delivered. A dead letter is a diagnostic copy of input already
 * counted and logged: it is given up (logged with its source, counted) and reported delivered,
 * so it holds nothing back. An alert is the product: on_failed tells the caller, who must not
 * commit past it (the pipeline stops; a restart produces it again). */
static void undeliverable(vane_alert_sink_t *sink, const rd_kafka_message_t *m, uint64_t tag,
                          rd_kafka_resp_err_t err)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    sink->stats.outstanding--;
    if (sink->dlq_topic[0] && strcmp(topic, sink->dlq_topic) == 0) {
        sink->stats.dlq_failed++;
        VANE_LOG(VANE_LOG_ERROR, "kafka", "dead letter to %s given up: %s", topic,
                 rd_kafka_err2str(err));
        if (sink->on_delivered)
            sink->on_delivered(sink->arg, tag);
        return;
    }
    sink->stats.alerts_failed++;
    char why[320];
    snprintf(why, sizeof why, "alert to %s cannot be delivered: %s", topic, rd_kafka_err2str(err));
    VANE_LOG(VANE_LOG_ERROR, "kafka", "%s", why);
    if (sink->on_failed)
        sink->on_failed(sink->arg, tag, why);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    vane_alert_sink_t *sink = opaque;
    uint64_t tag = (uint64_t)(uintptr_t)m->_private;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        sink->stats.outstanding--;
        sink->stats.alerts_acked++;
        if (sink->on_delivered)
            sink->on_delivered(sink->arg, tag);
        return;
    }
    if (!transient(m->err)) {
        undeliverable(sink, m, tag, m->err);
        return;
    }
    /* librdkafka already retried; produce it again so nothing is dropped. */
    VANE_LOG(VANE_LOG_ERROR, "kafka", "delivery to %s failed: %s; producing again",
             rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    sink->stats.retries++;
    rd_kafka_headers_t *hdrs = NULL;
    const rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, (rd_kafka_headers_t **)&h) == RD_KAFKA_RESP_ERR_NO_ERROR && h)
        hdrs = rd_kafka_headers_copy(h);
    rd_kafka_resp_err_t err = produce(sink, rd_kafka_topic_name(m->rkt), m->key, m->key_len,
                                      m->payload, m->len, hdrs, tag);
    if (err) {
        rd_kafka_headers_destroy(hdrs);
        undeliverable(sink, m, tag, err);
    }
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    vane_alert_sink_t *sink = h->data;
    (void)events;
    if (status < 0)
        return;
    char buf[256];
    while (read(sink->pipefd[0], buf, sizeof buf) > 0) {
    }
    while (rd_kafka_poll(sink->rk, 0) > 0) {
    }
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

vane_alert_sink_t *vane_alert_sink_new(uv_loop_t *loop, const vane_alert_sink_opts_t *opts,
                                       vane_alert_sink_delivered_cb on_delivered,
                                       vane_alert_sink_failed_cb on_failed, void *arg, char *errbuf,
                                       size_t errlen)
{
    vane_alert_sink_t *sink = calloc(1, sizeof *sink);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!sink || !conf) {
        snprintf(errbuf, errlen, "out of memory");
        goto err;
    }
    sink->loop = loop;
    sink->pipefd[0] = sink->pipefd[1] = -1;
    sink->format = opts->format == VANE_FORMAT_PROTOBUF ? VANE_FORMAT_PROTOBUF : VANE_FORMAT_JSON;
    sink->on_delivered = on_delivered;
    sink->on_failed = on_failed;
    sink->arg = arg;
    snprintf(sink->alert_topic, sizeof sink->alert_topic, "%s", opts->alert_topic);
    snprintf(sink->shadow_topic, sizeof sink->shadow_topic, "%s",
             opts->shadow_topic ? opts->shadow_topic : "");
    snprintf(sink->dlq_topic, sizeof sink->dlq_topic, "%s", opts->dlq_topic ? opts->dlq_topic : "");

    char num[32];
    snprintf(num, sizeof num, "%d", opts->linger_ms >= 0 ? opts->linger_ms : 5);
    if (set_conf(conf, "bootstrap.servers", opts->brokers, errbuf, errlen) ||
        set_conf(conf, "enable.idempotence", "true", errbuf, errlen) ||
        set_conf(conf, "linger.ms", num, errbuf, errlen))
        goto err;
    /* A dead letter carries the input's bytes plus headers: room for the largest input. */
    if (opts->max_message_bytes > 1000000 - 65536) {
        snprintf(num, sizeof num, "%d", opts->max_message_bytes + 65536);
        if (set_conf(conf, "message.max.bytes", num, errbuf, errlen))
            goto err;
    }
    for (size_t i = 0; i < opts->nprops; i++) {
        if (set_conf(conf, opts->props[i].key, opts->props[i].value, errbuf, errlen))
            goto err;
    }
    rd_kafka_conf_set_opaque(conf, sink);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    char err[512];
    sink->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!sink->rk) {
        snprintf(errbuf, errlen, "kafka producer: %s", err);
        goto err;
    }
    conf = NULL;
    if (pipe2(sink->pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(errbuf, errlen, "pipe: %s", strerror(errno));
        goto err;
    }
    rd_kafka_queue_t *mq = rd_kafka_queue_get_main(sink->rk);
    rd_kafka_queue_io_event_enable(mq, sink->pipefd[1], "1", 1);
    rd_kafka_queue_destroy(mq);
    uv_poll_init(loop, &sink->poll, sink->pipefd[0]);
    sink->poll.data = sink;
    uv_poll_start(&sink->poll, UV_READABLE, poll_cb);
    return sink;
err:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (sink) {
        if (sink->rk)
            rd_kafka_destroy(sink->rk);
        if (sink->pipefd[0] >= 0)
            close(sink->pipefd[0]);
        if (sink->pipefd[1] >= 0)
            close(sink->pipefd[1]);
        free(sink);
    }
    return NULL;
}

int vane_alert_sink_alert(vane_alert_sink_t *sink, vane_alert_t *a, int64_t now_ms, uint64_t tag)
{
    if (a->detected_at_ms == 0)
        a->detected_at_ms = now_ms;
    const char *topic = a->shadow ? sink->shadow_topic : a->topic[0] ? a->topic : sink->alert_topic;
    if (!topic[0]) {
        sink->stats.shadow_sent++; /* shadow alerts with no shadow topic are only counted */
        return VANE_OK;
    }
    vane_buf_reset(&sink->buf);
    int rc = vane_codec_encode_alert(a, sink->format, &sink->buf);
    if (rc)
        return rc;
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(2);
    const char *kind = vane_alert_kind_name(a->kind);
    rd_kafka_header_add(hdrs, "alert-kind", -1, kind, -1);
    rd_kafka_header_add(
        hdrs, "content-type", -1,
        sink->format == VANE_FORMAT_PROTOBUF ? "application/x-protobuf" : "application/json", -1);
    rd_kafka_resp_err_t err = produce(sink, topic, a->customer_id, strlen(a->customer_id),
                                      sink->buf.data, sink->buf.len, hdrs, tag);
    if (err) {
        rd_kafka_headers_destroy(hdrs);
        sink->stats.alerts_failed++;
        VANE_LOG(VANE_LOG_ERROR, "kafka", "produce alert to %s: %s", topic, rd_kafka_err2str(err));
        return VANE_EKAFKA;
    }
    sink->stats.outstanding++;
    if (a->shadow)
        sink->stats.shadow_sent++;
    else
        sink->stats.alerts_sent++;
    return VANE_OK;
}

int vane_alert_sink_dlq(vane_alert_sink_t *sink, const rd_kafka_message_t *src,
                        const vane_decode_error_t *why, uint64_t tag)
{
    if (!sink->dlq_topic[0])
        return 0;
    rd_kafka_headers_t *hdrs = NULL;
    const rd_kafka_headers_t *orig = NULL;
    if (rd_kafka_message_headers(src, (rd_kafka_headers_t **)&orig) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        orig)
        hdrs = rd_kafka_headers_copy(orig);
    else
        hdrs = rd_kafka_headers_new(8);
    char num[32];
    rd_kafka_header_add(hdrs, "vane-reject-reason", -1, vane_reject_name(why->reason), -1);
    rd_kafka_header_add(hdrs, "vane-reject-field", -1, why->field, -1);
    rd_kafka_header_add(hdrs, "vane-reject-message", -1, why->msg, -1);
    rd_kafka_header_add(hdrs, "vane-source-topic", -1, rd_kafka_topic_name(src->rkt), -1);
    snprintf(num, sizeof num, "%d", (int)src->partition);
    rd_kafka_header_add(hdrs, "vane-source-partition", -1, num, -1);
    snprintf(num, sizeof num, "%lld", (long long)src->offset);
    rd_kafka_header_add(hdrs, "vane-source-offset", -1, num, -1);
    rd_kafka_resp_err_t err =
        produce(sink, sink->dlq_topic, src->key, src->key_len, src->payload, src->len, hdrs, tag);
    if (err) {
        rd_kafka_headers_destroy(hdrs);
        sink->stats.dlq_failed++;
        VANE_LOG(VANE_LOG_ERROR, "kafka", "dead letter of %s[%d]@%lld given up: %s",
                 rd_kafka_topic_name(src->rkt), (int)src->partition, (long long)src->offset,
                 rd_kafka_err2str(err));
        return VANE_EKAFKA;
    }
    sink->stats.outstanding++;
    sink->stats.dlq_sent++;
    return 1;
}

const vane_alert_sink_stats_t *vane_alert_sink_stats(const vane_alert_sink_t *sink)
{
    return &sink->stats;
}

static void closed_cb(uv_handle_t *h)
{
    vane_alert_sink_t *sink = h->data;
    void (*done)(void *) = sink->done;
    void *arg = sink->done_arg;
    /* Only now: libuv must not see the descriptor reused while the poll handle is closing. */
    close(sink->pipefd[0]);
    close(sink->pipefd[1]);
    vane_buf_free(&sink->buf);
    free(sink);
    if (done)
        done(arg);
}

void vane_alert_sink_close(vane_alert_sink_t *sink, int timeout_ms, void (*done)(void *arg),
                           void *arg)
{
    sink->done = done;
    sink->done_arg = arg;
    uv_poll_stop(&sink->poll);
    rd_kafka_resp_err_t err = rd_kafka_flush(sink->rk, timeout_ms);
    if (err)
        VANE_LOG(VANE_LOG_ERROR, "kafka", "%d message(s) not delivered at shutdown: %s",
                 rd_kafka_outq_len(sink->rk), rd_kafka_err2str(err));
    rd_kafka_queue_t *mq = rd_kafka_queue_get_main(sink->rk);
    rd_kafka_queue_io_event_enable(mq, -1, NULL, 0);
    rd_kafka_queue_destroy(mq);
    rd_kafka_destroy(sink->rk);
    sink->rk = NULL;
    uv_close((uv_handle_t *)&sink->poll, closed_cb);
}
