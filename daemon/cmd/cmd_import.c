/* cmd_import.c - `vane import berka DIR` and `vane import bpic2012 FILE`: real public datasets
 * converted to the event contract, sorted by event time, as JSON lines or length-delimited
 * protobuf (the input `vane replay` reads). The mappings are documented in berka.h (Berka) and
 * below (BPIC 2012), and in docs/real-data.md.
 *
 * BPI Challenge 2012 (loan applications, one case = one application; there is no customer id
 * across cases, so customer_id = "P<case_id>"). Only COMPLETE lifecycle events are used:
 *   A_SUBMITTED    Profile (since = REG_DATE, segment mass) + PRODUCT_VIEW of LOAN
 *   A_ACTIVATED    PURCHASE of LOAN, amount = AMOUNT_REQ x 100 (currency EUR)
 *   A_CANCELLED    SERVICE_CANCEL, service "loan_application"
 *   O_CANCELLED    SERVICE_CANCEL, service "loan_offer", unless the same case creates another
 *                  offer afterwards (O_CREATED): that is the bank replacing its own offer (a
 *                  re-quote, typically seconds later), not the customer cancelling
 *   everything else (offers sent, declines by the bank, call-centre work items) has no
 *   counterpart in the contract and is counted as skipped.
 */
#include "berka.h"
#include "cmd.h"

#include "../engine/codec.h"
#include "../util/buf.h"
#include "../util/err.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char cmd_import_usage[] =
    "usage: vane import berka [--out FILE] [--format json|protobuf] [--max-accounts N]\n"
    "                         [--all-dates] DIR\n"
    "       vane import bpic2012 [--out FILE] [--format json|protobuf] FILE.csv[.gz]\n"
    "\n"
    "Convert a real public dataset into vane events sorted by event time (default: JSON lines\n"
    "on stdout), ready for `vane replay`.\n"
    "  berka DIR       the PKDD'99 Berka tables (account, disp, loan, card, trans.asc or\n"
    "                  trans.partial.asc); --max-accounts keeps the first N accounts seen in\n"
    "                  the transactions; --all-dates keeps loans and cards after the last\n"
    "                  transaction date\n"
    "  bpic2012 FILE   BPI Challenge 2012 flattened CSV (case_id,amount_req,reg_date,\n"
    "                  event_seq,activity,lifecycle,timestamp,resource); .gz is read through\n"
    "                  gzip -dc\n"
    "A mapping summary goes to stderr. docs/real-data.md documents the mappings.\n";

/* ---- the sorting sink ---------------------------------------------------------------------- */

typedef struct rec {
    int64_t time;
    uint64_t seq;
    size_t off;
    uint32_t len;
} rec_t;

typedef struct sink {
    vane_format_t fmt;
    vane_buf_t arena; /* every encoded event, back to back */
    rec_t *recs;
    size_t n, cap;
    uint64_t invalid; /* events our own converter built that fail the contract (a bug) */
} sink_t;

static int sink_emit(void *ud, const vane_event_t *ev)
{
    sink_t *s = ud;
    vane_decode_error_t err;
    if (vane_codec_validate_event(ev, &err) != VANE_OK) {
        if (s->invalid++ < 5)
            fprintf(stderr, "vane import: dropping invalid event %.*s: %s\n", (int)ev->event_id.len,
                    ev->event_id.p ? ev->event_id.p : "", err.msg);
        return VANE_OK;
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 65536;
        rec_t *nr = realloc(s->recs, ncap * sizeof *nr);
        if (!nr)
            return VANE_ENOMEM;
        s->recs = nr;
        s->cap = ncap;
    }
    size_t off = s->arena.len;
    int rc = vane_codec_encode_event(ev, s->fmt, &s->arena);
    if (rc != VANE_OK)
        return rc;
    size_t i = s->n++;
    s->recs[i] = (rec_t){ev->event_time_ms, i, off, (uint32_t)(s->arena.len - off)};
    return VANE_OK;
}

static int rec_cmp(const void *a, const void *b)
{
    const rec_t *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int sink_write(sink_t *s, FILE *out)
{
    qsort(s->recs, s->n, sizeof *s->recs, rec_cmp);
    vane_buf_t frame = VANE_BUF_INIT;
    for (size_t i = 0; i < s->n; i++) {
        const rec_t *r = &s->recs[i];
        if (s->fmt == VANE_FORMAT_PROTOBUF) {
            vane_buf_reset(&frame);
            vane_buf_varint(&frame, r->len);
            fwrite(frame.data, 1, frame.len, out);
        }
        fwrite(s->arena.data + r->off, 1, r->len, out);
        if (s->fmt == VANE_FORMAT_JSON)
            fputc('\n', out);
    }
    vane_buf_free(&frame);
    return fflush(out) == 0 && !ferror(out) ? VANE_OK : VANE_EIO;
}

static void sink_free(sink_t *s)
{
    vane_buf_free(&s->arena);
    free(s->recs);
}

static void fmt_day(int64_t ms, char *buf, size_t n)
{
    if (ms == INT64_MAX || ms == INT64_MIN) {
        snprintf(buf, n, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d", &tm);
}

/* ---- BPIC 2012 --------------------------------------------------------------------------------
 */

/* "2011-10-01T00:38:44.546+02:00" -> epoch ms, or INT64_MIN. */
static int64_t parse_iso(const char *s)
{
    int y, mo, d, h, mi, sec;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
        return INT64_MIN;
    const char *p = s + 19;
    int ms = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3) {
                ms = ms * 10 + (*p - '0');
                digits++;
            }
            p++;
        }
        while (digits++ < 3)
            ms *= 10;
    }
    int off_min = 0;
    if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2)
            return INT64_MIN;
        off_min = (oh * 60 + om) * (*p == '-' ? -1 : 1);
    } else if (*p != 'Z' && *p != '\0') {
        return INT64_MIN;
    }
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    return ((int64_t)t - (int64_t)off_min * 60) * 1000 + ms;
}

/* Split a CSV line (RFC 4180 quoting) in place into at most max fields. */
static int csv_split(char *line, char **f, int max)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    int k = 0;
    char *p = line;
    while (k < max) {
        if (*p == '"') {
            char *w = ++p;
            f[k++] = w;
            for (;;) {
                if (*p == '\0')
                    break;
                if (*p == '"') {
                    if (p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            *w = '\0';
            while (*p && *p != ',')
                p++;
        } else {
            f[k++] = p;
            while (*p && *p != ',')
                p++;
        }
        if (*p != ',')
            break;
        *p++ = '\0';
    }
    return k;
}

static FILE *open_maybe_gz(const char *path, pid_t *child)
{
    *child = -1;
    size_t n = strlen(path);
    if (strcmp(path, "-") == 0)
        return stdin;
    if (n < 3 || strcmp(path + n - 3, ".gz") != 0)
        return fopen(path, "r");
    int fds[2];
    if (pipe(fds) != 0)
        return NULL;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execlp("gzip", "gzip", "-dc", "--", path, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    *child = pid;
    return fdopen(fds[0], "r");
}

static int emit_offer_cancel(sink_t *s, const char *cid, const char *eid, const char *pid,
                             int64_t t)
{
    vane_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.event_id = vane_str_c(eid);
    ev.customer_id = vane_str_c(cid);
    ev.event_time_ms = t;
    ev.channel = VANE_CHANNEL_WEB;
    ev.type = VANE_EVENT_ENGAGEMENT;
    ev.eng.kind = VANE_ENG_SERVICE_CANCEL;
    ev.eng.service = vane_str_c("loan_offer");
    ev.eng.product_id = vane_str_c(pid);
    return sink_emit(s, &ev);
}

static int import_bpic(const char *path, sink_t *s)
{
    pid_t child;
    FILE *f = open_maybe_gz(path, &child);
    if (!f) {
        fprintf(stderr, "vane import: %s: %s\n", path, strerror(errno));
        return VANE_EIO;
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    uint64_t rows = 0, used = 0, skipped = 0, bad = 0, cases = 0;
    uint64_t n_view = 0, n_buy = 0, n_cancel = 0;
    int rc = VANE_OK;
    char cid[48], eid[64], pid[48];
    /* An O_CANCELLED waits here until we know whether its case creates a new offer. */
    char pend_cid[48] = "", pend_eid[64], pend_pid[48];
    int64_t pend_t = 0;
    uint64_t n_replaced = 0;
    while (getline(&line, &cap, f) >= 0) {
        if (++lineno == 1)
            continue;
        rows++;
        char *fl[8];
        if (csv_split(line, fl, 8) < 7) {
            if (bad++ < 5)
                fprintf(stderr, "%s:%d: bad row\n", path, lineno);
            continue;
        }
        const char *caseid = fl[0], *amount = fl[1], *reg = fl[2], *seq = fl[3], *act = fl[4],
                   *life = fl[5], *ts = fl[6];
        if (strcmp(life, "COMPLETE") != 0) {
            skipped++;
            continue;
        }
        int64_t t = parse_iso(ts);
        if (t == INT64_MIN) {
            if (bad++ < 5)
                fprintf(stderr, "%s:%d: bad timestamp '%s'\n", path, lineno, ts);
            continue;
        }
        snprintf(cid, sizeof cid, "P%s", caseid);
        if (pend_cid[0] && (strcmp(pend_cid, cid) != 0 || strcmp(act, "O_CREATED") == 0)) {
            if (strcmp(pend_cid, cid) == 0) {
                n_replaced++; /* re-quoted: the bank replaced its offer */
                n_cancel--;
                used--;
            } else if ((rc = emit_offer_cancel(s, pend_cid, pend_eid, pend_pid, pend_t)) < 0) {
                break;
            }
            pend_cid[0] = '\0';
        }
        snprintf(eid, sizeof eid, "bpic-%s-%s", caseid, seq);
        snprintf(pid, sizeof pid, "APP%s", caseid);
        vane_event_t ev;
        memset(&ev, 0, sizeof ev);
        ev.event_id = vane_str_c(eid);
        ev.customer_id = vane_str_c(cid);
        ev.event_time_ms = t;
        ev.channel = VANE_CHANNEL_WEB;
        if (strcmp(act, "A_SUBMITTED") == 0) {
            int64_t since = parse_iso(reg);
            char peid[72];
            snprintf(peid, sizeof peid, "%s-profile", eid);
            vane_event_t pe = ev;
            pe.event_id = vane_str_c(peid);
            pe.type = VANE_EVENT_PROFILE;
            pe.profile.segment = vane_str_c("mass");
            pe.profile.since_ms = since == INT64_MIN ? t : since;
            pe.profile.tier = vane_str_c("branch");
            if ((rc = sink_emit(s, &pe)) < 0)
                break;
            ev.type = VANE_EVENT_ENGAGEMENT;
            ev.eng.kind = VANE_ENG_PRODUCT_VIEW;
            ev.eng.category = VANE_CAT_LOAN;
            ev.eng.product_id = vane_str_c(pid);
            cases++;
            n_view++;
        } else if (strcmp(act, "A_ACTIVATED") == 0) {
            char *end;
            double a = strtod(amount, &end);
            ev.type = VANE_EVENT_TXN;
            ev.txn.kind = VANE_TXN_PURCHASE;
            ev.txn.category = VANE_CAT_LOAN;
            ev.txn.product_id = vane_str_c(pid);
            ev.txn.amount_minor = end != amount && a > 0 ? (int64_t)(a * 100.0 + 0.5) : 0;
            ev.txn.currency = vane_str_c("EUR");
            n_buy++;
        } else if (strcmp(act, "O_CANCELLED") == 0) {
            if (pend_cid[0] &&
                (rc = emit_offer_cancel(s, pend_cid, pend_eid, pend_pid, pend_t)) < 0)
                break;
            snprintf(pend_cid, sizeof pend_cid, "%s", cid);
            snprintf(pend_eid, sizeof pend_eid, "%s", eid);
            snprintf(pend_pid, sizeof pend_pid, "%s", pid);
            pend_t = t;
            n_cancel++;
            used++;
            continue;
        } else if (strcmp(act, "A_CANCELLED") == 0) {
            ev.type = VANE_EVENT_ENGAGEMENT;
            ev.eng.kind = VANE_ENG_SERVICE_CANCEL;
            ev.eng.service = vane_str_c("loan_application");
            ev.eng.product_id = vane_str_c(pid);
            n_cancel++;
        } else {
            skipped++;
            continue;
        }
        if ((rc = sink_emit(s, &ev)) < 0)
            break;
        used++;
    }
    if (rc >= 0 && pend_cid[0])
        rc = emit_offer_cancel(s, pend_cid, pend_eid, pend_pid, pend_t);
    free(line);
    if (f != stdin)
        fclose(f);
    if (child > 0) {
        int status;
        waitpid(child, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "vane import: gzip -dc %s failed\n", path);
            rc = VANE_EIO;
        }
    }
    fprintf(stderr,
            "vane import bpic2012: %" PRIu64 " rows, %" PRIu64 " cases; mapped %" PRIu64
            " (PRODUCT_VIEW %" PRIu64 ", PURCHASE %" PRIu64 ", SERVICE_CANCEL %" PRIu64
            ") + %" PRIu64 " profiles; skipped %" PRIu64 " (no counterpart) + %" PRIu64
            " O_CANCELLED re-quotes, %" PRIu64 " bad\n",
            rows, cases, used, n_view, n_buy, n_cancel, cases, skipped, n_replaced, bad);
    return rc;
}

/* ---- the command ------------------------------------------------------------------------------
 */

int cmd_import(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"max-accounts", required_argument, NULL, 'm'},
        {"all-dates", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2)
        return vane_command_usage_error("import", "expected 'berka DIR' or 'bpic2012 FILE'");
    const char *what = argv[1];
    if (strcmp(what, "--help") == 0 || strcmp(what, "help") == 0) {
        fputs(cmd_import_usage, stdout);
        return 0;
    }
    const char *out_path = NULL;
    sink_t s;
    memset(&s, 0, sizeof s);
    s.fmt = VANE_FORMAT_JSON;
    vane_berka_opts_t bopts = {0};
    optind = 1;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out_path = optarg;
            break;
        case 'f':
            if (vane_format_parse(optarg, &s.fmt) != VANE_OK || s.fmt == VANE_FORMAT_AUTO)
                return vane_command_usage_error("import", "bad --format '%s'", optarg);
            break;
        case 'm': {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (*end || v <= 0)
                return vane_command_usage_error("import", "bad --max-accounts '%s'", optarg);
            bopts.max_accounts = v;
            break;
        }
        case 'a':
            bopts.all_dates = true;
            break;
        case 'h':
            fputs(cmd_import_usage, stdout);
            return 0;
        default:
            return vane_command_usage_error("import", NULL);
        }
    }
    if (optind != argc - 2)
        return vane_command_usage_error("import", "expected exactly one DIR or FILE");
    const char *src = argv[optind + 1];
    int rc;
    if (strcmp(what, "berka") == 0) {
        vane_berka_stats_t st;
        rc = vane_berka_import(src, &bopts, sink_emit, &s, &st, stderr);
        if (rc == VANE_OK) {
            char d0[16], d1[16];
            fmt_day(st.first_ms, d0, sizeof d0);
            fmt_day(st.last_ms, d1, sizeof d1);
            fprintf(stderr,
                    "vane import berka: %s: %" PRIu64 " transactions (%" PRIu64
                    " skipped) on %" PRIu64 " of %" PRIu64 " accounts, %s .. %s\n",
                    st.trans_file, st.trans_rows, st.trans_skipped, st.accounts_with_txn,
                    st.accounts, d0, d1);
            fprintf(stderr, "  events: %" PRIu64 " profiles, %" PRIu64 " loans, %" PRIu64 " cards;",
                    st.profiles, st.loans, st.cards);
            for (int k = 1; k < VANE_TXN__COUNT; k++) {
                if (st.by_kind[k])
                    fprintf(stderr, " %s %" PRIu64, vane_txn_kind_name(k), st.by_kind[k]);
            }
            fputc('\n', stderr);
        }
    } else if (strcmp(what, "bpic2012") == 0) {
        rc = import_bpic(src, &s);
    } else {
        sink_free(&s);
        return vane_command_usage_error("import", "unknown dataset '%s'", what);
    }
    if (rc == VANE_OK) {
        FILE *out = stdout;
        if (out_path && !(out = fopen(out_path, "wb"))) {
            fprintf(stderr, "vane import: %s: %s\n", out_path, strerror(errno));
            rc = VANE_EIO;
        } else {
            rc = sink_write(&s, out);
            if (out != stdout && fclose(out) != 0)
                rc = VANE_EIO;
            if (rc != VANE_OK)
                fprintf(stderr, "vane import: write failed\n");
        }
    } else {
        fprintf(stderr, "vane import: %s\n", vane_strerror(rc));
    }
    if (s.invalid)
        fprintf(stderr, "vane import: %" PRIu64 " events failed the contract and were dropped\n",
                s.invalid);
    fprintf(stderr, "vane import: %zu events written\n", s.n);
    sink_free(&s);
    return rc == VANE_OK ? 0 : 1;
}
