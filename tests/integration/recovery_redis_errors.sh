#!/usr/bin/env bash
# Recovery: Redis answers a customer's state GET with an error reply on a live connection.
# Before vane runs, the key of one customer holds a list, so GET fails with -WRONGTYPE. vane
# must neither crash nor overwrite that foreign key nor drop the customer's events: it keeps
# them waiting, retries the GET (once a second), and once the key is removed it applies them,
# and every other customer is processed meanwhile. Checks:
#   - redis counts more than one failed GET (retried, not given up after the first);
#   - while the key is a list, it stays a list and vane reports events waiting;
#   - after DEL, every event is consumed and written (dirty=0 waiting=0), the blocked customer's
#     state is in Redis with all of its events applied.
source "$(dirname "$0")/lib.sh"
vt_init recovery_redis_errors

vt_start_redis
vt_start_broker
"$VANE_BIN" gen --seed 7 --customers 20 --out "$VT_DIR/events.jsonl" >"$VT_DIR/gen-file.log" 2>&1 ||
    vt_fail "vane gen to file failed"
EVENTS=$(wc -l <"$VT_DIR/events.jsonl")
BLOCKED=$(head -n 1 "$VT_DIR/events.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["customer_id"])')
NBLOCKED=$(grep -c "\"customer_id\":\"$BLOCKED\"" "$VT_DIR/events.jsonl")
KEY="vane:{$BLOCKED}:s"
vt_redis RPUSH "$KEY" not-a-state >/dev/null
vt_log "$EVENTS events of 20 customers; $BLOCKED ($NBLOCKED events) has a list at $KEY"

"$VANE_BIN" gen --raw-in "$VT_DIR/events.jsonl" --brokers "$BOOTSTRAP" --topic bank.events \
    >"$VT_DIR/gen-kafka.log" 2>&1 || vt_fail "producing the stream failed"
vt_start_vane vane --group errors --log-level debug

failed_gets() {
    vt_redis INFO commandstats | tr -d '\r' | grep '^cmdstat_get:' | grep -o 'failed_calls=[0-9]*' | cut -d= -f2
}
gets_failed_at_least() { (($(failed_gets) >= $1)); }
last_progress() { grep -o 'progress: consumed=.*' "$VT_DIR/vane.log" | tail -n 1; }
consumed_all() { [[ "$(last_progress)" =~ consumed=$EVENTS\  ]]; }

vt_wait_until 60 "the first failed GET of $BLOCKED" gets_failed_at_least 1
vt_wait_until 30 "vane to retry the failed GET" gets_failed_at_least 3
vt_wait_until 60 "vane to consume all $EVENTS events" consumed_all
grep -q 'command failed: WRONGTYPE' "$VT_DIR/vane.log" || vt_fail "the WRONGTYPE reply was not logged"
sleep 2 # a few more housekeeping ticks: the blocked customer's events must still be waiting
line=$(last_progress)
[[ "$line" =~ waiting=([0-9]+) ]] && ((BASH_REMATCH[1] > 0)) ||
    vt_fail "no events waiting while $BLOCKED's GET fails: $line"
[[ "$(vt_redis TYPE "$KEY" | tr -d '\r')" == list ]] || vt_fail "vane overwrote the foreign key $KEY"
kill -0 "${VT_PID[vane]}" 2>/dev/null || vt_fail "vane exited while a GET kept failing"

vt_redis DEL "$KEY" >/dev/null
all_written() { [[ "$(last_progress)" =~ consumed=$EVENTS\ .*dirty=0\ waiting=0 ]]; }
vt_wait_until 60 "vane to apply $BLOCKED's events once the key is gone" all_written
vt_stop vane TERM
[[ $VT_RC -eq 0 ]] || vt_fail "vane run exited $VT_RC on SIGTERM"
"$VANE_BIN" state get "$BLOCKED" --redis "$REDIS_URL" --json >"$VT_DIR/blocked.json" 2>"$VT_DIR/state.log" ||
    vt_fail "vane state get $BLOCKED failed: $(cat "$VT_DIR/state.log")"
applied=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("events_applied", 0))' "$VT_DIR/blocked.json")
((applied == NBLOCKED)) || vt_fail "$BLOCKED's state has $applied events applied, $NBLOCKED were sent"
vt_pass "$BLOCKED's GET failed $(failed_gets) times (WRONGTYPE), its events waited; after DEL all $EVENTS events applied, $NBLOCKED of them to $BLOCKED"
