#!/usr/bin/env python3
"""Write the Parquet files, made by pyarrow, that package text is tested against.

Usage (from the repository root):

    python3 -m venv /tmp/pqvenv
    /tmp/pqvenv/bin/pip install --no-deps --require-hashes --only-binary=:all: \\
        -r scripts/parquet-fixture-requirements.txt
    /tmp/pqvenv/bin/python scripts/make_parquet_fixture.py

Pinned: pyarrow==26.0.1 (what Hugging Face datasets and pandas write Parquet with).

Each dataset is written twice, as Parquet and as the JSON Lines the Go loader must read
into the same examples (a null text becomes "text": null, a null label an empty one: an
unlabelled row, as an empty CSV field is; a JSON Lines row without the key is a bad row
when the label column is named):

  text/testdata/pyarrow_sentiment.parquet (+ .jsonl)
      text (large_string, nullable), label (int64, as a Hugging Face ClassLabel stores it),
      label_name (dictionary<int32, string>); three row groups of at most 4 rows, zstd,
      data pages v2, dictionary encoding for label_name only.

  text/testdata/pyarrow_pairs.parquet (+ .jsonl)
      premise, hypothesis, label (string); three row groups of at most 3 rows, snappy,
      data pages v1, dictionary encoding for every column (pyarrow's default).

Both hold bad rows (a null or blank text) and unlabelled rows on purpose. The output is
deterministic: running the script again rewrites the same bytes.
"""

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

VERSION = "26.0.1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(ROOT, "text", "testdata")

SENTIMENT = [
    # text, label, label_name
    ("A quietly devastating film.", 1, "pos"),
    ("Café scenes, naïve plot — still fun 🎬", 1, "pos"),
    ("Two hours I will never get back.", 0, "neg"),
    ('Line one\nline two, with "quotes"', 0, "neg"),
    (None, 1, "pos"),  # a null text: a bad row
    ("我很喜欢这部电影", 1, "pos"),
    ("   ", 0, "neg"),  # a blank text: a bad row
    ("An unlabelled row", None, None),
    ("The end.", 0, "neg"),
    ("Tabs\tand\ttabs", 1, "pos"),
]

PAIRS = [
    # premise, hypothesis, label
    ("A man plays a guitar.", "A person makes music.", "entailment"),
    ("A man plays a guitar.", "Nobody is playing.", "contradiction"),
    ("Kids run in a park.", "The kids are outside.", "entailment"),
    ("Kids run in a park.", None, "neutral"),  # a null text pair: a bad row
    ("A dog sleeps.", "The dog is tired.", "neutral"),
    ("Ein Hund schläft.", "Un chien dort.", None),
    ("A cat sits.", "A cat sits.", "entailment"),
]


def write_jsonl(path, names, rows, label_keys):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            obj = {}
            for name, value in zip(names, row):
                if value is None and name in label_keys:
                    value = ""  # an unlabelled row
                obj[name] = value
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")


def main():
    if pa.__version__ != VERSION:
        raise SystemExit(f"pyarrow {pa.__version__}: the fixtures are made with {VERSION}")
    os.makedirs(TESTDATA, exist_ok=True)

    texts, labels, names = zip(*SENTIMENT)
    table = pa.table({
        "text": pa.array(texts, type=pa.large_string()),
        "label": pa.array(labels, type=pa.int64()),
        "label_name": pa.array(names, type=pa.string()).dictionary_encode(),
    })
    base = os.path.join(TESTDATA, "pyarrow_sentiment")
    pq.write_table(table, base + ".parquet", row_group_size=4, compression="zstd",
                   data_page_version="2.0", use_dictionary=["label_name"])
    write_jsonl(base + ".jsonl", ["text", "label", "label_name"], SENTIMENT, {"label", "label_name"})

    premises, hypotheses, pair_labels = zip(*PAIRS)
    table = pa.table({
        "premise": pa.array(premises, type=pa.string()),
        "hypothesis": pa.array(hypotheses, type=pa.string()),
        "label": pa.array(pair_labels, type=pa.string()),
    })
    base = os.path.join(TESTDATA, "pyarrow_pairs")
    pq.write_table(table, base + ".parquet", row_group_size=3, compression="snappy",
                   data_page_version="1.0")
    write_jsonl(base + ".jsonl", ["premise", "hypothesis", "label"], PAIRS, {"label"})

    for name in ("pyarrow_sentiment", "pyarrow_pairs"):
        md = pq.ParquetFile(os.path.join(TESTDATA, name + ".parquet")).metadata
        encodings = {md.schema.column(c).name: sorted(set(md.row_group(0).column(c).encodings))
                     for c in range(md.num_columns)}
        print(f"{name}.parquet: {md.num_rows} rows in {md.num_row_groups} row groups; {encodings}")


if __name__ == "__main__":
    main()
