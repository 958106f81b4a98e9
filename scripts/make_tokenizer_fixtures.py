#!/usr/bin/env python3
"""Write the RoBERTa- and XLM-RoBERTa-style tokenizer fixtures that package text is tested against.

Usage (from the repository root, after `make setup`, which provides the IMDb training text):

    PY=$(scripts/tokenizer_fixtures_venv.sh) && "$PY" scripts/make_tokenizer_fixtures.py

Pinned in scripts/tokenizer-fixtures-requirements.txt: tokenizers==0.23.3 (the reference) and
sentencepiece==0.2.3.

Real roberta-base and xlm-roberta-base tokenizer.json files cannot be downloaded here (and are
0.5 and 17 MB), so this script trains small ones configured the way those models are:

  text/testdata/roberta_bpe/tokenizer.json
      byte-level BPE trained with tokenizers' BpeTrainer (4,000 tokens) on IMDb reviews and
      the multilingual test texts; ByteLevel pre-tokenizer (add_prefix_space false, the GPT-2
      regex), RobertaProcessing, <s> <pad> </s> <unk> as ids 0-3 and <mask> last with
      lstrip, as in roberta-base.
  text/testdata/xlmr_unigram/tokenizer.json
      a Unigram model trained with sentencepiece (nmt_nfkc normalization, 4,000 pieces) on the
      same text and converted as transformers' XLMRobertaConverter does: the fairseq id
      layout (<s> <pad> </s> <unk>, the pieces, <mask>), sentencepiece's real nmt_nfkc
      precompiled_charsmap (the one XLM-RoBERTa's model carries), Strip and Replace, Metaspace
      and the <s> $A </s> </s> $B </s> template.

and the ids that tokenizers gives, for every text and pair, with and without truncation:

  text/testdata/tokens_roberta.json, tokens_xlmr.json, tokens_xlmr_legacy.json
      the last for xlm-roberta-base's older layout (Precompiled + Replace(" {2,}", " "),
      WhitespaceSplit + Metaspace(add_prefix_space)), which the Go test derives from the
      same tokenizer.json.
  text/testdata/hf_bytelevel_classes.txt
      how the ByteLevel regex classes every code point (letter, number, space, other).
  text/testdata/hf_precompiled_blocks.txt
      SHA-256 per block of 4,096 code points of what the Precompiled normalizer makes of
      c, c + U+0301 and c + U+093E for every code point c (the Go test recomputes them).

The texts: text/testdata/sentences.txt and pairs.tsv (the WordPiece fixtures' texts),
text/testdata/tokenizer_texts.jsonl (one JSON string a line), 20 IMDb reviews and 120 random
strings drawn from a seeded generator over many scripts, emoji, marks and controls.
"""

import base64
import hashlib
import json
import os
import random
import sys
import tempfile

import sentencepiece as spm
import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

VERSION = "0.23.3"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(ROOT, "text", "testdata")
IMDB = os.path.join(ROOT, ".deps", "data", "imdb", "train.jsonl")
MAX_LENGTHS = [0, 16, 512]  # 0: no truncation; the legacy XLM-R layout is checked untruncated
VOCAB = 4000
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def read_lines(name):
    with open(os.path.join(TESTDATA, name), encoding="utf-8", newline="") as f:
        data = f.read()
    return data[:-1].split("\n")


def imdb_texts(n):
    out = []
    with open(IMDB, encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line)["text"])
            if len(out) == n:
                break
    return out


POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "     \t\n\r\u00a0\u3000\u2009\u200b\u0085\u2028",
    ".,;:!?'\"()[]{}<>-_/\\@#$%^&*+=~`|",
    "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿÀÉÎÕÜßœŒłŁđĐşŞğĞıİ",
    "\u0300\u0301\u0302\u0303\u0308\u030a\u0327\u0338\u093e\u094d\u0e31\u200d\ufe0f\U0001f3fd",
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",
    "あいうえおかきくけこアイウエオカキクケコｱｲｳｶﾞﾊﾟﾞﾟー",
    "가나다라마바사아자차카타파하한글ᄀ까ᅢᆨᆩ",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГД",
    "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώΑΒΓ",
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي\u064b\u064c\u064d\u064e",
    "कखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसह\u093f\u0940\u094d",
    "กขฃคฅฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรฤลฦวศษสหฬอฮ\u0e31\u0e34\u0e48",
    "😀😂👍❤☺✌🇺🇸🏳🌈🧑💻👩👨👧🎬🍿🥲",
    "ＡＢＣａｂｃ０１２！？ﬁﬂ①②™½²³ℌ𝐀𝔸",
    "\x00\x01\x07\x1b\x7f\u200e\u202e\u2066\ufeff\ue000\ufffd",
]


def random_texts(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 8)):
            k = rng.random()
            if k < 0.08:
                # any code point but a surrogate
                cp = rng.randrange(0x110000)
                while 0xD800 <= cp <= 0xDFFF:
                    cp = rng.randrange(0x110000)
                parts.append(chr(cp))
            elif k < 0.12:
                parts.append(rng.choice(SPECIALS + [" <mask>", "<mask> ", "<s>x"]))
            else:
                pool = rng.choice(POOLS)
                parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 12))))
        out.append("".join(parts))
    return out


def corpus():
    lines = imdb_texts(4000)
    lines += read_lines("sentences.txt")
    lines += [json.loads(l) for l in read_lines("tokenizer_texts.jsonl")]
    lines += random_texts(300, 7)
    return lines


def train_roberta(lines):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB, min_frequency=2, special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(lines, trainer)
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
        trim_offsets=True, add_prefix_space=False)
    # roberta-base's <mask> takes the spaces before it.
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False, special=True)])
    return tok


def read_charsmap(model_bytes):
    """The precompiled_charsmap of a sentencepiece ModelProto (field 3 normalizer_spec,
    field 2 inside it), read from the protobuf wire format."""
    def fields(buf):
        i = 0
        while i < len(buf):
            key, i = varint(buf, i)
            num, wire = key >> 3, key & 7
            if wire == 0:
                val, i = varint(buf, i)
            elif wire == 1:
                val, i = buf[i:i + 8], i + 8
            elif wire == 5:
                val, i = buf[i:i + 4], i + 4
            elif wire == 2:
                n, i = varint(buf, i)
                val, i = buf[i:i + n], i + n
            else:
                raise ValueError(f"wire type {wire}")
            yield num, val

    def varint(buf, i):
        shift = val = 0
        while True:
            b = buf[i]
            i += 1
            val |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return val, i

    for num, val in fields(model_bytes):
        if num == 3:
            for n2, v2 in fields(val):
                if n2 == 2:
                    return bytes(v2)
    raise ValueError("no precompiled_charsmap")


def train_xlmr(lines):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "corpus.txt")
        with open(src, "w", encoding="utf-8") as f:
            for l in lines:
                l = " ".join(l.split())
                if l:
                    f.write(l + "\n")
        prefix = os.path.join(d, "spm")
        spm.SentencePieceTrainer.train(
            input=src, model_prefix=prefix, model_type="unigram", vocab_size=VOCAB,
            normalization_rule_name="nmt_nfkc", character_coverage=0.9995, num_threads=1,
            seed_sentencepiece_size=200000, shuffle_input_sentence=False, minloglevel=2)
        with open(prefix + ".model", "rb") as f:
            model_bytes = f.read()
    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    charsmap = read_charsmap(model_bytes)
    # transformers' XLMRobertaConverter: fairseq's four specials, the pieces after
    # sentencepiece's own <unk> <s> </s>, then <mask>.
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(sp.id_to_piece(i), sp.get_score(i)) for i in range(3, sp.get_piece_size())]
    vocab += [("<mask>", 0.0)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(charsmap),
        normalizers.Strip(left=False, right=True),
        normalizers.Replace(Regex(" {2,}"), "▁"),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS[:4]])
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    return tok, charsmap


def legacy_xlmr(tok_json):
    """xlm-roberta-base's tokenizer.json as published (made by an older converter)."""
    d = json.loads(tok_json)
    d["normalizer"]["normalizers"] = [
        d["normalizer"]["normalizers"][0],
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
    ]
    d["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"},
        {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True},
    ]}
    return Tokenizer.from_str(json.dumps(d))


def cases(tok, texts, pairs, max_lengths):
    """Every text and pair at every max_length. type_ids are written only where one is not
    0; attention_mask is all ones here (no padding), checked rather than written."""
    tok.no_padding()
    out = []
    for a, b in [(t, None) for t in texts] + pairs:
        for m in max_lengths:
            if m:
                tok.enable_truncation(m, strategy="longest_first")
            else:
                tok.no_truncation()
            enc = tok.encode(a, b) if b is not None else tok.encode(a)
            assert all(x == 1 for x in enc.attention_mask)
            c = {"text": a, "pair": b, "max_length": m, "ids": enc.ids}
            if any(enc.type_ids):
                c["type_ids"] = enc.type_ids
            out.append(c)
    return out


def write_json(name, obj_head, items):
    path = os.path.join(TESTDATA, name)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("{\n")
        for k, v in obj_head.items():
            f.write(f" {json.dumps(k)}: {json.dumps(v)},\n")
        f.write(' "cases": [\n')
        f.write(",\n".join("  " + json.dumps(c, ensure_ascii=True) for c in items))
        f.write("\n ]\n}\n")
    print(f"wrote {path}: {len(items)} cases")


def save_tokenizer(tok, sub):
    d = os.path.join(TESTDATA, sub)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "tokenizer.json")
    tok.save(path, pretty=False)
    with open(path, "rb") as f:
        data = f.read()
    print(f"wrote {path}: {len(data)} bytes")
    return hashlib.sha256(data).hexdigest()


def bytelevel_classes():
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    n = lambda s: len(pre.pre_tokenize_str(s))
    rows = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        if n("a" + c) == 1:
            k = "L"
        elif n("1" + c) == 1:
            k = "N"
        elif n("!" + c) == 1:
            k = "O"
        else:
            k = "S"
        if rows and rows[-1][2] == k and rows[-1][1] + 1 == cp:
            rows[-1][1] = cp
        elif rows and rows[-1][2] == k and rows[-1][1] == 0xD7FF and cp == 0xE000:
            rows[-1][1] = cp
        else:
            rows.append([cp, cp, k])
    path = os.path.join(TESTDATA, "hf_bytelevel_classes.txt")
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(f"# How tokenizers {tokenizers.__version__}'s ByteLevel pre-tokenizer regex classes each code point:\n")
        f.write("# L \\p{L}, N \\p{N}, S \\s, O anything else. FIRST LAST CLASS, hex, every code point\n")
        f.write("# but the surrogates. Written by scripts/make_tokenizer_fixtures.py; do not edit.\n")
        for a, b, k in rows:
            f.write(f"{a:x} {b:x} {k}\n")
    print(f"wrote {path}: {len(rows)} rows")


def precompiled_blocks(charsmap):
    norm = normalizers.Precompiled(charsmap)
    path = os.path.join(TESTDATA, "hf_precompiled_blocks.txt")
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(f"# tokenizers {tokenizers.__version__}'s Precompiled normalizer (xlmr_unigram's charsmap) on every\n")
        f.write("# code point c but the surrogates, as c, c+U+0301 and c+U+093E: for each block of 4096 code\n")
        f.write("# points, the SHA-256 of the UTF-8 outputs in order, each followed by a 0xFF byte.\n")
        f.write("# SUFFIX BLOCK SHA256. Written by scripts/make_tokenizer_fixtures.py; do not edit.\n")
        for suffix in ["", "\u0301", "\u093e"]:
            for block in range(0x110):
                h = hashlib.sha256()
                for cp in range(block << 12, (block + 1) << 12):
                    if 0xD800 <= cp <= 0xDFFF:
                        continue
                    h.update(norm.normalize_str(chr(cp) + suffix).encode("utf-8") + b"\xff")
                f.write(f"{ord(suffix) if suffix else 0:x} {block:x} {h.hexdigest()}\n")
    print(f"wrote {path}")


def main():
    if tokenizers.__version__ != VERSION:
        sys.exit(f"tokenizers {tokenizers.__version__} is installed; use scripts/tokenizer_fixtures_venv.sh")
    if not os.path.exists(IMDB):
        sys.exit(f"{IMDB} is missing: run `make setup` first")
    lines = corpus()
    texts = read_lines("sentences.txt") + [json.loads(l) for l in read_lines("tokenizer_texts.jsonl")]
    texts += imdb_texts(4020)[4000:]  # reviews the tokenizers were not trained on
    texts += random_texts(120, 15)
    texts.append("")
    pairs = [tuple(p.split("\t")) for p in read_lines("pairs.tsv")]
    rng = random.Random(16)
    pairs += [(rng.choice(texts), rng.choice(texts)) for _ in range(20)]

    rob = train_roberta(lines)
    sha = save_tokenizer(rob, "roberta_bpe")
    rob = Tokenizer.from_file(os.path.join(TESTDATA, "roberta_bpe", "tokenizer.json"))
    head = {"tokenizers_version": tokenizers.__version__, "tokenizer_json_sha256": sha}
    write_json("tokens_roberta.json", head, cases(rob, texts, pairs, MAX_LENGTHS))

    xlmr, charsmap = train_xlmr(lines)
    sha = save_tokenizer(xlmr, "xlmr_unigram")
    path = os.path.join(TESTDATA, "xlmr_unigram", "tokenizer.json")
    xlmr = Tokenizer.from_file(path)
    head = {"tokenizers_version": tokenizers.__version__, "tokenizer_json_sha256": sha,
            "charsmap_sha256": hashlib.sha256(charsmap).hexdigest()}
    write_json("tokens_xlmr.json", head, cases(xlmr, texts, pairs, MAX_LENGTHS))
    with open(path, encoding="utf-8") as f:
        legacy = legacy_xlmr(f.read())
    write_json("tokens_xlmr_legacy.json", head, cases(legacy, texts, pairs, [0]))

    bytelevel_classes()
    precompiled_blocks(charsmap)


if __name__ == "__main__":
    main()
