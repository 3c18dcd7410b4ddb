#!/usr/bin/env bash
# Recovery (issue 5): a stream with 5% corrupted messages. The good events are the generator's
# stream; between them sit bad messages made from real events (truncated JSON, no customer_id,
# unknown enum, negative amount, wrong JSON type, far-future time, invalid UTF-8, over-long id;
# plus, produced with kcat and no content-type, random bytes and a key that differs from the
# customer_id). Checks:
#   - every bad message is in bank.events.dlq exactly once, with the expected
#     vane-reject-reason, and vane-source-topic/-partition/-offset pointing at the very message
#     in bank.events (same bytes, same key);
#   - every good event is processed: each customer's state equals the reference's (the same good
#     events alone on a clean 16-partition topic, so the same partitions) except the offset
#     (shifted by the bad messages) and the stored size (the offset's varint), its
#     events_applied equals the good events sent, and its stored position is exactly its last
#     good message in bank.events;
#   - the alerts equal the reference's, without duplicates; vane counted every reject.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recovery_lib.bash"
vt_init recovery_corrupt

FRACTION=${RECOVERY_BAD_FRACTION:-0.05}
rc_setup --topic bank.clean:16
rc_gen_file
python3 "$RC_PY" corrupt "$VT_DIR/events.jsonl" "$VT_DIR" "$FRACTION" "$(($(date +%s) * 1000))" ||
    vt_fail "making the corrupted stream failed"
NBAD=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$VT_DIR/bad.json")
TOTAL=$((EVENTS + NBAD))

"$VANE_BIN" gen --raw-in "$VT_DIR/events.jsonl" --brokers "$BOOTSTRAP" --topic bank.clean \
    >"$VT_DIR/gen-clean.log" 2>&1 || vt_fail "producing the clean stream failed"
grep -q "produced $EVENTS raw lines" "$VT_DIR/gen-clean.log" || vt_fail "clean stream: $(cat "$VT_DIR/gen-clean.log")"
vt_start_vane run --group recovery "${RC_RUN_ARGS[@]}"
"$VANE_BIN" gen --raw-in "$VT_DIR/dirty.jsonl" --brokers "$BOOTSTRAP" --topic bank.events \
    >"$VT_DIR/gen-dirty.log" 2>&1 || vt_fail "producing the corrupted stream failed"
for f in "$VT_DIR"/kcat/*.val; do
    kcat -P -b "$BOOTSTRAP" -t bank.events -k "$(cat "${f%.val}.key")" "$f" >>"$VT_DIR/kcat.log" 2>&1 ||
        vt_fail "kcat could not produce $f"
done
vt_log "bank.events: $EVENTS good events and $NBAD bad messages ($TOTAL in all)"

vt_wait_until 120 "the instance to consume all $TOTAL messages and write every state" \
    rc_caught_up run "$TOTAL"
RC_REF_TOTAL=$EVENTS rc_reference --kafka.input_topic bank.clean
vt_stop run TERM
[[ $VT_RC -eq 0 ]] || vt_fail "the instance exited $VT_RC on SIGTERM"
rejected=$(rc_counter run rejected)
((rejected == NBAD)) || vt_fail "vane counted $rejected rejected messages, $NBAD were sent"
rc_collect run "$REDIS_URL" vane churn.alerts

kcat -C -b "$BOOTSTRAP" -t bank.events -e -q -f '%p %o %K %S\n%k%s\n' >"$VT_DIR/dirty.dump" 2>>"$VT_DIR/kcat.log" ||
    vt_fail "kcat could not read bank.events"
kcat -C -b "$BOOTSTRAP" -t bank.events.dlq -e -q -f '%p %o %K %S\n%k%s\n%h\n' >"$VT_DIR/dlq.dump" 2>>"$VT_DIR/kcat.log" ||
    vt_fail "kcat could not read bank.events.dlq"
python3 "$RC_PY" dlq-check "$VT_DIR" "$VT_DIR/dirty.dump" "$VT_DIR/dlq.dump" \
    "$VT_DIR/run.states.jsonl" "$VT_DIR/expect.json" || vt_fail "dead letters or positions are wrong (see above)"
rc_compare --expect-events "$VT_DIR/expect.json" --ignore-state-fields last_offset,stored_bytes --no-raw
vt_pass "$NBAD bad messages of $TOTAL all dead-lettered with their reason and source; $EVENTS good events all applied; states and alerts equal the reference ($(rc_elapsed) s)"
