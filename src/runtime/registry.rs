//! Where each model comes from, what its directory must hold, and how rust-bert loads it.
//!
//! rust-bert panics on a missing config file and gives terse errors on bad weights, so every
//! directory is checked here first: an operator gets the path, the file, what was expected
//! and how to fix it.
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// What a model is used for in precis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum ModelRole {
    SentenceEmbeddings,
    Summarization,
    Translation {
        source: String,
        target: String,
    },
    /// One model translating between every two of its languages (M2M100): a direct route
    /// for each directed pair.
    ManyToManyTranslation {
        languages: Vec<String>,
    },
    /// A pulled directory whose manifest cannot be read (it is reported, never loaded).
    Unknown,
}

impl fmt::Display for ModelRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SentenceEmbeddings => write!(f, "sentence-embeddings"),
            Self::Summarization => write!(f, "summarization"),
            Self::Translation { source, target } => write!(f, "translation {source}->{target}"),
            Self::ManyToManyTranslation { languages } => write!(
                f,
                "translation between any two of {} languages ({})",
                languages.len(),
                languages.join(", ")
            ),
            Self::Unknown => write!(f, "unknown"),
        }
    }
}

/// Where a model's files are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum ModelLocation {
    /// A directory of rust-bert files (config.json, rust_model.ot, vocabulary).
    Directory(PathBuf),
    /// One of rust-bert's pretrained remote resources, downloaded once into its cache.
    /// Only where a network exists.
    Remote(String),
}

impl fmt::Display for ModelLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Directory(path) => write!(f, "{}", path.display()),
            Self::Remote(name) => write!(f, "remote:{name}"),
        }
    }
}

/// One configured model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelSpec {
    pub id: String,
    #[serde(flatten)]
    pub role: ModelRole,
    pub location: ModelLocation,
}

/// The transformer architectures precis knows how to load, from `config.json`'s `model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    Bert,
    Bart,
    T5,
    LongT5,
    Pegasus,
    Marian,
    /// config.json's spelling (serde's snake_case would say `m2_m100`).
    #[serde(rename = "m2m_100")]
    M2M100,
    /// NLLB-200: an M2M100 network (config.json says `m2m_100`) with NLLB's tokenizer
    /// (`tokenizer.json` + `sentencepiece.bpe.model`, language tokens `eng_Latn`…).
    Nllb,
    /// mBART-50 many-to-many (`mbart`, MBart-50's SentencePiece tokenizer).
    #[serde(rename = "mbart")]
    MBart,
    /// XLM-RoBERTa encoders in the sentence-transformers layout (`xlm-roberta`): BERT's layers
    /// with RoBERTa's position ids (counted from the padding id), XLM-R's SentencePiece tokenizer.
    #[serde(rename = "xlm-roberta")]
    XlmRoberta,
}

impl Architecture {
    /// The architecture of a model directory or repository from config.json's `model_type`
    /// and, for `m2m_100`, its tokenizer files: NLLB ships `tokenizer.json` where M2M100 ships
    /// `vocab.json`.
    pub fn of_files(model_type: &str, has_file: impl Fn(&str) -> bool) -> Option<Self> {
        let architecture = Self::from_model_type(model_type)?;
        if architecture == Self::M2M100 && !has_file("vocab.json") && has_file("tokenizer.json") {
            return Some(Self::Nllb);
        }
        Some(architecture)
    }

    pub fn from_model_type(model_type: &str) -> Option<Self> {
        Some(match model_type {
            "bert" => Self::Bert,
            "bart" => Self::Bart,
            "t5" => Self::T5,
            "longt5" => Self::LongT5,
            "pegasus" => Self::Pegasus,
            "marian" => Self::Marian,
            "m2m_100" => Self::M2M100,
            "mbart" => Self::MBart,
            "xlm-roberta" => Self::XlmRoberta,
            _ => return None,
        })
    }

    /// The files rust-bert reads for this architecture, besides config.json and rust_model.ot.
    pub fn vocabulary_files(self) -> &'static [&'static str] {
        match self {
            // Plus the tokenizer's vocabulary: see [`EmbeddingTokenizer`].
            Self::Bert | Self::XlmRoberta => &[
                "modules.json",
                "tokenizer_config.json",
                "sentence_bert_config.json",
            ],
            Self::Bart => &["vocab.json", "merges.txt"],
            Self::T5 | Self::LongT5 | Self::Pegasus => &["spiece.model"],
            Self::Marian => &["vocab.json", "source.spm"],
            Self::M2M100 => &["vocab.json", "sentencepiece.bpe.model"],
            Self::Nllb => &["tokenizer.json", "sentencepiece.bpe.model"],
            Self::MBart => &["sentencepiece.bpe.model"],
        }
    }

    pub fn rust_bert_type(self) -> rust_bert::pipelines::common::ModelType {
        use rust_bert::pipelines::common::ModelType;
        match self {
            Self::Bert => ModelType::Bert,
            Self::Bart => ModelType::Bart,
            Self::T5 => ModelType::T5,
            Self::LongT5 => ModelType::LongT5,
            Self::Pegasus => ModelType::Pegasus,
            Self::Marian => ModelType::Marian,
            Self::M2M100 => ModelType::M2M100,
            Self::Nllb => ModelType::NLLB,
            Self::MBart => ModelType::MBart,
            // rust-bert's sentence-embedding pipeline runs XLM-R as its RoBERTa encoder (the
            // tokenizer is given separately).
            Self::XlmRoberta => ModelType::Roberta,
        }
    }

    fn serves(self, role: &ModelRole) -> bool {
        match role {
            ModelRole::SentenceEmbeddings => matches!(self, Self::Bert | Self::XlmRoberta),
            ModelRole::Summarization => {
                matches!(self, Self::Bart | Self::T5 | Self::LongT5 | Self::Pegasus)
            }
            ModelRole::Translation { .. } => {
                matches!(
                    self,
                    Self::Marian | Self::M2M100 | Self::Nllb | Self::MBart | Self::T5
                )
            }
            ModelRole::ManyToManyTranslation { .. } => {
                matches!(self, Self::M2M100 | Self::Nllb | Self::MBart)
            }
            ModelRole::Unknown => false,
        }
    }
}

/// The tokenizer of a sentence-embedding BERT, from `tokenizer_config.json`'s `tokenizer_class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddingTokenizer {
    /// BERT's WordPiece (`vocab.txt`), as all-MiniLM-L6-v2.
    WordPiece,
    /// XLM-RoBERTa's SentencePiece unigram model (`sentencepiece.bpe.model`), as
    /// multilingual-e5-small, with the text preparation of `text_input.json`.
    XlmRobertaSentencePiece,
}

pub const SENTENCEPIECE_FILE: &str = "sentencepiece.bpe.model";
pub const TEXT_INPUT_FILE: &str = "text_input.json";

impl EmbeddingTokenizer {
    pub fn of_directory(path: &Path) -> Self {
        let class = std::fs::read_to_string(path.join("tokenizer_config.json"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|config| config.get("tokenizer_class")?.as_str().map(str::to_owned));
        match class.as_deref() {
            Some("XLMRobertaTokenizer" | "XLMRobertaTokenizerFast") => {
                Self::XlmRobertaSentencePiece
            }
            // Repositories whose tokenizer_config.json names no class: the vocabulary file tells.
            None if !path.join("vocab.txt").is_file()
                && path.join(SENTENCEPIECE_FILE).is_file() =>
            {
                Self::XlmRobertaSentencePiece
            }
            _ => Self::WordPiece,
        }
    }

    pub fn files(self) -> &'static [&'static str] {
        match self {
            Self::WordPiece => &["vocab.txt"],
            Self::XlmRobertaSentencePiece => &[SENTENCEPIECE_FILE, TEXT_INPUT_FILE],
        }
    }
}

/// Why a model could not be used. Every variant names the model and, where there is one, the path.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    #[error("model '{model}': directory {path} does not exist; run scripts/setup, or point the model's path at a directory holding config.json, rust_model.ot and its vocabulary")]
    MissingDirectory { model: String, path: PathBuf },
    #[error("model '{model}': missing {path} ({expected}); {fix}")]
    MissingFile {
        model: String,
        path: PathBuf,
        expected: String,
        fix: String,
    },
    #[error("model '{model}': {path} is malformed: {reason}")]
    Malformed {
        model: String,
        path: PathBuf,
        reason: String,
    },
    #[error("model '{model}': {reason}")]
    Unsupported { model: String, reason: String },
    #[error("model '{model}' from {location} failed to load: {reason}")]
    Load {
        model: String,
        location: String,
        reason: String,
    },
    #[error("loading a model panicked: {0}")]
    LoadPanicked(String),
    #[error("could not start a model worker thread: {0}")]
    Thread(String),
}

/// What was found in a model directory, before loading it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelDirectory {
    pub path: PathBuf,
    pub architecture: Architecture,
    pub size_bytes: u64,
    /// Set when the directory says it holds random weights made for tests.
    pub test_model: bool,
}

pub const WEIGHTS_FILE: &str = "rust_model.ot";
pub const CONFIG_FILE: &str = "config.json";
/// Written by scripts/make_test_models.py: such a model's output is never a result.
pub const TEST_MODEL_MARKER: &str = "PRECIS_TEST_MODEL.txt";

/// Checks that a directory holds a model of an architecture fit for `role`.
pub fn inspect_directory(
    model: &str,
    role: &ModelRole,
    path: &Path,
) -> Result<ModelDirectory, ModelError> {
    if !path.is_dir() {
        return Err(ModelError::MissingDirectory {
            model: model.into(),
            path: path.into(),
        });
    }
    let config_path = path.join(CONFIG_FILE);
    let config_text =
        std::fs::read_to_string(&config_path).map_err(|_| ModelError::MissingFile {
            model: model.into(),
            path: config_path.clone(),
            expected: "the transformer's JSON configuration with a \"model_type\" key".into(),
            fix: "copy config.json from the model's original repository".into(),
        })?;
    let config: serde_json::Value =
        serde_json::from_str(&config_text).map_err(|error| ModelError::Malformed {
            model: model.into(),
            path: config_path.clone(),
            reason: format!("not valid JSON ({error})"),
        })?;
    let model_type = config
        .get("model_type")
        .and_then(|value| value.as_str())
        .ok_or_else(|| ModelError::Malformed {
            model: model.into(),
            path: config_path.clone(),
            reason: "no \"model_type\" string (expected e.g. \"bert\", \"bart\", \"marian\")"
                .into(),
        })?;
    let architecture = Architecture::of_files(model_type, |file| path.join(file).is_file())
        .ok_or_else(|| ModelError::Unsupported {
            model: model.into(),
            reason: format!(
                "{} says model_type \"{model_type}\"; precis loads bert, bart, t5, longt5, pegasus, marian, m2m_100 (M2M100, NLLB), mbart (mBART-50) and xlm-roberta (sentence embeddings)",
                config_path.display()
            ),
        })?;
    if !architecture.serves(role) {
        return Err(ModelError::Unsupported {
            model: model.into(),
            reason: format!("a {model_type} model cannot serve {role}"),
        });
    }
    let weights = path.join(WEIGHTS_FILE);
    if !weights.is_file() {
        let fix = if path.join("model.safetensors").is_file() {
            format!(
                "convert the safetensors weights with `precis models convert {}`",
                path.display()
            )
        } else {
            "convert the model's weights to rust-bert's format (see README, Models)".into()
        };
        return Err(ModelError::MissingFile {
            model: model.into(),
            path: weights,
            expected: "the weights in libtorch's format, as rust-bert loads them".into(),
            fix,
        });
    }
    for file in architecture.vocabulary_files() {
        let file_path = path.join(file);
        if !file_path.is_file() {
            return Err(ModelError::MissingFile {
                model: model.into(),
                path: file_path,
                expected: format!("part of a {model_type} model's tokenizer or pipeline"),
                fix: "copy it from the model's original repository".into(),
            });
        }
    }
    if matches!(architecture, Architecture::Bert | Architecture::XlmRoberta) {
        for file in EmbeddingTokenizer::of_directory(path).files() {
            let file_path = path.join(file);
            if !file_path.is_file() {
                return Err(ModelError::MissingFile {
                    model: model.into(),
                    path: file_path,
                    expected: format!("part of a {model_type} model's tokenizer"),
                    fix: "copy it from the model's original repository, or run the script that converted the model again (scripts/setup)".into(),
                });
            }
        }
        let pooling = path.join("1_Pooling").join(CONFIG_FILE);
        if !pooling.is_file() {
            return Err(ModelError::MissingFile {
                model: model.into(),
                path: pooling,
                expected: "the sentence-transformers pooling configuration".into(),
                fix: "copy 1_Pooling/config.json from the model's original repository".into(),
            });
        }
    }
    Ok(ModelDirectory {
        path: path.into(),
        architecture,
        size_bytes: directory_size(path),
        test_model: path.join(TEST_MODEL_MARKER).is_file(),
    })
}

fn directory_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => directory_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Writes `rust_model.ot` from `model.safetensors`, keeping tensor names: the one conversion
/// rust-bert needs for weights published as safetensors.
pub fn convert_safetensors(dir: &Path) -> Result<PathBuf, ModelError> {
    let source = dir.join("model.safetensors");
    let model = dir.display().to_string();
    if !source.is_file() {
        return Err(ModelError::MissingFile {
            model,
            path: source,
            expected: "weights in safetensors format".into(),
            fix: "pass a directory that holds model.safetensors".into(),
        });
    }
    let tensors =
        tch::Tensor::read_safetensors(&source).map_err(|error| ModelError::Malformed {
            model: model.clone(),
            path: source.clone(),
            reason: error.to_string(),
        })?;
    write_weights(dir, &model, &tensors)
}

/// Writes `rust_model.ot` beside its final name and renames it, so a crash never leaves half a
/// weights file.
fn write_weights<S: AsRef<str>, T: AsRef<tch::Tensor>>(
    dir: &Path,
    model: &str,
    tensors: &[(S, T)],
) -> Result<PathBuf, ModelError> {
    let target = dir.join(WEIGHTS_FILE);
    let partial = dir.join(format!("{WEIGHTS_FILE}.partial"));
    tch::Tensor::save_multi(tensors, &partial).map_err(|error| ModelError::Load {
        model: model.to_string(),
        location: partial.display().to_string(),
        reason: format!("could not write: {error}"),
    })?;
    std::fs::rename(&partial, &target).map_err(|error| ModelError::Load {
        model: model.to_string(),
        location: target.display().to_string(),
        reason: format!("could not rename: {error}"),
    })?;
    Ok(target)
}

/// Writes `rust_model.ot` from a repository's weights, `model.safetensors` or PyTorch's pickle
/// format (`pytorch_model.bin`, read by libtorch itself), under the names rust-bert reads:
/// tensors keep their Hugging Face names; what `save_pretrained` leaves out because
/// transformers recomputes or ties it is added back (the shared token embedding of BART and
/// Marian, Marian's `final_logits_bias` and its sinusoidal position tables).
pub fn convert_weights(
    dir: &Path,
    sources: &[PathBuf],
    architecture: Architecture,
) -> Result<PathBuf, ModelError> {
    let model = dir.display().to_string();
    let malformed = |path: &Path, reason: String| ModelError::Malformed {
        model: model.clone(),
        path: path.to_path_buf(),
        reason,
    };
    let first = sources
        .first()
        .ok_or_else(|| malformed(dir, "no weights file to convert".into()))?;
    // Shards of one model hold disjoint tensors: their union is the model.
    let mut tensors: std::collections::BTreeMap<String, tch::Tensor> = Default::default();
    for source in sources {
        let shard = match source.extension().and_then(|e| e.to_str()) {
            Some("safetensors") => tch::Tensor::read_safetensors(source),
            _ => tch::Tensor::loadz_multi(source),
        }
        .map_err(|error| malformed(source, error.to_string()))?;
        tensors.extend(shard);
    }
    if matches!(
        architecture,
        Architecture::Bart
            | Architecture::Marian
            | Architecture::M2M100
            | Architecture::Nllb
            | Architecture::MBart
    ) {
        add_tied_and_recomputed(dir, &mut tensors, architecture)
            .map_err(|reason| malformed(first, reason))?;
    }
    let named: Vec<(&str, &tch::Tensor)> = tensors
        .iter()
        .map(|(name, tensor)| (name.as_str(), tensor))
        .collect();
    write_weights(dir, &model, &named)
}

fn add_tied_and_recomputed(
    dir: &Path,
    tensors: &mut std::collections::BTreeMap<String, tch::Tensor>,
    architecture: Architecture,
) -> Result<(), String> {
    const SHARED: &str = "model.shared.weight";
    if !tensors.contains_key(SHARED) {
        let tied = [
            "model.encoder.embed_tokens.weight",
            "model.decoder.embed_tokens.weight",
        ]
        .iter()
        .find_map(|name| tensors.get(*name).map(tch::Tensor::shallow_clone))
        .ok_or("no token embedding (model.shared.weight or model.*.embed_tokens.weight)")?;
        tensors.insert(SHARED.into(), tied);
    }
    if !matches!(architecture, Architecture::Marian | Architecture::MBart) {
        return Ok(());
    }
    // rust-bert's Marian and mBART add this bias to their logits; a checkpoint may omit its
    // zeros.
    let vocab = tensors[SHARED].size()[0];
    tensors
        .entry("final_logits_bias".into())
        .or_insert_with(|| tch::Tensor::zeros([1, vocab], (tch::Kind::Float, tch::Device::Cpu)));
    if architecture != Architecture::Marian {
        return Ok(());
    }
    let missing: Vec<String> = ["model.encoder", "model.decoder"]
        .iter()
        .map(|part| format!("{part}.embed_positions.weight"))
        .filter(|name| !tensors.contains_key(name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let config: serde_json::Value = std::fs::read_to_string(dir.join(CONFIG_FILE))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or("config.json is unreadable")?;
    let number = |key: &str| config.get(key).and_then(serde_json::Value::as_i64);
    let positions =
        number("max_position_embeddings").ok_or("config.json has no max_position_embeddings")?;
    let dim = number("d_model").ok_or("config.json has no d_model")?;
    let table = sinusoidal_positions(positions, dim);
    for name in missing {
        tensors.insert(name, table.shallow_clone());
    }
    Ok(())
}

/// Marian's position table as transformers computes it: for position p and k < dim/2,
/// column k holds sin(p / 10000^(2k/dim)) and column dim/2 + k the cosine.
pub fn sinusoidal_positions(positions: i64, dim: i64) -> tch::Tensor {
    let half = (dim + 1) / 2;
    let mut values = vec![0f32; (positions * dim) as usize];
    for position in 0..positions {
        for k in 0..half {
            let angle = position as f64 / 10000f64.powf(2.0 * k as f64 / dim as f64);
            let row = (position * dim) as usize;
            values[row + k as usize] = angle.sin() as f32;
            if half + k < dim {
                values[row + (half + k) as usize] = angle.cos() as f32;
            }
        }
    }
    tch::Tensor::from_slice(&values).reshape([positions, dim])
}

/// Runs a rust-bert constructor, turning its errors and panics into a `ModelError::Load`.
pub fn load_with<T>(
    spec: &ModelSpec,
    build: impl FnOnce() -> Result<T, rust_bert::RustBertError>,
) -> Result<T, ModelError> {
    let location = spec.location.to_string();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(build)) {
        Ok(Ok(model)) => Ok(model),
        Ok(Err(error)) => Err(ModelError::Load {
            model: spec.id.clone(),
            location,
            reason: explain_rust_bert_error(&error.to_string()),
        }),
        Err(panic) => Err(ModelError::Load {
            model: spec.id.clone(),
            location,
            reason: explain_rust_bert_error(&super::panic_message(&panic)),
        }),
    }
}

/// Adds the likely fix to the errors operators meet most.
fn explain_rust_bert_error(message: &str) -> String {
    if message.contains("cannot find the tensor named") || message.contains("cannot find") {
        format!("{message} (the weights do not match the architecture in config.json: were they converted from the same model?)")
    } else if message.contains("PytorchStreamReader") || message.contains("invalid header") {
        format!("{message} (rust_model.ot is not a libtorch weights file or is truncated: convert it again)")
    } else {
        message.to_string()
    }
}
