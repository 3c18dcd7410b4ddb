/* Unit tests for daemon/io/state_store.c against a scripted Redis: a libuv TCP server in this
 * process on an ephemeral 127.0.0.1 port, which parses RESP commands and answers each from
 * the test's script. It covers what a real redis-server does only by timing: a restarted Redis
 * that answers -LOADING while it replays its AOF, and error replies on a live connection. */
#include <dlfcn.h>
#include <netdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "io/state_store.h"
#include "util/err.h"
#include "util/log.h"

/* --- a slow name lookup ------------------------------------------------------------------ */

/* SLOW_HOST resolves to 127.0.0.1 after SLOW_LOOKUP_MS, like a name whose DNS server is slow.
 * This definition interposes on the C library's for the whole process (libuv's thread pool
 * included); every other name goes to the real getaddrinfo. */
#define SLOW_HOST      "slow-lookup.vane.test"
#define SLOW_LOOKUP_MS 1000

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    if (!real)
        return EAI_FAIL;
    if (node && strcmp(node, SLOW_HOST) == 0) {
        uv_sleep(SLOW_LOOKUP_MS);
        node = "127.0.0.1";
    }
    return real(node, service, hints, res);
}

/* --- the scripted server --------------------------------------------------------------- */

typedef struct fake fake_t;

typedef struct fconn {
    uv_tcp_t tcp;
    fake_t *fake;
    int index;         /* 0 for the first accepted connection */
    char in[8192 + 1]; /* NUL-terminated after every read (strtol stops there) */
    size_t in_len;
    bool pinged; /* this connection has seen a PING */
} fconn_t;

struct fake {
    uv_tcp_t server;
    int port;
    int accepted;
    int loading_conns; /* the first this many connections answer PING with -LOADING */
    bool require_auth; /* AUTH fails (-WRONGPASS), PING answers -NOAUTH */
    int pings, loading_sent, auths, gets, sets;
    int closed_by_peer;  /* connections the store closed (EOF seen) */
    bool fail_sets;      /* answer SET with -ERR */
    bool no_password;    /* AUTH -ERR as from a Redis without a password; PING still +PONG */
    bool mute_gets;      /* never answer GET (a frozen Redis) */
    bool readonly_first; /* the first connection answers SET with -READONLY (a demoted primary) */
    int selects;         /* SELECT commands, all answered +OK */
    long selected_db;    /* the last SELECT's argument */
    bool select_before_ping; /* a SELECT came before the connection's first PING */
};

static void fconn_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    fconn_t *c = h->data;
    buf->base = c->in + c->in_len;
    buf->len = sizeof c->in - 1 - c->in_len;
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void reply(fconn_t *c, const char *text)
{
    size_t n = strlen(text);
    uv_write_t *w = malloc(sizeof *w + n);
    assert_non_null(w);
    memcpy(w + 1, text, n);
    uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)n);
    assert_int_equal(uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written), 0);
}

/* Parse one "*N\r\n$len\r\narg\r\n..." command at p (len bytes). Returns the bytes it takes,
 * 0 when incomplete; *name gets the first argument (not terminated), *name_len its length. */
static size_t parse_command(const char *p, size_t len, const char **name, size_t *name_len)
{
    const char *end = p + len, *q = p;
    const char *nl = len ? memchr(q, '\n', len) : NULL;
    if (!nl)
        return 0;
    if (*q != '*')
        fail_msg("fake redis: expected a RESP array, got '%c'", *q);
    long argc = strtol(q + 1, NULL, 10);
    q = nl + 1;
    for (long i = 0; i < argc; i++) {
        nl = q < end ? memchr(q, '\n', (size_t)(end - q)) : NULL;
        if (!nl)
            return 0;
        if (*q != '$')
            fail_msg("fake redis: expected a bulk string, got '%c'", *q);
        long n = strtol(q + 1, NULL, 10);
        q = nl + 1;
        if (n < 0 || end - q < n + 2)
            return 0;
        if (i == 0) {
            *name = q;
            *name_len = (size_t)n;
        }
        q += n + 2;
    }
    return (size_t)(q - p);
}

static bool is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    fconn_t *c = s->data;
    if (n < 0) {
        if (n == UV_EOF)
            c->fake->closed_by_peer++;
        uv_close((uv_handle_t *)s, fconn_closed);
        return;
    }
    c->in_len += (size_t)n;
    c->in[c->in_len] = '\0';
    size_t off = 0, used;
    const char *name = NULL;
    size_t name_len = 0;
    while ((used = parse_command(c->in + off, c->in_len - off, &name, &name_len)) > 0) {
        fake_t *f = c->fake;
        if (is(name, name_len, "AUTH")) {
            f->auths++;
            reply(c, f->no_password
                         ? "-ERR AUTH <password> called without any password configured for "
                           "the default user. Are you sure your configuration is correct?\r\n"
                         : "-WRONGPASS invalid username-password pair\r\n");
        } else if (is(name, name_len, "SELECT")) {
            const char *arg = strchr(name + name_len + 2, '\n'); /* past "$<len>\r" */
            f->selects++;
            f->selected_db = arg ? strtol(arg + 1, NULL, 10) : -1;
            f->select_before_ping = !c->pinged;
            reply(c, "+OK\r\n");
        } else if (is(name, name_len, "PING")) {
            f->pings++;
            c->pinged = true;
            if (f->require_auth && !f->no_password) {
                reply(c, "-NOAUTH Authentication required.\r\n");
            } else if (c->index < f->loading_conns) {
                f->loading_sent++;
                reply(c, "-LOADING Redis is loading the dataset in memory\r\n");
            } else {
                reply(c, "+PONG\r\n");
            }
        } else if (is(name, name_len, "GET")) {
            f->gets++;
            if (!f->mute_gets)
                reply(c, "$-1\r\n");
        } else if (is(name, name_len, "SET")) {
            f->sets++;
            reply(c, f->readonly_first && c->index == 0
                         ? "-READONLY You can't write against a read only replica.\r\n"
                     : f->fail_sets ? "-ERR scripted failure\r\n"
                                    : "+OK\r\n");
        } else {
            reply(c, "-ERR unknown command\r\n");
        }
        off += used;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
}

static void on_connection(uv_stream_t *server, int status)
{
    assert_int_equal(status, 0);
    fake_t *f = server->data;
    fconn_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->fake = f;
    c->index = f->accepted++;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&c->tcp), 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void fake_start(uv_loop_t *loop, fake_t *f)
{
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    assert_int_equal(uv_tcp_init(loop, &f->server), 0);
    f->server.data = f;
    assert_int_equal(uv_tcp_bind(&f->server, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&f->server, 16, on_connection), 0);
    struct sockaddr_in bound;
    int len = sizeof bound;
    assert_int_equal(uv_tcp_getsockname(&f->server, (struct sockaddr *)&bound, &len), 0);
    f->port = ntohs(bound.sin_port);
}

/* Close a server-side connection the store's close left open (only those remain by then). */
static void close_conn(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h) && h->type == UV_TCP)
        uv_close(h, fconn_closed);
}

/* --- the store under test -------------------------------------------------------------- */

typedef struct run {
    uv_loop_t loop;
    uv_timer_t deadline;
    fake_t fake;
    vane_state_store_t *st;
    int ups, downs;
    int get_status, set_status;
    int get_calls, set_calls;
    bool get_was_nil;
    bool timed_out;
    bool closed;
} run_t;

static void on_state(void *arg, bool up, const char *why)
{
    (void)why;
    run_t *r = arg;
    if (up) {
        r->ups++;
        uv_stop(&r->loop);
    } else {
        r->downs++;
    }
}

static void on_deadline(uv_timer_t *t)
{
    run_t *r = t->data;
    r->timed_out = true;
    uv_stop(&r->loop);
}

static void run_start_url(run_t *r, int loading_conns, const char *password, const char *host,
                          const char *path)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(uv_loop_init(&r->loop), 0);
    r->fake.loading_conns = loading_conns;
    r->fake.require_auth = password != NULL;
    fake_start(&r->loop, &r->fake);
    uv_timer_init(&r->loop, &r->deadline);
    r->deadline.data = r;
    char url[64];
    snprintf(url, sizeof url, "redis://%s:%d%s", host, r->fake.port, path);
    vane_state_store_opts_t o = {.url = url,
                                 .prefix = "t",
                                 .reconnect_max_ms = 200,
                                 .command_timeout_ms = 5000,
                                 .connect_timeout_ms = 2000,
                                 .password = password};
    char err[256];
    r->st = vane_state_store_new(&r->loop, &o, on_state, r, err, sizeof err);
    assert_non_null(r->st);
}

static void run_start_opts(run_t *r, int loading_conns, const char *password)
{
    run_start_url(r, loading_conns, password, "127.0.0.1", "");
}

static void run_start(run_t *r, int loading_conns)
{
    run_start_opts(r, loading_conns, NULL);
}

/* Run the loop until something calls uv_stop, or fail after timeout_ms. */
static void run_until_stopped(run_t *r, uint64_t timeout_ms, const char *what)
{
    r->timed_out = false;
    uv_timer_start(&r->deadline, on_deadline, timeout_ms, 0);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_timer_stop(&r->deadline);
    if (r->timed_out)
        fail_msg("timed out after %llu ms waiting for %s", (unsigned long long)timeout_ms, what);
}

static void on_closed(void *arg)
{
    run_t *r = arg;
    r->closed = true;
}

/* After the store closed: close the test's own handles and the loop. */
static void run_teardown(run_t *r)
{
    uv_close((uv_handle_t *)&r->deadline, NULL);
    uv_close((uv_handle_t *)&r->fake.server, NULL);
    uv_run(&r->loop, UV_RUN_NOWAIT); /* connections close on EOF */
    uv_walk(&r->loop, close_conn, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&r->loop), 0);
}

static void run_finish(run_t *r)
{
    vane_state_store_close(r->st, on_closed, r);
    /* The server's connections see EOF and close themselves; close the rest. */
    for (int i = 0; i < 50 && !r->closed; i++)
        uv_run(&r->loop, UV_RUN_NOWAIT);
    assert_true(r->closed);
    run_teardown(r);
}

static void on_get(void *arg, int status, const char *bytes, size_t len)
{
    (void)len;
    run_t *r = arg;
    r->get_calls++;
    r->get_status = status;
    r->get_was_nil = bytes == NULL;
    uv_stop(&r->loop);
}

static void on_set(void *arg, int status)
{
    run_t *r = arg;
    r->set_calls++;
    r->set_status = status;
    uv_stop(&r->loop);
}

/* A plain healthy server: the store comes up on the first connection and GET answers nil. */
static void test_store_up_and_get(void **state)
{
    (void)state;
    run_t r;
    run_start(&r, 0);
    run_until_stopped(&r, 5000, "the store to come up");
    assert_int_equal(r.ups, 1);
    assert_int_equal(r.fake.accepted, 1);
    assert_true(vane_state_store_up(r.st));
    assert_int_equal(vane_state_store_get(r.st, "C1", on_get, &r), VANE_OK);
    assert_int_equal(r.get_calls, 0); /* never inside the issuing call */
    run_until_stopped(&r, 5000, "the GET reply");
    assert_int_equal(r.get_calls, 1);
    assert_int_equal(r.get_status, VANE_OK);
    assert_true(r.get_was_nil);
    run_finish(&r);
}

/* A Redis that is still loading its dataset answers PING with -LOADING on a live socket. The
 * store must not sit on that connection forever: it reconnects after its backoff until a PING
 * succeeds (the CI failure of 2026-12-04: vane stayed paused after Redis came back). */
static void test_store_retries_while_loading(void **state)
{
    (void)state;
    run_t r;
    run_start(&r, 2);
    run_until_stopped(&r, 10000, "the store to come up after two -LOADING answers");
    assert_int_equal(r.fake.loading_sent, 2);
    assert_int_equal(r.fake.accepted, 3);
    assert_int_equal(r.ups, 1);
    assert_true(vane_state_store_up(r.st));
    assert_true(vane_state_store_stats(r.st)->reconnects >= 2);
    assert_int_equal(r.fake.closed_by_peer, 2); /* the store closed both refusing links */
    assert_int_equal(vane_state_store_get(r.st, "C1", on_get, &r), VANE_OK);
    run_until_stopped(&r, 5000, "the GET reply");
    assert_int_equal(r.get_status, VANE_OK);
    run_finish(&r);
}

/* An error reply to one command fails that command only: the store stays up and the next
 * command on the same connection works. */
static void test_store_error_reply_fails_one_command(void **state)
{
    (void)state;
    run_t r;
    run_start(&r, 0);
    run_until_stopped(&r, 5000, "the store to come up");
    r.fake.fail_sets = true;
    assert_int_equal(vane_state_store_set(r.st, "C1", "abc", 3, on_set, &r), VANE_OK);
    run_until_stopped(&r, 5000, "the SET reply");
    assert_int_equal(r.set_calls, 1);
    assert_int_equal(r.set_status, VANE_EREDIS);
    assert_true(vane_state_store_up(r.st));
    assert_int_equal(vane_state_store_stats(r.st)->errors, 1);
    r.fake.fail_sets = false;
    assert_int_equal(vane_state_store_set(r.st, "C1", "abc", 3, on_set, &r), VANE_OK);
    run_until_stopped(&r, 5000, "the second SET reply");
    assert_int_equal(r.set_status, VANE_OK);
    assert_int_equal(r.fake.accepted, 1);
    assert_int_equal(r.downs, 0);
    run_finish(&r);
}

/* A primary demoted to a replica without closing its clients answers writes with -READONLY.
 * The store fails that write and reconnects (an address that moved with the failover then
 * leads to the new primary; here the next connection accepts writes). */
static void test_store_readonly_reconnects(void **state)
{
    (void)state;
    run_t r;
    run_start(&r, 0);
    r.fake.readonly_first = true;
    run_until_stopped(&r, 5000, "the store to come up");
    assert_int_equal(vane_state_store_set(r.st, "C1", "abc", 3, on_set, &r), VANE_OK);
    run_until_stopped(&r, 5000, "the SET reply");
    assert_int_equal(r.set_status, VANE_EREDIS);
    run_until_stopped(&r, 5000, "the store to come up again on a new connection");
    assert_int_equal(r.fake.accepted, 2);
    assert_int_equal(r.ups, 2);
    assert_int_equal(r.downs, 1);
    assert_int_equal(vane_state_store_set(r.st, "C1", "abc", 3, on_set, &r), VANE_OK);
    run_until_stopped(&r, 5000, "the second SET reply");
    assert_int_equal(r.set_status, VANE_OK);
    run_finish(&r);
}

/* Wrong credentials: AUTH is refused and the pipelined PING answers -NOAUTH. The store stays
 * down, refuses commands, and keeps retrying with its backoff (it neither crashes nor sits on
 * the refused link). */
static void test_store_auth_refused(void **state)
{
    (void)state;
    run_t r;
    run_start_opts(&r, 0, "wrong");
    uv_timer_start(&r.deadline, on_deadline, 2000, 0);
    uv_run(&r.loop, UV_RUN_DEFAULT); /* only the deadline stops it: the store never comes up */
    assert_true(r.timed_out);
    assert_int_equal(r.ups, 0);
    assert_false(vane_state_store_up(r.st));
    assert_int_equal(vane_state_store_get(r.st, "C1", on_get, &r), VANE_EAGAIN);
    assert_true(r.fake.accepted >= 3); /* backoff 100, 200, 200, ... ms: ~9 tries in 2 s */
    assert_int_equal(r.fake.auths, r.fake.accepted);
    assert_true(r.fake.closed_by_peer >= r.fake.accepted - 1);
    run_finish(&r);
}

/* AUTH refused with -ERR by a Redis that has no password, PING then answered +PONG: the store
 * must stay down and back off, not go up on the PONG and flap up/down every 100 ms. */
static void test_store_auth_refused_ping_ok(void **state)
{
    (void)state;
    run_t r;
    run_start_opts(&r, 0, "pw");
    r.fake.no_password = true;
    uv_timer_start(&r.deadline, on_deadline, 2000, 0);
    uv_run(&r.loop, UV_RUN_DEFAULT); /* on_state stops it on an "up": there must be none */
    assert_true(r.timed_out);
    assert_int_equal(r.ups, 0);
    assert_int_equal(r.downs, 0);
    assert_false(vane_state_store_up(r.st));
    assert_true(r.fake.accepted >= 3);
    assert_true(r.fake.pings >= r.fake.accepted - 1); /* the PINGs were answered +PONG */
    run_finish(&r);
}

/* redis://host:port/3 selects database 3 on the connection, before the PING that marks it up. */
static void test_store_selects_db(void **state)
{
    (void)state;
    run_t r;
    run_start_url(&r, 0, NULL, "127.0.0.1", "/3");
    run_until_stopped(&r, 5000, "the store to come up");
    assert_int_equal(r.fake.selects, 1);
    assert_int_equal(r.fake.selected_db, 3);
    assert_true(r.fake.select_before_ping);
    run_finish(&r);
    run_start(&r, 0); /* db 0: no SELECT at all */
    run_until_stopped(&r, 5000, "the store to come up");
    assert_int_equal(r.fake.selects, 0);
    run_finish(&r);
}

/* A host name is resolved off the loop (uv_getaddrinfo; hiredis would block the loop on it)
 * and its IPv4 address preferred: "localhost" reaches the server on 127.0.0.1. (A name that
 * does not resolve is not tested: without a DNS server the lookup's time is the resolver's.) */
static void test_store_resolves_names(void **state)
{
    (void)state;
    run_t r;
    run_start_url(&r, 0, NULL, "localhost", "");
    run_until_stopped(&r, 5000, "the store to come up through localhost");
    assert_int_equal(r.ups, 1);
    assert_int_equal(r.fake.accepted, 1);
    run_finish(&r);
}

static int ticks;

static void on_tick(uv_timer_t *t)
{
    (void)t;
    ticks++;
}

/* The lookup does not block the loop: while SLOW_HOST takes SLOW_LOOKUP_MS to resolve, a 10 ms
 * timer on the same loop keeps firing. (hiredis resolves with a blocking getaddrinfo on the
 * calling thread: through it the timer would fire about once.) */
static void test_store_slow_lookup_keeps_loop_running(void **state)
{
    (void)state;
    run_t r;
    uint64_t t0 = uv_hrtime();
    run_start_url(&r, 0, NULL, SLOW_HOST, "");
    uv_timer_t tick;
    uv_timer_init(&r.loop, &tick);
    ticks = 0;
    uv_timer_start(&tick, on_tick, 10, 10);
    run_until_stopped(&r, 5000, "the store to come up through a slow lookup");
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    uv_close((uv_handle_t *)&tick, NULL);
    assert_int_equal(r.ups, 1);
    assert_true(ms >= SLOW_LOOKUP_MS - 50); /* the slow lookup did happen */
    if (ticks < 20)
        fail_msg("the loop stood still during the lookup: %d ticks of 10 ms in %.0f ms", ticks, ms);
    run_finish(&r);
}

/* close() with a GET that a frozen Redis never answers: the GET fails and the store closes
 * within VANE_STATE_STORE_CLOSE_WAIT_MS (and a watchdog tick), not after the command timeout,
 * nor never. */
static void test_store_close_does_not_wait_for_frozen_redis(void **state)
{
    (void)state;
    run_t r;
    run_start(&r, 0);
    run_until_stopped(&r, 5000, "the store to come up");
    r.fake.mute_gets = true;
    assert_int_equal(vane_state_store_get(r.st, "C1", on_get, &r), VANE_OK);
    for (int i = 0; i < 20 && r.fake.gets == 0; i++)
        uv_run(&r.loop, UV_RUN_NOWAIT);
    assert_int_equal(r.fake.gets, 1);
    uint64_t t0 = uv_hrtime();
    vane_state_store_close(r.st, on_closed, &r);
    uv_timer_start(&r.deadline, on_deadline, 4000, 0); /* the command timeout is 5 s */
    while (!r.closed && !r.timed_out)
        uv_run(&r.loop, UV_RUN_ONCE);
    assert_true(r.closed);
    double ms = (double)(uv_hrtime() - t0) / 1e6;
    assert_true(ms >= VANE_STATE_STORE_CLOSE_WAIT_MS - 50);
    assert_int_equal(r.get_calls, 1);
    assert_int_equal(r.get_status, VANE_EREDIS);
    run_teardown(&r);
}

int main(void)
{
    vane_log_setup(VANE_LOG_OFF, VANE_LOG_FORMAT_TEXT, 0); /* quiet: the failures are scripted */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_up_and_get),
        cmocka_unit_test(test_store_retries_while_loading),
        cmocka_unit_test(test_store_error_reply_fails_one_command),
        cmocka_unit_test(test_store_auth_refused),
        cmocka_unit_test(test_store_readonly_reconnects),
        cmocka_unit_test(test_store_auth_refused_ping_ok),
        cmocka_unit_test(test_store_selects_db),
        cmocka_unit_test(test_store_resolves_names),
        cmocka_unit_test(test_store_slow_lookup_keeps_loop_running),
        cmocka_unit_test(test_store_close_does_not_wait_for_frozen_redis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
