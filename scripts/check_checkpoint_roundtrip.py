#!/usr/bin/env python3
"""Check that a checkpoint autofreeze wrote loads in transformers as the
*ForSequenceClassification of its model type and gives autofreeze's logits.

Usage (in the venv of scripts/pytorch_venv.sh):

    "$(scripts/pytorch_venv.sh)" scripts/check_checkpoint_roundtrip.py CHECKPOINT_DIR EXPECTED.json

EXPECTED.json holds what autofreeze computed for that checkpoint:

    {"tolerance": 1e-4,
     "batches": [{"input_ids": [[...]], "attention_mask": [[...]],
                  "token_type_ids": [[...]] (optional), "logits": [[...]]}]}

It fails (exit 1) when transformers reports missing, unexpected or
misshapen tensors, when the class it builds is not the one config.json's
architectures names, or when any logit differs by more than the tolerance.
The Go test run/checkpoint_types_test.go writes such a file and runs this.
It prints one JSON line: the class, the keys report and the max difference.
"""

import json
import sys

import torch
import transformers


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ckpt, expected_path = sys.argv[1], sys.argv[2]
    with open(expected_path) as f:
        expected = json.load(f)
    with open(ckpt + "/config.json") as f:
        arch = json.load(f)["architectures"][0]

    model, info = transformers.AutoModelForSequenceClassification.from_pretrained(
        ckpt, output_loading_info=True, attn_implementation="eager")
    model.eval()
    problems = []
    if type(model).__name__ != arch:
        problems.append("built %s, config.json names %s" % (type(model).__name__, arch))
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        if info.get(kind):
            problems.append("%s: %s" % (kind, sorted(str(k) for k in info[kind])))

    worst = 0.0
    for b in expected["batches"]:
        args = dict(input_ids=torch.tensor(b["input_ids"]), attention_mask=torch.tensor(b["attention_mask"]))
        if "token_type_ids" in b:
            args["token_type_ids"] = torch.tensor(b["token_type_ids"])
        with torch.no_grad():
            logits = model(**args).logits
        want = torch.tensor(b["logits"], dtype=logits.dtype)
        if logits.shape != want.shape:
            problems.append("logits of shape %s, want %s" % (list(logits.shape), list(want.shape)))
            continue
        worst = max(worst, (logits - want).abs().max().item())
    tol = expected.get("tolerance", 1e-4)
    if worst > tol:
        problems.append("logits differ by %.3g (tolerance %g)" % (worst, tol))
    print(json.dumps({"class": type(model).__name__, "max_abs_diff": worst, "problems": problems}))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
