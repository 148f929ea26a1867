//! multilingual-e5-small's selective int8 export (`engine = "onnxruntime-int8-mixed"`,
//! `scripts/quantize_e5_int8.py` via `scripts/setup-e5-int8`) against its fp32 export on ONNX
//! Runtime: issue #14's accuracy gate. Every test sentence (twelve languages, one word to a long
//! sentence, each alone and all in one batch) within cosine 0.99 of fp32, and the same three
//! summary sentences as fp32, with e5's catalog ranking, on the team's non-English articles.
//! None of these sentences is one the script chose its MatMuls on.
mod common;

use precis::runtime::embeddings::EmbeddingEngine;
use precis::summarize::extractive::ExtractiveWeights;

use common::embedding_gate::MULTILINGUAL_SENTENCES as SENTENCES;

fn engine(name: &str) -> EmbeddingEngine {
    common::load_embeddings_on(&common::e5_onnx_spec(), name).unwrap_or_else(|error| {
        panic!("{name} loads the e5 export (run scripts/setup: scripts/setup-e5-int8): {error}")
    })
}

#[test]
fn int8_mixed_embeds_every_sentence_within_the_gate() {
    let mut fp32 = engine("onnxruntime");
    let mut mixed = engine("onnxruntime-int8-mixed");
    common::embedding_gate::assert_within_gate("int8-mixed", SENTENCES, &mut fp32, &mut mixed);
}

/// The three sentences e5's catalog ranking picks with `engine`'s vectors.
fn chosen(engine: &mut EmbeddingEngine, article: &str) -> Vec<usize> {
    let cutoffs = common::embedding_gate::e5_cutoffs();
    common::embedding_gate::summary_picks(
        engine,
        article,
        cutoffs.floor,
        ExtractiveWeights::for_embeddings(&cutoffs),
    )
}

#[test]
fn int8_mixed_chooses_the_same_summary_sentences_as_fp32() {
    let mut fp32 = engine("onnxruntime");
    let mut mixed = engine("onnxruntime-int8-mixed");
    for (name, article) in common::embedding_gate::non_english_team_articles() {
        let expected = chosen(&mut fp32, &article);
        assert_eq!(expected.len(), 3, "{name}");
        assert_eq!(chosen(&mut mixed, &article), expected, "{name}");
    }
}
