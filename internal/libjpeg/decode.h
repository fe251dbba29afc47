// decode.h declares the C half of package libjpeg: a libjpeg decompressor over an in-memory file,
// driven in three steps (header, start, read) so that Go can check the header and allocate the
// pixels before any scan data is decoded.
#include <stddef.h>

typedef struct cj_dec cj_dec;

typedef struct {
	int width, height, components;
	int color_space;  // J_COLOR_SPACE of the file, as libjpeg guessed it
	int progressive;  // 1 for a progressive (multi-scan) file
	int precision;    // bits per sample
	int adobe;        // 1 when the file has an Adobe APP14 marker
} cj_header;

cj_dec *cj_new(const unsigned char *data, size_t size);
void cj_free(cj_dec *d);
const char *cj_message(cj_dec *d);
int cj_truncated(cj_dec *d);
int cj_read_header(cj_dec *d, cj_header *h);
int cj_start(cj_dec *d, int scale_denom, int max_scans, int *out_w, int *out_h);
int cj_read_rgb(cj_dec *d, unsigned char *out);
const char *cj_version(void);
