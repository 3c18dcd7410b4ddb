/* log.h - vane's one logging macro.
 *
 *   VANE_LOG(VANE_LOG_WARN, "kafka", "partition %d paused: %s", p, why);
 *
 * The level is checked before anything is formatted, the format is checked by the compiler,
 * every line carries a subsystem tag (kafka|redis|rules|engine|http|config|main|...).
 * Output goes to stderr, as readable text on a terminal and as JSON lines otherwise (or as
 * configured). A message repeated within the suppression interval is counted, not printed,
 * and the count is reported when it prints again. Single-threaded (the loop thread) except
 * vane_log_write itself, which is safe to call from any thread (one write(2) per line).
 */
#ifndef VANE_LOG_H
#define VANE_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum vane_log_level {
    VANE_LOG_DEBUG = 0,
    VANE_LOG_INFO = 1,
    VANE_LOG_WARN = 2,
    VANE_LOG_ERROR = 3,
    VANE_LOG_OFF = 4,
} vane_log_level_t;

typedef enum vane_log_format {
    VANE_LOG_FORMAT_AUTO = 0, /* text on a terminal, JSON otherwise */
    VANE_LOG_FORMAT_TEXT = 1,
    VANE_LOG_FORMAT_JSON = 2,
} vane_log_format_t;

extern vane_log_level_t vane_log_level; /* messages below this level are dropped unformatted */

/* Configure output. suppress_ms: identical (subsys, format) messages within this many
 * milliseconds are counted instead of printed; 0 disables suppression. */
void vane_log_setup(vane_log_level_t level, vane_log_format_t format, int suppress_ms);

/* Parse "debug|info|warn|error|off"; returns 0 or VANE_EINVAL. */
int vane_log_level_parse(const char *s, vane_log_level_t *out);
int vane_log_format_parse(const char *s, vane_log_format_t *out);
/* vane's level for a syslog severity (0 emerg .. 7 debug), as librdkafka's log callback gives. */
vane_log_level_t vane_log_level_of_syslog(int severity);

/* Customer ids in logs. Banks treat the id as personal data, so logs carry a masked form by
 * default (log.mask_customer_ids): ids of 8 or more characters keep their first 2 and last 2
 * ("C1****01"), ids of 5..7 keep first and last ("C****9"), shorter ones become "****". The
 * number of stars is always 4, so the length is not revealed. Alerts on Kafka are not
 * affected. */
void vane_log_set_mask_ids(bool mask);
bool vane_log_mask_ids(void);
/* Write the loggable form of id into buf (masked or not, per the setting); returns buf.
 * Always NUL-terminates; a NULL id gives "-". */
const char *vane_log_id_r(const char *id, char *buf, size_t n);
/* Same, into a small per-thread ring of 8 buffers: valid until 8 more calls on this thread,
 * which is enough for one VANE_LOG line: VANE_LOG(..., "customer %s", vane_log_id(id)). */
const char *vane_log_id(const char *id);

void vane_log_write(vane_log_level_t level, const char *subsys, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define VANE_LOG(level, subsys, ...)                                                               \
    do {                                                                                           \
        if ((level) < vane_log_level)                                                              \
            break;                                                                                 \
        vane_log_write((level), (subsys), __VA_ARGS__);                                            \
    } while (0)

#endif
