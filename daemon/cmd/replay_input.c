#include "replay_input.h"

#include "../util/err.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct vane_replay_input {
    FILE *f;
    bool is_stdin;
    vane_format_t fmt;
    size_t max_bytes;
    char *buf;      /* owned, cap bytes */
    size_t cap;     /* >= max_bytes + 16 */
    size_t start;   /* first unconsumed byte */
    size_t end;     /* one past the last valid byte */
    bool eof;       /* the file has no more bytes */
    bool io_error;  /* a read failed */
    uint64_t taken; /* bytes consumed before buf[start] */
    uint64_t record;
    int64_t size;
};

/* Read more bytes into the buffer, first moving the unconsumed tail to the front. Returns the
 * number of bytes added (0 at EOF or on error). */
static size_t refill(vane_replay_input_t *in)
{
    if (in->eof)
        return 0;
    if (in->start > 0) {
        memmove(in->buf, in->buf + in->start, in->end - in->start);
        in->end -= in->start;
        in->start = 0;
    }
    if (in->end == in->cap)
        return 0;
    size_t n = fread(in->buf + in->end, 1, in->cap - in->end, in->f);
    if (n == 0) {
        in->eof = true;
        if (ferror(in->f))
            in->io_error = true;
    }
    in->end += n;
    return n;
}

static void consume(vane_replay_input_t *in, size_t n)
{
    in->start += n;
    in->taken += n;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* JSON lines when the input starts (after blanks) with '{', or when its first 4 KiB are text
 * (no control bytes other than tab, CR, LF): a JSON-lines file may open with a broken line.
 * A protobuf event always holds control bytes (the tag of event_time_ms is 0x18). */
static vane_format_t sniff(vane_replay_input_t *in)
{
    while (in->end - in->start < 4096 && refill(in) > 0) {
    }
    size_t i = in->start;
    while (i < in->end && is_blank(in->buf[i]))
        i++;
    if (i == in->end || in->buf[i] == '{')
        return VANE_FORMAT_JSON; /* empty or all blank: nothing to read either way */
    for (; i < in->end; i++) {
        unsigned char c = (unsigned char)in->buf[i];
        if (c < 0x20 && !is_blank((char)c))
            return VANE_FORMAT_PROTOBUF;
    }
    return VANE_FORMAT_JSON;
}

vane_replay_input_t *vane_replay_input_open(const char *path, vane_format_t fmt, size_t max_bytes,
                                            char *errbuf, size_t errlen)
{
    vane_replay_input_t *in = calloc(1, sizeof *in);
    if (!in) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    in->size = -1;
    in->max_bytes = max_bytes;
    in->cap = max_bytes + 16 < (1u << 20) ? (1u << 20) : max_bytes + 16;
    in->buf = malloc(in->cap);
    if (!in->buf) {
        snprintf(errbuf, errlen, "out of memory");
        goto err;
    }
    if (strcmp(path, "-") == 0) {
        in->f = stdin;
        in->is_stdin = true;
    } else {
        in->f = fopen(path, "rb");
        if (!in->f) {
            snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
            goto err;
        }
    }
    struct stat st;
    if (fstat(fileno(in->f), &st) == 0 && S_ISREG(st.st_mode))
        in->size = (int64_t)st.st_size;
    in->fmt = fmt == VANE_FORMAT_AUTO ? sniff(in) : fmt;
    return in;
err:
    vane_replay_input_close(in);
    return NULL;
}

void vane_replay_input_close(vane_replay_input_t *in)
{
    if (!in)
        return;
    if (in->f && !in->is_stdin)
        fclose(in->f);
    free(in->buf);
    free(in);
}

static int next_line(vane_replay_input_t *in, const char **msg, size_t *len)
{
    size_t scan = in->start;
    for (;;) {
        char *nl = memchr(in->buf + scan, '\n', in->end - scan);
        if (nl) {
            size_t n = (size_t)(nl - (in->buf + in->start));
            const char *p = in->buf + in->start;
            consume(in, n + 1);
            in->record++;
            if (n > 0 && p[n - 1] == '\r')
                n--;
            size_t b = 0;
            while (b < n && is_blank(p[b]))
                b++;
            if (b == n) {
                scan = in->start;
                continue; /* blank line */
            }
            if (n > in->max_bytes)
                return VANE_ETOOBIG;
            *msg = p;
            *len = n;
            return 1;
        }
        if (in->end - in->start > in->max_bytes) {
            /* An over-long line: drop what we hold and keep scanning for its end. */
            consume(in, in->end - in->start);
            for (;;) {
                if (refill(in) == 0) {
                    in->record++;
                    return in->io_error ? VANE_EIO : VANE_ETOOBIG;
                }
                nl = memchr(in->buf + in->start, '\n', in->end - in->start);
                if (nl) {
                    consume(in, (size_t)(nl - (in->buf + in->start)) + 1);
                    in->record++;
                    return VANE_ETOOBIG;
                }
                consume(in, in->end - in->start);
            }
        }
        scan = in->end;
        size_t held = in->end - in->start;
        if (refill(in) == 0) {
            if (in->io_error)
                return VANE_EIO;
            if (in->end == in->start)
                return 0;
            /* Last line without a newline: take it as is. */
            const char *p = in->buf + in->start;
            size_t n = in->end - in->start;
            consume(in, n);
            in->record++;
            if (n > 0 && p[n - 1] == '\r')
                n--;
            size_t b = 0;
            while (b < n && is_blank(p[b]))
                b++;
            if (b == n)
                return 0;
            *msg = p;
            *len = n;
            return 1;
        }
        scan = in->start + held; /* refill moved the bytes to the front */
    }
}

static int next_delimited(vane_replay_input_t *in, const char **msg, size_t *len)
{
    while (in->end - in->start < 10 && refill(in) > 0) {
    }
    if (in->end == in->start)
        return in->io_error ? VANE_EIO : 0;
    uint64_t n = 0;
    size_t i = 0;
    for (;; i++) {
        if (in->start + i >= in->end || i >= 10) {
            consume(in, in->end - in->start);
            in->eof = true;
            in->record++;
            return VANE_ETRUNC;
        }
        uint8_t b = (uint8_t)in->buf[in->start + i];
        n |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80))
            break;
    }
    consume(in, i + 1);
    in->record++;
    if (n > in->max_bytes) {
        /* Skip the oversized message without holding it. */
        uint64_t left = n;
        while (left > 0) {
            if (in->end == in->start && refill(in) == 0)
                return in->io_error ? VANE_EIO : VANE_ETRUNC;
            size_t take = in->end - in->start;
            if (take > left)
                take = (size_t)left;
            consume(in, take);
            left -= take;
        }
        return VANE_ETOOBIG;
    }
    while (in->end - in->start < n && refill(in) > 0) {
    }
    if (in->end - in->start < n) {
        consume(in, in->end - in->start);
        return in->io_error ? VANE_EIO : VANE_ETRUNC;
    }
    *msg = in->buf + in->start;
    *len = (size_t)n;
    consume(in, (size_t)n);
    return 1;
}

int vane_replay_input_next(vane_replay_input_t *in, const char **msg, size_t *len)
{
    if (in->fmt == VANE_FORMAT_PROTOBUF)
        return next_delimited(in, msg, len);
    return next_line(in, msg, len);
}

vane_format_t vane_replay_input_format(const vane_replay_input_t *in)
{
    return in->fmt;
}

uint64_t vane_replay_input_record(const vane_replay_input_t *in)
{
    return in->record;
}

uint64_t vane_replay_input_offset(const vane_replay_input_t *in)
{
    return in->taken;
}

int64_t vane_replay_input_size(const vane_replay_input_t *in)
{
    return in->size;
}
