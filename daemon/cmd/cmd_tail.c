/* cmd_tail.c - `vane tail`: follow the alert topic and print one readable line per alert.
 *
 * Without --group the consumer assigns itself every partition of the topic (from the start
 * with --from-beginning, else from the end) and commits nothing; with --group it joins that
 * consumer group (subscribe; auto.offset.reset follows --from-beginning). Each message's
 * format comes from its content-type header, else --format, else a sniff of the bytes, and
 * it is decoded with vane_codec_decode_alert(). Colour (by severity) only when stdout is a
 * terminal. The poll loop blocks in rd_kafka_consumer_poll() for up to 200 ms at a time, so
 * SIGINT/SIGTERM and --timeout are noticed promptly without spinning.
 */
#include "cmd.h"

#include "engine/codec.h"
#include "util/buf.h"
#include "util/err.h"

#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char cmd_tail_usage[] =
    "usage: vane tail --brokers B [OPTIONS]\n"
    "\n"
    "Consume the alert topic and print one line per alert: event time (UTC), customer, kind,\n"
    "severity, score and summary, coloured by severity when stdout is a terminal.\n"
    "\n"
    "options:\n"
    "  --brokers B          Kafka bootstrap servers (required)\n"
    "  --topic T            topic (default churn.alerts)\n"
    "  --group G            join consumer group G (commits offsets); default: no group, read\n"
    "                       every partition directly and commit nothing\n"
    "  --from-beginning     start at the oldest retained message (default: only new ones)\n"
    "  --format F           auto | json | protobuf: how to decode a message that has no\n"
    "                       content-type header (default auto: sniff the bytes)\n"
    "  --json               print each alert as one JSON object (the raw value when it is JSON)\n"
    "  --count N            exit 0 after N alerts\n"
    "  --timeout S          stop after S seconds in total (fractions allowed); exit 0, or 1\n"
    "                       when --count N was given and fewer than N alerts arrived\n"
    "  --no-color           never colour\n"
    "  --raw                (testing) print each message value as-is, one per line, without\n"
    "                       decoding (hex when not JSON); works on any topic, e.g. bank.events\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct tail_opts {
    const char *brokers;  /* */
    const char *topic;    /* */
    const char *group;    /* NULL = assign */
    bool from_beginning;  /* */
    vane_format_t format; /* configured fallback */
    bool json;            /* */
    bool raw;             /* */
    bool color;           /* resolved: stdout is a tty and not --no-color */
    uint64_t count;       /* 0 = unlimited */
    double timeout;       /* seconds, 0 = none */
} tail_opts_t;

/* ------------------------------------------------------------------------------------------
 * Printing
 * ---------------------------------------------------------------------------------------- */

static const char *severity_color(vane_severity_t s)
{
    switch (s) {
    case VANE_SEV_CRITICAL:
        return "\033[1;31m";
    case VANE_SEV_HIGH:
        return "\033[31m";
    case VANE_SEV_MEDIUM:
        return "\033[33m";
    case VANE_SEV_LOW:
        return "\033[36m";
    default:
        return "\033[2m";
    }
}

static void format_time(int64_t ms, char *out, size_t cap)
{
    if (ms <= 0) {
        snprintf(out, cap, "-");
        return;
    }
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%03dZ", base, (int)(ms % 1000));
}

static void print_alert(const tail_opts_t *o, const vane_alert_t *a)
{
    char when[48];
    format_time(a->event_time_ms, when, sizeof when);
    const char *on = o->color ? severity_color(a->severity) : "";
    const char *off = o->color ? "\033[0m" : "";
    printf("%s  %-12s %-18s %s%-8s%s %6.2f  %s\n", when, a->customer_id,
           vane_alert_kind_name(a->kind), on, vane_severity_name(a->severity), off, a->score,
           a->summary[0] ? a->summary : "-");
}

static void print_raw(const void *p, size_t len)
{
    const unsigned char *b = p;
    bool json = len > 0 && b[0] == '{' && memchr(b, '\n', len) == NULL;
    if (json) {
        fwrite(b, 1, len, stdout);
    } else {
        for (size_t i = 0; i < len; i++)
            printf("%02x", b[i]);
    }
    fputc('\n', stdout);
}

/* Handle one message; returns true when it counted as an alert printed. */
static bool handle(const tail_opts_t *o, rd_kafka_message_t *m, vane_buf_t *scratch)
{
    if (o->raw) {
        print_raw(m->payload, m->len);
        return true;
    }
    const char *ct = NULL;
    size_t ct_len = 0;
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const void *v = NULL;
        if (rd_kafka_header_get_last(hdrs, "content-type", &v, &ct_len) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
            ct = v;
    }
    vane_format_t fmt = vane_format_detect(ct, ct_len, o->format, m->payload, m->len);
    vane_alert_t a;
    vane_decode_error_t derr;
    int rc = vane_codec_decode_alert(m->payload, m->len, fmt, &a, &derr);
    if (rc) {
        fprintf(stderr, "vane tail: %s [%" PRId32 "] offset %" PRId64 ": not an alert (%s): %s\n",
                rd_kafka_topic_name(m->rkt), m->partition, m->offset, vane_reject_name(derr.reason),
                derr.msg);
        return false;
    }
    if (o->json) {
        if (fmt == VANE_FORMAT_JSON) {
            fwrite(m->payload, 1, m->len, stdout);
            fputc('\n', stdout);
        } else {
            vane_buf_reset(scratch);
            if (vane_codec_encode_alert(&a, VANE_FORMAT_JSON, scratch) == VANE_OK)
                printf("%s\n", scratch->data);
        }
    } else {
        print_alert(o, &a);
    }
    return true;
}

/* ------------------------------------------------------------------------------------------
 * Consumer setup
 * ---------------------------------------------------------------------------------------- */

static rd_kafka_t *consumer_new(const tail_opts_t *o)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    struct {
        const char *k, *v;
    } props[] = {
        {"bootstrap.servers", o->brokers},
        {"client.id", "vane-tail"},
        {"enable.partition.eof", "false"},
        {"auto.offset.reset", o->from_beginning ? "earliest" : "latest"},
        {"group.id", o->group ? o->group : "vane-tail-nogroup"},
        {"enable.auto.commit", o->group ? "true" : "false"},
        {"enable.auto.offset.store", o->group ? "true" : "false"},
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
        if (rd_kafka_conf_set(conf, props[i].k, props[i].v, err, sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "vane tail: kafka config %s: %s\n", props[i].k, err);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "vane tail: cannot create consumer: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Assign every partition of the topic directly (no group). Waits for the topic's metadata
 * until the deadline (a broker that is still starting, a topic not created yet). */
static int assign_all(rd_kafka_t *rk, const tail_opts_t *o, double deadline)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    if (!rkt)
        return VANE_EKAFKA;
    int rc = VANE_EKAFKA;
    const char *last = "no answer";
    while (!stop_requested) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 2000);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && !md->topics[0].err &&
            md->topics[0].partition_cnt > 0) {
            const struct rd_kafka_metadata_topic *t = &md->topics[0];
            rd_kafka_topic_partition_list_t *parts =
                rd_kafka_topic_partition_list_new(t->partition_cnt);
            for (int i = 0; i < t->partition_cnt; i++) {
                rd_kafka_topic_partition_list_add(parts, o->topic, t->partitions[i].id)->offset =
                    o->from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
            }
            e = rd_kafka_assign(rk, parts);
            rd_kafka_topic_partition_list_destroy(parts);
            rd_kafka_metadata_destroy(md);
            if (e)
                fprintf(stderr, "vane tail: assign: %s\n", rd_kafka_err2str(e));
            else
                rc = VANE_OK;
            break;
        }
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            last = md->topic_cnt == 1 && md->topics[0].err ? rd_kafka_err2str(md->topics[0].err)
                                                           : "topic has no partitions";
            rd_kafka_metadata_destroy(md);
        } else {
            last = rd_kafka_err2str(e);
        }
        if (deadline > 0 && mono_s() >= deadline)
            break;
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            /* The topic does not exist yet: ask again in a moment (blocking, not spinning). */
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (rc && !stop_requested)
        fprintf(stderr, "vane tail: topic %s: %s\n", o->topic, last);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

enum {
    OPT_BROKERS = 256,
    OPT_TOPIC,
    OPT_GROUP,
    OPT_FROM_BEGINNING,
    OPT_FORMAT,
    OPT_JSON,
    OPT_COUNT,
    OPT_TIMEOUT,
    OPT_NO_COLOR,
    OPT_RAW,
    OPT_HELP,
};

static int parse_opts(int argc, char **argv, tail_opts_t *o)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, OPT_BROKERS},
        {"topic", required_argument, NULL, OPT_TOPIC},
        {"group", required_argument, NULL, OPT_GROUP},
        {"from-beginning", no_argument, NULL, OPT_FROM_BEGINNING},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"json", no_argument, NULL, OPT_JSON},
        {"count", required_argument, NULL, OPT_COUNT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"no-color", no_argument, NULL, OPT_NO_COLOR},
        {"raw", no_argument, NULL, OPT_RAW},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    o->topic = "churn.alerts";
    o->format = VANE_FORMAT_AUTO;
    bool no_color = false;
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case OPT_BROKERS:
            o->brokers = optarg;
            break;
        case OPT_TOPIC:
            o->topic = optarg;
            break;
        case OPT_GROUP:
            o->group = optarg;
            break;
        case OPT_FROM_BEGINNING:
            o->from_beginning = true;
            break;
        case OPT_FORMAT:
            if (vane_format_parse(optarg, &o->format))
                return vane_command_usage_error("tail", "--format must be auto|json|protobuf");
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_COUNT:
            errno = 0;
            o->count = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-')
                return vane_command_usage_error("tail", "bad --count '%s'", optarg);
            break;
        case OPT_TIMEOUT:
            errno = 0;
            o->timeout = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(o->timeout >= 0.0))
                return vane_command_usage_error("tail", "bad --timeout '%s'", optarg);
            break;
        case OPT_NO_COLOR:
            no_color = true;
            break;
        case OPT_RAW:
            o->raw = true;
            break;
        case 'h':
        case OPT_HELP:
            fputs(cmd_tail_usage, stdout);
            return -1;
        default:
            return vane_command_usage_error("tail", "unknown or incomplete option '%s'",
                                            argv[optind - 1]);
        }
    }
    if (optind < argc)
        return vane_command_usage_error("tail", "unexpected argument '%s'", argv[optind]);
    if (!o->brokers)
        return vane_command_usage_error("tail", "--brokers is required");
    o->color = !no_color && !o->json && !o->raw && isatty(STDOUT_FILENO);
    return 0;
}

int cmd_tail(int argc, char **argv)
{
    tail_opts_t o;
    memset(&o, 0, sizeof o);
    int prc = parse_opts(argc, argv, &o);
    if (prc)
        return prc < 0 ? 0 : prc;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    double deadline = o.timeout > 0 ? mono_s() + o.timeout : 0.0;
    rd_kafka_t *rk = consumer_new(&o);
    if (!rk)
        return 1;
    int rc = VANE_OK;
    if (o.group) {
        rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, o.topic, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (e) {
            fprintf(stderr, "vane tail: subscribe %s: %s\n", o.topic, rd_kafka_err2str(e));
            rc = VANE_EKAFKA;
        }
    } else {
        rc = assign_all(rk, &o, deadline);
    }

    uint64_t seen = 0;
    vane_buf_t scratch = VANE_BUF_INIT;
    bool timed_out = false;
    while (rc == VANE_OK && !stop_requested && (o.count == 0 || seen < o.count)) {
        int wait_ms = 200;
        if (deadline > 0) {
            double left = deadline - mono_s();
            if (left <= 0) {
                timed_out = true;
                break;
            }
            if (left * 1000.0 < wait_ms)
                wait_ms = (int)(left * 1000.0) + 1;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, wait_ms);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "vane tail: %s\n", rd_kafka_message_errstr(m));
            if (m->err == RD_KAFKA_RESP_ERR__FATAL)
                rc = VANE_EKAFKA;
        } else if (handle(&o, m, &scratch)) {
            seen++;
            fflush(stdout);
        }
        rd_kafka_message_destroy(m);
    }
    vane_buf_free(&scratch);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    if (rc != VANE_OK)
        return 1;
    if (timed_out && o.count && seen < o.count) {
        fprintf(stderr, "vane tail: timeout after %.1f s: %" PRIu64 " of %" PRIu64 " alerts\n",
                o.timeout, seen, o.count);
        return 1;
    }
    return 0;
}
