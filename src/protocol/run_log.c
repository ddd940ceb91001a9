/* log.csv (see run_folder.h): the training log, kept in memory and written with every epoch's
 * commit; a resumed run's log is read back from the committed epoch. */
#include "protocol/run_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic_file.h"

#define LOG_HEADER "epoch,lr,train_loss,val_loss,val_dsc,val_soft_dsc,seconds\n"
#define LOG_HEADER_V1 "epoch,lr,train_loss,val_loss,val_dsc,seconds\n" /* before val_soft_dsc */

ftn_status ftn_run_log_save(const ftn_run_log *log, const char *path)
{
    const void *chunks[1] = { log->text.s };
    size_t sizes[1] = { log->text.len };
    return ftn_write_file_atomic(path, chunks, sizes, 1);
}

ftn_status ftn_run_log_start(const char *run_dir, ftn_run_log *log)
{
    char p[FTN_PATH_MAX];
    ftn_buf_puts(&log->text, LOG_HEADER);
    if (log->text.oom) return ftn_fail(FTN_ENOMEM, "train: out of memory");
    FTN_TRY(ftn_run_path(run_dir, FTN_RUN_LOG, p, sizeof p));
    return ftn_run_log_save(log, p);
}

ftn_status ftn_run_log_resume(const char *run_dir, const ftn_run_state *st, ftn_run_log *log)
{
    char path[FTN_PATH_MAX];
    uint8_t *data;
    size_t size;
    int epochs = st->epochs_done;
    if (st->has_manifest) {
        FTN_TRY(ftn_run_verify_entry(run_dir, &st->files[FTN_RUN_ENTRY_LOG], FTN_RUN_ENTRY_LOG));
        FTN_TRY(ftn_path_join(path, sizeof path, run_dir, st->files[FTN_RUN_ENTRY_LOG].path));
    } else {
        FTN_TRY(ftn_run_path(run_dir, FTN_RUN_LOG, path, sizeof path));
    }
    FTN_TRY(ftn_read_file(path, FTN_RUN_MAX_JSON, &data, &size));
    const char *p = (const char *)data, *end = p + size;
    int n = -1; /* the header is line -1 */
    while (p < end && n < epochs) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break;
        ftn_buf_add(&log->text, p, (size_t)(nl - p + 1));
        p = nl + 1;
        n++;
    }
    free(data);
    FTN_TRY(ftn_buf_status(&log->text, path));
    if (n < epochs) return ftn_fail(FTN_EFORMAT, "%s: %d epoch lines, state.json says %d", path, n < 0 ? 0 : n, epochs);
    log->v1 = log->text.len >= strlen(LOG_HEADER_V1) && !memcmp(log->text.s, LOG_HEADER_V1, strlen(LOG_HEADER_V1));
    return FTN_OK;
}

ftn_status ftn_run_log_append(ftn_run_log *log, int epoch, float lr, double train_loss, float val_loss, float val_dsc,
                              float val_soft_dsc, double seconds)
{
    char line[256];
    int len = log->v1 ? snprintf(line, sizeof line, "%d,%.9g,%.6f,%.6f,%.6f,%.3f\n", epoch, ftn_run_short_float(lr), train_loss,
                                 val_loss, val_dsc, seconds)
                      : snprintf(line, sizeof line, "%d,%.9g,%.6f,%.6f,%.6f,%.6f,%.3f\n", epoch, ftn_run_short_float(lr),
                                 train_loss, val_loss, val_dsc, val_soft_dsc, seconds);
    ftn_buf_add(&log->text, line, (size_t)len);
    if (log->text.oom) return ftn_fail(FTN_ENOMEM, "train: out of memory");
    return FTN_OK;
}

void ftn_run_log_free(ftn_run_log *log)
{
    ftn_buf_free(&log->text);
    log->v1 = 0;
}
