#include "redis_url.h"

#include "buf.h"
#include "err.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return VANE_ECONFIG;
}

/* s[0..n) with %XX decoded into dst[cap] (NUL-terminated); false when it does not fit or an
 * escape is not two hex digits. */
static bool pct_decode(const char *s, size_t n, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < n ? vane_buf_hex_digit(s[i + 1]) : -1;
            int lo = hi >= 0 ? vane_buf_hex_digit(s[i + 2]) : -1;
            if (lo < 0)
                return false;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (o + 1 >= cap)
            return false;
        dst[o++] = c;
    }
    dst[o] = '\0';
    return true;
}

/* Decimal s[0..n) (digits only, n >= 1) -> *out when <= max. */
static bool parse_num(const char *s, size_t n, long max, long *out)
{
    if (n == 0 || n > 9)
        return false;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* [[user:]password@] at the start of s[0..n): into out; returns the bytes it took (0 when
 * there is none), or -1 when a part is too long or badly %-encoded. */
static long parse_userinfo(const char *s, size_t n, vane_redis_url_t *out)
{
    const char *at = NULL;
    for (size_t i = 0; i < n; i++) /* the last '@': a host has none, a raw password may */
        if (s[i] == '@')
            at = s + i;
    if (!at)
        return 0;
    size_t ulen = (size_t)(at - s);
    const char *colon = memchr(s, ':', ulen);
    bool ok = colon ? pct_decode(s, (size_t)(colon - s), out->user, sizeof out->user) &&
                          pct_decode(colon + 1, (size_t)(at - colon - 1), out->password,
                                     sizeof out->password)
                    : pct_decode(s, ulen, out->password, sizeof out->password);
    return ok ? (long)(ulen + 1) : -1;
}

static int parse_unix(const char *p, vane_redis_url_t *out, char *errbuf, size_t errlen)
{
    size_t plen = strcspn(p, "?");
    if (plen < 2 || p[0] != '/')
        return fail(errbuf, errlen, "unix:// needs an absolute socket path: unix:///path/to.sock");
    if (plen >= sizeof out->unix_path)
        return fail(errbuf, errlen, "the socket path is longer than %zu bytes",
                    sizeof out->unix_path - 1);
    memcpy(out->unix_path, p, plen);
    out->unix_path[plen] = '\0';
    const char *q = p + plen;
    if (!*q)
        return VANE_OK;
    long db;
    if (strncmp(q, "?db=", 4) != 0 || !parse_num(q + 4, strlen(q + 4), 999999999, &db))
        return fail(errbuf, errlen, "after the socket path only ?db=N is understood, not '%s'", q);
    out->db = (int)db;
    return VANE_OK;
}

static int parse_tcp(const char *p, vane_redis_url_t *out, char *errbuf, size_t errlen)
{
    size_t alen = strcspn(p, "/?"); /* host[:port] */
    const char *host = p, *after;
    size_t hlen;
    if (*p == '[') {
        const char *close = memchr(p, ']', alen);
        if (!close)
            return fail(errbuf, errlen, "an IPv6 address needs its closing ']'");
        host = p + 1;
        hlen = (size_t)(close - host);
        after = close + 1;
    } else {
        const char *colon = memchr(p, ':', alen);
        hlen = colon ? (size_t)(colon - p) : alen;
        after = p + hlen;
    }
    if (hlen == 0)
        return fail(errbuf, errlen, "no host (want redis://host:port)");
    if (hlen >= sizeof out->host)
        return fail(errbuf, errlen, "the host name is longer than %zu bytes", sizeof out->host - 1);
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    const char *end = p + alen;
    if (after < end) {
        long port;
        if (*after != ':' || !parse_num(after + 1, (size_t)(end - after - 1), 65535, &port) ||
            port == 0)
            return fail(errbuf, errlen, "the port must be a number 1..65535, not '%.*s'",
                        (int)(end - after), after);
        out->port = (int)port;
    }
    if (*end == '?')
        return fail(errbuf, errlen,
                    "redis:// takes no query parameters; choose the database as /N");
    if (*end == '/') {
        long db;
        size_t dlen = strlen(end + 1);
        if (dlen && !parse_num(end + 1, dlen, 999999999, &db))
            return fail(errbuf, errlen, "the database must be a number, not '%s'", end + 1);
        out->db = dlen ? (int)db : 0;
    }
    return VANE_OK;
}

int vane_redis_url_parse(const char *url, vane_redis_url_t *out, char *errbuf, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (!url || !*url)
        return fail(errbuf, errlen, "the Redis URL is empty");
    bool is_unix = false;
    const char *p = url;
    if (strncmp(url, "rediss://", 9) == 0)
        return fail(errbuf, errlen,
                    "rediss:// (TLS) is not supported: Debian 12's hiredis has no TLS (put a TLS "
                    "tunnel such as stunnel in front and use redis:// to it)");
    if (strncmp(url, "unix://", 7) == 0) {
        p += 7;
        is_unix = true;
    } else if (strncmp(url, "redis://", 8) == 0) {
        p += 8;
    } else if (strstr(url, "://")) {
        return fail(errbuf, errlen, "unknown scheme '%.*s' (want redis:// or unix://)",
                    (int)(strstr(url, "://") - url), url);
    }
    /* The userinfo ends at the last '@' before the path: a raw '@' in a password still works
     * in the TCP form, where a host has no '@'; %40 works everywhere. */
    size_t auth = is_unix ? strcspn(p, "/") : strcspn(p, "/?");
    long took = parse_userinfo(p, auth, out);
    if (took < 0)
        return fail(errbuf, errlen,
                    "the user or password in the URL is too long or has a bad %%-escape");
    p += took;
    if (is_unix && (size_t)took != auth)
        return fail(errbuf, errlen, "unix:// takes no host: unix:///path/to.sock");
    return is_unix ? parse_unix(p, out, errbuf, errlen) : parse_tcp(p, out, errbuf, errlen);
}
