#!/usr/bin/env bash
# vane_dirty_states counts every changed state not yet written, also those waiting in a
# write-back's queue of commands not yet sent (redis.writeback_inflight at a time). It used to
# drop to 0 as soon as a write-back began, while most of its states were still unwritten, so
# the gauge (and the bench, which waits for it) said "all written" too early.
#
# Redis pauses writes (CLIENT PAUSE ... WRITE; reads go on, so the states load) while five new
# customers' events are applied; their five dirty states start a write-back (redis.pipeline_max
# 5) that sends one SET (redis.writeback_inflight 1) and keeps four queued. With the connection
# up, the gauge must say 4, and 0 once the pause ends and all five are in Redis.
source "$(dirname "$0")/lib.sh"
vt_init ops_dirty_gauge

vt_start_broker
vt_start_redis
HTTP_PORT=$(vt_free_port)
vt_start_vane run --group gauge --metrics.render_interval 50ms --http "127.0.0.1:$HTTP_PORT" \
    --redis.flush_interval_ms 60000 --redis.pipeline_max 5 --redis.writeback_inflight 1
vt_wait_until 30 "the instance to be assigned its partitions" grep -q "assigned 16 partition" \
    "$VT_DIR/run.log"
metric() { # metric NAME: its value from /metrics, or "none"
    curl -s --max-time 2 "http://127.0.0.1:$HTTP_PORT/metrics" |
        awk -v m="$1" '$1 == m {v = $2; found = 1} END {print found ? v + 0 : "none"}'
}
queued_four() { [[ "$(metric vane_dirty_states)" == 4 && "$(metric vane_redis_connected)" == 1 ]]; }
none_dirty() { [[ "$(metric vane_dirty_states)" == 0 ]]; }
stored() { (($(vt_redis --scan --pattern 'vane:*:s' | wc -l) == 5)); }

# Within the pause: the events are taken and loaded in well under a second; a SET waiting
# longer than 5 s would make vane drop the connection (and count the states dirty anyway).
vt_redis CLIENT PAUSE 4000 WRITE >/dev/null || vt_fail "CLIENT PAUSE WRITE failed"
now=$(date +%s%3N)
for c in A B C D E; do
    printf '%s|{"event_id":"%s-1","customer_id":"%s","event_time_ms":%s,"channel":"MOBILE","login":{"success":true,"device_id":"d1"}}\n' \
        "$c" "$c" "$c" "$now"
done | kcat -P -b "$BOOTSTRAP" -t bank.events -K '|' >"$VT_DIR/kcat.log" 2>&1 ||
    vt_fail "kcat could not produce the events"
vt_wait_until 3 "vane_dirty_states 4 (one SET in flight, four queued) with Redis connected" queued_four
vt_wait_until 20 "vane_dirty_states 0 after the pause" none_dirty
vt_wait_until 10 "the five states in Redis" stored
vt_stop run TERM
((VT_RC == 0)) || vt_fail "vane exited $VT_RC on SIGTERM"
vt_pass "a write-back's queued states counted dirty (4 while Redis paused writes), 0 once written"
