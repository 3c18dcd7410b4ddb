#!/usr/bin/env bash
# Readiness follows Redis (issue 7, item 1): with vane running against real redis-server and
# `vane broker`, stopping Redis turns GET /readyz into 503 with a reason naming Redis and
# vane_redis_connected into 0 while /healthz stays 200 (the process is alive, only not
# ready); restarting Redis on the same port makes vane ready again, and events sent during the
# outage are all consumed afterwards.
source "$(dirname "$0")/lib.sh"
vt_init ops_readiness

vt_start_redis
vt_start_broker
HTTP_PORT=$(vt_free_port)
BASE="http://127.0.0.1:$HTTP_PORT"
vt_start_vane vane --group ops-ready --http "127.0.0.1:$HTTP_PORT" --redis.reconnect_max_ms 1000

status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
body() { curl -s "$@"; }
# (awk reads to the end: exiting early would kill curl with SIGPIPE and, under pipefail, fail
# the caller at random)
metric() { body "$BASE/metrics" | awk -v s="$1" '!f && index($0, s " ") == 1 { print $2; f = 1 }'; }
ready() { [[ "$(status "$BASE/readyz")" == 200 ]]; }
vt_wait_until 60 "/readyz to answer 200" ready

kill -TERM "${VT_PID[redis]}"
wait "${VT_PID[redis]}" 2>/dev/null || true
not_ready_redis() {
    [[ "$(status "$BASE/readyz")" == 503 ]] && body "$BASE/readyz" | grep -qi redis
}
vt_wait_until 30 "/readyz to report Redis down" not_ready_redis
body "$BASE/readyz" >"$VT_DIR/reason"
vt_log "Redis down: $(cat "$VT_DIR/reason")"
[[ "$(status "$BASE/healthz")" == 200 ]] || vt_fail "/healthz must stay 200 while Redis is down"
[[ "$(metric vane_redis_connected)" == 0 ]] || vt_fail "vane_redis_connected is not 0"
# events sent during the outage wait in Kafka
N=300
"$VANE_BIN" gen --seed 5 --customers 40 --events "$N" --brokers "$BOOTSTRAP" --topic bank.events \
    >"$VT_DIR/gen.log" 2>&1 || vt_fail "vane gen failed"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --save "" \
    --appendonly no --daemonize no --logfile "$VT_DIR/redis2.log" &
VT_PID[redis]=$!
vt_track $!
vt_wait_until 60 "/readyz to recover after Redis is back" ready
consumed_n() { [[ "$(metric vane_events_consumed_total)" == "$N" ]]; }
vt_wait_until 60 "the $N events sent during the outage to be consumed" consumed_n
[[ "$(metric vane_redis_connected)" == 1 ]] || vt_fail "vane_redis_connected is not 1 after recovery"

vt_pass "not ready (reason: $(cat "$VT_DIR/reason" 2>/dev/null || echo redis)) while Redis was down, ready again after, events flow"
