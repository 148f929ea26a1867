"""Times the vocabulary screen's int8 product (src/runtime/int8_linear.rs: libtorch's
`quantized::linear_dynamic` over weights quantized per row, x to 7 bits) against the fp32
products it replaces: the packed oneDNN `linear` the unscreened path runs (as `torch.jit.freeze`
packs it) and plain `linear`. BART's (50,264 x 1,024) and M2M100's (128,112 x 1,024)
vocabulary sizes, one thread, median of 25 calls per row count. Run in the project venv:

    . scripts/env.sh && python scripts/probe_int8_projection.py
"""
import functools

import torch

from probe_timing import median_ms

# Calls timed per measurement (the median is printed).
median_ms = functools.partial(median_ms, calls=25)


def main():
    torch.set_num_threads(1)
    for outputs, width in [(50264, 1024), (128112, 1024)]:
        weight = torch.randn(outputs, width) * 0.02
        scales = (weight.abs().amax(1) / 127).double()
        zeros = torch.zeros(outputs, dtype=torch.long)
        quantized = torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8)
        int8 = torch.ops.quantized.linear_prepack(quantized, None)
        packed = torch.ops.mkldnn._reorder_linear_weight(weight, None)
        for rows in [1, 4, 9]:
            x = torch.randn(rows, width)
            int8_ms = median_ms(lambda: torch.ops.quantized.linear_dynamic(x, int8, True))
            packed_ms = median_ms(
                lambda: torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")
            )
            plain_ms = median_ms(lambda: torch.nn.functional.linear(x, weight))
            print(
                f"{outputs} x {width}, {rows} rows: int8 {int8_ms:.1f} ms, "
                f"fp32 packed {packed_ms:.1f} ms, fp32 linear {plain_ms:.1f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
