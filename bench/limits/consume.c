/* consume.c - the raw-consume limit: how fast can librdkafka alone hand us the messages?
 *
 *   limit_consume (--brokers B | --bootstrap-file F) --topic T --group G [--expect N]
 *                 [--batch 1000] [--idle-ms 3000] [--timeout-s 300] [--series-ms 100]
 *                 [-X key=value ...]
 *
 * A high-level (group) consumer, subscribe + rd_kafka_consume_batch_queue, with a tuned
 * pre-fetch queue (queued.min.messages, queued.max.messages.kbytes; -X overrides), counting
 * messages and reading every byte of each value (an 8-byte-word checksum) so the data really
 * crosses the cache, as a decoder would make it. Stops after --expect messages, or when no
 * message came for --idle-ms after the first one, or at --timeout-s.
 *
 * Prints {"msgs","bytes","seconds" (first message to last),"rate","cpu_s","cpu_ns_per_msg",
 * "threads" (CPU seconds and minor faults of librdkafka's threads and the program's own),
 * "first_msg_ms" (process start to first message: group join + first fetch),"series":[[t,n]]}.
 */
#include "bench_kafka.h"

#include <signal.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t touch(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t sum = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        sum += w;
    }
    for (; i < n; i++)
        sum += b[i];
    return sum;
}

int main(int argc, char **argv)
{
    int64_t t_start = bench_now_ns();
    int64_t cpu_start = bench_cpu_ns();
    const char *topic = bench_arg(argc, argv, "--topic", "bank.events");
    const char *group = bench_arg(argc, argv, "--group", "bench-raw");
    long long expect = bench_arg_ll(argc, argv, "--expect", 0);
    int batch = (int)bench_arg_ll(argc, argv, "--batch", 1000);
    long long idle_ms = bench_arg_ll(argc, argv, "--idle-ms", 3000);
    long long timeout_s = bench_arg_ll(argc, argv, "--timeout-s", 300);
    long long series_ms = bench_arg_ll(argc, argv, "--series-ms", 100);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    char brokers[1024];
    bench_brokers(argc, argv, brokers, sizeof(brokers));
    static const char *const defaults[] = {"auto.offset.reset",
                                           "earliest",
                                           "enable.auto.commit",
                                           "true",
                                           "enable.partition.eof",
                                           "false",
                                           "queued.min.messages",
                                           "200000",
                                           "queued.max.messages.kbytes",
                                           "262144",
                                           "fetch.wait.max.ms",
                                           "100",
                                           NULL};
    rd_kafka_conf_t *conf = bench_kconf(argc, argv, defaults);
    bench_kset(conf, "bootstrap.servers", brokers);
    bench_kset(conf, "group.id", group);
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk)
        bench_die("rd_kafka_new: %s", err);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e)
        bench_die("subscribe: %s", rd_kafka_err2str(e));
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);

    rd_kafka_message_t **msgs = calloc((size_t)batch, sizeof(*msgs));
    size_t series_cap = 1 << 16, series_n = 0;
    int64_t(*series)[2] = calloc(series_cap, sizeof(*series));
    if (!msgs || !series)
        bench_die("out of memory");
    uint64_t n = 0, bytes = 0, sum = 0, errors = 0;
    int64_t t_first = 0, t_last = 0, next_series = 0;
    while (!stop) {
        ssize_t got = rd_kafka_consume_batch_queue(q, 100, msgs, (size_t)batch);
        int64_t now = bench_now_ns();
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    errors++;
            } else {
                n++;
                bytes += m->len;
                sum += touch(m->payload, m->len);
            }
            rd_kafka_message_destroy(m);
        }
        if (got > 0 && n > 0) {
            if (!t_first) {
                t_first = now;
                next_series = now;
            }
            t_last = now;
        }
        if (t_first && now >= next_series && series_n < series_cap) {
            series[series_n][0] = (now - t_first) / 1000000;
            series[series_n][1] = (int64_t)n;
            series_n++;
            next_series = now + series_ms * 1000000;
        }
        if (expect > 0 && (long long)n >= expect)
            break;
        if (t_first && (now - t_last) / 1000000 > idle_ms)
            break;
        if ((now - t_start) / 1000000000 > timeout_s)
            break;
    }
    int64_t cpu = bench_cpu_ns() - cpu_start;
    bench_threads_t th = bench_threads();
    double secs = t_first ? (double)(t_last - t_first) / 1e9 : 0;
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    printf("{\"msgs\":%llu,\"bytes\":%llu,\"errors\":%llu,\"seconds\":%.6f,\"rate\":%.1f,"
           "\"cpu_s\":%.4f,\"cpu_ns_per_msg\":%.1f,\"first_msg_ms\":%.1f,\"check\":%llu,"
           "\"threads\":{\"rdk_cpu_s\":%.2f,\"own_cpu_s\":%.2f,\"rdk_minflt\":%lld,"
           "\"own_minflt\":%lld},\"series\":[",
           (unsigned long long)n, (unsigned long long)bytes, (unsigned long long)errors, secs,
           secs > 0 ? (double)n / secs : 0.0, (double)cpu / 1e9, n ? (double)cpu / (double)n : 0.0,
           t_first ? (double)(t_first - t_start) / 1e6 : -1.0, (unsigned long long)(sum & 0xffff),
           th.rdk_cpu_s, th.own_cpu_s, th.rdk_minflt, th.own_minflt);
    for (size_t i = 0; i < series_n; i++)
        printf("%s[%lld,%lld]", i ? "," : "", (long long)series[i][0], (long long)series[i][1]);
    printf("]}\n");
    free(msgs);
    free(series);
    return n ? 0 : 1;
}
