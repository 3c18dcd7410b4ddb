/* decode.c - decode in memory: vane's decoder against the parsers it is built on.
 *
 *   limit_decode --file PATH --format json|protobuf [--passes 3]
 *
 * Loads every message of PATH (limit_load --file output: JSON lines, or varint-length-
 * delimited protobuf) into memory, then times, per message:
 *   json:     jsmn alone over the same bytes (tokenise only; the floor of any JSON decode)
 *   protobuf: protobuf-c's own vane__v1__event__unpack + free_unpacked (default allocator)
 *   vane:     vane_decoder_decode() (codec.h), when the codec is built in this tree
 * and counts malloc/calloc/realloc calls made during vane's timed passes (this program
 * replaces the allocator entry points and forwards to glibc's; not under AddressSanitizer,
 * whose allocator cannot be wrapped this way: then "allocs_per_event" is null).
 * Each figure is the best (minimum) of --passes passes after one warm-up pass.
 * Prints {"messages","bytes","floor_ns","vane_ns","ratio","vane_ok","vane_rejects",
 * "allocs_per_event"}.
 */
#define JSMN_STATIC
#include "bench_util.h"

#include <jsmn.h>

#ifdef BENCH_HAVE_DECODER
#include "engine/codec.h"
#endif

/* ---- allocation counting ---------------------------------------------------------------- */
static uint64_t alloc_calls;
static int counting;

#if !defined(__SANITIZE_ADDRESS__)
#define BENCH_COUNT_ALLOCS 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
void *malloc(size_t n)
{
    if (counting)
        alloc_calls++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    if (counting)
        alloc_calls++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    if (counting)
        alloc_calls++;
    return __libc_realloc(p, n);
}
void free(void *p)
{
    __libc_free(p);
}
#endif

/* ---- input ------------------------------------------------------------------------------ */
typedef struct msg {
    size_t off, len;
} msg_t;

static char *data;
static msg_t *msgs;
static size_t nmsgs;

static void load(const char *path, bool pb)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        bench_die("cannot read %s", path);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    data = malloc((size_t)sz + 1);
    if (!data || fread(data, 1, (size_t)sz, fp) != (size_t)sz)
        bench_die("read %s failed", path);
    fclose(fp);
    size_t cap = 1024;
    msgs = malloc(cap * sizeof(*msgs));
    size_t pos = 0;
    while (pos < (size_t)sz) {
        size_t len = 0, start;
        if (pb) {
            int shift = 0;
            while (pos < (size_t)sz) {
                unsigned char b = (unsigned char)data[pos++];
                len |= (size_t)(b & 0x7f) << shift;
                shift += 7;
                if (!(b & 0x80))
                    break;
            }
            start = pos;
            pos += len;
        } else {
            start = pos;
            char *nl = memchr(data + pos, '\n', (size_t)sz - pos);
            len = nl ? (size_t)(nl - (data + pos)) : (size_t)sz - pos;
            pos += len + 1;
        }
        if (len == 0 || start + len > (size_t)sz)
            continue;
        if (nmsgs == cap) {
            cap *= 2;
            msgs = realloc(msgs, cap * sizeof(*msgs));
            if (!msgs)
                bench_die("out of memory");
        }
        msgs[nmsgs].off = start;
        msgs[nmsgs].len = len;
        nmsgs++;
    }
}

/* ---- floors ----------------------------------------------------------------------------- */
static uint64_t run_jsmn(void)
{
    jsmntok_t toks[96];
    uint64_t acc = 0;
    for (size_t i = 0; i < nmsgs; i++) {
        jsmn_parser p;
        jsmn_init(&p);
        int n = jsmn_parse(&p, data + msgs[i].off, msgs[i].len, toks, 96);
        acc += (uint64_t)n + (uint64_t)toks[n > 0 ? n - 1 : 0].end;
    }
    return acc;
}

static uint64_t run_pbc(void)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < nmsgs; i++) {
        Vane__V1__Event *ev =
            vane__v1__event__unpack(NULL, msgs[i].len, (const uint8_t *)data + msgs[i].off);
        if (ev) {
            acc += (uint64_t)ev->event_time_ms + ev->payload_case;
            vane__v1__event__free_unpacked(ev, NULL);
        }
    }
    return acc;
}

typedef uint64_t (*pass_fn)(void);

static double best_ns(pass_fn fn, int passes, uint64_t *sink)
{
    *sink += fn(); /* warm-up */
    double best = 0;
    for (int p = 0; p < passes; p++) {
        int64_t t0 = bench_now_ns();
        *sink += fn();
        double ns = (double)(bench_now_ns() - t0) / (double)nmsgs;
        if (p == 0 || ns < best)
            best = ns;
    }
    return best;
}

#ifdef BENCH_HAVE_DECODER
static vane_decoder_t *dec;
static vane_format_t fmt;
static uint64_t ok, rejects;

static uint64_t run_vane(void)
{
    uint64_t acc = 0;
    ok = rejects = 0;
    for (size_t i = 0; i < nmsgs; i++) {
        vane_event_t ev;
        vane_decode_error_t err;
        if (vane_decoder_decode(dec, data + msgs[i].off, msgs[i].len, fmt, &ev, &err) == 0) {
            ok++;
            acc += (uint64_t)ev.event_time_ms + ev.customer_id.len;
        } else {
            rejects++;
        }
    }
    return acc;
}
#endif

int main(int argc, char **argv)
{
    const char *path = bench_arg(argc, argv, "--file", NULL);
    const char *format = bench_arg(argc, argv, "--format", "json");
    int passes = (int)bench_arg_ll(argc, argv, "--passes", 3);
    if (!path)
        bench_die("usage: limit_decode --file PATH --format json|protobuf");
    bool pb = strcmp(format, "protobuf") == 0;
    load(path, pb);
    if (nmsgs == 0)
        bench_die("no messages in %s", path);
    size_t bytes = 0;
    for (size_t i = 0; i < nmsgs; i++)
        bytes += msgs[i].len;
    uint64_t sink = 0;
    double floor_ns = best_ns(pb ? run_pbc : run_jsmn, passes, &sink);

    printf("{\"messages\":%zu,\"bytes\":%zu,\"format\":\"%s\",\"floor\":\"%s\",\"floor_ns\":%.2f,",
           nmsgs, bytes, format, pb ? "protobuf-c unpack" : "jsmn", floor_ns);
#ifdef BENCH_HAVE_DECODER
    dec = vane_decoder_new(1 << 16);
    if (!dec)
        bench_die("vane_decoder_new failed");
    fmt = pb ? VANE_FORMAT_PROTOBUF : VANE_FORMAT_JSON;
    sink += run_vane(); /* warm-up: scratch reaches its steady size */
    alloc_calls = 0;
    counting = 1;
    double vane_ns = best_ns(run_vane, passes, &sink);
    counting = 0;
    double timed = (double)nmsgs * (passes + 1);
#ifdef BENCH_COUNT_ALLOCS
    printf("\"vane_ns\":%.2f,\"ratio\":%.3f,\"vane_ok\":%llu,\"vane_rejects\":%llu,"
           "\"allocs_per_event\":%.4f,",
           vane_ns, vane_ns / floor_ns, (unsigned long long)ok, (unsigned long long)rejects,
           (double)alloc_calls / timed);
#else
    (void)timed;
    printf("\"vane_ns\":%.2f,\"ratio\":%.3f,\"vane_ok\":%llu,\"vane_rejects\":%llu,"
           "\"allocs_per_event\":null,",
           vane_ns, vane_ns / floor_ns, (unsigned long long)ok, (unsigned long long)rejects);
#endif
    vane_decoder_free(dec);
#else
    (void)counting;
    (void)alloc_calls;
    printf("\"vane_ns\":null,\"not_run\":\"vane's decoder (daemon/engine/codec*.c) is not built "
           "in this tree\",");
#endif
    printf("\"check\":%llu}\n", (unsigned long long)(sink & 0xff));
    free(msgs);
    free(data);
    return 0;
}
