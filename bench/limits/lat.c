/* lat.c - the latency probe: paced events in, matching messages out, end-to-end latency.
 *
 *   limit_lat (--brokers B | --bootstrap-file F) [--in bank.events] [--out churn.alerts]
 *             [--rate 200] [--seconds 20] [--warmup-s 2] [--drain-s 5] [--tag run1]
 *             [--score 2] [--lat-file PATH] [-X key=value ...]   (-X applies to the producer)
 *   limit_lat (--brokers B | --bootstrap-file F) --preload N [--in bank.events] [--tag t]
 *
 * Sends --rate events per second for --seconds (or fewer, when its producer cannot keep up:
 * sending stops at --seconds whatever was sent), each a SURVEY with a detractor score for a
 * customer of its own (so every event triggers exactly one alert under the default rules and
 * no episode cooldown can hold one back). event_id is "lat-<seq>"; the probe reads every
 * message on --out from the high watermark on and matches the first "lat-<seq>" in its bytes,
 * which works for a relay (the same bytes) and for vane's alerts (event_ids, JSON or protobuf).
 * Latency = receive time - send time on this process's monotonic clock. The probe's own
 * producer uses linger.ms=0 and its consumer fetch.wait.max.ms=10, the same for every system
 * measured. Events sent during --warmup-s are not counted.
 *
 * Prints {"sent","received","missing","p50_ms","p90_ms","p99_ms","p999_ms","max_ms"} and, with
 * --lat-file, writes every counted latency in microseconds, one per line.
 *
 * --preload N produces N of the same events (one alert each) as fast as the broker takes them,
 * waits for every acknowledgement and prints {"produced","failed","seconds"}: the stream on which
 * the harness measures vane's maximum rate with an alert per event, the basis of "50% of max".
 */
#include "bench_kafka.h"

#include <signal.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Find "lat-<digits>" in p[n]; returns the number or -1. */
static long long find_seq(const char *p, size_t n)
{
    for (size_t i = 0; i + 4 < n; i++) {
        if (p[i] == 'l' && memcmp(p + i, "lat-", 4) == 0) {
            long long v = 0;
            size_t j = i + 4;
            if (j >= n || p[j] < '0' || p[j] > '9')
                continue;
            while (j < n && p[j] >= '0' && p[j] <= '9')
                v = v * 10 + (p[j++] - '0');
            return v;
        }
    }
    return -1;
}

/* One probe event: a detractor SURVEY for customer "L<tag>-<seq>" (one alert each). */
static int probe_event(char *buf, size_t cap, char *cust, size_t ccap, const char *tag, size_t seq,
                       int score)
{
    snprintf(cust, ccap, "L%s-%zu", tag, seq);
    return snprintf(buf, cap,
                    "{\"event_id\":\"lat-%zu\",\"customer_id\":\"%s\",\"event_time_ms\":"
                    "%lld,\"channel\":\"MOBILE\",\"engagement\":{\"kind\":\"SURVEY\","
                    "\"score\":%d}}",
                    seq, cust, (long long)bench_wall_ms(), score);
}

static size_t preload_failed;

static void on_preload_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        preload_failed++;
}

/* --preload: produce n probe events as fast as the broker acknowledges them. */
static int preload(rd_kafka_conf_t *pconf, const char *in, const char *tag, size_t n, int score)
{
    char err[256];
    bench_kset(pconf, "linger.ms", "5");
    rd_kafka_conf_set_dr_msg_cb(pconf, on_preload_delivery);
    rd_kafka_t *rp = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof(err));
    if (!rp)
        bench_die("producer: %s", err);
    int64_t t0 = bench_now_ns();
    for (size_t i = 0; i < n && !stop; i++) {
        char buf[256], cust[48];
        int len = probe_event(buf, sizeof(buf), cust, sizeof(cust), tag, i, score);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(rp, RD_KAFKA_V_TOPIC(in), RD_KAFKA_V_VALUE(buf, (size_t)len),
                                      RD_KAFKA_V_KEY(cust, strlen(cust)),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rp, 10);
        if (e)
            bench_die("produce: %s", rd_kafka_err2str(e));
        rd_kafka_poll(rp, 0);
    }
    if (rd_kafka_flush(rp, 60000))
        bench_die("preload: not every event was acknowledged within 60 s");
    printf("{\"produced\":%zu,\"failed\":%zu,\"seconds\":%.3f}\n", n, preload_failed,
           (double)(bench_now_ns() - t0) / 1e9);
    rd_kafka_destroy(rp);
    return preload_failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *in = bench_arg(argc, argv, "--in", "bank.events");
    const char *out = bench_arg(argc, argv, "--out", "churn.alerts");
    double rate = bench_arg_d(argc, argv, "--rate", 200);
    double seconds = bench_arg_d(argc, argv, "--seconds", 20);
    double warmup = bench_arg_d(argc, argv, "--warmup-s", 2);
    double drain = bench_arg_d(argc, argv, "--drain-s", 5);
    const char *tag = bench_arg(argc, argv, "--tag", "r");
    int score = (int)bench_arg_ll(argc, argv, "--score", 2);
    const char *lat_file = bench_arg(argc, argv, "--lat-file", NULL);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    if (rate <= 0 || seconds <= 0)
        bench_die("--rate and --seconds must be > 0");
    char brokers[1024];
    bench_brokers(argc, argv, brokers, sizeof(brokers));
    char err[256];

    static const char *const pdefaults[] = {"linger.ms", "0", NULL};
    rd_kafka_conf_t *pconf = bench_kconf(argc, argv, pdefaults);
    bench_kset(pconf, "bootstrap.servers", brokers);
    long long npreload = bench_arg_ll(argc, argv, "--preload", 0);
    if (npreload > 0)
        return preload(pconf, in, tag, (size_t)npreload, score);
    rd_kafka_t *rp = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof(err));
    if (!rp)
        bench_die("producer: %s", err);

    rd_kafka_conf_t *cconf = rd_kafka_conf_new();
    bench_kset(cconf, "bootstrap.servers", brokers);
    bench_kset(cconf, "group.id", "bench-lat-probe");
    bench_kset(cconf, "enable.auto.commit", "false");
    bench_kset(cconf, "fetch.wait.max.ms", "10");
    bench_kset(cconf, "enable.partition.eof", "false");
    rd_kafka_t *rc = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof(err));
    if (!rc)
        bench_die("consumer: %s", err);
    rd_kafka_poll_set_consumer(rc);
    int parts = bench_partitions(rc, out, 10000);
    if (parts <= 0)
        bench_die("topic %s: no metadata", out);
    rd_kafka_topic_partition_list_t *as = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rc, out, p, &lo, &hi, 10000))
            bench_die("watermarks %s/%d failed", out, p);
        rd_kafka_topic_partition_list_add(as, out, p)->offset = hi;
    }
    if (rd_kafka_assign(rc, as))
        bench_die("assign failed");
    rd_kafka_topic_partition_list_destroy(as);

    size_t total = (size_t)(rate * seconds);
    int64_t *sent_ns = calloc(total, sizeof(int64_t));
    int64_t *lat_ns = calloc(total, sizeof(int64_t));
    bool *seen = calloc(total, sizeof(bool));
    if (!sent_ns || !lat_ns || !seen)
        bench_die("out of memory");
    /* Warm-up is by time, not count: a producer slower than the offered rate would otherwise
     * spend the whole run inside a count-based warm-up and count nothing. */
    size_t warm = 0; /* events sent before t0 + warmup (set once the warm-up is over) */
    bool warm_done = false;
    size_t nsent = 0, nlat = 0, received = 0, dups = 0, queue_full_waits = 0;
    int64_t last_sent_ns = 0;
    int64_t t0 = bench_now_ns();
    double interval_ns = 1e9 / rate;
    int64_t end_ns = 0;
    /* Sending stops at t0 + seconds even when the producer fell behind the offered rate, so an
     * overloaded run ends on time (and reports the rate it achieved) instead of running on
     * until every planned event is out. */
    const int64_t deadline_ns = t0 + (int64_t)(seconds * 1e9);
    size_t limit = total;
    while (!stop) {
        int64_t now = bench_now_ns();
        if (!warm_done && now >= t0 + (int64_t)(warmup * 1e9)) {
            warm = nsent;
            warm_done = true;
        }
        if (nsent < limit && now >= deadline_ns) {
            limit = nsent;
            end_ns = now + (int64_t)(drain * 1e9);
        }
        while (nsent < limit && now >= t0 + (int64_t)((double)nsent * interval_ns) &&
               (now = bench_now_ns()) < deadline_ns) {
            char buf[256], cust[48];
            int n = probe_event(buf, sizeof(buf), cust, sizeof(cust), tag, nsent, score);
            rd_kafka_resp_err_t e;
            for (;;) {
                sent_ns[nsent] = bench_now_ns();
                e = rd_kafka_producev(rp, RD_KAFKA_V_TOPIC(in), RD_KAFKA_V_VALUE(buf, (size_t)n),
                                      RD_KAFKA_V_KEY(cust, strlen(cust)),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                    break;
                /* The offered rate is more than this producer (linger.ms=0) delivers: wait
                 * for deliveries; the achieved rate is reported, not the requested one. */
                queue_full_waits++;
                rd_kafka_poll(rp, 1);
            }
            if (e)
                bench_die("produce: %s", rd_kafka_err2str(e));
            nsent++;
            last_sent_ns = bench_now_ns();
            if (nsent == limit)
                end_ns = bench_now_ns() + (int64_t)(drain * 1e9);
        }
        rd_kafka_poll(rp, 0);
        int64_t next = nsent < limit ? t0 + (int64_t)((double)nsent * interval_ns) : now + 5000000;
        /* Rounded up: above 1,000 events/s the next event is due in under a millisecond, and
         * a 0 ms poll until then would spin a core the broker and the system measured need
         * (8.9 s of CPU in a 13 s run at 12,000 events/s; 2.7 s rounded up). Events due
         * meanwhile go out together, each with its own send time. */
        int64_t wait_ns = next - bench_now_ns();
        int wait_ms = wait_ns > 0 ? (int)((wait_ns + 999999) / 1000000) : 0;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rc, wait_ms);
        if (m) {
            int64_t rnow = bench_now_ns();
            if (!m->err) {
                long long seq = find_seq(m->payload, m->len);
                if (seq >= 0 && (size_t)seq < nsent) {
                    if (seen[seq]) {
                        dups++;
                    } else {
                        seen[seq] = true;
                        received++;
                        if (warm_done && (size_t)seq >= warm)
                            lat_ns[nlat++] = rnow - sent_ns[seq];
                    }
                }
            }
            rd_kafka_message_destroy(m);
        }
        if (nsent == limit && (received == nsent || bench_now_ns() > end_ns))
            break;
    }
    qsort(lat_ns, nlat, sizeof(int64_t), bench_cmp_i64);
    if (lat_file) {
        FILE *fp = fopen(lat_file, "w");
        if (fp) {
            for (size_t i = 0; i < nlat; i++)
                fprintf(fp, "%.1f\n", (double)lat_ns[i] / 1e3);
            fclose(fp);
        }
    }
    size_t counted_sent = nsent > warm ? nsent - warm : 0;
    printf("{\"sent\":%zu,\"received\":%zu,\"counted\":%zu,\"missing\":%zu,\"duplicates\":%zu,"
           "\"rate\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,"
           "\"max_ms\":%.3f,\"achieved_rate\":%.1f,\"queue_full_waits\":%zu}\n",
           nsent, received, nlat, counted_sent - nlat, dups, rate,
           (double)bench_quantile(lat_ns, nlat, 0.50) / 1e6,
           (double)bench_quantile(lat_ns, nlat, 0.90) / 1e6,
           (double)bench_quantile(lat_ns, nlat, 0.99) / 1e6,
           (double)bench_quantile(lat_ns, nlat, 0.999) / 1e6,
           nlat ? (double)lat_ns[nlat - 1] / 1e6 : 0.0,
           last_sent_ns > t0 ? (double)nsent * 1e9 / (double)(last_sent_ns - t0) : 0.0,
           queue_full_waits);
    rd_kafka_consumer_close(rc);
    rd_kafka_destroy(rc);
    rd_kafka_flush(rp, 2000);
    rd_kafka_destroy(rp);
    free(sent_ns);
    free(lat_ns);
    free(seen);
    return nlat ? 0 : 1;
}
