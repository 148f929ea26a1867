"""Times libtorch's fused attention on the torch-bf16 embedding engine's inputs
(src/runtime/embeddings/torch_bf16.rs): bf16 query/key/value as the fused projection lays them
out, against fp32 copies of them, at MiniLM's 12 heads of 32 and sentence batches of the sizes
the summarizer's length buckets make; one thread, median of 60 calls, with each variant's largest
distance from fp32 attention over the same (bf16-rounded) inputs. Run in the project venv:

    . scripts/env.sh && python scripts/probe_bf16_attention.py
"""
import functools

import torch

from probe_timing import median_ms

# Calls timed per measurement (the median is printed).
median_ms = functools.partial(median_ms, calls=60)


HEADS, HEAD_SIZE = 12, 32




def main():
    torch.set_num_threads(1)
    attention = torch.nn.functional.scaled_dot_product_attention
    for batch, length in [(3, 84), (8, 40), (16, 30), (32, 16), (10, 24)]:
        fused = torch.randn(batch, length, 3 * HEADS * HEAD_SIZE).bfloat16()
        qkv = fused.view(batch, length, 3, HEADS, HEAD_SIZE).permute(2, 0, 3, 1, 4)
        query, key, value = qkv[0], qkv[1], qkv[2]
        mask = torch.ones(batch, 1, 1, length, dtype=torch.bool)
        mask[0, ..., length // 2 :] = False  # one padded sentence
        exact = attention(query.float(), key.float(), value.float(), attn_mask=mask)

        def in_bf16():
            return attention(query, key, value, attn_mask=mask)

        def in_fp32():
            qkv32 = fused.float().view(batch, length, 3, HEADS, HEAD_SIZE).permute(2, 0, 3, 1, 4)
            return attention(qkv32[0], qkv32[1], qkv32[2], attn_mask=mask).bfloat16()

        cells = []
        for name, variant in [("bf16", in_bf16), ("fp32", in_fp32)]:
            error = (variant().float() - exact).abs().max().item()
            cells.append(f"{name} {median_ms(variant):.2f} ms (max error {error:.3f})")
        print(f"{batch} sentences x {length} tokens: " + ", ".join(cells), flush=True)


if __name__ == "__main__":
    main()
