#!/usr/bin/env bash
# `vane import berka` on a slice of the real Berka data (../shared/data/berka relative to the
# repository root): the output must be time-ordered events that vane's own decoder accepts
# (replayed with zero rejects, in JSON and in protobuf, with the same alerts), with unique
# event ids and the documented type mapping. Skipped (exit 0 with a message) when the data is
# absent. Also checks the BPIC 2012 import on its first rows when that file is there.
set -euo pipefail

src=${VANE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
vane=${VANE_BIN:-$src/build/vane}
data=${VANE_REAL_DATA:-$src/../shared/data}

if [[ ! -f "$data/berka/account.asc" ]]; then
    echo "berka_import: SKIP: no Berka data at $data/berka (see docs/real-data.md)"
    exit 0
fi
[[ -x "$vane" ]] || { echo "berka_import: no vane binary at $vane" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vane-berka.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "berka_import: FAIL: $*" >&2; exit 1; }

"$vane" import berka --max-accounts 150 --out "$tmp/b.jsonl" "$data/berka" 2>"$tmp/import.err" ||
    { cat "$tmp/import.err" >&2; fail "import (json) exited non-zero"; }
"$vane" import berka --max-accounts 150 --format protobuf --out "$tmp/b.pb" "$data/berka" \
    2>/dev/null || fail "import (protobuf) exited non-zero"
cat "$tmp/import.err"
grep -q "on 150 of 4500 accounts" "$tmp/import.err" || fail "expected exactly 150 accounts"

# Structure: sorted by time, unique ids, the mapping's invariants.
python3 - "$tmp/b.jsonl" <<'EOF' || fail "structure check"
import json, sys
last = None
ids = set()
kinds = {}
custs = set()
for n, line in enumerate(open(sys.argv[1]), 1):
    e = json.loads(line)
    t = int(e["event_time_ms"])
    assert last is None or t >= last, "line %d: not in time order" % n
    last = t
    assert e["event_id"] not in ids, "line %d: duplicate id %s" % (n, e["event_id"])
    ids.add(e["event_id"])
    custs.add(e["customer_id"])
    if "txn" in e:
        x = e["txn"]
        kinds[x["kind"]] = kinds.get(x["kind"], 0) + 1
        assert x["currency"] == "CZK"
        assert int(x["amount_minor"]) >= 0
        if x["kind"] in ("TRANSFER_OUT", "TRANSFER_IN"):
            assert x.get("counterparty_bank"), "line %d: transfer without bank" % n
        if x["category"] == "DEMAND_DEPOSIT":
            assert "balance_after_minor" in x, "line %d: no balance" % n
    else:
        assert "profile" in e, "line %d: unexpected payload" % n
for k in ("DEPOSIT", "WITHDRAWAL", "TRANSFER_IN", "TRANSFER_OUT", "PAYMENT", "FEE", "INTEREST"):
    assert kinds.get(k, 0) > 0, "no %s in the slice" % k
assert len(custs) == 150, "customers: %d" % len(custs)
print("berka_import: %d events, %d customers, kinds %s" % (len(ids), len(custs), kinds))
EOF

# vane's decoder accepts every event, in both framings, and both give the same alerts.
for f in b.jsonl b.pb; do
    "$vane" replay --no-progress --stats-json "$tmp/$f.stats" "$tmp/$f" >"$tmp/$f.alerts" \
        2>"$tmp/$f.err" || { cat "$tmp/$f.err" >&2; fail "replay of $f"; }
    python3 - "$tmp/$f.stats" <<'EOF' || { cat "$tmp/$f.err" >&2; fail "$f: rejects"; }
import json, sys
s = json.load(open(sys.argv[1]))
assert s["rejected"] == 0, "rejected %d: %s" % (s["rejected"], s["rejects"])
assert s["events"] > 3000, s
print("berka_import: %s replayed: %d events, %d alerts" % (sys.argv[1].split("/")[-1], s["events"], s["alerts_total"]))
EOF
done
cmp -s "$tmp/b.jsonl.alerts" "$tmp/b.pb.alerts" || fail "JSON and protobuf imports gave different alerts"

# BPIC 2012: the first 3,000 rows decode too.
bpic="$data/bpic2012/BPI_Challenge_2012.events.csv.gz"
if [[ -f "$bpic" ]]; then
    { gzip -dc "$bpic" 2>/dev/null || true; } | head -3000 >"$tmp/bpic.csv" # gzip gets SIGPIPE
    "$vane" import bpic2012 --out "$tmp/p.jsonl" "$tmp/bpic.csv" 2>"$tmp/p.err" ||
        { cat "$tmp/p.err" >&2; fail "bpic2012 import"; }
    "$vane" replay --no-progress --stats-json "$tmp/p.stats" "$tmp/p.jsonl" >/dev/null 2>&1 ||
        fail "bpic2012 replay"
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["rejected"]==0 and s["events"]>100, s' \
        "$tmp/p.stats" || fail "bpic2012 events rejected"
    echo "berka_import: bpic2012 slice ok ($(wc -l <"$tmp/p.jsonl") events)"
fi
echo "berka_import: ok"
