#!/usr/bin/env python3
"""The PyTorch + transformers baseline: fine-tune a model directory on the
exact batches an autofreeze training run uses, the way a user would without
autofreeze, and report throughput, peak memory and the eval curve.

    bin/autofreeze batches --model DIR --train FILE ... --output batches.jsonl
    PY=$(scripts/pytorch_venv.sh)
    "$PY" scripts/pytorch_baseline.py --batches batches.jsonl --out result.json \
        [--precision fp32|bf16] [--max-steps N] [--eval-every N]

What it matches (read from the batches file's header, which `autofreeze
batches` writes from the same configuration as `autofreeze train`):

- the training micro-batches, in the run's order, padded the same way, and
  grad accumulation: each micro-batch's mean loss weighs by its share of the
  step's examples (a short last step is a mean over its own examples);
- AdamW (torch.optim.AdamW, fused where the CPU build has it; betas, eps and
  weight decay as the header says; no decay on biases and LayerNorm weights,
  as Hugging Face's Trainer and autofreeze do), global L2 gradient clipping
  (clip_grad_norm_), and the learning-rate schedule of run/schedule.go
  (linear warmup, then linear decay to 0; or stepped, or constant);
- dropout on in training (hidden, attention and classifier dropout from the
  model's config; none with no_dropout), with torch's generator seeded with
  each micro-batch's dropout_seed as autofreeze seeds libtorch's (the masks
  still differ: other kernels draw them);
- evaluation every eval_every steps (0: at the end of each epoch) and after
  the last step, on the held-out batches in autofreeze's order; the best
  model is the one with the lowest eval loss (the first one on ties), kept in
  memory as a state_dict copy; patience as the header says; the test batches,
  if any, are evaluated with the best model at the end (the copy adds the
  model's size, about 90 MB for MiniLM, to the peak RSS; autofreeze writes
  checkpoints to disk instead);
- the starting weights: the model directory's, and the tensors autofreeze
  initialises because the directory lacks them (the new classification
  head) are copied from the header's initial_weights (--head-init torch
  keeps transformers' own initialisation, seeded with --seed, instead).

What it cannot match: the dropout masks and the kernels (libtorch 2.1
through gotch against this torch, and transformers' attention), so losses
agree only statistically.

--precision bf16 runs forward and loss under torch.autocast("cpu",
dtype=torch.bfloat16) with fp32 master weights and fp32 optimizer state;
evaluation runs under the same autocast.

Timing: training seconds are the wall time of the optimizer steps alone
(forward, backward, clipping, AdamW), without evaluation or loading;
examples/s is reported over all steps and without the first
--warmup-steps (default 3) steps.
"""

import argparse
import copy
import json
import math
import os
import platform
import resource
import sys
import time

FORMAT = "autofreeze-batches/1"
RESULT_FORMAT = "autofreeze-pytorch-baseline/1"


class BatchesError(Exception):
    pass


def learning_rate(schedule, base, step, total, warmup):
    """run/schedule.go learningRate, for optimizer step `step` (0-based)."""
    if warmup > 0 and step < warmup:
        return base * float(step + 1) / float(warmup)
    if schedule == "linear":
        if total <= warmup:
            return base
        left = float(total - step) / float(total - warmup)
        return base * max(left, 0.0)
    if schedule == "stepped":
        if step >= total * 6 // 10:
            return base * 0.4
        if step >= total * 3 // 10:
            return base * 0.7
    return base


def read_batches(path, keep=None):
    """Reads and checks a batches file, one line at a time: (header, train,
    eval, test), each batch a dict of its small fields (split, rows, labels,
    step, lr, ...) and, under "data", what keep(batch) returns (None without
    keep), so that the token lists of only one batch are in memory at once."""
    train, evals, test = [], [], []
    with open(path, encoding="utf-8") as f:
        first = f.readline()
        if not first:
            raise BatchesError(f"{path}: empty file")
        h = json.loads(first)
        if h.get("format") != FORMAT:
            raise BatchesError(f"{path}: format {h.get('format')!r}, want {FORMAT!r} (write it with `autofreeze batches`)")
        if len(h["labels"]) < 2:
            raise BatchesError(f"{path}: {len(h['labels'])} labels")
        for name, t in h["initial_weights"].items():
            if math.prod(t["shape"]) != len(t["data"]):
                raise BatchesError(f"{path}: initial_weights {name}: {len(t['data'])} values for shape {t['shape']}")
        for n, line in enumerate(f, start=2):
            b = json.loads(line)
            split = b.get("split")
            dest = {"train": train, "eval": evals, "test": test}.get(split)
            if dest is None:
                raise BatchesError(f"{path}:{n}: split {split!r}")
            if split == "train" and (evals or test) or split == "eval" and test:
                raise BatchesError(f"{path}:{n}: {split} batch out of order")
            try:
                check_batch(h, b)
            except BatchesError as e:
                raise BatchesError(f"{path}:{n}: {e}") from None
            meta = {k: b[k] for k in ("split", "rows", "labels", "epoch", "step", "micro", "step_examples", "lr",
                                      "dropout_seed") if k in b}
            meta["line"] = n
            meta["data"] = keep(b) if keep else None
            dest.append(meta)
    check_all(path, h, train, evals, test)
    return h, train, evals, test


def check_batch(h, b):
    """The checks of one batch on its own."""
    n = len(b["rows"])
    ids, types, mask = b["input_ids"], b["token_type_ids"], b["attention_mask"]
    if n == 0 or not (len(ids) == len(types) == len(mask) == len(b["labels"]) == n):
        raise BatchesError("rows, input_ids, token_type_ids, attention_mask and labels differ in length")
    width = len(ids[0])
    if width == 0 or width > h["max_length"]:
        raise BatchesError(f"batch width {width} (max_length {h['max_length']})")
    longest = 0
    pad = h["pad_token_id"]
    for i in range(n):
        if not (len(ids[i]) == len(types[i]) == len(mask[i]) == width):
            raise BatchesError("ragged batch")
        real = sum(mask[i])
        longest = max(longest, real)
        if any(m != 1 for m in mask[i][:real]) or any(
                mask[i][j] != 0 or ids[i][j] != pad or types[i][j] != 0 for j in range(real, width)):
            raise BatchesError(f"row {i}: padding is not on the right with pad_token_id")
    if longest != width:
        raise BatchesError(f"padded to {width}, its longest row has {longest} tokens")
    if any(not 0 <= l < len(h["labels"]) for l in b["labels"]):
        raise BatchesError("label out of range")


def check_all(path, h, train, evals, test):
    """The checks across batches."""
    def bad(msg, b=None):
        raise BatchesError(f"{path}:{b['line']}: {msg}" if b else f"{path}: {msg}")

    for name, batches, want in (("train", train, h["train_batches"]), ("eval", evals, h["eval_batches"]),
                                ("test", test, h["test_batches"])):
        if len(batches) != want:
            bad(f"{len(batches)} {name} batches, the header says {want}")
    for name, batches, want in (("eval", evals, h["eval_examples"]), ("test", test, h["test_examples"])):
        rows = sorted(r for b in batches for r in b["rows"])
        if rows != list(range(want)):
            bad(f"the {name} batches do not hold each of the {want} examples once")
    # Train batches: steps 1..total_steps in order, at most grad_accum
    # micro-batches of at most batch_size each, the header's schedule.
    step, seen = 0, {}
    for b in train:
        s = b["step"]
        if s == step + 1:
            step = s
            seen[s] = []
        elif s != step:
            bad(f"step {s} after step {step}", b)
        seen[s].append(b)
        if len(b["rows"]) > h["batch_size"] or len(seen[s]) > h["grad_accum"]:
            bad("micro-batch larger than batch_size, or more than grad_accum in a step", b)
        want = learning_rate(h["schedule"], h["lr"], s - 1, h["total_steps"], h["warmup_steps"])
        if not math.isclose(b["lr"], want, rel_tol=1e-12, abs_tol=1e-18):
            bad(f"step {s}: lr {b['lr']}, the schedule gives {want}", b)
    if step != h["total_steps"]:
        bad(f"the train batches end at step {step}, the header says {h['total_steps']}")
    for s, micro in seen.items():
        if sum(len(b["rows"]) for b in micro) != micro[0]["step_examples"]:
            bad(f"step {s}: its micro-batches do not add up to step_examples", micro[0])
    # Every full epoch visits each training example once.
    by_epoch = {}
    for b in train:
        by_epoch.setdefault(b["epoch"], []).extend(b["rows"])
    for e, rows in by_epoch.items():
        if len(rows) == h["train_examples"] and sorted(rows) != list(range(h["train_examples"])):
            bad(f"epoch {e} does not visit each training example once")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", required=True, help="file written by `autofreeze batches`")
    ap.add_argument("--out", help="result JSON to write")
    ap.add_argument("--model", help="model directory (default: the header's)")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default: the header's; 0 there: all cores)")
    ap.add_argument("--seed", type=int, help="torch's seed, before the model loads (default: the header's)")
    ap.add_argument("--head-init", choices=("file", "torch"), default="file",
                    help="start the new classification head from the header's initial_weights, as autofreeze does "
                         "(file, the default), or from transformers' initialisation (torch)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after N optimizer steps (the schedule stays the file's)")
    ap.add_argument("--eval-every", type=int, help="evaluate every N steps (default: the header's; 0: at epoch ends)")
    ap.add_argument("--no-eval", action="store_true", help="no evaluation at all (throughput runs)")
    ap.add_argument("--warmup-steps", type=int, default=3, help="steps left out of the steady examples/s (default 3)")
    ap.add_argument("--check-batches", action="store_true", help="only read and check the batches file")
    args = ap.parse_args()

    t_load = time.perf_counter()
    keep = None
    if not args.check_batches:
        if not args.out:
            ap.error("--out is required unless --check-batches")
        # The model is a local directory: nothing to download, and no waiting for a hub that
        # may be unreachable.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch

        # Threads first: the inter-op pool cannot be resized once used.
        try:
            with open(args.batches, encoding="utf-8") as f:
                first = json.loads(f.readline() or "{}")
        except (OSError, ValueError) as e:
            print(f"pytorch_baseline: error: {args.batches}: {e}", file=sys.stderr)
            return 2
        threads = args.threads if args.threads is not None else (first.get("threads") or os.cpu_count())
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)

        def keep(b):
            return {"input_ids": torch.tensor(b["input_ids"], dtype=torch.long),
                    "token_type_ids": torch.tensor(b["token_type_ids"], dtype=torch.long),
                    "attention_mask": torch.tensor(b["attention_mask"], dtype=torch.long),
                    "labels": torch.tensor(b["labels"], dtype=torch.long)}
    try:
        h, train, evals, test = read_batches(args.batches, keep)
    except (BatchesError, KeyError, ValueError, TypeError) as e:
        print(f"pytorch_baseline: error: bad batches file: {e}", file=sys.stderr)
        return 2
    if args.check_batches:
        print(f"pytorch_baseline: {args.batches} is valid: {len(train)} train batches ({h['train_examples']} examples, "
              f"{h['epochs']} epochs, {h['total_steps']} steps), {len(evals)} eval batches ({h['eval_examples']} examples), "
              f"{len(test)} test batches ({h['test_examples']} examples)")
        return 0
    import torch.nn.functional as F
    import transformers

    seed = args.seed if args.seed is not None else h["seed"]
    torch.manual_seed(seed)

    model_dir = args.model or h["model"]
    if not os.path.isdir(model_dir):
        print(f"pytorch_baseline: error: model directory {model_dir} not found (run from where `autofreeze batches` "
              f"ran, or give --model)", file=sys.stderr)
        return 2
    labels = h["labels"]
    drop, attn_drop = h["hidden_dropout_prob"], h["attention_probs_dropout_prob"]
    if h["no_dropout"]:
        drop = attn_drop = 0.0
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={l: i for i, l in enumerate(labels)},
        hidden_dropout_prob=drop, attention_probs_dropout_prob=attn_drop, classifier_dropout=drop)
    if args.head_init == "file":
        state = model.state_dict()
        with torch.no_grad():
            for name, t in h["initial_weights"].items():
                if name not in state:
                    print(f"pytorch_baseline: error: the model has no tensor {name} (initial_weights)", file=sys.stderr)
                    return 2
                state[name].copy_(torch.tensor(t["data"], dtype=torch.float32).reshape(t["shape"]))
    model.train()

    steps = []  # (step, lr, [(inputs, share of the step, dropout seed) per micro-batch]) per optimizer step
    for b in train:
        if not steps or steps[-1][0] != b["step"]:
            steps.append((b["step"], b["lr"], []))
        steps[-1][2].append((b["data"], len(b["rows"]) / b["step_examples"], b["dropout_seed"]))
    eval_t = [b["data"] for b in evals]
    test_t = [b["data"] for b in test]
    del train, evals, test

    # AdamW with Trainer's parameter groups: no decay on biases and LayerNorm.
    no_decay = set()
    for mname, module in model.named_modules():
        for pname, _ in module.named_parameters(recurse=False):
            full = f"{mname}.{pname}" if mname else pname
            if isinstance(module, torch.nn.LayerNorm) or pname == "bias":
                no_decay.add(full)
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    wd = h["weight_decay"]
    groups = [{"params": [p for n, p in params if n not in no_decay], "weight_decay": wd},
              {"params": [p for n, p in params if n in no_decay], "weight_decay": 0.0}]
    adam = dict(lr=h["lr"], betas=(h["adam_beta1"], h["adam_beta2"]), eps=h["adam_eps"])
    try:
        opt = torch.optim.AdamW(groups, fused=True, **adam)
        opt_name = "AdamW(fused=True)"
    except (RuntimeError, TypeError) as e:
        print(f"pytorch_baseline: fused AdamW unavailable ({e}); using the default implementation", file=sys.stderr)
        opt = torch.optim.AdamW(groups, **adam)
        opt_name = "AdamW"
    trainable = [p for _, p in params]

    bf16 = args.precision == "bf16"
    native_bf16 = None
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
        native_bf16 = bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    if bf16 and native_bf16 is False:
        print("pytorch_baseline: warning: this CPU has neither AVX512-BF16 nor AMX-BF16; torch emulates bfloat16 "
              "(measured 6x slower than fp32 per matmul on an AVX2 EPYC)", file=sys.stderr)

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)

    def evaluate(batches):
        model.eval()
        n = correct = 0
        loss = 0.0
        conf = [[0] * len(labels) for _ in labels]
        with torch.inference_mode(), autocast():
            for b in batches:
                logits = model(input_ids=b["input_ids"], token_type_ids=b["token_type_ids"],
                               attention_mask=b["attention_mask"]).logits.float()
                loss += F.cross_entropy(logits.double(), b["labels"], reduction="sum").item()
                pred = logits.argmax(dim=-1)
                for t, p in zip(b["labels"].tolist(), pred.tolist()):
                    conf[t][p] += 1
                correct += (pred == b["labels"]).sum().item()
                n += len(b["labels"])
        model.train()
        f1 = 0.0
        for c in range(len(labels)):
            tp = conf[c][c]
            fp = sum(conf[o][c] for o in range(len(labels)) if o != c)
            fn = sum(conf[c][o] for o in range(len(labels)) if o != c)
            if 2 * tp + fp + fn:
                f1 += 2 * tp / (2 * tp + fp + fn)
        return {"loss": loss / n, "accuracy": correct / n, "macro_f1": f1 / len(labels), "examples": n}

    total = h["total_steps"]
    last = min(total, args.max_steps) if args.max_steps > 0 else total
    eval_every = args.eval_every if args.eval_every is not None else h["eval_every"]
    spe = h["steps_per_epoch"]
    patience = h["patience"]
    clip = h["max_grad_norm"]

    step_seconds, step_examples, step_loss = [], [], []
    curve = []
    best_loss, best_step, best_state, no_gain = math.inf, 0, None, 0
    stopped = "completed" if last == total else "max-steps"
    load_seconds = time.perf_counter() - t_load
    t0 = time.perf_counter()
    for step, lr, micro in steps[:last]:
        ts = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = lr
        loss_sum = n = 0.0
        for inputs, share, dseed in micro:
            torch.manual_seed(dseed)
            with autocast():
                logits = model(input_ids=inputs["input_ids"], token_type_ids=inputs["token_type_ids"],
                               attention_mask=inputs["attention_mask"]).logits
                loss = F.cross_entropy(logits.float(), inputs["labels"])
            (loss * share).backward()
            rows = len(inputs["labels"])
            loss_sum += loss.item() * rows
            n += rows
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(trainable, clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step_seconds.append(time.perf_counter() - ts)
        step_examples.append(int(n))
        step_loss.append(loss_sum / n)
        if not math.isfinite(step_loss[-1]):
            print(f"pytorch_baseline: error: loss is {step_loss[-1]} at step {step}", file=sys.stderr)
            return 1

        epoch_end = step % spe == 0
        if not args.no_eval and (step == last or (eval_every > 0 and step % eval_every == 0) or
                                 (eval_every == 0 and epoch_end)):
            te = time.perf_counter()
            m = evaluate(eval_t)
            m["eval_seconds"] = time.perf_counter() - te
            m.update(step=step, epoch=(step + spe - 1) // spe, train_seconds=sum(step_seconds),
                     wall_seconds=time.perf_counter() - t0, best=m["loss"] < best_loss)
            curve.append(m)
            if m["best"]:
                best_loss, best_step, no_gain = m["loss"], step, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                no_gain += 1
            print(f"pytorch_baseline: step {step}/{last} eval loss {m['loss']:.4f} accuracy {m['accuracy']:.4f}"
                  f"{' (best)' if m['best'] else ''} [{m['train_seconds']:.1f} s training, {m['eval_seconds']:.1f} s eval]",
                  file=sys.stderr, flush=True)
            if patience > 0 and no_gain >= patience and step < last:
                stopped = "early stopping"
                break
    wall = time.perf_counter() - t0

    test_metrics = None
    if test_t and best_state is not None:
        model.load_state_dict(best_state)
        te = time.perf_counter()
        test_metrics = evaluate(test_t)
        test_metrics.update(step=best_step, eval_seconds=time.perf_counter() - te)

    train_s = sum(step_seconds)
    k = min(args.warmup_steps, len(step_seconds) - 1) if len(step_seconds) > 1 else 0
    steady_s = sum(step_seconds[k:])
    res = {
        "format": RESULT_FORMAT,
        "batches": args.batches, "model": model_dir,
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "precision": args.precision, "native_bf16": native_bf16,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": threads, "interop_threads": torch.get_num_interop_threads(),
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "use_kernels": getattr(model, "use_kernels", None), "optimizer": opt_name,
        "seed": seed, "head_init": args.head_init, "total_steps": total, "steps": len(step_seconds), "stopped": stopped,
        "examples": sum(step_examples), "train_seconds": train_s, "wall_seconds": wall, "load_seconds": load_seconds,
        "examples_per_s": sum(step_examples) / train_s if train_s else None,
        "warmup_steps_excluded": k,
        "examples_per_s_after_warmup": sum(step_examples[k:]) / steady_s if steady_s else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "step_seconds": step_seconds, "step_loss": step_loss,
        "eval": curve, "best_step": best_step or None, "best_eval_loss": best_loss if curve else None,
        "test": test_metrics,
    }
    tmp = args.out + ".partial"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    os.replace(tmp, args.out)

    line = (f"pytorch {torch.__version__} transformers {transformers.__version__} {args.precision} {threads} threads: "
            f"{res['steps']} steps, {res['examples']} examples in {train_s:.1f} s training; "
            f"{res['examples_per_s']:.2f} examples/s ({res['examples_per_s_after_warmup']:.2f} after {k} warm-up steps); "
            f"peak RSS {res['peak_rss_mb']:.0f} MB")
    if curve:
        line += f"; best eval loss {best_loss:.4f} at step {best_step}"
    if test_metrics:
        line += f"; test accuracy {test_metrics['accuracy']:.4f} on {test_metrics['examples']}"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
