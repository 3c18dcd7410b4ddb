/* Unit tests for daemon/io/reply.c: hiredis' reader with vane's reply-object functions builds
 * the same replies as with its own, shares "+OK" and nil, reuses one top-level string object,
 * and allocates (and frees, under ASan) everything nested. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "io/reply.h"

static redisReader *reader(void)
{
    redisReader *r = redisReaderCreateWithFunctions(vane_reply_functions());
    assert_non_null(r);
    return r;
}

/* Feed bytes and take one reply (which must be complete). */
static redisReply *one(redisReader *r, const char *bytes)
{
    assert_int_equal(redisReaderFeed(r, bytes, strlen(bytes)), REDIS_OK);
    void *reply = NULL;
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    assert_non_null(reply);
    return reply;
}

static void release(redisReader *r, redisReply *reply)
{
    r->fn->freeObject(reply);
}

static void test_reply_ok_and_nil_are_shared(void **state)
{
    (void)state;
    redisReader *r = reader();
    redisReply *a = one(r, "+OK\r\n");
    assert_int_equal(a->type, REDIS_REPLY_STATUS);
    assert_int_equal(a->len, 2);
    assert_string_equal(a->str, "OK");
    release(r, a);
    redisReply *b = one(r, "+OK\r\n");
    assert_ptr_equal(a, b);
    release(r, b);
    redisReply *n = one(r, "$-1\r\n");
    assert_int_equal(n->type, REDIS_REPLY_NIL);
    release(r, n);
    assert_ptr_equal(one(r, "*-1\r\n"), n); /* a nil array is a nil too */
    release(r, n);
    redisReaderFree(r);
}

static void test_reply_top_level_string_reused(void **state)
{
    (void)state;
    redisReader *r = reader();
    redisReply *a = one(r, "$5\r\nhello\r\n");
    assert_int_equal(a->type, REDIS_REPLY_STRING);
    assert_int_equal(a->len, 5);
    assert_memory_equal(a->str, "hello", 6);
    release(r, a);
    /* A longer one (binary, past the first buffer) reuses the object. */
    char big[2000 + 32];
    int n = snprintf(big, sizeof big, "$%d\r\n", 2000);
    memset(big + n, 'x', 2000);
    memcpy(big + n + 2000, "\r\n", 3);
    redisReply *b = one(r, big);
    assert_ptr_equal(a, b);
    assert_int_equal(b->len, 2000);
    assert_int_equal(b->str[1999], 'x');
    assert_int_equal(b->str[2000], '\0');
    release(r, b);
    /* Errors and other statuses are strings too. */
    redisReply *e = one(r, "-OOM command not allowed\r\n");
    assert_int_equal(e->type, REDIS_REPLY_ERROR);
    assert_string_equal(e->str, "OOM command not allowed");
    /* While one is held, the next is a separate allocation, and both stay intact. */
    redisReply *p = one(r, "+PONG\r\n");
    assert_ptr_not_equal(e, p);
    assert_int_equal(p->type, REDIS_REPLY_STATUS);
    assert_string_equal(p->str, "PONG");
    assert_string_equal(e->str, "OOM command not allowed");
    release(r, p);
    release(r, e);
    redisReader *r2 = reader(); /* the object is free again for any reader */
    assert_ptr_equal(one(r2, "$1\r\nz\r\n"), a);
    release(r2, a);
    redisReaderFree(r2);
    redisReaderFree(r);
}

static void test_reply_nested_are_ordinary(void **state)
{
    (void)state;
    redisReader *r = reader();
    redisReply *a = one(r, ":42\r\n");
    assert_int_equal(a->type, REDIS_REPLY_INTEGER);
    assert_int_equal(a->integer, 42);
    release(r, a);
    /* ZRANGE ... WITHSCORES-like: strings, a nested nil, an integer and a nested array, fed
     * in two parts. */
    const char *arr = "*5\r\n$2\r\nC1\r\n$-1\r\n:7\r\n*2\r\n+OK\r\n$3\r\nabc\r\n$2\r\nC2\r\n";
    size_t cut = 17;
    assert_int_equal(redisReaderFeed(r, arr, cut), REDIS_OK);
    void *reply = NULL;
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    assert_null(reply); /* incomplete */
    redisReply *m = one(r, arr + cut);
    assert_int_equal(m->type, REDIS_REPLY_ARRAY);
    assert_int_equal(m->elements, 5);
    assert_string_equal(m->element[0]->str, "C1");
    assert_int_equal(m->element[1]->type, REDIS_REPLY_NIL);
    assert_int_equal(m->element[2]->integer, 7);
    assert_int_equal(m->element[3]->elements, 2);
    assert_int_equal(m->element[3]->element[0]->type, REDIS_REPLY_STATUS);
    assert_string_equal(m->element[3]->element[0]->str, "OK");
    assert_string_equal(m->element[3]->element[1]->str, "abc");
    assert_string_equal(m->element[4]->str, "C2");
    release(r, m);
    redisReply *empty = one(r, "*0\r\n");
    assert_int_equal(empty->type, REDIS_REPLY_ARRAY);
    assert_int_equal(empty->elements, 0);
    release(r, empty);
    redisReaderFree(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_ok_and_nil_are_shared),
        cmocka_unit_test(test_reply_top_level_string_reused),
        cmocka_unit_test(test_reply_nested_are_ordinary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
