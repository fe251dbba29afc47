#!/usr/bin/env python3
"""Builds Captune's test BLIP tokenizer and its parity fixtures (dev-time only).

    .venv/bin/python scripts/make_tokenizer.py

Writes, under inference/testdata/:

  tokenizer/            a small BERT-uncased WordPiece tokenizer laid out like the one in
                        Salesforce/blip-image-captioning-base (tokenizer.json, vocab.txt,
                        tokenizer_config.json, special_tokens_map.json, added_tokens.json), saved with
                        BertTokenizerFast.save_pretrained. [DEC] (bos) and [ENC] are added exactly as
                        BLIP's processor does, so they are the last two ids.
  tokenizer_vocab_only/ the same tokenizer without tokenizer.json (vocab.txt, tokenizer_config.json,
                        special_tokens_map.json), to test the slow-tokenizer fallback.
  tokenizer_cases.json  BertTokenizerFast ids and decoded text for hand-written edge cases, random id
                        sequences, and 200 real COCO captions. The COCO captions are NOT copied: the
                        shared data README forbids copying any subset of it into the project, so the
                        fixture names each caption (image_name, index), and stores the sha256 of its
                        text, of its ids and of its decoded text. The Go test reads the caption from
                        the shared folder and skips those cases when it is absent.
  tokenizer_normalizer_sweep.json
                        what HF's BertNormalizer (the BLIP settings) makes of every single code point,
                        listing only those it changes, so the Go normalizer is checked on all of Unicode.

and inference/tokenizer/unicode_tables.go: the character classes HF's Rust code takes from the old
`unicode_categories` crate (control, non-spacing mark, punctuation) and the few characters its older
NFD tables do not decompose, measured from HF's behaviour on every code point. Go's unicode package
is newer (15.0), so using it directly would strip or split characters HF keeps.

The vocabulary is trained on the captions of the shared COCO sample plus the words the synthetic
sample domain uses, with a little multilingual text so that non-Latin cases exercise real WordPiece
splits rather than only [UNK].
"""
import hashlib
import json
import os
import random
import shutil
import sys
import unicodedata
import warnings

from tokenizers import BertWordPieceTokenizer
from tokenizers.normalizers import NFD, BertNormalizer
from tokenizers.pre_tokenizers import BertPreTokenizer
from transformers import BertTokenizerFast
from transformers.utils import logging as hf_logging

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TD = os.path.join(ROOT, "inference", "testdata")
OUT = os.path.join(TD, "tokenizer")
OUT_VOCAB_ONLY = os.path.join(TD, "tokenizer_vocab_only")
CASES = os.path.join(TD, "tokenizer_cases.json")
SWEEP = os.path.join(TD, "tokenizer_normalizer_sweep.json")
TABLES = os.path.join(ROOT, "inference", "tokenizer", "unicode_tables.go")
COCO = os.path.join(os.environ.get("CAPTUNE_COCO_SAMPLE") or os.path.join(os.path.dirname(ROOT), "shared", "data", "coco_captions_sample"), "magic_result.json")

VOCAB_SIZE = 2000
# 1 is below the two special tokens: HF then does not truncate at all, and neither does Go.
TRUNCATIONS = [1, 2, 3, 5, 16, 40]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Words of the synthetic sample domain (finetune/synth draws shapes with these attributes).
DOMAIN = {
    "colours": "red green blue yellow orange purple pink brown black white gray grey cyan magenta",
    "shapes": "circle circles square squares triangle triangles star stars hexagon hexagons shape shapes",
    "sizes": "small large big tiny medium",
    "numbers": "one two three four five",
    "positions": "above below left right of next to beside top bottom middle center",
    "textures": "striped dotted checkered plain",
}
# A little non-Latin and accented text, so those scripts get an alphabet and some merges.
MULTILINGUAL = [
    "一只猫坐在桌子上 一只狗 猫 狗 桌子",
    "猫がテーブルの上に座っている ねこ いぬ",
    "кошка сидит на столе собака кошка",
    "قطة تجلس على الطاولة قطة",
    "café naïve résumé jalapeño façade crème brûlée",
]


def load_coco():
    if not os.path.exists(COCO):
        sys.exit(f"missing {COCO}: the shared COCO caption sample is needed to train the vocabulary")
    with open(COCO, encoding="utf-8") as f:
        return json.load(f)


def train(coco):
    corpus = [c for item in coco for c in item["captions"]]
    domain = " ".join(DOMAIN.values())
    # Repeat the domain words and the multilingual lines so that they survive the frequency cut.
    corpus += [domain] * 200 + MULTILINGUAL * 20
    wp = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    wp.train_from_iterator(corpus, vocab_size=VOCAB_SIZE, min_frequency=2, special_tokens=SPECIALS,
                           limit_alphabet=1000, wordpieces_prefix="##", show_progress=False)
    tmp = os.path.join(TD, "tokenizer_train_tmp")
    os.makedirs(tmp, exist_ok=True)
    wp.save_model(tmp)
    # The trainer picks the same tokens on every run but orders them by Rust HashMap iteration,
    # which is random per process. Token order does not change WordPiece's splits, so sort it:
    # specials first, then whole-word tokens, then "##" continuations, each by length and text.
    path = os.path.join(tmp, "vocab.txt")
    with open(path, encoding="utf-8") as f:
        tokens = f.read().split("\n")[:-1]
    rest = sorted(set(tokens) - set(SPECIALS), key=lambda t: (t.startswith("##"), len(t), t))
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in SPECIALS + rest))
    return tmp


def build(vocab_dir):
    tok = BertTokenizerFast(vocab_file=os.path.join(vocab_dir, "vocab.txt"), do_lower_case=True,
                            strip_accents=None, tokenize_chinese_chars=True, model_max_length=512,
                            clean_up_tokenization_spaces=True)
    # Exactly what BLIP's code does to the bert-base-uncased tokenizer (BLIP models/blip.py
    # init_tokenizer; the HF checkpoint files carry the result).
    tok.add_special_tokens({"bos_token": "[DEC]"})
    tok.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    for d in (OUT, OUT_VOCAB_ONLY):
        shutil.rmtree(d, ignore_errors=True)
    tok.save_pretrained(OUT)
    os.makedirs(OUT_VOCAB_ONLY)
    for f in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(OUT, f), os.path.join(OUT_VOCAB_ONLY, f))
    shutil.rmtree(vocab_dir)
    return BertTokenizerFast.from_pretrained(OUT), BertTokenizerFast.from_pretrained(OUT_VOCAB_ONLY)


def check_layouts(tok, texts):
    """Loads the other folder layouts the Go tests build (TestLayouts) with transformers and checks
    that they encode and decode like the saved tokenizer, so the Go tests' expectations hold in HF."""
    def edit_config(src, drop):
        with open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        for k in drop:
            cfg.pop(k, None)
        return json.dumps(cfg)

    layouts = {
        "legacy config without added_tokens.json": (OUT_VOCAB_ONLY, {"tokenizer_config.json": edit_config(
            OUT_VOCAB_ONLY, ["added_tokens_decoder", "bos_token", "additional_special_tokens"])}),
        "legacy config with added_tokens.json": (OUT, {"tokenizer.json": None, "tokenizer_config.json": edit_config(
            OUT, ["added_tokens_decoder"])}),
        "tokenizer.json alone": (OUT, {"vocab.txt": None, "tokenizer_config.json": None,
                                       "special_tokens_map.json": None, "added_tokens.json": None}),
        "tokenizer.json with a legacy config": (OUT, {"tokenizer_config.json": edit_config(OUT, ["added_tokens_decoder"])}),
    }
    for name, (src, change) in layouts.items():
        tmp = os.path.join(TD, "tokenizer_layout_tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for f in os.listdir(src):
            if f not in change:
                shutil.copy(os.path.join(src, f), os.path.join(tmp, f))
        for f, content in change.items():
            if content is not None:
                with open(os.path.join(tmp, f), "w", encoding="utf-8") as out:
                    out.write(content)
        other = BertTokenizerFast.from_pretrained(tmp)
        shutil.rmtree(tmp)
        if len(other) != len(tok):
            sys.exit(f"layout {name!r}: {len(other)} tokens, want {len(tok)}")
        for text in texts:
            a, b = encode_case(tok, text), encode_case(other, text)
            if a != b:
                sys.exit(f"layout {name!r} differs on {text!r}")
        # Without a config transformers knows no bos_token; Captune falls back to [DEC] by name.
        if name != "tokenizer.json alone" and other.bos_token_id != tok.bos_token_id:
            sys.exit(f"layout {name!r}: bos id {other.bos_token_id}, want {tok.bos_token_id}")


def hand_cases():
    long = ("A man with a red helmet on a small moped on a dirt road, while two dogs chase a ball "
            "across the wide green field near an old wooden fence and a tall tree. ") * 8
    c = [
        ("coco style", "A man with a red helmet on a small moped on a dirt road."),
        ("upper case", "A DOG PLAYING WITH BALLS."),
        ("mixed case", "A DoG pLaYiNg WiTh BaLlS."),
        ("exclamation", "Two dogs playing in the snow!"),
        ("question and apostrophes", "What's this? A cat's toy, isn't it?"),
        ("contractions", "don't do not can't won't I'm you're we've they'd it's"),
        ("quotes spaced", "he said ' hello ' and ' bye '"),
        ("rock n roll", "rock'n'roll dog's ball"),
        ("digits", "3 red circles and 12 blue squares, 1.5 meters apart (approx.)"),
        ("numbers", "0 1 2 3 4 5 6 7 8 9 10 100 2024 3.14159"),
        ("separators", "1,000,000 people at 10:30 on 2024-01-01"),
        ("accents", "Café au lait in a naïve Ångström-sized cup"),
        ("accents many", "ÀÉÎÕÜ àéîõü çÇ ñÑ ß øØ æÆ łŁ"),
        ("accents food", "Crème brûlée, jalapeño, façade, résumé, coöperate"),
        ("vietnamese", "Tiếng Việt có dấu"),
        ("turkish dotted I", "İstanbul ıişçi"),
        ("german", "Straße GROSS Äpfel"),
        ("combining decomposed", "e\u0301 a\u0308 n\u0303 A\u030A"),
        ("leading combining mark", "\u0301abc \u0300"),
        ("zalgo", "z\u0337\u0322a\u0336l\u0338g\u0335o\u0334"),
        ("chinese", "一只猫坐在桌子上"),
        ("chinese in english", "a cat 猫 and a dog 狗 on a table桌子"),
        ("cjk compatibility ideographs", "\uf900\uf901 \ufa0e"),
        ("cjk extension b and edge ranges", "\U00020000\U00020001 \U0002B820\U0002B91F\U0002B920"),
        ("japanese", "猫がテーブルの上に座っている"),
        ("kana", "ひらがな カタカナ ｶﾀｶﾅ ガギグ"),
        ("korean", "고양이가 탁자 위에 앉아 있다"),
        ("cyrillic", "Кошка сидит на столе, ёжик и Йод"),
        ("greek", "Ένας σκύλος ΣΟΦΟΣ"),
        ("arabic", "قطة تجلس على الطاولة"),
        ("arabic harakat", "مَرْحَبًا بِكُمْ"),
        ("hebrew", "חתול יושב על השולחן"),
        ("devanagari", "एक बिल्ली मेज पर बैठी है"),
        ("thai", "แมวนั่งบนโต๊ะ"),
        ("emoji", "a dog 🐶 with a ball ⚽ 😀😀"),
        ("emoji zwj and flags", "family 👨\u200d👩\u200d👧\u200d👦 and flag 🇫🇷 thumbs 👍🏽"),
        ("newer emoji", "🥰 🫠 🪿 dog🥰"),
        ("variation selector", "\u263a\ufe0f smile \u2764\ufe0f"),
        ("control chars", "a\x00b\x01c\x7fd\u200be\ufefff\ufffdg"),
        ("tabs newlines", "a\tdog\nrunning\r\nin  the   park"),
        ("unicode spaces", "a\u00a0dog\u3000cat\u2003bird\u2028fish\u0085x\u000bq\u000cz"),
        ("soft hyphen", "co\u00adoperate"),
        ("private use and unassigned", "\ue000 x \u0378 y \U000E0001 z \U000F0000"),
        ("leading trailing spaces", "   a dog   "),
        ("empty", ""),
        ("only spaces", "     "),
        ("only whitespace controls", "\t\n\r \n"),
        ("only controls", "\x00\x01\u200b"),
        ("single letter", "a"),
        ("single period", "."),
        ("long caption", long),
        ("word of 100 chars", "a " + "b" * 100 + " c"),
        ("word of 101 chars", "a " + "b" * 101 + " c"),
        ("out of vocabulary", "supercalifragilisticexpialidocious xylophone quizzical"),
        ("punctuation soup", "!!!???...,,,;;;:::---___((()))[[[]]]{{{}}}"),
        ("ascii symbols", "$5 + 3 = 8 < 9 > 7 ^ ` | ~ @ # % & * \\ /"),
        ("unicode punctuation", "«quoted» “smart” ‘single’ — dash – en…ellipsis ¿qué? ¡sí! ·・"),
        ("symbols", "© ® ™ € £ ¥ ° ± × ÷ → ★ ♥"),
        ("special tokens in text", "a [CLS] dog [SEP] and [MASK] [DEC] [ENC] [PAD] [UNK]"),
        ("special tokens glued", "dog[SEP]cat[DEC][ENC]x [[CLS]]"),
        ("special tokens other case", "[cls] [Sep] [ dec ] [DEC"),
        ("url and email", "see https://example.com/a_b?c=d&e=f or mail me@example.org"),
        ("hashtags and wordpiece marker", "#sunset @friend ##wordpiece ## #"),
        ("fullwidth", "ＡＢＣ １２３ ！"),
        ("ligatures and numerals", "ﬁne ﬂower Ⅻ ½ ²"),
        ("math alphanumerics", "𝐀𝐁𝐂 𝔸𝔹"),
        ("other digits", "٣ ٤ ५ ６"),
        ("hyphens", "a well-known black-and-white photo"),
        ("brackets", "(a) [b] {c} <d>"),
        ("repeated words", "the the the the"),
        ("prompt blip", "a picture of"),
        ("prompt hf card", "a photography of"),
        ("domain 1", "a small red circle above a large blue star"),
        ("domain 2", "three striped triangles left of two dotted hexagons"),
        ("domain 3", "a tiny checkered square below a big plain star, one five four"),
        ("domain glued punctuation", "red,green;blue:yellow.orange!purple?"),
    ]
    return c


def divergent_chars():
    """Code points where HF's old category tables disagree with Python's (Unicode 14) and where
    HF's NFD-and-filter keeps a mark, so a case exercises exactly the table differences."""
    strip = BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    clean = BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    picks = []
    for cp in range(0x80, 0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat == "Cn" or cat == "Co":
            continue
        removed_by_strip = strip.normalize_str(ch) == "" and NFD().normalize_str(ch) == ch
        removed_by_clean = clean.normalize_str(ch) == ""
        if (cat == "Mn") != removed_by_strip or (cat in ("Cc", "Cf")) != removed_by_clean:
            picks.append(ch)
    rng = random.Random(7)
    picks = rng.sample(picks, min(40, len(picks)))
    # Characters HF's NFD does not decompose although Unicode does, e.g. U+11938.
    picks += [chr(cp) for cp in range(0x80, 0x110000) if not 0xD800 <= cp <= 0xDFFF
              and NFD().normalize_str(chr(cp)) == chr(cp) and unicodedata.normalize("NFD", chr(cp)) != chr(cp)]
    return [("category table differences", "x" + " x".join(picks) + " x" + "x".join(picks))]


def sha(s):
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def ids_key(ids):
    return ",".join(str(i) for i in ids)


def encode_case(tok, text):
    ids = tok.encode(text)
    case = {
        "ids": ids,
        "truncated": {str(n): tok.encode(text, truncation=True, max_length=n) for n in TRUNCATIONS},
        "decoded": tok.decode(ids, skip_special_tokens=True),
        "decoded_with_special": tok.decode(ids, skip_special_tokens=False),
    }
    return case


def random_id_cases(tok, n):
    rng = random.Random(11)
    size = len(tok)
    special = [tok.convert_tokens_to_ids(t) for t in SPECIALS + ["[DEC]", "[ENC]"]]
    dec, sep, pad = (tok.convert_tokens_to_ids(t) for t in ("[DEC]", "[SEP]", "[PAD]"))
    out = []
    for i in range(n):
        body = [rng.randrange(size) if rng.random() > 0.15 else rng.choice(special)
                for _ in range(rng.randrange(0, 30))]
        if i % 3 == 0:  # shaped like generate() output: [DEC] ... [SEP] [PAD]...
            body = [dec] + body + [sep] + [pad] * rng.randrange(0, 4)
        if i % 7 == 0:  # ids past the vocabulary are dropped by HF's decode
            body.insert(rng.randrange(len(body) + 1), size + rng.randrange(100))
        out.append({"ids": body,
                    "decoded": tok.decode(body, skip_special_tokens=True),
                    "decoded_with_special": tok.decode(body, skip_special_tokens=False)})
    return out


def coco_cases(tok, coco, n=200):
    flat = [(item["image_name"], i, c) for item in coco for i, c in enumerate(item["captions"])]
    rng = random.Random(2024)
    out = []
    for name, i, text in rng.sample(flat, n):
        ids = tok.encode(text)
        out.append({"image_name": name, "caption_index": i, "text_sha256": sha(text),
                    "n_ids": len(ids), "ids_sha256": sha(ids_key(ids)),
                    "truncated_40_sha256": sha(ids_key(tok.encode(text, truncation=True, max_length=40))),
                    "decoded_sha256": sha(tok.decode(ids, skip_special_tokens=True))})
    return out


def bert_normalizer():
    return BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)


def hangul_jamo(cp):
    """The algorithmic canonical decomposition of a Hangul syllable (Unicode 3.12)."""
    s = cp - 0xAC00
    if not 0 <= s < 11172:
        return None
    lead, vowel, trail = 0x1100 + s // 588, 0x1161 + (s % 588) // 28, 0x11A7 + s % 28
    return chr(lead) + chr(vowel) + (chr(trail) if trail != 0x11A7 else "")


def sweep():
    """HF's BLIP normalizer on every code point, as runs [first, last, output] of consecutive code
    points that all map to the same string, all to " c " (output "pad"), or all to their algorithmic
    Hangul decomposition (output "hangul"), listing only code points that change."""
    n = bert_normalizer()
    runs = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        out = n.normalize_str(ch)
        if out == ch:
            continue
        kind = "pad" if out == " " + ch + " " else "hangul" if out == hangul_jamo(cp) else out
        if runs and runs[-1][1] == cp - 1 and runs[-1][2] == kind and kind in ("", " ", "pad", "hangul"):
            runs[-1][1] = cp
        else:
            runs.append([cp, cp, kind])
    return runs


def table_ranges(pred):
    ranges = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or not pred(cp):
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return ranges


def write_tables():
    clean = BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    strip = BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    nfd = NFD()
    pre = BertPreTokenizer()

    def control(cp):  # removed by clean_text (is_control, NUL, U+FFFD)
        return clean.normalize_str(chr(cp)) == ""

    def mark(cp):  # dropped after NFD: only defined for code points NFD leaves alone
        ch = chr(cp)
        return nfd.normalize_str(ch) == ch and strip.normalize_str(ch) == ""

    def punct(cp):  # isolated by BertPreTokenizer
        ch = chr(cp)
        return [p for p, _ in pre.pre_tokenize_str("a" + ch + "a")] == ["a", ch, "a"]

    def no_decomposition(cp):  # decomposable in Unicode 14 but left alone by HF's older NFD tables
        ch = chr(cp)
        return nfd.normalize_str(ch) == ch and unicodedata.normalize("NFD", ch) != ch

    tables = {"hfControl": (control, "code points BertNormalizer's clean_text removes (is_control, NUL, U+FFFD)"),
              "hfNonspacingMark": (mark, "code points strip_accents removes after NFD (is_mark_nonspacing)"),
              "hfPunctuation": (punct, "code points BertPreTokenizer isolates (ASCII punctuation or is_punctuation)"),
              "hfNoDecomposition": (no_decomposition, "code points with a canonical decomposition that NFD leaves whole")}
    lines = ["// Code generated by scripts/make_tokenizer.py from tokenizers " + __import__("tokenizers").__version__
             + "; DO NOT EDIT.", "", "package tokenizer", "", 'import "unicode"', ""]
    for name, (pred, doc) in tables.items():
        r16, r32 = [], []
        for lo, hi in table_ranges(pred):
            if lo <= 0xFFFF < hi:  # unicode.RangeTable keeps 16- and 32-bit ranges apart
                r16.append((lo, 0xFFFF))
                lo = 0x10000
            (r16 if hi <= 0xFFFF else r32).append((lo, hi))
        latin = sum(1 for _, hi in r16 if hi <= 0xFF)
        lines.append(f"// {name} holds the {doc},")
        lines.append("// as Hugging Face tokenizers' Rust code classifies them.")
        lines.append(f"var {name} = &unicode.RangeTable{{")
        if r16:
            lines.append("\tR16: []unicode.Range16{")
            lines += [f"\t\t{{0x{lo:04x}, 0x{hi:04x}, 1}}," for lo, hi in r16]
            lines.append("\t},")
        if r32:
            lines.append("\tR32: []unicode.Range32{")
            lines += [f"\t\t{{0x{lo:x}, 0x{hi:x}, 1}}," for lo, hi in r32]
            lines.append("\t},")
        lines.append(f"\tLatinOffset: {latin},")
        lines.append("}")
        lines.append("")
    with open(TABLES, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def main():
    hf_logging.set_verbosity_error()
    # transformers 4.44 warns that clean_up_tokenization_spaces will change default in 4.45; the
    # saved config sets it explicitly, and only the config-less layout check meets the warning.
    warnings.filterwarnings("ignore", category=FutureWarning)
    coco = load_coco()
    tok, tok_vocab_only = build(train(coco))

    cases = []
    for name, text in hand_cases() + divergent_chars():
        case = {"name": name, "text": text, **encode_case(tok, text)}
        other = encode_case(tok_vocab_only, text)
        if any(case[k] != other[k] for k in other):
            sys.exit(f"case {name!r}: the vocab.txt-only tokenizer differs from tokenizer.json")
        cases.append(case)

    check_layouts(tok, [c["text"] for c in cases])

    ids = {t: tok.convert_tokens_to_ids(t) for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", "[ENC]"]}
    fixture = {
        "generator": "scripts/make_tokenizer.py",
        "transformers": __import__("transformers").__version__,
        "tokenizers": __import__("tokenizers").__version__,
        "vocab_size": len(tok),
        "special_ids": ids,
        "truncations": TRUNCATIONS,
        "cases": cases,
        "decode_cases": random_id_cases(tok, 40),
        "coco_file": "shared/data/coco_captions_sample/magic_result.json",
        "coco_cases": coco_cases(tok, coco),
    }
    with open(CASES, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(SWEEP, "w", encoding="utf-8") as f:
        runs = sweep()
        f.write('{"tokenizers": "%s", "settings": "clean_text, handle_chinese_chars, strip_accents=null, '
                'lowercase", "runs": [\n' % __import__("tokenizers").__version__)
        f.write(",\n".join(json.dumps(r, ensure_ascii=False) for r in runs))
        f.write("\n]}\n")
    write_tables()

    print("vocab size:", len(tok))
    print("ids:", " ".join(f"{k}={v}" for k, v in ids.items()))
    print(f"cases: {len(cases)} hand-written, {len(fixture['decode_cases'])} decode, "
          f"{len(fixture['coco_cases'])} coco; normalizer runs: {len(runs)}")


if __name__ == "__main__":
    main()
