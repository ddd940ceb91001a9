/* Private copy of the evaluation and report API that branch `evalrep` provides in
 * src/protocol/evaluate.h and src/report/report.h; train.c is written against these declarations.
 * To be replaced by those headers when the branches are merged. */
#ifndef FTN_PROTOCOL_EVALUATE_API_H
#define FTN_PROTOCOL_EVALUATE_API_H
#include "data/dataset.h"
#include "data/resize.h"
#include "ftunet.h"
#include "metrics/metrics.h"

typedef struct ftn_eval_result { int n; char **ids; ftn_metrics *per_image; ftn_metrics mean, std; float threshold; } ftn_eval_result;
ftn_status ftn_evaluate(ftn_model *m, const ftn_dataset *ds, const int *idx, int n, float threshold, ftn_resize_mode mode, ftn_engine engine, int batch, ftn_eval_result *out);
ftn_status ftn_eval_write(const ftn_eval_result *r, const char *csv_path, const char *json_path);
void ftn_eval_result_free(ftn_eval_result *r);

ftn_status ftn_report_write(const char *run_dir, ftn_engine engine);

#endif
