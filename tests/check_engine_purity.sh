#!/usr/bin/env bash
# The engine is pure: no event loop, Kafka, Redis or HTTP headers, and no clock reads.
set -euo pipefail
root=${1:?usage: check_engine_purity.sh SOURCE_DIR}
bad=$(grep -nE '#include *[<"](uv\.h|librdkafka/|hiredis/|microhttpd\.h)|\b(clock_gettime|gettimeofday|time\(NULL\))' \
    "$root"/daemon/engine/*.[ch] || true)
if [[ -n "$bad" ]]; then
    echo "engine purity violated (no I/O headers or clock reads in daemon/engine/):" >&2
    echo "$bad" >&2
    exit 1
fi
echo "engine purity: ok ($(ls "$root"/daemon/engine/*.[ch] | wc -l) files checked)"
