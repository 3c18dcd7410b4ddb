#!/usr/bin/env bash
# Recovery (issue 5): kill -9 an instance mid-stream, restart it; compare with the reference.
#   - the stream is produced at a limited rate, and the kill lands while the generator is still
#     sending and after the instance applied part of it (both verified);
#   - the restarted instance resumes from the committed offsets, skipping replayed events whose
#     effect is already in the stored state;
#   - every customer's state (JSON and stored bytes) equals the reference's; every reference
#     alert is present, nothing else, duplicates only with the same alert_id and content.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recovery_lib.bash"
vt_init recovery_kill9

RATE=${RECOVERY_RATE:-6000}
rc_setup
rc_gen_file

vt_start_vane run --group recovery "${RC_RUN_ARGS[@]}"
rc_gen_kafka_bg "$RATE"
kill_at=$((EVENTS / 3))
vt_wait_until 60 "the instance to apply $kill_at events" rc_counter_at_least run applied "$kill_at"
rc_gen_running || vt_fail "the generator finished before the kill: it would not land mid-stream"
vt_stop run KILL
applied1=$(rc_counter run applied)
((VT_RC == 137)) || vt_fail "kill -9 did not kill the instance (status $VT_RC)"
((applied1 < EVENTS)) || vt_fail "the instance had applied everything before the kill"
vt_log "killed with SIGKILL after about $applied1 applied events (of $EVENTS), generator still sending"
mv "$VT_DIR/run.log" "$VT_DIR/run-killed.log"

vt_start_vane run --group recovery "${RC_RUN_ARGS[@]}"
rc_finish_run
applied2=$(rc_final run applied)
skipped2=$(rc_final run replay_skipped)
consumed2=$(rc_final run consumed)
((applied2 > 0 && applied2 < EVENTS)) ||
    vt_fail "the restarted instance applied $applied2 events: it did not resume from committed offsets"
vt_log "restarted instance: consumed $consumed2, applied $applied2, skipped $skipped2 replayed events"
rc_collect run "$REDIS_URL" vane churn.alerts
rc_compare --allow-dup-alerts
vt_pass "kill -9 at ~$applied1/$EVENTS events; restart consumed $consumed2 (applied $applied2, skipped $skipped2 replays); states and alerts equal the reference ($(rc_elapsed) s)"
