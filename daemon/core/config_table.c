/* config_table.c - THE table of vane's options.
 *
 * Adding an option: add the field to vane_config_t (config.h), one row here, then regenerate
 * docs/configuration.md and deploy/vane.example.yaml (VANE_UPDATE_DOCS=1 on the unit test
 * test_config_docs; the test fails while the committed files differ). Rows are grouped by the
 * first name component and the generated documents keep this order.
 */
#include "config.h"

#include <stddef.h>

#define OFF(field) offsetof(vane_config_t, field)
#define SEC        1000LL
#define MIN        (60 * SEC)
#define HOUR       (60 * MIN)
#define DAY        (24 * HOUR)
#define MIB        (1024LL * 1024)

static const char *const input_formats[] = {"auto", "json", "protobuf", NULL};
static const char *const alert_formats[] = {"auto", "json", "protobuf", NULL};
static const char *const offset_resets[] = {"earliest", "latest", "error", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", "off", NULL};
static const char *const log_formats[] = {"auto", "text", "json", NULL};

#define R VANE_CONFIG_F_RELOADABLE
#define S VANE_CONFIG_F_SECRET

const vane_config_opt_t vane_config_opts[] = {
    /* ---- kafka ---------------------------------------------------------------------- */
    {"kafka.brokers", VANE_CONF_STR, OFF(kafka.brokers), "127.0.0.1:9092", 0, 0, NULL, 0, "brokers",
     "Comma-separated Kafka bootstrap servers (host:port). Becomes librdkafka "
     "bootstrap.servers for the consumer and the producer."},
    {"kafka.group", VANE_CONF_STR, OFF(kafka.group), "vane", 0, 0, NULL, 0, "group",
     "Consumer group id. Every vane instance of one deployment uses the same group; Kafka "
     "spreads the input partitions over them, so the partition count bounds the useful "
     "number of instances."},
    {"kafka.input_topic", VANE_CONF_STR, OFF(kafka.input_topic), "bank.events", 0, 0, NULL, 0, NULL,
     "Topic of customer events (key = customer_id, value = vane.v1.Event)."},
    {"kafka.alert_topic", VANE_CONF_STR, OFF(kafka.alert_topic), "churn.alerts", 0, 0, NULL, 0,
     NULL, "Topic alerts are produced to (key = customer_id, header alert-kind)."},
    {"kafka.dlq_topic", VANE_CONF_STR, OFF(kafka.dlq_topic), "bank.events.dlq", 0, 0, NULL, 0, NULL,
     "Dead-letter topic: input messages that cannot be decoded are copied here with a "
     "vane-reject-reason header, then skipped. Empty disables dead-lettering (they are only "
     "counted and logged)."},
    {"kafka.shadow_topic", VANE_CONF_STR, OFF(kafka.shadow_topic), "churn.alerts.shadow", 0, 0,
     NULL, 0, NULL,
     "Topic for alerts of rules in mode: shadow, so a new rule can be watched before it goes "
     "live. Empty drops shadow alerts (they are still counted)."},
    {"kafka.input_format", VANE_CONF_ENUM, OFF(kafka.input_format), "auto", 0, 0, input_formats, 0,
     NULL,
     "Input value format when a message has no content-type header: auto (JSON when the "
     "value starts with '{', else protobuf), json or protobuf."},
    {"kafka.alert_format", VANE_CONF_ENUM, OFF(kafka.alert_format), "json", 0, 0, alert_formats, 0,
     NULL,
     "Alert value format: json or protobuf (auto means json). The content-type header says "
     "which."},
    {"kafka.batch_size", VANE_CONF_INT, OFF(kafka.batch_size), "1000", 1, 100000, NULL, 0, NULL,
     "Maximum messages taken from the consumer queue per loop iteration. Larger batches "
     "amortise Redis round trips; smaller ones lower latency under load."},
    {"kafka.fetch_wait_max_ms", VANE_CONF_INT, OFF(kafka.fetch_wait_max_ms), "10", 0, 10000, NULL,
     0, NULL,
     "librdkafka fetch.wait.max.ms: how long a broker may hold a fetch waiting for data. Low "
     "values keep event-to-alert latency low."},
    {"kafka.linger_ms", VANE_CONF_INT, OFF(kafka.linger_ms), "5", 0, 900000, NULL, 0, NULL,
     "Producer linger.ms: how long alerts wait to be batched before they are sent."},
    {"kafka.queued_max_messages_kbytes", VANE_CONF_INT, OFF(kafka.queued_max_messages_kbytes),
     "65536", 1, 2097151, NULL, 0, NULL,
     "Consumer pre-fetch queue limit in KiB (librdkafka queued.max.messages.kbytes), all "
     "partitions together. The default (64 MiB) keeps fetching ahead while a batch is "
     "processed, so the consumer does not stall; lower it on small hosts. It counts message "
     "values only: librdkafka keeps ~200 more bytes per queued message, so with small messages "
     "kafka.queued_min_messages is the bound that governs memory."},
    {"kafka.queued_min_messages", VANE_CONF_INT, OFF(kafka.queued_min_messages), "1000000", 1,
     10000000, NULL, 0, NULL,
     "Consumer pre-fetch limit in messages (librdkafka queued.min.messages), all partitions "
     "together. Keep it above two seconds of vane's event rate: librdkafka 2.0.2 waits up to a "
     "second before it fetches again for a queue that was full, and with its default of 100000 "
     "vane ran ~12% slower on a 64-partition topic (bench scenario 2), with 200000 a third "
     "slower on 40-byte messages. Memory: ~200 bytes per queued message beyond its value, so a "
     "catch-up of small messages can hold ~0.25 GB at the default (bench/REPORT.md)."},
    {"kafka.auto_offset_reset", VANE_CONF_STR, OFF(kafka.auto_offset_reset), "earliest", 0, 0,
     offset_resets, 0, NULL,
     "Where a new consumer group starts: earliest, latest, or error (refuse to guess)."},
    {"kafka.max_message_bytes", VANE_CONF_BYTES, OFF(kafka.max_message_bytes), "1MiB", 1024,
     16 << 20, NULL, 0, NULL, /* 16 MiB: the decoder's limit, VANE_DECODE_MAX_BYTES */
     "Largest input message decoded; larger input is rejected with reason too_big. Dead "
     "letters up to this size plus 64 KiB (at least 1,000,000 bytes) are produced; a larger "
     "one is given up, logged with its source position."},
    {"kafka.session_timeout_ms", VANE_CONF_INT, OFF(kafka.session_timeout_ms), "10000", 1000,
     3600000, NULL, 0, NULL,
     "Consumer group session.timeout.ms: how long before a silent instance's partitions are "
     "given to the others."},

    /* ---- redis ---------------------------------------------------------------------- */
    {"redis.url", VANE_CONF_STR, OFF(redis.url), "redis://127.0.0.1:6379", 0, 0, NULL, 0, "redis",
     "Redis holding customer state: redis://[user:password@]host:port[/db] (host may be "
     "[IPv6]) or unix:///path/to/redis.sock[?db=N]; a database other than 0 is chosen with "
     "SELECT. User and password may be %-encoded; a password in the URL is masked when "
     "printed. rediss:// (TLS) is not supported."},
    {"redis.user", VANE_CONF_STR, OFF(redis.user), "", 0, 0, NULL, 0, NULL,
     "Redis ACL user name (AUTH user password). Empty: AUTH with the password only, if any."},
    {"redis.password", VANE_CONF_STR, OFF(redis.password), "", 0, 0, NULL, S, NULL,
     "Redis password; empty for none. Prefer the environment (VANE_REDIS_PASSWORD) to a file."},
    {"redis.key_prefix", VANE_CONF_STR, OFF(redis.key_prefix), "vane", 0, 0, NULL, 0, NULL,
     "Prefix of every key vane writes (<prefix>:{<customer_id>}:s, <prefix>:timers:{p<N>}), so "
     "several deployments can share one Redis."},
    {"redis.flush_interval_ms", VANE_CONF_INT, OFF(redis.flush_interval_ms), "20", 1, 60000, NULL,
     0, NULL,
     "Longest time a changed customer state waits in memory before it is written back. "
     "Kafka offsets are committed only after the states they changed are written."},
    {"redis.pipeline_max", VANE_CONF_INT, OFF(redis.pipeline_max), "512", 1, 100000, NULL, 0, NULL,
     "Changed states that start a write-back at once, without waiting for "
     "flush_interval_ms (when none is in flight; the next takes every state changed "
     "meanwhile)."},
    {"redis.writeback_inflight", VANE_CONF_INT, OFF(redis.writeback_inflight), "16384", 1, 1000000,
     NULL, 0, NULL,
     "Most write-back commands (state SETs, timer-index updates) in flight to Redis at once. "
     "A write-back of more changed states issues the rest as replies come back, so the "
     "commands queued for Redis stay within a few MB (a state is typically 200-400 bytes) "
     "however many states changed; Redis still gets thousands per round trip."},
    {"redis.connect_timeout_ms", VANE_CONF_INT, OFF(redis.connect_timeout_ms), "2000", 10, 600000,
     NULL, 0, NULL, "Timeout of one connection attempt."},
    {"redis.reconnect_max_ms", VANE_CONF_INT, OFF(redis.reconnect_max_ms), "5000", 10, 600000, NULL,
     0, NULL,
     "Cap of the exponential reconnect backoff. While Redis is down the input partitions are "
     "paused (lag grows, nothing is lost) and /readyz reports not ready."},
    {"redis.cache_max_customers", VANE_CONF_INT, OFF(redis.cache_max_customers), "500000", 0,
     100000000, NULL, 0, NULL,
     "Customer states kept in memory (least recently used beyond that are evicted after they "
     "are written). 0 disables the cache: every event reads its state from Redis. A cached "
     "customer costs about 200 bytes plus its packed state (typically 100-400 bytes, up to "
     "~2 KB for a very active one); dirty states and states being loaded are kept beyond the "
     "limit until written."},
    {"redis.state_ttl", VANE_CONF_DURATION, OFF(redis.state_ttl_ms), "400d", 0, 3650 * DAY, NULL, 0,
     NULL,
     "Expiry of a customer's state in Redis, refreshed on every write. 0 keeps states "
     "forever."},

    /* ---- engine --------------------------------------------------------------------- */
    {"engine.rules", VANE_CONF_LIST, OFF(engine.rules), "", 0, 0, NULL, R, "rules",
     "Rule files or directories (every *.yaml inside, in name order), loaded in this order. "
     "Empty: rules/default.yaml from the installation's share/vane directory (or the source "
     "tree). On the command line --rules may repeat; in the environment separate with "
     "commas."},
    {"engine.max_future", VANE_CONF_DURATION, OFF(engine.max_future_ms), "1h", 0, 365 * DAY, NULL,
     0, NULL,
     "Events stamped further than this ahead of the wall clock are rejected (reason "
     "future_time), so one bad clock cannot push the watermark."},
    {"engine.max_past", VANE_CONF_DURATION, OFF(engine.max_past_ms), "400d", 0, 36500 * DAY, NULL,
     0, NULL,
     "Events older than this (by the wall clock) are rejected (reason too_old). Raise it to "
     "replay history."},

    /* ---- http ----------------------------------------------------------------------- */
    {"http.listen", VANE_CONF_STR, OFF(http.listen), "127.0.0.1:9464", 0, 0, NULL, 0, "http",
     "Address of the HTTP server for /metrics, /healthz, /readyz and POST /-/reload, as "
     "host:port ([::1]:port for IPv6), or off. It has no authentication: keep it on loopback "
     "or a private network."},
    {"http.reload_timeout", VANE_CONF_DURATION, OFF(http.reload_timeout_ms), "10s", 100, 10 * MIN,
     NULL, 0, NULL,
     "How long POST /-/reload waits for the rules reload to finish before answering 504."},

    /* ---- metrics -------------------------------------------------------------------- */
    {"metrics.render_interval", VANE_CONF_DURATION, OFF(metrics.render_interval_ms), "500ms", 50,
     MIN, NULL, 0, NULL,
     "How often the event loop renders the /metrics snapshot that the HTTP thread serves. "
     "Scrapes never touch the loop; they see values at most this old."},

    /* ---- log ------------------------------------------------------------------------ */
    {"log.level", VANE_CONF_ENUM, OFF(log.level), "info", 0, 0, log_levels, 0, "log-level",
     "Lowest level logged: debug, info, warn, error or off."},
    {"log.format", VANE_CONF_ENUM, OFF(log.format), "auto", 0, 0, log_formats, 0, "log-format",
     "Log line format on stderr: text, json (one object per line), or auto (text on a "
     "terminal, JSON otherwise, e.g. under systemd or Kubernetes)."},
    {"log.mask_customer_ids", VANE_CONF_BOOL, OFF(log.mask_customer_ids), "true", 0, 0, NULL, 0,
     NULL,
     "Mask customer ids in logs (C1****01: first 2 and last 2 characters kept). Alerts on "
     "Kafka always carry the full id."},
    {"log.suppress_interval", VANE_CONF_DURATION, OFF(log.suppress_ms), "10s", 0, HOUR, NULL, 0,
     NULL,
     "Identical warnings or errors within this interval are counted, not printed; the count "
     "is reported with the next one. 0 prints every line."},

    /* ---- shutdown ------------------------------------------------------------------- */
    {"shutdown.grace", VANE_CONF_DURATION, OFF(shutdown.grace_ms), "10s", 0, 10 * MIN, NULL, 0,
     NULL,
     "On SIGTERM/SIGINT: how long vane may take to finish the current batch, write dirty "
     "states, flush alerts and commit offsets before it exits anyway. Keep it below the "
     "supervisor's kill timeout (systemd TimeoutStopSec, Kubernetes "
     "terminationGracePeriodSeconds)."},

    {NULL, 0, 0, NULL, 0, 0, NULL, 0, NULL, NULL},
};

const size_t vane_config_nopts = sizeof vane_config_opts / sizeof vane_config_opts[0] - 1;

_Static_assert(sizeof vane_config_opts / sizeof vane_config_opts[0] - 1 <= VANE_CONFIG_MAX_OPTS,
               "raise VANE_CONFIG_MAX_OPTS");
