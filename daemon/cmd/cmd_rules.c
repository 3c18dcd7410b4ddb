/* cmd_rules.c - `vane rules check FILE...` and `vane rules test DIR...`.
 *
 * check: load the files in order, as the daemon would, and print every diagnostic as
 *        file:line:col; exit 1 when any is an error.
 * test:  run a fixture directory (the format banks keep next to their tuned rules, and the
 *        format of tests/golden/) and compare the alerts with the expected ones:
 *
 *   DIR/README           one line: why this case exists (printed with a failure)
 *   DIR/rules.yaml       the rules; or DIR/rules/ *.yaml (loaded in name order); when both are
 *                        absent, the shipped default rules (see replay_rules.h for the lookup)
 *   DIR/events.jsonl     the events (JSON lines; length-delimited protobuf is accepted too)
 *   DIR/expected.jsonl   one expected alert per line; empty = no alert may fire
 *   DIR/options          optional replay settings, one "key value" per line ('#' comments):
 *                          lateness DUR              (default: the rules' settings)
 *                          flush_timers_until T      +DUR after the last event, or epoch ms
 *                          include_shadow true|false (default false)
 *
 * An expected line lists only the fields it cares about; each present field must match:
 *   kind severity stage from_category to_category   enum names, case-insensitive
 *   rule_id customer_id alert_id segment route manager_id   exact
 *   summary                                  the expected text is contained in the summary
 *   event_time_ms detected_at_ms             exact
 *   score, features.NAME                     a number (within tolerance), or a string
 *                                            ">= x", "<= x", "> x", "< x", "a..b"
 *   event_ids                                the same set of ids
 *   shadow                                   true|false
 *   tolerance                                absolute tolerance for this line's numbers
 *                                            (default 1e-6 + 1e-6 relative)
 *   keys starting with "_"                   comments, ignored
 * Expected lines are matched in order, each with the first not yet matched alert that fits;
 * the test passes when every expected line is matched and no alert is left over.
 */
#include "cmd.h"
#include "replay.h"
#include "replay_input.h"
#include "replay_rules.h"

#include "../engine/codec.h"
#include "../engine/rules.h"
#include "../util/buf.h"
#include "../util/duration.h"
#include "../util/err.h"

#define JSMN_STATIC
#include <jsmn.h>

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

const char cmd_rules_usage[] =
    "usage: vane rules check [--dump] FILE...\n"
    "       vane rules test [-v] DIR...\n"
    "\n"
    "check  load the rules files in order (as the daemon does) and report every problem as\n"
    "       file:line:col: level: message. Exit 0 when valid, 1 when any error.\n"
    "       --dump also prints the compiled rules.\n"
    "test   replay a fixture directory and compare the alerts with DIR/expected.jsonl; print a\n"
    "       readable diff and exit 1 when they differ. Directory layout:\n"
    "         README            one line: why the case exists\n"
    "         rules.yaml        the rules (or rules/*.yaml; default: the shipped\n"
    "                           rules/default.yaml, found via $VANE_DEFAULT_RULES, the\n"
    "                           installation's share/vane/rules, or the source tree)\n"
    "         events.jsonl      the events, JSON lines\n"
    "         expected.jsonl    one alert per line, only the fields that matter, e.g.\n"
    "                           {\"kind\":\"REDEMPTION_SURGE\",\"customer_id\":\"C1\",\n"
    "                            \"severity\":\"HIGH\",\"features\":{\"redemptions\":\">= 3\"}}\n"
    "                           an empty file means no alert may fire\n"
    "         options           optional: 'lateness DUR', 'flush_timers_until +DUR|MS',\n"
    "                           'include_shadow true'\n"
    "       -v prints every alert, matched or not.\n";

/* ---- rules check -------------------------------------------------------------------------- */

static int rules_check(int argc, char **argv)
{
    bool dump = false;
    if (argc > 0 && strcmp(argv[0], "--dump") == 0) {
        dump = true;
        argc--;
        argv++;
    }
    if (argc < 1)
        return vane_command_usage_error("rules", "rules check needs at least one FILE");
    int errors = 0, warnings = 0;
    vane_ruleset_t *rs = vane_replay_rules_load_counted((const char *const *)argv, (size_t)argc,
                                                        stderr, 0, &errors, &warnings);
    if (!rs) {
        fprintf(stderr, "vane rules check: %d error%s, %d warning%s\n", errors,
                errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
        return 1;
    }
    if (dump) {
        vane_buf_t out = VANE_BUF_INIT;
        if (vane_ruleset_dump(rs, &out) == VANE_OK && out.data)
            fputs(out.data, stdout);
        vane_buf_free(&out);
    }
    size_t nrules = vane_ruleset_count(rs);
    vane_replay_rules_free(rs);
    printf("vane rules check: ok (%d file%s, %zu rule%s, %d warning%s)\n", argc,
           argc == 1 ? "" : "s", nrules, nrules == 1 ? "" : "s", warnings,
           warnings == 1 ? "" : "s");
    return 0;
}

/* ---- fixture helpers ---------------------------------------------------------------------- */

typedef struct fixture {
    const char *dir;
    char why[256];
    char rules_how[600];
    char *rule_paths[64]; /* owned */
    size_t n_rules;
    vane_replay_opts_t opts;
    bool flush;
    bool flush_relative;
    int64_t flush_ms;
    vane_alert_t *alerts; /* owned, n_alerts used */
    size_t n_alerts;
    size_t cap_alerts;
    bool oom;
} fixture_t;

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void read_why(fixture_t *fx)
{
    char *p = path_join(fx->dir, "README");
    FILE *f = p ? fopen(p, "r") : NULL;
    free(p);
    fx->why[0] = '\0';
    if (!f)
        return;
    if (fgets(fx->why, sizeof fx->why, f)) {
        size_t n = strlen(fx->why);
        while (n > 0 && (fx->why[n - 1] == '\n' || fx->why[n - 1] == '\r'))
            fx->why[--n] = '\0';
    }
    fclose(f);
}

static int find_rules(fixture_t *fx)
{
    char *single = path_join(fx->dir, "rules.yaml");
    if (!single)
        return VANE_ENOMEM;
    if (file_exists(single)) {
        fx->rule_paths[fx->n_rules++] = single;
        snprintf(fx->rules_how, sizeof fx->rules_how, "%s", single);
        return VANE_OK;
    }
    free(single);
    char *pattern = path_join(fx->dir, "rules/*.yaml");
    if (!pattern)
        return VANE_ENOMEM;
    glob_t g;
    int grc = glob(pattern, 0, NULL, &g); /* sorted by name */
    free(pattern);
    if (grc == 0) {
        for (size_t i = 0; i < g.gl_pathc && fx->n_rules < 64; i++)
            fx->rule_paths[fx->n_rules++] = strdup(g.gl_pathv[i]);
        snprintf(fx->rules_how, sizeof fx->rules_how, "%zu file(s) from %s/rules/", fx->n_rules,
                 fx->dir);
        globfree(&g);
        return VANE_OK;
    }
    char def[512];
    vane_replay_rules_default_path(def, sizeof def);
    fx->rule_paths[fx->n_rules++] = strdup(def);
    snprintf(fx->rules_how, sizeof fx->rules_how,
             "%s (shipped default: no rules.yaml or rules/ in the fixture)", def);
    return VANE_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int read_options(fixture_t *fx)
{
    char *p = path_join(fx->dir, "options");
    FILE *f = p ? fopen(p, "r") : NULL;
    if (!f) {
        free(p);
        return VANE_OK;
    }
    char line[256];
    int lineno = 0;
    int rc = VANE_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *val = s;
        while (*val && !isspace((unsigned char)*val))
            val++;
        if (*val)
            *val++ = '\0';
        val = trim(val);
        if (strcmp(s, "lateness") == 0) {
            if (vane_duration_parse(val, &fx->opts.lateness_ms) != VANE_OK)
                goto bad;
        } else if (strcmp(s, "flush_timers_until") == 0) {
            fx->flush = true;
            if (val[0] == '+') {
                fx->flush_relative = true;
                if (vane_duration_parse(val + 1, &fx->flush_ms) != VANE_OK)
                    goto bad;
            } else {
                char *end;
                fx->flush_ms = strtoll(val, &end, 10);
                if (end == val || *end)
                    goto bad;
            }
        } else if (strcmp(s, "include_shadow") == 0) {
            if (strcmp(val, "true") != 0 && strcmp(val, "false") != 0)
                goto bad;
            fx->opts.include_shadow = strcmp(val, "true") == 0;
        } else {
            fprintf(stdout, "%s:%d:1: error: unknown option '%s'\n", p, lineno, s);
            rc = VANE_EPARSE;
        }
        continue;
    bad:
        fprintf(stdout, "%s:%d:1: error: bad value '%s' for %s\n", p, lineno, val, s);
        rc = VANE_EPARSE;
    }
    fclose(f);
    free(p);
    return rc;
}

static void collect_alert(void *ud, const vane_alert_t *a)
{
    fixture_t *fx = ud;
    if (fx->n_alerts == fx->cap_alerts) {
        size_t ncap = fx->cap_alerts ? fx->cap_alerts * 2 : 16;
        vane_alert_t *na = realloc(fx->alerts, ncap * sizeof *na);
        if (!na) {
            fx->oom = true;
            return;
        }
        fx->alerts = na;
        fx->cap_alerts = ncap;
    }
    fx->alerts[fx->n_alerts++] = *a;
}

/* ---- expected-line matching --------------------------------------------------------------- */

#define MAX_TOKENS 512

typedef struct expected {
    char *text; /* owned: the line as written */
    int lineno;
    jsmntok_t tok[MAX_TOKENS];
    int ntok;
    int matched; /* index of the matched alert, or -1 */
} expected_t;

/* Index of the token after t[i] and everything nested in it. */
static int tok_skip(const jsmntok_t *t, int ntok, int i)
{
    int end = t[i].end;
    i++;
    while (i < ntok && t[i].start < end)
        i++;
    return i;
}

/* Copy token i as a string (JSON escapes for \" \\ \/ \n \t \r \uXXXX < 0x80 resolved). */
static void tok_str(const char *js, const jsmntok_t *t, char *out, size_t cap)
{
    size_t o = 0;
    for (int i = t->start; i < t->end && o + 1 < cap; i++) {
        char ch = js[i];
        if (ch == '\\' && i + 1 < t->end) {
            char e = js[++i];
            switch (e) {
            case 'n':
                ch = '\n';
                break;
            case 't':
                ch = '\t';
                break;
            case 'r':
                ch = '\r';
                break;
            case 'u':
                if (i + 4 < t->end) {
                    char hex[5] = {js[i + 1], js[i + 2], js[i + 3], js[i + 4], 0};
                    long v = strtol(hex, NULL, 16);
                    ch = v > 0 && v < 0x80 ? (char)v : '?';
                    i += 4;
                }
                break;
            default:
                ch = e;
            }
        }
        out[o++] = ch;
    }
    out[o] = '\0';
}

static bool tok_eq(const char *js, const jsmntok_t *t, const char *s)
{
    size_t n = (size_t)(t->end - t->start);
    return t->type == JSMN_STRING && strlen(s) == n && memcmp(js + t->start, s, n) == 0;
}

/* Does value v satisfy the expected token (a number within tol, or a constraint string)?
 * Writes the expectation as text to desc. */
static bool num_match(const char *js, const jsmntok_t *t, double v, double tol, char *desc,
                      size_t dn)
{
    char s[128];
    tok_str(js, t, s, sizeof s);
    if (t->type == JSMN_PRIMITIVE) {
        char *end;
        double e = strtod(s, &end);
        if (end == s) {
            snprintf(desc, dn, "%s (not a number)", s);
            return false;
        }
        double lim = tol >= 0 ? tol : 1e-6 + 1e-6 * fabs(e);
        snprintf(desc, dn, "%s ±%g", s, lim);
        return fabs(v - e) <= lim;
    }
    snprintf(desc, dn, "\"%s\"", s);
    char *p = trim(s);
    char *end;
    if (strncmp(p, ">=", 2) == 0) {
        double e = strtod(p + 2, &end);
        return end != p + 2 && v >= e;
    }
    if (strncmp(p, "<=", 2) == 0) {
        double e = strtod(p + 2, &end);
        return end != p + 2 && v <= e;
    }
    if (p[0] == '>') {
        double e = strtod(p + 1, &end);
        return end != p + 1 && v > e;
    }
    if (p[0] == '<') {
        double e = strtod(p + 1, &end);
        return end != p + 1 && v < e;
    }
    char *dots = strstr(p, "..");
    if (dots) {
        *dots = '\0';
        double lo = strtod(p, &end);
        if (end == p)
            return false;
        double hi = strtod(dots + 2, &end);
        if (end == dots + 2)
            return false;
        return v >= lo && v <= hi;
    }
    double e = strtod(p, &end);
    if (end == p || *trim(end))
        return false;
    double lim = tol >= 0 ? tol : 1e-6 + 1e-6 * fabs(e);
    return fabs(v - e) <= lim;
}

typedef struct str_field {
    const char *key;
    int how; /* 0 exact, 1 enum (case-insensitive), 2 contains */
} str_field_t;

static const char *alert_str(const vane_alert_t *a, const char *key)
{
    if (strcmp(key, "alert_id") == 0)
        return a->alert_id;
    if (strcmp(key, "rule_id") == 0)
        return a->rule_id;
    if (strcmp(key, "customer_id") == 0)
        return a->customer_id;
    if (strcmp(key, "summary") == 0)
        return a->summary;
    if (strcmp(key, "segment") == 0)
        return a->segment;
    if (strcmp(key, "route") == 0)
        return a->route;
    if (strcmp(key, "manager_id") == 0)
        return a->manager_id;
    if (strcmp(key, "kind") == 0)
        return vane_alert_kind_name(a->kind);
    if (strcmp(key, "severity") == 0)
        return vane_severity_name(a->severity);
    if (strcmp(key, "stage") == 0)
        return vane_stage_name(a->stage);
    if (strcmp(key, "from_category") == 0)
        return vane_category_name(a->from_category);
    if (strcmp(key, "to_category") == 0)
        return vane_category_name(a->to_category);
    return NULL;
}

static int str_how(const char *key)
{
    static const char *const enums[] = {"kind", "severity", "stage", "from_category",
                                        "to_category"};
    for (size_t i = 0; i < sizeof enums / sizeof enums[0]; i++) {
        if (strcmp(key, enums[i]) == 0)
            return 1;
    }
    return strcmp(key, "summary") == 0 ? 2 : 0;
}

/* Compare expected line x with alert a. Returns the number of mismatching fields; when why is
 * not NULL, appends one "field: expected ..., got ..." per mismatch. */
static int match_expected(const expected_t *x, const vane_alert_t *a, vane_buf_t *why)
{
    const char *js = x->text;
    const jsmntok_t *t = x->tok;
    int n = x->ntok;
    int bad = 0;
    double tol = -1;
    for (int i = 1; i < n; i = tok_skip(t, n, i + 1)) {
        if (tok_eq(js, &t[i], "tolerance") && i + 1 < n)
            tol = strtod(js + t[i + 1].start, NULL);
    }
    char key[64], want[256], desc[160];
    for (int i = 1; i + 1 < n; i = tok_skip(t, n, i + 1)) {
        const jsmntok_t *k = &t[i];
        const jsmntok_t *v = &t[i + 1];
        tok_str(js, k, key, sizeof key);
        if (key[0] == '_' || strcmp(key, "tolerance") == 0)
            continue;
        const char *got = alert_str(a, key);
        if (got) {
            tok_str(js, v, want, sizeof want);
            int how = str_how(key);
            bool ok = how == 1   ? strcasecmp(want, got) == 0
                      : how == 2 ? strstr(got, want) != NULL
                                 : strcmp(want, got) == 0;
            if (!ok) {
                bad++;
                if (why)
                    vane_buf_printf(why, "      %s: expected \"%s\", got \"%s\"\n", key, want, got);
            }
        } else if (strcmp(key, "score") == 0) {
            if (!num_match(js, v, a->score, tol, desc, sizeof desc)) {
                bad++;
                if (why)
                    vane_buf_printf(why, "      score: expected %s, got %g\n", desc, a->score);
            }
        } else if (strcmp(key, "event_time_ms") == 0 || strcmp(key, "detected_at_ms") == 0) {
            int64_t g = key[0] == 'e' ? a->event_time_ms : a->detected_at_ms;
            tok_str(js, v, want, sizeof want);
            char *end;
            long long e = strtoll(want, &end, 10);
            if (end == want || *end || e != g) {
                bad++;
                if (why)
                    vane_buf_printf(why, "      %s: expected %s, got %" PRId64 "\n", key, want, g);
            }
        } else if (strcmp(key, "shadow") == 0) {
            tok_str(js, v, want, sizeof want);
            if ((strcmp(want, "true") == 0) != a->shadow) {
                bad++;
                if (why)
                    vane_buf_printf(why, "      shadow: expected %s, got %s\n", want,
                                    a->shadow ? "true" : "false");
            }
        } else if (strcmp(key, "event_ids") == 0) {
            bool ok = v->type == JSMN_ARRAY && (uint32_t)v->size == a->n_event_ids;
            for (int j = i + 2; ok && j < i + 2 + v->size; j++) {
                tok_str(js, &t[j], want, sizeof want);
                bool found = false;
                for (uint32_t e = 0; e < a->n_event_ids && !found; e++)
                    found = strcmp(a->event_ids[e], want) == 0;
                ok = found;
            }
            if (!ok) {
                bad++;
                if (why) {
                    vane_buf_printf(why, "      event_ids: expected %.*s, got [", v->end - v->start,
                                    js + v->start);
                    for (uint32_t e = 0; e < a->n_event_ids; e++)
                        vane_buf_printf(why, "%s\"%s\"", e ? "," : "", a->event_ids[e]);
                    vane_buf_puts(why, "]\n");
                }
            }
        } else if (strcmp(key, "features") == 0) {
            if (v->type != JSMN_OBJECT) {
                bad++;
                if (why)
                    vane_buf_puts(why, "      features: expected an object in the fixture\n");
                continue;
            }
            for (int j = i + 2; j + 1 < n && t[j].start < v->end; j = tok_skip(t, n, j + 1)) {
                char fname[VANE_FEATURE_NAME_MAX + 8];
                tok_str(js, &t[j], fname, sizeof fname);
                const vane_alert_feature_t *f = vane_alert_feature(a, fname);
                if (!f) {
                    bad++;
                    if (why)
                        vane_buf_printf(why, "      features.%s: missing from the alert\n", fname);
                } else if (!num_match(js, &t[j + 1], f->value, tol, desc, sizeof desc)) {
                    bad++;
                    if (why)
                        vane_buf_printf(why, "      features.%s: expected %s, got %g\n", fname,
                                        desc, f->value);
                }
            }
        } else {
            bad++;
            if (why)
                vane_buf_printf(why, "      %s: not an alert field (typo in the fixture?)\n", key);
        }
    }
    return bad;
}

static int load_expected(const char *path, expected_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("  %s: %s\n", path, strerror(errno));
        return VANE_EIO;
    }
    expected_t *xs = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int lineno = 0;
    int rc = VANE_OK;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            expected_t *nx = realloc(xs, ncap * sizeof *nx);
            if (!nx) {
                rc = VANE_ENOMEM;
                break;
            }
            xs = nx;
            cap = ncap;
        }
        expected_t *x = &xs[n];
        x->text = strdup(s);
        x->lineno = lineno;
        x->matched = -1;
        if (!x->text) {
            rc = VANE_ENOMEM;
            break;
        }
        jsmn_parser p;
        jsmn_init(&p);
        x->ntok = jsmn_parse(&p, x->text, strlen(x->text), x->tok, MAX_TOKENS);
        n++;
        if (x->ntok < 1 || x->tok[0].type != JSMN_OBJECT) {
            printf("  %s:%d:1: error: not a JSON object\n", path, lineno);
            rc = VANE_EPARSE;
        }
    }
    free(line);
    fclose(f);
    *out = xs;
    *n_out = n;
    return rc;
}

static void free_expected(expected_t *xs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(xs[i].text);
    free(xs);
}

static void print_alert(const vane_alert_t *a, vane_buf_t *tmp)
{
    vane_buf_reset(tmp);
    if (vane_codec_encode_alert(a, VANE_FORMAT_JSON, tmp) == VANE_OK)
        printf("%s\n", tmp->data);
    else
        printf("{\"kind\":\"%s\",\"customer_id\":\"%s\"} (could not encode)\n",
               vane_alert_kind_name(a->kind), a->customer_id);
}

/* ---- rules test ---------------------------------------------------------------------------- */

static int run_fixture(const char *dir, bool verbose)
{
    fixture_t fx;
    memset(&fx, 0, sizeof fx);
    fx.dir = dir;
    fx.opts.lateness_ms = -1; /* the rules' settings unless options say */
    fx.opts.max_bytes = 1 << 20;
    int result = 1;
    vane_ruleset_t *rs = NULL;
    vane_replay_t *rp = NULL;
    vane_replay_input_t *in = NULL;
    expected_t *xs = NULL;
    size_t nx = 0;
    vane_buf_t tmp = VANE_BUF_INIT;
    char *events = path_join(dir, "events.jsonl");
    char *expected = path_join(dir, "expected.jsonl");

    read_why(&fx);
    printf("== %s%s%s\n", dir, fx.why[0] ? ": " : "", fx.why);
    if (!events || !expected || find_rules(&fx) != VANE_OK) {
        printf("  out of memory\n");
        goto done;
    }
    printf("  rules: %s\n", fx.rules_how);
    if (read_options(&fx) != VANE_OK)
        goto done;
    rs = vane_replay_rules_load((const char *const *)fx.rule_paths, fx.n_rules, stdout, 1);
    if (!rs) {
        printf("FAIL %s: the rules do not load\n", dir);
        goto done;
    }
    if (fx.opts.lateness_ms < 0)
        fx.opts.lateness_ms = vane_ruleset_lateness(rs);
    if (load_expected(expected, &xs, &nx) != VANE_OK) {
        printf("FAIL %s: bad expected.jsonl\n", dir);
        goto done;
    }
    char errbuf[256];
    in = vane_replay_input_open(events, VANE_FORMAT_AUTO, fx.opts.max_bytes, errbuf, sizeof errbuf);
    if (!in) {
        printf("FAIL %s: %s\n", dir, errbuf);
        goto done;
    }
    rp = vane_replay_new(rs, &fx.opts, collect_alert, &fx);
    if (!rp) {
        printf("  out of memory\n");
        goto done;
    }
    const char *msg;
    size_t len;
    int r;
    while ((r = vane_replay_input_next(in, &msg, &len)) != 0) {
        if (r < 0) {
            vane_replay_reject(rp, VANE_REJECT_TOO_LARGE, vane_replay_input_record(in),
                               "unreadable message");
            continue;
        }
        if (vane_replay_feed(rp, msg, len, vane_replay_input_format(in),
                             vane_replay_input_record(in)) == VANE_ENOMEM)
            fx.oom = 1;
    }
    const vane_replay_stats_t *st = vane_replay_stats(rp);
    if (fx.flush) {
        int64_t until = fx.flush_ms;
        if (fx.flush_relative)
            until += st->max_event_ms == INT64_MIN ? 0 : st->max_event_ms;
        if (vane_replay_flush(rp, until) != VANE_OK)
            fx.oom = 1;
    }
    if (fx.oom) {
        printf("  out of memory\n");
        goto done;
    }
    int fail = 0;
    if (st->rejects > 0) {
        fail = 1;
        printf("  events.jsonl: %" PRIu64 " line(s) rejected by the decoder (a fixture must "
               "decode):\n",
               st->rejects);
        for (int k = 1; k < VANE_REJECT__COUNT; k++) {
            if (st->reject[k])
                printf("    %s: %s\n", vane_reject_name(k), st->first_reject_msg[k]);
        }
    }
    /* Match expected lines in order, each to the first unmatched alert that fits. */
    bool *used = calloc(fx.n_alerts + 1, sizeof *used);
    if (!used) {
        printf("  out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < nx; i++) {
        for (size_t j = 0; j < fx.n_alerts; j++) {
            if (!used[j] && match_expected(&xs[i], &fx.alerts[j], NULL) == 0) {
                used[j] = true;
                xs[i].matched = (int)j;
                break;
            }
        }
    }
    for (size_t i = 0; i < nx; i++) {
        if (xs[i].matched >= 0)
            continue;
        fail = 1;
        printf("  - missing   expected.jsonl:%d: %s\n", xs[i].lineno, xs[i].text);
        /* Show the unmatched alert that comes closest, field by field. */
        int best = -1, best_bad = 1 << 30;
        for (size_t j = 0; j < fx.n_alerts; j++) {
            if (used[j])
                continue;
            int b = match_expected(&xs[i], &fx.alerts[j], NULL);
            if (b < best_bad) {
                best_bad = b;
                best = (int)j;
            }
        }
        if (best >= 0) {
            vane_buf_t why = VANE_BUF_INIT;
            match_expected(&xs[i], &fx.alerts[best], &why);
            printf("    closest alert #%d differs in:\n%s", best + 1, why.data ? why.data : "");
            vane_buf_free(&why);
        } else {
            printf("    (no unmatched alert left to compare with)\n");
        }
    }
    for (size_t j = 0; j < fx.n_alerts; j++) {
        if (used[j] && !verbose)
            continue;
        if (!used[j])
            fail = 1;
        printf("  %s alert #%zu: ", used[j] ? "= matched   " : "+ unexpected", j + 1);
        print_alert(&fx.alerts[j], &tmp);
    }
    free(used);
    printf("%s %s: %" PRIu64 " events, %zu alert(s), %zu expected\n", fail ? "FAIL" : "ok", dir,
           st->events, fx.n_alerts, nx);
    result = fail;
done:
    vane_buf_free(&tmp);
    free_expected(xs, nx);
    vane_replay_free(rp);
    vane_replay_input_close(in);
    vane_replay_rules_free(rs);
    for (size_t i = 0; i < fx.n_rules; i++)
        free(fx.rule_paths[i]);
    free(fx.alerts);
    free(events);
    free(expected);
    fflush(stdout);
    return result;
}

static int rules_test(int argc, char **argv)
{
    bool verbose = false;
    int i = 0;
    if (i < argc && strcmp(argv[i], "-v") == 0) {
        verbose = true;
        i++;
    }
    if (i >= argc)
        return vane_command_usage_error("rules", "rules test needs at least one DIR");
    int failed = 0;
    for (; i < argc; i++)
        failed += run_fixture(argv[i], verbose) != 0;
    return failed ? 1 : 0;
}

int cmd_rules(int argc, char **argv)
{
    if (argc < 2)
        return vane_command_usage_error("rules", "expected 'check' or 'test'");
    if (strcmp(argv[1], "check") == 0)
        return rules_check(argc - 2, argv + 2);
    if (strcmp(argv[1], "test") == 0)
        return rules_test(argc - 2, argv + 2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(cmd_rules_usage, stdout);
        return 0;
    }
    return vane_command_usage_error("rules", "unknown rules subcommand '%s'", argv[1]);
}
