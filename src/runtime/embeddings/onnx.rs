//! Sentence embeddings on ONNX Runtime (the `ort` crate): any BERT-family encoder exported by
//! `scripts/export_onnx.py` (the graph ends at the last hidden state), tokenized by rust-bert's
//! tokenizers, pooled and normalised as the model's `modules.json` says
//! ([`super::sentence_transformer`]) — the same recipe as rust-bert's pipeline, with ONNX
//! Runtime's fused and int8 kernels doing the forward pass.
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::Tensor;

use super::sentence_transformer::{local_directory, SentenceTransformer};
use super::{Embedding, EmbeddingBackend, EmbeddingOptions, SentenceEncoder};
use crate::runtime::registry::{ModelError, ModelSpec};

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

pub struct OnnxEncoder {
    session: Session,
    model: SentenceTransformer,
    /// Whether the graph takes token_type_ids (BERT does; some exports drop it).
    wants_token_types: bool,
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
        let directory = local_directory(
            spec,
            "onnxruntime",
            "install it into the models directory and run scripts/export_onnx.py on it",
        )?;
        let library = find_library(library).map_err(&unsupported)?;
        let environment = environment(&library).map_err(&unsupported)?;

        let model = SentenceTransformer::read(&directory, "onnxruntime").map_err(&unsupported)?;

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
        Ok(Self {
            session,
            model,
            wants_token_types,
        })
    }
}

impl SentenceEncoder for OnnxEncoder {
    fn token_ids(&self, text: &str) -> Vec<i64> {
        self.model.token_ids(text)
    }

    fn encode(&mut self, sentences: &[&str]) -> Result<Vec<Embedding>, String> {
        if sentences.is_empty() {
            return Ok(Vec::new());
        }
        let mut batch = self.model.tokenize(sentences);
        let (rows, width) = (batch.rows, batch.width);
        let shape = [rows as i64, width as i64];
        let tensor = |values: Vec<i64>| {
            Tensor::from_array((shape, values)).map_err(|error| format!("input tensor: {error}"))
        };
        let mut inputs = vec![
            (
                "input_ids",
                tensor(std::mem::take(&mut batch.ids))?.into_dyn(),
            ),
            (
                "attention_mask",
                tensor(std::mem::take(&mut batch.mask))?.into_dyn(),
            ),
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
        Ok(self.model.pool(hidden, &batch, hidden_size))
    }
}
