#!/usr/bin/env python3
"""Tiny XLM-R sentence-embedding repositories for the loopback test hub of `precis models pull`.

Writes DIR/hub-xlmr/<repo>/ as a sentence-transformers repository on a Hugging Face hub holds
it, with RANDOM weights and a SentencePiece unigram model trained here on the test-model
factory's own corpus (scripts/make_test_models.py). They exercise pull -> convert -> register
-> rank; their embeddings are meaningless and nothing may present them as a result.

    python scripts/make_xlmr_embedder_models.py --out DIR [--seed N]

    hub-xlmr/tiny-xlmr-embedder/   model_type xlm-roberta (XLMRobertaModel): config.json,
        model.safetensors, sentencepiece.bpe.model, tokenizer.json, tokenizer_config.json,
        special_tokens_map.json (saved by transformers' XLMRobertaTokenizer), modules.json
        (Transformer, Pooling, Normalize), sentence_bert_config.json,
        config_sentence_transformers.json (prompts "query: " / "passage: ", as e5 has them),
        1_Pooling/config.json (mean), README.md (a model card naming its languages)
    hub-xlmr/tiny-bert-spm-embedder/   model_type bert with XLM-R's tokenizer, the layout of
        multilingual-e5-small and paraphrase-multilingual-MiniLM-L12-v2: the same files, CLS
        pooling, no prompts
    hub-xlmr/<repo>.reference.json   beside each repository (not part of it): texts written
        here, the token ids and the embeddings sentence-transformers computes for them with
        the prompt precis picks, the oracle of tests/hub_pull.rs

A new directory beside the factory's own (never touching them); idempotent (a stamp file names
the recipe) and atomic (built in a temporary directory, then renamed into place).
"""

import io
import json
import shutil
import sys
from pathlib import Path

RECIPE_VERSION = 2
TINY_SPM_VOCAB = 600
TINY_DIMS = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=64)
MAX_SEQ_LENGTH = 128

# The oracle's texts: the corpus's languages and others, accents (composed and combining),
# runs of spaces, tabs and newlines, a no-break space, leading and trailing spaces, characters
# the tiny vocabulary lacks, an empty text.
TEXTS = [
    "The council approved the new budget on Tuesday.",
    "El consejo aprobó el nuevo presupuesto el martes.",
    "Le conseil a approuvé le nouveau budget mardi.",
    "Der Rat hat den neuen Haushalt am Dienstag gebilligt.",
    "  Leading spaces, and  a run   of spaces.",
    "A tab\tinside, and é composed and e\u0301 combining.",
    "Совет одобрил новый бюджет во вторник.",
    "議会は火曜日に新しい予算を承認した。",
    "Numbers: 1,250 people, 3.5% and 2026.",
    "Two lines\n\nand\t\ttabs, a no-break\u00a0space, trailing spaces  ",
    "",
]

REPOS = {
    # name: (model_type, pooling, prompts)
    "tiny-xlmr-embedder": ("xlm-roberta", "mean", {"query": "query: ", "passage": "passage: "}),
    "tiny-bert-spm-embedder": ("bert", "cls", {}),
}
CARD = """---
language:
- multilingual
- en
- es
- fr
- de
tags:
- sentence-transformers
license: mit
---
# {name}

RANDOM WEIGHTS, made by scripts/make_xlmr_embedder_models.py for the pull tests of precis.
"""


def train_unigram_spm(lines: list[str], seed: int) -> bytes:
    """A SentencePiece unigram model laid out as XLM-R's sentencepiece.bpe.model: <unk>=0,
    <s>=1, </s>=2, no <pad> piece (transformers' tokenizer puts the fairseq ids on top)."""
    import sentencepiece as spm
    spm.set_random_generator_seed(seed)
    model = io.BytesIO()  # in memory: a file prefix would be recorded inside the model
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=TINY_SPM_VOCAB,
        model_type="unigram", character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2,
        pad_id=-1, num_threads=1, minloglevel=2)
    return model.getvalue()


def build(dest: Path, model_type: str, pooling: str, prompts: dict, lines: list[str],
          seed: int) -> None:
    import torch
    from transformers import (BertConfig, BertModel, XLMRobertaConfig, XLMRobertaModel,
                              XLMRobertaTokenizer)
    work = dest.parent / f".{dest.name}.tokenizer"
    work.mkdir()
    (work / "sentencepiece.bpe.model").write_bytes(train_unigram_spm(lines, seed))
    tokenizer = XLMRobertaTokenizer(str(work / "sentencepiece.bpe.model"),
                                    model_max_length=MAX_SEQ_LENGTH)
    shutil.rmtree(work)
    if model_type == "xlm-roberta":
        # Positions start after the padding id (1), as in every XLM-R checkpoint.
        config = XLMRobertaConfig(vocab_size=len(tokenizer), max_position_embeddings=514,
                                  type_vocab_size=1, pad_token_id=1, bos_token_id=0,
                                  eos_token_id=2, **TINY_DIMS)
        model = XLMRobertaModel(config, add_pooling_layer=True)
    else:
        config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=512,
                            type_vocab_size=2, pad_token_id=1, **TINY_DIMS)
        model = BertModel(config, add_pooling_layer=True)
    model.eval()
    model.save_pretrained(str(dest), safe_serialization=True)
    tokenizer.save_pretrained(str(dest))
    config_data = json.loads((dest / "config.json").read_text())
    config_data.pop("_attn_implementation_autoset", None)
    (dest / "config.json").write_text(json.dumps(config_data, indent=2, sort_keys=True) + "\n")
    # tokenizer_config.json names the class (XLMRobertaTokenizer), as the hub's copies do.
    (dest / "added_tokens.json").unlink(missing_ok=True)

    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ]
    (dest / "modules.json").write_text(json.dumps(modules, indent=2) + "\n")
    (dest / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False}, indent=2) + "\n")
    (dest / "config_sentence_transformers.json").write_text(json.dumps({
        "__version__": {"sentence_transformers": "3.3.1"},
        "prompts": prompts, "default_prompt_name": None, "similarity_fn_name": "cosine",
    }, indent=2) + "\n")
    (dest / "1_Pooling").mkdir()
    (dest / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": TINY_DIMS["hidden_size"],
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }, indent=2) + "\n")
    (dest / "README.md").write_text(CARD.format(name=dest.name))


def reference(dest: Path, prompts: dict) -> dict:
    """What sentence-transformers computes for TEXTS from the repository's own files, with the
    prompt precis picks (the "query" prompt where there is one) and its token ids."""
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(str(dest), device="cpu")
    prompt = prompts.get("query", "")
    embeddings = model.encode(TEXTS, prompt=prompt, batch_size=4, convert_to_numpy=True)
    ids = [model.tokenizer(prompt + text)["input_ids"] for text in TEXTS]
    return {
        "prompt": prompt,
        "tokenizer": type(model.tokenizer).__name__,
        "texts": TEXTS,
        "token_ids": ids,
        "embeddings": [[float(x) for x in row] for row in embeddings],
    }


def build_repo(tmp: Path, repo: str, lines: list[str], seed: int) -> None:
    model_type, pooling, prompts = REPOS[repo]
    build(tmp / repo, model_type, pooling, prompts, lines, seed)
    oracle = reference(tmp / repo, prompts)
    (tmp / f"{repo}.reference.json").write_text(json.dumps(oracle, indent=1) + "\n")


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import stamped_hub
    return stamped_hub.run(__doc__.split("\n\n")[0], "hub-xlmr", "xlmr-embedder", RECIPE_VERSION, REPOS,
                           build_repo)


if __name__ == "__main__":
    sys.exit(main())
