#!/usr/bin/env python3
"""A whole fine-tuning job, Captune against the usual PyTorch notebook recipe (dev-time only; `make bench`).

    .venv/bin/python bench/job.py                                  # 32 images x 3 epochs, batch 4
    python3 bench/job.py --python .venv/bin/python --latest .venv-latest/bin/python
    .venv/bin/python bench/job.py --images 8 --epochs 2            # a smaller job on a busy machine
    .venv/bin/python bench/job.py --images 64 --epochs 5 --rows frozen,cache --no-reference

On the BLIP-base-geometry model bench/run.py builds (build/bench/blip-base-random), with N synthetic
640x480 JPEG photos and one caption each (build/bench/job-data-N, made once), each row is one job run
in a fresh process, timed from spawn to exit (loading, every step, writing the model) with its peak
RSS (the child's ru_maxrss) and its final loss:

  job_full    Captune training everything           vs  transformers training everything
  job_frozen  Captune --freeze-vision, no cache     vs  transformers with vision requires_grad=False
  job_cache   Captune --freeze-vision (feature cache) vs  the same transformers frozen-vision job

The transformers side is this script re-run as a worker under --python (the pinned .venv by default)
and, when given, --latest (printed as transformers_latest=): BlipForConditionalGeneration and
BlipProcessor from the model folder, torch.optim.AdamW, labels = input_ids, padding to the longest
caption, model.save_pretrained at the end. Both sides train with the same settings: learning rate
2e-5 constant, weight decay 0.01, no gradient clipping, no validation, the same intra-op thread count.
Captune also writes a checkpoint (model and optimizer) at each epoch end, as it always does; the
notebook recipe does not.

Printed, per row: `bench job_ROW captune=X transformers=Y ratio=Z [transformers_latest=W ratio_latest=V]`
for the wall time in seconds, then the same for `job_ROW_peak_rss_gib`, `job_ROW_final_loss` and
`job_ROW_train_loop_s` (the training loop alone: from its start to the last step, Captune's
checkpoints before that step included; without loading, caching features and writing the model)
(ratio = Captune / reference, lower is better). The raw numbers go to build/bench/job-results.json.
"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "build", "bench")
MODEL = os.path.join(BENCH, "blip-base-random")
CAPTUNE = os.path.join(ROOT, "bin", "captune")
LATEST_PYTHON = os.path.join(ROOT, ".venv-latest", "bin", "python")
SEED = 20240611
LR, WEIGHT_DECAY, MAX_TEXT_LEN = 2e-5, 0.01, 40

ROWS = {  # row: (captune flags, transformers job)
    "full": ([], "full"),
    "frozen": (["--freeze-vision", "--feature-cache", "off"], "frozen"),
    "cache": (["--freeze-vision", "--feature-cache", "auto"], "frozen"),
    # (d): Captune's bf16 (autocast) against the notebook loop under torch.autocast(bfloat16); its
    # speed-up over fp32 is printed against the full row when both run.
    "bf16": (["--precision", "bf16"], "full-bf16"),
}

COLOURS = ["red", "blue", "green", "yellow", "white", "black", "orange", "purple"]
THINGS = ["ball", "box", "circle", "square", "plate", "car", "kite", "sign"]
PLACES = ["on a table", "in a field", "next to a wall", "on the grass", "in the sky", "on a street"]


def physical_cores():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        import run  # bench/run.py: the same thread count as the other figures
        return run.physical_cores()
    except Exception:
        return os.cpu_count()


def caption(i):
    r = random.Random(SEED + i)
    n = r.randint(1, 3)
    words = ["a" if n == 1 else ["two", "three"][n - 2], r.choice(COLOURS), r.choice(THINGS) + ("" if n == 1 else "s")]
    if r.random() < 0.7:
        words.append(r.choice(PLACES))
    return " ".join(words)


def build_data(n, python):
    """build/bench/job-data-N: N JPEG photos (bench/run.py's generator) with a sidecar caption each."""
    out = os.path.join(BENCH, "job-data-%d" % n)
    if os.path.isdir(out) and len([f for f in os.listdir(out) if f.endswith(".jpg")]) == n:
        return out
    code = f"""
import os, shutil, numpy as np
from PIL import Image, ImageDraw, ImageFilter
out, n, seed = {out!r}, {n}, {SEED}
tmp = out + ".tmp"
shutil.rmtree(tmp, ignore_errors=True)
os.makedirs(tmp)
for i in range(n):
    r = np.random.default_rng(seed + 1000 + i)
    w, h = 640, 480
    img = Image.new("RGB", (w, h), tuple(int(x) for x in r.integers(60, 230, 3)))
    dr = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = int(r.integers(0, w - 40)), int(r.integers(0, h - 40))
        x1, y1 = x0 + int(r.integers(20, w // 2)), y0 + int(r.integers(20, h // 2))
        col = tuple(int(x) for x in r.integers(0, 255, 3))
        (dr.ellipse if r.integers(2) else dr.rectangle)([x0, y0, x1, y1], fill=col)
    img = img.filter(ImageFilter.GaussianBlur(1.5))
    arr = np.asarray(img).astype(np.int16) + r.integers(-10, 10, (h, w, 3))
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(os.path.join(tmp, "img%03d.jpg" % i), quality=90)
"""
    subprocess.run([python, "-c", code], check=True)
    tmp = out + ".tmp"
    for i in range(n):
        with open(os.path.join(tmp, "img%03d.txt" % i), "w") as f:
            f.write(caption(i) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    return out


def ensure_model(python):
    if not os.path.isfile(os.path.join(MODEL, "bench_model.json")):
        print("bench job: building", MODEL, "(once)", file=sys.stderr)
        subprocess.run([python, "-c", "import sys; sys.path.insert(0, 'bench'); import run; run.build_model()"],
                       cwd=ROOT, check=True)


def spawn(cmd, threads, log):
    """Runs cmd to completion; returns (wall seconds, peak RSS bytes, stdout text)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with open(log, "w") as out:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
    with open(log) as f:
        text = f.read()
    if p.returncode != 0:
        sys.exit(f"bench job: {' '.join(cmd)} failed (exit {p.returncode}):\n{text[-4000:]}")
    return wall, usage.ru_maxrss * 1024, text


def captune_job(row, data, args, work):
    out = os.path.join(work, "captune-" + row)
    cmd = [args.captune, "finetune", "--model", MODEL, "--data", data, "--out", out, "--overwrite", "--device", "cpu",
           "--epochs", str(args.epochs), "--batch-size", str(args.batch), "--lr", str(LR), "--weight-decay", str(WEIGHT_DECAY),
           "--warmup", "0", "--schedule", "constant", "--clip-norm", "0", "--recipe", "hf", "--holdout", "none",
           "--no-estimate", "--max-text-len", str(MAX_TEXT_LEN)] + ROWS[row][0]
    wall, rss, text = spawn(cmd, args.threads, out + ".log")
    m = re.search(r"loss ([0-9.naNinf]+) -> ([0-9.naNinf]+)", text)
    res = {"wall_s": wall, "peak_rss_bytes": rss, "final_loss": float(m.group(2)) if m else float("nan")}
    m = re.search(r"image features cached: .*", text)
    if m:
        res["cache"] = m.group(0).strip()
    steps = []
    try:
        with open(os.path.join(out, "train_log.jsonl")) as f:
            steps = [json.loads(l) for l in f if '"loss"' in l]
    except (OSError, ValueError):
        pass
    if steps:  # time from the start of the training loop to the last step (checkpoints in between included)
        res["train_s"] = steps[-1]["elapsed_s"]
        res["losses"] = [s["loss"] for s in steps]
    shutil.rmtree(out, ignore_errors=True)
    return res


def reference_job(job, python, data, args, work):
    out = os.path.join(work, "ref-%s-%d" % (job, abs(hash(python)) % 1000))
    cmd = [python, os.path.abspath(__file__), "--worker", job, "--data", data, "--out", out, "--epochs", str(args.epochs),
           "--batch", str(args.batch), "--threads", str(args.threads)]
    wall, rss, text = spawn(cmd, args.threads, out + ".log")
    line = [l for l in text.splitlines() if l.startswith("{")][-1]
    res = json.loads(line)
    res.update(wall_s=wall, peak_rss_bytes=rss)
    shutil.rmtree(out, ignore_errors=True)
    return res


def worker(args):
    """The notebook recipe in plain PyTorch."""
    import torch
    from PIL import Image
    import transformers
    from transformers import BlipForConditionalGeneration, BlipProcessor
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    model = BlipForConditionalGeneration.from_pretrained(MODEL)
    processor = BlipProcessor.from_pretrained(MODEL)
    model.train()
    if args.worker.startswith("frozen"):
        for p in model.vision_model.parameters():
            p.requires_grad = False
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR, weight_decay=WEIGHT_DECAY)
    items = []
    for name in sorted(os.listdir(args.data)):
        if name.endswith(".jpg"):
            with open(os.path.join(args.data, name[:-4] + ".txt")) as f:
                items.append((os.path.join(args.data, name), f.read().strip()))
    losses = []
    started = time.perf_counter()
    for epoch in range(args.epochs):
        order = list(range(len(items)))
        random.Random(SEED + epoch).shuffle(order)
        for start in range(0, len(order), args.batch):
            batch = [items[i] for i in order[start:start + args.batch]]
            images = [Image.open(p).convert("RGB") for p, _ in batch]
            inputs = processor(images=images, text=[c for _, c in batch], padding="longest", truncation=True,
                               max_length=MAX_TEXT_LEN, return_tensors="pt")
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.worker.endswith("-bf16")):
                out = model(pixel_values=inputs.pixel_values, input_ids=inputs.input_ids,
                            attention_mask=inputs.attention_mask, labels=inputs.input_ids)
            out.loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(out.loss.item())
    train_s = time.perf_counter() - started
    model.save_pretrained(args.out)
    processor.save_pretrained(args.out)
    print(json.dumps({"final_loss": losses[-1], "losses": losses, "train_s": train_s, "steps": len(losses), "torch": torch.__version__,
                      "transformers": transformers.__version__, "threads": torch.get_num_threads()}))


def line(name, cap, refs, fmt="%.1f"):
    parts = ["bench %s captune=%s" % (name, fmt % cap)]
    for label, v in refs:
        suffix = "" if label == "transformers" else label[len("transformers"):]
        parts.append("%s=%s ratio%s=%.2f" % (label, fmt % v, suffix, cap / v if v else float("nan")))
    return " ".join(parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=32, help="training images (one caption each)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--rows", default="full,frozen,cache,bf16", help="comma-separated: full, frozen, cache, bf16")
    ap.add_argument("--python", default=sys.executable, help="interpreter of the transformers reference (default: this one)")
    ap.add_argument("--latest", metavar="PYTHON", default=LATEST_PYTHON if os.path.exists(LATEST_PYTHON) else None,
                    help="interpreter of a second reference, printed as transformers_latest (default: .venv-latest when present)")
    ap.add_argument("--no-latest", action="store_true", help="measure against --python only")
    ap.add_argument("--no-reference", action="store_true", help="measure Captune only")
    ap.add_argument("--captune", default=CAPTUNE, help="the captune binary (make build)")
    ap.add_argument("--threads", type=int, default=physical_cores())
    ap.add_argument("--worker", choices=["full", "frozen", "full-bf16"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)

    rows = [r for r in args.rows.split(",") if r]
    for r in rows:
        if r not in ROWS:
            sys.exit("bench job: unknown row %r (want full, frozen, cache, bf16)" % r)
    ensure_model(args.python)
    data = build_data(args.images, args.python)
    work = os.path.join(BENCH, "job-work")
    os.makedirs(work, exist_ok=True)
    refs = [] if args.no_reference else [("transformers", args.python)]
    if args.latest and not args.no_latest and not args.no_reference:
        refs.append(("transformers_latest", args.latest))
    print("bench job images=%d epochs=%d batch=%d threads=%d loadavg=%s" % (
        args.images, args.epochs, args.batch, args.threads, " ".join("%.2f" % x for x in os.getloadavg())))
    results = {"images": args.images, "epochs": args.epochs, "batch": args.batch, "threads": args.threads, "rows": {}}
    ref_runs = {}
    for row in rows:
        before = os.getloadavg()[0]
        cap = captune_job(row, data, args, work)
        got = []
        for label, py in refs:
            key = (ROWS[row][1], label)
            if key not in ref_runs:  # job_cache is against the same frozen-vision job as job_frozen
                ref_runs[key] = reference_job(ROWS[row][1], py, data, args, work)
            got.append((label, ref_runs[key]))
        results["rows"][row] = {"captune": cap, **{label: r for label, r in got}, "loadavg": [before, os.getloadavg()[0]]}
        print(line("job_" + row, cap["wall_s"], [(l, r["wall_s"]) for l, r in got]), flush=True)
        print(line("job_%s_peak_rss_gib" % row, cap["peak_rss_bytes"] / 2**30, [(l, r["peak_rss_bytes"] / 2**30) for l, r in got], "%.2f"))
        print(line("job_%s_final_loss" % row, cap["final_loss"], [(l, r["final_loss"]) for l, r in got], "%.4f"))
        if "train_s" in cap and all("train_s" in r for _, r in got):
            print(line("job_%s_train_loop_s" % row, cap["train_s"], [(l, r["train_s"]) for l, r in got]))
        if "cache" in cap:
            print("bench job_%s note: %s" % (row, cap["cache"]))
        print("bench job_%s loadavg %.2f -> %.2f" % (row, before, os.getloadavg()[0]), flush=True)
    if "bf16" in results["rows"] and "full" in results["rows"]:
        b, f = results["rows"]["bf16"]["captune"], results["rows"]["full"]["captune"]
        print("bench job_bf16_vs_fp32 captune_bf16=%.1f captune_fp32=%.1f ratio=%.2f final_loss_bf16=%.4f final_loss_fp32=%.4f" % (
            b["wall_s"], f["wall_s"], b["wall_s"] / f["wall_s"], b["final_loss"], f["final_loss"]))
    with open(os.path.join(BENCH, "job-results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
