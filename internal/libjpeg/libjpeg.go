//go:build cgo && !noturbojpeg

package libjpeg

/*
#cgo LDFLAGS: -ljpeg
#include <stdlib.h>
#include "decode.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Available reports whether this build decodes JPEG with libjpeg-turbo.
const Available = true

// Version names the JPEG library this build was compiled against, e.g. "libjpeg-turbo 2.1.5".
func Version() string { return C.GoString(C.cj_version()) }

// Decode decodes a JPEG file to RGB as Pillow does (see the package comment).
func Decode(data []byte, opt Options) (Image, Header, error) {
	if len(data) == 0 {
		return Image{}, Header{}, fmt.Errorf("jpeg: empty file")
	}
	d := C.cj_new((*C.uchar)(unsafe.Pointer(&data[0])), C.size_t(len(data)))
	if d == nil {
		return Image{}, Header{}, fmt.Errorf("jpeg: out of memory")
	}
	defer C.cj_free(d)
	var ch C.cj_header
	if C.cj_read_header(d, &ch) != 0 {
		return Image{}, Header{}, decodeError(d)
	}
	h := Header{
		Width: int(ch.width), Height: int(ch.height), Components: int(ch.components),
		ColorSpace: colorSpaces[int(ch.color_space)], Progressive: ch.progressive != 0,
		Precision: int(ch.precision), Adobe: ch.adobe != 0,
	}
	if opt.Check != nil {
		if err := opt.Check(h); err != nil {
			return Image{}, h, err
		}
	}
	var w, ht C.int
	scale := scaleFor(h.Width, h.Height, opt.FitSide)
	if C.cj_start(d, C.int(scale), MaxScans, &w, &ht) != 0 {
		return Image{}, h, decodeError(d)
	}
	img := Image{Width: int(w), Height: int(ht), Pix: make([]uint8, int(w)*int(ht)*3)}
	if len(img.Pix) == 0 {
		return img, h, nil
	}
	if C.cj_read_rgb(d, (*C.uchar)(unsafe.Pointer(&img.Pix[0]))) != 0 {
		return Image{}, h, decodeError(d)
	}
	return img, h, nil
}

func decodeError(d *C.cj_dec) error {
	msg := C.GoString(C.cj_message(d))
	if C.cj_truncated(d) != 0 {
		return fmt.Errorf("%w: %s", ErrTruncated, msg)
	}
	return fmt.Errorf("jpeg: %s", msg)
}
