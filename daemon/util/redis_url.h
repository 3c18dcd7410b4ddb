/* redis_url.h - vane_redis_url_t: where Redis is, parsed from redis.url.
 *
 * Two forms are accepted:
 *   redis://[[user:]password@]host[:port][/db]   host: a name, an IPv4 address or [IPv6]
 *   unix://[[user:]password@]/path/to.sock[?db=N]
 * The scheme may be left out of the first form (host:port). The user and password may be
 * %-encoded (RFC 3986), so they can hold '@', ':' or '/'. port defaults to 6379 and db to 0;
 * a db other than 0 is chosen with SELECT on every connection. rediss:// (TLS) is refused: the
 * hiredis of Debian 12 (0.14) has no TLS.
 *
 * Pure parsing: no I/O, no allocation. Used by the daemon's state store, by `vane state`, and
 * by the config loader to refuse a bad URL at start-up with a message that says what is wrong.
 */
#ifndef VANE_REDIS_URL_H
#define VANE_REDIS_URL_H

#include <stddef.h>

typedef struct vane_redis_url {
    char host[256];      /* "" for a unix socket; an IPv6 address without its brackets */
    int port;            /* 1..65535 (6379 unless given) */
    char unix_path[256]; /* "" for TCP */
    char user[128];      /* "" = none (AUTH with the password alone) */
    char password[256];  /* "" = none (no AUTH) */
    int db;              /* 0.. */
} vane_redis_url_t;

/* Parse url into *out. Returns VANE_OK, or VANE_ECONFIG with errbuf saying what is wrong (the
 * password is never quoted in it). */
int vane_redis_url_parse(const char *url, vane_redis_url_t *out, char *errbuf, size_t errlen);

#endif
