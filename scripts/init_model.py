#!/usr/bin/env python3
"""Writes a randomly initialised BLIP captioning model folder (dev-time; used by make_bundled.sh).

    .venv/bin/python scripts/init_model.py --tokenizer DIR --out DIR --seed 1 [--image 64 --hidden 96 ...]

Weights follow transformers' own initialisation (BlipForConditionalGeneration(config) under a fixed
seed); the tokenizer files and a BlipImageProcessor config for the image size are saved beside them.
"""
import argparse

import torch
from transformers import BertTokenizerFast, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor

ap = argparse.ArgumentParser()
ap.add_argument("--tokenizer", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--image", type=int, default=64)
ap.add_argument("--patch", type=int, default=8)
ap.add_argument("--hidden", type=int, default=96)
ap.add_argument("--heads", type=int, default=4)
ap.add_argument("--vision-layers", type=int, default=3)
ap.add_argument("--text-layers", type=int, default=2)
ap.add_argument("--max-positions", type=int, default=40)
a = ap.parse_args()

torch.manual_seed(a.seed)
tok = BertTokenizerFast.from_pretrained(a.tokenizer)
ids = {t: tok.convert_tokens_to_ids(t) for t in ["[PAD]", "[SEP]", "[DEC]"]}
cfg = BlipConfig(
    vision_config=dict(hidden_size=a.hidden, intermediate_size=2 * a.hidden, num_hidden_layers=a.vision_layers,
                       num_attention_heads=a.heads, image_size=a.image, patch_size=a.patch, initializer_range=0.02),
    text_config=dict(vocab_size=len(tok), hidden_size=a.hidden, intermediate_size=2 * a.hidden,
                     num_hidden_layers=a.text_layers, num_attention_heads=a.heads,
                     max_position_embeddings=a.max_positions, bos_token_id=ids["[DEC]"], sep_token_id=ids["[SEP]"],
                     eos_token_id=ids["[SEP]"], pad_token_id=ids["[PAD]"]))
model = BlipForConditionalGeneration(cfg)
model.save_pretrained(a.out)
tok.save_pretrained(a.out)
BlipImageProcessor(size={"height": a.image, "width": a.image}).save_pretrained(a.out)
print("wrote", a.out, sum(p.numel() for p in model.parameters()), "parameters")
