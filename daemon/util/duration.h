/* duration.h - human durations: "500ms", "10s", "5m", "24h", "7d", "2w", "1h30m", "1.5h".
 *
 * Shared by the configuration (engine.lateness, shutdown.grace, ...) and the rules engine
 * (window sizes, cooldowns). Durations are held as int64 milliseconds. Parsing is strict: every
 * number needs a unit (except a bare "0"), units are ms s m h d w (case-sensitive: "m" is
 * minutes, "ms" milliseconds), components may repeat in any order and are summed, and fractional
 * numbers are allowed ("1.5h"); the result is rounded to the nearest millisecond. Pure and
 * thread-safe, no allocation.
 */
#ifndef VANE_DURATION_H
#define VANE_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parse s into *out_ms. Returns 0, VANE_EPARSE (syntax, missing or unknown unit, empty) or
 * VANE_ERANGE (negative would need a '-' which is rejected as EPARSE; overflow is ERANGE).
 * *out_ms is written only on success. */
int vane_duration_parse(const char *s, int64_t *out_ms);

/* Format ms in the shortest exact form, largest units first: 0 -> "0", 90000 -> "1m30s",
 * 86400000 -> "1d", 1500 -> "1s500ms". Always NUL-terminates (truncating if n is too small).
 * Returns the length the full text needs, as snprintf does. Negative values get a '-' sign. */
int vane_duration_format(int64_t ms, char *buf, size_t n);

#endif
