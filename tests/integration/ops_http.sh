#!/usr/bin/env bash
# The operations endpoint of a running `vane run` (issue 7, item 1), against real redis-server
# and `vane broker`:
#   - /healthz answers 200 while the loop runs; /readyz turns 200 once Redis is connected and
#     partitions are assigned (the Redis outage case is ops_readiness.sh);
#   - /metrics is Prometheus text that `promtool check metrics` accepts, with every metric
#     family of docs/metrics.md, and its counters follow the events consumed;
#   - POST /-/reload: 200 for valid rules; 422 naming file:line:col for a broken file (the old
#     rules stay: events keep flowing); vane_rule_reloads_total counts both results;
#   - GET /-/reload is 405, an unknown path 404.
source "$(dirname "$0")/lib.sh"
vt_init ops_http

vt_start_redis
vt_start_broker
HTTP_PORT=$(vt_free_port)
BASE="http://127.0.0.1:$HTTP_PORT"
cp "$VANE_SOURCE_DIR/rules/default.yaml" "$VT_DIR/rules.yaml"
vt_start_vane vane --group ops-http --rules "$VT_DIR/rules.yaml" --http "127.0.0.1:$HTTP_PORT"

status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
body() { curl -s "$@"; }
# metric VALUE of the first series line starting with $1 (exact series text), or empty
# (awk reads to the end: exiting early would kill curl with SIGPIPE and, under pipefail, fail
# the caller at random)
metric() { body "$BASE/metrics" | awk -v s="$1" '!f && index($0, s " ") == 1 { print $2; f = 1 }'; }

vt_wait_until 30 "vane HTTP endpoint on $HTTP_PORT" curl -sf "$BASE/healthz"
[[ "$(body "$BASE/healthz")" == "ok" ]] || vt_fail "/healthz body: $(body "$BASE/healthz")"
ready() { [[ "$(status "$BASE/readyz")" == 200 ]]; }
vt_wait_until 60 "/readyz to answer 200" ready
vt_log "healthy and ready: $(body "$BASE/readyz")"

# --- metrics -------------------------------------------------------------------------------
ctype=$(curl -s -o /dev/null -w '%{content_type}' "$BASE/metrics")
[[ "$ctype" == text/plain*version=0.0.4* ]] || vt_fail "/metrics content type: $ctype"
body "$BASE/metrics" >"$VT_DIR/metrics.txt"
if command -v promtool >/dev/null 2>&1; then
    promtool check metrics <"$VT_DIR/metrics.txt" >"$VT_DIR/promtool.log" 2>&1 ||
        vt_fail "promtool check metrics: $(cat "$VT_DIR/promtool.log")"
else
    vt_log "SKIP promtool check metrics: promtool not installed"
fi
for name in $(grep -o '^| `vane_[a-z_]*`' "$VANE_SOURCE_DIR/docs/metrics.md" | tr -d '|` '); do
    grep -q "^# TYPE $name " "$VT_DIR/metrics.txt" || vt_fail "/metrics lacks $name"
done
[[ "$(metric vane_ready)" == 1 ]] || vt_fail "vane_ready is not 1 while /readyz says ready"
[[ "$(metric vane_redis_connected)" == 1 ]] || vt_fail "vane_redis_connected is not 1"

N=400
"$VANE_BIN" gen --seed 7 --customers 50 --events "$N" --brokers "$BOOTSTRAP" --topic bank.events \
    >"$VT_DIR/gen.log" 2>&1 || vt_fail "vane gen failed"
consumed_n() { [[ "$(metric vane_events_consumed_total)" == "$N" ]]; }
vt_wait_until 60 "vane_events_consumed_total to reach $N" consumed_n
decoded=$(metric vane_events_decoded_total)
[[ "$decoded" == "$N" ]] || vt_fail "vane_events_decoded_total=$decoded, want $N"
applied_n() { [[ "$(metric vane_events_applied_total)" == "$N" ]]; }
vt_wait_until 30 "vane_events_applied_total to reach $N" applied_n
vt_log "metrics follow the stream: consumed=$N decoded=$decoded applied=$N"
# The cache gauges: 50 customers; their states are mostly in the hot set (unpacked), the rest
# packed, all inside the cache's memory.
cached_all() { [[ "$(metric vane_cache_customers)" == 50 ]]; }
vt_wait_until 30 "vane_cache_customers to reach 50" cached_all
packed=$(metric vane_cache_packed_bytes)
cmem=$(metric vane_cache_memory_bytes)
awk -v p="$packed" -v m="$cmem" 'BEGIN { exit !(p >= 0 && p < 50 * 2000 && m > p + 256 * 1904) }' ||
    vt_fail "cache gauges: packed_bytes=$packed memory_bytes=$cmem for 50 customers"
vt_log "cache gauges: 50 customers, $packed packed bytes, $cmem bytes of cache memory"

# --- reload ----------------------------------------------------------------------------------
reload() { curl -s -o "$VT_DIR/reload.out" -w '%{http_code}' -X POST "$BASE/-/reload"; }
code=$(reload)
[[ "$code" == 200 ]] || vt_fail "reload of valid rules: HTTP $code: $(cat "$VT_DIR/reload.out")"
grep -q '^reloaded' "$VT_DIR/reload.out" || vt_fail "reload body: $(cat "$VT_DIR/reload.out")"
ok_counted() { [[ "$(metric 'vane_rule_reloads_total{result="ok"}')" == 1 ]]; }
vt_wait_until 10 "vane_rule_reloads_total{result=ok} = 1" ok_counted

cat >>"$VT_DIR/rules.yaml" <<'YAML'

- rule: OPS_BROKEN
  desc: refers to a feature that does not exist
  kind: CUSTOM
  severity: LOW
  on: [txn.REDEMPTION]
  condition: no_such_feature_xyz >= 3
YAML
bad_line=$(grep -n 'no_such_feature_xyz' "$VT_DIR/rules.yaml" | cut -d: -f1)
code=$(reload)
[[ "$code" == 422 ]] || vt_fail "reload of broken rules: HTTP $code: $(cat "$VT_DIR/reload.out")"
grep -q "rules.yaml:$bad_line:[0-9]*: error: .*no_such_feature_xyz" "$VT_DIR/reload.out" ||
    vt_fail "reload answer does not locate the error at line $bad_line: $(cat "$VT_DIR/reload.out")"
err_counted() { [[ "$(metric 'vane_rule_reloads_total{result="error"}')" == 1 ]]; }
vt_wait_until 10 "vane_rule_reloads_total{result=error} = 1" err_counted
vt_log "broken rules refused: $(head -2 "$VT_DIR/reload.out" | tr '\n' ' ')"

# the old rules are still active: more events are still consumed
"$VANE_BIN" gen --seed 8 --customers 50 --events "$N" --brokers "$BOOTSTRAP" --topic bank.events \
    >>"$VT_DIR/gen.log" 2>&1 || vt_fail "vane gen (2) failed"
consumed_2n() { [[ "$(metric vane_events_consumed_total)" == "$((2 * N))" ]]; }
vt_wait_until 60 "vane_events_consumed_total to reach $((2 * N)) after the failed reload" consumed_2n

[[ "$(status "$BASE/-/reload")" == 405 ]] || vt_fail "GET /-/reload is not 405"
[[ "$(status "$BASE/nope")" == 404 ]] || vt_fail "unknown path is not 404"

vt_pass "healthz, readyz, metrics (promtool-clean, counting), reload ok/422 with file:line:col, 405/404"
