#!/usr/bin/env bash
# bench/run.sh - vane's benchmark, measured against this machine's own limits in the same run.
#
#   bench/run.sh [--quick] [--out DIR] [--brokers B] [--redis URL] [--build-dir DIR]
#                [--no-build] [--mock] [--only GROUPS]
#
#   --quick          small data, a few minutes: a smoke test of the harness (no real figures)
#   --out DIR        where REPORT.md, results.json, plots and logs go (default bench/out-<date>)
#   --brokers B      use an existing Kafka cluster instead of starting a mock one
#   --redis URL      use an existing Redis (redis://host:port or unix:///path) instead of a
#                    private redis-server on a unix socket without persistence
#   --build-dir DIR  build tree to use (default build-bench-release, built here as Release)
#   --no-build       do not (re)build; DIR must already hold vane and bench/limit_*
#   --mock           use bench's own librdkafka mock cluster even when `vane broker` exists
#   --only GROUPS    comma-separated: throughput,engine,decode,latency,redis,memory
#   --max-rate R     vane's max events/s for latency at 50% of max when throughput is not run
#
# Builds Release, starts what it needs, runs every scenario, writes DIR/REPORT.md,
# DIR/results.json and DIR/*.png. Every process it starts is stopped on exit. Method and
# reproduction on other hardware or a real cluster: bench/README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

quick=0
out=""
build_dir="$root/build-bench-release"
build=1
pass=()
while (($#)); do
    case "$1" in
    --quick) quick=1; pass+=(--quick) ;;
    --out) out=$2; shift ;;
    --brokers) pass+=(--brokers "$2"); shift ;;
    --redis) pass+=(--redis "$2"); shift ;;
    --build-dir) build_dir=$2; shift ;;
    --no-build) build=0 ;;
    --mock) pass+=(--mock) ;;
    --only) pass+=(--only "$2"); shift ;;
    --max-rate) pass+=(--max-rate "$2"); shift ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[[ -n "$out" ]] || out="$root/bench/out-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Like deploy/test.sh and quickstart.sh: install what is missing (Debian 12, as root), so a
# fresh clone writes the whole report, plots included.
for tool in python3 redis-server redis-cli gnuplot cmake; do
    if ! command -v "$tool" >/dev/null; then
        if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
            echo "bench: $tool is missing; running deploy/install-deps.sh --bench" >&2
            bash "$root/deploy/install-deps.sh" --bench >&2
        fi
        command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool is missing (bash deploy/install-deps.sh --bench)" >&2; exit 1; }
    fi
done

build_type=Release
if ((build)); then
    echo "bench: building Release in $build_dir" >&2
    cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DVANE_TESTS=OFF \
        -DVANE_BENCH=ON >"$out/build.log" 2>&1 ||
        { tail -20 "$out/build.log" >&2; exit 1; }
    cmake --build "$build_dir" -j 2 >>"$out/build.log" 2>&1 ||
        { tail -20 "$out/build.log" >&2; exit 1; }
else
    build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || echo "?")
    if grep -q '^VANE_ASAN:BOOL=ON' "$build_dir/CMakeCache.txt" 2>/dev/null; then
        build_type="$build_type+ASan"
    fi
fi
for l in calib consume load mock relay lat state redis decode engine; do
    [[ -x "$build_dir/bench/limit_$l" ]] || { echo "bench/run.sh: $build_dir/bench/limit_$l is missing" >&2; exit 1; }
done

exec python3 "$here/harness.py" --out "$out" --bin-dir "$build_dir" --build-type "$build_type" \
    ${pass[@]+"${pass[@]}"}
