/* Profiling: turning a session's per-op timing on and off, and its totals per op kind and per layer. */
#include "model/model.h"

#include <string.h>

void ftn_session_set_profile(ftn_session *s, int on) { ftn_exec_set_profile(s->exec, on != 0); }

int ftn_session_profile_layers(const ftn_session *s, ftn_profile_layer *out, int cap)
{
    const ftn_exec *ex = s->exec;
    const ftn_graph *g = ex->g;
    for (int o = 0; o <= g->n_ops && o < cap; o++) {
        ftn_profile_layer *e = &out[o];
        if (o < g->n_ops) {
            const ftn_op *op = &g->ops[o];
            const char *kind = ftn_op_kind_name(op->kind);
            bool unnamed = !strcmp(op->label, kind);
            int prod = g->tensors[op->in[0]].producer; /* the nearest named op upstream */
            while (prod >= 0 && !strcmp(g->ops[prod].label, ftn_op_kind_name(g->ops[prod].kind)))
                prod = g->tensors[g->ops[prod].in[0]].producer;
            *e = (ftn_profile_layer){ op->label, kind, !unnamed ? "" : prod < 0 ? "input" : g->ops[prod].label,
                                      g->tensors[op->out].shape, { 0 }, { 0 } };
        } else {
            *e = (ftn_profile_layer){ "boundary", "boundary", "", g->tensors[g->input].shape, { 0 }, { 0 } };
        }
        for (int pass = 0; pass < 2; pass++) {
            e->seconds[pass] = ex->prof_op_s[pass * (g->n_ops + 1) + o];
            e->calls[pass] = ex->prof_op_n[pass * (g->n_ops + 1) + o];
        }
    }
    return g->n_ops + 1;
}

int ftn_session_profile(const ftn_session *s, ftn_profile_entry *out, int cap)
{
    const ftn_exec *ex = s->exec;
    const ftn_graph *g = ex->g;
    int n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k <= FTN_OP_KIND_COUNT; k++) { /* FTN_OP_KIND_COUNT: the boundary */
            double sec = 0;
            long calls = 0;
            for (int o = 0; o <= g->n_ops; o++) {
                int ok = o < g->n_ops ? (int)g->ops[o].kind : FTN_OP_KIND_COUNT;
                if (ok != k) continue;
                sec += ex->prof_op_s[pass * (g->n_ops + 1) + o];
                calls += ex->prof_op_n[pass * (g->n_ops + 1) + o];
            }
            if (!calls) continue;
            if (n < cap)
                out[n] = (ftn_profile_entry){ k < FTN_OP_KIND_COUNT ? ftn_op_kind_name((ftn_op_kind)k) : "boundary", pass, sec, calls };
            n++;
        }
    return n;
}
