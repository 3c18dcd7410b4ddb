#!/usr/bin/env bash
# Recovery: a state held back from the write-back (its alert not yet acknowledged) must also
# hold back its partition's commit. Otherwise a flush that completes while the state is held
# commits past the state's unwritten events, and a crash before the next write-back loses them:
# the restart resumes after them and Redis never had them.
#
# Made deterministic with the broker's placement and produce delays (three brokers):
#   broker 1  bank.events, the dead letters, group "held"'s coordinator: answers at once
#   broker 2  churn.alerts (the DETRACTOR alert of event 1): acknowledges 5 s late
#   broker 3  churn.slow (a test rule's alert on every login, event 2): acknowledges 15 s late
# and write-backs triggered only by the number of dirty customers (redis.pipeline_max 3; the
# flush timer at its 60 s maximum):
#   1. X's detractor survey (alert A1, slow), then Y and Z: three dirty states start flush N,
#      which writes Y and Z and holds X (A1 unacknowledged).
#   2. X's login (alert A2, slower) lands in the next epoch.
#   3. A1 is acknowledged: flush N completes and commits; the next flush holds X again (A2).
#   4. kill -9 before A2 is acknowledged; restart. X's state must have both events: a commit
#      past the survey would leave the restart only the login.
source "$(dirname "$0")/lib.sh"
vt_init recovery_held_commit

vt_start_broker --broker-count 3 --topic churn.slow:1 --leader bank.events:1 \
    --leader bank.events.dlq:1 --coordinator held:1 --leader churn.alerts:2 \
    --leader churn.slow:3 --produce-rtt 2:5000 --produce-rtt 3:15000
vt_start_redis
cat >"$VT_DIR/slow.yaml" <<'EOF'
- rule: TEST_SLOW_TOPIC
  desc: Every login alerts, on a topic whose broker acknowledges late (recovery_held_commit).
  kind: CUSTOM
  severity: LOW
  on: [login]
  condition: true
  cooldown: 0
  topic: churn.slow
EOF
RUN_ARGS=(--group held --log-level debug --rules "$VANE_SOURCE_DIR/rules/default.yaml"
    --rules "$VT_DIR/slow.yaml")

now=$(($(date +%s) * 1000))
produce() { # produce KEY JSON: to partition 0 of bank.events, keyed KEY
    printf '%s|%s\n' "$1" "$2" | kcat -P -b "$BOOTSTRAP" -t bank.events -p 0 -K '|' \
        >>"$VT_DIR/kcat.log" 2>&1 || vt_fail "kcat could not produce to bank.events"
}
survey() { echo '{"event_id":"'"$1"'","customer_id":"'"${1%%-*}"'","event_time_ms":'$((now + $2))',"channel":"MOBILE","engagement":{"kind":"SURVEY","score":'"$3"'}}'; }
login() { echo '{"event_id":"'"$1"'","customer_id":"'"${1%%-*}"'","event_time_ms":'$((now + $2))',"channel":"MOBILE","login":{"success":true,"device_id":"d1"}}'; }
progress() { grep -o "progress: .*" "$VT_DIR/$1.log" 2>/dev/null | tail -n 1; }
applied_at_least() { [[ "$(progress "$1")" =~ applied=([0-9]+) ]] && ((BASH_REMATCH[1] >= $2)); }

HTTP_PORT=$(vt_free_port)
# Sum of the values of every series line of metric $1 (awk reads to the end: see ops_http.sh).
metric_sum() {
    curl -s "http://127.0.0.1:$HTTP_PORT/metrics" |
        awk -v s="$1" 'index($0, s " ") == 1 || index($0, s "{") == 1 { n += $2 } END { print n + 0 }'
}
metric_at_least() { (($(metric_sum "$1") >= $2)); }
# One write-back command in flight at a time: the held and the written states are issued in
# separate slices, with alerts acknowledged (or not) in between.
vt_start_vane run "${RUN_ARGS[@]}" --redis.flush_interval_ms 60000 --redis.pipeline_max 3 \
    --redis.writeback_inflight 1 --http "127.0.0.1:$HTTP_PORT"
vt_wait_until 30 "the instance to be assigned its partitions" grep -q "assigned 16 partition" \
    "$VT_DIR/run.log"
produce X "$(survey X-1 0 2)"
produce Y "$(survey Y-1 1000 9)" # promoters: no alert
produce Z "$(survey Z-1 2000 10)"
# A1 takes 5 s: the surveys are applied, and flush N has written Y and Z, well before that.
written() { [[ "$(progress "$1")" =~ written=([0-9]+) ]] && ((BASH_REMATCH[1] >= $2)); }
vt_wait_until 20 "flush N to write Y and Z" written run 2
[[ "$(progress run)" =~ applied=3\ .*alerts=1\ .*dirty=1\ .*written=2$ ]] ||
    vt_fail "flush N should have written Y and Z and held X: $(progress run)"
produce X "$(login X-2 3000)"
vt_wait_until 20 "the instance to apply X's login" applied_at_least run 4
# A1 acknowledged, 5 s after it was made: flush N completes and stores the offsets.
vt_wait_until 30 "flush N to complete" metric_at_least vane_redis_flush_seconds_count 1
(($(metric_sum vane_event_alert_latency_seconds_count) == 1)) ||
    vt_fail "exactly A1 should be acknowledged when flush N completes"
sleep 2.5 # scenario time: auto-commit runs every 1 s; A2 is still ~8 s from its acknowledgement
vt_stop run KILL
((VT_RC == 137)) || vt_fail "kill -9 did not kill the instance (status $VT_RC)"

mv "$VT_DIR/run.log" "$VT_DIR/run-killed.log"

vt_start_vane run "${RUN_ARGS[@]}"
x_written() { [[ "$(vt_redis exists 'vane:{X}:s')" == 1 ]]; }
# X is held again until A2 (replayed, same alert_id) is acknowledged, 15 s after it was made.
vt_wait_until 60 "X's state to be written after the restart" x_written
"$VANE_BIN" state get --redis "$REDIS_URL" --json X >"$VT_DIR/x.json" 2>"$VT_DIR/state-get.log" ||
    vt_fail "vane state get X failed: $(cat "$VT_DIR/state-get.log")"
vt_stop run TERM
python3 - "$VT_DIR/x.json" <<'PY' || vt_fail "X lost an event across the crash (see above)"
import json, sys
s = json.loads(open(sys.argv[1]).read())
n, survey = s.get("events_applied"), s.get("last_survey")
print(f"X after the restart: events_applied={n} last_survey={survey}")
sys.exit(0 if n == 2 and survey == 2 else 1)
PY
vt_pass "a held state held its partition's commit: X kept both events across kill -9"
