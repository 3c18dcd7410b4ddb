/* test_pipeline_races.c - the daemon core (core/pipeline.c, real cache, offsets, engine and
 * rules) against scripted edges (fake_edges.h), for the orderings integration tests cannot
 * produce on purpose: Redis replies that arrive after the partition they concern was revoked
 * or lost, a partition assigned again while entries of its previous assignment are still
 * cached, a cooperative revoke while the partitions kept go on delivering.
 *
 * Each test is one vane_pipeline_run(): a step function, called every millisecond on the
 * pipeline's loop, plays the script, records what it saw and stops the run with SIGTERM; the
 * assertions run after the pipeline returned. Every test also checks that it could fail: the
 * effect it rules out is shown to happen in the same script without the race (a control).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/pipeline.h"
#include "engine/codec.h"
#include "fake_edges.h"
#include "support/eng_events.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

/* One absence rule: an alert 1 day after a customer's last activity. */
static const char *RULES = "- rule: QUIET1\n  desc: d\n  kind: DORMANCY\n  severity: LOW\n"
                           "  on: [absence]\n  after: 1d\n  condition: true\n  cooldown: 0\n";

/* A second file, for the tests that need an alert per event: one for every login. */
static const char *LOGIN_RULES = "- rule: EVERY_LOGIN\n  desc: d\n  kind: CUSTOM\n  severity: LOW\n"
                                 "  on: [login]\n  condition: true\n  cooldown: 0\n";

static const int32_t P0[] = {0};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A login of customer id at time t, as the JSON the daemon consumes. */
static const char *login_json(const char *id, int n, int64_t t)
{
    static char buf[256];
    snprintf(buf, sizeof buf,
             "{\"event_id\":\"%s-%d\",\"customer_id\":\"%s\",\"event_time_ms\":%lld,"
             "\"channel\":\"MOBILE\",\"login\":{\"success\":true,\"device_id\":\"d1\"}}",
             id, n, id, (long long)t);
    return buf;
}

/* The script's state and what it saw. */
static struct {
    int phase;
    int64_t mark;          /* ms of the last phase change */
    bool revoke;           /* the race: revoke before the reply (false: the control) */
    bool login_rules;      /* load LOGIN_RULES too */
    bool timed_out;        /* a phase waited too long for the pipeline */
    int sets_failed;       /* SETs of C1 issued before its failed write was answered */
    int sets_later;        /* ... and by the time the partition came back */
    int gets_before;       /* GETs of C1 before the second assignment */
    int gets_after;        /* ... after its event of the second assignment */
    int revoke_done;       /* revokes the pipeline finished */
    int revoke_done_early; /* ... already when the revoke was delivered */
    int alerts;            /* alerts produced while the race ran */
    bool was_paused;       /* consumption was paused while the revoke waited */
    int64_t offset;        /* the kept partition's next offset */
    int kept_sets;         /* SETs of the kept partition's customer after the revoke */
    int race_sets;         /* SETs of the customer the race is about, after it */
    char *state;           /* the scanned customer's stored state (due timer) */
    size_t state_len;
} S;

static char rules_path[64], login_rules_path[64];

static void next(int64_t ms)
{
    S.phase++;
    S.mark = ms;
}

/* The script is over: the pipeline drains (settle answers what it still asks) and returns. */
static void stop_run(void)
{
    S.phase = 100;
    raise(SIGTERM);
}

/* Waiting for the pipeline: false until cond, or stop the run after 5 s without it. */
static bool waited(bool cond, int64_t ms)
{
    if (cond)
        return true;
    if (ms - S.mark > 5000) {
        print_message("phase %d waited 5 s for the pipeline\n", S.phase);
        S.timed_out = true;
        stop_run();
    }
    return false;
}

/* The last phase: acknowledge and answer everything (GETs: no state) until the drain closes the
 * consumer. */
static void settle(void)
{
    int i;
    while ((i = fake_find(FAKE_RSTORE, FAKE_GET, NULL)) >= 0)
        fake_reply_get(i, VANE_OK, NULL, 0);
    fake_ack_alerts();
    fake_reply_writes(VANE_OK);
    fake_reply_scans();
}

static void start(bool revoke)
{
    memset(&S, 0, sizeof S);
    S.revoke = revoke;
}

static void run_pipeline(void (*step)(int64_t))
{
    vane_pipeline_opts_t o;
    memset(&o, 0, sizeof o);
    o.source.topic = "bank.events";
    o.source.group = "test";
    o.store.prefix = "t";
    o.input_format = VANE_FORMAT_JSON;
    o.max_message_bytes = 1 << 20;
    o.cache_max = 1000;
    o.flush_interval_ms = 20;
    o.flush_max_dirty = 100000;
    o.max_waiting = 1000;
    o.max_outstanding = 1000;
    o.max_future_ms = 3600 * 1000LL;
    o.max_past_ms = 3650 * ENG_D;
    o.shutdown_grace_ms = 3000;
    const char *paths[2] = {rules_path, login_rules_path};
    o.rule_paths = paths;
    o.nrule_paths = S.login_rules ? 2 : 1;
    o.metrics_interval_ms = 1000;
    fake_reset();
    fake_set_driver(step);
    assert_int_equal(vane_pipeline_run(&o), 0);
    assert_int_equal(fake_counts()->msgs_live, 0); /* every message was released */
}

/* ---- A write that fails after its partition was lost; the partition assigned again --------
 *
 * C1's state is being written when the partition is lost (another member owns it now). The
 * write then fails. Writing it again would overwrite the new owner's state, so it must not be
 * retried. Later the partition comes back: the cached C1 (from the earlier assignment, stale
 * now) must be loaded from Redis again, not used as it is. */
static void step_lost_write(int64_t ms)
{
    int i;
    switch (S.phase) {
    case 0:
        fake_stores_up(true);
        fake_assign(P0, 1);
        fake_deliver(0, 0, login_json("C1", 1, now_ms()));
        next(ms);
        break;
    case 1:
        if (!waited((i = fake_find(FAKE_RSTORE, FAKE_GET, "C1")) >= 0, ms))
            return;
        fake_reply_get(i, VANE_OK, NULL, 0);
        next(ms);
        break;
    case 2: /* the write-back of C1 is in flight */
        if (!waited((i = fake_find(FAKE_WSTORE, FAKE_SET, "C1")) >= 0, ms))
            return;
        if (S.revoke) {
            fake_revoke(P0, 1, true);
            S.revoke_done = fake_counts()->revoke_done;
        }
        fake_reply_writes(VANE_EREDIS);
        S.sets_failed = fake_issued(FAKE_SET, "C1");
        next(ms);
        break;
    case 3:
        /* Owned: the write-back is retried (after 1 s). Lost: consumption, paused by the
         * failure, resumes once a write-back finds nothing of ours failing (the house timer,
         * within ~2 s); the write must not have been issued again by then. */
        if (!waited(S.revoke ? ms - S.mark >= 1500 && !fake_counts()->paused
                             : fake_issued(FAKE_SET, "C1") >= 2,
                    ms))
            return;
        S.sets_later = fake_issued(FAKE_SET, "C1");
        fake_reply_writes(VANE_OK); /* the control's retry */
        if (!S.revoke) {
            stop_run();
            return;
        }
        S.gets_before = fake_issued(FAKE_GET, "C1");
        fake_assign(P0, 1);
        fake_deliver(0, 1, login_json("C1", 2, now_ms()));
        next(ms);
        break;
    case 4: /* a stale entry is loaded again: a second GET of C1 (answered by settle) */
        if (ms - S.mark < 200)
            return;
        S.gets_after = fake_issued(FAKE_GET, "C1");
        stop_run();
        break;
    default:
        settle();
    }
}

static void test_lost_partition_failed_write_not_retried(void **st)
{
    (void)st;
    start(true);
    run_pipeline(step_lost_write);
    assert_false(S.timed_out);
    assert_int_equal(S.revoke_done, 1); /* a lost revoke does not wait for the write */
    assert_int_equal(S.sets_failed, 1);
    assert_int_equal(S.sets_later, 1); /* not written again for a partition now another's */
    assert_int_equal(S.gets_before, 1);
    assert_int_equal(S.gets_after, 2); /* assigned again: loaded afresh, not taken from cache */
}

/* The control: the same failed write with the partition still ours is written again. */
static void test_owned_partition_failed_write_retried(void **st)
{
    (void)st;
    start(false);
    run_pipeline(step_lost_write);
    assert_false(S.timed_out);
    assert_int_equal(S.sets_failed, 1);
    assert_int_equal(S.sets_later, 2);
}

/* ---- A partition lost while a message waits for its customer's state --------------------
 *
 * C5's event waits for C5's state load when the partition is lost. The revoke waits for the
 * load (the message must be released, uncommitted), and the event is not applied: the new
 * owner applies it from the committed offset, so applying it here too would send its alert
 * twice and could write a state over the owner's. The control applies it (one alert). */
static void step_lost_waiting(int64_t ms)
{
    int i;
    switch (S.phase) {
    case 0:
        fake_stores_up(true);
        fake_assign(P0, 1);
        fake_deliver(0, 0, login_json("C5", 1, now_ms()));
        next(ms);
        break;
    case 1:
        if (!waited((i = fake_find(FAKE_RSTORE, FAKE_GET, "C5")) >= 0, ms))
            return;
        if (S.revoke) {
            fake_revoke(P0, 1, true);
            S.revoke_done_early = fake_counts()->revoke_done; /* the load is in flight */
        }
        fake_reply_get(i, VANE_OK, NULL, 0);
        next(ms);
        break;
    case 2:
        if (ms - S.mark < 300)
            return;
        S.revoke_done = fake_counts()->revoke_done;
        S.alerts = fake_counts()->alerts;
        S.race_sets = fake_issued(FAKE_SET, "C5");
        stop_run();
        break;
    default:
        settle();
    }
}

static void test_lost_partition_waiting_event_not_applied(void **st)
{
    (void)st;
    start(true);
    S.login_rules = true;
    run_pipeline(step_lost_waiting);
    assert_false(S.timed_out);
    assert_int_equal(S.revoke_done_early, 0); /* waits for the load in flight */
    assert_int_equal(S.revoke_done, 1);
    assert_int_equal(S.alerts, 0);
    assert_int_equal(S.race_sets, 0);
}

static void test_owned_partition_waiting_event_applied(void **st)
{
    (void)st;
    start(false);
    S.login_rules = true;
    run_pipeline(step_lost_waiting);
    assert_false(S.timed_out);
    assert_int_equal(S.alerts, 1);
}

/* ---- A revoke under the cooperative protocol, with input going on elsewhere --------------
 *
 * Partition 0 is revoked while partition 1 stays assigned and busy. The revoke finishes only
 * at a moment with no dirty state and no unacknowledged alert; steady input on partition 1
 * would never leave one, so every partition pauses until the hand-over is done, then
 * partition 1 resumes. The fake consumer here delivers partition 1's events while it is not
 * paused, one per millisecond, each before the step answers Redis (the adversarial order). */
static void step_coop(int64_t ms)
{
    static const int32_t both[] = {0, 1};
    int i;
    switch (S.phase) {
    case 0:
        fake_stores_up(true);
        fake_assign(both, 2);
        fake_deliver(0, 0, login_json("C1", 1, now_ms()));
        fake_deliver(1, 0, login_json("C3", 0, now_ms()));
        S.offset = 1;
        next(ms);
        break;
    case 1:
        while ((i = fake_find(FAKE_RSTORE, FAKE_GET, NULL)) >= 0)
            fake_reply_get(i, VANE_OK, NULL, 0);
        if (!waited(fake_issued(FAKE_GET, NULL) == 2 && fake_issued(FAKE_SET, NULL) == 2, ms))
            return;
        fake_revoke(P0, 1, false);
        next(ms);
        break;
    case 2:
        if (fake_counts()->paused)
            S.was_paused = true;
        else
            fake_deliver(1, S.offset, login_json("C3", (int)S.offset, now_ms())), S.offset++;
        fake_reply_writes(VANE_OK);
        if (!waited(fake_counts()->revoke_done == 1, ms))
            return;
        S.revoke_done = fake_counts()->revoke_done;
        S.kept_sets = fake_issued(FAKE_SET, "C3");
        next(ms);
        break;
    case 3: /* resumed: partition 1 goes on */
        fake_reply_writes(VANE_OK);
        if (!waited(!fake_counts()->paused, ms))
            return;
        fake_deliver(1, S.offset, login_json("C3", (int)S.offset, now_ms()));
        next(ms);
        break;
    case 4:
        fake_reply_writes(VANE_OK);
        if (!waited(fake_issued(FAKE_SET, "C3") > S.kept_sets, ms))
            return;
        S.kept_sets = fake_issued(FAKE_SET, "C3") - S.kept_sets;
        stop_run();
        break;
    default:
        settle();
    }
}

static void test_cooperative_revoke_pauses_kept_partitions(void **st)
{
    (void)st;
    start(false);
    run_pipeline(step_coop);
    assert_false(S.timed_out);
    assert_true(S.was_paused);
    assert_int_equal(S.revoke_done, 1);
    assert_int_equal(S.kept_sets, 1); /* partition 1's event after the hand-over is written */
}

/* ---- A timer scan's state load answered after the revoke ----------------------------------
 *
 * The scan of the partition's timer index finds C2 due; C2 is not cached, so its state is
 * loaded, with the timer to fire on arrival. The partition is revoked (handed over cleanly)
 * before the load returns: its timers are the new owner's now, so the late state must not
 * fire (no alert, no write of C2 by this instance). */
static void step_scan(int64_t ms)
{
    int i;
    switch (S.phase) {
    case 0: /* an event on the partition moves its watermark to now */
        fake_stores_up(true);
        fake_assign(P0, 1);
        fake_deliver(0, 0, login_json("C9", 1, now_ms()));
        next(ms);
        break;
    case 1:
        if (!waited((i = fake_find(FAKE_RSTORE, FAKE_GET, "C9")) >= 0, ms))
            return;
        fake_reply_get(i, VANE_OK, NULL, 0);
        next(ms);
        break;
    case 2: /* C9's write-back goes through; the house timer scans the index (every 1 s) */
        fake_reply_writes(VANE_OK);
        if (!waited((i = fake_find(FAKE_WSTORE, FAKE_RAW, "ZRANGEBYSCORE")) >= 0, ms))
            return;
        fake_reply_raw(i, VANE_OK, (const char *const[]){"C2"}, 1);
        next(ms);
        break;
    case 3: /* C2's load is in flight */
        fake_reply_writes(VANE_OK);
        if (!waited((i = fake_find(FAKE_RSTORE, FAKE_GET, "C2")) >= 0, ms))
            return;
        if (S.revoke) {
            fake_revoke(P0, 1, false);
            S.revoke_done = fake_counts()->revoke_done;
        }
        S.alerts = fake_counts()->alerts;
        fake_reply_get(i, VANE_OK, S.state, S.state_len);
        next(ms);
        break;
    case 4:
        fake_reply_writes(VANE_OK);
        if (ms - S.mark < 300)
            return;
        S.alerts = fake_counts()->alerts - S.alerts;
        S.race_sets = fake_issued(FAKE_SET, "C2");
        stop_run();
        break;
    default:
        settle();
    }
}

/* C2's stored state: one login three days ago, so QUIET1 is two days overdue. */
static void make_due_state(void)
{
    vane_ruleset_t *rs = eng_rules_string(RULES);
    vane_engine_t *eng = vane_engine_new(rs);
    vane_alert_batch_t *b = calloc(1, sizeof *b);
    vane_state_t *cs = calloc(1, sizeof *cs);
    assert_non_null(b);
    assert_non_null(cs);
    vane_state_init(cs, vane_str_c("C2"));
    int64_t t = now_ms() - 3 * ENG_D;
    vane_event_t ev = eng_login("C2-1", "C2", t, true);
    assert_int_equal(vane_engine_process(eng, cs, &ev, t, b), 0);
    assert_true(vane_engine_next_due(eng, cs) < now_ms());
    vane_buf_t out = {0};
    assert_int_equal(vane_state_encode(cs, &out), VANE_OK);
    S.state = malloc(out.len);
    assert_non_null(S.state);
    memcpy(S.state, out.data, out.len);
    S.state_len = out.len;
    vane_buf_free(&out);
    free(cs);
    free(b);
    vane_engine_free(eng);
    vane_ruleset_free(rs);
}

static void test_scan_load_after_revoke_fires_nothing(void **st)
{
    (void)st;
    start(true);
    make_due_state();
    run_pipeline(step_scan);
    free(S.state);
    assert_false(S.timed_out);
    assert_int_equal(S.revoke_done, 1); /* nothing dirty, no message waiting: done at once */
    assert_int_equal(S.alerts, 0);
    assert_int_equal(S.race_sets, 0);
}

/* The control: with the partition still owned, the loaded state fires and is written. */
static void test_scan_load_owned_fires(void **st)
{
    (void)st;
    start(false);
    make_due_state();
    run_pipeline(step_scan);
    free(S.state);
    assert_false(S.timed_out);
    assert_int_equal(S.alerts, 1);
}

static int write_file(char *path, size_t cap, const char *name, const char *text)
{
    snprintf(path, cap, "/tmp/vane-races-%d-%s.yaml", (int)getpid(), name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) != 0 ? -1 : rc;
}

static int write_rules(void **st)
{
    (void)st;
    vane_log_setup(VANE_LOG_WARN, VANE_LOG_FORMAT_TEXT, 0);
    if (write_file(rules_path, sizeof rules_path, "quiet", RULES) != 0 ||
        write_file(login_rules_path, sizeof login_rules_path, "login", LOGIN_RULES) != 0)
        return -1;
    return 0;
}

static int remove_rules(void **st)
{
    (void)st;
    unlink(rules_path);
    unlink(login_rules_path);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lost_partition_failed_write_not_retried),
        cmocka_unit_test(test_owned_partition_failed_write_retried),
        cmocka_unit_test(test_lost_partition_waiting_event_not_applied),
        cmocka_unit_test(test_owned_partition_waiting_event_applied),
        cmocka_unit_test(test_cooperative_revoke_pauses_kept_partitions),
        cmocka_unit_test(test_scan_load_after_revoke_fires_nothing),
        cmocka_unit_test(test_scan_load_owned_fires),
    };
    return cmocka_run_group_tests(tests, write_rules, remove_rules);
}
