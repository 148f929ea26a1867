//! The libtorch summarizer backends on worker pools: rust-bert's pipeline (BART, T5, Pegasus,
//! LongT5) and `torch-bart`, the project-owned BART generation (same tokens, faster beams).
use std::sync::Arc;

use super::service::{chunk_tokens, SummarizerService};
use super::{StartedSummarizer, SummarizerBackend, SummarizerEntry};
use crate::runtime::generation::{
    GenerationPath, GenerationSettings, SummarizationEngine, SummarizerInput,
};
use crate::runtime::{start_model_pool, ModelRole};

pub struct RustBertSummarizer;

impl SummarizerBackend for RustBertSummarizer {
    fn name(&self) -> &'static str {
        crate::config::DEFAULT_ENGINE
    }

    /// An entry naming no engine gets the preferred path (torch-bart for BART); one naming
    /// `rust-bert` gets rust-bert's pipeline.
    fn start(&self, entry: &SummarizerEntry<'_>) -> anyhow::Result<StartedSummarizer> {
        let path = if entry.model.engine.is_some() {
            GenerationPath::RustBert
        } else {
            GenerationPath::Preferred
        };
        start_on(entry, path)
    }
}

/// The catalog's `engine = "torch-bart"`: BART summarizers on the project-owned generation.
pub struct TorchBartSummarizer;

impl SummarizerBackend for TorchBartSummarizer {
    fn name(&self) -> &'static str {
        "torch-bart"
    }

    fn start(&self, entry: &SummarizerEntry<'_>) -> anyhow::Result<StartedSummarizer> {
        start_on(entry, GenerationPath::TorchBart)
    }
}

fn start_on(
    entry: &SummarizerEntry<'_>,
    path: GenerationPath,
) -> anyhow::Result<StartedSummarizer> {
    let SummarizerEntry {
        language,
        model,
        section,
        settings,
    } = *entry;
    let defaults = GenerationSettings::default();
    let generation = GenerationSettings {
        num_beams: section.num_beams.unwrap_or(defaults.num_beams).max(1),
        min_length: section.min_length.unwrap_or(defaults.min_length).max(0),
        max_length: section.max_length.unwrap_or(defaults.max_length).max(1),
    };
    let max_batch_chunks = section.max_batch_chunks.unwrap_or(8).max(1);
    let spec = model.spec(ModelRole::Summarization, &settings.models_dir())?;
    let (pool, mut status) = start_model_pool(
        &spec,
        settings.pool_config(&format!("summarization-{language}"), max_batch_chunks),
        move |spec| SummarizationEngine::load_on(spec, generation, path),
    );
    let Some(pool) = pool else {
        return Ok((None, status));
    };
    match SummarizerInput::load(&spec) {
        Ok(input) => {
            let service = SummarizerService {
                model_id: spec.id.clone(),
                pool: Arc::new(pool),
                chunk_tokens: chunk_tokens(input.position_limit, section.max_input_tokens),
                tokens: Arc::new(input),
                test_model: status.test_model,
            };
            Ok((Some(service), status))
        }
        Err(error) => {
            status.ready = false;
            status.error = Some(error.to_string());
            Ok((None, status))
        }
    }
}
