#!/usr/bin/env bash
# Recovery (issue 5): three instances in one consumer group, one killed with SIGKILL mid-stream;
# the other two take its partitions over (after the group's session timeout) and finish the
# stream. Compared with the reference: every customer's state (JSON and stored bytes) is equal,
# every reference alert is present, nothing else, duplicates only with the same alert_id.
# Verified on the way: the victim owned partitions and had applied events when it was killed,
# the generator was still sending, and the survivors were given all 16 partitions afterwards.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recovery_lib.bash"
vt_init "${RECOVERY_GROUP_NAME:-recovery_group}"

RATE=${RECOVERY_RATE:-6000}
rc_setup
rc_gen_file

for n in a b c; do
    vt_start_vane "run-$n" --group recovery "${RC_RUN_ARGS[@]}"
done

# The last "(N in total)" partition count an instance logged on assignment.
assigned_total() {
    local n
    n=$(grep -o 'assigned [0-9]* partition(s) ([0-9]* in total)' "$VT_DIR/$1.log" 2>/dev/null |
        tail -n 1 | sed 's/.*(\([0-9]*\) in total)/\1/')
    echo "${n:-0}"
}
all_three_working() {
    local n
    for n in a b c; do
        (($(assigned_total "run-$n") > 0)) || return 1
        (($(rc_counter "run-$n" applied) > 0)) || return 1
    done
    (($(rc_counter run-a applied) + $(rc_counter run-b applied) + $(rc_counter run-c applied) >= EVENTS / 4))
}
all_three_assigned() {
    local n
    for n in a b c; do (($(assigned_total "run-$n") > 0)) || return 1; done
}
# The group settles first (three joins, several rebalances), so the stream, and the kill in
# it, do not depend on how long that takes on a loaded machine.
vt_wait_until 60 "all three instances to own partitions" all_three_assigned
rc_gen_kafka_bg "$RATE"
vt_wait_until 60 "all three instances to own partitions and apply events" all_three_working
rc_gen_running || vt_fail "the generator finished before the kill: it would not land mid-stream"
victim_parts=$(assigned_total run-b)
victim_applied=$(rc_counter run-b applied)
assigned_before=$(grep -c 'assigned [0-9]* partition' "$VT_DIR/run-a.log" "$VT_DIR/run-c.log" |
    awk -F: '{s += $2} END {print s}')
vt_stop run-b KILL
((VT_RC == 137)) || vt_fail "kill -9 did not kill instance b (status $VT_RC)"
vt_log "killed instance b (owned $victim_parts partitions, had applied ~$victim_applied events); a owns $(assigned_total run-a), c owns $(assigned_total run-c)"

takeover() {
    local after
    after=$(grep -c 'assigned [0-9]* partition' "$VT_DIR/run-a.log" "$VT_DIR/run-c.log" |
        awk -F: '{s += $2} END {print s}')
    ((after > assigned_before)) && (($(assigned_total run-a) + $(assigned_total run-c) == 16))
}
vt_wait_until 60 "the survivors to take over all 16 partitions" takeover
vt_log "survivors own $(assigned_total run-a) + $(assigned_total run-c) partitions"

rc_wait_gen
rc_reference
rc_wait_run_positions 90
for n in a c; do
    vt_stop "run-$n" TERM
    [[ $VT_RC -eq 0 ]] || vt_fail "instance $n exited $VT_RC on SIGTERM"
done
skipped=$(($(rc_final run-a replay_skipped) + $(rc_final run-c replay_skipped)))
applied=$(($(rc_final run-a applied) + $(rc_final run-c applied)))
vt_log "survivors applied $applied events and skipped $skipped replayed ones"
rc_collect run "$REDIS_URL" vane churn.alerts
rc_compare --allow-dup-alerts
vt_pass "3 instances, b killed with $victim_parts partitions after ~$victim_applied events; survivors took over (skipped $skipped replays); states and alerts equal the reference ($(rc_elapsed) s)"
