#include "state_store.h"

#include "core/metrics.h"
#include "io/reply.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/redis_url.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX  192
#define REQ_SLAB 512
/* hiredis 0.14 keeps unsent commands in one buffer (obuf) and, after every partial write,
 * moves the unsent rest to its front: a 20 MB pipeline written 200 KB at a time moves ~2 GB.
 * So commands wait in our own backlog (consumed by offset, no moves) and are handed to hiredis
 * only while its buffer holds less than this; the copy per write stays below OBUF_HIGH. */
#define OBUF_HIGH ((size_t)64 << 10)

/* One command in flight. Replies arrive in order, so requests form a FIFO. */
typedef struct req {
    struct req *next;
    vane_state_store_t *st;
    int kind; /* REQ_GET | REQ_SET | REQ_RAW | REQ_INTERNAL */
    union {
        vane_store_get_cb get;
        vane_store_set_cb set;
        vane_store_raw_cb raw;
    } cb;
    void *arg;
    uint64_t sent_ms; /* the loop's time (uv_now) when handed to hiredis: the watchdog's */
    uint64_t sent_ns; /* uv_hrtime then, for the round-trip figures; 0 when not sampled */
    size_t cmd_len;   /* bytes of its formatted command in the backlog */
} req_t;

enum { REQ_GET, REQ_SET, REQ_RAW, REQ_INTERNAL };

typedef struct req_slab {
    struct req_slab *next;
    req_t reqs[REQ_SLAB];
} req_slab_t;

/* vane's hiredis event adapter: one per connection, freed in its poll handle's close_cb. */
typedef struct adapter {
    uv_poll_t poll;
    redisAsyncContext *ac; /* NULL once hiredis called cleanup */
    vane_state_store_t *st;
    int events; /* UV_READABLE | UV_WRITABLE currently armed */
} adapter_t;

struct vane_state_store {
    uv_loop_t *loop;
    redisAsyncContext *ac; /* current connection; NULL when none */
    bool up;               /* connected, authenticated, answered PING */
    bool connected;        /* the current context finished connecting */
    uint64_t connect_started_ns;
    int connect_timeout_ms;
    bool closing;
    int backoff_ms;
    int reconnect_max_ms;
    int command_timeout_ms;
    uv_timer_t reconnect_timer;
    uv_timer_t watchdog;
    int open_handles;     /* timers + adapters still to be closed, + a name lookup in flight */
    uv_getaddrinfo_t gai; /* resolving url.host off the loop (hiredis would block on it) */
    void (*done)(void *arg);
    void *done_arg;
    vane_store_state_cb on_state;
    void *state_arg;
    vane_redis_url_t url;      /* where and as whom (user/password overridden by the options) */
    bool refused;              /* this connection's AUTH or SELECT was refused: it must not go up */
    uint64_t close_started_ms; /* uv_now when close() was called */
    bool watchdog_closed;
    char prefix[64];
    char ttl[24]; /* the state SETs' PX argument; "" = no expiry */
    size_t ttl_len;
    req_t *fifo_head, *fifo_tail; /* in-flight requests, oldest first */
    req_t *bl_head, *bl_tail;     /* backlog: formatted, not yet handed to hiredis */
    vane_buf_t bl;                /* the backlog's commands (RESP), consumed from bl_off */
    size_t bl_off;
    bool disconnect_when_sent; /* close() waits for the backlog to reach hiredis */
    req_t *free_reqs;
    req_slab_t *slabs;
    vane_state_store_stats_t stats;
    vane_histogram_t *rtt_hist; /* borrowed, may be NULL */
    uint32_t rtt_tick;          /* commands enqueued (wraps): picks the timed ones */
};

/* ---------------------------------------------------------------------------------------
 * Adapter: arm the poll handle only when the wanted events change.
 * ------------------------------------------------------------------------------------- */

static void pump(vane_state_store_t *st);

static void adapter_poll_cb(uv_poll_t *h, int status, int events)
{
    adapter_t *a = h->data;
    if (!a->ac)
        return;
    if (status < 0) {
        /* libuv stopped the handle on POLLERR (a refused connect, a reset connection): let
         * hiredis see the socket error, so its connect or disconnect callback runs now instead
         * of the failure going unnoticed until the watchdog. */
        a->events = 0;
        redisAsyncHandleRead(a->ac);
        return;
    }
    if (events & UV_READABLE)
        redisAsyncHandleRead(a->ac);
    if (a->ac && (events & UV_WRITABLE)) {
        a->st->stats.writes++;
        redisAsyncHandleWrite(a->ac);
        if (a->ac)
            pump(a->st);
    }
}

static void adapter_set(adapter_t *a, int events)
{
    if (events == a->events)
        return;
    a->events = events;
    if (events)
        uv_poll_start(&a->poll, events, adapter_poll_cb);
    else
        uv_poll_stop(&a->poll);
}

static void adapter_add_read(void *p)
{
    adapter_t *a = p;
    adapter_set(a, a->events | UV_READABLE);
}
static void adapter_del_read(void *p)
{
    adapter_t *a = p;
    adapter_set(a, a->events & ~UV_READABLE);
}
static void adapter_add_write(void *p)
{
    adapter_t *a = p;
    adapter_set(a, a->events | UV_WRITABLE);
}
static void adapter_del_write(void *p)
{
    adapter_t *a = p;
    adapter_set(a, a->events & ~UV_WRITABLE);
}

static void maybe_finish_close(vane_state_store_t *st);

static void adapter_closed(uv_handle_t *h)
{
    adapter_t *a = h->data;
    vane_state_store_t *st = a->st;
    free(a);
    st->open_handles--;
    maybe_finish_close(st);
}

static void adapter_cleanup(void *p)
{
    adapter_t *a = p;
    a->ac = NULL;
    uv_close((uv_handle_t *)&a->poll, adapter_closed);
}

static int adapter_attach(vane_state_store_t *st, redisAsyncContext *ac)
{
    adapter_t *a = calloc(1, sizeof *a);
    if (!a)
        return VANE_ENOMEM;
    if (uv_poll_init(st->loop, &a->poll, ac->c.fd) != 0) {
        free(a);
        return VANE_EREDIS;
    }
    a->poll.data = a;
    a->ac = ac;
    a->st = st;
    st->open_handles++;
    ac->ev.data = a;
    ac->ev.addRead = adapter_add_read;
    ac->ev.delRead = adapter_del_read;
    ac->ev.addWrite = adapter_add_write;
    ac->ev.delWrite = adapter_del_write;
    ac->ev.cleanup = adapter_cleanup;
    return VANE_OK;
}

/* ---------------------------------------------------------------------------------------
 * Requests
 * ------------------------------------------------------------------------------------- */

static req_t *req_alloc(vane_state_store_t *st)
{
    if (!st->free_reqs) {
        req_slab_t *s = malloc(sizeof *s);
        if (!s)
            return NULL;
        s->next = st->slabs;
        st->slabs = s;
        for (int i = REQ_SLAB - 1; i >= 0; i--) {
            s->reqs[i].next = st->free_reqs;
            st->free_reqs = &s->reqs[i];
        }
    }
    req_t *r = st->free_reqs;
    st->free_reqs = r->next;
    r->next = NULL;
    r->st = st;
    return r;
}

/* One command in RTT_SAMPLE is timed for the round-trip figures: a clock read at both ends
 * of every command was ~1.5% of the loop's time in the bench's throughput run. */
#define RTT_SAMPLE 8

static void req_enqueue(vane_state_store_t *st, req_t *r)
{
    r->sent_ms = uv_now(st->loop);
    r->sent_ns = (st->rtt_tick++ % RTT_SAMPLE) == 0 ? uv_hrtime() : 0;
    r->next = NULL;
    if (st->fifo_tail)
        st->fifo_tail->next = r;
    else
        st->fifo_head = r;
    st->fifo_tail = r;
}

/* Replies come in order: the answered request is the FIFO head. */
static void req_dequeue(vane_state_store_t *st, req_t *r)
{
    VANE_ASSERT(st->fifo_head == r);
    st->fifo_head = r->next;
    if (!st->fifo_head)
        st->fifo_tail = NULL;
    st->stats.inflight--;
    r->next = st->free_reqs;
    st->free_reqs = r;
}

/* Write "<c><n>\r\n" at p; returns the end. */
static char *put_header(char *p, char c, size_t n)
{
    *p++ = c;
    p += vane_buf_fmt_i64(p, (int64_t)n); /* lengths and counts: far below INT64_MAX */
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* Append argv as one RESP command to the backlog. 0 or VANE_ENOMEM (backlog unchanged). */
static int format_command(vane_buf_t *b, int argc, const char **argv, const size_t *lens)
{
    size_t need = 16;
    for (int i = 0; i < argc; i++)
        need += lens[i] + 24;
    if (vane_buf_reserve(b, need) != VANE_OK)
        return VANE_ENOMEM;
    char *p = b->data + b->len;
    p = put_header(p, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        p = put_header(p, '$', lens[i]);
        memcpy(p, argv[i], lens[i]);
        p += lens[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    b->len = (size_t)(p - b->data);
    *p = '\0'; /* hiredis parses the command's name with strchr: keep the backlog a C string */
    return VANE_OK;
}

static void on_reply(redisAsyncContext *ac, void *reply_, void *privdata);

/* Hand backlog commands to hiredis while its output buffer is short. A command hiredis
 * refuses (the context is going away) stays queued; fail_backlog() answers it. */
static void pump(vane_state_store_t *st)
{
    while (st->bl_head && st->ac && sdslen(st->ac->c.obuf) < OBUF_HIGH) {
        req_t *r = st->bl_head;
        if (redisAsyncFormattedCommand(st->ac, on_reply, r, st->bl.data + st->bl_off, r->cmd_len) !=
            REDIS_OK)
            return;
        st->bl_off += r->cmd_len;
        st->bl_head = r->next;
        if (!st->bl_head)
            st->bl_tail = NULL;
        req_enqueue(st, r);
    }
    if (!st->bl_head) {
        vane_buf_reset(&st->bl);
        st->bl_off = 0;
        if (st->disconnect_when_sent && st->ac) {
            st->disconnect_when_sent = false;
            redisAsyncDisconnect(st->ac); /* pending replies first, then on_disconnect */
        }
    } else if (st->bl_off > ((size_t)1 << 20) && st->bl_off * 2 > st->bl.len) {
        /* Compact now and then so a backlog that never quite empties cannot grow forever. */
        memmove(st->bl.data, st->bl.data + st->bl_off, st->bl.len - st->bl_off);
        st->bl.len -= st->bl_off;
        st->bl_off = 0;
    }
}

/* Queue one command (argv copied into the backlog) and try to hand it to hiredis at once. */
static int issue(vane_state_store_t *st, req_t *r, int argc, const char **argv, const size_t *lens)
{
    size_t before = st->bl.len;
    if (format_command(&st->bl, argc, argv, lens) != VANE_OK) {
        r->next = st->free_reqs;
        st->free_reqs = r;
        return VANE_ENOMEM;
    }
    r->cmd_len = st->bl.len - before;
    r->next = NULL;
    if (st->bl_tail)
        st->bl_tail->next = r;
    else
        st->bl_head = r;
    st->bl_tail = r;
    st->stats.inflight++;
    pump(st);
    return VANE_OK;
}

static void call_failed(int kind, __typeof__(((req_t *)0)->cb) cb, void *arg)
{
    switch (kind) {
    case REQ_GET:
        cb.get(arg, VANE_EREDIS, NULL, 0);
        break;
    case REQ_SET:
        cb.set(arg, VANE_EREDIS);
        break;
    default:
        cb.raw(arg, VANE_EREDIS, NULL);
        break;
    }
}

/* The connection is gone: answer every backlog command with VANE_EREDIS, oldest first.
 * Callbacks may issue commands; the store is down by then, so those are refused. */
static void fail_backlog(vane_state_store_t *st)
{
    while (st->bl_head) {
        req_t *r = st->bl_head;
        st->bl_head = r->next;
        if (!st->bl_head)
            st->bl_tail = NULL;
        int kind = r->kind;
        void *arg = r->arg;
        __typeof__(r->cb) cb = r->cb;
        st->stats.inflight--;
        st->stats.errors++;
        r->next = st->free_reqs;
        st->free_reqs = r;
        call_failed(kind, cb, arg);
    }
    vane_buf_reset(&st->bl);
    st->bl_off = 0;
}

static void set_up(vane_state_store_t *st, bool up, const char *why)
{
    if (st->up == up)
        return;
    st->up = up;
    if (st->on_state)
        st->on_state(st->state_arg, up, why);
}

static void on_reply(redisAsyncContext *ac, void *reply_, void *privdata)
{
    (void)ac;
    req_t *r = privdata;
    vane_state_store_t *st = r->st;
    redisReply *reply = reply_;
    int status = VANE_OK;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        status = VANE_EREDIS;
        st->stats.errors++;
        if (reply)
            VANE_LOG(VANE_LOG_ERROR, "redis", "command failed: %s", reply->str);
        /* -READONLY: this connection leads to a replica now (a failover demoted the server
         * without closing its clients). Reconnect: an address that moves with the failover (a
         * virtual IP, a DNS name) then leads to the new primary. */
        if (reply && reply->str && strncmp(reply->str, "READONLY", 8) == 0 && st->ac &&
            !(st->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING))) {
            VANE_LOG(VANE_LOG_WARN, "redis", "the server is a read-only replica; reconnecting");
            redisAsyncDisconnect(st->ac);
        }
    } else if (r->sent_ns) {
        double rtt = (double)(uv_hrtime() - r->sent_ns) / 1e9;
        st->stats.rtt_sum_s += rtt;
        st->stats.rtt_count++;
        if (st->rtt_hist)
            vane_histogram_observe(st->rtt_hist, rtt);
    }
    /* Copy what we need and recycle the request before calling out: the callback may issue
     * new commands. */
    int kind = r->kind;
    void *arg = r->arg;
    __typeof__(r->cb) cb = r->cb;
    req_dequeue(st, r);
    switch (kind) {
    case REQ_GET:
        if (status == VANE_OK && reply->type == REDIS_REPLY_STRING)
            cb.get(arg, VANE_OK, reply->str, (size_t)reply->len);
        else if (status == VANE_OK && reply->type == REDIS_REPLY_NIL)
            cb.get(arg, VANE_OK, NULL, 0);
        else
            cb.get(arg, status ? status : VANE_EREDIS, NULL, 0);
        break;
    case REQ_SET:
        cb.set(arg, status);
        break;
    case REQ_RAW:
        cb.raw(arg, status, status == VANE_OK ? reply : NULL);
        break;
    case REQ_INTERNAL: /* the reply also on an error reply: NULL only when the link failed */
        cb.raw(arg, status, reply);
        break;
    }
}

/* ---------------------------------------------------------------------------------------
 * Connection management
 * ------------------------------------------------------------------------------------- */

static void schedule_reconnect(vane_state_store_t *st);

/* The first reconnect delay: 100 ms, or the ceiling when that is lower. */
static int backoff_min(const vane_state_store_t *st)
{
    return st->reconnect_max_ms < 100 ? st->reconnect_max_ms : 100;
}

static void on_ping(void *arg, int status, void *reply)
{
    vane_state_store_t *st = arg;
    bool dropping = !st->ac || (st->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING));
    if (status != VANE_OK) {
        /* A lost connection (reply NULL) reaches on_disconnect on its own. A refused PING on
         * a live one (-LOADING while a restarted Redis replays its AOF, -NOAUTH, ...) does
         * not: drop it and retry after the backoff, or the store would stay down on a healthy
         * socket. */
        if (reply && !dropping) {
            VANE_LOG(VANE_LOG_WARN, "redis", "server not ready (PING refused); reconnecting");
            redisAsyncDisconnect(st->ac);
        }
        return;
    }
    /* A PING answered after a refused AUTH or SELECT (Redis without a password answers AUTH
     * with -ERR, then PING with +PONG) must not mark the store up: the connection is being
     * dropped, and the backoff must keep growing rather than restart at 100 ms. */
    if (st->refused || dropping)
        return;
    st->backoff_ms = backoff_min(st);
    if (st->url.unix_path[0])
        VANE_LOG(VANE_LOG_INFO, "redis", "connected to %s (db %d)", st->url.unix_path, st->url.db);
    else
        VANE_LOG(VANE_LOG_INFO, "redis", "connected to %s:%d (db %d)", st->url.host, st->url.port,
                 st->url.db);
    set_up(st, true, "connected");
}

/* AUTH or SELECT refused: the connection is no use; drop it and retry after the backoff. */
static void refused(vane_state_store_t *st, void *reply, const char *what, const char *check)
{
    const redisReply *r = reply;
    st->refused = true;
    VANE_LOG(VANE_LOG_ERROR, "redis", "%s refused (%s); check %s", what,
             r && r->type == REDIS_REPLY_ERROR && r->str ? r->str : "no reply", check);
    if (st->ac && !(st->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING)))
        redisAsyncDisconnect(st->ac);
}

static void on_auth(void *arg, int status, void *reply)
{
    if (status != VANE_OK)
        refused(arg, reply, "authentication", "redis.user / redis.password");
}

static void on_select(void *arg, int status, void *reply)
{
    if (status != VANE_OK)
        refused(arg, reply, "SELECT of the database", "the /db of redis.url");
}

static int issue_internal(vane_state_store_t *st, int argc, const char **argv, const size_t *lens,
                          vane_store_raw_cb cb)
{
    req_t *r = req_alloc(st);
    if (!r)
        return VANE_ENOMEM;
    r->kind = REQ_INTERNAL;
    r->cb.raw = cb;
    r->arg = st;
    return issue(st, r, argc, argv, lens);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    vane_state_store_t *st = ac->data;
    st->connected = status == REDIS_OK;
    if (status != REDIS_OK) {
        VANE_LOG(VANE_LOG_WARN, "redis", "connect failed: %s; retrying in %d ms", ac->errstr,
                 st->backoff_ms);
        st->ac = NULL; /* hiredis frees the context after this callback */
        schedule_reconnect(st);
        return;
    }
    /* AUTH (when configured), SELECT (db other than 0) and PING are pipelined; the PING reply
     * marks the store up unless one of the others was refused. */
    const vane_redis_url_t *u = &st->url;
    if (u->password[0]) {
        const char *argv[3] = {"AUTH", u->user, u->password};
        size_t lens[3] = {4, strlen(u->user), strlen(u->password)};
        if (u->user[0])
            issue_internal(st, 3, argv, lens, on_auth);
        else {
            argv[1] = u->password;
            lens[1] = lens[2];
            issue_internal(st, 2, argv, lens, on_auth);
        }
    }
    if (u->db != 0) {
        char db[16];
        int n = snprintf(db, sizeof db, "%d", u->db);
        const char *argv[2] = {"SELECT", db};
        size_t lens[2] = {6, (size_t)n};
        issue_internal(st, 2, argv, lens, on_select);
    }
    const char *ping[1] = {"PING"};
    size_t plen[1] = {4};
    issue_internal(st, 1, ping, plen, on_ping);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    vane_state_store_t *st = ac->data;
    st->ac = NULL;
    st->disconnect_when_sent = false;
    if (st->closing) {
        set_up(st, false, "closed");
        fail_backlog(st);
        maybe_finish_close(st);
        return;
    }
    const char *why = status == REDIS_OK ? "disconnected" : (ac->errstr[0] ? ac->errstr : "error");
    VANE_LOG(VANE_LOG_WARN, "redis", "connection lost: %s; reconnecting", why);
    set_up(st, false, why);
    fail_backlog(st);
    schedule_reconnect(st);
}

/* Connect to the unix socket, or to ip (a numeric address: hiredis resolves names with a
 * blocking getaddrinfo, which would stall the whole loop while DNS is slow). */
static void connect_to(vane_state_store_t *st, const char *ip)
{
    redisAsyncContext *ac = st->url.unix_path[0] ? redisAsyncConnectUnix(st->url.unix_path)
                                                 : redisAsyncConnect(ip, st->url.port);
    if (!ac) {
        schedule_reconnect(st);
        return;
    }
    if (ac->err) {
        VANE_LOG(VANE_LOG_WARN, "redis", "connect failed: %s; retrying in %d ms", ac->errstr,
                 st->backoff_ms);
        redisAsyncFree(ac);
        schedule_reconnect(st);
        return;
    }
    ac->data = st;
    ac->c.reader->fn = vane_reply_functions(); /* +OK and nil without an allocation */
    if (adapter_attach(st, ac) != VANE_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(st);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    st->ac = ac;
    st->connected = false;
    st->refused = false;
    st->connect_started_ns = uv_hrtime();
}

static void resolve_failed(vane_state_store_t *st, const char *why)
{
    VANE_LOG(VANE_LOG_WARN, "redis", "cannot resolve %s: %s; retrying in %d ms", st->url.host, why,
             st->backoff_ms);
    schedule_reconnect(st);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    vane_state_store_t *st = req->data;
    st->open_handles--;
    if (st->closing) {
        uv_freeaddrinfo(res);
        maybe_finish_close(st);
        return;
    }
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *a = status == 0 ? res : NULL; a; a = a->ai_next)
        if (!pick || (a->ai_family == AF_INET && pick->ai_family != AF_INET))
            pick = a; /* the first address, IPv4 preferred (Redis mostly listens there) */
    char ip[INET6_ADDRSTRLEN] = "";
    if (pick && pick->ai_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)(const void *)pick->ai_addr, ip, sizeof ip);
    else if (pick && pick->ai_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)(const void *)pick->ai_addr, ip, sizeof ip);
    uv_freeaddrinfo(res);
    if (!ip[0]) {
        resolve_failed(st, status ? uv_strerror(status) : "no address");
        return;
    }
    connect_to(st, ip);
}

static void do_connect(vane_state_store_t *st)
{
    unsigned char addr[sizeof(struct in6_addr)];
    if (st->url.unix_path[0] || inet_pton(AF_INET, st->url.host, addr) == 1 ||
        inet_pton(AF_INET6, st->url.host, addr) == 1) {
        connect_to(st, st->url.host);
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    st->gai.data = st;
    int rc = uv_getaddrinfo(st->loop, &st->gai, on_resolved, st->url.host, NULL, &hints);
    if (rc != 0) {
        resolve_failed(st, uv_strerror(rc));
        return;
    }
    st->open_handles++; /* close() waits for the lookup (cancelled) to report */
}

static void reconnect_cb(uv_timer_t *t)
{
    vane_state_store_t *st = t->data;
    st->stats.reconnects++;
    do_connect(st);
}

static void schedule_reconnect(vane_state_store_t *st)
{
    if (st->closing)
        return;
    uv_timer_start(&st->reconnect_timer, reconnect_cb, (uint64_t)st->backoff_ms, 0);
    st->backoff_ms *= 2;
    if (st->backoff_ms > st->reconnect_max_ms)
        st->backoff_ms = st->reconnect_max_ms;
}

/* A hung Redis (e.g. stopped with SIGSTOP) answers nothing: drop the connection so callers
 * see the failure and the partitions pause, instead of waiting forever. */
static void watchdog_cb(uv_timer_t *t)
{
    vane_state_store_t *st = t->data;
    if (st->ac && !st->connected &&
        (uv_hrtime() - st->connect_started_ns) / 1000000u > (uint64_t)st->connect_timeout_ms) {
        /* A connect to a frozen host can hang: give up on it and retry. hiredis calls no
         * disconnect callback for a context that never connected, so reschedule here. */
        VANE_LOG(VANE_LOG_WARN, "redis", "connect timed out after %d ms; retrying",
                 st->connect_timeout_ms);
        redisAsyncContext *ac = st->ac;
        st->ac = NULL;
        redisAsyncFree(ac);
        schedule_reconnect(st);
        return;
    }
    if (st->closing) {
        /* close() lets replies in flight arrive, for a while: a frozen Redis must not hold
         * the shutdown until the command timeout, or forever for a backlog it never reads. */
        uint64_t waited = uv_now(st->loop) - st->close_started_ms;
        int wait = st->command_timeout_ms < VANE_STATE_STORE_CLOSE_WAIT_MS
                       ? st->command_timeout_ms
                       : VANE_STATE_STORE_CLOSE_WAIT_MS;
        if (st->ac && (st->fifo_head || st->bl_head) && waited > (uint64_t)wait) {
            VANE_LOG(VANE_LOG_WARN, "redis",
                     "closing: %llu command(s) still unanswered after %llu ms; dropping the "
                     "connection",
                     (unsigned long long)st->stats.inflight, (unsigned long long)waited);
            redisAsyncFree(st->ac); /* pending callbacks with NULL, then on_disconnect */
        }
        return;
    }
    if (!st->ac || !st->fifo_head)
        return;
    uint64_t now = uv_now(st->loop), sent = st->fifo_head->sent_ms;
    uint64_t age_ms = now > sent ? now - sent : 0;
    if (age_ms > (uint64_t)st->command_timeout_ms) {
        VANE_LOG(VANE_LOG_WARN, "redis", "no reply for %llu ms; dropping the connection",
                 (unsigned long long)age_ms);
        redisAsyncContext *ac = st->ac;
        redisAsyncFree(ac); /* runs pending callbacks with NULL, then on_disconnect */
    }
}

vane_state_store_t *vane_state_store_new(uv_loop_t *loop, const vane_state_store_opts_t *opts,
                                         vane_store_state_cb on_state, void *state_arg,
                                         char *errbuf, size_t errlen)
{
    vane_state_store_t *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    st->loop = loop;
    st->on_state = on_state;
    st->state_arg = state_arg;
    st->reconnect_max_ms = opts->reconnect_max_ms > 0 ? opts->reconnect_max_ms : 5000;
    st->backoff_ms = backoff_min(st);
    st->command_timeout_ms = opts->command_timeout_ms > 0 ? opts->command_timeout_ms : 5000;
    st->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 2000;
    snprintf(st->prefix, sizeof st->prefix, "%s",
             opts->prefix && *opts->prefix ? opts->prefix : "vane");
    char why[200];
    if (vane_redis_url_parse(opts->url, &st->url, why, sizeof why) != VANE_OK) {
        snprintf(errbuf, errlen, "redis.url: %s", why);
        free(st);
        return NULL;
    }
    if (opts->state_ttl_ms > 0)
        st->ttl_len = vane_buf_fmt_i64(st->ttl, opts->state_ttl_ms);
    if (opts->user && *opts->user)
        snprintf(st->url.user, sizeof st->url.user, "%s", opts->user);
    if (opts->password && *opts->password)
        snprintf(st->url.password, sizeof st->url.password, "%s", opts->password);
    uv_timer_init(loop, &st->reconnect_timer);
    uv_timer_init(loop, &st->watchdog);
    st->reconnect_timer.data = st->watchdog.data = st;
    st->open_handles = 2;
    uv_timer_start(&st->watchdog, watchdog_cb, 250, 250);
    uv_unref((uv_handle_t *)&st->watchdog);
    do_connect(st);
    return st;
}

size_t vane_state_store_key(const vane_state_store_t *st, const char *id, char *buf, size_t cap)
{
    size_t plen = strlen(st->prefix), ilen = strlen(id);
    if (plen + ilen + 5 >= cap) { /* rare: truncate like snprintf would */
        int n = snprintf(buf, cap, "%s:{%s}:s", st->prefix, id);
        return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    }
    char *p = buf;
    memcpy(p, st->prefix, plen);
    p += plen;
    *p++ = ':';
    *p++ = '{';
    memcpy(p, id, ilen);
    p += ilen;
    memcpy(p, "}:s", 4); /* NUL included */
    return plen + ilen + 5;
}

int vane_state_store_get(vane_state_store_t *st, const char *id, vane_store_get_cb cb, void *arg)
{
    if (!st->up || !st->ac)
        return VANE_EAGAIN;
    req_t *r = req_alloc(st);
    if (!r)
        return VANE_ENOMEM;
    char key[KEY_MAX];
    size_t klen = vane_state_store_key(st, id, key, sizeof key);
    const char *argv[2] = {"GET", key};
    size_t lens[2] = {3, klen};
    r->kind = REQ_GET;
    r->cb.get = cb;
    r->arg = arg;
    int rc = issue(st, r, 2, argv, lens);
    if (rc == VANE_OK)
        st->stats.gets++;
    return rc;
}

int vane_state_store_set(vane_state_store_t *st, const char *id, const void *bytes, size_t len,
                         vane_store_set_cb cb, void *arg)
{
    if (!st->up || !st->ac)
        return VANE_EAGAIN;
    req_t *r = req_alloc(st);
    if (!r)
        return VANE_ENOMEM;
    char key[KEY_MAX];
    size_t klen = vane_state_store_key(st, id, key, sizeof key);
    const char *argv[5] = {"SET", key, bytes, "PX", st->ttl};
    size_t lens[5] = {3, klen, len, 2, st->ttl_len};
    r->kind = REQ_SET;
    r->cb.set = cb;
    r->arg = arg;
    int rc = issue(st, r, st->ttl_len ? 5 : 3, argv, lens);
    if (rc == VANE_OK)
        st->stats.sets++;
    return rc;
}

int vane_state_store_command(vane_state_store_t *st, int argc, const char **argv,
                             const size_t *argvlen, vane_store_raw_cb cb, void *arg)
{
    if (!st->up || !st->ac)
        return VANE_EAGAIN;
    req_t *r = req_alloc(st);
    if (!r)
        return VANE_ENOMEM;
    r->kind = REQ_RAW;
    r->cb.raw = cb;
    r->arg = arg;
    return issue(st, r, argc, argv, argvlen);
}

void vane_state_store_set_rtt_histogram(vane_state_store_t *st, struct vane_histogram *h)
{
    st->rtt_hist = h;
}

bool vane_state_store_up(const vane_state_store_t *st)
{
    return st->up;
}

size_t vane_state_store_unsent_bytes(const vane_state_store_t *st)
{
    return st->bl.len - st->bl_off + (st->ac ? sdslen(st->ac->c.obuf) : 0);
}

const vane_state_store_stats_t *vane_state_store_stats(const vane_state_store_t *st)
{
    return &st->stats;
}

static void timer_closed(uv_handle_t *h)
{
    vane_state_store_t *st = h->data;
    st->open_handles--;
    maybe_finish_close(st);
}

static void maybe_finish_close(vane_state_store_t *st)
{
    if (!st->closing || st->ac)
        return;
    if (!st->watchdog_closed) { /* it bounded the wait for the last replies (watchdog_cb) */
        st->watchdog_closed = true;
        uv_timer_stop(&st->watchdog);
        uv_close((uv_handle_t *)&st->watchdog, timer_closed);
    }
    if (st->open_handles > 0)
        return;
    void (*done)(void *) = st->done;
    void *arg = st->done_arg;
    for (req_slab_t *s = st->slabs, *n; s; s = n) {
        n = s->next;
        free(s);
    }
    vane_buf_free(&st->bl);
    free(st);
    if (done)
        done(arg);
}

void vane_state_store_close(vane_state_store_t *st, void (*done)(void *arg), void *arg)
{
    if (!st) {
        if (done)
            done(arg);
        return;
    }
    st->closing = true;
    st->close_started_ms = uv_now(st->loop);
    st->done = done;
    st->done_arg = arg;
    uv_timer_stop(&st->reconnect_timer);
    uv_close((uv_handle_t *)&st->reconnect_timer, timer_closed);
    uv_cancel((uv_req_t *)&st->gai); /* a name lookup in flight reports to on_resolved */
    if (st->ac && st->connected && st->bl_head) {
        st->disconnect_when_sent = true; /* pump() disconnects once hiredis has them all */
    } else if (st->ac && st->connected) {
        redisAsyncDisconnect(st->ac); /* pending replies first, then on_disconnect */
    } else if (st->ac) {
        /* Still connecting: hiredis calls no disconnect callback for it; free it here. */
        redisAsyncContext *ac = st->ac;
        st->ac = NULL;
        redisAsyncFree(ac);
    }
    /* Closes the watchdog once no connection is left (st is freed only from a handle's close
     * callback, on a later loop turn, so it is still valid here). */
    maybe_finish_close(st);
}
