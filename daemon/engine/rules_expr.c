/* rules_expr.c - the rule expression language: lexer, parser, type checker, evaluator.
 *
 * Grammar (rules/README.md has the user-facing version):
 *   expr    := or
 *   or      := and { ("or" | "||") and }
 *   and     := not { ("and" | "&&") not }
 *   not     := ("not" | "!") not | cmp
 *   cmp     := sum [ ("==" | "!=" | "<" | "<=" | ">" | ">=") sum
 *                  | ["not"] "in" ( "(" literal { "," literal } ")" | LISTNAME ) ]
 *   sum     := prod { ("+" | "-") prod }
 *   prod    := unary { ("*" | "/") unary }
 *   unary   := "-" unary | primary
 *   primary := NUMBER | DURATION | STRING | "true" | "false" | "(" expr ")"
 *            | FUNC "(" args ")" | FEATURE | MACRO
 * Parsing builds nodes directly into the ruleset's pool (recursive descent, depth-limited);
 * types are checked as nodes are built, so every error carries the file:line:col of the token
 * at fault. Evaluation is a recursive walk over the const pool: no allocation, no writes.
 */
#include "rules_int.h"

#include "decay.h"

#include "../util/duration.h"
#include "../util/err.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ================================================================================
 * Features
 * ================================================================================ */

static const struct {
    const char *name;
    vane__type_t type;
} feats[VANE__F__COUNT] = {
    [VANE__F_EV_AMOUNT] = {"ev.amount", VANE__T_NUM},
    [VANE__F_EV_SCORE] = {"ev.score", VANE__T_NUM},
    [VANE__F_EV_BALANCE] = {"ev.balance_after", VANE__T_NUM},
    [VANE__F_EV_KIND] = {"ev.kind", VANE__T_STR},
    [VANE__F_EV_CATEGORY] = {"ev.category", VANE__T_STR},
    [VANE__F_EV_CHANNEL] = {"ev.channel", VANE__T_STR},
    [VANE__F_EV_TYPE] = {"ev.type", VANE__T_STR},
    [VANE__F_EV_COUNTERPARTY] = {"ev.counterparty_bank", VANE__T_STR},
    [VANE__F_EV_SERVICE] = {"ev.service", VANE__T_STR},
    [VANE__F_BALANCE] = {"balance", VANE__T_NUM},
    [VANE__F_HOLDINGS] = {"holdings", VANE__T_NUM},
    [VANE__F_ASSETS] = {"assets", VANE__T_NUM},
    [VANE__F_CROSS_HOLDING] = {"cross_holding", VANE__T_NUM},
    [VANE__F_TENURE] = {"tenure", VANE__T_NUM},
    [VANE__F_TENURE_DAYS] = {"tenure_days", VANE__T_NUM},
    [VANE__F_RISK] = {"risk", VANE__T_NUM},
    [VANE__F_DIVERGENCE] = {"divergence", VANE__T_NUM},
    [VANE__F_EVIDENCE_SHORT] = {"evidence_short", VANE__T_NUM},
    [VANE__F_EVIDENCE_LONG] = {"evidence_long", VANE__T_NUM},
    [VANE__F_DOMINANT_SHARE] = {"dominant_share", VANE__T_NUM},
    [VANE__F_EMERGING_SHARE] = {"emerging_share", VANE__T_NUM},
    [VANE__F_EMERGING_PRIOR_SHARE] = {"emerging_prior_share", VANE__T_NUM},
    [VANE__F_EMERGING_EVIDENCE] = {"emerging_evidence", VANE__T_NUM},
    [VANE__F_LOGINS_PER_DAY] = {"baseline.logins_per_day", VANE__T_NUM},
    [VANE__F_LOGINS_PER_DAY_LONG] = {"baseline.logins_per_day_long", VANE__T_NUM},
    [VANE__F_TXNS_PER_WEEK] = {"baseline.txns_per_week", VANE__T_NUM},
    [VANE__F_GAP] = {"baseline.gap", VANE__T_NUM},
    [VANE__F_QUIET] = {"quiet", VANE__T_NUM},
    [VANE__F_LAST_SURVEY] = {"last_survey", VANE__T_NUM},
    [VANE__F_ENGAGEMENT_DROP] = {"engagement_drop", VANE__T_NUM},
    [VANE__F_EVENTS] = {"events", VANE__T_NUM},
    [VANE__F_SEGMENT] = {"segment", VANE__T_STR},
    [VANE__F_TIER] = {"tier", VANE__T_STR},
    [VANE__F_STAGE] = {"stage", VANE__T_STR},
    [VANE__F_DOMINANT_CATEGORY] = {"dominant_category", VANE__T_STR},
    [VANE__F_EMERGING_CATEGORY] = {"emerging_category", VANE__T_STR},
    [VANE__F_CUSTOMER_ID] = {"customer_id", VANE__T_STR},
};

int vane__feat_lookup(const char *name, size_t len, vane__type_t *type)
{
    for (int i = 0; i < VANE__F__COUNT; i++)
        if (strlen(feats[i].name) == len && strncasecmp(feats[i].name, name, len) == 0) {
            if (type)
                *type = feats[i].type;
            return i;
        }
    return -1;
}

const char *vane__feat_name(int id)
{
    return id >= 0 && id < VANE__F__COUNT ? feats[id].name : "?";
}

double vane__assets(const vane_state_t *cs)
{
    if (cs->f.has_balance)
        return (double)cs->f.balance_minor;
    double s = 0;
    for (int c = 1; c < VANE_CAT__COUNT; c++)
        s += (double)cs->f.holdings[c];
    return s;
}

int vane__cross_holding(const vane_state_t *cs)
{
    int n = 0;
    for (int c = 1; c < VANE_CAT__COUNT; c++)
        n += cs->f.holdings[c] > 0;
    return n;
}

double vane__engagement_drop(const vane_ruleset_t *rs, const vane_state_t *cs, int64_t at_ms)
{
    const vane__settings_t *s = &rs->set;
    double longw = vane_rate_avg(&cs->f.logins_week, at_ms, 7 * 86400000LL, s->alpha_week);
    if (!(longw >= 1.0))
        return 0; /* no regular habit to drop from */
    double recent = vane_rate_avg(&cs->f.logins_day, at_ms, 86400000LL, s->alpha_day) * 7;
    double d = 1 - recent / longw;
    return d < 0 ? 0 : d > 1 ? 1 : d;
}

static vane_str_t cstr(const char *s)
{
    return vane_str_c(s);
}

double vane__feat_num(const vane__ctx_t *ctx, int id)
{
    const vane_state_t *cs = ctx->cs;
    const vane_features_t *f = &cs->f;
    vane_decay_t bg;
    const vane_event_t *ev = ctx->ev;
    const vane__settings_t *s = &ctx->rs->set;
    switch ((vane__feat_t)id) {
    case VANE__F_EV_AMOUNT:
        return ev && ev->type == VANE_EVENT_TXN ? (double)ev->txn.amount_minor : 0;
    case VANE__F_EV_SCORE:
        return ev && ev->type == VANE_EVENT_ENGAGEMENT && ev->eng.has_score ? ev->eng.score : -1;
    case VANE__F_EV_BALANCE:
        return ev && ev->type == VANE_EVENT_TXN && ev->txn.has_balance_after
                   ? (double)ev->txn.balance_after_minor
                   : vane__assets(cs);
    case VANE__F_BALANCE:
    case VANE__F_ASSETS:
        return vane__assets(cs);
    case VANE__F_HOLDINGS: {
        double h = 0;
        for (int c = 1; c < VANE_CAT__COUNT; c++)
            h += (double)f->holdings[c];
        return h;
    }
    case VANE__F_CROSS_HOLDING:
        return vane__cross_holding(cs);
    case VANE__F_TENURE:
    case VANE__F_TENURE_DAYS: {
        int64_t since = f->since_ms ? f->since_ms : f->first_event_time_ms;
        double t = since && ctx->anchor_ms > since ? (double)(ctx->anchor_ms - since) : 0;
        return id == VANE__F_TENURE ? t : t / 86400000.0;
    }
    case VANE__F_RISK:
        return f->risk;
    case VANE__F_DIVERGENCE:
        vane_decay_background(&f->mix_short, &f->mix_long, &bg);
        return vane_decay_jsd(&f->mix_short, &bg);
    case VANE__F_EVIDENCE_SHORT:
        return vane_decay_total(&f->mix_short, ctx->anchor_ms, s->short_half_life_ms);
    case VANE__F_EVIDENCE_LONG:
        vane_decay_background(&f->mix_short, &f->mix_long, &bg);
        return vane_decay_total(&bg, ctx->anchor_ms, s->long_half_life_ms);
    case VANE__F_DOMINANT_SHARE:
        vane_decay_background(&f->mix_short, &f->mix_long, &bg);
        return vane_decay_share(&bg, vane_decay_dominant(&bg));
    case VANE__F_EMERGING_SHARE:
        vane_decay_background(&f->mix_short, &f->mix_long, &bg);
        return vane_decay_share(&f->mix_short, vane_decay_emerging(&f->mix_short, &bg));
    case VANE__F_EMERGING_EVIDENCE: {
        vane_decay_background(&f->mix_short, &f->mix_long, &bg);
        int c = vane_decay_emerging(&f->mix_short, &bg);
        double tot = vane_decay_total(&f->mix_short, ctx->anchor_ms, s->short_half_life_ms);
        return tot * vane_decay_share(&f->mix_short, c);
    }
    case VANE__F_EMERGING_PRIOR_SHARE:
        vane_decay_background(&f->mix_short, &f->mix_long, &bg);
        return vane_decay_share(&bg, vane_decay_emerging(&f->mix_short, &bg));
    case VANE__F_LOGINS_PER_DAY:
        return vane_rate_avg(&f->logins_day, ctx->anchor_ms, 86400000LL, s->alpha_day);
    case VANE__F_LOGINS_PER_DAY_LONG:
        return vane_rate_avg(&f->logins_week, ctx->anchor_ms, 7 * 86400000LL, s->alpha_week) / 7;
    case VANE__F_TXNS_PER_WEEK:
        return vane_rate_avg(&f->txns_week, ctx->anchor_ms, 7 * 86400000LL, s->alpha_week);
    case VANE__F_GAP:
        return f->gap.avg_ms;
    case VANE__F_QUIET:
        return f->last_activity_ms && ctx->anchor_ms > f->last_activity_ms
                   ? (double)(ctx->anchor_ms - f->last_activity_ms)
                   : 0;
    case VANE__F_LAST_SURVEY:
        return f->last_survey;
    case VANE__F_ENGAGEMENT_DROP:
        return vane__engagement_drop(ctx->rs, cs, ctx->anchor_ms);
    case VANE__F_EVENTS:
        return (double)f->events_applied;
    default:
        return 0;
    }
}

vane_str_t vane__feat_str(const vane__ctx_t *ctx, int id)
{
    const vane_features_t *f = &ctx->cs->f;
    vane_decay_t bg;
    const vane_event_t *ev = ctx->ev;
    switch ((vane__feat_t)id) {
    case VANE__F_EV_KIND:
        if (!ev)
            return cstr("TIMER");
        if (ev->type == VANE_EVENT_TXN)
            return cstr(vane_txn_kind_name(ev->txn.kind));
        if (ev->type == VANE_EVENT_ENGAGEMENT)
            return cstr(vane_eng_kind_name(ev->eng.kind));
        return cstr(ev->type == VANE_EVENT_LOGIN ? "LOGIN" : "PROFILE");
    case VANE__F_EV_CATEGORY:
        if (ev && ev->type == VANE_EVENT_TXN)
            return cstr(vane_category_name(ev->txn.category));
        if (ev && ev->type == VANE_EVENT_ENGAGEMENT)
            return cstr(vane_category_name(ev->eng.category));
        return cstr("UNSPECIFIED");
    case VANE__F_EV_CHANNEL:
        return cstr(ev ? vane_channel_name(ev->channel) : "UNSPECIFIED");
    case VANE__F_EV_TYPE:
        if (!ev)
            return cstr("timer");
        return cstr(ev->type == VANE_EVENT_TXN          ? "txn"
                    : ev->type == VANE_EVENT_LOGIN      ? "login"
                    : ev->type == VANE_EVENT_ENGAGEMENT ? "eng"
                                                        : "profile");
    case VANE__F_EV_COUNTERPARTY:
        return ev && ev->type == VANE_EVENT_TXN ? ev->txn.counterparty_bank : cstr("");
    case VANE__F_EV_SERVICE:
        return ev && ev->type == VANE_EVENT_ENGAGEMENT ? ev->eng.service : cstr("");
    case VANE__F_SEGMENT:
        return cstr(f->segment);
    case VANE__F_TIER:
        return cstr(f->tier);
    case VANE__F_STAGE:
        return cstr(vane_stage_name((vane_stage_t)f->stage));
    case VANE__F_DOMINANT_CATEGORY:
        vane_decay_background(&f->mix_short, &f->mix_long, &bg);
        return cstr(vane_category_name(vane_decay_dominant(&bg)));
    case VANE__F_EMERGING_CATEGORY:
        vane_decay_background(&f->mix_short, &f->mix_long, &bg);
        return cstr(vane_category_name(vane_decay_emerging(&f->mix_short, &bg)));
    case VANE__F_CUSTOMER_ID:
        return cstr(ctx->cs->customer_id);
    default:
        return cstr("");
    }
}

/* ================================================================================
 * Lexer
 * ================================================================================ */

typedef enum tok {
    TK_END,
    TK_NUM,
    TK_DUR,
    TK_STR,
    TK_IDENT,
    TK_LP,
    TK_RP,
    TK_COMMA,
    TK_PLUS,
    TK_MINUS,
    TK_STAR,
    TK_SLASH,
    TK_EQ,
    TK_NE,
    TK_LT,
    TK_LE,
    TK_GT,
    TK_GE,
    TK_AND,
    TK_OR,
    TK_NOT,
    TK_IN,
    TK_TRUE,
    TK_FALSE,
    TK_ERR,
} tok_t;

typedef struct parser {
    vane_ruleset_t *rs;
    vane_diags_t *diags;
    const vane__srcloc_t *loc;
    const char *src;
    size_t len, pos;
    /* current token */
    tok_t tk;
    size_t tstart, tlen;
    double tnum;
    int depth;
    bool failed;
} parser_t;

/* Map an offset in the value to file line:col by walking the raw text (see rules_int.h). */
static void pos_of(const parser_t *p, size_t off, int *line, int *col)
{
    const vane__srcloc_t *l = p->loc;
    if (!l || !l->raw) {
        *line = l ? l->line : 0;
        *col = (l ? l->col : 1) + (int)off;
        return;
    }
    size_t r = l->start;
    int ln = l->line, cl = l->col;
    for (size_t i = 0; i < off && r < l->rawlen; i++) {
        if (l->raw[r] == '\n' || p->src[i] == '\n') {
            /* Skip to the next raw line and its indentation. */
            while (r < l->rawlen && l->raw[r] != '\n')
                r++;
            r++;
            ln++;
            cl = 1;
            int skipped = 0;
            while (r < l->rawlen && (l->raw[r] == ' ' || l->raw[r] == '\t') &&
                   (!l->block || skipped < l->indent - 1)) {
                r++;
                cl++;
                skipped++;
            }
            continue;
        }
        r++;
        cl++;
    }
    *line = ln;
    *col = cl;
}

static void perr(parser_t *p, size_t off, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void perr(parser_t *p, size_t off, const char *code, const char *fmt, ...)
{
    if (p->failed)
        return; /* one error per expression: the rest would be noise */
    p->failed = true;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line, col;
    pos_of(p, off, &line, &col);
    vane__diag(p->diags, VANE_DIAG_ERROR, code, p->loc ? p->loc->file : "", line, col, "%s", msg);
}

static bool is_ident_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool is_ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.';
}

static void next(parser_t *p)
{
    const char *s = p->src;
    while (p->pos < p->len && isspace((unsigned char)s[p->pos]))
        p->pos++;
    p->tstart = p->pos;
    if (p->pos >= p->len) {
        p->tk = TK_END;
        p->tlen = 0;
        return;
    }
    char c = s[p->pos];
    char d = p->pos + 1 < p->len ? s[p->pos + 1] : '\0';
    if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)d))) {
        size_t e = p->pos;
        while (e < p->len && (isdigit((unsigned char)s[e]) || s[e] == '.'))
            e++;
        if (e < p->len && (s[e] == 'e' || s[e] == 'E') && e + 1 < p->len &&
            (isdigit((unsigned char)s[e + 1]) ||
             ((s[e + 1] == '-' || s[e + 1] == '+') && e + 2 < p->len &&
              isdigit((unsigned char)s[e + 2])))) {
            e += 2;
            while (e < p->len && isdigit((unsigned char)s[e]))
                e++;
        }
        size_t numend = e;
        /* A unit right after the number makes a duration: 24h, 7d, 500ms, 1h30m. */
        while (e < p->len && (isalnum((unsigned char)s[e]) || s[e] == '.'))
            e++;
        char buf[64];
        size_t n = e - p->pos;
        if (n >= sizeof buf) {
            p->tk = TK_ERR;
            p->tlen = n;
            perr(p, p->tstart, "expr-syntax", "number too long");
            return;
        }
        memcpy(buf, s + p->pos, n);
        buf[n] = '\0';
        p->tlen = n;
        if (e == numend) {
            char *end;
            p->tnum = strtod(buf, &end);
            if (*end != '\0') {
                p->tk = TK_ERR;
                perr(p, p->tstart, "expr-syntax", "malformed number '%s'", buf);
                return;
            }
            p->tk = TK_NUM;
        } else {
            int64_t ms;
            if (vane_duration_parse(buf, &ms) != 0) {
                p->tk = TK_ERR;
                perr(p, p->tstart, "bad-duration",
                     "malformed duration '%s' (units: ms s m h d w, e.g. 24h, 7d, 500ms)", buf);
                return;
            }
            p->tnum = (double)ms;
            p->tk = TK_DUR;
        }
        p->pos = e;
        return;
    }
    if (c == '"' || c == '\'') {
        size_t e = p->pos + 1;
        while (e < p->len && s[e] != c)
            e++;
        if (e >= p->len) {
            p->tk = TK_ERR;
            p->tlen = p->len - p->pos;
            perr(p, p->tstart, "expr-syntax", "unterminated string");
            return;
        }
        p->tk = TK_STR;
        p->tlen = e + 1 - p->pos;
        p->pos = e + 1;
        return;
    }
    if (is_ident_start(c)) {
        size_t e = p->pos;
        while (e < p->len && is_ident_char(s[e]))
            e++;
        p->tlen = e - p->pos;
        p->pos = e;
        const char *w = s + p->tstart;
#define KW(word, t)                                                                                \
    if (p->tlen == sizeof(word) - 1 && strncasecmp(w, word, p->tlen) == 0) {                       \
        p->tk = t;                                                                                 \
        return;                                                                                    \
    }
        KW("and", TK_AND);
        KW("or", TK_OR);
        KW("not", TK_NOT);
        KW("in", TK_IN);
        KW("true", TK_TRUE);
        KW("false", TK_FALSE);
#undef KW
        p->tk = TK_IDENT;
        return;
    }
    p->tlen = 1;
    p->pos++;
    switch (c) {
    case '(':
        p->tk = TK_LP;
        return;
    case ')':
        p->tk = TK_RP;
        return;
    case ',':
        p->tk = TK_COMMA;
        return;
    case '+':
        p->tk = TK_PLUS;
        return;
    case '-':
        p->tk = TK_MINUS;
        return;
    case '*':
        p->tk = TK_STAR;
        return;
    case '/':
        p->tk = TK_SLASH;
        return;
    case '<':
    case '>':
    case '=':
    case '!':
    case '&':
    case '|':
        if (d == '=' && c != '&' && c != '|') {
            p->pos++;
            p->tlen = 2;
            p->tk = c == '<' ? TK_LE : c == '>' ? TK_GE : c == '=' ? TK_EQ : TK_NE;
            return;
        }
        if ((c == '&' || c == '|') && d == c) {
            p->pos++;
            p->tlen = 2;
            p->tk = c == '&' ? TK_AND : TK_OR;
            return;
        }
        if (c == '<' || c == '>') {
            p->tk = c == '<' ? TK_LT : TK_GT;
            return;
        }
        if (c == '!') {
            p->tk = TK_NOT;
            return;
        }
        break;
    default:
        break;
    }
    p->tk = TK_ERR;
    perr(p, p->tstart, "expr-syntax", "unexpected character '%c'", c);
}

/* ================================================================================
 * Node building
 * ================================================================================ */

static int32_t node_new(parser_t *p, vane__op_t op, vane__type_t type, int32_t a, int32_t b)
{
    vane_ruleset_t *rs = p->rs;
    if (rs->nnodes == rs->capnodes) {
        size_t cap = rs->capnodes ? rs->capnodes * 2 : 64;
        vane__node_t *n = realloc(rs->nodes, cap * sizeof *n);
        if (!n) {
            perr(p, p->tstart, "nomem", "out of memory");
            return -1;
        }
        rs->nodes = n;
        rs->capnodes = cap;
    }
    vane__node_t *n = &rs->nodes[rs->nnodes];
    memset(n, 0, sizeof *n);
    n->op = (uint8_t)op;
    n->type = (uint8_t)type;
    n->a = a;
    n->b = b;
    return (int32_t)rs->nnodes++;
}

static vane__type_t ntype(const parser_t *p, int32_t i)
{
    return (vane__type_t)p->rs->nodes[i].type;
}

static const char *type_name(vane__type_t t)
{
    return t == VANE__T_NUM ? "number" : t == VANE__T_BOOL ? "boolean" : "string";
}

static int32_t parse_or(parser_t *p);

static bool expect(parser_t *p, tok_t t, const char *what)
{
    if (p->tk != t) {
        if (p->tk == TK_END)
            perr(p, p->tstart, "expr-syntax", "expected %s, found end of expression", what);
        else
            perr(p, p->tstart, "expr-syntax", "expected %s, found '%.*s'", what, (int)p->tlen,
                 p->src + p->tstart);
        return false;
    }
    next(p);
    return true;
}

static const struct {
    const char *name;
    vane__op_t op;
    int nargs; /* 2 = (class, duration), 1/2 = numeric args, 0 = none */
    bool window;
} funcs[] = {
    {"count", VANE__OP_COUNT, 2, true},       {"sum", VANE__OP_SUM, 2, true},
    {"distinct", VANE__OP_DISTINCT, 2, true}, {"rate", VANE__OP_RATE, 2, true},
    {"avg", VANE__OP_AVG, 2, true},           {"share", VANE__OP_SHARE, 2, true},
    {"min", VANE__OP_MIN, 2, false},          {"max", VANE__OP_MAX, 2, false},
    {"abs", VANE__OP_ABS, 1, false},          {"divergence", VANE__OP_FEAT, 0, false},
};

static int32_t parse_call(parser_t *p, size_t name_off, size_t name_len)
{
    const char *name = p->src + name_off;
    int fi = -1;
    for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
        if (strlen(funcs[i].name) == name_len && strncasecmp(funcs[i].name, name, name_len) == 0)
            fi = (int)i;
    if (fi < 0) {
        perr(p, name_off, "unknown-function",
             "unknown function '%.*s' (functions: count sum distinct rate avg share min max abs "
             "divergence)",
             (int)name_len, name);
        return -1;
    }
    next(p); /* '(' */
    if (funcs[fi].nargs == 0) {
        if (!expect(p, TK_RP, "')' (divergence takes no arguments)"))
            return -1;
        int32_t n = node_new(p, VANE__OP_FEAT, VANE__T_NUM, -1, -1);
        if (n >= 0)
            p->rs->nodes[n].aux = VANE__F_DIVERGENCE;
        return n;
    }
    if (funcs[fi].window) {
        if (p->tk != TK_IDENT) {
            perr(p, p->tstart, "expr-syntax",
                 "%s() needs an event class first (txn.REDEMPTION, eng.SERVICE_CANCEL, outflow, "
                 "login, login.failed)",
                 funcs[fi].name);
            return -1;
        }
        int cls = vane_window_class_parse(p->src + p->tstart, p->tlen);
        if (cls < 0) {
            perr(p, p->tstart, "unknown-class",
                 "unknown event class '%.*s' (txn.<KIND>, eng.<KIND>, outflow, login, "
                 "login.failed)",
                 (int)p->tlen, p->src + p->tstart);
            return -1;
        }
        next(p);
        if (!expect(p, TK_COMMA, "',' and a duration"))
            return -1;
        if (p->tk != TK_DUR && p->tk != TK_NUM) {
            perr(p, p->tstart, "expr-syntax", "%s() needs a duration literal (24h, 7d, 500ms)",
                 funcs[fi].name);
            return -1;
        }
        double dur = p->tnum;
        if (!(dur > 0) || dur > 366.0 * 86400000.0) {
            perr(p, p->tstart, "bad-duration", "window duration must be in (0, 366d]");
            return -1;
        }
        next(p);
        if (!expect(p, TK_RP, "')'"))
            return -1;
        int32_t n = node_new(p, funcs[fi].op, VANE__T_NUM, -1, -1);
        if (n >= 0) {
            p->rs->nodes[n].aux = (uint16_t)cls;
            p->rs->nodes[n].num = dur;
        }
        return n;
    }
    int32_t args[2] = {-1, -1};
    for (int i = 0; i < funcs[fi].nargs; i++) {
        if (i > 0 && !expect(p, TK_COMMA, "','"))
            return -1;
        size_t at = p->tstart;
        args[i] = parse_or(p);
        if (args[i] < 0)
            return -1;
        if (ntype(p, args[i]) == VANE__T_STR) {
            perr(p, at, "type-error", "%s() needs numbers, got a string", funcs[fi].name);
            return -1;
        }
    }
    if (p->tk == TK_COMMA) {
        perr(p, p->tstart, "bad-arity", "%s() takes %d argument(s)", funcs[fi].name,
             funcs[fi].nargs);
        return -1;
    }
    if (!expect(p, TK_RP, "')'"))
        return -1;
    return node_new(p, funcs[fi].op, VANE__T_NUM, args[0], args[1]);
}

static int32_t parse_primary(parser_t *p)
{
    if (++p->depth > 64) {
        perr(p, p->tstart, "expr-too-deep", "expression nested too deeply");
        return -1;
    }
    int32_t n = -1;
    switch (p->tk) {
    case TK_NUM:
    case TK_DUR:
        n = node_new(p, VANE__OP_NUM, VANE__T_NUM, -1, -1);
        if (n >= 0)
            p->rs->nodes[n].num = p->tnum;
        next(p);
        break;
    case TK_TRUE:
    case TK_FALSE:
        n = node_new(p, VANE__OP_NUM, VANE__T_BOOL, -1, -1);
        if (n >= 0)
            p->rs->nodes[n].num = p->tk == TK_TRUE;
        next(p);
        break;
    case TK_STR: {
        const char *s = vane__rs_strdup(p->rs, p->src + p->tstart + 1, p->tlen - 2);
        n = s ? node_new(p, VANE__OP_STR, VANE__T_STR, -1, -1) : -1;
        if (n >= 0) {
            p->rs->nodes[n].str = s;
            p->rs->nodes[n].len = (uint32_t)(p->tlen - 2);
        }
        next(p);
        break;
    }
    case TK_LP:
        next(p);
        n = parse_or(p);
        if (n >= 0 && !expect(p, TK_RP, "')'"))
            n = -1;
        break;
    case TK_IDENT: {
        size_t off = p->tstart, len = p->tlen;
        next(p);
        if (p->tk == TK_LP) {
            n = parse_call(p, off, len);
            break;
        }
        const char *w = p->src + off;
        for (size_t i = 0; i < p->rs->nmacros; i++) {
            vane__macro_t *m = &p->rs->macros[i];
            if (strlen(m->name) == len && strncmp(m->name, w, len) == 0) {
                if (m->root < 0) {
                    perr(p, off, "unknown-macro", "macro '%s' is used before it is defined",
                         m->name);
                    return -1;
                }
                m->used = true;
                n = node_new(p, VANE__OP_MACRO, (vane__type_t)m->type, m->root, -1);
                if (n >= 0)
                    p->rs->nodes[n].aux = (uint16_t)i;
                p->depth--;
                return n;
            }
        }
        vane__type_t t;
        int f = vane__feat_lookup(w, len, &t);
        if (f < 0) {
            if (vane_window_class_parse(w, len) >= 0)
                perr(p, off, "expr-syntax",
                     "'%.*s' is an event class: use it inside count(), sum(), ...", (int)len, w);
            else
                perr(p, off, "unknown-feature", "unknown feature or macro '%.*s'", (int)len, w);
            return -1;
        }
        n = node_new(p, VANE__OP_FEAT, t, -1, -1);
        if (n >= 0)
            p->rs->nodes[n].aux = (uint16_t)f;
        break;
    }
    case TK_END:
        perr(p, p->tstart, "expr-syntax", "unexpected end of expression");
        break;
    case TK_ERR:
        break;
    default:
        perr(p, p->tstart, "expr-syntax", "unexpected '%.*s'", (int)p->tlen, p->src + p->tstart);
        break;
    }
    p->depth--;
    return n;
}

static int32_t parse_unary(parser_t *p)
{
    if (p->tk == TK_MINUS) {
        size_t at = p->tstart;
        next(p);
        int32_t a = parse_unary(p);
        if (a < 0)
            return -1;
        if (ntype(p, a) == VANE__T_STR) {
            perr(p, at, "type-error", "cannot negate a string");
            return -1;
        }
        return node_new(p, VANE__OP_NEG, VANE__T_NUM, a, -1);
    }
    return parse_primary(p);
}

static int32_t parse_arith(parser_t *p, bool prod)
{
    int32_t a = prod ? parse_unary(p) : parse_arith(p, true);
    while (a >= 0 && (prod ? (p->tk == TK_STAR || p->tk == TK_SLASH)
                           : (p->tk == TK_PLUS || p->tk == TK_MINUS))) {
        tok_t t = p->tk;
        size_t at = p->tstart;
        next(p);
        int32_t b = prod ? parse_unary(p) : parse_arith(p, true);
        if (b < 0)
            return -1;
        if (ntype(p, a) == VANE__T_STR || ntype(p, b) == VANE__T_STR) {
            perr(p, at, "type-error", "arithmetic on a string");
            return -1;
        }
        vane__op_t op = t == TK_STAR    ? VANE__OP_MUL
                        : t == TK_SLASH ? VANE__OP_DIV
                        : t == TK_PLUS  ? VANE__OP_ADD
                                        : VANE__OP_SUB;
        a = node_new(p, op, VANE__T_NUM, a, b);
    }
    return a;
}

static int32_t list_add(parser_t *p, const char *name, size_t off)
{
    vane_ruleset_t *rs = p->rs;
    if (rs->nlists == rs->caplists) {
        size_t cap = rs->caplists ? rs->caplists * 2 : 8;
        vane__list_t *l = realloc(rs->lists, cap * sizeof *l);
        if (!l) {
            perr(p, off, "nomem", "out of memory");
            return -1;
        }
        rs->lists = l;
        rs->caplists = cap;
    }
    vane__list_t *l = &rs->lists[rs->nlists];
    memset(l, 0, sizeof *l);
    l->name = strdup(name);
    l->used = true;
    if (!l->name) {
        perr(p, off, "nomem", "out of memory");
        return -1;
    }
    return (int32_t)rs->nlists++;
}

static bool list_push(vane__list_t *l, const char *s, size_t n)
{
    char **items = realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items)
        return false;
    l->items = items;
    double *nums = realloc(l->nums, (l->n + 1) * sizeof *nums);
    if (!nums)
        return false;
    l->nums = nums;
    char *c = strndup(s, n);
    if (!c)
        return false;
    char *end;
    double v = strtod(c, &end);
    l->items[l->n] = c;
    l->nums[l->n] = (n > 0 && *end == '\0') ? v : NAN;
    l->n++;
    return true;
}

static int32_t parse_in(parser_t *p, int32_t a, size_t at)
{
    int32_t li = -1;
    if (p->tk == TK_LP) {
        next(p);
        li = list_add(p, "", at);
        if (li < 0)
            return -1;
        for (;;) {
            if (p->tk != TK_STR && p->tk != TK_NUM && p->tk != TK_IDENT) {
                perr(p, p->tstart, "expr-syntax", "expected a list item");
                return -1;
            }
            const char *s = p->src + p->tstart;
            size_t n = p->tlen;
            if (p->tk == TK_STR) {
                s++;
                n -= 2;
            }
            if (!list_push(&p->rs->lists[li], s, n)) {
                perr(p, p->tstart, "nomem", "out of memory");
                return -1;
            }
            next(p);
            if (p->tk == TK_COMMA) {
                next(p);
                continue;
            }
            if (!expect(p, TK_RP, "',' or ')'"))
                return -1;
            break;
        }
    } else if (p->tk == TK_IDENT) {
        for (size_t i = 0; i < p->rs->nlists; i++)
            if (p->rs->lists[i].name[0] && strlen(p->rs->lists[i].name) == p->tlen &&
                strncmp(p->rs->lists[i].name, p->src + p->tstart, p->tlen) == 0)
                li = (int32_t)i;
        if (li < 0) {
            perr(p, p->tstart, "unknown-list", "unknown list '%.*s'", (int)p->tlen,
                 p->src + p->tstart);
            return -1;
        }
        p->rs->lists[li].used = true;
        next(p);
    } else {
        perr(p, p->tstart, "expr-syntax", "expected '(' or a list name after 'in'");
        return -1;
    }
    int32_t n = node_new(p, VANE__OP_IN, VANE__T_BOOL, a, -1);
    if (n >= 0)
        p->rs->nodes[n].aux = (uint16_t)li;
    return n;
}

static int32_t parse_cmp(parser_t *p)
{
    int32_t a = parse_arith(p, false);
    if (a < 0)
        return -1;
    size_t at = p->tstart;
    if (p->tk == TK_IN || (p->tk == TK_NOT && p->pos < p->len)) {
        bool neg = false;
        if (p->tk == TK_NOT) {
            /* only "not in" is valid here */
            size_t save_pos = p->pos;
            tok_t save = p->tk;
            size_t ts = p->tstart, tl = p->tlen;
            next(p);
            if (p->tk != TK_IN) {
                p->pos = save_pos;
                p->tk = save;
                p->tstart = ts;
                p->tlen = tl;
                return a;
            }
            neg = true;
        }
        next(p);
        int32_t n = parse_in(p, a, at);
        if (n >= 0 && neg)
            n = node_new(p, VANE__OP_NOT, VANE__T_BOOL, n, -1);
        return n;
    }
    if (p->tk < TK_EQ || p->tk > TK_GE)
        return a;
    tok_t t = p->tk;
    next(p);
    int32_t b = parse_arith(p, false);
    if (b < 0)
        return -1;
    bool sa = ntype(p, a) == VANE__T_STR, sb = ntype(p, b) == VANE__T_STR;
    if (sa != sb) {
        perr(p, at, "type-error", "cannot compare a %s with a %s", type_name(ntype(p, a)),
             type_name(ntype(p, b)));
        return -1;
    }
    if (sa) {
        if (t != TK_EQ && t != TK_NE) {
            perr(p, at, "type-error", "strings compare only with == and !=");
            return -1;
        }
        return node_new(p, t == TK_EQ ? VANE__OP_SEQ : VANE__OP_SNE, VANE__T_BOOL, a, b);
    }
    static const vane__op_t ops[] = {VANE__OP_EQ, VANE__OP_NE, VANE__OP_LT,
                                     VANE__OP_LE, VANE__OP_GT, VANE__OP_GE};
    return node_new(p, ops[t - TK_EQ], VANE__T_BOOL, a, b);
}

static bool want_bool(parser_t *p, int32_t n, size_t at, const char *what)
{
    if (ntype(p, n) != VANE__T_BOOL) {
        perr(p, at, "type-error", "'%s' needs a boolean, got a %s", what, type_name(ntype(p, n)));
        return false;
    }
    return true;
}

static int32_t parse_not(parser_t *p)
{
    if (p->tk == TK_NOT) {
        size_t at = p->tstart;
        next(p);
        int32_t a = parse_not(p);
        if (a < 0 || !want_bool(p, a, at, "not"))
            return -1;
        return node_new(p, VANE__OP_NOT, VANE__T_BOOL, a, -1);
    }
    return parse_cmp(p);
}

static int32_t parse_and(parser_t *p)
{
    size_t at0 = p->tstart;
    int32_t a = parse_not(p);
    while (a >= 0 && p->tk == TK_AND) {
        size_t at = p->tstart;
        if (!want_bool(p, a, at0, "and"))
            return -1;
        next(p);
        size_t atb = p->tstart;
        int32_t b = parse_not(p);
        if (b < 0 || !want_bool(p, b, atb, "and"))
            return -1;
        (void)at;
        a = node_new(p, VANE__OP_AND, VANE__T_BOOL, a, b);
    }
    return a;
}

static int32_t parse_or(parser_t *p)
{
    if (++p->depth > 64) {
        perr(p, p->tstart, "expr-too-deep", "expression nested too deeply");
        return -1;
    }
    size_t at0 = p->tstart;
    int32_t a = parse_and(p);
    while (a >= 0 && p->tk == TK_OR) {
        if (!want_bool(p, a, at0, "or"))
            return -1;
        next(p);
        size_t atb = p->tstart;
        int32_t b = parse_and(p);
        if (b < 0 || !want_bool(p, b, atb, "or"))
            return -1;
        a = node_new(p, VANE__OP_OR, VANE__T_BOOL, a, b);
    }
    p->depth--;
    return a;
}

int32_t vane__expr_compile(vane_ruleset_t *rs, const char *src, const vane__srcloc_t *loc,
                           vane__type_t want, vane_diags_t *diags)
{
    parser_t p = {.rs = rs, .diags = diags, .loc = loc, .src = src, .len = strlen(src)};
    next(&p);
    if (p.tk == TK_END) {
        perr(&p, 0, "expr-syntax", "empty expression");
        return -1;
    }
    int32_t root = p.failed ? -1 : parse_or(&p);
    if (root >= 0 && p.tk != TK_END) {
        perr(&p, p.tstart, "expr-syntax", "unexpected '%.*s' after the expression", (int)p.tlen,
             src + p.tstart);
        root = -1;
    }
    if (root < 0 || p.failed)
        return -1;
    vane__type_t t = ntype(&p, root);
    if (want == VANE__T_BOOL && t != VANE__T_BOOL) {
        perr(&p, 0, "type-error", "a condition must be boolean, this is a %s", type_name(t));
        return -1;
    }
    if (want == VANE__T_NUM && t == VANE__T_STR) {
        perr(&p, 0, "type-error", "a number is needed here, this is a string");
        return -1;
    }
    return root;
}

/* ================================================================================
 * Evaluation
 * ================================================================================ */

static vane_str_t eval_str(const vane__ctx_t *ctx, int32_t i)
{
    const vane__node_t *n = &ctx->rs->nodes[i];
    if (n->op == VANE__OP_STR)
        return (vane_str_t){n->str, n->len};
    if (n->op == VANE__OP_FEAT)
        return vane__feat_str(ctx, n->aux);
    if (n->op == VANE__OP_MACRO)
        return eval_str(ctx, n->a);
    return vane_str_c("");
}

static bool str_ieq(vane_str_t a, const char *b, size_t blen)
{
    return a.len == blen && (blen == 0 || strncasecmp(a.p, b, blen) == 0);
}

double vane__expr_num(const vane__ctx_t *ctx, int32_t i)
{
    const vane__node_t *n = &ctx->rs->nodes[i];
    const vane_window_t *w = &ctx->cs->f.win;
    switch ((vane__op_t)n->op) {
    case VANE__OP_NUM:
        return n->num;
    case VANE__OP_FEAT:
        return vane__feat_num(ctx, n->aux);
    case VANE__OP_MACRO:
        return vane__expr_num(ctx, n->a);
    case VANE__OP_NEG:
        return -vane__expr_num(ctx, n->a);
    case VANE__OP_NOT:
        return !vane__expr_bool(ctx, n->a);
    case VANE__OP_AND:
        return vane__expr_bool(ctx, n->a) && vane__expr_bool(ctx, n->b);
    case VANE__OP_OR:
        return vane__expr_bool(ctx, n->a) || vane__expr_bool(ctx, n->b);
    case VANE__OP_ADD:
        return vane__expr_num(ctx, n->a) + vane__expr_num(ctx, n->b);
    case VANE__OP_SUB:
        return vane__expr_num(ctx, n->a) - vane__expr_num(ctx, n->b);
    case VANE__OP_MUL:
        return vane__expr_num(ctx, n->a) * vane__expr_num(ctx, n->b);
    case VANE__OP_DIV: {
        double d = vane__expr_num(ctx, n->b);
        return d == 0 ? 0 : vane__expr_num(ctx, n->a) / d;
    }
    case VANE__OP_LT:
        return vane__expr_num(ctx, n->a) < vane__expr_num(ctx, n->b);
    case VANE__OP_LE:
        return vane__expr_num(ctx, n->a) <= vane__expr_num(ctx, n->b);
    case VANE__OP_GT:
        return vane__expr_num(ctx, n->a) > vane__expr_num(ctx, n->b);
    case VANE__OP_GE:
        return vane__expr_num(ctx, n->a) >= vane__expr_num(ctx, n->b);
    case VANE__OP_EQ:
        return vane__expr_num(ctx, n->a) == vane__expr_num(ctx, n->b);
    case VANE__OP_NE:
        return vane__expr_num(ctx, n->a) != vane__expr_num(ctx, n->b);
    case VANE__OP_SEQ:
    case VANE__OP_SNE: {
        vane_str_t b = eval_str(ctx, n->b);
        bool eq = str_ieq(eval_str(ctx, n->a), b.p, b.len);
        return n->op == VANE__OP_SEQ ? eq : !eq;
    }
    case VANE__OP_IN: {
        const vane__list_t *l = &ctx->rs->lists[n->aux];
        if (ctx->rs->nodes[n->a].type == VANE__T_STR) {
            vane_str_t s = eval_str(ctx, n->a);
            for (size_t k = 0; k < l->n; k++)
                if (str_ieq(s, l->items[k], strlen(l->items[k])))
                    return 1;
            return 0;
        }
        double v = vane__expr_num(ctx, n->a);
        for (size_t k = 0; k < l->n; k++)
            if (l->nums[k] == v)
                return 1;
        return 0;
    }
    case VANE__OP_COUNT:
        return vane_window_count(w, n->aux, ctx->anchor_ms, (int64_t)n->num);
    case VANE__OP_SUM:
        return vane_window_sum(w, n->aux, ctx->anchor_ms, (int64_t)n->num);
    case VANE__OP_DISTINCT:
        return vane_window_distinct(w, n->aux, ctx->anchor_ms, (int64_t)n->num);
    case VANE__OP_RATE:
        return vane_window_count(w, n->aux, ctx->anchor_ms, (int64_t)n->num) /
               (n->num / 86400000.0);
    case VANE__OP_AVG: {
        uint32_t c = vane_window_count(w, n->aux, ctx->anchor_ms, (int64_t)n->num);
        return c ? vane_window_sum(w, n->aux, ctx->anchor_ms, (int64_t)n->num) / c : 0;
    }
    case VANE__OP_SHARE: {
        double s = vane_window_sum(w, n->aux, ctx->anchor_ms, (int64_t)n->num);
        if (!(s > 0))
            return 0;
        double assets = vane__assets(ctx->cs);
        return s / (s + (assets > 0 ? assets : 0));
    }
    case VANE__OP_MIN: {
        double a = vane__expr_num(ctx, n->a), b = vane__expr_num(ctx, n->b);
        return a < b ? a : b;
    }
    case VANE__OP_MAX: {
        double a = vane__expr_num(ctx, n->a), b = vane__expr_num(ctx, n->b);
        return a > b ? a : b;
    }
    case VANE__OP_ABS:
        return fabs(vane__expr_num(ctx, n->a));
    default:
        return 0;
    }
}

bool vane__expr_bool(const vane__ctx_t *ctx, int32_t root)
{
    return vane__expr_num(ctx, root) != 0;
}

void vane__expr_classes(const vane_ruleset_t *rs, int32_t root, uint64_t *classes, int64_t *max_dur)
{
    if (root < 0)
        return;
    const vane__node_t *n = &rs->nodes[root];
    if (n->op >= VANE__OP_COUNT && n->op <= VANE__OP_SHARE) {
        *classes |= 1ULL << n->aux;
        if ((int64_t)n->num > *max_dur)
            *max_dur = (int64_t)n->num;
    }
    vane__expr_classes(rs, n->a, classes, max_dur);
    vane__expr_classes(rs, n->b, classes, max_dur);
}

static const char *op_names[VANE__OP__COUNT] = {
    [VANE__OP_NEG] = "neg",
    [VANE__OP_NOT] = "not",
    [VANE__OP_AND] = "and",
    [VANE__OP_OR] = "or",
    [VANE__OP_ADD] = "+",
    [VANE__OP_SUB] = "-",
    [VANE__OP_MUL] = "*",
    [VANE__OP_DIV] = "/",
    [VANE__OP_LT] = "<",
    [VANE__OP_LE] = "<=",
    [VANE__OP_GT] = ">",
    [VANE__OP_GE] = ">=",
    [VANE__OP_EQ] = "==",
    [VANE__OP_NE] = "!=",
    [VANE__OP_SEQ] = "str==",
    [VANE__OP_SNE] = "str!=",
    [VANE__OP_COUNT] = "count",
    [VANE__OP_SUM] = "sum",
    [VANE__OP_DISTINCT] = "distinct",
    [VANE__OP_RATE] = "rate",
    [VANE__OP_AVG] = "avg",
    [VANE__OP_SHARE] = "share",
    [VANE__OP_MIN] = "min",
    [VANE__OP_MAX] = "max",
    [VANE__OP_ABS] = "abs",
};

void vane__expr_dump(const vane_ruleset_t *rs, int32_t root, vane_buf_t *out)
{
    const vane__node_t *n = &rs->nodes[root];
    char buf[48];
    switch ((vane__op_t)n->op) {
    case VANE__OP_NUM:
        if (n->type == VANE__T_BOOL)
            vane_buf_puts(out, n->num ? "true" : "false");
        else
            vane_buf_printf(out, "%.17g", n->num);
        return;
    case VANE__OP_STR:
        vane_buf_json_str(out, n->str, n->len);
        return;
    case VANE__OP_FEAT:
        vane_buf_puts(out, vane__feat_name(n->aux));
        return;
    case VANE__OP_MACRO:
        vane_buf_printf(out, "(macro %s ", rs->macros[n->aux].name);
        vane__expr_dump(rs, n->a, out);
        vane_buf_putc(out, ')');
        return;
    case VANE__OP_IN: {
        vane_buf_puts(out, "(in ");
        vane__expr_dump(rs, n->a, out);
        const vane__list_t *l = &rs->lists[n->aux];
        vane_buf_printf(out, " %s[", l->name[0] ? l->name : "");
        for (size_t k = 0; k < l->n; k++)
            vane_buf_printf(out, "%s%s", k ? " " : "", l->items[k]);
        vane_buf_puts(out, "])");
        return;
    }
    default:
        break;
    }
    if (n->op >= VANE__OP_COUNT && n->op <= VANE__OP_SHARE) {
        char d[32];
        vane_duration_format((int64_t)n->num, d, sizeof d);
        vane_buf_printf(out, "(%s %s %s)", op_names[n->op],
                        vane_window_class_name(n->aux, buf, sizeof buf), d);
        return;
    }
    vane_buf_printf(out, "(%s ", op_names[n->op]);
    vane__expr_dump(rs, n->a, out);
    if (n->b >= 0) {
        vane_buf_putc(out, ' ');
        vane__expr_dump(rs, n->b, out);
    }
    vane_buf_putc(out, ')');
}
