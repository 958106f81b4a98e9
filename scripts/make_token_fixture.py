#!/usr/bin/env python3
"""Write the reference token ids that package text is tested against.

Usage (from the repository root, after `make setup`):

    python3 -m venv /tmp/tokvenv
    /tmp/tokvenv/bin/pip install tokenizers==0.23.3
    /tmp/tokvenv/bin/python scripts/make_token_fixture.py

Pinned: tokenizers==0.23.3 (Hugging Face's Rust tokenizers, the reference).

It loads .deps/models/all-minilm-l6-v2/tokenizer.json, turns off the padding
and truncation stored in it, and writes:

  text/testdata/tokens_minilm.json
      every line of text/testdata/sentences.txt and every pair of
      text/testdata/pairs.tsv (A<TAB>B), encoded with truncation at 32 and
      512 tokens (longest_first) and without truncation (max_length 0).

  text/testdata/hf_normalizer_minilm.txt
      what the tokenizer's BertNormalizer makes of every code point, and
      whether its BertPreTokenizer splits there, as ranges; see its header.

Files are split on "\n" only: the sentences contain other line separators.
"""

import hashlib
import json
import os
import sys

import tokenizers
from tokenizers import Tokenizer

VERSION = "0.23.3"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, ".deps", "models", "all-minilm-l6-v2", "tokenizer.json")
TESTDATA = os.path.join(ROOT, "text", "testdata")
MAX_LENGTHS = [32, 512, 0]  # 0: no truncation


def read_lines(name):
    with open(os.path.join(TESTDATA, name), encoding="utf-8", newline="") as f:
        data = f.read()
    if not data.endswith("\n"):
        sys.exit(f"{name}: the last line must end with a newline")
    return data[:-1].split("\n")


def encode(tok, a, b, max_length):
    if max_length:
        tok.enable_truncation(max_length, strategy="longest_first")
    else:
        tok.no_truncation()
    enc = tok.encode(a, b) if b is not None else tok.encode(a)
    return {
        "text": a,
        "pair": b,
        "max_length": max_length,
        "ids": enc.ids,
        "type_ids": enc.type_ids,
        "attention_mask": enc.attention_mask,
    }


def write_tokens(tok, model_sha):
    cases = []
    for s in read_lines("sentences.txt"):
        for m in MAX_LENGTHS:
            cases.append(encode(tok, s, None, m))
    for line in read_lines("pairs.tsv"):
        a, b = line.split("\t")
        for m in MAX_LENGTHS:
            cases.append(encode(tok, a, b, m))
    out = os.path.join(TESTDATA, "tokens_minilm.json")
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        f.write("{\n")
        f.write(f' "tokenizers_version": {json.dumps(tokenizers.__version__)},\n')
        f.write(f' "tokenizer_json_sha256": "{model_sha}",\n')
        f.write(' "cases": [\n')
        f.write(",\n".join("  " + json.dumps(c, ensure_ascii=True) for c in cases))
        f.write("\n ]\n}\n")
    print(f"wrote {out}: {len(cases)} cases")


def hangul(cp):
    # The Unicode Standard's algorithmic decomposition of a Hangul syllable.
    s = cp - 0xAC00
    l, v, t = 0x1100 + s // 588, 0x1161 + (s % 588) // 28, 0x11A7 + s % 28
    return [l, v] if t == 0x11A7 else [l, v, t]


def write_normalizer(tok):
    norm, pre = tok.normalizer, tok.pre_tokenizer
    rows = []  # [first, last, step, pieces, kind, args]
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        out = [ord(c) for c in norm.normalize_str(chr(cp))]
        pieces = len(pre.pre_tokenize_str("a" + chr(cp) + "a"))
        if 0xAC00 <= cp <= 0xD7A3:
            assert out == hangul(cp), hex(cp)
            kind, args = "hangul", ""
        elif out == [cp]:
            if pieces == 1:
                continue
            kind, args = "same", ""
        elif out == []:
            kind, args = "drop", ""
        elif out == [0x20]:
            kind, args = "space", ""
        elif out == [0x20, cp, 0x20]:
            kind, args = "pad", ""
        elif len(out) == 1:
            kind, args = "delta", str(out[0] - cp)
        else:
            kind, args = "seq", " ".join("%x" % c for c in out)
        last = rows[-1] if rows else None
        if (kind != "seq" and last and last[3] == pieces and last[4] == kind and last[5] == args
                and cp - last[1] <= 2 and last[2] in (0, cp - last[1])):
            last[2], last[1] = cp - last[1], cp
            continue
        rows.append([cp, cp, 0, pieces, kind, args])
    out = os.path.join(TESTDATA, "hf_normalizer_minilm.txt")
    with open(out, "w", encoding="ascii", newline="\n") as f:
        f.write(f"# BertNormalizer and BertPreTokenizer of all-minilm-l6-v2, tokenizers {tokenizers.__version__},\n")
        f.write("# for every code point. Written by scripts/make_token_fixture.py; do not edit.\n")
        f.write("# Code points not listed normalize to themselves and do not split a word.\n")
        f.write("# FIRST LAST STEP PIECES KIND [ARGS], hex code points FIRST..LAST every STEP:\n")
        f.write("#   PIECES: how many words the pre-tokenizer makes of \"a\" + c + \"a\" (1, 2 or 3)\n")
        f.write("#   same: c; drop: nothing; space: \" \"; pad: \" c \"; delta N: c+N;\n")
        f.write("#   hangul: the Unicode syllable decomposition; seq X...: those code points\n")
        for first, last, step, pieces, kind, args in rows:
            f.write(f"{first:x} {last:x} {step or 1} {pieces} {kind}{' ' + args if args else ''}\n")
    print(f"wrote {out}: {len(rows)} rows")


def main():
    if tokenizers.__version__ != VERSION:
        sys.exit(f"tokenizers {tokenizers.__version__} is installed; run pip install tokenizers=={VERSION}")
    if not os.path.exists(MODEL):
        sys.exit(f"{MODEL} is missing: run `make setup` first")
    with open(MODEL, "rb") as f:
        model_sha = hashlib.sha256(f.read()).hexdigest()
    tok = Tokenizer.from_file(MODEL)
    tok.no_padding()
    write_tokens(tok, model_sha)
    write_normalizer(tok)


if __name__ == "__main__":
    main()
