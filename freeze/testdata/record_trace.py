#!/usr/bin/env python3
"""Turns the metrics.jsonl of a `train --freeze observe` run into a trace file (standard library only).

With --freeze observe, AutoFreeze's rule runs on every interval but nothing freezes, so every
layer reports its gradient norm for the whole run: the decisions in metrics.jsonl carry the
norms the rule saw. This keeps them, one vector per interval, in the format golden_test.go reads.

    python3 freeze/testdata/record_trace.py RUN_DIR/metrics.jsonl NAME "description"
    go test ./freeze -update    # writes NAME.golden.json
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: record_trace.py METRICS_JSONL NAME DESCRIPTION")
    path, name, description = sys.argv[1:]
    norms, steps, layers, norm = [], [], None, None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            rec = json.loads(line)
            if rec.get("type") != "freeze":
                continue
            if rec.get("k", 0) != 0:
                sys.exit(f"{path}:{n}: K={rec['k']}: not a --freeze observe run (frozen layers report no norm)")
            norms.append([round(v, 6) for v in rec["norms"]])
            steps.append(rec["step"])
            layers, norm = rec["layers"], rec.get("norm", "l1")
    if len(steps) < 2:
        sys.exit(f"{path}: fewer than two freeze decisions")
    interval = steps[0]
    if any(b - a != interval for a, b in zip(steps, steps[1:])):
        sys.exit(f"{path}: decisions are not evenly spaced: {steps}")
    out = {"description": description, "layers": layers, "norm": norm,
           "steps_per_interval": interval, "norms": norms}
    dest = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".json")
    with open(dest, "w") as f:
        f.write("{\n")
        f.write(f' "description": {json.dumps(description)},\n')
        f.write(f' "layers": {layers},\n "norm": {json.dumps(norm)},\n "steps_per_interval": {interval},\n')
        f.write(' "norms": [\n')
        f.write(",\n".join("  " + json.dumps(r) for r in norms))
        f.write("\n ]\n}\n")
    print(f"wrote {dest}: {len(norms)} intervals of {interval} steps, {layers} layers")


if __name__ == "__main__":
    main()
