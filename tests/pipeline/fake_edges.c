/* fake_edges.c - see fake_edges.h. Definitions of the io/ functions pipeline.c calls, with
 * their contracts kept where the pipeline relies on them: callbacks never run inside the call
 * that issued the command, closing a store fails what is still pending, close functions call
 * their done callback. */
#include "fake_edges.h"

#include "io/alert_sink.h"
#include "io/http.h"
#include "io/kafka_source.h"
#include "io/state_store.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CMDS 4096

typedef struct fake_cmd {
    int store;   /* FAKE_WSTORE | FAKE_RSTORE */
    int kind;    /* FAKE_GET | FAKE_SET | FAKE_RAW */
    char id[72]; /* GET/SET: the customer id; RAW: argv[0] (ZADD, ZREM, ZRANGEBYSCORE) */
    bool pending;
} fake_cmd_t;

typedef struct cmd_rec {
    fake_cmd_t cmd; /* what was issued */
    vane_store_get_cb get_cb;
    vane_store_set_cb set_cb;
    vane_store_raw_cb raw_cb;
    void *arg;
} cmd_rec_t;

struct vane_state_store {
    int which;
    vane_store_state_cb on_state;
    void *state_arg;
    bool up;
    vane_state_store_stats_t stats;
};

struct vane_kafka_source {
    vane_kafka_source_hooks_t hooks;
    void *arg;
    uv_timer_t driver;
    bool paused;
    int assigned;
};

struct vane_alert_sink {
    vane_alert_sink_stats_t stats;
    vane_alert_sink_delivered_cb on_delivered;
    void *arg;
    uint64_t tags[256]; /* produced, not yet acknowledged */
    size_t ntags;
};

static struct {
    cmd_rec_t cmds[MAX_CMDS];
    int ncmds;
    vane_state_store_t stores[2];
    int nstores;
    vane_kafka_source_t src;
    vane_alert_sink_t sink;
    fake_counts_t counts;
    void (*step)(int64_t ms);
    uint64_t t0;
} F;

void fake_reset(void)
{
    memset(&F, 0, sizeof F);
}

void fake_set_driver(void (*step)(int64_t ms))
{
    F.step = step;
}

const fake_counts_t *fake_counts(void)
{
    F.counts.paused = F.src.paused;
    return &F.counts;
}

/* ---- Redis ------------------------------------------------------------------------------ */

vane_state_store_t *vane_state_store_new(uv_loop_t *loop, const vane_state_store_opts_t *opts,
                                         vane_store_state_cb on_state, void *state_arg,
                                         char *errbuf, size_t errlen)
{
    (void)loop, (void)opts;
    if (F.nstores == 2) {
        snprintf(errbuf, errlen, "fake: a third state store");
        return NULL;
    }
    vane_state_store_t *st = &F.stores[F.nstores];
    *st = (vane_state_store_t){.which = F.nstores++, .on_state = on_state, .state_arg = state_arg};
    return st;
}

void fake_stores_up(bool up)
{
    for (int i = 0; i < F.nstores; i++) {
        F.stores[i].up = up;
        if (F.stores[i].on_state)
            F.stores[i].on_state(F.stores[i].state_arg, up, up ? NULL : "fake: down");
    }
}

/* Record a command of kind for id (or argv[0]) issued with arg; NULL when the store is down. */
static cmd_rec_t *add_cmd(vane_state_store_t *st, int kind, const char *id, size_t idlen, void *arg)
{
    if (!st->up || F.ncmds == MAX_CMDS)
        return NULL;
    cmd_rec_t *c = &F.cmds[F.ncmds++];
    memset(c, 0, sizeof *c);
    c->cmd.store = st->which;
    c->cmd.kind = kind;
    c->cmd.pending = true;
    if (idlen >= sizeof c->cmd.id)
        idlen = sizeof c->cmd.id - 1;
    memcpy(c->cmd.id, id, idlen);
    c->arg = arg;
    st->stats.inflight++;
    st->stats.gets += kind == FAKE_GET;
    st->stats.sets += kind == FAKE_SET;
    F.counts.gets += kind == FAKE_GET;
    F.counts.sets += kind == FAKE_SET;
    F.counts.raws += kind == FAKE_RAW;
    return c;
}

int vane_state_store_get(vane_state_store_t *st, const char *id, vane_store_get_cb cb, void *arg)
{
    cmd_rec_t *c = add_cmd(st, FAKE_GET, id, strlen(id), arg);
    if (!c)
        return VANE_EAGAIN;
    c->get_cb = cb;
    return VANE_OK;
}

int vane_state_store_set(vane_state_store_t *st, const char *id, const void *bytes, size_t len,
                         vane_store_set_cb cb, void *arg)
{
    (void)bytes, (void)len;
    cmd_rec_t *c = add_cmd(st, FAKE_SET, id, strlen(id), arg);
    if (!c)
        return VANE_EAGAIN;
    c->set_cb = cb;
    return VANE_OK;
}

int vane_state_store_command(vane_state_store_t *st, int argc, const char **argv,
                             const size_t *argvlen, vane_store_raw_cb cb, void *arg)
{
    (void)argc;
    cmd_rec_t *c = add_cmd(st, FAKE_RAW, argv[0], argvlen[0], arg);
    if (!c)
        return VANE_EAGAIN;
    c->raw_cb = cb;
    return VANE_OK;
}

int fake_find(int store, int kind, const char *id)
{
    for (int i = 0; i < F.ncmds; i++) {
        const fake_cmd_t *c = &F.cmds[i].cmd;
        if (c->pending && c->store == store && c->kind == kind && (!id || strcmp(c->id, id) == 0))
            return i;
    }
    return -1;
}

int fake_issued(int kind, const char *id)
{
    int n = 0;
    for (int i = 0; i < F.ncmds; i++)
        n += F.cmds[i].cmd.kind == kind && (!id || strcmp(F.cmds[i].cmd.id, id) == 0);
    return n;
}

static cmd_rec_t *take(int i)
{
    cmd_rec_t *c = &F.cmds[i];
    c->cmd.pending = false;
    F.stores[c->cmd.store].stats.inflight--;
    return c;
}

void fake_reply_get(int i, int status, const void *bytes, size_t len)
{
    cmd_rec_t *c = take(i);
    c->get_cb(c->arg, status, bytes, len);
}

void fake_reply_set(int i, int status)
{
    cmd_rec_t *c = take(i);
    c->set_cb(c->arg, status);
}

void fake_reply_raw(int i, int status, const char *const *ids, size_t n)
{
    cmd_rec_t *c = take(i);
    redisReply one = {.type = REDIS_REPLY_INTEGER, .integer = 1};
    redisReply items[16], *elems[16];
    if (n > 16)
        n = 16;
    redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = n, .element = elems};
    for (size_t k = 0; k < n; k++) {
        items[k] =
            (redisReply){.type = REDIS_REPLY_STRING, .str = (char *)ids[k], .len = strlen(ids[k])};
        elems[k] = &items[k];
    }
    c->raw_cb(c->arg, status, status == VANE_OK ? (ids ? &arr : &one) : NULL);
}

/* Answer pending command i with status and no data (GET: no such key; RAW: integer 1). */
static void reply_plain(int i, int status)
{
    if (F.cmds[i].cmd.kind == FAKE_GET)
        fake_reply_get(i, status, NULL, 0);
    else if (F.cmds[i].cmd.kind == FAKE_SET)
        fake_reply_set(i, status);
    else
        fake_reply_raw(i, status, NULL, 0);
}

int fake_reply_writes(int status)
{
    int n = 0, issued = F.ncmds; /* not those the replies make the pipeline issue */
    for (int i = 0; i < issued; i++) {
        if (!F.cmds[i].cmd.pending || F.cmds[i].cmd.kind == FAKE_GET ||
            strcmp(F.cmds[i].cmd.id, "ZRANGEBYSCORE") == 0)
            continue;
        reply_plain(i, status);
        n++;
    }
    return n;
}

int fake_reply_scans(void)
{
    static const char *const none[1] = {""};
    int n = 0, i;
    while ((i = fake_find(FAKE_WSTORE, FAKE_RAW, "ZRANGEBYSCORE")) >= 0) {
        fake_reply_raw(i, VANE_OK, none, 0);
        n++;
    }
    return n;
}

void vane_state_store_set_rtt_histogram(vane_state_store_t *st, struct vane_histogram *h)
{
    (void)st, (void)h;
}

bool vane_state_store_up(const vane_state_store_t *st)
{
    return st->up;
}

const vane_state_store_stats_t *vane_state_store_stats(const vane_state_store_t *st)
{
    return &st->stats;
}

size_t vane_state_store_unsent_bytes(const vane_state_store_t *st)
{
    (void)st;
    return 0;
}

size_t vane_state_store_key(const vane_state_store_t *st, const char *id, char *buf, size_t cap)
{
    (void)st;
    int n = snprintf(buf, cap, "t:{%s}:s", id);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

void vane_state_store_close(vane_state_store_t *st, void (*done)(void *arg), void *arg)
{
    st->up = false;
    for (int i = 0; i < F.ncmds; i++) {
        if (F.cmds[i].cmd.pending && F.cmds[i].cmd.store == st->which)
            reply_plain(i, VANE_EREDIS);
    }
    if (done)
        done(arg);
}

/* ---- Kafka consumer ---------------------------------------------------------------------- */

static void on_driver(uv_timer_t *t)
{
    (void)t;
    uint64_t now = uv_now(t->loop);
    if (!F.t0)
        F.t0 = now;
    if (F.step)
        F.step((int64_t)(now - F.t0));
}

vane_kafka_source_t *vane_kafka_source_new(uv_loop_t *loop, const vane_kafka_source_opts_t *opts,
                                           const vane_kafka_source_hooks_t *hooks, void *arg,
                                           char *errbuf, size_t errlen)
{
    (void)opts, (void)errbuf, (void)errlen;
    F.src.hooks = *hooks;
    F.src.arg = arg;
    uv_timer_init(loop, &F.src.driver);
    uv_timer_start(&F.src.driver, on_driver, 1, 1);
    return &F.src;
}

void vane_kafka_source_pause(vane_kafka_source_t *src, bool paused)
{
    src->paused = paused;
}

bool vane_kafka_source_paused(const vane_kafka_source_t *src)
{
    return src->paused;
}

int vane_kafka_source_assigned(const vane_kafka_source_t *src)
{
    return src->assigned;
}

void vane_kafka_source_revoke_done(vane_kafka_source_t *src)
{
    (void)src;
    F.counts.revoke_done++;
}

int vane_kafka_source_store(vane_kafka_source_t *src, int32_t partition, int64_t next_offset)
{
    (void)src, (void)partition, (void)next_offset;
    return VANE_OK;
}

int vane_kafka_source_commit(vane_kafka_source_t *src)
{
    (void)src;
    F.counts.commits++;
    return VANE_OK;
}

int64_t vane_kafka_source_lag(vane_kafka_source_t *src, int32_t partition, int64_t position)
{
    (void)src, (void)partition, (void)position;
    return -1;
}

rd_kafka_t *vane_kafka_source_handle(vane_kafka_source_t *src)
{
    (void)src;
    return NULL;
}

void vane_kafka_source_close(vane_kafka_source_t *src, void (*done)(void *arg), void *arg)
{
    uv_close((uv_handle_t *)&src->driver, NULL);
    if (done)
        done(arg);
}

static void partition_list(rd_kafka_topic_partition_list_t *l, rd_kafka_topic_partition_t *el,
                           const int32_t *parts, int n)
{
    memset(el, 0, sizeof *el * (size_t)n);
    for (int i = 0; i < n; i++) {
        el[i].topic = (char *)"bank.events";
        el[i].partition = parts[i];
    }
    *l = (rd_kafka_topic_partition_list_t){.cnt = n, .size = n, .elems = el};
}

void fake_assign(const int32_t *parts, int n)
{
    rd_kafka_topic_partition_t el[16];
    rd_kafka_topic_partition_list_t l;
    partition_list(&l, el, parts, n);
    F.src.assigned += n;
    F.src.hooks.on_assign(F.src.arg, &l);
}

void fake_revoke(const int32_t *parts, int n, bool lost)
{
    rd_kafka_topic_partition_t el[16];
    rd_kafka_topic_partition_list_t l;
    partition_list(&l, el, parts, n);
    F.src.assigned -= n;
    F.src.hooks.on_revoke(F.src.arg, &l, lost);
}

void fake_deliver(int32_t p, int64_t off, const char *json)
{
    rd_kafka_message_t *m = calloc(1, sizeof *m);
    size_t len = strlen(json);
    char *payload = malloc(len + 1);
    if (!m || !payload)
        abort();
    memcpy(payload, json, len + 1);
    m->partition = p;
    m->offset = off;
    m->payload = payload;
    m->len = len;
    F.counts.msgs_live++;
    F.src.hooks.on_batch(F.src.arg, &m, 1);
}

/* The librdkafka message functions pipeline.c calls, for the messages made above. */
void rd_kafka_message_destroy(rd_kafka_message_t *m)
{
    F.counts.msgs_live--;
    free(m->payload);
    free(m);
}

rd_kafka_resp_err_t rd_kafka_message_headers(const rd_kafka_message_t *m,
                                             rd_kafka_headers_t **hdrsp)
{
    (void)m;
    *hdrsp = NULL;
    return RD_KAFKA_RESP_ERR__NOENT;
}

rd_kafka_resp_err_t rd_kafka_header_get_last(const rd_kafka_headers_t *hdrs, const char *name,
                                             const void **valuep, size_t *sizep)
{
    (void)hdrs, (void)name, (void)valuep, (void)sizep;
    return RD_KAFKA_RESP_ERR__NOENT;
}

int64_t rd_kafka_message_timestamp(const rd_kafka_message_t *m, rd_kafka_timestamp_type_t *tstype)
{
    (void)m;
    if (tstype)
        *tstype = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    return -1;
}

const char *rd_kafka_topic_name(const rd_kafka_topic_t *rkt)
{
    (void)rkt;
    return "bank.events";
}

/* ---- Alert sink -------------------------------------------------------------------------- */

vane_alert_sink_t *vane_alert_sink_new(uv_loop_t *loop, const vane_alert_sink_opts_t *opts,
                                       vane_alert_sink_delivered_cb on_delivered,
                                       vane_alert_sink_failed_cb on_failed, void *arg, char *errbuf,
                                       size_t errlen)
{
    (void)loop, (void)opts, (void)on_failed, (void)errbuf, (void)errlen;
    F.sink.on_delivered = on_delivered;
    F.sink.arg = arg;
    return &F.sink;
}

/* Alerts are counted and acknowledged only by fake_ack_alerts. */
int vane_alert_sink_alert(vane_alert_sink_t *sink, vane_alert_t *a, int64_t now_ms, uint64_t tag)
{
    (void)a, (void)now_ms;
    if (sink->ntags == sizeof sink->tags / sizeof sink->tags[0])
        return VANE_ENOMEM;
    sink->tags[sink->ntags++] = tag;
    sink->stats.alerts_sent++;
    sink->stats.outstanding++;
    F.counts.alerts++;
    return VANE_OK;
}

int vane_alert_sink_dlq(vane_alert_sink_t *sink, const rd_kafka_message_t *src,
                        const vane_decode_error_t *why, uint64_t tag)
{
    (void)sink, (void)src, (void)why, (void)tag;
    F.counts.dlq++;
    return 0; /* no dead-letter topic */
}

int fake_ack_alerts(void)
{
    vane_alert_sink_t *sink = &F.sink;
    int n = (int)sink->ntags;
    for (int i = 0; i < n; i++) {
        sink->stats.alerts_acked++;
        sink->stats.outstanding--;
        sink->on_delivered(sink->arg, sink->tags[i]);
    }
    sink->ntags = 0;
    return n;
}

const vane_alert_sink_stats_t *vane_alert_sink_stats(const vane_alert_sink_t *sink)
{
    return &sink->stats;
}

void vane_alert_sink_close(vane_alert_sink_t *sink, int timeout_ms, void (*done)(void *arg),
                           void *arg)
{
    (void)sink, (void)timeout_ms;
    if (done)
        done(arg);
}

/* ---- HTTP (the tests run with http_listen NULL: only the calls made regardless) ---------- */

vane_http_t *vane_http_start(uv_loop_t *loop, const vane_http_opts_t *opts, char *errbuf,
                             size_t errlen)
{
    (void)loop, (void)opts;
    snprintf(errbuf, errlen, "fake: no http");
    return NULL;
}

int vane_http_port(const vane_http_t *http)
{
    (void)http;
    return 0;
}

int vane_http_publish_metrics(vane_http_t *http, const vane_metrics_t *reg, vane_buf_t *scratch)
{
    (void)http, (void)reg, (void)scratch;
    return VANE_OK;
}

void vane_http_set_ready(vane_http_t *http, bool ready, const char *reason)
{
    (void)http, (void)ready, (void)reason;
}

void vane_http_stop(vane_http_t *http)
{
    (void)http;
}
