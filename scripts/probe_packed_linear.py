"""Times a decoder step's linear products three ways: libtorch's `linear` (MKL for fp32), the
weight streamed once (`weight · xᵀ`), and oneDNN over a weight packed once at load
(`mkldnn::_reorder_linear_weight` + `mkldnn::_linear_pointwise`, what
src/runtime/packed_linear.rs calls), at the layer and vocabulary widths of opus-mt, BART and
M2M100, one thread, 1 / 4 / 9 / 36 rows (greedy and beam 4 over one quote and nine), median of
15 calls. Run in the project venv:

    . scripts/env.sh && python scripts/probe_packed_linear.py
"""
import functools

import torch

from probe_timing import median_ms

median_ms = functools.partial(median_ms, calls=15)

# (inputs, outputs): opus-mt's layers and vocabulary, then BART's / M2M100's.
SHAPES = [
    (512, 512),
    (512, 2048),
    (2048, 512),
    (512, 65001),
    (1024, 1024),
    (1024, 4096),
    (4096, 1024),
    (1024, 50264),
    (1024, 128112),
]


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, 1 thread; ms per call")
    print(f"{'weight':>14} {'rows':>5} {'linear':>9} {'streamed':>9} {'packed':>9} {'best/packed':>12}")
    for inputs, outputs in SHAPES:
        weight = torch.randn(outputs, inputs) * 0.02
        bias = torch.zeros(outputs)
        packed = torch.ops.mkldnn._reorder_linear_weight(weight, None)
        for rows in (1, 4, 9, 36):
            x = torch.randn(rows, inputs)
            linear = median_ms(lambda: torch.nn.functional.linear(x, weight, bias))
            streamed = median_ms(lambda: torch.addmm(bias.unsqueeze(1), weight, x.T).T)
            ours = median_ms(
                lambda: torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")
            )
            print(
                f"{outputs:>6} x {inputs:<5} {rows:>5} {linear:>9.3f} {streamed:>9.3f} "
                f"{ours:>9.3f} {min(linear, streamed) / ours:>11.2f}x"
            )


if __name__ == "__main__":
    with torch.no_grad():
        main()
