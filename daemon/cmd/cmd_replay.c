/* cmd_replay.c - `vane replay`: recorded events through the engine, alerts out (backtesting).
 *
 * Reads JSON lines or length-delimited protobuf (replay_input.h), drives the engine exactly as
 * the daemon does (replay.h: watermark, absence timers), prints alerts as JSON lines on stdout
 * and a summary per kind on stderr, with a progress bar when stderr is a terminal. Messages
 * that fail decoding are counted by reason and skipped.
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

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char cmd_replay_usage[] =
    "usage: vane replay [--rules FILE]... [--format auto|json|protobuf] [OPTIONS] EVENTS\n"
    "\n"
    "Run recorded events (JSON lines or length-delimited protobuf; EVENTS '-' = stdin) through\n"
    "the detection engine, in event time, and print the alerts as JSON lines on stdout. This is\n"
    "how a rule change is backtested. A summary per alert kind goes to stderr. Every customer's\n"
    "state stays in memory, packed while not in use: about 300 bytes per customer seen a few\n"
    "times (1 M customers in ~250 MB), up to ~2 KB for very active ones.\n"
    "\n"
    "  --rules FILE              rules file; may repeat (loaded in order). Default: the\n"
    "                            shipped rules/default.yaml\n"
    "  --format F                auto (default: '{' first = JSON lines), json, protobuf\n"
    "  --lateness DUR            allowed lateness: watermark = max event time - DUR (default:\n"
    "                            the lateness in the rules' settings, as the daemon)\n"
    "  --flush-timers-until T    at end of input, advance the watermark to T and fire the timers\n"
    "                            due by then: epoch ms, or +DUR after the last event time\n"
    "  --wall-clock              detected_at_ms from the real clock (default: the event time,\n"
    "                            so output is deterministic)\n"
    "  --include-shadow          also print alerts of rules in mode: shadow\n"
    "  --stats-json FILE         write counts per kind, events, rejects and ns/event as JSON\n"
    "  --output FILE             write alerts to FILE instead of stdout\n"
    "  --max-bytes N             largest message accepted (default 1048576)\n"
    "  --no-progress             no progress bar even on a terminal\n"
    "  --quiet                   no summary on stderr\n"
    "\n"
    "Exit: 0 done (rejected messages are reported, not fatal), 1 cannot read input or rules,\n"
    "2 bad usage.\n";

typedef struct replay_out {
    FILE *f;
    vane_buf_t buf;
    int write_error;
} replay_out_t;

static void on_alert(void *ud, const vane_alert_t *a)
{
    replay_out_t *out = ud;
    vane_buf_reset(&out->buf);
    if (vane_codec_encode_alert(a, VANE_FORMAT_JSON, &out->buf) != VANE_OK) {
        out->write_error = 1;
        return;
    }
    vane_buf_putc(&out->buf, '\n');
    if (fwrite(out->buf.data, 1, out->buf.len, out->f) != out->buf.len)
        out->write_error = 1;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void draw_progress(const vane_replay_input_t *in, const vane_replay_stats_t *st)
{
    int64_t size = vane_replay_input_size(in);
    uint64_t off = vane_replay_input_offset(in);
    if (size > 0) {
        double frac = (double)off / (double)size;
        if (frac > 1)
            frac = 1;
        int filled = (int)(frac * 30);
        char bar[31];
        for (int i = 0; i < 30; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr,
                "\r[%s] %5.1f%%  %" PRIu64 " events  %" PRIu64 " alerts  %" PRIu64 " rejected ",
                bar, frac * 100, st->events, st->alerts, st->rejects);
    } else {
        fprintf(stderr, "\r%" PRIu64 " events  %" PRIu64 " alerts  %" PRIu64 " rejected ",
                st->events, st->alerts, st->rejects);
    }
    fflush(stderr);
}

static void fmt_time(int64_t ms, char *buf, size_t n)
{
    if (ms == INT64_MAX || ms == INT64_MIN) {
        snprintf(buf, n, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_summary(const vane_replay_stats_t *st, const vane_engine_stats_t *es,
                          int64_t elapsed_ns)
{
    char t0[32], t1[32];
    fmt_time(st->min_event_ms, t0, sizeof t0);
    fmt_time(st->max_event_ms, t1, sizeof t1);
    fprintf(stderr,
            "vane replay: %" PRIu64 " messages, %" PRIu64 " events (%" PRIu64 " applied, %" PRIu64
            " duplicate, %" PRIu64 " late), %" PRIu64 " rejected; %" PRIu64
            " customers; event time %s .. %s\n",
            st->messages, st->events, st->applied, st->duplicates, st->late, st->rejects,
            st->customers, t0, t1);
    if (st->rejects > 0) {
        fprintf(stderr, "  rejected by reason:\n");
        for (int r = 1; r < VANE_REJECT__COUNT; r++) {
            if (st->reject[r])
                fprintf(stderr, "    %-18s %8" PRIu64 "  e.g. %s\n", vane_reject_name(r),
                        st->reject[r], st->first_reject_msg[r]);
        }
    }
    fprintf(stderr, "  alerts: %" PRIu64 " (shadow %" PRIu64 ", dropped %" PRIu64 ")\n", st->alerts,
            st->shadow, st->dropped);
    for (int k = 1; k < VANE_ALERT__COUNT; k++)
        fprintf(stderr, "    %-20s %8" PRIu64 "\n", vane_alert_kind_name(k), st->by_kind[k]);
    fprintf(stderr,
            "  timers: %" PRIu64 " calls, %" PRIu64 " alerts%s; engine suppressed %" PRIu64
            " by cooldown\n",
            st->timer_calls, st->timer_alerts, st->stuck_timers ? " (some timers stuck)" : "",
            es ? es->suppressed : 0);
    double per = st->messages ? (double)elapsed_ns / (double)st->messages : 0;
    fprintf(stderr, "  time: %.3f s, %.0f ns/event\n", (double)elapsed_ns / 1e9, per);
}

static int write_stats_json(const char *path, const vane_replay_stats_t *st,
                            const vane_engine_stats_t *es, int64_t elapsed_ns)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "vane replay: %s: %s\n", path, strerror(errno));
        return VANE_EIO;
    }
    fprintf(f,
            "{\"messages\":%" PRIu64 ",\"events\":%" PRIu64 ",\"applied\":%" PRIu64
            ",\"duplicates\":%" PRIu64 ",\"late\":%" PRIu64 ",\"customers\":%" PRIu64
            ",\"rejected\":%" PRIu64 ",\"rejects\":{",
            st->messages, st->events, st->applied, st->duplicates, st->late, st->customers,
            st->rejects);
    int first = 1;
    for (int r = 1; r < VANE_REJECT__COUNT; r++) {
        if (!st->reject[r])
            continue;
        fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", vane_reject_name(r), st->reject[r]);
        first = 0;
    }
    fprintf(f, "},\"alerts_total\":%" PRIu64 ",\"alerts\":{", st->alerts);
    for (int k = 1; k < VANE_ALERT__COUNT; k++)
        fprintf(f, "%s\"%s\":%" PRIu64, k == 1 ? "" : ",", vane_alert_kind_name(k), st->by_kind[k]);
    double per = st->messages ? (double)elapsed_ns / (double)st->messages : 0;
    double eps = elapsed_ns > 0 ? (double)st->messages * 1e9 / (double)elapsed_ns : 0;
    fprintf(f,
            "},\"shadow\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"suppressed\":%" PRIu64
            ",\"timer_calls\":%" PRIu64 ",\"min_event_time_ms\":%" PRId64
            ",\"max_event_time_ms\":%" PRId64 ",\"elapsed_ns\":%" PRId64
            ",\"ns_per_event\":%.1f,\"events_per_sec\":%.0f}\n",
            st->shadow, st->dropped, es ? es->suppressed : 0, st->timer_calls,
            st->min_event_ms == INT64_MAX ? 0 : st->min_event_ms,
            st->max_event_ms == INT64_MIN ? 0 : st->max_event_ms, elapsed_ns, per, eps);
    if (fclose(f) != 0) {
        fprintf(stderr, "vane replay: %s: write failed\n", path);
        return VANE_EIO;
    }
    return VANE_OK;
}

/* "+DUR" after the last event, or absolute epoch ms. */
static int parse_until(const char *s, int *relative, int64_t *out)
{
    if (s[0] == '+') {
        *relative = 1;
        return vane_duration_parse(s + 1, out);
    }
    *relative = 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return VANE_EPARSE;
    *out = v;
    return VANE_OK;
}

enum {
    OPT_RULES = 256,
    OPT_FORMAT,
    OPT_LATENESS,
    OPT_FLUSH,
    OPT_WALL,
    OPT_SHADOW,
    OPT_STATS,
    OPT_OUTPUT,
    OPT_MAXBYTES,
    OPT_NOPROGRESS,
    OPT_QUIET,
    OPT_HELP,
};

int cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"rules", required_argument, NULL, OPT_RULES},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"lateness", required_argument, NULL, OPT_LATENESS},
        {"flush-timers-until", required_argument, NULL, OPT_FLUSH},
        {"wall-clock", no_argument, NULL, OPT_WALL},
        {"include-shadow", no_argument, NULL, OPT_SHADOW},
        {"stats-json", required_argument, NULL, OPT_STATS},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"max-bytes", required_argument, NULL, OPT_MAXBYTES},
        {"no-progress", no_argument, NULL, OPT_NOPROGRESS},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *rules[64];
    size_t n_rules = 0;
    vane_format_t fmt = VANE_FORMAT_AUTO;
    vane_replay_opts_t opts = {.lateness_ms = -1, .max_bytes = 1 << 20};
    const char *stats_path = NULL;
    const char *out_path = NULL;
    const char *flush_arg = NULL;
    int progress = 1;
    int quiet = 0;

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_RULES:
            if (n_rules == sizeof rules / sizeof rules[0])
                return vane_command_usage_error("replay", "too many --rules");
            rules[n_rules++] = optarg;
            break;
        case OPT_FORMAT:
            if (vane_format_parse(optarg, &fmt) != VANE_OK)
                return vane_command_usage_error("replay", "bad --format '%s'", optarg);
            break;
        case OPT_LATENESS:
            if (vane_duration_parse(optarg, &opts.lateness_ms) != VANE_OK)
                return vane_command_usage_error("replay", "bad --lateness '%s'", optarg);
            break;
        case OPT_FLUSH:
            flush_arg = optarg;
            break;
        case OPT_WALL:
            opts.wall_clock = true;
            break;
        case OPT_SHADOW:
            opts.include_shadow = true;
            break;
        case OPT_STATS:
            stats_path = optarg;
            break;
        case OPT_OUTPUT:
            out_path = optarg;
            break;
        case OPT_MAXBYTES: {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*end || v == 0 || v > VANE_DECODE_MAX_BYTES)
                return vane_command_usage_error("replay", "bad --max-bytes '%s'", optarg);
            opts.max_bytes = (size_t)v;
            break;
        }
        case OPT_NOPROGRESS:
            progress = 0;
            break;
        case OPT_QUIET:
            quiet = 1;
            progress = 0;
            break;
        case OPT_HELP:
            fputs(cmd_replay_usage, stdout);
            return 0;
        default:
            return vane_command_usage_error("replay", NULL);
        }
    }
    if (optind != argc - 1)
        return vane_command_usage_error("replay", "expected exactly one EVENTS file");
    const char *events_path = argv[optind];
    int flush_relative = 0;
    int64_t flush_ms = 0;
    if (flush_arg && parse_until(flush_arg, &flush_relative, &flush_ms) != VANE_OK)
        return vane_command_usage_error("replay", "bad --flush-timers-until '%s'", flush_arg);
    if (!isatty(STDERR_FILENO))
        progress = 0;

    int rc = 1;
    vane_replay_input_t *in = NULL;
    vane_replay_t *rp = NULL;
    replay_out_t out = {.f = stdout};
    vane_ruleset_t *rs = vane_replay_rules_load(rules, n_rules, stderr, quiet);
    if (!rs)
        goto done;
    if (opts.lateness_ms < 0)
        opts.lateness_ms = vane_ruleset_lateness(rs);
    char errbuf[256];
    in = vane_replay_input_open(events_path, fmt, opts.max_bytes, errbuf, sizeof errbuf);
    if (!in) {
        fprintf(stderr, "vane replay: %s\n", errbuf);
        goto done;
    }
    if (out_path) {
        out.f = fopen(out_path, "w");
        if (!out.f) {
            fprintf(stderr, "vane replay: %s: %s\n", out_path, strerror(errno));
            out.f = NULL;
            goto done;
        }
    }
    rp = vane_replay_new(rs, &opts, on_alert, &out);
    if (!rp) {
        fprintf(stderr, "vane replay: out of memory\n");
        goto done;
    }
    vane_format_t in_fmt = vane_replay_input_format(in);
    /* A file is read in batches of events (lookahead, replay.h); a pipe event by event, so a
     * live stream's alerts are not held back waiting for the next batch. */
    struct stat sb;
    bool batched =
        strcmp(events_path, "-") != 0 && stat(events_path, &sb) == 0 && S_ISREG(sb.st_mode);
    int64_t t0 = mono_ns();
    int64_t last_draw = t0;
    for (;;) {
        const char *msg;
        size_t len;
        int r = vane_replay_input_next(in, &msg, &len);
        if (r == 0)
            break;
        uint64_t rec = vane_replay_input_record(in);
        if (r == VANE_ETOOBIG) {
            vane_replay_reject(rp, VANE_REJECT_TOO_LARGE, rec, "message over --max-bytes");
            continue;
        }
        if (r == VANE_ETRUNC) {
            vane_replay_reject(rp, VANE_REJECT_PB_MALFORMED, rec,
                               "input ends inside a length-delimited message");
            continue;
        }
        if (r < 0) {
            fprintf(stderr, "vane replay: %s: read error\n", events_path);
            goto done;
        }
        int fr = batched ? vane_replay_feed_queued(rp, msg, len, in_fmt, rec)
                         : vane_replay_feed(rp, msg, len, in_fmt, rec);
        if (fr == VANE_ENOMEM) {
            fprintf(stderr, "vane replay: out of memory\n");
            goto done;
        }
        if (progress && (vane_replay_stats(rp)->messages & 4095) == 0) {
            int64_t now = mono_ns();
            if (now - last_draw > 100 * 1000000LL) {
                draw_progress(in, vane_replay_stats(rp));
                last_draw = now;
            }
        }
    }
    if (vane_replay_drain(rp) != VANE_OK) {
        fprintf(stderr, "vane replay: out of memory\n");
        goto done;
    }
    if (flush_arg) {
        const vane_replay_stats_t *st = vane_replay_stats(rp);
        int64_t until = flush_ms;
        if (flush_relative)
            until = (st->max_event_ms == INT64_MIN ? 0 : st->max_event_ms) + flush_ms;
        if (vane_replay_flush(rp, until) != VANE_OK) {
            fprintf(stderr, "vane replay: out of memory\n");
            goto done;
        }
    }
    int64_t elapsed = mono_ns() - t0;
    if (progress) {
        draw_progress(in, vane_replay_stats(rp));
        fputc('\n', stderr);
    }
    if (fflush(out.f) != 0 || out.write_error) {
        fprintf(stderr, "vane replay: writing alerts failed\n");
        goto done;
    }
    if (!quiet)
        print_summary(vane_replay_stats(rp), vane_replay_engine_stats(rp), elapsed);
    if (stats_path && write_stats_json(stats_path, vane_replay_stats(rp),
                                       vane_replay_engine_stats(rp), elapsed) != VANE_OK)
        goto done;
    rc = 0;
done:
    vane_replay_free(rp);
    vane_replay_input_close(in);
    if (out.f && out.f != stdout)
        fclose(out.f);
    vane_buf_free(&out.buf);
    vane_replay_rules_free(rs);
    return rc;
}
