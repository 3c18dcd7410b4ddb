/* engine.c - vane's engine alone: `vane replay`'s core on pre-decoded events, no I/O.
 *
 *   limit_engine --file PATH [--format json|protobuf] [--customers N] [--rules FILE] [--hot N]
 *                [--single 1]
 *
 * Not a limit itself: the vane side of scenario 4, measured the way the issue asks ("vane
 * replay on pre-decoded events, all default rules, no I/O"). Every message of PATH
 * (limit_load --file output) is decoded with vane's decoder and deep-copied into memory
 * before the clock starts; then the events go through vane_replay_events() (replay.h: the
 * daemon's engine with every customer's state in memory and absence timers driven by the
 * watermark) with the shipped default rules (or --rules), alerts counted, not printed.
 * Allocation calls during the timed loop are counted as in limit_decode (not under ASan).
 * Prints {"events","applied","customers","alerts","ns_per_event","allocs_per_event"}.
 */
#include "bench_util.h"

#ifdef BENCH_HAVE_REPLAY
#include "cmd/replay.h"
#include "cmd/replay_rules.h"
#include "engine/codec.h"
#include "util/err.h"
#endif

static uint64_t alloc_calls;
static int counting;

#if !defined(__SANITIZE_ADDRESS__)
#define BENCH_COUNT_ALLOCS 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
void *malloc(size_t n)
{
    if (counting)
        alloc_calls++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    if (counting)
        alloc_calls++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    if (counting)
        alloc_calls++;
    return __libc_realloc(p, n);
}
void free(void *p)
{
    __libc_free(p);
}
#endif

#ifdef BENCH_HAVE_REPLAY
/* A bump arena for the copied strings of every event. */
static char *arena;
static size_t arena_len, arena_cap;

static uint64_t n_alerts;

static void on_alert(void *ud, const vane_alert_t *a)
{
    (void)ud;
    (void)a;
    n_alerts++;
}
#endif

int main(int argc, char **argv)
{
    const char *path = bench_arg(argc, argv, "--file", NULL);
    const char *format = bench_arg(argc, argv, "--format", "json");
    long long customers = bench_arg_ll(argc, argv, "--customers", 0);
    long long hot = bench_arg_ll(argc, argv, "--hot", 0);
    bool single = bench_arg(argc, argv, "--single", NULL) != NULL;
    const char *rules = bench_arg(argc, argv, "--rules", NULL);
    if (!path)
        bench_die("usage: limit_engine --file PATH [--format json|protobuf]");
#ifndef BENCH_HAVE_REPLAY
    (void)format;
    (void)customers;
    (void)hot;
    (void)single;
    (void)rules;
    (void)alloc_calls;
    (void)counting;
    printf("{\"ns_per_event\":null,\"not_run\":\"vane's replay core (daemon/cmd/replay.c) is not "
           "built in this tree\"}\n");
    return 0;
#else
    bool pb = strcmp(format, "protobuf") == 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        bench_die("cannot read %s", path);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *data = malloc((size_t)sz + 1);
    if (!data || fread(data, 1, (size_t)sz, fp) != (size_t)sz)
        bench_die("read %s failed", path);
    fclose(fp);
    /* Count the messages first so the decoded events fit one huge-page-backed array. */
    size_t cap = 1, n = 0, rejects = 0;
    for (size_t p = 0; p < (size_t)sz; cap++) {
        if (pb) {
            size_t len = 0;
            int shift = 0;
            while (p < (size_t)sz && shift < 64) {
                unsigned char b = (unsigned char)data[p++];
                len |= (size_t)(b & 0x7f) << shift;
                shift += 7;
                if (!(b & 0x80))
                    break;
            }
            if (len > (size_t)sz - p)
                break;
            p += len;
        } else {
            const char *nl = memchr(data + p, '\n', (size_t)sz - p);
            p = nl ? (size_t)(nl - data) + 1 : (size_t)sz;
        }
    }
    arena_cap = (size_t)sz;
    arena = bench_big_alloc(arena_cap);
    vane_event_t *evs = bench_big_alloc(cap * sizeof(*evs));
    vane_decoder_t *dec = vane_decoder_new(1 << 16);
    if (!arena || !evs || !dec)
        bench_die("out of memory");
    size_t pos = 0;
    while (pos < (size_t)sz) {
        size_t len = 0, start;
        if (pb) {
            int shift = 0;
            while (pos < (size_t)sz) {
                unsigned char b = (unsigned char)data[pos++];
                len |= (size_t)(b & 0x7f) << shift;
                shift += 7;
                if (!(b & 0x80))
                    break;
            }
            start = pos;
            pos += len;
        } else {
            start = pos;
            char *nl = memchr(data + pos, '\n', (size_t)sz - pos);
            len = nl ? (size_t)(nl - (data + pos)) : (size_t)sz - pos;
            pos += len + 1;
        }
        if (len == 0 || start + len > (size_t)sz)
            continue;
        if (n == cap)
            bench_die("more messages than counted");
        vane_decode_error_t err;
        if (vane_decoder_decode(dec, data + start, len,
                                pb ? VANE_FORMAT_PROTOBUF : VANE_FORMAT_JSON, &evs[n], &err) != 0) {
            rejects++;
            continue;
        }
        if (vane_event_strings_len(&evs[n]) > arena_cap - arena_len)
            bench_die("arena full");
        arena_len += vane_event_copy_strings(&evs[n], arena + arena_len);
        n++;
    }
    vane_decoder_free(dec);
    free(data);
    if (n == 0)
        bench_die("no events decoded from %s", path);

    const char *paths[1] = {rules};
    vane_ruleset_t *rs = vane_replay_rules_load(paths, rules ? 1 : 0, stderr, 1);
    if (!rs)
        bench_die("cannot load rules");
    vane_replay_opts_t opts;
    memset(&opts, 0, sizeof(opts));
    opts.lateness_ms = 300000; /* the daemon's default engine.lateness (5m) */
    opts.max_bytes = 1 << 20;
    opts.expected_custs = (size_t)customers;
    opts.hot_states = (size_t)hot;
    vane_replay_t *rp = vane_replay_new(rs, &opts, on_alert, NULL);
    if (!rp)
        bench_die("vane_replay_new failed");
    alloc_calls = 0;
    counting = 1;
    int64_t t0 = bench_now_ns();
    if (single) { /* one vane_replay_event call per event: no lookahead (for comparison) */
        for (size_t i = 0; i < n; i++)
            if (vane_replay_event(rp, &evs[i]) == VANE_ENOMEM)
                bench_die("out of memory");
    } else if (vane_replay_events(rp, evs, n) != 0) {
        bench_die("out of memory");
    }
    int64_t t1 = bench_now_ns();
    counting = 0;
    const vane_replay_stats_t *st = vane_replay_stats(rp);
    printf("{\"events\":%zu,\"decode_rejects\":%zu,\"applied\":%llu,\"customers\":%llu,"
           "\"alerts\":%llu,\"timer_calls\":%llu,\"ns_per_event\":%.2f,",
           n, rejects, (unsigned long long)st->applied, (unsigned long long)st->customers,
           (unsigned long long)n_alerts, (unsigned long long)st->timer_calls,
           (double)(t1 - t0) / (double)n);
#ifdef BENCH_COUNT_ALLOCS
    printf("\"allocs_per_event\":%.4f}\n", (double)alloc_calls / (double)n);
#else
    printf("\"allocs_per_event\":null}\n");
#endif
    vane_replay_free(rp);
    vane_replay_rules_free(rs);
    return 0;
#endif
}
