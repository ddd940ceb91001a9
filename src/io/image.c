#include "io/image.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <pthread.h>
#include <stdarg.h>
#include <tiffio.h>
#include <webp/decode.h>

#include "core/error.h"
#include "core/fs.h"
#include "io/atomic_file.h"

#define FTN_DEFAULT_MAX_PIXELS ((size_t)100000000)

static size_t g_max_pixels = FTN_DEFAULT_MAX_PIXELS;

void ftn_image_set_max_pixels(size_t max_pixels)
{
    g_max_pixels = max_pixels ? max_pixels : FTN_DEFAULT_MAX_PIXELS;
}

size_t ftn_image_max_pixels(void) { return g_max_pixels; }

void ftn_image_free(ftn_image *img)
{
    if (!img) return;
    free(img->data);
    memset(img, 0, sizeof *img);
}

/* ---- helpers ---------------------------------------------------------------------------------- */

typedef struct blob { uint8_t *buf; size_t len; } blob;

static ftn_status check_dims(const char *path, const char *kind, uint64_t w, uint64_t h, size_t max_pixels)
{
    if (w == 0 || h == 0)
        return ftn_fail(FTN_EFORMAT, "%s: %s header gives an empty image (%llux%llu)", path, kind,
                        (unsigned long long)w, (unsigned long long)h);
    if (w > INT_MAX || h > INT_MAX || w * h > max_pixels)
        return ftn_fail(FTN_EFORMAT,
                        "%s: %s header claims %llux%llu pixels, over the limit of %zu pixels "
                        "(raise it with --max-pixels if the image is genuine)",
                        path, kind, (unsigned long long)w, (unsigned long long)h, max_pixels);
    return FTN_OK;
}

static ftn_status alloc_image(const char *path, int w, int h, int c, ftn_image *out)
{
    size_t n = (size_t)w * (size_t)h * (size_t)c;
    float *d = malloc(n * sizeof *d);
    if (!d) return ftn_fail(FTN_ENOMEM, "%s: cannot allocate %dx%dx%d pixels", path, w, h, c);
    out->width = w;
    out->height = h;
    out->channels = c;
    out->data = d;
    return FTN_OK;
}

/* ---- PNG -------------------------------------------------------------------------------------- */

typedef struct png_ctx {
    const uint8_t *p;
    size_t len, pos;
    char msg[256];
} png_ctx;

static void png_read_mem(png_structp png, png_bytep out, size_t n)
{
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->len - c->pos) png_error(png, "file is truncated");
    memcpy(out, c->p + c->pos, n);
    c->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static ftn_status read_png(const char *path, const blob *b, size_t max_pixels, int header_only,
                           ftn_image *out, int *pw, int *ph, int *pc)
{
    png_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    ctx->p = b->buf;
    ctx->len = b->len;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        if (png) png_destroy_read_struct(&png, NULL, NULL);
        free(ctx);
        return ftn_fail(FTN_ENOMEM, "%s: cannot create a PNG reader", path);
    }
    uint8_t *volatile raw = NULL;
    png_bytep *volatile rows = NULL;
    float *volatile data = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(raw);
        free(rows);
        free(data);
        png_destroy_read_struct(&png, &info, NULL);
        ftn_status s = ftn_fail(FTN_EFORMAT, "%s: corrupt or truncated PNG: %s", path, ctx->msg);
        free(ctx);
        return s;
    }
    png_set_read_fn(png, ctx, png_read_mem);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff); /* our own pixel limit applies */
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    ftn_status st = check_dims(path, "PNG", w, h, max_pixels);
    if (st != FTN_OK) {
        png_destroy_read_struct(&png, &info, NULL);
        free(ctx);
        return st;
    }
    int color = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    int out_c = (color & PNG_COLOR_MASK_COLOR) ? 3 : 1; /* palette has the colour bit set */
    if (header_only) {
        png_destroy_read_struct(&png, &info, NULL);
        free(ctx);
        *pw = (int)w;
        *ph = (int)h;
        *pc = out_c;
        return FTN_OK;
    }
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png);
    png_read_update_info(png, info);
    int ch = png_get_channels(png, info);
    int bytes = png_get_bit_depth(png, info) == 16 ? 2 : 1;
    size_t rowbytes = png_get_rowbytes(png, info);
    if (ch < 1 || ch > 4 || rowbytes < (size_t)w * (size_t)ch * (size_t)bytes)
        png_error(png, "unexpected row layout");
    raw = malloc(rowbytes * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!raw || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = raw + (size_t)y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    data = malloc((size_t)w * h * out_c * sizeof(float));
    if (!data) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) {
        const uint8_t *r = rows[y];
        float *o = data + (size_t)y * w * out_c;
        for (png_uint_32 x = 0; x < w; x++)
            for (int k = 0; k < out_c; k++) {
                size_t i = ((size_t)x * ch + (size_t)(ch >= 3 ? k : 0)) * bytes;
                float v = bytes == 2 ? (float)((r[i] << 8) | r[i + 1]) / 65535.0f : (float)r[i] / 255.0f;
                o[(size_t)x * out_c + k] = v;
            }
    }
    free(raw);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    free(ctx);
    out->width = (int)w;
    out->height = (int)h;
    out->channels = out_c;
    out->data = data;
    return FTN_OK;
}

/* ---- JPEG ------------------------------------------------------------------------------------- */

typedef struct jpeg_ctx {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr err;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    int truncated;
} jpeg_ctx;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_ctx *c = (jpeg_ctx *)cinfo->client_data;
    (*cinfo->err->format_message)(cinfo, c->msg);
    longjmp(c->jb, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    if (level >= 0) return; /* trace messages */
    jpeg_ctx *c = (jpeg_ctx *)cinfo->client_data;
    cinfo->err->num_warnings++;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF && !c->truncated) {
        c->truncated = 1;
        (*cinfo->err->format_message)(cinfo, c->msg);
    }
}

static ftn_status read_jpeg(const char *path, const blob *b, size_t max_pixels, int header_only,
                            ftn_image *out, int *pw, int *ph, int *pc)
{
    jpeg_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    float *volatile data = NULL;
    uint8_t *volatile row = NULL;
    ctx->cinfo.err = jpeg_std_error(&ctx->err);
    ctx->err.error_exit = jpeg_on_error;
    ctx->err.emit_message = jpeg_on_message;
    ctx->cinfo.client_data = ctx;
    if (setjmp(ctx->jb)) {
        free(data);
        free(row);
        jpeg_destroy_decompress(&ctx->cinfo);
        ftn_status s = ftn_fail(FTN_EFORMAT, "%s: corrupt or unsupported JPEG: %s", path, ctx->msg);
        free(ctx);
        return s;
    }
    jpeg_create_decompress(&ctx->cinfo);
    jpeg_mem_src(&ctx->cinfo, b->buf, (unsigned long)b->len);
    jpeg_read_header(&ctx->cinfo, TRUE);
    if (ctx->truncated) ERREXIT(&ctx->cinfo, JERR_INPUT_EOF);
    uint64_t w = ctx->cinfo.image_width, h = ctx->cinfo.image_height;
    ftn_status st = check_dims(path, "JPEG", w, h, max_pixels);
    int c = ctx->cinfo.jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
    if (st != FTN_OK || header_only) {
        jpeg_destroy_decompress(&ctx->cinfo);
        free(ctx);
        if (st == FTN_OK) {
            *pw = (int)w;
            *ph = (int)h;
            *pc = c;
        }
        return st;
    }
    ctx->cinfo.out_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&ctx->cinfo);
    if ((int)ctx->cinfo.output_components != c || ctx->cinfo.output_width != w || ctx->cinfo.output_height != h)
        ERREXIT(&ctx->cinfo, JERR_CONVERSION_NOTIMPL);
    data = malloc((size_t)w * h * c * sizeof(float));
    row = malloc((size_t)w * c);
    if (!data || !row) ERREXIT1(&ctx->cinfo, JERR_OUT_OF_MEMORY, 0);
    while (ctx->cinfo.output_scanline < h) {
        JSAMPROW rp = row;
        size_t y = ctx->cinfo.output_scanline;
        if (jpeg_read_scanlines(&ctx->cinfo, &rp, 1) != 1) ERREXIT(&ctx->cinfo, JERR_INPUT_EOF);
        if (ctx->truncated) break;
        float *o = data + y * w * c;
        for (size_t i = 0; i < (size_t)w * c; i++) o[i] = (float)row[i] / 255.0f;
    }
    if (ctx->truncated) {
        free(data);
        free(row);
        jpeg_destroy_decompress(&ctx->cinfo);
        ftn_status s = ftn_fail(FTN_EFORMAT, "%s: truncated JPEG: %s", path, ctx->msg);
        free(ctx);
        return s;
    }
    jpeg_finish_decompress(&ctx->cinfo);
    jpeg_destroy_decompress(&ctx->cinfo);
    free(row);
    free(ctx);
    out->width = (int)w;
    out->height = (int)h;
    out->channels = c;
    out->data = data;
    return FTN_OK;
}

/* ---- BMP -------------------------------------------------------------------------------------- */

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

typedef struct bitfield { uint32_t mask; int shift; double scale; } bitfield;

static void bitfield_init(bitfield *f, uint32_t mask)
{
    f->mask = mask;
    f->shift = 0;
    f->scale = 0;
    if (!mask) return;
    while (!((mask >> f->shift) & 1u)) f->shift++;
    uint64_t top = (uint64_t)mask >> f->shift;
    f->scale = 1.0 / (double)top; /* top = 2^bits − 1 for a contiguous mask */
}

static float bitfield_get(const bitfield *f, uint32_t px)
{
    if (!f->mask) return 0.0f;
    double v = (double)((px & f->mask) >> f->shift) * f->scale;
    return (float)(v > 1.0 ? 1.0 : v);
}

static ftn_status read_bmp(const char *path, const blob *b, size_t max_pixels, int header_only,
                           ftn_image *out, int *pw, int *ph, int *pc)
{
    const uint8_t *p = b->buf;
    size_t len = b->len;
    if (len < 18) return ftn_fail(FTN_EFORMAT, "%s: truncated BMP (%zu bytes, no complete header)", path, len);
    uint32_t off = rd32(p + 10), hsz = rd32(p + 14);
    int64_t w, h;
    uint32_t bpp, comp = 0, clrused = 0;
    size_t pal_start, pal_esz;
    uint32_t masks[4] = {0, 0, 0, 0};
    int have_masks = 0;
    if (hsz == 12) {
        if (len < 26) return ftn_fail(FTN_EFORMAT, "%s: truncated BMP header", path);
        w = rd16(p + 18);
        h = rd16(p + 20);
        bpp = rd16(p + 24);
        pal_start = 26;
        pal_esz = 3;
    } else if (hsz >= 40 && hsz <= 1024) {
        if (len < 14 + 40) return ftn_fail(FTN_EFORMAT, "%s: truncated BMP header", path);
        w = (int32_t)rd32(p + 18);
        h = (int32_t)rd32(p + 22);
        bpp = rd16(p + 28);
        comp = rd32(p + 30);
        clrused = rd32(p + 46);
        pal_start = 14 + (size_t)hsz;
        pal_esz = 4;
        if (comp == 3 || comp == 6) {
            size_t nm = comp == 6 ? 4 : 3;
            size_t at = 54;
            if (hsz == 40) pal_start += nm * 4; /* masks follow the 40-byte header */
            else if (hsz < 52 + (comp == 6 ? 4u : 0u))
                return ftn_fail(FTN_EFORMAT, "%s: BMP header too short for its colour masks", path);
            if (at + nm * 4 > len) return ftn_fail(FTN_EFORMAT, "%s: truncated BMP colour masks", path);
            for (size_t i = 0; i < nm; i++) masks[i] = rd32(p + at + 4 * i);
            have_masks = 1;
        }
    } else {
        return ftn_fail(FTN_EFORMAT, "%s: unsupported BMP header size %u", path, (unsigned)hsz);
    }
    if (w <= 0) return ftn_fail(FTN_EFORMAT, "%s: BMP width %lld is not positive", path, (long long)w);
    int top_down = h < 0;
    if (h < 0) h = -h;
    ftn_status st = check_dims(path, "BMP", (uint64_t)w, (uint64_t)h, max_pixels);
    if (st != FTN_OK) return st;
    if (comp == 1 || comp == 2)
        return ftn_fail(FTN_EUNSUPPORTED, "%s: RLE-compressed BMPs are not supported (re-save as PNG)", path);
    if (comp == 4 || comp == 5)
        return ftn_fail(FTN_EUNSUPPORTED, "%s: BMPs with embedded JPEG/PNG data are not supported", path);
    if (comp != 0 && comp != 3 && comp != 6)
        return ftn_fail(FTN_EFORMAT, "%s: unknown BMP compression %u", path, (unsigned)comp);
    int palette = bpp == 1 || bpp == 4 || bpp == 8;
    if (!palette && bpp != 16 && bpp != 24 && bpp != 32)
        return ftn_fail(FTN_EFORMAT, "%s: unsupported BMP bit depth %u", path, (unsigned)bpp);
    if (have_masks && bpp != 16 && bpp != 32)
        return ftn_fail(FTN_EFORMAT, "%s: BMP bit-field masks with %u bits per pixel", path, (unsigned)bpp);

    /* palette */
    uint8_t pal[256][3];
    size_t npal = 0;
    int channels = 3;
    if (palette) {
        size_t maxpal = (size_t)1 << bpp;
        npal = clrused ? clrused : maxpal;
        if (npal > maxpal) npal = maxpal;
        if (pal_start > len || npal * pal_esz > len - pal_start)
            return ftn_fail(FTN_EFORMAT, "%s: truncated BMP palette (%zu colours)", path, npal);
        int grey = 1;
        for (size_t i = 0; i < npal; i++) {
            const uint8_t *e = p + pal_start + i * pal_esz;
            pal[i][0] = e[2];
            pal[i][1] = e[1];
            pal[i][2] = e[0];
            if (e[0] != e[1] || e[1] != e[2]) grey = 0;
        }
        channels = grey ? 1 : 3;
    }
    uint64_t stride = (((uint64_t)w * bpp + 31) / 32) * 4;
    uint64_t last_row = ((uint64_t)w * bpp + 7) / 8;
    if (off > len || stride * (uint64_t)(h - 1) + last_row > len - off)
        return ftn_fail(FTN_EFORMAT, "%s: truncated BMP: pixel data needs %llu bytes from offset %u, file has %zu",
                        path, (unsigned long long)(stride * (uint64_t)h), (unsigned)off, len);
    if (header_only) {
        *pw = (int)w;
        *ph = (int)h;
        *pc = channels;
        return FTN_OK;
    }
    bitfield bf[3];
    if (bpp == 16 || bpp == 32) {
        if (!have_masks) {
            if (bpp == 16) masks[0] = 0x7C00, masks[1] = 0x03E0, masks[2] = 0x001F;
            else masks[0] = 0x00FF0000, masks[1] = 0x0000FF00, masks[2] = 0x000000FF;
        }
        if (!masks[0] && !masks[1] && !masks[2])
            return ftn_fail(FTN_EFORMAT, "%s: BMP colour masks are all zero", path);
        for (int k = 0; k < 3; k++) bitfield_init(&bf[k], masks[k]);
    }
    FTN_TRY(alloc_image(path, (int)w, (int)h, channels, out));
    for (int64_t y = 0; y < h; y++) {
        const uint8_t *r = p + off + stride * (uint64_t)(top_down ? y : h - 1 - y);
        float *o = out->data + (size_t)y * (size_t)w * channels;
        for (int64_t x = 0; x < w; x++) {
            if (palette) {
                uint32_t idx;
                if (bpp == 8) idx = r[x];
                else if (bpp == 4) idx = (r[x >> 1] >> ((x & 1) ? 0 : 4)) & 0xF;
                else idx = (r[x >> 3] >> (7 - (x & 7))) & 1;
                if (idx >= npal) {
                    ftn_image_free(out);
                    return ftn_fail(FTN_EFORMAT, "%s: BMP pixel (%lld, %lld) uses colour %u of a %zu-colour palette",
                                    path, (long long)x, (long long)y, (unsigned)idx, npal);
                }
                if (channels == 1) o[x] = pal[idx][0] / 255.0f;
                else for (int k = 0; k < 3; k++) o[x * 3 + k] = pal[idx][k] / 255.0f;
            } else if (bpp == 24) {
                const uint8_t *q = r + x * 3;
                o[x * 3 + 0] = q[2] / 255.0f;
                o[x * 3 + 1] = q[1] / 255.0f;
                o[x * 3 + 2] = q[0] / 255.0f;
            } else {
                uint32_t px = bpp == 16 ? rd16(r + x * 2) : rd32(r + x * 4);
                for (int k = 0; k < 3; k++) o[x * 3 + k] = bitfield_get(&bf[k], px);
            }
        }
    }
    return FTN_OK;
}

/* ---- TIFF ------------------------------------------------------------------------------------- */

/* libtiff reads the file from memory (TIFFClientOpenExt over the blob, "mapped" so it reads
 * strips in place). Its errors go to tiff_on_error through per-handle handlers (the first one
 * is kept for our message); its process-wide handlers are cleared once so that nothing libtiff
 * reports by the older global path reaches stderr either. Only the first directory is read. */

typedef struct tiff_ctx {
    const uint8_t *p;
    size_t len, pos;
    const char *name; /* the name libtiff was given (the path): stripped from its messages */
    char msg[256];
} tiff_ctx;

static pthread_once_t tiff_quiet_once = PTHREAD_ONCE_INIT;
static void tiff_quiet(void)
{
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
}

static int tiff_on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif;
    (void)module;
    tiff_ctx *c = user;
    if (c->msg[0]) return 1; /* the first error is the cause; later ones follow from it */
    char m[sizeof c->msg];
    vsnprintf(m, sizeof m, fmt, ap);
    const char *s = m;
    size_t nl = strlen(c->name);
    if (!strncmp(s, c->name, nl) && s[nl] == ':') s += nl + 1 + (s[nl + 1] == ' ');
    snprintf(c->msg, sizeof c->msg, "%s", *s ? s : "unknown error");
    return 1;
}

static int tiff_on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
    (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
    return 1;
}

static tmsize_t tiff_read_mem(thandle_t h, void *buf, tmsize_t n)
{
    tiff_ctx *c = (tiff_ctx *)h;
    if (n <= 0 || c->pos >= c->len) return 0;
    size_t k = (size_t)n < c->len - c->pos ? (size_t)n : c->len - c->pos;
    memcpy(buf, c->p + c->pos, k);
    c->pos += k;
    return (tmsize_t)k;
}

static tmsize_t tiff_write_mem(thandle_t h, void *buf, tmsize_t n)
{
    (void)h, (void)buf, (void)n;
    return -1;
}

static toff_t tiff_seek_mem(thandle_t h, toff_t off, int whence)
{
    tiff_ctx *c = (tiff_ctx *)h;
    uint64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? c->pos : whence == SEEK_END ? c->len : UINT64_MAX;
    if (base == UINT64_MAX || off > (uint64_t)SIZE_MAX - base) return (toff_t)-1;
    c->pos = (size_t)(base + off); /* past the end: reads there return 0 bytes */
    return (toff_t)c->pos;
}

static int tiff_close_mem(thandle_t h)
{
    (void)h;
    return 0;
}

static toff_t tiff_size_mem(thandle_t h) { return (toff_t)((tiff_ctx *)h)->len; }

static int tiff_map_mem(thandle_t h, void **base, toff_t *size)
{
    tiff_ctx *c = (tiff_ctx *)h;
    *base = (void *)c->p;
    *size = (toff_t)c->len;
    return 1;
}

static void tiff_unmap_mem(thandle_t h, void *base, toff_t size) { (void)h, (void)base, (void)size; }

/* How the first directory is decoded. Direct: 8/16-bit unsigned grey (1 channel: sample 0) or
 * RGB (3 channels: samples 0..2; alpha and other extra samples dropped), contiguous or separate
 * planes, strips or tiles, at full precision. Everything else TIFFRGBAImageOK accepts (palette,
 * 1/2/4-bit, YCbCr, CMYK, ...) goes through TIFFReadRGBAImageOriented at 8 bits: 1 channel for
 * grey photometrics, 3 otherwise. Both honour the Orientation tag's flips as libtiff does. */
typedef struct tiff_layout {
    uint32_t w, h;
    uint16_t spp, bps, photometric, planar, orientation;
    int direct, channels;
} tiff_layout;

static ftn_status tiff_fail(const char *path, const tiff_ctx *c, const char *what)
{
    if (c->msg[0]) return ftn_fail(FTN_EFORMAT, "%s: corrupt or truncated TIFF: %s", path, c->msg);
    return ftn_fail(FTN_EFORMAT, "%s: corrupt or truncated TIFF: %s", path, what);
}

static ftn_status tiff_inspect(const char *path, TIFF *tif, const tiff_ctx *c, size_t max_pixels, tiff_layout *l)
{
    memset(l, 0, sizeof *l);
    l->spp = 1;
    l->bps = 1;
    l->planar = PLANARCONFIG_CONTIG;
    l->orientation = ORIENTATION_TOPLEFT;
    uint16_t fmt = SAMPLEFORMAT_UINT;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &l->w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &l->h))
        return tiff_fail(path, c, "no image width or length");
    FTN_TRY(check_dims(path, "TIFF", l->w, l->h, max_pixels));
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &l->spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &l->bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &l->planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &l->orientation);
    if (fmt != SAMPLEFORMAT_UINT)
        return ftn_fail(FTN_EUNSUPPORTED, "%s: TIFF with %s samples is not supported (8- or 16-bit unsigned are)", path,
                        fmt == SAMPLEFORMAT_IEEEFP ? "floating-point" : fmt == SAMPLEFORMAT_INT ? "signed" : "complex or unknown");
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &l->photometric)) {
        /* what TIFFRGBAImageOK assumes without the tag */
        uint16_t nextra = 0, *extra = NULL;
        TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &nextra, &extra);
        int colour = l->spp - nextra;
        if (colour == 1) l->photometric = PHOTOMETRIC_MINISBLACK;
        else if (colour == 3) l->photometric = PHOTOMETRIC_RGB;
        else return ftn_fail(FTN_EFORMAT, "%s: TIFF without a photometric interpretation (%d colour samples)", path, colour);
    }
    int grey = l->photometric == PHOTOMETRIC_MINISBLACK || l->photometric == PHOTOMETRIC_MINISWHITE;
    l->channels = grey ? 1 : 3;
    l->direct = (l->bps == 8 || l->bps == 16) && l->spp <= 8 &&
                (l->planar == PLANARCONFIG_CONTIG || l->planar == PLANARCONFIG_SEPARATE) &&
                ((grey && l->spp >= 1) || (l->photometric == PHOTOMETRIC_RGB && l->spp >= 3));
    if (!l->direct) {
        char emsg[1024] = "";
        if (!TIFFRGBAImageOK(tif, emsg))
            return ftn_fail(FTN_EUNSUPPORTED, "%s: unsupported TIFF: %s", path, emsg[0] ? emsg : "unknown layout");
    }
    return FTN_OK;
}

static float tiff_sample(const uint8_t *q, int bytes, int invert)
{
    uint32_t v, top = bytes == 2 ? 65535u : 255u;
    if (bytes == 2) {
        uint16_t u;
        memcpy(&u, q, 2); /* libtiff gives host byte order */
        v = u;
    } else {
        v = *q;
    }
    return (float)(invert ? top - v : v) / (float)top;
}

/* Strips or tiles, contiguous or separate planes, into out (already allocated). */
static ftn_status tiff_read_direct(const char *path, TIFF *tif, const tiff_ctx *c, const tiff_layout *l,
                                   size_t max_pixels, ftn_image *out)
{
    const int bytes = l->bps / 8, oc = l->channels, invert = l->photometric == PHOTOMETRIC_MINISWHITE;
    const int separate = l->planar == PLANARCONFIG_SEPARATE, sps = separate ? 1 : l->spp;
    const int nplanes = separate ? oc : 1; /* planes past the colour ones (alpha, extras) are skipped */
    const int hflip = l->orientation == ORIENTATION_TOPRIGHT || l->orientation == ORIENTATION_BOTRIGHT ||
                      l->orientation == ORIENTATION_RIGHTTOP || l->orientation == ORIENTATION_RIGHTBOT;
    const int vflip = l->orientation == ORIENTATION_BOTRIGHT || l->orientation == ORIENTATION_BOTLEFT ||
                      l->orientation == ORIENTATION_RIGHTBOT || l->orientation == ORIENTATION_LEFTBOT;
    const int tiled = TIFFIsTiled(tif);
    uint32_t cw = l->w, ch; /* one chunk (strip or tile): cw × ch pixels */
    if (tiled) {
        if (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &cw) || !TIFFGetField(tif, TIFFTAG_TILELENGTH, &ch) || !cw || !ch)
            return tiff_fail(path, c, "tiled without a tile size");
        uint64_t tile_px = (uint64_t)cw * ch;
        if (tile_px > max_pixels && tile_px > ((uint64_t)1 << 22))
            return ftn_fail(FTN_EFORMAT, "%s: TIFF tiles of %ux%u pixels, over the limit of %zu pixels", path,
                            (unsigned)cw, (unsigned)ch, max_pixels);
        if (TIFFTileRowSize64(tif) != (uint64_t)cw * sps * bytes)
            return tiff_fail(path, c, "unexpected tile row size");
    } else {
        uint32_t rps = l->h;
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
        ch = rps == 0 || rps > l->h ? l->h : rps;
        if (TIFFScanlineSize64(tif) != (uint64_t)l->w * sps * bytes)
            return tiff_fail(path, c, "unexpected scanline size");
    }
    const size_t rowbytes = (size_t)cw * (size_t)sps * (size_t)bytes; /* ≤ 2^32 · 8 · 2 */
    if ((uint64_t)rowbytes * ch > (uint64_t)SIZE_MAX / 2) return tiff_fail(path, c, "chunk too large");
    uint8_t *buf = malloc(rowbytes * ch);
    if (!buf) return ftn_fail(FTN_ENOMEM, "%s: cannot allocate a TIFF %s of %ux%u pixels", path, tiled ? "tile" : "strip",
                              (unsigned)cw, (unsigned)ch);
    ftn_status st = FTN_OK;
    for (int plane = 0; plane < nplanes && st == FTN_OK; plane++)
        for (uint32_t y0 = 0; y0 < l->h && st == FTN_OK; y0 += ch)
            for (uint32_t x0 = 0; x0 < l->w && st == FTN_OK; x0 += cw) {
                uint32_t rows = l->h - y0 < ch ? l->h - y0 : ch, cols = l->w - x0 < cw ? l->w - x0 : cw;
                tmsize_t got, want;
                if (tiled) {
                    want = (tmsize_t)(rowbytes * ch);
                    got = TIFFReadEncodedTile(tif, TIFFComputeTile(tif, x0, y0, 0, (uint16_t)plane), buf, want);
                } else {
                    want = (tmsize_t)(rowbytes * rows);
                    got = TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, y0, (uint16_t)plane), buf, want);
                }
                if (got < 0 || (tiled ? got < (tmsize_t)(rowbytes * (rows - 1) + (size_t)cols * sps * bytes) : got < want)) {
                    st = tiff_fail(path, c, tiled ? "a tile is missing or short" : "a strip is missing or short");
                    break;
                }
                for (uint32_t yy = 0; yy < rows; yy++) {
                    uint32_t y = y0 + yy, oy = vflip ? l->h - 1 - y : y;
                    const uint8_t *r = buf + (size_t)yy * rowbytes;
                    float *o = out->data + (size_t)oy * l->w * oc;
                    for (uint32_t xx = 0; xx < cols; xx++) {
                        uint32_t x = x0 + xx, ox = hflip ? l->w - 1 - x : x;
                        if (separate) o[(size_t)ox * oc + plane] = tiff_sample(r + (size_t)xx * bytes, bytes, invert);
                        else
                            for (int k = 0; k < oc; k++)
                                o[(size_t)ox * oc + k] = tiff_sample(r + ((size_t)xx * sps + k) * bytes, bytes, invert);
                    }
                }
            }
    free(buf);
    return st;
}

static ftn_status tiff_read_rgba(const char *path, TIFF *tif, const tiff_ctx *c, const tiff_layout *l, ftn_image *out)
{
    uint32_t *raster = malloc((size_t)l->w * l->h * sizeof *raster);
    if (!raster) return ftn_fail(FTN_ENOMEM, "%s: cannot allocate %ux%u RGBA pixels", path, (unsigned)l->w, (unsigned)l->h);
    if (!TIFFReadRGBAImageOriented(tif, l->w, l->h, raster, ORIENTATION_TOPLEFT, 1)) {
        free(raster);
        return tiff_fail(path, c, "cannot decode the image data");
    }
    size_t n = (size_t)l->w * l->h;
    for (size_t i = 0; i < n; i++) {
        uint32_t px = raster[i];
        if (l->channels == 1) out->data[i] = (float)TIFFGetR(px) / 255.0f;
        else {
            out->data[3 * i + 0] = (float)TIFFGetR(px) / 255.0f;
            out->data[3 * i + 1] = (float)TIFFGetG(px) / 255.0f;
            out->data[3 * i + 2] = (float)TIFFGetB(px) / 255.0f;
        }
    }
    free(raster);
    return FTN_OK;
}

static ftn_status read_tiff(const char *path, const blob *b, size_t max_pixels, int header_only,
                            ftn_image *out, int *pw, int *ph, int *pc)
{
    pthread_once(&tiff_quiet_once, tiff_quiet);
    tiff_ctx *ctx = calloc(1, sizeof *ctx);
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!ctx || !opts) {
        free(ctx);
        if (opts) TIFFOpenOptionsFree(opts);
        return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    }
    ctx->p = b->buf;
    ctx->len = b->len;
    ctx->name = path;
    TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_on_error, ctx);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_on_warning, ctx);
    /* libtiff's own buffers (strip tables, codec state): at most what 16 bytes a pixel needs */
    uint64_t cap = (uint64_t)max_pixels * 16 + ((uint64_t)64 << 20);
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)(cap > (uint64_t)INT64_MAX / 2 ? (uint64_t)INT64_MAX / 2 : cap));
    TIFF *tif = TIFFClientOpenExt(path, "r", (thandle_t)ctx, tiff_read_mem, tiff_write_mem, tiff_seek_mem, tiff_close_mem,
                                  tiff_size_mem, tiff_map_mem, tiff_unmap_mem, opts);
    TIFFOpenOptionsFree(opts);
    ftn_status st;
    if (!tif) {
        st = tiff_fail(path, ctx, "cannot read the header or first directory");
        free(ctx);
        return st;
    }
    tiff_layout l;
    st = tiff_inspect(path, tif, ctx, max_pixels, &l);
    if (st == FTN_OK && header_only) {
        *pw = (int)l.w;
        *ph = (int)l.h;
        *pc = l.channels;
    } else if (st == FTN_OK) {
        st = alloc_image(path, (int)l.w, (int)l.h, l.channels, out);
        if (st == FTN_OK)
            st = l.direct ? tiff_read_direct(path, tif, ctx, &l, max_pixels, out) : tiff_read_rgba(path, tif, ctx, &l, out);
    }
    TIFFClose(tif);
    free(ctx);
    return st;
}

/* ---- WebP ------------------------------------------------------------------------------------- */

static const char *webp_status(VP8StatusCode s)
{
    switch (s) {
    case VP8_STATUS_OK: return "ok";
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "not enough data (truncated)";
    }
    return "unknown error";
}

/* WebP (lossy or lossless, still images): always 3 channels, the format has no greyscale;
 * alpha is dropped. Decoded by libwebp straight into our buffer, after the pixel limit. */
static ftn_status read_webp(const char *path, const blob *b, size_t max_pixels, int header_only,
                            ftn_image *out, int *pw, int *ph, int *pc)
{
    WebPDecoderConfig cfg;
    if (!WebPInitDecoderConfig(&cfg)) return ftn_fail(FTN_EINTERNAL, "%s: libwebp version mismatch", path);
    VP8StatusCode vs = WebPGetFeatures(b->buf, b->len, &cfg.input);
    if (vs != VP8_STATUS_OK) return ftn_fail(FTN_EFORMAT, "%s: corrupt or truncated WebP: %s", path, webp_status(vs));
    if (cfg.input.has_animation) return ftn_fail(FTN_EUNSUPPORTED, "%s: animated WebP is not supported", path);
    if (cfg.input.width < 0 || cfg.input.height < 0) return ftn_fail(FTN_EFORMAT, "%s: corrupt WebP header", path);
    FTN_TRY(check_dims(path, "WebP", (uint64_t)cfg.input.width, (uint64_t)cfg.input.height, max_pixels));
    int w = cfg.input.width, h = cfg.input.height;
    if (header_only) {
        *pw = w;
        *ph = h;
        *pc = 3;
        return FTN_OK;
    }
    size_t n = (size_t)w * (size_t)h * 3;
    uint8_t *rgb = malloc(n);
    if (!rgb) return ftn_fail(FTN_ENOMEM, "%s: cannot allocate %dx%d RGB pixels", path, w, h);
    cfg.output.colorspace = MODE_RGB;
    cfg.output.is_external_memory = 1;
    cfg.output.u.RGBA.rgba = rgb;
    cfg.output.u.RGBA.stride = w * 3;
    cfg.output.u.RGBA.size = n;
    vs = WebPDecode(b->buf, b->len, &cfg);
    WebPFreeDecBuffer(&cfg.output);
    ftn_status st = FTN_OK;
    if (vs != VP8_STATUS_OK) st = ftn_fail(FTN_EFORMAT, "%s: corrupt or truncated WebP: %s", path, webp_status(vs));
    else if (cfg.output.width != w || cfg.output.height != h)
        st = ftn_fail(FTN_EFORMAT, "%s: WebP decoded to %dx%d, its header says %dx%d", path, cfg.output.width,
                      cfg.output.height, w, h);
    if (st == FTN_OK) st = alloc_image(path, w, h, 3, out);
    if (st == FTN_OK)
        for (size_t i = 0; i < n; i++) out->data[i] = (float)rgb[i] / 255.0f;
    free(rgb);
    return st;
}

/* ---- dispatch --------------------------------------------------------------------------------- */

static ftn_status read_any(const char *path, size_t max_pixels, int header_only, ftn_image *out,
                           int *w, int *h, int *c)
{
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (!path) return ftn_fail(FTN_EINVAL, "image read: no path given");
    if (!max_pixels) max_pixels = g_max_pixels;
    /* the whole file (ftn_read_file refuses FIFOs, folders and other non-regular files, naming
     * them); no size cap of its own: each format's header is checked against max_pixels */
    blob b;
    FTN_TRY(ftn_read_file(path, SIZE_MAX / 2, &b.buf, &b.len));
    ftn_status st;
    if (b.len == 0) st = ftn_fail(FTN_EFORMAT, "%s: empty file", path);
    else if (b.len >= 8 && memcmp(b.buf, png_sig, 8) == 0) st = read_png(path, &b, max_pixels, header_only, out, w, h, c);
    else if (b.len >= 3 && b.buf[0] == 0xFF && b.buf[1] == 0xD8 && b.buf[2] == 0xFF)
        st = read_jpeg(path, &b, max_pixels, header_only, out, w, h, c);
    else if (b.len >= 2 && b.buf[0] == 'B' && b.buf[1] == 'M') st = read_bmp(path, &b, max_pixels, header_only, out, w, h, c);
    else if (b.len >= 4 && ((b.buf[0] == 'I' && b.buf[1] == 'I' && (b.buf[2] == 42 || b.buf[2] == 43) && b.buf[3] == 0) ||
                            (b.buf[0] == 'M' && b.buf[1] == 'M' && b.buf[2] == 0 && (b.buf[3] == 42 || b.buf[3] == 43))))
        st = read_tiff(path, &b, max_pixels, header_only, out, w, h, c); /* classic and BigTIFF, both byte orders */
    else if (b.len >= 12 && !memcmp(b.buf, "RIFF", 4) && !memcmp(b.buf + 8, "WEBP", 4))
        st = read_webp(path, &b, max_pixels, header_only, out, w, h, c);
    else st = ftn_fail(FTN_EFORMAT, "%s: not a PNG, JPEG, BMP, TIFF or WebP file (unrecognised signature)", path);
    free(b.buf);
    return st;
}

ftn_status ftn_image_read_limit(const char *path, size_t max_pixels, ftn_image *out)
{
    if (!out) return ftn_fail(FTN_EINVAL, "%s: no output image", path ? path : "image read");
    memset(out, 0, sizeof *out);
    int w, h, c;
    ftn_status st = read_any(path, max_pixels, 0, out, &w, &h, &c);
    if (st != FTN_OK) ftn_image_free(out);
    return st;
}

ftn_status ftn_image_read(const char *path, ftn_image *out) { return ftn_image_read_limit(path, 0, out); }

ftn_status ftn_image_probe(const char *path, size_t max_pixels, int *width, int *height, int *channels)
{
    int w = 0, h = 0, c = 0;
    FTN_TRY(read_any(path, max_pixels, 1, NULL, &w, &h, &c));
    if (width) *width = w;
    if (height) *height = h;
    if (channels) *channels = c;
    return FTN_OK;
}

/* ---- PNG writer ------------------------------------------------------------------------------- */

/* An 8-bit image (channels 1..4, interleaved rows) through libpng: to the FILE *io when write_fn
 * is NULL, else through write_fn(io). 0: written; 1: no libpng writer (out of memory); 2: libpng
 * failed, err->msg says why. */
static int png_write_8bit(void *io, png_rw_ptr write_fn, png_ctx *err, int width, int height, int channels,
                           const uint8_t *data)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, err, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        if (png) png_destroy_write_struct(&png, NULL);
        return 1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return 2;
    }
    static const int types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                 PNG_COLOR_TYPE_RGB_ALPHA};
    if (write_fn) png_set_write_fn(png, io, write_fn, NULL);
    else png_init_io(png, io);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, types[channels], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, data + (size_t)y * width * channels);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

ftn_status ftn_image_write_png(const char *path, int width, int height, int channels, const uint8_t *data)
{
    if (!path || !data) return ftn_fail(FTN_EINVAL, "PNG write: missing path or data");
    if (width <= 0 || height <= 0 || channels < 1 || channels > 4)
        return ftn_fail(FTN_EINVAL, "%s: cannot write a %dx%d image with %d channels", path, width, height, channels);
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    png_ctx *ctx = calloc(1, sizeof *ctx);
    if (!tmp || !ctx) {
        free(tmp);
        free(ctx);
        return ftn_fail(FTN_ENOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        ftn_status s = ftn_fail(FTN_EIO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        free(ctx);
        return s;
    }
    int failed = png_write_8bit(f, NULL, ctx, width, height, channels, data);
    if (failed) {
        fclose(f);
        remove(tmp);
        ftn_status s = failed == 1 ? ftn_fail(FTN_ENOMEM, "%s: cannot create a PNG writer", path)
                                   : ftn_fail(FTN_EIO, "%s: cannot write PNG: %s", path, ctx->msg);
        free(tmp);
        free(ctx);
        return s;
    }
    free(ctx);
    int bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
    int e = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad || rename(tmp, path) != 0) {
        if (!bad) e = errno;
        remove(tmp);
        free(tmp);
        return ftn_fail(FTN_EIO, "%s: cannot write PNG: %s", path, strerror(e));
    }
    free(tmp);
    return FTN_OK;
}

typedef struct png_mem {
    uint8_t *p;
    size_t len, cap;
} png_mem;

static void png_write_mem(png_structp png, png_bytep d, size_t n)
{
    png_mem *m = png_get_io_ptr(png);
    if (ftn_grow(&m->p, &m->cap, m->len + n, 1) != FTN_OK) png_error(png, "out of memory");
    memcpy(m->p + m->len, d, n);
    m->len += n;
}

ftn_status ftn_png_encode(int width, int height, int channels, const uint8_t *data, uint8_t **png, size_t *size)
{
    if (!data || !png || !size || width <= 0 || height <= 0 || channels < 1 || channels > 4)
        return ftn_fail(FTN_EINVAL, "PNG encode: bad arguments (%dx%d, %d channels)", width, height, channels);
    *png = NULL;
    *size = 0;
    png_ctx *ctx = calloc(1, sizeof *ctx);
    png_mem m = { NULL, 0, 0 };
    if (!ctx) return ftn_fail(FTN_ENOMEM, "PNG encode: out of memory");
    int failed = png_write_8bit(&m, png_write_mem, ctx, width, height, channels, data);
    ftn_status s = failed == 0   ? FTN_OK
                   : failed == 1 ? ftn_fail(FTN_ENOMEM, "PNG encode: cannot create a PNG writer")
                                 : ftn_fail(FTN_EINTERNAL, "PNG encode: %s", ctx->msg);
    free(ctx);
    if (s != FTN_OK) {
        free(m.p);
        return s;
    }
    *png = m.p;
    *size = m.len;
    return FTN_OK;
}
