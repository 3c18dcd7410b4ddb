#!/usr/bin/env bash
# Recovery: Redis refuses commands on a live connection (error replies, not an outage).
# 1. Before vane runs, one customer's key holds a list, so its state GET fails with -WRONGTYPE.
#    vane must neither crash nor overwrite that foreign key nor drop the customer's events: it
#    keeps them waiting, retries the GET (once a second) and applies them once the key is
#    removed; every other customer is processed meanwhile.
# 2. Then Redis reaches maxmemory (CONFIG SET maxmemory 1): every state SET fails with -OOM.
#    vane must pause consumption (dirty states cannot be evicted, so consuming on would grow
#    memory without bound), retry the write-back, and resume once Redis accepts writes again.
# Checks: Redis counts >= 3 failed GETs, and so does vane_redis_errors_total; the list is left
# alone and events wait meanwhile; "consumption paused (state writes failing)" is logged,
# /readyz says why, and the consumed counter stays flat while SETs fail; in the end every event
# of both phases is written and every customer's state has exactly its events applied.
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
vt_start_vane vane --group errors --log-level debug --http 127.0.0.1:0
vt_wait_until 20 "the HTTP endpoint" grep -q 'serving .*(port [0-9]*)' "$VT_DIR/vane.log"
HTTP_PORT=$(grep -o 'serving .*(port [0-9]*)' "$VT_DIR/vane.log" | head -n 1 | grep -o 'port [0-9]*' | cut -d' ' -f2)
readyz_says() { curl -s --max-time 2 "http://127.0.0.1:$HTTP_PORT/readyz" | grep -q "$1"; }

failed_gets() {
    vt_redis INFO commandstats | tr -d '\r' | grep '^cmdstat_get:' | grep -o 'failed_calls=[0-9]*' | cut -d= -f2
}
gets_failed_at_least() { (($(failed_gets) >= $1)); }
last_progress() { grep -o 'progress: consumed=.*' "$VT_DIR/vane.log" | tail -n 1; }
consumed_all() { [[ "$(last_progress)" =~ consumed=$EVENTS\  ]]; }

vt_wait_until 60 "the first failed GET of $BLOCKED" gets_failed_at_least 1
vt_wait_until 30 "vane to retry the failed GET" gets_failed_at_least 3
metric() { curl -s --max-time 2 "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
refusals_counted() { [[ "$(metric vane_redis_connected)" == 1 ]] && (($(metric vane_redis_errors_total) >= 3)); }
vt_wait_until 5 "/metrics to count the refused GETs (vane_redis_errors_total >= 3, connected)" refusals_counted
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
vt_log "phase 1: $BLOCKED's GET failed $(failed_gets) times (WRONGTYPE), its events waited, all applied after DEL"

# --- phase 2: Redis at maxmemory refuses every write ----------------------------------------
"$VANE_BIN" gen --seed 8 --customers 40 --out "$VT_DIR/more-all.jsonl" >"$VT_DIR/gen-more.log" 2>&1 ||
    vt_fail "vane gen (phase 2) failed"
# Only customers the first stream does not have, so no event id repeats.
python3 - "$VT_DIR/events.jsonl" "$VT_DIR/more-all.jsonl" "$VT_DIR/more.jsonl" <<'PY'
import json, sys
seen = {json.loads(l)["customer_id"] for l in open(sys.argv[1])}
with open(sys.argv[3], "w") as out:
    for l in open(sys.argv[2]):
        if json.loads(l)["customer_id"] not in seen:
            out.write(l)
PY
MORE=$(wc -l <"$VT_DIR/more.jsonl")
((MORE > 1000)) || vt_fail "phase 2 stream has only $MORE events"
TOTAL=$((EVENTS + MORE))
vt_redis CONFIG SET maxmemory 1 >/dev/null
# A quarter first: vane consumes it and pauses at its first failed write-back; the rest is sent
# while it is paused and must stay unconsumed.
head -n $((MORE / 4)) "$VT_DIR/more.jsonl" >"$VT_DIR/more-a.jsonl"
tail -n +$((MORE / 4 + 1)) "$VT_DIR/more.jsonl" >"$VT_DIR/more-b.jsonl"
"$VANE_BIN" gen --raw-in "$VT_DIR/more-a.jsonl" --brokers "$BOOTSTRAP" --topic bank.events \
    >"$VT_DIR/gen-kafka2.log" 2>&1 || vt_fail "producing the phase 2 stream failed"
write_pauses() { grep -c 'consumption paused (state writes failing)' "$VT_DIR/vane.log" || true; }
paused_for_writes() { (($(write_pauses) >= 1)); }
vt_wait_until 30 "vane to pause consumption while Redis refuses writes" paused_for_writes
"$VANE_BIN" gen --raw-in "$VT_DIR/more-b.jsonl" --brokers "$BOOTSTRAP" --topic bank.events \
    >>"$VT_DIR/gen-kafka2.log" 2>&1 || vt_fail "producing the phase 2 stream failed"
sleep 2 # anything fetched before the pause drains through, and a progress line is logged
c1=$(grep -o 'consumed=[0-9]*' "$VT_DIR/vane.log" | tail -n 1 | cut -d= -f2)
sleep 3
c2=$(grep -o 'consumed=[0-9]*' "$VT_DIR/vane.log" | tail -n 1 | cut -d= -f2)
((c1 == c2)) || vt_fail "vane consumed $((c2 - c1)) messages while Redis refused writes"
((c1 < TOTAL)) || vt_fail "vane consumed all $TOTAL messages before pausing: the pause was not tested"
failed_sets=$(vt_redis INFO commandstats | tr -d '\r' | grep '^cmdstat_set:' | grep -o 'rejected_calls=[0-9]*' | cut -d= -f2)
((failed_sets > 0)) || vt_fail "redis rejected no SET: maxmemory did not take effect"
kill -0 "${VT_PID[vane]}" 2>/dev/null || vt_fail "vane exited while Redis refused writes"
vt_wait_until 5 "/readyz to say why vane is paused" readyz_says 'not ready: paused: redis refuses state writes'
vt_log "phase 2: paused at $c1 of $TOTAL consumed; redis rejected $failed_sets SETs"
vt_redis CONFIG SET maxmemory 0 >/dev/null
all_written2() { [[ "$(last_progress)" =~ consumed=$TOTAL\ .*dirty=0\ waiting=0 ]]; }
vt_wait_until 60 "vane to resume and write all $TOTAL events once Redis accepts writes" all_written2
grep -q 'state write-back succeeded again' "$VT_DIR/vane.log" || vt_fail "no 'write-back succeeded again' log line"
vt_wait_until 5 "/readyz to report ready again" readyz_says '^ready'

vt_stop vane TERM
[[ $VT_RC -eq 0 ]] || vt_fail "vane run exited $VT_RC on SIGTERM"
cat "$VT_DIR/events.jsonl" "$VT_DIR/more.jsonl" >"$VT_DIR/all.jsonl"
mapfile -t ids < <(python3 -c '
import json, sys
print("\n".join(sorted({json.loads(l)["customer_id"] for l in open(sys.argv[1])})))' "$VT_DIR/all.jsonl")
"$VANE_BIN" state get "${ids[@]}" --redis "$REDIS_URL" --json >"$VT_DIR/states.jsonl" 2>"$VT_DIR/state.log" ||
    vt_fail "vane state get failed: $(cat "$VT_DIR/state.log")"
python3 - "$VT_DIR/all.jsonl" "$VT_DIR/states.jsonl" <<'PY' || vt_fail "stored states do not match the events sent (see above)"
import collections, json, sys
want = collections.Counter(json.loads(l)["customer_id"] for l in open(sys.argv[1]))
got = {}
for l in open(sys.argv[2]):
    s = json.loads(l)
    got[s["customer_id"]] = s.get("events_applied", 0)
bad = [(c, n, got.get(c)) for c, n in want.items() if got.get(c) != n]
for c, n, g in bad[:10]:
    print("customer %s: %d events sent, state has %s applied" % (c, n, g), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
vt_pass "WRONGTYPE GET retried until the key was removed; writes refused at maxmemory paused consumption at $c1 of $TOTAL, resumed after; all ${#ids[@]} customers have exactly their events applied"
