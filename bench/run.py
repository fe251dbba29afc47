#!/usr/bin/env python3
"""Captune against transformers + torch on the same machine (dev-time only; `make bench`).

    .venv/bin/python bench/run.py                       # build the model once, then measure (3 rounds)
    .venv/bin/python bench/run.py --rounds 5 --only infer
    .venv/bin/python bench/run.py --report build/bench/results.json   # print the lines again

Once, under build/bench/ (git-ignored; nothing here is committed):
  blip-base-random/  a random-weight BlipForConditionalGeneration in BLIP-base geometry (ViT-B/16 at
                     384 px, 12-layer text decoder with 12 heads, vocab 30524), saved with
                     save_pretrained with its tokenizer and preprocessor config;
  images/            8 synthetic 640x480 JPEG photos;
  blipbench          the Captune side, built from bench/blip with the project's cgo environment.

Then every figure is measured by both sides, each in a fresh process (one process per side and per
workload, so peak RSS is that workload's alone), with the same intra-op thread count (physical cores):
the Captune side is bench/blip (inference and finetune public API), the transformers side is this
script re-run as a worker. The two sides alternate within a round, and which side goes first alternates
between rounds, so that both see the same background load. Every figure is the median over rounds of
each process's own median; results.json keeps every raw number.

Two references: `transformers` is the pinned .venv (torch 2.1.0 + transformers 4.44.2, the libtorch
Captune links: same kernels, so the ratio isolates Captune's own overhead); `transformers_latest` is
.venv-latest (the newest torch + transformers PyPI served when `make dev` made it: what a user would
install today), measured by the same worker code when that venv exists (--latest PYTHON, --no-latest).

Printed: `bench NAME captune=X transformers=Y ratio=Z transformers_latest=W ratio_latest=V` per figure
(ratio = Captune / reference, lower is better), the roofline line, the memory estimate lines, and one
summary line against the targets of issues 3, 5 and 12, each against both references.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "build", "bench")
MODEL = os.path.join(BENCH, "blip-base-random")
IMAGES = os.path.join(BENCH, "images")
BLIPBENCH = os.path.join(BENCH, "blipbench")
TEST_TOKENIZER = os.path.join(ROOT, "inference", "testdata", "tokenizer")
LATEST_PYTHON = os.path.join(ROOT, ".venv-latest", "bin", "python")

# Bump when the model recipe below changes, so a cached model is rebuilt.
MODEL_RECIPE = 1
VOCAB = 30524  # BLIP's: bert-base-uncased's 30522 plus [DEC] and [ENC]
DEC_ID, ENC_ID = 30522, 30523
SEED = 20240611

# The training batch (4 images, 4 captions of different lengths so that padding is exercised).
TRAIN_CAPTIONS = [
    "a dog playing with a ball on the grass",
    "two people riding bicycles down a city street next to parked cars",
    "a plate of food",
    "a red bus parked in front of a tall building on a cloudy day",
]
MAX_LENGTH = 20
BATCH_BEAMS = 3
# LoRA mode: Captune's defaults (finetune.DefaultConfig), the same on both sides.
LORA_RANK, LORA_ALPHA, LORA_DROPOUT = 16, 16, 0.05

# ViT-B/16 at 384 px: what the FLOP count below assumes (checked against the saved config).
VIT = dict(image=384, patch=16, hidden=768, mlp=3072, layers=12, heads=12)

# Matmul for the roofline: the vision encoder's largest GEMM, fc1 of one image, [577, 768] x [768, 3072].
MATMUL = (577, 768, 3072)


def physical_cores():
    """Distinct (physical id, core id) pairs in /proc/cpuinfo, as app.PhysicalCores counts them."""
    seen, phys, core = set(), "", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, sep, v = line.partition(":")
                if not sep:
                    if phys or core:
                        seen.add((phys, core))
                    phys, core = "", ""
                    continue
                k = k.strip()
                if k == "physical id":
                    phys = v.strip()
                elif k == "core id":
                    core = v.strip()
        if phys or core:
            seen.add((phys, core))
    except OSError:
        pass
    n = len(seen)
    return n if 0 < n <= os.cpu_count() else os.cpu_count()


def vit_forward_flops(image=384, patch=16, hidden=768, mlp=3072, layers=12, **_):
    """Multiply-adds x 2 of one ViT image forward: the patch convolution and, per layer, the fused qkv
    projection, the two attention matmuls (Q K^T and P V), the output projection and the two MLP layers.
    LayerNorm, softmax, GELU and residual adds are left out (elementwise, under 1% of the total)."""
    n = (image // patch) ** 2
    t = n + 1
    d = hidden
    conv = 2 * n * d * (3 * patch * patch)
    per_layer = 2 * t * d * 3 * d + 2 * t * t * d + 2 * t * t * d + 2 * t * d * d + 2 * t * d * mlp + 2 * t * mlp * d
    return conv + layers * per_layer


def vm_status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
    return out


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ---------------------------------------------------------------------------------------------------
# Building the benchmark model, tokenizer and images (once).

def build_tokenizer(out_dir):
    """The test tokenizer's 2,000-token vocabulary padded with placeholder tokens to 30,522 entries, then
    [DEC] and [ENC] added as BLIP's code adds them, so they get BLIP's real ids 30522 and 30523. The
    model's embedding and LM-head sizes then equal BLIP-base's; the placeholders are never produced
    by tokenizing text (the pre-tokenizer splits the brackets off)."""
    from transformers import BertTokenizerFast
    with open(os.path.join(TEST_TOKENIZER, "vocab.txt"), encoding="utf-8") as f:
        tokens = f.read().split("\n")[:-1]
    base = DEC_ID
    if len(tokens) > base:
        sys.exit(f"test vocabulary has {len(tokens)} tokens, more than {base}")
    tokens += ["[unused%d]" % i for i in range(base - len(tokens))]
    tmp = os.path.join(BENCH, "vocab_tmp")
    os.makedirs(tmp, exist_ok=True)
    with open(os.path.join(tmp, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in tokens))
    tok = BertTokenizerFast(vocab_file=os.path.join(tmp, "vocab.txt"), do_lower_case=True,
                            strip_accents=None, tokenize_chinese_chars=True, model_max_length=512,
                            clean_up_tokenization_spaces=True)
    tok.add_special_tokens({"bos_token": "[DEC]"})
    tok.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    shutil.rmtree(tmp)
    if len(tok) != VOCAB or tok.convert_tokens_to_ids("[DEC]") != DEC_ID or tok.convert_tokens_to_ids("[ENC]") != ENC_ID:
        sys.exit(f"tokenizer: {len(tok)} tokens, [DEC]={tok.convert_tokens_to_ids('[DEC]')}, "
                 f"[ENC]={tok.convert_tokens_to_ids('[ENC]')}; want {VOCAB}, {DEC_ID}, {ENC_ID}")
    tok.save_pretrained(out_dir)
    return tok


def build_model():
    import torch
    from transformers import BlipConfig, BlipForConditionalGeneration, BlipImageProcessor
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    tmp = MODEL + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    tok = build_tokenizer(tmp)
    sep, pad = tok.sep_token_id, tok.pad_token_id
    # Salesforce/blip-image-captioning-base's geometry (its config.json), with this tokenizer's ids.
    cfg = BlipConfig(
        vision_config=dict(hidden_size=VIT["hidden"], intermediate_size=VIT["mlp"], num_hidden_layers=VIT["layers"],
                           num_attention_heads=VIT["heads"], image_size=VIT["image"], patch_size=VIT["patch"],
                           layer_norm_eps=1e-5),
        text_config=dict(vocab_size=VOCAB, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                         num_attention_heads=12, max_position_embeddings=512, encoder_hidden_size=768,
                         layer_norm_eps=1e-12, label_smoothing=0.0, bos_token_id=DEC_ID, sep_token_id=sep,
                         eos_token_id=sep, pad_token_id=pad),
        projection_dim=512, image_text_hidden_size=256)
    torch.manual_seed(SEED)
    model = BlipForConditionalGeneration(cfg).eval()
    # transformers initialises the vision tower with std 1e-10 (BlipVisionConfig.initializer_range), which
    # makes every image look alike and invites denormal arithmetic; give every weight a trained-like
    # scale instead.
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weight") and ("LayerNorm" in name or "layer_norm" in name or "layernorm" in name):
                p.copy_(1 + 0.05 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
        # A random model ends captions at random points, and differently on two implementations whose
        # float sums differ in the last bits; a [SEP] logit far below the rest makes every caption run
        # to max_length on both sides, so both do exactly the same work.
        model.text_decoder.cls.predictions.bias[sep] = -20.0
    proc = BlipImageProcessor(size={"height": VIT["image"], "width": VIT["image"]})
    model.save_pretrained(tmp)
    proc.save_pretrained(tmp)
    with open(os.path.join(tmp, "bench_model.json"), "w") as f:
        json.dump({"recipe": MODEL_RECIPE, "seed": SEED, "parameters": sum(p.numel() for p in model.parameters())}, f)
    shutil.rmtree(MODEL, ignore_errors=True)
    os.rename(tmp, MODEL)


def build_images():
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter
    tmp = IMAGES + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for i in range(8):
        r = np.random.default_rng(SEED + i)
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
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(os.path.join(tmp, "img%d.jpg" % i), quality=90)
    shutil.rmtree(IMAGES, ignore_errors=True)
    os.rename(tmp, IMAGES)


def ensure_assets():
    os.makedirs(BENCH, exist_ok=True)
    marker = os.path.join(MODEL, "bench_model.json")
    try:
        with open(marker) as f:
            ok = json.load(f).get("recipe") == MODEL_RECIPE
    except (OSError, ValueError):
        ok = False
    if not ok:
        print("bench: building the random BLIP-base model under", MODEL, "(once)", file=sys.stderr)
        t = time.perf_counter()
        build_model()
        print("bench: model built in %.0f s" % (time.perf_counter() - t), file=sys.stderr)
    if not os.path.isdir(IMAGES) or len(os.listdir(IMAGES)) != 8:
        build_images()
    # Always rebuilt: go build is a no-op when nothing changed, and the bench must measure today's code.
    print("bench: building", BLIPBENCH, file=sys.stderr)
    cmd = "source build/env.sh && go build -o %s ./bench/blip" % BLIPBENCH
    subprocess.run(["bash", "-c", cmd], cwd=ROOT, check=True)


# ---------------------------------------------------------------------------------------------------
# The transformers side: this script re-run with --worker.

def image_paths():
    return [os.path.join(IMAGES, "img%d.jpg" % i) for i in range(8)]


def median_of(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    wall, cpu, out = [], [], None
    for _ in range(runs):
        c, t = cpu_seconds(), time.perf_counter()
        out = fn()
        wall.append(time.perf_counter() - t)
        cpu.append(cpu_seconds() - c)
    return wall, cpu, out


def worker(mode, threads, runs, batch_runs, spawned):
    started = time.time()
    import torch
    from PIL import Image
    import transformers
    from transformers import BlipForConditionalGeneration, BlipProcessor
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    torch.set_num_threads(threads)
    res = {"side": "transformers", "mode": mode, "threads": torch.get_num_threads(),
           "torch": torch.__version__, "transformers": transformers.__version__, "start_s": started - spawned}
    res["rss_before_load_bytes"] = vm_status()["VmRSS"]

    t0, c0 = time.time(), cpu_seconds()
    model = BlipForConditionalGeneration.from_pretrained(MODEL)
    processor = BlipProcessor.from_pretrained(MODEL)
    model.eval() if mode == "infer" else model.train()
    if mode == "lora":
        # peft's LoRA with Captune's defaults (finetune.Config): r 16, alpha 16, dropout 0.05 on the
        # text decoder's self- and cross-attention query and value.
        import peft
        model = peft.get_peft_model(model, peft.LoraConfig(r=LORA_RANK, lora_alpha=LORA_ALPHA, lora_dropout=LORA_DROPOUT,
                                                           target_modules=["query", "value"], bias="none"))
        res["peft"] = peft.__version__
    t1 = time.time()
    res["load_s"] = t1 - t0
    res["load_cpu_s"] = cpu_seconds() - c0
    res["ready_s"] = t1 - spawned
    res["rss_after_load_bytes"] = vm_status()["VmRSS"]
    paths = image_paths()

    if mode == "infer":
        def caption(ps, beams):
            imgs = [Image.open(p).convert("RGB") for p in ps]
            pv = processor(images=imgs, return_tensors="pt").pixel_values
            with torch.no_grad():
                out = model.generate(pixel_values=pv, max_length=MAX_LENGTH, num_beams=beams)
            return out.tolist(), processor.batch_decode(out, skip_special_tokens=True)

        wall, cpu, out = median_of(lambda: caption(paths[:1], 1), 1, runs)
        res.update(single_s=wall, single_cpu_s=cpu, single_tokens=out[0][0], caption=out[1][0])

        pv1 = processor(images=[Image.open(paths[0]).convert("RGB")], return_tensors="pt").pixel_values

        def vision():
            with torch.no_grad():
                return model.vision_model(pixel_values=pv1)[0].shape
        wall, cpu, _ = median_of(vision, 1, runs)
        res.update(vision_s=wall, vision_cpu_s=cpu)

        a, b = torch.randn(MATMUL[0], MATMUL[1]), torch.randn(MATMUL[1], MATMUL[2])
        reps = 10

        def mm():
            for _ in range(reps):
                torch.matmul(a, b)
        wall, cpu, _ = median_of(mm, 1, runs)
        res["matmul_gflops"] = [2 * MATMUL[0] * MATMUL[1] * MATMUL[2] * reps / w / 1e9 for w in wall]
        res["matmul_cpu_gflops"] = [2 * MATMUL[0] * MATMUL[1] * MATMUL[2] * reps / c / 1e9 for c in cpu]

        # No separate warm-up: the process is warm from the single-image runs, and one batch costs minutes.
        wall, cpu, out = median_of(lambda: caption(paths, BATCH_BEAMS), 0, batch_runs)
        res.update(batch_s=wall, batch_cpu_s=cpu, batch_tokens=out[0][0])
    else:
        imgs = [Image.open(p).convert("RGB") for p in paths[:4]]
        enc = processor(images=imgs, text=TRAIN_CAPTIONS, padding=True, return_tensors="pt")
        trainable = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(trainable, lr=1e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)
        losses = []

        def step():
            opt.zero_grad()
            out = model(pixel_values=enc.pixel_values, input_ids=enc.input_ids, attention_mask=enc.attention_mask,
                        labels=enc.input_ids)
            out.loss.backward()
            opt.step()
            losses.append(out.loss.item())
        wall, cpu, _ = median_of(step, 1, runs)
        res.update(train_step_s=wall, train_step_cpu_s=cpu, losses=losses, input_ids=enc.input_ids.tolist(),
                   parameters=sum(p.numel() for p in model.parameters()), trainable=sum(p.numel() for p in trainable))
        if mode == "lora":
            import tempfile
            with tempfile.TemporaryDirectory() as d:
                model.save_pretrained(d)
                res["adapter_bytes"] = os.path.getsize(os.path.join(d, "adapter_model.safetensors"))

    st = vm_status()
    res["peak_rss_bytes"] = max(st["VmHWM"], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps(res))


# ---------------------------------------------------------------------------------------------------
# Driver.

def run_side(side, mode, threads, runs, batch_runs, latest_python=None):
    """One fresh process of side "captune", "transformers" (this interpreter) or "latest" (the
    .venv-latest interpreter running this same script as a worker)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    spawned = time.time()
    if side == "captune":
        cmd = [BLIPBENCH, "-model", MODEL, "-images", IMAGES, "-mode", mode, "-threads", str(threads),
               "-runs", str(runs), "-batch-runs", str(batch_runs), "-spawned", repr(spawned)]
    else:
        py = latest_python if side == "latest" else sys.executable
        cmd = [py, os.path.abspath(__file__), "--worker", mode, "--threads", str(threads),
               "--runs", str(runs), "--batch-runs", str(batch_runs), "--spawned", repr(spawned)]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench: {side} {mode} failed (exit {p.returncode}):\n{p.stderr[-4000:]}")
    line = [l for l in p.stdout.splitlines() if l.startswith("{")][-1]
    res = json.loads(line)
    res["side"] = side
    res["loadavg"] = os.getloadavg()
    return res


def code_state():
    """The commit measured, and the files of the measured packages that differed from it."""
    def git(*args):
        p = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return p.stdout.strip()
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted": git("status", "--porcelain", "--", "inference", "finetune", "internal/torchx",
                               "bench").splitlines()}


def med(xs):
    return statistics.median(xs)


def figure(results, side, mode, key, agg=med):
    """Median over processes of each process's own median (lists) or value (scalars)."""
    vals = []
    for r in results[mode][side]:
        v = r[key]
        vals.append(agg(v) if isinstance(v, list) else v)
    return med(vals), vals


# Targets (ratio = Captune / reference, at most): issues 3 and 5 against the pinned reference, issue 12
# against both references. A figure without a target for a reference is printed, not judged.
TARGETS = {
    "transformers": {"load_s": 0.5, "single_caption_s": 0.9, "batch8_beam3_s": 0.9, "infer_peak_rss_gib": 0.9,
                     "train_step_s": 1.0, "train_peak_rss_gib": 1.0},
    "latest": {"load_s": 0.5, "single_caption_s": 0.6, "batch8_beam3_s": 0.75, "infer_peak_rss_gib": 0.9,
               "train_peak_rss_gib": 1.0},
}
# Issue 15: LoRA against Captune's own full fine-tuning (ratio = LoRA / full, at most), and the adapter's size.
LORA_TARGETS = {"lora_vs_full_step_s": 0.8, "lora_vs_full_peak_rss": 0.6}
LORA_ADAPTER_MAX_MB = 10


def references(results, mode):
    """The reference sides measured for mode: the pinned one, and the latest when it was run."""
    return [s for s in ("transformers", "latest") if results[mode].get(s)]


def report(results):
    lines, verdicts = [], []
    gib = 1 / (1 << 30)
    for mode in ("infer", "train", "lora"):
        if results.get(mode):
            vers = []
            for side in references(results, mode):
                r = results[mode][side][0]
                vers.append("%s=%s (torch %s)" % ("transformers" if side == "transformers" else "transformers_latest",
                                                  r.get("transformers", "?"), r.get("torch", "?")))
            loads = [r["loadavg"][0] for side in results[mode].values() for r in side]
            lines.append("# %s references: %s; load average %.1f-%.1f while measuring" % (
                mode, ", ".join(vers), min(loads), max(loads)))
    rows = []
    if results.get("infer"):
        rows += [("load_s", "infer", "load_s", 1), ("start_to_ready_s", "infer", "ready_s", 1),
                 ("single_caption_s", "infer", "single_s", 1), ("batch8_beam3_s", "infer", "batch_s", 1),
                 ("vision_encoder_s", "infer", "vision_s", 1), ("infer_peak_rss_gib", "infer", "peak_rss_bytes", gib)]
    if results.get("train"):
        rows += [("train_step_s", "train", "train_step_s", 1), ("train_peak_rss_gib", "train", "peak_rss_bytes", gib)]
    if results.get("lora"):
        rows += [("lora_train_step_s", "lora", "train_step_s", 1), ("lora_train_peak_rss_gib", "lora", "peak_rss_bytes", gib),
                 ("lora_adapter_mb", "lora", "adapter_bytes", 1 / 1e6)]
    # Process CPU time (user + system, all threads) of the same sections: less sensitive than wall time
    # to what else the machine runs, but it also counts threads spinning while they wait for work.
    if results.get("infer"):
        rows += [("cpu_load_s", "infer", "load_cpu_s", 1), ("cpu_single_caption_s", "infer", "single_cpu_s", 1),
                 ("cpu_batch8_beam3_s", "infer", "batch_cpu_s", 1), ("cpu_vision_encoder_s", "infer", "vision_cpu_s", 1)]
    if results.get("train"):
        rows += [("cpu_train_step_s", "train", "train_step_cpu_s", 1)]
    figs = {}
    for name, mode, key, scale in rows:
        c, craw = figure(results, "captune", mode, key)
        line = "bench %s captune=%.4g" % (name, c * scale)
        raw = "#   raw captune=%s" % [round(x * scale, 4) for x in craw]
        figs[name] = {"captune": c * scale}
        for side in references(results, mode):
            t, traw = figure(results, side, mode, key)
            label = "transformers" if side == "transformers" else "transformers_latest"
            rlabel = "ratio" if side == "transformers" else "ratio_latest"
            figs[name][side] = t * scale
            line += " %s=%.4g %s=%.3f" % (label, t * scale, rlabel, c / t)
            raw += " %s=%s" % (label, [round(x * scale, 4) for x in traw])
            if name in TARGETS[side]:
                verdicts.append((name + ("" if side == "transformers" else "@latest"), c / t, TARGETS[side][name]))
        lines += [line, raw]
    if results.get("infer"):
        ips = {k: 8 / v for k, v in figs["batch8_beam3_s"].items()}
        line = "bench batch8_beam3_images_per_s captune=%.4g" % ips["captune"]
        for side in references(results, "infer"):
            line += " %s=%.4g %s=%.3f" % ("transformers" if side == "transformers" else "transformers_latest",
                                          ips[side], "ratio" if side == "transformers" else "ratio_latest",
                                          ips["captune"] / ips[side])
        lines.append(line + " (higher is better)")
        flops = vit_forward_flops(**VIT)
        vis_s, _ = figure(results, "captune", "infer", "vision_s")
        mm_go, _ = figure(results, "captune", "infer", "matmul_gflops")
        mm_py, _ = figure(results, "transformers", "infer", "matmul_gflops")
        vis_py, _ = figure(results, "transformers", "infer", "vision_s")
        vg = flops / vis_s / 1e9
        lines.append("bench roofline vision_gflops=%.1f matmul_gflops=%.1f fraction=%.3f" % (vg, mm_go, vg / mm_go))
        # The same per CPU-second (all threads): what a core achieves while it runs, whatever the load.
        vc, _ = figure(results, "captune", "infer", "vision_cpu_s")
        mc, _ = figure(results, "captune", "infer", "matmul_cpu_gflops")
        lines.append("#   per CPU-second: vision_gflops=%.1f matmul_gflops=%.1f fraction=%.3f" % (
            flops / vc / 1e9, mc, flops / vc / 1e9 / mc))
        lines.append("#   ViT-B/16@384 forward = %.2f GFLOP per image; matmul %dx%d·%dx%d; torch matmul_gflops=%.1f, "
                     "transformers vision_gflops=%.1f" % (flops / 1e9, MATMUL[0], MATMUL[1], MATMUL[1], MATMUL[2],
                                                          mm_py, flops / vis_py / 1e9))
        for side in references(results, "infer"):
            same = [r["single_tokens"] == q["single_tokens"] and r["batch_tokens"] == q["batch_tokens"]
                    for r, q in zip(results["infer"]["captune"], results["infer"][side])]
            lines.append("#   generated ids identical, captune and %s: %s (lengths %d greedy, %d beam)" % (
                side, all(same), len(results["infer"]["captune"][0]["single_tokens"]),
                len(results["infer"]["captune"][0]["batch_tokens"])))
    if results.get("train"):
        for side in references(results, "train"):
            lc = results["train"]["captune"][0]["losses"][0]
            lt = results["train"][side][0]["losses"][0]
            same_ids = results["train"]["captune"][0]["input_ids"] == results["train"][side][0]["input_ids"]
            lines.append("#   first-step loss captune=%.6f %s=%.6f (same input ids: %s)" % (lc, side, lt, same_ids))
    lines += lora_lines(results, verdicts)
    lines += estimate_lines(results)
    ok = [("%s %.2f<=%.2g %s" % (n, r, t, "PASS" if r <= t else "MISS")) for n, r, t in verdicts]
    lines.append("bench summary %s: %s" % ("all targets met" if all(r <= t for _, r, t in verdicts) else
                                          "%d of %d targets met" % (sum(r <= t for _, r, t in verdicts), len(verdicts)),
                                          "; ".join(ok)))
    return lines


def lora_lines(results, verdicts):
    """LoRA against full fine-tuning of the same side (issue 15's targets are Captune's own ratios)."""
    if not results.get("lora"):
        return []
    out = []
    c_mb, _ = figure(results, "captune", "lora", "adapter_bytes")
    verdicts.append(("lora_adapter_mb", c_mb / 1e6 / LORA_ADAPTER_MAX_MB, 1.0))
    if not results.get("train"):
        return out
    for name, key in (("lora_vs_full_step_s", "train_step_s"), ("lora_vs_full_peak_rss", "peak_rss_bytes")):
        line = "bench %s" % name
        for side in ["captune"] + references(results, "lora"):
            if not results["train"].get(side):
                continue
            lora, _ = figure(results, side, "lora", key)
            full, _ = figure(results, side, "train", key)
            line += " %s=%.3f" % ({"captune": "captune", "transformers": "peft", "latest": "peft_latest"}[side], lora / full)
            if side == "captune":
                verdicts.append((name, lora / full, LORA_TARGETS[name]))
        out.append(line + " (LoRA / full fine-tuning of the same side; lower is better)")
    return out


def estimate_lines(results):
    """inference.EstimateMemory (what Captune shows before it starts) next to the measured peaks."""
    out = []
    gib = 1 / (1 << 30)
    for mode in ("infer", "train"):
        runs = results.get(mode)
        if not runs or "estimate" not in runs["captune"][0]:
            continue
        e = runs["captune"][0]["estimate"]
        parts = [(k, e[k + "_bytes"]) for k in ("weights", "gradients", "optimizer", "activations", "runtime") if e[k + "_bytes"]]
        peak = med([r["peak_rss_bytes"] for r in runs["captune"]])
        ref = med([r["peak_rss_bytes"] for r in runs["transformers"]])
        out.append("bench estimate %s %s total=%.2fGiB measured_peak=%.2fGiB ratio=%.2f (transformers peak %.2fGiB)" % (
            e["workload"], " ".join("%s=%.2fGiB" % (k, v * gib) for k, v in parts), e["total_bytes"] * gib,
            peak * gib, peak / e["total_bytes"], ref * gib))
    return out


def mode_sides(mode, sides, latest):
    """The sides that can measure mode: LoRA needs peft, which only the pinned venv is sure to have."""
    if mode != "lora" or "latest" not in sides:
        return sides
    if subprocess.run([latest, "-c", "import peft"], capture_output=True).returncode == 0:
        return sides
    print("bench: no peft in %s: LoRA against the pinned reference only" % latest, file=sys.stderr)
    return [s for s in sides if s != "latest"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="fresh processes per side and workload")
    ap.add_argument("--runs", type=int, default=3, help="timed repetitions inside a process (after a warm-up)")
    ap.add_argument("--batch-runs", type=int, default=1, help="timed 8-image beam batches inside a process")
    ap.add_argument("--train-steps", type=int, default=2, help="timed training steps inside a process")
    ap.add_argument("--threads", type=int, default=physical_cores(), help="intra-op threads (default: physical cores)")
    ap.add_argument("--only", choices=["infer", "train", "lora"], action="append",
                    help="measure these workloads only (repeatable; lora: LoRA fine-tuning steps, peft on the Python side)")
    ap.add_argument("--report", metavar="JSON", help="print the lines of a saved results.json and exit")
    ap.add_argument("--latest", metavar="PYTHON", default=LATEST_PYTHON,
                    help="interpreter of the second reference (default: .venv-latest's, when it exists)")
    ap.add_argument("--no-latest", action="store_true", help="measure against the pinned reference only")
    ap.add_argument("--worker", choices=["infer", "train", "lora"], help=argparse.SUPPRESS)
    ap.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(a.worker, a.threads, a.runs, a.batch_runs, a.spawned or time.time())
        return
    if a.report:
        with open(a.report) as f:
            print("\n".join(report(json.load(f))))
        return
    ensure_assets()
    modes = a.only or ["infer", "train", "lora"]
    results = {"threads": a.threads, "rounds": a.rounds, "runs": a.runs, "batch_runs": a.batch_runs,
               "train_steps": a.train_steps, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
               "cpu": os.cpu_count(), "code": code_state()}
    sides = ["captune", "transformers"]
    if not a.no_latest and os.path.exists(a.latest):
        sides.append("latest")
    else:
        print("bench: no second reference (%s missing or --no-latest; `make dev` makes .venv-latest)" % a.latest,
              file=sys.stderr)
    for mode in modes:
        results[mode] = {side: [] for side in mode_sides(mode, sides, a.latest)}
        for r in range(a.rounds):
            # Each side goes first in turn, so that all see the same background load on average.
            ms = list(results[mode])
            order = ms[r % len(ms):] + ms[:r % len(ms)]
            for side in order:
                t = time.perf_counter()
                res = run_side(side, mode, a.threads, a.runs if mode == "infer" else a.train_steps, a.batch_runs,
                               a.latest)
                results[mode][side].append(res)
                print("bench: round %d %s %s done in %.0f s (load average %.1f)" % (
                    r + 1, mode, side, time.perf_counter() - t, os.getloadavg()[0]), file=sys.stderr)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    path = os.path.join(BENCH, "results.json")
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    shutil.copy(path, os.path.join(BENCH, "results-%s.json" % time.strftime("%Y%m%d-%H%M%S")))
    print("\n".join(report(results)))


if __name__ == "__main__":
    main()
