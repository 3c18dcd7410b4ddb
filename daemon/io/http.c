/* http.c - the operations endpoint on libmicrohttpd (see http.h for the threading contract).
 *
 * Two threads touch vane_http_t: the loop thread (publish, set_ready, the reload async
 * callback, start/stop) and MHD's connection threads (handle). Everything they share sits
 * under `mu`; the metrics snapshot is reference counted so the lock is held only to take or
 * swap a pointer.
 */
#include "http.h"

#include "util/err.h"
#include "util/log.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* An immutable /metrics body shared by the loop and any number of responses in flight. */
typedef struct snapshot {
    atomic_int refs;
    size_t len;
    char data[];
} snapshot_t;

struct vane_http {
    uv_async_t async; /* reload trigger; first member, so the handle is the struct */
    struct MHD_Daemon *mhd;
    int port;
    vane_http_reload_fn reload;
    void *reload_arg;
    int64_t reload_timeout_ms;
    int64_t stall_ms;

    pthread_mutex_t mu;    /* guards everything below */
    pthread_cond_t cv;     /* reload_done changed, or stopping */
    snapshot_t *metrics;   /* latest, one reference held here; NULL before the first */
    int64_t metrics_at_ms; /* monotonic time of the last publish */
    bool ready;
    char reason[256];
    uint64_t reload_req;      /* requests made */
    uint64_t reload_done;     /* requests answered (all <= this value) */
    int reload_rc;            /* outcome of the last reload */
    vane_buf_t reload_report; /* its report */
    bool stopping;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void snapshot_unref(void *cls)
{
    snapshot_t *s = cls;
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        free(s);
}

/*-----------------------------------------------------------------------------------------
 * Responses (connection threads)
 *---------------------------------------------------------------------------------------*/

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *text,
                             size_t len, const char *ctype)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            ctype ? ctype : "text/plain; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_str(struct MHD_Connection *conn, unsigned status, const char *text)
{
    return reply(conn, status, text, strlen(text), NULL);
}

static enum MHD_Result serve_metrics(vane_http_t *http, struct MHD_Connection *conn)
{
    pthread_mutex_lock(&http->mu);
    snapshot_t *s = http->metrics;
    if (s)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&http->mu);
    if (!s)
        return reply_str(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "metrics not rendered yet\n");
    struct MHD_Response *r =
        MHD_create_response_from_buffer_with_free_callback_cls(s->len, s->data, snapshot_unref, s);
    if (!r) {
        snapshot_unref(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result serve_healthz(vane_http_t *http, struct MHD_Connection *conn)
{
    pthread_mutex_lock(&http->mu);
    int64_t age = http->metrics ? mono_ms() - http->metrics_at_ms : 0;
    pthread_mutex_unlock(&http->mu);
    if (http->stall_ms > 0 && age > http->stall_ms) {
        char text[128];
        snprintf(text, sizeof text, "event loop stalled: no metrics snapshot for %lld ms\n",
                 (long long)age);
        return reply_str(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text);
    }
    return reply_str(conn, MHD_HTTP_OK, "ok\n");
}

static enum MHD_Result serve_readyz(vane_http_t *http, struct MHD_Connection *conn)
{
    char text[300];
    pthread_mutex_lock(&http->mu);
    bool ready = http->ready;
    if (ready)
        snprintf(text, sizeof text, "ready%s%s\n", http->reason[0] ? ": " : "", http->reason);
    else
        snprintf(text, sizeof text, "not ready: %s\n", http->reason[0] ? http->reason : "unknown");
    pthread_mutex_unlock(&http->mu);
    return reply_str(conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

static enum MHD_Result serve_reload(vane_http_t *http, struct MHD_Connection *conn)
{
    if (!http->reload)
        return reply_str(conn, MHD_HTTP_NOT_IMPLEMENTED, "reload is not available\n");
    pthread_mutex_lock(&http->mu);
    if (http->stopping) {
        pthread_mutex_unlock(&http->mu);
        return reply_str(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down\n");
    }
    uint64_t mine = ++http->reload_req;
    pthread_mutex_unlock(&http->mu);
    uv_async_send(&http->async);

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += http->reload_timeout_ms / 1000;
    deadline.tv_nsec += (http->reload_timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&http->mu);
    int wrc = 0;
    while (http->reload_done < mine && !http->stopping && wrc != ETIMEDOUT)
        wrc = pthread_cond_timedwait(&http->cv, &http->mu, &deadline);
    enum MHD_Result ret;
    if (http->reload_done >= mine) {
        int rc = http->reload_rc;
        vane_buf_t body = VANE_BUF_INIT;
        int brc = vane_buf_puts(&body, rc == 0 ? "reloaded\n" : "reload failed: ");
        if (brc == 0 && rc != 0)
            brc = vane_buf_printf(&body, "%s; the previous rules stay active\n", vane_strerror(rc));
        if (brc == 0 && http->reload_report.len)
            brc = vane_buf_append(&body, http->reload_report.data, http->reload_report.len);
        pthread_mutex_unlock(&http->mu);
        if (brc != 0)
            ret = MHD_NO;
        else
            ret = reply(conn, rc == 0 ? MHD_HTTP_OK : 422, body.data, body.len, NULL);
        vane_buf_free(&body);
        return ret;
    }
    bool stopping = http->stopping;
    pthread_mutex_unlock(&http->mu);
    if (stopping)
        return reply_str(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down\n");
    return reply_str(conn, MHD_HTTP_GATEWAY_TIMEOUT,
                     "reload still running after http.reload_timeout; check the logs and "
                     "vane_rule_reloads_total\n");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    static int started;
    (void)version;
    (void)upload;
    vane_http_t *http = cls;
    if (*con_cls == NULL) { /* headers only: wait for the (ignored) body */
        *con_cls = &started;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (strcmp(url, "/-/reload") == 0) {
        if (!post)
            return reply_str(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST\n");
        return serve_reload(http, conn);
    }
    if (!get)
        return reply_str(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(http, conn);
    if (strcmp(url, "/healthz") == 0)
        return serve_healthz(http, conn);
    if (strcmp(url, "/readyz") == 0)
        return serve_readyz(http, conn);
    if (strcmp(url, "/") == 0)
        return reply_str(conn, MHD_HTTP_OK,
                         "vane: GET /metrics /healthz /readyz, POST /-/reload\n");
    return reply_str(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/*-----------------------------------------------------------------------------------------
 * Loop side
 *---------------------------------------------------------------------------------------*/

static void on_reload_async(uv_async_t *h)
{
    vane_http_t *http = (vane_http_t *)h;
    pthread_mutex_lock(&http->mu);
    uint64_t target = http->reload_req;
    bool pending = target > http->reload_done && !http->stopping;
    pthread_mutex_unlock(&http->mu);
    if (!pending)
        return;
    vane_buf_t report = VANE_BUF_INIT;
    int rc = http->reload(http->reload_arg, &report);
    VANE_LOG(rc == 0 ? VANE_LOG_INFO : VANE_LOG_WARN, "http", "reload requested over HTTP: %s",
             rc == 0 ? "ok" : vane_strerror(rc));
    pthread_mutex_lock(&http->mu);
    vane_buf_reset(&http->reload_report);
    if (report.len && vane_buf_append(&http->reload_report, report.data, report.len) != 0)
        vane_buf_reset(&http->reload_report);
    http->reload_rc = rc;
    http->reload_done = target;
    pthread_cond_broadcast(&http->cv);
    pthread_mutex_unlock(&http->mu);
    vane_buf_free(&report);
}

/* Parse "host:port" / "[v6]:port" into a socket address. */
static int resolve_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sl,
                          char *errbuf, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof host) {
        snprintf(errbuf, errlen, "http.listen '%s' is not host:port", listen);
        return VANE_EINVAL;
    }
    size_t hl = (size_t)(colon - listen);
    memcpy(host, listen, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
    if (g != 0 || !res) {
        snprintf(errbuf, errlen, "http.listen '%s': %s", listen, gai_strerror(g));
        return VANE_EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sl = res->ai_addrlen;
    freeaddrinfo(res);
    return VANE_OK;
}

static void http_free(vane_http_t *http)
{
    snapshot_unref(http->metrics);
    vane_buf_free(&http->reload_report);
    pthread_cond_destroy(&http->cv);
    pthread_mutex_destroy(&http->mu);
    free(http);
}

vane_http_t *vane_http_start(uv_loop_t *loop, const vane_http_opts_t *opts, char *errbuf,
                             size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    if (resolve_listen(opts->listen, &ss, &sl, errbuf, errlen) != VANE_OK)
        return NULL;
    vane_http_t *http = calloc(1, sizeof *http);
    if (!http) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    http->reload = opts->reload;
    http->reload_arg = opts->reload_arg;
    http->reload_timeout_ms = opts->reload_timeout_ms > 0 ? opts->reload_timeout_ms : 10000;
    http->stall_ms = opts->stall_ms;
    snprintf(http->reason, sizeof http->reason, "starting");
    pthread_mutex_init(&http->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&http->cv, &ca);
    pthread_condattr_destroy(&ca);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    http->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, http, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                                 MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!http->mhd) {
        snprintf(errbuf, errlen, "http.listen %s: cannot listen: %s", opts->listen,
                 errno ? strerror(errno) : "unknown error");
        http_free(http);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(http->mhd, MHD_DAEMON_INFO_BIND_PORT);
    http->port = info ? info->port : 0;
    if (uv_async_init(loop, &http->async, on_reload_async) != 0) {
        snprintf(errbuf, errlen, "uv_async_init failed");
        MHD_stop_daemon(http->mhd);
        http_free(http);
        return NULL;
    }
    VANE_LOG(VANE_LOG_INFO, "http", "serving /metrics /healthz /readyz /-/reload on %s (port %d)",
             opts->listen, http->port);
    return http;
}

int vane_http_port(const vane_http_t *http)
{
    return http->port;
}

int vane_http_set_metrics(vane_http_t *http, const char *text, size_t len)
{
    snapshot_t *s = malloc(sizeof *s + len + 1);
    if (!s)
        return VANE_ENOMEM;
    atomic_init(&s->refs, 1);
    s->len = len;
    memcpy(s->data, text, len);
    s->data[len] = '\0';
    pthread_mutex_lock(&http->mu);
    snapshot_t *old = http->metrics;
    http->metrics = s;
    http->metrics_at_ms = mono_ms();
    pthread_mutex_unlock(&http->mu);
    snapshot_unref(old);
    return VANE_OK;
}

int vane_http_publish_metrics(vane_http_t *http, const vane_metrics_t *reg, vane_buf_t *scratch)
{
    vane_buf_reset(scratch);
    int rc = vane_metrics_render(reg, scratch);
    if (rc)
        return rc;
    return vane_http_set_metrics(http, scratch->data ? scratch->data : "", scratch->len);
}

void vane_http_set_ready(vane_http_t *http, bool ready, const char *reason)
{
    pthread_mutex_lock(&http->mu);
    http->ready = ready;
    snprintf(http->reason, sizeof http->reason, "%s", reason ? reason : "");
    pthread_mutex_unlock(&http->mu);
}

static void on_close(uv_handle_t *h)
{
    http_free((vane_http_t *)h);
}

void vane_http_stop(vane_http_t *http)
{
    if (!http)
        return;
    pthread_mutex_lock(&http->mu);
    http->stopping = true;
    pthread_cond_broadcast(&http->cv);
    pthread_mutex_unlock(&http->mu);
    /* Joins the connection threads; none can be waiting for a reload any more. */
    MHD_stop_daemon(http->mhd);
    http->mhd = NULL;
    uv_close((uv_handle_t *)&http->async, on_close);
}
