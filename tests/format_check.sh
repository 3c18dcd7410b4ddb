#!/usr/bin/env bash
# Fail when any C file differs from what clang-format makes of it with .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find daemon tests bench -name '*.[ch]')
bad=()
for f in "${files[@]}"; do
    [[ -f "$f" ]] || continue
    if ! clang-format --style=file "$f" | cmp -s - "$f"; then
        bad+=("$f")
    fi
done
if ((${#bad[@]})); then
    echo "clang-format differs for: ${bad[*]}" >&2
    echo "fix with: clang-format -i ${bad[*]}" >&2
    exit 1
fi
echo "format: ${#files[@]} files ok"
