#!/usr/bin/env bash
# `vane rules check` and `vane rules test` themselves: a broken rules file gives file:line:col
# and exit 1; the shipped rules check clean; a fixture whose expectation is wrong fails with a
# readable diff (missing / closest / unexpected) and exit 1; a fixture with a broken events line
# fails; an unknown expected field is reported; bad usage exits 2.
set -euo pipefail

src=${VANE_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
vane=${VANE_BIN:-$src/build/vane}
[[ -x "$vane" ]] || { echo "replay_rules_cli: no vane binary at $vane" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vane-rulescli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "replay_rules_cli: FAIL: $*" >&2; exit 1; }

# --- rules check -------------------------------------------------------------------------------
"$vane" rules check "$src/rules/default.yaml" >"$tmp/ok.out" 2>&1 || { cat "$tmp/ok.out"; fail "default rules do not check"; }
grep -q "ok" "$tmp/ok.out" || fail "no ok line"

cat >"$tmp/bad.yaml" <<'EOF'
- required_engine_version: 1
- rule: BROKEN
  desc: a rule with a syntax error in its condition
  kind: CUSTOM
  severity: LOW
  on: [txn]
  condition: count(txn.REDEMPTION, 24h) >=
  summary: "broken"
EOF
set +e
"$vane" rules check "$tmp/bad.yaml" >"$tmp/bad.out" 2>&1
rc=$?
set -e
cat "$tmp/bad.out"
[[ $rc -eq 1 ]] || fail "a broken file must exit 1 (got $rc)"
grep -Eq "bad\.yaml:[0-9]+:[0-9]+: error" "$tmp/bad.out" || fail "no file:line:col error"

# --- rules test: a wrong expectation fails with a diff -------------------------------------------
fx="$tmp/fx"
mkdir -p "$fx"
cp "$src/tests/golden/redemption_surge_basic/events.jsonl" "$fx/"
echo "deliberately wrong expectation" >"$fx/README"
echo '{"kind":"REDEMPTION_SURGE","customer_id":"C100","severity":"LOW"}' >"$fx/expected.jsonl"
echo '{"kind":"DORMANCY","customer_id":"C100"}' >>"$fx/expected.jsonl"
set +e
"$vane" rules test "$fx" >"$tmp/t.out" 2>&1
rc=$?
set -e
cat "$tmp/t.out"
[[ $rc -eq 1 ]] || fail "a wrong expectation must exit 1 (got $rc)"
grep -q "deliberately wrong expectation" "$tmp/t.out" || fail "README line not shown"
grep -q "shipped default" "$tmp/t.out" || fail "how the rules were found is not said"
grep -q -- "- missing   expected.jsonl:1" "$tmp/t.out" || fail "missing line 1 not reported"
grep -q 'severity: expected "LOW", got "HIGH"' "$tmp/t.out" || fail "no field diff"
grep -q -- "- missing   expected.jsonl:2" "$tmp/t.out" || fail "missing line 2 not reported"
grep -q "+ unexpected alert #1" "$tmp/t.out" || fail "unexpected alert not shown"

# The right expectation passes; a typo'd field never matches.
echo '{"kind":"REDEMPTION_SURGE","customer_id":"C100","severity":"high","_note":"comments are ignored"}' >"$fx/expected.jsonl"
"$vane" rules test "$fx" >"$tmp/t2.out" 2>&1 || { cat "$tmp/t2.out"; fail "correct expectation failed"; }
echo '{"kind":"REDEMPTION_SURGE","customer_id":"C100","severty":"HIGH"}' >"$fx/expected.jsonl"
set +e
"$vane" rules test "$fx" >"$tmp/t3.out" 2>&1
rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "severty: not an alert field" "$tmp/t3.out" || { cat "$tmp/t3.out"; fail "typo not reported"; }

# A fixture whose events do not decode fails.
echo '{"kind":"REDEMPTION_SURGE","customer_id":"C100"}' >"$fx/expected.jsonl"
echo '{"customer_id":"C100","event_time_ms":"soon"}' >>"$fx/events.jsonl"
set +e
"$vane" rules test "$fx" >"$tmp/t4.out" 2>&1
rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "rejected by the decoder" "$tmp/t4.out" || { cat "$tmp/t4.out"; fail "broken events line not reported"; }

# Usage.
set +e
"$vane" rules >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "'rules' alone should exit 2"
"$vane" rules test >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "'rules test' without DIR should exit 2"
"$vane" rules frobnicate >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "unknown subcommand should exit 2"
set -e
echo "replay_rules_cli: ok"
