#!/usr/bin/env bash
# A real Prometheus scrapes a running vane (issue 7, item 2): prometheus on a free loopback
# port, a temporary config scraping vane's /metrics every second and loading vane's alerting
# rules (deploy/prometheus/vane-alerts.yml). While `vane gen` sends events at a steady rate,
# Prometheus's HTTP API must show vane_events_consumed_total rising (several distinct,
# increasing values while events flow, rate() > 0), reaching the number of events sent, and
# vane's alerting rules must evaluate without error against the real series.
source "$(dirname "$0")/lib.sh"
vt_init ops_prometheus
command -v prometheus >/dev/null 2>&1 || vt_fail "prometheus not installed (Debian package prometheus)"

vt_start_redis
vt_start_broker
HTTP_PORT=$(vt_free_port)
vt_start_vane vane --group ops-prom --http "127.0.0.1:$HTTP_PORT"
vt_wait_until 30 "vane /metrics on $HTTP_PORT" curl -sf "http://127.0.0.1:$HTTP_PORT/metrics"

PROM_PORT=$(vt_free_port)
PROM="http://127.0.0.1:$PROM_PORT"
mkdir -p "$VT_DIR/prom-data"
cat >"$VT_DIR/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $VANE_SOURCE_DIR/deploy/prometheus/vane-alerts.yml
scrape_configs:
  - job_name: vane
    static_configs:
      - targets: ["127.0.0.1:$HTTP_PORT"]
YAML
prometheus --config.file="$VT_DIR/prometheus.yml" --storage.tsdb.path="$VT_DIR/prom-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$VT_DIR/prometheus.log" 2>&1 &
VT_PID[prometheus]=$!
vt_track $!
vt_wait_until 60 "prometheus ready on $PROM_PORT" curl -sf "$PROM/-/ready"

# q EXPR: the first sample's value of an instant query, or "none"
q() {
    curl -s --get "$PROM/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)
res = r.get("data", {}).get("result", []) if r.get("status") == "success" else []
print(res[0]["value"][1] if res else "none")'
}
up_one() { [[ "$(q 'up{job="vane"}')" == 1 ]]; }
vt_wait_until 30 "Prometheus to scrape vane (up == 1)" up_one
base=$(q 'vane_events_consumed_total{job="vane"}')
[[ "$base" == 0 ]] || vt_fail "before any event, vane_events_consumed_total = $base"

# A steady flow: 4000 events at 400/s take about 10 s, i.e. about ten scrapes.
N=4000
"$VANE_BIN" gen --seed 11 --customers 200 --events "$N" --rate 400 --brokers "$BOOTSTRAP" \
    --topic bank.events >"$VT_DIR/gen.log" 2>&1 &
GEN=$!
vt_track $GEN
values=()
last=0
while kill -0 "$GEN" 2>/dev/null; do
    v=$(q 'vane_events_consumed_total{job="vane"}')
    if [[ "$v" != none && "$v" != "$last" ]]; then
        ((v > last)) || vt_fail "vane_events_consumed_total went down: $last -> $v"
        values+=("$v")
        last=$v
    fi
    sleep 0.5
done
wait "$GEN" || vt_fail "vane gen failed: $(tail -3 "$VT_DIR/gen.log")"
vt_log "values seen by Prometheus while events flowed: ${values[*]:-none}"
((${#values[@]} >= 3)) ||
    vt_fail "Prometheus saw only ${#values[@]} distinct values while events flowed (want >= 3)"
(( ${values[0]} < N )) || vt_fail "the first value seen (${values[0]}) was already the total"

all_seen() { [[ "$(q 'vane_events_consumed_total{job="vane"}')" == "$N" ]]; }
vt_wait_until 60 "Prometheus to see all $N events consumed" all_seen
rate=$(q 'max_over_time(rate(vane_events_consumed_total{job="vane"}[5s])[1m:1s])')
python3 -c "import sys; sys.exit(0 if float('$rate') > 50 else 1)" ||
    vt_fail "peak rate(vane_events_consumed_total) = $rate events/s, want > 50"
vt_log "peak consume rate seen by Prometheus: $rate events/s"

# vane's alerting rules evaluate cleanly on the real series, and nothing fires on a healthy run
rules_ok() {
    curl -s "$PROM/api/v1/rules" | python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
bad = [r["name"] for r in rules if r.get("health") != "ok"]
if not rules or bad:
    print("unhealthy rules:", bad or "none loaded", file=sys.stderr); sys.exit(1)
firing = [r["name"] for r in rules for a in r.get("alerts", []) if a["state"] == "firing"]
if firing:
    print("firing:", firing, file=sys.stderr); sys.exit(1)'
}
vt_wait_until 20 "vane's alerting rules to be evaluated with health ok" rules_ok

vt_pass "Prometheus scraped vane: vane_events_consumed_total rose ${values[*]} -> $N, peak rate $rate/s"
