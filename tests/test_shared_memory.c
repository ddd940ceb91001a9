/* ftn_session_share_memory: sessions of several batch sizes sharing one working memory (as
 * `train` runs its full batches, its last smaller batch and its validation) must compute exactly
 * what sessions with their own memory compute — also when the shared memory has to grow under a
 * session already bound to it — and a training step split by another sharer's run is refused. */
#include <stdlib.h>
#include <string.h>

#include "ftunet.h"
#include "testlib.h"

enum { S = 32, NX = 7 }; /* NX images: one batch of 4, one of 2, one of 1 */

static ftn_model *new_model(void)
{
    ftn_model *m = NULL;
    CHECK_OK(ftn_model_create("attn-unet-mi-ds", 1, S, S, &m));
    CHECK_OK(ftn_model_init(m, 11));
    return m;
}

/* every tensor of a and b (weights, biases, running statistics) bit for bit */
static int same_tensors(ftn_model *a, ftn_model *b)
{
    for (int i = 0; i < ftn_model_tensor_count(a); i++) {
        int da[4], db[4], na, nb;
        const float *x = ftn_model_tensor(a, i, da, &na), *y = ftn_model_tensor(b, i, db, &nb);
        size_t n = 1;
        for (int k = 0; k < na; k++) n *= (size_t)da[k];
        if (na != nb || memcmp(x, y, n * sizeof(float))) {
            fprintf(stderr, "first difference: %s\n", ftn_model_tensor_name(a, i));
            return 0;
        }
    }
    return 1;
}

int main(void)
{
    ftn_set_threads(2);
    float *x = malloc(sizeof(float) * NX * S * S), *y = malloc(sizeof(float) * NX * S * S);
    uint64_t st = 5;
    tl_fill_uniform(x, (size_t)NX * S * S, &st, 0, 1);
    for (int i = 0; i < NX * S * S; i++) y[i] = x[i] > 0.6f;
    ftn_loss_config loss = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    ftn_optimizer_config opt = ftn_optimizer_default(FTN_OPT_SGD);

    /* own: each session its own memory; shared: the smallest session made first, so that the
     * batch-4 one has to grow the memory the batch-1 and batch-2 ones are already bound to */
    ftn_model *own = new_model(), *shared = new_model();
    ftn_session *o[3], *s[3];
    int batch[3] = { 1, 2, 4 };
    for (int k = 0; k < 3; k++) {
        CHECK_OK(ftn_session_create_ex(own, batch[k], FTN_ENGINE_DNNL, FTN_PRECISION_FP32, &o[k]));
        CHECK_OK(ftn_session_create_ex(shared, batch[k], FTN_ENGINE_DNNL, FTN_PRECISION_FP32, &s[k]));
        if (k) CHECK_OK(ftn_session_share_memory(s[k], s[0]));
    }

    /* a training loop's mix, smallest first: each larger session grows the memory under the others */
    const int seq[] = { 0, 1, 2, 0, 2, 1, 2 };
    const float *xs[] = { x + 6 * S * S, x + 4 * S * S, x };
    const float *ys[] = { y + 6 * S * S, y + 4 * S * S, y };
    int steps_same = 0;
    for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
        int k = seq[i];
        float lo = 0, ls = 0;
        if (k == 0) {
            CHECK_OK(ftn_session_forward(o[0], xs[0], 0));
            CHECK_OK(ftn_session_forward(s[0], xs[0], 0));
            ftn_shape sh;
            const float *a = ftn_session_output(o[0], 3, &sh), *b = ftn_session_output(s[0], 3, NULL);
            CHECK(a && b && !memcmp(a, b, sizeof(float) * S * S), "inference %zu differs", i);
            continue;
        }
        CHECK_OK(ftn_train_step(o[k], xs[k], ys[k], &loss, &opt, &lo));
        CHECK_OK(ftn_train_step(s[k], xs[k], ys[k], &loss, &opt, &ls));
        CHECK(lo == ls, "step %zu: loss %.9g with own memory, %.9g shared", i, lo, ls);
        steps_same += same_tensors(own, shared);
    }
    CHECK(steps_same == 5, "the models parted after %d of 5 steps", steps_same);
    printf("5 training steps and 2 inferences over sessions of batch 4, 2, 1: shared memory %s own\n",
           steps_same == 5 ? "==" : "!=");

    /* a training forward, another sharer's run, then the backward: refused, and no harm done */
    CHECK_OK(ftn_session_forward(s[2], xs[2], 1));
    CHECK_OK(ftn_session_loss(s[2], ys[2], &loss, NULL));
    CHECK_OK(ftn_session_forward(s[1], xs[1], 0));
    CHECK(ftn_session_backward(s[2]) == FTN_EINVAL, "a split training step was accepted");
    CHECK(strstr(ftn_last_error(), "between its forward and backward"), "%s", ftn_last_error());
    CHECK_OK(ftn_session_forward(o[2], xs[2], 1)); /* the same runs with own memory, minus the backward */
    CHECK_OK(ftn_session_loss(o[2], ys[2], &loss, NULL));
    CHECK_OK(ftn_session_forward(o[1], xs[1], 0));
    float l;
    CHECK_OK(ftn_train_step(s[2], xs[2], ys[2], &loss, &opt, &l));
    CHECK_OK(ftn_train_step(o[2], xs[2], ys[2], &loss, &opt, &l));
    CHECK(same_tensors(own, shared), "a refused backward left a trace");

    /* engines do not mix */
    ftn_session *r = NULL;
    CHECK_OK(ftn_session_create_ex(own, 1, FTN_ENGINE_REF, FTN_PRECISION_FP32, &r));
    CHECK(ftn_session_share_memory(r, s[0]) == FTN_EINVAL, "a reference session shared oneDNN memory");

    ftn_session_free(r);
    for (int k = 0; k < 3; k++) ftn_session_free(o[k]), ftn_session_free(s[k]);
    ftn_model_free(own), ftn_model_free(shared);
    free(x), free(y);
    return tl_finish();
}
