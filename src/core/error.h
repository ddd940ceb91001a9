/* Status codes and the thread-local error message behind them. */
#ifndef FTN_CORE_ERROR_H
#define FTN_CORE_ERROR_H
#include "ftunet.h"

/* Records a formatted message ("<where>: <why>") and returns `status`, so callers write
 *   return ftn_fail(FTN_EINVAL, "%s: height %d is not divisible by 16", path, h); */
ftn_status ftn_fail(ftn_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current message with more context ("<prefix>: <old message>"). */
ftn_status ftn_fail_context(ftn_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define FTN_TRY(expr) do { ftn_status s_ = (expr); if (s_ != FTN_OK) return s_; } while (0)

#endif
