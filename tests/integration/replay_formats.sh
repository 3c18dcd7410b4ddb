#!/usr/bin/env bash
# `vane replay`: the same `vane gen` world as JSON lines and as length-delimited protobuf gives
# byte-identical alerts; output is deterministic run to run; undecodable lines are counted by
# reason on stderr and in --stats-json without disturbing the rest; --format is honoured;
# --flush-timers-until only adds alerts; a file (batched) and stdin (event by event) agree; bad
# usage exits 2.
set -euo pipefail

src=${VANE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
vane=${VANE_BIN:-$src/build/vane}
[[ -x "$vane" ]] || { echo "replay_formats: no vane binary at $vane" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vane-replay.XXXXXX")
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$tmp"' EXIT
fail() { echo "replay_formats: FAIL: $*" >&2; exit 1; }

start=1735689600000
"$vane" gen --seed 7 --customers 400 --start-ms $start --format json --out "$tmp/e.jsonl" \
    --truth "$tmp/truth.csv" --quiet
"$vane" gen --seed 7 --customers 400 --start-ms $start --format protobuf --out "$tmp/e.pb" --quiet

"$vane" replay --no-progress --stats-json "$tmp/j.stats" "$tmp/e.jsonl" >"$tmp/j.alerts" 2>"$tmp/j.err" ||
    { cat "$tmp/j.err"; fail "replay json"; }
"$vane" replay --no-progress "$tmp/e.pb" >"$tmp/p.alerts" 2>"$tmp/p.err" ||
    { cat "$tmp/p.err"; fail "replay protobuf"; }
"$vane" replay --no-progress --format protobuf "$tmp/e.pb" >"$tmp/p2.alerts" 2>/dev/null ||
    fail "replay --format protobuf"
cat "$tmp/j.err"
[[ -s "$tmp/j.alerts" ]] || fail "no alerts at all on 400 customers with planted behaviours"
cmp -s "$tmp/j.alerts" "$tmp/p.alerts" || fail "JSON and protobuf input gave different alerts"
cmp -s "$tmp/p.alerts" "$tmp/p2.alerts" || fail "--format protobuf differs from auto"

# Deterministic: a second run is byte-identical (detected_at_ms is event time).
"$vane" replay --no-progress "$tmp/e.jsonl" >"$tmp/j2.alerts" 2>/dev/null
cmp -s "$tmp/j.alerts" "$tmp/j2.alerts" || fail "two runs differ"

# A file is applied in batches with lookahead, stdin event by event: the same alerts.
cat "$tmp/e.jsonl" | "$vane" replay --no-progress - >"$tmp/s.alerts" 2>/dev/null
cmp -s "$tmp/j.alerts" "$tmp/s.alerts" || fail "stdin (event by event) and file (batched) differ"
cat "$tmp/e.pb" | "$vane" replay --no-progress - >"$tmp/s2.alerts" 2>/dev/null
cmp -s "$tmp/p.alerts" "$tmp/s2.alerts" || fail "protobuf on stdin and from the file differ"

# Every alert line is a JSON object with the contract's fields; summary counts match stdout.
python3 - "$tmp/j.alerts" "$tmp/j.stats" <<'EOF' || fail "alert output / stats"
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
st = json.load(open(sys.argv[2]))
for a in alerts:
    for k in ("alert_id", "rule_id", "kind", "customer_id", "event_time_ms"):
        assert k in a, "alert without %s: %s" % (k, a)
    # deterministic "now": the event time (or the watermark, for timer alerts), never the clock
    assert int(a["detected_at_ms"]) >= int(a["event_time_ms"]), a
    assert int(a["detected_at_ms"]) < 1735689600000 + 200 * 86400000, a
assert st["alerts_total"] == len(alerts), (st["alerts_total"], len(alerts))
by = {}
for a in alerts:
    by[a["kind"]] = by.get(a["kind"], 0) + 1
for k, v in by.items():
    assert st["alerts"][k] == v, (k, st["alerts"][k], v)
assert st["rejected"] == 0 and st["events"] > 10000 and st["ns_per_event"] > 0, st
print("replay_formats: %d events, %d alerts %s" % (st["events"], len(alerts), by))
EOF

# Bad lines: counted by reason, reported, and the good lines still give the same alerts.
{
    echo 'not json at all'
    echo '{"customer_id":"X1","event_time_ms":1735689600001}'
    echo '{"customer_id":"X2","event_time_ms":1735689600002,"txn":{"kind":"TELEPORT","amount_minor":1}}'
    echo '{"customer_id":"X3","event_time_ms":1735689600003,"txn":{"kind":"DEPOSIT","amount_minor":-5}}'
    echo ''
    cat "$tmp/e.jsonl"
} >"$tmp/bad.jsonl"
"$vane" replay --no-progress --stats-json "$tmp/bad.stats" "$tmp/bad.jsonl" >"$tmp/bad.alerts" \
    2>"$tmp/bad.err" || fail "replay must continue past bad lines (exit 0)"
cmp -s "$tmp/j.alerts" "$tmp/bad.alerts" || fail "bad lines changed the alerts"
grep -q "json_syntax" "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "json_syntax not reported"; }
grep -q "unknown_enum" "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "unknown_enum not reported"; }
grep -q "record 1:" "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "no line number in reject report"; }
python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["rejected"] == 4, s
assert s["rejects"].get("json_syntax") == 1 and s["rejects"].get("unknown_enum") == 1, s
assert s["rejects"].get("bad_value") == 1 and s["rejects"].get("missing_field") == 1, s
' "$tmp/bad.stats" || { cat "$tmp/bad.err"; fail "reject counts by reason"; }

# Flushing timers at the end can only add alerts (it advances the watermark), never remove.
"$vane" replay --no-progress --flush-timers-until +40d "$tmp/e.pb" >"$tmp/f.alerts" 2>/dev/null
head -c "$(stat -c %s "$tmp/p.alerts")" "$tmp/f.alerts" | cmp -s - "$tmp/p.alerts" ||
    fail "--flush-timers-until changed earlier alerts"

# Usage errors exit 2; a missing file exits 1.
set +e
"$vane" replay >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "no EVENTS should exit 2"
"$vane" replay --format xml "$tmp/e.pb" >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "bad --format should exit 2"
"$vane" replay "$tmp/nope.jsonl" >/dev/null 2>&1; [[ $? -eq 1 ]] || fail "missing file should exit 1"
"$vane" replay --rules "$tmp/nope.yaml" "$tmp/e.pb" >/dev/null 2>&1; [[ $? -eq 1 ]] || fail "missing rules should exit 1"
set -e
echo "replay_formats: ok"
