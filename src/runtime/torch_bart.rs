//! A project-owned BART-family encoder-decoder on libtorch (tch), for generation only: BART
//! (summarizers), Marian (OPUS-MT translation pairs), M2M100 / NLLB and mBART-50 (many-to-many
//! translation), one transformer with a small per-architecture [`Family`] of differences.
//!
//! Written from the model definitions (the `config.json` fields below). Shared: the attention,
//! feed-forward and search code, the output projection tied to the shared token embedding plus
//! `final_logits_bias` (zeros where a checkpoint has none). BART (Lewis et al. 2019): post-norm
//! layers, learned positions offset by 2, a layer norm on the embeddings, GELU, forced BOS/EOS
//! from its config. Marian (Junczys-Dowmunt et al. 2018, as OPUS-MT publishes it): post-norm,
//! sinusoidal position tables without offset (stored in the weights), embeddings scaled by
//! sqrt(d_model), no embedding layer norm, swish, decoding from the pad token, the pad token
//! never generated and EOS forced at the last step. M2M100 (Fan et al. 2020; NLLB shares its
//! architecture): pre-norm layers with a final layer norm after each stack, sinusoidal
//! positions computed here from the padding offset, scaled embeddings, ReLU. mBART (Liu et al.
//! 2020): pre-norm with final layer norms, learned positions offset by 2, a layer norm on the
//! embeddings, GELU. For both many-to-many families the target-language token is forced first
//! per call. It reads the same `rust_model.ot` tensors by their names.
//!
//! Why it exists (issue #14): rust-bert's generation copies every layer's encoder keys/values
//! once per beam and again at every step (a beam reorder plus a cache copy), which makes beam
//! search cost several times greedy. Here the encoder-side keys/values are computed once per
//! input and shared by its beams (the beams are the queries of one attention call), the
//! self-attention cache is preallocated for the whole output, one tensor for all layers, and a
//! beam reorder is one `index_select` over its filled part. Attention runs through libtorch's
//! fused `scaled_dot_product_attention`.
//!
//! The search reproduces the decisions of rust-bert's `generate` for BART (forced BOS/EOS,
//! minimum length, no repeated 3-grams, beam hypotheses with early stopping and length
//! penalty), so both paths produce the same tokens; tests/torch_bart.rs, tests/torch_marian.rs
//! and tests/torch_many_to_many.rs check that.
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use tch::{Kind, Tensor};

use crate::runtime::int8_linear;
use crate::runtime::packed_linear::{self, PackedWeight};
use crate::runtime::vocabulary_screen::VocabularyScreen;

/// What went wrong loading a model this path cannot or will not run.
#[derive(Debug, thiserror::Error)]
pub enum TorchBartError {
    #[error("{0}")]
    Unsupported(String),
    #[error("could not read the weights: {0}")]
    Weights(#[from] tch::TchError),
    #[error("could not read config.json: {0}")]
    Config(String),
}

/// The `config.json` fields this path reads.
#[derive(Debug, Clone, serde::Deserialize)]
struct BartConfig {
    d_model: i64,
    encoder_layers: i64,
    decoder_layers: i64,
    encoder_attention_heads: i64,
    decoder_attention_heads: i64,
    vocab_size: i64,
    #[serde(default)]
    activation_function: Option<String>,
    #[serde(default)]
    scale_embedding: Option<bool>,
    #[serde(default)]
    normalize_before: Option<bool>,
    #[serde(default)]
    add_final_layer_norm: Option<bool>,
    #[serde(default)]
    normalize_embedding: Option<bool>,
    #[serde(default)]
    static_position_embeddings: Option<bool>,
    #[serde(default)]
    model_type: Option<String>,
    #[serde(default)]
    max_position_embeddings: Option<i64>,
    #[serde(default)]
    eos_token_id: Option<i64>,
    #[serde(default)]
    pad_token_id: Option<i64>,
    #[serde(default)]
    decoder_start_token_id: Option<i64>,
    #[serde(default)]
    forced_bos_token_id: Option<i64>,
    #[serde(default)]
    forced_eos_token_id: Option<i64>,
}

/// Special token ids, from config.json with BART's defaults.
#[derive(Debug, Clone, Copy)]
pub struct SpecialTokens {
    pub pad: i64,
    pub eos: i64,
    pub decoder_start: i64,
    pub forced_bos: Option<i64>,
    pub forced_eos: Option<i64>,
}

/// Search settings (rust-bert's pipeline defaults besides these: no sampling, early stopping,
/// length penalty 1, one sequence per input).
#[derive(Debug, Clone, Copy)]
pub struct SearchSettings {
    pub num_beams: i64,
    pub min_length: i64,
    pub max_length: i64,
    /// No n-gram of this size is generated twice (0: no ban). rust-bert's summarization
    /// pipeline uses 3, its translation pipeline 0.
    pub no_repeat_ngram: usize,
    /// The token forced at the first step, over the model's own (a many-to-many model's
    /// target-language token, which rust-bert's translation pipeline passes per call).
    pub forced_bos: Option<i64>,
}

/// What the weights of the matrix products are stored and multiplied in. `Bf16` (opt-in, a
/// catalog entry's `precision = "bf16"`): every linear layer's weight and bias and the tied
/// embedding / output projection in bfloat16, each product's input rounded to bfloat16 and
/// its output back to fp32; layer norms, attention, the residual stream, the caches and the
/// search stay fp32. Half the weight memory, and libtorch runs bfloat16 products through
/// oneDNN, which uses this CPU's AVX-512 BF16 instructions, where fp32 goes through MKL.
/// Tokens may differ from fp32 (and from rust-bert's); quality is not judged here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    #[default]
    Fp32,
    Bf16,
}

impl Precision {
    /// The catalog's spelling: `fp32` or `bf16`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "fp32" => Some(Self::Fp32),
            "bf16" => Some(Self::Bf16),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Bf16 => "bf16",
        }
    }
}

/// The BART-family architectures this module runs, and what differs between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Bart,
    Marian,
    /// M2M100 and NLLB (`model_type` "m2m_100"): pre-norm layers with final layer norms,
    /// sinusoidal positions computed from the padding offset, ReLU.
    M2M100,
    /// mBART (here mBART-50): pre-norm layers with final layer norms, learned positions with
    /// offset 2, a layer norm on the embeddings, GELU.
    MBart,
}

impl Family {
    /// Pre-norm (normalize, sub-layer, add) with a layer norm after the last layer of the
    /// encoder and of the decoder; BART and Marian are post-norm (add, then normalize).
    fn pre_norm(self) -> bool {
        matches!(self, Self::M2M100 | Self::MBart)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activation {
    Gelu,
    Swish,
    Relu,
}

impl Activation {
    fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Self::Gelu => x.gelu("none"),
            Self::Swish => x.silu(),
            Self::Relu => x.relu(),
        }
    }
}

/// Where one generation's time went (the benchmark prints it; libtorch runs synchronously on
/// the CPU, so wall time around each call is that call's cost).
#[derive(Debug, Default, Clone, Copy)]
pub struct GenerationTimings {
    /// The encoder and every decoder layer's encoder-side keys/values, once per input.
    pub encoder: Duration,
    /// Decoder layers over all steps (self-attention with the cache, cross-attention, FFN).
    pub decoder_layers: Duration,
    /// The output projection to the vocabulary over all steps.
    pub lm_head: Duration,
    /// Everything else in the loop: scores, bans, top-k, hypotheses, cache reorders.
    pub search: Duration,
    pub steps: usize,
    /// Greedy steps whose tokens the vocabulary screen chose (the rest took the fp32
    /// projection).
    pub screened_steps: usize,
}

const LENGTH_PENALTY: f64 = 1.0;
/// Greedy steps in a row the vocabulary screen may fail to narrow before a generation stops
/// trying it.
const SCREEN_MISSES_BEFORE_GIVING_UP: usize = 3;
const LAYER_NORM_EPS: f64 = 1e-5;
/// Learned position embeddings start at row 2 (BART's offset); sinusoidal tables at row 0.
const LEARNED_POSITION_OFFSET: i64 = 2;

struct Linear {
    weight: LinearWeight,
    bias: Tensor,
}

/// A linear layer's weight as loaded, or in oneDNN's layout once [`TorchBart::pack_weights`]
/// ran (the plain tensor is then dropped: no second copy).
enum LinearWeight {
    Plain(Tensor),
    Packed(PackedWeight),
}

impl Linear {
    fn forward(&self, x: &Tensor) -> Tensor {
        match &self.weight {
            LinearWeight::Plain(weight) => {
                in_weight_kind(x, weight.kind(), |x| x.linear(weight, Some(&self.bias)))
            }
            LinearWeight::Packed(packed) => packed_product(x, packed, &self.bias),
        }
    }

    /// In `kind`; only before packing (`with_weights_in` runs first).
    fn to_kind(&self, kind: Kind) -> Self {
        let LinearWeight::Plain(weight) = &self.weight else {
            unreachable!("weights change kind before they are packed")
        };
        Self {
            weight: LinearWeight::Plain(weight.to_kind(kind)),
            bias: self.bias.to_kind(kind),
        }
    }

    /// For the few rows of a decoder step ([rows, in] → [rows, out]).
    fn forward_rows(&self, x: &Tensor) -> Tensor {
        match &self.weight {
            LinearWeight::Plain(weight) => project_rows(x, weight, &self.bias),
            LinearWeight::Packed(packed) => packed_product(x, packed, &self.bias),
        }
    }

    /// The weight in oneDNN's layout (unchanged if libtorch refuses it).
    fn packed(self) -> Self {
        let LinearWeight::Plain(weight) = &self.weight else {
            return self;
        };
        match PackedWeight::pack(weight) {
            Ok(packed) => Self {
                weight: LinearWeight::Packed(packed),
                bias: self.bias,
            },
            Err(error) => {
                tracing::warn!(%error, "a linear layer keeps libtorch's own product");
                self
            }
        }
    }
}

/// `x · weightᵀ + bias` through a packed weight, `x` in fp32 and the result in fp32.
fn packed_product(x: &Tensor, packed: &PackedWeight, bias: &Tensor) -> Tensor {
    in_weight_kind(x, packed.kind(), |x| {
        // As tch's own operators do: a refused product is a bug (shapes are the model's), not
        // input.
        packed
            .forward(x, Some(bias))
            .unwrap_or_else(|error| panic!("{error}"))
    })
}

/// `x · weightᵀ + bias` for the few rows of a decoder step. `linear` makes MKL copy (pack) the
/// whole weight first, which only pays off over enough rows: for one row, and for an output
/// projection to the vocabulary up to 4 rows, `(weight · xᵀ)ᵀ` streams the weight once instead.
/// Measured on libtorch 2.4, one thread (python micro-benchmark of the same kernels): a 50,264 x
/// 1,024 projection at 4 rows 40 ms → 21 ms, 65,001 x 512 24 → 12 ms; but layer weights (512 to
/// 4,096 wide) and 8 rows or more are as fast or faster with `linear` (2,048 x 512 at 9 rows:
/// 0.40 ms against 1.18 ms), so beams of a batch of inputs keep `linear`.
///
/// A vocabulary-sized weight at more than [`STREAMED_VOCABULARY_ROWS`] rows goes through
/// `linear` in slices of [`VOCABULARY_SLICE_BYTES`] of weight rows: MKL then packs a slice that
/// stays in cache instead of the whole weight (session 11, same kernels, one thread, 128,112 x
/// 1,024: 9 rows 119 → 70-76 ms, 36 rows 162 → 141-148 ms).
/// Each logit is still one dot product over the same row by the same kernel, so the values
/// equal the unsliced projection's (bit-equal in that probe; the test below allows rounding).
fn project_rows(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Tensor {
    in_weight_kind(x, weight.kind(), |x| project_rows_in_kind(x, weight, bias))
}

/// `product` of `x` in the weight's kind, back in fp32: bfloat16 weights multiply bfloat16
/// inputs (oneDNN's kernels), the rest of the model stays fp32.
fn in_weight_kind(x: &Tensor, kind: Kind, product: impl FnOnce(&Tensor) -> Tensor) -> Tensor {
    if kind == Kind::BFloat16 {
        product(&x.to_kind(Kind::BFloat16)).to_kind(Kind::Float)
    } else {
        product(x)
    }
}

fn project_rows_in_kind(x: &Tensor, weight: &Tensor, bias: &Tensor) -> Tensor {
    let rows = x.size()[0];
    let vocabulary_sized = weight.numel() as i64 >= VOCABULARY_SIZED;
    // bfloat16 products are oneDNN's, which has no packing cost to avoid: one row goes
    // through the slices too (probe: 128,112 x 1,024 at one row 51 ms whole, 27 ms sliced).
    let streams_weight = if vocabulary_sized {
        rows <= STREAMED_VOCABULARY_ROWS
    } else {
        rows == 1
    };
    if streams_weight && weight.kind() != Kind::BFloat16 {
        return (weight.matmul(&x.tr()).tr() + bias).contiguous();
    }
    if vocabulary_sized {
        let [outputs, width] = weight.size()[..] else {
            return x.linear(weight, Some(bias));
        };
        let element_bytes = weight.kind().elt_size_in_bytes() as i64;
        let slice_rows = (VOCABULARY_SLICE_BYTES / (width * element_bytes).max(1)).max(1);
        let slices: Vec<Tensor> = (0..outputs)
            .step_by(slice_rows as usize)
            .map(|start| {
                let length = slice_rows.min(outputs - start);
                x.linear(
                    &weight.narrow(0, start, length),
                    Some(&bias.narrow(0, start, length)),
                )
            })
            .collect();
        return Tensor::cat(&slices, 1);
    }
    x.linear(weight, Some(bias))
}

/// [`packed_product`] for a projection to the vocabulary: on AVX-512 CPUs, fewer than
/// [`PACKED_VOCABULARY_ROWS`] rows are padded with zero rows to that many (each row's logits are
/// its own dot products, so the padding changes no value). There oneDNN's kernel for one row is
/// slower than its kernel for four (`scripts/probe_packed_linear.py`, session 15's Zen 4 host:
/// 128,112 x 1,024 at 1 row 29.7 ms, at 4 rows 19.6 ms; 50,264 x 1,024 12.4 against 8.0 ms);
/// on AVX2 it is not (session 16's host, AVX-512 hidden: 18.4 against 23.7 ms, 8.0 against 9.4).
fn packed_vocabulary_product(x: &Tensor, packed: &PackedWeight, bias: &Tensor) -> Tensor {
    let rows = x.size()[0];
    if rows >= PACKED_VOCABULARY_ROWS || !crate::runtime::cpu::avx512() {
        return packed_product(x, packed, bias);
    }
    let padded = Tensor::cat(
        &[
            x.shallow_clone(),
            x.zeros_like()
                .narrow(0, 0, 1)
                .expand([PACKED_VOCABULARY_ROWS - rows, -1], false),
        ],
        0,
    );
    packed_product(&padded, packed, bias).narrow(0, 0, rows)
}

/// See [`packed_vocabulary_product`].
const PACKED_VOCABULARY_ROWS: i64 = 4;

/// From this many elements a weight is an output projection to the vocabulary.
const VOCABULARY_SIZED: i64 = 16 << 20;
/// Weight bytes per slice of a vocabulary projection (2,048 rows of 1,024 floats).
const VOCABULARY_SLICE_BYTES: i64 = 8 << 20;
/// Up to this many rows an fp32 vocabulary projection streams the weight once (`weight · xᵀ`)
/// rather than going through slices (`scripts/probe_vocabulary_projection.py`, session 12, one
/// thread, median of 15: 50,264 x 1,024 at 4 rows 11.7 ms against 20.2 sliced, 128,112 x 1,024
/// 27.9 against 45.1; at 8 rows slices win, 22.5 against 35.6 and 59.4 against 98.8).
const STREAMED_VOCABULARY_ROWS: i64 = 4;

struct Norm {
    weight: Tensor,
    bias: Tensor,
}

impl Norm {
    fn forward(&self, x: &Tensor) -> Tensor {
        let width = self.weight.size()[0];
        x.layer_norm(
            [width],
            Some(&self.weight),
            Some(&self.bias),
            LAYER_NORM_EPS,
            true,
        )
    }
}

struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
}

struct FeedForward {
    up: Linear,
    down: Linear,
    activation: Activation,
}

impl FeedForward {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.down
            .forward(&self.activation.apply(&self.up.forward(x)))
    }

    fn forward_rows(&self, x: &Tensor) -> Tensor {
        self.down
            .forward_rows(&self.activation.apply(&self.up.forward_rows(x)))
    }
}

struct EncoderLayer {
    attention: Attention,
    attention_norm: Norm,
    feed_forward: FeedForward,
    output_norm: Norm,
}

struct DecoderLayer {
    self_attention: Attention,
    self_attention_norm: Norm,
    cross_attention: Attention,
    cross_attention_norm: Norm,
    feed_forward: FeedForward,
    output_norm: Norm,
}

/// BART-family weights and shapes.
pub struct TorchBart {
    family: Family,
    shared: Tensor,
    final_logits_bias: Tensor,
    encoder_positions: Tensor,
    decoder_positions: Tensor,
    /// First row of the position tables used (2 for learned, 0 for sinusoidal).
    position_offset: i64,
    /// The padding index of a sinusoidal table computed here (M2M100), so a longer table can
    /// be computed when an input outgrows it; `None` for tables read from the weights.
    computed_positions_padding: Option<i64>,
    encoder_embedding_norm: Option<Norm>,
    decoder_embedding_norm: Option<Norm>,
    /// Pre-norm families' layer norms after the last encoder / decoder layer.
    encoder_final_norm: Option<Norm>,
    decoder_final_norm: Option<Norm>,
    encoder_layers: Vec<EncoderLayer>,
    decoder_layers: Vec<DecoderLayer>,
    embed_scale: f64,
    heads: i64,
    head_dim: i64,
    d_model: i64,
    vocab: i64,
    pub tokens: SpecialTokens,
    /// Greedy steps choose their token through a bf16 copy of the output projection
    /// ([`VocabularyScreen`]) when set (`set_vocabulary_screen`).
    screen: Option<VocabularyScreen>,
    /// The output projection in oneDNN's layout ([`Self::pack_weights`]); `shared` stays for
    /// the embedding lookups, so this is a second copy of the tied embedding.
    packed_projection: Option<PackedWeight>,
}

struct Weights(HashMap<String, Tensor>);

impl Weights {
    fn take(&mut self, name: &str) -> Result<Tensor, TorchBartError> {
        self.0
            .remove(name)
            .ok_or_else(|| TorchBartError::Unsupported(format!("weights have no tensor {name}")))
    }
    fn linear(&mut self, prefix: &str) -> Result<Linear, TorchBartError> {
        Ok(Linear {
            weight: LinearWeight::Plain(self.take(&format!("{prefix}.weight"))?),
            bias: self.take(&format!("{prefix}.bias"))?,
        })
    }
    fn norm(&mut self, prefix: &str) -> Result<Norm, TorchBartError> {
        Ok(Norm {
            weight: self.take(&format!("{prefix}.weight"))?,
            bias: self.take(&format!("{prefix}.bias"))?,
        })
    }
    fn attention(&mut self, prefix: &str) -> Result<Attention, TorchBartError> {
        Ok(Attention {
            query: self.linear(&format!("{prefix}.q_proj"))?,
            key: self.linear(&format!("{prefix}.k_proj"))?,
            value: self.linear(&format!("{prefix}.v_proj"))?,
            out: self.linear(&format!("{prefix}.out_proj"))?,
        })
    }
    fn feed_forward(
        &mut self,
        prefix: &str,
        activation: Activation,
    ) -> Result<FeedForward, TorchBartError> {
        Ok(FeedForward {
            up: self.linear(&format!("{prefix}.fc1"))?,
            down: self.linear(&format!("{prefix}.fc2"))?,
            activation,
        })
    }
}

/// Per-input encoder state for the decoder: every layer's encoder keys and values, once per
/// input (not per beam), and the padding mask.
struct EncoderState {
    /// Per decoder layer: (keys, values), each [batch, heads, source, head_dim].
    cross: Vec<(Tensor, Tensor)>,
    /// [batch or 1, 1, 1, source], true where a real token is.
    mask: Tensor,
}

/// The decoder's self-attention keys and values for all layers, preallocated for the whole
/// output: [2 * layers, rows, heads, max_steps, head_dim]. Rows are beams (batch-major).
struct SelfCache {
    states: Tensor,
    /// A second buffer of the same shape, allocated at the first reorder: a reorder copies
    /// into it and the two swap.
    spare: Option<Tensor>,
    filled: i64,
}

impl SelfCache {
    fn keys(&self, layer: usize) -> Tensor {
        self.states.get(2 * layer as i64)
    }
    fn values(&self, layer: usize) -> Tensor {
        self.states.get(2 * layer as i64 + 1)
    }
    /// Rows take the cache of the rows they continue. The filled part is copied into the spare
    /// buffer one run of consecutive source rows at a time (a plain strided copy), then the
    /// buffers swap: `index_select` over the filled part (a non-contiguous view) took its slow
    /// generic path, 0.05-0.27 s per step for 36 rows of M2M100's widths (session 11 profile)
    /// against about a tenth of that for the copies.
    fn reorder(&mut self, rows: &[i64]) {
        if rows.iter().enumerate().all(|(i, &row)| i as i64 == row) {
            return;
        }
        let spare = self
            .spare
            .take()
            .unwrap_or_else(|| self.states.empty_like());
        let filled = self.states.narrow(3, 0, self.filled);
        let target = spare.narrow(3, 0, self.filled);
        let mut start = 0;
        while start < rows.len() {
            let mut end = start + 1;
            while end < rows.len() && rows[end] == rows[end - 1] + 1 {
                end += 1;
            }
            let length = (end - start) as i64;
            target
                .narrow(1, start as i64, length)
                .copy_(&filled.narrow(1, rows[start], length));
            start = end;
        }
        self.spare = Some(std::mem::replace(&mut self.states, spare));
    }
}

impl TorchBart {
    /// Loads config.json and rust_model.ot from `dir`. Refuses what it does not implement
    /// (other architectures, pre-norm variants of BART or Marian, other activations).
    pub fn load(dir: &Path, weights_file: &str) -> Result<Self, TorchBartError> {
        Self::load_with(dir, weights_file, Precision::Fp32)
    }

    /// [`Self::load`] with the matrix products' weights in `precision`.
    pub fn load_with(
        dir: &Path,
        weights_file: &str,
        precision: Precision,
    ) -> Result<Self, TorchBartError> {
        let model = Self::load_fp32(dir, weights_file)?;
        let model = match precision {
            Precision::Fp32 => model,
            Precision::Bf16 => model.with_weights_in(Kind::BFloat16),
        };
        let kind = model.shared.kind();
        Ok(if packed_linear::available(kind) {
            model.pack_weights()
        } else {
            tracing::info!(
                ?kind,
                "oneDNN cannot pack these weights here (no operators, or bf16 without AVX-512): \
                 torch-bart multiplies through libtorch's linear"
            );
            model
        })
    }

    /// Every linear layer's weight and the output projection in oneDNN's layout
    /// ([`packed_linear`]): a decoder step's products at 4 to 36 rows take 1.4-3.6x less time
    /// than libtorch's `linear`. Layers drop their plain weight; the projection keeps
    /// `shared` beside its packed copy (the embedding lookups read it).
    fn pack_weights(mut self) -> Self {
        let attention = |a: Attention| Attention {
            query: a.query.packed(),
            key: a.key.packed(),
            value: a.value.packed(),
            out: a.out.packed(),
        };
        let feed_forward = |f: FeedForward| FeedForward {
            up: f.up.packed(),
            down: f.down.packed(),
            activation: f.activation,
        };
        self.encoder_layers = std::mem::take(&mut self.encoder_layers)
            .into_iter()
            .map(|layer| EncoderLayer {
                attention: attention(layer.attention),
                feed_forward: feed_forward(layer.feed_forward),
                ..layer
            })
            .collect();
        self.decoder_layers = std::mem::take(&mut self.decoder_layers)
            .into_iter()
            .map(|layer| DecoderLayer {
                self_attention: attention(layer.self_attention),
                cross_attention: attention(layer.cross_attention),
                feed_forward: feed_forward(layer.feed_forward),
                ..layer
            })
            .collect();
        self.packed_projection = PackedWeight::pack(&self.shared)
            .inspect_err(|error| tracing::warn!(%error, "the output projection keeps libtorch's own product"))
            .ok();
        self
    }

    /// Greedy steps through a [`VocabularyScreen`] (`true`) or the fp32 projection. Both give
    /// the fp32 argmax; the screen holds an int8 copy of the projection (a quarter of its fp32
    /// bytes again; bf16, half, where libtorch has no int8 product), so it is worth it only
    /// where [`Self::screen_pays_off`]. bf16 weights have no fp32 projection to screen.
    pub fn set_vocabulary_screen(&mut self, on: bool) {
        self.screen =
            (on && self.shared.kind() == Kind::Float).then(|| VocabularyScreen::new(&self.shared));
    }

    /// Whether a model that decodes with `beams` gains from the screen here: greedy search
    /// only (beam search needs every logit), with an int8 screen, whose product streams a
    /// quarter of the fp32 bytes (`python scripts/probe_int8_projection.py`); or a bf16 one on
    /// a CPU with native bf16 over an unpacked projection. A packed fp32 projection
    /// ([`Self::pack_weights`]) is faster than bf16's product: at one row padded to four,
    /// M2M100's 128,112 tokens take ~20 ms against ~30 ms (session 15).
    pub fn screen_pays_off(&self, beams: i64) -> bool {
        beams == 1
            && (int8_linear::available()
                || (crate::runtime::native_bf16().is_some() && self.packed_projection.is_none()))
    }

    /// The bytes the vocabulary screen holds (0 without one).
    pub fn vocabulary_screen_bytes(&self) -> usize {
        self.screen.as_ref().map_or(0, VocabularyScreen::bytes)
    }

    /// Every linear layer and the tied embedding / output projection in `kind`.
    fn with_weights_in(mut self, kind: Kind) -> Self {
        let attention = |a: &Attention| Attention {
            query: a.query.to_kind(kind),
            key: a.key.to_kind(kind),
            value: a.value.to_kind(kind),
            out: a.out.to_kind(kind),
        };
        let feed_forward = |f: &FeedForward| FeedForward {
            up: f.up.to_kind(kind),
            down: f.down.to_kind(kind),
            activation: f.activation,
        };
        for layer in &mut self.encoder_layers {
            layer.attention = attention(&layer.attention);
            layer.feed_forward = feed_forward(&layer.feed_forward);
        }
        for layer in &mut self.decoder_layers {
            layer.self_attention = attention(&layer.self_attention);
            layer.cross_attention = attention(&layer.cross_attention);
            layer.feed_forward = feed_forward(&layer.feed_forward);
        }
        self.shared = self.shared.to_kind(kind);
        self.final_logits_bias = self.final_logits_bias.to_kind(kind);
        self
    }

    /// The precision the matrix products' weights are in.
    pub fn precision(&self) -> Precision {
        if self.shared.kind() == Kind::BFloat16 {
            Precision::Bf16
        } else {
            Precision::Fp32
        }
    }

    fn load_fp32(dir: &Path, weights_file: &str) -> Result<Self, TorchBartError> {
        let text = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|error| TorchBartError::Config(error.to_string()))?;
        let config: BartConfig = serde_json::from_str(&text)
            .map_err(|error| TorchBartError::Config(error.to_string()))?;
        let refuse = |what: &str| Err(TorchBartError::Unsupported(what.to_string()));
        let family = match config.model_type.as_deref() {
            Some("bart") => Family::Bart,
            Some("marian") => Family::Marian,
            Some("m2m_100") => Family::M2M100,
            Some("mbart") => Family::MBart,
            _ => return refuse(
                "only model_type \"bart\", \"marian\", \"m2m_100\" or \"mbart\" runs on this path",
            ),
        };
        if !family.pre_norm()
            && (config.normalize_before == Some(true) || config.add_final_layer_norm == Some(true))
        {
            return refuse("pre-norm variants of BART or Marian do not run on this path");
        }
        // rust-bert reads these two keys for BART and Marian (its Marian is its BART); absent,
        // each architecture's own layout applies. M2M100 and mBART have one layout each.
        let sinusoidal = match family {
            Family::Bart | Family::Marian => config
                .static_position_embeddings
                .unwrap_or(family == Family::Marian),
            Family::M2M100 => true,
            Family::MBart => false,
        };
        let embedding_norm = match family {
            Family::Bart | Family::Marian => {
                config.normalize_embedding.unwrap_or(family == Family::Bart)
            }
            Family::M2M100 => false,
            Family::MBart => true,
        };
        let default_activation = match family {
            Family::Bart | Family::MBart => "gelu",
            Family::Marian => "swish",
            Family::M2M100 => "relu",
        };
        let activation = match config
            .activation_function
            .as_deref()
            .unwrap_or(default_activation)
        {
            "gelu" => Activation::Gelu,
            "swish" | "silu" => Activation::Swish,
            "relu" => Activation::Relu,
            _ => return refuse("only the GELU, swish and ReLU activations run on this path"),
        };
        if config.encoder_attention_heads != config.decoder_attention_heads {
            return refuse("encoder and decoder must have the same number of heads");
        }
        let mut weights = Weights(
            Tensor::load_multi(dir.join(weights_file))?
                .into_iter()
                .collect(),
        );
        let shared = weights.take("model.shared.weight")?;
        let vocab = shared.size()[0];
        if vocab != config.vocab_size {
            return refuse("config vocab_size differs from the embedding's rows");
        }
        let final_logits_bias = match weights.take("final_logits_bias") {
            Ok(bias) => bias.view([-1]),
            Err(_) => Tensor::zeros([vocab], (Kind::Float, shared.device())),
        };
        let mut encoder_layers = Vec::new();
        for layer in 0..config.encoder_layers {
            let prefix = format!("model.encoder.layers.{layer}");
            encoder_layers.push(EncoderLayer {
                attention: weights.attention(&format!("{prefix}.self_attn"))?,
                attention_norm: weights.norm(&format!("{prefix}.self_attn_layer_norm"))?,
                feed_forward: weights.feed_forward(&prefix, activation)?,
                output_norm: weights.norm(&format!("{prefix}.final_layer_norm"))?,
            });
        }
        let mut decoder_layers = Vec::new();
        for layer in 0..config.decoder_layers {
            let prefix = format!("model.decoder.layers.{layer}");
            decoder_layers.push(DecoderLayer {
                self_attention: weights.attention(&format!("{prefix}.self_attn"))?,
                self_attention_norm: weights.norm(&format!("{prefix}.self_attn_layer_norm"))?,
                cross_attention: weights.attention(&format!("{prefix}.encoder_attn"))?,
                cross_attention_norm: weights.norm(&format!("{prefix}.encoder_attn_layer_norm"))?,
                feed_forward: weights.feed_forward(&prefix, activation)?,
                output_norm: weights.norm(&format!("{prefix}.final_layer_norm"))?,
            });
        }
        let heads = config.encoder_attention_heads;
        let (encoder_embedding_norm, decoder_embedding_norm) = if embedding_norm {
            (
                Some(weights.norm("model.encoder.layernorm_embedding")?),
                Some(weights.norm("model.decoder.layernorm_embedding")?),
            )
        } else {
            (None, None)
        };
        let (encoder_final_norm, decoder_final_norm) = if family.pre_norm() {
            (
                Some(weights.norm("model.encoder.layer_norm")?),
                Some(weights.norm("model.decoder.layer_norm")?),
            )
        } else {
            (None, None)
        };
        let tokens = match family {
            Family::Bart => SpecialTokens {
                pad: config.pad_token_id.unwrap_or(1),
                eos: config.eos_token_id.unwrap_or(2),
                decoder_start: config.decoder_start_token_id.unwrap_or(2),
                forced_bos: config.forced_bos_token_id,
                forced_eos: config.forced_eos_token_id,
            },
            // rust-bert's Marian defaults (those of its one bundled checkpoint); EOS is always
            // forced at the last step, whatever the config says.
            Family::Marian => {
                let pad = config.pad_token_id.unwrap_or(58100);
                let eos = config.eos_token_id.unwrap_or(0);
                SpecialTokens {
                    pad,
                    eos,
                    decoder_start: config.decoder_start_token_id.unwrap_or(pad),
                    forced_bos: None,
                    forced_eos: Some(eos),
                }
            }
            // As rust-bert's M2M100 and mBART generators read them: the first token is forced
            // per call (the target language), never from the config; M2M100 forces no EOS.
            Family::M2M100 | Family::MBart => {
                let eos = config.eos_token_id.unwrap_or(2);
                SpecialTokens {
                    pad: config.pad_token_id.unwrap_or(1),
                    eos,
                    decoder_start: config.decoder_start_token_id.unwrap_or(eos),
                    forced_bos: None,
                    forced_eos: match family {
                        Family::MBart => config.forced_eos_token_id,
                        _ => None,
                    },
                }
            }
        };
        // M2M100's sinusoidal table is not in the weights: it is computed from the model
        // definition, with the rows before the first position (the padding offset) unused.
        let (encoder_positions, decoder_positions, position_offset, computed_positions_padding) =
            if family == Family::M2M100 {
                let rows = config.max_position_embeddings.unwrap_or(1024) + tokens.pad + 1;
                let table = sinusoidal_positions(rows, config.d_model, tokens.pad);
                (
                    table.shallow_clone(),
                    table,
                    tokens.pad + 1,
                    Some(tokens.pad),
                )
            } else {
                (
                    weights.take("model.encoder.embed_positions.weight")?,
                    weights.take("model.decoder.embed_positions.weight")?,
                    if sinusoidal {
                        0
                    } else {
                        LEARNED_POSITION_OFFSET
                    },
                    None,
                )
            };
        Ok(Self {
            family,
            encoder_positions,
            decoder_positions,
            position_offset,
            computed_positions_padding,
            encoder_embedding_norm,
            decoder_embedding_norm,
            encoder_final_norm,
            decoder_final_norm,
            shared,
            final_logits_bias,
            encoder_layers,
            decoder_layers,
            embed_scale: if config.scale_embedding == Some(true) {
                (config.d_model as f64).sqrt()
            } else {
                1.0
            },
            heads,
            head_dim: config.d_model / heads,
            d_model: config.d_model,
            vocab,
            tokens,
            screen: None,
            packed_projection: None,
        })
    }

    /// [batch, length, d_model] → [batch, heads, length, head_dim]
    fn split_heads(&self, x: &Tensor, batch: i64) -> Tensor {
        x.view([batch, -1, self.heads, self.head_dim])
            .transpose(1, 2)
    }

    /// [batch, heads, length, head_dim] → [batch, length, d_model]
    fn merge_heads(&self, x: &Tensor, batch: i64) -> Tensor {
        x.transpose(1, 2).reshape([batch, -1, self.d_model])
    }

    /// Rows `start..start + length` of a position table; a computed (sinusoidal) table is
    /// computed longer when they run past it, as the model definition allows any length.
    fn position_rows(&self, table: &Tensor, start: i64, length: i64) -> Tensor {
        match self.computed_positions_padding {
            Some(padding) if start + length > table.size()[0] => {
                sinusoidal_positions(start + length, self.d_model, padding).narrow(0, start, length)
            }
            _ => table.narrow(0, start, length),
        }
    }

    /// `x` plus what `sublayer` makes of it, normalized by `norm` before the sub-layer
    /// (pre-norm families) or after the sum (post-norm).
    fn residual(&self, norm: &Norm, x: Tensor, sublayer: impl FnOnce(&Tensor) -> Tensor) -> Tensor {
        if self.family.pre_norm() {
            let added = sublayer(&norm.forward(&x));
            x + added
        } else {
            let added = sublayer(&x);
            norm.forward(&(x + added))
        }
    }

    fn encode(&self, input_ids: &Tensor, mask: &Tensor) -> Tensor {
        let (batch, length) = input_ids.size2().expect("input ids are [batch, length]");
        let positions = self
            .position_rows(&self.encoder_positions, self.position_offset, length)
            .unsqueeze(0);
        let embedded = Tensor::embedding(&self.shared, input_ids, self.tokens.pad, false, false)
            .to_kind(Kind::Float)
            * self.embed_scale
            + positions;
        let mut x = normalized(self.encoder_embedding_norm.as_ref(), embedded);
        for layer in &self.encoder_layers {
            let attention = &layer.attention;
            x = self.residual(&layer.attention_norm, x, |x| {
                let q = self.split_heads(&attention.query.forward(x), batch);
                let k = self.split_heads(&attention.key.forward(x), batch);
                let v = self.split_heads(&attention.value.forward(x), batch);
                let attended = Tensor::scaled_dot_product_attention(
                    &q,
                    &k,
                    &v,
                    Some(mask),
                    0.0,
                    false,
                    None::<f64>,
                );
                attention.out.forward(&self.merge_heads(&attended, batch))
            });
            x = self.residual(&layer.output_norm, x, |x| layer.feed_forward.forward(x));
        }
        normalized(self.encoder_final_norm.as_ref(), x)
    }

    fn encoder_state(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        padded: bool,
    ) -> EncoderState {
        let batch = input_ids.size()[0];
        let mask = if padded {
            attention_mask.ne(0).view([batch, 1, 1, -1])
        } else {
            everywhere(input_ids.size()[1])
        };
        let encoded = self.encode(input_ids, &mask);
        let cross = self
            .decoder_layers
            .iter()
            .map(|layer| {
                let attention = &layer.cross_attention;
                (
                    self.split_heads(&attention.key.forward(&encoded), batch)
                        .contiguous(),
                    self.split_heads(&attention.value.forward(&encoded), batch)
                        .contiguous(),
                )
            })
            .collect();
        EncoderState { cross, mask }
    }

    /// One decoder step over the cache: `tokens` [rows] at position `step` (rows = batch *
    /// beams, batch-major) → the final decoder states [rows, d_model] (the projection to the
    /// vocabulary is [`Self::project`]'s, or greedy search's [`Self::most_likely`]'s).
    fn decode_step(
        &self,
        tokens: &Tensor,
        step: i64,
        beams: i64,
        encoder: &EncoderState,
        cache: &mut SelfCache,
        timings: &mut GenerationTimings,
    ) -> Tensor {
        let started = Instant::now();
        let rows = tokens.size()[0];
        let batch = rows / beams;
        let position = self
            .position_rows(&self.decoder_positions, self.position_offset + step, 1)
            .squeeze_dim(0);
        // x: [rows, d_model] throughout the step.
        let embedded = Tensor::embedding(&self.shared, tokens, self.tokens.pad, false, false)
            .to_kind(Kind::Float)
            * self.embed_scale
            + position;
        let mut x = normalized(self.decoder_embedding_norm.as_ref(), embedded);
        for (index, layer) in self.decoder_layers.iter().enumerate() {
            let attention = &layer.self_attention;
            x = self.residual(&layer.self_attention_norm, x, |x| {
                let q = self.split_heads(&attention.query.forward_rows(x), rows);
                let k = self.split_heads(&attention.key.forward_rows(x), rows);
                let v = self.split_heads(&attention.value.forward_rows(x), rows);
                cache.keys(index).narrow(2, step, 1).copy_(&k);
                cache.values(index).narrow(2, step, 1).copy_(&v);
                let keys = cache.keys(index).narrow(2, 0, step + 1);
                let values = cache.values(index).narrow(2, 0, step + 1);
                let attended = Tensor::scaled_dot_product_attention(
                    &q,
                    &keys,
                    &values,
                    Some(&everywhere(step + 1)),
                    0.0,
                    false,
                    None::<f64>,
                );
                attention
                    .out
                    .forward_rows(&self.merge_heads(&attended, rows).view([rows, self.d_model]))
            });

            // The beams of one input are the queries of one attention over its encoder states.
            let attention = &layer.cross_attention;
            x = self.residual(&layer.cross_attention_norm, x, |x| {
                let q = attention
                    .query
                    .forward_rows(x)
                    .view([batch, beams, self.heads, self.head_dim])
                    .transpose(1, 2);
                let (keys, values) = &encoder.cross[index];
                let attended = Tensor::scaled_dot_product_attention(
                    &q,
                    keys,
                    values,
                    Some(&encoder.mask),
                    0.0,
                    false,
                    None::<f64>,
                );
                attention
                    .out
                    .forward_rows(&attended.transpose(1, 2).reshape([rows, self.d_model]))
            });
            x = self.residual(&layer.output_norm, x, |x| {
                layer.feed_forward.forward_rows(x)
            });
        }
        let x = normalized(self.decoder_final_norm.as_ref(), x);
        cache.filled = step + 1;
        timings.decoder_layers += started.elapsed();
        timings.steps += 1;
        x
    }

    /// The step's logits `[rows, vocabulary]` from its decoder states.
    fn project(&self, x: &Tensor, timings: &mut GenerationTimings) -> Tensor {
        let projecting = Instant::now();
        let logits = match &self.packed_projection {
            Some(packed) => packed_vocabulary_product(x, packed, &self.final_logits_bias),
            None => project_rows(x, &self.shared, &self.final_logits_bias),
        };
        timings.lm_head += projecting.elapsed();
        logits
    }

    /// Each row's argmax of `process(logits)`: through the screen when there is one, `screen`
    /// is set and it narrows the vocabulary enough (the second value), else over the full fp32
    /// projection.
    fn most_likely(
        &self,
        x: &Tensor,
        screen: bool,
        process: impl Fn(&mut Tensor),
        timings: &mut GenerationTimings,
    ) -> (Vec<i64>, bool) {
        let projecting = Instant::now();
        let screened =
            self.screen.as_ref().filter(|_| screen).and_then(|screen| {
                screen.argmax(x, &self.shared, &self.final_logits_bias, &process)
            });
        timings.lm_head += projecting.elapsed();
        if let Some(tokens) = screened {
            timings.screened_steps += 1;
            return (tokens, true);
        }
        let mut logits = self.project(x, timings);
        process(&mut logits);
        let tokens = Vec::<i64>::try_from(logits.argmax(-1, false)).unwrap_or_default();
        (tokens, false)
    }

    fn new_cache(&self, rows: i64, steps: i64) -> SelfCache {
        let layers = self.decoder_layers.len() as i64;
        SelfCache {
            states: Tensor::zeros(
                [2 * layers, rows, self.heads, steps.max(1), self.head_dim],
                (Kind::Float, self.shared.device()),
            ),
            spare: None,
            filled: 0,
        }
    }

    /// Generates for right-padded `input_ids` [batch, length] (attention mask: non-pad). Returns
    /// per input the token ids as rust-bert's `generate_indices` does: the decoder start token,
    /// the generated tokens, and EOS / padding as its output tensor holds them.
    pub fn generate(&self, inputs: &[Vec<i64>], settings: SearchSettings) -> Vec<Vec<i64>> {
        self.generate_timed(inputs, settings).0
    }

    /// [`Self::generate`], with where its time went.
    pub fn generate_timed(
        &self,
        inputs: &[Vec<i64>],
        settings: SearchSettings,
    ) -> (Vec<Vec<i64>>, GenerationTimings) {
        let _no_grad = tch::no_grad_guard();
        let mut timings = GenerationTimings::default();
        if inputs.is_empty() {
            return (Vec::new(), timings);
        }
        let started = Instant::now();
        let longest = inputs.iter().map(Vec::len).max().unwrap_or(0);
        let padded: Vec<i64> = inputs
            .iter()
            .flat_map(|ids| {
                ids.iter()
                    .copied()
                    .chain(std::iter::repeat_n(self.tokens.pad, longest - ids.len()))
            })
            .collect();
        let input_ids = Tensor::from_slice(&padded).view([inputs.len() as i64, longest as i64]);
        let attention_mask = input_ids.ne(self.tokens.pad);
        let padded_any = inputs.iter().any(|ids| ids.len() < longest);
        let encoder = self.encoder_state(&input_ids, &attention_mask, padded_any);
        let searching = Instant::now();
        timings.encoder = searching - started;
        let ids = if settings.num_beams > 1 {
            self.beam_search(&encoder, inputs.len(), settings, &mut timings)
        } else {
            self.greedy(&encoder, inputs.len(), settings, &mut timings)
        };
        timings.search = searching
            .elapsed()
            .saturating_sub(timings.decoder_layers + timings.lm_head);
        (ids, timings)
    }

    /// Sets every logit but `token`'s to -inf in every row.
    fn force(&self, logits: &mut Tensor, token: i64) {
        let others: Vec<i64> = (0..self.vocab).filter(|&id| id != token).collect();
        let _ = logits.index_fill_(1, &Tensor::from_slice(&others), f64::NEG_INFINITY);
    }

    /// Each architecture's own rule on the next token's logits (rust-bert's
    /// `prepare_scores_for_generation`). BART, M2M100, mBART: forced BOS (the call's, else the
    /// model's) at the first step, else forced EOS at the last. Marian: the pad token (its decoder start) is never generated, and EOS is forced
    /// at the last step.
    fn force_special(&self, logits: &mut Tensor, length: i64, settings: &SearchSettings) {
        let max_length = settings.max_length;
        match self.family {
            Family::Bart | Family::M2M100 | Family::MBart => {
                if length == 1 {
                    if let Some(bos) = settings.forced_bos.or(self.tokens.forced_bos) {
                        self.force(logits, bos);
                    }
                } else if let Some(eos) = self.tokens.forced_eos {
                    if length == max_length - 1 {
                        self.force(logits, eos);
                    }
                }
            }
            Family::Marian => {
                let _ = logits.index_fill_(
                    1,
                    &Tensor::from_slice(&[self.tokens.pad]),
                    f64::NEG_INFINITY,
                );
                if let Some(eos) = self.tokens.forced_eos {
                    if length == max_length - 1 {
                        self.force(logits, eos);
                    }
                }
            }
        }
    }

    /// The architecture this model is.
    pub fn family(&self) -> Family {
        self.family
    }

    fn ban_eos(&self, scores: &mut Tensor, length: i64, min_length: i64) {
        if length < min_length {
            let _ = scores.index_fill_(
                1,
                &Tensor::from_slice(&[self.tokens.eos]),
                f64::NEG_INFINITY,
            );
        }
    }

    fn ban_repeated_ngrams(scores: &mut Tensor, histories: &[Vec<i64>], n: usize) {
        if n == 0 {
            return;
        }
        for (row, history) in histories.iter().enumerate() {
            let banned = repeated_ngram_bans(history, n);
            if !banned.is_empty() {
                let _ = scores.get(row as i64).index_fill_(
                    0,
                    &Tensor::from_slice(&banned),
                    f64::NEG_INFINITY,
                );
            }
        }
    }

    fn greedy(
        &self,
        encoder: &EncoderState,
        batch: usize,
        settings: SearchSettings,
        timings: &mut GenerationTimings,
    ) -> Vec<Vec<i64>> {
        let max_length = settings.max_length;
        let mut cache = self.new_cache(batch as i64, max_length);
        let mut histories = vec![vec![self.tokens.decoder_start]; batch];
        let mut unfinished = vec![true; batch];
        let mut length = 1i64;
        // A screen that gives up (too many candidates) costs its product on top of the fp32
        // one; after a few in a row, the logits of this input are too flat for it to pay.
        let mut screening = self.screen.is_some();
        let mut screen_misses = 0;
        loop {
            let last: Vec<i64> = histories.iter().map(|h| *h.last().unwrap_or(&0)).collect();
            let states = self.decode_step(
                &Tensor::from_slice(&last),
                length - 1,
                1,
                encoder,
                &mut cache,
                timings,
            );
            let process = |logits: &mut Tensor| {
                Self::ban_repeated_ngrams(logits, &histories, settings.no_repeat_ngram);
                self.ban_eos(logits, length, settings.min_length);
                self.force_special(logits, length, &settings);
            };
            let (next, screened) = self.most_likely(&states, screening, process, timings);
            if screening {
                screen_misses = if screened { 0 } else { screen_misses + 1 };
                screening = screen_misses < SCREEN_MISSES_BEFORE_GIVING_UP;
            }
            for (row, history) in histories.iter_mut().enumerate() {
                let token = if unfinished[row] {
                    next[row]
                } else {
                    self.tokens.pad
                };
                history.push(token);
                if unfinished[row] && token == self.tokens.eos {
                    unfinished[row] = false;
                }
            }
            if !unfinished.iter().any(|&u| u) {
                break;
            }
            length += 1;
            if length >= max_length {
                break;
            }
        }
        histories
    }

    fn beam_search(
        &self,
        encoder: &EncoderState,
        batch: usize,
        settings: SearchSettings,
        timings: &mut GenerationTimings,
    ) -> Vec<Vec<i64>> {
        let beams = settings.num_beams as usize;
        let rows = batch * beams;
        let max_length = settings.max_length;
        let mut cache = self.new_cache(rows as i64, max_length);
        let mut hypotheses: Vec<Hypotheses> = (0..batch).map(|_| Hypotheses::new(beams)).collect();
        // Only the first beam of each input starts live, so the first step's candidates differ.
        let mut beam_scores: Vec<f32> = (0..rows)
            .map(|row| if row % beams == 0 { 0.0 } else { -1e9 })
            .collect();
        let mut histories = vec![vec![self.tokens.decoder_start]; rows];
        let mut done = vec![false; batch];
        let mut length = 1i64;
        loop {
            let last: Vec<i64> = histories.iter().map(|h| *h.last().unwrap_or(&0)).collect();
            let states = self.decode_step(
                &Tensor::from_slice(&last),
                length - 1,
                beams as i64,
                encoder,
                &mut cache,
                timings,
            );
            let mut logits = self.project(&states, timings);
            self.force_special(&mut logits, length, &settings);
            let mut scores = logits.log_softmax(-1, Kind::Float);
            self.ban_eos(&mut scores, length, settings.min_length);
            if length + 1 >= settings.no_repeat_ngram as i64 {
                Self::ban_repeated_ngrams(&mut scores, &histories, settings.no_repeat_ngram);
            }
            let (top_scores, top_ids) = best_candidates(&scores, &beam_scores, beams);
            let mut next_scores = Vec::with_capacity(rows);
            let mut next_tokens = Vec::with_capacity(rows);
            let mut next_rows = Vec::with_capacity(rows);
            for b in 0..batch {
                let candidates = 2 * beams;
                let best = top_scores[b * candidates..(b + 1) * candidates]
                    .iter()
                    .copied()
                    .fold(f32::NEG_INFINITY, f32::max);
                let mut kept = 0;
                for j in 0..candidates {
                    let id = top_ids[b * candidates + j];
                    let score = top_scores[b * candidates + j];
                    let row = b * beams + (id / self.vocab) as usize;
                    let token = id % self.vocab;
                    if token == self.tokens.eos {
                        if !done[b] && j < beams {
                            hypotheses[b].add(histories[row].clone(), f64::from(score));
                        }
                    } else if kept < beams {
                        next_scores.push(score);
                        next_tokens.push(token);
                        next_rows.push(row as i64);
                        kept += 1;
                    }
                }
                // Each beam offers at most one EOS, so 2 * beams candidates hold `beams` others;
                // keep the slots aligned should that ever fail.
                while kept < beams {
                    next_scores.push(f32::NEG_INFINITY);
                    next_tokens.push(self.tokens.pad);
                    next_rows.push((b * beams) as i64);
                    kept += 1;
                }
                if done[b] {
                    for slot in b * beams..(b + 1) * beams {
                        next_scores[slot] = 0.0;
                        next_tokens[slot] = self.tokens.pad;
                        next_rows[slot] = 0;
                    }
                } else {
                    done[b] = hypotheses[b].is_done(f64::from(best), length);
                }
            }
            beam_scores = next_scores;
            if done.iter().all(|&d| d) {
                break;
            }
            histories = next_rows
                .iter()
                .zip(&next_tokens)
                .map(|(&row, &token)| {
                    let mut history = histories[row as usize].clone();
                    history.push(token);
                    history
                })
                .collect();
            length += 1;
            if length >= max_length {
                break;
            }
            cache.reorder(&next_rows);
        }
        for b in 0..batch {
            if done[b] {
                continue;
            }
            for row in b * beams..(b + 1) * beams {
                hypotheses[b].add(histories[row].clone(), f64::from(beam_scores[row]));
            }
        }
        let best: Vec<Vec<i64>> = hypotheses.into_iter().map(Hypotheses::best).collect();
        // The output rows as rust-bert lays them out: EOS after a hypothesis shorter than
        // max_length, then padding to the longest row (at most max_length).
        let longest = best.iter().map(Vec::len).max().unwrap_or(0) as i64;
        let width = (longest + 1).min(max_length) as usize;
        best.into_iter()
            .map(|mut tokens| {
                if (tokens.len() as i64) < max_length {
                    tokens.push(self.tokens.eos);
                }
                tokens.resize(width.max(tokens.len()), self.tokens.pad);
                tokens.truncate(width);
                tokens
            })
            .collect()
    }
}

/// Per input, its `2 * beams` best continuations over all its beams, best first: their total
/// scores (the beam's score plus the token's log-probability) and their ids over the input's
/// beams (`beam * vocab + token`), both flattened input-major. The same candidates as a top-k
/// over `scores + beam_scores` viewed as [batch, beams * vocab], without that full sum: each
/// row's own best `2 * beams` hold every candidate of its input (adding a row's constant keeps
/// its order), so the sum runs on those few. Equal totals: the lower id first.
fn best_candidates(scores: &Tensor, beam_scores: &[f32], beams: usize) -> (Vec<f32>, Vec<i64>) {
    let (rows, vocab) = scores.size2().expect("scores are [rows, vocab]");
    let per_row = (2 * beams).min(vocab as usize);
    let (row_scores, row_tokens) = rows_top_k(scores, per_row);
    let batch = rows as usize / beams;
    let wanted = (2 * beams).min(beams * per_row);
    let mut top_scores = Vec::with_capacity(batch * wanted);
    let mut top_ids = Vec::with_capacity(batch * wanted);
    let mut candidates: Vec<(f32, i64)> = Vec::with_capacity(beams * per_row);
    for input in 0..batch {
        candidates.clear();
        for beam in 0..beams {
            let row = input * beams + beam;
            for j in row * per_row..(row + 1) * per_row {
                candidates.push((
                    row_scores[j] + beam_scores[row],
                    beam as i64 * vocab + row_tokens[j],
                ));
            }
        }
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(score, id) in &candidates[..wanted] {
            top_scores.push(score);
            top_ids.push(id);
        }
    }
    (top_scores, top_ids)
}

/// Each row's `k` largest values and their columns, largest first, flattened row-major;
/// equal values: the lower column first. One pass over the scores in place, with a short sorted
/// list per row; a block of [`TOP_K_BLOCK`] values whose maximum cannot enter the list is
/// skipped after one vectorized max. libtorch's `topk` builds and partially sorts a (value,
/// index) array per row, about twice the time over 36 rows of 128,112 scores (session 11
/// profile); copying the scores out first cost as much as the scan.
fn rows_top_k(scores: &Tensor, k: usize) -> (Vec<f32>, Vec<i64>) {
    let scores = scores.to_kind(Kind::Float).contiguous();
    let (rows, width) = scores.size2().expect("scores are [rows, columns]");
    let length = (rows * width).max(0) as usize;
    let values: &[f32] = if length == 0 {
        &[]
    } else {
        // SAFETY: `scores` is a contiguous fp32 CPU tensor of `length` elements, alive and not
        // written while the slice is read.
        unsafe { std::slice::from_raw_parts(scores.data_ptr() as *const f32, length) }
    };
    let mut top_values = Vec::new();
    let mut top_columns = Vec::new();
    let mut best: Vec<(f32, i64)> = Vec::with_capacity(k + 1);
    for row in values.chunks(width.max(1) as usize) {
        best.clear();
        let mut threshold = f32::NEG_INFINITY;
        for (block_index, block) in row.chunks(TOP_K_BLOCK).enumerate() {
            if best.len() == k && block_max(block) <= threshold {
                continue;
            }
            for (offset, &value) in block.iter().enumerate() {
                if best.len() == k && value <= threshold {
                    continue;
                }
                let position = best.partition_point(|&(kept, _)| kept >= value);
                best.insert(
                    position,
                    (value, (block_index * TOP_K_BLOCK + offset) as i64),
                );
                best.truncate(k);
                if best.len() == k {
                    threshold = best[k - 1].0;
                }
            }
        }
        for &(value, column) in &best {
            top_values.push(value);
            top_columns.push(column);
        }
    }
    (top_values, top_columns)
}

/// Scores per block [`rows_top_k`] skips whole when its maximum is too low.
const TOP_K_BLOCK: usize = 256;

/// The largest value of `block` (-inf if empty), in 16 independent lanes so that it compiles
/// to vector max instructions.
fn block_max(block: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let mut pieces = block.chunks_exact(16);
    for piece in &mut pieces {
        for (lane, &value) in lanes.iter_mut().zip(piece) {
            if value > *lane {
                *lane = value;
            }
        }
    }
    pieces
        .remainder()
        .iter()
        .chain(&lanes)
        .fold(
            f32::NEG_INFINITY,
            |max, &value| if value > max { value } else { max },
        )
}

/// A sinusoidal position table of `rows` rows as M2M100 defines it: row p holds sin(p·f_k)
/// then cos(p·f_k) for f_k = 10000^(-k / (d/2 - 1)), k < d/2 (a zero column when `width` is
/// odd), and the padding row is zero.
fn sinusoidal_positions(rows: i64, width: i64, padding: i64) -> Tensor {
    let half = width / 2;
    let step = -(10000f64.ln()) / ((half - 1).max(1) as f64);
    let frequencies = (Tensor::arange(half, (Kind::Float, tch::Device::Cpu)) * step).exp();
    let angles = Tensor::arange(rows, (Kind::Float, tch::Device::Cpu)).unsqueeze(1)
        * frequencies.unsqueeze(0);
    let mut table = Tensor::cat(&[angles.sin(), angles.cos()], 1);
    if width % 2 == 1 {
        table = Tensor::cat(
            &[
                table,
                Tensor::zeros([rows, 1], (Kind::Float, tch::Device::Cpu)),
            ],
            1,
        );
    }
    if (0..rows).contains(&padding) {
        let _ = table.get(padding).fill_(0.0);
    }
    table
}

/// `x` through the embedding layer norm, where the architecture has one.
fn normalized(norm: Option<&Norm>, x: Tensor) -> Tensor {
    match norm {
        Some(norm) => norm.forward(&x),
        None => x,
    }
}

/// An attention mask letting every query see all `length` keys. Attention always gets a mask:
/// libtorch 2.4 rejects the undefined tensor tch passes for "no mask".
fn everywhere(length: i64) -> Tensor {
    Tensor::ones([1, 1, 1, length], (Kind::Bool, tch::Device::Cpu))
}

/// Tokens that would complete an n-gram already in `history` (the n-1 last tokens followed by
/// them occur earlier).
fn repeated_ngram_bans(history: &[i64], n: usize) -> Vec<i64> {
    if history.len() + 1 < n || n == 0 {
        return Vec::new();
    }
    let prefix = &history[history.len() + 1 - n..];
    history
        .windows(n)
        .filter(|window| &window[..n - 1] == prefix)
        .map(|window| window[n - 1])
        .collect()
}

/// The best finished sequences of one input (at most `beams`), scored by sum of log
/// probabilities over length^penalty.
struct Hypotheses {
    beams: usize,
    kept: Vec<(f64, Vec<i64>)>,
    worst: f64,
}

impl Hypotheses {
    fn new(beams: usize) -> Self {
        Self {
            beams,
            kept: Vec::with_capacity(beams + 1),
            worst: 1e9,
        }
    }

    fn add(&mut self, tokens: Vec<i64>, sum_log_probabilities: f64) {
        let score = sum_log_probabilities / (tokens.len() as f64).powf(LENGTH_PENALTY);
        if self.kept.len() < self.beams || score > self.worst {
            self.kept.push((score, tokens));
            if self.kept.len() > self.beams {
                // The first of the lowest goes.
                let mut lowest = 0;
                for (index, (score, _)) in self.kept.iter().enumerate() {
                    if *score < self.kept[lowest].0 {
                        lowest = index;
                    }
                }
                self.kept.remove(lowest);
            }
            self.worst = self
                .kept
                .iter()
                .map(|(score, _)| *score)
                .fold(f64::INFINITY, f64::min);
        }
    }

    /// Early stopping: done once `beams` sequences are finished.
    fn is_done(&self, _best_sum_log_probabilities: f64, _length: i64) -> bool {
        self.kept.len() >= self.beams
    }

    /// The highest score; among equal ones the last added.
    fn best(self) -> Vec<i64> {
        let mut kept = self.kept;
        kept.sort_by(|a, b| a.0.total_cmp(&b.0));
        kept.pop().map(|(_, tokens)| tokens).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_trigrams_ban_the_token_that_would_repeat_one() {
        // "5 6 7 ... 5 6" → 7 is banned.
        assert_eq!(repeated_ngram_bans(&[5, 6, 7, 8, 5, 6], 3), vec![7]);
        assert!(repeated_ngram_bans(&[5, 6, 7, 8], 3).is_empty());
        assert!(repeated_ngram_bans(&[5], 3).is_empty());
    }

    #[test]
    fn beam_candidates_equal_a_top_k_over_all_beams_of_an_input() {
        let _no_grad = tch::no_grad_guard();
        tch::manual_seed(7);
        let (batch, beams, vocab) = (3usize, 4usize, 50i64);
        let scores = Tensor::randn(
            [(batch * beams) as i64, vocab],
            (Kind::Float, tch::Device::Cpu),
        )
        .log_softmax(-1, Kind::Float);
        let beam_scores: Vec<f32> = (0..batch * beams).map(|row| -0.37 * row as f32).collect();
        let (fast_scores, fast_ids) = best_candidates(&scores, &beam_scores, beams);
        let totals = &scores + Tensor::from_slice(&beam_scores).unsqueeze(-1);
        let (top_scores, top_ids) =
            totals
                .view([batch as i64, beams as i64 * vocab])
                .topk(2 * beams as i64, 1, true, true);
        assert_eq!(
            fast_scores,
            Vec::<f32>::try_from(top_scores.reshape([-1])).unwrap()
        );
        assert_eq!(
            fast_ids,
            Vec::<i64>::try_from(top_ids.reshape([-1])).unwrap()
        );
    }

    #[test]
    fn rows_top_k_equals_libtorch_top_k_with_ties_to_the_lower_column() {
        let _no_grad = tch::no_grad_guard();
        tch::manual_seed(5);
        // Rows narrower than a block, rows of many blocks and a partial last block, rows whose
        // best values come last (no block skipped) or first (every later block skipped).
        let ascending = Tensor::arange(1000, (Kind::Float, tch::Device::Cpu)).view([1, 1000]);
        for scores in [
            Tensor::randn([5, 300], (Kind::Float, tch::Device::Cpu)),
            Tensor::randn([4, 3001], (Kind::Float, tch::Device::Cpu)),
            Tensor::cat(&[ascending.shallow_clone(), ascending.flip([1])], 0),
        ] {
            let (values, columns) = rows_top_k(&scores, 8);
            let (top_values, top_columns) = scores.topk(8, 1, true, true);
            assert_eq!(
                values,
                Vec::<f32>::try_from(top_values.reshape([-1])).unwrap()
            );
            assert_eq!(
                columns,
                Vec::<i64>::try_from(top_columns.reshape([-1])).unwrap()
            );
        }
        let tied =
            Tensor::from_slice(&[1.0f32, 3.0, 3.0, f32::NEG_INFINITY, 2.0, 3.0]).view([1, 6]);
        assert_eq!(rows_top_k(&tied, 3), (vec![3.0, 3.0, 3.0], vec![1, 2, 5]));
        assert_eq!(rows_top_k(&tied, 5).1, vec![1, 2, 5, 4, 0]);
    }

    #[test]
    fn a_vocabulary_projection_equals_linear_whether_streamed_or_sliced() {
        let _no_grad = tch::no_grad_guard();
        tch::manual_seed(11);
        let options = (Kind::Float, tch::Device::Cpu);
        // Large enough to be sliced (more than VOCABULARY_SIZED elements, several slices and a
        // shorter last one); up to STREAMED_VOCABULARY_ROWS rows the weight is streamed instead.
        let (outputs, width) = (VOCABULARY_SIZED / 256 + 1000, 256);
        let weight = Tensor::randn([outputs, width], options);
        let bias = Tensor::randn([outputs], options);
        for rows in [
            1,
            2,
            STREAMED_VOCABULARY_ROWS,
            STREAMED_VOCABULARY_ROWS + 1,
            9,
        ] {
            let x = Tensor::randn([rows, width], options);
            let sliced = project_rows(&x, &weight, &bias);
            assert_eq!(sliced.size(), vec![rows, outputs]);
            let whole = x.linear(&weight, Some(&bias));
            let largest = f64::try_from((sliced - whole).abs().max()).unwrap();
            assert!(largest < 1e-4, "largest difference {largest}");
        }
    }

    #[test]
    fn a_cache_reorder_gives_each_row_the_cache_of_the_row_it_continues() {
        let _no_grad = tch::no_grad_guard();
        let options = (Kind::Float, tch::Device::Cpu);
        // [2 * layers, rows, heads, steps, head_dim], each row's entries its own index.
        let rows = 6i64;
        let states = Tensor::arange(rows, options)
            .view([1, rows, 1, 1, 1])
            .expand([4, rows, 2, 5, 3], false)
            .contiguous();
        let mut cache = SelfCache {
            states,
            spare: None,
            filled: 3,
        };
        for order in [
            [0i64, 0, 1, 4, 5, 5],
            [2, 3, 4, 5, 0, 1],
            [1, 0, 3, 2, 5, 4],
        ] {
            let before = cache.states.narrow(3, 0, 3).copy();
            cache.reorder(&order);
            let expected = before.index_select(1, &Tensor::from_slice(&order));
            assert!(
                cache.states.narrow(3, 0, 3).equal(&expected),
                "order {order:?}"
            );
        }
    }

    #[test]
    fn hypotheses_keep_the_best_and_stop_early_when_full() {
        let mut hypotheses = Hypotheses::new(2);
        hypotheses.add(vec![1, 2], -4.0);
        assert!(!hypotheses.is_done(0.0, 2));
        hypotheses.add(vec![1, 3], -2.0);
        hypotheses.add(vec![1, 4], -3.0);
        assert!(hypotheses.is_done(0.0, 2));
        assert_eq!(hypotheses.kept.len(), 2);
        assert_eq!(hypotheses.best(), vec![1, 3]);
    }
}
