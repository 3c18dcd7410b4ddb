/* config_print.c - the output side of the option table: the effective configuration
 * (--check-config), the flag list for usage texts, secret masking, and the generated
 * docs/configuration.md and deploy/vane.example.yaml. */
#include "config.h"
#include "config_int.h"

#include "util/duration.h"
#include "util/err.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const void *cfield(const vane_config_t *cfg, const vane_config_opt_t *opt)
{
    return (const char *)cfg + opt->offset;
}

/*-----------------------------------------------------------------------------------------
 * Printing
 *---------------------------------------------------------------------------------------*/

bool vane_config_is_secret_name(const char *name)
{
    static const char *const marks[] = {"password", "secret",  "jaas",  "oauthbearer.config",
                                        "key.pem",  "ssl_key", "token", "credential",
                                        NULL};
    char low[256];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof low; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = '\0';
    for (int m = 0; marks[m]; m++) {
        if (strstr(low, marks[m]))
            return true;
    }
    return false;
}

void vane_config_mask_url(const char *url, char *buf, size_t n)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *slash = strchr(host, '/');
    const char *at = strrchr(host, '@');
    if (!scheme || !at || (slash && at > slash)) {
        snprintf(buf, n, "%s", url);
        return;
    }
    const char *colon = memchr(host, ':', (size_t)(at - host));
    if (colon)
        snprintf(buf, n, "%.*s:****%s", (int)(colon - url), url, at);
    else
        snprintf(buf, n, "%.*s****%s", (int)(host - url), url, at);
}

static int bytes_format(int64_t v, char *buf, size_t n)
{
    if (v != 0 && v % (1024LL * 1024 * 1024) == 0)
        return snprintf(buf, n, "%lldGiB", (long long)(v / (1024LL * 1024 * 1024)));
    if (v != 0 && v % (1024 * 1024) == 0)
        return snprintf(buf, n, "%lldMiB", (long long)(v / (1024 * 1024)));
    if (v != 0 && v % 1024 == 0)
        return snprintf(buf, n, "%lldKiB", (long long)(v / 1024));
    return snprintf(buf, n, "%lld", (long long)v);
}

/* Append s as a double-quoted YAML string. */
static size_t yaml_quote(char *buf, size_t len, size_t n, const char *s)
{
    if (len < n)
        buf[len] = '\0';
    len += (size_t)snprintf(buf + (len < n ? len : n), len < n ? n - len : 0, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char *dst = buf + (len < n ? len : n);
        size_t room = len < n ? n - len : 0;
        if (c == '"' || c == '\\')
            len += (size_t)snprintf(dst, room, "\\%c", c);
        else if (c < 0x20)
            len += (size_t)snprintf(dst, room, "\\x%02x", c);
        else
            len += (size_t)snprintf(dst, room, "%c", c);
    }
    len += (size_t)snprintf(buf + (len < n ? len : n), len < n ? n - len : 0, "\"");
    return len;
}

int vane_config_value_str(const vane_config_t *cfg, const vane_config_opt_t *opt, bool mask,
                          char *buf, size_t n)
{
    const void *p = cfield(cfg, opt);
    switch (opt->type) {
    case VANE_CONF_STR: {
        const char *s = *(char *const *)p;
        if (!s)
            s = "";
        char masked[1024];
        if (mask && (opt->flags & VANE_CONFIG_F_SECRET) && *s)
            s = "********";
        else if (mask && strcmp(opt->name, "redis.url") == 0) {
            vane_config_mask_url(s, masked, sizeof masked);
            s = masked;
        }
        return (int)yaml_quote(buf, 0, n, s);
    }
    case VANE_CONF_INT:
        return snprintf(buf, n, "%lld", (long long)*(const int64_t *)p);
    case VANE_CONF_BYTES:
        return bytes_format(*(const int64_t *)p, buf, n);
    case VANE_CONF_DURATION:
        return vane_duration_format(*(const int64_t *)p, buf, n);
    case VANE_CONF_BOOL:
        return snprintf(buf, n, "%s", *(const bool *)p ? "true" : "false");
    case VANE_CONF_ENUM:
        return snprintf(buf, n, "%s", opt->choices[*(const int *)p]);
    case VANE_CONF_LIST: {
        const vane_config_strlist_t *l = p;
        size_t len = (size_t)snprintf(buf, n, "[");
        for (size_t i = 0; i < l->n; i++) {
            if (i)
                len += (size_t)snprintf(buf + (len < n ? len : n), len < n ? n - len : 0, ", ");
            len = yaml_quote(buf, len, n, l->items[i]);
        }
        len += (size_t)snprintf(buf + (len < n ? len : n), len < n ? n - len : 0, "]");
        return (int)len;
    }
    }
    return 0;
}

void vane_config_print(const vane_config_t *cfg, FILE *out)
{
    static const char *const src_names[] = {"default", "file", "environment", "command line"};
    fprintf(out, "# effective vane configuration%s%s\n", cfg->config_file ? ", file " : "",
            cfg->config_file ? cfg->config_file : "");
    for (const vane_config_opt_t *o = vane_config_opts; o->name; o++) {
        char v[4096];
        vane_config_value_str(cfg, o, true, v, sizeof v);
        fprintf(out, "%s: %s  # %s\n", o->name, v, src_names[cfg->src[o - vane_config_opts]]);
    }
    const struct {
        const char *prefix;
        const vane_config_kvlist_t *l;
    } pass[] = {
        {"kafka.consumer.", &cfg->kafka.consumer},
        {"kafka.producer.", &cfg->kafka.producer},
        {"kafka.common.", &cfg->kafka.common},
    };
    for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
        for (size_t j = 0; j < pass[i].l->n; j++) {
            const vane_config_kv_t *kv = &pass[i].l->items[j];
            char v[4096];
            yaml_quote(v, 0, sizeof v,
                       vane_config_is_secret_name(kv->name) && *kv->value ? "********" : kv->value);
            fprintf(out, "%s%s: %s  # pass-through\n", pass[i].prefix, kv->name, v);
        }
    }
}

void vane_config_usage(FILE *out)
{
    for (const vane_config_opt_t *o = vane_config_opts; o->name; o++) {
        char flag[128];
        if (o->alias)
            snprintf(flag, sizeof flag, "--%s, --%s", o->alias, o->name);
        else
            snprintf(flag, sizeof flag, "--%s", o->name);
        const char *def = o->def;
        fprintf(out, "  %-42s (default: %s)\n", flag, *def ? def : "\"\"");
    }
}

/*-----------------------------------------------------------------------------------------
 * Generated documents
 *---------------------------------------------------------------------------------------*/

static const char *type_name(vane_config_type_t t)
{
    switch (t) {
    case VANE_CONF_STR:
        return "string";
    case VANE_CONF_INT:
        return "integer";
    case VANE_CONF_BYTES:
        return "size";
    case VANE_CONF_DURATION:
        return "duration";
    case VANE_CONF_BOOL:
        return "bool";
    case VANE_CONF_ENUM:
        return "enum";
    case VANE_CONF_LIST:
        return "list";
    }
    return "?";
}

static void range_text(const vane_config_opt_t *o, char *buf, size_t n)
{
    char lo[32], hi[32];
    switch (o->type) {
    case VANE_CONF_INT:
        snprintf(buf, n, "%lld .. %lld", (long long)o->min, (long long)o->max);
        break;
    case VANE_CONF_BYTES:
        bytes_format(o->min, lo, sizeof lo);
        bytes_format(o->max, hi, sizeof hi);
        snprintf(buf, n, "%s .. %s", lo, hi);
        break;
    case VANE_CONF_DURATION:
        vane_duration_format(o->min, lo, sizeof lo);
        vane_duration_format(o->max, hi, sizeof hi);
        snprintf(buf, n, "%s .. %s", lo, hi);
        break;
    case VANE_CONF_ENUM:
    case VANE_CONF_STR:
        if (o->choices)
            vane__config_choices_text(o->choices, buf, n);
        else
            snprintf(buf, n, "%s", "");
        break;
    default:
        snprintf(buf, n, "%s", "");
        break;
    }
}

/* The group of a key: its first component. */
static size_t group_len(const char *name)
{
    const char *dot = strchr(name, '.');
    return dot ? (size_t)(dot - name) : strlen(name);
}

int vane_config_write_markdown(FILE *out)
{
    fputs("# vane configuration reference\n"
          "\n"
          "<!-- Generated from daemon/core/config_table.c; do not edit. Regenerate with\n"
          "     VANE_UPDATE_DOCS=1 build/test_config_docs (ctest: unit.test_config_docs). -->\n"
          "\n"
          "Every option has a dotted name (`kafka.brokers`) and can be set in four places; "
          "later ones win:\n"
          "\n"
          "1. the built-in default (below);\n"
          "2. the YAML configuration file given by `--config FILE` (or `-c FILE`, or the\n"
          "   `VANE_CONFIG` environment variable);\n"
          "3. the environment: `VANE_` + the name upper-cased with `.` and `-` as `_`\n"
          "   (`VANE_KAFKA_BROKERS`); list values are comma-separated;\n"
          "4. the command line: `--kafka.brokers=HOST:PORT` or `--kafka.brokers HOST:PORT`\n"
          "   (`-` and `_` are interchangeable in names), plus the short aliases listed below.\n"
          "   A boolean flag given alone (`--log.mask_customer_ids`) means true.\n"
          "\n"
          "`vane run --check-config` loads everything, prints the effective configuration with\n"
          "each value's source (secrets masked) and exits: 0 when it is valid, 1 when a value\n"
          "is wrong, 2 for a command-line mistake. Unknown keys and bad values are errors that\n"
          "name the key and where it came from (`vane.yaml:12: kafka.batch_size: ...`).\n"
          "\n"
          "## File format\n"
          "\n"
          "YAML, one document. Nested maps are flattened into dotted names, so these are the\n"
          "same:\n"
          "\n"
          "```yaml\n"
          "kafka:\n"
          "  brokers: kafka-1:9092,kafka-2:9092\n"
          "kafka.brokers: kafka-1:9092,kafka-2:9092\n"
          "```\n"
          "\n"
          "Lists are YAML sequences (a single value is a one-item list). A commented example\n"
          "with every option at its default is `deploy/vane.example.yaml`.\n"
          "\n"
          "**Value syntax.** Durations are a number with a unit, components summed: `500ms`,\n"
          "`10s`, `5m`, `24h`, `7d`, `2w`, `1h30m`, `1.5h` (`0` needs no unit). Sizes are bytes\n"
          "with an optional binary suffix: `65536`, `512KiB`, `1MiB`, `2GiB` (`k`, `M`, `G`,\n"
          "`KB`, `MB`, `GB` mean the same). Booleans: `true/false`, `yes/no`, `on/off`, `1/0`.\n"
          "Enum values are case-insensitive.\n"
          "\n"
          "**librdkafka pass-through.** Any key under `kafka.consumer.`, `kafka.producer.` or\n"
          "`kafka.common.` (both clients) is handed to librdkafka unchanged, for SASL, TLS and\n"
          "tuning, e.g. `kafka.common.security.protocol: SASL_SSL`. Properties vane sets itself\n"
          "are refused with what to use instead: `bootstrap.servers`, `group.id`,\n"
          "`auto.offset.reset`, `session.timeout.ms`, `fetch.wait.max.ms`,\n"
          "`queued.max.messages.kbytes`, `queued.min.messages`, `linger.ms` (vane's own\n"
          "options), `enable.auto.commit`, `enable.auto.offset.store`, `enable.partition.eof`\n"
          "and `enable.idempotence` (what its guarantees rest on). Others override vane's\n"
          "defaults. `--check-config` asks librdkafka whether it knows each property. In the\n"
          "environment, underscores after the prefix become dots:\n"
          "`VANE_KAFKA_COMMON_SASL_PASSWORD` sets `kafka.common.sasl.password`.\n"
          "\n"
          "**Secrets.** `redis.password`, the password part of `redis.url` and pass-through\n"
          "properties whose names contain `password`, `secret`, `token`, `jaas`,\n"
          "`oauthbearer.config`, `key.pem`, `ssl_key` or `credential` are printed as\n"
          "`********`. Prefer passing them through the environment (e.g. a Kubernetes Secret).\n"
          "\n"
          "**Reloadable.** `SIGHUP` and `POST /-/reload` re-read the rule files named by\n"
          "`engine.rules` (marked Reloadable below). The configuration itself, including that\n"
          "list, is read once at start: every other change needs a restart.\n",
          out);
    const char *group = NULL;
    size_t glen = 0;
    for (const vane_config_opt_t *o = vane_config_opts; o->name; o++) {
        size_t gl = group_len(o->name);
        if (!group || gl != glen || strncmp(group, o->name, gl) != 0) {
            group = o->name;
            glen = gl;
            fprintf(out, "\n## %.*s\n\n", (int)gl, o->name);
            fputs("| Key | Type | Default | Range / values | Description |\n"
                  "|---|---|---|---|---|\n",
                  out);
        }
        char range[256], env[128];
        range_text(o, range, sizeof range);
        vane__config_env_name(o->name, env, sizeof env);
        fprintf(out, "| `%s` | %s | `%s` | %s | %s Env `%s`", o->name, type_name(o->type),
                *o->def ? o->def : "\"\"", range, o->help, env);
        if (o->alias)
            fprintf(out, ", flag `--%s`", o->alias);
        fprintf(out, ".%s%s |\n", (o->flags & VANE_CONFIG_F_RELOADABLE) ? " Reloadable." : "",
                (o->flags & VANE_CONFIG_F_SECRET) ? " Secret." : "");
    }
    return ferror(out) ? VANE_EIO : VANE_OK;
}

/* Write help as "# " comment lines wrapped at width, indented by indent spaces. */
static void write_comment(FILE *out, int indent, const char *text, int width)
{
    const char *p = text;
    while (*p) {
        int room = width - indent - 2;
        int len = (int)strlen(p);
        int take = len;
        if (len > room) {
            take = room;
            while (take > 0 && p[take] != ' ')
                take--;
            if (take == 0)
                take = room;
        }
        fprintf(out, "%*s# %.*s\n", indent, "", take, p);
        p += take;
        while (*p == ' ')
            p++;
    }
}

int vane_config_write_example(FILE *out)
{
    vane_config_t cfg;
    int rc = vane_config_init(&cfg);
    if (rc) {
        vane_config_free(&cfg);
        return rc;
    }
    fputs("# vane example configuration: every option at its default value.\n"
          "#\n"
          "# Generated from daemon/core/config_table.c; do not edit (see docs/configuration.md,\n"
          "# which explains each option, the value syntax and the precedence:\n"
          "# default < this file < VANE_* environment < command-line flags).\n"
          "# Use: vane run --config /etc/vane/vane.yaml   (check: vane run --check-config ...)\n",
          out);
    const char *group = NULL;
    size_t glen = 0;
    for (const vane_config_opt_t *o = vane_config_opts; o->name; o++) {
        size_t gl = group_len(o->name);
        if (!group || gl != glen || strncmp(group, o->name, gl) != 0) {
            if (group && strncmp(group, "kafka", glen) == 0 && glen == 5) {
                fputs("\n  # librdkafka pass-through (see docs/configuration.md), e.g. SASL/TLS:\n"
                      "  # common:\n"
                      "  #   security.protocol: SASL_SSL\n"
                      "  #   sasl.mechanisms: SCRAM-SHA-512\n"
                      "  #   sasl.username: vane\n"
                      "  #   sasl.password: set VANE_KAFKA_COMMON_SASL_PASSWORD instead\n"
                      "  # consumer:\n"
                      "  #   fetch.min.bytes: 1\n"
                      "  # producer:\n"
                      "  #   compression.type: lz4\n",
                      out);
            }
            group = o->name;
            glen = gl;
            fprintf(out, "\n%.*s:\n", (int)gl, o->name);
        } else {
            fputc('\n', out);
        }
        write_comment(out, 2, o->help, 96);
        char v[4096];
        vane_config_value_str(&cfg, o, false, v, sizeof v);
        fprintf(out, "  %s: %s\n", o->name + gl + 1, v);
    }
    vane_config_free(&cfg);
    return ferror(out) ? VANE_EIO : VANE_OK;
}
