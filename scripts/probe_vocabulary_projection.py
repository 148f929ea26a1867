"""Times the three ways torch-bart can compute a decoder step's vocabulary projection.

The same libtorch kernels precis calls (`linear`, `weight · xᵀ`, `linear` over 8 MB slices of
weight rows), on random fp32 weights at BART's (50,264 x 1,024) and M2M100's (128,112 x 1,024)
vocabulary sizes, one thread, median of 15 calls per row count. `STREAMED_VOCABULARY_ROWS` in
src/runtime/torch_bart.rs is chosen from this table. Run in the project venv:

    . scripts/env.sh && python scripts/probe_vocabulary_projection.py
"""
import functools

import torch

from probe_timing import median_ms

# Calls timed per measurement (the median is printed).
median_ms = functools.partial(median_ms, calls=15)


SLICE_BYTES = 8 << 20  # VOCABULARY_SLICE_BYTES in src/runtime/torch_bart.rs




def sliced(x, weight, bias):
    rows = SLICE_BYTES // (weight.shape[1] * weight.element_size())
    return torch.cat(
        [
            torch.nn.functional.linear(x, weight[start : start + rows], bias[start : start + rows])
            for start in range(0, weight.shape[0], rows)
        ],
        1,
    )


def main():
    torch.set_num_threads(1)
    for outputs, width in [(50264, 1024), (128112, 1024)]:
        weight, bias = torch.randn(outputs, width), torch.randn(outputs)
        for rows in [1, 2, 4, 8, 9, 16, 36]:
            x = torch.randn(rows, width)
            whole = median_ms(lambda: torch.nn.functional.linear(x, weight, bias))
            streamed = median_ms(lambda: (weight.matmul(x.t()).t() + bias).contiguous())
            in_slices = median_ms(lambda: sliced(x, weight, bias))
            print(
                f"{outputs} x {width}, {rows} rows: linear {whole:.1f} ms, "
                f"weight . xT {streamed:.1f} ms, slices {in_slices:.1f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
