#!/usr/bin/env bash
# Fuzz the codec's event decoders with libFuzzer.
#
#   tests/fuzz/run.sh [SECONDS]      each harness (json, pb, alert) for SECONDS (default 30)
#
# Configures a separate clang build directory with -DVANE_FUZZ=ON (VANE_FUZZ_BUILD_DIR, default
# <repo>/build-fuzz), builds only the two harnesses, and runs each on a scratch copy of its
# seed corpus (tests/fuzz/corpus/<h>/), so the committed corpus is never modified. Crashing
# inputs are saved as <build>/fuzz-artifacts/<h>-crash-*; the script then exits non-zero.
# With VANE_FUZZ_MERGE=1 the new inputs that add coverage are merged (minimised) back into
# tests/fuzz/corpus/<h>/ for committing.
# Exit status: 0 clean, 1 a harness failed, 77 clang or libFuzzer missing (ctest: skipped).
set -euo pipefail

secs=${1:-30}
if ! [[ "$secs" =~ ^[0-9]+$ ]] || ((secs < 1)); then
    echo "usage: $0 [SECONDS]" >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${VANE_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${VANE_FUZZ_JOBS:-2}

if ! command -v clang >/dev/null 2>&1; then
    echo "run.sh: clang not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
    exit 77
fi
rdir=$(clang -print-resource-dir)
if ! ls "$rdir"/lib/linux/libclang_rt.fuzzer-*.a >/dev/null 2>&1; then
    echo "run.sh: libFuzzer not found under $rdir (Debian: libclang-rt-14-dev)" >&2
    exit 77
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/vane-fuzz.XXXXXX")
cleanup() { rm -rf "$scratch"; }
trap cleanup EXIT

echo "run.sh: configuring $build (clang, VANE_FUZZ=ON)"
if ! cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DVANE_FUZZ=ON -DVANE_BENCH=OFF -DVANE_WERROR=OFF -DVANE_ASAN=OFF -DVANE_UBSAN=OFF \
    >"$scratch/configure.log" 2>&1; then
    cat "$scratch/configure.log" >&2
    exit 1
fi
if ! cmake --build "$build" -j"$jobs" --target fuzz_codec_json fuzz_codec_pb fuzz_codec_alert \
    >"$scratch/build.log" 2>&1; then
    cat "$scratch/build.log" >&2
    exit 1
fi

mkdir -p "$build/fuzz-artifacts"
status=0
for h in json pb alert; do
    bin="$build/tests/fuzz/fuzz_codec_$h"
    work="$scratch/$h"
    mkdir -p "$work"
    cp "$here/corpus/$h"/* "$work"/
    before=$(ls "$work" | wc -l)
    echo "run.sh: fuzz_codec_$h for ${secs}s on a copy of $before seeds"
    if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/fuzz-artifacts/$h-" "$work" >"$scratch/$h.log" 2>&1; then
        tail -n 60 "$scratch/$h.log" >&2
        echo "run.sh: fuzz_codec_$h FAILED; inputs in $build/fuzz-artifacts/" >&2
        status=1
        continue
    fi
    after=$(ls "$work" | wc -l)
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$scratch/$h.log" |
        sed "s/^/run.sh: $h /" || true
    echo "run.sh: fuzz_codec_$h clean, corpus $before -> $after inputs"
    if [[ "${VANE_FUZZ_MERGE:-0}" == 1 ]]; then
        "$bin" -merge=1 "$here/corpus/$h" "$work" >"$scratch/$h.merge.log" 2>&1
        echo "run.sh: merged into tests/fuzz/corpus/$h ($(ls "$here/corpus/$h" | wc -l) files)"
    fi
done
exit $status
