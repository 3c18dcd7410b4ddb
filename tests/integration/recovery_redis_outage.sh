#!/usr/bin/env bash
# Recovery (issue 5): Redis unreachable twice mid-stream, compared with the reference.
#   1. Redis stopped (SIGTERM) for several seconds, then started again on the same port and
#      directory. It runs with --appendonly yes --appendfsync always, so a restart loses
#      nothing it acknowledged.
#   2. Redis frozen (SIGSTOP) until vane drops the connection (replies slower than 5 s), held a
#      moment longer, then thawed (SIGCONT).
# Each time: vane logs "consumption paused (redis unreachable)", consumes nothing while Redis is
# gone (its consumed counter stays flat; /metrics shows vane_redis_connected 0 and every
# partition paused) and resumes afterwards. In the end every customer's state (JSON and stored
# bytes) equals the reference's and every reference alert is present, nothing else.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recovery_lib.bash"
vt_init recovery_redis_outage

# 2,000 ev/s: the stream (~35 s) must outlast both outages (each ~7-10 s) and the catch-ups.
RATE=${RECOVERY_RATE:-2000}
OUTAGE_S=${RECOVERY_OUTAGE_S:-4}
RC_REDIS_ARGS=(--appendonly yes --appendfsync always)
rc_setup
rc_gen_file

# Start redis-server again on the run's port and directory (its AOF is replayed).
rc_restart_redis() {
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --save "" \
        --daemonize no --logfile "$VT_DIR/redis.log" "${RC_REDIS_ARGS[@]}" &
    VT_PID[redis]=$!
    vt_track $!
    vt_wait_until 20 "redis-server to come back on port $REDIS_PORT" redis-cli -p "$REDIS_PORT" ping
}
pauses() { grep -c 'consumption paused (redis unreachable)' "$VT_DIR/run.log" || true; }
more_pauses_than() { (($(pauses) > $1)); }
resumes() { grep -c 'consumption resumed' "$VT_DIR/run.log" || true; }
more_resumes_than() { (($(resumes) > $1)); }
metric() { # metric NAME: its value from /metrics, or "none"
    curl -s --max-time 2 "http://127.0.0.1:$HTTP_PORT/metrics" |
        awk -v m="$1" '$1 == m {print $2; found = 1} END {if (!found) print "none"}'
}
metric_is() { [[ "$(metric "$1")" == "$2" ]]; }

# An outage: wait for the pause, hold it, prove nothing was consumed meanwhile.
#   outage_hold LABEL PAUSES_BEFORE
outage_hold() {
    vt_wait_until 20 "vane to pause consumption ($1)" more_pauses_than "$2"
    # /metrics is rendered every 500 ms: wait for the snapshot to show the outage.
    vt_wait_until 5 "/metrics to show redis disconnected ($1)" metric_is vane_redis_connected 0
    local paused_parts
    paused_parts=$(metric vane_paused_partitions)
    [[ "$paused_parts" =~ ^[0-9.e+]+$ ]] && python3 -c "import sys; sys.exit(float('$paused_parts') < 1)" ||
        vt_fail "/metrics shows vane_paused_partitions=$paused_parts during the outage ($1)"
    sleep 1 # let anything fetched before the pause drain through
    local c1 c2
    c1=$(rc_counter run consumed)
    sleep "$OUTAGE_S" # the outage itself (scenario time, not synchronisation)
    c2=$(rc_counter run consumed)
    ((c1 == c2)) || vt_fail "vane consumed $((c2 - c1)) messages while Redis was unreachable ($1)"
    OUT_CONSUMED=$c1
    OUT_PARTS=$paused_parts
}

vt_start_vane run --group recovery "${RC_RUN_ARGS[@]}" --http 127.0.0.1:0
vt_wait_until 20 "the HTTP endpoint" grep -q 'serving .*(port [0-9]*)' "$VT_DIR/run.log"
HTTP_PORT=$(grep -o 'serving .*(port [0-9]*)' "$VT_DIR/run.log" | head -n 1 | grep -o 'port [0-9]*' | cut -d' ' -f2)
rc_gen_kafka_bg "$RATE"

# --- outage 1: Redis stopped and restarted -------------------------------------------------
vt_wait_until 60 "the instance to apply $((EVENTS / 4)) events" rc_counter_at_least run applied $((EVENTS / 4))
rc_gen_running || vt_fail "the generator finished before the outage: it would not land mid-stream"
p0=$(pauses) r0=$(resumes)
vt_stop redis TERM
t_stop=$SECONDS
outage_hold "redis stopped" "$p0"
((OUT_CONSUMED < EVENTS)) || vt_fail "everything was consumed before the first outage"
rc_restart_redis
vt_wait_until 30 "vane to resume after the restart" more_resumes_than "$r0"
vt_log "outage 1: redis stopped for $((SECONDS - t_stop)) s; vane paused at $OUT_CONSUMED consumed ($OUT_PARTS partitions paused), resumed"

# --- outage 2: Redis frozen until vane gives up on it ---------------------------------------
vt_wait_until 60 "the instance to apply $((EVENTS * 3 / 5)) events" rc_counter_at_least run applied $((EVENTS * 3 / 5))
p1=$(pauses) r1=$(resumes)
kill -STOP "${VT_PID[redis]}"
t_stop=$SECONDS
rc_gen_running || { kill -CONT "${VT_PID[redis]}"; vt_fail "the generator finished before the second outage"; }
outage_hold "redis frozen" "$p1"
kill -CONT "${VT_PID[redis]}"
((OUT_CONSUMED < EVENTS)) || vt_fail "everything was consumed before the second outage"
vt_wait_until 30 "vane to resume after SIGCONT" more_resumes_than "$r1"
vt_log "outage 2: redis frozen for $((SECONDS - t_stop)) s; vane paused at $OUT_CONSUMED consumed ($OUT_PARTS partitions paused), resumed"

rc_finish_run
applied=$(rc_final run applied)
skipped=$(rc_final run replay_skipped)
vt_log "the instance applied $applied events, skipped $skipped replayed ones"
rc_collect run "$REDIS_URL" vane churn.alerts
rc_compare
vt_pass "two Redis outages (stop/restart, freeze/thaw): consumption paused both times; states and alerts equal the reference ($(rc_elapsed) s)"
