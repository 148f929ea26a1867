#!/usr/bin/env python3
"""Tiny many-to-many translation repositories for the loopback test hub of `precis models pull`.

Writes DIR/hub-many/<repo>/ as a Hugging Face repository of that architecture holds it, with
RANDOM weights and a SentencePiece model trained here on the test-model factory's own corpus
(scripts/make_test_models.py). They exercise pull -> convert -> register -> translate; their
output is meaningless and nothing may present it as a result.

    python scripts/make_many_to_many_models.py --out DIR [--seed N]

    hub-many/tiny-m2m100/   M2M100 (rust-bert ModelType::M2M100): config.json, vocab.json,
                            sentencepiece.bpe.model, tokenizer_config.json,
                            special_tokens_map.json (saved by transformers' M2M100Tokenizer,
                            whose language tokens __xx__ follow the vocabulary), model.safetensors
    hub-many/tiny-m2m100-sharded/  the same model, its weights in two shards named by
                            model.safetensors.index.json
    hub-many/tiny-nllb/     NLLB (rust-bert ModelType::NLLB): config.json (model_type m2m_100),
                            tokenizer.json, sentencepiece.bpe.model, tokenizer_config.json,
                            special_tokens_map.json, pytorch_model.bin (no safetensors)
    hub-many/tiny-mbart50/  mBART-50 (rust-bert ModelType::MBart): config.json (model_type
                            mbart), sentencepiece.bpe.model, tokenizer_config.json,
                            special_tokens_map.json, model.safetensors

A new directory beside the factory's own (never touching them); idempotent (a stamp file names
the recipe) and atomic (built in a temporary directory, then renamed into place).
"""

import io
import json
import shutil
import sys
from pathlib import Path

# torch, transformers and the factory (corpus, threads, marker text, config writer) are
# imported once a build is needed: the idempotent re-run only reads the stamp.

RECIPE_VERSION = 4
TINY_SPM_VOCAB = 800
# Above the 142 tokens precis lets a translation grow to: mBART's learned positions do not
# extend (M2M100's sinusoidal ones do), and random weights rarely stop early.
M2M100_TINY = dict(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                   decoder_attention_heads=4, encoder_ffn_dim=64, decoder_ffn_dim=64,
                   max_position_embeddings=256)
# Real M2M100 checkpoints reserve 8 "madeup words" after the 100 language tokens.
MADEUP_WORDS = 8


def train_bpe_spm(lines: list[str], vocab_size: int, seed: int) -> bytes:
    import sentencepiece as spm

    """A SentencePiece BPE model as M2M100's sentencepiece.bpe.model (pieces only: the ids
    the model uses come from vocab.json)."""
    spm.set_random_generator_seed(seed)
    model = io.BytesIO()  # in memory: a file prefix would be recorded inside the model
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size,
        model_type="bpe", character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=1, minloglevel=2)
    return model.getvalue()


def build_m2m100(out: Path, lines: list[str], seed: int) -> None:
    import sentencepiece as spm
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer
    factory = load_factory()
    spm_bytes = train_bpe_spm(lines, TINY_SPM_VOCAB, seed)
    work = out / ".tokenizer-input"
    work.mkdir()
    (work / "sentencepiece.bpe.model").write_bytes(spm_bytes)
    sp = spm.SentencePieceProcessor(model_proto=spm_bytes)
    # fairseq's dictionary layout: the four specials, then the pieces.
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for i in range(sp.get_piece_size()):
        piece = sp.id_to_piece(i)
        if piece not in vocab:
            vocab[piece] = len(vocab)
    (work / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    tokenizer = M2M100Tokenizer(str(work / "vocab.json"), str(work / "sentencepiece.bpe.model"),
                                num_madeup_words=MADEUP_WORDS)
    tokenizer.save_pretrained(str(out))
    shutil.rmtree(work)
    for leftover in ("added_tokens.json",):  # the hub repositories hold none
        (out / leftover).unlink(missing_ok=True)
    vocab_size = len(vocab) + len(tokenizer.lang_token_to_id) + MADEUP_WORDS
    config = M2M100Config(
        vocab_size=vocab_size, **M2M100_TINY, activation_function="relu", scale_embedding=True,
        dropout=0.1, attention_dropout=0.0, activation_dropout=0.0,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
        max_length=24, num_beams=2, architectures=["M2M100ForConditionalGeneration"])
    model = M2M100ForConditionalGeneration(config).eval()
    factory.save_weights(model, out / "model.safetensors", [
        "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight",
        "lm_head.weight"])
    factory.write_config(config, out / "config.json", {})


def build_nllb(out: Path, lines: list[str], seed: int) -> None:
    """NLLB-200 as facebook/nllb-200-distilled-600M holds it: an m2m_100 network, NLLB's fast
    tokenizer (tokenizer.json, language tokens such as eng_Latn among its added tokens) and
    its SentencePiece model, and weights only as pytorch_model.bin (tied aliases included, as
    save_pretrained wrote them)."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizerFast
    work = out / ".tokenizer-input"
    work.mkdir()
    (work / "sentencepiece.bpe.model").write_bytes(train_bpe_spm(lines, TINY_SPM_VOCAB, seed))
    tokenizer = NllbTokenizerFast(vocab_file=str(work / "sentencepiece.bpe.model"),
                                  from_slow=True)
    tokenizer.save_pretrained(str(out))
    shutil.copyfile(work / "sentencepiece.bpe.model", out / "sentencepiece.bpe.model")
    shutil.rmtree(work)
    (out / "added_tokens.json").unlink(missing_ok=True)
    config = M2M100Config(
        vocab_size=len(tokenizer), **M2M100_TINY, activation_function="relu",
        scale_embedding=True, dropout=0.1, attention_dropout=0.0, activation_dropout=0.0,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
        max_length=24, num_beams=2, tokenizer_class="NllbTokenizer",
        architectures=["M2M100ForConditionalGeneration"])
    model = M2M100ForConditionalGeneration(config).eval()
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    torch.save(state, out / "pytorch_model.bin")
    load_factory().write_config(config, out / "config.json", {})


def build_mbart50(out: Path, lines: list[str], seed: int) -> None:
    """mBART-50 many-to-many as facebook/mbart-large-50-many-to-many-mmt holds it: MBart-50's
    SentencePiece tokenizer (language tokens en_XX… numbered after the pieces) and weights as
    model.safetensors."""
    from transformers import MBart50Tokenizer, MBartConfig, MBartForConditionalGeneration
    factory = load_factory()
    work = out / ".tokenizer-input"
    work.mkdir()
    (work / "sentencepiece.bpe.model").write_bytes(train_bpe_spm(lines, TINY_SPM_VOCAB, seed))
    tokenizer = MBart50Tokenizer(str(work / "sentencepiece.bpe.model"))
    tokenizer.save_pretrained(str(out))
    shutil.rmtree(work)
    (out / "added_tokens.json").unlink(missing_ok=True)
    config = MBartConfig(
        vocab_size=len(tokenizer), **M2M100_TINY, activation_function="relu",
        scale_embedding=True, dropout=0.1, attention_dropout=0.0, activation_dropout=0.0,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
        forced_eos_token_id=2, max_length=24, num_beams=2, tokenizer_class="MBart50Tokenizer",
        architectures=["MBartForConditionalGeneration"])
    model = MBartForConditionalGeneration(config).eval()
    factory.save_weights(model, out / "model.safetensors", [
        "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight",
        "lm_head.weight"])
    factory.write_config(config, out / "config.json", {})


def build_m2m100_sharded(out: Path, lines: list[str], seed: int) -> None:
    """tiny-m2m100 (built just before, beside it) with its weights split in two shards named by
    model.safetensors.index.json, as large repositories hold them."""
    from safetensors.torch import load_file, save_file
    source = out.parent / "tiny-m2m100"
    for name in ("config.json", "vocab.json", "sentencepiece.bpe.model",
                 "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(source / name, out / name)
    state = load_file(str(source / "model.safetensors"))
    names = sorted(state)
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    total = 0
    for number, keys in enumerate(halves, start=1):
        shard = f"model-{number:05d}-of-{len(halves):05d}.safetensors"
        save_file({k: state[k] for k in keys}, str(out / shard), metadata={"format": "pt"})
        for key in keys:
            weight_map[key] = shard
            total += state[key].numel() * state[key].element_size()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")


REPOS = {"tiny-m2m100": build_m2m100, "tiny-m2m100-sharded": build_m2m100_sharded,
         "tiny-nllb": build_nllb, "tiny-mbart50": build_mbart50}


def load_factory():
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import make_test_models
    return make_test_models


def build_repo(tmp: Path, repo: str, lines: list[str], seed: int) -> None:
    REPOS[repo](tmp / repo, lines, seed)


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import stamped_hub
    return stamped_hub.run(__doc__.split("\n\n")[0], "hub-many", "many-to-many", RECIPE_VERSION, REPOS,
                           build_repo)


if __name__ == "__main__":
    sys.exit(main())
