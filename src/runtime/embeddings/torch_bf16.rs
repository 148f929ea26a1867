//! Sentence embeddings on libtorch in bf16 (engine `torch-bf16`): precis' own BERT encoder,
//! written from the BERT model definition, reading the weights rust-bert reads
//! (`rust_model.ot`) and converting them to bf16 at load.
//!
//! Why: on this project's CPUs libtorch's fp32 GEMM (MKL on AMD) is about half ONNX Runtime's
//! speed, but its bf16 linear layers (oneDNN with AVX-512 BF16) are two to three times ONNX
//! Runtime's fp32, and ONNX Runtime has no bf16 MatMul on x86 CPUs. bf16 keeps fp32's exponent
//! range, so embeddings stay within cosine 0.9999 of fp32 (tests/torch_bf16_embeddings.rs);
//! pooling and normalisation run in fp32. On a CPU without native bf16 (no AVX-512 BF16, no
//! AMX) the same kernels are emulated and slower than fp32: the engine refuses to load there
//! (see [`native_bf16`]).
//!
//! The encoder: embeddings (word + position + token type, LayerNorm); per layer, self-attention
//! through libtorch's fused `scaled_dot_product_attention` with the padding mask (query, key
//! and value as one fused projection), output projection + residual + LayerNorm, intermediate
//! projection + GELU (erf), output projection + residual + LayerNorm. Then the model's pooling
//! and normalisation ([`super::sentence_transformer`]).
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use tch::{Device, Kind, Tensor};

use super::sentence_transformer::{local_directory, read_json, SentenceTransformer};
use super::{Embedding, EmbeddingBackend, EmbeddingOptions, SentenceEncoder};
use crate::runtime::native_bf16;
use crate::runtime::registry::{ModelError, ModelSpec};

/// The engine's name in the catalog.
pub const ENGINE: &str = "torch-bf16";

/// The `torch-bf16` embedding engine.
pub struct TorchBf16Embeddings;

impl EmbeddingBackend for TorchBf16Embeddings {
    fn name(&self) -> &'static str {
        ENGINE
    }

    /// libtorch runs each op across its OpenMP threads and waits for all of them; bf16 ops are
    /// short, so one thread without a core stalls the rest (README, Session 11: 306-328 ms of
    /// CPU per Digest with two threads beside a busy neighbour, 84 ms with one).
    fn one_thread_per_worker(&self) -> bool {
        true
    }

    fn load(
        &self,
        spec: &ModelSpec,
        options: &EmbeddingOptions,
    ) -> Result<Box<dyn SentenceEncoder>, ModelError> {
        let unsupported = |reason: String| ModelError::Unsupported {
            model: spec.id.clone(),
            reason,
        };
        let Some(instructions) = native_bf16() else {
            return Err(unsupported(format!(
                "engine {ENGINE} needs a CPU with native bf16 (AVX-512 BF16 or AMX); this one has neither, and emulated bf16 is slower than fp32: use engine onnxruntime"
            )));
        };
        let directory = local_directory(
            spec,
            ENGINE,
            "install it into the models directory (precis models pull)",
        )?;
        // The workers of one pool share the tokenizer and the weights: they only read them.
        let (model, encoder) = options
            .shared_weights
            .get_or_load(
                &directory,
                |(model, encoder): &(Arc<SentenceTransformer>, BertEncoder)| {
                    (Arc::clone(model), encoder.share())
                },
                || {
                    let model = SentenceTransformer::read(&directory, ENGINE)?;
                    Ok((Arc::new(model), BertEncoder::load(&directory)?))
                },
            )
            .map_err(&unsupported)?;
        tracing::info!(
            model = %spec.id,
            engine = ENGINE,
            cpu = instructions,
            layers = encoder.layers.len(),
            "bf16 encoder loaded (native bf16 on this CPU)"
        );
        Ok(Box::new(TorchBf16Encoder { model, encoder }))
    }
}

struct TorchBf16Encoder {
    model: Arc<SentenceTransformer>,
    encoder: BertEncoder,
}

impl SentenceEncoder for TorchBf16Encoder {
    fn token_ids(&self, text: &str) -> Vec<i64> {
        self.model.token_ids(text)
    }

    fn encode(&mut self, sentences: &[&str]) -> Result<Vec<Embedding>, String> {
        if sentences.is_empty() {
            return Ok(Vec::new());
        }
        let batch = self.model.tokenize(sentences);
        let shape = [batch.rows as i64, batch.width as i64];
        let hidden = tch::no_grad(|| {
            let ids = Tensor::from_slice(&batch.ids).f_reshape(shape)?;
            let mask = Tensor::from_slice(&batch.mask).f_reshape(shape)?;
            self.encoder.forward(&ids, &mask)?.f_reshape([-1])
        })
        .map_err(|error| format!("libtorch: {error}"))?;
        let hidden_size = self.encoder.hidden_size;
        let values =
            Vec::<f32>::try_from(&hidden).map_err(|error| format!("libtorch output: {error}"))?;
        if values.len() != batch.rows * batch.width * hidden_size {
            return Err(format!(
                "the encoder returned {} values for {}x{} tokens",
                values.len(),
                batch.rows,
                batch.width
            ));
        }
        Ok(self.model.pool(&values, &batch, hidden_size))
    }
}

#[derive(Deserialize)]
struct BertConfig {
    model_type: String,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    #[serde(default = "default_layer_norm_eps")]
    layer_norm_eps: f64,
    #[serde(default = "default_hidden_act")]
    hidden_act: String,
    #[serde(default = "default_position_embedding_type")]
    position_embedding_type: String,
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}

fn default_hidden_act() -> String {
    "gelu".into()
}

fn default_position_embedding_type() -> String {
    "absolute".into()
}

/// A weight and a bias: a linear layer's or a LayerNorm's.
struct Affine {
    weight: Tensor,
    bias: Tensor,
}

impl Affine {
    fn forward(&self, input: &Tensor) -> Result<Tensor, tch::TchError> {
        input.f_linear(&self.weight, Some(&self.bias))
    }

    /// Another handle to the same weight and bias (see [`BertEncoder::share`]).
    fn share(&self) -> Self {
        Self {
            weight: self.weight.shallow_clone(),
            bias: self.bias.shallow_clone(),
        }
    }
}

struct EncoderLayer {
    /// Query, key and value projections stacked into one (3 x hidden outputs).
    query_key_value: Affine,
    attention_output: Affine,
    attention_norm: Affine,
    intermediate: Affine,
    output: Affine,
    output_norm: Affine,
}

impl EncoderLayer {
    fn share(&self) -> Self {
        Self {
            query_key_value: self.query_key_value.share(),
            attention_output: self.attention_output.share(),
            attention_norm: self.attention_norm.share(),
            intermediate: self.intermediate.share(),
            output: self.output.share(),
            output_norm: self.output_norm.share(),
        }
    }
}

struct BertEncoder {
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    /// Token type 0's embedding: sentence embeddings read one segment.
    token_type_embedding: Tensor,
    embeddings_norm: Affine,
    layers: Vec<EncoderLayer>,
    hidden_size: usize,
    heads: usize,
    layer_norm_eps: f64,
}

/// rust-bert's weight file names parameters with `|` where the Python names have `.`.
fn parameter_name(stored: &str) -> String {
    stored.replace('|', ".")
}

impl BertEncoder {
    fn load(directory: &Path) -> Result<Self, String> {
        let config: BertConfig = read_json(&directory.join("config.json"))?;
        // XLM-R and RoBERTa number positions after the padding id: only BERT's are from 0.
        if config.model_type != "bert" {
            return Err(format!(
                "engine {ENGINE} runs BERT encoders (model_type 'bert'); config.json says '{}'",
                config.model_type
            ));
        }
        if config.hidden_act != "gelu" {
            return Err(format!(
                "engine {ENGINE} runs BERT encoders with GELU; config.json says '{}'",
                config.hidden_act
            ));
        }
        if config.position_embedding_type != "absolute" {
            return Err(format!(
                "engine {ENGINE} runs absolute position embeddings; config.json says '{}'",
                config.position_embedding_type
            ));
        }
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err(format!(
                "config.json: hidden_size {} is not a multiple of num_attention_heads {}",
                config.hidden_size, config.num_attention_heads
            ));
        }
        let weights_file = directory.join(crate::runtime::registry::WEIGHTS_FILE);
        if !weights_file.is_file() {
            return Err(format!(
                "{} is missing: convert the model (precis models convert {}, run by scripts/setup)",
                weights_file.display(),
                directory.display()
            ));
        }
        let stored = Tensor::load_multi_with_device(&weights_file, Device::Cpu)
            .map_err(|error| format!("cannot read {}: {error}", weights_file.display()))?;
        let mut weights: std::collections::HashMap<String, Tensor> = stored
            .into_iter()
            .map(|(name, tensor)| (parameter_name(&name), tensor))
            .collect();
        // Some conversions keep the `bert.` prefix of a task model.
        let prefix = if weights.contains_key("embeddings.word_embeddings.weight") {
            ""
        } else {
            "bert."
        };
        let mut take = |name: &str| -> Result<Tensor, String> {
            let full = format!("{prefix}{name}");
            let tensor = weights.remove(&full).ok_or_else(|| {
                format!(
                    "{} has no parameter '{full}': not a BERT encoder",
                    weights_file.display()
                )
            })?;
            // The matrices run in bf16; LayerNorm parameters too (libtorch's bf16 LayerNorm
            // accumulates in fp32).
            tensor
                .f_to_kind(Kind::BFloat16)
                .map_err(|error| format!("{full}: {error}"))
        };
        let word_embeddings = take("embeddings.word_embeddings.weight")?;
        let position_embeddings = take("embeddings.position_embeddings.weight")?;
        let token_type_embedding = take("embeddings.token_type_embeddings.weight")?
            .f_select(0, 0)
            .map_err(|error| error.to_string())?;
        let embeddings_norm = Affine {
            weight: take("embeddings.LayerNorm.weight")?,
            bias: take("embeddings.LayerNorm.bias")?,
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for index in 0..config.num_hidden_layers {
            let mut part = |name: &str| -> Result<Affine, String> {
                Ok(Affine {
                    weight: take(&format!("encoder.layer.{index}.{name}.weight"))?,
                    bias: take(&format!("encoder.layer.{index}.{name}.bias"))?,
                })
            };
            let (query, key, value) = (
                part("attention.self.query")?,
                part("attention.self.key")?,
                part("attention.self.value")?,
            );
            let stacked = |pick: fn(&Affine) -> &Tensor| {
                Tensor::f_cat(&[pick(&query), pick(&key), pick(&value)], 0)
                    .map_err(|error| error.to_string())
            };
            let query_key_value = Affine {
                weight: stacked(|p| &p.weight)?,
                bias: stacked(|p| &p.bias)?,
            };
            layers.push(EncoderLayer {
                query_key_value,
                attention_output: part("attention.output.dense")?,
                attention_norm: part("attention.output.LayerNorm")?,
                intermediate: part("intermediate.dense")?,
                output: part("output.dense")?,
                output_norm: part("output.LayerNorm")?,
            });
        }
        let hidden = word_embeddings.size().get(1).copied().unwrap_or(0);
        if hidden != config.hidden_size as i64 {
            return Err(format!(
                "the word embeddings are {hidden} wide; config.json says hidden_size {}",
                config.hidden_size
            ));
        }
        Ok(Self {
            word_embeddings,
            position_embeddings,
            token_type_embedding,
            embeddings_norm,
            layers,
            hidden_size: config.hidden_size,
            heads: config.num_attention_heads,
            layer_norm_eps: config.layer_norm_eps,
        })
    }

    /// Another handle to the same weights (no copy): libtorch ops read their inputs without
    /// changing them, so workers on other threads can run forward passes on it at once.
    fn share(&self) -> Self {
        Self {
            word_embeddings: self.word_embeddings.shallow_clone(),
            position_embeddings: self.position_embeddings.shallow_clone(),
            token_type_embedding: self.token_type_embedding.shallow_clone(),
            embeddings_norm: self.embeddings_norm.share(),
            layers: self.layers.iter().map(EncoderLayer::share).collect(),
            hidden_size: self.hidden_size,
            heads: self.heads,
            layer_norm_eps: self.layer_norm_eps,
        }
    }

    fn normalize(&self, input: &Tensor, norm: &Affine) -> Result<Tensor, tch::TchError> {
        input.f_layer_norm(
            [self.hidden_size as i64],
            Some(&norm.weight),
            Some(&norm.bias),
            self.layer_norm_eps,
            false,
        )
    }

    /// The last hidden state (fp32, `rows x width x hidden`) of token ids `ids` with padding
    /// `mask` (1 = token), both `rows x width`.
    fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor, tch::TchError> {
        let (rows, width) = ids.size2()?;
        let max_positions = self.position_embeddings.size()[0];
        if width > max_positions {
            return Err(tch::TchError::Shape(format!(
                "{width} tokens exceed the model's {max_positions} positions"
            )));
        }
        let positions = Tensor::f_arange(width, (Kind::Int64, Device::Cpu))?;
        let embedded = Tensor::f_embedding(&self.word_embeddings, ids, -1, false, false)?
            .f_add(&Tensor::f_embedding(
                &self.position_embeddings,
                &positions,
                -1,
                false,
                false,
            )?)?
            .f_add(&self.token_type_embedding)?;
        let mut hidden = self.normalize(&embedded, &self.embeddings_norm)?;
        // Padding keys are masked out for every query: rows x 1 x 1 x width, true = attend.
        let attend = mask.f_ne(0)?.f_view([rows, 1, 1, width])?;
        let head_size = (self.hidden_size / self.heads) as i64;
        for layer in &self.layers {
            let qkv = layer
                .query_key_value
                .forward(&hidden)?
                .f_view([rows, width, 3, self.heads as i64, head_size])?
                .f_permute([2, 0, 3, 1, 4])?;
            let (query, key, value) = (
                qkv.f_select(0, 0)?,
                qkv.f_select(0, 1)?,
                qkv.f_select(0, 2)?,
            );
            let context = Tensor::f_scaled_dot_product_attention(
                &query,
                &key,
                &value,
                Some(&attend),
                0.0,
                false,
                None,
            )?
            .f_transpose(1, 2)?
            .f_reshape([rows, width, self.hidden_size as i64])?;
            let attended = self.normalize(
                &layer.attention_output.forward(&context)?.f_add(&hidden)?,
                &layer.attention_norm,
            )?;
            let intermediate = layer.intermediate.forward(&attended)?.f_gelu("none")?;
            hidden = self.normalize(
                &layer.output.forward(&intermediate)?.f_add(&attended)?,
                &layer.output_norm,
            )?;
        }
        hidden.f_to_kind(Kind::Float)?.f_contiguous()
    }
}
