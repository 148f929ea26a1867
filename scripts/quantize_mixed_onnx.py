#!/usr/bin/env python3
"""Selective dynamic int8 for precis' `onnxruntime-int8-mixed` embedding engine (issue #14).

Quantizing every MatMul of all-MiniLM-L6-v2 (`onnx/model_int8.onnx`) costs too much accuracy:
one-word sentences fall to cosine 0.97 from fp32, under the 0.99 gate. The error comes mostly
from a few MatMuls (the feed-forward projections of the early and middle layers, some value
projections), whose inputs carry outliers that one per-tensor activation scale squashes. This
script measures each weight MatMul's damage alone (that MatMul int8, the rest fp32) on its own
check sentences, then quantizes the least damaging ones first, as many as keep the worst cosine
to fp32 at or above --floor, and writes `onnx-int8-mixed/model.onnx` (a new directory beside
`onnx/`, read from `onnx/model.onnx`) with `selection.json` (what was chosen and why).

The floor is far above the 0.99 gate on purpose: the gate also asks for the same summary
sentences on the team's articles, and at a floor of 0.995 (23 of MiniLM's 36 MatMuls int8,
cosine 0.997 on the tests' sentences) one article's summary changed; at 0.999 (16 int8) none
does (tests/onnx_embeddings.rs).

    python scripts/quantize_mixed_onnx.py MODEL_DIR [--floor 0.999] [--source onnx-smooth --out onnx-int8-smooth]

`--source` quantizes another fp32 graph of the same model (scripts/smooth_onnx.py's smoothed one);
the cosines are always measured against `onnx/model.onnx`.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import AutoTokenizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_onnx import CHECK_SENTENCES  # noqa: E402

# Very short sentences are the worst case (nothing to average a token's error with); the
# tests check other sentences.
SHORT_SENTENCES = ["No way.", "Maybe.", "Thanks.", "Stop.", "Why not?", "It rained."]


def session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


class Checker:
    """Worst cosine to fp32 over the check sentences, each alone and all in one padded batch
    (int8 activation scales are per run, so both cases matter)."""

    def __init__(self, model_dir: str, fp32: str, sentences=None):
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.sentences = sentences or CHECK_SENTENCES + SHORT_SENTENCES
        self.reference = self.vectors(session(fp32))

    def embed(self, model: ort.InferenceSession, sentences) -> np.ndarray:
        batch = self.tokenizer(sentences, return_tensors="np", padding=True)
        # A graph input the tokenizer does not give (XLM-R's token_type_ids) is all zeros.
        zeros = np.zeros_like(batch["input_ids"])
        feeds = {i.name: batch.get(i.name, zeros).astype(np.int64) for i in model.get_inputs()}
        hidden = model.run(None, feeds)[0]
        mask = batch["attention_mask"][..., None]
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def vectors(self, model):
        alone = np.concatenate([self.embed(model, [s]) for s in self.sentences])
        return alone, self.embed(model, self.sentences)

    def worst(self, path: str) -> float:
        alone, together = self.vectors(session(path))
        return float(min((alone * self.reference[0]).sum(1).min(),
                         (together * self.reference[1]).sum(1).min()))


def quantize(fp32: str, out: str, nodes) -> None:
    # Per-channel weights (per tensor: cosine 0.93 on MiniLM), activations per tensor per run;
    # 7-bit weights, as in scripts/export_onnx.py (the same vectors with or without VNNI).
    quantize_dynamic(
        fp32,
        out,
        per_channel=True,
        reduce_range=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
        nodes_to_quantize=list(nodes),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir")
    parser.add_argument("--floor", type=float, default=0.999,
                        help="lowest worst-case cosine to fp32 allowed on the check sentences")
    parser.add_argument("--source", default="onnx", help="sub-directory of the fp32 model.onnx to quantize")
    parser.add_argument("--out", default="onnx-int8-mixed", help="sub-directory to write into")
    args = parser.parse_args()
    reference = os.path.join(args.model_dir, "onnx", "model.onnx")
    fp32 = os.path.join(args.model_dir, args.source, "model.onnx")
    for path in (reference, fp32):
        if not os.path.isfile(path):
            print(f"{path} is missing: run scripts/setup-onnx (and scripts/smooth_onnx.py) first", file=sys.stderr)
            return 1
    graph = onnx.load(fp32, load_external_data=False)
    weights = {i.name for i in graph.graph.initializer}
    matmuls = [n.name for n in graph.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    checker = Checker(args.model_dir, reference)
    out_dir = os.path.join(args.model_dir, args.out)
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as work:
        trial = os.path.join(work, "trial.onnx")
        damage = {}
        for name in matmuls:
            quantize(fp32, trial, [name])
            damage[name] = 1.0 - checker.worst(trial)
        order = sorted(matmuls, key=lambda name: damage[name])
        # The largest prefix of the order that stays above the floor (errors add up, so the
        # worst cosine falls with the prefix length: a binary search finds it).
        low, high = 0, len(order)
        while low < high:
            middle = (low + high + 1) // 2
            quantize(fp32, trial, order[:middle])
            if checker.worst(trial) >= args.floor:
                low = middle
            else:
                high = middle - 1
        chosen = order[:low]
        if not chosen:
            print("no MatMul can be int8 above the floor", file=sys.stderr)
            return 1
        final = os.path.join(work, "model.onnx")
        quantize(fp32, final, chosen)
        worst = checker.worst(final)
        report = {
            "floor": args.floor,
            "worst_cosine": worst,
            "int8": chosen,
            "fp32": [name for name in matmuls if name not in chosen],
            "damage_alone": damage,
        }
        with open(os.path.join(work, "selection.json"), "w") as f:
            json.dump(report, f, indent=1)
        os.replace(os.path.join(work, "selection.json"), os.path.join(out_dir, "selection.json"))
        os.replace(final, os.path.join(out_dir, "model.onnx"))
    print(f"{len(chosen)} of {len(matmuls)} MatMuls int8; worst cosine to fp32 {worst:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
