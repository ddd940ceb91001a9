/* Synthetic data sets: readable through dataset_open, plausible lesion sizes, deterministic. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "io/image.h"
#include "testlib.h"

#pragma GCC diagnostic ignored "-Wformat-zero-length"

static int same_file(const char *a, const char *b)
{
    ftn_image x, y;
    if (ftn_image_read(a, &x) != FTN_OK) return 0;
    if (ftn_image_read(b, &y) != FTN_OK) {
        ftn_image_free(&x);
        return 0;
    }
    int same = x.width == y.width && x.height == y.height && x.channels == y.channels &&
               !memcmp(x.data, y.data, sizeof(float) * x.width * x.height * x.channels);
    ftn_image_free(&x);
    ftn_image_free(&y);
    return same;
}

static void check_kind(ftn_synth_kind kind, int channels, double lo, double hi)
{
    const char *base = tl_tmpdir(ftn_synth_kind_name(kind));
    char d1[1024], d2[1024], d3[1024];
    snprintf(d1, sizeof d1, "%s/s1", base);
    snprintf(d2, sizeof d2, "%s/s1b", base);
    snprintf(d3, sizeof d3, "%s/s2", base);
    CHECK_OK(ftn_synth_write(d1, kind, 12, 1, 128, 96));
    CHECK_OK(ftn_synth_write(d2, kind, 12, 1, 128, 96));
    CHECK_OK(ftn_synth_write(d3, kind, 3, 2, 128, 96));
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(d1, NULL, &ds));
    CHECK(ds.count == 12 && ds.n_skipped == 0);
    if (ds.count == 12) {
        CHECK(ds.samples[0].width == 128 && ds.samples[0].height == 96 && ds.samples[0].channels == channels);
        ftn_dataset_summary st;
        CHECK_OK(ftn_dataset_stats(&ds, &st));
        CHECK(st.lesion_mean > lo && st.lesion_mean < hi, "%s: mean lesion fraction %g", ftn_synth_kind_name(kind),
              st.lesion_mean);
        CHECK(st.empty_masks == 0 && st.lesion_min > 0.005, "%s: min %g", ftn_synth_kind_name(kind), st.lesion_min);
        /* the lesion is darker than the background */
        ftn_image im, m;
        CHECK_OK(ftn_dataset_load(&ds, 0, &im, &m));
        double in = 0, out = 0;
        int nin = 0, nout = 0;
        for (int p = 0; im.data && p < im.width * im.height; p++) {
            double v = 0;
            for (int c = 0; c < im.channels; c++) v += im.data[p * im.channels + c];
            if (m.data[p] > 0.5f) in += v, nin++;
            else out += v, nout++;
        }
        CHECK(nin > 0 && in / nin < 0.8 * out / nout, "lesion %g vs background %g", in / nin, out / nout);
        ftn_image_free(&im);
        ftn_image_free(&m);
    }
    ftn_dataset_free(&ds);
    CHECK(same_file(tl_path(d1, "images/0003.png"), tl_path(d2, "images/0003.png")), "deterministic per seed");
    CHECK(same_file(tl_path(d1, "masks/0003.png"), tl_path(d2, "masks/0003.png")));
    CHECK(!same_file(tl_path(d1, "images/0001.png"), tl_path(d3, "images/0001.png")), "seeds differ");
}

int main(void)
{
    check_kind(FTN_SYNTH_ULTRASOUND, 1, 0.025, 0.08);
    check_kind(FTN_SYNTH_DERMOSCOPY, 3, 0.12, 0.30);
    /* default size, masks binary */
    const char *d = tl_tmpdir("synth-default");
    CHECK_OK(ftn_synth_write(d, FTN_SYNTH_ULTRASOUND, 1, 5, 0, 0));
    ftn_image m;
    CHECK_OK(ftn_image_read(tl_path(d, "masks/0000.png"), &m));
    CHECK(m.width == 256 && m.height == 192 && m.channels == 1);
    int binary = 1;
    for (int i = 0; m.data && i < m.width * m.height; i++) binary &= m.data[i] == 0.0f || m.data[i] == 1.0f;
    CHECK(binary);
    ftn_image_free(&m);
    ftn_synth_kind k;
    CHECK_OK(ftn_synth_kind_parse("dermoscopy", &k));
    CHECK(k == FTN_SYNTH_DERMOSCOPY);
    CHECK(ftn_synth_kind_parse("mri", &k) == FTN_EINVAL);
    CHECK(ftn_synth_write(d, FTN_SYNTH_ULTRASOUND, 0, 1, 0, 0) == FTN_EINVAL);
    /* width 64, height 32: 32 rows of 64; a refused size is named height x width */
    const char *d2 = tl_tmpdir("synth-wide");
    CHECK_OK(ftn_synth_write(d2, FTN_SYNTH_DERMOSCOPY, 1, 5, 64, 32));
    int w = 0, h = 0, c = 0;
    CHECK_OK(ftn_image_probe(tl_path(d2, "images/0000.png"), 0, &w, &h, &c));
    CHECK(w == 64 && h == 32 && c == 3, "synth 64 wide, 32 high gave %dx%d (WxH)", w, h);
    CHECK(ftn_synth_write(d2, FTN_SYNTH_ULTRASOUND, 1, 1, 4, 100) == FTN_EINVAL);
    CHECK(strstr(ftn_last_error(), "100x4 (HxW") != NULL, "%s", ftn_last_error());
    return tl_finish();
}
