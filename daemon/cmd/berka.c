#include "berka.h"

#include "../util/err.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DAY_MS     (86400LL * 1000LL)
#define MAX_FIELDS 16

/* ---- small parsing helpers ------------------------------------------------------------------ */

/* Split a ';'-separated line in place; strips CR/LF and surrounding double quotes. */
static int split(char *line, char **f, int max)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    int k = 0;
    char *p = line;
    for (;;) {
        char *semi = strchr(p, ';');
        if (semi)
            *semi = '\0';
        if (k < max) {
            size_t l = strlen(p);
            if (l >= 2 && p[0] == '"' && p[l - 1] == '"') {
                p[l - 1] = '\0';
                p++;
            }
            f[k++] = p;
        }
        if (!semi)
            break;
        p = semi + 1;
    }
    return k;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* "930101" (19xx implied; an optional " 00:00:00" tail is ignored) -> day number, or -1. */
static int64_t parse_day(const char *s)
{
    if (strlen(s) < 6)
        return -1;
    for (int i = 0; i < 6; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
    }
    int yy = (s[0] - '0') * 10 + (s[1] - '0');
    int mm = (s[2] - '0') * 10 + (s[3] - '0');
    int dd = (s[4] - '0') * 10 + (s[5] - '0');
    if (mm < 1 || mm > 12 || dd < 1 || dd > 31)
        return -1;
    return days_from_civil(1900 + yy, (unsigned)mm, (unsigned)dd);
}

static int parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

/* "1234.50" -> 123450 minor units (rounded), or INT64_MIN on error. */
static int64_t parse_money(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end)
        return INT64_MIN;
    return (int64_t)llround(v * 100.0);
}

static char *path_join(const char *dir, const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

static FILE *open_table(const char *dir, const char *name, char *path, size_t n, FILE *diag)
{
    path_join(dir, name, path, n);
    FILE *f = fopen(path, "r");
    if (!f)
        fprintf(diag, "%s: %s\n", path, strerror(errno));
    return f;
}

/* ---- the tables -------------------------------------------------------------------------------
 */

typedef struct account_row {
    int64_t created_day; /* -1 = no such account */
    long district;
    long owner_client; /* 0 = unknown */
    bool has_txn;
    int64_t last_day;  /* for per-day ordering */
    uint32_t day_rank; /* rows already placed on last_day */
} account_row_t;

typedef struct trans_row {
    long trans_id;
    long account;
    int64_t day;
    vane_txn_kind_t kind;
    vane_channel_t channel;
    int64_t amount;
    int64_t balance;
    char bank[4];
} trans_row_t;

typedef struct tables {
    account_row_t *acc; /* indexed by account_id */
    long acc_cap;
    long *disp_account; /* disp_id -> account_id, 0 = none */
    long disp_cap;
    trans_row_t *tr;
    size_t ntr, captr;
} tables_t;

static int grow_long(long **arr, long *cap, long need)
{
    if (need < *cap)
        return VANE_OK;
    long ncap = *cap ? *cap : 1024;
    while (ncap <= need)
        ncap *= 2;
    long *na = realloc(*arr, (size_t)ncap * sizeof *na);
    if (!na)
        return VANE_ENOMEM;
    memset(na + *cap, 0, (size_t)(ncap - *cap) * sizeof *na);
    *arr = na;
    *cap = ncap;
    return VANE_OK;
}

static int grow_acc(tables_t *t, long need)
{
    if (need < t->acc_cap)
        return VANE_OK;
    long ncap = t->acc_cap ? t->acc_cap : 1024;
    while (ncap <= need)
        ncap *= 2;
    account_row_t *na = realloc(t->acc, (size_t)ncap * sizeof *na);
    if (!na)
        return VANE_ENOMEM;
    for (long i = t->acc_cap; i < ncap; i++)
        na[i] = (account_row_t){.created_day = -1, .last_day = -1};
    t->acc = na;
    t->acc_cap = ncap;
    return VANE_OK;
}

static int read_accounts(tables_t *t, const char *dir, vane_berka_stats_t *st, FILE *diag)
{
    char path[600], line[512];
    FILE *f = open_table(dir, "account.asc", path, sizeof path, diag);
    if (!f)
        return VANE_EIO;
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        if (++lineno == 1)
            continue;
        char *fl[MAX_FIELDS];
        long id, district;
        if (split(line, fl, MAX_FIELDS) < 4 || parse_long(fl[0], &id) || id <= 0 ||
            parse_long(fl[1], &district)) {
            fprintf(diag, "%s:%d: bad account row\n", path, lineno);
            continue;
        }
        if (grow_acc(t, id) != VANE_OK) {
            fclose(f);
            return VANE_ENOMEM;
        }
        t->acc[id].created_day = parse_day(fl[3]);
        t->acc[id].district = district;
        st->accounts++;
    }
    fclose(f);
    return VANE_OK;
}

static int read_disp(tables_t *t, const char *dir, FILE *diag)
{
    char path[600], line[512];
    FILE *f = open_table(dir, "disp.asc", path, sizeof path, diag);
    if (!f)
        return VANE_EIO;
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        if (++lineno == 1)
            continue;
        char *fl[MAX_FIELDS];
        long disp, client, account;
        if (split(line, fl, MAX_FIELDS) < 4 || parse_long(fl[0], &disp) || disp <= 0 ||
            parse_long(fl[1], &client) || parse_long(fl[2], &account) || account <= 0) {
            fprintf(diag, "%s:%d: bad disp row\n", path, lineno);
            continue;
        }
        if (grow_long(&t->disp_account, &t->disp_cap, disp) != VANE_OK ||
            grow_acc(t, account) != VANE_OK) {
            fclose(f);
            return VANE_ENOMEM;
        }
        t->disp_account[disp] = account;
        if (strcmp(fl[3], "OWNER") == 0)
            t->acc[account].owner_client = client;
    }
    fclose(f);
    return VANE_OK;
}

static bool is_payment_symbol(const char *k)
{
    return strcmp(k, "SIPO") == 0 || strcmp(k, "POJISTNE") == 0 || strcmp(k, "UVER") == 0 ||
           strcmp(k, "LEASING") == 0;
}

/* The documented mapping of (type, operation, k_symbol); returns false when unmappable. */
static bool map_trans(const char *type, const char *op, const char *k, vane_txn_kind_t *kind,
                      vane_channel_t *ch)
{
    *ch = VANE_CHANNEL_UNSPECIFIED;
    if (strcmp(k, "UROK") == 0) {
        *kind = VANE_TXN_INTEREST;
        return true;
    }
    if (strcmp(k, "SLUZBY") == 0 || strcmp(k, "SANKC. UROK") == 0) {
        *kind = VANE_TXN_FEE;
        return true;
    }
    if (strcmp(type, "PRIJEM") == 0) {
        if (strcmp(op, "PREVOD Z UCTU") == 0) {
            *kind = VANE_TXN_TRANSFER_IN;
        } else {
            *kind = VANE_TXN_DEPOSIT; /* VKLAD (cash) and anything else credited */
            *ch = VANE_CHANNEL_BRANCH;
        }
        return true;
    }
    if (strcmp(type, "VYDAJ") == 0 || strcmp(type, "VYBER") == 0) {
        if (strcmp(op, "PREVOD NA UCET") == 0) {
            *kind = is_payment_symbol(k) ? VANE_TXN_PAYMENT : VANE_TXN_TRANSFER_OUT;
            return true;
        }
        if (strcmp(op, "VYBER KARTOU") == 0) {
            *kind = VANE_TXN_WITHDRAWAL;
            *ch = VANE_CHANNEL_ATM;
            return true;
        }
        if (is_payment_symbol(k)) {
            *kind = VANE_TXN_PAYMENT; /* a household payment made in cash */
            *ch = VANE_CHANNEL_BRANCH;
            return true;
        }
        *kind = VANE_TXN_WITHDRAWAL; /* VYBER: cash */
        *ch = VANE_CHANNEL_BRANCH;
        return true;
    }
    return false;
}

static int read_trans(tables_t *t, const char *dir, const vane_berka_opts_t *opts,
                      vane_berka_stats_t *st, FILE *diag)
{
    char path[600];
    struct stat sb;
    path_join(dir, "trans.asc", path, sizeof path);
    if (stat(path, &sb) != 0)
        path_join(dir, "trans.partial.asc", path, sizeof path);
    snprintf(st->trans_file, sizeof st->trans_file, "%s", path);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(diag, "%s: %s (no trans.asc or trans.partial.asc)\n", path, strerror(errno));
        return VANE_EIO;
    }
    char line[512];
    int lineno = 0;
    int64_t n_acc = 0;
    while (fgets(line, sizeof line, f)) {
        if (++lineno == 1)
            continue;
        char *fl[MAX_FIELDS];
        int nf = split(line, fl, MAX_FIELDS);
        long id, account;
        trans_row_t r;
        memset(&r, 0, sizeof r);
        if (nf < 9 || parse_long(fl[0], &id) || parse_long(fl[1], &account) || account <= 0 ||
            account >= t->acc_cap || t->acc[account].created_day < 0) {
            fprintf(diag, "%s:%d: bad transaction row (or unknown account)\n", path, lineno);
            st->trans_skipped++;
            continue;
        }
        st->trans_rows++;
        r.trans_id = id;
        r.account = account;
        r.day = parse_day(fl[2]);
        r.amount = parse_money(fl[5]);
        r.balance = parse_money(fl[6]);
        if (r.day < 0 || r.amount == INT64_MIN || r.amount < 0 || r.balance == INT64_MIN ||
            !map_trans(fl[3], fl[4], fl[7], &r.kind, &r.channel)) {
            fprintf(diag, "%s:%d: unmappable transaction (%s/%s/%s)\n", path, lineno, fl[3], fl[4],
                    fl[7]);
            st->trans_skipped++;
            continue;
        }
        snprintf(r.bank, sizeof r.bank, "%s", fl[8]);
        account_row_t *a = &t->acc[account];
        if (!a->has_txn) {
            if (opts->max_accounts > 0 && n_acc >= opts->max_accounts)
                continue;
            a->has_txn = true;
            n_acc++;
        }
        if (t->ntr == t->captr) {
            size_t ncap = t->captr ? t->captr * 2 : 65536;
            trans_row_t *nt = realloc(t->tr, ncap * sizeof *nt);
            if (!nt) {
                fclose(f);
                return VANE_ENOMEM;
            }
            t->tr = nt;
            t->captr = ncap;
        }
        t->tr[t->ntr++] = r;
    }
    fclose(f);
    st->accounts_with_txn = (uint64_t)n_acc;
    return VANE_OK;
}

/* ---- emitting ----------------------------------------------------------------------------------
 */

static int64_t place(account_row_t *a, int64_t day)
{
    if (a->last_day != day) {
        a->last_day = day;
        a->day_rank = 0;
    }
    return day * DAY_MS + 9 * 3600 * 1000LL + (int64_t)(a->day_rank++) * 60 * 1000LL;
}

int vane_berka_import(const char *dir, const vane_berka_opts_t *opts, vane_berka_emit_fn emit,
                      void *ud, vane_berka_stats_t *st, FILE *diag)
{
    tables_t t;
    memset(&t, 0, sizeof t);
    memset(st, 0, sizeof *st);
    st->first_ms = INT64_MAX;
    st->last_ms = INT64_MIN;
    int rc = read_accounts(&t, dir, st, diag);
    if (rc == VANE_OK)
        rc = read_disp(&t, dir, diag);
    if (rc == VANE_OK)
        rc = read_trans(&t, dir, opts, st, diag);
    if (rc != VANE_OK)
        goto done;

    int64_t last_day = INT64_MIN;
    for (size_t i = 0; i < t.ntr; i++) {
        if (t.tr[i].day > last_day)
            last_day = t.tr[i].day;
    }
    char cid[32], eid[32], pid[32], bank[8], mgr[32];
    vane_event_t ev;

    /* Profiles: one per account with transactions, at its creation. */
    for (long id = 1; id < t.acc_cap; id++) {
        account_row_t *a = &t.acc[id];
        if (a->created_day < 0 || !a->has_txn)
            continue;
        if (!opts->all_dates && a->created_day > last_day)
            continue;
        snprintf(cid, sizeof cid, "B%ld", a->owner_client ? a->owner_client : -id);
        snprintf(eid, sizeof eid, "berka-p%ld", id);
        snprintf(mgr, sizeof mgr, "district-%ld", a->district);
        memset(&ev, 0, sizeof ev);
        ev.event_id = vane_str_c(eid);
        ev.customer_id = vane_str_c(cid);
        ev.event_time_ms = a->created_day * DAY_MS + 8 * 3600 * 1000LL;
        ev.channel = VANE_CHANNEL_BRANCH;
        ev.type = VANE_EVENT_PROFILE;
        ev.profile.segment = vane_str_c("mass");
        ev.profile.since_ms = a->created_day * DAY_MS;
        ev.profile.manager_id = vane_str_c(mgr);
        ev.profile.tier = vane_str_c("branch");
        st->profiles++;
        if ((rc = emit(ud, &ev)) < 0)
            goto done;
    }

    /* Transactions, in file order (sorted by date), placed within the day. */
    for (size_t i = 0; i < t.ntr; i++) {
        const trans_row_t *r = &t.tr[i];
        account_row_t *a = &t.acc[r->account];
        snprintf(cid, sizeof cid, "B%ld", a->owner_client ? a->owner_client : -r->account);
        snprintf(eid, sizeof eid, "berka-t%ld", r->trans_id);
        snprintf(pid, sizeof pid, "ACC%ld", r->account);
        snprintf(bank, sizeof bank, "%s", r->bank);
        memset(&ev, 0, sizeof ev);
        ev.event_id = vane_str_c(eid);
        ev.customer_id = vane_str_c(cid);
        ev.event_time_ms = place(a, r->day);
        ev.channel = r->channel;
        ev.type = VANE_EVENT_TXN;
        ev.txn.kind = r->kind;
        ev.txn.category = VANE_CAT_DEMAND_DEPOSIT;
        ev.txn.product_id = vane_str_c(pid);
        ev.txn.amount_minor = r->amount;
        ev.txn.currency = vane_str_c("CZK");
        ev.txn.has_balance_after = true;
        ev.txn.balance_after_minor = r->balance;
        if (r->kind == VANE_TXN_TRANSFER_IN || r->kind == VANE_TXN_TRANSFER_OUT ||
            r->kind == VANE_TXN_PAYMENT)
            ev.txn.counterparty_bank = vane_str_c(bank);
        st->by_kind[r->kind]++;
        if (ev.event_time_ms < st->first_ms)
            st->first_ms = ev.event_time_ms;
        if (ev.event_time_ms > st->last_ms)
            st->last_ms = ev.event_time_ms;
        if ((rc = emit(ud, &ev)) < 0)
            goto done;
    }

    /* Loans and cards: product take-ups. */
    char path[600], line[512];
    FILE *f = open_table(dir, "loan.asc", path, sizeof path, diag);
    if (!f) {
        rc = VANE_EIO;
        goto done;
    }
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        if (++lineno == 1)
            continue;
        char *fl[MAX_FIELDS];
        long loan, account;
        if (split(line, fl, MAX_FIELDS) < 7 || parse_long(fl[0], &loan) ||
            parse_long(fl[1], &account) || account <= 0 || account >= t.acc_cap) {
            fprintf(diag, "%s:%d: bad loan row\n", path, lineno);
            continue;
        }
        account_row_t *a = &t.acc[account];
        int64_t day = parse_day(fl[2]);
        int64_t amount = parse_money(fl[3]);
        if (!a->has_txn || day < 0 || amount < 0 || (!opts->all_dates && day > last_day))
            continue;
        snprintf(cid, sizeof cid, "B%ld", a->owner_client ? a->owner_client : -account);
        snprintf(eid, sizeof eid, "berka-l%ld", loan);
        snprintf(pid, sizeof pid, "LOAN%ld", loan);
        memset(&ev, 0, sizeof ev);
        ev.event_id = vane_str_c(eid);
        ev.customer_id = vane_str_c(cid);
        ev.event_time_ms = day * DAY_MS + 12 * 3600 * 1000LL;
        ev.channel = VANE_CHANNEL_BRANCH;
        ev.type = VANE_EVENT_TXN;
        ev.txn.kind = VANE_TXN_PURCHASE;
        ev.txn.category = VANE_CAT_LOAN;
        ev.txn.product_id = vane_str_c(pid);
        ev.txn.amount_minor = amount;
        ev.txn.currency = vane_str_c("CZK");
        st->loans++;
        if ((rc = emit(ud, &ev)) < 0) {
            fclose(f);
            goto done;
        }
    }
    fclose(f);

    f = open_table(dir, "card.asc", path, sizeof path, diag);
    if (!f) {
        rc = VANE_EIO;
        goto done;
    }
    lineno = 0;
    while (fgets(line, sizeof line, f)) {
        if (++lineno == 1)
            continue;
        char *fl[MAX_FIELDS];
        long card, disp;
        if (split(line, fl, MAX_FIELDS) < 4 || parse_long(fl[0], &card) ||
            parse_long(fl[1], &disp) || disp <= 0 || disp >= t.disp_cap ||
            t.disp_account[disp] <= 0) {
            fprintf(diag, "%s:%d: bad card row\n", path, lineno);
            continue;
        }
        long account = t.disp_account[disp];
        account_row_t *a = &t.acc[account];
        int64_t day = parse_day(fl[3]);
        if (!a->has_txn || day < 0 || (!opts->all_dates && day > last_day))
            continue;
        snprintf(cid, sizeof cid, "B%ld", a->owner_client ? a->owner_client : -account);
        snprintf(eid, sizeof eid, "berka-c%ld", card);
        snprintf(pid, sizeof pid, "CARD%ld-%s", card, fl[2]);
        memset(&ev, 0, sizeof ev);
        ev.event_id = vane_str_c(eid);
        ev.customer_id = vane_str_c(cid);
        ev.event_time_ms = day * DAY_MS + 12 * 3600 * 1000LL + 60 * 1000LL;
        ev.channel = VANE_CHANNEL_BRANCH;
        ev.type = VANE_EVENT_TXN;
        ev.txn.kind = VANE_TXN_PURCHASE;
        ev.txn.category = VANE_CAT_CREDIT_CARD;
        ev.txn.product_id = vane_str_c(pid);
        ev.txn.amount_minor = 0;
        ev.txn.currency = vane_str_c("CZK");
        st->cards++;
        if ((rc = emit(ud, &ev)) < 0) {
            fclose(f);
            goto done;
        }
    }
    fclose(f);
    rc = VANE_OK;
done:
    free(t.acc);
    free(t.disp_account);
    free(t.tr);
    return rc;
}
