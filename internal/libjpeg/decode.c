//go:build cgo && !noturbojpeg

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "decode.h"

#define STR2(x) #x
#define STR(x) STR2(x)

struct cj_err {
	struct jpeg_error_mgr pub;
	jmp_buf jmp;
	char msg[JMSG_LENGTH_MAX];
	int truncated;
};

struct cj_dec {
	struct jpeg_decompress_struct cinfo;
	struct cj_err err;
	struct jpeg_progress_mgr progress;
	int max_scans;
	unsigned char *cmyk; // one row of CMYK samples, for four-component files
	unsigned char *data; // a copy of the file: libjpeg reads it across calls from Go
	size_t size;
};

// Errors leave libjpeg by longjmp back into the cj_ function that called it; the message stays in
// the handle for Go to read.
static void cj_error_exit(j_common_ptr c) {
	struct cj_err *e = (struct cj_err *)c->err;
	c->err->format_message(c, e->msg);
	longjmp(e->jmp, 1);
}

// Warnings are ignored, as Pillow ignores them (extraneous bytes, a restart marker out of place),
// except running out of data: jpeg_mem_src would pad the file with an EOI marker and decode grey,
// where Pillow reports a truncated file.
static void cj_emit_message(j_common_ptr c, int level) {
	struct cj_err *e = (struct cj_err *)c->err;
	if (level >= 0)
		return;
	if (c->err->msg_code == JWRN_JPEG_EOF) {
		e->truncated = 1;
		c->err->format_message(c, e->msg);
		longjmp(e->jmp, 1);
	}
	c->err->num_warnings++;
}

static void cj_output_message(j_common_ptr c) { (void)c; }

// A progressive file can repeat scans without end, each costing a pass over the whole image;
// libjpeg-turbo's own guidance is to cap them with a progress monitor.
static void cj_progress(j_common_ptr c) {
	j_decompress_ptr d = (j_decompress_ptr)c;
	cj_dec *h = (cj_dec *)c->client_data;
	if (h->max_scans > 0 && d->input_scan_number > h->max_scans) {
		snprintf(h->err.msg, sizeof h->err.msg, "more than %d progressive scans", h->max_scans);
		longjmp(h->err.jmp, 1);
	}
}

cj_dec *cj_new(const unsigned char *data, size_t size) {
	cj_dec *d = calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	d->data = malloc(size > 0 ? size : 1);
	if (d->data == NULL) {
		free(d);
		return NULL;
	}
	memcpy(d->data, data, size);
	d->size = size;
	d->cinfo.err = jpeg_std_error(&d->err.pub);
	d->err.pub.error_exit = cj_error_exit;
	d->err.pub.emit_message = cj_emit_message;
	d->err.pub.output_message = cj_output_message;
	if (setjmp(d->err.jmp)) {
		free(d->data);
		free(d);
		return NULL;
	}
	jpeg_create_decompress(&d->cinfo);
	d->cinfo.client_data = d;
	d->progress.progress_monitor = cj_progress;
	d->cinfo.progress = &d->progress;
	jpeg_mem_src(&d->cinfo, d->data, (unsigned long)d->size);
	return d;
}

void cj_free(cj_dec *d) {
	if (d == NULL)
		return;
	jpeg_destroy_decompress(&d->cinfo);
	free(d->cmyk);
	free(d->data);
	free(d);
}

const char *cj_message(cj_dec *d) { return d->err.msg; }
int cj_truncated(cj_dec *d) { return d->err.truncated; }

const char *cj_version(void) {
#ifdef LIBJPEG_TURBO_VERSION
	return "libjpeg-turbo " STR(LIBJPEG_TURBO_VERSION);
#else
	return "libjpeg " STR(JPEG_LIB_VERSION);
#endif
}

int cj_read_header(cj_dec *d, cj_header *h) {
	if (setjmp(d->err.jmp))
		return -1;
	jpeg_read_header(&d->cinfo, TRUE);
	h->width = (int)d->cinfo.image_width;
	h->height = (int)d->cinfo.image_height;
	h->components = d->cinfo.num_components;
	h->color_space = (int)d->cinfo.jpeg_color_space;
	h->progressive = d->cinfo.progressive_mode ? 1 : 0;
	h->precision = d->cinfo.data_precision;
	h->adobe = d->cinfo.saw_Adobe_marker ? 1 : 0;
	return 0;
}

// cj_start sets Pillow's decoding parameters (libjpeg's defaults: JDCT_ISLOW, fancy upsampling,
// block smoothing; RGB out for grey and colour files, CMYK for four-component ones) and the DCT
// scale 1/scale_denom, then starts decompression, which reads a progressive file's every scan.
int cj_start(cj_dec *d, int scale_denom, int max_scans, int *out_w, int *out_h) {
	if (setjmp(d->err.jmp))
		return -1;
	d->max_scans = max_scans;
	d->cinfo.dct_method = JDCT_ISLOW;
	d->cinfo.do_fancy_upsampling = TRUE;
	d->cinfo.out_color_space = d->cinfo.num_components == 4 ? JCS_CMYK : JCS_RGB;
	if (scale_denom > 1) {
		d->cinfo.scale_num = 1;
		d->cinfo.scale_denom = (unsigned int)scale_denom;
	}
	jpeg_start_decompress(&d->cinfo);
	*out_w = (int)d->cinfo.output_width;
	*out_h = (int)d->cinfo.output_height;
	return 0;
}

// Pillow reads four-component JPEGs as Adobe-inverted CMYK ("CMYK;I") and converts them to RGB
// with Convert.c's cmyk2rgb: with c = 255 - stored, k = 255 - stored K,
// R = clip(255 - k - c·(255 - k)/255), the division rounded as MULDIV255 rounds it.
static unsigned char cj_muldiv255(int a, int b) {
	int t = a * b + 128;
	return (unsigned char)(((t >> 8) + t) >> 8);
}

static void cj_cmyk_to_rgb(const unsigned char *in, unsigned char *out, int w) {
	for (int x = 0; x < w; x++, in += 4, out += 3) {
		int nk = in[3]; // 255 - (255 - stored K)
		for (int i = 0; i < 3; i++) {
			int v = nk - cj_muldiv255(255 - in[i], nk);
			out[i] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
		}
	}
}

// cj_read_rgb decodes every row into out, output_width*3 bytes a row. out belongs to Go and is not
// kept after the call.
int cj_read_rgb(cj_dec *d, unsigned char *out) {
	if (setjmp(d->err.jmp))
		return -1;
	j_decompress_ptr c = &d->cinfo;
	size_t stride = (size_t)c->output_width * 3;
	if (c->out_color_components == 4) {
		if (d->cmyk == NULL)
			d->cmyk = malloc((size_t)c->output_width * 4);
		if (d->cmyk == NULL) {
			snprintf(d->err.msg, sizeof d->err.msg, "out of memory");
			return -1;
		}
		while (c->output_scanline < c->output_height) {
			unsigned char *y = out + stride * c->output_scanline;
			JSAMPROW row = d->cmyk;
			if (jpeg_read_scanlines(c, &row, 1) != 1)
				break;
			cj_cmyk_to_rgb(d->cmyk, y, (int)c->output_width);
		}
		return 0;
	}
	JSAMPROW rows[16];
	while (c->output_scanline < c->output_height) {
		int n = 0;
		for (JDIMENSION y = c->output_scanline; y < c->output_height && n < 16; y++, n++)
			rows[n] = out + stride * y;
		if (jpeg_read_scanlines(c, rows, (JDIMENSION)n) == 0)
			break;
	}
	return 0;
}
