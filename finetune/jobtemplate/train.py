#!/usr/bin/env python3
"""Fine-tune BLIP with Captune's recipe under Hugging Face accelerate (one or many processes).

Written by `captune export-job` from the template in Captune's repository; the run's settings are in
job.json beside this file. Run it with `accelerate launch train.py` or `torchrun ... train.py`
(see README.md). It writes, under output/ (or --out):

  train_log.jsonl            one line per optimizer step and per validation, in Captune's format
  checkpoints/step-NNNNNN/   Hugging Face model folders at epoch ends (and every checkpoint_every steps)
  config.json, model.safetensors, tokenizer and preprocessor files: the fine-tuned model
                             (method "lora": adapter_config.json and adapter_model.safetensors, the
                             tokenizer and preprocessor files, and with "merge" merged/)
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
    clipping, frozen vision tower / text embeddings and first decoder layers, no dropout;
  * method "lora": peft LoRA adapters, starting from the adapter Captune drew (lora_init/, so that
    one process steps as Captune does), only the adapter trains (its lora_dropout is the only
    dropout); the result is the adapter (adapter_config.json, adapter_model.safetensors: load it
    with peft, or in Captune as a model folder), and with "merge" also merged/, the full model with
    the adapter folded in.

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


class Job:
    """One run of the job: the model, data and optimizer, and the steps of Captune's trainer."""

    def __init__(self, args):
        self.args = args
        self.dir = os.path.abspath(args.job)
        with open(os.path.join(self.dir, "job.json"), encoding="utf-8") as f:
            self.s = s = json.load(f)
        self.out = os.path.abspath(args.out or os.path.join(self.dir, "output"))
        self.acc = Accelerator()
        self.world, self.rank, self.device = self.acc.num_processes, self.acc.process_index, self.acc.device
        torch.manual_seed(s["seed"])
        self.load_model()
        self.samples, images = load_split(os.path.join(self.dir, s["train_dir"]))
        self.val_samples, val_images = load_split(os.path.join(self.dir, s["val_dir"]))
        if not self.samples:
            sys.exit("no captioned images in the training split")
        self.orders = read_orders(os.path.join(self.dir, s["epoch_orders"]), len(self.samples))
        self.recipe = Recipe(s, self.tokenizer)
        self.train_px = Pixels(images, self.processor, s["augment"])
        self.val_px = Pixels(val_images, self.processor, False)
        opt = torch.optim.AdamW(self.params, lr=s["lr"], betas=(s["beta1"], s["beta2"]), eps=s["eps"],
                                weight_decay=s["weight_decay"])
        self.model, self.opt = self.acc.prepare(self.model, opt)
        self.micro = args.batch_size or s["batch_size"]
        self.accum = s["grad_accum"]
        self.glob = self.micro * self.world
        per_epoch = (len(self.samples) + self.glob * self.accum - 1) // (self.glob * self.accum)
        self.total = args.max_steps or s["max_steps"] or per_epoch * s["epochs"]
        self.log = open_log(self.out, args.overwrite) if self.acc.is_main_process else None
        self.acc.wait_for_everyone()

    def load_model(self):
        s, base = self.s, self.s["base_model"]
        if not base.startswith("/") and os.path.isdir(os.path.join(self.dir, base)):
            base = os.path.join(self.dir, base)
        rev = s.get("base_revision") or None
        self.model = BlipForConditionalGeneration.from_pretrained(base, revision=rev, torch_dtype=torch.float32)
        self.tokenizer = AutoTokenizer.from_pretrained(base, revision=rev)
        self.processor = BlipImageProcessor.from_pretrained(base, revision=rev)
        if no_dropout(self.model) and self.acc.is_main_process:
            print("dropout switched off (Captune trains without dropout)", file=sys.stderr)
        self.params = self.attach_lora() if s.get("method") == "lora" else self.unfrozen()
        if not self.params:
            sys.exit("everything is frozen")
        self.model.train()

    def unfrozen(self):
        params = []
        for name, p in self.model.named_parameters():
            if frozen(name, self.s):
                p.requires_grad_(False)
            else:
                params.append(p)
        return params

    def attach_lora(self):
        """Wraps the model in peft's LoRA, starting from the adapter Captune drew; returns the
        adapter's parameters (the only trainable ones)."""
        from peft import PeftModel
        for p in self.model.parameters():
            p.requires_grad_(False)
        init = os.path.join(self.dir, self.s["lora"]["init"])
        self.model = PeftModel.from_pretrained(self.model, init, is_trainable=True)
        return [p for p in self.model.parameters() if p.requires_grad]

    def write(self, entry):
        if self.log:
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()

    def order(self, epoch):
        if epoch < len(self.orders):
            return self.orders[epoch]
        # More epochs than the job planned (--max-steps): a fresh permutation.
        g = torch.Generator().manual_seed(self.s["seed"] + epoch)
        return torch.randperm(len(self.samples), generator=g).tolist()

    def step(self, order, pos, step):
        """Accumulates the gradients of one optimizer step from order[pos:] and returns its loss,
        the samples it used (over all processes) and the position after them."""
        loss, used = 0.0, 0
        for a in range(self.accum):
            if pos >= len(order):
                break
            chunk = order[pos:pos + self.glob]
            pos += len(chunk)
            used += len(chunk)
            mine = [self.samples[i] for i in chunk[self.rank * self.micro:(self.rank + 1) * self.micro]]
            weight = 1.0
            if not mine:  # the epoch's last micro-batch leaves this process nothing: count nothing
                mine, weight = [self.samples[chunk[0]]], 0.0
            pv = torch.stack([self.train_px.get(i, f"{self.s['seed']}/{step}/{k}") for k, (i, _) in enumerate(mine)])
            last = a == self.accum - 1 or pos >= len(order)
            with contextlib.nullcontext() if last or self.world == 1 else self.acc.no_sync(self.model):
                lsum, cnt = self.recipe.loss_sum(self.model, pv, [c for _, c in mine], self.device)
                lsum, cnt = lsum * weight, cnt * weight
                gcnt = self.acc.reduce(cnt.detach().clone(), reduction="sum")
                # DDP averages the gradients over processes: scaled by world, they are the gradient
                # of the micro-batch's mean token loss over all processes.
                self.acc.backward(lsum / gcnt * self.world / self.accum)
            gsum = self.acc.reduce(lsum.detach().clone(), reduction="sum")
            loss += float(gsum / gcnt) / self.accum
        return loss, used, pos

    def checkpoint(self, step, epoch, epoch_end):
        if epoch_end and self.val_samples and self.acc.is_main_process:
            vl = validation_loss(self.acc.unwrap_model(self.model), self.recipe, self.val_px, self.val_samples,
                                 self.s["batch_size"], self.device)
            self.write({"step": step, "epoch": epoch, "val_loss": vl})
        if not self.args.no_save:
            self.save(os.path.join(self.out, "checkpoints", f"step-{step:06d}"))
            if self.acc.is_main_process:
                prune(os.path.join(self.out, "checkpoints"), self.s["keep_last"])
        self.acc.wait_for_everyone()

    def save(self, folder):
        save_model(self.acc, self.model, self.tokenizer, self.processor, folder)

    def run(self):
        s, started, step, epoch = self.s, time.time(), 0, 0
        while step < self.total:
            order, pos = self.order(epoch), 0
            while pos < len(order) and step < self.total:
                lr = lr_at(s, step, self.total)
                for g in self.opt.param_groups:
                    g["lr"] = lr
                self.opt.zero_grad()
                loss, used, pos = self.step(order, pos, step)
                if s["clip_norm"] > 0:
                    self.acc.clip_grad_norm_(self.params, s["clip_norm"])
                self.opt.step()
                step += 1
                elapsed = time.time() - started
                self.write({"step": step, "epoch": epoch + 1, "loss": loss, "lr": lr,
                            "samples_per_sec": step * self.glob * self.accum / max(elapsed, 1e-9), "samples": used,
                            "elapsed_s": elapsed, "processes": self.world})
                epoch_end = pos >= len(order)
                epoch += epoch_end
                every = s["checkpoint_every"]
                if (every > 0 and step % every == 0) or epoch_end or step == self.total:
                    self.checkpoint(step, epoch, epoch_end)
        self.finish(step, epoch)

    def finish(self, step, epoch):
        if not self.args.no_save:
            self.save(self.out)
            if self.s.get("method") == "lora" and self.s["lora"].get("merge") and self.acc.is_main_process:
                merged = self.acc.unwrap_model(self.model).merge_and_unload()
                folder = os.path.join(self.out, "merged")
                os.makedirs(folder, exist_ok=True)
                merged.save_pretrained(folder, safe_serialization=True)
                self.tokenizer.save_pretrained(folder)
                self.processor.save_pretrained(folder)
        if self.acc.is_main_process:
            self.log.close()
            with open(os.path.join(self.out, "captune_job.json"), "w", encoding="utf-8") as f:
                json.dump({"done": True, "steps": step, "epochs": epoch, "processes": self.world,
                           "weights": not self.args.no_save}, f, indent=2)
            print(f"trained {step} steps on {self.world} process(es); model written to {self.out}")
        self.acc.wait_for_everyone()


def main():
    Job(parse_args()).run()


if __name__ == "__main__":
    main()
