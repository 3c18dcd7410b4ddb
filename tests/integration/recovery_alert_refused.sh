#!/usr/bin/env bash
# An alert Kafka refuses for good (here TOPIC_AUTHORIZATION_FAILED, which no retry cures) must
# not be lost. It used to be produced again forever, its epoch never completed, and vane
# stalled, committing nothing and pausing, without saying why; a produce that failed at once
# dropped the alert and committed past it. Now vane logs the alert, stops (exit 1 once the
# grace expires) without committing past it, and the restart produces it again.
#
# Two brokers: broker 1 leads the input, the dead letters and the group; broker 2 leads
# churn.refused, where a test rule sends an alert for every login, and answers its first
# Produce request with error 29.
source "$(dirname "$0")/lib.sh"
vt_init recovery_alert_refused

vt_start_broker --broker-count 2 --topic churn.refused:1 --leader bank.events:1 \
    --leader bank.events.dlq:1 --leader churn.alerts:1 --coordinator refused:1 \
    --leader churn.refused:2 --produce-error 2:29:1
vt_start_redis
cat >"$VT_DIR/refused.yaml" <<'EOF'
- rule: TEST_REFUSED_TOPIC
  desc: Every login alerts, on a topic whose broker refuses the first Produce request.
  kind: CUSTOM
  severity: LOW
  on: [login]
  condition: true
  cooldown: 0
  topic: churn.refused
EOF
RUN_ARGS=(--group refused --shutdown.grace 2s --rules "$VANE_SOURCE_DIR/rules/default.yaml"
    --rules "$VT_DIR/refused.yaml")
now=$(($(date +%s) * 1000))
printf 'R1|{"event_id":"R1-1","customer_id":"R1","event_time_ms":%s,"channel":"MOBILE","login":{"success":true,"device_id":"d1"}}\n' \
    "$now" | kcat -P -b "$BOOTSTRAP" -t bank.events -K '|' >"$VT_DIR/kcat.log" 2>&1 ||
    vt_fail "kcat could not produce the event"

HTTP_PORT=$(vt_free_port)
vt_start_vane run "${RUN_ARGS[@]}" --http "127.0.0.1:$HTTP_PORT" --metrics.render_interval 50ms
pid=${VT_PID[run]}
failed_metric=none
for ((i = 0; i < 300 * VT_MULT; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    # vane_alerts_failed_total while it drains (the HTTP endpoint serves until the end)
    v=$(curl -s --max-time 1 "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null |
        awk '$1 == "vane_alerts_failed_total" {print $2 + 0}' || true)
    [[ -n "$v" ]] && failed_metric=$v
    sleep 0.1
done
kill -0 "$pid" 2>/dev/null && vt_fail "vane still running 30 s after its alert was refused"
VT_RC=0
wait "$pid" || VT_RC=$?
((VT_RC == 1)) || vt_fail "vane exited $VT_RC, want 1"
grep -q "alert to churn.refused cannot be delivered: .*uthoriz" "$VT_DIR/run.log" ||
    vt_fail "the refused alert was not logged with its reason"
grep -q "stopping: alert to churn.refused cannot be delivered" "$VT_DIR/run.log" ||
    vt_fail "vane did not say why it stopped"
[[ "$failed_metric" == 1 ]] || vt_fail "vane_alerts_failed_total read $failed_metric, want 1"
[[ -z "$(vt_redis --scan --pattern 'vane:{R1}:s')" ]] ||
    vt_fail "R1's state was written although its alert was never delivered"
mv "$VT_DIR/run.log" "$VT_DIR/run-refused.log"

# The broker accepts again (only its first Produce request failed): the restart consumes the
# event again, since nothing was committed past it, and the alert arrives.
vt_start_vane run "${RUN_ARGS[@]}"
got_alert() {
    kcat -C -b "$BOOTSTRAP" -t churn.refused -o beginning -e -q 2>/dev/null | grep -q '"R1"'
}
vt_wait_until 30 "the alert for R1 on churn.refused after the restart" got_alert
stored_r1() { [[ -n "$(vt_redis --scan --pattern 'vane:{R1}:s')" ]]; }
vt_wait_until 20 "R1's state in Redis" stored_r1
vt_stop run TERM
((VT_RC == 0)) || vt_fail "the restarted instance exited $VT_RC on SIGTERM"
vt_pass "an alert refused for good stopped vane with exit 1 (vane_alerts_failed_total 1) and nothing committed; the restart delivered it"
