#include "err.h"

#include <stdio.h>
#include <stdlib.h>

const char *vane_strerror(int err)
{
    switch (err) {
    case VANE_OK:
        return "success";
#define XX(name, msg)                                                                              \
    case VANE_E##name:                                                                             \
        return msg;
        VANE_ERRNO_MAP(XX)
#undef XX
    default:
        return "unknown error";
    }
}

const char *vane_err_name(int err)
{
    switch (err) {
    case VANE_OK:
        return "OK";
#define XX(name, msg)                                                                              \
    case VANE_E##name:                                                                             \
        return "E" #name;
        VANE_ERRNO_MAP(XX)
#undef XX
    default:
        return "EUNKNOWN";
    }
}

void vane__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "vane: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
