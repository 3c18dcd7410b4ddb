#include "reply.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The reusable top-level string reply of this thread. */
typedef struct reusable {
    redisReply r;
    size_t cap; /* bytes of r.str, NUL included */
    bool in_use;
} reusable_t;

static _Thread_local reusable_t one_string;
/* Shared by every thread: never written (callbacks only read a reply they borrow). */
static char ok_str[] = "OK";
static redisReply ok_reply = {.type = REDIS_REPLY_STATUS, .len = 2, .str = ok_str};
static redisReply nil_reply = {.type = REDIS_REPLY_NIL};

/* Link obj into its parent array, as hiredis' own functions do. */
static void *attach(const redisReadTask *task, redisReply *obj)
{
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = obj;
    }
    return obj;
}

static redisReply *alloc_reply(int type)
{
    redisReply *r = calloc(1, sizeof *r);
    if (r)
        r->type = type;
    return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    if (!task->parent && task->type == REDIS_REPLY_STATUS && len == 2 && memcmp(str, "OK", 2) == 0)
        return &ok_reply;
    if (!task->parent && !one_string.in_use) {
        if (one_string.cap < len + 1) {
            size_t cap = len + 1 < 512 ? 512 : len + 1;
            char *s = realloc(one_string.r.str, cap);
            if (!s)
                return NULL;
            one_string.r.str = s;
            one_string.cap = cap;
        }
        memcpy(one_string.r.str, str, len);
        one_string.r.str[len] = '\0';
        one_string.r.type = task->type;
        one_string.r.len = len;
        one_string.in_use = true;
        return &one_string.r;
    }
    redisReply *r = alloc_reply(task->type);
    if (!r)
        return NULL;
    r->str = malloc(len + 1);
    if (!r->str) {
        free(r);
        return NULL;
    }
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return attach(task, r);
}

static void *create_array(const redisReadTask *task, int elements)
{
    redisReply *r = alloc_reply(REDIS_REPLY_ARRAY);
    if (!r)
        return NULL;
    if (elements > 0) {
        r->element = calloc((size_t)elements, sizeof *r->element);
        if (!r->element) {
            free(r);
            return NULL;
        }
    }
    r->elements = (size_t)(elements > 0 ? elements : 0);
    return attach(task, r);
}

static void *create_integer(const redisReadTask *task, long long value)
{
    redisReply *r = alloc_reply(REDIS_REPLY_INTEGER);
    if (!r)
        return NULL;
    r->integer = value;
    return attach(task, r);
}

static void *create_nil(const redisReadTask *task)
{
    if (!task->parent)
        return &nil_reply;
    redisReply *r = alloc_reply(REDIS_REPLY_NIL);
    return r ? attach(task, r) : NULL;
}

static void free_object(void *obj)
{
    if (obj == &ok_reply || obj == &nil_reply)
        return;
    if (obj == &one_string.r) {
        one_string.in_use = false;
        return;
    }
    freeReplyObject(obj);
}

redisReplyObjectFunctions *vane_reply_functions(void)
{
    static redisReplyObjectFunctions fns = {create_string, create_array, create_integer, create_nil,
                                            free_object};
    return &fns;
}
