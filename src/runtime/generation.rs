//! Seq2seq models (summarization, translation) as batched worker engines.
use std::path::Path;

use rust_bert::pipelines::common::{ModelResource, ModelType, TokenizerOption};
use rust_bert::pipelines::summarization::{SummarizationConfig, SummarizationModel};
use rust_bert::pipelines::translation::{Language, TranslationConfig, TranslationModel};
use rust_bert::resources::LocalResource;
use tch::Device;

use crate::error::PrecisError;
use crate::runtime::registry::{
    inspect_directory, load_with, Architecture, ModelDirectory, ModelError, ModelLocation,
    ModelRole, ModelSpec, CONFIG_FILE, WEIGHTS_FILE,
};
use crate::runtime::torch_bart::{GenerationTimings, SearchSettings, TorchBart};
use crate::runtime::worker::ModelEngine;

/// Which implementation runs a summarizer's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GenerationPath {
    /// rust-bert's pipeline (every architecture).
    #[default]
    RustBert,
    /// The project-owned BART forward and search on libtorch (`torch_bart`): same tokens as
    /// rust-bert's, encoder keys/values shared by the beams, a preallocated cache. BART only.
    TorchBart,
    /// A summarizer whose catalog entry names no engine: torch-bart for the BART models it
    /// implements (equivalent and faster: tests/torch_bart.rs, `bench_models --only
    /// generation`), rust-bert's pipeline for everything else.
    Preferred,
}

/// Decoding settings shared by summarization and translation.
#[derive(Debug, Clone, Copy)]
pub struct GenerationSettings {
    pub num_beams: i64,
    pub min_length: i64,
    pub max_length: i64,
}

impl Default for GenerationSettings {
    fn default() -> Self {
        Self {
            num_beams: 4,
            min_length: 10,
            max_length: 142,
        }
    }
}

fn local(dir: &Path, file: &str) -> LocalResource {
    LocalResource::from(dir.join(file))
}

fn directory_of(spec: &ModelSpec) -> Result<&Path, ModelError> {
    match &spec.location {
        ModelLocation::Directory(path) => Ok(path),
        ModelLocation::Remote(name) => Err(ModelError::Unsupported {
            model: spec.id.clone(),
            reason: format!(
                "remote:{name}: fetch it first with `precis models pull`, then point the catalog at its directory"
            ),
        }),
    }
}

/// The (vocabulary, merges) resources rust-bert's tokenizer of this architecture reads.
fn tokenizer_files(directory: &ModelDirectory) -> (LocalResource, Option<LocalResource>) {
    let dir = &directory.path;
    match directory.architecture {
        Architecture::Bart => (local(dir, "vocab.json"), Some(local(dir, "merges.txt"))),
        Architecture::Marian => (local(dir, "vocab.json"), Some(local(dir, "source.spm"))),
        Architecture::M2M100 => (
            local(dir, "vocab.json"),
            Some(local(dir, "sentencepiece.bpe.model")),
        ),
        Architecture::T5 | Architecture::LongT5 | Architecture::Pegasus | Architecture::Bert => {
            (local(dir, "spiece.model"), None)
        }
    }
}

pub struct SummarizationEngine {
    model: Summarizer,
}

enum Summarizer {
    RustBert(Box<SummarizationModel>),
    TorchBart {
        model: Box<TorchBart>,
        tokenizer: Box<TokenizerOption>,
        settings: SearchSettings,
        /// Longest input (tokens with BOS/EOS): the position limit, as rust-bert truncates.
        max_input: usize,
    },
}

/// Tokens reserved in every model input for what the pipeline adds around the text: BOS/EOS
/// and T5's "summarize: " prefix.
pub const RESERVED_INPUT_TOKENS: usize = 8;

/// What the request path needs to know about a summarization model before running it: how many
/// tokens one input may hold, and how many tokens a text makes.
pub struct SummarizerInput {
    tokenizer: TokenizerOption,
    /// The model's position limit (config.json), the longest input it reads without truncating.
    pub position_limit: usize,
}

impl SummarizerInput {
    /// Loads the model's tokenizer only (no weights), as rust-bert's generators load it, so
    /// that counts match what the model will see.
    pub fn load(spec: &ModelSpec) -> Result<Self, ModelError> {
        let dir = directory_of(spec)?;
        let directory = inspect_directory(&spec.id, &ModelRole::Summarization, dir)?;
        let (vocab, merges) = tokenizer_files(&directory);
        let path_text =
            |resource: &LocalResource| resource.local_path.to_string_lossy().into_owned();
        let vocab_path = path_text(&vocab);
        let merges_path = merges.as_ref().map(path_text);
        let tokenizer = load_with(spec, || {
            TokenizerOption::from_file(
                directory.architecture.rust_bert_type(),
                &vocab_path,
                merges_path.as_deref(),
                false,
                None,
                // BART's generator reads its byte-level BPE without a prefix space.
                matches!(directory.architecture, Architecture::Bart).then_some(false),
            )
        })?;
        Ok(Self {
            tokenizer,
            position_limit: position_limit(&directory.path.join(CONFIG_FILE)),
        })
    }

    /// Tokens `text` makes for this model, without special tokens.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.tokenizer.tokenize(text).len()
    }
}

/// `max_position_embeddings` (BART, Pegasus, LongT5) or `n_positions` (T5) from config.json;
/// 512 when neither is there, the shortest limit of the summarizers rust-bert runs.
fn position_limit(config: &Path) -> usize {
    const FALLBACK: usize = 512;
    let Ok(text) = std::fs::read_to_string(config) else {
        return FALLBACK;
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return FALLBACK;
    };
    ["max_position_embeddings", "n_positions"]
        .iter()
        .find_map(|key| value.get(*key).and_then(serde_json::Value::as_u64))
        .map_or(FALLBACK, |limit| limit as usize)
}

impl SummarizationEngine {
    /// rust-bert's pipeline.
    pub fn load(spec: &ModelSpec, settings: GenerationSettings) -> Result<Self, ModelError> {
        Self::load_on(spec, settings, GenerationPath::RustBert)
    }

    /// The one place that chooses the implementation a summarizer runs on.
    pub fn load_on(
        spec: &ModelSpec,
        settings: GenerationSettings,
        path: GenerationPath,
    ) -> Result<Self, ModelError> {
        let dir = directory_of(spec)?;
        let directory = inspect_directory(&spec.id, &ModelRole::Summarization, dir)?;
        match path {
            GenerationPath::TorchBart => return Self::load_torch_bart(spec, &directory, settings),
            GenerationPath::Preferred if directory.architecture == Architecture::Bart => {
                match Self::load_torch_bart(spec, &directory, settings) {
                    Ok(engine) => {
                        tracing::info!(model = %spec.id, "summarizer runs on torch-bart");
                        return Ok(engine);
                    }
                    // A BART variant torch-bart does not implement runs on rust-bert's pipeline.
                    Err(ModelError::Unsupported { reason, .. }) => tracing::info!(
                        model = %spec.id,
                        %reason,
                        "summarizer runs on rust-bert's pipeline"
                    ),
                    Err(other) => return Err(other),
                }
            }
            _ => {}
        }
        let (vocab, merges) = tokenizer_files(&directory);
        let mut config = SummarizationConfig::new(
            directory.architecture.rust_bert_type(),
            ModelResource::Torch(Box::new(local(dir, WEIGHTS_FILE))),
            local(dir, CONFIG_FILE),
            vocab,
            merges,
        );
        config.device = Device::Cpu;
        config.num_beams = settings.num_beams;
        config.min_length = settings.min_length;
        config.max_length = Some(settings.max_length);
        let model = load_with(spec, || SummarizationModel::new(config))?;
        Ok(Self {
            model: Summarizer::RustBert(Box::new(model)),
        })
    }

    fn load_torch_bart(
        spec: &ModelSpec,
        directory: &ModelDirectory,
        settings: GenerationSettings,
    ) -> Result<Self, ModelError> {
        if directory.architecture != Architecture::Bart {
            return Err(ModelError::Unsupported {
                model: spec.id.clone(),
                reason: format!(
                    "the torch-bart engine runs BART models only, not {:?}; use engine \"{}\"",
                    directory.architecture,
                    crate::runtime::RUST_BERT_ENGINE
                ),
            });
        }
        let dir = &directory.path;
        let path_text = |file: &str| dir.join(file).to_string_lossy().into_owned();
        // As rust-bert's BART generator reads it: byte-level BPE without a prefix space.
        let tokenizer = load_with(spec, || {
            TokenizerOption::from_file(
                ModelType::Bart,
                &path_text("vocab.json"),
                Some(&path_text("merges.txt")),
                false,
                None,
                false,
            )
        })?;
        let model =
            TorchBart::load(dir, WEIGHTS_FILE).map_err(|error| ModelError::Unsupported {
                model: spec.id.clone(),
                reason: format!("torch-bart engine: {error}"),
            })?;
        Ok(Self {
            model: Summarizer::TorchBart {
                model: Box::new(model),
                tokenizer: Box::new(tokenizer),
                settings: SearchSettings {
                    num_beams: settings.num_beams.max(1),
                    min_length: settings.min_length,
                    max_length: settings.max_length,
                },
                max_input: position_limit(&dir.join(CONFIG_FILE)),
            },
        })
    }

    /// Summaries of `inputs`, one per input.
    fn summarize(&self, inputs: &[String]) -> Result<Vec<String>, String> {
        match &self.model {
            Summarizer::RustBert(model) => {
                tch::no_grad(|| model.summarize(inputs)).map_err(|error| error.to_string())
            }
            Summarizer::TorchBart {
                model,
                tokenizer,
                settings,
                max_input,
            } => {
                let ids = encode_inputs(tokenizer, inputs, *max_input);
                let generated = model.generate(&ids, *settings);
                Ok(generated
                    .iter()
                    .map(|tokens| tokenizer.decode(tokens, true, true))
                    .collect())
            }
        }
    }

    /// Token ids of each output, as rust-bert's `generate_indices` returns them (decoder start
    /// token first); the equivalence test and the benchmark read them. `None` on rust-bert's
    /// path, which does not expose them through its summarization pipeline.
    pub fn generate_ids(&self, inputs: &[String]) -> Option<Vec<Vec<i64>>> {
        self.generate_ids_timed(inputs).map(|(ids, _)| ids)
    }

    /// [`Self::generate_ids`] with where the time went (the benchmark's profile).
    pub fn generate_ids_timed(
        &self,
        inputs: &[String],
    ) -> Option<(Vec<Vec<i64>>, GenerationTimings)> {
        match &self.model {
            Summarizer::RustBert(_) => None,
            Summarizer::TorchBart {
                model,
                tokenizer,
                settings,
                max_input,
            } => {
                Some(model.generate_timed(&encode_inputs(tokenizer, inputs, *max_input), *settings))
            }
        }
    }
}

/// Input ids with BOS/EOS, truncated to `max_len` tokens as rust-bert's generator encodes them.
fn encode_inputs(tokenizer: &TokenizerOption, inputs: &[String], max_len: usize) -> Vec<Vec<i64>> {
    tokenizer
        .encode_list(
            inputs,
            max_len,
            &rust_tokenizers::tokenizer::TruncationStrategy::LongestFirst,
            0,
        )
        .into_iter()
        .map(|tokenized| tokenized.token_ids)
        .collect()
}

impl ModelEngine for SummarizationEngine {
    /// One chunk of article text.
    type Input = String;
    /// Its summary.
    type Output = String;

    fn run_batch(&mut self, inputs: Vec<Self::Input>) -> Vec<Result<Self::Output, PrecisError>> {
        let count = inputs.len();
        match self.summarize(&inputs) {
            Ok(outputs) if outputs.len() == count => outputs.into_iter().map(Ok).collect(),
            Ok(outputs) => failed(
                count,
                format!(
                    "summarizer returned {} outputs for {count} inputs",
                    outputs.len()
                ),
            ),
            Err(error) => failed(count, format!("summarization failed: {error}")),
        }
    }
}

pub struct TranslationEngine {
    model: TranslationModel,
    source: Language,
    target: Language,
}

impl TranslationEngine {
    pub fn load(spec: &ModelSpec, settings: GenerationSettings) -> Result<Self, ModelError> {
        let ModelRole::Translation { source, target } = &spec.role else {
            return Err(ModelError::Unsupported {
                model: spec.id.clone(),
                reason: "not configured as a translation model".into(),
            });
        };
        let language = |code: &str| {
            language_from_code(code).ok_or_else(|| ModelError::Unsupported {
                model: spec.id.clone(),
                reason: format!(
                    "language code '{code}' is not one rust-bert's translation pipeline knows"
                ),
            })
        };
        let (source_language, target_language) = (language(source)?, language(target)?);
        let dir = directory_of(spec)?;
        let directory = inspect_directory(&spec.id, &spec.role, dir)?;
        let (vocab, merges) = tokenizer_files(&directory);
        let mut config = TranslationConfig::new(
            directory.architecture.rust_bert_type(),
            ModelResource::Torch(Box::new(local(dir, WEIGHTS_FILE))),
            local(dir, CONFIG_FILE),
            vocab,
            merges,
            [source_language],
            [target_language],
            Device::Cpu,
        );
        config.num_beams = settings.num_beams;
        config.min_length = settings.min_length;
        config.max_length = Some(settings.max_length);
        let model = load_with(spec, || TranslationModel::new(config))?;
        Ok(Self {
            model,
            source: source_language,
            target: target_language,
        })
    }
}

impl ModelEngine for TranslationEngine {
    /// The texts of one request (e.g. all quotes of an article and its summary).
    type Input = Vec<String>;
    type Output = Vec<String>;

    fn run_batch(&mut self, inputs: Vec<Self::Input>) -> Vec<Result<Self::Output, PrecisError>> {
        let lengths: Vec<usize> = inputs.iter().map(Vec::len).collect();
        let texts: Vec<String> = inputs.into_iter().flatten().collect();
        let translated =
            match tch::no_grad(|| self.model.translate(&texts, self.source, self.target)) {
                Ok(translated) if translated.len() == texts.len() => translated,
                Ok(translated) => {
                    return failed(
                        lengths.len(),
                        format!(
                            "translator returned {} outputs for {} inputs",
                            translated.len(),
                            texts.len()
                        ),
                    )
                }
                Err(error) => return failed(lengths.len(), format!("translation failed: {error}")),
            };
        let mut translated = translated.into_iter();
        lengths
            .into_iter()
            .map(|count| Ok(translated.by_ref().take(count).collect()))
            .collect()
    }

    fn cost(input: &Self::Input) -> usize {
        input.len()
    }
}

fn failed<T>(count: usize, message: String) -> Vec<Result<T, PrecisError>> {
    (0..count)
        .map(|_| Err(PrecisError::EngineFailure(message.clone())))
        .collect()
}

/// rust-bert names languages by enum; precis by ISO 639-1 code.
pub fn language_from_code(code: &str) -> Option<Language> {
    Some(match code {
        "en" => Language::English,
        "es" => Language::Spanish,
        "fr" => Language::French,
        "de" => Language::German,
        "it" => Language::Italian,
        "pt" => Language::Portuguese,
        "ca" => Language::Catalan,
        "gl" => Language::Galician,
        "nl" => Language::Dutch,
        "ro" => Language::Romanian,
        "ru" => Language::Russian,
        "uk" => Language::Ukrainian,
        "pl" => Language::Polish,
        "cs" => Language::Czech,
        "sv" => Language::Swedish,
        "da" => Language::Danish,
        "fi" => Language::Finnish,
        "el" => Language::Greek,
        "tr" => Language::Turkish,
        "ar" => Language::Arabic,
        "he" => Language::Hebrew,
        "hi" => Language::Hindi,
        "zh" => Language::ChineseMandarin,
        "ja" => Language::Japanese,
        "ko" => Language::Korean,
        _ => return None,
    })
}
