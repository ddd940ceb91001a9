/* Image reading (PNG, JPEG, BMP, TIFF, WebP) and the PNG writer, including hostile files. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>
#include <webp/encode.h>

#include "core/error.h"
#include "data/dataset.h"
#include "io/image.h"
#include "testlib.h"

/* testlib.h's CHECK(cond) without a message expands to an empty format string. */
#pragma GCC diagnostic ignored "-Wformat-zero-length"

static const char *dir;

static int write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

/* A PNG straight from libpng: rows are packed as the colour type and depth say. */
static void raw_png(const char *path, int w, int h, int color, int depth, const uint8_t *bytes, size_t rowbytes,
                    const png_color *pal, int npal, const uint8_t *trns, int ntrns)
{
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "libpng failed writing %s\n", path);
        exit(2);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, color, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    if (trns) png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, bytes + (size_t)y * rowbytes);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static int close_to(float a, float b) { return fabsf(a - b) < 1e-6f; }

static void test_png(void)
{
    /* gray and RGB through our writer */
    uint8_t g[3 * 2] = {0, 51, 102, 153, 204, 255};
    CHECK_OK(ftn_image_write_png(tl_path(dir, "g.png"), 3, 2, 1, g));
    ftn_image im;
    CHECK_OK(ftn_image_read(tl_path(dir, "g.png"), &im));
    CHECK(im.width == 3 && im.height == 2 && im.channels == 1);
    for (int i = 0; i < 6 && im.data; i++) CHECK(close_to(im.data[i], g[i] / 255.0f), "gray %d", i);
    ftn_image_free(&im);
    CHECK(im.data == NULL);

    uint8_t rgb[2 * 2 * 3];
    for (int i = 0; i < 12; i++) rgb[i] = (uint8_t)(i * 20);
    CHECK_OK(ftn_image_write_png(tl_path(dir, "rgb.png"), 2, 2, 3, rgb));
    CHECK_OK(ftn_image_read(tl_path(dir, "rgb.png"), &im));
    CHECK(im.width == 2 && im.height == 2 && im.channels == 3);
    for (int i = 0; i < 12 && im.data; i++) CHECK(close_to(im.data[i], rgb[i] / 255.0f), "rgb %d", i);
    ftn_image_free(&im);
    /* no temporary left behind */
    FILE *f = fopen(tl_path(dir, "rgb.png.tmp"), "rb");
    CHECK(f == NULL);
    if (f) fclose(f);

    /* 16-bit gray */
    uint8_t g16[2 * 2 * 2] = {0x00, 0x00, 0xFF, 0xFF, 0x80, 0x00, 0x12, 0x34};
    raw_png(tl_path(dir, "g16.png"), 2, 2, PNG_COLOR_TYPE_GRAY, 16, g16, 4, NULL, 0, NULL, 0);
    CHECK_OK(ftn_image_read(tl_path(dir, "g16.png"), &im));
    CHECK(im.channels == 1 && im.width == 2 && im.height == 2);
    if (im.data) {
        CHECK(close_to(im.data[0], 0.0f) && close_to(im.data[1], 1.0f));
        CHECK(close_to(im.data[2], 0x8000 / 65535.0f) && close_to(im.data[3], 0x1234 / 65535.0f));
    }
    ftn_image_free(&im);

    /* palette (4-bit) with a tRNS chunk: expanded to RGB, alpha dropped */
    png_color pal[3] = {{255, 0, 0}, {0, 255, 0}, {10, 20, 30}};
    uint8_t trns[3] = {255, 0, 128};
    uint8_t p4[2] = {0x01, 0x20}; /* 4 pixels, one row: 0,1,2,0 */
    raw_png(tl_path(dir, "pal.png"), 4, 1, PNG_COLOR_TYPE_PALETTE, 4, p4, 2, pal, 3, trns, 3);
    CHECK_OK(ftn_image_read(tl_path(dir, "pal.png"), &im));
    CHECK(im.channels == 3 && im.width == 4 && im.height == 1);
    if (im.data && im.channels == 3) {
        CHECK(close_to(im.data[0], 1) && close_to(im.data[1], 0) && close_to(im.data[2], 0));
        CHECK(close_to(im.data[3], 0) && close_to(im.data[4], 1) && close_to(im.data[5], 0));
        CHECK(close_to(im.data[6], 10 / 255.0f) && close_to(im.data[7], 20 / 255.0f) && close_to(im.data[8], 30 / 255.0f));
        CHECK(close_to(im.data[9], 1));
    }
    ftn_image_free(&im);

    /* 1-bit gray */
    uint8_t b1[1] = {0xA0}; /* 1,0,1 */
    raw_png(tl_path(dir, "g1.png"), 3, 1, PNG_COLOR_TYPE_GRAY, 1, b1, 1, NULL, 0, NULL, 0);
    CHECK_OK(ftn_image_read(tl_path(dir, "g1.png"), &im));
    CHECK(im.channels == 1 && im.width == 3);
    if (im.data) CHECK(close_to(im.data[0], 1) && close_to(im.data[1], 0) && close_to(im.data[2], 1));
    ftn_image_free(&im);

    /* gray + alpha → 1 channel */
    uint8_t ga[4] = {100, 0, 200, 255};
    raw_png(tl_path(dir, "ga.png"), 2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, 4, NULL, 0, NULL, 0);
    CHECK_OK(ftn_image_read(tl_path(dir, "ga.png"), &im));
    CHECK(im.channels == 1 && im.width == 2);
    if (im.data) CHECK(close_to(im.data[0], 100 / 255.0f) && close_to(im.data[1], 200 / 255.0f));
    ftn_image_free(&im);

    /* RGBA → RGB */
    uint8_t rgba[8] = {1, 2, 3, 0, 250, 251, 252, 255};
    raw_png(tl_path(dir, "rgba.png"), 2, 1, PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba, 8, NULL, 0, NULL, 0);
    CHECK_OK(ftn_image_read(tl_path(dir, "rgba.png"), &im));
    CHECK(im.channels == 3 && im.width == 2);
    if (im.data && im.channels == 3) {
        CHECK(close_to(im.data[0], 1 / 255.0f) && close_to(im.data[2], 3 / 255.0f));
        CHECK(close_to(im.data[3], 250 / 255.0f) && close_to(im.data[5], 252 / 255.0f));
    }
    ftn_image_free(&im);

    /* probe agrees */
    int w, h, c;
    CHECK_OK(ftn_image_probe(tl_path(dir, "rgba.png"), 0, &w, &h, &c));
    CHECK(w == 2 && h == 1 && c == 3);
    CHECK_OK(ftn_image_probe(tl_path(dir, "ga.png"), 0, &w, &h, &c));
    CHECK(w == 2 && h == 1 && c == 1);

    /* bad writer arguments */
    CHECK(ftn_image_write_png(tl_path(dir, "x.png"), 0, 2, 1, g) == FTN_EINVAL);
    CHECK(ftn_image_write_png(tl_path(dir, "nodir/x.png"), 3, 2, 1, g) == FTN_EIO);
}

static void write_jpeg(const char *path, int w, int h, int c, const uint8_t *px, int progressive)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    ci.err = jpeg_std_error(&je);
    jpeg_create_compress(&ci);
    FILE *f = fopen(path, "wb");
    jpeg_stdio_dest(&ci, f);
    ci.image_width = w;
    ci.image_height = h;
    ci.input_components = c;
    ci.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 98, TRUE);
    if (progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < (unsigned)h) {
        JSAMPROW r = (JSAMPROW)(px + (size_t)ci.next_scanline * w * c);
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(f);
}

static void test_jpeg(void)
{
    enum { W = 40, H = 24 };
    uint8_t rgb[W * H * 3], g[W * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = rgb + (y * W + x) * 3;
            p[0] = (uint8_t)(x * 6);
            p[1] = (uint8_t)(y * 10);
            p[2] = 128;
            g[y * W + x] = (uint8_t)(x * 3 + y * 4);
        }
    write_jpeg(tl_path(dir, "c.jpg"), W, H, 3, rgb, 0);
    write_jpeg(tl_path(dir, "g.jpg"), W, H, 1, g, 1);
    ftn_image im;
    CHECK_OK(ftn_image_read(tl_path(dir, "c.jpg"), &im));
    CHECK(im.width == W && im.height == H && im.channels == 3);
    double err = 0;
    for (int i = 0; i < W * H * 3 && im.data; i++) err = fmax(err, fabs(im.data[i] - rgb[i] / 255.0));
    CHECK(err < 0.08, "jpeg colour max error %g", err);
    ftn_image_free(&im);
    CHECK_OK(ftn_image_read(tl_path(dir, "g.jpg"), &im));
    CHECK(im.width == W && im.height == H && im.channels == 1);
    err = 0;
    for (int i = 0; i < W * H && im.data; i++) err = fmax(err, fabs(im.data[i] - g[i] / 255.0));
    CHECK(err < 0.05, "jpeg grey max error %g", err);
    ftn_image_free(&im);
}

/* ---- BMP crafting ---- */
static void put16(uint8_t *p, uint32_t v) { p[0] = v & 255; p[1] = (v >> 8) & 255; }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (v >> (8 * i)) & 255; }

/* Builds a BMP with a header of hsz bytes (40 or 124); pix(x, y) gives the stored value (palette
 * index or 0xRRGGBB or raw 32-bit). Returns the size. */
static size_t make_bmp(uint8_t *buf, int w, int h, int top_down, int bpp, int hsz, int comp, const uint32_t *masks,
                       const uint32_t *pal, int npal, uint32_t (*pix)(int x, int y))
{
    int nmask_after = (comp == 3 && hsz == 40) ? 12 : 0;
    size_t pal_off = 14 + hsz + nmask_after;
    size_t off = pal_off + (size_t)npal * 4;
    size_t stride = ((size_t)w * bpp + 31) / 32 * 4;
    size_t total = off + stride * h;
    memset(buf, 0, total);
    buf[0] = 'B';
    buf[1] = 'M';
    put32(buf + 2, (uint32_t)total);
    put32(buf + 10, (uint32_t)off);
    put32(buf + 14, hsz);
    put32(buf + 18, w);
    put32(buf + 22, (uint32_t)(top_down ? -h : h));
    put16(buf + 26, 1);
    put16(buf + 28, bpp);
    put32(buf + 30, comp);
    put32(buf + 46, npal);
    if (comp == 3)
        for (int i = 0; i < 3; i++) put32(buf + 54 + 4 * i, masks[i]);
    for (int i = 0; i < npal; i++) put32(buf + pal_off + 4 * i, pal[i]); /* 0x00RRGGBB little-endian = B,G,R,0 */
    for (int y = 0; y < h; y++) {
        uint8_t *r = buf + off + stride * (top_down ? y : h - 1 - y);
        for (int x = 0; x < w; x++) {
            uint32_t v = pix(x, y);
            if (bpp == 1) r[x / 8] |= (uint8_t)((v & 1) << (7 - x % 8));
            else if (bpp == 8) r[x] = (uint8_t)v;
            else if (bpp == 24) { r[3 * x] = v & 255; r[3 * x + 1] = (v >> 8) & 255; r[3 * x + 2] = (v >> 16) & 255; }
            else put32(r + 4 * x, v);
        }
    }
    return total;
}

static uint32_t pix_idx1(int x, int y) { return (uint32_t)((x + y) & 1); }
static uint32_t pix_idx8(int x, int y) { return (uint32_t)((x * 3 + y) % 4); }
static uint32_t pix_rgb(int x, int y) { return (uint32_t)((x * 40) << 16 | (y * 50) << 8 | (x + y) * 7); }
/* For the bit-field BMP: R in bits 0-7, G in 8-15, B in 16-23 (reverse of the usual). */
static uint32_t pix_bf(int x, int y) { uint32_t c = pix_rgb(x, y); return ((c >> 16) & 255) | (c & 0xFF00) | (c & 255) << 16; }

static void check_rgb(const ftn_image *im, int w, int h, const char *what)
{
    CHECK(im->width == w && im->height == h && im->channels == 3, "%s: %dx%dx%d", what, im->width, im->height, im->channels);
    if (!im->data || im->channels != 3) return;
    int bad = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t c = pix_rgb(x, y);
            const float *p = im->data + (y * w + x) * 3;
            if (!close_to(p[0], ((c >> 16) & 255) / 255.0f) || !close_to(p[1], ((c >> 8) & 255) / 255.0f) ||
                !close_to(p[2], (c & 255) / 255.0f))
                bad++;
        }
    CHECK(bad == 0, "%s: %d wrong pixels", what, bad);
}

static void test_bmp(void)
{
    static uint8_t buf[1 << 16];
    enum { W = 5, H = 3 };
    ftn_image im;
    for (int td = 0; td < 2; td++) {
        char name[64];
        /* 1-bit, black/white palette → grey */
        uint32_t bw[2] = {0x000000, 0xFFFFFF};
        size_t n = make_bmp(buf, W, H, td, 1, 40, 0, NULL, bw, 2, pix_idx1);
        snprintf(name, sizeof name, "b1_%d.bmp", td);
        write_bytes(tl_path(dir, name), buf, n);
        CHECK_OK(ftn_image_read(tl_path(dir, name), &im));
        CHECK(im.width == W && im.height == H && im.channels == 1, "%s", name);
        int bad = 0;
        for (int y = 0; y < H && im.data; y++)
            for (int x = 0; x < W; x++) bad += !close_to(im.data[y * W + x], (float)pix_idx1(x, y));
        CHECK(bad == 0, "%s: %d wrong", name, bad);
        ftn_image_free(&im);

        /* 8-bit colour palette → RGB */
        uint32_t pal[4] = {0xFF0000, 0x00FF00, 0x0000FF, 0x102030};
        n = make_bmp(buf, W, H, td, 8, 40, 0, NULL, pal, 4, pix_idx8);
        snprintf(name, sizeof name, "b8_%d.bmp", td);
        write_bytes(tl_path(dir, name), buf, n);
        CHECK_OK(ftn_image_read(tl_path(dir, name), &im));
        CHECK(im.width == W && im.height == H && im.channels == 3, "%s", name);
        bad = 0;
        for (int y = 0; y < H && im.data && im.channels == 3; y++)
            for (int x = 0; x < W; x++) {
                uint32_t c = pal[pix_idx8(x, y)];
                const float *p = im.data + (y * W + x) * 3;
                bad += !close_to(p[0], ((c >> 16) & 255) / 255.0f) || !close_to(p[2], (c & 255) / 255.0f);
            }
        CHECK(bad == 0, "%s: %d wrong", name, bad);
        ftn_image_free(&im);

        /* 8-bit grey palette → 1 channel */
        uint32_t gp[4] = {0x000000, 0x404040, 0x808080, 0xFFFFFF};
        n = make_bmp(buf, W, H, td, 8, 40, 0, NULL, gp, 4, pix_idx8);
        snprintf(name, sizeof name, "b8g_%d.bmp", td);
        write_bytes(tl_path(dir, name), buf, n);
        CHECK_OK(ftn_image_read(tl_path(dir, name), &im));
        CHECK(im.channels == 1, "%s", name);
        if (im.data) CHECK(close_to(im.data[1], 1.0f) && close_to(im.data[3], 0x40 / 255.0f) && close_to(im.data[W + 1], 0), "%s", name);
        ftn_image_free(&im);

        /* 24-bit */
        n = make_bmp(buf, W, H, td, 24, 40, 0, NULL, NULL, 0, pix_rgb);
        snprintf(name, sizeof name, "b24_%d.bmp", td);
        write_bytes(tl_path(dir, name), buf, n);
        CHECK_OK(ftn_image_read(tl_path(dir, name), &im));
        check_rgb(&im, W, H, name);
        ftn_image_free(&im);

        /* 32-bit BI_RGB (BGRX) */
        n = make_bmp(buf, W, H, td, 32, 40, 0, NULL, NULL, 0, pix_rgb);
        snprintf(name, sizeof name, "b32_%d.bmp", td);
        write_bytes(tl_path(dir, name), buf, n);
        CHECK_OK(ftn_image_read(tl_path(dir, name), &im));
        check_rgb(&im, W, H, name);
        ftn_image_free(&im);

        /* 32-bit BI_BITFIELDS, masks after a 40-byte header and inside a V5 header */
        uint32_t masks[3] = {0x000000FF, 0x0000FF00, 0x00FF0000};
        for (int v5 = 0; v5 < 2; v5++) {
            n = make_bmp(buf, W, H, td, 32, v5 ? 124 : 40, 3, masks, NULL, 0, pix_bf);
            snprintf(name, sizeof name, "b32bf_%d_%d.bmp", td, v5);
            write_bytes(tl_path(dir, name), buf, n);
            CHECK_OK(ftn_image_read(tl_path(dir, name), &im));
            check_rgb(&im, W, H, name);
            ftn_image_free(&im);
        }
    }
    /* palette index out of range */
    uint32_t two[2] = {0, 0xFFFFFF};
    size_t n = make_bmp(buf, W, H, 0, 8, 40, 0, NULL, two, 2, pix_idx8);
    write_bytes(tl_path(dir, "badidx.bmp"), buf, n);
    CHECK(ftn_image_read(tl_path(dir, "badidx.bmp"), &im) == FTN_EFORMAT);
    CHECK(strstr(ftn_last_error(), "badidx.bmp") != NULL, "%s", ftn_last_error());
    CHECK(im.data == NULL);
}

static void expect_fail(const char *file, const char *why)
{
    ftn_image im;
    ftn_status s = ftn_image_read(tl_path(dir, file), &im);
    CHECK(s != FTN_OK, "%s: %s accepted", file, why);
    CHECK(strstr(ftn_last_error(), file) != NULL, "%s: message '%s' does not name the file", file, ftn_last_error());
    CHECK(im.data == NULL && im.width == 0);
}

static void truncate_copy(const char *src, const char *dst, size_t keep_num, size_t keep_den)
{
    size_t n;
    uint8_t *b = slurp(tl_path(dir, src), &n);
    if (!b) { CHECK(0, "cannot read %s", src); return; }
    write_bytes(tl_path(dir, dst), b, n * keep_num / keep_den);
    free(b);
}

static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void test_hostile(void)
{
    uint8_t junk[300];
    uint64_t s = 7;
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)tl_next(&s);
    write_bytes(tl_path(dir, "junk.png"), junk, sizeof junk);
    expect_fail("junk.png", "garbage");
    write_bytes(tl_path(dir, "empty.png"), junk, 0);
    expect_fail("empty.png", "empty");
    expect_fail("does-not-exist.png", "missing");
    CHECK(ftn_image_read(dir, &(ftn_image){0}) != FTN_OK); /* a folder */

    /* a larger image so that half a file is missing real data */
    enum { W = 64, H = 48 };
    uint8_t *px = malloc(W * H * 3);
    for (int i = 0; i < W * H * 3; i++) px[i] = (uint8_t)tl_next(&s);
    CHECK_OK(ftn_image_write_png(tl_path(dir, "big.png"), W, H, 3, px));
    write_jpeg(tl_path(dir, "big.jpg"), W, H, 3, px, 0);
    write_jpeg(tl_path(dir, "bigp.jpg"), W, H, 3, px, 1);
    truncate_copy("big.png", "half.png", 1, 2);
    truncate_copy("big.jpg", "half.jpg", 1, 2);
    truncate_copy("bigp.jpg", "halfp.jpg", 1, 2);
    truncate_copy("big.png", "head.png", 1, 200);
    truncate_copy("big.jpg", "head.jpg", 1, 100);
    expect_fail("half.png", "truncated PNG");
    expect_fail("half.jpg", "truncated JPEG");
    expect_fail("halfp.jpg", "truncated progressive JPEG");
    expect_fail("head.png", "PNG header only");
    expect_fail("head.jpg", "JPEG header only");
    static uint8_t buf[1 << 16];
    size_t n = make_bmp(buf, W, H, 0, 24, 40, 0, NULL, NULL, 0, pix_rgb);
    write_bytes(tl_path(dir, "half.bmp"), buf, n / 2);
    expect_fail("half.bmp", "truncated BMP");
    write_bytes(tl_path(dir, "head.bmp"), buf, 20);
    expect_fail("head.bmp", "BMP header cut");
    /* corrupt a PNG in the middle (CRC / zlib errors) */
    size_t pn;
    uint8_t *pb = slurp(tl_path(dir, "big.png"), &pn);
    for (size_t i = 60; i < pn - 20; i += 7) pb[i] ^= 0x5A;
    write_bytes(tl_path(dir, "flipped.png"), pb, pn);
    expect_fail("flipped.png", "corrupt PNG");
    free(pb);
    free(px);

    /* headers claiming 100000×100000 pixels */
    n = make_bmp(buf, 1, 1, 0, 24, 40, 0, NULL, NULL, 0, pix_rgb);
    put32(buf + 18, 100000);
    put32(buf + 22, 100000);
    write_bytes(tl_path(dir, "huge.bmp"), buf, n);
    expect_fail("huge.bmp", "huge BMP");
    CHECK(strstr(ftn_last_error(), "--max-pixels") != NULL, "%s", ftn_last_error());
    uint8_t one[3] = {1, 2, 3};
    CHECK_OK(ftn_image_write_png(tl_path(dir, "huge.png"), 1, 1, 3, one));
    pb = slurp(tl_path(dir, "huge.png"), &pn);
    /* IHDR at byte 16: width, height big-endian; fix the CRC so libpng gets to the size check */
    uint8_t dims[8] = {0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0};
    memcpy(pb + 16, dims, 8);
    uint32_t crc = crc32_png(pb + 12, 17);
    pb[29] = crc >> 24; pb[30] = crc >> 16; pb[31] = crc >> 8; pb[32] = crc;
    write_bytes(tl_path(dir, "huge.png"), pb, pn);
    free(pb);
    expect_fail("huge.png", "huge PNG");
    CHECK(strstr(ftn_last_error(), "--max-pixels") != NULL, "%s", ftn_last_error());
    /* a JPEG with a fake 65000×65000 SOF */
    pb = slurp(tl_path(dir, "big.jpg"), &pn);
    for (size_t i = 2; i + 9 < pn; i++)
        if (pb[i] == 0xFF && pb[i + 1] == 0xC0) {
            pb[i + 5] = 0xFD; pb[i + 6] = 0xE8; pb[i + 7] = 0xFD; pb[i + 8] = 0xE8;
            break;
        }
    write_bytes(tl_path(dir, "huge.jpg"), pb, pn);
    free(pb);
    expect_fail("huge.jpg", "huge JPEG");
    CHECK(strstr(ftn_last_error(), "--max-pixels") != NULL, "%s", ftn_last_error());

    /* the limit can be lowered and raised */
    ftn_image im;
    ftn_image_set_max_pixels(100);
    CHECK(ftn_image_read(tl_path(dir, "big.png"), &im) == FTN_EFORMAT);
    ftn_image_set_max_pixels(0);
    CHECK(ftn_image_max_pixels() == 100000000u);
    CHECK_OK(ftn_image_read(tl_path(dir, "big.png"), &im));
    ftn_image_free(&im);
    CHECK(ftn_image_read_limit(tl_path(dir, "big.png"), 64 * 48 - 1, &im) == FTN_EFORMAT);
}

/* ---- TIFF (written here with libtiff itself) and WebP (libwebp's lossless encoder) ---- */

/* Runs ftn_image_read on dir/file with stderr sent to a scratch file; returns the status and
 * sets *noise to the bytes that reached stderr meanwhile (libtiff prints there by default). */
static ftn_status read_quietly(const char *file, ftn_image *im, long *noise)
{
    char spill[4096];
    snprintf(spill, sizeof spill, "%s", tl_path(dir, "stderr.txt"));
    fflush(stderr);
    int saved = dup(2), fd = open(spill, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (saved < 0 || fd < 0) {
        *noise = -1;
        return ftn_image_read(tl_path(dir, file), im);
    }
    dup2(fd, 2);
    close(fd);
    ftn_status s = ftn_image_read(tl_path(dir, file), im);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat sb;
    *noise = stat(spill, &sb) == 0 ? (long)sb.st_size : -1;
    return s;
}

/* A failing read that names the file and prints nothing. */
static void expect_quiet_fail(const char *file, const char *why)
{
    ftn_image im;
    long noise;
    ftn_status s = read_quietly(file, &im, &noise);
    CHECK(s != FTN_OK, "%s: %s accepted", file, why);
    CHECK(strstr(ftn_last_error(), file) != NULL, "%s: message '%s' does not name the file", file, ftn_last_error());
    CHECK(im.data == NULL && im.width == 0);
    CHECK(noise == 0, "%s: %ld bytes went to stderr while reading it", file, noise);
    if (s == FTN_OK) ftn_image_free(&im);
}

typedef struct tiff_spec {
    int w, h, spp, bps, photometric;
    int separate;      /* PLANARCONFIG_SEPARATE */
    int tile;          /* tile side (multiple of 16), 0: strips */
    int rps;           /* rows per strip */
    int compression;   /* COMPRESSION_NONE, _LZW, _ADOBE_DEFLATE, ... */
    int orientation;   /* 0: no tag */
    int alpha;         /* the last sample is unassociated alpha */
    int big_endian;
} tiff_spec;

/* The raw sample value (≤ 2^bps − 1) of (x, y, k): a pattern that uses the whole range. */
static uint32_t tv(const tiff_spec *t, int x, int y, int k)
{
    uint32_t top = (1u << t->bps) - 1;
    uint64_t v = (uint64_t)(x * 7919 + y * 104729 + k * 15485863) * 2654435761u;
    uint32_t r = (uint32_t)(v >> 17) & top;
    if (x == 0 && y == 0) r = 0;
    if (x == 1 && y == 0) r = top;
    return r;
}

static void tiff_put(uint8_t *p, int bps, uint32_t v)
{
    if (bps == 16) {
        uint16_t u = (uint16_t)v;
        memcpy(p, &u, 2); /* libtiff takes host order and swaps for a big-endian file */
    } else {
        *p = (uint8_t)v;
    }
}

static void write_tiff(const char *path, const tiff_spec *t)
{
    TIFF *tif = TIFFOpen(path, t->big_endian ? "wb" : "wl");
    if (!tif) { CHECK(0, "libtiff cannot create %s", path); return; }
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)t->w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)t->h);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)t->spp);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)t->bps);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, (uint16_t)t->photometric);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, (uint16_t)(t->separate ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG));
    TIFFSetField(tif, TIFFTAG_COMPRESSION, (uint16_t)(t->compression ? t->compression : COMPRESSION_NONE));
    if (t->orientation) TIFFSetField(tif, TIFFTAG_ORIENTATION, (uint16_t)t->orientation);
    if (t->alpha) {
        uint16_t ex = EXTRASAMPLE_UNASSALPHA;
        TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (uint16_t)1, &ex);
    }
    int sps = t->separate ? 1 : t->spp, planes = t->separate ? t->spp : 1, bytes = t->bps / 8;
    if (t->tile) {
        TIFFSetField(tif, TIFFTAG_TILEWIDTH, (uint32_t)t->tile);
        TIFFSetField(tif, TIFFTAG_TILELENGTH, (uint32_t)t->tile);
        size_t n = (size_t)t->tile * t->tile * sps * bytes;
        uint8_t *buf = malloc(n);
        for (int pl = 0; pl < planes; pl++)
            for (int y0 = 0; y0 < t->h; y0 += t->tile)
                for (int x0 = 0; x0 < t->w; x0 += t->tile) {
                    memset(buf, 0xA5, n); /* padding outside the image: must be ignored */
                    for (int yy = 0; yy < t->tile && y0 + yy < t->h; yy++)
                        for (int xx = 0; xx < t->tile && x0 + xx < t->w; xx++)
                            for (int k = 0; k < sps; k++)
                                tiff_put(buf + (((size_t)yy * t->tile + xx) * sps + k) * bytes, t->bps,
                                         tv(t, x0 + xx, y0 + yy, t->separate ? pl : k));
                    if (TIFFWriteEncodedTile(tif, TIFFComputeTile(tif, x0, y0, 0, (uint16_t)pl), buf, (tmsize_t)n) < 0)
                        CHECK(0, "libtiff: writing a tile of %s", path);
                }
        free(buf);
    } else if (t->bps < 8) {
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, (uint32_t)t->h);
        size_t rb = ((size_t)t->w * t->bps + 7) / 8;
        uint8_t *buf = calloc(rb * t->h, 1);
        for (int y = 0; y < t->h; y++)
            for (int x = 0; x < t->w; x++)
                buf[y * rb + (size_t)x * t->bps / 8] |= (uint8_t)(tv(t, x, y, 0) << (8 - t->bps - (x * t->bps) % 8));
        if (TIFFWriteEncodedStrip(tif, 0, buf, (tmsize_t)(rb * t->h)) < 0) CHECK(0, "libtiff: writing %s", path);
        free(buf);
    } else {
        int rps = t->rps ? t->rps : t->h;
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, (uint32_t)rps);
        int per_plane = (t->h + rps - 1) / rps;
        size_t rb = (size_t)t->w * sps * bytes;
        uint8_t *buf = malloc(rb * rps);
        for (int pl = 0; pl < planes; pl++)
            for (int s = 0; s < per_plane; s++) {
                int rows = t->h - s * rps < rps ? t->h - s * rps : rps;
                for (int yy = 0; yy < rows; yy++)
                    for (int x = 0; x < t->w; x++)
                        for (int k = 0; k < sps; k++)
                            tiff_put(buf + yy * rb + ((size_t)x * sps + k) * bytes, t->bps,
                                     tv(t, x, s * rps + yy, t->separate ? pl : k));
                if (TIFFWriteEncodedStrip(tif, (uint32_t)(pl * per_plane + s), buf, (tmsize_t)(rb * rows)) < 0)
                    CHECK(0, "libtiff: writing a strip of %s", path);
            }
        free(buf);
    }
    TIFFClose(tif);
}

/* Reads dir/name back and checks every value against tv() (exactly: the reader divides by
 * 2^bps − 1 as the PNG reader does), with MINISWHITE inverted and the orientation's flips. */
static void check_tiff(const char *name, const tiff_spec *t, int want_c)
{
    ftn_image im;
    long noise;
    CHECK(read_quietly(name, &im, &noise) == FTN_OK, "%s: %s", name, ftn_last_error());
    CHECK(noise == 0, "%s: %ld bytes on stderr", name, noise);
    CHECK(im.width == t->w && im.height == t->h && im.channels == want_c, "%s: %dx%dx%d", name, im.width, im.height,
          im.channels);
    int w = 0, h = 0, c = 0;
    CHECK_OK(ftn_image_probe(tl_path(dir, name), 0, &w, &h, &c));
    CHECK(w == t->w && h == t->h && c == want_c, "%s: probe %dx%dx%d", name, w, h, c);
    if (!im.data || im.width != t->w || im.height != t->h || im.channels != want_c) {
        ftn_image_free(&im);
        return;
    }
    float top = (float)((1u << t->bps) - 1);
    int o = t->orientation ? t->orientation : ORIENTATION_TOPLEFT;
    int hflip = o == ORIENTATION_TOPRIGHT || o == ORIENTATION_BOTRIGHT, vflip = o == ORIENTATION_BOTRIGHT || o == ORIENTATION_BOTLEFT;
    int bad = 0;
    for (int y = 0; y < t->h; y++)
        for (int x = 0; x < t->w; x++)
            for (int k = 0; k < want_c; k++) {
                uint32_t v = tv(t, hflip ? t->w - 1 - x : x, vflip ? t->h - 1 - y : y, k);
                if (t->photometric == PHOTOMETRIC_MINISWHITE) v = (uint32_t)top - v;
                float want = (float)v / top, got = im.data[((size_t)y * t->w + x) * want_c + k];
                if (got != want && bad++ < 3) fprintf(stderr, "%s: (%d, %d, %d) = %g, want %g\n", name, x, y, k, got, want);
            }
    CHECK(bad == 0, "%s: %d wrong values", name, bad);
    ftn_image_free(&im);
}

/* A minimal little-endian TIFF, directory first: one uncompressed strip of w×h bps-bit grey,
 * with sample format fmt (0: no tag). The pixel data follows (data_len bytes of a pattern). */
static size_t tiny_tiff(uint8_t *b, uint32_t w, uint32_t h, int bps, int fmt, uint32_t data_len)
{
    uint16_t tags[10][2] = {{256, 4}, {257, 4}, {258, 3}, {259, 3}, {262, 3}, {273, 4}, {277, 3}, {278, 4}, {279, 4}, {339, 3}};
    int n = fmt ? 10 : 9;
    uint32_t data_off = 8 + 2 + 12 * (uint32_t)n + 4;
    uint32_t vals[10] = {w, h, (uint32_t)bps, 1, 1, data_off, 1, h, data_len, (uint32_t)fmt};
    memcpy(b, "II*\0", 4);
    put32(b + 4, 8);
    put16(b + 8, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        uint8_t *e = b + 10 + 12 * i;
        put16(e, tags[i][0]);
        put16(e + 2, tags[i][1]);
        put32(e + 4, 1);
        put32(e + 8, 0);
        if (tags[i][1] == 3) put16(e + 8, vals[i]);
        else put32(e + 8, vals[i]);
    }
    put32(b + 10 + 12 * n, 0);
    for (uint32_t i = 0; i < data_len; i++) b[data_off + i] = (uint8_t)(i * 13);
    return data_off + data_len;
}

static void test_tiff(void)
{
    enum { W = 37, H = 23 };
    struct { const char *name; tiff_spec t; int c; } cases[] = {
        {"grey8_strips.tif", {W, H, 1, 8, PHOTOMETRIC_MINISBLACK, 0, 0, 5, 0, 0, 0, 0}, 1},
        {"grey16_strips_be.tif", {W, H, 1, 16, PHOTOMETRIC_MINISBLACK, 0, 0, 4, 0, 0, 0, 1}, 1},
        {"grey16_lzw.tif", {W, H, 1, 16, PHOTOMETRIC_MINISBLACK, 0, 0, 7, COMPRESSION_LZW, 0, 0, 0}, 1},
        {"grey8_tiled.tif", {W, H, 1, 8, PHOTOMETRIC_MINISBLACK, 0, 16, 0, 0, 0, 0, 0}, 1},
        {"grey16_tiled_deflate.tif", {W, H, 1, 16, PHOTOMETRIC_MINISBLACK, 0, 16, 0, COMPRESSION_ADOBE_DEFLATE, 0, 0, 1}, 1},
        {"greyalpha8.tif", {W, H, 2, 8, PHOTOMETRIC_MINISBLACK, 0, 0, 3, 0, 0, 1, 0}, 1},
        {"greyalpha16_tiled.tif", {W, H, 2, 16, PHOTOMETRIC_MINISBLACK, 0, 32, 0, 0, 0, 1, 0}, 1},
        {"miniswhite8.tif", {W, H, 1, 8, PHOTOMETRIC_MINISWHITE, 0, 0, 6, 0, 0, 0, 0}, 1},
        {"rgb8_strips.tif", {W, H, 3, 8, PHOTOMETRIC_RGB, 0, 0, 2, 0, 0, 0, 0}, 3},
        {"rgb8_deflate.tif", {W, H, 3, 8, PHOTOMETRIC_RGB, 0, 0, 8, COMPRESSION_ADOBE_DEFLATE, 0, 0, 0}, 3},
        {"rgb16_strips.tif", {W, H, 3, 16, PHOTOMETRIC_RGB, 0, 0, 5, 0, 0, 0, 1}, 3},
        {"rgb8_tiled.tif", {W, H, 3, 8, PHOTOMETRIC_RGB, 0, 16, 0, 0, 0, 0, 0}, 3},
        {"rgba8_strips.tif", {W, H, 4, 8, PHOTOMETRIC_RGB, 0, 0, 5, 0, 0, 1, 0}, 3},
        {"rgba16_tiled.tif", {W, H, 4, 16, PHOTOMETRIC_RGB, 0, 16, 0, COMPRESSION_LZW, 0, 1, 0}, 3},
        {"rgb8_planes.tif", {W, H, 3, 8, PHOTOMETRIC_RGB, 1, 0, 5, 0, 0, 0, 0}, 3},
        {"rgba16_planes_tiled.tif", {W, H, 4, 16, PHOTOMETRIC_RGB, 1, 16, 0, 0, 0, 1, 1}, 3},
        {"grey8_botleft.tif", {W, H, 1, 8, PHOTOMETRIC_MINISBLACK, 0, 0, 5, 0, ORIENTATION_BOTLEFT, 0, 0}, 1},
        {"rgb8_botright.tif", {W, H, 3, 8, PHOTOMETRIC_RGB, 0, 16, 0, 0, ORIENTATION_BOTRIGHT, 0, 0}, 3},
        {"grey4.tif", {W, H, 1, 4, PHOTOMETRIC_MINISBLACK, 0, 0, 0, 0, 0, 0, 0}, 1}, /* through RGBA */
        {"grey2.tif", {W, H, 1, 2, PHOTOMETRIC_MINISBLACK, 0, 0, 0, 0, 0, 0, 0}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_tiff(tl_path(dir, cases[i].name), &cases[i].t);
        check_tiff(cases[i].name, &cases[i].t, cases[i].c);
    }

    /* masks: 0/255 and 0/1 8-bit, and a 1-bit bilevel one (MINISWHITE, as fax-style files are) */
    uint8_t m[8 * 4];
    for (int i = 0; i < 32; i++) m[i] = (i % 8 >= 2 && i % 8 < 6 && i / 8 >= 1) ? 255 : 0;
    for (int v01 = 0; v01 < 2; v01++) {
        const char *name = v01 ? "mask01.tif" : "mask255.tif";
        TIFF *tif = TIFFOpen(tl_path(dir, name), "w");
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 8u);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 4u);
        TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_PACKBITS);
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 4u);
        uint8_t mm[32];
        for (int i = 0; i < 32; i++) mm[i] = v01 ? (uint8_t)(m[i] != 0) : m[i];
        TIFFWriteEncodedStrip(tif, 0, mm, 32);
        TIFFClose(tif);
        ftn_image im;
        CHECK_OK(ftn_image_read(tl_path(dir, name), &im));
        CHECK(im.width == 8 && im.height == 4 && im.channels == 1, "%s", name);
        int bad = 0;
        for (int i = 0; i < 32 && im.data; i++) bad += im.data[i] != (m[i] ? (v01 ? 1.0f / 255.0f : 1.0f) : 0.0f);
        CHECK(bad == 0, "%s: %d wrong", name, bad);
        ftn_image_free(&im);
    }
    {
        tiff_spec t = {W, H, 1, 1, PHOTOMETRIC_MINISWHITE, 0, 0, 0, 0, 0, 0, 0};
        write_tiff(tl_path(dir, "bilevel.tif"), &t);
        check_tiff("bilevel.tif", &t, 1);
        /* and the same mask CCITT G4-compressed */
        TIFF *in = TIFFOpen(tl_path(dir, "bilevel.tif"), "r"), *g4 = TIFFOpen(tl_path(dir, "bilevel_g4.tif"), "w");
        uint8_t row[8];
        TIFFSetField(g4, TIFFTAG_IMAGEWIDTH, (uint32_t)W);
        TIFFSetField(g4, TIFFTAG_IMAGELENGTH, (uint32_t)H);
        TIFFSetField(g4, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(g4, TIFFTAG_BITSPERSAMPLE, 1);
        TIFFSetField(g4, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
        TIFFSetField(g4, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
        TIFFSetField(g4, TIFFTAG_ROWSPERSTRIP, (uint32_t)H);
        for (int y = 0; y < H; y++) {
            TIFFReadScanline(in, row, (uint32_t)y, 0);
            TIFFWriteScanline(g4, row, (uint32_t)y, 0);
        }
        TIFFClose(in);
        TIFFClose(g4);
        check_tiff("bilevel_g4.tif", &t, 1);
    }

    /* palette: expanded to RGB (3 channels) through libtiff's RGBA path */
    {
        TIFF *tif = TIFFOpen(tl_path(dir, "palette.tif"), "w");
        uint16_t r[256], g[256], b[256];
        for (int i = 0; i < 256; i++) r[i] = (uint16_t)(i * 257), g[i] = (uint16_t)((255 - i) * 257), b[i] = (uint16_t)((i / 2) * 257);
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 4u);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 2u);
        TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_PALETTE);
        TIFFSetField(tif, TIFFTAG_COLORMAP, r, g, b);
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 2u);
        uint8_t idx[8] = {0, 10, 200, 255, 1, 2, 3, 128};
        TIFFWriteEncodedStrip(tif, 0, idx, 8);
        TIFFClose(tif);
        ftn_image im;
        CHECK_OK(ftn_image_read(tl_path(dir, "palette.tif"), &im));
        CHECK(im.width == 4 && im.height == 2 && im.channels == 3);
        int bad = 0;
        for (int i = 0; i < 8 && im.data && im.channels == 3; i++)
            bad += im.data[3 * i] != idx[i] / 255.0f || im.data[3 * i + 1] != (255 - idx[i]) / 255.0f ||
                   im.data[3 * i + 2] != (idx[i] / 2) / 255.0f;
        CHECK(bad == 0, "palette: %d wrong", bad);
        ftn_image_free(&im);
    }

    /* only the first page of a multi-page file */
    {
        TIFF *tif = TIFFOpen(tl_path(dir, "pages.tif"), "w");
        uint8_t px[16 * 16 * 3];
        memset(px, 77, sizeof px);
        for (int page = 0; page < 2; page++) {
            uint32_t w = page ? 16 : 6, h = page ? 16 : 5;
            TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, w);
            TIFFSetField(tif, TIFFTAG_IMAGELENGTH, h);
            TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, page ? 3 : 1);
            TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
            TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, page ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
            TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, h);
            TIFFWriteEncodedStrip(tif, 0, px, (tmsize_t)(w * h * (page ? 3 : 1)));
            TIFFWriteDirectory(tif);
        }
        TIFFClose(tif);
        int w, h, c;
        CHECK_OK(ftn_image_probe(tl_path(dir, "pages.tif"), 0, &w, &h, &c));
        CHECK(w == 6 && h == 5 && c == 1, "pages: probe %dx%dx%d", w, h, c);
        ftn_image im;
        CHECK_OK(ftn_image_read(tl_path(dir, "pages.tif"), &im));
        CHECK(im.width == 6 && im.height == 5 && im.channels == 1 && im.data && im.data[29] == 77 / 255.0f);
        ftn_image_free(&im);
    }

    /* hostile TIFFs: each refused naming the file, libtiff silent */
    static uint8_t buf[1 << 16];
    size_t n = tiny_tiff(buf, 64, 48, 8, 0, 64 * 48);
    write_bytes(tl_path(dir, "tiny.tif"), buf, n);
    ftn_image im;
    CHECK_OK(ftn_image_read(tl_path(dir, "tiny.tif"), &im));
    CHECK(im.width == 64 && im.height == 48 && im.data && im.data[5] == 65 / 255.0f);
    ftn_image_free(&im);
    write_bytes(tl_path(dir, "tiny_half.tif"), buf, n / 2); /* directory intact, strip cut */
    expect_quiet_fail("tiny_half.tif", "a strip past the end");
    write_bytes(tl_path(dir, "tiny_head.tif"), buf, 20); /* directory cut */
    expect_quiet_fail("tiny_head.tif", "a cut directory");
    write_bytes(tl_path(dir, "tiny_sig.tif"), buf, 4);
    expect_quiet_fail("tiny_sig.tif", "a signature only");
    n = tiny_tiff(buf, 100000, 100000, 8, 0, 16);
    write_bytes(tl_path(dir, "huge.tif"), buf, n);
    expect_quiet_fail("huge.tif", "a 100000x100000 TIFF");
    CHECK(strstr(ftn_last_error(), "--max-pixels") != NULL, "%s", ftn_last_error());
    CHECK(ftn_image_probe(tl_path(dir, "huge.tif"), 0, NULL, NULL, NULL) == FTN_EFORMAT);
    n = tiny_tiff(buf, 4, 4, 32, SAMPLEFORMAT_IEEEFP, 64);
    write_bytes(tl_path(dir, "float.tif"), buf, n);
    expect_quiet_fail("float.tif", "floating-point samples");
    CHECK(strstr(ftn_last_error(), "floating-point") != NULL, "%s", ftn_last_error());
    /* libtiff-written files (directory at the end) cut in half, and deflate data corrupted */
    truncate_copy("rgb8_deflate.tif", "rgb8_half.tif", 1, 2);
    expect_quiet_fail("rgb8_half.tif", "half a libtiff file");
    size_t fn;
    uint8_t *fb = slurp(tl_path(dir, "rgb8_deflate.tif"), &fn);
    for (size_t i = 12; i < fn / 2; i += 5) fb[i] ^= 0x5A;
    write_bytes(tl_path(dir, "rgb8_flipped.tif"), fb, fn);
    free(fb);
    expect_quiet_fail("rgb8_flipped.tif", "corrupt deflate data");
    fb = slurp(tl_path(dir, "grey16_tiled_deflate.tif"), &fn);
    write_bytes(tl_path(dir, "tiled_cut.tif"), fb, fn - 40); /* big-endian, tile tables cut */
    free(fb);
    expect_quiet_fail("tiled_cut.tif", "a cut tiled file");
    /* the pixel limit applies before decoding */
    CHECK(ftn_image_read_limit(tl_path(dir, "rgb8_tiled.tif"), W * H - 1, &im) == FTN_EFORMAT);
    CHECK(strstr(ftn_last_error(), "rgb8_tiled.tif") && strstr(ftn_last_error(), "--max-pixels"), "%s", ftn_last_error());
    CHECK(ftn_image_probe(tl_path(dir, "rgb8_tiled.tif"), W * H - 1, NULL, NULL, NULL) == FTN_EFORMAT);
}

static void test_webp(void)
{
    enum { W = 29, H = 17 };
    uint8_t rgb[W * H * 3], rgba[W * H * 4], grey[W * H * 3];
    uint64_t s = 11;
    for (int i = 0; i < W * H; i++) {
        for (int k = 0; k < 3; k++) rgb[3 * i + k] = rgba[4 * i + k] = (uint8_t)tl_next(&s);
        rgba[4 * i + 3] = (uint8_t)(1 + i % 255); /* no fully transparent pixel */
        grey[3 * i] = grey[3 * i + 1] = grey[3 * i + 2] = (uint8_t)(i * 3);
    }
    rgb[0] = rgb[1] = rgb[2] = 0;
    rgb[3] = rgb[4] = rgb[5] = 255;
    struct { const char *name; const uint8_t *src; int alpha; } cases[] = {
        {"rgb.webp", rgb, 0}, {"rgba.webp", rgba, 1}, {"grey.webp", grey, 0}};
    for (int i = 0; i < 3; i++) {
        uint8_t *enc = NULL;
        size_t n = cases[i].alpha ? WebPEncodeLosslessRGBA(cases[i].src, W, H, W * 4, &enc)
                                  : WebPEncodeLosslessRGB(cases[i].src, W, H, W * 3, &enc);
        CHECK(n > 0, "libwebp cannot encode %s", cases[i].name);
        write_bytes(tl_path(dir, cases[i].name), enc, n);
        WebPFree(enc);
        ftn_image im;
        CHECK_OK(ftn_image_read(tl_path(dir, cases[i].name), &im));
        CHECK(im.width == W && im.height == H && im.channels == 3, "%s: %dx%dx%d", cases[i].name, im.width, im.height,
              im.channels);
        int bad = 0, step = cases[i].alpha ? 4 : 3;
        for (int p = 0; p < W * H && im.data && im.channels == 3; p++)
            for (int k = 0; k < 3; k++) bad += im.data[3 * p + k] != cases[i].src[step * p + k] / 255.0f;
        CHECK(bad == 0, "%s: %d wrong values", cases[i].name, bad);
        ftn_image_free(&im);
        int w, h, c;
        CHECK_OK(ftn_image_probe(tl_path(dir, cases[i].name), 0, &w, &h, &c));
        CHECK(w == W && h == H && c == 3, "%s: probe %dx%dx%d", cases[i].name, w, h, c);
    }
    /* lossy: close, not exact */
    uint8_t *enc = NULL;
    size_t n = WebPEncodeRGB(grey, W, H, W * 3, 90, &enc);
    write_bytes(tl_path(dir, "lossy.webp"), enc, n);
    WebPFree(enc);
    ftn_image im;
    CHECK_OK(ftn_image_read(tl_path(dir, "lossy.webp"), &im));
    CHECK(im.width == W && im.height == H && im.channels == 3);
    ftn_image_free(&im);

    /* hostile: cut, corrupted, a 16383×16383 claim */
    truncate_copy("rgb.webp", "rgb_half.webp", 1, 2);
    expect_quiet_fail("rgb_half.webp", "half a WebP");
    truncate_copy("rgb.webp", "rgb_head.webp", 1, 50);
    expect_quiet_fail("rgb_head.webp", "a WebP header only");
    size_t fn;
    uint8_t *fb = slurp(tl_path(dir, "rgb.webp"), &fn);
    for (size_t i = 30; i < fn; i += 3) fb[i] ^= 0xA5;
    write_bytes(tl_path(dir, "rgb_flipped.webp"), fb, fn);
    expect_quiet_fail("rgb_flipped.webp", "corrupt WebP");
    free(fb);
    fb = slurp(tl_path(dir, "rgb.webp"), &fn);
    CHECK(fn > 25 && !memcmp(fb + 12, "VP8L", 4) && fb[20] == 0x2f, "the lossless file is a simple VP8L one");
    fb[21] = fb[22] = fb[23] = 0xFF; /* 14-bit width − 1 and height − 1 all ones: 16384 × 16384 */
    fb[24] = (uint8_t)((fb[24] & 0xF0) | 0x0F);
    write_bytes(tl_path(dir, "huge.webp"), fb, fn);
    free(fb);
    expect_quiet_fail("huge.webp", "a 16384x16384 WebP");
    CHECK(strstr(ftn_last_error(), "--max-pixels") != NULL, "%s", ftn_last_error());
    CHECK(ftn_image_read_limit(tl_path(dir, "rgb.webp"), W * H - 1, &im) == FTN_EFORMAT);
    CHECK(strstr(ftn_last_error(), "--max-pixels") != NULL, "%s", ftn_last_error());
}

/* A data set folder of TIFF and WebP files: found by extension in any case, paired by stem. */
static void copy_file(const char *from, const char *to)
{
    size_t n;
    uint8_t *b = slurp(from, &n);
    if (!b) { CHECK(0, "cannot read %s", from); return; }
    CHECK(write_bytes(to, b, n) == 0, "cannot write %s", to);
    free(b);
}

static void test_dataset_formats(void)
{
    char root[4096], sub[4096 + 16];
    snprintf(root, sizeof root, "%s", tl_path(dir, "ds"));
    mkdir(root, 0755);
    snprintf(sub, sizeof sub, "%s/images", root);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/masks", root);
    mkdir(sub, 0755);
    char from[4096], to[4096 + 32];
    snprintf(from, sizeof from, "%s", tl_path(dir, "grey8_strips.tif"));
    snprintf(to, sizeof to, "%s/images/a.TIF", root);
    copy_file(from, to);
    snprintf(from, sizeof from, "%s", tl_path(dir, "bilevel.tif"));
    snprintf(to, sizeof to, "%s/masks/a_mask.tiff", root);
    copy_file(from, to);
    snprintf(from, sizeof from, "%s", tl_path(dir, "rgb.webp"));
    snprintf(to, sizeof to, "%s/images/b.WebP", root);
    copy_file(from, to);
    snprintf(from, sizeof from, "%s", tl_path(dir, "rgb8_tiled.tif"));
    snprintf(to, sizeof to, "%s/images/c.tiff", root);
    copy_file(from, to);
    snprintf(from, sizeof from, "%s", tl_path(dir, "bilevel_g4.tif"));
    snprintf(to, sizeof to, "%s/masks/c.Tif", root);
    copy_file(from, to);
    uint8_t m[29 * 17] = {0};
    m[5] = 255;
    snprintf(to, sizeof to, "%s/masks/b_mask.webp", root);
    uint8_t *enc = NULL, rgb[29 * 17 * 3];
    for (int i = 0; i < 29 * 17; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = m[i];
    size_t n = WebPEncodeLosslessRGB(rgb, 29, 17, 29 * 3, &enc);
    CHECK(n > 0 && write_bytes(to, enc, n) == 0);
    WebPFree(enc);
    ftn_dataset ds;
    CHECK_OK(ftn_dataset_open(root, NULL, &ds));
    CHECK(ds.count == 3, "%d samples in a TIFF/WebP folder", ds.count);
    if (ds.count == 3) {
        CHECK(!strcmp(ds.samples[0].id, "a") && ds.samples[0].width == 37 && ds.samples[0].height == 23 &&
              ds.samples[0].channels == 1);
        CHECK(!strcmp(ds.samples[1].id, "b") && ds.samples[1].width == 29 && ds.samples[1].channels == 3);
        CHECK(!strcmp(ds.samples[2].id, "c") && ds.samples[2].channels == 3 && ds.samples[2].n_masks == 1);
        ftn_image im, mk;
        CHECK_OK(ftn_dataset_load(&ds, 1, &im, &mk));
        CHECK(mk.data && mk.width == 29 && mk.data[5] == 1.0f && mk.data[6] == 0.0f, "the WebP mask's lesion pixel");
        ftn_image_free(&im);
        ftn_image_free(&mk);
    }
    ftn_dataset_free(&ds);
}

int main(void)
{
    dir = tl_tmpdir("image");
    test_png();
    test_jpeg();
    test_bmp();
    test_hostile();
    test_tiff();
    test_webp();
    test_dataset_formats();
    return tl_finish();
}
