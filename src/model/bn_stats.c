/* Batch-norm running statistics: a session's BN momentum, the zero-debiased momentum, and
 * re-estimation of the statistics from images ("precise BN"). */
#include "model/model.h"

#include <math.h>

#include "core/error.h"

ftn_status ftn_session_set_bn_momentum(ftn_session *s, float momentum)
{
    if (!s) return ftn_fail(FTN_EINVAL, "bn momentum: missing session");
    if (!(momentum >= 0 && momentum <= 1)) return ftn_fail(FTN_EINVAL, "bn momentum %g: expected 0 to 1", momentum);
    s->exec->bn_momentum = momentum;
    return FTN_OK;
}

float ftn_bn_debiased_momentum(int64_t k)
{
    if (k < 1) return 0;
    /* weight of the new batch (1−m)/(1−mᵏ); 1 − mᵏ in double so that it stays exact for large k */
    double m = FTN_BN_MOMENTUM;
    return (float)(1.0 - (1.0 - m) / (1.0 - pow(m, (double)k)));
}

ftn_status ftn_bn_recalibrate_sessions(ftn_session *full, ftn_session *rest, const float *x, int n)
{
    if (!full || !x) return ftn_fail(FTN_EINVAL, "bn recalibrate: missing session or images");
    if (n < 1) return ftn_fail(FTN_EINVAL, "bn recalibrate: %d images", n);
    int batch = full->batch, full_batches = n / batch, tail = n % batch;
    if (tail && (!rest || rest->batch != tail || rest->model != full->model))
        return ftn_fail(FTN_EINVAL, "bn recalibrate: %d images in batches of %d need a session of batch %d for the "
                        "rest", n, batch, tail);
    ftn_shape in = ftn_model_input_shape(full->model);
    size_t per = (size_t)in.c * in.h * in.w;
    float keep[2] = { full->exec->bn_momentum, rest ? rest->exec->bn_momentum : 0 };
    ftn_status st = FTN_OK;
    long seen = 0;
    for (int k = 0; k < full_batches + (tail > 0) && st == FTN_OK; k++) {
        ftn_session *cur = k < full_batches ? full : rest;
        int b = k < full_batches ? batch : tail;
        /* r = seen/(seen+b)·r + b/(seen+b)·batch: after each batch, the average over all seen */
        cur->exec->bn_momentum = (float)((double)seen / (double)(seen + b));
        st = ftn_session_forward(cur, x + (size_t)k * batch * per, 1);
        if (st != FTN_OK) st = ftn_fail_context(st, "bn recalibrate: batch %d", k + 1);
        seen += b;
    }
    full->exec->bn_momentum = keep[0];
    if (rest) rest->exec->bn_momentum = keep[1];
    return st;
}

ftn_status ftn_bn_recalibrate(ftn_model *m, const float *x, int n, int batch, ftn_engine engine,
                              ftn_precision precision)
{
    if (!m || !x) return ftn_fail(FTN_EINVAL, "bn recalibrate: missing model or images");
    if (n < 1 || batch < 1) return ftn_fail(FTN_EINVAL, "bn recalibrate: %d images in batches of %d", n, batch);
    if (batch > n) batch = n;
    ftn_session *full = NULL, *rest = NULL;
    ftn_status st = ftn_session_create_ex(m, batch, engine, precision, &full);
    if (st == FTN_OK && n % batch) st = ftn_session_create_ex(m, n % batch, engine, precision, &rest);
    if (st == FTN_OK && rest) st = ftn_session_share_memory(rest, full);
    if (st == FTN_OK) st = ftn_bn_recalibrate_sessions(full, rest, x, n);
    ftn_session_free(full);
    ftn_session_free(rest);
    return st;
}
