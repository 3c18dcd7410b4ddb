#!/usr/bin/env bash
# Recovery (issue 5): SIGTERM under load, then a restart; compare with the reference.
#   - the stream is produced at a limited rate and the signal lands while the generator is still
#     sending and the instance is busy (both verified);
#   - the instance drains (finishes loads, writes back every dirty state, waits for alert
#     acknowledgements, commits) and exits 0 within its shutdown grace (shutdown.grace,
#     10 s by default; measured and checked against the bound);
#   - a restarted instance resumes exactly after the committed offsets: nothing it re-reads was
#     applied before (replay_skipped = 0, since the drain committed everything it applied), and
#     every customer's state and every alert equal the reference's, without duplicates.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recovery_lib.bash"
vt_init recovery_sigterm

RATE=${RECOVERY_RATE:-6000}
GRACE_MS=10000
rc_setup
rc_gen_file

vt_start_vane run --group recovery "${RC_RUN_ARGS[@]}" --shutdown.grace "$((GRACE_MS / 1000))s"
rc_gen_kafka_bg "$RATE"
stop_at=$((EVENTS / 3))
vt_wait_until 60 "the instance to apply $stop_at events" rc_counter_at_least run applied "$stop_at"
rc_gen_running || vt_fail "the generator finished before the signal: it would not land under load"
t0=$(date +%s%N)
vt_stop run TERM
ms=$((($(date +%s%N) - t0) / 1000000))
((VT_RC == 0)) || vt_fail "the instance exited $VT_RC on SIGTERM under load (after $ms ms)"
((ms <= GRACE_MS + 2000)) || vt_fail "the drain took $ms ms, more than the grace of $GRACE_MS ms"
grep -q 'shutdown grace period expired' "$VT_DIR/run.log" &&
    vt_fail "the drain did not finish within the grace period"
applied1=$(rc_final run applied)
((applied1 > 0 && applied1 < EVENTS)) || vt_fail "the first instance applied $applied1 of $EVENTS events"
vt_log "SIGTERM under load: exit 0 after $ms ms (grace $GRACE_MS ms), $applied1 of $EVENTS events applied"
mv "$VT_DIR/run.log" "$VT_DIR/run-stopped.log"

vt_start_vane run --group recovery "${RC_RUN_ARGS[@]}"
rc_finish_run
applied2=$(rc_final run applied)
skipped2=$(rc_final run replay_skipped)
((skipped2 == 0)) ||
    vt_fail "the restarted instance re-read $skipped2 events already applied: the drain did not commit them"
((applied1 + applied2 == EVENTS)) ||
    vt_fail "applied $applied1 + $applied2 events, the stream has $EVENTS: something was lost or applied twice"
rc_collect run "$REDIS_URL" vane churn.alerts
rc_compare
vt_pass "SIGTERM under load at $applied1/$EVENTS events: exit 0 in $ms ms; restart applied the other $applied2 with no replay; states and alerts equal the reference ($(rc_elapsed) s)"
