#!/usr/bin/env python3
"""Writes inference/testdata/jpeg: small JPEGs covering the layouts a photo can come in, and what
Pillow + transformers' BlipImageProcessor make of each, for inference's TestJPEGFixtures.

    .venv/bin/python scripts/make_jpeg_fixtures.py

Pillow writes baseline and progressive files at 4:4:4, 4:2:2 and 4:2:0, grey, CMYK (with the Adobe
marker, inverted as Photoshop writes it) and EXIF orientations. cjpeg (Debian: libjpeg-turbo-progs)
writes what Pillow cannot: 4:4:0 (-sample 1x2), restart markers, arithmetic coding and an
Adobe-RGB file (-rgb: no colour transform); a small C program against the system libjpeg, compiled
here, writes YCCK (Photoshop's CMYK layout). A 12-bit file is an 8-bit one with the SOF precision
byte set to 12 (refused by header, so its scan data never matters); the truncated file is a
baseline one cut in the middle of its scan.

expected.safetensors holds, for every decodable file NAME, "NAME/rgb" (uint8 [H, W, 3]: Pillow's
pixels after ImageOps.exif_transpose and convert("RGB")) and "NAME/pixel_values" (float32
[3, 24, 24]: BlipImageProcessor at 24×24 on that image, told the
input is channels-last, which it cannot guess for a 1×1 image). expected.json lists the files, and for
those that must fail, the words the error has to contain.
"""
import io
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np
import PIL
from PIL import Image, ImageDraw, ImageOps, features
from safetensors.numpy import save_file
from transformers import BlipImageProcessor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "inference", "testdata", "jpeg")
SIZE = 24  # the processor's output: small, so the fixtures stay small


def scene(w, h, seed):
    """A photo-like picture: gradients, a few shapes with hard edges (where chroma upsampling and
    the IDCT show), and noise."""
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([80 + 120 * xx / max(w, 1), 60 + 150 * yy / max(h, 1),
                     200 - 100 * (xx + yy) / max(w + h, 1)], -1)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    dr = ImageDraw.Draw(img)
    for _ in range(4):
        x0, y0 = int(r.integers(0, max(w - 1, 1))), int(r.integers(0, max(h - 1, 1)))
        x1, y1 = x0 + int(r.integers(1, max(w // 2, 2))), y0 + int(r.integers(1, max(h // 2, 2)))
        col = tuple(int(c) for c in r.integers(0, 255, 3))
        (dr.ellipse if r.integers(2) else dr.rectangle)([x0, y0, x1, y1], fill=col)
    arr = np.asarray(img).astype(np.int16) + r.integers(-10, 10, (h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def cjpeg(img, *args):
    exe = shutil.which("cjpeg")
    if exe is None:
        raise SystemExit("cjpeg not found: apt-get install libjpeg-turbo-progs")
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in.ppm" if img.mode == "RGB" else "in.pgm")
        img.save(src)
        return subprocess.run([exe, *args, src], check=True, capture_output=True).stdout


# Neither Pillow nor cjpeg writes YCCK (CMYK stored as YCbCr + K, Adobe transform 2, as Photoshop
# does): this helper, compiled against the system libjpeg, writes raw CMYK from stdin as YCCK.
YCCK_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
int main(int argc, char **argv) {
    int w = atoi(argv[1]), h = atoi(argv[2]);
    unsigned char *px = malloc((size_t)w * h * 4);
    if (fread(px, 4, (size_t)w * h, stdin) != (size_t)w * h) return 1;
    struct jpeg_compress_struct c; struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e); jpeg_create_compress(&c); jpeg_stdio_dest(&c, stdout);
    c.image_width = w; c.image_height = h; c.input_components = 4; c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c); jpeg_set_colorspace(&c, JCS_YCCK); jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = px + (size_t)c.next_scanline * w * 4;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c); jpeg_destroy_compress(&c); return 0;
}
"""


def ycck(img):
    """img (CMYK) written as a YCCK JPEG with Photoshop's inverted samples."""
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "ycck.c"), os.path.join(d, "ycck")
        with open(src, "w") as f:
            f.write(YCCK_C)
        subprocess.run(["cc", "-O1", "-o", exe, src, "-ljpeg"], check=True)
        raw = (255 - np.asarray(img)).astype(np.uint8).tobytes()
        return subprocess.run([exe, str(img.width), str(img.height)], input=raw, check=True,
                              capture_output=True).stdout


def pillow(img, **kw):
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def with_orientation(img, o):
    exif = Image.Exif()
    exif[0x0112] = o
    return pillow(img, quality=90, exif=exif.tobytes())


def sof_precision(data, bits):
    """Returns data with the precision byte of its first SOF marker set to bits."""
    b = bytearray(data)
    i = 2
    while i + 4 <= len(b):
        marker, n = b[i + 1], int.from_bytes(b[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            b[i + 4] = bits
            return bytes(b)
        i += 2 + n
    raise ValueError("no SOF marker")


def cases():
    s = scene(37, 29, 1)
    yield "baseline_444.jpg", pillow(s, quality=90, subsampling=0)
    yield "baseline_422.jpg", pillow(s, quality=90, subsampling=1)
    yield "baseline_420.jpg", pillow(s, quality=90, subsampling=2)
    yield "baseline_420_q50.jpg", pillow(scene(40, 32, 2), quality=50, subsampling=2)
    yield "progressive_420.jpg", pillow(s, quality=90, subsampling=2, progressive=True)
    yield "progressive_444.jpg", pillow(s, quality=85, subsampling=0, progressive=True)
    yield "progressive_422.jpg", pillow(scene(33, 21, 3), quality=95, subsampling=1, progressive=True)
    yield "cjpeg_440.jpg", cjpeg(s, "-quality", "90", "-sample", "1x2")
    yield "cjpeg_440_progressive.jpg", cjpeg(scene(26, 35, 4), "-quality", "80", "-sample", "1x2", "-progressive")
    yield "cjpeg_restart.jpg", cjpeg(s, "-quality", "90", "-restart", "1B")
    yield "cjpeg_arithmetic.jpg", cjpeg(s, "-quality", "90", "-arithmetic")
    yield "cjpeg_rgb.jpg", cjpeg(s, "-quality", "90", "-rgb")
    g = scene(31, 23, 5).convert("L")
    yield "gray.jpg", pillow(g, quality=90)
    yield "gray_progressive.jpg", pillow(g, quality=90, progressive=True)
    yield "cmyk.jpg", pillow(scene(30, 20, 6).convert("CMYK"), quality=90)
    yield "ycck.jpg", ycck(scene(27, 19, 12).convert("CMYK"))
    yield "size_1x1.jpg", pillow(scene(1, 1, 7), quality=90)
    yield "size_17x9.jpg", pillow(scene(17, 9, 8), quality=90, subsampling=2)
    yield "size_4001x3.jpg", pillow(scene(4001, 3, 9), quality=90, subsampling=2)
    o = scene(10, 6, 10)
    for n in range(1, 9):
        yield "orientation_%d.jpg" % n, with_orientation(o, n)
    full = pillow(scene(40, 40, 11), quality=90)
    yield "truncated.jpg", full[: len(full) // 2]
    yield "precision_12.jpg", sof_precision(full, 12)


ERRORS = {"truncated.jpg": "truncated", "precision_12.jpg": "precision"}


def main():
    os.makedirs(OUT, exist_ok=True)
    proc = BlipImageProcessor(size={"height": SIZE, "width": SIZE})
    tensors, files = {}, []
    for name, data in cases():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        files.append(name)
        if name in ERRORS:
            try:
                Image.open(io.BytesIO(data)).load()
            except (OSError, SyntaxError) as e:
                print("  %-28s Pillow refuses it: %s" % (name, e))
                continue
            raise SystemExit("%s: Pillow decodes it; it was meant to fail" % name)
        im = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
        rgb = np.asarray(im.convert("RGB"))
        tensors[name + "/rgb"] = np.ascontiguousarray(rgb)
        tensors[name + "/pixel_values"] = proc(images=[im], return_tensors="np", input_data_format="channels_last").pixel_values[0].astype(np.float32)
        print("  %-28s %5d bytes  %s %dx%d" % (name, len(data), im.mode, rgb.shape[1], rgb.shape[0]))
    save_file(tensors, os.path.join(OUT, "expected.safetensors"))
    meta = dict(files=files, errors=ERRORS, size=SIZE, pillow=PIL.__version__,
                libjpeg_turbo=features.version("libjpeg_turbo"))
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
