# recovery_lib.bash - shared steps of the recovery_*.sh tests (issue 5), sourced after lib.sh.
# (Named .bash, not .sh, so the test glob in tests/CMakeLists.txt does not run it as a test.)
#
# Every test compares a disturbed run with a reference: the same input topic consumed by one
# uninterrupted instance in its own consumer group, writing to its own Redis and its own alert
# and dead-letter topics. Flow:
#
#   rc_setup [broker args]        broker (+ ref.alerts, ref.dlq topics), the run's Redis
#                                 (REDIS_URL, REDIS_PORT, REDIS_DIR) and the reference's
#                                 (REF_REDIS_URL)
#   rc_gen_file                   the stream to $VT_DIR/events.jsonl; EVENTS, ids in ids.txt
#   rc_gen_kafka_bg RATE          the same stream to bank.events at RATE ev/s, in background
#   ... start the run's instance(s), disturb them mid-stream ...
#   rc_wait_gen                   generator finished and delivered all EVENTS; the topic's
#                                 message count (duplicates included) in RC_TOPIC_MESSAGES
#   rc_reference                  run the reference to completion (exit 0 on SIGTERM)
#   rc_wait_run_positions         every customer of the run at the reference's position
#   ... SIGTERM the run's instance(s) ...  (rc_finish_run: these four steps for one instance)
#   rc_collect run URL PREFIX TOPIC   states, raw state bytes, alerts of the run
#   rc_compare [compare args]     recovery_lib.py compare --ref ref --run run
RC_PY="$(dirname "${BASH_SOURCE[0]}")/recovery_lib.py"
RC_CUSTOMERS=${RECOVERY_CUSTOMERS:-300}
RC_SEED=${RECOVERY_SEED:-20261123}
# Planted behaviours make alerts; more of them than the default makes the alert check stronger.
RC_PLANTED=${RECOVERY_PLANTED:-0.5}
RC_T0=$SECONDS
[[ -v RC_REDIS_ARGS ]] || RC_REDIS_ARGS=()

# Event times end close to now, so the daemon's max_past/max_future checks accept them.
RC_START_MS=$((($(date +%s) - 100 * 86400) * 1000))
RC_GEN_ARGS=(--seed "$RC_SEED" --customers "$RC_CUSTOMERS" --planted-fraction "$RC_PLANTED"
    --start-ms "$RC_START_MS")

# Options of the run's instances. A short session timeout (the mock broker honours it) so a
# killed member's partitions are handed over in seconds, not the default 10 s, with heartbeats
# every second. An assignor other than the default may be chosen with RC_ASSIGNOR (e.g.
# cooperative-sticky: recovery_group_cooperative). A write-back issues at most 8 commands at a time, so
# every write-back of these small streams spans many reply rounds, with events applied,
# alerts produced, kills and hand-overs landing in between (the default, 16384, would write
# them in one go).
RC_RUN_ARGS=(--log-level debug --kafka.session_timeout_ms 4000
    --kafka.consumer.heartbeat.interval.ms 1000 --redis.writeback_inflight 8)
if [[ -n "${RC_ASSIGNOR:-}" ]]; then
    RC_RUN_ARGS+=(--kafka.consumer.partition.assignment.strategy "$RC_ASSIGNOR")
fi

rc_setup() {
    vt_start_broker --topic ref.alerts:4 --topic ref.dlq:4 "$@"
    vt_start_redis refredis
    REF_REDIS_URL=$REDIS_URL
    REF_REDIS_PORT=$REDIS_PORT
    vt_start_redis redis "${RC_REDIS_ARGS[@]}"
    vt_log "broker $BOOTSTRAP, run redis $REDIS_URL, reference redis $REF_REDIS_URL"
}

rc_gen_file() {
    "$VANE_BIN" gen "${RC_GEN_ARGS[@]}" --out "$VT_DIR/events.jsonl" >"$VT_DIR/gen-file.log" 2>&1 ||
        vt_fail "vane gen to a file failed"
    EVENTS=$(wc -l <"$VT_DIR/events.jsonl")
    python3 "$RC_PY" ids "$VT_DIR/events.jsonl" "$VT_DIR/ids.txt"
    mapfile -t RC_IDS <"$VT_DIR/ids.txt"
    vt_log "stream: $EVENTS events of ${#RC_IDS[@]} customers"
}

# rc_gen_kafka_bg RATE [TOPIC]: GEN_PID.
rc_gen_kafka_bg() {
    local rate=$1 topic=${2:-bank.events}
    "$VANE_BIN" gen "${RC_GEN_ARGS[@]}" --rate "$rate" --brokers "$BOOTSTRAP" --topic "$topic" \
        >"$VT_DIR/gen-kafka.log" 2>&1 &
    GEN_PID=$!
    VT_PID[gen]=$GEN_PID
    vt_track "$GEN_PID"
}

rc_gen_running() { kill -0 "$GEN_PID" 2>/dev/null && ! grep -q 'events (' "$VT_DIR/gen-kafka.log"; }

rc_wait_gen() {
    local rc=0
    wait "$GEN_PID" || rc=$?
    [[ $rc -eq 0 ]] || vt_fail "vane gen to Kafka exited $rc: $(cat "$VT_DIR/gen-kafka.log")"
    grep -q "$EVENTS events" "$VT_DIR/gen-kafka.log" ||
        vt_fail "the Kafka run of the generator did not send the same $EVENTS events"
    # The topic can hold a few more messages than were sent: produce retries across a broker
    # outage have left duplicates (same event_id) in the mock cluster. The reference must wait
    # for what the topic holds, not for EVENTS.
    RC_TOPIC_MESSAGES=$(kcat -C -b "$BOOTSTRAP" -t bank.events -o beginning -e -q -f '.\n' |
        wc -l) || vt_fail "kcat could not count the messages of bank.events"
    ((RC_TOPIC_MESSAGES >= EVENTS)) ||
        vt_fail "bank.events holds $RC_TOPIC_MESSAGES messages, fewer than the $EVENTS sent"
    ((RC_TOPIC_MESSAGES == EVENTS)) ||
        vt_log "bank.events holds $RC_TOPIC_MESSAGES messages for $EVENTS events sent (duplicates of retried produces)"
}

# The last value of a progress counter (consumed, applied, skipped, ...) an instance logged.
rc_counter() {
    local n
    n=$(grep -o "progress: .*" "$VT_DIR/$1.log" 2>/dev/null | tail -n 1 | grep -o " $2=[0-9]*" |
        cut -d= -f2)
    echo "${n:-0}"
}
rc_counter_at_least() { (($(rc_counter "$1" "$2") >= $3)); }

# The final counters of a stopped instance ("stopped: consumed=N applied=N replay_skipped=N").
rc_final() {
    local n
    n=$(grep -o "stopped: .*" "$VT_DIR/$1.log" 2>/dev/null | tail -n 1 | grep -o " $2=[0-9]*" |
        cut -d= -f2)
    echo "${n:-0}"
}

# True when instance NAME's latest progress line shows consumed=N with nothing dirty or waiting.
rc_caught_up() {
    local line
    line=$(grep -o 'progress: consumed=[0-9]* .*written=[0-9]*' "$VT_DIR/$1.log" | tail -n 1)
    [[ "$line" =~ consumed=$2\  ]] && [[ "$line" =~ dirty=0\ waiting=0 ]]
}

# rc_reference [extra vane run args]: the uninterrupted reference over the whole input topic
# (which must be complete), in group "reference", on its own Redis and output topics.
rc_reference() {
    local total=${RC_REF_TOTAL:-${RC_TOPIC_MESSAGES:-$EVENTS}}
    REDIS_URL=$REF_REDIS_URL vt_start_vane ref --group reference --log-level debug \
        --kafka.alert_topic ref.alerts --kafka.dlq_topic ref.dlq "$@"
    vt_wait_until 120 "the reference to consume all $total messages and write every state" \
        rc_caught_up ref "$total"
    vt_stop ref TERM
    [[ $VT_RC -eq 0 ]] || vt_fail "the reference exited $VT_RC on SIGTERM"
    local skipped
    skipped=$(rc_final ref replay_skipped)
    [[ $skipped -eq 0 ]] || vt_fail "the reference skipped $skipped replayed events: not uninterrupted"
    rc_collect ref "$REF_REDIS_URL" vane ref.alerts
}

# rc_states NAME URL PREFIX: `vane state get --json` of every customer into NAME.states.jsonl.
rc_states() {
    "$VANE_BIN" state get --redis "$2" --prefix "$3" --json "${RC_IDS[@]}" \
        >"$VT_DIR/$1.states.jsonl" 2>"$VT_DIR/$1.state-get.log"
}

rc_positions_match() {
    rc_states run "$REDIS_URL" vane || return 1
    python3 "$RC_PY" positions-match "$VT_DIR/ref.states.jsonl" "$VT_DIR/run.states.jsonl"
}

# Wait until the run's Redis holds every customer at the reference's last position: the run
# has applied the whole stream (or lost something: then this times out and shows where).
rc_wait_run_positions() {
    local secs=${1:-90} deadline
    deadline=$((SECONDS + secs * VT_MULT))
    until rc_positions_match 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            rc_states run "$REDIS_URL" vane || true
            python3 "$RC_PY" positions-match "$VT_DIR/ref.states.jsonl" \
                "$VT_DIR/run.states.jsonl" --verbose || true
            vt_fail "timed out after $((secs * VT_MULT)) s waiting for the run to reach the reference's positions"
        fi
        sleep 0.5
    done
}

# rc_collect NAME URL PREFIX ALERT_TOPIC: NAME.states.jsonl, NAME.raw.jsonl, NAME.alerts.jsonl.
rc_collect() {
    local name=$1 url=$2 prefix=$3 topic=$4
    rc_states "$name" "$url" "$prefix" || vt_fail "vane state get failed for $name: $(head -c 300 "$VT_DIR/$name.state-get.log")"
    python3 "$RC_PY" dump "$url" "$prefix" "$VT_DIR/ids.txt" "$VT_DIR/$name.raw.jsonl" ||
        vt_fail "reading raw states of $name failed"
    "$VANE_BIN" tail --brokers "$BOOTSTRAP" --topic "$topic" --from-beginning --json \
        --timeout 4 >"$VT_DIR/$name.alerts.jsonl" 2>"$VT_DIR/$name.tail.log" ||
        vt_fail "vane tail of $topic failed"
}

# rc_finish_run: after the disturbance: the generator done, the reference run, the run's
# instance caught up with it and stopped with SIGTERM (which must exit 0).
rc_finish_run() {
    rc_wait_gen
    rc_reference
    rc_wait_run_positions 90
    vt_stop run TERM
    [[ $VT_RC -eq 0 ]] || vt_fail "the run's instance exited $VT_RC on SIGTERM at the end"
}

rc_compare() {
    python3 "$RC_PY" compare --ref "$VT_DIR/ref" --run "$VT_DIR/run" --events "$VT_DIR/events.jsonl" \
        "$@" || vt_fail "the run differs from the reference (see above)"
}

rc_elapsed() { echo $((SECONDS - RC_T0)); }
