/* Unit tests for daemon/util/hotset.c: placement, the sizing rule, and doubling that keeps every
 * occupant's value under its tag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/err.h"
#include "util/hotset.h"

#define WORDS 5

/* Fill line with the words key*100 + w, as a caller's unpack would. */
static void fill(vane_hotset_t *hs, uint64_t key)
{
    size_t line = vane_hotset_line(hs, key);
    uint64_t *v = vane_hotset_value(hs, line);
    for (size_t w = 0; w < WORDS; w++)
        v[w] = key * 100 + w;
    vane_hotset_put(hs, line, (uintptr_t)key + 1, key);
}

static void test_hotset_sizes_and_placement(void **state)
{
    (void)state;
    vane_hotset_t hs;
    assert_int_equal(vane_hotset_init(&hs, WORDS, 20, 8), VANE_OK);
    assert_int_equal(vane_hotset_size(&hs), 32); /* rounded up; max never below it */
    assert_int_equal(hs.max_lines, 32);
    assert_int_equal(vane_hotset_line(&hs, 33), 1);
    for (size_t i = 0; i < 32; i++)
        assert_int_equal(vane_hotset_tag(&hs, i), 0); /* starts empty */
    fill(&hs, 33);
    assert_int_equal(vane_hotset_tag(&hs, 1), 34);
    assert_int_equal(vane_hotset_value(&hs, 1)[4], 3304);
    vane_hotset_clear(&hs, 1);
    assert_int_equal(vane_hotset_tag(&hs, 1), 0);
    /* At its maximum, misses however near never grow it. */
    for (int i = 0; i < 1000; i++)
        assert_false(vane_hotset_request(&hs, true, hs.clock));
    assert_int_equal(vane_hotset_size(&hs), 32);
    vane_hotset_destroy(&hs);
    vane_hotset_destroy(&hs); /* safe twice: the struct is zeroed */
}

/* A window (= the size) with a quarter of its requests near misses doubles the set; fewer, or
 * misses on values that left long ago, do not. */
static void test_hotset_sizing_rule(void **state)
{
    (void)state;
    vane_hotset_t hs;
    assert_int_equal(vane_hotset_init(&hs, WORDS, 16, 64), VANE_OK);
    /* 3 near misses in a window of 16: below a quarter. */
    for (int i = 0; i < 16; i++)
        assert_false(vane_hotset_request(&hs, i < 3, hs.clock));
    /* 16 far misses: left 64 or more requests ago (max_lines), so not near. */
    uint32_t long_ago = hs.clock - 64;
    for (int i = 0; i < 16; i++)
        assert_false(vane_hotset_request(&hs, true, long_ago));
    assert_int_equal(vane_hotset_size(&hs), 16);
    /* 4 near misses: the window's last request doubles it. */
    for (int i = 0; i < 15; i++)
        assert_false(vane_hotset_request(&hs, i < 4, hs.clock));
    assert_true(vane_hotset_request(&hs, false, 0));
    assert_int_equal(vane_hotset_size(&hs), 32);
    assert_int_equal(hs.grows, 1);
    /* The next window is the new size: 31 requests do not end it. */
    for (int i = 0; i < 31; i++)
        assert_false(vane_hotset_request(&hs, true, hs.clock));
    assert_true(vane_hotset_request(&hs, true, hs.clock));
    assert_int_equal(vane_hotset_size(&hs), 64);
    vane_hotset_destroy(&hs);
}

/* Doubling moves each occupant to the line its key picks in the larger set, value and tag
 * together; empty lines stay empty. */
static void test_hotset_grow_moves_occupants(void **state)
{
    (void)state;
    vane_hotset_t hs;
    assert_int_equal(vane_hotset_init(&hs, WORDS, 16, 1024), VANE_OK);
    const uint64_t keys[] = {3, 16 + 5, 62 * 16 + 8, 7 * 16 + 9}; /* lines 3, 5, 8, 9 */
    for (size_t k = 0; k < 4; k++)
        fill(&hs, keys[k]);
    while (!vane_hotset_request(&hs, true, hs.clock))
        ;
    assert_int_equal(vane_hotset_size(&hs), 32);
    size_t occupied = 0;
    for (size_t i = 0; i < 32; i++)
        occupied += vane_hotset_tag(&hs, i) != 0;
    assert_int_equal(occupied, 4);
    for (size_t k = 0; k < 4; k++) {
        size_t line = vane_hotset_line(&hs, keys[k]);
        assert_int_equal(line, keys[k] % 32);
        assert_int_equal(vane_hotset_tag(&hs, line), keys[k] + 1);
        for (size_t w = 0; w < WORDS; w++)
            assert_int_equal(vane_hotset_value(&hs, line)[w], keys[k] * 100 + w);
    }
    vane_hotset_destroy(&hs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hotset_sizes_and_placement),
        cmocka_unit_test(test_hotset_sizing_rule),
        cmocka_unit_test(test_hotset_grow_moves_occupants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
