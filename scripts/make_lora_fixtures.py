#!/usr/bin/env python3
"""Builds the LoRA interchange fixtures that Captune's Go tests compare against (dev-time only).

On the committed tiny model inference/testdata/models/tiny-a (loaded, never regenerated) it makes a
peft LoRA adapter with random A and B, saves it with peft's save_pretrained, and dumps what peft and
transformers compute with it: logits, generate() ids, the merged weights, and the adapter after one
torch.optim.AdamW step on the original-BLIP loss. Inputs, tokenizer, pixel processing and generation
settings are make_fixtures.py's (imported from it). See inference/testdata/lora/README.md.

    .venv/bin/python scripts/make_lora_fixtures.py
    .venv/bin/python scripts/make_lora_fixtures.py --check-captune inference/testdata/lora/captune-a

The second form loads an adapter that Captune wrote with peft's PeftModel.from_pretrained onto
tiny-a, checks that peft finds every adapter key it expects and no other, and writes DIR-check.json
(+ DIR-check.safetensors for the logits) with peft's outputs on the same inputs.
"""
import argparse
import copy
import json
import os
import shutil
import sys
import warnings

import peft
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from peft.tuners.lora import LoraLayer
from PIL import Image, ImageOps
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import BertTokenizerFast, BlipForConditionalGeneration, BlipImageProcessor
from transformers.utils import logging as hf_logging

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402  (the parity fixtures' images, captions, prompt and generation cases)

ROOT = mf.ROOT
OUT = os.path.join(mf.TD, "lora")
# Loaded relative to the repository root (the script chdirs there) so that peft records this
# machine-independent path as the adapter's base_model_name_or_path.
BASE = os.path.join("inference", "testdata", "models", "tiny-a")
LORA = dict(r=4, lora_alpha=8, lora_dropout=0.0, bias="none", target_modules=["query", "value", "key", "qkv"])
# peft initialises B to zero (the adapter starts as a no-op); the fixture sets A and B to N(0, 0.1²)
# so that scaling·B·A (scaling = alpha/r = 2) moves the logits visibly.
ADAPTER_SEED, ADAPTER_STD = 1500, 0.1
ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
N_IMAGES = 4  # make_fixtures.py's generate() cases run on the first four parity images


def peft_key(param_name):
    """The key peft's save_pretrained writes for a parameter: without the adapter name "default"."""
    return param_name.replace(".lora_A.default.", ".lora_A.").replace(".lora_B.default.", ".lora_B.")


def load_base():
    hf_logging.set_verbosity_error()
    return BlipForConditionalGeneration.from_pretrained(BASE).eval()


def inputs():
    """The parity fixtures' inputs: the first four parity images, and the two captions for the logits."""
    tok = BertTokenizerFast.from_pretrained(mf.TOK)
    proc = BlipImageProcessor.from_pretrained(BASE)
    imgdir = os.path.join(mf.TD, "images")
    images = [ImageOps.exif_transpose(Image.open(os.path.join(imgdir, f))) for f in mf.PARITY_IMAGES[:N_IMAGES]]
    pv = proc(images=images, return_tensors="pt").pixel_values
    enc = tok(mf.CAPTIONS, padding=True, return_tensors="pt")
    return tok, pv, enc


def outputs(model, tok, pv, enc):
    """Logits on the two captions (pixel values of the first two images) and every generate() case."""
    with torch.no_grad():
        logits = model(pixel_values=pv[:2], input_ids=enc.input_ids, attention_mask=enc.attention_mask).logits
    gens, _ = mf.generate_all(model, pv, tok, tok.convert_tokens_to_ids("[SEP]"))
    return logits.contiguous(), gens


def blip_batch(tok, enc):
    """make_fixtures.py's original-BLIP recipe: [DEC] first, pads and prompt out of the loss."""
    prompt_len = len(tok(mf.PROMPT).input_ids) - 1
    dec = enc.input_ids.clone()
    dec[:, 0] = tok.convert_tokens_to_ids("[DEC]")
    labels = dec.masked_fill(enc.attention_mask == 0, -100)
    labels[:, :prompt_len] = -100
    return dict(dec=dec, mask=enc.attention_mask, labels=labels, prompt_len=prompt_len)


def blip_loss(model, pv2, b):
    """The loss make_fixtures.py's AdamW fixture steps on (label smoothing 0.1, shifted by one)."""
    logits = model(pixel_values=pv2, input_ids=b["dec"], attention_mask=b["mask"]).logits
    V = logits.shape[-1]
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), b["labels"][:, 1:].reshape(-1),
                                             ignore_index=-100, label_smoothing=0.1)


def save_adapter(model, name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(d)
    # peft also writes a model card template; it carries nothing an adapter loader reads.
    os.remove(os.path.join(d, "README.md"))
    # peft keeps target_modules as a set, so the list it writes is in string-hash order, which
    # changes with every Python process: sorted, the fixture is the same on every run.
    cfg_path = os.path.join(d, "adapter_config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["target_modules"] = sorted(cfg["target_modules"])
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
    with safe_open(os.path.join(d, "adapter_model.safetensors"), "pt") as f:
        return {k: list(f.get_slice(k).get_shape()) for k in sorted(f.keys())}


def make_adapter(base):
    """tiny-a with a peft LoRA adapter whose A and B are seeded random values."""
    pm = get_peft_model(base, LoraConfig(**LORA)).eval()
    g = torch.Generator().manual_seed(ADAPTER_SEED)
    with torch.no_grad():
        for name, p in pm.named_parameters():
            if ".lora_" in name:
                p.copy_(ADAPTER_STD * torch.randn(p.shape, generator=g))
    return pm


def lora_modules(pm):
    """The base-model names of the Linear layers peft wrapped, in module order."""
    return [n for n, m in pm.base_model.model.named_modules() if isinstance(m, LoraLayer)]


def merged(pm, tok, pv, enc, logits):
    """peft's merge_and_unload(): the targeted weights it writes, and how far its logits and ids are
    from the unmerged adapter's (the merge rounds W + scaling·B·A to float32 once, the adapter adds
    the two paths at every call, so they differ by rounding only)."""
    modules = lora_modules(pm)
    scaling = LORA["lora_alpha"] / LORA["r"]
    manual = {}
    for mod in modules:
        layer = pm.base_model.model.get_submodule(mod)
        with torch.no_grad():
            manual[mod] = layer.base_layer.weight + scaling * (layer.lora_B["default"].weight @ layer.lora_A["default"].weight)
    m = copy.deepcopy(pm).merge_and_unload().eval()
    weights = {mod + ".weight": m.get_submodule(mod).weight.detach().clone().contiguous() for mod in modules}
    m_logits, m_gens = outputs(m, tok, pv, enc)
    info = dict(file="merged-a.safetensors", scaling=scaling, modules=modules,
                max_abs_logits_diff_merged_vs_unmerged=float((m_logits - logits).abs().max()),
                max_abs_weight_diff_vs_w_plus_scaling_b_a=max(
                    float((weights[mod + ".weight"] - manual[mod]).abs().max()) for mod in modules))
    return weights, info, m_gens


def train_step(tok, pv, enc):
    """One AdamW step on the adapter only, starting from peft-a as saved (loaded back with peft, so
    the step also starts from what a Go test reads). Returns the adapter's gradients and the record."""
    pm = PeftModel.from_pretrained(load_base(), os.path.join(OUT, "peft-a"), is_trainable=True).train()
    params = [(n, p) for n, p in pm.named_parameters() if p.requires_grad]
    if not params or any(".lora_" not in n for n, _ in params):
        sys.exit("train step: want only LoRA parameters trainable, got %s" % [n for n, _ in params])
    b = blip_batch(tok, enc)
    opt = torch.optim.AdamW([p for _, p in params], **ADAMW)
    opt.zero_grad()
    loss = blip_loss(pm, pv[:2], b)
    loss.backward()
    grads = {"grad." + peft_key(n): p.grad.detach().clone().contiguous() for n, p in params}
    opt.step()
    with torch.no_grad():
        loss_after = float(blip_loss(pm.eval(), pv[:2], b))
    save_adapter(pm, "peft-a-step")
    small = sum(int((g.abs() < 1e-6).sum()) for g in grads.values())
    info = dict(dir="peft-a-step", optimizer="torch.optim.AdamW", params="the LoRA A and B tensors only",
                lr=ADAMW["lr"], betas=list(ADAMW["betas"]), eps=ADAMW["eps"], weight_decay=ADAMW["weight_decay"],
                amsgrad=False, grad_clipping=None, mode="train() (every dropout of tiny-a and the adapter is 0)",
                recipe="original BLIP: [DEC] replaces [CLS], pads and the prompt's tokens are -100, logits[:, :-1] "
                       "vs labels[:, 1:], cross_entropy with label_smoothing 0.1, mean over the kept tokens",
                images="pixel_values[:2]", input_ids=b["dec"].tolist(), labels=b["labels"].tolist(),
                prompt_len=b["prompt_len"], loss=float(loss), loss_after_step=loss_after,
                n_params=sum(p.numel() for _, p in params), grad_elements_below_1e_6=small)
    return grads, info


def build():
    os.makedirs(OUT, exist_ok=True)
    tok, pv, enc = inputs()
    base = load_base()
    base_logits, base_gens = outputs(base, tok, pv, enc)
    with safe_open(os.path.join(mf.TD, "parity", "tiny-a.safetensors"), "pt") as f:
        parity = f.get_tensor("logits")
    base_vs_parity = float((base_logits - parity).abs().max())
    if base_vs_parity > 1e-5:
        sys.exit("tiny-a's logits differ from parity/tiny-a.safetensors by %.3g: inputs are not the parity ones" % base_vs_parity)
    pm = make_adapter(base)
    keys = save_adapter(pm, "peft-a")
    logits, gens = outputs(pm, tok, pv, enc)
    merged_weights, merged_info, merged_gens = merged(pm, tok, pv, enc, logits)
    merged_info["generate_identical_to_unmerged"] = merged_gens == gens
    save_file(merged_weights, os.path.join(OUT, "merged-a.safetensors"))
    grads, step = train_step(tok, pv, enc)
    tensors = dict(pixel_values=pv.contiguous(), logits=logits, base_logits=base_logits, **grads)
    save_file(tensors, os.path.join(OUT, "peft-a.safetensors"))
    meta = dict(versions=dict(peft=peft.__version__, transformers=transformers.__version__, torch=torch.__version__),
                base_model=BASE, lora_config=LORA, scaling=LORA["lora_alpha"] / LORA["r"],
                adapter_init=dict(seed=ADAPTER_SEED, std=ADAPTER_STD,
                                  how="torch.Generator().manual_seed(seed); every lora_A/lora_B in named_parameters() "
                                      "order <- std * torch.randn(shape, generator)"),
                adapter_keys=keys, lora_modules=lora_modules(pm), images=mf.PARITY_IMAGES[:N_IMAGES],
                captions=mf.CAPTIONS, input_ids=enc.input_ids.tolist(), attention_mask=enc.attention_mask.tolist(),
                prompt=mf.PROMPT, base_logits_vs_parity=base_vs_parity,
                max_abs_logits_diff_adapter_vs_base=float((logits - base_logits).abs().max()),
                generate=gens, base_generate=base_gens, merged=merged_info, train_step=step)
    with open(os.path.join(OUT, "peft-a.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(dict(adapter_vs_base=meta["max_abs_logits_diff_adapter_vs_base"], merged=merged_info,
                          loss=step["loss"], loss_after=step["loss_after_step"], small_grads=step["grad_elements_below_1e_6"])))


def check_captune(d):
    """Loads a Captune-written adapter with peft and records peft's view of it and its outputs."""
    d = d.rstrip("/")
    tok, pv, enc = inputs()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pm = PeftModel.from_pretrained(load_base(), d).eval()
    with safe_open(os.path.join(d, "adapter_model.safetensors"), "pt") as f:
        saved = {k: f.get_tensor(k) for k in f.keys()}
    expected = {peft_key(n): p for n, p in pm.named_parameters() if ".lora_" in n}
    missing, unexpected = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
    # peft warns rather than fails on most key mismatches: compare values to be sure it took them.
    not_loaded = sorted(k for k in set(expected) & set(saved) if not torch.equal(expected[k].detach(), saved[k].float()))
    logits, gens = outputs(pm, tok, pv, enc)
    with open(os.path.join(d, "adapter_config.json")) as f:
        cfg = json.load(f)
    res = dict(versions=dict(peft=peft.__version__, transformers=transformers.__version__, torch=torch.__version__),
               adapter=os.path.relpath(d, ROOT), base_model=BASE, adapter_config=cfg, missing_keys=missing,
               unexpected_keys=unexpected, values_not_loaded=not_loaded, n_keys=len(saved),
               warnings=[str(w.message) for w in caught if "key" in str(w.message).lower()],
               logits_file=os.path.basename(d) + "-check.safetensors", images=mf.PARITY_IMAGES[:N_IMAGES],
               captions=mf.CAPTIONS, generate=gens)
    save_file({"logits": logits}, d + "-check.safetensors")
    with open(d + "-check.json", "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps({k: res[k] for k in ("missing_keys", "unexpected_keys", "values_not_loaded", "n_keys", "warnings")}))
    if missing or unexpected or not_loaded:
        sys.exit("peft does not load the adapter as written: see %s-check.json" % d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check-captune", metavar="DIR", help="an adapter folder Captune wrote")
    a = ap.parse_args()
    d = os.path.abspath(a.check_captune) if a.check_captune else None
    os.chdir(ROOT)
    if d:
        check_captune(d)
    else:
        build()


if __name__ == "__main__":
    main()
