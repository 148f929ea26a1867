//! The `torch-bf16` embedding engine (precis' own BERT encoder on libtorch in bf16) against the
//! fp32 ONNX Runtime engine on the same weights: issue #14's accuracy gate. Every test sentence
//! within cosine 0.99 of fp32, alone and in one padded batch, for all-MiniLM-L6-v2 (English) and
//! multilingual-e5-small (twelve languages), and the same three summary sentences as fp32 on the
//! team's articles.
//!
//! The engine only loads on a CPU with native bf16 (AVX-512 BF16 or AMX). On any other CPU these
//! tests check that it refuses to load with the actionable error instead (and say so): bf16 there
//! is emulated and slower than fp32, which the engine does not offer.
mod common;

use common::embedding_gate::{embed, summary_picks, ENGLISH_SENTENCES, MULTILINGUAL_SENTENCES};
use precis::runtime::embeddings::{native_bf16, EmbeddingEngine, TORCH_BF16_ENGINE};
use precis::runtime::{ModelLocation, ModelRole, ModelSpec};
use precis::summarize::extractive::{ExtractiveWeights, Ranking};

fn minilm_spec() -> ModelSpec {
    ModelSpec {
        id: "all-MiniLM-L6-v2".into(),
        role: ModelRole::SentenceEmbeddings,
        location: ModelLocation::Directory(common::models_dir().join("all-MiniLM-L6-v2")),
    }
}

fn fp32(spec: &ModelSpec) -> EmbeddingEngine {
    common::load_embeddings_on(spec, "onnxruntime").unwrap_or_else(|error| {
        panic!("onnxruntime loads {} (run scripts/setup): {error}", spec.id)
    })
}

/// The bf16 engine on `spec`, or None on a CPU without native bf16, after checking that the
/// engine refused with the error that says why and what to use instead.
fn bf16(spec: &ModelSpec) -> Option<EmbeddingEngine> {
    let loaded = common::load_embeddings_on(spec, TORCH_BF16_ENGINE);
    match native_bf16() {
        Some(_) => Some(loaded.unwrap_or_else(|error| {
            panic!(
                "{TORCH_BF16_ENGINE} loads {} (run scripts/setup): {error}",
                spec.id
            )
        })),
        None => {
            let error = loaded
                .err()
                .expect("torch-bf16 refuses a CPU without native bf16")
                .to_string();
            assert!(
                error.contains("native bf16") && error.contains("onnxruntime"),
                "{error}"
            );
            eprintln!("this CPU has no native bf16: checked that {TORCH_BF16_ENGINE} refuses to load ({error})");
            None
        }
    }
}

/// Issue #14's gate (every sentence alone and all in one padded batch), and what only this
/// engine's own code can get wrong: the vectors are normalised, and the padding mask works (a
/// sentence's vector does not depend on what shares its batch).
fn assert_within_gate(sentences: &[&str], fp32: &mut EmbeddingEngine, bf16: &mut EmbeddingEngine) {
    let (alone, batched) =
        common::embedding_gate::assert_within_gate(TORCH_BF16_ENGINE, sentences, fp32, bf16);
    for vector in alone.iter().chain(&batched) {
        let norm: f32 = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "the modules normalise: {norm}");
    }
    let (worst, text) = common::worst_cosine(sentences, &alone, &batched);
    assert!(
        worst > 0.999,
        "torch-bf16 alone vs batched: {worst} for {text:?}"
    );
}

#[test]
fn minilm_in_bf16_embeds_every_sentence_within_the_gate() {
    let spec = minilm_spec();
    let Some(mut bf16) = bf16(&spec) else { return };
    assert_within_gate(ENGLISH_SENTENCES, &mut fp32(&spec), &mut bf16);
}

#[test]
fn minilm_in_bf16_chooses_the_same_summary_sentences_as_fp32() {
    let spec = minilm_spec();
    let Some(mut bf16) = bf16(&spec) else { return };
    let mut fp32 = fp32(&spec);
    let weights = ExtractiveWeights::for_ranking(Ranking::Embeddings);
    for (name, article) in common::embedding_gate::english_team_articles() {
        let expected = summary_picks(&mut fp32, &article, 0.0, weights);
        assert!(!expected.is_empty(), "{name}");
        assert_eq!(
            summary_picks(&mut bf16, &article, 0.0, weights),
            expected,
            "{name}"
        );
    }
}

#[test]
fn e5_in_bf16_embeds_every_sentence_within_the_gate() {
    // The bf16 engine reads rust_model.ot, fp32 the ONNX export of the same weights beside it.
    let Some(mut bf16) = bf16(&common::e5_spec()) else {
        return;
    };
    assert_within_gate(
        MULTILINGUAL_SENTENCES,
        &mut fp32(&common::e5_onnx_spec()),
        &mut bf16,
    );
}

#[test]
fn e5_in_bf16_chooses_the_same_summary_sentences_as_fp32() {
    let Some(mut bf16) = bf16(&common::e5_spec()) else {
        return;
    };
    let mut fp32 = fp32(&common::e5_onnx_spec());
    let cutoffs = common::embedding_gate::e5_cutoffs();
    let weights = ExtractiveWeights::for_embeddings(&cutoffs);
    for (name, article) in common::embedding_gate::non_english_team_articles() {
        let expected = summary_picks(&mut fp32, &article, cutoffs.floor, weights);
        assert_eq!(expected.len(), 3, "{name}");
        assert_eq!(
            summary_picks(&mut bf16, &article, cutoffs.floor, weights),
            expected,
            "{name}"
        );
    }
}

/// `auto` (the default catalog's engine for both models) runs torch-bf16 on a CPU with native
/// bf16 and ONNX Runtime fp32 on any other: its vectors are exactly those of the engine it chose.
#[test]
fn auto_picks_bf16_exactly_where_the_cpu_runs_it_natively() {
    for (spec, sentences) in [
        (minilm_spec(), &ENGLISH_SENTENCES[..4]),
        (common::e5_onnx_spec(), &MULTILINGUAL_SENTENCES[..4]),
    ] {
        let mut auto = common::load_embeddings_on(&spec, precis::runtime::embeddings::AUTO_ENGINE)
            .unwrap_or_else(|error| panic!("auto loads {} (run scripts/setup): {error}", spec.id));
        let chosen = match bf16(&spec) {
            Some(mut bf16) => embed(&mut bf16, sentences),
            None => embed(&mut fp32(&spec), sentences),
        };
        let other = match native_bf16() {
            Some(_) => embed(&mut fp32(&spec), sentences),
            None => Vec::new(),
        };
        let vectors = embed(&mut auto, sentences);
        assert_eq!(vectors, chosen, "{}", spec.id);
        assert_ne!(vectors, other, "{}", spec.id);
    }
}
