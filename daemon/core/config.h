/* config.h - vane's configuration: one table, four sources, one struct.
 *
 * Every option is one row of vane_config_opts[] (config_table.c): dotted name, type, default,
 * bounds, flags (reloadable, secret), offset into vane_config_t and help text. The parser, the
 * environment mapping, the command-line flags, `--check-config`, docs/configuration.md and
 * deploy/vane.example.yaml are all generated from that table, so they cannot disagree.
 *
 * Sources, later wins: built-in default < config file (YAML) < environment (VANE_<KEY>) <
 * command-line flags. Besides the table, any key under kafka.consumer.*, kafka.producer.* and
 * kafka.common.* is kept verbatim as a (name, value) pair for librdkafka (SASL, TLS, tuning).
 *
 * Ownership: vane_config_t owns every string and list in it; vane_config_free() releases them.
 * Pointers read from it are valid until the next vane_config_set/_load on it or its free.
 * Not thread-safe; load on the main thread before the loop starts. No uv/rdkafka dependency:
 * the module lives in vane_util so unit tests can link it.
 */
#ifndef VANE_CONFIG_H
#define VANE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Value formats on the wire (kafka.input_format, kafka.alert_format). */
typedef enum vane_config_format {
    VANE_CONFIG_FORMAT_AUTO = 0, /* input only: content-type header, else sniff ('{' means JSON) */
    VANE_CONFIG_FORMAT_JSON = 1,
    VANE_CONFIG_FORMAT_PROTOBUF = 2,
} vane_config_format_t;

/* A list of strings (engine.rules). */
typedef struct vane_config_strlist {
    char **items; /* owned, each owned */
    size_t n;
} vane_config_strlist_t;

/* One pass-through librdkafka property. */
typedef struct vane_config_kv {
    char *name;  /* owned: librdkafka property name, e.g. "sasl.mechanisms" */
    char *value; /* owned */
} vane_config_kv_t;

typedef struct vane_config_kvlist {
    vane_config_kv_t *items; /* owned; later sets of the same name replace in place */
    size_t n;
} vane_config_kvlist_t;

/* Where an option's current value came from (for --check-config output). */
typedef enum vane_config_source {
    VANE_CONFIG_SRC_DEFAULT = 0,
    VANE_CONFIG_SRC_FILE = 1,
    VANE_CONFIG_SRC_ENV = 2,
    VANE_CONFIG_SRC_CLI = 3,
} vane_config_source_t;

#define VANE_CONFIG_MAX_OPTS 64

typedef struct vane_config {
    struct {
        char *brokers;                      /* bootstrap.servers */
        char *group;                        /* consumer group.id */
        char *input_topic;                  /* events in */
        char *alert_topic;                  /* alerts out */
        char *dlq_topic;                    /* undecodable input, with a reason header */
        char *shadow_topic;                 /* alerts of rules in mode: shadow */
        int input_format;                   /* vane_config_format_t */
        int alert_format;                   /* vane_config_format_t (not AUTO) */
        int64_t batch_size;                 /* messages per consume batch */
        int64_t fetch_wait_max_ms;          /* fetch.wait.max.ms */
        int64_t linger_ms;                  /* producer linger.ms */
        int64_t queued_max_messages_kbytes; /* consumer pre-fetch queue */
        int64_t queued_min_messages;        /* and its per-partition floor */
        char *auto_offset_reset;            /* earliest | latest | error */
        int64_t max_message_bytes;          /* message.max.bytes / fetch limit */
        int64_t session_timeout_ms;         /* session.timeout.ms */
        vane_config_kvlist_t consumer;      /* kafka.consumer.* pass-through */
        vane_config_kvlist_t producer;      /* kafka.producer.* pass-through */
        vane_config_kvlist_t common;        /* kafka.common.* (both clients) */
    } kafka;
    struct {
        char *url;                   /* redis://host:port[/db] or unix:///path[?db=N] */
        char *user;                  /* ACL user, "" for none */
        char *password;              /* "" for none; secret */
        char *key_prefix;            /* every key starts with "<prefix>:" */
        int64_t flush_interval_ms;   /* max time a dirty state waits before write-back */
        int64_t pipeline_max;        /* changed states that start a write-back at once */
        int64_t writeback_inflight;  /* write-back commands in flight at most */
        int64_t connect_timeout_ms;  /* per connection attempt */
        int64_t reconnect_max_ms;    /* cap of the exponential reconnect backoff */
        int64_t cache_max_customers; /* in-memory state cache size (LRU beyond) */
        int64_t state_ttl_ms;        /* Redis TTL of a customer's state, 0 = none */
    } redis;
    struct {
        vane_config_strlist_t rules; /* rule files or directories (*.yaml), in order */
        int64_t max_future_ms;       /* reject events further ahead of the wall clock */
        int64_t max_past_ms;         /* reject events older than this */
    } engine;
    struct {
        char *listen;              /* "host:port" or "off" (then http_enabled is false) */
        bool enabled;              /* derived: listen != "off" */
        int64_t reload_timeout_ms; /* POST /-/reload waits this long for the outcome */
    } http;
    struct {
        int64_t render_interval_ms; /* how often the loop renders the /metrics snapshot */
    } metrics;
    struct {
        int level;              /* vane_log_level_t */
        int format;             /* vane_log_format_t */
        bool mask_customer_ids; /* log "C1****01" instead of customer ids */
        int64_t suppress_ms;    /* repeat-suppression interval, 0 = off */
    } log;
    struct {
        int64_t grace_ms; /* max time to drain, flush and commit on SIGTERM */
    } shutdown;

    /* Not options: what the command line asked for. */
    char *config_file;                       /* owned: --config / VANE_CONFIG path, or NULL */
    bool check_config;                       /* --check-config: print, validate, exit */
    bool help;                               /* --help / -h was given */
    unsigned char src[VANE_CONFIG_MAX_OPTS]; /* vane_config_source_t per table row */
} vane_config_t;

/* ---- the table ------------------------------------------------------------------------- */

typedef enum vane_config_type {
    VANE_CONF_STR,      /* char *; optional choices[] restricts the values */
    VANE_CONF_INT,      /* int64_t within [min, max] */
    VANE_CONF_BYTES,    /* int64_t bytes; accepts 1048576, 512KiB, 1MiB, 2GiB (and k/M/G) */
    VANE_CONF_DURATION, /* int64_t milliseconds; "500ms", "5m", "7d" (util/duration.h) */
    VANE_CONF_BOOL,     /* bool; true/false/yes/no/on/off/1/0 */
    VANE_CONF_ENUM,     /* int: index into choices[] */
    VANE_CONF_LIST,     /* vane_config_strlist_t */
} vane_config_type_t;

#define VANE_CONFIG_F_RELOADABLE 0x1u /* re-read on SIGHUP / POST /-/reload (rule files) */
#define VANE_CONFIG_F_SECRET     0x2u /* printed as "********" */

typedef struct vane_config_opt {
    const char *name; /* dotted key, e.g. "kafka.brokers" */
    vane_config_type_t type;
    size_t offset;              /* offsetof(vane_config_t, ...) */
    const char *def;            /* default, as text, parsed like any other value */
    int64_t min, max;           /* bounds for INT, BYTES, DURATION (ms) */
    const char *const *choices; /* ENUM / constrained STR values, NULL-terminated */
    unsigned flags;             /* VANE_CONFIG_F_* */
    const char *alias;          /* extra long flag without "--" (e.g. "brokers"), or NULL */
    const char *help;           /* one or more sentences, for docs and the example file */
} vane_config_opt_t;

extern const vane_config_opt_t vane_config_opts[]; /* terminated by a {NULL} row */
extern const size_t vane_config_nopts;

/* ---- API ------------------------------------------------------------------------------- */

/* Fill cfg with the built-in defaults (everything zeroed first). Returns 0 or VANE_ENOMEM.
 * cfg must be vane_config_free()d afterwards even on error. */
int vane_config_init(vane_config_t *cfg);

/* The whole load for a subcommand: defaults, then the file named by --config FILE (or -c, or
 * the VANE_CONFIG environment variable), then VANE_* environment variables, then the other
 * flags. argv[0] is the subcommand name and is skipped. Flags: --KEY=VALUE or --KEY VALUE for
 * every table key (dashes and underscores are the same), the aliases (--brokers, --group,
 * --redis, --rules (repeatable), --http, --log-level, --log-format), --config FILE,
 * --check-config, --help. Positional arguments are refused.
 * Returns 0; VANE_EINVAL for command-line usage errors (unknown flag, missing or bad flag
 * value; the caller prints usage and exits 2); VANE_ECONFIG for a bad file or environment
 * value; VANE_EIO when the file cannot be read; VANE_ENOMEM. errbuf gets one line naming the
 * key and its source ("vane.yaml:12: kafka.batch_size: ..."). With --help, returns 0 with
 * cfg->help set and the rest of the command line unparsed. */
int vane_config_load(vane_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen);

/* Merge one YAML file. Nested maps flatten to dotted keys; a dotted key may also be written
 * flat ("kafka.brokers: x"). Lists are YAML sequences (a scalar is a one-item list).
 * Returns 0, VANE_EIO, VANE_ECONFIG (errbuf: "path:line: key: reason"), VANE_ENOMEM. */
int vane_config_load_file(vane_config_t *cfg, const char *path, char *errbuf, size_t errlen);

/* Merge VANE_<KEY> variables from envp (NULL-terminated "NAME=value" strings; pass environ).
 * KEY is the dotted name upper-cased with '.' and '-' as '_' (VANE_KAFKA_BROKERS). List values
 * are comma-separated. Pass-through: VANE_KAFKA_CONSUMER_SASL_MECHANISMS sets
 * kafka.consumer.sasl.mechanisms (underscores become dots). Other VANE_* names are ignored.
 * Returns 0 or VANE_ECONFIG/VANE_ENOMEM. */
int vane_config_load_env(vane_config_t *cfg, char *const *envp, char *errbuf, size_t errlen);

/* Set one key from text, as if it came from src. LIST keys: the first set from a source
 * replaces values from lower sources, later sets from the same source append. Returns 0;
 * VANE_ENOTFOUND for an unknown key (errbuf suggests the nearest one); VANE_ECONFIG for a bad
 * value (errbuf says why); VANE_ENOMEM. errbuf gets "key: reason" (callers prefix the place). */
int vane_config_set(vane_config_t *cfg, const char *key, const char *value,
                    vane_config_source_t src, char *errbuf, size_t errlen);

/* Find a table row by dotted name ('-' and '_' equivalent); NULL when unknown. */
const vane_config_opt_t *vane_config_find(const char *key);

/* Write one option's current value as text (secrets masked when mask is true). Returns the
 * length needed, like snprintf. */
int vane_config_value_str(const vane_config_t *cfg, const vane_config_opt_t *opt, bool mask,
                          char *buf, size_t n);

/* Print the effective configuration as flat "key: value  # source" YAML lines, secrets masked,
 * followed by the pass-through properties. The output is a loadable config file (apart from
 * masked secrets). */
void vane_config_print(const vane_config_t *cfg, FILE *out);

/* Print the flag reference (one line per option) for usage texts. */
void vane_config_usage(FILE *out);

/* True when a property name looks secret (password, secret, private key, sasl.jaas, ...). */
bool vane_config_is_secret_name(const char *name);

/* Copy a Redis URL with any password in its userinfo replaced by "****". */
void vane_config_mask_url(const char *url, char *buf, size_t n);

/* Make engine.rules a list of files. When it is empty, use the first rules/default.yaml that
 * exists under: the running binary's ../share/vane, then each directory in dirs
 * (NULL-terminated; e.g. the install data dir and VANE_SOURCE_DIR). Otherwise replace every
 * entry that is a directory by its *.yaml and *.yml files in name order (an empty directory
 * contributes nothing); other entries stay as they are, missing files included, so the rules
 * loader reports them. Returns 0, VANE_ENOTFOUND (no default found), VANE_EIO (a directory
 * cannot be read) or VANE_ENOMEM. */
int vane_config_resolve_rules(vane_config_t *cfg, const char *const *dirs);

/* Generated documents. Both are written from the table; tests compare them with the
 * committed docs/configuration.md and deploy/vane.example.yaml. Return 0 or VANE_EIO. */
int vane_config_write_markdown(FILE *out);
int vane_config_write_example(FILE *out);

/* Release everything cfg owns; cfg is zeroed. NULL-safe. */
void vane_config_free(vane_config_t *cfg);

#endif
