#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[1024];

ftn_status ftn_fail(ftn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return status;
}

ftn_status ftn_fail_context(ftn_status status, const char *fmt, ...)
{
    char prefix[512], old[sizeof last_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_message, sizeof old);
    /* prefix + ": " + old, cut to fit */
    size_t n = strlen(prefix);
    if (n > sizeof last_message - 3) n = sizeof last_message - 3;
    memcpy(last_message, prefix, n);
    memcpy(last_message + n, ": ", 2);
    size_t rest = sizeof last_message - n - 3, m = strlen(old);
    if (m > rest) m = rest;
    memcpy(last_message + n + 2, old, m);
    last_message[n + 2 + m] = 0;
    return status;
}

const char *ftn_last_error(void) { return last_message; }

const char *ftn_status_name(ftn_status s)
{
    switch (s) {
    case FTN_OK: return "ok";
    case FTN_EINVAL: return "invalid argument";
    case FTN_EIO: return "input/output error";
    case FTN_ENOMEM: return "out of memory";
    case FTN_EFORMAT: return "bad file format";
    case FTN_EUNSUPPORTED: return "not supported";
    case FTN_EINTERNAL: return "internal error";
    case FTN_EINTERRUPTED: return "interrupted";
    }
    return "unknown status";
}
