/* err.h - vane's error codes.
 *
 * Every fallible vane function returns int: 0 (VANE_OK) on success, a negative VANE_E* code
 * on failure. The codes come from one X-macro, which also generates vane_strerror() and
 * vane_err_name(). Rules of the road, for every module:
 *   - an error is logged once, by whoever handles it, not by every frame it passes through;
 *   - a function that takes a callback never calls it when it returned an error;
 *   - constructors return NULL and, when the reason needs words, fill a caller's errbuf.
 */
#ifndef VANE_ERR_H
#define VANE_ERR_H

#define VANE_ERRNO_MAP(XX)                                                                         \
    XX(INVAL, "invalid argument")                                                                  \
    XX(NOMEM, "out of memory")                                                                     \
    XX(RANGE, "value out of range")                                                                \
    XX(PARSE, "parse error")                                                                       \
    XX(TRUNC, "truncated input")                                                                   \
    XX(MISSING, "required field missing")                                                          \
    XX(ENUM, "unknown enum value")                                                                 \
    XX(TYPE, "wrong type")                                                                         \
    XX(UTF8, "invalid UTF-8")                                                                      \
    XX(TOOBIG, "too large")                                                                        \
    XX(VERSION, "unsupported version")                                                             \
    XX(IO, "I/O error")                                                                            \
    XX(NOTFOUND, "not found")                                                                      \
    XX(EXISTS, "already exists")                                                                   \
    XX(AGAIN, "try again later")                                                                   \
    XX(CONFIG, "configuration error")                                                              \
    XX(KAFKA, "Kafka error")                                                                       \
    XX(REDIS, "Redis error")                                                                       \
    XX(STOPPED, "stopped")                                                                         \
    XX(DUP, "duplicate")                                                                           \
    XX(LATE, "too late")

typedef enum vane_err {
    VANE_OK = 0,
#define VANE__ERR_ENUM(name, msg) VANE_E##name,
    VANE__ERR_FIRST = -1000,
    VANE_ERRNO_MAP(VANE__ERR_ENUM)
#undef VANE__ERR_ENUM
        VANE__ERR_END
} vane_err_t;

/* Human-readable text of a code ("parse error"); never NULL. */
const char *vane_strerror(int err);
/* The code's name without prefix ("EPARSE"); never NULL. */
const char *vane_err_name(int err);

/* Always-on invariant check: prints file:line and aborts. For bugs, never for bad input. */
#define VANE_ASSERT(e) ((e) ? (void)0 : vane__assert_fail(#e, __FILE__, __LINE__))
_Noreturn void vane__assert_fail(const char *expr, const char *file, int line);

#endif
