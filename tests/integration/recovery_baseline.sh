#!/usr/bin/env bash
# Recovery (issue 5), the premise of the other recovery_* tests: two uninterrupted instances
# over the same input agree exactly. The run consumes while the generator is still producing
# (rate-limited, as in the disturbed tests); the reference consumes the finished topic. Their
# states (JSON and stored bytes) and alerts (all fields but detected_at_ms) must be identical,
# without duplicates. If this fails, the daemon's output depends on timing, and the recovery
# tests cannot tell a recovery bug from that.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/recovery_lib.bash"
vt_init recovery_baseline

RATE=${RECOVERY_RATE:-6000}
rc_setup
rc_gen_file
vt_start_vane run --group recovery "${RC_RUN_ARGS[@]}"
rc_gen_kafka_bg "$RATE"
rc_wait_gen
vt_wait_until 120 "the run to consume all $EVENTS events and write every state" rc_caught_up run "$EVENTS"
rc_reference
rc_wait_run_positions 30
vt_stop run TERM
[[ $VT_RC -eq 0 ]] || vt_fail "the run exited $VT_RC on SIGTERM"
rc_collect run "$REDIS_URL" vane churn.alerts
rc_compare
vt_pass "two uninterrupted runs (one live at $RATE ev/s, one over the finished topic) agree on $EVENTS events ($(rc_elapsed) s)"
