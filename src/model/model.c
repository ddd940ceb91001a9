/* Models: create, free, initialise, their named parameter tensors and loss (the public API's
 * "models" section); the list of model names comes from the networks (src/networks/). */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "networks/networks.h"

const char *const *ftn_model_names(void) { return ftn_network_names(); }

ftn_status ftn_model_create(const char *name, int channels, int height, int width, ftn_model **out)
{
    *out = NULL;
    ftn_model *m = calloc(1, sizeof *m);
    if (!m) return ftn_fail(FTN_ENOMEM, "model: out of memory");
    ftn_graph_init(&m->graph);
    ftn_status s = ftn_network_build(name, &m->graph, 1, channels, height, width);
    if (s != FTN_OK) { ftn_model_free(m); return s; }
    snprintf(m->name, sizeof m->name, "%s", name);
    m->channels = channels;
    m->height = height;
    m->width = width;
    m->loss = ftn_loss_default(FTN_LOSS_FOCAL_TVERSKY);
    size_t n = m->graph.n_param_floats;
    m->params = calloc(n, sizeof(float));
    m->grads = calloc(n, sizeof(float));
    m->opt_m = calloc(n, sizeof(float));
    m->opt_v = calloc(n, sizeof(float));
    if (!m->params || !m->grads || !m->opt_m || !m->opt_v) {
        ftn_model_free(m);
        return ftn_fail(FTN_ENOMEM, "model %s: out of memory for %zu parameters", name, n);
    }
    *out = m;
    return FTN_OK;
}

void ftn_model_free(ftn_model *m)
{
    if (!m) return;
    ftn_graph_free(&m->graph);
    free(m->params);
    free(m->grads);
    free(m->opt_m);
    free(m->opt_v);
    free(m);
}

ftn_status ftn_model_init(ftn_model *m, uint64_t seed)
{
    ftn_rng rng;
    ftn_rng_seed(&rng, seed);
    for (int i = 0; i < m->graph.n_params; i++) {
        const ftn_param *p = &m->graph.params[i];
        float *d = m->params + p->offset;
        switch (p->init) {
        case FTN_INIT_GLOROT: {
            /* Keras glorot_normal: truncated normal, std = sqrt(2/(fan_in+fan_out)) / 0.8796 */
            double std = sqrt(2.0 / (p->fan_in + p->fan_out)) / .87962566103423978;
            for (size_t j = 0; j < p->count; j++) d[j] = (float)ftn_rng_truncated_normal(&rng, std);
            break;
        }
        case FTN_INIT_ZERO: memset(d, 0, p->count * sizeof(float)); break;
        case FTN_INIT_ONE: for (size_t j = 0; j < p->count; j++) d[j] = 1.0f; break;
        }
    }
    size_t n = m->graph.n_param_floats;
    memset(m->grads, 0, n * sizeof(float));
    memset(m->opt_m, 0, n * sizeof(float));
    memset(m->opt_v, 0, n * sizeof(float));
    m->iteration = 0;
    return FTN_OK;
}

const char *ftn_model_name(const ftn_model *m) { return m->name; }
ftn_shape ftn_model_input_shape(const ftn_model *m) { return (ftn_shape){ 1, m->channels, m->height, m->width }; }
int ftn_model_output_count(const ftn_model *m) { return m->graph.n_outputs; }
int64_t ftn_model_iteration(const ftn_model *m) { return m->iteration; }
double ftn_model_forward_flops(const ftn_model *m) { return ftn_graph_conv_flops(&m->graph); }
void ftn_model_set_loss(ftn_model *m, const ftn_loss_config *loss) { m->loss = *loss; }
ftn_loss_config ftn_model_loss(const ftn_model *m) { return m->loss; }

size_t ftn_model_param_count(const ftn_model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->graph.n_params; i++)
        if (m->graph.params[i].trainable) n += m->graph.params[i].count;
    return n;
}

int ftn_model_tensor_count(const ftn_model *m) { return m->graph.n_params; }
const char *ftn_model_tensor_name(const ftn_model *m, int i) { return m->graph.params[i].name; }

float *ftn_model_tensor(ftn_model *m, int i, int dims[4], int *ndim)
{
    const ftn_param *p = &m->graph.params[i];
    if (dims) memcpy(dims, p->dims, sizeof p->dims);
    if (ndim) *ndim = p->ndim;
    return m->params + p->offset;
}

int ftn_model_tensor_find(const ftn_model *m, const char *name)
{
    for (int i = 0; i < m->graph.n_params; i++)
        if (!strcmp(m->graph.params[i].name, name)) return i;
    return -1;
}
