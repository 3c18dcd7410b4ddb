/* bench_kafka.h - librdkafka helpers for the limit programs (header only).
 *
 * bench_kconf() builds a configuration from defaults, then every `-X key=value` argument on
 * the command line (applied last, so a run can match whatever vane is configured with).
 * The returned conf is owned by the caller until passed to rd_kafka_new().
 */
#ifndef VANE_BENCH_KAFKA_H
#define VANE_BENCH_KAFKA_H

#include "bench_util.h"

#include <librdkafka/rdkafka.h>

static inline void bench_kset(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        bench_die("config %s=%s: %s", k, v, err);
}

/* defaults: NULL-terminated list of key, value, key, value, ... */
static inline rd_kafka_conf_t *bench_kconf(int argc, char **argv, const char *const *defaults)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (const char *const *d = defaults; d && d[0]; d += 2)
        bench_kset(conf, d[0], d[1]);
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "-X") != 0)
            continue;
        char kv[512];
        snprintf(kv, sizeof(kv), "%s", argv[i + 1]);
        char *eq = strchr(kv, '=');
        if (!eq)
            bench_die("-X wants key=value, got %s", kv);
        *eq = '\0';
        bench_kset(conf, kv, eq + 1);
    }
    return conf;
}

/* Read the bootstrap list: --brokers B, else the first line of --bootstrap-file F. */
static inline void bench_brokers(int argc, char **argv, char *out, size_t cap)
{
    const char *b = bench_arg(argc, argv, "--brokers", NULL);
    if (b) {
        snprintf(out, cap, "%s", b);
        return;
    }
    const char *f = bench_arg(argc, argv, "--bootstrap-file", NULL);
    if (!f)
        bench_die("need --brokers or --bootstrap-file");
    FILE *fp = fopen(f, "r");
    if (!fp || !fgets(out, (int)cap, fp))
        bench_die("cannot read %s", f);
    fclose(fp);
    out[strcspn(out, "\r\n")] = '\0';
}

/* Number of partitions of topic, or -1. */
static inline int bench_partitions(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            n = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    return n;
}

#endif
