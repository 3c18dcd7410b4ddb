#!/usr/bin/env bash
# vane quickstart: watch vane detect churn signals live in a synthetic bank event stream.
#
#   deploy/quickstart.sh [--duration S] [--customers N] [--seed N] [--rate EVENTS_PER_S]
#
# Installs what is missing (Debian 12, apt-get), builds vane (Release), then starts, all on
# loopback and in a temporary directory: redis-server (free port, no persistence), the
# embedded development broker (`vane broker`), the daemon (`vane run`), a live alert view
# (`vane tail`) and the synthetic event stream (`vane gen`): a small bank of --customers
# (default 200) with two weeks of normal history and then planted behaviours of every alert
# kind, streamed at a rate that fits the whole story into --duration seconds (default 60;
# --rate overrides). Then it prints a summary (events, alerts by kind, events/s) and stops
# everything it started, also on Ctrl-C or failure. Non-interactive when stdout is not a
# terminal.
set -euo pipefail

DURATION=60
RATE=0
CUSTOMERS=200
HISTORY_DAYS=14
SEED=$(date +%s)
while (($#)); do
    case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --customers) CUSTOMERS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "quickstart: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -gt 0 ]] || { echo "quickstart: --duration must be a positive integer" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tty=0
[[ -t 1 ]] && tty=1
say() { if ((tty)); then printf '\033[1m==> %s\033[0m\n' "$*"; else printf '==> %s\n' "$*"; fi; }

say "checking dependencies"
bash deploy/install-deps.sh
say "building vane (Release)"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DVANE_TESTS=OFF -DVANE_BENCH=OFF >/dev/null
cmake --build build-release -j "$(nproc)" -- --no-print-directory >/dev/null
VANE="$root/build-release/vane"

work=$(mktemp -d /tmp/vane-quickstart.XXXXXX)
pids=()
cleanup() {
    local rc=$?
    set +e
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if ((rc != 0)); then
        echo "quickstart failed; last lines of the logs:" >&2
        for f in "$work"/*.log; do echo "--- $f" >&2; tail -n 15 "$f" >&2; done
    fi
    rm -rf "$work"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # SECONDS WHAT CMD...
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || { echo "quickstart: timed out waiting for $what" >&2; exit 1; }
        sleep 0.1
    done
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
say "starting redis-server on 127.0.0.1:$port"
redis-server --port "$port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no \
    --logfile "$work/redis.log" &
pids+=($!)
wait_for 20 "redis-server" redis-cli -p "$port" ping

say "starting the development broker (vane broker)"
"$VANE" broker --bootstrap-file "$work/bootstrap" >"$work/broker.log" 2>&1 &
pids+=($!)
wait_for 20 "vane broker" test -s "$work/bootstrap"
brokers=$(cat "$work/bootstrap")

say "starting the daemon: vane run --brokers $brokers --redis redis://127.0.0.1:$port --group quickstart"
"$VANE" run --brokers "$brokers" --redis "redis://127.0.0.1:$port" --group quickstart \
    --http off --log-format text >"$work/vane.log" 2>&1 &
vane_pid=$!
pids+=($vane_pid)
wait_for 30 "vane run to join the group" grep -q "assigned" "$work/vane.log"

say "live alerts (vane tail):"
"$VANE" tail --brokers "$brokers" --topic churn.alerts 2>"$work/tail.log" &
pids+=($!)

world=(--seed "$SEED" --customers "$CUSTOMERS" --history-days "$HISTORY_DAYS")
if [[ "$RATE" -le 0 ]]; then
    # Size the rate so the whole simulated story (history, then planted behaviours) fits.
    total=$("$VANE" gen "${world[@]}" --out /dev/null 2>&1 | grep -o '[0-9]* events' | head -n 1 | cut -d' ' -f1)
    budget=$((DURATION > 10 ? DURATION - 5 : DURATION))
    RATE=$(((total + budget - 1) / budget))
fi
say "streaming synthetic events for ${DURATION}s at ${RATE}/s (${CUSTOMERS} customers, seed $SEED)"
gen_args=(--brokers "$brokers" --topic bank.events "${world[@]}" --rate "$RATE"
    --events $((RATE * DURATION)) --truth "$work/truth.csv")
((tty)) && gen_args+=(--progress)
start=$(date +%s.%N)
"$VANE" gen "${gen_args[@]}" 2>"$work/gen.log" &
gen_pid=$!
pids+=($gen_pid)
deadline=$((SECONDS + DURATION + 10))
while kill -0 "$gen_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
kill -TERM "$gen_pid" 2>/dev/null || true
wait "$gen_pid" 2>/dev/null || true
end=$(date +%s.%N)

# Let the daemon catch up, then stop it cleanly (drain, flush, commit).
sleep 2
kill -TERM "$vane_pid"
vane_rc=0
wait "$vane_pid" || vane_rc=$?

"$VANE" tail --brokers "$brokers" --topic churn.alerts --from-beginning --json --timeout 3 \
    >"$work/alerts.jsonl" 2>/dev/null || true
sent=$(grep -o 'applied=[0-9]*' "$work/vane.log" | tail -n 1 | cut -d= -f2)
echo
say "summary"
python3 - "$work/alerts.jsonl" "${sent:-0}" "$start" "$end" <<'PY'
import collections, json, sys
alerts = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
applied, start, end = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
secs = max(end - start, 1e-9)
print(f"  events applied by vane : {applied}  ({applied / secs:.0f} events/s over {secs:.0f} s)")
print(f"  alerts                 : {len(alerts)}")
for kind, n in sorted(collections.Counter(a['kind'] for a in alerts).items()):
    print(f"    {kind:<20} {n}")
PY
if ((vane_rc != 0)); then
    echo "quickstart: vane run exited with status $vane_rc" >&2
    exit 1
fi
say "done; everything started has been stopped"
