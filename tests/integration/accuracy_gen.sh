#!/usr/bin/env bash
# Accuracy of the default rules on the synthetic bank (issue 4): `vane gen` with a fixed seed and
# 20,000 customers -> `vane replay` -> tests/integration/accuracy_score.py against the ground
# truth. Fails when a kind's recall < 0.95 or false alerts on control customers > 2 per 1,000;
# prints the table (docs/accuracy.md holds the last measured one).
#
# Environment: VANE_BIN (the vane binary), VANE_SOURCE_DIR; optional ACCURACY_CUSTOMERS (default
# 20000), ACCURACY_SEED (default 20261123), ACCURACY_KEEP=DIR to keep the files.
set -euo pipefail

src=${VANE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
vane=${VANE_BIN:-$src/build/vane}
customers=${ACCURACY_CUSTOMERS:-20000}
seed=${ACCURACY_SEED:-20261123}
# A fixed start (2025-01-01T00:00:00Z) so the event times, and the output, are reproducible.
start_ms=1735689600000

if [[ ! -x "$vane" ]]; then
    echo "accuracy_gen: vane binary not found at $vane (set VANE_BIN)" >&2
    exit 1
fi
command -v python3 >/dev/null || { echo "accuracy_gen: python3 is required" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vane-accuracy.XXXXXX")
cleanup() {
    if [[ -n "${ACCURACY_KEEP:-}" ]]; then
        mkdir -p "$ACCURACY_KEEP" && cp "$tmp"/* "$ACCURACY_KEEP"/ 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

t0=$(date +%s%N)
"$vane" gen --seed "$seed" --customers "$customers" --start-ms "$start_ms" --format protobuf \
    --out "$tmp/events.pb" --truth "$tmp/truth.csv" --quiet
t1=$(date +%s%N)
# The watermark trails the newest event by the rules' lateness; at the end of the recording
# flush the timers up to the last event time, as a daemon that kept running would.
"$vane" replay --no-progress --flush-timers-until +0 --stats-json "$tmp/stats.json" \
    "$tmp/events.pb" >"$tmp/alerts.jsonl" 2>"$tmp/replay.err" || {
    echo "accuracy_gen: vane replay failed:" >&2
    cat "$tmp/replay.err" >&2
    exit 1
}
t2=$(date +%s%N)

echo "accuracy_gen: seed $seed, $customers customers, start $start_ms"
sed 's/^/  /' "$tmp/replay.err"
echo "accuracy_gen: gen $(((t1 - t0) / 1000000)) ms, replay $(((t2 - t1) / 1000000)) ms"
echo
rc=0
python3 "$src/tests/integration/accuracy_score.py" "$tmp/truth.csv" "$tmp/alerts.jsonl" || rc=$?
exit $rc
