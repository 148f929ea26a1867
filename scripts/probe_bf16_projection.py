"""Times the ways the vocabulary screen (src/runtime/vocabulary_screen.rs) can compute a greedy
step's bf16 logits: `weight · xᵀ` against `linear`, at BART's (50,264 x 1,024) and M2M100's
(128,112 x 1,024) vocabulary sizes, bf16 weights, one thread, median of 25 calls per row count,
with the fp32 `weight · xᵀ` the unscreened path streams at one row beside them. Run in the
project venv:

    . scripts/env.sh && python scripts/probe_bf16_projection.py
"""
import functools

import torch

from probe_timing import VOCABULARY_PROJECTIONS, median_ms

# Calls timed per measurement (the median is printed).
median_ms = functools.partial(median_ms, calls=25)


def main():
    torch.set_num_threads(1)
    for outputs, width in VOCABULARY_PROJECTIONS:
        weight = torch.randn(outputs, width) * 0.02
        weight_bf16 = weight.bfloat16()
        for rows in [1, 2, 4, 9]:
            x = torch.randn(rows, width)
            x_bf16 = x.bfloat16()
            fp32 = median_ms(lambda: weight.matmul(x.t())) if rows == 1 else float("nan")
            streamed = median_ms(lambda: weight_bf16.matmul(x_bf16.t()))
            linear = median_ms(lambda: torch.nn.functional.linear(x_bf16, weight_bf16))
            print(
                f"{outputs} x {width}, {rows} rows: bf16 weight . xT {streamed:.1f} ms, "
                f"bf16 linear {linear:.1f} ms, fp32 weight . xT {fp32:.1f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
