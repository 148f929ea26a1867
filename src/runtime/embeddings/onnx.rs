//! Sentence embeddings on ONNX Runtime (the `ort` crate): any BERT-family encoder exported by
//! `scripts/export_onnx.py` (the graph ends at the last hidden state), tokenized by rust-bert's
//! tokenizers, pooled and normalised here as the model's `modules.json` says — the same recipe
//! as rust-bert's pipeline, with ONNX Runtime's fused and int8 kernels doing the forward pass.
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;
use rust_bert::pipelines::common::{ModelType, TokenizerOption};
use rust_tokenizers::tokenizer::TruncationStrategy;
use serde::Deserialize;

use super::{Embedding, EmbeddingBackend, EmbeddingOptions, SentenceEncoder};
use crate::runtime::registry::{ModelError, ModelLocation, ModelSpec};

/// Which exported graph a catalog entry runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnnxPrecision {
    Fp32,
    /// Dynamic int8 with per-channel weights (`scripts/export_onnx.py`).
    Int8,
    /// Dynamic int8 on the MatMuls that lose least by it, the rest fp32, chosen per model to
    /// stay within cosine 0.999 of fp32 (`scripts/quantize_mixed_onnx.py`).
    Int8Mixed,
}

impl OnnxPrecision {
    /// The graph's file inside the model directory.
    pub fn file(self) -> &'static str {
        match self {
            Self::Fp32 => "onnx/model.onnx",
            Self::Int8 => "onnx/model_int8.onnx",
            Self::Int8Mixed => "onnx-int8-mixed/model.onnx",
        }
    }
}

/// The `onnxruntime` (fp32) and `onnxruntime-int8` embedding engines.
pub struct OnnxEmbeddings(pub OnnxPrecision);

impl EmbeddingBackend for OnnxEmbeddings {
    fn name(&self) -> &'static str {
        match self.0 {
            OnnxPrecision::Fp32 => "onnxruntime",
            OnnxPrecision::Int8 => "onnxruntime-int8",
            OnnxPrecision::Int8Mixed => "onnxruntime-int8-mixed",
        }
    }

    fn load(
        &self,
        spec: &ModelSpec,
        options: &EmbeddingOptions,
    ) -> Result<Box<dyn SentenceEncoder>, ModelError> {
        Ok(Box::new(OnnxEncoder::load(
            spec,
            self.0,
            options.onnxruntime_lib.as_deref(),
            options.threads,
        )?))
    }
}

/// Where ONNX Runtime's shared library is, in order: the setting (`--onnxruntime-lib`), the
/// installed layout beside the binary (`bin/precis`, `lib/precis/libonnxruntime.so`, as in the
/// container image), and the library `scripts/setup-onnx` installed when this binary was built.
pub fn find_library(configured: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = configured {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(format!(
                "--onnxruntime-lib (PRECIS_ONNXRUNTIME_LIB) names {}, which is not a file",
                path.display()
            ))
        };
    }
    let mut tried = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        if let Some(bin) = exe.parent() {
            tried.push(bin.join("../lib/precis/libonnxruntime.so"));
        }
    }
    if let Some(built_with) = option_env!("PRECIS_ONNXRUNTIME_LIB") {
        tried.push(PathBuf::from(built_with));
    }
    tried.iter().find(|path| path.is_file()).cloned().ok_or_else(|| {
        let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
        format!(
            "ONNX Runtime's library (libonnxruntime.so) was not found (looked at: {}); run scripts/setup, or pass --onnxruntime-lib FILE",
            list.join(", ")
        )
    })
}

/// ONNX Runtime is one library per process, loaded by the first model that needs it.
fn environment(library: &Path) -> Result<&'static ort::environment::Environment, String> {
    static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| {
            ort::init_from(library)
                .map_err(|error| format!("cannot load {}: {error}", library.display()))?
                .with_name("precis")
                .build()
                .map_err(|error| format!("cannot start ONNX Runtime: {error}"))
        })
        .as_ref()
        .map_err(Clone::clone)
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
enum Pooling {
    Mean,
    Cls,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
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

pub struct OnnxEncoder {
    session: Session,
    tokenizer: TokenizerOption,
    max_tokens: usize,
    pooling: Pooling,
    normalize: bool,
    /// Whether the graph takes token_type_ids (BERT does; some exports drop it).
    wants_token_types: bool,
    pad_id: i64,
}

impl OnnxEncoder {
    pub fn load(
        spec: &ModelSpec,
        precision: OnnxPrecision,
        library: Option<&Path>,
        threads: usize,
    ) -> Result<Self, ModelError> {
        let unsupported = |reason: String| ModelError::Unsupported {
            model: spec.id.clone(),
            reason,
        };
        let directory = match &spec.location {
            ModelLocation::Directory(path) => path.clone(),
            ModelLocation::Remote(name) => {
                return Err(unsupported(format!(
                    "the onnxruntime engine runs a local export, not the remote model '{name}': install it into the models directory and run scripts/export_onnx.py on it"
                )))
            }
        };
        if !directory.is_dir() {
            return Err(ModelError::MissingDirectory {
                model: spec.id.clone(),
                path: directory,
            });
        }
        let library = find_library(library).map_err(&unsupported)?;
        let environment = environment(&library).map_err(&unsupported)?;

        let config: TransformerConfig =
            read_json(&directory.join("config.json")).map_err(&unsupported)?;
        let modules: Vec<Module> =
            read_json(&directory.join("modules.json")).map_err(&unsupported)?;
        let pooling_dir = modules
            .iter()
            .find(|m| m.kind.ends_with("Pooling"))
            .ok_or_else(|| unsupported("modules.json has no Pooling module".into()))?;
        let pooling: PoolingConfig =
            read_json(&directory.join(&pooling_dir.path).join("config.json"))
                .map_err(&unsupported)?;
        let pooling = match (
            pooling.pooling_mode_mean_tokens,
            pooling.pooling_mode_cls_token,
        ) {
            (true, false) => Pooling::Mean,
            (false, true) => Pooling::Cls,
            _ => {
                return Err(unsupported(
                    "the pooling config asks for neither mean nor CLS pooling alone".into(),
                ))
            }
        };
        if modules.iter().any(|m| m.kind.ends_with("Dense")) {
            return Err(unsupported(
                "a Dense module after pooling is not supported by the onnxruntime engine; use engine rust-bert".into(),
            ));
        }
        let normalize = modules.iter().any(|m| m.kind.ends_with("Normalize"));
        let sentence_bert: SentenceBertConfig =
            read_json(&directory.join("sentence_bert_config.json")).map_err(&unsupported)?;
        let tokenizer_config: TokenizerConfig =
            read_json(&directory.join("tokenizer_config.json")).unwrap_or_default();
        let tokenizer = tokenizer_for(
            &directory,
            tokenizer_config
                .do_lower_case
                .unwrap_or(sentence_bert.do_lower_case),
            tokenizer_config.strip_accents,
        )
        .map_err(&unsupported)?;
        if !matches!(
            config.model_type.as_str(),
            "bert" | "xlm-roberta" | "roberta"
        ) {
            return Err(unsupported(format!(
                "model_type '{}' is not a BERT-family encoder",
                config.model_type
            )));
        }

        let graph = directory.join(precision.file());
        if !graph.is_file() {
            return Err(unsupported(format!(
                "{} is missing: run scripts/setup ({} {})",
                graph.display(),
                match precision {
                    OnnxPrecision::Int8Mixed => "scripts/quantize_mixed_onnx.py",
                    OnnxPrecision::Fp32 | OnnxPrecision::Int8 => "scripts/export_onnx.py",
                },
                directory.display()
            )));
        }
        let options_error =
            |error: String| unsupported(format!("ONNX Runtime session options: {error}"));
        // Each option step maps its error at once (ort's carries the whole builder back).
        let builder = Session::builder(environment).map_err(|e| options_error(e.to_string()))?;
        let builder = builder
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| options_error(e.to_string()))?;
        // Without ONNX Runtime's own arena, buffers freed after a burst go back to malloc, and
        // from there to the system when the worker trims (see runtime::worker).
        let builder = builder
            .with_execution_providers([ort::ep::CPU::default().with_arena_allocator(false).build()])
            .map_err(|e| options_error(e.to_string()))?;
        let builder = builder
            .with_intra_threads(threads.max(1))
            .map_err(|e| options_error(e.to_string()))?;
        let builder = builder
            .with_inter_threads(1)
            .map_err(|e| options_error(e.to_string()))?;
        // Intra-op threads that spin between forward passes burn a core each while the worker
        // waits for its next job (two threads doubled the CPU per call, issue #14): they sleep.
        let mut builder = builder
            .with_intra_op_spinning(false)
            .map_err(|e| options_error(e.to_string()))?;
        let session = builder
            .commit_from_file(&graph)
            .map_err(|error| unsupported(format!("cannot load {}: {error}", graph.display())))?;
        let input_names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for required in ["input_ids", "attention_mask"] {
            if !input_names.contains(&required) {
                return Err(unsupported(format!(
                    "{} has no input '{required}' (inputs: {input_names:?})",
                    graph.display()
                )));
            }
        }
        let wants_token_types = input_names.contains(&"token_type_ids");
        let pad_id = tokenizer.get_pad_id().unwrap_or(0);
        Ok(Self {
            session,
            tokenizer,
            max_tokens: sentence_bert.max_seq_length,
            pooling,
            normalize,
            wants_token_types,
            pad_id,
        })
    }
}

impl SentenceEncoder for OnnxEncoder {
    fn token_ids(&self, text: &str) -> Vec<i64> {
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

    fn encode(&mut self, sentences: &[&str]) -> Result<Vec<Embedding>, String> {
        if sentences.is_empty() {
            return Ok(Vec::new());
        }
        let encoded = self.tokenizer.encode_list(
            sentences,
            self.max_tokens,
            &TruncationStrategy::LongestFirst,
            0,
        );
        let rows = encoded.len();
        let width = encoded
            .iter()
            .map(|e| e.token_ids.len())
            .max()
            .unwrap_or(0)
            .max(1);
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
            tokens = encoded.iter().map(|e| e.token_ids.len()).sum::<usize>(),
            "embedding forward pass"
        );
        let shape = [rows as i64, width as i64];
        let tensor = |values: Vec<i64>| {
            Tensor::from_array((shape, values)).map_err(|error| format!("input tensor: {error}"))
        };
        let mut inputs = vec![
            ("input_ids", tensor(ids)?.into_dyn()),
            ("attention_mask", tensor(mask)?.into_dyn()),
        ];
        if self.wants_token_types {
            inputs.push((
                "token_type_ids",
                tensor(vec![0i64; rows * width])?.into_dyn(),
            ));
        }
        let outputs = self
            .session
            .run(inputs)
            .map_err(|error| format!("ONNX Runtime: {error}"))?;
        let (hidden_shape, hidden) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(|error| format!("ONNX Runtime output: {error}"))?;
        let hidden_size = match hidden_shape.as_ref() {
            [r, w, h] if *r == rows as i64 && *w == width as i64 => *h as usize,
            other => {
                return Err(format!(
                    "unexpected output shape {other:?} for {rows}x{width} tokens"
                ))
            }
        };
        let embeddings = (0..rows)
            .map(|row| {
                let states = &hidden[row * width * hidden_size..(row + 1) * width * hidden_size];
                let mut pooled = vec![0.0f32; hidden_size];
                match self.pooling {
                    Pooling::Cls => pooled.copy_from_slice(&states[..hidden_size]),
                    Pooling::Mean => {
                        let tokens = encoded[row].token_ids.len().max(1);
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
            .collect();
        Ok(embeddings)
    }
}
