#!/usr/bin/env python3
"""SmoothQuant-style smoothing of an exported BERT-family encoder, before selective int8
(issue #14).

Dynamic int8 quantizes each MatMul's input with one scale per run, so a few input channels with
large values (activation outliers) squash every other channel into a handful of int8 steps.
Smoothing divides each input channel j of a weight MatMul by s_j and multiplies row j of its
weight by s_j: the product is unchanged in exact arithmetic, but the outliers move into the
weights, which are quantized per output channel and tolerate them better.

    s_j = max|x_j| ** alpha / max|w_j| ** (1 - alpha)

with max|x_j| measured on this script's own calibration sentences (never the tests' or shared
data) and max|w_j| over row j of every weight reading that input. Where the division goes:
- the attention output projection reads the attention context, which is linear in the value
  projection's output: the value projection's weight columns and bias are divided by s (free);
- the feed-forward output projection reads GELU's output, whose last node multiplies by a
  constant (0.5): that constant becomes the vector 0.5 / s (free);
- query/key/value and the feed-forward input read a LayerNorm output that is also the residual
  (BERT is post-LayerNorm), so the division cannot fold into LayerNorm: one Mul node by 1 / s
  is inserted in front of those MatMuls (an elementwise pass over 384 channels).
The smoothed fp32 graph must give the same embeddings as the original (checked here, cosine
>= 0.99999 on every calibration sentence); scripts/quantize_mixed_onnx.py then chooses which
of its MatMuls to make int8 (`--source onnx-smooth`).

    python scripts/smooth_onnx.py MODEL_DIR [--alpha 0.5]

Reads MODEL_DIR/onnx/model.onnx, writes MODEL_DIR/onnx-smooth/model.onnx and smoothing.json.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from transformers import AutoTokenizer

# Calibration sentences, written for this script: news-like prose of mixed length, some very
# short (their activations are the least averaged).
CALIBRATION_SENTENCES = [
    "The regional government announced on Monday that it would reopen the mountain pass by June.",
    "Shares in the carmaker fell sharply after it warned that profits would halve this year.",
    "\"Nobody told us anything,\" said a resident who had waited six hours for a bus.",
    "Two climbers were rescued from the glacier after spending the night in a snow hole.",
    "The orchestra will tour eight cities in Asia next autumn, its director said.",
    "Inflation slowed for a fourth month, giving the central bank room to cut rates.",
    "Hello.",
    "Good morning.",
    "The vote was delayed.",
    "Engineers say the dam, built in 1962, needs repairs costing at least 40 million euros.",
    "Schools in the east of the city stayed closed for a second day because of flooding.",
    "The striker scored twice in the last ten minutes to keep his team in the league.",
    "According to the report, one in five households cannot afford to heat their homes.",
    "Officials denied that the ship had entered territorial waters without permission.",
    "Really?",
    "Volunteers planted eleven thousand trees along the motorway over the weekend.",
]

REWIRING_OPS = ("Reshape", "Transpose")


def load_session(path: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    # No fusion: the calibration run reads intermediate tensors by their exported names.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def feeds_for(tokenizer, session, sentence):
    batch = tokenizer([sentence], return_tensors="np")
    return {i.name: batch[i.name].astype(np.int64) for i in session.get_inputs()}


def embed(tokenizer, session, sentences):
    vectors = []
    for sentence in sentences:
        hidden = session.run(["last_hidden_state"], feeds_for(tokenizer, session, sentence))[0]
        pooled = hidden.mean(axis=1)[0]
        vectors.append(pooled / np.linalg.norm(pooled))
    return np.array(vectors)


class Graph:
    def __init__(self, model: onnx.ModelProto):
        self.model = model
        self.initializers = {i.name: i for i in model.graph.initializer}
        self.producer = {out: n for n in model.graph.node for out in n.output}
        self.consumers = {}
        for node in model.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def array(self, name: str) -> np.ndarray:
        return numpy_helper.to_array(self.initializers[name])

    def replace(self, name: str, value: np.ndarray) -> None:
        uses = self.consumers.get(name, [])
        if len(uses) != 1:
            raise SystemExit(f"initializer {name} is shared by {len(uses)} nodes: cannot rescale it alone")
        self.initializers[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))

    def weight_matmuls(self):
        return [n for n in self.model.graph.node
                if n.op_type == "MatMul" and n.input[1] in self.initializers]

    def constant_scalar(self, name: str):
        if name in self.initializers:
            value = self.array(name)
        else:
            node = self.producer.get(name)
            if node is None or node.op_type != "Constant":
                return None
            value = numpy_helper.to_array(node.attribute[0].t)
        return float(value) if value.size == 1 else None

    def skip_rewiring(self, name: str) -> str:
        node = self.producer.get(name)
        while node is not None and node.op_type in REWIRING_OPS:
            name = node.input[0]
            node = self.producer.get(name)
        return name

    def value_projection(self, context: str):
        """The (MatMul, bias Add) of the value projection when `context` is attention's
        softmax(QK) @ V, seen through reshapes and transposes; else None."""
        attention = self.producer.get(self.skip_rewiring(context))
        if attention is None or attention.op_type != "MatMul" or attention.input[1] in self.initializers:
            return None
        bias_add = self.producer.get(self.skip_rewiring(attention.input[1]))
        if bias_add is None or bias_add.op_type != "Add":
            return None
        bias = [i for i in bias_add.input if i in self.initializers]
        other = [i for i in bias_add.input if i not in self.initializers]
        if len(bias) != 1 or len(other) != 1:
            return None
        matmul = self.producer.get(other[0])
        if matmul is None or matmul.op_type != "MatMul" or matmul.input[1] not in self.initializers:
            return None
        return matmul, bias[0]


def activation_maxima(model_path: str, inputs, tokenizer) -> dict:
    model = onnx.load(model_path)
    for name in inputs:
        model.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "probe.onnx")
        onnx.save(model, path)
        session = load_session(path)
        maxima = {name: None for name in inputs}
        for sentence in CALIBRATION_SENTENCES:
            values = session.run(inputs, feeds_for(tokenizer, session, sentence))
            for name, value in zip(inputs, values):
                channel_max = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
                maxima[name] = channel_max if maxima[name] is None else np.maximum(maxima[name], channel_max)
    return maxima


def smooth(model_path: str, tokenizer, alpha: float, smooth_gelu_outputs: bool):
    model = onnx.load(model_path)
    graph = Graph(model)
    groups = {}
    for node in graph.weight_matmuls():
        groups.setdefault(node.input[0], []).append(node)
    maxima = activation_maxima(model_path, list(groups), tokenizer)
    report = []
    new_nodes = []
    for index, (source, matmuls) in enumerate(groups.items()):
        producer = graph.producer.get(source)
        gelu_output = (producer is not None and producer.op_type == "Mul"
                       and graph.constant_scalar(producer.input[1]) is not None
                       and len(graph.consumers[source]) == len(matmuls))
        if gelu_output and not smooth_gelu_outputs:
            continue
        weight_max = np.max([np.abs(graph.array(n.input[1])).max(axis=1) for n in matmuls], axis=0)
        act_max = maxima[source]
        scale = np.power(np.maximum(act_max, 1e-5), alpha) / np.power(np.maximum(weight_max, 1e-5), 1 - alpha)
        scale = np.clip(scale, 1e-2, 1e2).astype(np.float32)
        for node in matmuls:
            graph.replace(node.input[1], graph.array(node.input[1]) * scale[:, None])
        value = graph.value_projection(source)
        if value is not None:
            matmul, bias = value
            graph.replace(matmul.input[1], graph.array(matmul.input[1]) / scale[None, :])
            graph.replace(bias, graph.array(bias) / scale)
            how = "value projection"
        elif gelu_output:
            name = f"smooth_scale_{index}"
            constant = graph.constant_scalar(producer.input[1])
            model.graph.initializer.append(numpy_helper.from_array(constant / scale, name))
            producer.input[1] = name
            how = "activation's constant factor"
        else:
            name = f"smooth_inverse_scale_{index}"
            model.graph.initializer.append(numpy_helper.from_array(1.0 / scale, name))
            smoothed = f"{source}_smoothed"
            new_nodes.append((source, helper.make_node("Mul", [source, name], [smoothed], name=f"/smooth/Mul_{index}")))
            for node in matmuls:
                node.input[0] = smoothed
            how = "inserted Mul"
        outlier_ratio = float(act_max.max() / np.median(act_max))
        report.append({"input": source, "matmuls": [n.name for n in matmuls], "folded_into": how,
                       "activation_max_over_median": round(outlier_ratio, 1)})
    # Each inserted Mul goes right after its input's producer (the graph stays topologically sorted).
    nodes = list(model.graph.node)
    for source, mul in new_nodes:
        position = nodes.index(graph.producer[source]) + 1 if source in graph.producer else 0
        nodes.insert(position, mul)
    # GELU's scalar constants replaced above are left without readers: drop them.
    used = {name for node in nodes for name in node.input}
    nodes = [n for n in nodes if n.op_type != "Constant" or any(o in used for o in n.output)]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir")
    parser.add_argument("--alpha", type=float, default=0.5,
                        help="migration strength: 0 leaves activations alone, 1 moves all their range into the weights")
    parser.add_argument("--smooth-gelu-outputs", action="store_true",
                        help="also smooth the feed-forward output projections (worse at alpha 0.5: "
                             "their weights' per-channel ranges grow)")
    args = parser.parse_args()
    fp32 = os.path.join(args.model_dir, "onnx", "model.onnx")
    if not os.path.isfile(fp32):
        print(f"{fp32} is missing: run scripts/setup-onnx first", file=sys.stderr)
        return 1
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model, report = smooth(fp32, tokenizer, args.alpha, args.smooth_gelu_outputs)
    out_dir = os.path.join(args.model_dir, "onnx-smooth")
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as work:
        path = os.path.join(work, "model.onnx")
        onnx.checker.check_model(model)
        onnx.save(model, path)
        reference = embed(tokenizer, load_session(fp32), CALIBRATION_SENTENCES)
        smoothed = embed(tokenizer, load_session(path), CALIBRATION_SENTENCES)
        worst = float((reference * smoothed).sum(1).min())
        if worst < 0.99999:
            print(f"smoothed fp32 differs from fp32: worst cosine {worst:.6f}", file=sys.stderr)
            return 1
        with open(os.path.join(work, "smoothing.json"), "w") as f:
            json.dump({"alpha": args.alpha, "smooth_gelu_outputs": args.smooth_gelu_outputs,
                       "worst_cosine_to_fp32": worst, "inputs": report}, f, indent=1)
        os.replace(os.path.join(work, "smoothing.json"), os.path.join(out_dir, "smoothing.json"))
        os.replace(path, os.path.join(out_dir, "model.onnx"))
    print(f"{len(report)} MatMul inputs smoothed (alpha {args.alpha}); fp32 worst cosine to the original {worst:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
