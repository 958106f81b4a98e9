#!/usr/bin/env python3
"""Write tiny random models of every non-BERT model type autofreeze runs, with
reference outputs computed by Hugging Face transformers.

Usage (from the repository root, in the venv of scripts/pytorch_venv.sh):

    "$(scripts/pytorch_venv.sh)" scripts/make_model_fixtures.py

It rewrites model/testdata/<type>/ for distilbert, roberta, xlm-roberta and
electra. Each directory holds:

    config.json              as save_pretrained writes it (a *ForSequenceClassification, 3 labels)
    model.safetensors        its weights (xlm-roberta: pytorch_model.bin instead,
                             so the .bin reader is tested on a non-BERT layout too)
    inputs.json              a few padded batches of token ids: input_ids,
                             attention_mask, token_type_ids
    reference.safetensors    per batch i: "batch<i>.hidden.<j>" the hidden states
                             entering layer j (j = 0 is the embeddings' output;
                             j = num_layers the last layer's), "batch<i>.logits"

The weights are drawn from a fixed seed, much larger than a fresh model's
(std 0.2 instead of 0.02, LayerNorm weights 1 +- 0.2): with a fresh model's
tiny weights, a wrong position offset or a missing projection changes the
outputs too little for a test to see. The references are computed in float64
(eval mode, eager attention) and stored as float32, so they are the exact
answer to within float32 rounding, not another float32 implementation's.
"""

import argparse
import json
import os

import torch
import transformers
from safetensors.torch import save_file

NUM_LABELS = 3

# (model type, config class, model class, config kwargs)
SPECS = [
    ("distilbert", "DistilBertConfig", "DistilBertForSequenceClassification", dict(
        vocab_size=120, dim=32, n_layers=3, n_heads=4, hidden_dim=64,
        max_position_embeddings=40, pad_token_id=0)),
    ("roberta", "RobertaConfig", "RobertaForSequenceClassification", dict(
        vocab_size=120, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=42, type_vocab_size=1,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5)),
    ("xlm-roberta", "XLMRobertaConfig", "XLMRobertaForSequenceClassification", dict(
        vocab_size=250, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=42, type_vocab_size=1,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5)),
    ("electra", "ElectraConfig", "ElectraForSequenceClassification", dict(
        vocab_size=120, embedding_size=16, hidden_size=32, num_hidden_layers=3,
        num_attention_heads=4, intermediate_size=64, max_position_embeddings=40,
        type_vocab_size=2, pad_token_id=0)),
]

# Batches as (rows, pair_start): each row is a list of real token ids before
# padding; pair_start, when set, is where the second text of row 0 starts
# (token type 1) for models with token types. Ids 0-2 are special ([CLS]/<s>,
# [PAD]/<pad>, ...), so rows use ids >= 3 between a start and an end token.
def batches(vocab, start, end, seed):
    g = torch.Generator().manual_seed(seed)

    def row(n):
        body = torch.randint(3, vocab, (n - 2,), generator=g).tolist()
        return [start] + body + [end]

    return [
        ([row(9), row(5), row(7)], 4),
        ([row(6), row(3)], None),
        ([row(12)], None),
    ]


def pad(rows, pad_id, pair_start, has_types):
    seq = max(len(r) for r in rows)
    ids, mask, types = [], [], []
    for i, r in enumerate(rows):
        n = len(r)
        ids.append(r + [pad_id] * (seq - n))
        mask.append([1] * n + [0] * (seq - n))
        t = [0] * seq
        if has_types and pair_start is not None and i == 0:
            t = [1 if pair_start <= j < n else 0 for j in range(seq)]
        types.append(t)
    return ids, mask, types


def perturb(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32) * 0.2
            if "LayerNorm" in name or "layer_norm" in name:
                if name.endswith("weight"):
                    noise += 1
            p.copy_(noise)


def make(model_type, config_cls, model_cls, kwargs, out_root, seed):
    out = os.path.join(out_root, model_type)
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.remove(os.path.join(out, f))
    torch.manual_seed(seed)
    config = getattr(transformers, config_cls)(num_labels=NUM_LABELS, **kwargs)
    config._attn_implementation = "eager"
    model = getattr(transformers, model_cls)(config)
    perturb(model, seed)
    model.eval()
    model.save_pretrained(out)
    if model_type == "xlm-roberta":
        # transformers 5 saves only safetensors; write the same state dict
        # the way older versions and torch.save users did.
        os.remove(os.path.join(out, "model.safetensors"))
        torch.save(model.state_dict(), os.path.join(out, "pytorch_model.bin"))

    has_types = getattr(config, "type_vocab_size", 0) > 1
    pad_id = config.pad_token_id
    start = kwargs.get("bos_token_id", 101 % kwargs["vocab_size"])
    end = kwargs.get("eos_token_id", 102 % kwargs["vocab_size"])
    ref = model.double()
    inputs, tensors = [], {}
    for i, (rows, pair_start) in enumerate(batches(kwargs["vocab_size"], start, end, seed)):
        ids, mask, types = pad(rows, pad_id, pair_start, has_types)
        inputs.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        args = dict(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), output_hidden_states=True)
        if model_type != "distilbert":
            args["token_type_ids"] = torch.tensor(types)
        with torch.no_grad():
            res = ref(**args)
        for j, h in enumerate(res.hidden_states):
            tensors["batch%d.hidden.%d" % (i, j)] = h.float().contiguous()
        tensors["batch%d.logits" % i] = res.logits.float().contiguous()
    with open(os.path.join(out, "inputs.json"), "w") as f:
        # One line per batch and field, so a diff reads.
        f.write('{"model_type": %s, "transformers_version": %s, "batches": [\n' % (
            json.dumps(model_type), json.dumps(transformers.__version__)))
        for i, b in enumerate(inputs):
            fields = ",\n  ".join("%s: %s" % (json.dumps(k), json.dumps(v)) for k, v in b.items())
            f.write(" {%s}%s\n" % (fields, "," if i + 1 < len(inputs) else ""))
        f.write("]}\n")
    save_file(tensors, os.path.join(out, "reference.safetensors"), metadata={"format": "pt"})
    for f in os.listdir(out):
        os.chmod(os.path.join(out, f), 0o644)
    return sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join("model", "testdata"))
    ap.add_argument("--seed", type=int, default=20261)
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    total = 0
    for k, (model_type, config_cls, model_cls, kwargs) in enumerate(SPECS):
        n = make(model_type, config_cls, model_cls, kwargs, args.out, args.seed + 100 * k)
        print("%-12s %7d bytes" % (model_type, n))
        total += n
    print("%-12s %7d bytes" % ("total", total))


if __name__ == "__main__":
    main()
