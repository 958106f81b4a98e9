#!/usr/bin/env python3
"""Check that a checkpoint autofreeze wrote loads in transformers as the
*ForSequenceClassification of its model type and gives autofreeze's logits.

Usage (in the venv of scripts/pytorch_venv.sh):

    "$(scripts/pytorch_venv.sh)" scripts/check_checkpoint_roundtrip.py CHECKPOINT_DIR EXPECTED.json

EXPECTED.json holds what autofreeze computed for that checkpoint:

    {"tolerance": 1e-4,
     "problem_type": "multi_label_classification" (optional),
     "batches": [{"input_ids": [[...]], "attention_mask": [[...]],
                  "token_type_ids": [[...]] (optional), "logits": [[...]],
                  "labels": [...], "loss": 0.71 (optional, together)}]}

With labels and a loss, transformers computes its own loss from the labels
(the problem_type of config.json picks it) and must agree with the loss
given; with problem_type, config.json must name it.

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

    if "problem_type" in expected and model.config.problem_type != expected["problem_type"]:
        problems.append("problem_type %s, want %s" % (model.config.problem_type, expected["problem_type"]))
    worst = 0.0
    worst_loss = 0.0
    for b in expected["batches"]:
        args = dict(input_ids=torch.tensor(b["input_ids"]), attention_mask=torch.tensor(b["attention_mask"]))
        if "token_type_ids" in b:
            args["token_type_ids"] = torch.tensor(b["token_type_ids"])
        if "labels" in b:
            labels = torch.tensor(b["labels"])
            if model.config.problem_type in ("multi_label_classification", "regression"):
                labels = labels.float()
            args["labels"] = labels
        with torch.no_grad():
            out = model(**args)
        logits = out.logits
        if "loss" in b:
            worst_loss = max(worst_loss, abs(out.loss.item() - b["loss"]))
        want = torch.tensor(b["logits"], dtype=logits.dtype)
        if logits.shape != want.shape:
            problems.append("logits of shape %s, want %s" % (list(logits.shape), list(want.shape)))
            continue
        worst = max(worst, (logits - want).abs().max().item())
    tol = expected.get("tolerance", 1e-4)
    if worst > tol:
        problems.append("logits differ by %.3g (tolerance %g)" % (worst, tol))
    if worst_loss > tol:
        problems.append("losses differ by %.3g (tolerance %g)" % (worst_loss, tol))
    print(json.dumps({"class": type(model).__name__, "problem_type": model.config.problem_type,
                      "max_abs_diff": worst, "max_loss_diff": worst_loss, "problems": problems}))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
