"""Python side of `bench_translate`: the same quotes, the same Marian weights, transformers.

Reads the quotes (JSON list) that the Rust bench extracted, translates them all in one batch per
round with MarianMTModel.generate() using the same decoding settings, and prints one JSON line.
"""
import argparse
import json
import resource
import time

import torch
from transformers import MarianMTModel, MarianTokenizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--quotes", required=True, help="JSON file with a list of strings")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--beams", type=int, required=True)
    parser.add_argument("--length", type=int, required=True, help="decoder length, start token included")
    parser.add_argument("--rounds", type=int, required=True)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    with open(args.quotes, encoding="utf-8") as handle:
        quotes = json.load(handle)
    tokenizer = MarianTokenizer.from_pretrained(args.model_dir)
    model = MarianMTModel.from_pretrained(args.model_dir).eval()
    inputs = tokenizer(quotes, return_tensors="pt", padding=True)

    def translate() -> None:
        with torch.inference_mode():
            model.generate(
                **inputs,
                num_beams=args.beams,
                do_sample=False,
                # min = max: both sides generate exactly `length` decoder positions.
                min_length=args.length,
                max_length=args.length,
            )

    translate()  # warm-up, as the Rust side does
    started = time.perf_counter()
    for _ in range(args.rounds):
        translate()
    elapsed = time.perf_counter() - started
    print(json.dumps({
        "quotes_per_second": len(quotes) * args.rounds / elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
