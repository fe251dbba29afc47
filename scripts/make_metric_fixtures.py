#!/usr/bin/env python
"""Reference numbers for finetune/metrics, computed by pycocoevalcap itself.

Reads the real COCO captions in $CAPTUNE_COCO_SAMPLE (a folder with magic_result.json, which the
repository does not hold; default: where the development machines keep it beside the checkout) and
writes, under finetune/metrics/testdata/:

  pycocoevalcap_<set>.json  corpus and per-image BLEU-1..4, ROUGE-L and CIDEr-D of one image set,
                            scored exactly as pycocoevalcap's COCOEvalCap.evaluate does it
                            (PTBTokenizer over the references and over the candidates, then the
                            scorers), with the image ids in scoring order;
  ptb_tokens.json           for every caption of the folder, the first 8 hex digits of the SHA-256
                            of pycocoevalcap's tokenized caption (not the caption: the folder's
                            README allows committing numbers only).

and, from made-up text that needs no data folder:

  pycocoevalcap_handmade.json  a few tiny made-up cases (empty candidate, candidate equal to a
                            reference, punctuation, an empty reference) with their captions,
                            pycocoevalcap's tokenization and scores;
  ptb_probes.json           tricky made-up lines (hand-written plus seeded random ones, some of them
                            Greek capitals for Java's final-sigma rule) and the raw
                            output of the CoreNLP jar that pycocoevalcap runs (lower-cased tokens,
                            before punctuation removal), line by line;
  ptb_bmp.json              the jar's output for one probe line per BMP character, hashed per block
                            of 256 characters.

Sets: magic_first500 (the first 500 images of magic_result.json with the MAGIC predictions),
magic_all (all 4,982 images), fakecap_overlap128 (the 128 images of fakecap_overlap_image_ids.txt
with the candidates of captions_val2014_fakecap_results.json).

METEOR and SPICE are not computed: finetune/metrics does not implement them.

Usage: .venv/bin/python scripts/make_metric_fixtures.py [--data DIR] [--out DIR] [--debug-dir DIR]
--debug-dir also writes the tokenized captions as text, one per line, for comparing by hand; that
directory is for local use and must not be committed.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import random

import numpy as np
import pycocoevalcap.tokenizer.ptbtokenizer as ptbtokenizer
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.environ.get("CAPTUNE_COCO_SAMPLE") or os.path.join(ROOT, "..", "shared", "data", "coco_captions_sample")
DEFAULT_OUT = os.path.join(ROOT, "finetune", "metrics", "testdata")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def short_hash(s):
    return hashlib.sha256(s.encode("utf-8")).hexdigest()[:8]


def image_id(name):
    return int(name.rsplit("_", 1)[1].split(".")[0])


def java_version():
    out = subprocess.run(["java", "-version"], capture_output=True, text=True)
    return out.stderr.splitlines()[0] if out.stderr else "unknown"


def pycocoevalcap_version():
    try:
        from importlib.metadata import version
        return version("pycocoevalcap")
    except Exception:  # pragma: no cover - only for the record
        return "unknown"


def tokenize(captions_for_image):
    """PTBTokenizer.tokenize on {id: [caption, ...]} (one Java run, like COCOEvalCap)."""
    return PTBTokenizer().tokenize({k: [{"caption": c} for c in v] for k, v in captions_for_image.items()})


def run_jar(lines):
    """Raw output lines of the CoreNLP jar on lines joined by newlines, run as pycocoevalcap runs it."""
    jar_dir = os.path.dirname(os.path.abspath(ptbtokenizer.__file__))
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write("\n".join(lines))
        path = f.name
    try:
        out = subprocess.run(["java", "-cp", os.path.join(jar_dir, ptbtokenizer.STANFORD_CORENLP_3_4_1_JAR),
                              "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines", "-lowerCase", path],
                             capture_output=True, check=True)
    finally:
        os.remove(path)
    return out.stdout.decode("utf-8").split("\n")


def scorers(gts, res):
    """Corpus and per-image scores of pycocoevalcap's scorers on tokenized captions."""
    corpus, per_image = {}, {}
    for scorer, methods in [(Bleu(4), ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4"]),
                            (Rouge(), ["ROUGE_L"]),
                            (Cider(), ["CIDEr"])]:
        if isinstance(scorer, Bleu):
            score, scores = scorer.compute_score(gts, res, verbose=0)
        else:
            score, scores = scorer.compute_score(gts, res)
            score, scores = [score], [scores]
        for m, sc, scs in zip(methods, score, scores):
            corpus[m] = float(sc)
            per_image[m] = [float(x) for x in np.asarray(scs).tolist()]
    return corpus, per_image


def score_set(name, ids, refs, cands, source, per_image_metrics):
    """Scores one set the way COCOEvalCap.evaluate does and returns the fixture dict."""
    gts = tokenize({i: refs[i] for i in ids})
    res = tokenize({i: [cands[i]] for i in ids})
    corpus, per_image = scorers(gts, res)
    per_image = {m: v for m, v in per_image.items() if m in per_image_metrics}
    return {
        "set": name,
        "source": source,
        "pycocoevalcap": pycocoevalcap_version(),
        "java": java_version(),
        "image_ids": ids,
        "corpus": corpus,
        "per_image": per_image,
    }


# Made-up cases for the unit tests; they are not COCO captions, so they are committed as text.
HANDMADE = [
    ("equal", ["A dog runs on the beach.", "A brown dog is running along the sand."], "a dog runs on the beach"),
    ("empty", ["Two cats sleep on a red sofa.", "A pair of cats napping on a couch."], ""),
    ("punct", ["A man (in a hat) rides a horse; it's sunny!", "Someone riding a horse in the sun."],
     "A MAN, in a hat, rides a horse -- it's sunny..."),
    ("emptyref", ["", "A plate of food on a table."], ""),
    ("long", ["A red bus.", "A bus parked at a stop."],
     "a big red double decker bus is parked at a bus stop next to a tall building on a sunny day"),
    ("fraction", ["There are 3 1/2 pizzas on the table.", "Pizzas on a table."], "3 1/2 pizzas on a table"),
    ("letter", ["The letter B.", "A sign with the letter B on it."], "a sign with the letter b"),
]

# Hand-written probes of the tokenizer's rules; seeded random lines are added to them.
PROBES = [
    "", " ", "A man (in red) rides a bike.", "The letter B.", "A dog runs, U.S. flag.",
    "Colour of the grey sign.The end", "it's a \"big\" dog's toy; don't cannot gonna",
    "St. Mark's Ave. etc.", "e.g. 3.5 1/2 $5 5-6 well-known -- ... [x] {y} a&b AT&T <b> :) x@y.com www.foo.com",
    "\u0130stanbul \u03a3\u0391\u03a3 \u00c9T\u00c9", "\u03a30\u03a3 \u039f\u0394\u039f\u03a3-\u0391\u0398\u0397\u039d\u0391\u03a3 \u03a3.\u03a3", "I.", "I. The end", "no. 5", "fig. 3", "Pty. Ltd",
    "co. lim", "Calif. Then", "Calif. then", "Calif.", "y'all", "o'clock", "rock'n'roll", "'90s", "'99",
    "dunkin' ol' 'em 'cause cont'd 'twas 'tis nor'easter c'mon e'er s'mores ev'ry li'l nat'l",
    "Cap'n c'est C.D.s S&P-500 S&Ls pro-life anti-war", "&amp; &quot;hi&quot; &apos;s &lt;b&gt; &nbsp;x",
    "&mdash; &ndash; &#123; &eacute;t&eacute;", "\u2018single\u2019 \u201cdouble\u201d \u00abangle\u00bb",
    "wait... . . . \u2026", "a -- b --- c ---- d ----- e", "\u2013 \u2014 \u2015", "5 7/8 1\u00bd \u00bc \u2153 \u2155",
    "\u00a2 \u00a3 \u20ac \u00a5 US$ C$ #", "(555) 123-4567 555-123-4567 +1 555.123.4567", "12/25/2014 1,000.50 -3.2 +5",
    "http://example.com/a/b?c=d, www.example.org. mail me: a.b@c.d.com", "#tag @user", "c++ C# f#",
    ":) ;-) =D :P ^_^ (^-^) >:(", "file.jpg x.txt report.pdf,", "and/or 1/2/3 a/b/c/d", "U.S.A. U.S. Then",
    "Ph.D. a.k.a. vs. Mr. Mrs. Dr. Prof. Gen.", "Jan. Feb. Sept. Mon. Tues.", "Inc. Corp. Ltd. Co. Bros.",
    "soft\u00adhyphen \u00ad", "tab\there", "nbsp\u00a0here", "zero\u200bwidth", "\x7fdel", "emoji \U0001F600 done",
    "math \U0001D400 bold", "\u00b2 \u2082 H\u2082O x\u00b2", "<<quoted>> < > = / * ** \\* |", "a_b __init__ @@ ##",
    "e.g.,", "i.e.;", "etc.,", "Jr.:", "it's", "It's.", "I'm I'd I'll we're you've", "don't won't can't ain't",
    "DON'T IT'S", "d'Artagnan l'amour O'Neil", "Dunkin'", "somethin'", "x'", "\"Quote\" and 'single' quotes",
    "''double single''", "``latex''", "-LRB- -RRB- -lcb-", "A. B. C.", "a.", "A.B", "a.b.c", "hello.World",
    "Hello!World? yes", "?!?! !!!", "\u00a1Hola! \u00bfQu\u00e9?", "\u3002\u3001", "1.2.3.4", "192.168.0.1",
    "3:45 10:30pm", "5'11\"", "4x4 2x", "24/7", "9/11", "1-800-FLOWERS", "x-ray X-Men e-mail",
]


def probe_lines(seed, count):
    rnd = random.Random(seed)
    alpha = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 3
             + list(" .,;:'\"`-/()[]{}&$#@!?*+=<>_\\%^~|") * 2
             + list("\r\u2028\x85\x0c\x0b\U0001F600\U0001D400  \t\u00a0\u2019\u2018\u201c\u201d"
                    "\u2013\u2014\u00ad\u00bd\u00e9\u00a3\u20ac\u2026"))
    words = [p for line in PROBES for p in line.split(" ") if p]
    lines = []
    for _ in range(count):
        parts = []
        for _ in range(rnd.randint(1, 12)):
            r = rnd.random()
            if r < 0.4:
                parts.append(rnd.choice(words))
            elif r < 0.7:
                parts.append("".join(rnd.choice(alpha) for _ in range(rnd.randint(1, 6))))
            else:
                parts.append(rnd.choice(alpha))
        lines.append(rnd.choice([" ", "", " ", " ", "  "]).join(parts))
    return lines


def greek_probe_lines(seed, count):
    """Capital sigmas among digits, joiners and marks: Java lower-cases a sigma at the end of a word
    as a final sigma, with its own idea of where words end."""
    rnd = random.Random(seed)
    alpha = list("\u03a3\u03a3\u03a3\u03a3\u03b1\u0391\u03b2\u0392 01.'-_:,;\u00b7\u0301\u00ad\u200baZ\u2019")
    return ["".join(rnd.choice(alpha) for _ in range(rnd.randint(1, 14))) for _ in range(count)]


# Characters that end a line for the jar; a BMP probe line must not contain them.
LINE_BREAKS = {0x0A, 0x0B, 0x0C, 0x0D, 0x85, 0x2028, 0x2029}
BMP_PROBE = "x{c}y {c} A{c}. 1{c}2"


def write_handmade(out):
    ids = [name for name, _, _ in HANDMADE]
    refs = {name: r for name, r, _ in HANDMADE}
    cands = {name: c for name, _, c in HANDMADE}
    gts = tokenize(refs)
    res = tokenize({k: [v] for k, v in cands.items()})
    corpus, per_image = scorers(gts, res)
    fx = {
        "set": "handmade",
        "pycocoevalcap": pycocoevalcap_version(),
        "java": java_version(),
        "images": [{"id": i, "refs": refs[i], "cand": cands[i], "refs_tokenized": gts[i],
                    "cand_tokenized": res[i][0]} for i in ids],
        "corpus": corpus,
        "per_image": per_image,
    }
    with open(os.path.join(out, "pycocoevalcap_handmade.json"), "w") as f:
        json.dump(fx, f, indent=1, ensure_ascii=True)
        f.write("\n")
    print("handmade: " + " ".join(f"{k}={v:.6f}" for k, v in corpus.items()))


def write_probes(out):
    lines = PROBES + probe_lines(seed=20141231, count=1500) + greek_probe_lines(seed=7, count=400)
    got = run_jar(lines)
    fx = {"java": java_version(), "probes": lines, "jar_lines": got}
    with open(os.path.join(out, "ptb_probes.json"), "w") as f:
        json.dump(fx, f, indent=0, ensure_ascii=True)
        f.write("\n")
    print(f"ptb_probes.json: {len(lines)} probe lines, {len(got)} output lines")


def write_bmp(out):
    chars = [c for c in range(0x10000) if c not in LINE_BREAKS and not 0xD800 <= c <= 0xDFFF]
    got = run_jar([BMP_PROBE.replace("{c}", chr(c)) for c in chars])
    if len(got) != len(chars):
        sys.exit(f"bmp probe: {len(chars)} lines in, {len(got)} lines out")
    blocks = {}
    for c, line in zip(chars, got):
        blocks.setdefault(c >> 8, []).append(line)
    fx = {
        "java": java_version(),
        "probe": BMP_PROBE,
        "skipped": "line breaks U+000A U+000B U+000C U+000D U+0085 U+2028 U+2029 and surrogates U+D800-U+DFFF",
        "hash": "first 8 hex digits of sha256 of the block's output lines joined by newlines",
        "block_sha": [short_hash("\n".join(blocks.get(b, []))) for b in range(256)],
    }
    with open(os.path.join(out, "ptb_bmp.json"), "w") as f:
        json.dump(fx, f, indent=0)
        f.write("\n")
    print(f"ptb_bmp.json: {len(chars)} characters in 256 blocks")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--debug-dir", default=None)
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    write_handmade(args.out)
    write_probes(args.out)
    write_bmp(args.out)

    magic_path = os.path.join(args.data, "magic_result.json")
    fakecap_path = os.path.join(args.data, "captions_val2014_fakecap_results.json")
    overlap_path = os.path.join(args.data, "fakecap_overlap_image_ids.txt")
    for p in (magic_path, fakecap_path, overlap_path):
        if not os.path.exists(p):
            sys.exit(f"missing {p}: this script needs the shared COCO caption sample folder {args.data}")

    with open(magic_path) as f:
        magic = json.load(f)
    with open(fakecap_path) as f:
        fakecap = json.load(f)
    with open(overlap_path) as f:
        overlap = {int(line) for line in f if line.strip()}

    ids = [image_id(x["image_name"]) for x in magic]
    refs = {image_id(x["image_name"]): x["captions"] for x in magic}
    preds = {image_id(x["image_name"]): x["prediction"] for x in magic}
    fake = {}
    for x in fakecap:
        if x["image_id"] in fake:
            sys.exit(f"fakecap results have two captions for image {x['image_id']}")
        fake[x["image_id"]] = x["caption"]

    source = {
        "magic_result.json": sha256_file(magic_path),
        "captions_val2014_fakecap_results.json": sha256_file(fakecap_path),
    }

    fake_ids = [i for i in ids if i in overlap]
    if len(fake_ids) != len(overlap):
        sys.exit(f"{len(overlap)} overlap ids but {len(fake_ids)} of them are in magic_result.json")
    sets = [
        ("magic_first500", ids[:500], preds, ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"]),
        ("magic_all", ids, preds, ["CIDEr"]),
        ("fakecap_overlap128", fake_ids, fake, ["Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L", "CIDEr"]),
    ]
    for name, set_ids, cands, per_image in sets:
        start = time.perf_counter()
        fx = score_set(name, set_ids, refs, cands, source, per_image)
        elapsed = time.perf_counter() - start
        path = os.path.join(args.out, f"pycocoevalcap_{name}.json")
        with open(path, "w") as f:
            json.dump(fx, f, indent=1)
            f.write("\n")
        scores = " ".join(f"{k}={v:.6f}" for k, v in fx["corpus"].items())
        print(f"{name}: {len(set_ids)} images in {elapsed:.2f}s (tokenize+BLEU+ROUGE-L+CIDEr-D): {scores}")

    # Tokenizations, in the contexts pycocoevalcap sees: all references in one Java run, all
    # predictions in another, all 1,000 fakecap captions in a third.
    gts = tokenize({i: refs[i] for i in ids})
    res = tokenize({i: [preds[i]] for i in ids})
    fake_ids_all = [x["image_id"] for x in fakecap]
    fres = tokenize({i: [fake[i]] for i in fake_ids_all})
    tokens = {
        "source": source,
        "hash": "first 8 hex digits of sha256 of the tokenized caption (tokens joined by one space); "
                "magic_refs holds one string per image, its references' hashes concatenated",
        "magic_image_ids": ids,
        "magic_refs": ["".join(short_hash(s) for s in gts[i]) for i in ids],
        "magic_predictions": [short_hash(res[i][0]) for i in ids],
        "fakecap_image_ids": fake_ids_all,
        "fakecap": [short_hash(fres[i][0]) for i in fake_ids_all],
    }
    with open(os.path.join(args.out, "ptb_tokens.json"), "w") as f:
        json.dump(tokens, f, separators=(",", ":"))
        f.write("\n")
    n = sum(len(v) // 8 for v in tokens["magic_refs"]) + len(tokens["magic_predictions"]) + len(tokens["fakecap"])
    print(f"ptb_tokens.json: {n} tokenized captions")

    if args.debug_dir:
        os.makedirs(args.debug_dir, exist_ok=True)
        with open(os.path.join(args.debug_dir, "magic_refs.txt"), "w") as f:
            f.writelines(s + "\n" for i in ids for s in gts[i])
        with open(os.path.join(args.debug_dir, "magic_predictions.txt"), "w") as f:
            f.writelines(res[i][0] + "\n" for i in ids)
        with open(os.path.join(args.debug_dir, "fakecap.txt"), "w") as f:
            f.writelines(fres[i][0] + "\n" for i in fake_ids_all)
        print(f"tokenized captions written to {args.debug_dir} (do not commit)")


if __name__ == "__main__":
    main()
