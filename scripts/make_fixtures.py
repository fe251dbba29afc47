#!/usr/bin/env python3
"""Builds the BLIP parity fixtures that Captune's Go tests compare against (dev-time only).

It creates tiny random-initialised transformers BlipForConditionalGeneration models in several
configs, saves them with save_pretrained (plus the test tokenizer and preprocessor config), and dumps
reference outputs of transformers on them: pixel values from BlipImageProcessor, vision embeddings,
decoder logits, losses in both recipes, generate() ids for greedy and beam search, and the
parameters after one AdamW step.

    .venv/bin/python scripts/make_fixtures.py              # everything
    .venv/bin/python scripts/make_fixtures.py --check-written inference/testdata/models/written

The second form loads a model that Captune wrote (see inference/model_io_test.go -write-model) with
transformers, checks that no weight is missing, and records its generate() ids.
"""
import argparse
import json
import os
import shutil
import sys
import warnings

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps
from safetensors.torch import save_file
from transformers import (BertTokenizerFast, BlipConfig, BlipForConditionalGeneration,
                          BlipImageProcessor)
from transformers.utils import logging as hf_logging

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TD = os.path.join(ROOT, "inference", "testdata")
TOK = os.environ.get("CAPTUNE_FIXTURE_TOKENIZER", os.path.join(TD, "tokenizer"))
torch.set_num_threads(2)


def tokenizer_info():
    tok = BertTokenizerFast.from_pretrained(TOK)
    ids = {t: tok.convert_tokens_to_ids(t) for t in ["[PAD]", "[CLS]", "[SEP]", "[DEC]", "[ENC]"]}
    return tok, len(tok), ids


def configs(vocab, ids):
    common_text = dict(vocab_size=vocab, bos_token_id=ids["[DEC]"], sep_token_id=ids["[SEP]"],
                       pad_token_id=ids["[PAD]"], eos_token_id=ids["[SEP]"])
    return {
        # Two layers each side, 4 heads, 32x32 images in 8x8 patches.
        "tiny-a": BlipConfig(
            vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                               image_size=32, patch_size=8, layer_norm_eps=1e-5),
            text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                             max_position_embeddings=64, layer_norm_eps=1e-12, label_smoothing=0.0, **common_text)),
        # Different everything: 3 vision layers of 3 heads at 48 px / 16 px patches, one text layer
        # of 2 heads with hidden 24 != vision 48 (cross-attention from 48), tanh-GELU in the text
        # decoder, label smoothing 0.1 in the config, and an LM head tied to the word embeddings.
        "tiny-b": BlipConfig(
            vision_config=dict(hidden_size=48, intermediate_size=80, num_hidden_layers=3, num_attention_heads=3,
                               image_size=48, patch_size=16, layer_norm_eps=1e-6),
            text_config=dict(hidden_size=24, intermediate_size=40, num_hidden_layers=1, num_attention_heads=2,
                             max_position_embeddings=40, layer_norm_eps=1e-12, hidden_act="gelu_new",
                             label_smoothing=0.1, **common_text)),
    }


def randomize(model, seed, tie=False):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name or "layer_norm" in name and name.endswith("weight") or "post_layernorm.weight" in name:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))
        if tie:
            model.text_decoder.cls.predictions.decoder.weight.copy_(
                model.text_decoder.bert.embeddings.word_embeddings.weight)


def calibrate_end_token(model, proc, sep):
    """Raises the LM-head bias of [SEP] until greedy and beam captions of the parity images end at
    varied lengths, so that the fixtures exercise end-of-caption handling (a random model otherwise
    never stops, or stops at once)."""
    imgdir = os.path.join(TD, "images")
    images = [ImageOps.exif_transpose(Image.open(os.path.join(imgdir, f))) for f in PARITY_IMAGES]
    pv = proc(images=images, return_tensors="pt").pixel_values
    bias = model.text_decoder.cls.predictions.bias
    base = float(bias[sep])
    best = (-1, 0.0)
    for delta in [x * 0.1 for x in range(0, 31)]:
        with torch.no_grad():
            bias[sep] = base + delta
            g = model.generate(pixel_values=pv, max_length=20)
            b = model.generate(pixel_values=pv[:4], max_length=20, num_beams=3)
        lg = [len(trim(s.tolist(), sep)) for s in g]
        lb = [len(trim(s.tolist(), sep)) for s in b]
        score = len(set(lg)) + len(set(lb)) + 2 * sum(1 for n in lg + lb if 2 < n < 20)
        if score > best[0]:
            best = (score, delta, lg, lb)
    with torch.no_grad():
        bias[sep] = base + best[1]
    print("  [SEP] bias +%.2f: greedy lengths %s, beam lengths %s" % (best[1], best[2], best[3]))


def make_images():
    d = os.path.join(TD, "images")
    os.makedirs(d, exist_ok=True)
    g = np.random.default_rng(7)

    def scene(w, h, seed):
        r = np.random.default_rng(seed)
        img = Image.new("RGB", (w, h), tuple(int(x) for x in r.integers(150, 255, 3)))
        dr = ImageDraw.Draw(img)
        for _ in range(3):
            x0, y0 = int(r.integers(0, w - 8)), int(r.integers(0, h - 8))
            x1, y1 = x0 + int(r.integers(5, w // 2)), y0 + int(r.integers(5, h // 2))
            col = tuple(int(x) for x in r.integers(0, 255, 3))
            if r.integers(2):
                dr.ellipse([x0, y0, x1, y1], fill=col)
            else:
                dr.rectangle([x0, y0, x1, y1], fill=col)
        arr = np.asarray(img).astype(np.int16) + r.integers(-12, 12, (h, w, 3))
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))

    scene(50, 40, 1).save(os.path.join(d, "rgb.png"))
    scene(64, 48, 2).save(os.path.join(d, "photo.jpg"), quality=92)
    scene(30, 30, 3).convert("L").save(os.path.join(d, "gray.png"))
    rgba = scene(40, 40, 4).convert("RGBA")
    a = np.asarray(rgba).copy(); a[:, :20, 3] = 90
    Image.fromarray(a, "RGBA").save(os.path.join(d, "rgba.png"))
    scene(40, 30, 5).convert("P", palette=Image.ADAPTIVE, colors=16).save(os.path.join(d, "palette.gif"))
    scene(70, 21, 6).save(os.path.join(d, "wide.bmp"))
    scene(33, 57, 7).save(os.path.join(d, "tall.tiff"))
    scene(44, 36, 8).save(os.path.join(d, "lossless.webp"), lossless=True)
    ex = scene(48, 32, 9)
    exif = ex.getexif(); exif[0x0112] = 6
    ex.save(os.path.join(d, "exif6.jpg"), quality=92, exif=exif)
    # 16-bit grayscale: Pillow's convert("RGB") clips 16-bit values instead of scaling them, so this one
    # is compared against its own 8-bit version (high byte), not against the processor.
    g16 = (np.asarray(scene(32, 32, 10).convert("L")).astype(np.uint16) * 257)
    Image.fromarray(g16, "I;16").save(os.path.join(d, "gray16.png"))
    Image.fromarray((g16 >> 8).astype(np.uint8), "L").save(os.path.join(d, "gray16_as8.png"))
    return d


PARITY_IMAGES = ["rgb.png", "photo.jpg", "gray.png", "rgba.png", "palette.gif", "wide.bmp", "tall.tiff",
                 "lossless.webp", "exif6.jpg"]
CAPTIONS = ["a picture of two red circles above a blue square",
            "a picture of a dog playing with balls on the grass, near a small tree."]
PROMPT = "a picture of"


def generation_cases():
    return [
        dict(name="greedy", num_beams=1, max_length=20),
        dict(name="greedy_prompt", num_beams=1, max_length=20, prompt=True),
        dict(name="greedy_min_rep", num_beams=1, max_length=24, min_length=12, repetition_penalty=1.5),
        dict(name="greedy_ngram", num_beams=1, max_length=20, no_repeat_ngram_size=2),
        dict(name="beam3", num_beams=3, max_length=20, min_length=5),
        dict(name="beam3_prompt", num_beams=3, max_length=20, prompt=True),
        dict(name="beam3_lp_rep", num_beams=3, max_length=16, length_penalty=0.6, repetition_penalty=1.3,
             no_repeat_ngram_size=3),
        dict(name="beam4_early_lp2", num_beams=4, max_length=18, early_stopping=True, length_penalty=2.0),
    ]


def trim(seq, sep):
    out = []
    for t in seq:
        out.append(int(t))
        if int(t) == sep and len(out) > 1:
            break
    return out


def generate_all(model, pv, tok, sep):
    res = {}
    prompt_ids = tok(PROMPT, return_tensors="pt").input_ids
    for c in generation_cases():
        kw = {k: v for k, v in c.items() if k not in ("name", "prompt")}
        ids = prompt_ids.repeat(pv.shape[0], 1) if c.get("prompt") else None
        with torch.no_grad():
            out = model.generate(pixel_values=pv, input_ids=ids, **kw)
        res[c["name"]] = dict(options=kw, prompt=c.get("prompt", False),
                              sequences=[trim(s.tolist(), sep) for s in out])
    return res, prompt_ids[0, 1:-1].tolist()


def build(name, cfg, tok, ids, seed):
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(cfg).eval()
    randomize(model, seed, tie=(name == "tiny-b"))
    out = os.path.join(TD, "models", name)
    shutil.rmtree(out, ignore_errors=True)
    proc = BlipImageProcessor(size={"height": cfg.vision_config.image_size, "width": cfg.vision_config.image_size})
    calibrate_end_token(model, proc, ids["[SEP]"])
    model.save_pretrained(out)
    tok.save_pretrained(out)
    proc.save_pretrained(out)
    return model, proc, out


def dump(name, model, proc, tok, ids):
    imgdir = os.path.join(TD, "images")
    images = [ImageOps.exif_transpose(Image.open(os.path.join(imgdir, f))) for f in PARITY_IMAGES]
    pv = proc(images=images, return_tensors="pt").pixel_values
    tensors = {"pixel_values": pv.contiguous()}
    with torch.no_grad():
        vis = model.vision_model(pixel_values=pv).last_hidden_state
    tensors["vision_embeds"] = vis.contiguous()
    enc = tok(CAPTIONS, padding=True, return_tensors="pt")
    pv2 = pv[:2]
    with torch.no_grad():
        out = model(pixel_values=pv2, input_ids=enc.input_ids, attention_mask=enc.attention_mask,
                    labels=enc.input_ids)
    tensors["logits"] = out.logits.contiguous()
    hf_loss = float(out.loss)
    # The original BLIP recipe: [DEC] first, pads and prompt out of the loss, smoothing 0.1.
    prompt_len = len(tok(PROMPT).input_ids) - 1
    dec = enc.input_ids.clone(); dec[:, 0] = ids["[DEC]"]
    labels = dec.masked_fill(enc.attention_mask == 0, -100); labels[:, :prompt_len] = -100
    V = model.config.text_config.vocab_size

    def blip_loss(m):
        logits = m(pixel_values=pv2, input_ids=dec, attention_mask=enc.attention_mask).logits
        return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1),
                                                 ignore_index=-100, label_smoothing=0.1)
    with torch.no_grad():
        bl = float(blip_loss(model))
    # One AdamW step on the BLIP-recipe loss, from a copy of the model.
    import copy
    m2 = copy.deepcopy(model).train()
    opt = torch.optim.AdamW(m2.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05)
    opt.zero_grad(); loss = blip_loss(m2); loss.backward(); opt.step()
    after = {k: v.detach().clone().contiguous() for k, v in m2.state_dict().items() if k != "text_decoder.cls.predictions.decoder.bias"}
    save_file(after, os.path.join(TD, "parity", name + "-adamw.safetensors"))
    gens, prompt_tokens = generate_all(model, pv[:4], tok, ids["[SEP]"])
    meta = dict(images=PARITY_IMAGES, captions=CAPTIONS, input_ids=enc.input_ids.tolist(),
                attention_mask=enc.attention_mask.tolist(), prompt=PROMPT, prompt_tokens=prompt_tokens,
                prompt_len=prompt_len, hf_loss=hf_loss, blip_loss=bl, adamw=dict(lr=1e-3, weight_decay=0.05,
                betas=[0.9, 0.999], eps=1e-8), generate=gens)
    save_file(tensors, os.path.join(TD, "parity", name + ".safetensors"))
    with open(os.path.join(TD, "parity", name + ".json"), "w") as f:
        json.dump(meta, f, indent=1)
    return pv


def variants(model, out_a):
    """Other layouts of tiny-a's weights: bf16 and fp16 safetensors, sharded safetensors, pytorch_model.bin."""
    base = os.path.join(TD, "models")
    import copy
    for dtype, tag in [(torch.bfloat16, "bf16"), (torch.float16, "fp16")]:
        d = os.path.join(base, "tiny-a-" + tag)
        shutil.rmtree(d, ignore_errors=True)
        copy.deepcopy(model).to(dtype).save_pretrained(d)
    d = os.path.join(base, "tiny-a-sharded")
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(d, max_shard_size="150KB")
    d = os.path.join(base, "tiny-a-bin")
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(d, safe_serialization=False)
    for d in ["tiny-a-bf16", "tiny-a-fp16", "tiny-a-sharded", "tiny-a-bin"]:
        for f in os.listdir(out_a):
            if f.startswith("tokenizer") or f in ("vocab.txt", "special_tokens_map.json", "preprocessor_config.json"):
                shutil.copy(os.path.join(out_a, f), os.path.join(base, d, f))


def check_written(path):
    tok = BertTokenizerFast.from_pretrained(path)
    hf_logging.set_verbosity_error()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, info = BlipForConditionalGeneration.from_pretrained(path, output_loading_info=True)
    model.eval()
    proc = BlipImageProcessor.from_pretrained(path)
    imgdir = os.path.join(TD, "images")
    images = [ImageOps.exif_transpose(Image.open(os.path.join(imgdir, f))) for f in PARITY_IMAGES[:3]]
    pv = proc(images=images, return_tensors="pt").pixel_values
    sep = model.config.text_config.sep_token_id
    with torch.no_grad():
        greedy = model.generate(pixel_values=pv, max_length=20)
        beam = model.generate(pixel_values=pv, max_length=20, num_beams=3)
    res = dict(missing_keys=info["missing_keys"], unexpected_keys=info["unexpected_keys"],
               mismatched_keys=[list(map(str, m)) for m in info["mismatched_keys"]],
               warnings=[str(w.message) for w in caught if "weight" in str(w.message).lower()],
               images=PARITY_IMAGES[:3], greedy=[trim(s.tolist(), sep) for s in greedy],
               beam3=[trim(s.tolist(), sep) for s in beam], tokenizer_vocab=len(tok))
    with open(os.path.join(TD, "parity", "written-check.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps({k: v for k, v in res.items() if k not in ("greedy", "beam3")}))
    if res["missing_keys"] or res["mismatched_keys"]:
        sys.exit("transformers reports missing or mismatched weights")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check-written")
    a = ap.parse_args()
    if a.check_written:
        check_written(a.check_written)
        return
    os.makedirs(os.path.join(TD, "parity"), exist_ok=True)
    tok, vocab, ids = tokenizer_info()
    print("tokenizer:", vocab, ids)
    make_images()
    for i, (name, cfg) in enumerate(configs(vocab, ids).items()):
        model, proc, out = build(name, cfg, tok, ids, seed=100 + i)
        dump(name, model, proc, tok, ids)
        if name == "tiny-a":
            variants(model, out)
        print("wrote", name)


if __name__ == "__main__":
    main()
