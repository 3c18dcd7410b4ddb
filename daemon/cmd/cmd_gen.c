/* cmd_gen.c - `vane gen`: seeded synthetic bank events to Kafka or to a file.
 *
 * The world is daemon/sim/bank.h (pure, deterministic); this file only parses options, writes
 * the ground truth, paces the stream (token bucket, sleeping, never spinning) and hands each
 * event, encoded by the engine's codec, to a sink: a file (JSON lines, or length-delimited
 * protobuf: varint length then bytes) or a librdkafka producer (key = customer_id, header
 * content-type). Same seed and options => byte-identical file output.
 */
#include "cmd.h"

#include "engine/codec.h"
#include "sim/bank.h"
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

const char cmd_gen_usage[] =
    "usage: vane gen [OPTIONS] (--out FILE | --brokers B [--topic T])\n"
    "\n"
    "Generate a seeded synthetic bank event stream: customers of four archetypes (savers,\n"
    "investors, borrowers, mixed) living normal lives, plus planted behaviours for every alert\n"
    "kind after a stretch of normal history. Events come in event-time order; simulated time\n"
    "is compressed (emitted as fast as --rate allows). The model and its parameters are\n"
    "documented in daemon/sim/bank.h.\n"
    "\n"
    "world:\n"
    "  --seed N              PRNG seed (default 1); same seed + options = same bytes\n"
    "  --customers N         population (default 1000)\n"
    "  --history-days N      normal history before planted onsets (default 60)\n"
    "  --tail-days N         simulated days after the onsets (default 35; DORMANCY needs >= 31)\n"
    "  --planted-fraction F  share of customers with a planted behaviour (default 0.2)\n"
    "  --start-ms MS         event time of the first day (default: now minus the whole\n"
    "                        simulated span, so the last events are close to now)\n"
    "output:\n"
    "  --events N            stop after N events (default 0: until the simulated world ends)\n"
    "  --rate EV/S           events per second (default 0: as fast as possible)\n"
    "  --format F            json | protobuf (default json)\n"
    "  --out FILE            write JSON lines or length-delimited protobuf ('-' = stdout)\n"
    "  --brokers B           produce to Kafka (bootstrap servers) instead\n"
    "  --topic T             Kafka topic (default bank.events)\n"
    "  --delivery-timeout MS give up on an undelivered Kafka message after MS (default 60000)\n"
    "  --truth FILE          ground truth: customer_id, archetype, kind (or control), onset_ms,\n"
    "                        to_category; CSV when FILE ends in .csv, else JSON lines\n"
    "  --progress            progress line on stderr (default: only when stderr is a terminal)\n"
    "  --quiet               no summary line\n"
    "\n"
    "Exit status: 0 done (also after SIGINT/SIGTERM, once sent events are flushed), 1 on a\n"
    "write or delivery failure (any undelivered Kafka message), 2 on bad usage.\n";

/* ------------------------------------------------------------------------------------------
 * Clock and pacing
 * ---------------------------------------------------------------------------------------- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A token bucket: one token per event, refilled at rate/s, holding at most burst tokens
 * (10 ms worth, >= 1) so a stall is not followed by an unbounded catch-up burst. */
typedef struct bucket {
    double rate;   /* tokens per second; 0 = unlimited */
    double burst;  /* capacity */
    double tokens; /* available */
    double last;   /* mono_s() of the last refill */
} bucket_t;

static void bucket_init(bucket_t *b, double rate)
{
    b->rate = rate;
    b->burst = rate / 100.0 > 1.0 ? rate / 100.0 : 1.0;
    b->tokens = 1.0;
    b->last = mono_s();
}

/* Seconds to wait before a token is available (0 when one was taken). */
static double bucket_take(bucket_t *b)
{
    if (b->rate <= 0)
        return 0.0;
    double now = mono_s();
    b->tokens += (now - b->last) * b->rate;
    b->last = now;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return 0.0;
    }
    return (1.0 - b->tokens) / b->rate;
}

static void sleep_s(double s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ; /* a signal only sets the stop flag; finish the (short) wait */
}

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ------------------------------------------------------------------------------------------
 * Sinks
 * ---------------------------------------------------------------------------------------- */

typedef struct kafka_sink {
    rd_kafka_t *rk;        /* owned */
    rd_kafka_topic_t *rkt; /* owned */
    uint64_t delivered;    /* delivery reports without error */
    uint64_t failed;       /* delivery reports with an error */
    char first_error[256]; /* text of the first delivery failure */
    int flush_ms;          /* flush bound: the delivery timeout plus a margin */
} kafka_sink_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kafka_sink_t *ks = opaque;
    if (m->err) {
        if (ks->failed++ == 0)
            snprintf(ks->first_error, sizeof ks->first_error, "%s", rd_kafka_err2str(m->err));
    } else {
        ks->delivered++;
    }
}

static int kafka_open(kafka_sink_t *ks, const char *brokers, const char *topic,
                      const char *timeout_ms)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    struct {
        const char *k, *v;
    } props[] = {
        {"bootstrap.servers", brokers},
        {"client.id", "vane-gen"},
        /* Retries after a broker failure must neither duplicate nor reorder a customer's
         * events: the generated stream is the ground truth of the tests. */
        {"enable.idempotence", "true"},
        {"linger.ms", "20"},
        {"batch.num.messages", "10000"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"message.timeout.ms", timeout_ms},
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
        if (rd_kafka_conf_set(conf, props[i].k, props[i].v, err, sizeof err) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "vane gen: kafka config %s: %s\n", props[i].k, err);
            rd_kafka_conf_destroy(conf);
            return VANE_ECONFIG;
        }
    }
    ks->flush_ms = atoi(timeout_ms) + 10000;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, ks);
    ks->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!ks->rk) {
        fprintf(stderr, "vane gen: cannot create producer: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return VANE_EKAFKA;
    }
    ks->rkt = rd_kafka_topic_new(ks->rk, topic, NULL);
    if (!ks->rkt) {
        fprintf(stderr, "vane gen: topic %s: %s\n", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return VANE_EKAFKA;
    }
    return VANE_OK;
}

/* Queue one message; waits (serving delivery reports) while the local queue is full. */
static int kafka_send(kafka_sink_t *ks, const char *key, size_t klen, const void *val, size_t vlen,
                      const char *content_type)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            ks->rk, RD_KAFKA_V_RKT(ks->rkt), RD_KAFKA_V_KEY(key, klen),
            RD_KAFKA_V_VALUE((void *)val, vlen), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("content-type", content_type, -1), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return VANE_OK;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "vane gen: produce failed: %s\n", rd_kafka_err2str(e));
            return VANE_EKAFKA;
        }
        rd_kafka_poll(ks->rk, 100);
    }
}

/* Flush and destroy; returns 0 when every queued message was delivered. */
static int kafka_close(kafka_sink_t *ks, uint64_t sent)
{
    int rc = VANE_OK;
    if (ks->rk) {
        rd_kafka_resp_err_t e = rd_kafka_flush(ks->rk, ks->flush_ms);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "vane gen: flush: %s (%d messages still queued)\n", rd_kafka_err2str(e),
                    rd_kafka_outq_len(ks->rk));
            rc = VANE_EKAFKA;
        }
        if (ks->failed) {
            fprintf(stderr, "vane gen: %" PRIu64 " of %" PRIu64 " messages failed delivery: %s\n",
                    ks->failed, sent, ks->first_error);
            rc = VANE_EKAFKA;
        } else if (rc == VANE_OK && ks->delivered != sent) {
            fprintf(stderr, "vane gen: %" PRIu64 " of %" PRIu64 " messages confirmed\n",
                    ks->delivered, sent);
            rc = VANE_EKAFKA;
        }
    }
    if (ks->rkt)
        rd_kafka_topic_destroy(ks->rkt);
    if (ks->rk)
        rd_kafka_destroy(ks->rk);
    ks->rk = NULL;
    ks->rkt = NULL;
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Ground truth
 * ---------------------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int write_truth(const vane_bank_t *bank, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "vane gen: %s: %s\n", path, strerror(errno));
        return VANE_EIO;
    }
    bool csv = ends_with(path, ".csv");
    if (csv)
        fputs("customer_id,archetype,kind,onset_ms,to_category\n", f);
    uint32_t n = vane_bank_customer_count(bank);
    for (uint32_t i = 0; i < n; i++) {
        vane_bank_truth_t t;
        vane_bank_truth(bank, i, &t);
        const char *kind = t.kind ? vane_alert_kind_name(t.kind) : "control";
        const char *to = t.to_category ? vane_category_name(t.to_category) : "";
        if (csv)
            fprintf(f, "%s,%s,%s,%" PRId64 ",%s\n", t.customer_id,
                    vane_bank_archetype_name(t.archetype), kind, t.onset_ms, to);
        else
            fprintf(f,
                    "{\"customer_id\":\"%s\",\"archetype\":\"%s\",\"kind\":\"%s\","
                    "\"onset_ms\":%" PRId64 ",\"to_category\":\"%s\"}\n",
                    t.customer_id, vane_bank_archetype_name(t.archetype), kind, t.onset_ms, to);
    }
    if (ferror(f) | (fclose(f) != 0)) {
        fprintf(stderr, "vane gen: %s: write failed\n", path);
        return VANE_EIO;
    }
    return VANE_OK;
}

/* ------------------------------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------------------------- */

typedef struct gen_opts {
    vane_bank_config_t world; /* */
    bool start_set;           /* --start-ms given */
    uint64_t events;          /* 0 = until the world ends */
    double rate;              /* 0 = unlimited */
    vane_format_t format;     /* JSON or PROTOBUF */
    const char *out;          /* file, or NULL */
    const char *brokers;      /* Kafka, or NULL */
    const char *topic;        /* */
    const char *truth;        /* truth file, or NULL */
    const char *raw_in;       /* hidden test helper: produce these lines verbatim */
    char delivery_ms[24];     /* message.timeout.ms */
    bool progress;            /* */
    bool quiet;               /* */
} gen_opts_t;

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return VANE_EINVAL;
    *out = v;
    return VANE_OK;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end)
        return VANE_EINVAL;
    *out = v;
    return VANE_OK;
}

enum {
    OPT_SEED = 256,
    OPT_CUSTOMERS,
    OPT_HISTORY,
    OPT_TAIL,
    OPT_PLANTED,
    OPT_START,
    OPT_EVENTS,
    OPT_RATE,
    OPT_FORMAT,
    OPT_OUT,
    OPT_BROKERS,
    OPT_TOPIC,
    OPT_TRUTH,
    OPT_PROGRESS,
    OPT_QUIET,
    OPT_RAW_IN,
    OPT_DELIVERY,
    OPT_HELP,
};

static int parse_opts(int argc, char **argv, gen_opts_t *o)
{
    static const struct option longopts[] = {
        {"seed", required_argument, NULL, OPT_SEED},
        {"customers", required_argument, NULL, OPT_CUSTOMERS},
        {"history-days", required_argument, NULL, OPT_HISTORY},
        {"tail-days", required_argument, NULL, OPT_TAIL},
        {"planted-fraction", required_argument, NULL, OPT_PLANTED},
        {"start-ms", required_argument, NULL, OPT_START},
        {"events", required_argument, NULL, OPT_EVENTS},
        {"rate", required_argument, NULL, OPT_RATE},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"out", required_argument, NULL, OPT_OUT},
        {"brokers", required_argument, NULL, OPT_BROKERS},
        {"topic", required_argument, NULL, OPT_TOPIC},
        {"truth", required_argument, NULL, OPT_TRUTH},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"raw-in", required_argument, NULL, OPT_RAW_IN},
        {"delivery-timeout", required_argument, NULL, OPT_DELIVERY},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    vane_bank_config_default(&o->world);
    o->format = VANE_FORMAT_JSON;
    o->topic = "bank.events";
    snprintf(o->delivery_ms, sizeof o->delivery_ms, "60000");
    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        uint64_t u = 0;
        double d = 0;
        switch (ch) {
        case OPT_SEED:
            if (parse_u64(optarg, &o->world.seed))
                return vane_command_usage_error("gen", "bad --seed '%s'", optarg);
            break;
        case OPT_CUSTOMERS:
            if (parse_u64(optarg, &u) || u < 1 || u > 50000000)
                return vane_command_usage_error("gen", "bad --customers '%s'", optarg);
            o->world.customers = (uint32_t)u;
            break;
        case OPT_HISTORY:
            if (parse_u64(optarg, &u) || u < 1 || u > 3650)
                return vane_command_usage_error("gen", "bad --history-days '%s'", optarg);
            o->world.history_days = (uint32_t)u;
            break;
        case OPT_TAIL:
            if (parse_u64(optarg, &u) || u > 3650)
                return vane_command_usage_error("gen", "bad --tail-days '%s'", optarg);
            o->world.tail_days = (uint32_t)u;
            break;
        case OPT_PLANTED:
            if (parse_double(optarg, &d) || !(d >= 0.0 && d <= 1.0))
                return vane_command_usage_error("gen", "bad --planted-fraction '%s'", optarg);
            o->world.planted_fraction = d;
            break;
        case OPT_START:
            if (parse_u64(optarg, &u) || u < 1 || u > (uint64_t)INT64_MAX / 2)
                return vane_command_usage_error("gen", "bad --start-ms '%s'", optarg);
            o->world.start_ms = (int64_t)u;
            o->start_set = true;
            break;
        case OPT_EVENTS:
            if (parse_u64(optarg, &o->events))
                return vane_command_usage_error("gen", "bad --events '%s'", optarg);
            break;
        case OPT_RATE:
            if (parse_double(optarg, &o->rate) || !(o->rate >= 0.0))
                return vane_command_usage_error("gen", "bad --rate '%s'", optarg);
            break;
        case OPT_FORMAT:
            if (vane_format_parse(optarg, &o->format) || o->format == VANE_FORMAT_AUTO)
                return vane_command_usage_error("gen", "--format must be json or protobuf");
            break;
        case OPT_OUT:
            o->out = optarg;
            break;
        case OPT_BROKERS:
            o->brokers = optarg;
            break;
        case OPT_TOPIC:
            o->topic = optarg;
            break;
        case OPT_TRUTH:
            o->truth = optarg;
            break;
        case OPT_PROGRESS:
            o->progress = true;
            break;
        case OPT_QUIET:
            o->quiet = true;
            break;
        case OPT_RAW_IN:
            o->raw_in = optarg;
            break;
        case OPT_DELIVERY:
            if (parse_u64(optarg, &u) || u < 1 || u > 3600000)
                return vane_command_usage_error("gen", "bad --delivery-timeout '%s'", optarg);
            snprintf(o->delivery_ms, sizeof o->delivery_ms, "%" PRIu64, u);
            break;
        case 'h':
        case OPT_HELP:
            fputs(cmd_gen_usage, stdout);
            return -1;
        default:
            return vane_command_usage_error("gen", "unknown or incomplete option '%s'",
                                            argv[optind - 1]);
        }
    }
    if (optind < argc)
        return vane_command_usage_error("gen", "unexpected argument '%s'", argv[optind]);
    if (!o->out == !o->brokers)
        return vane_command_usage_error("gen", "give exactly one of --out FILE, --brokers B");
    if (o->raw_in && !o->brokers)
        return vane_command_usage_error("gen", "--raw-in needs --brokers");
    if (!o->start_set) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        int64_t span_days = (int64_t)o->world.history_days + 2 + o->world.tail_days;
        o->world.start_ms = now_ms - span_days * VANE_BANK_DAY_MS;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Hidden test helper: --raw-in FILE produces every line of FILE verbatim (key = the
 * "customer_id" value when one is found), with content-type application/json. Used by the
 * integration tests to put hand-written alerts on a topic for `vane tail`.
 * ---------------------------------------------------------------------------------------- */

static int produce_raw_lines(const gen_opts_t *o)
{
    FILE *f = strcmp(o->raw_in, "-") == 0 ? stdin : fopen(o->raw_in, "r");
    if (!f) {
        fprintf(stderr, "vane gen: %s: %s\n", o->raw_in, strerror(errno));
        return 1;
    }
    kafka_sink_t ks;
    memset(&ks, 0, sizeof ks);
    int rc = kafka_open(&ks, o->brokers, o->topic, o->delivery_ms);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t sent = 0;
    while (rc == VANE_OK && (n = getline(&line, &cap, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        const char *key = "";
        size_t klen = 0;
        const char *k = strstr(line, "\"customer_id\":\"");
        if (k) {
            key = k + strlen("\"customer_id\":\"");
            const char *e = strchr(key, '"');
            klen = e ? (size_t)(e - key) : 0;
        }
        rc = kafka_send(&ks, key, klen, line, (size_t)n, "application/json");
        if (rc == VANE_OK)
            sent++;
    }
    free(line);
    if (f != stdin)
        fclose(f);
    int crc = kafka_close(&ks, sent);
    if (!o->quiet)
        fprintf(stderr, "vane gen: produced %" PRIu64 " raw lines to %s\n", sent, o->topic);
    return (rc || crc) ? 1 : 0;
}

/* ------------------------------------------------------------------------------------------
 * The command
 * ---------------------------------------------------------------------------------------- */

int cmd_gen(int argc, char **argv)
{
    gen_opts_t o;
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

    if (o.raw_in)
        return produce_raw_lines(&o);

    char errbuf[256];
    vane_bank_t *bank = vane_bank_new(&o.world, errbuf, sizeof errbuf);
    if (!bank) {
        fprintf(stderr, "vane gen: %s\n", errbuf);
        return 1;
    }
    int rc = VANE_OK;
    if (o.truth)
        rc = write_truth(bank, o.truth);

    FILE *out = NULL;
    kafka_sink_t ks;
    memset(&ks, 0, sizeof ks);
    if (rc == VANE_OK && o.out) {
        out = strcmp(o.out, "-") == 0 ? stdout : fopen(o.out, "wb");
        if (!out) {
            fprintf(stderr, "vane gen: %s: %s\n", o.out, strerror(errno));
            rc = VANE_EIO;
        } else {
            setvbuf(out, NULL, _IOFBF, 1 << 20);
        }
    } else if (rc == VANE_OK) {
        rc = kafka_open(&ks, o.brokers, o.topic, o.delivery_ms);
    }

    const char *ctype =
        o.format == VANE_FORMAT_JSON ? "application/json" : "application/x-protobuf";
    bool show_progress = o.progress || isatty(STDERR_FILENO);
    bool progress_tty = isatty(STDERR_FILENO);
    vane_buf_t buf = VANE_BUF_INIT;
    vane_buf_t frame = VANE_BUF_INIT;
    bucket_t bucket;
    bucket_init(&bucket, o.rate);
    uint64_t sent = 0;
    double t0 = mono_s();
    double next_progress = t0 + 1.0;
    bool world_ended = false;

    while (rc == VANE_OK && !stop_requested && (o.events == 0 || sent < o.events)) {
        vane_event_t ev;
        if (vane_bank_next(bank, &ev) != VANE_OK) {
            world_ended = true;
            break;
        }
        vane_buf_reset(&buf);
        rc = vane_codec_encode_event(&ev, o.format, &buf);
        if (rc) {
            fprintf(stderr, "vane gen: encode failed: %s\n", vane_strerror(rc));
            break;
        }
        double wait;
        while ((wait = bucket_take(&bucket)) > 0.0 && !stop_requested) {
            if (ks.rk)
                rd_kafka_poll(ks.rk, wait >= 0.001 ? (int)(wait * 1000.0) : 0);
            if (!ks.rk || wait < 0.001)
                sleep_s(wait);
        }
        if (out) {
            if (o.format == VANE_FORMAT_JSON) {
                vane_buf_putc(&buf, '\n');
                if (fwrite(buf.data, 1, buf.len, out) != buf.len)
                    rc = VANE_EIO;
            } else {
                vane_buf_reset(&frame);
                vane_buf_varint(&frame, buf.len);
                if (fwrite(frame.data, 1, frame.len, out) != frame.len ||
                    fwrite(buf.data, 1, buf.len, out) != buf.len)
                    rc = VANE_EIO;
            }
            if (rc)
                fprintf(stderr, "vane gen: %s: write failed: %s\n", o.out, strerror(errno));
        } else {
            rc = kafka_send(&ks, ev.customer_id.p, ev.customer_id.len, buf.data, buf.len, ctype);
            if ((sent & 1023) == 0)
                rd_kafka_poll(ks.rk, 0); /* serve delivery reports */
        }
        if (rc == VANE_OK)
            sent++;
        if (show_progress && (sent & 255) == 0) {
            double now = mono_s();
            if (now >= next_progress) {
                next_progress = now + 1.0;
                fprintf(stderr, "%svane gen: %" PRIu64 " events, %.0f ev/s%s",
                        progress_tty ? "\r" : "", sent, (double)sent / (now - t0),
                        progress_tty ? "   " : "\n");
            }
        }
    }
    if (show_progress && progress_tty)
        fputc('\n', stderr);

    if (out) {
        if (fflush(out) != 0) {
            fprintf(stderr, "vane gen: %s: write failed: %s\n", o.out, strerror(errno));
            rc = VANE_EIO;
        }
        if (out != stdout && fclose(out) != 0 && rc == VANE_OK)
            rc = VANE_EIO;
    }
    if (o.brokers) {
        int krc = kafka_close(&ks, sent);
        if (rc == VANE_OK)
            rc = krc;
    }
    double secs = mono_s() - t0;
    if (!o.quiet) {
        fprintf(stderr,
                "vane gen: %" PRIu64 " events (%u customers, seed %" PRIu64 ") in %.3f s: %.0f "
                "ev/s to %s%s%s\n",
                sent, o.world.customers, o.world.seed, secs, secs > 0 ? (double)sent / secs : 0.0,
                o.out ? o.out : o.topic, world_ended ? " (simulated world ended)" : "",
                stop_requested ? " (interrupted)" : "");
        if (o.events && sent < o.events && world_ended)
            fprintf(stderr,
                    "vane gen: the world ended before --events %" PRIu64
                    "; raise --customers or the day counts for more\n",
                    o.events);
    }
    vane_buf_free(&buf);
    vane_buf_free(&frame);
    vane_bank_free(bank);
    return rc == VANE_OK ? 0 : 1;
}
