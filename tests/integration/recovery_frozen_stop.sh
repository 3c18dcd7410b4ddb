#!/usr/bin/env bash
# SIGTERM while Redis is frozen (CLIENT PAUSE ... ALL: connected, answering nothing) and
# messages wait for their state loads. The drain cannot finish, so the shutdown grace expires;
# vane must then exit (status 1) promptly instead of hanging:
#   - librdkafka's rd_kafka_destroy waits for every consumed message to be destroyed, and the
#     waiting messages used to be released only after the loop ended (it hung forever);
#   - the state store's close waited for replies a frozen Redis never sends.
# Nothing may be lost: the dropped messages were not committed, so a restarted instance
# consumes them again and every customer's state reaches Redis.
source "$(dirname "$0")/lib.sh"
vt_init recovery_frozen_stop

vt_start_broker
vt_start_redis
produce() { # produce PREFIX COUNT: one login event each for customers PREFIX0..PREFIX<COUNT-1>
    local now
    now=$(date +%s%3N)
    for ((i = 0; i < $2; i++)); do
        printf '%s%d|{"event_id":"%s%d-1","customer_id":"%s%d","event_time_ms":%s,"channel":"MOBILE","login":{"success":true,"device_id":"d1"}}\n' \
            "$1" "$i" "$1" "$i" "$1" "$i" "$now"
    done | kcat -P -b "$BOOTSTRAP" -t bank.events -K '|' >>"$VT_DIR/kcat.log" 2>&1 ||
        vt_fail "kcat could not produce the events"
}
stored() { [[ "$(vt_redis --scan --pattern 'vane:*:s' | wc -l)" == "$1" ]]; }

vt_start_vane run --group frozen --shutdown.grace 2s
vt_wait_until 30 "the instance to be assigned its partitions" grep -q "assigned 16 partition" \
    "$VT_DIR/run.log"
produce warm 20
vt_wait_until 20 "the 20 warm-up states in Redis" stored 20

vt_redis CLIENT PAUSE 60000 ALL >/dev/null || vt_fail "CLIENT PAUSE ALL failed"
produce frozen 50
sleep 2 # consumed; their GETs stay unanswered
pid=${VT_PID[run]}
t0=$(date +%s%N)
kill -TERM "$pid"
for ((i = 0; i < 150 * VT_MULT; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
    vt_redis CLIENT UNPAUSE >/dev/null
    vt_fail "vane still running $((150 * VT_MULT / 10)) s after SIGTERM with Redis frozen (grace 2 s)"
fi
ms=$((($(date +%s%N) - t0) / 1000000))
VT_RC=0
wait "$pid" || VT_RC=$?
vt_redis CLIENT UNPAUSE >/dev/null || vt_fail "CLIENT UNPAUSE failed"
((VT_RC == 1)) || vt_fail "vane exited $VT_RC, want 1 (the grace expired with work left)"
waiting=$(sed -n 's/.*grace period expired with .* dirty state(s), \([0-9]*\) waiting message.*/\1/p' \
    "$VT_DIR/run.log" | tail -1)
((${waiting:-0} > 0)) ||
    vt_fail "the grace expiry did not report waiting messages (got '${waiting}'): the test did not catch vane waiting on Redis"
grep -q "still waiting for their state were dropped, uncommitted" "$VT_DIR/run.log" ||
    vt_fail "vane did not log the waiting messages it dropped"
vt_log "SIGTERM with Redis frozen and $waiting message(s) waiting: exit 1 after $ms ms"
mv "$VT_DIR/run.log" "$VT_DIR/run-stopped.log"

# The restarted instance consumes the uncommitted events again: all 70 customers are stored.
vt_start_vane run --group frozen
vt_wait_until 30 "all 70 states in Redis after the restart" stored 70
vt_stop run TERM
((VT_RC == 0)) || vt_fail "the restarted instance exited $VT_RC on SIGTERM"
vt_pass "SIGTERM with Redis frozen: exit 1 in $ms ms with $waiting message(s) dropped uncommitted; the restart stored all 70 states"
