//! rust-bert's own generators as the reference the project-owned generation (`torch-bart`) is
//! compared with, on the factory's tiny models.
use std::path::Path;

use rust_bert::pipelines::common::{ModelResource, ModelType};
use rust_bert::pipelines::generation_utils::{GenerateConfig, LanguageGenerator};
use rust_bert::resources::LocalResource;

/// The decoding settings a pipeline of precis uses, for rust-bert's side of a comparison.
pub struct Decoding {
    pub min_length: i64,
    pub max_length: i64,
    pub beams: i64,
    pub no_repeat_ngram: i64,
}

/// rust-bert's deterministic search (no sampling, length penalty 1, early stopping) over the
/// tiny model in `dir`, whose tokenizer's second file is `merges_file`.
pub fn generate_config(
    model_type: ModelType,
    dir: &Path,
    merges_file: &str,
    decoding: &Decoding,
) -> GenerateConfig {
    let local = |file: &str| Box::new(LocalResource::from(dir.join(file)));
    GenerateConfig {
        model_type,
        model_resource: ModelResource::Torch(local("rust_model.ot")),
        config_resource: local("config.json"),
        vocab_resource: local("vocab.json"),
        merges_resource: Some(local(merges_file)),
        min_length: decoding.min_length,
        max_length: Some(decoding.max_length),
        do_sample: false,
        early_stopping: true,
        num_beams: decoding.beams,
        temperature: 1.0,
        top_k: 50,
        top_p: 1.0,
        repetition_penalty: 1.0,
        length_penalty: 1.0,
        no_repeat_ngram_size: decoding.no_repeat_ngram,
        num_return_sequences: 1,
        device: tch::Device::Cpu,
        ..GenerateConfig::default()
    }
}

/// The token ids `generator` gives for each text.
pub fn token_ids(generator: &impl LanguageGenerator, texts: &[String]) -> Vec<Vec<i64>> {
    tch::no_grad(|| generator.generate_indices(Some(texts), None))
        .unwrap()
        .into_iter()
        .map(|output| output.indices)
        .collect()
}

/// Quotes of different lengths, so a batch of them is padded (the translation comparisons).
pub fn quotes_of_different_lengths() -> Vec<String> {
    [
        "We will not close the harbour this winter.",
        "The bridge has been unsafe for years, and nobody in the council wanted to pay for it \
         until a lorry fell through the deck last spring.",
        "It is a good day for the town.",
    ]
    .iter()
    .map(|text| text.to_string())
    .collect()
}

/// Greedy steps of the project-owned path go through the vocabulary screen where libtorch
/// multiplies int8 (or, without that, where the CPU has native bf16 and the output projection
/// could not be packed for oneDNN), so the equivalence tests check the screen's tokens against
/// rust-bert's there; beam steps never do.
pub fn assert_screened_as_expected(
    timings: &precis::runtime::torch_bart::GenerationTimings,
    beams: i64,
) {
    let expected = if screened_by_default(beams) {
        timings.steps
    } else {
        0
    };
    assert_eq!(
        timings.screened_steps, expected,
        "greedy steps through the vocabulary screen ({} steps, {beams} beam(s))",
        timings.steps
    );
}

/// Whether loading gives an engine that decodes with `beams` a vocabulary screen (see
/// [`assert_screened_as_expected`]), to restore it after a forced run.
pub fn screened_by_default(beams: i64) -> bool {
    beams == 1
        && (precis::runtime::int8_linear::available()
            || (precis::runtime::native_bf16().is_some()
                && !precis::runtime::packed_linear::available(tch::Kind::Float)))
}

/// Greedy ids through the vocabulary screen (forced on by `screened_run`, whatever loading
/// chose) equal `expected`, every step screened; beam search never screens.
pub fn assert_screened_greedy_ids_equal(
    beams: i64,
    expected: &[Vec<i64>],
    screened_run: impl FnOnce() -> (
        Vec<Vec<i64>>,
        precis::runtime::torch_bart::GenerationTimings,
    ),
) {
    if beams != 1 {
        return;
    }
    let (ids, timings) = screened_run();
    assert_eq!(ids, expected, "greedy ids through the vocabulary screen");
    assert_eq!(
        timings.screened_steps, timings.steps,
        "every greedy step through the screen"
    );
}
