#!/usr/bin/env python3
"""JPEG decode + preprocess throughput: Captune against Pillow + transformers' BlipImageProcessor
(dev-time only; `make bench` runs it after run.py).

    .venv/bin/python bench/jpeg.py              # 3 rounds
    .venv/bin/python bench/jpeg.py --rounds 5

Once, under build/bench/ (git-ignored): jpeg-images/, 32 photo-like JPEGs (16 at 4032x3024 as a
phone camera writes them, 16 at 1024x768; quality 90, 4:2:0), and two builds of bench/jpeg:
jpegbench (libjpeg-turbo, what Captune ships) and jpegbench-go (tag noturbojpeg: Go's image/jpeg,
the fallback).

Each side decodes and preprocesses the 32 files one after another, to pixel values at 384x384
(BLIP-base): Captune with inference.LoadImage + Preprocessor.Pixels, as captioning and training call
them (its resize splits a large image's rows over the CPUs; captune_1thread runs it with
GOMAXPROCS=1), go_decoder the same with Go's image/jpeg; the reference with
BlipImageProcessor()(images=Image.open(path), return_tensors="pt"), the way transformers' examples
do it (single-threaded: Pillow's decoder and resize run on one thread). Every side runs in a fresh process per round, one warm-up pass then --runs timed passes; the
sides alternate, and which goes first alternates between rounds, so that all see the same
background load. A figure is the median over rounds of each process's median pass.

Printed: `bench jpeg_preprocess captune=X transformers=Y speedup=Z captune_1thread=.. speedup_1thread=..
go_decoder=W go_speedup=V` in images per second (higher is better; speedup = Captune / transformers),
then the load average. build/bench/jpeg.json keeps every round.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "build", "bench")
IMAGES = os.path.join(BENCH, "jpeg-images")
TURBO = os.path.join(BENCH, "jpegbench")
GOJPEG = os.path.join(BENCH, "jpegbench-go")
RECIPE = 1  # bump when the images below change
SIZE = 384


def make_images():
    stamp = os.path.join(IMAGES, ".recipe")
    if os.path.exists(stamp) and open(stamp).read().strip() == str(RECIPE):
        return
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter
    os.makedirs(IMAGES, exist_ok=True)
    for i in range(32):
        w, h = (4032, 3024) if i < 16 else (1024, 768)
        r = np.random.default_rng(1000 + i)
        # Smooth colour fields with shapes and sensor-like noise: compresses about like a photo.
        small = Image.fromarray(r.integers(0, 255, (12, 16, 3), dtype=np.uint8), "RGB")
        img = small.resize((w, h), Image.BICUBIC)
        dr = ImageDraw.Draw(img)
        for _ in range(12):
            x0, y0 = int(r.integers(0, w)), int(r.integers(0, h))
            x1, y1 = x0 + int(r.integers(w // 20, w // 3)), y0 + int(r.integers(h // 20, h // 3))
            col = tuple(int(c) for c in r.integers(0, 255, 3))
            (dr.ellipse if r.integers(2) else dr.rectangle)([x0, y0, x1, y1], fill=col)
        img = img.filter(ImageFilter.GaussianBlur(1.5))
        arr = np.asarray(img).astype(np.int16) + r.integers(-6, 7, (h, w, 3), dtype=np.int16)
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(
            os.path.join(IMAGES, "photo%02d.jpg" % i), quality=90, subsampling=2)
    with open(stamp, "w") as f:
        f.write(str(RECIPE))


def build():
    env = "source build/env.sh && "
    for tags, out in (("", TURBO), ("-tags noturbojpeg", GOJPEG)):
        cmd = env + "go build %s -o %s ./bench/jpeg" % (tags, out)
        subprocess.run(["bash", "-c", cmd], cwd=ROOT, check=True)


def worker(runs):
    """The reference side, in this process: prints the seconds of each timed pass."""
    from PIL import Image
    from transformers import BlipImageProcessor
    proc = BlipImageProcessor(size={"height": SIZE, "width": SIZE})
    paths = sorted(os.path.join(IMAGES, f) for f in os.listdir(IMAGES) if f.endswith(".jpg"))

    def one_pass():
        t = time.perf_counter()
        for p in paths:
            proc(images=Image.open(p), return_tensors="pt")
        return time.perf_counter() - t

    one_pass()
    print(json.dumps({"images": len(paths), "seconds": [one_pass() for _ in range(runs)]}))


def measure(side, runs):
    env = dict(os.environ)
    if side == "transformers":
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--runs", str(runs)]
    else:
        cmd = [GOJPEG if side == "go_decoder" else TURBO, "-images", IMAGES, "-size", str(SIZE), "-runs", str(runs)]
        if side == "captune_1thread":
            env["GOMAXPROCS"] = "1"
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["images"] / statistics.median(r["seconds"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.runs)
        return
    make_images()
    build()
    sides = ["captune", "transformers", "captune_1thread", "go_decoder"]
    got = {s: [] for s in sides}
    load = []
    for r in range(a.rounds):
        for s in (sides if r % 2 == 0 else sides[::-1]):
            got[s].append(measure(s, a.runs))
        load.append(os.getloadavg()[0])
    med = {s: statistics.median(v) for s, v in got.items()}
    os.makedirs(BENCH, exist_ok=True)
    with open(os.path.join(BENCH, "jpeg.json"), "w") as f:
        json.dump({"images_per_second": got, "load_average_1min": load}, f, indent=1)
    ref = med["transformers"]
    print("bench jpeg_preprocess captune=%.2f transformers=%.2f speedup=%.2f captune_1thread=%.2f speedup_1thread=%.2f "
          "go_decoder=%.2f go_speedup=%.2f" % (med["captune"], ref, med["captune"] / ref, med["captune_1thread"],
                                               med["captune_1thread"] / ref, med["go_decoder"], med["go_decoder"] / ref))
    print("bench jpeg_preprocess: images/s over 32 JPEGs (16 at 4032x3024, 16 at 1024x768) to 384x384 pixel values; "
          "load average (1 min) after each round: %s on %d CPUs" % (" ".join("%.1f" % x for x in load), os.cpu_count()))


if __name__ == "__main__":
    main()
