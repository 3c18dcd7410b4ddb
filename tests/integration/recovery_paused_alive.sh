#!/usr/bin/env bash
# A paused consumer stays in its group. While Redis is unavailable vane pauses its partitions;
# it used to stop calling librdkafka altogether then, so after max.poll.interval.ms (300 s by
# default, 7 s here) librdkafka left the group: the partitions went to other instances while
# this one still held their unwritten states, and it learnt of the loss only after Redis came
# back and it had resumed (and written those states over the new owner's). Now vane keeps
# serving the consumer while paused: it stays in the group through a pause twice that long.
source "$(dirname "$0")/lib.sh"
vt_init recovery_paused_alive

vt_start_broker
vt_start_redis
vt_start_vane run --group alive --kafka.session_timeout_ms 6000 \
    --kafka.consumer.max.poll.interval.ms 7000
vt_wait_until 30 "the instance to be assigned its partitions" grep -q "assigned 16 partition" \
    "$VT_DIR/run.log"
produce() { # produce ID: one login event of customer ID
    printf '%s|{"event_id":"%s-1","customer_id":"%s","event_time_ms":%s,"channel":"MOBILE","login":{"success":true,"device_id":"d1"}}\n' \
        "$1" "$1" "$1" "$(date +%s%3N)" |
        kcat -P -b "$BOOTSTRAP" -t bank.events -K '|' >>"$VT_DIR/kcat.log" 2>&1 ||
        vt_fail "kcat could not produce"
}
stored() { [[ -n "$(vt_redis --scan --pattern "vane:{$1}:s")" ]]; }
produce P1
vt_wait_until 20 "P1's state in Redis" stored P1

# Redis frozen for 22 s: commands time out after 5 s, vane drops the connection, cannot get a
# PING answered again, and pauses consumption for the rest of the freeze (> 2 x 7 s).
vt_redis CLIENT PAUSE 22000 ALL >/dev/null || vt_fail "CLIENT PAUSE failed"
produce P2
vt_wait_until 15 "vane to pause consumption" grep -q "consumption paused" "$VT_DIR/run.log"
paused_at=$SECONDS
vt_wait_until 40 "Redis to answer again" vt_redis PING
vt_wait_until 30 "P2's state in Redis after the freeze" stored P2
((SECONDS - paused_at >= 14)) || vt_fail "paused only $((SECONDS - paused_at)) s: the test needs > 2 x 7 s"
if grep -Eiq "max(imum)? ?poll ?interval|leaving group" "$VT_DIR/run.log"; then
    grep -Ei "max(imum)? ?poll ?interval|leaving group" "$VT_DIR/run.log" | head -3
    vt_fail "the paused consumer left its group"
fi
grep -Eq "(lost|revoking) [0-9]+ partition" "$VT_DIR/run.log" &&
    vt_fail "partitions were revoked or lost during the pause"
vt_stop run TERM
((VT_RC == 0)) || vt_fail "vane exited $VT_RC on SIGTERM"
vt_pass "paused $((SECONDS - paused_at)) s for a frozen Redis with max.poll.interval.ms 7000: stayed in the group, then applied the waiting event"
