/* store.c - vane's own Redis client path, alone: the numerator of "client CPU per command".
 *
 *   limit_store (--socket PATH | --host H --port P) [--count 200000] [--size 256]
 *               [--pipeline 512] [--keys 100000]
 *
 * The same work as limit_redis (the floor: hiredis' synchronous API, append then read), done
 * the way `vane run` does it: daemon/io/state_store.c on a libuv loop (vane's hiredis adapter,
 * its command backlog, its request FIFO and callbacks). Batches of --pipeline SETs of --size
 * bytes to "bench:{C%07d}:s" over --keys customers are issued in one loop turn; the next batch
 * goes out when every reply of this one has arrived. Measures this process's CPU per command
 * from the first SET to the last reply (connecting is left out).
 * Prints {"commands","errors","seconds","cmds_per_s","client_cpu_ns_per_cmd","size","pipeline"}.
 */
#include "bench_util.h"

#include "io/state_store.h"

#include <uv.h>

typedef struct run {
    vane_state_store_t *st;
    uv_loop_t *loop;
    uv_idle_t idle;
    char *val;
    long long count, size, pipeline, keys;
    long long issued, answered, errors, batch_left;
    uint64_t rng;
    bool up, closed;
    int64_t t0, c0, t1, c1;
} run_t;

static void issue_batch(run_t *r);

static void on_set(void *arg, int status)
{
    run_t *r = arg;
    r->answered++;
    if (status != 0)
        r->errors++;
    if (--r->batch_left == 0) {
        if (r->answered == r->count) {
            r->t1 = bench_now_ns();
            r->c1 = bench_cpu_ns();
            uv_stop(r->loop);
        } else {
            issue_batch(r);
        }
    }
}

static void issue_batch(run_t *r)
{
    long long n = r->count - r->issued < r->pipeline ? r->count - r->issued : r->pipeline;
    r->batch_left = n;
    for (long long i = 0; i < n; i++) {
        char id[24];
        snprintf(id, sizeof id, "C%07llu",
                 (unsigned long long)(bench_rand(&r->rng) % (uint64_t)r->keys));
        r->val[0] = (char)('a' + (r->issued + i) % 26); /* not the same bytes every time */
        if (vane_state_store_set(r->st, id, r->val, (size_t)r->size, on_set, r) != 0)
            bench_die("SET refused (Redis down?)");
    }
    r->issued += n;
}

static void on_state(void *arg, bool up, const char *why)
{
    run_t *r = arg;
    if (!up && !r->closed)
        bench_die("redis: %s", why);
    r->up = up;
}

/* Start once the store is up: the first batch goes out from the loop, like the daemon's. */
static void idle_cb(uv_idle_t *h)
{
    run_t *r = h->data;
    if (!r->up)
        return;
    uv_idle_stop(h);
    r->t0 = bench_now_ns();
    r->c0 = bench_cpu_ns();
    issue_batch(r);
}

static void on_closed(void *arg)
{
    (void)arg;
}

int main(int argc, char **argv)
{
    const char *sock = bench_arg(argc, argv, "--socket", NULL);
    const char *host = bench_arg(argc, argv, "--host", "127.0.0.1");
    long long port = bench_arg_ll(argc, argv, "--port", 6379);
    run_t r = {0};
    r.count = bench_arg_ll(argc, argv, "--count", 200000);
    r.size = bench_arg_ll(argc, argv, "--size", 256);
    r.pipeline = bench_arg_ll(argc, argv, "--pipeline", 512);
    r.keys = bench_arg_ll(argc, argv, "--keys", 100000);
    r.rng = 7;
    if (r.size < 1 || r.pipeline < 1 || r.keys < 1 || r.count < 1)
        bench_die("bad arguments");
    r.val = malloc((size_t)r.size);
    if (!r.val)
        bench_die("out of memory");
    for (long long i = 0; i < r.size; i++)
        r.val[i] = (char)('a' + i % 26);

    char url[600];
    if (sock)
        snprintf(url, sizeof url, "unix://%s", sock);
    else
        snprintf(url, sizeof url, "redis://%s:%lld", host, port);
    r.loop = uv_default_loop();
    vane_state_store_opts_t o = {.url = url,
                                 .prefix = "bench",
                                 .reconnect_max_ms = 1000,
                                 .command_timeout_ms = 30000,
                                 .connect_timeout_ms = 5000};
    char err[256];
    r.st = vane_state_store_new(r.loop, &o, on_state, &r, err, sizeof err);
    if (!r.st)
        bench_die("%s", err);
    uv_idle_init(r.loop, &r.idle);
    r.idle.data = &r;
    uv_idle_start(&r.idle, idle_cb);
    uv_run(r.loop, UV_RUN_DEFAULT);
    if (r.answered != r.count)
        bench_die("only %lld of %lld replies", r.answered, r.count);
    double secs = (double)(r.t1 - r.t0) / 1e9;
    printf("{\"commands\":%lld,\"errors\":%lld,\"seconds\":%.4f,\"cmds_per_s\":%.1f,"
           "\"client_cpu_ns_per_cmd\":%.1f,\"size\":%lld,\"pipeline\":%lld}\n",
           r.answered, r.errors, secs, (double)r.answered / secs,
           (double)(r.c1 - r.c0) / (double)r.answered, r.size, r.pipeline);
    fflush(stdout);
    r.closed = true;
    uv_close((uv_handle_t *)&r.idle, NULL);
    vane_state_store_close(r.st, on_closed, NULL);
    uv_run(r.loop, UV_RUN_DEFAULT);
    free(r.val);
    return r.errors ? 1 : 0;
}
