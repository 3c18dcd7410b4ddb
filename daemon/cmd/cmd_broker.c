/* cmd_broker.c - `vane broker`: an embedded Kafka for development and tests.
 *
 * Built on librdkafka's mock cluster (rdkafka_mock.h): N in-process brokers listening on
 * ephemeral loopback ports, with vane's input, alert and dead-letter topics (plus any extra
 * ones) created up front. Prints the bootstrap address on stdout, optionally writes it to a
 * file atomically (write a temporary file, then rename), and runs until SIGINT or SIGTERM.
 * SIGUSR1 takes broker 1 down (its connections are closed and refused, as when a broker
 * crashes; it keeps its data) and SIGUSR2 brings it back, for tests of broker failures.
 * --leader and --coordinator place a topic's partitions or a group's coordinator on a chosen
 * broker, so a test can take down or slow down exactly what it means to (say, only the alert
 * topic); --produce-rtt makes a broker acknowledge produced messages late.
 *
 * Signals are blocked in every thread (the mask is set before librdkafka starts its threads,
 * which inherit it) and received with sigwait(), so the main thread sleeps until a signal
 * arrives: no polling. On a signal the cluster and its client are destroyed and
 * rd_kafka_wait_destroyed() confirms that every librdkafka thread is gone.
 */
#include "cmd.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_broker_usage[] =
    "usage: vane broker [OPTIONS]\n"
    "\n"
    "Run a DEVELOPMENT Kafka broker (librdkafka's mock cluster) for trying vane and for tests.\n"
    "It is not Kafka: it keeps everything in memory, implements a subset of the protocol and\n"
    "keeps at most ~100,000 messages or 5 MB per partition (older messages are dropped). Never\n"
    "use it in production.\n"
    "\n"
    "It listens on ephemeral loopback ports, creates the topics below, prints the bootstrap\n"
    "address on stdout and runs until SIGINT or SIGTERM (exit 0). For failure tests, SIGUSR1\n"
    "takes broker 1 down (connections closed and refused, data kept; partitions it leads are\n"
    "unavailable) and SIGUSR2 brings it back up.\n"
    "\n"
    "options:\n"
    "  --broker-count N, -n N   brokers in the cluster (default 1)\n"
    "  --events-topic NAME      input topic (default bank.events)\n"
    "  --events-partitions N    its partitions (default 16)\n"
    "  --alerts-topic NAME      alert topic (default churn.alerts)\n"
    "  --alerts-partitions N    its partitions (default 4)\n"
    "  --dlq-topic NAME         dead-letter topic (default bank.events.dlq)\n"
    "  --dlq-partitions N       its partitions (default 4)\n"
    "  --topic NAME:PARTITIONS  an extra topic (repeatable)\n"
    "  --leader TOPIC:BROKER    broker BROKER (1..N) leads every partition of TOPIC\n"
    "                           (repeatable; default: spread over the brokers)\n"
    "  --coordinator GROUP:BROKER  broker BROKER coordinates consumer group GROUP (repeatable)\n"
    "  --produce-rtt BROKER:MS  broker BROKER answers its next 1,000 Produce requests MS\n"
    "                           milliseconds late (repeatable)\n"
    "  --produce-error BROKER:CODE:COUNT  broker BROKER answers its next COUNT (1..1000)\n"
    "                           Produce requests with Kafka error CODE, e.g. 29 for\n"
    "                           TOPIC_AUTHORIZATION_FAILED (repeatable; before any delays)\n"
    "  --bootstrap-file FILE    also write the bootstrap address to FILE (atomically: a script\n"
    "                           can wait for FILE to exist); removed again on exit\n";

#define MAX_TOPICS 64

typedef struct topic_spec {
    const char *name; /* borrowed from argv or a literal */
    int partitions;   /* >= 1 */
} topic_spec_t;

/* NAME:BROKER of --leader and --coordinator. */
typedef struct placement {
    char *name; /* owned */
    int broker; /* 1..broker count */
} placement_t;

static int parse_count(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* Partitions of topic name among the n specs; 0 when there is no such topic. */
static int topic_partitions(const topic_spec_t *topics, int n, const char *name)
{
    for (int t = 0; t < n; t++)
        if (strcmp(topics[t].name, name) == 0)
            return topics[t].partitions;
    return 0;
}

/* Parse "NAME:N" (N >= 1) into a new placement; -1 when malformed or out of memory. */
static int parse_placement(const char *arg, placement_t *out)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || parse_count(colon + 1, 1, 64, &out->broker))
        return -1;
    out->name = strndup(arg, (size_t)(colon - arg));
    return out->name ? 0 : -1;
}

/* Write text to path atomically: a temporary file in the same directory, fsync, rename. */
static int write_atomic(const char *path, const char *text)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ok = fd >= 0;
    if (ok) {
        size_t len = strlen(text);
        ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
        ok = (close(fd) == 0) && ok;
    }
    if (ok)
        ok = rename(tmp, path) == 0;
    if (!ok) {
        fprintf(stderr, "vane broker: %s: %s\n", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}

enum {
    OPT_EVENTS_TOPIC = 256,
    OPT_EVENTS_PARTS,
    OPT_ALERTS_TOPIC,
    OPT_ALERTS_PARTS,
    OPT_DLQ_TOPIC,
    OPT_DLQ_PARTS,
    OPT_TOPIC,
    OPT_BOOTSTRAP_FILE,
    OPT_LEADER,
    OPT_COORDINATOR,
    OPT_RTT,
    OPT_PERR,
    OPT_HELP,
};

int cmd_broker(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"broker-count", required_argument, NULL, 'n'},
        {"events-topic", required_argument, NULL, OPT_EVENTS_TOPIC},
        {"events-partitions", required_argument, NULL, OPT_EVENTS_PARTS},
        {"alerts-topic", required_argument, NULL, OPT_ALERTS_TOPIC},
        {"alerts-partitions", required_argument, NULL, OPT_ALERTS_PARTS},
        {"dlq-topic", required_argument, NULL, OPT_DLQ_TOPIC},
        {"dlq-partitions", required_argument, NULL, OPT_DLQ_PARTS},
        {"topic", required_argument, NULL, OPT_TOPIC},
        {"bootstrap-file", required_argument, NULL, OPT_BOOTSTRAP_FILE},
        {"leader", required_argument, NULL, OPT_LEADER},
        {"coordinator", required_argument, NULL, OPT_COORDINATOR},
        {"produce-rtt", required_argument, NULL, OPT_RTT},
        {"produce-error", required_argument, NULL, OPT_PERR},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    int brokers = 1;
    topic_spec_t topics[MAX_TOPICS] = {
        {"bank.events", 16},
        {"churn.alerts", 4},
        {"bank.events.dlq", 4},
    };
    int n_topics = 3;
    char *extra_names[MAX_TOPICS]; /* owned copies of NAME from NAME:PARTITIONS */
    int n_extra = 0;
    const char *bootstrap_file = NULL;
    placement_t leaders[MAX_TOPICS], coords[MAX_TOPICS];
    int n_leaders = 0, n_coords = 0;
    int rtt_ms[65];                                /* per broker id, -1 = not set */
    int perr_code[65] = {0}, perr_count[65] = {0}; /* per broker id: --produce-error */
    for (int i = 0; i < 65; i++)
        rtt_ms[i] = -1;
    int status = 2;

    optind = 1;
    opterr = 0;
    int ch;
    while ((ch = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            if (parse_count(optarg, 1, 64, &brokers)) {
                vane_command_usage_error("broker", "bad --broker-count '%s' (1..64)", optarg);
                goto out;
            }
            break;
        case OPT_EVENTS_TOPIC:
            topics[0].name = optarg;
            break;
        case OPT_ALERTS_TOPIC:
            topics[1].name = optarg;
            break;
        case OPT_DLQ_TOPIC:
            topics[2].name = optarg;
            break;
        case OPT_EVENTS_PARTS:
        case OPT_ALERTS_PARTS:
        case OPT_DLQ_PARTS: {
            int idx = ch == OPT_EVENTS_PARTS ? 0 : ch == OPT_ALERTS_PARTS ? 1 : 2;
            if (parse_count(optarg, 1, 10000, &topics[idx].partitions)) {
                vane_command_usage_error("broker", "bad partition count '%s' (1..10000)", optarg);
                goto out;
            }
            break;
        }
        case OPT_TOPIC: {
            const char *colon = strrchr(optarg, ':');
            int parts = 0;
            if (!colon || colon == optarg || parse_count(colon + 1, 1, 10000, &parts)) {
                vane_command_usage_error("broker", "bad --topic '%s' (want NAME:PARTITIONS)",
                                         optarg);
                goto out;
            }
            if (n_topics == MAX_TOPICS) {
                vane_command_usage_error("broker", "too many topics (max %d)", MAX_TOPICS);
                goto out;
            }
            char *name = strndup(optarg, (size_t)(colon - optarg));
            if (!name) {
                fprintf(stderr, "vane broker: out of memory\n");
                status = 1;
                goto out;
            }
            extra_names[n_extra++] = name;
            topics[n_topics].name = name;
            topics[n_topics].partitions = parts;
            n_topics++;
            break;
        }
        case OPT_BOOTSTRAP_FILE:
            bootstrap_file = optarg;
            break;
        case OPT_RTT: {
            char *end;
            errno = 0;
            long b = strtol(optarg, &end, 10);
            int ms = 0;
            if (errno || end == optarg || *end != ':' || b < 1 || b > 64 ||
                parse_count(end + 1, 0, 600000, &ms)) {
                vane_command_usage_error(
                    "broker", "bad --produce-rtt '%s' (want BROKER:MS, MS <= 600000)", optarg);
                goto out;
            }
            rtt_ms[b] = ms;
            break;
        }
        case OPT_PERR: {
            char *end, *end2;
            errno = 0;
            long b = strtol(optarg, &end, 10);
            long code = *end == ':' ? strtol(end + 1, &end2, 10) : 0;
            int count = 0;
            if (errno || end == optarg || *end != ':' || b < 1 || b > 64 || code < 1 ||
                code > 1000 || *end2 != ':' || parse_count(end2 + 1, 1, 1000, &count)) {
                vane_command_usage_error(
                    "broker", "bad --produce-error '%s' (want BROKER:CODE:COUNT)", optarg);
                goto out;
            }
            perr_code[b] = (int)code;
            perr_count[b] = count;
            break;
        }
        case OPT_LEADER:
        case OPT_COORDINATOR: {
            bool lead = ch == OPT_LEADER;
            int *n = lead ? &n_leaders : &n_coords;
            if (*n == MAX_TOPICS) {
                vane_command_usage_error("broker", "too many --%s options (max %d)",
                                         lead ? "leader" : "coordinator", MAX_TOPICS);
                goto out;
            }
            if (parse_placement(optarg, lead ? &leaders[*n] : &coords[*n])) {
                vane_command_usage_error("broker", "bad --%s '%s' (want %s:BROKER)",
                                         lead ? "leader" : "coordinator", optarg,
                                         lead ? "TOPIC" : "GROUP");
                goto out;
            }
            (*n)++;
            break;
        }
        case 'h':
        case OPT_HELP:
            fputs(cmd_broker_usage, stdout);
            status = 0;
            goto out;
        default:
            vane_command_usage_error("broker", "unknown or incomplete option '%s'",
                                     argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        vane_command_usage_error("broker", "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    for (int b = brokers + 1; b < 65; b++) {
        if (rtt_ms[b] >= 0 || perr_count[b]) {
            vane_command_usage_error("broker",
                                     "--produce-%s for broker %d: there are only %d "
                                     "broker(s)",
                                     rtt_ms[b] >= 0 ? "rtt" : "error", b, brokers);
            goto out;
        }
    }
    for (int i = 0; i < n_coords; i++) {
        if (coords[i].broker > brokers) {
            vane_command_usage_error("broker", "--coordinator %s:%d: there are only %d broker(s)",
                                     coords[i].name, coords[i].broker, brokers);
            goto out;
        }
    }
    for (int i = 0; i < n_leaders; i++) {
        if (leaders[i].broker > brokers) {
            vane_command_usage_error("broker", "--leader %s:%d: there are only %d broker(s)",
                                     leaders[i].name, leaders[i].broker, brokers);
            goto out;
        }
        if (topic_partitions(topics, n_topics, leaders[i].name) == 0) {
            vane_command_usage_error("broker", "--leader %s: no such topic", leaders[i].name);
            goto out;
        }
    }
    for (int i = 0; i < n_topics; i++) {
        for (int j = 0; j < i; j++) {
            if (strcmp(topics[i].name, topics[j].name) == 0) {
                vane_command_usage_error("broker", "topic '%s' given twice", topics[i].name);
                goto out;
            }
        }
    }

    /* Block the stop signals before any librdkafka thread exists: the threads inherit the
     * mask, so the signals can only be taken by sigwait() below. */
    status = 1;
    sigset_t stopset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGTERM);
    sigaddset(&stopset, SIGUSR1);
    sigaddset(&stopset, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &stopset, NULL);

    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The cluster's own client never connects anywhere: keep its "no bootstrap.servers"
     * notice quiet (log_level 4 = warnings and worse). */
    if (rd_kafka_conf_set(conf, "client.id", "vane-broker", err, sizeof err) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "4", err, sizeof err) != RD_KAFKA_CONF_OK)
        fprintf(stderr, "vane broker: %s\n", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "vane broker: cannot create the mock cluster's client: %s\n", err);
        rd_kafka_conf_destroy(conf);
        goto restore;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "vane broker: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        goto restore;
    }
    int replication = brokers < 3 ? brokers : 3;
    bool topics_ok = true;
    for (int i = 0; i < n_topics; i++) {
        rd_kafka_resp_err_t e =
            rd_kafka_mock_topic_create(mc, topics[i].name, topics[i].partitions, replication);
        if (e) {
            fprintf(stderr, "vane broker: topic %s: %s\n", topics[i].name, rd_kafka_err2str(e));
            topics_ok = false;
        }
    }
    for (int i = 0; i < n_leaders && topics_ok; i++) {
        int parts = topic_partitions(topics, n_topics, leaders[i].name);
        for (int p = 0; p < parts && topics_ok; p++) {
            rd_kafka_resp_err_t e =
                rd_kafka_mock_partition_set_leader(mc, leaders[i].name, p, leaders[i].broker);
            if (e) {
                fprintf(stderr, "vane broker: --leader %s:%d: %s\n", leaders[i].name,
                        leaders[i].broker, rd_kafka_err2str(e));
                topics_ok = false;
            }
        }
    }
    for (int b = 1; b <= brokers && topics_ok; b++) {
        for (int i = 0; i < perr_count[b] && topics_ok; i++) {
            rd_kafka_resp_err_t e = rd_kafka_mock_broker_push_request_error_rtts(
                mc, b, 0, 1, (rd_kafka_resp_err_t)perr_code[b], 0);
            if (e) {
                fprintf(stderr, "vane broker: --produce-error %d:%d: %s\n", b, perr_code[b],
                        rd_kafka_err2str(e));
                topics_ok = false;
            }
        }
        /* An error stack entry per request: "no error, answered rtt ms late" (ApiKey 0 is
         * Produce). Other requests (metadata, producer ids) are answered at once. */
        for (int i = 0; i < 1000 && rtt_ms[b] >= 0 && topics_ok; i++) {
            rd_kafka_resp_err_t e = rd_kafka_mock_broker_push_request_error_rtts(
                mc, b, 0, 1, RD_KAFKA_RESP_ERR_NO_ERROR, rtt_ms[b]);
            if (e) {
                fprintf(stderr, "vane broker: --produce-rtt %d:%d: %s\n", b, rtt_ms[b],
                        rd_kafka_err2str(e));
                topics_ok = false;
            }
        }
    }
    for (int i = 0; i < n_coords && topics_ok; i++) {
        rd_kafka_resp_err_t e =
            rd_kafka_mock_coordinator_set(mc, "group", coords[i].name, coords[i].broker);
        if (e) {
            fprintf(stderr, "vane broker: --coordinator %s:%d: %s\n", coords[i].name,
                    coords[i].broker, rd_kafka_err2str(e));
            topics_ok = false;
        }
    }
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    bool file_written = false;
    if (topics_ok && bootstrap_file) {
        size_t n = strlen(bootstraps) + 2;
        char *line = malloc(n);
        if (line) {
            snprintf(line, n, "%s\n", bootstraps);
            file_written = write_atomic(bootstrap_file, line) == 0;
            free(line);
        }
        topics_ok = file_written;
    }
    if (topics_ok) {
        printf("%s\n", bootstraps);
        fflush(stdout);
        fprintf(stderr,
                "vane broker: development broker (librdkafka mock cluster, not for production): "
                "%d broker(s) at %s\n",
                brokers, bootstraps);
        for (int i = 0; i < n_topics; i++)
            fprintf(stderr, "vane broker:   topic %s (%d partitions)\n", topics[i].name,
                    topics[i].partitions);
        fprintf(stderr, "vane broker: stop with SIGINT or SIGTERM\n");

        for (;;) {
            int sig = 0;
            int werr = sigwait(&stopset, &sig);
            if (werr) {
                fprintf(stderr, "vane broker: sigwait: %s\n", strerror(werr));
                break;
            }
            if (sig == SIGUSR1 || sig == SIGUSR2) {
                bool up = sig == SIGUSR2;
                rd_kafka_resp_err_t e =
                    up ? rd_kafka_mock_broker_set_up(mc, 1) : rd_kafka_mock_broker_set_down(mc, 1);
                fprintf(stderr, "vane broker: broker 1 %s%s%s\n", up ? "up" : "down", e ? ": " : "",
                        e ? rd_kafka_err2str(e) : "");
                continue;
            }
            fprintf(stderr, "vane broker: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
            status = 0;
            break;
        }
    }
    if (file_written)
        unlink(bootstrap_file);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    if (rd_kafka_wait_destroyed(10000) != 0) {
        fprintf(stderr, "vane broker: librdkafka threads still running after 10 s\n");
        status = 1;
    }
restore:
    /* The stop signals stay blocked: a second SIGTERM during shutdown must not kill the
     * process half-way; it exits right after this anyway. */
out:
    for (int i = 0; i < n_extra; i++)
        free(extra_names[i]);
    for (int i = 0; i < n_leaders; i++)
        free(leaders[i].name);
    for (int i = 0; i < n_coords; i++)
        free(coords[i].name);
    return status;
}
