/* Two checkpoints' largest difference, for tests/mpi_train.sh:
 *   test_mpi_compare A.safetensors B.safetensors TOL
 * prints "max abs difference D (tensor T)" over every tensor (BN running statistics too, each
 * tensor's difference relative to its largest magnitude when that is above 1) and exits 0 when
 * D <= TOL, 1 otherwise (2 when they cannot be read or differ in shape). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftunet.h"

/* tensor i's largest difference, relative to max(1, its largest |value| in a) */
static double tensor_diff(ftn_model *a, ftn_model *b, int i, int *shape_ok)
{
    int da[4], db[4], na, nb;
    const float *ta = ftn_model_tensor(a, i, da, &na), *tb = ftn_model_tensor(b, i, db, &nb);
    *shape_ok = na == nb && !memcmp(da, db, sizeof(int) * (size_t)na);
    if (!*shape_ok) return INFINITY;
    size_t n = 1;
    for (int d = 0; d < na; d++) n *= (size_t)da[d];
    double big = 1, d = 0;
    for (size_t j = 0; j < n; j++) big = fmax(big, fabs((double)ta[j]));
    for (size_t j = 0; j < n; j++) d = fmax(d, fabs((double)ta[j] - (double)tb[j]));
    return d / big;
}

int main(int argc, char **argv)
{
    if (argc != 4) { fprintf(stderr, "usage: test_mpi_compare A B TOL\n"); return 2; }
    ftn_model *a = NULL, *b = NULL;
    if (ftn_model_load(argv[1], &a) || ftn_model_load(argv[2], &b) || ftn_model_tensor_count(a) != ftn_model_tensor_count(b)) {
        fprintf(stderr, "test_mpi_compare: %s\n", ftn_last_error());
        return 2;
    }
    double worst = 0;
    const char *where = "none";
    int shape_ok = 1;
    for (int i = 0; i < ftn_model_tensor_count(a) && shape_ok; i++) {
        double d = tensor_diff(a, b, i, &shape_ok);
        if (d > worst || !shape_ok) worst = d, where = ftn_model_tensor_name(a, i);
    }
    printf("max abs difference %.3g (tensor %s)\n", worst, where);
    int rc = !shape_ok ? 2 : worst <= atof(argv[3]) ? 0 : 1;
    ftn_model_free(a);
    ftn_model_free(b);
    return rc;
}
