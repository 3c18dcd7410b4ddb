/* http.h - vane's operations endpoint: /metrics, /healthz, /readyz, POST /-/reload.
 *
 * libmicrohttpd serves requests on its own threads (one per connection, at most 32), so a
 * scrape or a slow client never runs on, or waits for, the event loop. The loop thread
 * publishes state into the server; the server only ever reads copies:
 *   - metrics: the loop renders the registry every metrics.render_interval and publishes the
 *     text (vane_http_publish_metrics); a scrape takes a reference to the latest immutable
 *     snapshot under a mutex held for a pointer swap, never for the rendering or the send;
 *   - readiness: vane_http_set_ready(ready, reason) from the loop;
 *   - liveness: /healthz answers 503 when the loop has not published metrics for stall_ms
 *     (a wedged loop), else 200;
 *   - reload: POST /-/reload wakes the loop through a uv_async_t; the loop runs the caller's
 *     reload function and the request waits (bounded by reload_timeout_ms) for its result:
 *     200 + report when the new rules are active, 422 + diagnostics (file:line:col ...) when
 *     they were refused (the old rules stay), 504 when the timeout passed first. Requests
 *     arriving while a reload runs share the next reload.
 *
 * Ownership: vane_http_start returns a server owned by the caller; vane_http_stop stops the
 * threads (waiting requests are answered 503) and closes the uv handle; the memory is freed
 * by the handle's close callback, so the loop must run once more after stop (it does during
 * shutdown). All functions except the reload function's caller run on the loop thread.
 */
#ifndef VANE_HTTP_H
#define VANE_HTTP_H

#include "core/metrics.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct vane_http vane_http_t;

/* Reload the rules; runs on the loop thread. Append a human-readable report to report
 * (diagnostics one per line, "file:line:col: level: message"); return 0 when the new rules are
 * active, a negative VANE_E* code when they were refused. */
typedef int (*vane_http_reload_fn)(void *arg, vane_buf_t *report);

typedef struct vane_http_opts {
    const char *listen;         /* "host:port" or "[v6]:port"; port 0 picks a free port */
    vane_http_reload_fn reload; /* NULL: POST /-/reload answers 501 */
    void *reload_arg;           /* passed to reload */
    int64_t reload_timeout_ms;  /* how long a POST /-/reload waits for the outcome */
    int64_t stall_ms;           /* /healthz fails when no snapshot for this long; 0 = never */
} vane_http_opts_t;

/* Bind and start serving. Returns NULL on failure with the reason in errbuf (bad address,
 * address in use, ...). Until the first vane_http_set_ready the server says not ready
 * ("starting"), and /metrics answers 503 until the first publish. Loop thread. */
vane_http_t *vane_http_start(uv_loop_t *loop, const vane_http_opts_t *opts, char *errbuf,
                             size_t errlen);

/* The bound TCP port (useful with port 0). */
int vane_http_port(const vane_http_t *http);

/* Publish a new /metrics body (copied; one allocation per call, not per event). Returns 0 or
 * VANE_ENOMEM (the previous snapshot stays). Loop thread. */
int vane_http_set_metrics(vane_http_t *http, const char *text, size_t len);

/* Render reg into scratch (reset first; reuse it across calls so it stops allocating) and
 * publish it: what the loop's metrics timer calls. Returns 0 or VANE_ENOMEM. */
int vane_http_publish_metrics(vane_http_t *http, const vane_metrics_t *reg, vane_buf_t *scratch);

/* Set readiness; reason (copied, may be NULL) is shown by /readyz, e.g. "redis: connecting",
 * "kafka: waiting for partition assignment". Loop thread. */
void vane_http_set_ready(vane_http_t *http, bool ready, const char *reason);

/* Stop serving and release the server (see ownership above). NULL-safe. Loop thread. */
void vane_http_stop(vane_http_t *http);

#endif
