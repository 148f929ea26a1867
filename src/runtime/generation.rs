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
pub use crate::runtime::torch_bart::Precision;
use crate::runtime::torch_bart::{GenerationTimings, SearchSettings, TorchBart};

/// The n-gram size rust-bert's summarization pipeline never repeats (its translation pipeline
/// bans none).
const SUMMARY_NO_REPEAT_NGRAM: usize = 3;
use crate::runtime::worker::ModelEngine;

/// The engine name of the project-owned generation, as engine ids and the catalog spell it.
pub const TORCH_BART_ENGINE: &str = "torch-bart";

/// Which implementation runs a summarizer's or a translation pair's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GenerationPath {
    /// rust-bert's pipeline (every architecture).
    #[default]
    RustBert,
    /// The project-owned BART-family forward and search on libtorch (`torch_bart`): same
    /// tokens as rust-bert's, encoder keys/values shared by the beams, a preallocated cache.
    /// BART summarizers, Marian translation pairs, M2M100 / NLLB / mBART-50 many-to-many models.
    TorchBart,
    /// A model whose catalog entry names no engine: torch-bart for the BART summarizers,
    /// Marian pairs and M2M100 / NLLB / mBART-50 many-to-many models it implements
    /// (equivalent and faster: tests/torch_bart.rs, tests/torch_marian.rs,
    /// tests/torch_many_to_many.rs, `bench_models --only generation,translation`), rust-bert's
    /// pipeline for everything else.
    Preferred,
}

/// Generated token ids per input, with where the generation's time went.
pub type TimedIds = (Vec<Vec<i64>>, GenerationTimings);

/// A model on the project-owned path with the tokenizer rust-bert's pipeline would use and the
/// pipeline's search settings.
struct OwnSeq2Seq {
    model: Box<TorchBart>,
    tokenizer: Box<TokenizerOption>,
    settings: SearchSettings,
    /// Longest input (tokens with special tokens): the position limit, as rust-bert truncates.
    max_input: usize,
}

impl OwnSeq2Seq {
    /// Loads `directory` on the project-owned path if it is one of the `wanted` architectures
    /// (those the role runs there).
    fn load(
        spec: &ModelSpec,
        directory: &ModelDirectory,
        wanted: &[Architecture],
        settings: SearchSettings,
        precision: Precision,
    ) -> Result<Self, ModelError> {
        if !wanted.contains(&directory.architecture) {
            return Err(ModelError::Unsupported {
                model: spec.id.clone(),
                reason: format!(
                    "the torch-bart engine runs {wanted:?} models in this role, not {:?}; use engine \"{}\"",
                    directory.architecture,
                    crate::runtime::RUST_BERT_ENGINE
                ),
            });
        }
        let dir = &directory.path;
        let path_text = |file: &str| dir.join(file).to_string_lossy().into_owned();
        // As rust-bert's generators read them: BART's byte-level BPE without a prefix space;
        // Marian's vocabulary with its source SentencePiece model; the many-to-many models'
        // files as their translation pipeline reads them.
        let tokenizer = load_with(spec, || match directory.architecture {
            Architecture::M2M100 | Architecture::Nllb | Architecture::MBart => {
                let (vocab, merges) = tokenizer_files(directory);
                let text =
                    |resource: &LocalResource| resource.local_path.to_string_lossy().into_owned();
                TokenizerOption::from_file(
                    directory.architecture.rust_bert_type(),
                    &text(&vocab),
                    merges.as_ref().map(text).as_deref(),
                    false,
                    None,
                    None,
                )
            }
            Architecture::Marian => TokenizerOption::from_file(
                ModelType::Marian,
                &path_text("vocab.json"),
                Some(&path_text("source.spm")),
                false,
                None,
                None,
            ),
            _ => TokenizerOption::from_file(
                ModelType::Bart,
                &path_text("vocab.json"),
                Some(&path_text("merges.txt")),
                false,
                None,
                false,
            ),
        })?;
        let mut model = TorchBart::load_with(dir, WEIGHTS_FILE, precision).map_err(|error| {
            ModelError::Unsupported {
                model: spec.id.clone(),
                reason: format!("torch-bart engine: {error}"),
            }
        })?;
        model.set_vocabulary_screen(model.screen_pays_off(settings.num_beams));
        if model.vocabulary_screen_bytes() > 0 {
            tracing::info!(
                model = %spec.id,
                screen_mb = model.vocabulary_screen_bytes() >> 20,
                "greedy decoding picks tokens through a smaller copy of the output projection (same tokens as fp32)"
            );
        }
        Ok(Self {
            model: Box::new(model),
            tokenizer: Box::new(tokenizer),
            settings,
            max_input: position_limit(&dir.join(CONFIG_FILE)),
        })
    }

    fn set_vocabulary_screen(&mut self, on: bool) {
        self.model.set_vocabulary_screen(on);
    }

    fn generate_ids_timed(&self, inputs: &[String]) -> (Vec<Vec<i64>>, GenerationTimings) {
        self.generate_ids_timed_with(inputs, self.settings)
    }

    fn generate_ids_timed_with(
        &self,
        inputs: &[String],
        settings: SearchSettings,
    ) -> (Vec<Vec<i64>>, GenerationTimings) {
        self.model.generate_timed(
            &encode_inputs(&self.tokenizer, inputs, self.max_input),
            settings,
        )
    }

    /// Generated texts, decoded as rust-bert's pipelines decode them.
    fn texts(&self, inputs: &[String]) -> Vec<String> {
        self.texts_with(inputs, self.settings)
    }

    fn texts_with(&self, inputs: &[String], settings: SearchSettings) -> Vec<String> {
        let ids = encode_inputs(&self.tokenizer, inputs, self.max_input);
        self.model
            .generate(&ids, settings)
            .iter()
            .map(|tokens| self.tokenizer.decode(tokens, true, true))
            .collect()
    }

    /// The texts as a many-to-many model reads them for `source` → `target` (the source
    /// language's prefix) and the settings forcing the target language's token first, as
    /// rust-bert's translation pipeline prepares them.
    fn for_pair(
        &self,
        texts: &[&str],
        source: Language,
        target: Language,
    ) -> Result<(Vec<String>, SearchSettings), String> {
        let languages = std::collections::HashSet::from([source, target]);
        let (prefix, forced_bos) = self
            .tokenizer
            .get_prefix_and_forced_bos_id(Some(&source), Some(&target), &languages, &languages)
            .map_err(|error| error.to_string())?;
        let prefix = prefix.unwrap_or_default();
        let texts = texts.iter().map(|text| format!("{prefix}{text}")).collect();
        Ok((
            texts,
            SearchSettings {
                forced_bos,
                ..self.settings
            },
        ))
    }
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
        Architecture::Nllb => (
            local(dir, "tokenizer.json"),
            Some(local(dir, "sentencepiece.bpe.model")),
        ),
        Architecture::MBart => (local(dir, "sentencepiece.bpe.model"), None),
        Architecture::T5
        | Architecture::LongT5
        | Architecture::Pegasus
        | Architecture::Bert
        | Architecture::XlmRoberta => (local(dir, "spiece.model"), None),
    }
}

pub struct SummarizationEngine {
    model: Summarizer,
}

enum Summarizer {
    RustBert(Box<SummarizationModel>),
    TorchBart(OwnSeq2Seq),
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
    let value = json_or_null(config);
    ["max_position_embeddings", "n_positions"]
        .iter()
        .find_map(|key| value.get(*key).and_then(serde_json::Value::as_u64))
        .map_or(FALLBACK, |limit| limit as usize)
}

/// A precision other than fp32 exists only on torch-bart: a model that would run on rust-bert's
/// pipeline is refused rather than run silently in fp32.
fn refuse_precision_off_own_path(
    spec: &ModelSpec,
    on_own_path: bool,
    precision: Precision,
) -> Result<(), ModelError> {
    if on_own_path || precision == Precision::Fp32 {
        return Ok(());
    }
    Err(ModelError::Unsupported {
        model: spec.id.clone(),
        reason: format!(
            "precision \"{}\" runs only on the torch-bart engine, and this model runs on rust-bert's pipeline (its catalog entry names an engine, or torch-bart refused it: see the log); remove `precision` or the `engine` line",
            precision.name()
        ),
    })
}

/// The one rule for whether a summarizer or translation model runs on torch-bart: always when
/// asked for, and by preference for the architectures it implements in that role (`own`), where a variant it
/// refuses falls back to rust-bert's pipeline with a log line saying why. `None`: rust-bert's
/// pipeline.
fn on_own_path<T>(
    spec: &ModelSpec,
    path: GenerationPath,
    directory: &ModelDirectory,
    own: &[Architecture],
    what: &str,
    load: impl FnOnce() -> Result<T, ModelError>,
) -> Result<Option<T>, ModelError> {
    match path {
        GenerationPath::TorchBart => load().map(Some),
        GenerationPath::Preferred if own.contains(&directory.architecture) => match load() {
            Ok(engine) => {
                tracing::info!(model = %spec.id, "{what} runs on torch-bart");
                Ok(Some(engine))
            }
            Err(ModelError::Unsupported { reason, .. }) => {
                tracing::info!(model = %spec.id, %reason, "{what} runs on rust-bert's pipeline");
                Ok(None)
            }
            Err(other) => Err(other),
        },
        _ => Ok(None),
    }
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
        let own = on_own_path(
            spec,
            path,
            &directory,
            &[Architecture::Bart],
            "summarizer",
            || Self::load_torch_bart(spec, &directory, settings),
        )?;
        if let Some(engine) = own {
            return Ok(engine);
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
        let search = SearchSettings {
            num_beams: settings.num_beams.max(1),
            min_length: settings.min_length,
            max_length: settings.max_length,
            no_repeat_ngram: SUMMARY_NO_REPEAT_NGRAM,
            forced_bos: None,
        };
        Ok(Self {
            model: Summarizer::TorchBart(OwnSeq2Seq::load(
                spec,
                directory,
                &[Architecture::Bart],
                search,
                Precision::Fp32,
            )?),
        })
    }

    /// Summaries of `inputs`, one per input.
    fn summarize(&self, inputs: &[String]) -> Result<Vec<String>, String> {
        match &self.model {
            Summarizer::RustBert(model) => {
                tch::no_grad(|| model.summarize(inputs)).map_err(|error| error.to_string())
            }
            Summarizer::TorchBart(own) => Ok(own.texts(inputs)),
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
            Summarizer::TorchBart(own) => Some(own.generate_ids_timed(inputs)),
        }
    }

    /// Greedy steps through the vocabulary screen or not (torch-bart only; see
    /// `TorchBart::set_vocabulary_screen`): the benchmark compares both.
    pub fn set_vocabulary_screen(&mut self, on: bool) {
        if let Summarizer::TorchBart(own) = &mut self.model {
            own.set_vocabulary_screen(on);
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

/// rust-bert's language for a code of the catalog.
fn rust_bert_language(spec: &ModelSpec, code: &str) -> Result<Language, ModelError> {
    language_from_code(code).ok_or_else(|| ModelError::Unsupported {
        model: spec.id.clone(),
        reason: format!("language code '{code}' is not one rust-bert's translation pipeline knows"),
    })
}

/// rust-bert's translation pipeline's longest output for this model: the settings' maximum,
/// capped by the model's position table.
/// rust-bert's translation pipeline's search: no repeated n-gram ban, the settings' beams and
/// minimum length, its maximum length capped by the position table. A many-to-many model's
/// target-language token is forced per call.
fn translation_search(directory: &ModelDirectory, settings: GenerationSettings) -> SearchSettings {
    SearchSettings {
        num_beams: settings.num_beams.max(1),
        min_length: settings.min_length,
        max_length: translation_max_length(directory, settings),
        no_repeat_ngram: 0,
        forced_bos: None,
    }
}

fn translation_max_length(directory: &ModelDirectory, settings: GenerationSettings) -> i64 {
    // Decoding past the model's position table fails inside rust-bert (M2M100's sinusoidal
    // table is regrown for long inputs, not for long outputs; the others' are fixed), so a
    // translation stops there (2: the positions' padding offset).
    let positions = position_limit(&directory.path.join(CONFIG_FILE)) as i64;
    settings.max_length.min(positions - 2).max(1)
}

/// rust-bert's translation pipeline over a model directory, between these languages.
fn translation_pipeline(
    spec: &ModelSpec,
    sources: Vec<Language>,
    targets: Vec<Language>,
    settings: GenerationSettings,
) -> Result<TranslationModel, ModelError> {
    let dir = directory_of(spec)?;
    let directory = inspect_directory(&spec.id, &spec.role, dir)?;
    let (vocab, merges) = tokenizer_files(&directory);
    let mut config = TranslationConfig::new(
        directory.architecture.rust_bert_type(),
        ModelResource::Torch(Box::new(local(dir, WEIGHTS_FILE))),
        local(dir, CONFIG_FILE),
        vocab,
        merges,
        sources,
        targets,
        Device::Cpu,
    );
    config.num_beams = settings.num_beams;
    config.min_length = settings.min_length;
    config.max_length = Some(translation_max_length(&directory, settings));
    load_with(spec, || TranslationModel::new(config))
}

/// One translation pair's model (Marian), on rust-bert's pipeline or the project-owned path.
pub struct TranslationEngine {
    model: PairModel,
}

enum PairModel {
    RustBert {
        model: Box<TranslationModel>,
        source: Language,
        target: Language,
    },
    TorchBart(OwnSeq2Seq),
}

impl TranslationEngine {
    /// rust-bert's pipeline.
    pub fn load(spec: &ModelSpec, settings: GenerationSettings) -> Result<Self, ModelError> {
        Self::load_on(spec, settings, GenerationPath::RustBert)
    }

    /// The one place that chooses the implementation a translation pair runs on.
    pub fn load_on(
        spec: &ModelSpec,
        settings: GenerationSettings,
        path: GenerationPath,
    ) -> Result<Self, ModelError> {
        Self::load_on_in(spec, settings, path, Precision::Fp32)
    }

    /// [`Self::load_on`] with torch-bart's weights in `precision` (an error when the model
    /// would run on rust-bert's pipeline and `precision` is not fp32).
    pub fn load_on_in(
        spec: &ModelSpec,
        settings: GenerationSettings,
        path: GenerationPath,
        precision: Precision,
    ) -> Result<Self, ModelError> {
        let ModelRole::Translation { source, target } = &spec.role else {
            return Err(ModelError::Unsupported {
                model: spec.id.clone(),
                reason: "not configured as a translation model".into(),
            });
        };
        let source_language = rust_bert_language(spec, source)?;
        let target_language = rust_bert_language(spec, target)?;
        let dir = directory_of(spec)?;
        let directory = inspect_directory(&spec.id, &spec.role, dir)?;
        let search = translation_search(&directory, settings);
        let own = on_own_path(
            spec,
            path,
            &directory,
            &[Architecture::Marian],
            "translation pair",
            || OwnSeq2Seq::load(spec, &directory, &[Architecture::Marian], search, precision),
        )?;
        refuse_precision_off_own_path(spec, own.is_some(), precision)?;
        if let Some(own) = own {
            return Ok(Self {
                model: PairModel::TorchBart(own),
            });
        }
        let model =
            translation_pipeline(spec, vec![source_language], vec![target_language], settings)?;
        Ok(Self {
            model: PairModel::RustBert {
                model: Box::new(model),
                source: source_language,
                target: target_language,
            },
        })
    }

    /// Translations of `texts`, one per text.
    fn translate(&self, texts: &[String]) -> Result<Vec<String>, String> {
        match &self.model {
            PairModel::RustBert {
                model,
                source,
                target,
            } => tch::no_grad(|| model.translate(texts, *source, *target))
                .map_err(|error| error.to_string()),
            PairModel::TorchBart(own) => Ok(own.texts(texts)),
        }
    }

    /// The implementation that runs this pair (`torch-bart` or `rust-bert`), for engine ids.
    pub fn runner(&self) -> &'static str {
        match self.model {
            PairModel::RustBert { .. } => crate::runtime::RUST_BERT_ENGINE,
            PairModel::TorchBart(_) => TORCH_BART_ENGINE,
        }
    }

    /// Token ids of each output as rust-bert's `generate_indices` returns them, with where the
    /// time went; `None` on rust-bert's path (the equivalence test and the benchmark read them).
    pub fn generate_ids_timed(
        &self,
        texts: &[String],
    ) -> Option<(Vec<Vec<i64>>, GenerationTimings)> {
        match &self.model {
            PairModel::RustBert { .. } => None,
            PairModel::TorchBart(own) => Some(own.generate_ids_timed(texts)),
        }
    }

    /// Greedy steps through the vocabulary screen or not (torch-bart only; see
    /// `TorchBart::set_vocabulary_screen`): the benchmark compares both.
    pub fn set_vocabulary_screen(&mut self, on: bool) {
        if let PairModel::TorchBart(own) = &mut self.model {
            own.set_vocabulary_screen(on);
        }
    }
}

impl ModelEngine for TranslationEngine {
    /// The texts of one request (e.g. all quotes of an article and its summary).
    type Input = Vec<String>;
    type Output = Vec<String>;

    fn run_batch(&mut self, inputs: Vec<Self::Input>) -> Vec<Result<Self::Output, PrecisError>> {
        let lengths: Vec<usize> = inputs.iter().map(Vec::len).collect();
        let texts: Vec<String> = inputs.into_iter().flatten().collect();
        let translated = match self.translate(&texts) {
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

/// The texts of one request and the pair they go through, for a many-to-many model.
#[derive(Debug, Clone)]
pub struct PairTexts {
    pub source: Language,
    pub target: Language,
    pub texts: Vec<String>,
}

/// One model serving every directed pair of its languages (M2M100, NLLB, mBART-50), on
/// rust-bert's pipeline or the project-owned path: each input names its pair;
/// a batch runs one generation per pair present in it.
pub struct ManyToManyEngine {
    model: ManyModel,
}

enum ManyModel {
    RustBert(Box<TranslationModel>),
    TorchBart(OwnSeq2Seq),
}

/// The many-to-many architectures torch-bart runs (NLLB is an M2M100 with another tokenizer).
const OWN_MANY_TO_MANY: [Architecture; 3] = [
    Architecture::M2M100,
    Architecture::Nllb,
    Architecture::MBart,
];

impl ManyToManyEngine {
    /// rust-bert's pipeline.
    pub fn load(spec: &ModelSpec, settings: GenerationSettings) -> Result<Self, ModelError> {
        Self::load_on(spec, settings, GenerationPath::RustBert)
    }

    /// The one place that chooses the implementation a many-to-many model runs on.
    pub fn load_on(
        spec: &ModelSpec,
        settings: GenerationSettings,
        path: GenerationPath,
    ) -> Result<Self, ModelError> {
        Self::load_on_in(spec, settings, path, Precision::Fp32)
    }

    /// [`Self::load_on`] with torch-bart's weights in `precision` (an error when the model
    /// would run on rust-bert's pipeline and `precision` is not fp32).
    pub fn load_on_in(
        spec: &ModelSpec,
        settings: GenerationSettings,
        path: GenerationPath,
        precision: Precision,
    ) -> Result<Self, ModelError> {
        let ModelRole::ManyToManyTranslation { languages } = &spec.role else {
            return Err(ModelError::Unsupported {
                model: spec.id.clone(),
                reason: "not configured as a many-to-many translation model".into(),
            });
        };
        let languages = languages
            .iter()
            .map(|code| rust_bert_language(spec, code))
            .collect::<Result<Vec<Language>, ModelError>>()?;
        let dir = directory_of(spec)?;
        let directory = inspect_directory(&spec.id, &spec.role, dir)?;
        let search = translation_search(&directory, settings);
        let own = on_own_path(
            spec,
            path,
            &directory,
            &OWN_MANY_TO_MANY,
            "many-to-many model",
            || OwnSeq2Seq::load(spec, &directory, &OWN_MANY_TO_MANY, search, precision),
        )?;
        refuse_precision_off_own_path(spec, own.is_some(), precision)?;
        let model = match own {
            Some(own) => ManyModel::TorchBart(own),
            None => ManyModel::RustBert(Box::new(translation_pipeline(
                spec,
                languages.clone(),
                languages,
                settings,
            )?)),
        };
        Ok(Self { model })
    }

    /// The implementation that runs this model (`torch-bart` or `rust-bert`), for engine ids.
    pub fn runner(&self) -> &'static str {
        match self.model {
            ManyModel::RustBert(_) => crate::runtime::RUST_BERT_ENGINE,
            ManyModel::TorchBart(_) => TORCH_BART_ENGINE,
        }
    }

    /// Translations of `texts` from `source` to `target`, one per text.
    fn translate(
        &self,
        texts: &[&str],
        source: Language,
        target: Language,
    ) -> Result<Vec<String>, String> {
        match &self.model {
            ManyModel::RustBert(model) => tch::no_grad(|| model.translate(texts, source, target))
                .map_err(|error| error.to_string()),
            ManyModel::TorchBart(own) => {
                let (texts, settings) = own.for_pair(texts, source, target)?;
                Ok(own.texts_with(&texts, settings))
            }
        }
    }

    /// Token ids of each output for `source` → `target` as rust-bert's `generate_indices`
    /// returns them, with where the time went; `None` on rust-bert's path (the equivalence
    /// test and the benchmark read them).
    pub fn generate_ids_timed(
        &self,
        texts: &[&str],
        source: Language,
        target: Language,
    ) -> Option<Result<TimedIds, String>> {
        match &self.model {
            ManyModel::RustBert(_) => None,
            ManyModel::TorchBart(own) => Some(
                own.for_pair(texts, source, target)
                    .map(|(texts, settings)| own.generate_ids_timed_with(&texts, settings)),
            ),
        }
    }

    /// Greedy steps through the vocabulary screen or not (torch-bart only; see
    /// `TorchBart::set_vocabulary_screen`): the benchmark compares both.
    pub fn set_vocabulary_screen(&mut self, on: bool) {
        if let ManyModel::TorchBart(own) = &mut self.model {
            own.set_vocabulary_screen(on);
        }
    }
}

impl ModelEngine for ManyToManyEngine {
    type Input = PairTexts;
    type Output = Vec<String>;

    fn run_batch(&mut self, inputs: Vec<Self::Input>) -> Vec<Result<Self::Output, PrecisError>> {
        let mut outputs: Vec<Option<Result<Vec<String>, PrecisError>>> =
            (0..inputs.len()).map(|_| None).collect();
        // Requests for the same pair share one generation; the model's target token differs
        // between pairs, so pairs cannot share one.
        let mut pairs: Vec<(Language, Language)> = Vec::new();
        for input in &inputs {
            if !pairs.contains(&(input.source, input.target)) {
                pairs.push((input.source, input.target));
            }
        }
        for (source, target) in pairs {
            let members: Vec<usize> = (0..inputs.len())
                .filter(|&i| inputs[i].source == source && inputs[i].target == target)
                .collect();
            let texts: Vec<&str> = members
                .iter()
                .flat_map(|&i| inputs[i].texts.iter().map(String::as_str))
                .collect();
            let result = self.translate(&texts, source, target);
            match result {
                Ok(translated) if translated.len() == texts.len() => {
                    let mut translated = translated.into_iter();
                    for &i in &members {
                        let count = inputs[i].texts.len();
                        outputs[i] = Some(Ok(translated.by_ref().take(count).collect()));
                    }
                }
                other => {
                    let message = match other {
                        Ok(translated) => format!(
                            "translator returned {} outputs for {} inputs",
                            translated.len(),
                            texts.len()
                        ),
                        Err(error) => format!("translation failed: {error}"),
                    };
                    for &i in &members {
                        outputs[i] = Some(Err(PrecisError::EngineFailure(message.clone())));
                    }
                }
            }
        }
        outputs
            .into_iter()
            .map(|output| {
                output.unwrap_or_else(|| {
                    Err(PrecisError::EngineFailure(
                        "input left out of its batch".into(),
                    ))
                })
            })
            .collect()
    }

    fn cost(input: &Self::Input) -> usize {
        input.texts.len()
    }
}

/// Whether `token` looks like an NLLB language token: ISO 639-3 code, `_`, ISO 15924 script
/// (`eng_Latn`, `zho_Hans`).
fn is_nllb_language_token(token: &str) -> bool {
    let Some((language, script)) = token.split_once('_') else {
        return false;
    };
    language.len() == 3
        && language.bytes().all(|b| b.is_ascii_lowercase())
        && script.len() == 4
        && script.starts_with(|c: char| c.is_ascii_uppercase())
        && script[1..].bytes().all(|b| b.is_ascii_lowercase())
}

/// NLLB's languages: the language tokens of its `tokenizer.json` (vocabulary or added tokens)
/// that rust-bert names, as precis's ISO 639-1 codes.
fn nllb_languages(dir: &Path) -> Result<Vec<String>, String> {
    let path = dir.join("tokenizer.json");
    let tokenizer: serde_json::Value = std::fs::read(&path)
        .map_err(|error| format!("{}: {error}", path.display()))
        .and_then(|bytes| {
            serde_json::from_slice(&bytes).map_err(|error| format!("{}: {error}", path.display()))
        })?;
    let mut tokens: Vec<String> = Vec::new();
    if let Some(vocab) = tokenizer
        .pointer("/model/vocab")
        .and_then(|v| v.as_object())
    {
        tokens.extend(vocab.keys().cloned());
    }
    if let Some(added) = tokenizer.get("added_tokens").and_then(|v| v.as_array()) {
        tokens.extend(
            added
                .iter()
                .filter_map(|token| token.get("content")?.as_str().map(str::to_owned)),
        );
    }
    tokens.retain(|token| is_nllb_language_token(token));
    if tokens.is_empty() {
        return Err(format!(
            "{} has no NLLB language token (such as eng_Latn)",
            path.display()
        ));
    }
    let mut served: Vec<String> = PRECIS_TRANSLATION_CODES
        .iter()
        .filter(|code| {
            language_from_code(code)
                .and_then(|language| language.get_nllb_code())
                .is_some_and(|nllb| tokens.iter().any(|token| token == nllb))
        })
        .map(|code| code.to_string())
        .collect();
    served.sort();
    at_least_two(served)
}

/// NLLB's `tokenizer.json` as rust_tokenizers reads it: its NLLB vocabulary looks every
/// special and language token up in `model.vocab`, where transformers lists them only among
/// `added_tokens`. Adds each added token (with its id) to `model.vocab`; `None` when nothing
/// was missing.
pub fn nllb_tokenizer_for_rust_bert(bytes: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut tokenizer: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|error| format!("tokenizer.json is not valid JSON ({error})"))?;
    let added: Vec<(String, u64)> = tokenizer
        .get("added_tokens")
        .and_then(|v| v.as_array())
        .map(|tokens| {
            tokens
                .iter()
                .filter_map(|token| {
                    Some((
                        token.get("content")?.as_str()?.to_owned(),
                        token.get("id")?.as_u64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let vocab = tokenizer
        .pointer_mut("/model/vocab")
        .and_then(|v| v.as_object_mut())
        .ok_or("tokenizer.json has no model.vocab map (NLLB's BPE tokenizer has one)")?;
    let mut changed = false;
    for (content, id) in added {
        if !vocab.contains_key(&content) {
            vocab.insert(content, id.into());
            changed = true;
        }
    }
    if !changed {
        return Ok(None);
    }
    serde_json::to_vec(&tokenizer)
        .map(Some)
        .map_err(|error| error.to_string())
}

/// The languages a many-to-many model serves in precis, as ISO 639-1 codes: those its
/// repository declares (tokenizer_config.json's `additional_special_tokens` `__xx__`, else its
/// `language_codes` list, transformers' default being the 100 of M2M100), that rust-bert's
/// tokenizer gives a token (read from rust_tokenizers' own vocabulary of the model) and that
/// precis maps to a rust-bert language. Errors say why the model cannot be served.
pub fn many_to_many_languages(
    architecture: Architecture,
    dir: &Path,
) -> Result<Vec<String>, String> {
    use rust_tokenizers::vocab::{M2M100Vocab, Vocab};
    match architecture {
        Architecture::M2M100 => {}
        Architecture::Nllb => return nllb_languages(dir),
        Architecture::MBart => return mbart50_languages(dir),
        other => return Err(format!("{other:?} is not a many-to-many translation model")),
    }
    let vocab_path = dir.join("vocab.json");
    let vocab = M2M100Vocab::from_file(&vocab_path)
        .map_err(|error| format!("{}: {error}", vocab_path.display()))?;
    let mut tokenizer_codes: Vec<String> = vocab
        .special_values
        .keys()
        .filter_map(|token| {
            let inner = token.strip_prefix(">>")?.strip_suffix("<<")?;
            Some(inner.trim_end_matches('.').to_string())
        })
        .collect();
    tokenizer_codes.sort();
    let config: serde_json::Value = json_or_null(&dir.join("tokenizer_config.json"));
    let listed = listed_language_codes(&config, |token| {
        Some(token.strip_prefix("__")?.strip_suffix("__")?.to_string())
    });
    let declared = if !listed.is_empty() {
        if let Some(unknown) = listed.iter().find(|code| !tokenizer_codes.contains(code)) {
            return Err(format!(
                "the repository's tokenizer lists language __{unknown}__, which rust-bert's M2M100 tokenizer does not know (it knows the 100 languages of facebook/m2m100_418M)"
            ));
        }
        listed
    } else {
        match config.get("language_codes").and_then(serde_json::Value::as_str) {
            None | Some("m2m100") => tokenizer_codes,
            Some(other) => {
                return Err(format!(
                    "tokenizer_config.json says language_codes \"{other}\"; rust-bert's M2M100 tokenizer only numbers the \"m2m100\" list's language tokens"
                ))
            }
        }
    };
    served_iso_codes(declared)
}

/// mBART-50's languages: those its tokenizer_config.json lists (`additional_special_tokens`
/// such as `en_XX`, else transformers' 52), as rust_tokenizers' MBart-50 vocabulary numbers
/// them, that precis translates. An mBART whose tokenizer is not MBart-50's (mBART-25, a
/// fine-tuned summarizer) is refused: it has no many-to-many language tokens.
fn mbart50_languages(dir: &Path) -> Result<Vec<String>, String> {
    use rust_tokenizers::vocab::{MBart50Vocab, Vocab};
    let config: serde_json::Value = json_or_null(&dir.join("tokenizer_config.json"));
    // transformers saves the class in tokenizer_config.json; some repositories only in config.json.
    let model_config: serde_json::Value = json_or_null(&dir.join(CONFIG_FILE));
    let class = [&config, &model_config]
        .iter()
        .find_map(|json| json.get("tokenizer_class")?.as_str())
        .unwrap_or("none");
    if !class.starts_with("MBart50") {
        return Err(format!(
            "an mBART model whose tokenizer is {class}, not MBart-50's: precis serves mBART-50 many-to-many models (facebook/mbart-large-50-many-to-many-mmt)"
        ));
    }
    let path = dir.join("sentencepiece.bpe.model");
    let vocab =
        MBart50Vocab::from_file(&path).map_err(|error| format!("{}: {error}", path.display()))?;
    let tokenizer_codes: Vec<String> = vocab
        .special_values
        .keys()
        .filter_map(|token| Some(token.strip_prefix(">>")?.strip_suffix("<<")?.to_string()))
        .collect();
    let listed = listed_language_codes(&config, |token| {
        let (code, region) = token.split_once('_')?;
        (region.len() == 2).then(|| code.to_string())
    });
    if let Some(unknown) = listed.iter().find(|code| !tokenizer_codes.contains(code)) {
        return Err(format!(
            "the repository's tokenizer lists language {unknown}, which rust-bert's MBart-50 tokenizer does not know"
        ));
    }
    let declared = if listed.is_empty() {
        tokenizer_codes
    } else {
        listed
    };
    served_iso_codes(declared)
}

/// The codes of `declared` that precis maps to a rust-bert language whose ISO 639-1 code is
/// that code (rust-bert builds M2M100's and mBART-50's language tokens from it), sorted.
fn served_iso_codes(declared: Vec<String>) -> Result<Vec<String>, String> {
    let mut served: Vec<String> = declared
        .into_iter()
        .filter(|code| {
            language_from_code(code).and_then(|language| language.get_iso_639_1_code())
                == Some(code.as_str())
        })
        .collect();
    served.sort();
    served.dedup();
    at_least_two(served)
}

/// A JSON file's value; `Null` when it is missing or unreadable (the callers' defaults apply).
fn json_or_null(path: &Path) -> serde_json::Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// The language codes a tokenizer_config.json lists among `additional_special_tokens` (plain
/// strings or `{"content": …}` objects), each read by `code_of`.
fn listed_language_codes(
    config: &serde_json::Value,
    code_of: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    config
        .get("additional_special_tokens")
        .and_then(serde_json::Value::as_array)
        .map(|tokens| {
            tokens
                .iter()
                .filter_map(|token| {
                    code_of(token.as_str().or_else(|| token.get("content")?.as_str())?)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The languages a many-to-many model serves, if it serves a pair at all.
fn at_least_two(served: Vec<String>) -> Result<Vec<String>, String> {
    if served.len() < 2 {
        return Err(format!(
            "fewer than two of its languages are ones precis translates ({})",
            served.join(", ")
        ));
    }
    Ok(served)
}

fn failed<T>(count: usize, message: String) -> Vec<Result<T, PrecisError>> {
    (0..count)
        .map(|_| Err(PrecisError::EngineFailure(message.clone())))
        .collect()
}

/// Every code [`language_from_code`] maps.
pub const PRECIS_TRANSLATION_CODES: &[&str] = &[
    "en", "es", "fr", "de", "it", "pt", "ca", "gl", "nl", "ro", "ru", "uk", "pl", "cs", "sv", "da",
    "fi", "el", "tr", "ar", "he", "hi", "zh", "ja", "ko",
];

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
        "zh" => Language::Chinese,
        "ja" => Language::Japanese,
        "ko" => Language::Korean,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_code_maps_to_a_rust_bert_language() {
        for code in PRECIS_TRANSLATION_CODES {
            assert!(language_from_code(code).is_some(), "{code}");
        }
        assert!(language_from_code("xx").is_none());
    }

    #[test]
    fn nllb_language_tokens_are_recognised() {
        for token in ["eng_Latn", "zho_Hans", "fra_Latn"] {
            assert!(is_nllb_language_token(token), "{token}");
        }
        for token in ["en", "__en__", "en_XX", "<unk>", "eng_latn", "eng_Latin"] {
            assert!(!is_nllb_language_token(token), "{token}");
        }
    }

    #[test]
    fn nllb_added_tokens_join_the_vocabulary_rust_tokenizers_reads() {
        let tokenizer = serde_json::json!({
            "added_tokens": [{"id": 0, "content": "<s>"}, {"id": 7, "content": "eng_Latn"}],
            "model": {"type": "BPE", "vocab": {"<s>": 0, "a": 1}}
        });
        let fixed = nllb_tokenizer_for_rust_bert(&serde_json::to_vec(&tokenizer).unwrap())
            .unwrap()
            .unwrap();
        let fixed: serde_json::Value = serde_json::from_slice(&fixed).unwrap();
        assert_eq!(fixed["model"]["vocab"]["eng_Latn"], 7);
        assert_eq!(fixed["model"]["vocab"]["a"], 1);
        // Already complete: nothing to rewrite.
        assert_eq!(
            nllb_tokenizer_for_rust_bert(&serde_json::to_vec(&fixed).unwrap()).unwrap(),
            None
        );
    }
}
