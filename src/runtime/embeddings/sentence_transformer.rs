//! What the engines that run a sentence-transformers encoder themselves (ONNX Runtime,
//! `torch-bf16`) share: reading the model directory's modules (pooling, normalisation, window,
//! tokenizer settings), tokenizing a batch with rust-bert's tokenizers into padded rows, and
//! pooling the last hidden state into one vector per sentence — the same recipe as rust-bert's
//! pipeline.
use std::path::Path;

use rust_bert::pipelines::common::{ModelType, TokenizerOption};
use rust_tokenizers::tokenizer::TruncationStrategy;
use serde::Deserialize;

use super::Embedding;
use crate::runtime::registry::{ModelError, ModelLocation, ModelSpec};

/// The local directory `spec` names, or why engine `engine` cannot run it (`fix`: how to get a
/// local copy of a remote model).
pub fn local_directory(
    spec: &ModelSpec,
    engine: &str,
    fix: &str,
) -> Result<std::path::PathBuf, ModelError> {
    let directory = match &spec.location {
        ModelLocation::Directory(path) => path.clone(),
        ModelLocation::Remote(name) => {
            return Err(ModelError::Unsupported {
                model: spec.id.clone(),
                reason: format!(
                    "engine {engine} runs a local model directory, not the remote model '{name}': {fix}"
                ),
            })
        }
    };
    if !directory.is_dir() {
        return Err(ModelError::MissingDirectory {
            model: spec.id.clone(),
            path: directory,
        });
    }
    Ok(directory)
}

#[derive(Deserialize)]
struct TransformerConfig {
    model_type: String,
}

#[derive(Deserialize)]
struct Module {
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct PoolingConfig {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
}

#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: usize,
    #[serde(default)]
    do_lower_case: bool,
}

#[derive(Deserialize, Default)]
struct TokenizerConfig {
    do_lower_case: Option<bool>,
    strip_accents: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    Mean,
    Cls,
}

pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| format!("{} is not valid: {error}", path.display()))
}

/// The tokenizer rust-bert would use for this directory, chosen by the vocabulary file it holds:
/// WordPiece (`vocab.txt`, BERT/MiniLM) or SentencePiece (`sentencepiece.bpe.model`, XLM-R
/// vocabularies such as multilingual-e5's, whatever the encoder's `model_type`).
fn tokenizer_for(
    directory: &Path,
    lower_case: bool,
    strip_accents: Option<bool>,
) -> Result<TokenizerOption, String> {
    let candidates = [
        ("vocab.txt", ModelType::Bert),
        ("sentencepiece.bpe.model", ModelType::XLMRoberta),
    ];
    let (file, model_type) = candidates
        .iter()
        .find(|(file, _)| directory.join(file).is_file())
        .ok_or_else(|| {
            format!(
                "{} holds no tokenizer vocabulary (vocab.txt or sentencepiece.bpe.model)",
                directory.display()
            )
        })?;
    let path = directory.join(file);
    TokenizerOption::from_file(
        *model_type,
        &path.to_string_lossy(),
        None,
        lower_case,
        strip_accents,
        None,
    )
    .map_err(|error| format!("cannot load the tokenizer {}: {error}", path.display()))
}

/// A sentence-transformers model directory's input and output recipe.
pub struct SentenceTransformer {
    tokenizer: TokenizerOption,
    max_tokens: usize,
    pooling: Pooling,
    normalize: bool,
    pub pad_id: i64,
}

/// A batch of sentences as token ids, each row padded to the longest.
pub struct TokenBatch {
    pub rows: usize,
    pub width: usize,
    /// `rows x width` token ids, padding included.
    pub ids: Vec<i64>,
    /// `rows x width`: 1 for a real token, 0 for padding.
    pub mask: Vec<i64>,
    /// Real tokens of each row.
    pub lengths: Vec<usize>,
}

impl SentenceTransformer {
    /// Reads the directory's `config.json`, `modules.json`, the pooling module's config,
    /// `sentence_bert_config.json` and the tokenizer; `engine` names the engine in errors.
    pub fn read(directory: &Path, engine: &str) -> Result<Self, String> {
        let config: TransformerConfig = read_json(&directory.join("config.json"))?;
        let modules: Vec<Module> = read_json(&directory.join("modules.json"))?;
        let pooling_dir = modules
            .iter()
            .find(|m| m.kind.ends_with("Pooling"))
            .ok_or_else(|| "modules.json has no Pooling module".to_string())?;
        let pooling: PoolingConfig =
            read_json(&directory.join(&pooling_dir.path).join("config.json"))?;
        let pooling = match (
            pooling.pooling_mode_mean_tokens,
            pooling.pooling_mode_cls_token,
        ) {
            (true, false) => Pooling::Mean,
            (false, true) => Pooling::Cls,
            _ => {
                return Err("the pooling config asks for neither mean nor CLS pooling alone".into())
            }
        };
        if modules.iter().any(|m| m.kind.ends_with("Dense")) {
            return Err(format!(
                "a Dense module after pooling is not supported by the {engine} engine; use engine rust-bert"
            ));
        }
        let normalize = modules.iter().any(|m| m.kind.ends_with("Normalize"));
        let sentence_bert: SentenceBertConfig =
            read_json(&directory.join("sentence_bert_config.json"))?;
        let tokenizer_config: TokenizerConfig =
            read_json(&directory.join("tokenizer_config.json")).unwrap_or_default();
        let tokenizer = tokenizer_for(
            directory,
            tokenizer_config
                .do_lower_case
                .unwrap_or(sentence_bert.do_lower_case),
            tokenizer_config.strip_accents,
        )?;
        if !matches!(
            config.model_type.as_str(),
            "bert" | "xlm-roberta" | "roberta"
        ) {
            return Err(format!(
                "model_type '{}' is not a BERT-family encoder",
                config.model_type
            ));
        }
        let pad_id = tokenizer.get_pad_id().unwrap_or(0);
        Ok(Self {
            tokenizer,
            max_tokens: sentence_bert.max_seq_length,
            pooling,
            normalize,
            pad_id,
        })
    }

    /// The token ids the model reads for `text`, truncated to its window.
    pub fn token_ids(&self, text: &str) -> Vec<i64> {
        self.tokenizer
            .encode_list(
                &[text],
                self.max_tokens,
                &TruncationStrategy::LongestFirst,
                0,
            )
            .into_iter()
            .next()
            .map(|encoded| encoded.token_ids)
            .unwrap_or_default()
    }

    /// Tokenizes `sentences` (at least one) into rows padded to the longest.
    pub fn tokenize(&self, sentences: &[&str]) -> TokenBatch {
        let encoded = self.tokenizer.encode_list(
            sentences,
            self.max_tokens,
            &TruncationStrategy::LongestFirst,
            0,
        );
        let rows = encoded.len();
        let lengths: Vec<usize> = encoded.iter().map(|e| e.token_ids.len()).collect();
        let width = lengths.iter().copied().max().unwrap_or(0).max(1);
        let mut ids = vec![self.pad_id; rows * width];
        let mut mask = vec![0i64; rows * width];
        for (row, input) in encoded.iter().enumerate() {
            let start = row * width;
            ids[start..start + input.token_ids.len()].copy_from_slice(&input.token_ids);
            mask[start..start + input.token_ids.len()].fill(1);
        }
        // The cost of a forward pass is about rows x width token slots: padding is the waste.
        tracing::debug!(
            sentences = rows,
            padded_tokens = rows * width,
            tokens = lengths.iter().sum::<usize>(),
            "embedding forward pass"
        );
        TokenBatch {
            rows,
            width,
            ids,
            mask,
            lengths,
        }
    }

    /// Pools the last hidden state (`rows x width x hidden_size`, fp32) of `batch` into one
    /// vector per sentence, normalised when the modules say so.
    pub fn pool(&self, hidden: &[f32], batch: &TokenBatch, hidden_size: usize) -> Vec<Embedding> {
        let width = batch.width;
        (0..batch.rows)
            .map(|row| {
                let states = &hidden[row * width * hidden_size..(row + 1) * width * hidden_size];
                let mut pooled = vec![0.0f32; hidden_size];
                match self.pooling {
                    Pooling::Cls => pooled.copy_from_slice(&states[..hidden_size]),
                    Pooling::Mean => {
                        let tokens = batch.lengths[row].max(1);
                        for token in states.chunks_exact(hidden_size).take(tokens) {
                            for (sum, value) in pooled.iter_mut().zip(token) {
                                *sum += value;
                            }
                        }
                        pooled.iter_mut().for_each(|v| *v /= tokens as f32);
                    }
                }
                if self.normalize {
                    let norm = pooled.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                    pooled.iter_mut().for_each(|v| *v /= norm);
                }
                pooled
            })
            .collect()
    }
}
