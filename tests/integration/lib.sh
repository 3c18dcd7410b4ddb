#!/usr/bin/env bash
# lib.sh - helpers for vane's integration tests (sourced, never run).
#
#   source "$(dirname "$0")/lib.sh"
#   vt_init my_test            # temp dir, cleanup trap, logs
#   vt_start_redis             # REDIS_PORT, REDIS_URL
#   vt_start_broker [ARGS]     # BOOTSTRAP
#   vt_start_vane NAME [ARGS]  # PID in VT_PID[NAME], log in $VT_DIR/NAME.log
#   vt_wait_until SECONDS DESCRIPTION CMD...   # bounded polling, fails the test on timeout
#   vt_pass "message" | vt_fail "message"
#
# Every process started through these helpers is stopped on exit (also on failure or Ctrl-C):
# TERM, then KILL after a bounded wait. On failure the tail of every log is printed.
# Ports are free loopback ports picked at run time; nothing is fixed.
set -euo pipefail

VANE_BIN=${VANE_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/vane}
VANE_SOURCE_DIR=${VANE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VT_MULT=${VANE_TEST_TIMEOUT_MULTIPLIER:-1}
VT_PIDS=()
declare -A VT_PID
VT_DIR=""
VT_NAME=""
VT_OK=0

vt_log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "$VT_NAME" "$*" >&2; }

vt_cleanup() {
    local rc=$?
    set +e
    for pid in "${VT_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${VT_PIDS[@]}"; do
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [[ $VT_OK -ne 1 && -n "$VT_DIR" ]]; then
        for f in "$VT_DIR"/*.log; do
            [[ -f "$f" ]] || continue
            echo "----- tail of $f" >&2
            tail -n 40 "$f" >&2
        done
    fi
    [[ -n "$VT_DIR" && -z "${VT_KEEP:-}" ]] && rm -rf "$VT_DIR"
    exit $rc
}

vt_init() {
    VT_NAME=$1
    VT_DIR=$(mktemp -d "/tmp/vane-${VT_NAME}.XXXXXX")
    trap vt_cleanup EXIT
    trap 'exit 130' INT TERM
    [[ -x "$VANE_BIN" ]] || vt_fail "vane binary not found at $VANE_BIN"
}

vt_fail() {
    vt_log "FAIL: $*"
    exit 1
}

vt_pass() {
    VT_OK=1
    vt_log "PASS: $*"
}

# A free TCP port on 127.0.0.1 (bound and released by the kernel's choice).
vt_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# vt_wait_until SECONDS DESCRIPTION CMD... : poll CMD every 100 ms until it succeeds.
vt_wait_until() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs * VT_MULT))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            vt_fail "timed out after $((secs * VT_MULT)) s waiting for: $what"
        fi
        sleep 0.1
    done
}

vt_track() { VT_PIDS+=("$1"); }

# vt_start_redis [NAME] [extra redis-server args...]: REDIS_PORT, REDIS_URL, REDIS_DIR.
vt_start_redis() {
    local name=${1:-redis}
    shift || true
    REDIS_PORT=$(vt_free_port)
    REDIS_DIR="$VT_DIR/$name"
    mkdir -p "$REDIS_DIR"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --save "" \
        --appendonly no --daemonize no --logfile "$VT_DIR/$name.log" "$@" &
    VT_PID[$name]=$!
    vt_track $!
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
    vt_wait_until 20 "redis-server on port $REDIS_PORT" redis-cli -p "$REDIS_PORT" ping
}

vt_redis() { redis-cli -p "$REDIS_PORT" "$@"; }

# vt_start_broker [vane broker args...]: BOOTSTRAP.
vt_start_broker() {
    "$VANE_BIN" broker --bootstrap-file "$VT_DIR/bootstrap" "$@" >"$VT_DIR/broker.log" 2>&1 &
    VT_PID[broker]=$!
    vt_track $!
    vt_wait_until 20 "vane broker bootstrap file" test -s "$VT_DIR/bootstrap"
    BOOTSTRAP=$(cat "$VT_DIR/bootstrap")
}

# vt_start_vane NAME [vane run args...]: runs with the test's broker and Redis.
vt_start_vane() {
    local name=$1
    shift
    "$VANE_BIN" run --brokers "$BOOTSTRAP" --redis "$REDIS_URL" --http off \
        --log-format text "$@" >"$VT_DIR/$name.log" 2>&1 &
    VT_PID[$name]=$!
    vt_track $!
}

# vt_stop NAME [SIGNAL]: signal a started process and wait for it; its exit status is left
# in VT_RC (call it directly, not in $(...): a subshell cannot wait for our children).
vt_stop() {
    local name=$1 sig=${2:-TERM} pid=${VT_PID[$1]}
    kill -"$sig" "$pid" 2>/dev/null || true
    VT_RC=0
    wait "$pid" || VT_RC=$?
}

# The last "consumed=N" value a vane instance logged (its housekeeping report), or 0.
vt_vane_applied() {
    local n
    n=$(grep -o 'applied=[0-9]*' "$VT_DIR/$1.log" 2>/dev/null | tail -n 1 | cut -d= -f2)
    echo "${n:-0}"
}
