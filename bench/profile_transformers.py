"""The transformers side of the beam batch profile (bench/README.md, "Beam batch profile").

    .venv-latest/bin/python bench/profile_transformers.py      # newest torch + transformers
    .venv/bin/python bench/profile_transformers.py             # the pinned reference

One batch of the bench's 8 images x 3 beams, max length 20, on build/bench/blip-base-random (made by
bench/run.py), with 2 intra-op threads, after one warm-up batch. Under torch.profiler, each module
that matches a section of Captune's TestProfileBeamBatch (vision encoder, self-attention with its KV
cache update, cross-attention, MLP, LM head, embeddings) runs inside a record_function range of that
name (forward hooks), so the profiler's CPU totals per range give the same breakdown; the beam
search's own operators (log-softmax, top-k, the cache reorder's index_select) are read from the
operator table of the same run. Dev-time only.
"""
import argparse
import os
import time

import torch
import transformers
from PIL import Image
from transformers import BlipForConditionalGeneration, BlipProcessor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "build", "bench", "blip-base-random")
IMAGES = os.path.join(ROOT, "build", "bench", "images")


def sections(model):
    """(module, section name) for every module timed as a section."""
    out = [(model.vision_model, "vision encoder (once)"),
           (model.text_decoder.bert.embeddings, "embeddings"),
           (model.text_decoder.cls, "LM head")]
    for layer in model.text_decoder.bert.encoder.layer:
        out += [(layer.attention, "self-attention (+ KV append)"),
                (layer.crossattention, "cross-attention"),
                (layer.intermediate, "MLP"), (layer.output, "MLP")]
    return out


def hook(module, name):
    ranges = []

    def pre(*_args, **_kwargs):
        r = torch.profiler.record_function("section: " + name)
        r.__enter__()
        ranges.append(r)

    def post(*_args, **_kwargs):
        ranges.pop().__exit__(None, None, None)
    module.register_forward_pre_hook(pre)
    module.register_forward_hook(post)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--beams", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = BlipForConditionalGeneration.from_pretrained(MODEL).eval()
    processor = BlipProcessor.from_pretrained(MODEL)
    imgs = [Image.open(os.path.join(IMAGES, "img%d.jpg" % i)).convert("RGB") for i in range(8)]
    pv = processor(images=imgs, return_tensors="pt").pixel_values
    for module, name in sections(model):
        hook(module, name)

    def batch():
        with torch.no_grad():
            return model.generate(pixel_values=pv, max_length=20, num_beams=args.beams)
    batch()  # warm-up
    t = time.perf_counter()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        out = batch()
    wall = time.perf_counter() - t
    print("torch=%s transformers=%s threads=%d: 8 images x %d beams, %d tokens, %.2f s under the profiler"
          % (torch.__version__, transformers.__version__, torch.get_num_threads(), args.beams, out.shape[1], wall))
    avg = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in avg) / 1e6
    print("%-40s %9s %7s" % ("section (range, CPU total)", "s", "share"))
    secs = sorted((e for e in avg if e.key.startswith("section: ")), key=lambda e: -e.cpu_time_total)
    for e in secs:
        print("%-40s %9.3f %6.1f%%" % (e.key[len("section: "):], e.cpu_time_total / 1e6, 100 * e.cpu_time_total / 1e6 / total))
    print("%-40s %9s %7s %7s" % ("operator (self CPU)", "s", "share", "calls"))
    ops = sorted((e for e in avg if e.key.startswith("aten::")), key=lambda e: -e.self_cpu_time_total)
    for e in ops[:14]:
        print("%-40s %9.3f %6.1f%% %7d" % (e.key, e.self_cpu_time_total / 1e6, 100 * e.self_cpu_time_total / 1e6 / total, e.count))
    print("all operators, self CPU: %.3f s" % total)


if __name__ == "__main__":
    main()
