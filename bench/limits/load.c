/* load.c - the benchmark loader: a deterministic stream of contract events.
 *
 *   limit_load [--brokers B | --bootstrap-file F] [--topic bank.events] [--count N]
 *              [--customers C] [--zipf S] [--format json|protobuf] [--seed N] [--header]
 *              [--file PATH] [--rate EV/S] [--sequential] [--base-ms T] [--step-ms N]
 *              [-X key=value ...]
 *
 * Events (~150 B in JSON) are keyed by customer_id, customers drawn uniformly over C (or
 * Zipf(S) when --zipf > 0), event time increasing by 1 s per event (--step-ms) and ending an
 * hour ago (--base-ms sets the first event's time). With brokers, produces
 * every event and waits until each is acknowledged (failures are counted and reported);
 * with --file, also writes them to PATH: JSON lines, or protobuf length-delimited (varint
 * length prefix). --header adds content-type headers (costs ~30 B per message in the mock
 * broker's 5 MB-per-partition budget; vane sniffs the format without it). --rate paces the
 * production at a steady EV/S (soak tests); default as fast as possible. --sequential takes
 * the customers in turn (event i is customer i % C), so the first C events touch every one.
 * Prints {"produced":N,"failed":N,"bytes":B,"avg_bytes":x,"seconds":s,"rate":r}.
 */
#include "bench_kafka.h"

static uint64_t failed, delivered;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        failed++;
    else
        delivered++;
}

static void put_varint(FILE *fp, uint64_t v)
{
    while (v >= 0x80) {
        fputc((int)(v & 0x7f) | 0x80, fp);
        v >>= 7;
    }
    fputc((int)v, fp);
}

int main(int argc, char **argv)
{
    const char *topic = bench_arg(argc, argv, "--topic", "bank.events");
    long long count = bench_arg_ll(argc, argv, "--count", 1500000);
    long long customers = bench_arg_ll(argc, argv, "--customers", 1000000);
    double zipf = bench_arg_d(argc, argv, "--zipf", 0);
    const char *format = bench_arg(argc, argv, "--format", "json");
    long long seed = bench_arg_ll(argc, argv, "--seed", 1);
    const char *path = bench_arg(argc, argv, "--file", NULL);
    double rate = bench_arg_d(argc, argv, "--rate", 0);
    bool header = false, sequential = false;
    for (int i = 1; i < argc; i++) {
        header |= strcmp(argv[i], "--header") == 0;
        sequential |= strcmp(argv[i], "--sequential") == 0;
    }
    bool pb = strcmp(format, "protobuf") == 0;
    if (!pb && strcmp(format, "json") != 0)
        bench_die("--format json|protobuf");
    bool to_kafka =
        bench_arg(argc, argv, "--brokers", NULL) || bench_arg(argc, argv, "--bootstrap-file", NULL);
    if (!to_kafka && !path)
        bench_die("need --brokers/--bootstrap-file and/or --file");

    rd_kafka_t *rk = NULL;
    if (to_kafka) {
        char brokers[1024];
        bench_brokers(argc, argv, brokers, sizeof(brokers));
        static const char *const defaults[] = {"linger.ms",
                                               "20",
                                               "batch.num.messages",
                                               "10000",
                                               "queue.buffering.max.messages",
                                               "1000000",
                                               "queue.buffering.max.kbytes",
                                               "1048576",
                                               "compression.codec",
                                               "none",
                                               NULL};
        rd_kafka_conf_t *conf = bench_kconf(argc, argv, defaults);
        bench_kset(conf, "bootstrap.servers", brokers);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        char err[256];
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        if (!rk)
            bench_die("rd_kafka_new: %s", err);
    }
    FILE *fp = NULL;
    if (path) {
        fp = fopen(path, "wb");
        if (!fp)
            bench_die("cannot write %s", path);
    }

    bench_gen_t g;
    bench_gen_init(&g, (uint64_t)seed, (uint64_t)customers, zipf);
    g.sequential = sequential;
    g.step_ms = bench_arg_ll(argc, argv, "--step-ms", g.step_ms);
    /* Event time ends an hour before now, so no event is "in the future" or absurdly old. */
    g.base_ms = bench_arg_ll(argc, argv, "--base-ms",
                             bench_wall_ms() - (int64_t)count * g.step_ms - 3600000);
    const char *ct = pb ? "application/x-protobuf" : "application/json";
    uint64_t bytes = 0;
    int64_t t0 = bench_now_ns();
    for (long long i = 0; i < count; i++) {
        bench_event_t e;
        char buf[512];
        bench_gen_next(&g, &e);
        int n = pb ? bench_event_pb(&e, (uint8_t *)buf, sizeof(buf))
                   : bench_event_json(&e, buf, sizeof(buf));
        if (n < 0)
            bench_die("event too large");
        bytes += (uint64_t)n;
        if (fp) {
            if (pb) {
                put_varint(fp, (uint64_t)n);
                fwrite(buf, 1, (size_t)n, fp);
            } else {
                fwrite(buf, 1, (size_t)n, fp);
                fputc('\n', fp);
            }
        }
        if (!rk)
            continue;
        if (rate > 0) { /* steady pace: event i leaves at t0 + i / rate */
            int64_t due = t0 + (int64_t)((double)i * 1e9 / rate);
            while (bench_now_ns() < due)
                rd_kafka_poll(rk, 1);
        }
        for (;;) {
            rd_kafka_resp_err_t err;
            if (header)
                err =
                    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(buf, (size_t)n),
                                      RD_KAFKA_V_KEY(e.customer_id, strlen(e.customer_id)),
                                      RD_KAFKA_V_HEADER("content-type", ct, (ssize_t)strlen(ct)),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            else
                err =
                    rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(buf, (size_t)n),
                                      RD_KAFKA_V_KEY(e.customer_id, strlen(e.customer_id)),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                bench_die("produce: %s", rd_kafka_err2str(err));
            rd_kafka_poll(rk, 10);
        }
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    if (rk) {
        while (rd_kafka_outq_len(rk) > 0)
            rd_kafka_flush(rk, 1000);
        rd_kafka_destroy(rk);
    }
    if (fp)
        fclose(fp);
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    printf("{\"produced\":%llu,\"failed\":%llu,\"bytes\":%llu,\"avg_bytes\":%.1f,\"seconds\":%.3f,"
           "\"rate\":%.1f,\"format\":\"%s\",\"customers\":%lld,\"zipf\":%g}\n",
           (unsigned long long)(to_kafka ? delivered : (uint64_t)count), (unsigned long long)failed,
           (unsigned long long)bytes, count ? (double)bytes / (double)count : 0.0, secs,
           secs > 0 ? (double)count / secs : 0.0, format, customers, zipf);
    return failed ? 1 : 0;
}
