#include "duration.h"

#include "err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Units from longest to shortest name where prefixes collide ("ms" before "m"). */
static const struct {
    const char *name;
    int64_t ms;
} units[] = {
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 60 * 60 * 1000},
    {"d", 24 * 60 * 60 * 1000},
    {"w", 7 * 24 * 60 * 60 * 1000LL},
};

int vane_duration_parse(const char *s, int64_t *out_ms)
{
    if (!s)
        return VANE_EPARSE;
    while (*s == ' ' || *s == '\t')
        s++;
    if (strcmp(s, "0") == 0) {
        *out_ms = 0;
        return VANE_OK;
    }
    if (*s == '\0')
        return VANE_EPARSE;
    double total = 0;
    const char *p = s;
    while (*p && *p != ' ' && *p != '\t') {
        /* number: digits with at most one '.', at least one digit */
        const char *num = p;
        int digits = 0, dots = 0;
        while ((*p >= '0' && *p <= '9') || *p == '.') {
            if (*p == '.')
                dots++;
            else
                digits++;
            p++;
        }
        if (digits == 0 || dots > 1 || p - num > 32)
            return VANE_EPARSE;
        char tmp[40];
        memcpy(tmp, num, (size_t)(p - num));
        tmp[p - num] = '\0';
        double v = strtod(tmp, NULL);
        /* unit: the longest name that matches */
        int64_t mult = 0;
        size_t ulen = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t l = strlen(units[i].name);
            if (strncmp(p, units[i].name, l) == 0 && l > ulen) {
                /* "m" must not swallow the 'm' of "ms" */
                mult = units[i].ms;
                ulen = l;
            }
        }
        if (ulen == 0)
            return VANE_EPARSE;
        p += ulen;
        total += v * (double)mult;
        if (total > 9.0e15)
            return VANE_ERANGE;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p)
        return VANE_EPARSE;
    *out_ms = (int64_t)llround(total);
    return VANE_OK;
}

int vane_duration_format(int64_t ms, char *buf, size_t n)
{
    char tmp[96];
    size_t len = 0;
    if (ms == 0) {
        tmp[len++] = '0';
    } else {
        uint64_t left;
        if (ms < 0) {
            tmp[len++] = '-';
            left = (uint64_t)(-(ms + 1)) + 1;
        } else {
            left = (uint64_t)ms;
        }
        /* largest first: w is only used when the whole value is whole weeks, so "400d" stays
         * "400d" rather than "57w1d"; days read better in configs. */
        static const int order[] = {4, 3, 2, 1, 0};
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
            uint64_t u = (uint64_t)units[order[i]].ms;
            if (left >= u) {
                uint64_t q = left / u;
                left %= u;
                len += (size_t)snprintf(tmp + len, sizeof tmp - len, "%llu%s",
                                        (unsigned long long)q, units[order[i]].name);
            }
        }
    }
    tmp[len] = '\0';
    if (n > 0) {
        size_t c = len < n - 1 ? len : n - 1;
        memcpy(buf, tmp, c);
        buf[c] = '\0';
    }
    return (int)len;
}
