/* test_codec_alloc.c - decoding and encoding allocate nothing in the steady state.
 *
 * Two independent counters:
 *   - this target is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,
 *     --wrap=aligned_alloc (tests/CMakeLists.txt), so every allocator call from statically linked
 * code (the codec, vane_util, the generated protobuf-c tables) lands in the __wrap_* functions
 * below;
 *   - under AddressSanitizer, the sanitizer's allocator hooks additionally see every
 *     allocation in the process, including those made inside shared libraries such as
 *     libprotobuf-c (which the linker's --wrap cannot reach).
 * Without ASan, protobuf-c's own code is covered by construction instead: unpack is given the
 * decoder's arena allocator, and the wrap counter still proves the codec never mallocs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "engine/codec.h"
#include "util/err.h"

#include <stdio.h>
#include <string.h>

/*---------------------------------------------------------------------------------------------
 * Counting
 *-------------------------------------------------------------------------------------------*/

static volatile long wrap_allocs; /* malloc + calloc + realloc through --wrap */
static volatile long hook_allocs; /* every allocation in the process (ASan only) */
static volatile int counting;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__real_aligned_alloc(size_t a, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

void *__wrap_malloc(size_t n)
{
    if (counting)
        wrap_allocs++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    if (counting)
        wrap_allocs++;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    if (counting)
        wrap_allocs++;
    return __real_realloc(p, n);
}
void *__wrap_aligned_alloc(size_t a, size_t n)
{
    if (counting)
        wrap_allocs++;
    return __real_aligned_alloc(a, n);
}
void __wrap_free(void *p)
{
    __real_free(p);
}

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN_HOOKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN_HOOKS 1
#endif
#endif

#ifdef HAVE_ASAN_HOOKS
/* From the sanitizer runtime (declared here: GCC ships no sanitizer headers). */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
static void on_malloc(const volatile void *p, size_t n)
{
    (void)p;
    (void)n;
    if (counting)
        hook_allocs++;
}
static void on_free(const volatile void *p)
{
    (void)p;
}
#endif

static void count_start(void)
{
    wrap_allocs = 0;
    hook_allocs = 0;
    counting = 1;
}

static void count_stop(const char *what)
{
    counting = 0;
    if (wrap_allocs || hook_allocs)
        fail_msg("%s: %ld allocations through malloc/calloc/realloc, %ld seen by the sanitizer",
                 what, (long)wrap_allocs, (long)hook_allocs);
}

/*---------------------------------------------------------------------------------------------
 * Messages
 *-------------------------------------------------------------------------------------------*/

static const char *const json_msgs[] = {
    "{\"event_id\":\"e-000017\",\"customer_id\":\"C1001\",\"event_time_ms\":1763800000000,"
    "\"channel\":\"MOBILE\",\"txn\":{\"kind\":\"REDEMPTION\",\"category\":\"FUND\","
    "\"product_id\":\"F-123\",\"amount_minor\":5000000,\"currency\":\"CNY\"}}",
    "{\"customer_id\":\"C\\u00e91\",\"event_time_ms\":\"1763800000000\",\"login\":{\"success\":"
    "true,\"device_id\":\"d\\ud83d\\ude00\"},\"unknown\":[1,{\"a\":null}]}",
    "{\"customer_id\":\"C1\",\"event_time_ms\":1.7638e12,\"engagement\":{\"kind\":\"survey\","
    "\"score\":3}}",
    /* rejects take the same path: they must not allocate either */
    "{\"customer_id\":\"C1\",\"event_time_ms\":1,\"txn\":{\"kind\":\"DEPOSIT\",\"amount_minor\":-5}"
    "}",
    "{\"customer_id\":\"C1\" \"event_time_ms\":1}",
    "{\"customer_id\":\"C1\",\"event_time_ms\":1,\"channel\":\"FAX\",\"login\":{}}",
    "[1,2,3]",
};

/*---------------------------------------------------------------------------------------------
 * Tests
 *-------------------------------------------------------------------------------------------*/

static void test_decode_allocates_nothing(void **state)
{
    (void)state;
    vane_decoder_t *dec = vane_decoder_new(64 * 1024);
    assert_non_null(dec);
    size_t nj = sizeof json_msgs / sizeof json_msgs[0];

    /* protobuf forms of the valid JSON messages, encoded before counting starts */
    vane_buf_t pb[3] = {VANE_BUF_INIT, VANE_BUF_INIT, VANE_BUF_INIT};
    for (size_t i = 0; i < 3; i++) {
        vane_event_t ev;
        vane_decode_error_t err;
        assert_int_equal(vane_decoder_decode(dec, json_msgs[i], strlen(json_msgs[i]),
                                             VANE_FORMAT_JSON, &ev, &err),
                         0);
        assert_int_equal(vane_codec_encode_event(&ev, VANE_FORMAT_PROTOBUF, &pb[i]), 0);
    }
    static const uint8_t bad_pb[] = {0x12, 0x40, 'C'}; /* truncated */

    /* warm-up: one of each (lazy initialisation anywhere would show here, not below) */
    vane_event_t ev;
    vane_decode_error_t err;
    for (size_t i = 0; i < nj; i++)
        vane_decoder_decode(dec, json_msgs[i], strlen(json_msgs[i]), VANE_FORMAT_JSON, &ev, &err);
    for (size_t i = 0; i < 3; i++)
        vane_decoder_decode(dec, pb[i].data, pb[i].len, VANE_FORMAT_PROTOBUF, &ev, &err);
    vane_decoder_decode(dec, bad_pb, sizeof bad_pb, VANE_FORMAT_PROTOBUF, &ev, &err);

    count_start();
    int ok = 0, rejected = 0;
    for (int round = 0; round < 1000; round++) {
        for (size_t i = 0; i < nj; i++) {
            int rc = vane_decoder_decode(dec, json_msgs[i], strlen(json_msgs[i]), VANE_FORMAT_JSON,
                                         &ev, &err);
            rc == 0 ? ok++ : rejected++;
        }
        for (size_t i = 0; i < 3; i++) {
            int rc =
                vane_decoder_decode(dec, pb[i].data, pb[i].len, VANE_FORMAT_PROTOBUF, &ev, &err);
            rc == 0 ? ok++ : rejected++;
        }
        int rc = vane_decoder_decode(dec, bad_pb, sizeof bad_pb, VANE_FORMAT_PROTOBUF, &ev, &err);
        rc == 0 ? ok++ : rejected++;
    }
    count_stop("decode");
    assert_int_equal(ok, 1000 * 6);
    assert_int_equal(rejected, 1000 * 5);

    for (size_t i = 0; i < 3; i++)
        vane_buf_free(&pb[i]);
    vane_decoder_free(dec);
}

static void test_encode_allocates_nothing_once_warm(void **state)
{
    (void)state;
    vane_decoder_t *dec = vane_decoder_new(4096);
    vane_event_t ev;
    vane_decode_error_t err;
    assert_int_equal(
        vane_decoder_decode(dec, json_msgs[0], strlen(json_msgs[0]), VANE_FORMAT_JSON, &ev, &err),
        0);
    vane_alert_t a;
    memset(&a, 0, sizeof a);
    snprintf(a.alert_id, sizeof a.alert_id, "a-1");
    snprintf(a.customer_id, sizeof a.customer_id, "C1001");
    a.kind = VANE_ALERT_REDEMPTION_SURGE;
    a.score = 0.75;
    vane_alert_add_event_id(&a, vane_str_c("e-1"));
    vane_alert_add_feature(&a, "redemptions_7d", 3);
    vane_buf_t out = VANE_BUF_INIT;
    /* warm: the buffer grows to its high-water mark */
    vane_codec_encode_event(&ev, VANE_FORMAT_JSON, &out);
    vane_codec_encode_alert(&a, VANE_FORMAT_JSON, &out);
    vane_buf_reset(&out);
    count_start();
    for (int i = 0; i < 1000; i++) {
        vane_buf_reset(&out);
        assert_int_equal(vane_codec_encode_event(&ev, VANE_FORMAT_JSON, &out), 0);
        vane_buf_reset(&out);
        assert_int_equal(vane_codec_encode_event(&ev, VANE_FORMAT_PROTOBUF, &out), 0);
        vane_buf_reset(&out);
        assert_int_equal(vane_codec_encode_alert(&a, VANE_FORMAT_PROTOBUF, &out), 0);
        vane_buf_reset(&out);
        assert_int_equal(vane_codec_encode_alert(&a, VANE_FORMAT_JSON, &out), 0);
    }
    count_stop("encode");
    vane_buf_free(&out);
    vane_decoder_free(dec);
}

/* The counters themselves work: a decoder's creation is seen. */
static void test_counter_sees_allocations(void **state)
{
    (void)state;
    count_start();
    vane_decoder_t *dec = vane_decoder_new(1024);
    counting = 0;
    assert_true(wrap_allocs >= 3);
#ifdef HAVE_ASAN_HOOKS
    assert_true(hook_allocs >= 3);
#endif
    vane_decoder_free(dec);
}

int main(void)
{
#ifdef HAVE_ASAN_HOOKS
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    printf("test_codec_alloc: counting with --wrap and the AddressSanitizer allocator hooks\n");
#else
    printf("test_codec_alloc: counting with --wrap (statically linked code; protobuf-c gets "
           "the arena allocator)\n");
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_sees_allocations),
        cmocka_unit_test(test_decode_allocates_nothing),
        cmocka_unit_test(test_encode_allocates_nothing_once_warm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
