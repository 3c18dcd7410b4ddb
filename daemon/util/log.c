#include "log.h"

#include "err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

vane_log_level_t vane_log_level = VANE_LOG_INFO;
static vane_log_format_t log_format = VANE_LOG_FORMAT_AUTO;
static int log_suppress_ms = 10000;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

/* Suppression memory: a small direct-mapped table keyed by (subsys, fmt) pointers. The format
 * string literal identifies the call site, so pointer identity is the right key. */
#define SUPPRESS_SLOTS 64
static struct {
    const char *subsys;
    const char *fmt;
    int64_t last_ms;     /* when it last printed */
    unsigned suppressed; /* repeats swallowed since then */
} suppress[SUPPRESS_SLOTS];

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vane_log_setup(vane_log_level_t level, vane_log_format_t format, int suppress_ms)
{
    vane_log_level = level;
    log_format = format;
    log_suppress_ms = suppress_ms < 0 ? 0 : suppress_ms;
}

int vane_log_level_parse(const char *s, vane_log_level_t *out)
{
    for (int i = 0; i <= VANE_LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (vane_log_level_t)i;
            return VANE_OK;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = VANE_LOG_WARN;
        return VANE_OK;
    }
    return VANE_EINVAL;
}

vane_log_level_t vane_log_level_of_syslog(int severity)
{
    return severity <= 3   ? VANE_LOG_ERROR
           : severity == 4 ? VANE_LOG_WARN
           : severity <= 6 ? VANE_LOG_INFO
                           : VANE_LOG_DEBUG;
}

int vane_log_format_parse(const char *s, vane_log_format_t *out)
{
    if (strcasecmp(s, "auto") == 0)
        *out = VANE_LOG_FORMAT_AUTO;
    else if (strcasecmp(s, "text") == 0)
        *out = VANE_LOG_FORMAT_TEXT;
    else if (strcasecmp(s, "json") == 0)
        *out = VANE_LOG_FORMAT_JSON;
    else
        return VANE_EINVAL;
    return VANE_OK;
}

static bool log_mask_ids = true;

void vane_log_set_mask_ids(bool mask)
{
    log_mask_ids = mask;
}

bool vane_log_mask_ids(void)
{
    return log_mask_ids;
}

const char *vane_log_id_r(const char *id, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    if (!id) {
        snprintf(buf, n, "-");
        return buf;
    }
    size_t len = strlen(id);
    if (!log_mask_ids)
        snprintf(buf, n, "%s", id);
    else if (len >= 8)
        snprintf(buf, n, "%.2s****%s", id, id + len - 2);
    else if (len >= 5)
        snprintf(buf, n, "%.1s****%s", id, id + len - 1);
    else
        snprintf(buf, n, "****");
    return buf;
}

const char *vane_log_id(const char *id)
{
    static _Thread_local char ring[8][80];
    static _Thread_local unsigned next;
    char *buf = ring[next++ % 8];
    return vane_log_id_r(id, buf, sizeof ring[0]);
}

/* Append s to buf as JSON string content (no quotes). Returns new length. */
static size_t json_escape(char *buf, size_t len, size_t cap, const char *s)
{
    for (; *s && len + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[len++] = '\\';
            buf[len++] = (char)c;
        } else if (c < 0x20) {
            len += (size_t)snprintf(buf + len, cap - len, "\\u%04x", c);
        } else {
            buf[len++] = (char)c;
        }
    }
    return len;
}

void vane_log_write(vane_log_level_t level, const char *subsys, const char *fmt, ...)
{
    if (level < vane_log_level || level >= VANE_LOG_OFF)
        return;
    unsigned repeated = 0;
    if (log_suppress_ms > 0 && level >= VANE_LOG_WARN) {
        uintptr_t h = ((uintptr_t)fmt >> 3) ^ ((uintptr_t)subsys >> 5);
        unsigned slot = (unsigned)(h % SUPPRESS_SLOTS);
        int64_t now = mono_ms();
        if (suppress[slot].fmt == fmt && suppress[slot].subsys == subsys &&
            now - suppress[slot].last_ms < log_suppress_ms) {
            suppress[slot].suppressed++;
            return;
        }
        if (suppress[slot].fmt == fmt && suppress[slot].subsys == subsys)
            repeated = suppress[slot].suppressed;
        suppress[slot].fmt = fmt;
        suppress[slot].subsys = subsys;
        suppress[slot].last_ms = now;
        suppress[slot].suppressed = 0;
    }

    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[96];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)(ts.tv_nsec / 1000000) % 1000);

    vane_log_format_t f = log_format;
    if (f == VANE_LOG_FORMAT_AUTO)
        f = isatty(STDERR_FILENO) ? VANE_LOG_FORMAT_TEXT : VANE_LOG_FORMAT_JSON;

    char line[2600];
    size_t len;
    if (f == VANE_LOG_FORMAT_JSON) {
        len = (size_t)snprintf(line, sizeof line,
                               "{\"ts\":\"%s\",\"level\":\"%s\",\"sub\":\"%s\",\"msg\":\"", when,
                               level_names[level], subsys);
        len = json_escape(line, len, sizeof line - 40, msg);
        if (repeated)
            len += (size_t)snprintf(line + len, sizeof line - len, "\",\"suppressed\":%u}\n",
                                    repeated);
        else
            len += (size_t)snprintf(line + len, sizeof line - len, "\"}\n");
    } else {
        len = (size_t)snprintf(line, sizeof line, "%s %-5s [%s] %s", when, level_names[level],
                               subsys, msg);
        if (len >= sizeof line - 48)
            len = sizeof line - 48;
        if (repeated)
            len += (size_t)snprintf(line + len, sizeof line - len,
                                    " (repeated %u times, suppressed)", repeated);
        line[len++] = '\n';
    }
    if (len > sizeof line)
        len = sizeof line;
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
