/* The checkpoints a command was given (predict, eval): .safetensors files, run folders (their
 * best.safetensors) and cross-validation folders (every fold's), opened as one session each. */
#ifndef FTUNET_MODEL_LIST_H
#define FTUNET_MODEL_LIST_H
#include "ftunet_protocol.h"

typedef struct model_list {
    char **paths;
    int n;
    ftn_model **m;
    ftn_session **s;
} model_list;

/* An argument that names a model: a .safetensors file (whether it is one is the loader's to
 * say), or a run or cross-validation folder. */
int model_list_is_model(const char *arg);
/* Appends the checkpoints arg names. Returns 0, or 1 after printing "ftunet: WHAT: ...". */
int model_list_add(model_list *ms, const char *what, const char *arg);
/* One session per checkpoint, all sharing the first one's working memory (they run in turn).
 * Returns 0, or 1 after printing the error. */
int model_list_open(model_list *ms, const char *what, int batch, ftn_engine engine, ftn_precision precision);
void model_list_free(model_list *ms);
#endif
