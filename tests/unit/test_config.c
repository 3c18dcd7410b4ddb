/* test_config.c - the option table, its four sources and their precedence, error messages,
 * secret masking, and the duration syntax shared with the rules engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/config.h"
#include "util/duration.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Write text to a fresh temporary file; returns its path in buf. */
static void write_tmp(char *path, size_t n, const char *text)
{
    snprintf(path, n, "/tmp/vane-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void test_duration_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
    } ok[] = {
        {"0", 0},          {"500ms", 500},    {"10s", 10000},          {"5m", 300000},
        {"24h", 86400000}, {"7d", 604800000}, {"2w", 1209600000},      {"1h30m", 5400000},
        {"1.5h", 5400000}, {"1s500ms", 1500}, {"400d", 34560000000LL}, {" 3m ", 180000},
        {"0ms", 0},        {"90m", 5400000},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -1;
        assert_int_equal(vane_duration_parse(ok[i].text, &v), VANE_OK);
        assert_int_equal(v, ok[i].ms);
    }
    static const char *const bad[] = {"",      "5",   "5x",  "m",     "-5m",
                                      "1..5h", "5 m", "ms5", "1h 2m", NULL};
    for (int i = 0; bad[i]; i++) {
        int64_t v = 42;
        assert_int_not_equal(vane_duration_parse(bad[i], &v), VANE_OK);
        assert_int_equal(v, 42);
    }
    int64_t v;
    assert_int_equal(vane_duration_parse("999999999999w", &v), VANE_ERANGE);
}

static void test_duration_format_roundtrip(void **state)
{
    (void)state;
    char buf[64];
    vane_duration_format(0, buf, sizeof buf);
    assert_string_equal(buf, "0");
    vane_duration_format(90000, buf, sizeof buf);
    assert_string_equal(buf, "1m30s");
    vane_duration_format(400LL * 86400000, buf, sizeof buf);
    assert_string_equal(buf, "400d");
    vane_duration_format(1500, buf, sizeof buf);
    assert_string_equal(buf, "1s500ms");
    vane_duration_format(-2000, buf, sizeof buf);
    assert_string_equal(buf, "-2s");
    /* truncation still terminates and reports the full length */
    assert_int_equal(vane_duration_format(90000, buf, 3), 5);
    assert_string_equal(buf, "1m");
    /* every formatted value parses back to itself */
    for (int64_t ms = 1; ms < 40LL * 86400000; ms = ms * 7 + 13) {
        vane_duration_format(ms, buf, sizeof buf);
        int64_t back = -1;
        assert_int_equal(vane_duration_parse(buf, &back), VANE_OK);
        assert_int_equal(back, ms);
    }
}

static void test_defaults(void **state)
{
    (void)state;
    vane_config_t cfg;
    assert_int_equal(vane_config_init(&cfg), VANE_OK);
    assert_string_equal(cfg.kafka.brokers, "127.0.0.1:9092");
    assert_string_equal(cfg.kafka.group, "vane");
    assert_string_equal(cfg.kafka.input_topic, "bank.events");
    assert_string_equal(cfg.kafka.alert_topic, "churn.alerts");
    assert_string_equal(cfg.kafka.dlq_topic, "bank.events.dlq");
    assert_string_equal(cfg.kafka.shadow_topic, "churn.alerts.shadow");
    assert_int_equal(cfg.kafka.input_format, VANE_CONFIG_FORMAT_AUTO);
    assert_int_equal(cfg.kafka.alert_format, VANE_CONFIG_FORMAT_JSON);
    assert_int_equal(cfg.kafka.batch_size, 1000);
    assert_int_equal(cfg.kafka.max_message_bytes, 1024 * 1024);
    assert_int_equal(cfg.kafka.queued_max_messages_kbytes, 65536);
    assert_int_equal(cfg.kafka.queued_min_messages, 1000000); /* the byte limit governs */
    assert_string_equal(cfg.kafka.auto_offset_reset, "earliest");
    assert_string_equal(cfg.redis.url, "redis://127.0.0.1:6379");
    assert_string_equal(cfg.redis.password, "");
    assert_int_equal(cfg.redis.cache_max_customers, 500000);
    assert_int_equal(cfg.engine.rules.n, 0);
    assert_int_equal(cfg.engine.max_future_ms, 3600 * 1000);
    assert_int_equal(cfg.engine.max_past_ms, 400LL * 86400 * 1000);
    assert_string_equal(cfg.http.listen, "127.0.0.1:9464");
    assert_true(cfg.http.enabled);
    assert_int_equal(cfg.log.level, 1); /* info */
    assert_true(cfg.log.mask_customer_ids);
    assert_int_equal(cfg.shutdown.grace_ms, 10000);
    for (size_t i = 0; i < vane_config_nopts; i++)
        assert_int_equal(cfg.src[i], VANE_CONFIG_SRC_DEFAULT);
    vane_config_free(&cfg);
    vane_config_free(NULL);
}

static void test_table_is_sane(void **state)
{
    (void)state;
    assert_true(vane_config_nopts > 30);
    for (size_t i = 0; i < vane_config_nopts; i++) {
        const vane_config_opt_t *o = &vane_config_opts[i];
        assert_non_null(o->help);
        assert_true(strlen(o->help) > 20);
        assert_ptr_equal(vane_config_find(o->name), o);
        assert_true(o->type != VANE_CONF_ENUM || o->choices);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(vane_config_opts[j].name, o->name);
    }
    /* dashes and underscores are the same */
    assert_ptr_equal(vane_config_find("kafka.batch-size"), vane_config_find("kafka.batch_size"));
    assert_null(vane_config_find("kafka"));
}

static void test_file_nested_flat_lists_passthrough(void **state)
{
    (void)state;
    char path[64];
    write_tmp(path, sizeof path,
              "# comment\n"
              "kafka:\n"
              "  brokers: k1:9092,k2:9092\n"
              "  batch_size: 250\n"
              "  max_message_bytes: 4MiB\n"
              "  input_format: PROTOBUF\n"
              "  consumer:\n"
              "    fetch.min.bytes: 10\n"
              "  common:\n"
              "    security.protocol: SASL_SSL\n"
              "    sasl:\n"
              "      password: hunter2\n"
              "redis.url: unix:///run/redis.sock\n"
              "engine:\n"
              "  rules: [a.yaml, dir/]\n"
              "  max_future: 90s\n"
              "log: {level: debug, mask_customer_ids: no}\n"
              "http:\n"
              "  listen: \"off\"\n");
    vane_config_t cfg;
    assert_int_equal(vane_config_init(&cfg), VANE_OK);
    char err[512] = "";
    int rc = vane_config_load_file(&cfg, path, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, VANE_OK);
    assert_string_equal(cfg.kafka.brokers, "k1:9092,k2:9092");
    assert_int_equal(cfg.kafka.batch_size, 250);
    assert_int_equal(cfg.kafka.max_message_bytes, 4 * 1024 * 1024);
    assert_int_equal(cfg.kafka.input_format, VANE_CONFIG_FORMAT_PROTOBUF);
    assert_string_equal(cfg.redis.url, "unix:///run/redis.sock");
    assert_int_equal(cfg.engine.rules.n, 2);
    assert_string_equal(cfg.engine.rules.items[0], "a.yaml");
    assert_string_equal(cfg.engine.rules.items[1], "dir/");
    assert_int_equal(cfg.engine.max_future_ms, 90000);
    assert_int_equal(cfg.log.level, 0);
    assert_false(cfg.log.mask_customer_ids);
    assert_false(cfg.http.enabled);
    assert_int_equal(cfg.kafka.consumer.n, 1);
    assert_string_equal(cfg.kafka.consumer.items[0].name, "fetch.min.bytes");
    assert_string_equal(cfg.kafka.consumer.items[0].value, "10");
    assert_int_equal(cfg.kafka.common.n, 2);
    assert_string_equal(cfg.kafka.common.items[1].name, "sasl.password");
    assert_string_equal(cfg.kafka.common.items[1].value, "hunter2");
    assert_int_equal(cfg.src[vane_config_find("kafka.brokers") - vane_config_opts],
                     VANE_CONFIG_SRC_FILE);
    assert_int_equal(cfg.src[vane_config_find("kafka.group") - vane_config_opts],
                     VANE_CONFIG_SRC_DEFAULT);
    vane_config_free(&cfg);
    unlink(path);
}

/* Load text as a file; expect failure and return the error text. */
static int load_bad(const char *text, char *err, size_t n, char *path, size_t pn)
{
    write_tmp(path, pn, text);
    vane_config_t cfg;
    assert_int_equal(vane_config_init(&cfg), VANE_OK);
    err[0] = '\0';
    int rc = vane_config_load_file(&cfg, path, err, n);
    vane_config_free(&cfg);
    unlink(path);
    return rc;
}

static void test_file_errors_name_key_and_line(void **state)
{
    (void)state;
    char err[512], path[64], want[128];

    assert_int_equal(
        load_bad("kafka:\n  group: g\n  brokrs: x:1\n", err, sizeof err, path, sizeof path),
        VANE_ECONFIG);
    snprintf(want, sizeof want, "%s:3: unknown key 'kafka.brokrs'", path);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "did you mean 'kafka.brokers'"));

    assert_int_equal(load_bad("kafka:\n  batch_size: lots\n", err, sizeof err, path, sizeof path),
                     VANE_ECONFIG);
    snprintf(want, sizeof want, "%s:2: kafka.batch_size: 'lots' is not an integer", path);
    assert_string_equal(err, want);

    assert_int_equal(load_bad("kafka.batch_size: 0\n", err, sizeof err, path, sizeof path),
                     VANE_ECONFIG);
    assert_non_null(strstr(err, ":1: kafka.batch_size: '0' is out of range 1 .. 100000"));
    /* Above the decoder's limit: refused at load, not "out of memory" at start-up. */
    assert_int_equal(
        load_bad("kafka.max_message_bytes: 64MiB\n", err, sizeof err, path, sizeof path),
        VANE_ECONFIG);
    assert_non_null(strstr(err, ":1: kafka.max_message_bytes: '64MiB' is out of range"));

    assert_int_equal(load_bad("engine:\n\n  max_future: 5\n", err, sizeof err, path, sizeof path),
                     VANE_ECONFIG);
    assert_non_null(strstr(err, ":3: engine.max_future: '5' is not a duration"));
    /* A removed option is refused with what replaced it. */
    assert_int_equal(load_bad("engine:\n  lateness: 5m\n", err, sizeof err, path, sizeof path),
                     VANE_ECONFIG);
    assert_non_null(strstr(err, "key 'engine.lateness' was removed: use settings.lateness"));

    assert_int_equal(load_bad("log:\n  format: xml\n", err, sizeof err, path, sizeof path),
                     VANE_ECONFIG);
    assert_non_null(strstr(err, "log.format: 'xml' is not one of: auto, text, json"));

    assert_int_equal(load_bad("kafka:\n  brokers:\n    a: b\n", err, sizeof err, path, sizeof path),
                     VANE_ECONFIG);
    assert_non_null(strstr(err, "kafka.brokers: takes a value, not a map"));

    assert_int_equal(load_bad("kafka:\n  group: [a, b]\n", err, sizeof err, path, sizeof path),
                     VANE_ECONFIG);
    assert_non_null(strstr(err, ":2: kafka.group: takes a single value"));

    assert_int_equal(
        load_bad("kafka:\n  brokers: \"x\n  group: g\n", err, sizeof err, path, sizeof path),
        VANE_ECONFIG);
    assert_non_null(strstr(err, "YAML syntax error"));

    assert_int_equal(load_bad("- a\n- b\n", err, sizeof err, path, sizeof path), VANE_ECONFIG);
    assert_non_null(strstr(err, "top level must be a map"));

    assert_int_equal(load_bad("http:\n  listen: localhost\n", err, sizeof err, path, sizeof path),
                     VANE_ECONFIG);
    assert_non_null(strstr(err, "http.listen: 'localhost' is not host:port or off"));

    assert_int_equal(load_bad("redis:\n  url: http://x\n", err, sizeof err, path, sizeof path),
                     VANE_ECONFIG);
    assert_non_null(strstr(err, ":2: redis.url:"));
    assert_non_null(strstr(err, "unknown scheme 'http'"));
    assert_int_equal(
        load_bad("redis:\n  url: redis://u:hush@h:1/x\n", err, sizeof err, path, sizeof path),
        VANE_ECONFIG);
    assert_non_null(strstr(err, "redis.url: the database must be a number, not 'x'"));
    assert_null(strstr(err, "hush")); /* errors never quote the password */

    assert_int_equal(load_bad("shutdown:\n  grace:\n", err, sizeof err, path, sizeof path),
                     VANE_ECONFIG);
    assert_non_null(strstr(err, ":2: shutdown.grace: needs a value"));

    /* an empty file is a valid (empty) configuration */
    assert_int_equal(load_bad("# nothing\n", err, sizeof err, path, sizeof path), VANE_OK);

    vane_config_t cfg;
    assert_int_equal(vane_config_init(&cfg), VANE_OK);
    assert_int_equal(vane_config_load_file(&cfg, "/nonexistent/vane.yaml", err, sizeof err),
                     VANE_EIO);
    assert_non_null(strstr(err, "/nonexistent/vane.yaml: cannot open"));
    vane_config_free(&cfg);
}

static void test_env(void **state)
{
    (void)state;
    char *envp[] = {
        "PATH=/bin",
        "VANE_BIN=/x/vane", /* not an option: ignored */
        "VANE_KAFKA_BROKERS=envhost:1",
        "VANE_ENGINE_RULES=r1.yaml,,r2.yaml",
        "VANE_LOG_MASK_CUSTOMER_IDS=off",
        "VANE_KAFKA_COMMON_SASL_USERNAME=u",
        "VANE_KAFKA_PRODUCER_COMPRESSION_TYPE=lz4",
        "VANE_REDIS_PASSWORD=pw",
        NULL,
    };
    vane_config_t cfg;
    assert_int_equal(vane_config_init(&cfg), VANE_OK);
    char err[256] = "";
    assert_int_equal(vane_config_load_env(&cfg, envp, err, sizeof err), VANE_OK);
    assert_string_equal(cfg.kafka.brokers, "envhost:1");
    assert_int_equal(cfg.engine.rules.n, 2);
    assert_string_equal(cfg.engine.rules.items[1], "r2.yaml");
    assert_false(cfg.log.mask_customer_ids);
    assert_string_equal(cfg.kafka.common.items[0].name, "sasl.username");
    assert_string_equal(cfg.kafka.producer.items[0].name, "compression.type");
    assert_string_equal(cfg.kafka.producer.items[0].value, "lz4");
    assert_string_equal(cfg.redis.password, "pw");
    assert_int_equal(cfg.src[vane_config_find("kafka.brokers") - vane_config_opts],
                     VANE_CONFIG_SRC_ENV);
    vane_config_free(&cfg);

    char *bad[] = {"VANE_KAFKA_LINGER_MS=soon", NULL};
    assert_int_equal(vane_config_init(&cfg), VANE_OK);
    assert_int_equal(vane_config_load_env(&cfg, bad, err, sizeof err), VANE_ECONFIG);
    assert_string_equal(err, "environment VANE_KAFKA_LINGER_MS: kafka.linger_ms: 'soon' is not an "
                             "integer");
    vane_config_free(&cfg);
}

static int load_argv(vane_config_t *cfg, char *err, size_t n, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "run";
    va_list ap;
    va_start(ap, n);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && argc < 31)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return vane_config_load(cfg, argc, argv, err, n);
}

static void test_precedence_default_file_env_cli(void **state)
{
    (void)state;
    char path[64];
    write_tmp(path, sizeof path,
              "kafka:\n  brokers: filehost:1\n  group: filegroup\n  batch_size: 7\n"
              "engine:\n  rules: [file1.yaml, file2.yaml]\n"
              "redis:\n  key_prefix: fileprefix\n");
    setenv("VANE_KAFKA_GROUP", "envgroup", 1);
    setenv("VANE_KAFKA_BATCH_SIZE", "8", 1);
    setenv("VANE_REDIS_KEY_PREFIX", "envprefix", 1);
    unsetenv("VANE_CONFIG");
    vane_config_t cfg;
    char err[512] = "";
    char cfgflag[128];
    snprintf(cfgflag, sizeof cfgflag, "--config=%s", path);
    int rc = load_argv(&cfg, err, sizeof err, "--batch-size-typo-not-used=1", NULL);
    assert_int_equal(rc, VANE_EINVAL); /* unknown flags are usage errors */
    vane_config_free(&cfg);

    rc = load_argv(&cfg, err, sizeof err, "--kafka.batch_size", "9", "--rules", "cli1.yaml",
                   "--rules=cli2.yaml", cfgflag, "--redis=redis://h:1/2", "--check-config", NULL);
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, VANE_OK);
    assert_string_equal(cfg.config_file, path);
    assert_true(cfg.check_config);
    assert_string_equal(cfg.kafka.brokers, "filehost:1");      /* file over default */
    assert_string_equal(cfg.kafka.group, "envgroup");          /* env over file */
    assert_string_equal(cfg.redis.key_prefix, "envprefix");    /* env over file */
    assert_int_equal(cfg.kafka.batch_size, 9);                 /* cli over env */
    assert_string_equal(cfg.redis.url, "redis://h:1/2");       /* alias */
    assert_string_equal(cfg.kafka.input_topic, "bank.events"); /* default */
    assert_int_equal(cfg.engine.rules.n, 2);                   /* cli replaces file list */
    assert_string_equal(cfg.engine.rules.items[0], "cli1.yaml");
    assert_string_equal(cfg.engine.rules.items[1], "cli2.yaml");
    const unsigned char *src = cfg.src;
    assert_int_equal(src[vane_config_find("kafka.brokers") - vane_config_opts],
                     VANE_CONFIG_SRC_FILE);
    assert_int_equal(src[vane_config_find("kafka.group") - vane_config_opts], VANE_CONFIG_SRC_ENV);
    assert_int_equal(src[vane_config_find("kafka.batch_size") - vane_config_opts],
                     VANE_CONFIG_SRC_CLI);
    vane_config_free(&cfg);

    /* VANE_CONFIG names the file when --config is absent */
    setenv("VANE_CONFIG", path, 1);
    assert_int_equal(load_argv(&cfg, err, sizeof err, NULL), VANE_OK);
    assert_string_equal(cfg.kafka.brokers, "filehost:1");
    vane_config_free(&cfg);
    unsetenv("VANE_CONFIG");

    /* a bad value in the file is a config error, not a usage error */
    char bad[64];
    write_tmp(bad, sizeof bad, "kafka:\n  linger_ms: -1\n");
    snprintf(cfgflag, sizeof cfgflag, "--config=%s", bad);
    assert_int_equal(load_argv(&cfg, err, sizeof err, cfgflag, NULL), VANE_ECONFIG);
    assert_non_null(strstr(err, ":2: kafka.linger_ms:"));
    vane_config_free(&cfg);
    assert_int_equal(load_argv(&cfg, err, sizeof err, "-c", "/nonexistent.yaml", NULL), VANE_EIO);
    vane_config_free(&cfg);

    unsetenv("VANE_KAFKA_GROUP");
    unsetenv("VANE_KAFKA_BATCH_SIZE");
    unsetenv("VANE_REDIS_KEY_PREFIX");
    unlink(path);
    unlink(bad);
}

static void test_cli_usage_errors(void **state)
{
    (void)state;
    vane_config_t cfg;
    char err[512];
    assert_int_equal(load_argv(&cfg, err, sizeof err, "--brokerz", "x", NULL), VANE_EINVAL);
    assert_non_null(strstr(err, "unknown option '--brokerz'"));
    vane_config_free(&cfg);

    assert_int_equal(load_argv(&cfg, err, sizeof err, "--kafka.brokrs=x", NULL), VANE_EINVAL);
    assert_non_null(strstr(err, "did you mean '--kafka.brokers'"));
    vane_config_free(&cfg);

    assert_int_equal(load_argv(&cfg, err, sizeof err, "--group", NULL), VANE_EINVAL);
    assert_string_equal(err, "--group needs a value");
    vane_config_free(&cfg);

    assert_int_equal(load_argv(&cfg, err, sizeof err, "--engine.max_future=soon", NULL),
                     VANE_EINVAL);
    assert_non_null(
        strstr(err, "--engine.max_future: engine.max_future: 'soon' is not a duration"));
    vane_config_free(&cfg);

    assert_int_equal(load_argv(&cfg, err, sizeof err, "stray", NULL), VANE_EINVAL);
    assert_non_null(strstr(err, "unexpected argument 'stray'"));
    vane_config_free(&cfg);

    assert_int_equal(load_argv(&cfg, err, sizeof err, "--config", NULL), VANE_EINVAL);
    vane_config_free(&cfg);

    /* bool flags alone mean true and do not eat the next argument */
    assert_int_equal(load_argv(&cfg, err, sizeof err, "--log.mask_customer_ids=false",
                               "--log.mask-customer-ids", "--http", "off", NULL),
                     VANE_OK);
    assert_true(cfg.log.mask_customer_ids);
    assert_false(cfg.http.enabled);
    vane_config_free(&cfg);

    /* pass-through on the command line */
    assert_int_equal(load_argv(&cfg, err, sizeof err, "--kafka.consumer.fetch.min.bytes=5",
                               "--kafka.consumer.fetch.min.bytes=6", NULL),
                     VANE_OK);
    assert_int_equal(cfg.kafka.consumer.n, 1);
    assert_string_equal(cfg.kafka.consumer.items[0].value, "6");
    vane_config_free(&cfg);
    /* A property vane sets itself is refused, with what to use instead. */
    assert_int_equal(
        load_argv(&cfg, err, sizeof err, "--kafka.consumer.enable.auto.offset.store=true", NULL),
        VANE_EINVAL);
    assert_non_null(strstr(err, "vane sets enable.auto.offset.store itself (vane commits only"));
    vane_config_free(&cfg);
    assert_int_equal(load_argv(&cfg, err, sizeof err, "--kafka.common.group.id=g", NULL),
                     VANE_EINVAL);
    assert_non_null(strstr(err, "use kafka.group"));
    vane_config_free(&cfg);

    /* --help stops parsing: the rest may be anything */
    assert_int_equal(load_argv(&cfg, err, sizeof err, "--help", "--nonsense", NULL), VANE_OK);
    assert_true(cfg.help);
    vane_config_free(&cfg);
}

static char *print_to_string(const vane_config_t *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    vane_config_print(cfg, f);
    fclose(f);
    return text;
}

static void test_print_masks_secrets_and_reloads(void **state)
{
    (void)state;
    vane_config_t cfg;
    char err[512];
    assert_int_equal(load_argv(&cfg, err, sizeof err, "--redis.password=s3cr3t-pw",
                               "--redis=redis://bob:urlpass@db:6380/1",
                               "--kafka.common.sasl.password=kafkapw",
                               "--kafka.common.sasl.username=alice", "--rules=x y.yaml",
                               "--engine.max_future=90s", NULL),
                     VANE_OK);
    char *text = print_to_string(&cfg);
    assert_null(strstr(text, "s3cr3t-pw"));
    assert_null(strstr(text, "urlpass"));
    assert_null(strstr(text, "kafkapw"));
    assert_non_null(strstr(text, "redis.password: \"********\"  # command line"));
    assert_non_null(strstr(text, "redis.url: \"redis://bob:****@db:6380/1\""));
    assert_non_null(strstr(text, "kafka.common.sasl.username: \"alice\""));
    assert_non_null(strstr(text, "engine.max_future: 1m30s  # command line"));
    assert_non_null(strstr(text, "kafka.group: \"vane\"  # default"));

    /* the printed text loads back to the same values (secrets aside) */
    char path[64];
    write_tmp(path, sizeof path, text);
    vane_config_t back;
    assert_int_equal(vane_config_init(&back), VANE_OK);
    int rc = vane_config_load_file(&back, path, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, VANE_OK);
    for (size_t i = 0; i < vane_config_nopts; i++) {
        const vane_config_opt_t *o = &vane_config_opts[i];
        char a[1024], b[1024];
        vane_config_value_str(&cfg, o, true, a, sizeof a);
        vane_config_value_str(&back, o, true, b, sizeof b);
        assert_string_equal(a, b);
    }
    assert_int_equal(back.engine.rules.n, 1);
    assert_string_equal(back.engine.rules.items[0], "x y.yaml");
    vane_config_free(&back);
    unlink(path);
    free(text);
    vane_config_free(&cfg);
}

static void test_mask_helpers(void **state)
{
    (void)state;
    char buf[128];
    vane_config_mask_url("redis://:pw@h:1", buf, sizeof buf);
    assert_string_equal(buf, "redis://:****@h:1");
    vane_config_mask_url("redis://user:p@ss@h:1/0", buf, sizeof buf);
    assert_string_equal(buf, "redis://user:****@h:1/0");
    vane_config_mask_url("redis://tokenonly@h:1", buf, sizeof buf);
    assert_string_equal(buf, "redis://****@h:1");
    vane_config_mask_url("redis://h:1/0", buf, sizeof buf);
    assert_string_equal(buf, "redis://h:1/0");
    vane_config_mask_url("unix:///run/r.sock", buf, sizeof buf);
    assert_string_equal(buf, "unix:///run/r.sock");
    assert_true(vane_config_is_secret_name("sasl.password"));
    assert_true(vane_config_is_secret_name("ssl.key.pem"));
    assert_true(vane_config_is_secret_name("sasl.oauthbearer.client.secret"));
    assert_true(vane_config_is_secret_name("SASL.JAAS.CONFIG"));
    assert_false(vane_config_is_secret_name("sasl.username"));
    assert_false(vane_config_is_secret_name("security.protocol"));
}

static void test_listen_values(void **state)
{
    (void)state;
    vane_config_t cfg;
    assert_int_equal(vane_config_init(&cfg), VANE_OK);
    char err[256];
    static const char *const ok[] = {"0.0.0.0:9464", "[::1]:9464", "localhost:0", "off", NULL};
    for (int i = 0; ok[i]; i++)
        assert_int_equal(
            vane_config_set(&cfg, "http.listen", ok[i], VANE_CONFIG_SRC_CLI, err, sizeof err),
            VANE_OK);
    assert_false(cfg.http.enabled);
    static const char *const bad[] = {"9464", ":9464", "h:70000", "h:x", "::1:9464", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(
            vane_config_set(&cfg, "http.listen", bad[i], VANE_CONFIG_SRC_CLI, err, sizeof err),
            VANE_ECONFIG);
    assert_int_equal(vane_config_set(&cfg, "no.such", "1", VANE_CONFIG_SRC_CLI, err, sizeof err),
                     VANE_ENOTFOUND);
    vane_config_free(&cfg);
}

static void test_resolve_rules(void **state)
{
    (void)state;
    char dir[] = "/tmp/vane-test-rules-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[128], file[160];
    snprintf(sub, sizeof sub, "%s/rules", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(file, sizeof file, "%s/default.yaml", sub);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);

    vane_config_t cfg;
    assert_int_equal(vane_config_init(&cfg), VANE_OK);
    const char *const none[] = {"/nonexistent-a", NULL};
    assert_int_equal(vane_config_resolve_rules(&cfg, none), VANE_ENOTFOUND);
    const char *const dirs[] = {"/nonexistent-a", dir, NULL};
    assert_int_equal(vane_config_resolve_rules(&cfg, dirs), VANE_OK);
    assert_int_equal(cfg.engine.rules.n, 1);
    assert_string_equal(cfg.engine.rules.items[0], file);
    /* already set: untouched */
    assert_int_equal(vane_config_resolve_rules(&cfg, none), VANE_OK);
    assert_int_equal(cfg.engine.rules.n, 1);
    vane_config_free(&cfg);

    /* directories expand to their *.yaml / *.yml files in name order, in place */
    static const char *const names[] = {"b.yaml", "a.yml", "c.txt", ".hidden.yaml", NULL};
    char paths[4][200];
    for (int i = 0; names[i]; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", sub, names[i]);
        FILE *g = fopen(paths[i], "w");
        assert_non_null(g);
        fclose(g);
    }
    char empty[160];
    snprintf(empty, sizeof empty, "%s/empty.d", dir);
    assert_int_equal(mkdir(empty, 0700), 0);
    assert_int_equal(vane_config_init(&cfg), VANE_OK);
    char err[256];
    assert_int_equal(
        vane_config_set(&cfg, "engine.rules", "first.yaml", VANE_CONFIG_SRC_CLI, err, sizeof err),
        VANE_OK);
    assert_int_equal(
        vane_config_set(&cfg, "engine.rules", sub, VANE_CONFIG_SRC_CLI, err, sizeof err), VANE_OK);
    assert_int_equal(
        vane_config_set(&cfg, "engine.rules", empty, VANE_CONFIG_SRC_CLI, err, sizeof err),
        VANE_OK);
    assert_int_equal(vane_config_set(&cfg, "engine.rules", "/missing.yaml", VANE_CONFIG_SRC_CLI,
                                     err, sizeof err),
                     VANE_OK);
    assert_int_equal(vane_config_resolve_rules(&cfg, none), VANE_OK);
    assert_int_equal(cfg.engine.rules.n, 5);
    assert_string_equal(cfg.engine.rules.items[0], "first.yaml");
    assert_string_equal(cfg.engine.rules.items[1], paths[1]); /* a.yml */
    assert_string_equal(cfg.engine.rules.items[2], paths[0]); /* b.yaml */
    assert_string_equal(cfg.engine.rules.items[3], file);     /* default.yaml */
    assert_string_equal(cfg.engine.rules.items[4], "/missing.yaml");
    vane_config_free(&cfg);
    for (int i = 0; names[i]; i++)
        unlink(paths[i]);
    rmdir(empty);
    unlink(file);
    rmdir(sub);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_parse),
        cmocka_unit_test(test_duration_format_roundtrip),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_table_is_sane),
        cmocka_unit_test(test_file_nested_flat_lists_passthrough),
        cmocka_unit_test(test_file_errors_name_key_and_line),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_precedence_default_file_env_cli),
        cmocka_unit_test(test_cli_usage_errors),
        cmocka_unit_test(test_print_masks_secrets_and_reloads),
        cmocka_unit_test(test_mask_helpers),
        cmocka_unit_test(test_listen_values),
        cmocka_unit_test(test_resolve_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
