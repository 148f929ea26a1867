#!/usr/bin/env python3
"""Exports a sentence-transformers BERT-family encoder to ONNX for precis' `onnxruntime`
embedding engine: `onnx/model.onnx` (fp32) and `onnx/model_int8.onnx` (dynamic int8, per-channel
weights) inside the model directory, from the same weights rust-bert loads.

The graph ends at the transformer's last hidden state; pooling and normalisation stay in precis,
which reads them from the model's modules.json like rust-bert does, so every BERT-family encoder
(MiniLM, e5, ...) exports with this one script.

    python scripts/export_onnx.py MODEL_DIR [--check]
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import torch
from transformers import AutoModel

# The sentences --check compares fp32 and int8 on (written for this script; the tests use
# others).
CHECK_SENTENCES = [
    "The council approved the new budget after a long debate on Tuesday evening.",
    "Rain is expected across the north of the country for the rest of the week.",
    "She said the company would not comment on the negotiations until they ended.",
    "Short one.",
    "Prices of bread and milk rose by nearly a tenth in the last twelve months, the statistics office said.",
    "Firefighters worked through the night to contain the blaze near the harbour.",
    "\"We will not accept this,\" the union leader told reporters outside parliament.",
    "The minister resigned on Friday.",
    "A new bridge over the river will open to traffic in the spring, officials said.",
    "Police arrested three men suspected of stealing copper cable from the railway.",
    "The hospital says waiting times have fallen for the third month in a row.",
    "Scientists found traces of water in rocks brought back from the mission.",
    "Yes.",
    "The match was postponed because of heavy snow.",
    "Farmers blocked the main roads with tractors to protest against lower milk prices and new rules on fertiliser.",
    "In a statement, the embassy urged its citizens to leave the region immediately.",
    "Exports fell 4 percent in October compared with a year earlier.",
    "The court ruled that the law breached the constitution.",
    "Thousands of people marched through the capital on Sunday demanding early elections.",
    "The airline cancelled dozens of flights after a computer failure.",
]


def export(model_dir: str, out_dir: str) -> str:
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    vocab = model.config.vocab_size
    # Three rows of different lengths with padding, so the exported graph keeps masks general.
    input_ids = torch.randint(5, min(vocab, 1000), (3, 16), dtype=torch.int64)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 10:] = 0
    attention_mask[2, 4:] = 0
    token_type_ids = torch.zeros_like(input_ids)
    names = ["input_ids", "attention_mask"]
    args = [input_ids, attention_mask]
    if model.config.type_vocab_size and model.config.type_vocab_size > 0:
        names.append("token_type_ids")
        args.append(token_type_ids)
    path = os.path.join(out_dir, "model.onnx")
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *inputs):
            kwargs = dict(zip(names, inputs))
            return self.inner(**kwargs).last_hidden_state

    with torch.no_grad():
        torch.onnx.export(
            LastHiddenState(model),
            tuple(args),
            path,
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            do_constant_folding=True,
        )
    return path


def quantize(fp32_path: str, int8_path: str) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Weights per channel (per tensor: worst cosine 0.93 on MiniLM), activations per tensor at
    # run time; MatMuls only, never the embedding tables. On MiniLM this is 0.96-0.97 from fp32
    # at worst (a one-word sentence), below the 0.99 gate: the int8 engine is opt-in. Keeping
    # the feed-forward projections in fp32 was tried and dropped: 0.985 at worst on the tests'
    # sentences, still below the gate, for less of the speed-up.
    # Weights in 7 bits (reduce_range): without VNNI, ONNX Runtime's u8 x s8 kernels add pairs
    # of products in 16 bits, which full-range weights overflow (multilingual-e5-small fell to
    # cosine 0.986 on an AVX2-only CPU, 0.994 with 7-bit weights); 7 bits never overflow, so an
    # export gives the same vectors on every CPU, whichever machine ran setup.
    quantize_dynamic(
        fp32_path,
        int8_path,
        per_channel=True,
        reduce_range=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
    )


def check(model_dir: str, out_dir: str) -> None:
    import onnxruntime as ort
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    outputs = {}
    for name in ("model.onnx", "model_int8.onnx"):
        session = ort.InferenceSession(os.path.join(out_dir, name), providers=["CPUExecutionProvider"])
        vectors = []
        # One sentence per run: int8 activation scales are per run, so a sentence alone is the
        # case with nothing else in the batch to average its errors with.
        for sentence in CHECK_SENTENCES:
            batch = tokenizer([sentence], return_tensors="np")
            feeds = {i.name: batch[i.name].astype(np.int64) for i in session.get_inputs()}
            pooled = session.run(None, feeds)[0].mean(axis=1)[0]
            vectors.append(pooled / np.linalg.norm(pooled))
        outputs[name] = np.array(vectors)
    cosines = (outputs["model.onnx"] * outputs["model_int8.onnx"]).sum(1)
    print(f"int8 vs fp32 cosine: min {cosines.min():.4f} mean {cosines.mean():.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir")
    parser.add_argument("--check", action="store_true", help="print int8 vs fp32 cosines")
    args = parser.parse_args()
    out_dir = os.path.join(args.model_dir, "onnx")
    os.makedirs(out_dir, exist_ok=True)
    # Written beside the final files and renamed, so an interrupted run leaves nothing half-done.
    with tempfile.TemporaryDirectory(dir=out_dir) as work:
        fp32 = export(args.model_dir, work)
        int8 = os.path.join(work, "model_int8.onnx")
        quantize(fp32, int8)
        os.replace(int8, os.path.join(out_dir, "model_int8.onnx"))
        os.replace(fp32, os.path.join(out_dir, "model.onnx"))
    if args.check:
        check(args.model_dir, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
