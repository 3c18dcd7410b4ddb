/* rules_int.h - the compiled ruleset, shared by the loader (rules_load.c), the expression
 * compiler/evaluator (rules_expr.c) and the engine (engine.c). Not a public header.
 *
 * A compiled expression is a tree stored in one flat node array owned by the ruleset; nodes
 * refer to children by index. Evaluation walks the const tree with a per-call context on the
 * stack (vane__ctx_t): it never allocates and never writes to the ruleset.
 */
#ifndef VANE_RULES_INT_H
#define VANE_RULES_INT_H

#include "rules.h"
#include "window.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- expressions --------------------------------------------------------------------- */

typedef enum vane__type {
    VANE__T_NUM = 0,
    VANE__T_BOOL = 1,
    VANE__T_STR = 2,
} vane__type_t;

typedef enum vane__op {
    VANE__OP_NUM,  /* constant num */
    VANE__OP_STR,  /* constant str/len */
    VANE__OP_FEAT, /* feature aux (vane__feat_t) */
    VANE__OP_NEG,  /* -a */
    VANE__OP_NOT,  /* not a */
    VANE__OP_AND,  /* a and b (short-circuit) */
    VANE__OP_OR,   /* a or b (short-circuit) */
    VANE__OP_ADD,  /* a + b */
    VANE__OP_SUB,  /* a - b */
    VANE__OP_MUL,  /* a * b */
    VANE__OP_DIV,  /* a / b, 0 when b == 0 */
    VANE__OP_LT,   /* numeric comparisons */
    VANE__OP_LE,
    VANE__OP_GT,
    VANE__OP_GE,
    VANE__OP_EQ,
    VANE__OP_NE,
    VANE__OP_SEQ,      /* string a == b (case-insensitive) */
    VANE__OP_SNE,      /* string a != b */
    VANE__OP_IN,       /* a in list aux */
    VANE__OP_COUNT,    /* count(class aux, dur num) */
    VANE__OP_SUM,      /* sum(class, dur): amounts, minor units */
    VANE__OP_DISTINCT, /* distinct(class, dur): distinct products/services */
    VANE__OP_RATE,     /* rate(class, dur): count per day over dur */
    VANE__OP_AVG,      /* avg(class, dur): sum / count, 0 when none */
    VANE__OP_SHARE,    /* share(class, dur): sum / (sum + current assets) */
    VANE__OP_MIN,      /* min(a, b) */
    VANE__OP_MAX,      /* max(a, b) */
    VANE__OP_ABS,      /* abs(a) */
    VANE__OP_MACRO,    /* the value of macro aux (its root is a) */
    VANE__OP__COUNT
} vane__op_t;

typedef struct vane__node {
    uint8_t op;      /* vane__op_t */
    uint8_t type;    /* vane__type_t of the result */
    uint16_t aux;    /* feature id / window class / list index / macro index */
    int32_t a, b;    /* children (node indices), -1 = none */
    double num;      /* constant, or the duration of a window function (ms) */
    const char *str; /* constant string (owned by the ruleset), NUL-terminated */
    uint32_t len;
} vane__node_t;

/* Features: names readable in expressions and summaries. The table is in rules_expr.c. */
typedef enum vane__feat {
    VANE__F_EV_AMOUNT,
    VANE__F_EV_SCORE,
    VANE__F_EV_BALANCE,
    VANE__F_EV_KIND,
    VANE__F_EV_CATEGORY,
    VANE__F_EV_CHANNEL,
    VANE__F_EV_TYPE,
    VANE__F_EV_COUNTERPARTY,
    VANE__F_EV_SERVICE,
    VANE__F_BALANCE,
    VANE__F_HOLDINGS,
    VANE__F_ASSETS,
    VANE__F_CROSS_HOLDING,
    VANE__F_TENURE,
    VANE__F_TENURE_DAYS,
    VANE__F_RISK,
    VANE__F_DIVERGENCE,
    VANE__F_EVIDENCE_SHORT,
    VANE__F_EVIDENCE_LONG,
    VANE__F_DOMINANT_SHARE,
    VANE__F_EMERGING_SHARE,
    VANE__F_EMERGING_PRIOR_SHARE,
    VANE__F_EMERGING_EVIDENCE,
    VANE__F_LOGINS_PER_DAY,
    VANE__F_LOGINS_PER_DAY_LONG,
    VANE__F_TXNS_PER_WEEK,
    VANE__F_GAP,
    VANE__F_QUIET,
    VANE__F_LAST_SURVEY,
    VANE__F_ENGAGEMENT_DROP,
    VANE__F_EVENTS,
    VANE__F_SEGMENT,
    VANE__F_TIER,
    VANE__F_STAGE,
    VANE__F_DOMINANT_CATEGORY,
    VANE__F_EMERGING_CATEGORY,
    VANE__F_CUSTOMER_ID,
    VANE__F__COUNT
} vane__feat_t;

typedef struct vane__list {
    char *name;   /* owned; "" for an inline list */
    char **items; /* owned strings */
    double *nums; /* items as numbers (NaN when not numeric) */
    size_t n;
    bool used;
    char file[160];
    int line, col;
} vane__list_t;

typedef struct vane__macro {
    char *name; /* owned */
    int32_t root;
    uint8_t type;
    bool used;
    char file[160];
    int line, col;
} vane__macro_t;

/* ---- rules --------------------------------------------------------------------------- */

/* Trigger bits of `on:` (a 64-bit mask): window classes 1..34 keep their number; these add. */
enum {
    VANE__ON_TXN = 40,     /* any transaction */
    VANE__ON_ENG = 41,     /* any engagement */
    VANE__ON_PROFILE = 43, /* CRM profile */
    VANE__ON_ANY = 44,     /* every event */
    VANE__ON_ABSENCE = 50, /* the absence (dormancy) timer */
};

/* A summary template: literal pieces and placeholders, in order. */
typedef struct vane__tpl_part {
    char *text;      /* literal (owned) or NULL for a placeholder */
    int16_t evid;    /* placeholder: index into the rule's evidence, or -1 */
    int16_t feat;    /* placeholder: feature id, or -1 */
    uint8_t fmt;     /* 0 plain, 1 money, 2 dur, 3 pct */
    uint8_t special; /* 1 from_category, 2 to_category, 3 kind, 4 severity, 5 rule id */
} vane__tpl_part_t;

typedef struct vane__tpl {
    vane__tpl_part_t *parts; /* owned */
    size_t n;
} vane__tpl_t;

typedef struct vane__evidence {
    char name[VANE_FEATURE_NAME_MAX];
    int32_t root;
} vane__evidence_t;

typedef struct vane__escalate {
    int32_t when; /* condition root */
    uint8_t severity;
} vane__escalate_t;

typedef struct vane__route {
    int32_t when; /* condition root, -1 = always */
    char tier[VANE_SHORT_MAX + 1];
} vane__route_t;

typedef struct vane__exception {
    char name[64];
    int32_t when;      /* condition root, or -1 */
    int32_t customers; /* list index, or -1 */
    int32_t segments;  /* list index, or -1 */
} vane__exception_t;

typedef struct vane__rule {
    char id[VANE_RULE_ID_MAX];
    uint32_t ref; /* hash of id: how states refer to the rule */
    char *desc;   /* owned */
    vane_alert_kind_t kind;
    uint8_t severity; /* vane_severity_t */
    bool enabled;
    bool shadow;
    uint64_t on;   /* trigger mask */
    int32_t cond;  /* condition root */
    int32_t score; /* score root, -1 = severity / 5 */
    int32_t after; /* absence rules: quiet time (ms) root, -1 = none */
    int64_t cooldown_ms;
    char topic[VANE_TOPIC_MAX];
    int32_t scope_segments; /* list index, -1 = all */
    uint8_t scope_stages;   /* bit per vane_stage_t, 0 = all */
    vane__exception_t *exc; /* owned */
    size_t nexc;
    vane__evidence_t *evid; /* owned */
    size_t nevid;
    vane__escalate_t *esc; /* owned */
    size_t nesc;
    vane__route_t *routes; /* owned */
    size_t nroutes;
    vane__tpl_t summary;
    /* Follow-up (detractor style): after an alert, escalate unless a cancel event comes. */
    int64_t fu_after_ms; /* 0 = none */
    uint64_t fu_cancel;  /* trigger mask of cancelling events */
    uint8_t fu_severity;
    vane__tpl_t fu_summary;
    /* Window classes the condition reads, for the alert's event_ids. */
    uint64_t ev_classes;
    int64_t ev_dur_ms;
    char file[160];
    int line;
} vane__rule_t;

typedef struct vane__settings {
    int64_t lateness_ms;
    int64_t horizon_ms; /* longest window kept (derived, at least risk_window) */
    int64_t short_half_life_ms;
    int64_t long_half_life_ms;
    double purchase_weight;
    double view_weight;
    double alpha_day, alpha_week, alpha_gap;
    /* lifecycle stage */
    double stage_decline_risk;
    int64_t stage_trust_tenure_ms;
    int stage_trust_cross;
    int64_t stage_strength_tenure_ms;
    int stage_strength_cross;
    /* decline risk */
    int64_t risk_window_ms;
    double w_redemption, sat_redemption;
    double w_cancellation, sat_cancellation;
    double w_outflow, w_drop, w_detractor;
    char route_default[VANE_SHORT_MAX + 1];
    char topics[VANE_ALERT__COUNT][VANE_TOPIC_MAX];
} vane__settings_t;

struct vane_ruleset {
    vane__settings_t set;
    vane__node_t *nodes; /* owned, all expressions */
    size_t nnodes, capnodes;
    vane__list_t *lists; /* owned */
    size_t nlists, caplists;
    vane__macro_t *macros; /* owned */
    size_t nmacros, capmacros;
    vane__rule_t *rules; /* owned */
    size_t nrules, caprules;
    uint64_t tracked; /* window classes kept in the per-customer ring (bit = class) */
    char **strs;      /* owned strings referenced by nodes */
    size_t nstrs, capstrs;
};

/* Evaluation context: everything an expression may read. Lives on the caller's stack. */
typedef struct vane__ctx {
    const vane_ruleset_t *rs;
    const vane_state_t *cs;
    const vane_event_t *ev; /* NULL in timers */
    int64_t anchor_ms;      /* event time the windows end at */
} vane__ctx_t;

/* Compile src (located at file:line:col, see vane__srcloc_t) into rs's node pool.
 * Returns the root index, or -1 after reporting diagnostics. want: required result type
 * (VANE__T_BOOL for conditions, VANE__T_NUM for scores/evidence; NUM also accepts BOOL). */
typedef struct vane__srcloc {
    const char *file;
    const char *raw; /* the whole file text */
    size_t rawlen;
    size_t start;  /* index in raw of the value's first character */
    int line, col; /* 1-based position of raw[start] */
    bool block;    /* block scalar: skip only `indent` spaces on continuation lines */
    int indent;
} vane__srcloc_t;

int32_t vane__expr_compile(vane_ruleset_t *rs, const char *src, const vane__srcloc_t *loc,
                           vane__type_t want, vane_diags_t *diags);
double vane__expr_num(const vane__ctx_t *ctx, int32_t root);
bool vane__expr_bool(const vane__ctx_t *ctx, int32_t root);
/* Window classes and longest duration read by the tree at root (macros followed). */
void vane__expr_classes(const vane_ruleset_t *rs, int32_t root, uint64_t *classes,
                        int64_t *max_dur);
void vane__expr_dump(const vane_ruleset_t *rs, int32_t root, vane_buf_t *out);

/* Features by name (rules_expr.c). Returns the id or -1; *type gets its type. */
int vane__feat_lookup(const char *name, size_t len, vane__type_t *type);
const char *vane__feat_name(int id);
double vane__feat_num(const vane__ctx_t *ctx, int id);
vane_str_t vane__feat_str(const vane__ctx_t *ctx, int id);

/* Derived customer features shared by the evaluator and the engine (engine.c). */
double vane__assets(const vane_state_t *cs);
int vane__cross_holding(const vane_state_t *cs);
double vane__engagement_drop(const vane_ruleset_t *rs, const vane_state_t *cs, int64_t at_ms);

/* Add a diagnostic (printf-style message). */
void vane__diag(vane_diags_t *diags, vane_diag_level_t level, const char *code, const char *file,
                int line, int col, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Keep s (copy) for the ruleset's lifetime; returns the copy or NULL on ENOMEM. */
const char *vane__rs_strdup(vane_ruleset_t *rs, const char *s, size_t len);

/* Find a rule by reference hash; NULL when the ruleset has no such rule. */
const vane__rule_t *vane__rule_by_ref(const vane_ruleset_t *rs, uint32_t ref);
uint32_t vane__rule_ref(const char *id);

#endif
