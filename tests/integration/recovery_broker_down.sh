#!/usr/bin/env bash
# Recovery (issue 5): a Kafka broker goes down mid-stream and comes back. Three brokers (the
# embedded mock cluster, replication 3); `vane broker` takes broker 1 down on SIGUSR1 (its
# connections closed and refused, as a crashed broker; the partitions it leads unavailable) and
# up again on SIGUSR2. While the broker is down the instance must stay up (librdkafka retries
# its fetches, commits and alert deliveries); then it is killed with SIGKILL, still during the
# outage, so alerts bound for partitions led by broker 1 were never acknowledged; the broker
# comes back and a new instance resumes from the committed offsets. In the end every
# customer's state equals the reference's and every reference alert is present (duplicates
# only with the same alert_id). This is the case where a state written back before its alert
# was acknowledged would lose the alert: the replay would skip the event that made it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recovery_lib.bash"
vt_init recovery_broker_down

RATE=${RECOVERY_RATE:-3000}
DOWN_S=${RECOVERY_DOWN_S:-6}
rc_setup --broker-count 3
rc_gen_file

vt_start_vane run --group recovery "${RC_RUN_ARGS[@]}"
rc_gen_kafka_bg "$RATE"
# The planted behaviours, and so the alerts, sit at about 65-70% of the stream: the outage
# must cover them, or no alert would be unacknowledged at the kill.
down_at=$((EVENTS * 62 / 100))
vt_wait_until 60 "the instance to apply $down_at events" rc_counter_at_least run applied "$down_at"
rc_gen_running || vt_fail "the generator finished before the broker went down"
kill -USR1 "${VT_PID[broker]}"
vt_wait_until 10 "broker 1 to go down" grep -q 'broker 1 down$' "$VT_DIR/broker.log"
before=$(rc_counter run applied)
alerts_before=$(rc_counter run alerts)
sleep "$DOWN_S" # the outage itself (scenario time, not synchronisation)
kill -0 "${VT_PID[run]}" 2>/dev/null || vt_fail "the instance died while broker 1 was down"
during=$(rc_counter run applied)
alerts_during=$(($(rc_counter run alerts) - alerts_before))
((alerts_during > 0)) || vt_fail "no alert was made during the outage: the test would not exercise unacknowledged alerts"
vt_stop run KILL
((VT_RC == 137)) || vt_fail "kill -9 did not kill the instance (status $VT_RC)"
mv "$VT_DIR/run.log" "$VT_DIR/run-killed.log"
kill -USR2 "${VT_PID[broker]}"
vt_wait_until 10 "broker 1 to come back" grep -q 'broker 1 up$' "$VT_DIR/broker.log"
vt_log "broker 1 down for $DOWN_S s: the instance applied $before events before, $during at the end ($alerts_during alerts made meanwhile), stayed up, and was killed then"

vt_start_vane run --group recovery "${RC_RUN_ARGS[@]}"
rc_finish_run
rc_collect run "$REDIS_URL" vane churn.alerts
rc_compare --allow-dup-alerts
vt_pass "broker 1 of 3 down for $DOWN_S s mid-stream (at ~$before/$EVENTS events): no crash; killed during the outage and restarted: states and alerts equal the reference ($(rc_elapsed) s)"
