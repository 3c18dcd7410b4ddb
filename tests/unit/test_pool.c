/* Unit tests for daemon/util/pool.c: block sizes, reuse, splitting, chunk tails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/bigmem.h"
#include "util/pool.h"

/* Blocks are distinct, 16-byte aligned, hold their bytes, and a freed block of a size serves
 * the next request of that size. */
static void test_pool_get_put_reuse(void **state)
{
    (void)state;
    vane_pool_t p;
    vane_pool_init(&p);
    uint8_t *a = vane_pool_get(&p, 3), *b = vane_pool_get(&p, 3), *c = vane_pool_get(&p, 1);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal((uintptr_t)a % 16, 0);
    assert_true(b >= a + 3 * VANE_POOL_UNIT || a >= b + 3 * VANE_POOL_UNIT);
    memset(a, 0xaa, 3 * VANE_POOL_UNIT);
    memset(b, 0xbb, 3 * VANE_POOL_UNIT);
    memset(c, 0xcc, VANE_POOL_UNIT);
    for (size_t i = 0; i < 3 * VANE_POOL_UNIT; i++)
        assert_int_equal(a[i], 0xaa);
    assert_int_equal(p.chunk_bytes, (size_t)2 << 20);
    assert_int_equal(p.carved_bytes, 7 * VANE_POOL_UNIT); /* only what was handed out */
    vane_pool_put(&p, a, 3);
    assert_int_equal(p.free_bytes, 3 * VANE_POOL_UNIT);
    assert_ptr_equal(vane_pool_get(&p, 3), a);
    assert_int_equal(p.free_bytes, 0);
    assert_int_equal(vane_pool_units(0), 0);
    assert_int_equal(vane_pool_units(1), 1);
    assert_int_equal(vane_pool_units(VANE_POOL_UNIT), 1);
    assert_int_equal(vane_pool_units(VANE_POOL_UNIT + 1), 2);
    vane_pool_destroy(&p);
    assert_int_equal(p.chunk_bytes, 0);
}

/* With no free block of the size asked for, the smallest larger free block is split and its
 * rest goes back on the free list of the rest's size. */
static void test_pool_splits_larger_free_blocks(void **state)
{
    (void)state;
    vane_pool_t p;
    vane_pool_init(&p);
    uint8_t *big = vane_pool_get(&p, 60), *huge = vane_pool_get(&p, 100);
    vane_pool_put(&p, huge, 100);
    vane_pool_put(&p, big, 60);
    size_t chunk = p.chunk_bytes;
    uint8_t *x = vane_pool_get(&p, 10); /* from the 60-unit block, not the 100-unit one */
    assert_ptr_equal(x, big);
    assert_non_null(p.free_blk[50]);
    assert_ptr_equal(p.free_blk[50], big + 10 * VANE_POOL_UNIT);
    uint8_t *y = vane_pool_get(&p, 50);
    assert_ptr_equal(y, big + 10 * VANE_POOL_UNIT);
    uint8_t *z = vane_pool_get(&p, 64); /* only the 100-unit block is left: 64 + 36 */
    assert_ptr_equal(z, huge);
    assert_ptr_equal(p.free_blk[36], huge + 64 * VANE_POOL_UNIT);
    assert_int_equal(p.free_bytes, 36 * VANE_POOL_UNIT);
    assert_int_equal(p.chunk_bytes, chunk); /* all of it from freed blocks */
    /* Sizes in the second bitmap word (>= 64 units) are found from a small request too. */
    vane_pool_put(&p, z, 64);
    uint8_t *w = vane_pool_get(&p, 40);
    assert_ptr_equal(w, huge); /* the 36 is too small; the 64 is split */
    assert_ptr_equal(p.free_blk[24], huge + 40 * VANE_POOL_UNIT);
    vane_pool_destroy(&p);
}

/* When a chunk cannot hold a request, its unused tail becomes free blocks, and chunks double. */
static void test_pool_chunk_tail_is_kept(void **state)
{
    (void)state;
    vane_pool_t p;
    vane_pool_init(&p);
    assert_non_null(vane_pool_get(&p, VANE_POOL_MAX_UNITS));
    size_t n = 1;
    while (p.chunk_bytes == ((size_t)2 << 20)) {
        assert_non_null(vane_pool_get(&p, VANE_POOL_MAX_UNITS));
        n++;
    }
    assert_int_equal(p.chunk_bytes, ((size_t)2 << 20) + ((size_t)4 << 20));
    /* The first chunk's tail (less than one largest block) is on the free lists now. */
    assert_true(p.free_bytes > 0 && p.free_bytes < VANE_POOL_MAX_UNITS * VANE_POOL_UNIT);
    size_t tail = p.free_bytes;
    size_t got = 0;
    while (p.free_bytes) {
        assert_non_null(vane_pool_get(&p, 1));
        got += VANE_POOL_UNIT;
    }
    assert_int_equal(got, tail);
    /* All of the first chunk was carved (blocks, then its tail as free blocks); of the second,
     * only the one block that opened it. */
    size_t one_block = VANE_POOL_MAX_UNITS * VANE_POOL_UNIT;
    assert_true(p.carved_bytes > ((size_t)2 << 20) - 64 + one_block - VANE_POOL_UNIT);
    assert_true(p.carved_bytes <= ((size_t)2 << 20) + one_block);
    assert_true(n > 400);
    vane_pool_destroy(&p);
}

/* Random gets and puts against a model: blocks never overlap (each keeps its fill), and every
 * carved byte is in a block handed out or in a free block. */
static void test_pool_random_against_model(void **state)
{
    (void)state;
    enum { SLOTS = 3000, STEPS = 200000 };
    static uint8_t *blk[SLOTS];
    static unsigned units[SLOTS];
    vane_pool_t p;
    vane_pool_init(&p);
    uint64_t x = 88172645463325252ull, live = 0;
    for (int step = 0; step < STEPS; step++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int i = (int)(x % SLOTS);
        if (blk[i]) {
            for (size_t k = 0; k < units[i] * VANE_POOL_UNIT; k += 7)
                assert_int_equal(blk[i][k], (uint8_t)(i * 31));
            vane_pool_put(&p, blk[i], units[i]);
            live -= units[i] * VANE_POOL_UNIT;
            blk[i] = NULL;
        } else {
            units[i] = 1 + (unsigned)((x >> 20) % VANE_POOL_MAX_UNITS);
            blk[i] = vane_pool_get(&p, units[i]);
            assert_non_null(blk[i]);
            assert_int_equal((uintptr_t)blk[i] % 16, 0);
            memset(blk[i], (uint8_t)(i * 31), units[i] * VANE_POOL_UNIT);
            live += units[i] * VANE_POOL_UNIT;
        }
        if (step % 997 == 0)
            assert_int_equal(p.carved_bytes, live + p.free_bytes);
    }
    assert_int_equal(p.carved_bytes, live + p.free_bytes);
    vane_pool_destroy(&p);
}

/* The spare: wanted at first and once at most a quarter of the current chunk is left, not
 * while one is held; the next chunk is the spare (blocks are carved from its memory), a second
 * spare given meanwhile is dropped, and a reservation takes the spare only when it is big
 * enough. */
static void test_pool_spare_chunk(void **state)
{
    (void)state;
    const size_t two = (size_t)2 << 20;
    vane_pool_t p;
    vane_pool_init(&p);
    assert_int_equal(vane_pool_spare_want(&p), two);
    uint8_t *spare = vane_bigmem_alloc(two);
    assert_non_null(spare);
    vane_pool_spare_give(&p, spare, two);
    assert_int_equal(vane_pool_spare_want(&p), 0);
    uint8_t *extra = vane_bigmem_alloc(two);
    assert_non_null(extra);
    vane_pool_spare_give(&p, extra, two); /* one is held: this one is unmapped */
    assert_ptr_equal(p.spare, spare);
    uint8_t *b = vane_pool_get(&p, 4);
    assert_true(b >= spare && b < spare + two);
    assert_null(p.spare);
    assert_int_equal(p.chunk_bytes, two);
    assert_int_equal(vane_pool_spare_want(&p), 0); /* nearly all of the chunk is left */
    /* Carve: the next size (4 MiB) is wanted once at most a quarter is left, not before. */
    while (vane_pool_spare_want(&p) == 0) {
        assert_true(p.carved_bytes * 4 < 3 * two);
        assert_non_null(vane_pool_get(&p, VANE_POOL_MAX_UNITS));
    }
    assert_true(p.carved_bytes * 4 >= 3 * two - 4 * 4096);
    assert_int_equal(p.chunk_bytes, two);
    assert_int_equal(vane_pool_spare_want(&p), 2 * two);
    /* A spare too small for a reservation is left for later. */
    uint8_t *small = vane_bigmem_alloc(two);
    assert_non_null(small);
    vane_pool_spare_give(&p, small, two);
    assert_int_equal(vane_pool_reserve(&p, 3 * two), 0);
    assert_ptr_equal(p.spare, small);
    vane_pool_destroy(&p); /* unmaps the spare too */
    assert_null(p.spare);

    /* Fed a spare whenever it wants one (as the daemon's worker does), a growing pool maps no
     * chunk itself, and no spare exceeds 16 MiB. */
    vane_pool_init(&p);
    size_t given = 0;
    while (p.carved_bytes < ((size_t)80 << 20)) {
        size_t want = vane_pool_spare_want(&p);
        if (want) {
            assert_true(want <= ((size_t)16 << 20));
            void *m = vane_bigmem_alloc(want);
            assert_non_null(m);
            vane_pool_spare_give(&p, m, want);
            given += want;
        }
        assert_non_null(vane_pool_get(&p, VANE_POOL_MAX_UNITS));
    }
    assert_int_equal(p.chunk_bytes + p.spare_size, given);
    vane_pool_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_get_put_reuse),
        cmocka_unit_test(test_pool_splits_larger_free_blocks),
        cmocka_unit_test(test_pool_chunk_tail_is_kept),
        cmocka_unit_test(test_pool_random_against_model),
        cmocka_unit_test(test_pool_spare_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
