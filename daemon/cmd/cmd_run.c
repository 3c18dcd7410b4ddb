/* cmd_run.c - `vane run`: load the configuration, then hand over to the pipeline. */
#include "cmd.h"

#include "core/config.h"
#include "core/pipeline.h"
#include "engine/codec.h"
#include "util/err.h"
#include "util/log.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_run_usage[] =
    "usage: vane run [--config FILE] [--brokers HOST:PORT] [--redis URL] [--group G]\n"
    "                [--rules FILE]... [--http ADDR:PORT|off] [--KEY=VALUE]... [--check-config]\n"
    "\n"
    "Run the detection daemon: consume customer events from Kafka (kafka.input_topic), keep\n"
    "per-customer state in Redis (cached in memory for the partitions this instance owns),\n"
    "evaluate the rules and produce alerts to kafka.alert_topic. Every option has a default,\n"
    "so `vane run --brokers B --redis R --group G` needs no file. Precedence: defaults <\n"
    "--config FILE (YAML) < VANE_* environment < flags. --redis takes redis://host:port or\n"
    "unix:///path/to.sock. --check-config prints the effective configuration (secrets masked)\n"
    "and exits. SIGTERM/SIGINT: drain, flush, commit, exit 0. SIGHUP: reload the rules.\n"
    "All options: docs/configuration.md.\n";

_Static_assert(VANE_DECODE_MAX_BYTES == 16u << 20,
               "kafka.max_message_bytes is bounded by the decoder's limit in config_table.c");

/* Collect pass-through librdkafka properties: common first, then the client's own. */
static vane_kv_t *collect_props(const vane_config_kvlist_t *common, const vane_config_kvlist_t *own,
                                size_t *n)
{
    *n = common->n + own->n;
    vane_kv_t *kv = calloc(*n ? *n : 1, sizeof *kv);
    if (!kv)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < common->n; i++)
        kv[k++] = (vane_kv_t){common->items[i].name, common->items[i].value};
    for (size_t i = 0; i < own->n; i++)
        kv[k++] = (vane_kv_t){own->items[i].name, own->items[i].value};
    return kv;
}

/* Would librdkafka take these properties? (Checked by --check-config; a run checks them when
 * it creates its clients.) The message names the property, never its value (a secret). */
static bool props_valid(const vane_config_kvlist_t *own, const char *own_prefix,
                        const vane_config_kvlist_t *common, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const vane_config_kvlist_t *lists[2] = {common, own};
    const char *prefixes[2] = {"kafka.common.", own_prefix};
    bool ok = conf != NULL;
    for (int l = 0; l < 2 && ok; l++) {
        for (size_t i = 0; i < lists[l]->n && ok; i++) {
            char why[256];
            if (rd_kafka_conf_set(conf, lists[l]->items[i].name, lists[l]->items[i].value, why,
                                  sizeof why) != RD_KAFKA_CONF_OK) {
                snprintf(err, errlen, "%s%s: %s", prefixes[l], lists[l]->items[i].name, why);
                ok = false;
            }
        }
    }
    if (conf)
        rd_kafka_conf_destroy(conf);
    else
        snprintf(err, errlen, "out of memory");
    return ok;
}

/* glibc returns freed memory to the kernel eagerly (a heap top over 128 KiB is trimmed; big
 * blocks are mmapped and unmapped each time), and librdkafka's fetch buffers come and go at
 * line rate, so the same memory was faulted in and zeroed again and again: ~150,000 page
 * faults per 1.5 M events in the bench's throughput run, ~110,000 with these limits. Kept
 * freed memory is bounded by the trim threshold. An operator's own GLIBC_TUNABLES for these
 * two settings win. */
static void tune_malloc(void)
{
    const char *t = getenv("GLIBC_TUNABLES");
    if (!t || !strstr(t, "malloc.trim_threshold"))
        mallopt(M_TRIM_THRESHOLD, 256 << 20);
    if (!t || !strstr(t, "malloc.mmap_threshold"))
        mallopt(M_MMAP_THRESHOLD, 32 << 20); /* glibc's ceiling on 64-bit */
}

int cmd_run(int argc, char **argv)
{
    vane_config_t cfg;
    char err[512] = "";
    int rc = vane_config_load(&cfg, argc, argv, err, sizeof err);
    if (rc == VANE_EINVAL) {
        vane_config_free(&cfg);
        return vane_command_usage_error("run", "%s", err);
    }
    if (rc != VANE_OK) {
        fprintf(stderr, "vane run: %s\n", err);
        vane_config_free(&cfg);
        return 1;
    }
    if (cfg.help) {
        fputs(cmd_run_usage, stdout);
        vane_config_free(&cfg);
        return 0;
    }
    const char *dirs[] = {VANE_DATADIR, VANE_SOURCE_DIR, NULL};
    if (vane_config_resolve_rules(&cfg, dirs) != VANE_OK) {
        fprintf(stderr, "vane run: no rules configured and rules/default.yaml not found; "
                        "pass --rules FILE\n");
        vane_config_free(&cfg);
        return 1;
    }
    if (cfg.check_config) {
        if (!props_valid(&cfg.kafka.consumer, "kafka.consumer.", &cfg.kafka.common, err,
                         sizeof err) ||
            !props_valid(&cfg.kafka.producer, "kafka.producer.", &cfg.kafka.common, err,
                         sizeof err)) {
            fprintf(stderr, "vane run: %s\n", err);
            vane_config_free(&cfg);
            return 1;
        }
        vane_config_print(&cfg, stdout);
        vane_config_free(&cfg);
        return 0;
    }
    vane_log_setup((vane_log_level_t)cfg.log.level, (vane_log_format_t)cfg.log.format,
                   (int)cfg.log.suppress_ms);
    vane_log_set_mask_ids(cfg.log.mask_customer_ids);

    size_t ncons = 0, nprod = 0;
    vane_kv_t *cons = collect_props(&cfg.kafka.common, &cfg.kafka.consumer, &ncons);
    vane_kv_t *prod = collect_props(&cfg.kafka.common, &cfg.kafka.producer, &nprod);
    if (!cons || !prod) {
        fprintf(stderr, "vane run: out of memory\n");
        free(cons);
        free(prod);
        vane_config_free(&cfg);
        return 1;
    }
    vane_pipeline_opts_t o;
    memset(&o, 0, sizeof o);
    o.source = (vane_kafka_source_opts_t){
        .brokers = cfg.kafka.brokers,
        .group = cfg.kafka.group,
        .topic = cfg.kafka.input_topic,
        .auto_offset_reset = cfg.kafka.auto_offset_reset,
        .batch_size = (int)cfg.kafka.batch_size,
        .max_batches_per_wakeup = 1,
        .fetch_wait_max_ms = (int)cfg.kafka.fetch_wait_max_ms,
        .queued_max_messages_kbytes = (int)cfg.kafka.queued_max_messages_kbytes,
        .queued_min_messages = (int)cfg.kafka.queued_min_messages,
        .max_message_bytes = (int)cfg.kafka.max_message_bytes,
        .session_timeout_ms = (int)cfg.kafka.session_timeout_ms,
        .props = cons,
        .nprops = ncons,
    };
    o.sink = (vane_alert_sink_opts_t){
        .brokers = cfg.kafka.brokers,
        .alert_topic = cfg.kafka.alert_topic,
        .shadow_topic = cfg.kafka.shadow_topic,
        .dlq_topic = cfg.kafka.dlq_topic,
        .format = cfg.kafka.alert_format == VANE_CONFIG_FORMAT_PROTOBUF ? VANE_FORMAT_PROTOBUF
                                                                        : VANE_FORMAT_JSON,
        .linger_ms = (int)cfg.kafka.linger_ms,
        .max_message_bytes = (int)cfg.kafka.max_message_bytes,
        .props = prod,
        .nprops = nprod,
    };
    o.store = (vane_state_store_opts_t){
        .url = cfg.redis.url,
        .user = cfg.redis.user,
        .password = cfg.redis.password,
        .prefix = cfg.redis.key_prefix,
        .reconnect_max_ms = (int)cfg.redis.reconnect_max_ms,
        .command_timeout_ms = 5000,
        .connect_timeout_ms = (int)cfg.redis.connect_timeout_ms,
        .state_ttl_ms = cfg.redis.state_ttl_ms,
    };
    o.input_format = cfg.kafka.input_format == VANE_CONFIG_FORMAT_JSON       ? VANE_FORMAT_JSON
                     : cfg.kafka.input_format == VANE_CONFIG_FORMAT_PROTOBUF ? VANE_FORMAT_PROTOBUF
                                                                             : VANE_FORMAT_AUTO;
    o.max_message_bytes = (size_t)cfg.kafka.max_message_bytes;
    o.cache_max = (size_t)cfg.redis.cache_max_customers;
    o.flush_interval_ms = (int)cfg.redis.flush_interval_ms;
    o.flush_max_dirty = (size_t)cfg.redis.pipeline_max;
    o.flush_inflight_max = (uint32_t)cfg.redis.writeback_inflight;
    o.max_waiting = 100000;
    o.max_outstanding = 50000;
    o.max_future_ms = cfg.engine.max_future_ms;
    o.max_past_ms = cfg.engine.max_past_ms;
    o.shutdown_grace_ms = (int)cfg.shutdown.grace_ms;
    o.rule_paths = (const char *const *)cfg.engine.rules.items;
    o.nrule_paths = cfg.engine.rules.n;
    o.http_listen = cfg.http.enabled ? cfg.http.listen : NULL;
    o.http_reload_timeout_ms = cfg.http.reload_timeout_ms;
    o.metrics_interval_ms = cfg.metrics.render_interval_ms;

    tune_malloc(); /* before the pipeline starts librdkafka's threads */
    rc = vane_pipeline_run(&o);
    free(cons);
    free(prod);
    vane_config_free(&cfg);
    return rc;
}
