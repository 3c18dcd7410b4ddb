/* config.c - loading vane's configuration: defaults, YAML file, environment, command line.
 * Printing and the generated documents are in config_print.c.
 *
 * Everything here is driven by vane_config_opts[] (config_table.c). Values are always parsed
 * from text by parse_value(), whether they come from the table's default, a YAML scalar, an
 * environment variable or a flag, so every source accepts exactly the same syntax and the
 * documented defaults are the ones in force.
 */
#include "config.h"
#include "config_int.h"

#include "util/duration.h"
#include "util/err.h"
#include "util/redis_url.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/*-----------------------------------------------------------------------------------------
 * Small helpers
 *---------------------------------------------------------------------------------------*/

static void errf(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* Prefix errbuf's current text with "prefix: " in place. */
static void err_prefix(char *errbuf, size_t errlen, const char *prefix)
{
    if (!errbuf || errlen == 0)
        return;
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", errbuf);
    snprintf(errbuf, errlen, "%s: %s", prefix, tmp);
}

static void *field(vane_config_t *cfg, const vane_config_opt_t *opt)
{
    return (char *)cfg + opt->offset;
}

/* Compare option names treating '-' and '_' as the same character. */
static bool name_eq(const char *a, const char *b)
{
    for (;; a++, b++) {
        char ca = *a == '-' ? '_' : *a;
        char cb = *b == '-' ? '_' : *b;
        if (ca != cb)
            return false;
        if (ca == '\0')
            return true;
    }
}

static size_t opt_index(const vane_config_opt_t *opt)
{
    return (size_t)(opt - vane_config_opts);
}

const vane_config_opt_t *vane_config_find(const char *key)
{
    for (const vane_config_opt_t *o = vane_config_opts; o->name; o++) {
        if (name_eq(o->name, key))
            return o;
    }
    return NULL;
}

static const vane_config_opt_t *find_alias(const char *flag)
{
    for (const vane_config_opt_t *o = vane_config_opts; o->name; o++) {
        if (o->alias && name_eq(o->alias, flag))
            return o;
    }
    return NULL;
}

/* Levenshtein distance, for "did you mean". Names are short (< 64), so O(n*m) is fine. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof prev);
    }
    return prev[lb];
}

static const char *nearest_name(const char *key)
{
    const char *best = NULL;
    size_t bestd = 99;
    for (const vane_config_opt_t *o = vane_config_opts; o->name; o++) {
        size_t d = edit_distance(key, o->name);
        if (d < bestd) {
            bestd = d;
            best = o->name;
        }
    }
    size_t limit = strlen(key) / 3;
    if (limit < 2)
        limit = 2;
    return bestd <= limit ? best : NULL;
}

/* Options that existed once, with what to use instead: a configuration that still sets one
 * is refused with that advice rather than a bare "unknown". */
static const struct {
    const char *name, *instead;
} removed_opts[] = {
    {"engine.lateness", "settings.lateness in the rules file (rules/README.md, \"Time\"), which "
                        "is what the engine always used; this option never took effect"},
};

/* The error for an unknown key (what = "key", dashes = "") or option ("option", "--"). */
static void unknown_name(char *errbuf, size_t errlen, const char *what, const char *dashes,
                         const char *key)
{
    for (size_t i = 0; i < sizeof removed_opts / sizeof removed_opts[0]; i++) {
        if (strcmp(key, removed_opts[i].name) == 0) {
            errf(errbuf, errlen, "%s '%s%s' was removed: use %s", what, dashes, key,
                 removed_opts[i].instead);
            return;
        }
    }
    const char *near = nearest_name(key);
    if (near)
        errf(errbuf, errlen, "unknown %s '%s%s' (did you mean '%s%s'?)", what, dashes, key, dashes,
             near);
    else
        errf(errbuf, errlen, "unknown %s '%s%s'", what, dashes, key);
}

/*-----------------------------------------------------------------------------------------
 * Value parsers (text -> typed value), shared by every source
 *---------------------------------------------------------------------------------------*/

static int parse_int(const char *s, int64_t *out)
{
    if (!*s)
        return VANE_EPARSE;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return VANE_ERANGE;
    if (*end != '\0')
        return VANE_EPARSE;
    *out = v;
    return VANE_OK;
}

static int parse_bytes(const char *s, int64_t *out)
{
    errno = 0;
    char *end;
    if (!isdigit((unsigned char)*s))
        return VANE_EPARSE;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE)
        return VANE_ERANGE;
    static const struct {
        const char *suffix;
        int64_t mult;
    } suffixes[] = {
        {"", 1},
        {"b", 1},
        {"k", 1024},
        {"kb", 1024},
        {"kib", 1024},
        {"m", 1024 * 1024},
        {"mb", 1024 * 1024},
        {"mib", 1024 * 1024},
        {"g", 1024LL * 1024 * 1024},
        {"gb", 1024LL * 1024 * 1024},
        {"gib", 1024LL * 1024 * 1024},
    };
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        if (strcasecmp(end, suffixes[i].suffix) == 0) {
            if (v > INT64_MAX / suffixes[i].mult)
                return VANE_ERANGE;
            *out = v * suffixes[i].mult;
            return VANE_OK;
        }
    }
    return VANE_EPARSE;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};
    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return VANE_OK;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return VANE_OK;
        }
    }
    return VANE_EPARSE;
}

static int find_choice(const char *const *choices, const char *s)
{
    for (int i = 0; choices[i]; i++) {
        if (strcasecmp(choices[i], s) == 0)
            return i;
    }
    return -1;
}

void vane__config_choices_text(const char *const *choices, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; choices[i] && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? ", " : "", choices[i]);
}

static int check_listen(const char *s, char *errbuf, size_t errlen)
{
    if (strcmp(s, "off") == 0)
        return VANE_OK;
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) {
        errf(errbuf, errlen, "'%s' is not host:port or off", s);
        return VANE_ECONFIG;
    }
    if ((s[0] == '[' && colon[-1] != ']') || (s[0] != '[' && memchr(s, ':', (size_t)(colon - s)))) {
        errf(errbuf, errlen, "'%s': an IPv6 address needs brackets, e.g. [::1]:9464", s);
        return VANE_ECONFIG;
    }
    int64_t port;
    if (parse_int(colon + 1, &port) != VANE_OK || port < 0 || port > 65535) {
        errf(errbuf, errlen, "'%s': port must be 0..65535", s);
        return VANE_ECONFIG;
    }
    return VANE_OK;
}

static int check_redis_url(const char *s, char *errbuf, size_t errlen)
{
    vane_redis_url_t u;
    return vane_redis_url_parse(s, &u, errbuf, errlen); /* its message never quotes a password */
}

static int strlist_append(vane_config_strlist_t *l, const char *s)
{
    char **items = realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items)
        return VANE_ENOMEM;
    l->items = items;
    if (!(items[l->n] = strdup(s)))
        return VANE_ENOMEM;
    l->n++;
    return VANE_OK;
}

static void strlist_clear(vane_config_strlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int kvlist_set(vane_config_kvlist_t *l, const char *name, const char *value)
{
    char *v = strdup(value);
    if (!v)
        return VANE_ENOMEM;
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].name, name) == 0) {
            free(l->items[i].value);
            l->items[i].value = v;
            return VANE_OK;
        }
    }
    vane_config_kv_t *items = realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items) {
        free(v);
        return VANE_ENOMEM;
    }
    l->items = items;
    if (!(items[l->n].name = strdup(name))) {
        free(v);
        return VANE_ENOMEM;
    }
    items[l->n].value = v;
    l->n++;
    return VANE_OK;
}

static void kvlist_clear(vane_config_kvlist_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        free(l->items[i].value);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* librdkafka properties vane sets itself: a pass-through value would silently undo what vane
 * relies on, or bypass one of its own options. */
static const struct {
    const char *prop, *instead;
} owned_props[] = {
    {"bootstrap.servers", "use kafka.brokers"},
    {"group.id", "use kafka.group"},
    {"auto.offset.reset", "use kafka.auto_offset_reset"},
    {"session.timeout.ms", "use kafka.session_timeout_ms"},
    {"fetch.wait.max.ms", "use kafka.fetch_wait_max_ms"},
    {"queued.max.messages.kbytes", "use kafka.queued_max_messages_kbytes"},
    {"queued.min.messages", "use kafka.queued_min_messages"},
    {"linger.ms", "use kafka.linger_ms"},
    {"enable.auto.commit", "vane commits only offsets whose effects are durable"},
    {"enable.auto.offset.store", "vane commits only offsets whose effects are durable"},
    {"enable.partition.eof", "vane consumes without end-of-partition events"},
    {"enable.idempotence", "alerts must not be duplicated or reordered by retries"},
};

/* The pass-through lists, by key prefix. */
static vane_config_kvlist_t *passthrough(vane_config_t *cfg, const char *key, const char **prop)
{
    static const struct {
        const char *prefix;
        size_t offset;
    } lists[] = {
        {"kafka.consumer.", offsetof(vane_config_t, kafka.consumer)},
        {"kafka.producer.", offsetof(vane_config_t, kafka.producer)},
        {"kafka.common.", offsetof(vane_config_t, kafka.common)},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        size_t l = strlen(lists[i].prefix);
        if (strncmp(key, lists[i].prefix, l) == 0 && key[l] != '\0') {
            *prop = key + l;
            return (vane_config_kvlist_t *)((char *)cfg + lists[i].offset);
        }
    }
    return NULL;
}

/* Parse text for opt and store it. src decides list replace-vs-append. */
static int parse_value(vane_config_t *cfg, const vane_config_opt_t *opt, const char *value,
                       vane_config_source_t src, char *errbuf, size_t errlen)
{
    void *p = field(cfg, opt);
    int64_t v = 0;
    int rc;
    char choices[256];
    switch (opt->type) {
    case VANE_CONF_STR: {
        const char *canon = value;
        if (opt->choices) {
            int i = find_choice(opt->choices, value);
            if (i < 0) {
                vane__config_choices_text(opt->choices, choices, sizeof choices);
                errf(errbuf, errlen, "'%s' is not one of: %s", value, choices);
                return VANE_ECONFIG;
            }
            canon = opt->choices[i];
        }
        if (strcmp(opt->name, "http.listen") == 0 &&
            (rc = check_listen(value, errbuf, errlen)) != VANE_OK)
            return rc;
        if (strcmp(opt->name, "redis.url") == 0 &&
            (rc = check_redis_url(value, errbuf, errlen)) != VANE_OK)
            return rc;
        char *copy = strdup(canon);
        if (!copy)
            return VANE_ENOMEM;
        free(*(char **)p);
        *(char **)p = copy;
        break;
    }
    case VANE_CONF_INT:
    case VANE_CONF_BYTES:
    case VANE_CONF_DURATION: {
        if (opt->type == VANE_CONF_INT)
            rc = parse_int(value, &v);
        else if (opt->type == VANE_CONF_BYTES)
            rc = parse_bytes(value, &v);
        else
            rc = vane_duration_parse(value, &v);
        if (rc == VANE_EPARSE) {
            static const char *const what[] = {
                [VANE_CONF_INT] = "an integer",
                [VANE_CONF_BYTES] = "a size (e.g. 65536, 512KiB, 1MiB)",
                [VANE_CONF_DURATION] = "a duration (e.g. 500ms, 10s, 5m, 24h, 7d)",
            };
            errf(errbuf, errlen, "'%s' is not %s", value, what[opt->type]);
            return VANE_ECONFIG;
        }
        if (rc != VANE_OK || v < opt->min || v > opt->max) {
            char lo[32], hi[32];
            if (opt->type == VANE_CONF_DURATION) {
                vane_duration_format(opt->min, lo, sizeof lo);
                vane_duration_format(opt->max, hi, sizeof hi);
            } else {
                snprintf(lo, sizeof lo, "%lld", (long long)opt->min);
                snprintf(hi, sizeof hi, "%lld", (long long)opt->max);
            }
            errf(errbuf, errlen, "'%s' is out of range %s .. %s", value, lo, hi);
            return VANE_ECONFIG;
        }
        *(int64_t *)p = v;
        break;
    }
    case VANE_CONF_BOOL: {
        bool b;
        if (parse_bool(value, &b) != VANE_OK) {
            errf(errbuf, errlen, "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)", value);
            return VANE_ECONFIG;
        }
        *(bool *)p = b;
        break;
    }
    case VANE_CONF_ENUM: {
        int i = find_choice(opt->choices, value);
        if (i < 0) {
            vane__config_choices_text(opt->choices, choices, sizeof choices);
            errf(errbuf, errlen, "'%s' is not one of: %s", value, choices);
            return VANE_ECONFIG;
        }
        *(int *)p = i;
        break;
    }
    case VANE_CONF_LIST: {
        vane_config_strlist_t *l = p;
        if (cfg->src[opt_index(opt)] != src || src == VANE_CONFIG_SRC_DEFAULT)
            strlist_clear(l);
        if (*value && (rc = strlist_append(l, value)) != VANE_OK)
            return rc;
        break;
    }
    }
    cfg->src[opt_index(opt)] = (unsigned char)src;
    if (strcmp(opt->name, "http.listen") == 0)
        cfg->http.enabled = strcmp(cfg->http.listen, "off") != 0;
    return VANE_OK;
}

int vane_config_set(vane_config_t *cfg, const char *key, const char *value,
                    vane_config_source_t src, char *errbuf, size_t errlen)
{
    const char *prop;
    vane_config_kvlist_t *kv = passthrough(cfg, key, &prop);
    if (kv) {
        for (size_t i = 0; i < sizeof owned_props / sizeof owned_props[0]; i++) {
            if (strcmp(prop, owned_props[i].prop) == 0) {
                errf(errbuf, errlen, "%s: vane sets %s itself (%s)", key, prop,
                     owned_props[i].instead);
                return VANE_ECONFIG;
            }
        }
        return kvlist_set(kv, prop, value);
    }
    const vane_config_opt_t *opt = vane_config_find(key);
    if (!opt) {
        unknown_name(errbuf, errlen, "key", "", key);
        return VANE_ENOTFOUND;
    }
    int rc = parse_value(cfg, opt, value, src, errbuf, errlen);
    if (rc == VANE_ECONFIG)
        err_prefix(errbuf, errlen, opt->name);
    return rc;
}

/*-----------------------------------------------------------------------------------------
 * Defaults
 *---------------------------------------------------------------------------------------*/

int vane_config_init(vane_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char err[256];
    for (const vane_config_opt_t *o = vane_config_opts; o->name; o++) {
        int rc = parse_value(cfg, o, o->def, VANE_CONFIG_SRC_DEFAULT, err, sizeof err);
        /* A default that does not parse is a bug in the table, caught by every test. */
        if (rc == VANE_ECONFIG) {
            fprintf(stderr, "config table: default of %s: %s\n", o->name, err);
            VANE_ASSERT(!"bad default in config table");
        }
        if (rc)
            return rc;
    }
    return VANE_OK;
}

void vane_config_free(vane_config_t *cfg)
{
    if (!cfg)
        return;
    for (const vane_config_opt_t *o = vane_config_opts; o->name; o++) {
        if (o->type == VANE_CONF_STR)
            free(*(char **)field(cfg, o));
        else if (o->type == VANE_CONF_LIST)
            strlist_clear(field(cfg, o));
    }
    kvlist_clear(&cfg->kafka.consumer);
    kvlist_clear(&cfg->kafka.producer);
    kvlist_clear(&cfg->kafka.common);
    free(cfg->config_file);
    memset(cfg, 0, sizeof *cfg);
}

/*-----------------------------------------------------------------------------------------
 * YAML file: nested maps flatten to dotted keys
 *---------------------------------------------------------------------------------------*/

typedef struct file_ctx {
    vane_config_t *cfg;
    yaml_parser_t parser;
    const char *path;
    char *errbuf;
    size_t errlen;
} file_ctx_t;

static int next_event(file_ctx_t *fc, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&fc->parser, ev)) {
        errf(fc->errbuf, fc->errlen, "%s:%zu:%zu: YAML syntax error: %s", fc->path,
             fc->parser.problem_mark.line + 1, fc->parser.problem_mark.column + 1,
             fc->parser.problem ? fc->parser.problem : "unknown");
        return VANE_ECONFIG;
    }
    return VANE_OK;
}

static bool scalar_is_null(const yaml_event_t *ev)
{
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)ev->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static int file_set(file_ctx_t *fc, const char *key, const yaml_event_t *ev)
{
    const char *value = (const char *)ev->data.scalar.value;
    size_t line = ev->start_mark.line + 1;
    const vane_config_opt_t *opt = vane_config_find(key);
    if (opt && scalar_is_null(ev) && opt->type != VANE_CONF_STR && opt->type != VANE_CONF_LIST) {
        errf(fc->errbuf, fc->errlen, "%s:%zu: %s: needs a value", fc->path, line, key);
        return VANE_ECONFIG;
    }
    if (scalar_is_null(ev))
        value = "";
    int rc = vane_config_set(fc->cfg, key, value, VANE_CONFIG_SRC_FILE, fc->errbuf, fc->errlen);
    if (rc == VANE_ENOTFOUND || rc == VANE_ECONFIG) {
        char place[512];
        snprintf(place, sizeof place, "%s:%zu", fc->path, line);
        err_prefix(fc->errbuf, fc->errlen, place);
        return VANE_ECONFIG;
    }
    return rc;
}

static int file_mapping(file_ctx_t *fc, const char *prefix);

static int file_sequence(file_ctx_t *fc, const char *key, size_t line)
{
    const vane_config_opt_t *opt = vane_config_find(key);
    if (!opt || opt->type != VANE_CONF_LIST) {
        errf(fc->errbuf, fc->errlen, "%s:%zu: %s: %s", fc->path, line, key,
             opt ? "takes a single value, not a list"
                 : "unknown key (lists are only valid "
                   "for list options)");
        return VANE_ECONFIG;
    }
    /* An empty sequence clears what lower sources set. */
    int rc = parse_value(fc->cfg, opt, "", VANE_CONFIG_SRC_FILE, fc->errbuf, fc->errlen);
    if (rc)
        return rc;
    for (;;) {
        yaml_event_t ev;
        if ((rc = next_event(fc, &ev)) != VANE_OK)
            return rc;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return VANE_OK;
        }
        if (ev.type != YAML_SCALAR_EVENT) {
            errf(fc->errbuf, fc->errlen, "%s:%zu: %s: list items must be plain values", fc->path,
                 ev.start_mark.line + 1, key);
            yaml_event_delete(&ev);
            return VANE_ECONFIG;
        }
        rc = file_set(fc, key, &ev);
        yaml_event_delete(&ev);
        if (rc)
            return rc;
    }
}

/* Called after MAPPING_START; consumes through the matching MAPPING_END. */
static int file_mapping(file_ctx_t *fc, const char *prefix)
{
    for (;;) {
        yaml_event_t kev;
        int rc = next_event(fc, &kev);
        if (rc)
            return rc;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return VANE_OK;
        }
        size_t line = kev.start_mark.line + 1;
        if (kev.type != YAML_SCALAR_EVENT) {
            errf(fc->errbuf, fc->errlen, "%s:%zu: keys must be plain names", fc->path, line);
            yaml_event_delete(&kev);
            return VANE_ECONFIG;
        }
        char key[512];
        int kl = snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "",
                          (const char *)kev.data.scalar.value);
        yaml_event_delete(&kev);
        if (kl < 0 || (size_t)kl >= sizeof key) {
            errf(fc->errbuf, fc->errlen, "%s:%zu: key too long", fc->path, line);
            return VANE_ECONFIG;
        }
        yaml_event_t vev;
        if ((rc = next_event(fc, &vev)) != VANE_OK)
            return rc;
        switch (vev.type) {
        case YAML_SCALAR_EVENT:
            rc = file_set(fc, key, &vev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            rc = file_sequence(fc, key, line);
            break;
        case YAML_MAPPING_START_EVENT: {
            const vane_config_opt_t *opt = vane_config_find(key);
            if (opt) {
                errf(fc->errbuf, fc->errlen, "%s:%zu: %s: takes a value, not a map", fc->path, line,
                     key);
                rc = VANE_ECONFIG;
            } else {
                rc = file_mapping(fc, key);
            }
            break;
        }
        case YAML_ALIAS_EVENT:
            errf(fc->errbuf, fc->errlen, "%s:%zu: %s: YAML aliases are not supported", fc->path,
                 line, key);
            rc = VANE_ECONFIG;
            break;
        default:
            errf(fc->errbuf, fc->errlen, "%s:%zu: %s: unexpected YAML content", fc->path, line,
                 key);
            rc = VANE_ECONFIG;
            break;
        }
        yaml_event_delete(&vev);
        if (rc)
            return rc;
    }
}

int vane_config_load_file(vane_config_t *cfg, const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        errf(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
        return VANE_EIO;
    }
    file_ctx_t fc = {.cfg = cfg, .path = path, .errbuf = errbuf, .errlen = errlen};
    if (!yaml_parser_initialize(&fc.parser)) {
        fclose(f);
        return VANE_ENOMEM;
    }
    yaml_parser_set_input_file(&fc.parser, f);
    int rc = VANE_OK;
    bool done = false;
    while (!done && rc == VANE_OK) {
        yaml_event_t ev;
        if ((rc = next_event(&fc, &ev)) != VANE_OK)
            break;
        switch (ev.type) {
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
            break;
        case YAML_MAPPING_START_EVENT:
            rc = file_mapping(&fc, "");
            break;
        case YAML_DOCUMENT_END_EVENT: /* only the first document is read */
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_SCALAR_EVENT:
            if (scalar_is_null(&ev)) /* an empty document */
                break;
            /* fall through */
        default:
            errf(errbuf, errlen, "%s:%zu: the top level must be a map of options", path,
                 ev.start_mark.line + 1);
            rc = VANE_ECONFIG;
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&fc.parser);
    fclose(f);
    return rc;
}

/*-----------------------------------------------------------------------------------------
 * Environment
 *---------------------------------------------------------------------------------------*/

void vane__config_env_name(const char *key, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "VANE_");
    for (; *key && len + 1 < n; key++)
        buf[len++] = (*key == '.' || *key == '-') ? '_' : (char)toupper((unsigned char)*key);
    buf[len] = '\0';
}

static int env_set(vane_config_t *cfg, const char *var, const char *key, const char *value,
                   char *errbuf, size_t errlen)
{
    int rc = vane_config_set(cfg, key, value, VANE_CONFIG_SRC_ENV, errbuf, errlen);
    if (rc == VANE_ECONFIG || rc == VANE_ENOTFOUND) {
        char place[300];
        snprintf(place, sizeof place, "environment %s", var);
        err_prefix(errbuf, errlen, place);
        return VANE_ECONFIG;
    }
    return rc;
}

int vane_config_load_env(vane_config_t *cfg, char *const *envp, char *errbuf, size_t errlen)
{
    static const struct {
        const char *env;
        const char *key;
    } pass[] = {
        {"VANE_KAFKA_CONSUMER_", "kafka.consumer."},
        {"VANE_KAFKA_PRODUCER_", "kafka.producer."},
        {"VANE_KAFKA_COMMON_", "kafka.common."},
    };
    /* Table keys, in table order, so the result does not depend on environ's order. */
    for (const vane_config_opt_t *o = vane_config_opts; o->name; o++) {
        char want[128];
        vane__config_env_name(o->name, want, sizeof want);
        size_t wl = strlen(want);
        for (char *const *e = envp; e && *e; e++) {
            if (strncmp(*e, want, wl) != 0 || (*e)[wl] != '=')
                continue;
            const char *value = *e + wl + 1;
            int rc;
            if (o->type == VANE_CONF_LIST) {
                /* comma-separated; the first item replaces, the rest append */
                rc = parse_value(cfg, o, "", VANE_CONFIG_SRC_ENV, errbuf, errlen);
                const char *p = value;
                while (rc == VANE_OK && *p) {
                    const char *comma = strchr(p, ',');
                    size_t l = comma ? (size_t)(comma - p) : strlen(p);
                    char item[4096];
                    if (l >= sizeof item)
                        l = sizeof item - 1;
                    memcpy(item, p, l);
                    item[l] = '\0';
                    if (l)
                        rc = env_set(cfg, want, o->name, item, errbuf, errlen);
                    p += comma ? l + 1 : l;
                }
            } else {
                rc = env_set(cfg, want, o->name, value, errbuf, errlen);
            }
            if (rc)
                return rc;
        }
    }
    for (char *const *e = envp; e && *e; e++) {
        for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
            size_t pl = strlen(pass[i].env);
            const char *eq = strchr(*e, '=');
            if (strncmp(*e, pass[i].env, pl) != 0 || !eq || eq == *e + pl)
                continue;
            char key[512], var[256];
            size_t len = (size_t)snprintf(key, sizeof key, "%s", pass[i].key);
            for (const char *p = *e + pl; p < eq && len + 1 < sizeof key; p++)
                key[len++] = *p == '_' ? '.' : (char)tolower((unsigned char)*p);
            key[len] = '\0';
            snprintf(var, sizeof var, "%.*s", (int)(eq - *e), *e);
            int rc = env_set(cfg, var, key, eq + 1, errbuf, errlen);
            if (rc)
                return rc;
        }
    }
    return VANE_OK;
}

/*-----------------------------------------------------------------------------------------
 * Command line
 *---------------------------------------------------------------------------------------*/

/* Split "--name=value" / "--name" into name (without dashes) and value (NULL if absent). */
static void split_flag(const char *arg, char *name, size_t n, const char **value)
{
    const char *body = arg + 2;
    const char *eq = strchr(body, '=');
    size_t l = eq ? (size_t)(eq - body) : strlen(body);
    if (l >= n)
        l = n - 1;
    memcpy(name, body, l);
    name[l] = '\0';
    *value = eq ? eq + 1 : NULL;
}

/* First pass: --config / -c and --help. Returns 0 or VANE_EINVAL. */
static int cli_prescan(vane_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cfg->help = true;
            return VANE_OK;
        }
        const char *path = NULL;
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                errf(errbuf, errlen, "%s needs a file name", a);
                return VANE_EINVAL;
            }
            path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            path = a + 9;
        }
        if (path) {
            if (!*path) {
                errf(errbuf, errlen, "--config needs a file name");
                return VANE_EINVAL;
            }
            free(cfg->config_file);
            if (!(cfg->config_file = strdup(path)))
                return VANE_ENOMEM;
        }
    }
    return VANE_OK;
}

static int cli_apply(vane_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0)
            continue;
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            errf(errbuf, errlen, "unexpected argument '%s'", a);
            return VANE_EINVAL;
        }
        char name[256];
        const char *value;
        split_flag(a, name, sizeof name, &value);
        if (name_eq(name, "check-config")) {
            if (value) {
                errf(errbuf, errlen, "--check-config takes no value");
                return VANE_EINVAL;
            }
            cfg->check_config = true;
            continue;
        }
        const vane_config_opt_t *opt = find_alias(name);
        if (!opt)
            opt = vane_config_find(name);
        const char *prop;
        if (!opt && !passthrough(cfg, name, &prop)) {
            unknown_name(errbuf, errlen, "option", "--", name);
            return VANE_EINVAL;
        }
        if (!value) {
            if (opt && opt->type == VANE_CONF_BOOL) {
                value = "true";
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                errf(errbuf, errlen, "--%s needs a value", name);
                return VANE_EINVAL;
            }
        }
        int rc = vane_config_set(cfg, opt ? opt->name : name, value, VANE_CONFIG_SRC_CLI, errbuf,
                                 errlen);
        if (rc == VANE_ECONFIG || rc == VANE_ENOTFOUND) {
            char place[300];
            snprintf(place, sizeof place, "--%s", name);
            err_prefix(errbuf, errlen, place);
            return VANE_EINVAL;
        }
        if (rc)
            return rc;
    }
    return VANE_OK;
}

extern char **environ;

int vane_config_load(vane_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
    int rc = vane_config_init(cfg);
    if (rc)
        return rc;
    if ((rc = cli_prescan(cfg, argc, argv, errbuf, errlen)) != VANE_OK || cfg->help)
        return rc;
    if (!cfg->config_file) {
        const char *env = getenv("VANE_CONFIG");
        if (env && *env && !(cfg->config_file = strdup(env)))
            return VANE_ENOMEM;
    }
    if (cfg->config_file &&
        (rc = vane_config_load_file(cfg, cfg->config_file, errbuf, errlen)) != VANE_OK)
        return rc;
    if ((rc = vane_config_load_env(cfg, environ, errbuf, errlen)) != VANE_OK)
        return rc;
    return cli_apply(cfg, argc, argv, errbuf, errlen);
}

/*-----------------------------------------------------------------------------------------
 * Rules search
 *---------------------------------------------------------------------------------------*/

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append the *.yaml / *.yml regular files of dir to out, in name order. */
static int expand_dir(const char *dir, vane_config_strlist_t *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return VANE_EIO;
    vane_config_strlist_t names = {0};
    int rc = VANE_OK;
    struct dirent *de;
    while (rc == VANE_OK && (de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        bool yaml = (l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0) ||
                    (l > 4 && strcmp(de->d_name + l - 4, ".yml") == 0);
        if (!yaml || de->d_name[0] == '.')
            continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
            continue;
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        rc = strlist_append(&names, path);
    }
    closedir(d);
    if (names.n > 1)
        qsort(names.items, names.n, sizeof names.items[0], cmp_str);
    for (size_t i = 0; rc == VANE_OK && i < names.n; i++)
        rc = strlist_append(out, names.items[i]);
    strlist_clear(&names);
    return rc;
}

/* Replace every directory in engine.rules by the rule files inside it. */
static int expand_rule_dirs(vane_config_t *cfg)
{
    vane_config_strlist_t out = {0};
    int rc = VANE_OK;
    for (size_t i = 0; rc == VANE_OK && i < cfg->engine.rules.n; i++) {
        const char *p = cfg->engine.rules.items[i];
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rc = expand_dir(p, &out);
        else
            rc = strlist_append(&out, p);
    }
    if (rc != VANE_OK) {
        strlist_clear(&out);
        return rc;
    }
    strlist_clear(&cfg->engine.rules);
    cfg->engine.rules = out;
    return VANE_OK;
}

int vane_config_resolve_rules(vane_config_t *cfg, const char *const *dirs)
{
    if (cfg->engine.rules.n > 0)
        return expand_rule_dirs(cfg);
    char path[4200];
    char exe[4000];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l > 0) {
        exe[l] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(path, sizeof path, "%s/../share/vane/rules/default.yaml", exe);
            if (access(path, R_OK) == 0)
                return strlist_append(&cfg->engine.rules, path);
        }
    }
    for (size_t i = 0; dirs && dirs[i]; i++) {
        if (snprintf(path, sizeof path, "%s/rules/default.yaml", dirs[i]) >= (int)sizeof path)
            continue;
        if (access(path, R_OK) == 0)
            return strlist_append(&cfg->engine.rules, path);
    }
    return VANE_ENOTFOUND;
}
