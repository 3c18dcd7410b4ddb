/* test_bigmem.c - huge-page-backed allocations: alignment, zeroing, sizes, advice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/bigmem.h"

static void test_bigmem_aligned_zeroed_writable(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 4096, VANE_BIGMEM_HUGE - 1, VANE_BIGMEM_HUGE,
                            3 * VANE_BIGMEM_HUGE + 17};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t len = sizes[k];
        unsigned char *p = vane_bigmem_alloc(len);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % VANE_BIGMEM_HUGE, 0);
        for (size_t i = 0; i < len; i += 4093)
            assert_int_equal(p[i], 0);
        assert_int_equal(p[len - 1], 0);
        memset(p, 0xAB, len);
        assert_int_equal(p[len - 1], 0xAB);
        vane_bigmem_free(p, len);
    }
}

static void test_bigmem_refuses_absurd_sizes(void **state)
{
    (void)state;
    assert_null(vane_bigmem_alloc(0));
    assert_null(vane_bigmem_alloc(SIZE_MAX));
    vane_bigmem_free(NULL, 123); /* NULL-safe */
}

static void test_bigmem_advise_any_range(void **state)
{
    (void)state;
    /* Advice on malloc'd memory, aligned or not, big or tiny, never breaks it. */
    size_t len = 5 * VANE_BIGMEM_HUGE + 123;
    unsigned char *p = malloc(len);
    assert_non_null(p);
    vane_bigmem_advise(p, len);
    vane_bigmem_advise(p + 1, 10);
    memset(p, 7, len);
    assert_int_equal(p[len - 1], 7);
    free(p);
}

/* populate keeps the contents (zeroed fresh memory stays zero, written bytes stay written) and
 * accepts unaligned ranges. */
static void test_bigmem_populate_keeps_contents(void **state)
{
    (void)state;
    size_t len = (size_t)3 << 20;
    unsigned char *p = vane_bigmem_alloc(len);
    assert_non_null(p);
    p[12345] = 7;
    vane_bigmem_populate(p + 100, len - 200);
    vane_bigmem_populate(p, len);
    vane_bigmem_populate(NULL, 10);
    for (size_t i = 0; i < len; i += 511)
        assert_int_equal(p[i], i == 12345 ? 7 : 0);
    assert_int_equal(p[12345], 7);
    p[len - 1] = 1;
    vane_bigmem_free(p, len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bigmem_aligned_zeroed_writable),
        cmocka_unit_test(test_bigmem_refuses_absurd_sizes),
        cmocka_unit_test(test_bigmem_advise_any_range),
        cmocka_unit_test(test_bigmem_populate_keeps_contents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
