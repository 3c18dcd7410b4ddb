/* relay.c - the relay limit: consume one topic, produce each message to another.
 *
 *   limit_relay (--brokers B | --bootstrap-file F) --in T --out T2 [--group G]
 *               [--fetch-wait-max-ms 10] [--linger-ms 5] [-X key=value ...]
 *
 * This is the floor for vane's event -> alert latency: the same Kafka round trips (a fetch,
 * a produce) with the same fetch.wait.max.ms and linger.ms as vane, and no work in between.
 * Starts at the end of the input (auto.offset.reset=latest) and runs until SIGTERM/SIGINT,
 * then prints {"relayed":N,"failed":N,"cpu_s":x}. It writes "ready" to stderr once its
 * partitions are assigned.
 */
#include "bench_kafka.h"

#include <signal.h>

static volatile sig_atomic_t stop;
static uint64_t failed;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        failed++;
}

int main(int argc, char **argv)
{
    const char *in = bench_arg(argc, argv, "--in", "bank.events");
    const char *out = bench_arg(argc, argv, "--out", "churn.alerts");
    const char *group = bench_arg(argc, argv, "--group", "bench-relay");
    const char *fwait = bench_arg(argc, argv, "--fetch-wait-max-ms", "10");
    const char *linger = bench_arg(argc, argv, "--linger-ms", "5");
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    char brokers[1024];
    bench_brokers(argc, argv, brokers, sizeof(brokers));
    char err[256];

    static const char *const cdefaults[] = {"auto.offset.reset", "latest", "enable.partition.eof",
                                            "false", NULL};
    rd_kafka_conf_t *cconf = bench_kconf(argc, argv, cdefaults);
    bench_kset(cconf, "bootstrap.servers", brokers);
    bench_kset(cconf, "group.id", group);
    bench_kset(cconf, "fetch.wait.max.ms", fwait);
    rd_kafka_t *rc = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof(err));
    if (!rc)
        bench_die("consumer: %s", err);
    rd_kafka_poll_set_consumer(rc);

    rd_kafka_conf_t *pconf = rd_kafka_conf_new();
    bench_kset(pconf, "bootstrap.servers", brokers);
    bench_kset(pconf, "linger.ms", linger);
    rd_kafka_conf_set_dr_msg_cb(pconf, on_delivery);
    rd_kafka_t *rp = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof(err));
    if (!rp)
        bench_die("producer: %s", err);

    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, in, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rc, sub))
        bench_die("subscribe failed");
    rd_kafka_topic_partition_list_destroy(sub);

    int64_t cpu0 = bench_cpu_ns();
    uint64_t relayed = 0;
    bool ready = false;
    while (!stop) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rc, 50);
        if (!ready) {
            rd_kafka_topic_partition_list_t *as = NULL;
            if (rd_kafka_assignment(rc, &as) == 0 && as) {
                if (as->cnt > 0) {
                    ready = true;
                    fprintf(stderr, "ready\n");
                }
                rd_kafka_topic_partition_list_destroy(as);
            }
        }
        if (m) {
            if (!m->err) {
                for (;;) {
                    rd_kafka_resp_err_t e = rd_kafka_producev(
                        rp, RD_KAFKA_V_TOPIC(out), RD_KAFKA_V_VALUE(m->payload, m->len),
                        RD_KAFKA_V_KEY(m->key, m->key_len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
                    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        if (e)
                            failed++;
                        break;
                    }
                    rd_kafka_poll(rp, 10);
                }
                relayed++;
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(rp, 0);
    }
    rd_kafka_flush(rp, 5000);
    int64_t cpu = bench_cpu_ns() - cpu0;
    rd_kafka_consumer_close(rc);
    rd_kafka_destroy(rc);
    rd_kafka_destroy(rp);
    printf("{\"relayed\":%llu,\"failed\":%llu,\"cpu_s\":%.4f}\n", (unsigned long long)relayed,
           (unsigned long long)failed, (double)cpu / 1e9);
    return 0;
}
