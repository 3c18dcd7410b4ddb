#!/usr/bin/env bash
# The development tools end to end: `vane broker` (mock cluster, bootstrap file, SIGTERM ->
# exit 0), `vane gen` (to Kafka and to files, JSON and protobuf, determinism, truth file, rate
# control, delivery failure -> non-zero exit) and `vane tail` (raw values back from the topic,
# alerts printed as lines and as JSON, --count/--timeout exit codes).
# Self-contained: every process it starts is stopped by the EXIT trap, also on failure; all
# waits are bounded polls. VANE_BIN is the vane binary (ctest sets it).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
VANE_BIN=${VANE_BIN:-$here/../../build/vane}
MULT=${VANE_TEST_TIMEOUT_MULTIPLIER:-1}
START_MS=1700000000000

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vane-tools.XXXXXX")
pids=()
ok=0
cleanup() {
    local rc=$?
    set +e
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [[ $ok -ne 1 ]]; then
        for f in "$tmp"/*.log; do
            [[ -f "$f" ]] && { echo "----- $f" >&2; tail -n 30 "$f" >&2; }
        done
    fi
    [[ -z "${KEEP:-}" ]] && rm -rf "$tmp"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "tools_roundtrip: FAIL: $*" >&2; exit 1; }
log() { echo "tools_roundtrip: $*" >&2; }
# wait_until SECONDS WHAT CMD...: poll CMD every 100 ms until it succeeds, bounded.
wait_until() {
    local secs=$(($1 * MULT)) what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || fail "timed out after $secs s waiting for: $what"
        sleep 0.1
    done
}
expect_rc() { # expect_rc WANT CMD...
    local want=$1 rc=0
    shift
    "$@" >/dev/null 2>>"$tmp/usage.log" || rc=$?
    [[ $rc -eq $want ]] || fail "exit $rc (want $want): $*"
}

[[ -x "$VANE_BIN" ]] || fail "vane binary not found at $VANE_BIN (set VANE_BIN)"
command -v python3 >/dev/null || fail "python3 is required"

# --- bad usage -> 2 ---------------------------------------------------------------------
expect_rc 2 "$VANE_BIN" gen --events 10
expect_rc 2 "$VANE_BIN" gen --out "$tmp/x" --brokers 127.0.0.1:1
expect_rc 2 "$VANE_BIN" gen --out "$tmp/x" --format xml
expect_rc 2 "$VANE_BIN" broker --topic nopartitions
expect_rc 2 "$VANE_BIN" broker --broker-count 0
expect_rc 2 "$VANE_BIN" broker --broker-count 2 --leader churn.alerts:3
expect_rc 2 "$VANE_BIN" broker --leader no.such.topic:1
expect_rc 2 "$VANE_BIN" broker --coordinator g
expect_rc 2 "$VANE_BIN" broker --broker-count 2 --produce-rtt 3:100
expect_rc 2 "$VANE_BIN" broker --produce-rtt 1:-5
expect_rc 2 "$VANE_BIN" tail --count 1
"$VANE_BIN" broker --help | grep -q "100,000 messages" || fail "broker --help lacks the mock limits"

# --- broker -------------------------------------------------------------------------------
"$VANE_BIN" broker --bootstrap-file "$tmp/bootstrap" --broker-count 2 --topic pb.events:3 \
    >"$tmp/broker.out" 2>"$tmp/broker.log" &
broker=$!
pids+=("$broker")
wait_until 20 "broker bootstrap file" test -s "$tmp/bootstrap"
B=$(cat "$tmp/bootstrap")
[[ "$B" =~ ^127\.0\.0\.1:[0-9]+(,127\.0\.0\.1:[0-9]+)+$ ]] || fail "odd bootstrap '$B'"
wait_until 5 "broker stdout" test -s "$tmp/broker.out"
[[ "$(head -n 1 "$tmp/broker.out")" == "$B" ]] || fail "stdout and bootstrap file differ"
grep -q "topic bank.events (16 partitions)" "$tmp/broker.log" || fail "no bank.events topic"
grep -q "topic pb.events (3 partitions)" "$tmp/broker.log" || fail "no extra topic"
log "broker at $B"

# --- gen: files, determinism ----------------------------------------------------------------
common=(--seed 11 --customers 60 --start-ms "$START_MS" --quiet)
"$VANE_BIN" gen "${common[@]}" --events 2000 --out "$tmp/a.jsonl" --truth "$tmp/truth.csv"
"$VANE_BIN" gen "${common[@]}" --events 2000 --out "$tmp/b.jsonl" --truth "$tmp/truth.jsonl"
cmp -s "$tmp/a.jsonl" "$tmp/b.jsonl" || fail "same seed gave different JSON output"
[[ $(wc -l <"$tmp/a.jsonl") -eq 2000 ]] || fail "want 2000 JSON lines"
"$VANE_BIN" gen --seed 12 --customers 60 --start-ms "$START_MS" --quiet --events 2000 \
    --out "$tmp/c.jsonl"
cmp -s "$tmp/a.jsonl" "$tmp/c.jsonl" && fail "different seeds gave the same output"
"$VANE_BIN" gen "${common[@]}" --events 500 --format protobuf --out "$tmp/a.pb"
"$VANE_BIN" gen "${common[@]}" --events 500 --format protobuf --out "$tmp/b.pb"
cmp -s "$tmp/a.pb" "$tmp/b.pb" || fail "same seed gave different protobuf output"

# Truth: header + one row per customer, every planted kind, onsets after the 60-day history.
python3 - "$tmp/truth.csv" "$tmp/truth.jsonl" "$START_MS" <<'PY' || fail "truth file check"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
jrows = [json.loads(l) for l in open(sys.argv[2])]
start = int(sys.argv[3])
assert len(rows) == 60 and len(jrows) == 60, (len(rows), len(jrows))
kinds = {r["kind"] for r in rows}
want = {"PREFERENCE_SHIFT", "REDEMPTION_SURGE", "CANCELLATION_SURGE", "OUTFLOW_SURGE",
        "DORMANCY", "DECLINE_RISK", "DETRACTOR", "control"}
assert kinds == want, kinds
for r, j in zip(rows, jrows):
    assert r["customer_id"] == j["customer_id"] and r["kind"] == j["kind"]
    if r["kind"] != "control":
        assert int(r["onset_ms"]) >= start + 60 * 86400000, r
PY

# --- gen -> Kafka -> tail --raw -------------------------------------------------------------
"$VANE_BIN" gen --seed 11 --customers 60 --start-ms "$START_MS" --events 2000 --brokers "$B" \
    --topic bank.events >"$tmp/gen-kafka.log" 2>&1 || fail "gen to kafka failed"
grep -q "2000 events" "$tmp/gen-kafka.log" || fail "gen did not report 2000 events"
"$VANE_BIN" tail --brokers "$B" --topic bank.events --raw --from-beginning --count 2000 \
    --timeout $((60 * MULT)) >"$tmp/consumed.jsonl" 2>"$tmp/tail-raw.log" ||
    fail "tail --raw did not get 2000 messages"
[[ $(wc -l <"$tmp/consumed.jsonl") -eq 2000 ]] || fail "want 2000 consumed lines"
# Same events (order differs across partitions, so compare sorted).
cmp -s <(sort "$tmp/a.jsonl") <(sort "$tmp/consumed.jsonl") ||
    fail "events read back from Kafka differ from the file output"
# Per customer, order is kept (one key -> one partition).
python3 - "$tmp/a.jsonl" "$tmp/consumed.jsonl" <<'PY' || fail "per-customer order not kept"
import json, sys, collections
def per(path):
    d = collections.defaultdict(list)
    for l in open(path):
        e = json.loads(l); d[e["customer_id"]].append(e["event_id"])
    return d
assert per(sys.argv[1]) == per(sys.argv[2])
PY

# Protobuf to Kafka: the raw values (hex) are the framed messages of the protobuf file.
"$VANE_BIN" gen "${common[@]}" --events 500 --format protobuf --brokers "$B" --topic pb.events \
    2>"$tmp/gen-pb.log" || fail "gen protobuf to kafka failed"
"$VANE_BIN" tail --brokers "$B" --topic pb.events --raw --from-beginning --count 500 \
    --timeout $((60 * MULT)) >"$tmp/consumed.pbhex" 2>"$tmp/tail-pb.log" ||
    fail "tail --raw did not get 500 protobuf messages"
python3 - "$tmp/a.pb" "$tmp/consumed.pbhex" <<'PY' || fail "protobuf messages differ"
import sys
data = open(sys.argv[1], "rb").read()
msgs, i = [], 0
while i < len(data):
    n = shift = 0
    while True:
        b = data[i]; i += 1
        n |= (b & 0x7F) << shift; shift += 7
        if b < 0x80: break
    msgs.append(data[i:i + n].hex()); i += n
got = [l.strip() for l in open(sys.argv[2])]
assert len(msgs) == 500, len(msgs)
assert sorted(msgs) == sorted(got)
PY

# --- tail: alerts ---------------------------------------------------------------------------
cat >"$tmp/alerts.jsonl" <<'EOF'
{"alert_id":"a-1","rule_id":"redemption_surge","kind":"REDEMPTION_SURGE","severity":"HIGH","customer_id":"C0000042","score":0.87,"stage":"DECLINE","event_time_ms":1700000000000,"event_ids":["C0000042-10","C0000042-11"],"features":{"redemptions_24h":3},"summary":"3 redemptions in 24h","segment":"affluent","route":"line_management","manager_id":"M007"}
{"alert_id":"a-2","rule_id":"detractor","kind":"DETRACTOR","severity":"MEDIUM","customer_id":"C0000007","score":0.5,"event_time_ms":1700000500000,"summary":"survey score 3"}
EOF
"$VANE_BIN" gen --brokers "$B" --topic churn.alerts --raw-in "$tmp/alerts.jsonl" --quiet ||
    fail "could not produce the test alerts"
"$VANE_BIN" tail --brokers "$B" --from-beginning --count 2 --timeout $((30 * MULT)) \
    >"$tmp/alerts.txt" 2>"$tmp/tail.log" || fail "tail did not print 2 alerts"
grep -q "2023-11-14T22:13:20.000Z  C0000042 .*REDEMPTION_SURGE .*HIGH .*3 redemptions in 24h" \
    "$tmp/alerts.txt" || fail "alert line for C0000042 missing or wrong: $(cat "$tmp/alerts.txt")"
grep -q "C0000007 .*DETRACTOR .*MEDIUM" "$tmp/alerts.txt" || fail "alert line for C0000007"
grep -q $'\033' "$tmp/alerts.txt" && fail "colour codes written to a file"
"$VANE_BIN" tail --brokers "$B" --from-beginning --count 2 --json --timeout $((30 * MULT)) \
    >"$tmp/alerts.json" 2>>"$tmp/tail.log" || fail "tail --json did not print 2 alerts"
python3 -c 'import json,sys; k=sorted(json.loads(l)["kind"] for l in open(sys.argv[1])); assert k==["DETRACTOR","REDEMPTION_SURGE"], k' \
    "$tmp/alerts.json" || fail "tail --json output"
rc=0
"$VANE_BIN" tail --brokers "$B" --from-beginning --count 3 --timeout 2 >/dev/null \
    2>>"$tmp/tail.log" || rc=$?
[[ $rc -eq 1 ]] || fail "tail --count 3 with only 2 alerts should time out with 1, got $rc"

# --- rate control (a lower bound cannot be flaky: 600 events at 2000/s take >= ~0.3 s) -------
t0=$(date +%s%N)
"$VANE_BIN" gen "${common[@]}" --events 600 --rate 2000 --out "$tmp/rate.jsonl"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
((ms >= 250)) || fail "--rate 2000 sent 600 events in $ms ms"
((ms < 20000 * MULT)) || fail "--rate 2000 took $ms ms for 600 events"
cmp -s "$tmp/rate.jsonl" <(head -n 600 "$tmp/a.jsonl") || fail "--rate changed the events"

# --- broker stops on SIGTERM with exit 0 and removes its bootstrap file ----------------------
kill -TERM "$broker"
deadline=$((SECONDS + 20 * MULT))
while kill -0 "$broker" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "broker still running 20 s after SIGTERM"
    sleep 0.1
done
rc=0
wait "$broker" || rc=$?
[[ $rc -eq 0 ]] || fail "broker exited $rc after SIGTERM"
[[ ! -e "$tmp/bootstrap" ]] || fail "bootstrap file left behind"

# --- delivery failure -> non-zero (the broker is gone) ----------------------------------------
rc=0
"$VANE_BIN" gen "${common[@]}" --events 20 --brokers "$B" --delivery-timeout 1500 \
    >"$tmp/gen-fail.log" 2>&1 || rc=$?
[[ $rc -eq 1 ]] || fail "gen to a dead broker exited $rc, want 1"
grep -q "failed delivery" "$tmp/gen-fail.log" || fail "gen did not report the delivery failure"

ok=1
log "PASS: broker, gen (files, Kafka, JSON, protobuf, truth, rate), tail (raw, alerts, json)"
