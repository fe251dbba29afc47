#!/usr/bin/env python3
"""Fine-tune BLIP with Captune's recipe under Hugging Face accelerate (one or many processes).

Written by `captune export-job` from the template in Captune's repository; the run's settings are in
job.json beside this file. Run it with `accelerate launch train.py` or `torchrun ... train.py`
(see README.md). It writes, under output/ (or --out):

  train_log.jsonl            one line per optimizer step and per validation, in Captune's format
  checkpoints/step-NNNNNN/   Hugging Face model folders at epoch ends (and every checkpoint_every steps)
  config.json, model.safetensors, tokenizer and preprocessor files: the fine-tuned model
  captune_job.json           written last: the run is complete and the model above is whole

The recipe is Captune's `captune finetune`, step for step:
  * data: every non-empty caption of an image is one sample; the sample order of each epoch is the
    permutation Captune drew (epoch_orders.txt), so one process sees the data in Captune's order;
  * loss "blip": the decoder's first input token is [DEC] (bos), pad and prompt tokens are left out
    of the loss, label smoothing 0.1; loss "hf": labels are the input ids as tokenized, pads count,
    label smoothing from the model's text_config; the loss of a micro-batch is the mean over its
    counted tokens (over all processes when there are several);
  * AdamW over every trainable parameter in one group with the same weight decay (Captune decays
    biases and norms too), linear warm-up from 0, then cosine, linear or constant;
  * gradient accumulation (each micro-batch's loss divided by grad_accum), global gradient-norm
    clipping, frozen vision tower / text embeddings and first decoder layers, no dropout.

With N processes a micro-batch takes batch_size images on each process (N x batch_size in all, in
epoch order) and the gradients are averaged by DDP, with each process's loss weighted by its share
of the counted tokens: N processes at batch_size B step exactly as one process at N x B.
"""
import argparse
import contextlib
import json
import math
import os
import random
import shutil
import sys
import time

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from PIL import Image, ImageOps
from transformers import AutoTokenizer, BlipForConditionalGeneration, BlipImageProcessor

HERE = os.path.dirname(os.path.abspath(__file__))

# accelerate (0.33 and later) calls torch.cpu.set_device for CPU processes, which torch 2.1 lacks;
# a CPU process has no device to choose, so doing nothing is what later torch versions do too.
if not hasattr(torch.cpu, "set_device"):
    torch.cpu.set_device = lambda device: None
IGNORE = -100


def parse_args():
    p = argparse.ArgumentParser(description="Captune training job (settings in job.json)")
    p.add_argument("--job", default=HERE, help="job folder (default: this script's folder)")
    p.add_argument("--out", default=None, help="output folder (default: JOB/output)")
    p.add_argument("--overwrite", action="store_true", help="replace what the output folder holds")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    p.add_argument("--batch-size", type=int, default=None, help="images per process per micro-batch")
    p.add_argument("--no-save", action="store_true", help="write only train_log.jsonl (checks)")
    return p.parse_args()


def load_split(folder):
    """Samples (image index, caption) and image paths of an imagefolder split, in file order."""
    samples, images = [], []
    meta = os.path.join(folder, "metadata.jsonl")
    if not os.path.exists(meta):
        return samples, images
    with open(meta, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            caps = [c for c in row.get("captions", [row.get("text", "")]) if c.strip()]
            if not caps:
                continue
            for c in caps:
                samples.append((len(images), c))
            images.append(os.path.join(folder, row["file_name"]))
    return samples, images


def read_orders(path, n):
    orders = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                order = [int(x) for x in line.split()]
                if sorted(order) != list(range(n)):
                    sys.exit(f"{path}: epoch {len(orders) + 1} is not an order of the {n} training samples")
                orders.append(order)
    return orders


def lr_at(s, step, total):
    lr, warm = s["lr"], s["warmup_steps"]
    if warm > 0 and step < warm:
        return lr * (step + 1) / warm
    rest = total - warm
    if rest <= 0:
        return lr
    progress = (step - warm) / rest
    if s["schedule"] == "cosine":
        return lr * 0.5 * (1 + math.cos(math.pi * progress))
    if s["schedule"] == "linear":
        return lr * (1 - progress)
    return lr


def frozen(name, s):
    if s["freeze_vision"] and name.startswith("vision_model."):
        return True
    n = s["freeze_text_layers"]
    if n > 0:
        if name.startswith("text_decoder.bert.embeddings."):
            return True
        return any(name.startswith(f"text_decoder.bert.encoder.layer.{i}.") for i in range(n))
    return False


def random_resized_crop(img, rng):
    """Captune's augmentation: a crop of 50-100% of the area, aspect 3/4-4/3, flipped half the time
    (same algorithm as Captune's, other random numbers)."""
    w0, h0 = img.size
    area = w0 * h0
    w, h, x0, y0 = w0, h0, 0, 0
    for _ in range(10):
        target = area * (0.5 + 0.5 * rng.random())
        ratio = math.exp(math.log(3 / 4) + rng.random() * (math.log(4 / 3) - math.log(3 / 4)))
        cw, ch = int(round(math.sqrt(target * ratio))), int(round(math.sqrt(target / ratio)))
        if 0 < cw <= w0 and 0 < ch <= h0:
            w, h = cw, ch
            x0, y0 = rng.randint(0, w0 - cw), rng.randint(0, h0 - ch)
            break
    img = img.crop((x0, y0, x0 + w, y0 + h))
    if rng.randint(0, 1):
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    return img


class Pixels:
    """Pixel values of the images, decoded on demand and kept up to a memory budget."""

    def __init__(self, paths, processor, augment, budget=1 << 30):
        self.paths, self.processor, self.augment = paths, processor, augment
        self.cache, self.bytes, self.budget = {}, 0, budget

    def get(self, i, seed):
        if not self.augment and i in self.cache:
            return self.cache[i]
        img = ImageOps.exif_transpose(Image.open(self.paths[i])).convert("RGB")
        if self.augment:
            img = random_resized_crop(img, random.Random(f"{seed}/{i}"))
        pv = self.processor(images=img, return_tensors="pt").pixel_values[0]
        if not self.augment and self.bytes + pv.numel() * 4 <= self.budget:
            self.cache[i] = pv
            self.bytes += pv.numel() * 4
        return pv


class Recipe:
    """Captions to decoder inputs and labels, as Captune's PrepareBatch does."""

    def __init__(self, s, tokenizer):
        self.tok, self.s = tokenizer, s
        self.blip = s["recipe"] == "blip"
        self.smoothing = s["label_smoothing"]
        prompt = s["prompt"].strip()
        ptoks = tokenizer(prompt)["input_ids"] if prompt else []
        self.prompt = prompt
        self.prompt_len = 1 + (len(ptoks) - 2 if len(ptoks) > 2 else 0)

    def batch(self, captions):
        texts = [self.prompt + " " + c.strip() if self.prompt else c.strip() for c in captions]
        ids = self.tok(texts, truncation=True, max_length=self.s["max_text_len"])["input_ids"]
        width = max(len(c) for c in ids)
        pad, bos = self.s["pad_token_id"], self.s["bos_token_id"]
        inp, att, lab = [], [], []
        for c in ids:
            row = c + [pad] * (width - len(c))
            mask = [1] * len(c) + [0] * (width - len(c))
            labels = list(row)
            if self.blip:
                row[0] = labels[0] = bos
                labels = [IGNORE if mask[t] == 0 or t < self.prompt_len else labels[t] for t in range(width)]
            inp.append(row)
            att.append(mask)
            lab.append(labels)
        return torch.tensor(inp), torch.tensor(att), torch.tensor(lab)

    def loss_sum(self, model, pixels, captions, device):
        """Summed token losses of the micro-batch and the number of tokens counted."""
        inp, att, lab = (t.to(device) for t in self.batch(captions))
        logits = model(pixel_values=pixels.to(device), input_ids=inp, attention_mask=att).logits
        target = lab[:, 1:].reshape(-1)
        v = logits.shape[-1]
        total = F.cross_entropy(logits[:, :-1].reshape(-1, v).float(), target, ignore_index=IGNORE,
                                label_smoothing=self.smoothing, reduction="sum")
        return total, (target != IGNORE).sum().float()


def no_dropout(model):
    """Captune trains without dropout: switch off any the model's config sets."""
    n = 0
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout) and m.p > 0:
            m.p, n = 0.0, n + 1
    return n


def save_model(accelerator, model, tokenizer, processor, folder):
    if accelerator.is_main_process:
        os.makedirs(folder, exist_ok=True)
        accelerator.unwrap_model(model).save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        processor.save_pretrained(folder)


def prune(root, keep):
    dirs = sorted(d for d in os.listdir(root) if d.startswith("step-"))
    for d in dirs[:max(0, len(dirs) - max(1, keep))]:
        shutil.rmtree(os.path.join(root, d), ignore_errors=True)


def validation_loss(model, recipe, pixels, samples, batch, device):
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(samples), batch):
            part = samples[start:start + batch]
            pv = torch.stack([pixels.get(i, 0) for i, _ in part])
            s, cnt = recipe.loss_sum(model, pv, [c for _, c in part], device)
            total += float(s / cnt) * len(part)
            n += len(part)
    model.train()
    return total / n


def open_log(out, overwrite):
    if os.path.isdir(out) and os.listdir(out):
        if not overwrite:
            sys.exit(f"output folder {out} already holds files: pass --overwrite to replace them")
        shutil.rmtree(out)
    os.makedirs(out, exist_ok=True)
    return open(os.path.join(out, "train_log.jsonl"), "w", encoding="utf-8")


def main():
    args = parse_args()
    job = os.path.abspath(args.job)
    with open(os.path.join(job, "job.json"), encoding="utf-8") as f:
        s = json.load(f)
    out = os.path.abspath(args.out or os.path.join(job, "output"))
    accelerator = Accelerator()
    world, rank, device = accelerator.num_processes, accelerator.process_index, accelerator.device
    torch.manual_seed(s["seed"])

    base = s["base_model"]
    if not base.startswith("/") and os.path.isdir(os.path.join(job, base)):
        base = os.path.join(job, base)
    revision = s.get("base_revision") or None
    model = BlipForConditionalGeneration.from_pretrained(base, revision=revision, torch_dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(base, revision=revision)
    processor = BlipImageProcessor.from_pretrained(base, revision=revision)
    dropped = no_dropout(model)
    params = []
    for name, p in model.named_parameters():
        if frozen(name, s):
            p.requires_grad_(False)
        else:
            params.append(p)
    if not params:
        sys.exit("everything is frozen")
    model.train()

    samples, images = load_split(os.path.join(job, s["train_dir"]))
    val_samples, val_images = load_split(os.path.join(job, s["val_dir"]))
    if not samples:
        sys.exit("no captioned images in the training split")
    orders = read_orders(os.path.join(job, s["epoch_orders"]), len(samples))
    recipe = Recipe(s, tokenizer)
    train_px = Pixels(images, processor, s["augment"])
    val_px = Pixels(val_images, processor, False)

    opt = torch.optim.AdamW(params, lr=s["lr"], betas=(s["beta1"], s["beta2"]), eps=s["eps"],
                            weight_decay=s["weight_decay"])
    model, opt = accelerator.prepare(model, opt)

    micro = args.batch_size or s["batch_size"]
    accum = s["grad_accum"]
    glob = micro * world
    per_epoch = (len(samples) + glob * accum - 1) // (glob * accum)
    total = args.max_steps or s["max_steps"] or per_epoch * s["epochs"]
    log = open_log(out, args.overwrite) if accelerator.is_main_process else None
    accelerator.wait_for_everyone()
    if log and dropped:
        print(f"dropout switched off in {dropped} layers (Captune trains without dropout)", file=sys.stderr)

    def write(entry):
        if log:
            log.write(json.dumps(entry) + "\n")
            log.flush()

    started, step, epoch = time.time(), 0, 0
    while step < total:
        if epoch < len(orders):
            order = orders[epoch]
        else:  # more epochs than the job planned (--max-steps): a fresh permutation
            order = torch.randperm(len(samples), generator=torch.Generator().manual_seed(s["seed"] + epoch)).tolist()
        pos = 0
        while pos < len(order) and step < total:
            lr = lr_at(s, step, total)
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad()
            step_loss, used = 0.0, 0
            for a in range(accum):
                if pos >= len(order):
                    break
                chunk = order[pos:pos + glob]
                pos += len(chunk)
                used += len(chunk)
                mine = [samples[i] for i in chunk[rank * micro:(rank + 1) * micro]]
                weight = 1.0
                if not mine:  # the epoch's last micro-batch leaves this process nothing: count nothing
                    mine, weight = [samples[chunk[0]]], 0.0
                pv = torch.stack([train_px.get(i, f"{s['seed']}/{step}/{k}") for k, (i, _) in enumerate(mine)])
                last = a == accum - 1 or pos >= len(order)
                with contextlib.nullcontext() if last or world == 1 else accelerator.no_sync(model):
                    lsum, cnt = recipe.loss_sum(model, pv, [c for _, c in mine], device)
                    lsum, cnt = lsum * weight, cnt * weight
                    gcnt = accelerator.reduce(cnt.detach().clone(), reduction="sum")
                    accelerator.backward(lsum / gcnt * world / accum)
                gsum = accelerator.reduce(lsum.detach().clone(), reduction="sum")
                step_loss += float(gsum / gcnt) / accum
            if s["clip_norm"] > 0:
                accelerator.clip_grad_norm_(params, s["clip_norm"])
            opt.step()
            step += 1
            elapsed = time.time() - started
            write({"step": step, "epoch": epoch + 1, "loss": step_loss, "lr": lr,
                   "samples_per_sec": step * glob * accum / max(elapsed, 1e-9), "samples": used,
                   "elapsed_s": elapsed, "processes": world})
            epoch_end = pos >= len(order)
            if epoch_end:
                epoch += 1
            every = s["checkpoint_every"]
            if (every > 0 and step % every == 0) or epoch_end or step == total:
                if epoch_end and val_samples and accelerator.is_main_process:
                    vl = validation_loss(accelerator.unwrap_model(model), recipe, val_px, val_samples, s["batch_size"], device)
                    write({"step": step, "epoch": epoch, "val_loss": vl})
                if not args.no_save:
                    save_model(accelerator, model, tokenizer, processor, os.path.join(out, "checkpoints", f"step-{step:06d}"))
                    if accelerator.is_main_process:
                        prune(os.path.join(out, "checkpoints"), s["keep_last"])
                accelerator.wait_for_everyone()
            if epoch_end:
                break
    if not args.no_save:
        save_model(accelerator, model, tokenizer, processor, out)
    if accelerator.is_main_process:
        log.close()
        with open(os.path.join(out, "captune_job.json"), "w", encoding="utf-8") as f:
            json.dump({"done": True, "steps": step, "epochs": epoch, "processes": world,
                       "weights": not args.no_save}, f, indent=2)
        print(f"trained {step} steps on {world} process(es); model written to {out}")
    accelerator.wait_for_everyone()


if __name__ == "__main__":
    main()
