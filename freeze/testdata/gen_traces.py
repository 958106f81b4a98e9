#!/usr/bin/env python3
"""Writes the synthetic gradient-norm traces bert6.json and bert12.json (standard library only).

Not recorded from a training run: a model of one. Each interval's per-layer L1 norm of the
accumulated gradient is

    norm_i(t) = base_i * decay(t) * (1 + sigma_i(t) * z_i(t)),   z ~ N(0, 1), clipped to [-2.5, 2.5]

with base_i growing towards the top of the stack, decay(t) following a linear learning-rate
decay, and sigma_i(t) = s0 * exp(-t / tau_i) + floor, where tau_i grows with the layer index:
front layers settle first, as the AutoFreeze paper reports for BERT. The seed fixes the output.

    python3 freeze/testdata/gen_traces.py   # then: go test ./freeze -update
"""
import json
import math
import os
import random


def trace(layers, intervals, steps, seed, description):
    rng = random.Random(seed)
    rows = []
    for t in range(intervals):
        decay = 1.0 - 0.9 * t / intervals
        row = []
        for i in range(layers):
            base = 1800.0 * (1.0 + 0.12 * i)
            tau = 1.5 + 9.0 * i / (layers - 1)
            sigma = 0.45 * math.exp(-t / tau) + 0.015
            z = max(-2.5, min(2.5, rng.gauss(0.0, 1.0)))
            row.append(round(base * decay * (1.0 + sigma * z), 3))
        rows.append(row)
    return {
        "description": description,
        "layers": layers,
        "norm": "l1",
        "steps_per_interval": steps,
        "norms": rows,
    }


here = os.path.dirname(os.path.abspath(__file__))
for name, t in {
    "bert6": trace(6, 20, 125, 6,
                   "synthetic 6-layer encoder (MiniLM-L6 size), 20 intervals of 125 steps; see gen_traces.py"),
    "bert12": trace(12, 20, 250, 12,
                    "synthetic 12-layer encoder (BERT-base size), 20 intervals of 250 steps; see gen_traces.py"),
}.items():
    rows = t.pop("norms")
    head = json.dumps(t, indent=1)[:-2]  # drop the closing "\n}"
    body = ",\n".join("  " + json.dumps(r) for r in rows)
    with open(os.path.join(here, name + ".json"), "w") as f:
        f.write(head + ',\n "norms": [\n' + body + "\n ]\n}\n")
