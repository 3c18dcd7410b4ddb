#!/usr/bin/env bash
# Install, from Debian 12 packages only, exactly what building, running and testing vane need.
# Idempotent: packages already present are not touched and apt-get is not called at all when
# nothing is missing. Run as root (or with sudo available).
#
#   deploy/install-deps.sh            build + run + test dependencies
#   deploy/install-deps.sh --bench    also what bench/run.sh needs (gnuplot)
set -euo pipefail

PKGS=(
    # toolchain
    build-essential cmake pkg-config clang clang-format
    libclang-rt-14-dev # libFuzzer (tests/fuzz): clang only recommends it
    # libraries (see README "Dependencies" for why each one)
    libuv1-dev librdkafka-dev libhiredis-dev libprotobuf-c-dev protobuf-c-compiler
    libyaml-dev libjsmn-dev libxxhash-dev libmicrohttpd-dev libcmocka-dev libtcmalloc-minimal4
    # run and test
    redis-server redis-tools python3 python3-yaml procps iproute2 curl prometheus systemd kcat
)
if [[ "${1:-}" == "--bench" ]]; then
    PKGS+=(gnuplot-nox linux-perf)
fi

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts services it installs; vane's scripts run their own private instances.
for svc in redis-server prometheus; do
    if command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
