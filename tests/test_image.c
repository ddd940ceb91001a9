/* Image reading (PNG, JPEG, BMP) and the PNG writer, including hostile files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "core/error.h"
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

int main(void)
{
    dir = tl_tmpdir("image");
    test_png();
    test_jpeg();
    test_bmp();
    test_hostile();
    return tl_finish();
}
