"""Times the vocabulary screen's int8 product (src/runtime/int8_linear.rs: libtorch's
`quantized::linear_dynamic` over weights quantized per row, x to 7 bits) against the fp32
products it replaces: the packed oneDNN `linear` the unscreened path runs (as `torch.jit.freeze`
packs it) and plain `linear`. One thread, median of 25 calls per row count. The int8 weight is
also timed packed in slices of rows, one call each and the outputs concatenated, as the screen
packs it (`PACKED_ROWS_AT_ONCE`) to keep a whole packed copy from sitting beside a whole int8 one
at load.

Run in the project venv: `. scripts/env.sh && python scripts/probe_int8_projection.py`
"""
import torch

from probe_timing import VOCABULARY_PROJECTIONS, median_ms

CALLS = 25
SLICE_ROWS = [32768, 8192]


def int8_copy(weight):
    """The weight quantized per row, symmetric, and packed as the screen does."""
    scales = (weight.abs().amax(1) / 127).double()
    zeros = torch.zeros(weight.shape[0], dtype=torch.long)
    quantized = torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8)
    return torch.ops.quantized.linear_prepack(quantized, None)


def sliced(x, slices):
    """The product over a weight packed in slices of rows, as the screen computes it."""
    return torch.cat([torch.ops.quantized.linear_dynamic(x, part, True) for part in slices], 1)


def main():
    torch.set_num_threads(1)
    for outputs, width in VOCABULARY_PROJECTIONS:
        weight = torch.randn(outputs, width) * 0.02
        int8 = int8_copy(weight)
        in_slices = {
            rows: [int8_copy(weight[start : start + rows]) for start in range(0, outputs, rows)]
            for rows in SLICE_ROWS
        }
        packed = torch.ops.mkldnn._reorder_linear_weight(weight, None)
        for rows in [1, 4, 9]:
            x = torch.randn(rows, width)
            timings = [
                median_ms(lambda: torch.ops.quantized.linear_dynamic(x, int8, True), CALLS),
                median_ms(
                    lambda: torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], ""),
                    CALLS,
                ),
                median_ms(lambda: torch.nn.functional.linear(x, weight), CALLS),
            ]
            slice_timings = ", ".join(
                f"int8 in slices of {size:,} rows {median_ms(lambda: sliced(x, parts), CALLS):.1f} ms"
                for size, parts in in_slices.items()
            )
            print(
                f"{outputs} x {width}, {rows} rows: int8 {timings[0]:.1f} ms, "
                f"{slice_timings}, fp32 packed {timings[1]:.1f} ms, "
                f"fp32 linear {timings[2]:.1f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
