//! The ONNX Runtime embedding engines against rust-bert's on the same all-MiniLM-L6-v2 weights,
//! on sentences and articles the team wrote: the accuracy gate of issue #14 (every embedding
//! within cosine 0.99 of fp32, and the same summary sentences chosen), which the default engine
//! (onnxruntime, fp32) passes and the opt-in int8 one does not.
mod common;

use precis::runtime::embeddings::{cosine, Embedding, EmbeddingEngine, EmbeddingOptions};
use precis::runtime::{ModelLocation, ModelRole, ModelSpec};
use precis::summarize::extractive::{ExtractiveWeights, Ranking};

use common::embedding_gate::{embed, ENGLISH_SENTENCES as SENTENCES};

fn engine(name: &str) -> EmbeddingEngine {
    let spec = ModelSpec {
        id: "all-MiniLM-L6-v2".into(),
        role: ModelRole::SentenceEmbeddings,
        location: ModelLocation::Directory(common::models_dir().join("all-MiniLM-L6-v2")),
    };
    let options = EmbeddingOptions {
        forward_batch: 32,
        threads: 1,
        onnxruntime_lib: None,
        ..Default::default()
    };
    EmbeddingEngine::load(&spec, name, &options)
        .unwrap_or_else(|error| panic!("engine {name} loads (run scripts/setup): {error}"))
}

/// The worst cosine between two engines' embeddings of the same sentences.
fn worst_cosine(a: &[Embedding], b: &[Embedding]) -> (f32, usize) {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| cosine(x, y))
        .enumerate()
        .map(|(index, value)| (value, index))
        .fold(
            (f32::MAX, 0),
            |worst, next| if next.0 < worst.0 { next } else { worst },
        )
}

#[test]
fn onnxruntime_fp32_embeds_like_rust_bert_on_the_same_weights() {
    let reference = embed(&mut engine("rust-bert"), SENTENCES);
    let onnx = embed(&mut engine("onnxruntime"), SENTENCES);
    assert_eq!(onnx[0].len(), 384);
    for vector in &onnx {
        let norm: f32 = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!(
            (norm - 1.0).abs() < 1e-4,
            "MiniLM's modules normalise: {norm}"
        );
    }
    let (worst, index) = worst_cosine(&reference, &onnx);
    assert!(
        worst >= 0.999,
        "onnxruntime fp32 vs rust-bert: cosine {worst} on {:?}",
        SENTENCES[index]
    );
}

#[test]
fn onnxruntime_embeddings_do_not_depend_on_what_shares_the_batch() {
    let mut onnx = engine("onnxruntime");
    let alone = embed(&mut onnx, &[SENTENCES[2]]);
    let together = embed(&mut onnx, SENTENCES);
    assert!(cosine(&alone[0], &together[2]) > 0.9999);
}

/// Every test sentence embedded alone (int8 activation scales are per forward pass) and all in
/// one batch, by the fp32 engine and by `other`: (sentences per pass, fp32's vectors, other's).
fn beside_fp32(other: &str) -> Vec<(usize, Vec<Embedding>, Vec<Embedding>)> {
    let mut fp32_engine = engine("onnxruntime");
    let mut other_engine = engine(other);
    let alone: Vec<Vec<&str>> = SENTENCES.iter().map(|s| vec![*s]).collect();
    [alone, vec![SENTENCES.to_vec()]]
        .into_iter()
        .map(|batch| {
            let fp32 = batch
                .iter()
                .flat_map(|b| embed(&mut fp32_engine, b))
                .collect();
            let other = batch
                .iter()
                .flat_map(|b| embed(&mut other_engine, b))
                .collect();
            (batch[0].len(), fp32, other)
        })
        .collect()
}

/// The int8 export is opt-in: on very short sentences it falls below the 0.99 gate of issue
/// #14 (with 7-bit weights, session 16: 0.965 for "No." alone, mean 0.990), so the default
/// catalog runs fp32. This prints how far it is and checks that it is still the same model (a
/// broken export lands far below: per-tensor weights gave 0.93).
#[test]
fn onnxruntime_int8_embeddings_stay_near_fp32() {
    for (per_pass, fp32, int8) in beside_fp32("onnxruntime-int8") {
        let (worst, index) = worst_cosine(&fp32, &int8);
        let mean = fp32
            .iter()
            .zip(&int8)
            .map(|(a, b)| cosine(a, b))
            .sum::<f32>()
            / fp32.len() as f32;
        eprintln!(
            "int8 vs fp32 ({per_pass} per pass): worst cosine {worst:.4} ({:?}), mean {mean:.4}",
            SENTENCES[index]
        );
        assert!(
            worst > 0.95 && mean > 0.985,
            "int8 export broken? worst {worst}, mean {mean}"
        );
    }
}

/// The selective int8 export (`scripts/quantize_mixed_onnx.py`: int8 only where it costs
/// little) passes issue #14's gate: cosine 0.99 to fp32 on every test sentence, alone and in
/// one batch. These sentences are not the ones the script chose its MatMuls on.
#[test]
fn onnxruntime_int8_mixed_embeddings_pass_the_gate() {
    for (per_pass, fp32, mixed) in beside_fp32("onnxruntime-int8-mixed") {
        let (worst, index) = worst_cosine(&fp32, &mixed);
        eprintln!(
            "int8-mixed vs fp32 ({per_pass} per pass): worst cosine {worst:.4} ({:?})",
            SENTENCES[index]
        );
        assert!(
            worst >= 0.99,
            "int8-mixed vs fp32: cosine {worst} on {:?}",
            SENTENCES[index]
        );
    }
}

#[test]
fn onnxruntime_int8_mixed_chooses_the_same_summary_sentences_as_fp32() {
    let mut fp32 = engine("onnxruntime");
    let mut mixed = engine("onnxruntime-int8-mixed");
    for (name, article) in common::embedding_gate::english_team_articles() {
        let expected = chosen_sentences(&mut fp32, &article);
        assert!(!expected.is_empty(), "{name}");
        assert_eq!(chosen_sentences(&mut mixed, &article), expected, "{name}");
    }
}

fn chosen_sentences(engine: &mut EmbeddingEngine, article: &str) -> Vec<usize> {
    common::embedding_gate::summary_picks(
        engine,
        article,
        0.0,
        ExtractiveWeights::for_ranking(Ranking::Embeddings),
    )
}

#[test]
fn onnxruntime_chooses_the_same_summary_sentences_as_rust_bert() {
    let mut reference = engine("rust-bert");
    let mut fp32 = engine("onnxruntime");
    for (name, article) in common::embedding_gate::english_team_articles() {
        let expected = chosen_sentences(&mut reference, &article);
        assert!(!expected.is_empty(), "{name}");
        assert_eq!(chosen_sentences(&mut fp32, &article), expected, "{name}");
    }
}
