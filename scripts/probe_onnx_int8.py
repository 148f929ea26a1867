"""Times one forward pass of an exported sentence encoder on ONNX Runtime in fp32, full dynamic
int8 (fails issue #14's accuracy gate) and the gate-passing selective int8, one thread each, on
the sentences of an article: what int8 could buy on this CPU at most.

The article is split at sentence-final punctuation (not precis' segmenter) and the sentences
are padded into one batch, so the work is larger than the service's length-bucketed batches;
compare the columns, not the absolute times. Three rounds, median of `CALLS` calls each.

Run in the project venv: `. scripts/env.sh && python scripts/probe_onnx_int8.py
"$PRECIS_MODELS_DIR/all-MiniLM-L6-v2" ARTICLE.txt`
"""
import argparse
import os
import re

import numpy as np
import onnxruntime as ort
from transformers import AutoTokenizer

from probe_timing import median_ms

CALLS = 5
EXPORTS = ["onnx/model.onnx", "onnx/model_int8.onnx", "onnx-int8-mixed/model.onnx"]


def session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", help="a model directory set up by scripts/setup")
    parser.add_argument("article", help="a plain-text article")
    args = parser.parse_args()
    with open(args.article, encoding="utf-8") as file:
        text = file.read()
    sentences = [s for s in re.split(r'(?<=[.!?"])\s+', text) if s.strip()]
    batch = AutoTokenizer.from_pretrained(args.model_dir)(
        sentences, padding=True, return_tensors="np"
    )
    print(
        f"{len(sentences)} sentences, {int(batch['attention_mask'].sum())} tokens, "
        f"{batch['input_ids'].size} padded slots"
    )
    runs = {}
    for name in EXPORTS:
        path = os.path.join(args.model_dir, name)
        if not os.path.exists(path):
            print(f"{name}: not exported here")
            continue
        model = session(path)
        feed = {
            i.name: batch[i.name].astype(np.int64) for i in model.get_inputs() if i.name in batch
        }
        runs[name] = (model, feed)
    for round_ in range(3):
        line = ", ".join(
            f"{name} {median_ms(lambda: model.run(None, feed), CALLS):.0f} ms"
            for name, (model, feed) in runs.items()
        )
        print(f"round {round_ + 1}: {line}", flush=True)


if __name__ == "__main__":
    main()
