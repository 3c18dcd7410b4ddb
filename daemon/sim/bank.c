/* bank.c - the synthetic bank (see bank.h for the model and its parameters).
 *
 * Each customer is a handful of independent processes (profile, login, transaction, view,
 * service, survey, contact, planted script), each holding the event time of its next firing.
 * A customer's next event is the earliest of them; a binary min-heap over customers, keyed by
 * (next time, index), merges all customers into one stream in event-time order. Firing a
 * process writes one event and draws that process's next time from the customer's own PRNG,
 * so the whole run is a pure function of the config.
 */
#include "bank.h"

#include "rng.h"
#include "util/err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS           (3600LL * 1000LL)
#define DAY_MS            VANE_BANK_DAY_MS
#define NEVER             INT64_MAX
#define YUAN              100LL /* minor units per CNY */
#define ONSET_WINDOW_DAYS 2
#define MAX_SCRIPT        8
#define N_SERVICES        6
#define MAX_SERVICES      4
#define N_PLANTED_KINDS   7

/* ------------------------------------------------------------------------------------------
 * Static tables
 * ---------------------------------------------------------------------------------------- */

enum proc { P_PROFILE, P_LOGIN, P_TXN, P_VIEW, P_SERVICE, P_SURVEY, P_CONTACT, P_PLANT, P__COUNT };

/* Planted script step actions. */
enum step_kind {
    S_VIEW,         /* PRODUCT_VIEW of the customer's new category */
    S_PURCHASE,     /* PURCHASE of the new category, pct% of assets */
    S_REDEEM,       /* REDEMPTION, pct% of one holding */
    S_CANCEL,       /* SERVICE_CANCEL */
    S_REFUSE,       /* CONTACT_REFUSED */
    S_CLOSE,        /* ACCOUNT_CLOSE */
    S_TRANSFER_OUT, /* TRANSFER_OUT to another bank, pct% of assets at onset */
    S_SURVEY_LOW,   /* SURVEY with score 0..6 */
    S_COMPLAINT,    /* COMPLAINT */
};

typedef struct step {
    int64_t at_ms; /* event time of the step */
    uint8_t kind;  /* enum step_kind */
    uint8_t pct;   /* share parameter in percent, meaning per kind */
} step_t;

typedef struct archetype_params {
    const char *name;
    double mix;                      /* share of the population */
    double login_per_day;            /* Poisson rates */
    double txn_per_day;              /* */
    double view_per_day;             /* */
    double median_yuan;              /* median initial assets */
    int txn_weight[VANE_TXN__COUNT]; /* relative weights of transaction kinds */
} archetype_params_t;

/* Weights indexed by vane_txn_kind_t: -, DEP, WDR, T_IN, T_OUT, PUR, RED, PAY, FEE, INT. */
static const archetype_params_t ARCH[VANE_BANK_ARCHETYPE__COUNT] = {
    [VANE_BANK_SAVER] =
        {"saver", 0.35, 0.8, 0.6, 0.3, 150000.0, {0, 30, 22, 6, 4, 12, 0, 10, 2, 10}},
    [VANE_BANK_INVESTOR] =
        {"investor", 0.25, 1.5, 1.0, 0.8, 600000.0, {0, 18, 12, 6, 4, 28, 10, 8, 4, 10}},
    [VANE_BANK_BORROWER] =
        {"borrower", 0.20, 1.0, 0.8, 0.3, 30000.0, {0, 25, 18, 6, 4, 0, 0, 38, 4, 5}},
    [VANE_BANK_MIXED] =
        {"mixed", 0.20, 1.2, 0.9, 0.5, 250000.0, {0, 22, 15, 6, 4, 18, 6, 15, 4, 10}},
};

static const char *const SERVICES[N_SERVICES] = {
    "sms_alerts", "e_statement", "wealth_newsletter", "auto_sweep", "payroll", "mobile_pay",
};
static const char *const OTHER_BANKS[] = {"ICBC", "CCB", "ABC", "BOC", "CMB", "SPDB", "CITIC"};
#define N_OTHER_BANKS (sizeof OTHER_BANKS / sizeof OTHER_BANKS[0])

/* Product-id prefix per category. */
static const char *const CAT_PREFIX[VANE_CAT__COUNT] = {
    "X", "DD", "TD", "WM", "F", "INS", "PM", "FX", "BD", "LN", "CC", "PEN",
};

static const vane_alert_kind_t PLANTED_KINDS[N_PLANTED_KINDS] = {
    VANE_ALERT_PREFERENCE_SHIFT, VANE_ALERT_REDEMPTION_SURGE, VANE_ALERT_CANCELLATION_SURGE,
    VANE_ALERT_OUTFLOW_SURGE,    VANE_ALERT_DORMANCY,         VANE_ALERT_DECLINE_RISK,
    VANE_ALERT_DETRACTOR,
};

/* ------------------------------------------------------------------------------------------
 * The world
 * ---------------------------------------------------------------------------------------- */

typedef struct customer {
    vane_rng_t rng;                /* this customer's own stream */
    int64_t next[P__COUNT];        /* next firing time per process; NEVER when done */
    int64_t key;                   /* min(next): the heap key */
    int64_t first_ms;              /* Profile time */
    int64_t since_ms;              /* relationship start (before the simulation) */
    int64_t onset_ms;              /* planted onset; 0 for controls */
    int64_t stop_ms;               /* no event at or after this (DORMANCY onset, else world end) */
    int64_t assets;                /* total in-bank assets, minor units */
    int64_t held[VANE_CAT__COUNT]; /* invested amount per category (part of assets) */
    int64_t outflow_base;          /* OUTFLOW_SURGE: assets at the first transfer */
    int64_t last_redeem_ms;        /* for the controls' spacing rule */
    int64_t last_xfer_ms;          /* */
    uint32_t seq;                  /* events emitted so far (event_id suffix) */
    uint32_t script_off;           /* first step in bank->steps */
    uint8_t script_n;              /* steps in the script */
    uint8_t script_pos;            /* next step to fire */
    uint8_t archetype;             /* vane_bank_archetype_t */
    uint8_t planted;               /* vane_alert_kind_t, 0 for controls */
    uint8_t to_cat;                /* PREFERENCE_SHIFT target category */
    uint8_t n_cats;                /* categories used in normal life */
    uint8_t cats[6];               /* */
    uint8_t services;              /* bitmask over SERVICES */
    uint8_t n_services;            /* subscriptions so far (ever; at most MAX_SERVICES) */
    uint8_t cancels;               /* normal-life cancels so far (at most 1) */
    uint8_t devices;               /* 1..2 login devices */
    uint8_t segment;               /* 0 mass, 1 affluent, 2 private */
    uint16_t manager;              /* relationship manager number */
} customer_t;

/* The heap holds each customer's key beside its index, so sifting touches one array only. */
typedef struct heap_entry {
    int64_t key;  /* the customer's next event time (customer_t.key) */
    uint32_t idx; /* customer index */
} heap_entry_t;

struct vane_bank {
    vane_bank_config_t cfg; /* copy */
    int64_t end_ms;         /* world end */
    customer_t *cust;       /* [cfg.customers], owned */
    heap_entry_t *heap;     /* min-heap on (key, index), owned */
    uint32_t heap_n;        /* entries in heap */
    step_t *steps;          /* planted scripts, owned */
    uint32_t steps_n;       /* */
    bool ended;             /* vane_bank_next returned VANE_ESTOPPED */
    /* Scratch for the current event's strings (the event borrows these). */
    char cid[16];
    char eid[32];
    char product[24];
    char device[32];
    char manager[16];
};

static const char *const SEGMENTS[3] = {"mass", "affluent", "private"};
static const char *const TIERS[3] = {"branch", "line_management", "senior_management"};

/* ------------------------------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------------------------- */

static int64_t liquid(const customer_t *c)
{
    int64_t inv = 0;
    for (int k = 0; k < VANE_CAT__COUNT; k++)
        inv += c->held[k];
    int64_t l = c->assets - inv;
    return l > 0 ? l : 0;
}

/* Round a minor amount to whole yuan, at least one yuan. */
static int64_t to_yuan(double minor)
{
    int64_t v = (int64_t)(minor / (double)YUAN) * YUAN;
    return v < YUAN ? YUAN : v;
}

static bool has_cat(const customer_t *c, int cat)
{
    for (int i = 0; i < c->n_cats; i++) {
        if (c->cats[i] == cat)
            return true;
    }
    return false;
}

static void add_cat(customer_t *c, int cat)
{
    if (!has_cat(c, cat) && c->n_cats < sizeof c->cats)
        c->cats[c->n_cats++] = (uint8_t)cat;
}

/* An invested (non-deposit-account) category of the customer, chosen at random; 0 if none. */
static int pick_invest_cat(customer_t *c)
{
    int cand[6];
    int n = 0;
    for (int i = 0; i < c->n_cats; i++) {
        int cat = c->cats[i];
        if (cat != VANE_CAT_DEMAND_DEPOSIT && cat != VANE_CAT_LOAN && cat != VANE_CAT_CREDIT_CARD)
            cand[n++] = cat;
    }
    return n ? cand[vane_rng_range(&c->rng, 0, n - 1)] : 0;
}

/* The category with the largest holding; 0 if nothing is held. */
static int largest_holding(const customer_t *c)
{
    int best = 0;
    for (int k = 1; k < VANE_CAT__COUNT; k++) {
        if (c->held[k] > 0 && (best == 0 || c->held[k] > c->held[best]))
            best = k;
    }
    return best;
}

static int64_t gap_ms(customer_t *c, double per_day)
{
    int64_t g = (int64_t)vane_rng_exp(&c->rng, (double)DAY_MS / per_day);
    return g < 1000 ? 1000 : g; /* at least a second between two firings of one process */
}

static void sched(const vane_bank_t *bank, customer_t *c, enum proc p, int64_t t)
{
    (void)bank;
    if (t >= c->stop_ms)
        t = NEVER;
    /* A detractor is never contacted successfully, nor surveyed again, after its survey. */
    if (c->planted == VANE_ALERT_DETRACTOR && (p == P_CONTACT || p == P_SURVEY) && t >= c->onset_ms)
        t = NEVER;
    c->next[p] = t;
}

static void update_key(customer_t *c)
{
    int64_t k = NEVER;
    for (int p = 0; p < P__COUNT; p++) {
        if (c->next[p] < k)
            k = c->next[p];
    }
    c->key = k;
}

/* Rate multiplier after a DECLINE_RISK onset: engagement falls. */
static double decline_scale(const customer_t *c, int64_t t, double after)
{
    return (c->planted == VANE_ALERT_DECLINE_RISK && t >= c->onset_ms) ? after : 1.0;
}

/* ------------------------------------------------------------------------------------------
 * Heap over customers
 * ---------------------------------------------------------------------------------------- */

static inline bool heap_less(const heap_entry_t *a, const heap_entry_t *b)
{
    return a->key < b->key || (a->key == b->key && a->idx < b->idx);
}

static void heap_down(vane_bank_t *bank, uint32_t i)
{
    heap_entry_t *h = bank->heap;
    uint32_t n = bank->heap_n;
    heap_entry_t moving = h[i];
    for (;;) {
        uint32_t l = 2 * i + 1;
        if (l >= n)
            break;
        uint32_t m = l;
        if (l + 1 < n && heap_less(&h[l + 1], &h[l]))
            m = l + 1;
        if (!heap_less(&h[m], &moving))
            break;
        h[i] = h[m];
        i = m;
    }
    h[i] = moving;
}

/* ------------------------------------------------------------------------------------------
 * Construction
 * ---------------------------------------------------------------------------------------- */

void vane_bank_config_default(vane_bank_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->customers = 1000;
    cfg->start_ms = 0;
    cfg->history_days = 60;
    cfg->tail_days = 35;
    cfg->planted_fraction = 0.2;
}

static int pick_archetype(vane_rng_t *r)
{
    double u = vane_rng_unit(r);
    double acc = 0.0;
    for (int a = 0; a < VANE_BANK_ARCHETYPE__COUNT; a++) {
        acc += ARCH[a].mix;
        if (u < acc)
            return a;
    }
    return VANE_BANK_MIXED;
}

static void push_step(vane_bank_t *bank, customer_t *c, int64_t at, int kind, int pct)
{
    VANE_ASSERT(c->script_n < MAX_SCRIPT);
    step_t *s = &bank->steps[bank->steps_n++];
    s->at_ms = at;
    s->kind = (uint8_t)kind;
    s->pct = (uint8_t)pct;
    c->script_n++;
}

/* n sorted times in [onset, onset + span], the first exactly at onset. */
static void spread(customer_t *c, int64_t onset, int64_t span, int n, int64_t *out)
{
    out[0] = onset;
    for (int i = 1; i < n; i++)
        out[i] = onset + vane_rng_range(&c->rng, 1, span);
    for (int i = 1; i < n; i++) { /* insertion sort, n <= 6 */
        int64_t v = out[i];
        int j = i;
        while (j > 1 && out[j - 1] > v) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = v;
    }
}

static void plan_script(vane_bank_t *bank, customer_t *c)
{
    int64_t t0 = c->onset_ms;
    int64_t at[MAX_SCRIPT];
    c->script_off = bank->steps_n;
    switch ((vane_alert_kind_t)c->planted) {
    case VANE_ALERT_PREFERENCE_SHIFT: {
        static const uint8_t targets[] = {VANE_CAT_FUND, VANE_CAT_WEALTH, VANE_CAT_PRECIOUS_METAL,
                                          VANE_CAT_INSURANCE};
        c->to_cat = targets[vane_rng_range(&c->rng, 0, 3)];
        int views = (int)vane_rng_range(&c->rng, 3, 5);
        int64_t span = vane_rng_range(&c->rng, 1 * DAY_MS, 3 * DAY_MS);
        spread(c, t0, span, views, at);
        for (int i = 0; i < views; i++)
            push_step(bank, c, at[i], S_VIEW, 0);
        int buys = (int)vane_rng_range(&c->rng, 1, 2);
        int64_t t = at[views - 1] + vane_rng_range(&c->rng, 1 * HOUR_MS, 12 * HOUR_MS);
        for (int i = 0; i < buys; i++) {
            push_step(bank, c, t, S_PURCHASE, (int)vane_rng_range(&c->rng, 10, 30));
            t += vane_rng_range(&c->rng, DAY_MS / 2, DAY_MS);
        }
        break;
    }
    case VANE_ALERT_REDEMPTION_SURGE: {
        int n = (int)vane_rng_range(&c->rng, 3, 6);
        spread(c, t0, vane_rng_range(&c->rng, 2 * HOUR_MS, 5 * HOUR_MS), n, at);
        for (int i = 0; i < n; i++)
            push_step(bank, c, at[i], S_REDEEM, (int)vane_rng_range(&c->rng, 60, 100));
        break;
    }
    case VANE_ALERT_CANCELLATION_SURGE: {
        int n = (int)vane_rng_range(&c->rng, 3, 5);
        spread(c, t0, vane_rng_range(&c->rng, 1 * DAY_MS, 2 * DAY_MS), n, at);
        for (int i = 0; i < n; i++) {
            int kind = S_CANCEL;
            if (i == n - 1 && vane_rng_chance(&c->rng, 0.3))
                kind = S_CLOSE;
            else if (i > 0 && vane_rng_chance(&c->rng, 0.4))
                kind = S_REFUSE;
            push_step(bank, c, at[i], kind, 0);
        }
        break;
    }
    case VANE_ALERT_OUTFLOW_SURGE: {
        int n = (int)vane_rng_range(&c->rng, 2, 4);
        int total = (int)vane_rng_range(&c->rng, 50, 90);
        spread(c, t0, vane_rng_range(&c->rng, 1 * DAY_MS, 3 * DAY_MS), n, at);
        for (int i = 0; i < n; i++)
            push_step(bank, c, at[i], S_TRANSFER_OUT, total / n);
        break;
    }
    case VANE_ALERT_DORMANCY:
        c->stop_ms = t0;
        break;
    case VANE_ALERT_DECLINE_RISK:
        push_step(bank, c, t0, S_COMPLAINT, 0);
        push_step(bank, c, t0 + vane_rng_range(&c->rng, 1 * DAY_MS, 2 * DAY_MS), S_CANCEL, 0);
        push_step(bank, c, t0 + vane_rng_range(&c->rng, 5 * DAY_MS / 2, 7 * DAY_MS / 2), S_REDEEM,
                  (int)vane_rng_range(&c->rng, 30, 50));
        push_step(bank, c, t0 + vane_rng_range(&c->rng, 5 * DAY_MS, 6 * DAY_MS), S_CANCEL, 0);
        push_step(bank, c, t0 + vane_rng_range(&c->rng, 13 * DAY_MS / 2, 15 * DAY_MS / 2), S_REDEEM,
                  (int)vane_rng_range(&c->rng, 30, 50));
        push_step(bank, c, t0 + vane_rng_range(&c->rng, 9 * DAY_MS, 10 * DAY_MS), S_REFUSE, 0);
        break;
    case VANE_ALERT_DETRACTOR:
        push_step(bank, c, t0, S_SURVEY_LOW, 0);
        break;
    default:
        break;
    }
    c->next[P_PLANT] = c->script_n ? bank->steps[c->script_off].at_ms : NEVER;
}

static void init_customer(vane_bank_t *bank, uint32_t i, int planted)
{
    const vane_bank_config_t *cfg = &bank->cfg;
    customer_t *c = &bank->cust[i];
    uint64_t x = cfg->seed ^ (UINT64_C(0xD1B54A32D192ED03) * (uint64_t)(i + 1));
    vane_rng_seed(&c->rng, vane_rng_splitmix(&x));

    int arch = pick_archetype(&c->rng);
    if (planted == VANE_ALERT_PREFERENCE_SHIFT)
        arch = VANE_BANK_SAVER;
    else if (planted == VANE_ALERT_REDEMPTION_SURGE || planted == VANE_ALERT_DECLINE_RISK)
        arch = VANE_BANK_INVESTOR;
    c->archetype = (uint8_t)arch;
    c->planted = (uint8_t)planted;

    /* Categories used for life. */
    add_cat(c, VANE_CAT_DEMAND_DEPOSIT);
    switch (arch) {
    case VANE_BANK_SAVER:
        add_cat(c, VANE_CAT_TIME_DEPOSIT);
        break;
    case VANE_BANK_INVESTOR: {
        static const int inv[] = {VANE_CAT_FUND, VANE_CAT_WEALTH, VANE_CAT_BOND};
        int n = (int)vane_rng_range(&c->rng, 2, 3);
        int start = (int)vane_rng_range(&c->rng, 0, 2);
        for (int k = 0; k < n; k++)
            add_cat(c, inv[(start + k) % 3]);
        break;
    }
    case VANE_BANK_BORROWER:
        add_cat(c, VANE_CAT_LOAN);
        add_cat(c, VANE_CAT_CREDIT_CARD);
        break;
    default: {
        static const int extra[] = {VANE_CAT_FUND, VANE_CAT_WEALTH, VANE_CAT_INSURANCE,
                                    VANE_CAT_CREDIT_CARD};
        add_cat(c, VANE_CAT_TIME_DEPOSIT);
        int n = (int)vane_rng_range(&c->rng, 1, 2);
        int start = (int)vane_rng_range(&c->rng, 0, 3);
        for (int k = 0; k < n; k++)
            add_cat(c, extra[(start + k) % 4]);
        break;
    }
    }

    /* Assets: log-normal around the archetype median (sigma ~0.6). */
    double f = exp(vane_rng_normal(&c->rng) * 0.6);
    c->assets = to_yuan(ARCH[arch].median_yuan * f * (double)YUAN);
    c->segment = c->assets < 500000 * YUAN ? 0 : (c->assets < 6000000 * YUAN ? 1 : 2);
    /* Initial holdings for invested categories. */
    for (int k = 0; k < c->n_cats; k++) {
        int cat = c->cats[k];
        if (cat == VANE_CAT_DEMAND_DEPOSIT || cat == VANE_CAT_LOAN || cat == VANE_CAT_CREDIT_CARD)
            continue;
        double share = arch == VANE_BANK_INVESTOR ? 0.15 + 0.15 * vane_rng_unit(&c->rng)
                                                  : 0.05 + 0.15 * vane_rng_unit(&c->rng);
        c->held[cat] = to_yuan((double)c->assets * share);
    }

    c->first_ms = cfg->start_ms + vane_rng_range(&c->rng, 0, 6 * HOUR_MS);
    c->since_ms = c->first_ms - vane_rng_range(&c->rng, 180 * DAY_MS, 15 * 365 * DAY_MS);
    c->manager = (uint16_t)vane_rng_range(&c->rng, 1, 200);
    c->devices = (uint8_t)vane_rng_range(&c->rng, 1, 2);
    c->last_redeem_ms = -NEVER / 2;
    c->last_xfer_ms = -NEVER / 2;
    c->stop_ms = bank->end_ms;
    c->onset_ms = 0;

    for (int p = 0; p < P__COUNT; p++)
        c->next[p] = NEVER;
    c->next[P_PROFILE] = c->first_ms;
    const archetype_params_t *ap = &ARCH[arch];
    c->next[P_LOGIN] = c->first_ms + gap_ms(c, ap->login_per_day);
    c->next[P_TXN] = c->first_ms + gap_ms(c, ap->txn_per_day);
    c->next[P_VIEW] = c->first_ms + gap_ms(c, ap->view_per_day);
    /* Everyone subscribes to a first service early on. */
    c->next[P_SERVICE] = c->first_ms + vane_rng_range(&c->rng, HOUR_MS / 2, 2 * DAY_MS);
    c->next[P_SURVEY] = c->first_ms + gap_ms(c, 1.0 / 40.0);
    c->next[P_CONTACT] = c->first_ms + gap_ms(c, 1.0 / 30.0);

    if (planted) {
        int64_t hist_end = cfg->start_ms + (int64_t)cfg->history_days * DAY_MS;
        c->onset_ms = hist_end + vane_rng_range(&c->rng, 0, ONSET_WINDOW_DAYS * DAY_MS - 1);
        plan_script(bank, c);
    }
    for (int p = 0; p < P__COUNT; p++) {
        if (p != P_PLANT)
            sched(bank, c, (enum proc)p, c->next[p]);
        else if (c->next[p] >= c->stop_ms)
            c->next[p] = NEVER;
    }
    update_key(c);
}

vane_bank_t *vane_bank_new(const vane_bank_config_t *cfg, char *errbuf, size_t errlen)
{
    const char *why = NULL;
    if (cfg->customers < 1)
        why = "customers must be >= 1";
    else if (cfg->customers > 50000000)
        why = "customers must be <= 50000000";
    else if (cfg->start_ms <= 0)
        why = "start_ms must be > 0";
    else if (cfg->history_days < 1 || cfg->history_days > 3650)
        why = "history_days must be 1..3650";
    else if (cfg->tail_days > 3650)
        why = "tail_days must be <= 3650";
    else if (!(cfg->planted_fraction >= 0.0 && cfg->planted_fraction <= 1.0))
        why = "planted_fraction must be 0..1";
    if (why) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s", why);
        return NULL;
    }

    vane_bank_t *bank = calloc(1, sizeof *bank);
    if (!bank)
        goto nomem;
    bank->cfg = *cfg;
    bank->end_ms =
        cfg->start_ms + ((int64_t)cfg->history_days + ONSET_WINDOW_DAYS + cfg->tail_days) * DAY_MS;
    uint32_t n = cfg->customers;
    uint32_t n_planted = (uint32_t)((double)n * cfg->planted_fraction + 0.5);
    if (n_planted > n)
        n_planted = n;
    bank->cust = calloc(n, sizeof *bank->cust);
    bank->heap = calloc(n, sizeof *bank->heap);
    bank->steps = calloc((size_t)n_planted * MAX_SCRIPT + 1, sizeof *bank->steps);
    uint8_t *kind = calloc(n, 1);
    uint32_t *perm = calloc(n, sizeof *perm);
    if (!bank->cust || !bank->heap || !bank->steps || !kind || !perm) {
        free(kind);
        free(perm);
        goto nomem;
    }

    /* Which customers are planted: a seeded shuffle, kinds round-robin along it. */
    vane_rng_t rng;
    vane_rng_seed(&rng, cfg->seed);
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = (uint32_t)vane_rng_range(&rng, 0, i);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (uint32_t k = 0; k < n_planted; k++)
        kind[perm[k]] = (uint8_t)PLANTED_KINDS[k % N_PLANTED_KINDS];
    free(perm);

    for (uint32_t i = 0; i < n; i++)
        init_customer(bank, i, kind[i]);
    free(kind);

    for (uint32_t i = 0; i < n; i++)
        bank->heap[i] = (heap_entry_t){bank->cust[i].key, i};
    bank->heap_n = n;
    for (uint32_t i = n / 2; i-- > 0;)
        heap_down(bank, i);
    return bank;

nomem:
    if (errbuf && errlen)
        snprintf(errbuf, errlen, "out of memory for %u customers", cfg->customers);
    vane_bank_free(bank);
    return NULL;
}

void vane_bank_free(vane_bank_t *bank)
{
    if (!bank)
        return;
    free(bank->cust);
    free(bank->heap);
    free(bank->steps);
    free(bank);
}

/* Write "<prefix><v zero-padded to width digits>" at dst; returns the end (NUL written). */
static char *put_num(char *dst, uint32_t v, int width)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        tmp[n++] = '0';
    while (n)
        *dst++ = tmp[--n];
    *dst = '\0';
    return dst;
}

/* ------------------------------------------------------------------------------------------
 * Event production
 * ---------------------------------------------------------------------------------------- */

static void set_product(vane_bank_t *bank, uint32_t i, int cat, int variant)
{
    size_t n = strlen(CAT_PREFIX[cat]);
    memcpy(bank->product, CAT_PREFIX[cat], n);
    bank->product[n] = '-';
    put_num(bank->product + n + 1, 100u + (i * 7u + (unsigned)cat * 13u + (unsigned)variant) % 40u,
            3);
}

static void txn(vane_event_t *ev, vane_txn_kind_t kind, int cat, int64_t amount,
                const customer_t *c)
{
    ev->type = VANE_EVENT_TXN;
    ev->txn.kind = kind;
    ev->txn.category = (vane_category_t)cat;
    ev->txn.amount_minor = amount < 0 ? 0 : amount;
    ev->txn.currency = vane_str_c("CNY");
    ev->txn.has_balance_after = true;
    ev->txn.balance_after_minor = c->assets;
}

static void engagement(vane_event_t *ev, vane_eng_kind_t kind)
{
    ev->type = VANE_EVENT_ENGAGEMENT;
    ev->eng.kind = kind;
}

static const char *other_bank(customer_t *c)
{
    return OTHER_BANKS[vane_rng_range(&c->rng, 0, (int64_t)N_OTHER_BANKS - 1)];
}

/* Take amount out of the customer's assets: liquid money first, then holdings. */
static void debit(customer_t *c, int64_t amount)
{
    int64_t l = liquid(c);
    c->assets -= amount;
    if (amount > l) {
        int64_t rest = amount - l;
        for (int k = 0; k < VANE_CAT__COUNT && rest > 0; k++) {
            int64_t take = c->held[k] < rest ? c->held[k] : rest;
            c->held[k] -= take;
            rest -= take;
        }
    }
    if (c->assets < 0)
        c->assets = 0;
}

static vane_channel_t pick_channel(customer_t *c, vane_channel_t a, vane_channel_t b, double pa)
{
    return vane_rng_chance(&c->rng, pa) ? a : b;
}

/* A normal-life transaction: pick a kind by the archetype's weights, bend it to the
 * controls' safety rules, move the money and fill ev. */
static void fire_txn(vane_bank_t *bank, uint32_t i, customer_t *c, int64_t t, vane_event_t *ev)
{
    const archetype_params_t *ap = &ARCH[c->archetype];
    int total = 0;
    for (int k = 0; k < VANE_TXN__COUNT; k++)
        total += ap->txn_weight[k];
    int64_t u = vane_rng_range(&c->rng, 0, total - 1);
    int kind = 1;
    for (; kind < VANE_TXN__COUNT - 1; kind++) {
        u -= ap->txn_weight[kind];
        if (u < 0)
            break;
    }
    /* The controls' safety rules: spaced redemptions and transfers out, holdings required. */
    if (kind == VANE_TXN_REDEMPTION &&
        (t - c->last_redeem_ms < 4 * DAY_MS || largest_holding(c) == 0))
        kind = VANE_TXN_PURCHASE;
    if (kind == VANE_TXN_PURCHASE && (pick_invest_cat(c) == 0 || liquid(c) < 1000 * YUAN))
        kind = VANE_TXN_DEPOSIT;
    if (kind == VANE_TXN_TRANSFER_OUT && t - c->last_xfer_ms < 7 * DAY_MS)
        kind = VANE_TXN_WITHDRAWAL;
    if ((kind == VANE_TXN_WITHDRAWAL || kind == VANE_TXN_PAYMENT) && liquid(c) < 200 * YUAN)
        kind = VANE_TXN_DEPOSIT;

    double a = (double)c->assets;
    double l = (double)liquid(c);
    switch (kind) {
    case VANE_TXN_DEPOSIT: {
        int64_t amt = to_yuan((a > 20000.0 * YUAN ? a : 20000.0 * YUAN) *
                              (0.01 + 0.04 * vane_rng_unit(&c->rng)));
        c->assets += amt;
        ev->channel = vane_rng_chance(&c->rng, 0.5)
                          ? VANE_CHANNEL_MOBILE
                          : pick_channel(c, VANE_CHANNEL_BRANCH, VANE_CHANNEL_ATM, 0.5);
        set_product(bank, i, VANE_CAT_DEMAND_DEPOSIT, 0);
        txn(ev, VANE_TXN_DEPOSIT, VANE_CAT_DEMAND_DEPOSIT, amt, c);
        break;
    }
    case VANE_TXN_WITHDRAWAL: {
        int64_t amt = to_yuan(l * (0.01 + 0.03 * vane_rng_unit(&c->rng)));
        debit(c, amt);
        ev->channel = pick_channel(c, VANE_CHANNEL_ATM, VANE_CHANNEL_BRANCH, 0.7);
        set_product(bank, i, VANE_CAT_DEMAND_DEPOSIT, 0);
        txn(ev, VANE_TXN_WITHDRAWAL, VANE_CAT_DEMAND_DEPOSIT, amt, c);
        break;
    }
    case VANE_TXN_TRANSFER_IN: {
        int64_t amt = to_yuan(a * (0.01 + 0.05 * vane_rng_unit(&c->rng)));
        c->assets += amt;
        ev->channel = pick_channel(c, VANE_CHANNEL_MOBILE, VANE_CHANNEL_WEB, 0.7);
        set_product(bank, i, VANE_CAT_DEMAND_DEPOSIT, 0);
        txn(ev, VANE_TXN_TRANSFER_IN, VANE_CAT_DEMAND_DEPOSIT, amt, c);
        ev->txn.counterparty_bank = vane_str_c(other_bank(c));
        break;
    }
    case VANE_TXN_TRANSFER_OUT: {
        double share = 0.01 + 0.07 * vane_rng_unit(&c->rng);
        int64_t amt = to_yuan((a * share < l ? a * share : l * 0.5));
        if (amt > c->assets / 12)
            amt = c->assets / 12; /* hard cap: ~8% of assets */
        debit(c, amt);
        c->last_xfer_ms = t;
        ev->channel = pick_channel(c, VANE_CHANNEL_MOBILE, VANE_CHANNEL_WEB, 0.7);
        set_product(bank, i, VANE_CAT_DEMAND_DEPOSIT, 0);
        txn(ev, VANE_TXN_TRANSFER_OUT, VANE_CAT_DEMAND_DEPOSIT, amt, c);
        ev->txn.counterparty_bank = vane_str_c(other_bank(c));
        break;
    }
    case VANE_TXN_PURCHASE: {
        int cat = pick_invest_cat(c);
        int64_t amt = to_yuan(l * (0.05 + 0.15 * vane_rng_unit(&c->rng)));
        c->held[cat] += amt;
        ev->channel = vane_rng_chance(&c->rng, 0.6)
                          ? VANE_CHANNEL_MOBILE
                          : pick_channel(c, VANE_CHANNEL_WEB, VANE_CHANNEL_BRANCH, 0.5);
        set_product(bank, i, cat, (int)vane_rng_range(&c->rng, 0, 2));
        txn(ev, VANE_TXN_PURCHASE, cat, amt, c);
        break;
    }
    case VANE_TXN_REDEMPTION: {
        int cat = largest_holding(c);
        int64_t amt = to_yuan((double)c->held[cat] * (0.1 + 0.3 * vane_rng_unit(&c->rng)));
        if (amt > c->held[cat])
            amt = c->held[cat];
        c->held[cat] -= amt;
        c->last_redeem_ms = t;
        ev->channel = pick_channel(c, VANE_CHANNEL_MOBILE, VANE_CHANNEL_WEB, 0.7);
        set_product(bank, i, cat, (int)vane_rng_range(&c->rng, 0, 2));
        txn(ev, VANE_TXN_REDEMPTION, cat, amt, c);
        break;
    }
    case VANE_TXN_PAYMENT: {
        int cat = VANE_CAT_DEMAND_DEPOSIT;
        if (has_cat(c, VANE_CAT_LOAN) && vane_rng_chance(&c->rng, 0.5))
            cat = VANE_CAT_LOAN;
        else if (has_cat(c, VANE_CAT_CREDIT_CARD))
            cat = VANE_CAT_CREDIT_CARD;
        int64_t amt = to_yuan(l * (0.005 + 0.025 * vane_rng_unit(&c->rng)));
        debit(c, amt);
        ev->channel = pick_channel(c, VANE_CHANNEL_MOBILE, VANE_CHANNEL_WEB, 0.8);
        set_product(bank, i, cat, 0);
        txn(ev, VANE_TXN_PAYMENT, cat, amt, c);
        break;
    }
    case VANE_TXN_FEE: {
        int64_t amt = vane_rng_range(&c->rng, 5, 50) * YUAN;
        if (amt > c->assets)
            amt = c->assets;
        debit(c, amt);
        ev->channel = VANE_CHANNEL_BRANCH;
        set_product(bank, i, VANE_CAT_DEMAND_DEPOSIT, 0);
        txn(ev, VANE_TXN_FEE, VANE_CAT_DEMAND_DEPOSIT, amt, c);
        break;
    }
    default: { /* INTEREST */
        int cat =
            has_cat(c, VANE_CAT_TIME_DEPOSIT) ? VANE_CAT_TIME_DEPOSIT : VANE_CAT_DEMAND_DEPOSIT;
        int64_t amt = (int64_t)(a * (0.0002 + 0.0008 * vane_rng_unit(&c->rng)));
        if (amt < 1)
            amt = 1;
        c->assets += amt;
        ev->channel = VANE_CHANNEL_BRANCH;
        set_product(bank, i, cat, 0);
        txn(ev, VANE_TXN_INTEREST, cat, amt, c);
        break;
    }
    }
    ev->txn.product_id = vane_str_c(bank->product);
}

static void fire_plant(vane_bank_t *bank, uint32_t i, customer_t *c, int64_t t, vane_event_t *ev)
{
    const step_t *s = &bank->steps[c->script_off + c->script_pos];
    switch ((enum step_kind)s->kind) {
    case S_VIEW:
        engagement(ev, VANE_ENG_PRODUCT_VIEW);
        ev->channel = pick_channel(c, VANE_CHANNEL_MOBILE, VANE_CHANNEL_WEB, 0.6);
        ev->eng.category = (vane_category_t)c->to_cat;
        set_product(bank, i, c->to_cat, (int)vane_rng_range(&c->rng, 0, 2));
        ev->eng.product_id = vane_str_c(bank->product);
        break;
    case S_PURCHASE: {
        int64_t amt = to_yuan((double)c->assets * s->pct / 100.0);
        int64_t l = liquid(c);
        if (amt > l)
            amt = to_yuan((double)l * 0.9);
        c->held[c->to_cat] += amt;
        ev->channel = pick_channel(c, VANE_CHANNEL_MOBILE, VANE_CHANNEL_BRANCH, 0.6);
        set_product(bank, i, c->to_cat, 0);
        txn(ev, VANE_TXN_PURCHASE, c->to_cat, amt, c);
        ev->txn.product_id = vane_str_c(bank->product);
        break;
    }
    case S_REDEEM: {
        int cat = largest_holding(c);
        int64_t amt;
        if (cat == 0) { /* everything already redeemed: a holding outside the model */
            cat = VANE_CAT_FUND;
            amt = to_yuan((double)c->assets * 0.1);
            c->assets += amt; /* the product was held elsewhere in the bank's books */
        } else {
            amt = to_yuan((double)c->held[cat] * s->pct / 100.0);
            if (amt > c->held[cat])
                amt = c->held[cat];
            c->held[cat] -= amt;
        }
        c->last_redeem_ms = t;
        ev->channel = pick_channel(c, VANE_CHANNEL_MOBILE, VANE_CHANNEL_WEB, 0.7);
        set_product(bank, i, cat, (int)vane_rng_range(&c->rng, 0, 2));
        txn(ev, VANE_TXN_REDEMPTION, cat, amt, c);
        ev->txn.product_id = vane_str_c(bank->product);
        break;
    }
    case S_CANCEL: {
        int svc = 0;
        for (int k = 0; k < N_SERVICES; k++) {
            if (c->services & (1u << k)) {
                svc = k;
                break;
            }
        }
        c->services &= (uint8_t) ~(1u << svc);
        engagement(ev, VANE_ENG_SERVICE_CANCEL);
        ev->channel = pick_channel(c, VANE_CHANNEL_MOBILE, VANE_CHANNEL_BRANCH, 0.6);
        ev->eng.service = vane_str_c(SERVICES[svc]);
        break;
    }
    case S_REFUSE:
        engagement(ev, VANE_ENG_CONTACT_REFUSED);
        ev->channel = VANE_CHANNEL_PHONE;
        break;
    case S_CLOSE:
        engagement(ev, VANE_ENG_ACCOUNT_CLOSE);
        ev->channel = VANE_CHANNEL_BRANCH;
        set_product(bank, i, VANE_CAT_DEMAND_DEPOSIT, 1);
        ev->eng.product_id = vane_str_c(bank->product);
        break;
    case S_TRANSFER_OUT: {
        if (c->outflow_base == 0)
            c->outflow_base = c->assets;
        int64_t amt = to_yuan((double)c->outflow_base * s->pct / 100.0);
        if (amt > c->assets)
            amt = c->assets;
        debit(c, amt);
        c->last_xfer_ms = t;
        ev->channel = pick_channel(c, VANE_CHANNEL_MOBILE, VANE_CHANNEL_WEB, 0.7);
        set_product(bank, i, VANE_CAT_DEMAND_DEPOSIT, 0);
        txn(ev, VANE_TXN_TRANSFER_OUT, VANE_CAT_DEMAND_DEPOSIT, amt, c);
        ev->txn.product_id = vane_str_c(bank->product);
        ev->txn.counterparty_bank = vane_str_c(other_bank(c));
        break;
    }
    case S_SURVEY_LOW:
        engagement(ev, VANE_ENG_SURVEY);
        ev->channel = pick_channel(c, VANE_CHANNEL_PHONE, VANE_CHANNEL_MOBILE, 0.5);
        ev->eng.has_score = true;
        ev->eng.score = (int32_t)vane_rng_range(&c->rng, 0, 6);
        break;
    case S_COMPLAINT:
        engagement(ev, VANE_ENG_COMPLAINT);
        ev->channel = pick_channel(c, VANE_CHANNEL_PHONE, VANE_CHANNEL_BRANCH, 0.6);
        break;
    }
    c->script_pos++;
    c->next[P_PLANT] =
        c->script_pos < c->script_n ? bank->steps[c->script_off + c->script_pos].at_ms : NEVER;
    if (c->next[P_PLANT] >= c->stop_ms)
        c->next[P_PLANT] = NEVER;
}

/* Fire process p of customer i at time t: fill ev and schedule p's next firing. */
static void fire(vane_bank_t *bank, uint32_t i, customer_t *c, enum proc p, int64_t t,
                 vane_event_t *ev)
{
    const archetype_params_t *ap = &ARCH[c->archetype];
    switch (p) {
    case P_PROFILE:
        ev->type = VANE_EVENT_PROFILE;
        ev->channel = VANE_CHANNEL_BRANCH;
        ev->profile.segment = vane_str_c(SEGMENTS[c->segment]);
        ev->profile.since_ms = c->since_ms;
        snprintf(bank->manager, sizeof bank->manager, "M%03u", (unsigned)c->manager);
        ev->profile.manager_id = vane_str_c(bank->manager);
        ev->profile.tier = vane_str_c(TIERS[c->segment]);
        c->next[P_PROFILE] = NEVER;
        break;
    case P_LOGIN:
        ev->type = VANE_EVENT_LOGIN;
        ev->channel = pick_channel(c, VANE_CHANNEL_MOBILE, VANE_CHANNEL_WEB, 0.75);
        ev->login.success = vane_rng_chance(&c->rng, 0.97);
        snprintf(bank->device, sizeof bank->device, "%s-D%d", bank->cid,
                 (int)vane_rng_range(&c->rng, 1, c->devices));
        ev->login.device_id = vane_str_c(bank->device);
        sched(bank, c, p, t + gap_ms(c, ap->login_per_day * decline_scale(c, t, 0.2)));
        break;
    case P_TXN:
        fire_txn(bank, i, c, t, ev);
        sched(bank, c, p, t + gap_ms(c, ap->txn_per_day * decline_scale(c, t, 0.5)));
        break;
    case P_VIEW: {
        int cat = c->cats[vane_rng_range(&c->rng, 0, c->n_cats - 1)];
        engagement(ev, VANE_ENG_PRODUCT_VIEW);
        ev->channel = pick_channel(c, VANE_CHANNEL_MOBILE, VANE_CHANNEL_WEB, 0.7);
        ev->eng.category = (vane_category_t)cat;
        set_product(bank, i, cat, (int)vane_rng_range(&c->rng, 0, 2));
        ev->eng.product_id = vane_str_c(bank->product);
        sched(bank, c, p, t + gap_ms(c, ap->view_per_day * decline_scale(c, t, 0.3)));
        break;
    }
    case P_SERVICE: {
        ev->channel = pick_channel(c, VANE_CHANNEL_MOBILE, VANE_CHANNEL_WEB, 0.7);
        /* A control may drop one service in its life (never several: no cancellation surge). */
        if (__builtin_popcount(c->services) >= 2 && c->cancels == 0 &&
            c->planted != VANE_ALERT_CANCELLATION_SURGE && vane_rng_chance(&c->rng, 0.1)) {
            int k = 0;
            while (!(c->services & (1u << k)))
                k++;
            c->services &= (uint8_t) ~(1u << k);
            c->cancels++;
            engagement(ev, VANE_ENG_SERVICE_CANCEL);
            ev->eng.service = vane_str_c(SERVICES[k]);
        } else {
            int k = (int)vane_rng_range(&c->rng, 0, N_SERVICES - 1);
            while (c->services & (1u << k))
                k = (k + 1) % N_SERVICES;
            c->services |= (uint8_t)(1u << k);
            c->n_services++;
            engagement(ev, VANE_ENG_SERVICE_SUBSCRIBE);
            ev->eng.service = vane_str_c(SERVICES[k]);
        }
        /* A cancellation-surge customer holds two services before its onset. */
        double rate =
            (c->planted == VANE_ALERT_CANCELLATION_SURGE && c->n_services < 2) ? 1.0 : 1.0 / 30;
        if (c->n_services < MAX_SERVICES)
            sched(bank, c, p, t + gap_ms(c, rate));
        else
            c->next[p] = NEVER;
        break;
    }
    case P_SURVEY: {
        static const int weights[4] = {15, 25, 30, 30}; /* scores 7, 8, 9, 10 */
        int64_t u = vane_rng_range(&c->rng, 0, 99);
        int score = 7;
        for (int k = 0; k < 4; k++) {
            u -= weights[k];
            if (u < 0) {
                score = 7 + k;
                break;
            }
        }
        engagement(ev, VANE_ENG_SURVEY);
        ev->channel = pick_channel(c, VANE_CHANNEL_PHONE, VANE_CHANNEL_MOBILE, 0.5);
        ev->eng.has_score = true;
        ev->eng.score = score;
        sched(bank, c, p, t + gap_ms(c, 1.0 / 40));
        break;
    }
    case P_CONTACT:
        engagement(ev, VANE_ENG_CONTACT_ACCEPTED);
        ev->channel = pick_channel(c, VANE_CHANNEL_PHONE, VANE_CHANNEL_BRANCH, 0.7);
        sched(bank, c, p, t + gap_ms(c, 1.0 / 30));
        break;
    case P_PLANT:
        fire_plant(bank, i, c, t, ev);
        break;
    default:
        VANE_ASSERT(!"unknown process");
    }
}

int vane_bank_next(vane_bank_t *bank, vane_event_t *ev)
{
    if (bank->ended || bank->heap_n == 0)
        return VANE_ESTOPPED;
    uint32_t i = bank->heap[0].idx;
    customer_t *c = &bank->cust[i];
    if (c->key == NEVER) {
        bank->ended = true;
        return VANE_ESTOPPED;
    }
    int64_t t = c->key;
    enum proc p = P_PROFILE;
    while (c->next[p] != t)
        p++;

    memset(ev, 0, sizeof *ev);
    /* "C0000042" and "C0000042-17" (snprintf costs more than the rest of the event). */
    bank->cid[0] = 'C';
    char *end = put_num(bank->cid + 1, i + 1, 7);
    size_t clen = (size_t)(end - bank->cid);
    memcpy(bank->eid, bank->cid, clen);
    bank->eid[clen] = '-';
    put_num(bank->eid + clen + 1, c->seq++, 1);
    ev->event_id = vane_str_c(bank->eid);
    ev->customer_id = vane_str_c(bank->cid);
    ev->event_time_ms = t;
    fire(bank, i, c, p, t, ev);

    update_key(c);
    bank->heap[0].key = c->key;
    heap_down(bank, 0);
    return VANE_OK;
}

uint32_t vane_bank_customer_count(const vane_bank_t *bank)
{
    return bank->cfg.customers;
}

void vane_bank_truth(const vane_bank_t *bank, uint32_t i, vane_bank_truth_t *out)
{
    VANE_ASSERT(i < bank->cfg.customers);
    const customer_t *c = &bank->cust[i];
    memset(out, 0, sizeof *out);
    snprintf(out->customer_id, sizeof out->customer_id, "C%07u", i + 1);
    out->archetype = (vane_bank_archetype_t)c->archetype;
    out->kind = (vane_alert_kind_t)c->planted;
    out->onset_ms = c->onset_ms;
    out->to_category = (vane_category_t)c->to_cat;
}

int64_t vane_bank_end_ms(const vane_bank_t *bank)
{
    return bank->end_ms;
}

const char *vane_bank_archetype_name(vane_bank_archetype_t a)
{
    return (unsigned)a < VANE_BANK_ARCHETYPE__COUNT ? ARCH[a].name : "unknown";
}
