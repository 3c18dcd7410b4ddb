/* cmd_state.c - `vane state get CUSTOMER_ID... [--json]`: a customer's stored state, for an
 * operator investigating an alert (and for the integration tests). Reads Redis directly with
 * a synchronous hiredis connection; never writes. */
#include "cmd.h"

#include "engine/alert.h"
#include "engine/state.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/redis_url.h"

#include <getopt.h>
#include <stdarg.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char cmd_state_usage[] =
    "usage: vane state get CUSTOMER_ID... [--redis URL] [--prefix P] [--password PW] [--json]\n"
    "\n"
    "Print the state vane keeps for each customer in Redis (key <prefix>:{<id>}:s): the\n"
    "position of the last applied event, counters, profile, balance and holdings, lifecycle\n"
    "stage, decline-risk score and alert episodes. --json prints one JSON object per line.\n"
    "Exit status: 0 all found, 1 some customer has no state or Redis failed, 2 bad usage.\n";

/* Run a command whose reply only says yes or no; false (reported as what) when refused. */
static bool command_ok(redisContext *c, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (!ok)
        fprintf(stderr, "vane state: %s refused: %s\n", what, r ? r->str : c->errstr);
    freeReplyObject(r);
    return ok;
}

/* Connect to url (util/redis_url.h), authenticate (password overrides the URL's) and select
 * its database. */
static int connect_url(const char *url, const char *password, redisContext **out)
{
    struct timeval tv = {5, 0};
    vane_redis_url_t u;
    char why[200];
    if (vane_redis_url_parse(url, &u, why, sizeof why) != VANE_OK) {
        fprintf(stderr, "vane state: --redis: %s\n", why);
        return VANE_ECONFIG;
    }
    redisContext *c = u.unix_path[0] ? redisConnectUnixWithTimeout(u.unix_path, tv)
                                     : redisConnectWithTimeout(u.host, u.port, tv);
    if (!c || c->err) {
        fprintf(stderr, "vane state: cannot connect to %s: %s\n",
                u.unix_path[0] ? u.unix_path : u.host, c ? c->errstr : "out of memory");
        redisFree(c);
        return VANE_EREDIS;
    }
    if (password && *password)
        snprintf(u.password, sizeof u.password, "%s", password);
    if ((!u.password[0] ||
         (u.user[0] ? command_ok(c, "authentication", "AUTH %s %s", u.user, u.password)
                    : command_ok(c, "authentication", "AUTH %s", u.password))) &&
        (!u.db || command_ok(c, "SELECT of the database", "SELECT %d", u.db))) {
        *out = c;
        return VANE_OK;
    }
    redisFree(c);
    return VANE_EREDIS;
}

static void print_json(const vane_state_t *cs, size_t stored_bytes)
{
    const vane_features_t *f = &cs->f;
    vane_buf_t b = VANE_BUF_INIT;
    vane_buf_puts(&b, "{\"customer_id\":");
    vane_buf_json_str(&b, cs->customer_id, strlen(cs->customer_id));
    vane_buf_printf(&b, ",\"last_partition\":%d,\"last_offset\":%lld,\"stored_bytes\":%zu",
                    (int)cs->last_partition, (long long)cs->last_offset, stored_bytes);
    vane_buf_printf(&b,
                    ",\"events_applied\":%llu,\"first_event_time_ms\":%lld,"
                    "\"max_event_time_ms\":%lld,\"last_activity_ms\":%lld",
                    (unsigned long long)f->events_applied, (long long)f->first_event_time_ms,
                    (long long)f->max_event_time_ms, (long long)f->last_activity_ms);
    vane_buf_puts(&b, ",\"segment\":");
    vane_buf_json_str(&b, f->segment, strnlen(f->segment, sizeof f->segment));
    vane_buf_puts(&b, ",\"tier\":");
    vane_buf_json_str(&b, f->tier, strnlen(f->tier, sizeof f->tier));
    vane_buf_puts(&b, ",\"manager_id\":");
    vane_buf_json_str(&b, f->manager_id, strnlen(f->manager_id, sizeof f->manager_id));
    vane_buf_printf(&b, ",\"since_ms\":%lld", (long long)f->since_ms);
    if (f->has_balance)
        vane_buf_printf(&b, ",\"balance_minor\":%lld", (long long)f->balance_minor);
    int held = 0;
    vane_buf_puts(&b, ",\"holdings\":{");
    for (int c = 1; c < VANE_CAT__COUNT; c++) {
        if (!f->holdings[c])
            continue;
        vane_buf_printf(&b, "%s\"%s\":%lld", held ? "," : "",
                        vane_category_name((vane_category_t)c), (long long)f->holdings[c]);
        held++;
    }
    vane_buf_printf(&b, "},\"cross_holding\":%d,\"stage\":\"%s\",\"risk\":%.4f", held,
                    vane_stage_name((vane_stage_t)f->stage), (double)f->risk);
    if (f->last_survey >= 0)
        vane_buf_printf(&b, ",\"last_survey\":%d", (int)f->last_survey);
    vane_buf_puts(&b, ",\"episodes\":[");
    int n = 0;
    for (int k = 1; k < VANE_EPISODE_KINDS; k++) {
        const vane_episode_t *ep = &f->episodes[k];
        if (!ep->opened_ms)
            continue;
        vane_buf_printf(&b,
                        "%s{\"kind\":\"%s\",\"opened_ms\":%lld,\"last_alert_ms\":%lld,"
                        "\"severity\":\"%s\",\"alerts\":%u}",
                        n++ ? "," : "", vane_alert_kind_name((vane_alert_kind_t)k),
                        (long long)ep->opened_ms, (long long)ep->last_alert_ms,
                        vane_severity_name((vane_severity_t)ep->severity), (unsigned)ep->seq + 1);
    }
    vane_buf_puts(&b, "]}");
    puts(b.data);
    vane_buf_free(&b);
}

static void print_text(const vane_state_t *cs, size_t stored_bytes)
{
    const vane_features_t *f = &cs->f;
    printf("customer %s\n", cs->customer_id);
    printf("  position        partition %d offset %lld (%zu bytes stored)\n",
           (int)cs->last_partition, (long long)cs->last_offset, stored_bytes);
    printf("  events applied  %llu (event time %lld .. %lld)\n",
           (unsigned long long)f->events_applied, (long long)f->first_event_time_ms,
           (long long)f->max_event_time_ms);
    printf("  profile         segment=%.*s tier=%.*s manager=%.*s\n", (int)sizeof f->segment,
           f->segment, (int)sizeof f->tier, f->tier, (int)sizeof f->manager_id, f->manager_id);
    if (f->has_balance)
        printf("  balance         %lld (minor units)\n", (long long)f->balance_minor);
    printf("  stage           %s, decline risk %.3f\n", vane_stage_name((vane_stage_t)f->stage),
           (double)f->risk);
    for (int k = 1; k < VANE_EPISODE_KINDS; k++) {
        const vane_episode_t *ep = &f->episodes[k];
        if (ep->opened_ms)
            printf("  episode         %s since %lld, %u alert(s), max severity %s\n",
                   vane_alert_kind_name((vane_alert_kind_t)k), (long long)ep->opened_ms,
                   (unsigned)ep->seq + 1, vane_severity_name((vane_severity_t)ep->severity));
    }
}

int cmd_state(int argc, char **argv)
{
    const char *url = "redis://127.0.0.1:6379", *prefix = "vane", *password = NULL;
    bool json = false;
    static const struct option longopts[] = {
        {"redis", required_argument, NULL, 'r'},    {"prefix", required_argument, NULL, 'p'},
        {"password", required_argument, NULL, 'P'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    if (argc < 2 || strcmp(argv[1], "get") != 0)
        return vane_command_usage_error("state",
                                        argc < 2 ? "missing subcommand" : "unknown subcommand '%s'",
                                        argc < 2 ? "" : argv[1]);
    argc--;
    argv++;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            url = optarg;
            break;
        case 'p':
            prefix = optarg;
            break;
        case 'P':
            password = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            fputs(cmd_state_usage, stdout);
            return 0;
        default:
            return vane_command_usage_error("state", NULL);
        }
    }
    if (optind >= argc)
        return vane_command_usage_error("state", "missing CUSTOMER_ID");
    redisContext *rc = NULL;
    if (connect_url(url, password, &rc) != VANE_OK)
        return 1;
    int status = 0;
    vane_state_t *cs = malloc(sizeof *cs);
    if (!cs) {
        redisFree(rc);
        return 1;
    }
    for (int i = optind; i < argc; i++) {
        redisReply *r = redisCommand(rc, "GET %s:{%s}:s", prefix, argv[i]);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "vane state: GET failed: %s\n", r ? r->str : rc->errstr);
            freeReplyObject(r);
            status = 1;
            break;
        }
        if (r->type != REDIS_REPLY_STRING) {
            fprintf(stderr, "vane state: no state for customer %s\n", argv[i]);
            freeReplyObject(r);
            status = 1;
            continue;
        }
        int drc = vane_state_decode(cs, r->str, (size_t)r->len);
        if (drc != VANE_OK) {
            fprintf(stderr, "vane state: state of %s is unreadable: %s\n", argv[i],
                    vane_strerror(drc));
            status = 1;
        } else if (json) {
            print_json(cs, (size_t)r->len);
        } else {
            print_text(cs, (size_t)r->len);
        }
        freeReplyObject(r);
    }
    free(cs);
    redisFree(rc);
    return status;
}
