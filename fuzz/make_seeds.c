/* Writes the fuzzers' seed corpora: a few small valid files of each kind, made with the
 * project's own writers (and libpng / libjpeg / libtiff / libwebp for the variants and formats
 * ftunet does not write), into
 * OUT/fuzz_image, OUT/fuzz_npy, OUT/fuzz_safetensors and OUT/fuzz_dataset.
 * usage: ftunet_fuzz_seeds OUT (scripts/fuzz.sh runs it into build-fuzz/seeds). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>
#include <webp/encode.h>

#include "ftunet.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/safetensors.h"

static const char *out_root;

static void die(const char *what)
{
    fprintf(stderr, "ftunet_fuzz_seeds: %s: %s\n", what, ftn_last_error());
    exit(1);
}

static const char *seed_path(const char *target, const char *name)
{
    static char ring[4][4096];
    static int k;
    char *p = ring[k++ % 4];
    snprintf(p, sizeof ring[0], "%s/%s", out_root, target);
    mkdir(p, 0755);
    snprintf(p, sizeof ring[0], "%s/%s/%s", out_root, target, name);
    return p;
}

static void put(const char *path, const void *a, size_t na, const void *b, size_t nb)
{
    FILE *f = fopen(path, "wb");
    if (!f || (na && fwrite(a, 1, na, f) != na) || (nb && fwrite(b, 1, nb, f) != nb) || fclose(f)) {
        fprintf(stderr, "ftunet_fuzz_seeds: %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) die(path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) die(path);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* ---- images ---------------------------------------------------------------------------------- */

/* A PNG of any depth and colour type through libpng; values a simple pattern. */
static void png_any(const char *path, int w, int h, int depth, int color, int interlace)
{
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!f || !png || !info || setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "ftunet_fuzz_seeds: cannot write %s\n", path);
        exit(1);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {255, 255, 255}};
        png_set_PLTE(png, info, pal, 4);
    }
    png_write_info(png, info);
    int ch = color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t rowbytes = ((size_t)w * ch * depth + 7) / 8;
    uint8_t *row = calloc(rowbytes, 1);
    int passes = interlace ? png_set_interlace_handling(png) : 1;
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < h; y++) {
            for (size_t i = 0; i < rowbytes; i++) row[i] = (uint8_t)((i * 37 + (size_t)y * 11) & (depth < 8 ? 0x55 : 0xff));
            if (color == PNG_COLOR_TYPE_PALETTE && depth == 8)
                for (size_t i = 0; i < rowbytes; i++) row[i] &= 3;
            png_write_row(png, row);
        }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(row);
}

static void jpeg_any(const char *path, int w, int h, int comps)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    if (!f) die(path);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = comps;
    c.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 50, TRUE);
    jpeg_start_compress(&c, TRUE);
    uint8_t *row = malloc((size_t)w * comps);
    while (c.next_scanline < c.image_height) {
        for (int i = 0; i < w * comps; i++) row[i] = (uint8_t)(i * 13 + (int)c.next_scanline * 7);
        JSAMPROW rp = row;
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(row);
}

static void le16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void le32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }

/* A BMP: bpp 1/4/8 (palette of npal entries, grey if grey), 16/24/32 (bitfields if comp == 3). */
static void bmp_any(const char *path, int w, int h, int bpp, int comp, int npal, int grey, int top_down)
{
    int hsz = 40, nmask = comp == 3 ? 3 : 0;
    size_t stride = (((size_t)w * bpp + 31) / 32) * 4;
    size_t off = 14 + (size_t)hsz + (size_t)nmask * 4 + (size_t)npal * 4, size = off + stride * (size_t)h;
    uint8_t *b = calloc(size, 1);
    b[0] = 'B', b[1] = 'M';
    le32(b + 2, (uint32_t)size);
    le32(b + 10, (uint32_t)off);
    le32(b + 14, (uint32_t)hsz);
    le32(b + 18, (uint32_t)w);
    le32(b + 22, (uint32_t)(top_down ? -h : h));
    le16(b + 26, 1);
    le16(b + 28, (uint32_t)bpp);
    le32(b + 30, (uint32_t)comp);
    le32(b + 46, (uint32_t)npal);
    uint8_t *q = b + 54;
    if (comp == 3) {
        uint32_t m16[3] = {0xF800, 0x07E0, 0x001F}, m32[3] = {0xFF0000, 0xFF00, 0xFF};
        for (int i = 0; i < 3; i++) le32(q + 4 * i, bpp == 16 ? m16[i] : m32[i]);
        q += 12;
    }
    for (int i = 0; i < npal; i++) {
        uint8_t v = (uint8_t)(i * 255 / (npal > 1 ? npal - 1 : 1));
        q[4 * i] = v, q[4 * i + 1] = grey ? v : (uint8_t)(255 - v), q[4 * i + 2] = grey ? v : (uint8_t)(v / 2);
    }
    for (size_t i = off; i < size; i++) b[i] = (uint8_t)(i * 29);
    if (bpp == 8)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) b[off + (size_t)y * stride + x] %= (uint8_t)npal;
    if (bpp == 4)
        for (size_t i = off; i < size; i++) b[i] &= 0x33 & (npal >= 4 ? 0xff : 0x11);
    put(path, b, size, NULL, 0);
    free(b);
}

/* A TIFF through libtiff: w×h, spp samples of bps bits, strips of rps rows or tiles of `tile`
 * pixels a side, contiguous or separate planes; values a simple pattern. */
static void tiff_any(const char *path, int w, int h, int spp, int bps, int photometric, int tile, int rps, int separate,
                     int compression, int big_endian)
{
    TIFF *tif = TIFFOpen(path, big_endian ? "wb" : "wl");
    if (!tif) die(path);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)h);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)spp);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)bps);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, (uint16_t)photometric);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, (uint16_t)compression);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, (uint16_t)(separate ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG));
    if ((photometric == PHOTOMETRIC_MINISBLACK && spp == 2) || (photometric == PHOTOMETRIC_RGB && spp == 4)) {
        uint16_t ex = EXTRASAMPLE_UNASSALPHA;
        TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (uint16_t)1, &ex);
    }
    if (photometric == PHOTOMETRIC_PALETTE) {
        uint16_t r[256], g[256], b[256];
        for (int i = 0; i < 256; i++) r[i] = (uint16_t)(i * 257), g[i] = (uint16_t)(65535 - i * 257), b[i] = (uint16_t)(i * 128);
        TIFFSetField(tif, TIFFTAG_COLORMAP, r, g, b);
    }
    if (tile) {
        TIFFSetField(tif, TIFFTAG_TILEWIDTH, (uint32_t)tile);
        TIFFSetField(tif, TIFFTAG_TILELENGTH, (uint32_t)tile);
    } else {
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, (uint32_t)rps);
    }
    tmsize_t n = tile ? TIFFTileSize(tif) : TIFFStripSize(tif);
    uint32_t chunks = tile ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif);
    uint8_t *buf = malloc((size_t)n);
    if (!buf) die(path);
    for (uint32_t c = 0; c < chunks; c++) {
        for (tmsize_t i = 0; i < n; i++) buf[i] = (uint8_t)(i * 37 + c * 11);
        tmsize_t r = tile ? TIFFWriteEncodedTile(tif, c, buf, n) : TIFFWriteEncodedStrip(tif, c, buf, n);
        if (r < 0) die(path);
    }
    free(buf);
    TIFFClose(tif);
}

static void webp_any(const char *path, int w, int h, int alpha, int quality /* 0: lossless */)
{
    uint8_t *px = malloc((size_t)w * h * 4), *enc = NULL;
    if (!px) die(path);
    for (int i = 0; i < w * h * 4; i++) px[i] = (uint8_t)(i * 13 + i / (w * 4) * 7);
    if (alpha)
        for (int i = 0; i < w * h; i++) px[4 * i + 3] |= 1;
    int stride = w * (alpha ? 4 : 3);
    size_t n = quality ? (alpha ? WebPEncodeRGBA(px, w, h, stride, (float)quality, &enc) : WebPEncodeRGB(px, w, h, stride, (float)quality, &enc))
                       : (alpha ? WebPEncodeLosslessRGBA(px, w, h, stride, &enc) : WebPEncodeLosslessRGB(px, w, h, stride, &enc));
    if (!n) die(path);
    put(path, enc, n, NULL, 0);
    WebPFree(enc);
    free(px);
}

static void image_seeds(void)
{
    const char *t = "fuzz_image";
    uint8_t px[12 * 10 * 4];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 7);
    for (int c = 1; c <= 4; c++) {
        char name[32];
        snprintf(name, sizeof name, "ftunet_c%d.png", c);
        if (ftn_image_write_png(seed_path(t, name), 12, 10, c, px)) die(name);
    }
    png_any(seed_path(t, "grey1.png"), 13, 5, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE);
    png_any(seed_path(t, "grey4_adam7.png"), 9, 7, 4, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_ADAM7);
    png_any(seed_path(t, "grey16.png"), 6, 4, 16, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE);
    png_any(seed_path(t, "rgba16.png"), 5, 3, 16, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_NONE);
    png_any(seed_path(t, "palette2.png"), 7, 5, 2, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE);
    png_any(seed_path(t, "palette8.png"), 7, 5, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_ADAM7);
    jpeg_any(seed_path(t, "grey.jpg"), 16, 8, 1);
    jpeg_any(seed_path(t, "rgb.jpg"), 17, 9, 3);
    bmp_any(seed_path(t, "bgr24.bmp"), 5, 3, 24, 0, 0, 0, 0);
    bmp_any(seed_path(t, "bgr24_topdown.bmp"), 4, 2, 24, 0, 0, 0, 1);
    bmp_any(seed_path(t, "pal8_grey.bmp"), 6, 4, 8, 0, 16, 1, 0);
    bmp_any(seed_path(t, "pal4.bmp"), 7, 3, 4, 0, 16, 0, 0);
    bmp_any(seed_path(t, "pal1.bmp"), 9, 2, 1, 0, 2, 1, 0);
    bmp_any(seed_path(t, "rgb16_bitfields.bmp"), 3, 3, 16, 3, 0, 0, 0);
    bmp_any(seed_path(t, "rgb32_bitfields.bmp"), 3, 2, 32, 3, 0, 0, 1);
    bmp_any(seed_path(t, "rgb16.bmp"), 4, 4, 16, 0, 0, 0, 0);
    tiff_any(seed_path(t, "grey8_strips.tif"), 9, 7, 1, 8, PHOTOMETRIC_MINISBLACK, 0, 3, 0, COMPRESSION_NONE, 0);
    tiff_any(seed_path(t, "grey16_strips_be.tif"), 6, 5, 1, 16, PHOTOMETRIC_MINISBLACK, 0, 2, 0, COMPRESSION_NONE, 1);
    tiff_any(seed_path(t, "grey16_deflate.tif"), 7, 4, 1, 16, PHOTOMETRIC_MINISBLACK, 0, 4, 0, COMPRESSION_ADOBE_DEFLATE, 0);
    tiff_any(seed_path(t, "greyalpha8_lzw.tif"), 5, 5, 2, 8, PHOTOMETRIC_MINISBLACK, 0, 2, 0, COMPRESSION_LZW, 0);
    tiff_any(seed_path(t, "miniswhite8_packbits.tif"), 8, 3, 1, 8, PHOTOMETRIC_MINISWHITE, 0, 3, 0, COMPRESSION_PACKBITS, 0);
    tiff_any(seed_path(t, "rgb8_tiled.tif"), 20, 18, 3, 8, PHOTOMETRIC_RGB, 16, 0, 0, COMPRESSION_NONE, 0);
    tiff_any(seed_path(t, "grey16_tiled_be.tif"), 17, 3, 1, 16, PHOTOMETRIC_MINISBLACK, 16, 0, 0, COMPRESSION_NONE, 1);
    tiff_any(seed_path(t, "rgba16_tiled_planes.tif"), 18, 17, 4, 16, PHOTOMETRIC_RGB, 16, 0, 1, COMPRESSION_LZW, 0);
    tiff_any(seed_path(t, "rgb8_planes.tif"), 6, 4, 3, 8, PHOTOMETRIC_RGB, 0, 2, 1, COMPRESSION_NONE, 0);
    tiff_any(seed_path(t, "rgba8_strips.tif"), 5, 4, 4, 8, PHOTOMETRIC_RGB, 0, 4, 0, COMPRESSION_ADOBE_DEFLATE, 0);
    tiff_any(seed_path(t, "palette4.tif"), 7, 3, 1, 4, PHOTOMETRIC_PALETTE, 0, 3, 0, COMPRESSION_NONE, 0);
    tiff_any(seed_path(t, "bilevel_g4.tif"), 23, 6, 1, 1, PHOTOMETRIC_MINISWHITE, 0, 6, 0, COMPRESSION_CCITTFAX4, 0);
    webp_any(seed_path(t, "lossless_rgb.webp"), 7, 5, 0, 0);
    webp_any(seed_path(t, "lossless_rgba.webp"), 6, 4, 1, 0);
    webp_any(seed_path(t, "lossy_rgb.webp"), 9, 6, 0, 60);
    webp_any(seed_path(t, "lossy_rgba.webp"), 5, 7, 1, 40);
}

/* ---- .npy -------------------------------------------------------------------------------------- */

static void npy_seeds(void)
{
    const char *t = "fuzz_npy";
    float x[2 * 3 * 4 * 4];
    for (int i = 0; i < 96; i++) x[i] = (float)i / 95.0f;
    if (ftn_npy_write_f32(seed_path(t, "scalar.npy"), 0, NULL, x)) die("npy");
    if (ftn_npy_write_f32(seed_path(t, "vec.npy"), 1, (int64_t[]){5}, x)) die("npy");
    if (ftn_npy_write_f32(seed_path(t, "mat.npy"), 2, (int64_t[]){3, 4}, x)) die("npy");
    if (ftn_npy_write_f32(seed_path(t, "nchw.npy"), 4, (int64_t[]){2, 3, 4, 4}, x)) die("npy");
    if (ftn_npy_write_f32(seed_path(t, "empty.npy"), 2, (int64_t[]){0, 7}, x)) die("npy");
    /* version 2.0 and NumPy's own spelling variants (list shape, double quotes, trailing comma) */
    const char *dicts[] = {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                           "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": [2, 2]}",
                           "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                           "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }"};
    for (int v = 0; v < 4; v++) {
        uint8_t h[256] = {0x93, 'N', 'U', 'M', 'P', 'Y', v == 0 ? 2 : 1, 0};
        size_t pre = v == 0 ? 12 : 10, dl = strlen(dicts[v]), hl = ((pre + dl + 1 + 63) & ~(size_t)63) - pre;
        if (v == 0) le32(h + 8, (uint32_t)hl);
        else le16(h + 8, (uint32_t)hl);
        memcpy(h + pre, dicts[v], dl);
        memset(h + pre + dl, ' ', hl - dl - 1);
        h[pre + hl - 1] = '\n';
        char name[32];
        snprintf(name, sizeof name, "variant%d.npy", v);
        put(seed_path(t, name), h, pre + hl, x, 16);
    }
}

/* ---- safetensors --------------------------------------------------------------------------- */

/* The file's bytes up to the end of its header, then the data section's length as the padding
 * count fuzz_safetensors.c reads, with `which` (0 model, 1 optimiser, 2 raw) in the top 2 bits. */
static void header_plus_pad(const char *from, const char *to, uint32_t which)
{
    size_t n;
    uint8_t *b = slurp(from, &n);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)b[i] << (8 * i);
    uint8_t pad[4];
    le32(pad, (uint32_t)(n - 8 - hl) | which << 30);
    put(to, b, 8 + hl, pad, 4);
    free(b);
}

static void safetensors_seeds(void)
{
    const char *t = "fuzz_safetensors";
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/tmp.safetensors", out_root);
    ftn_model *m;
    if (ftn_model_create("attn-unet", 1, 16, 16, &m) || ftn_model_init(m, 1)) die("model");
    if (ftn_model_save(m, tmp)) die("model save");
    header_plus_pad(tmp, seed_path(t, "checkpoint_attn_unet"), 0);
    header_plus_pad(tmp, seed_path(t, "checkpoint_attn_unet_raw"), 2);
    if (ftn_optimizer_save(m, tmp)) die("optimizer save");
    header_plus_pad(tmp, seed_path(t, "optimizer_sgd"), 1);
    /* Adam state: the SGD file's tensors as .m and .v */
    ftn_st_file *f;
    if (ftn_safetensors_read(tmp, &f)) die("read back");
    int n = ftn_st_count(f);
    ftn_st_tensor *ts = calloc((size_t)n * 2, sizeof *ts);
    char (*names)[256] = calloc((size_t)n * 2, sizeof *names);
    for (int i = 0; i < n; i++) {
        const ftn_st_tensor *s = ftn_st_get(f, i);
        size_t l = strlen(s->name);
        for (int k = 0; k < 2; k++) {
            snprintf(names[2 * i + k], sizeof names[0], "%.*s.%c", (int)(l - 2), s->name, k ? 'v' : 'm');
            ts[2 * i + k] = *s;
            ts[2 * i + k].name = names[2 * i + k];
        }
    }
    const char *keys[] = {"format", "format_version", "model", "optimizer", "iteration"};
    const char *vals[] = {ftn_st_meta(f, "format"), ftn_st_meta(f, "format_version"), ftn_st_meta(f, "model"), "adam", "3"};
    if (ftn_safetensors_write(tmp, ts, 2 * n, keys, vals, 5)) die("adam state");
    ftn_st_file_free(f);
    free(ts);
    free(names);
    header_plus_pad(tmp, seed_path(t, "optimizer_adam"), 1);
    ftn_model_free(m);
    /* a small generic file, data included (padding 0) */
    float a[6] = {1, 2, 3, 4, 5, 6}, s = 7;
    ftn_st_tensor small[3] = {{"a", 2, {2, 3, 0, 0}, a}, {"scalar", 0, {0, 0, 0, 0}, &s}, {"empty", 1, {0, 0, 0, 0}, NULL}};
    const char *k1[] = {"note"}, *v1[] = {"hello"};
    if (ftn_safetensors_write(tmp, small, 3, k1, v1, 1)) die("small");
    size_t len;
    uint8_t *b = slurp(tmp, &len);
    put(seed_path(t, "small"), b, len, "\0\0\0\x80", 4);
    free(b);
    remove(tmp);
}

/* ---- data sets ------------------------------------------------------------------------------ */

static void dataset_seeds(void)
{
    const char *t = "fuzz_dataset";
    static const char *csv[] = {
        "\x00image,mask\na.png,a_mask.png\nb.bmp,b_mask.png\n",
        "\x0c# a comment\n\n\"a.png\" , \"a_mask.png\",z.png\nb.bmp,a_mask.png\n",
        "\x04" "a.png,c.png\nc.png,a_mask.png\ne.txt,a_mask.png\nb.bmp,\n",
        "\x08\xef\xbb\xbf" "a.png,z.png\n",
        "\x00image,mask\na.png,a_mask.png\n./a.png,z.png\nb.bmp,b_mask.png\na.png,b_mask.png\n", /* one image, three lines */
    };
    static const char *folder[] = {
        "\x01l0\ni0a.png\nm1a.png\ni2b.bmp\nm1b_mask.png\n",
        "\x05l1\ni0x.png\nm1x_segmentation.png\nm4x_segmentation_1.png\ni3y.png\nm1y.png\ni0y.jpg\n",
        "\x09l2\ns_gt\ni0ISIC_001.png\nm4ISIC_001_gt.png\ni0q.PNG\nm1q_lesion.png\nm1orphan.png\n",
        "\x0dl0\ni0.hidden.png\ni0a.png\nm9a_mask.png\n",
        "\x01l3\ni0benign/a (1).png\nm1benign/a (1)_mask.png\nm1benign/a (1)_mask_1.png\ni2normal/b.bmp\nm4normal/b_mask.png\n",
        "\x05l3\ni0x.png\nm1x_segmentation.png\ni3y.png\nm1y_lesion.png\ni0c/z.png\n",
        "\x01l4\nj{\"labels\": {\"background\": 0, \"lesion\": 1, \"cyst\": 2}, \"file_ending\": \".png\", \"numTraining\": 2}\n"
        "i0case_000_0000.png\nm4case_000.png\ni0case_001_0000.png\nm1case_001.png\n",
        "\x05l4\nj{\"labels\": {\"background\": 0, \"lesion\": 1}, \"file_ending\": \".png\"}\n"
        "i0case_000_0000.png\ni0case_000_0001.png\nm4case_000.png\ni0q_0000.png\n",
    };
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "csv%d", i);
        if (i < (int)(sizeof csv / sizeof *csv)) put(seed_path(t, name), csv[i], 1 + strlen(csv[i] + 1), NULL, 0);
        snprintf(name, sizeof name, "folder%d", i);
        put(seed_path(t, name), folder[i], strlen(folder[i]), NULL, 0);
    }
    /* npy layout: images and masks, split at NPYSPLIT */
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/tmp-a.npy", out_root);
    snprintf(b, sizeof b, "%s/tmp-b.npy", out_root);
    float x[2 * 8 * 6 * 3], y[2 * 8 * 6];
    for (int i = 0; i < 2 * 8 * 6 * 3; i++) x[i] = (float)(i % 256);
    for (int i = 0; i < 2 * 8 * 6; i++) y[i] = (float)(i % 3 == 0);
    struct { const char *name; int nd; int64_t d[4]; int md; int64_t dm[4]; } v[] = {
        {"npy_nhw", 3, {2, 8, 6}, 3, {2, 8, 6}},
        {"npy_nhwc", 4, {2, 8, 6, 3}, 4, {2, 8, 6, 1}},
        {"npy_nchw", 4, {2, 1, 8, 6}, 4, {2, 1, 8, 6}},
    };
    for (int i = 0; i < 3; i++) {
        if (ftn_npy_write_f32(a, v[i].nd, v[i].d, x) || ftn_npy_write_f32(b, v[i].md, v[i].dm, y)) die("npy");
        size_t la, lb;
        uint8_t *pa = slurp(a, &la), *pb = slurp(b, &lb);
        uint8_t *all = malloc(1 + la + 8 + lb);
        all[0] = 0x02;
        memcpy(all + 1, pa, la);
        memcpy(all + 1 + la, "NPYSPLIT", 8);
        memcpy(all + 1 + la + 8, pb, lb);
        put(seed_path(t, v[i].name), all, 1 + la + 8 + lb, NULL, 0);
        free(pa), free(pb), free(all);
    }
    remove(a);
    remove(b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ftunet_fuzz_seeds OUT\n");
        return 2;
    }
    out_root = argv[1];
    mkdir(out_root, 0755);
    image_seeds();
    npy_seeds();
    safetensors_seeds();
    dataset_seeds();
    return 0;
}
