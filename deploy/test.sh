#!/usr/bin/env bash
# Run vane's whole test suite: install what is missing, build the test configuration
# (Debug, AddressSanitizer + UndefinedBehaviorSanitizer, warnings as errors), check that the
# Release build is warning-free too, then run every ctest test (unit, golden, integration,
# checks), printing the output of failures. Exits non-zero on any failure.
#
#   deploy/test.sh [-L LABEL] [-R REGEX]   extra arguments go to ctest
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

bash deploy/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
echo "== build: Release, -Werror"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DVANE_WERROR=ON -DVANE_TESTS=OFF >/dev/null
cmake --build build-release -j "$jobs" -- --no-print-directory >/dev/null

echo "== build: Debug, ASan + UBSan, -Werror"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Debug -DVANE_WERROR=ON -DVANE_ASAN=ON -DVANE_UBSAN=ON >/dev/null
cmake --build build-test -j "$jobs" -- --no-print-directory >/dev/null

echo "== format check"
bash tests/format_check.sh

echo "== ctest"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd build-test
ctest --output-on-failure --timeout 900 -j 2 "$@"
