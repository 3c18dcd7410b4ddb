/* mock.c - a librdkafka mock cluster for the benchmark, when `vane broker` is not built.
 *
 * Same interface as `vane broker`, so bench/run.sh can use either:
 *   limit_mock --bootstrap-file F [--brokers-count N] --topic name:partitions [--topic ...]
 * writes the bootstrap list to F once the topics exist, then serves until SIGTERM/SIGINT.
 * The mock keeps every message in memory and, per partition, keeps at most 100,000 messages
 * or 5 MB before it starts dropping the oldest: the loader sizes its data below that.
 */
#include "bench_kafka.h"

#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    const char *file = bench_arg(argc, argv, "--bootstrap-file", NULL);
    int nbrokers = (int)bench_arg_ll(argc, argv, "--brokers-count", 1);
    if (!file)
        bench_die("usage: limit_mock --bootstrap-file F [--brokers-count N] --topic name:parts");
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk)
        bench_die("rd_kafka_new: %s", err);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, nbrokers);
    if (!mc)
        bench_die("mock cluster failed");
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--topic") != 0)
            continue;
        char name[256];
        snprintf(name, sizeof(name), "%s", argv[i + 1]);
        char *colon = strchr(name, ':');
        int parts = 1;
        if (colon) {
            *colon = '\0';
            parts = atoi(colon + 1);
        }
        int rf = nbrokers < 3 ? nbrokers : 3;
        if (rd_kafka_mock_topic_create(mc, name, parts, rf) != RD_KAFKA_RESP_ERR_NO_ERROR)
            bench_die("topic create %s failed", name);
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", file);
    FILE *fp = fopen(tmp, "w");
    if (!fp)
        bench_die("cannot write %s", tmp);
    fprintf(fp, "%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fclose(fp);
    if (rename(tmp, file) != 0)
        bench_die("rename %s failed", tmp);
    fprintf(stderr, "limit_mock: %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    while (!stop)
        usleep(50000);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
