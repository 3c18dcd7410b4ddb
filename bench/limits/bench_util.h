/* bench_util.h - helpers shared by the limit programs in bench/limits/ (header only).
 *
 * Clocks (wall, process CPU), a tiny `--key value` argument reader, JSON result output, a
 * deterministic event generator (splitmix64 PRNG, uniform or Zipf customer keys) with JSON
 * and protobuf encoders that follow shared/CONTRACT.md, and librdkafka configuration helpers
 * (`-X key=value` passthrough). Every limit program prints exactly one JSON object on the last
 * line of stdout; diagnostics go to stderr. Nothing here is part of vane itself.
 *
 * All functions are static inline so each program uses only what it needs without warnings.
 */
#ifndef VANE_BENCH_UTIL_H
#define VANE_BENCH_UTIL_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "vane/v1/event.pb-c.h"

/* ---------------------------------------------------------------------------------------
 * Clocks
 * --------------------------------------------------------------------------------------- */

/* len bytes of zeroed memory backed by huge pages where the kernel allows (madvise), for the
 * large pre-built input arrays of the in-memory benchmarks: walking hundreds of MB of 4 KiB
 * pages costs a TLB miss every few events on a VM, which would be charged to the code under
 * test. Never freed (the process exits). */
static inline void *bench_big_alloc(size_t len)
{
    void *p = mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, len, MADV_HUGEPAGE);
#endif
    return p;
}

static inline int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t bench_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CPU time (user + system) of the whole process, all threads, in nanoseconds. */
static inline int64_t bench_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU seconds and minor page faults of this process's live threads, split into librdkafka's
 * (named "rdk:...") and the rest, from /proc/self/task. Read it before rd_kafka_destroy: a
 * thread that has exited is no longer listed. Tick resolution (10 ms). */
typedef struct bench_threads {
    double rdk_cpu_s, own_cpu_s;
    long long rdk_minflt, own_minflt;
} bench_threads_t;

static inline bench_threads_t bench_threads(void)
{
    bench_threads_t t = {0, 0, 0, 0};
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return t;
    double tick = (double)sysconf(_SC_CLK_TCK);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        /* pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
         * stime ...; comm may hold spaces, so fields are counted after its closing ')'. */
        char *open = strchr(buf, '('), *close = strrchr(buf, ')');
        unsigned long long minflt, utime, stime;
        if (!open || !close ||
            sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %llu %*u %*u %*u %llu %llu", &minflt,
                   &utime, &stime) != 3)
            continue;
        bool rdk = strncmp(open + 1, "rdk:", 4) == 0;
        double cpu = (double)(utime + stime) / tick;
        if (rdk) {
            t.rdk_cpu_s += cpu;
            t.rdk_minflt += (long long)minflt;
        } else {
            t.own_cpu_s += cpu;
            t.own_minflt += (long long)minflt;
        }
    }
    closedir(d);
    return t;
}

/* ---------------------------------------------------------------------------------------
 * Arguments: `--name value` pairs; flags without a value are not used by these programs.
 * --------------------------------------------------------------------------------------- */

static inline const char *bench_arg(int argc, char **argv, const char *name, const char *def)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    }
    return def;
}

static inline long long bench_arg_ll(int argc, char **argv, const char *name, long long def)
{
    const char *s = bench_arg(argc, argv, name, NULL);
    if (!s)
        return def;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end) {
        fprintf(stderr, "bad number for %s: %s\n", name, s);
        exit(2);
    }
    return v;
}

static inline double bench_arg_d(int argc, char **argv, const char *name, double def)
{
    const char *s = bench_arg(argc, argv, name, NULL);
    return s ? atof(s) : def;
}

static inline void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* ---------------------------------------------------------------------------------------
 * PRNG and key distributions
 * --------------------------------------------------------------------------------------- */

static inline uint64_t bench_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform double in [0, 1). */
static inline double bench_rand01(uint64_t *s)
{
    return (double)(bench_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Zipf(s) over [0, n) by rejection-inversion (Hoermann and Derflinger), O(1) per draw. */
typedef struct bench_zipf {
    double s, hx0, hn, sdiv;
    uint64_t n;
} bench_zipf_t;

static inline double bench_zipf_h(const bench_zipf_t *z, double x)
{
    return exp((1.0 - z->s) * log(x)) / (1.0 - z->s);
}

static inline double bench_zipf_hinv(const bench_zipf_t *z, double x)
{
    return exp(log((1.0 - z->s) * x) / (1.0 - z->s));
}

static inline void bench_zipf_init(bench_zipf_t *z, uint64_t n, double s)
{
    z->n = n;
    z->s = s;
    z->hx0 = bench_zipf_h(z, 0.5) - exp(-s * log(1.0));
    z->hn = bench_zipf_h(z, (double)n + 0.5);
    z->sdiv = 2.0 - bench_zipf_hinv(z, bench_zipf_h(z, 2.5) - exp(-s * log(2.0)));
}

static inline uint64_t bench_zipf_draw(const bench_zipf_t *z, uint64_t *rs)
{
    for (;;) {
        double u = z->hn + bench_rand01(rs) * (z->hx0 - z->hn);
        double x = bench_zipf_hinv(z, u);
        double k = floor(x + 0.5);
        if (k < 1)
            k = 1;
        if (k > (double)z->n)
            k = (double)z->n;
        if (k - x <= z->sdiv || u >= bench_zipf_h(z, k + 0.5) - exp(-z->s * log(k)))
            return (uint64_t)k - 1;
    }
}

/* ---------------------------------------------------------------------------------------
 * Event generator: a deterministic stream of contract events, ~150 bytes in JSON.
 * --------------------------------------------------------------------------------------- */

typedef struct bench_gen {
    uint64_t rng;
    uint64_t customers;
    bench_zipf_t zipf;
    bool use_zipf;
    bool sequential; /* customers in turn (seq % customers) instead of drawn at random */
    uint64_t seq;
    int64_t base_ms;
    int64_t step_ms;
    const char *id_prefix; /* event_id prefix, e.g. "e" */
} bench_gen_t;

typedef struct bench_event {
    char event_id[32];
    char customer_id[16];
    int64_t time_ms;
    int channel;  /* 1..5 */
    int type;     /* 1 txn, 2 login, 3 engagement */
    int kind;     /* txn or engagement kind */
    int category; /* 1..11 */
    int64_t amount;
    int score; /* engagement SURVEY */
    char product[12];
    char device[12];
} bench_event_t;

static const char *const bench_channel_names[] = {"", "BRANCH", "MOBILE", "WEB", "ATM", "PHONE"};
static const char *const bench_cat_names[] = {
    "",     "DEMAND_DEPOSIT", "TIME_DEPOSIT",   "WEALTH",
    "FUND", "INSURANCE",      "PRECIOUS_METAL", "FOREX",
    "BOND", "LOAN",           "CREDIT_CARD",    "PENSION"};
static const char *const bench_txn_names[] = {
    "",         "DEPOSIT",    "WITHDRAWAL", "TRANSFER_IN", "TRANSFER_OUT",
    "PURCHASE", "REDEMPTION", "PAYMENT",    "FEE",         "INTEREST"};
static const char *const bench_eng_names[] = {"",
                                              "PRODUCT_VIEW",
                                              "SERVICE_SUBSCRIBE",
                                              "SERVICE_CANCEL",
                                              "ACCOUNT_CLOSE",
                                              "CONTACT_REFUSED",
                                              "CONTACT_ACCEPTED",
                                              "COMPLAINT",
                                              "SURVEY"};

static inline void bench_gen_init(bench_gen_t *g, uint64_t seed, uint64_t customers, double zipf_s)
{
    memset(g, 0, sizeof(*g));
    g->rng = seed;
    g->customers = customers ? customers : 1;
    g->use_zipf = zipf_s > 0;
    if (g->use_zipf)
        bench_zipf_init(&g->zipf, g->customers, zipf_s);
    g->base_ms = 1763800000000LL;
    g->step_ms = 1000;
    g->id_prefix = "e";
}

static inline uint64_t bench_gen_customer(bench_gen_t *g)
{
    if (g->sequential)
        return g->seq % g->customers;
    if (g->use_zipf)
        return bench_zipf_draw(&g->zipf, &g->rng);
    return bench_rand(&g->rng) % g->customers;
}

static inline void bench_gen_next(bench_gen_t *g, bench_event_t *e)
{
    uint64_t c = bench_gen_customer(g);
    uint64_t r = bench_rand(&g->rng);
    snprintf(e->event_id, sizeof(e->event_id), "%s%llx", g->id_prefix, (unsigned long long)g->seq);
    snprintf(e->customer_id, sizeof(e->customer_id), "C%07llu", (unsigned long long)c);
    e->time_ms = g->base_ms + (int64_t)g->seq * g->step_ms;
    g->seq++;
    e->channel = 1 + (int)(r % 5);
    r /= 5;
    unsigned pick = (unsigned)(r % 100);
    r /= 100;
    e->category = 1 + (int)(r % 11);
    r /= 11;
    e->amount = (int64_t)(r % 5000000);
    r /= 5000000;
    snprintf(e->product, sizeof(e->product), "P-%u", (unsigned)(r % 1000));
    if (pick < 60) {
        e->type = 1;
        e->kind = 1 + (int)(r % 9);
    } else if (pick < 85) {
        e->type = 2;
        e->kind = 0;
        snprintf(e->device, sizeof(e->device), "d-%u", (unsigned)(c % 100000));
    } else {
        e->type = 3;
        /* Mostly product views; surveys and cancellations are rare, as in a bank. */
        unsigned k = (unsigned)(r % 100);
        e->kind = k < 90 ? 1 : k < 94 ? 2 : k < 96 ? 3 : k < 97 ? 6 : 8;
        e->score = (int)((r / 100) % 11);
    }
}

/* Append e as one JSON object (no newline) to out[cap]; returns the length or -1. */
static inline int bench_event_json(const bench_event_t *e, char *out, size_t cap)
{
    int n = snprintf(out, cap,
                     "{\"event_id\":\"%s\",\"customer_id\":\"%s\",\"event_time_ms\":%lld,"
                     "\"channel\":\"%s\",",
                     e->event_id, e->customer_id, (long long)e->time_ms,
                     bench_channel_names[e->channel]);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    int m;
    if (e->type == 1) {
        /* product_id only where it matters (purchases, redemptions): keeps events ~150 B. */
        bool prod = e->kind == 5 || e->kind == 6;
        m = snprintf(out + n, cap - (size_t)n,
                     "\"txn\":{\"kind\":\"%s\",\"category\":\"%s\",%s%s%s"
                     "\"amount_minor\":%lld}}",
                     bench_txn_names[e->kind], bench_cat_names[e->category],
                     prod ? "\"product_id\":\"" : "", prod ? e->product : "", prod ? "\"," : "",
                     (long long)e->amount);
    } else if (e->type == 2) {
        m = snprintf(out + n, cap - (size_t)n, "\"login\":{\"success\":true,\"device_id\":\"%s\"}}",
                     e->device);
    } else if (e->kind == 8) {
        m = snprintf(out + n, cap - (size_t)n, "\"engagement\":{\"kind\":\"SURVEY\",\"score\":%d}}",
                     e->score);
    } else {
        m = snprintf(out + n, cap - (size_t)n,
                     "\"engagement\":{\"kind\":\"%s\",\"category\":\"%s\",\"product_id\":\"%s\","
                     "\"service\":\"sms\"}}",
                     bench_eng_names[e->kind], bench_cat_names[e->category], e->product);
    }
    if (m < 0 || (size_t)(n + m) >= cap)
        return -1;
    return n + m;
}

/* Pack e as protobuf vane.v1.Event into out[cap]; returns the length or -1. */
static inline int bench_event_pb(const bench_event_t *e, uint8_t *out, size_t cap)
{
    Vane__V1__Event ev = VANE__V1__EVENT__INIT;
    Vane__V1__Transaction txn = VANE__V1__TRANSACTION__INIT;
    Vane__V1__Login login = VANE__V1__LOGIN__INIT;
    Vane__V1__Engagement eng = VANE__V1__ENGAGEMENT__INIT;
    ev.event_id = (char *)e->event_id;
    ev.customer_id = (char *)e->customer_id;
    ev.event_time_ms = e->time_ms;
    ev.channel = (Vane__V1__Channel)e->channel;
    if (e->type == 1) {
        txn.kind = (Vane__V1__Transaction__Kind)e->kind;
        txn.category = (Vane__V1__ProductCategory)e->category;
        if (e->kind == 5 || e->kind == 6)
            txn.product_id = (char *)e->product;
        txn.amount_minor = e->amount;
        ev.payload_case = VANE__V1__EVENT__PAYLOAD_TXN;
        ev.txn = &txn;
    } else if (e->type == 2) {
        login.success = 1;
        login.device_id = (char *)e->device;
        ev.payload_case = VANE__V1__EVENT__PAYLOAD_LOGIN;
        ev.login = &login;
    } else {
        eng.kind = (Vane__V1__Engagement__Kind)e->kind;
        if (e->kind == 8) {
            eng.has_score_case = VANE__V1__ENGAGEMENT__HAS_SCORE_SCORE;
            eng.score = e->score;
        } else {
            eng.category = (Vane__V1__ProductCategory)e->category;
            eng.product_id = (char *)e->product;
            eng.service = (char *)"sms";
        }
        ev.payload_case = VANE__V1__EVENT__PAYLOAD_ENGAGEMENT;
        ev.engagement = &eng;
    }
    size_t need = vane__v1__event__get_packed_size(&ev);
    if (need > cap)
        return -1;
    return (int)vane__v1__event__pack(&ev, out);
}

/* ---------------------------------------------------------------------------------------
 * Stats
 * --------------------------------------------------------------------------------------- */

static inline int bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* q-quantile (0..1) of sorted v[n] by nearest rank; 0 when n == 0. */
static inline int64_t bench_quantile(const int64_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)ceil(q * (double)n);
    if (i < 1)
        i = 1;
    if (i > n)
        i = n;
    return v[i - 1];
}

#endif
