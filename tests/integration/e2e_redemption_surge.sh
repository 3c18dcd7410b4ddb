#!/usr/bin/env bash
# End to end (issue 3): redis-server + `vane broker` + `vane run`, a generated stream with
# planted behaviours, and the checks:
#   - every planted REDEMPTION_SURGE customer gets exactly one REDEMPTION_SURGE alert;
#   - no control customer gets one;
#   - the state in Redis matches the events sent (per customer: events applied and the
#     position of the last one);
#   - malformed messages (random bytes, truncated protobuf, invalid JSON) are counted and
#     logged, and the daemon goes on;
#   - everything lives in the database redis.url names (/5 here): vane run and vane state
#     SELECT it, and database 0 stays empty; states carry the redis.state_ttl expiry.
source "$(dirname "$0")/lib.sh"
vt_init e2e

CUSTOMERS=${E2E_CUSTOMERS:-300}
SEED=${E2E_SEED:-20261123}
START_MS=$(( ($(date +%s) - 100 * 86400) * 1000 ))

vt_start_redis
REDIS_URL="$REDIS_URL/5"
vt_start_broker
vt_log "broker at $BOOTSTRAP, redis at $REDIS_URL"

# The same seed and options give the same stream: once to a file (the reference), once to Kafka.
gen_args=(--seed "$SEED" --customers "$CUSTOMERS" --start-ms "$START_MS")
"$VANE_BIN" gen "${gen_args[@]}" --out "$VT_DIR/events.jsonl" --truth "$VT_DIR/truth.csv" \
    >"$VT_DIR/gen-file.log" 2>&1 || vt_fail "vane gen to file failed"
"$VANE_BIN" gen "${gen_args[@]}" --brokers "$BOOTSTRAP" --topic bank.events \
    >"$VT_DIR/gen-kafka.log" 2>&1 || vt_fail "vane gen to kafka failed"
EVENTS=$(wc -l <"$VT_DIR/events.jsonl")
grep -q "$EVENTS events" "$VT_DIR/gen-kafka.log" ||
    vt_fail "the Kafka run of the generator did not send the same $EVENTS events"

# Malformed input on the same topic: random bytes, a truncated protobuf, invalid JSON.
python3 - "$VT_DIR/bad" <<'PY'
import os, sys
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
open(f"{d}/random.bin", "wb").write(bytes((i * 97 + 13) % 256 for i in range(64)))
open(f"{d}/trunc.pb", "wb").write(bytes([0x0a, 0x05, 0x65, 0x2d]))  # field 1, len 5, 2 bytes
open(f"{d}/bad.json", "wb").write(b'{"customer_id": "C1", "event_time_ms": ')
PY
for f in random.bin trunc.pb bad.json; do
    kcat -P -b "$BOOTSTRAP" -t bank.events -k BADKEY "$VT_DIR/bad/$f" \
        >>"$VT_DIR/kcat.log" 2>&1 || vt_fail "producing $f with kcat failed"
done

vt_start_vane vane --group e2e --log-level debug
total=$((EVENTS + 3))
consumed_all() {
    local line
    line=$(grep -o 'progress: consumed=[0-9]* .*written=[0-9]*' "$VT_DIR/vane.log" | tail -n 1)
    [[ "$line" =~ consumed=$total\  ]] && [[ "$line" =~ dirty=0\ waiting=0 ]]
}
vt_wait_until 240 "vane to consume all $total messages and write every state" consumed_all
grep -q 'rejected message.*protobuf_malformed\|rejected message.*json_syntax' "$VT_DIR/vane.log" ||
    vt_fail "no rejected-message log line for the malformed input"
rejected=$(grep -o 'progress: .*rejected=[0-9]*' "$VT_DIR/vane.log" | tail -n 1 | grep -o 'rejected=[0-9]*' | cut -d= -f2)
[[ "$rejected" -eq 3 ]] || vt_fail "expected 3 rejected messages, vane counted $rejected"

# Alerts: read the whole alert topic.
"$VANE_BIN" tail --brokers "$BOOTSTRAP" --topic churn.alerts --from-beginning --json \
    --timeout 5 >"$VT_DIR/alerts.jsonl" 2>"$VT_DIR/tail.log" || vt_fail "vane tail failed"

# A clean shutdown exits 0 (SIGTERM: drain, flush, commit).
vt_stop vane TERM
[[ $VT_RC -eq 0 ]] || vt_fail "vane run exited $VT_RC on SIGTERM"

# States in Redis, one JSON line per customer.
mapfile -t ids < <(python3 -c '
import json, sys
seen = []
for line in open(sys.argv[1]):
    c = json.loads(line)["customer_id"]
    if c not in seen: seen.append(c)
print("\n".join(seen))' "$VT_DIR/events.jsonl")
"$VANE_BIN" state get --redis "$REDIS_URL" --json "${ids[@]}" >"$VT_DIR/states.jsonl" ||
    vt_fail "vane state get failed for some customer"
# The timer index: one sorted set per partition, members with their due times.
for key in $(vt_redis -n 5 --scan --pattern 'vane:timers:*'); do
    vt_redis -n 5 ZRANGE "$key" 0 -1 WITHSCORES | paste - - | sed "s/^/$key\t/"
done >"$VT_DIR/timers.tsv"
[[ "$(vt_redis -n 0 DBSIZE)" == 0 ]] || vt_fail "keys were written to database 0, not to /5"
((${#ids[@]} > 0 && $(vt_redis -n 5 DBSIZE) >= ${#ids[@]})) ||
    vt_fail "database 5 has $(vt_redis -n 5 DBSIZE) keys for ${#ids[@]} customers"
# States expire after redis.state_ttl (400 days by default), counted from their last write.
pttl=$(vt_redis -n 5 PTTL "vane:{${ids[0]}}:s")
((pttl > 399 * 86400000 && pttl <= 400 * 86400000)) ||
    vt_fail "the state of ${ids[0]} expires in $pttl ms, want about 400 days (redis.state_ttl)"

python3 - "$VT_DIR" <<'PY' || vt_fail "checks failed (see above)"
import csv, json, sys, collections
d = sys.argv[1]
events = [json.loads(l) for l in open(f"{d}/events.jsonl")]
alerts = [json.loads(l) for l in open(f"{d}/alerts.jsonl") if l.strip()]
states = {s["customer_id"]: s for s in (json.loads(l) for l in open(f"{d}/states.jsonl"))}
truth = collections.defaultdict(set)
with open(f"{d}/truth.csv") as fh:
    for row in csv.DictReader(fh):
        truth[row["customer_id"]].add(row["kind"])
planted = {c for c, k in truth.items() if "REDEMPTION_SURGE" in k}
controls = {c for c, k in truth.items() if k == {"control"}}
per_cust = collections.Counter(a["customer_id"] for a in alerts if a["kind"] == "REDEMPTION_SURGE")
errors = []
if not planted:
    errors.append("the stream has no planted REDEMPTION_SURGE customer")
for c in sorted(planted):
    if per_cust[c] != 1:
        errors.append(f"planted customer {c}: {per_cust[c]} REDEMPTION_SURGE alerts, want 1")
for c in sorted(controls):
    if per_cust[c]:
        errors.append(f"control customer {c}: {per_cust[c]} REDEMPTION_SURGE alerts, want 0")
for a in alerts:
    if a["kind"] == "REDEMPTION_SURGE":
        f = a.get("features", {})
        for k in ("count", "amount_minor", "window_ms"):
            if not any(name.startswith(k.split("_")[0]) for name in f):
                errors.append(f"alert {a['alert_id']} lacks evidence feature like '{k}': {f}")
                break
        if not a.get("summary"):
            errors.append(f"alert {a['alert_id']} has no summary")
sent = collections.Counter(e["customer_id"] for e in events)
for c, n in sent.items():
    s = states.get(c)
    if s is None:
        errors.append(f"customer {c}: no state in Redis"); continue
    if s["events_applied"] != n:
        errors.append(f"customer {c}: state has {s['events_applied']} events applied, {n} sent")
    if s["last_offset"] < 0:
        errors.append(f"customer {c}: state records no position")
# Every indexed customer sits once in its own partition's set (the write-back groups the
# index updates by partition). Most customers have a timer armed (dormancy); those whose
# dormancy alert fired and who stayed quiet have none, and are not indexed.
indexed = collections.defaultdict(list)
for line in open(f"{d}/timers.tsv"):
    key, member, score = line.rstrip("\n").split("\t")
    indexed[member].append((key, float(score)))
for c, where in indexed.items():
    s = states.get(c)
    if s is None:
        errors.append(f"timer index holds unknown customer {c}"); continue
    want = "vane:timers:{p%d}" % s["last_partition"]
    if [k for k, _ in where] != [want]:
        errors.append(f"customer {c}: timer index entries {where}, want one in {want}")
if len(indexed) < len(states) * 0.9:
    errors.append(f"only {len(indexed)} of {len(states)} customers are in the timer index")
for e in errors[:30]:
    print("  " + e, file=sys.stderr)
print(f"checked {len(sent)} customers, {len(events)} events, {len(alerts)} alerts, "
      f"{len(indexed)} customers in the timer index, "
      f"{len(planted)} planted redemption surges, {len(controls)} controls", file=sys.stderr)
sys.exit(1 if errors else 0)
PY
vt_pass "e2e: $EVENTS events, every planted redemption surge alerted once, states match"
