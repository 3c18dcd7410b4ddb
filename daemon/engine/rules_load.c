/* rules_load.c - rule files: read (libyaml) -> collect -> compile (see rules.h).
 *
 * Each file is a YAML sequence of one-key-first mappings, as in Falco:
 *   - required_engine_version: 1
 *   - settings: {...}          engine parameters (lateness, decay, stage, risk, topics, ...)
 *   - list: NAME   items: [...]
 *   - macro: NAME  condition: EXPR
 *   - rule: ID     kind/severity/on/condition/...
 * All files are read first; then lists and settings are collected, macros compiled in
 * definition order, and rules compiled last, so a rule in rules.d/ can use a macro from
 * default.yaml. Positions come from libyaml marks (0-based) and are reported 1-based.
 */
#include "rules_int.h"

#include "../util/duration.h"
#include "../util/err.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>
#include <yaml.h>

/* ================================================================================
 * Diagnostics
 * ================================================================================ */

void vane__diag(vane_diags_t *diags, vane_diag_level_t level, const char *code, const char *file,
                int line, int col, const char *fmt, ...)
{
    if (!diags)
        return;
    if (level == VANE_DIAG_ERROR)
        diags->errors++;
    else if (level == VANE_DIAG_WARNING)
        diags->warnings++;
    if (diags->n == diags->cap) {
        size_t cap = diags->cap ? diags->cap * 2 : 16;
        vane_diag_t *v = realloc(diags->v, cap * sizeof *v);
        if (!v)
            return; /* counted above, text lost: still fails the load */
        diags->v = v;
        diags->cap = cap;
    }
    vane_diag_t *d = &diags->v[diags->n++];
    memset(d, 0, sizeof *d);
    d->level = level;
    snprintf(d->code, sizeof d->code, "%s", code);
    snprintf(d->file, sizeof d->file, "%s", file ? file : "");
    d->line = line;
    d->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof d->msg, fmt, ap);
    va_end(ap);
}

void vane_diags_print(const vane_diags_t *diags, FILE *fp)
{
    static const char *lv[] = {"error", "warning", "info"};
    for (size_t i = 0; i < diags->n; i++) {
        const vane_diag_t *d = &diags->v[i];
        if (d->line > 0)
            fprintf(fp, "%s:%d:%d: %s: %s [%s]\n", d->file, d->line, d->col, lv[d->level], d->msg,
                    d->code);
        else
            fprintf(fp, "%s: %s: %s [%s]\n", d->file, lv[d->level], d->msg, d->code);
    }
}

void vane_diags_free(vane_diags_t *diags)
{
    if (!diags)
        return;
    free(diags->v);
    memset(diags, 0, sizeof *diags);
}

const vane_diag_t *vane_diags_find(const vane_diags_t *diags, const char *code)
{
    for (size_t i = 0; i < diags->n; i++)
        if (strcmp(diags->v[i].code, code) == 0)
            return &diags->v[i];
    return NULL;
}

/* ================================================================================
 * Ruleset memory
 * ================================================================================ */

const char *vane__rs_strdup(vane_ruleset_t *rs, const char *s, size_t len)
{
    if (rs->nstrs == rs->capstrs) {
        size_t cap = rs->capstrs ? rs->capstrs * 2 : 32;
        char **v = realloc(rs->strs, cap * sizeof *v);
        if (!v)
            return NULL;
        rs->strs = v;
        rs->capstrs = cap;
    }
    char *c = strndup(s, len);
    if (c)
        rs->strs[rs->nstrs++] = c;
    return c;
}

static void tpl_free(vane__tpl_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->parts[i].text);
    free(t->parts);
    t->parts = NULL;
    t->n = 0;
}

static void rule_free(vane__rule_t *r)
{
    free(r->desc);
    free(r->exc);
    free(r->evid);
    free(r->esc);
    free(r->routes);
    tpl_free(&r->summary);
    tpl_free(&r->fu_summary);
    memset(r, 0, sizeof *r);
}

void vane_ruleset_free(vane_ruleset_t *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->nrules; i++)
        rule_free(&rs->rules[i]);
    free(rs->rules);
    for (size_t i = 0; i < rs->nmacros; i++)
        free(rs->macros[i].name);
    free(rs->macros);
    for (size_t i = 0; i < rs->nlists; i++) {
        for (size_t k = 0; k < rs->lists[i].n; k++)
            free(rs->lists[i].items[k]);
        free(rs->lists[i].items);
        free(rs->lists[i].nums);
        free(rs->lists[i].name);
    }
    free(rs->lists);
    for (size_t i = 0; i < rs->nstrs; i++)
        free(rs->strs[i]);
    free(rs->strs);
    free(rs->nodes);
    free(rs);
}

size_t vane_ruleset_count(const vane_ruleset_t *rs)
{
    return rs->nrules;
}

const char *vane_ruleset_rule_id(const vane_ruleset_t *rs, size_t i)
{
    return i < rs->nrules ? rs->rules[i].id : NULL;
}

int64_t vane_ruleset_lateness(const vane_ruleset_t *rs)
{
    return rs->set.lateness_ms;
}

uint32_t vane__rule_ref(const char *id)
{
    return XXH32(id, strlen(id), 0x76616e65u);
}

const vane__rule_t *vane__rule_by_ref(const vane_ruleset_t *rs, uint32_t ref)
{
    for (size_t i = 0; i < rs->nrules; i++)
        if (rs->rules[i].ref == ref)
            return &rs->rules[i];
    return NULL;
}

static void settings_default(vane__settings_t *s)
{
    memset(s, 0, sizeof *s);
    s->lateness_ms = 3600000LL;
    s->short_half_life_ms = 7 * 86400000LL;
    s->long_half_life_ms = 180 * 86400000LL;
    s->purchase_weight = 1.0;
    s->view_weight = 0.5;
    s->alpha_day = 0.3;
    s->alpha_week = 0.15;
    s->alpha_gap = 0.2;
    s->stage_decline_risk = 0.6;
    s->stage_trust_tenure_ms = 730 * 86400000LL;
    s->stage_trust_cross = 3;
    s->stage_strength_tenure_ms = 90 * 86400000LL;
    s->stage_strength_cross = 2;
    s->risk_window_ms = 30 * 86400000LL;
    s->w_redemption = 0.3;
    s->sat_redemption = 3;
    s->w_cancellation = 0.2;
    s->sat_cancellation = 2;
    s->w_outflow = 0.25;
    s->w_drop = 0.15;
    s->w_detractor = 0.1;
    snprintf(s->route_default, sizeof s->route_default, "frontline");
}

/* ================================================================================
 * YAML walking
 * ================================================================================ */

typedef struct src {
    char *file; /* owned copy of the name */
    char *raw;  /* owned file text */
    size_t rawlen;
    yaml_document_t doc;
    bool loaded;
} src_t;

typedef struct loader {
    vane_ruleset_t *rs;
    vane_diags_t *diags;
    src_t *src;           /* current file */
    size_t nrules_before; /* rules defined by earlier files (may be replaced) */
    int engine_version;
} loader_t;

static yaml_node_t *ynode(loader_t *l, int idx)
{
    return yaml_document_get_node(&l->src->doc, idx);
}

static void ndiag(loader_t *l, vane_diag_level_t lv, const yaml_node_t *n, const char *code,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void ndiag(loader_t *l, vane_diag_level_t lv, const yaml_node_t *n, const char *code,
                  const char *fmt, ...)
{
    char msg[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vane__diag(l->diags, lv, code, l->src->file, n ? (int)n->start_mark.line + 1 : 0,
               n ? (int)n->start_mark.column + 1 : 0, "%s", msg);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A scalar's value, or an error diagnostic and NULL. */
static const char *want_scalar(loader_t *l, const yaml_node_t *n, const char *key)
{
    const char *s = scalar(n);
    if (!s)
        ndiag(l, VANE_DIAG_ERROR, n, "bad-value", "'%s' must be a scalar", key);
    return s;
}

static void srcloc_of(loader_t *l, const yaml_node_t *n, vane__srcloc_t *loc)
{
    memset(loc, 0, sizeof *loc);
    loc->file = l->src->file;
    loc->raw = l->src->raw;
    loc->rawlen = l->src->rawlen;
    loc->start = n->start_mark.index;
    loc->line = (int)n->start_mark.line + 1;
    loc->col = (int)n->start_mark.column + 1;
    yaml_scalar_style_t st = n->data.scalar.style;
    if (st == YAML_SINGLE_QUOTED_SCALAR_STYLE || st == YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
        loc->start++;
        loc->col++;
    } else if (st == YAML_LITERAL_SCALAR_STYLE || st == YAML_FOLDED_SCALAR_STYLE) {
        /* Content starts on the line after the indicator, at its indentation. */
        size_t r = loc->start;
        while (r < loc->rawlen && loc->raw[r] != '\n')
            r++;
        int line = loc->line;
        for (;;) {
            if (r >= loc->rawlen)
                break;
            r++; /* past '\n' */
            line++;
            size_t s = r;
            while (r < loc->rawlen && loc->raw[r] == ' ')
                r++;
            if (r < loc->rawlen && loc->raw[r] != '\n') {
                loc->start = r;
                loc->line = line;
                loc->col = (int)(r - s) + 1;
                loc->indent = loc->col;
                loc->block = true;
                break;
            }
        }
    }
}

static int32_t compile_expr(loader_t *l, const yaml_node_t *n, const char *key, vane__type_t want)
{
    const char *s = want_scalar(l, n, key);
    if (!s)
        return -1;
    vane__srcloc_t loc;
    srcloc_of(l, n, &loc);
    return vane__expr_compile(l->rs, s, &loc, want, l->diags);
}

static bool parse_dur(loader_t *l, const yaml_node_t *n, const char *key, int64_t *out)
{
    const char *s = want_scalar(l, n, key);
    if (!s)
        return false;
    if (vane_duration_parse(s, out) != 0) {
        ndiag(l, VANE_DIAG_ERROR, n, "bad-duration",
              "'%s': malformed duration '%s' (e.g. 24h, 7d, 500ms)", key, s);
        return false;
    }
    return true;
}

static bool parse_num(loader_t *l, const yaml_node_t *n, const char *key, double lo, double hi,
                      double *out)
{
    const char *s = want_scalar(l, n, key);
    if (!s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno || !(v >= lo && v <= hi)) {
        ndiag(l, VANE_DIAG_ERROR, n, "bad-value", "'%s' must be a number in [%g, %g], got '%s'",
              key, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_bool(loader_t *l, const yaml_node_t *n, const char *key, bool *out)
{
    const char *s = want_scalar(l, n, key);
    if (!s)
        return false;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on")) {
        *out = true;
        return true;
    }
    if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off")) {
        *out = false;
        return true;
    }
    ndiag(l, VANE_DIAG_ERROR, n, "bad-value", "'%s' must be true or false, got '%s'", key, s);
    return false;
}

static bool copy_to(loader_t *l, const yaml_node_t *n, const char *key, char *dst, size_t cap)
{
    const char *s = want_scalar(l, n, key);
    if (!s)
        return false;
    if (strlen(s) >= cap) {
        ndiag(l, VANE_DIAG_ERROR, n, "bad-value", "'%s' is longer than %zu bytes", key, cap - 1);
        return false;
    }
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

#define VCAT2_(a, b)            a##b
#define VCAT_(a, b)             VCAT2_(a, b)
#define FOR_PAIRS(l, map, k, v) FOR_PAIRS_(l, map, k, v, VCAT_(pp_, __LINE__))
#define FOR_PAIRS_(l, map, k, v, pp)                                                               \
    for (yaml_node_pair_t *pp = (map)->data.mapping.pairs.start;                                   \
         pp < (map)->data.mapping.pairs.top; pp++)                                                 \
        for (yaml_node_t *k = ynode(l, pp->key), *v = ynode(l, pp->value); k; k = NULL)

#define FOR_ITEMS(l, seq, it) FOR_ITEMS_(l, seq, it, VCAT_(ii_, __LINE__))
#define FOR_ITEMS_(l, seq, it, ii)                                                                 \
    for (yaml_node_item_t *ii = (seq)->data.sequence.items.start;                                  \
         ii < (seq)->data.sequence.items.top; ii++)                                                \
        for (yaml_node_t *it = ynode(l, *ii); it; it = NULL)

static bool is_map(const yaml_node_t *n)
{
    return n && n->type == YAML_MAPPING_NODE;
}

static bool is_seq(const yaml_node_t *n)
{
    return n && n->type == YAML_SEQUENCE_NODE;
}

static yaml_node_t *map_get(loader_t *l, yaml_node_t *map, const char *key)
{
    FOR_PAIRS(l, map, k, v)
    {
        const char *ks = scalar(k);
        if (ks && strcmp(ks, key) == 0)
            return v;
    }
    return NULL;
}

static void unknown_key(loader_t *l, const yaml_node_t *k, const char *where)
{
    ndiag(l, VANE_DIAG_WARNING, k, "unknown-key", "unknown key '%s' in %s (ignored)",
          scalar(k) ? scalar(k) : "?", where);
}

/* ================================================================================
 * Lists
 * ================================================================================ */

static int32_t list_from_seq(loader_t *l, const char *name, yaml_node_t *seq, bool used)
{
    vane_ruleset_t *rs = l->rs;
    if (!is_seq(seq)) {
        ndiag(l, VANE_DIAG_ERROR, seq, "bad-value", "a list needs a sequence of items");
        return -1;
    }
    if (rs->nlists == rs->caplists) {
        size_t cap = rs->caplists ? rs->caplists * 2 : 8;
        vane__list_t *v = realloc(rs->lists, cap * sizeof *v);
        if (!v)
            return -1;
        rs->lists = v;
        rs->caplists = cap;
    }
    vane__list_t *li = &rs->lists[rs->nlists];
    memset(li, 0, sizeof *li);
    li->name = strdup(name);
    li->used = used;
    snprintf(li->file, sizeof li->file, "%s", l->src->file);
    li->line = (int)seq->start_mark.line + 1;
    li->col = (int)seq->start_mark.column + 1;
    rs->nlists++;
    if (!li->name)
        return -1;
    size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
    li->items = calloc(n ? n : 1, sizeof *li->items);
    li->nums = calloc(n ? n : 1, sizeof *li->nums);
    if (!li->items || !li->nums)
        return -1;
    FOR_ITEMS(l, seq, it)
    {
        const char *s = scalar(it);
        if (!s) {
            ndiag(l, VANE_DIAG_ERROR, it, "bad-value", "list items must be scalars");
            continue;
        }
        char *end;
        double v = strtod(s, &end);
        li->nums[li->n] = (*s && *end == '\0') ? v : NAN;
        li->items[li->n] = strdup(s);
        if (!li->items[li->n])
            return -1;
        li->n++;
    }
    return (int32_t)(rs->nlists - 1);
}

static void do_list(loader_t *l, yaml_node_t *map)
{
    const char *name = NULL;
    yaml_node_t *items = NULL, *namenode = NULL;
    FOR_PAIRS(l, map, k, v)
    {
        const char *ks = scalar(k);
        if (ks && !strcmp(ks, "list")) {
            name = want_scalar(l, v, "list");
            namenode = v;
        } else if (ks && !strcmp(ks, "items"))
            items = v;
        else
            unknown_key(l, k, "a list");
    }
    if (!name || !items) {
        ndiag(l, VANE_DIAG_ERROR, map, "missing-key", "a list needs 'list' and 'items'");
        return;
    }
    for (size_t i = 0; i < l->rs->nlists; i++)
        if (!strcmp(l->rs->lists[i].name, name)) {
            ndiag(l, VANE_DIAG_ERROR, namenode, "duplicate-id", "list '%s' is already defined",
                  name);
            return;
        }
    list_from_seq(l, name, items, false);
}

/* ================================================================================
 * Macros: collected first (root -1), compiled in definition order
 * ================================================================================ */

typedef struct pending_macro {
    size_t index; /* in rs->macros */
    src_t *src;
    yaml_node_t *cond;
} pending_macro_t;

static void do_macro(loader_t *l, yaml_node_t *map, pending_macro_t **pend, size_t *npend)
{
    const char *name = NULL;
    yaml_node_t *cond = NULL, *namenode = NULL;
    FOR_PAIRS(l, map, k, v)
    {
        const char *ks = scalar(k);
        if (ks && !strcmp(ks, "macro")) {
            name = want_scalar(l, v, "macro");
            namenode = v;
        } else if (ks && !strcmp(ks, "condition"))
            cond = v;
        else if (ks && !strcmp(ks, "desc"))
            ;
        else
            unknown_key(l, k, "a macro");
    }
    if (!name || !cond) {
        ndiag(l, VANE_DIAG_ERROR, map, "missing-key", "a macro needs 'macro' and 'condition'");
        return;
    }
    vane_ruleset_t *rs = l->rs;
    for (size_t i = 0; i < rs->nmacros; i++)
        if (!strcmp(rs->macros[i].name, name)) {
            ndiag(l, VANE_DIAG_ERROR, namenode, "duplicate-id", "macro '%s' is already defined",
                  name);
            return;
        }
    if (vane__feat_lookup(name, strlen(name), NULL) >= 0) {
        ndiag(l, VANE_DIAG_ERROR, namenode, "duplicate-id", "macro '%s' shadows a feature", name);
        return;
    }
    if (rs->nmacros == rs->capmacros) {
        size_t cap = rs->capmacros ? rs->capmacros * 2 : 8;
        vane__macro_t *v = realloc(rs->macros, cap * sizeof *v);
        if (!v)
            return;
        rs->macros = v;
        rs->capmacros = cap;
    }
    pending_macro_t *p = realloc(*pend, (*npend + 1) * sizeof *p);
    if (!p)
        return;
    *pend = p;
    vane__macro_t *m = &rs->macros[rs->nmacros];
    memset(m, 0, sizeof *m);
    m->name = strdup(name);
    m->root = -1;
    snprintf(m->file, sizeof m->file, "%s", l->src->file);
    m->line = (int)namenode->start_mark.line + 1;
    m->col = (int)namenode->start_mark.column + 1;
    p[*npend] = (pending_macro_t){rs->nmacros, l->src, cond};
    (*npend)++;
    rs->nmacros++;
}

/* ================================================================================
 * Settings
 * ================================================================================ */

static void do_settings(loader_t *l, yaml_node_t *map)
{
    vane__settings_t *s = &l->rs->set;
    if (!is_map(map)) {
        ndiag(l, VANE_DIAG_ERROR, map, "bad-value", "'settings' must be a mapping");
        return;
    }
    FOR_PAIRS(l, map, k, v)
    {
        const char *ks = scalar(k);
        if (!ks)
            continue;
        if (!strcmp(ks, "lateness")) {
            parse_dur(l, v, ks, &s->lateness_ms);
        } else if (!strcmp(ks, "route_default")) {
            copy_to(l, v, ks, s->route_default, sizeof s->route_default);
        } else if (!strcmp(ks, "topics") && is_map(v)) {
            FOR_PAIRS(l, v, k2, v2)
            {
                const char *kind = scalar(k2);
                int kd = kind ? vane_alert_kind_parse(kind, strlen(kind)) : -1;
                if (kd <= 0) {
                    ndiag(l, VANE_DIAG_ERROR, k2, "bad-value", "unknown alert kind '%s'",
                          kind ? kind : "?");
                    continue;
                }
                copy_to(l, v2, kind, s->topics[kd], sizeof s->topics[kd]);
            }
        } else if (!strcmp(ks, "mix") && is_map(v)) {
            FOR_PAIRS(l, v, k2, v2)
            {
                const char *n = scalar(k2);
                if (n && !strcmp(n, "short_half_life"))
                    parse_dur(l, v2, n, &s->short_half_life_ms);
                else if (n && !strcmp(n, "long_half_life"))
                    parse_dur(l, v2, n, &s->long_half_life_ms);
                else if (n && !strcmp(n, "purchase_weight"))
                    parse_num(l, v2, n, 0, 1e6, &s->purchase_weight);
                else if (n && !strcmp(n, "view_weight"))
                    parse_num(l, v2, n, 0, 1e6, &s->view_weight);
                else
                    unknown_key(l, k2, "settings.mix");
            }
        } else if (!strcmp(ks, "baseline") && is_map(v)) {
            FOR_PAIRS(l, v, k2, v2)
            {
                const char *n = scalar(k2);
                if (n && !strcmp(n, "alpha_day"))
                    parse_num(l, v2, n, 0.001, 1, &s->alpha_day);
                else if (n && !strcmp(n, "alpha_week"))
                    parse_num(l, v2, n, 0.001, 1, &s->alpha_week);
                else if (n && !strcmp(n, "alpha_gap"))
                    parse_num(l, v2, n, 0.001, 1, &s->alpha_gap);
                else
                    unknown_key(l, k2, "settings.baseline");
            }
        } else if (!strcmp(ks, "stage") && is_map(v)) {
            FOR_PAIRS(l, v, k2, v2)
            {
                const char *n = scalar(k2);
                double d;
                if (n && !strcmp(n, "decline_risk"))
                    parse_num(l, v2, n, 0, 1, &s->stage_decline_risk);
                else if (n && !strcmp(n, "trust_tenure"))
                    parse_dur(l, v2, n, &s->stage_trust_tenure_ms);
                else if (n && !strcmp(n, "strengthening_tenure"))
                    parse_dur(l, v2, n, &s->stage_strength_tenure_ms);
                else if (n && !strcmp(n, "trust_cross_holding")) {
                    if (parse_num(l, v2, n, 0, VANE_CAT__COUNT, &d))
                        s->stage_trust_cross = (int)d;
                } else if (n && !strcmp(n, "strengthening_cross_holding")) {
                    if (parse_num(l, v2, n, 0, VANE_CAT__COUNT, &d))
                        s->stage_strength_cross = (int)d;
                } else
                    unknown_key(l, k2, "settings.stage");
            }
        } else if (!strcmp(ks, "risk") && is_map(v)) {
            FOR_PAIRS(l, v, k2, v2)
            {
                const char *n = scalar(k2);
                if (n && !strcmp(n, "window"))
                    parse_dur(l, v2, n, &s->risk_window_ms);
                else if (n && !strcmp(n, "redemption"))
                    parse_num(l, v2, n, 0, 1, &s->w_redemption);
                else if (n && !strcmp(n, "redemption_saturation"))
                    parse_num(l, v2, n, 1, 1000, &s->sat_redemption);
                else if (n && !strcmp(n, "cancellation"))
                    parse_num(l, v2, n, 0, 1, &s->w_cancellation);
                else if (n && !strcmp(n, "cancellation_saturation"))
                    parse_num(l, v2, n, 1, 1000, &s->sat_cancellation);
                else if (n && !strcmp(n, "outflow"))
                    parse_num(l, v2, n, 0, 1, &s->w_outflow);
                else if (n && !strcmp(n, "engagement_drop"))
                    parse_num(l, v2, n, 0, 1, &s->w_drop);
                else if (n && !strcmp(n, "detractor"))
                    parse_num(l, v2, n, 0, 1, &s->w_detractor);
                else
                    unknown_key(l, k2, "settings.risk");
            }
        } else {
            unknown_key(l, k, "settings");
        }
    }
}

/* ================================================================================
 * Templates
 * ================================================================================ */

static bool tpl_push(vane__tpl_t *t, const vane__tpl_part_t *part)
{
    vane__tpl_part_t *v = realloc(t->parts, (t->n + 1) * sizeof *v);
    if (!v)
        return false;
    t->parts = v;
    t->parts[t->n++] = *part;
    return true;
}

static bool tpl_compile(loader_t *l, const yaml_node_t *n, const vane__rule_t *r, vane__tpl_t *t)
{
    const char *s = want_scalar(l, n, "summary");
    if (!s)
        return false;
    const char *p = s;
    char lit[VANE_SUMMARY_MAX];
    size_t nl = 0;
    while (*p) {
        if (p[0] == '{' && p[1] == '{') {
            if (nl + 1 < sizeof lit)
                lit[nl++] = '{';
            p += 2;
            continue;
        }
        if (p[0] == '}' && p[1] == '}') {
            if (nl + 1 < sizeof lit)
                lit[nl++] = '}';
            p += 2;
            continue;
        }
        if (*p != '{') {
            if (nl + 1 < sizeof lit)
                lit[nl++] = *p;
            p++;
            continue;
        }
        const char *e = strchr(p, '}');
        if (!e) {
            ndiag(l, VANE_DIAG_ERROR, n, "bad-template", "unclosed '{' in summary");
            return false;
        }
        if (nl) {
            vane__tpl_part_t lp = {.text = strndup(lit, nl), .evid = -1, .feat = -1};
            if (!lp.text || !tpl_push(t, &lp))
                return false;
            nl = 0;
        }
        char name[64];
        size_t len = (size_t)(e - p - 1);
        if (len >= sizeof name)
            len = sizeof name - 1;
        memcpy(name, p + 1, len);
        name[len] = '\0';
        vane__tpl_part_t ph = {.evid = -1, .feat = -1};
        char *colon = strchr(name, ':');
        if (colon) {
            *colon = '\0';
            const char *f = colon + 1;
            ph.fmt = !strcmp(f, "money") ? 1 : !strcmp(f, "dur") ? 2 : !strcmp(f, "pct") ? 3 : 255;
            if (ph.fmt == 255) {
                ndiag(l, VANE_DIAG_ERROR, n, "bad-template",
                      "unknown format ':%s' in summary (money, dur, pct)", f);
                return false;
            }
        }
        for (size_t i = 0; i < r->nevid; i++)
            if (!strcmp(r->evid[i].name, name))
                ph.evid = (int16_t)i;
        if (ph.evid < 0) {
            static const char *sp[] = {"",     "from_category", "to_category",
                                       "kind", "severity",      "rule"};
            for (uint8_t i = 1; i < 6; i++)
                if (!strcmp(name, sp[i]))
                    ph.special = i;
        }
        if (ph.evid < 0 && !ph.special) {
            int f = vane__feat_lookup(name, strlen(name), NULL);
            if (f < 0) {
                ndiag(l, VANE_DIAG_ERROR, n, "bad-template",
                      "summary placeholder '{%s}' is neither a feature of this rule nor a known "
                      "feature",
                      name);
                return false;
            }
            ph.feat = (int16_t)f;
        }
        if (!tpl_push(t, &ph))
            return false;
        p = e + 1;
    }
    if (nl) {
        vane__tpl_part_t lp = {.text = strndup(lit, nl), .evid = -1, .feat = -1};
        if (!lp.text || !tpl_push(t, &lp))
            return false;
    }
    return true;
}

/* ================================================================================
 * Rules
 * ================================================================================ */

static bool on_parse(loader_t *l, const yaml_node_t *n, uint64_t *mask)
{
    const char *s = scalar(n);
    if (!s) {
        ndiag(l, VANE_DIAG_ERROR, n, "bad-value", "'on' items must be scalars");
        return false;
    }
    int cls = vane_window_class_parse(s, strlen(s));
    if (cls > 0) {
        *mask |= 1ULL << cls;
        return true;
    }
    static const struct {
        const char *name;
        int bit;
    } extra[] = {{"txn", VANE__ON_TXN},
                 {"eng", VANE__ON_ENG},
                 {"profile", VANE__ON_PROFILE},
                 {"any", VANE__ON_ANY},
                 {"absence", VANE__ON_ABSENCE}};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (!strcasecmp(s, extra[i].name)) {
            *mask |= 1ULL << extra[i].bit;
            return true;
        }
    ndiag(l, VANE_DIAG_ERROR, n, "unknown-class",
          "unknown trigger '%s' (txn, txn.<KIND>, eng, eng.<KIND>, outflow, login, login.failed, "
          "profile, any, absence)",
          s);
    return false;
}

static bool on_list(loader_t *l, yaml_node_t *v, uint64_t *mask)
{
    bool ok = true;
    if (is_seq(v)) {
        FOR_ITEMS(l, v, it)
        ok = on_parse(l, it, mask) && ok;
    } else {
        ok = on_parse(l, v, mask);
    }
    return ok;
}

static bool severity_of(loader_t *l, const yaml_node_t *v, uint8_t *out)
{
    const char *s = want_scalar(l, v, "severity");
    int sv = s ? vane_severity_parse(s, strlen(s)) : -1;
    if (sv <= 0) {
        if (s)
            ndiag(l, VANE_DIAG_ERROR, v, "bad-value",
                  "unknown severity '%s' (INFO, LOW, MEDIUM, HIGH, CRITICAL)", s);
        return false;
    }
    *out = (uint8_t)sv;
    return true;
}

#define GROW(arr, n)                                                                               \
    do {                                                                                           \
        void *g_ = realloc((arr), ((n) + 1) * sizeof *(arr));                                      \
        if (!g_)                                                                                   \
            return false;                                                                          \
        (arr) = g_;                                                                                \
    } while (0)

static bool rule_evidence(loader_t *l, vane__rule_t *r, yaml_node_t *v)
{
    if (!is_map(v)) {
        ndiag(l, VANE_DIAG_ERROR, v, "bad-value", "'features' must map names to expressions");
        return false;
    }
    bool ok = true;
    FOR_PAIRS(l, v, k, e)
    {
        const char *name = scalar(k);
        if (!name || strlen(name) >= VANE_FEATURE_NAME_MAX) {
            ndiag(l, VANE_DIAG_ERROR, k, "bad-value", "feature names are scalars under %d bytes",
                  VANE_FEATURE_NAME_MAX);
            ok = false;
            continue;
        }
        if (r->nevid >= VANE_ALERT_MAX_FEATURES) {
            ndiag(l, VANE_DIAG_ERROR, k, "bad-value", "at most %d features per rule",
                  VANE_ALERT_MAX_FEATURES);
            return false;
        }
        int32_t root = compile_expr(l, e, name, VANE__T_NUM);
        if (root < 0) {
            ok = false;
            continue;
        }
        GROW(r->evid, r->nevid);
        snprintf(r->evid[r->nevid].name, VANE_FEATURE_NAME_MAX, "%s", name);
        r->evid[r->nevid].root = root;
        r->nevid++;
    }
    return ok;
}

static bool rule_scope(loader_t *l, vane__rule_t *r, yaml_node_t *v)
{
    if (!is_map(v)) {
        ndiag(l, VANE_DIAG_ERROR, v, "bad-value", "'scope' must be a mapping");
        return false;
    }
    bool ok = true;
    FOR_PAIRS(l, v, k, e)
    {
        const char *ks = scalar(k);
        if (ks && !strcmp(ks, "segments")) {
            r->scope_segments = list_from_seq(l, "", e, true);
            ok = ok && r->scope_segments >= 0;
        } else if (ks && !strcmp(ks, "stages") && is_seq(e)) {
            FOR_ITEMS(l, e, it)
            {
                const char *s = scalar(it);
                int st = s ? vane_stage_parse(s, strlen(s)) : -1;
                if (st <= 0) {
                    ndiag(l, VANE_DIAG_ERROR, it, "bad-value",
                          "unknown stage '%s' (ESTABLISHING, STRENGTHENING, TRUST, DECLINE)",
                          s ? s : "?");
                    ok = false;
                } else {
                    r->scope_stages |= (uint8_t)(1u << st);
                }
            }
        } else {
            unknown_key(l, k, "scope");
        }
    }
    return ok;
}

static bool rule_exceptions(loader_t *l, vane__rule_t *r, yaml_node_t *v)
{
    if (!is_seq(v)) {
        ndiag(l, VANE_DIAG_ERROR, v, "bad-value", "'exceptions' must be a sequence");
        return false;
    }
    bool ok = true;
    FOR_ITEMS(l, v, it)
    {
        if (!is_map(it)) {
            ndiag(l, VANE_DIAG_ERROR, it, "bad-value", "an exception is a mapping");
            ok = false;
            continue;
        }
        vane__exception_t x = {.when = -1, .customers = -1, .segments = -1};
        FOR_PAIRS(l, it, k, e)
        {
            const char *ks = scalar(k);
            if (ks && !strcmp(ks, "name"))
                copy_to(l, e, ks, x.name, sizeof x.name);
            else if (ks && !strcmp(ks, "condition"))
                ok = (x.when = compile_expr(l, e, ks, VANE__T_BOOL)) >= 0 && ok;
            else if (ks && !strcmp(ks, "customers"))
                ok = (x.customers = list_from_seq(l, "", e, true)) >= 0 && ok;
            else if (ks && !strcmp(ks, "segments"))
                ok = (x.segments = list_from_seq(l, "", e, true)) >= 0 && ok;
            else
                unknown_key(l, k, "an exception");
        }
        if (x.when < 0 && x.customers < 0 && x.segments < 0) {
            ndiag(l, VANE_DIAG_ERROR, it, "missing-key",
                  "an exception needs 'condition', 'customers' or 'segments'");
            ok = false;
            continue;
        }
        GROW(r->exc, r->nexc);
        r->exc[r->nexc++] = x;
    }
    return ok;
}

static bool rule_escalate(loader_t *l, vane__rule_t *r, yaml_node_t *v)
{
    if (!is_seq(v)) {
        ndiag(l, VANE_DIAG_ERROR, v, "bad-value", "'escalate' must be a sequence");
        return false;
    }
    bool ok = true;
    FOR_ITEMS(l, v, it)
    {
        yaml_node_t *w = is_map(it) ? map_get(l, it, "when") : NULL;
        yaml_node_t *s = is_map(it) ? map_get(l, it, "severity") : NULL;
        if (!w || !s) {
            ndiag(l, VANE_DIAG_ERROR, it, "missing-key",
                  "an escalation needs 'when' and 'severity'");
            ok = false;
            continue;
        }
        vane__escalate_t e;
        e.when = compile_expr(l, w, "when", VANE__T_BOOL);
        if (e.when < 0 || !severity_of(l, s, &e.severity)) {
            ok = false;
            continue;
        }
        GROW(r->esc, r->nesc);
        r->esc[r->nesc++] = e;
    }
    return ok;
}

static bool rule_route(loader_t *l, vane__rule_t *r, yaml_node_t *v)
{
    if (scalar(v)) {
        GROW(r->routes, r->nroutes);
        r->routes[r->nroutes].when = -1;
        if (!copy_to(l, v, "route", r->routes[r->nroutes].tier, VANE_SHORT_MAX + 1))
            return false;
        r->nroutes++;
        return true;
    }
    if (!is_seq(v)) {
        ndiag(l, VANE_DIAG_ERROR, v, "bad-value",
              "'route' is a tier or a sequence of {when, tier}");
        return false;
    }
    bool ok = true;
    FOR_ITEMS(l, v, it)
    {
        yaml_node_t *w = is_map(it) ? map_get(l, it, "when") : NULL;
        yaml_node_t *t = is_map(it) ? map_get(l, it, "tier") : NULL;
        if (!t) {
            ndiag(l, VANE_DIAG_ERROR, it, "missing-key", "a route needs 'tier' (and maybe 'when')");
            ok = false;
            continue;
        }
        vane__route_t rt = {.when = -1};
        if (w && (rt.when = compile_expr(l, w, "when", VANE__T_BOOL)) < 0) {
            ok = false;
            continue;
        }
        if (!copy_to(l, t, "tier", rt.tier, sizeof rt.tier)) {
            ok = false;
            continue;
        }
        GROW(r->routes, r->nroutes);
        r->routes[r->nroutes++] = rt;
    }
    return ok;
}

static bool rule_follow_up(loader_t *l, vane__rule_t *r, yaml_node_t *v)
{
    if (!is_map(v)) {
        ndiag(l, VANE_DIAG_ERROR, v, "bad-value", "'follow_up' must be a mapping");
        return false;
    }
    bool ok = true;
    yaml_node_t *summary = NULL;
    r->fu_severity = 0;
    FOR_PAIRS(l, v, k, e)
    {
        const char *ks = scalar(k);
        if (ks && !strcmp(ks, "after"))
            ok = parse_dur(l, e, ks, &r->fu_after_ms) && ok;
        else if (ks && !strcmp(ks, "cancel_on"))
            ok = on_list(l, e, &r->fu_cancel) && ok;
        else if (ks && !strcmp(ks, "severity"))
            ok = severity_of(l, e, &r->fu_severity) && ok;
        else if (ks && !strcmp(ks, "summary"))
            summary = e;
        else
            unknown_key(l, k, "follow_up");
    }
    if (ok && (r->fu_after_ms <= 0 || !r->fu_severity)) {
        ndiag(l, VANE_DIAG_ERROR, v, "missing-key", "follow_up needs 'after' (> 0) and 'severity'");
        return false;
    }
    if (summary && !tpl_compile(l, summary, r, &r->fu_summary))
        ok = false;
    return ok;
}

static bool rule_add(loader_t *l, vane__rule_t *r, yaml_node_t *idnode)
{
    vane_ruleset_t *rs = l->rs;
    for (size_t i = 0; i < rs->nrules; i++) {
        if (strcmp(rs->rules[i].id, r->id) != 0)
            continue;
        if (i >= l->nrules_before) {
            ndiag(l, VANE_DIAG_ERROR, idnode, "duplicate-id",
                  "rule '%s' is already defined in this file (line %d)", r->id, rs->rules[i].line);
            return false;
        }
        ndiag(l, VANE_DIAG_INFO, idnode, "rule-replaced", "rule '%s' replaces the one in %s:%d",
              r->id, rs->rules[i].file, rs->rules[i].line);
        rule_free(&rs->rules[i]);
        rs->rules[i] = *r;
        return true;
    }
    if (rs->nrules == rs->caprules) {
        size_t cap = rs->caprules ? rs->caprules * 2 : 16;
        vane__rule_t *v = realloc(rs->rules, cap * sizeof *v);
        if (!v)
            return false;
        rs->rules = v;
        rs->caprules = cap;
    }
    rs->rules[rs->nrules++] = *r;
    return true;
}

static void do_rule(loader_t *l, yaml_node_t *map)
{
    vane__rule_t r;
    memset(&r, 0, sizeof r);
    r.cond = r.score = r.after = -1;
    r.scope_segments = -1;
    r.enabled = true;
    r.cooldown_ms = 86400000LL;
    snprintf(r.file, sizeof r.file, "%s", l->src->file);
    r.line = (int)map->start_mark.line + 1;
    yaml_node_t *idnode = map_get(l, map, "rule");
    if (!idnode || !copy_to(l, idnode, "rule", r.id, sizeof r.id) || !r.id[0]) {
        ndiag(l, VANE_DIAG_ERROR, map, "missing-key", "a rule needs a non-empty 'rule' id");
        return;
    }
    r.ref = vane__rule_ref(r.id);
    /* "- rule: X \n enabled: false" in a later file only switches an existing rule. */
    size_t nkeys = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    yaml_node_t *en = map_get(l, map, "enabled");
    if (en && nkeys == 2) {
        for (size_t i = 0; i < l->nrules_before; i++)
            if (!strcmp(l->rs->rules[i].id, r.id)) {
                parse_bool(l, en, "enabled", &l->rs->rules[i].enabled);
                return;
            }
    }
    bool ok = true;
    yaml_node_t *cond = NULL, *summary = NULL, *follow = NULL, *on = NULL;
    FOR_PAIRS(l, map, k, v)
    {
        const char *ks = scalar(k);
        if (!ks)
            continue;
        if (!strcmp(ks, "rule") || !strcmp(ks, "tags")) {
        } else if (!strcmp(ks, "desc")) {
            const char *s = want_scalar(l, v, ks);
            r.desc = s ? strdup(s) : NULL;
        } else if (!strcmp(ks, "kind")) {
            const char *s = want_scalar(l, v, ks);
            int kd = s ? vane_alert_kind_parse(s, strlen(s)) : -1;
            if (kd <= 0) {
                ndiag(l, VANE_DIAG_ERROR, v, "bad-value", "unknown alert kind '%s'", s ? s : "?");
                ok = false;
            } else {
                r.kind = (vane_alert_kind_t)kd;
            }
        } else if (!strcmp(ks, "severity")) {
            ok = severity_of(l, v, &r.severity) && ok;
        } else if (!strcmp(ks, "on")) {
            on = v;
            ok = on_list(l, v, &r.on) && ok;
        } else if (!strcmp(ks, "condition")) {
            cond = v;
        } else if (!strcmp(ks, "mode")) {
            const char *s = want_scalar(l, v, ks);
            if (s && !strcmp(s, "shadow"))
                r.shadow = true;
            else if (!s || strcmp(s, "active")) {
                ndiag(l, VANE_DIAG_ERROR, v, "bad-value", "mode is 'active' or 'shadow'");
                ok = false;
            }
        } else if (!strcmp(ks, "enabled")) {
            ok = parse_bool(l, v, ks, &r.enabled) && ok;
        } else if (!strcmp(ks, "cooldown")) {
            ok = parse_dur(l, v, ks, &r.cooldown_ms) && ok;
        } else if (!strcmp(ks, "score")) {
            ok = (r.score = compile_expr(l, v, ks, VANE__T_NUM)) >= 0 && ok;
        } else if (!strcmp(ks, "after")) {
            ok = (r.after = compile_expr(l, v, ks, VANE__T_NUM)) >= 0 && ok;
        } else if (!strcmp(ks, "summary")) {
            summary = v;
        } else if (!strcmp(ks, "topic")) {
            ok = copy_to(l, v, ks, r.topic, sizeof r.topic) && ok;
        } else if (!strcmp(ks, "scope")) {
            ok = rule_scope(l, &r, v) && ok;
        } else if (!strcmp(ks, "exceptions")) {
            ok = rule_exceptions(l, &r, v) && ok;
        } else if (!strcmp(ks, "features")) {
            ok = rule_evidence(l, &r, v) && ok;
        } else if (!strcmp(ks, "escalate")) {
            ok = rule_escalate(l, &r, v) && ok;
        } else if (!strcmp(ks, "route")) {
            ok = rule_route(l, &r, v) && ok;
        } else if (!strcmp(ks, "follow_up")) {
            follow = v;
        } else if (!strcmp(ks, "required_engine_version")) {
            double d;
            if (parse_num(l, v, ks, 0, 1e6, &d) && d > VANE_ENGINE_VERSION) {
                ndiag(l, VANE_DIAG_ERROR, v, "engine-version",
                      "rule '%s' needs engine version %g; this is %d", r.id, d,
                      VANE_ENGINE_VERSION);
                ok = false;
            }
        } else {
            unknown_key(l, k, "a rule");
        }
    }
    if (!r.kind || !r.severity || !r.on || !cond) {
        ndiag(l, VANE_DIAG_ERROR, idnode, "missing-key",
              "rule '%s' needs 'kind', 'severity', 'on' and 'condition'", r.id);
        ok = false;
    }
    if (!r.desc)
        ndiag(l, VANE_DIAG_WARNING, idnode, "missing-desc",
              "rule '%s' has no 'desc' (say what it detects and how to tune it)", r.id);
    if (cond && (r.cond = compile_expr(l, cond, "condition", VANE__T_BOOL)) < 0)
        ok = false;
    if (on && (r.on & (1ULL << VANE__ON_ABSENCE)) && r.after < 0) {
        ndiag(l, VANE_DIAG_ERROR, on, "missing-key",
              "rule '%s' triggers on 'absence' and needs 'after' (quiet time)", r.id);
        ok = false;
    }
    if (summary && !tpl_compile(l, summary, &r, &r.summary))
        ok = false;
    if (follow && !rule_follow_up(l, &r, follow))
        ok = false;
    if (!ok) {
        rule_free(&r);
        return;
    }
    if (r.cond >= 0)
        vane__expr_classes(l->rs, r.cond, &r.ev_classes, &r.ev_dur_ms);
    if (!rule_add(l, &r, idnode))
        rule_free(&r);
}

/* ================================================================================
 * Files
 * ================================================================================ */

static bool read_file(const char *path, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    while (b) {
        if (n + 1 >= cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0)
            break;
    }
    bool err = ferror(fp);
    fclose(fp);
    if (!b || err) {
        free(b);
        return false;
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return true;
}

static bool parse_src(src_t *s, vane_diags_t *diags)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return false;
    yaml_parser_set_input_string(&parser, (const unsigned char *)s->raw, s->rawlen);
    bool ok = yaml_parser_load(&parser, &s->doc);
    if (!ok) {
        vane__diag(diags, VANE_DIAG_ERROR, "yaml-syntax", s->file,
                   (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1, "%s%s%s",
                   parser.problem ? parser.problem : "YAML error", parser.context ? " " : "",
                   parser.context ? parser.context : "");
    }
    yaml_parser_delete(&parser);
    s->loaded = ok;
    return ok;
}

/* The item's type: its rule/macro/list/settings/required_engine_version key wherever it is,
 * else its first key. */
static const char *item_kind(loader_t *l, yaml_node_t *it)
{
    static const char *kinds[] = {"rule", "macro", "list", "settings", "required_engine_version"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (map_get(l, it, kinds[i]))
            return kinds[i];
    return scalar(ynode(l, it->data.mapping.pairs.start->key));
}

static vane_ruleset_t *load(src_t *srcs, size_t n, vane_diags_t *diags)
{
    vane_diags_t local = VANE_DIAGS_INIT;
    if (!diags)
        diags = &local;
    size_t errors0 = diags->errors;
    vane_ruleset_t *rs = calloc(1, sizeof *rs);
    pending_macro_t *pend = NULL;
    size_t npend = 0;
    if (!rs)
        goto done;
    settings_default(&rs->set);
    loader_t l = {.rs = rs, .diags = diags};

    /* Pass 1: version, settings, lists, macro names. */
    for (size_t f = 0; f < n; f++) {
        if (!srcs[f].loaded)
            continue;
        l.src = &srcs[f];
        yaml_node_t *root = yaml_document_get_root_node(&srcs[f].doc);
        if (!root)
            continue; /* empty file: nothing to load */
        if (!is_seq(root)) {
            ndiag(&l, VANE_DIAG_ERROR, root, "bad-structure",
                  "a rules file is a sequence of items (- rule: ..., - macro: ..., - list: ...)");
            continue;
        }
        FOR_ITEMS(&l, root, it)
        {
            if (!is_map(it) || it->data.mapping.pairs.start == it->data.mapping.pairs.top) {
                ndiag(&l, VANE_DIAG_ERROR, it, "bad-structure", "each item is a mapping");
                continue;
            }
            const char *first = item_kind(&l, it);
            yaml_node_t *fv = map_get(&l, it, first ? first : "");
            if (!first) {
                ndiag(&l, VANE_DIAG_ERROR, it, "bad-structure", "item keys are scalars");
            } else if (!strcmp(first, "required_engine_version")) {
                double d;
                if (parse_num(&l, fv, first, 0, 1e6, &d) && d > VANE_ENGINE_VERSION)
                    ndiag(&l, VANE_DIAG_ERROR, fv, "engine-version",
                          "this file needs engine version %g; this is %d", d, VANE_ENGINE_VERSION);
            } else if (!strcmp(first, "settings")) {
                do_settings(&l, fv);
            } else if (!strcmp(first, "list")) {
                do_list(&l, it);
            } else if (!strcmp(first, "macro")) {
                do_macro(&l, it, &pend, &npend);
            } else if (strcmp(first, "rule") != 0) {
                ndiag(&l, VANE_DIAG_ERROR, it, "bad-structure",
                      "unknown item '%s' (required_engine_version, settings, list, macro, rule)",
                      first);
            }
        }
    }
    /* Pass 2: macros, in definition order. */
    for (size_t i = 0; i < npend; i++) {
        l.src = pend[i].src;
        int32_t root = compile_expr(&l, pend[i].cond, "condition", VANE__T_NUM);
        vane__macro_t *m = &rs->macros[pend[i].index];
        if (root >= 0) {
            m->root = root;
            m->type = rs->nodes[root].type;
        } else {
            m->root = -2; /* broken: uses report "used before defined" no more */
        }
    }
    /* Pass 3: rules, file by file. */
    for (size_t f = 0; f < n; f++) {
        if (!srcs[f].loaded)
            continue;
        l.src = &srcs[f];
        l.nrules_before = rs->nrules;
        yaml_node_t *root = yaml_document_get_root_node(&srcs[f].doc);
        if (!is_seq(root))
            continue;
        FOR_ITEMS(&l, root, it)
        {
            if (!is_map(it) || it->data.mapping.pairs.start == it->data.mapping.pairs.top)
                continue;
            const char *first = item_kind(&l, it);
            if (first && !strcmp(first, "rule"))
                do_rule(&l, it);
        }
    }
    for (size_t i = 0; i < rs->nmacros; i++)
        if (!rs->macros[i].used && rs->macros[i].root >= 0)
            vane__diag(diags, VANE_DIAG_WARNING, "unused-macro", rs->macros[i].file,
                       rs->macros[i].line, rs->macros[i].col, "macro '%s' is never used",
                       rs->macros[i].name);
    for (size_t i = 0; i < rs->nlists; i++)
        if (!rs->lists[i].used && rs->lists[i].name[0])
            vane__diag(diags, VANE_DIAG_WARNING, "unused-list", rs->lists[i].file,
                       rs->lists[i].line, rs->lists[i].col, "list '%s' is never used",
                       rs->lists[i].name);

    /* Derive what to maintain: window classes read anywhere, plus the decline-risk inputs. */
    uint64_t tracked = 0;
    int64_t horizon = rs->set.risk_window_ms;
    for (size_t i = 0; i < rs->nrules; i++) {
        const vane__rule_t *r = &rs->rules[i];
        vane__expr_classes(rs, r->cond, &tracked, &horizon);
        vane__expr_classes(rs, r->score, &tracked, &horizon);
        vane__expr_classes(rs, r->after, &tracked, &horizon);
        for (size_t k = 0; k < r->nevid; k++)
            vane__expr_classes(rs, r->evid[k].root, &tracked, &horizon);
        for (size_t k = 0; k < r->nesc; k++)
            vane__expr_classes(rs, r->esc[k].when, &tracked, &horizon);
        for (size_t k = 0; k < r->nroutes; k++)
            vane__expr_classes(rs, r->routes[k].when, &tracked, &horizon);
        for (size_t k = 0; k < r->nexc; k++)
            vane__expr_classes(rs, r->exc[k].when, &tracked, &horizon);
    }
    tracked |= 1ULL << (VANE_WCLS_TXN_BASE + VANE_TXN_REDEMPTION);
    tracked |= 1ULL << (VANE_WCLS_ENG_BASE + VANE_ENG_SERVICE_CANCEL);
    tracked |= 1ULL << (VANE_WCLS_ENG_BASE + VANE_ENG_ACCOUNT_CLOSE);
    tracked |= 1ULL << (VANE_WCLS_ENG_BASE + VANE_ENG_CONTACT_REFUSED);
    tracked |= 1ULL << VANE_WCLS_OUTFLOW;
    rs->tracked = tracked;
    rs->set.horizon_ms = horizon;

done:
    free(pend);
    if (diags->errors > errors0 || !rs) {
        vane_ruleset_free(rs);
        rs = NULL;
    }
    vane_diags_free(&local);
    return rs;
}

static void srcs_free(src_t *srcs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (srcs[i].loaded)
            yaml_document_delete(&srcs[i].doc);
        free(srcs[i].raw);
        free(srcs[i].file);
    }
    free(srcs);
}

vane_ruleset_t *vane_ruleset_load(const char *const *paths, size_t npaths, vane_diags_t *diags)
{
    src_t *srcs = calloc(npaths ? npaths : 1, sizeof *srcs);
    if (!srcs)
        return NULL;
    bool ok = true;
    for (size_t i = 0; i < npaths; i++) {
        srcs[i].file = strdup(paths[i]);
        if (!read_file(paths[i], &srcs[i].raw, &srcs[i].rawlen)) {
            vane__diag(diags, VANE_DIAG_ERROR, "io", paths[i], 0, 0, "cannot read: %s",
                       strerror(errno ? errno : EIO));
            ok = false;
            continue;
        }
        ok = parse_src(&srcs[i], diags) && ok;
    }
    vane_ruleset_t *rs = ok ? load(srcs, npaths, diags) : NULL;
    srcs_free(srcs, npaths);
    return rs;
}

vane_ruleset_t *vane_ruleset_load_string(const char *name, const char *text, size_t len,
                                         vane_diags_t *diags)
{
    src_t *srcs = calloc(1, sizeof *srcs);
    if (!srcs)
        return NULL;
    srcs[0].file = strdup(name);
    srcs[0].raw = strndup(text, len);
    srcs[0].rawlen = len;
    vane_ruleset_t *rs = NULL;
    if (srcs[0].file && srcs[0].raw && parse_src(&srcs[0], diags))
        rs = load(srcs, 1, diags);
    srcs_free(srcs, 1);
    return rs;
}

/* ================================================================================
 * Introspection
 * ================================================================================ */

int vane_ruleset_dump(const vane_ruleset_t *rs, vane_buf_t *out)
{
    char a[32], b[48];
    vane_duration_format(rs->set.lateness_ms, a, sizeof a);
    vane_buf_printf(out, "settings lateness=%s", a);
    vane_duration_format(rs->set.horizon_ms, a, sizeof a);
    vane_buf_printf(out, " horizon=%s tracked=[", a);
    bool first = true;
    for (unsigned c = 1; c < VANE_WCLS__COUNT; c++)
        if (rs->tracked & (1ULL << c)) {
            vane_buf_printf(out, "%s%s", first ? "" : " ", vane_window_class_name(c, b, sizeof b));
            first = false;
        }
    vane_buf_puts(out, "]\n");
    for (size_t i = 0; i < rs->nrules; i++) {
        const vane__rule_t *r = &rs->rules[i];
        vane_duration_format(r->cooldown_ms, a, sizeof a);
        vane_buf_printf(out, "rule %s kind=%s severity=%s cooldown=%s%s%s\n  condition: ", r->id,
                        vane_alert_kind_name(r->kind), vane_severity_name(r->severity), a,
                        r->shadow ? " shadow" : "", r->enabled ? "" : " disabled");
        vane__expr_dump(rs, r->cond, out);
        vane_buf_putc(out, '\n');
        for (size_t k = 0; k < r->nevid; k++) {
            vane_buf_printf(out, "  feature %s: ", r->evid[k].name);
            vane__expr_dump(rs, r->evid[k].root, out);
            vane_buf_putc(out, '\n');
        }
    }
    return out->data ? VANE_OK : VANE_ENOMEM;
}

int vane_ruleset_eval(const vane_ruleset_t *rs, const char *rule_id, const vane_state_t *cs,
                      const vane_event_t *ev, int64_t anchor_ms, double *out)
{
    for (size_t i = 0; i < rs->nrules; i++) {
        if (strcmp(rs->rules[i].id, rule_id) != 0)
            continue;
        vane__ctx_t ctx = {.rs = rs, .cs = cs, .ev = ev, .anchor_ms = anchor_ms};
        *out = vane__expr_num(&ctx, rs->rules[i].cond);
        return VANE_OK;
    }
    return VANE_ENOTFOUND;
}
