//! Sentence-embedding models (all-MiniLM-L6-v2, multilingual-e5-small) as a batched worker
//! engine.
//!
//! Embedding backends are registered here, in [`EMBEDDING_BACKENDS`]: rust-bert on libtorch
//! (the default and the fallback), ONNX Runtime ([`onnx`]), in fp32 or int8, and precis' own
//! BERT encoder on libtorch in bf16 ([`torch_bf16`], CPUs with native bf16 only), and `auto`,
//! which picks bf16 where the CPU runs it natively. A catalog entry picks one by `engine`.
mod onnx;
mod sentence_transformer;
mod torch_bf16;

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use rust_bert::pipelines::sentence_embeddings::{
    SentenceEmbeddingsBuilder, SentenceEmbeddingsModel, SentenceEmbeddingsModelType,
};
use tch::Device;

pub use crate::runtime::native_bf16;
pub use onnx::{find_library as find_onnxruntime_library, OnnxPrecision};
pub use torch_bf16::ENGINE as TORCH_BF16_ENGINE;

use crate::error::PrecisError;
use crate::runtime::registry::{
    inspect_directory, load_with, Architecture, EmbeddingTokenizer, ModelError, ModelLocation,
    ModelRole, ModelSpec,
};
use crate::runtime::text_input::{load_sentencepiece_bert, TextInput};
use crate::runtime::worker::{ModelEngine, WorkerPool};

/// One sentence's embedding: L2-normalised when the model's modules say so (MiniLM does).
pub type Embedding = Vec<f32>;

/// A loaded sentence-embedding model: sentences in, one vector each out, in order.
pub trait SentenceEncoder {
    fn encode(&mut self, sentences: &[&str]) -> Result<Vec<Embedding>, String>;

    /// The token ids the model reads for `text` (with its special tokens): text longer than the
    /// model's window is truncated to it.
    fn token_ids(&self, text: &str) -> Vec<i64>;
}

/// What every embedding backend may need to load a model.
#[derive(Debug, Clone, Default)]
pub struct EmbeddingOptions {
    /// Sentences per forward pass; padding grows with the batch's longest sentence.
    pub forward_batch: usize,
    /// Intra-op threads of one worker (ONNX Runtime; libtorch's are set per worker thread).
    pub threads: usize,
    /// ONNX Runtime's shared library, when configured (see [`find_onnxruntime_library`]).
    pub onnxruntime_lib: Option<PathBuf>,
    /// Weights the loads made with (clones of) these options may share: the workers of one
    /// pool load with one set of options.
    pub shared_weights: SharedWeights,
}

/// Read-only weights that the workers of one pool share instead of each holding a copy: the
/// first load stores them, later loads of the same directory take a handle to the same memory.
/// A worker per core of `torch-bf16` would otherwise hold multilingual-e5-small's 250k-piece
/// embedding table once per core (README, Session 14). Backends whose sessions cannot share
/// weights ignore it.
#[derive(Clone, Default)]
pub struct SharedWeights(Arc<Mutex<Option<LoadedWeights>>>);

/// The directory weights were loaded from, and the weights (of the type their engine keeps).
type LoadedWeights = (PathBuf, Box<dyn Any + Send>);

impl SharedWeights {
    /// The weights already loaded from `directory` (as `share` hands them out), or those `load`
    /// makes, stored for the next load. Loads wait for one another, so a model is read from disk
    /// once. Options reused for another directory (or engine) load afresh, never its weights.
    pub fn get_or_load<T: Send + 'static>(
        &self,
        directory: &Path,
        share: impl Fn(&T) -> T,
        load: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, String> {
        // A load that panicked left no weights behind: the slot is still consistent.
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stored = slot
            .as_ref()
            .filter(|(loaded_from, _)| loaded_from == directory)
            .and_then(|(_, weights)| weights.downcast_ref::<T>());
        if let Some(weights) = stored {
            return Ok(share(weights));
        }
        let weights = load()?;
        let handed_out = share(&weights);
        *slot = Some((directory.to_path_buf(), Box::new(weights)));
        Ok(handed_out)
    }
}

impl std::fmt::Debug for SharedWeights {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let loaded = self.0.lock().map(|slot| slot.is_some()).unwrap_or(false);
        formatter
            .debug_struct("SharedWeights")
            .field("loaded", &loaded)
            .finish()
    }
}

/// A kind of embedding engine precis can run.
pub trait EmbeddingBackend: Sync {
    /// The catalog's `engine` value for this backend.
    fn name(&self) -> &'static str;

    fn load(
        &self,
        spec: &ModelSpec,
        options: &EmbeddingOptions,
    ) -> Result<Box<dyn SentenceEncoder>, ModelError>;

    /// Whether this engine runs best as one intra-op thread per worker, with a worker per
    /// core, where the operator leaves threads to precis (`--torch-threads 0`).
    fn one_thread_per_worker(&self) -> bool {
        false
    }
}

/// Every embedding backend, by the name catalog entries use.
pub const EMBEDDING_BACKENDS: &[&dyn EmbeddingBackend] = &[
    &RustBertEmbeddings,
    &onnx::OnnxEmbeddings(OnnxPrecision::Fp32),
    &onnx::OnnxEmbeddings(OnnxPrecision::Int8),
    &onnx::OnnxEmbeddings(OnnxPrecision::Int8Mixed),
    &torch_bf16::TorchBf16Embeddings,
    &NativeBf16OrOnnx,
];

/// The engine `auto`: `torch-bf16` where the CPU has native bf16 and the model directory holds
/// the libtorch weights (`rust_model.ot`), ONNX Runtime fp32 otherwise; the log says which.
/// Making it the default is one line of the catalog (`engine = "auto"`): both engines pass the
/// same accuracy gate against fp32, and a CPU without native bf16 keeps today's engine.
pub const AUTO_ENGINE: &str = "auto";

struct NativeBf16OrOnnx;

impl EmbeddingBackend for NativeBf16OrOnnx {
    fn name(&self) -> &'static str {
        AUTO_ENGINE
    }

    fn load(
        &self,
        spec: &ModelSpec,
        options: &EmbeddingOptions,
    ) -> Result<Box<dyn SentenceEncoder>, ModelError> {
        auto_choice(spec).load(spec, options)
    }
}

/// The engine `auto` runs `spec` on, logged with the reason.
fn auto_choice(spec: &ModelSpec) -> &'static dyn EmbeddingBackend {
    let has_torch_weights = matches!(&spec.location, ModelLocation::Directory(path)
        if path.join(crate::runtime::registry::WEIGHTS_FILE).is_file());
    let (chosen, why): (&'static dyn EmbeddingBackend, String) =
        match (native_bf16(), has_torch_weights) {
            (Some(instructions), true) => (
                &torch_bf16::TorchBf16Embeddings,
                format!("the CPU has {instructions}"),
            ),
            (Some(_), false) => (
                &onnx::OnnxEmbeddings(OnnxPrecision::Fp32),
                format!(
                    "the model directory has no {}",
                    crate::runtime::registry::WEIGHTS_FILE
                ),
            ),
            (None, _) => (
                &onnx::OnnxEmbeddings(OnnxPrecision::Fp32),
                "the CPU has no native bf16 (AVX-512 BF16 or AMX)".to_string(),
            ),
        };
    tracing::info!(model = %spec.id, engine = chosen.name(), reason = %why, "embedding engine auto");
    chosen
}

/// The backend that will run `spec` for the catalog's `engine`: the named one, or the one
/// `auto` picks (so the pool can be shaped for it before it loads).
pub fn resolve_backend(
    engine: &str,
    spec: &ModelSpec,
) -> Result<&'static dyn EmbeddingBackend, String> {
    let backend = embedding_backend(engine)?;
    Ok(if backend.name() == AUTO_ENGINE {
        auto_choice(spec)
    } else {
        backend
    })
}

/// The backend named `engine`, or an error listing the registered ones.
pub fn embedding_backend(engine: &str) -> Result<&'static dyn EmbeddingBackend, String> {
    EMBEDDING_BACKENDS
        .iter()
        .copied()
        .find(|backend| backend.name() == engine)
        .ok_or_else(|| {
            let known: Vec<&str> = EMBEDDING_BACKENDS.iter().map(|b| b.name()).collect();
            format!(
                "embedding engine '{engine}' is not one of: {}",
                known.join(", ")
            )
        })
}

/// rust-bert's sentence-embeddings pipeline on libtorch.
pub struct RustBertEmbeddings;

impl EmbeddingBackend for RustBertEmbeddings {
    fn name(&self) -> &'static str {
        crate::runtime::RUST_BERT_ENGINE
    }

    fn load(
        &self,
        spec: &ModelSpec,
        _options: &EmbeddingOptions,
    ) -> Result<Box<dyn SentenceEncoder>, ModelError> {
        Ok(Box::new(RustBertEncoder::load(spec)?))
    }
}

struct RustBertEncoder {
    model: SentenceEmbeddingsModel,
}

impl SentenceEncoder for RustBertEncoder {
    fn encode(&mut self, sentences: &[&str]) -> Result<Vec<Embedding>, String> {
        tch::no_grad(|| self.model.encode(sentences)).map_err(|error| error.to_string())
    }

    fn token_ids(&self, text: &str) -> Vec<i64> {
        self.model
            .tokenize(&[text])
            .tokens_ids
            .first()
            .and_then(|ids| Vec::<i64>::try_from(ids).ok())
            .unwrap_or_default()
    }
}

impl RustBertEncoder {
    fn load(spec: &ModelSpec) -> Result<Self, ModelError> {
        let model = match &spec.location {
            ModelLocation::Directory(path) => {
                let directory = inspect_directory(&spec.id, &ModelRole::SentenceEmbeddings, path)?;
                match EmbeddingTokenizer::of_directory(path) {
                    EmbeddingTokenizer::WordPiece if directory.architecture == Architecture::Bert => load_with(spec, || {
                        SentenceEmbeddingsBuilder::local(path.clone())
                            .with_device(Device::Cpu)
                            .create_model()
                    })?,
                    EmbeddingTokenizer::WordPiece => {
                        return Err(ModelError::Unsupported {
                            model: spec.id.clone(),
                            reason: format!(
                                "{} holds an XLM-R encoder without XLM-R's SentencePiece tokenizer ({}); pull the model again",
                                path.display(),
                                crate::runtime::registry::SENTENCEPIECE_FILE
                            ),
                        })
                    }
                    EmbeddingTokenizer::XlmRobertaSentencePiece => {
                        load_sentencepiece_bert(spec, path, directory.architecture)?
                    }
                }
            }
            ModelLocation::Remote(name) => {
                let model_type = remote_model_type(name).ok_or_else(|| ModelError::Unsupported {
                    model: spec.id.clone(),
                    reason: format!("no rust-bert remote sentence-embedding model named '{name}' (known: all-MiniLM-L6-v2, all-MiniLM-L12-v2)"),
                })?;
                load_with(spec, || {
                    SentenceEmbeddingsBuilder::remote(model_type)
                        .with_device(Device::Cpu)
                        .create_model()
                })?
            }
        };
        Ok(Self { model })
    }
}

pub struct EmbeddingEngine {
    encoder: Box<dyn SentenceEncoder>,
    /// The model card's prefix and the tokenizer's normalization, applied before tokenizing.
    input: TextInput,
    /// Sentences per forward pass; padding grows with the batch's longest sentence.
    forward_batch: usize,
}

impl EmbeddingEngine {
    /// Loads `spec` on the backend named `engine` (see [`EMBEDDING_BACKENDS`]).
    pub fn load(
        spec: &ModelSpec,
        engine: &str,
        options: &EmbeddingOptions,
    ) -> Result<Self, ModelError> {
        let backend = embedding_backend(engine).map_err(|reason| ModelError::Unsupported {
            model: spec.id.clone(),
            reason,
        })?;
        let input = match &spec.location {
            ModelLocation::Directory(path) => TextInput::from_directory(&spec.id, path)?,
            ModelLocation::Remote(_) => TextInput::default(),
        };
        Ok(Self {
            encoder: backend.load(spec, options)?,
            input,
            forward_batch: options.forward_batch.max(1),
        })
    }

    /// The token ids the model reads for `text` (with its special tokens), as `run_batch` feeds
    /// them: text longer than the model's window is truncated to it.
    pub fn token_ids(&self, text: &str) -> Vec<i64> {
        self.encoder.token_ids(&self.input.prepare(text))
    }
}

fn remote_model_type(name: &str) -> Option<SentenceEmbeddingsModelType> {
    match name {
        "all-MiniLM-L6-v2" => Some(SentenceEmbeddingsModelType::AllMiniLmL6V2),
        "all-MiniLM-L12-v2" => Some(SentenceEmbeddingsModelType::AllMiniLmL12V2),
        _ => None,
    }
}

impl ModelEngine for EmbeddingEngine {
    /// The sentences of one request.
    type Input = Vec<String>;
    type Output = Vec<Embedding>;

    fn run_batch(&mut self, inputs: Vec<Self::Input>) -> Vec<Result<Self::Output, PrecisError>> {
        // Requests that arrived together share forward passes; answers are split back in order.
        let lengths: Vec<usize> = inputs.iter().map(Vec::len).collect();
        let sentences: Vec<String> = inputs.into_iter().flatten().collect();
        // A forward batch is padded to its longest sentence, and a forward pass costs about
        // (sentences x longest sentence): batches of similar length waste little on padding.
        let mut by_length: Vec<usize> = (0..sentences.len()).collect();
        by_length.sort_by_key(|&index| std::cmp::Reverse(sentences[index].len()));
        let sorted_lengths: Vec<usize> = by_length.iter().map(|&i| sentences[i].len()).collect();
        let mut slots: Vec<Option<Embedding>> = vec![None; sentences.len()];
        for range in length_buckets(&sorted_lengths, self.forward_batch, usize::MAX) {
            let chunk = &by_length[range];
            let prepared: Vec<String> = chunk
                .iter()
                .map(|&index| self.input.prepare(&sentences[index]))
                .collect();
            let texts: Vec<&str> = prepared.iter().map(String::as_str).collect();
            match self.encoder.encode(&texts) {
                Ok(batch) => {
                    for (&index, embedding) in chunk.iter().zip(batch) {
                        slots[index] = Some(embedding);
                    }
                }
                Err(error) => {
                    let message = format!("sentence embedding failed: {error}");
                    return lengths
                        .iter()
                        .map(|_| Err(PrecisError::EngineFailure(message.clone())))
                        .collect();
                }
            }
        }
        let Some(embeddings) = slots.into_iter().collect::<Option<Vec<Embedding>>>() else {
            let message = "the embedding model returned fewer vectors than sentences".to_string();
            return lengths
                .iter()
                .map(|_| Err(PrecisError::EngineFailure(message.clone())))
                .collect();
        };
        let mut embeddings = embeddings.into_iter();
        lengths
            .into_iter()
            .map(|count| Ok(embeddings.by_ref().take(count).collect()))
            .collect()
    }

    fn cost(input: &Self::Input) -> usize {
        input.len()
    }

    fn share(input: &Self::Input) -> usize {
        padded_bytes(input)
    }

    const MAX_BATCH_SHARE: usize = LATE_PIECE_BYTES;
}

/// Splits sentences sorted longest first (`lengths` in bytes, a proxy for tokens) into forward
/// batches of at most `max_batch` whose padding wastes at most a fifth of the compute: a
/// 21-sentence article padded to its longest sentence in one batch spends 2.8x the work of its
/// real tokens (issue #14), in length buckets about 1.1x.
/// A bucket also stops before its padded size passes `max_bytes` (at least one sentence each).
pub fn length_buckets(
    lengths: &[usize],
    max_batch: usize,
    max_bytes: usize,
) -> Vec<std::ops::Range<usize>> {
    // Every sentence also carries its [CLS]/[SEP] tokens (SPECIAL_TOKENS_BYTES), so a few very
    // short sentences still share a batch.
    const MAX_PADDING_SHARE: f64 = 0.2;
    let mut buckets = Vec::new();
    let mut start = 0;
    while start < lengths.len() {
        let longest = lengths[start] + SPECIAL_TOKENS_BYTES;
        let mut real = longest;
        let mut end = start + 1;
        while end < lengths.len() && end - start < max_batch.max(1) {
            let next_real = real + lengths[end] + SPECIAL_TOKENS_BYTES;
            let padded = (end - start + 1) * longest;
            if padded as f64 > next_real as f64 / (1.0 - MAX_PADDING_SHARE) || padded > max_bytes {
                break;
            }
            real = next_real;
            end += 1;
        }
        buckets.push(start..end);
        start = end;
    }
    buckets
}

/// The similarity cut-offs of one embedding model: each model's cosines sit on its own scale
/// (all-MiniLM-L6-v2: distinct facts of one story mostly under 0.5, unrelated news under 0.3;
/// multilingual-e5-small: 0.75-0.92 and 0.75-0.86), so thresholds belong to the model.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimilarityCutoffs {
    /// Two sentences this similar say the same thing: a summary keeps only one.
    pub max_redundancy: f32,
    /// Below this similarity an article sentence is no evidence for a summary sentence.
    pub min_support: f32,
    /// Where the model puts sentences of one story that share no fact: the ranking rescales
    /// cosines so this is 0 (all-MiniLM-L6-v2: 0, its scale is already so).
    #[serde(default)]
    pub floor: f32,
    /// The summary ranking's weight for a sentence's similarity to the lead, in place of
    /// centrality (the rest goes to position); 0, the default, keeps centrality 0.6 and
    /// position 0.4 (all-MiniLM-L6-v2). See `ExtractiveWeights::for_embeddings`.
    #[serde(default)]
    pub lead_similarity: f32,
    /// The summary ranking's weights for this model, when they are not centrality 0.6 and
    /// position 0.4 (all-MiniLM-L6-v2's); see `ExtractiveWeights::for_embeddings`.
    #[serde(default)]
    pub ranking: Option<RankingWeights>,
}

/// How much each cue counts in a sentence's relevance for the summary (each cue scaled to
/// [0, 1] within the article).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankingWeights {
    /// Mean similarity to the article's other sentences.
    pub centrality: f32,
    /// Closeness to the lead (the first sentence that can be chosen).
    pub position: f32,
    /// Length relative to the article's median sentence, capped at twice the median: in wire
    /// copy the central facts are the full sentences with figures and consequences, while
    /// background ("built in 1967") and asides (the weather) are short.
    #[serde(default)]
    pub length: f32,
}

impl Default for SimilarityCutoffs {
    /// all-MiniLM-L6-v2's (see `ExtractiveWeights::for_ranking`, `GuardSettings::for_embeddings`).
    fn default() -> Self {
        Self {
            max_redundancy: 0.75,
            min_support: 0.5,
            floor: 0.0,
            lead_similarity: 0.0,
            ranking: None,
        }
    }
}

/// The most text (padded, in bytes: ~250 tokens, 20-50 ms on one core) one queued piece of an
/// article holds, and one batch groups: with fair queueing a small article waits for about one
/// such piece per busy worker, however many big articles are in flight (issue #14).
const PIECE_BYTES: usize = 1024;

/// The pieces of a request whose work exceeds its head start (see `EmbeddingService::embed`),
/// and the most one batch groups: a request arriving beside long ones waits, in the usual case,
/// for one such piece in service (a sentence longer than this still makes a piece of its own).
/// The smaller forward batches cost long articles some compute (~10 %, session 7).
const LATE_PIECE_BYTES: usize = 512;

/// What a sentence's [CLS]/[SEP] tokens weigh, in bytes of text (see `length_buckets`).
const SPECIAL_TOKENS_BYTES: usize = 8;

/// What a piece costs a forward pass, for fair queueing: its padded bytes, as `length_buckets`
/// counts them.
fn padded_bytes(sentences: &[String]) -> usize {
    sentences
        .iter()
        .map(|sentence| sentence.len() + SPECIAL_TOKENS_BYTES)
        .max()
        .unwrap_or(0)
        * sentences.len()
}

/// The sentence-embedding pool and the languages it serves well.
pub struct EmbeddingService {
    pub model_id: String,
    pub pool: WorkerPool<EmbeddingEngine>,
    pub languages: Vec<String>,
    pub cutoffs: SimilarityCutoffs,
    /// Padded bytes of each request's first pieces that run ahead of the requests already
    /// being served (`--embedding-head-start`; see `runtime::worker`), and are queued at once.
    pub head_start: usize,
}

/// The most pieces of one request queued at once for its head start: a few big articles
/// starting together stay well inside the queue's capacity.
const MAX_HEAD_START_PIECES: usize = 12;

impl EmbeddingService {
    /// Whether this model serves `language` (ISO 639-1) well enough to rank with it.
    pub fn serves(&self, language: &str) -> bool {
        self.languages.iter().any(|served| served == language)
    }

    /// Embeds sentences on the embedding workers, in pieces of similar length (one forward
    /// batch each), each distinct sentence once (page furniture, datelines and repeated
    /// boilerplate cost one pass, not one per copy). The pieces go through one fair-queueing
    /// flow (see `runtime::worker`), a few at a time (as many as there are workers): a big
    /// article's pieces interleave with small articles' work instead of filling the queue ahead
    /// of them, and one article's pieces run on every worker at once. The pieces within the
    /// head start go first, all at once: a small article then waits for the piece in service
    /// once, not once per piece.
    pub async fn embed(
        &self,
        sentences: &[&str],
        deadline: Option<std::time::Instant>,
    ) -> Result<Vec<Embedding>, PrecisError> {
        let mut distinct: Vec<&str> = Vec::with_capacity(sentences.len());
        let mut first_of: std::collections::HashMap<&str, usize> =
            std::collections::HashMap::with_capacity(sentences.len());
        let copy_of: Vec<usize> = sentences
            .iter()
            .map(|&sentence| {
                *first_of.entry(sentence).or_insert_with(|| {
                    distinct.push(sentence);
                    distinct.len() - 1
                })
            })
            .collect();
        let mut by_length: Vec<usize> = (0..distinct.len()).collect();
        by_length.sort_by_key(|&index| std::cmp::Reverse(distinct[index].len()));
        let lengths: Vec<usize> = by_length.iter().map(|&i| distinct[i].len()).collect();
        let PiecePlan {
            pieces,
            first_round,
            in_flight,
            head_start,
        } = plan_pieces(
            &lengths,
            self.pool.config().max_batch_cost,
            self.head_start,
            self.pool.config().workers,
        );
        let started = std::time::Instant::now();
        let flow = self.pool.flow_with_head_start(head_start);
        let queue_piece = |number: usize| {
            let piece = pieces[number].clone();
            let owned: Vec<String> = by_length[piece.clone()]
                .iter()
                .map(|&index| distinct[index].to_string())
                .collect();
            let answer = flow.queue(owned, deadline)?;
            Ok::<_, PrecisError>(async move { (piece, answer.await) })
        };
        // Like every request, this one may always have a piece per worker queued; its head
        // start's other pieces and its second piece per worker only while the queue is under a
        // quarter full, so a burst of requests still finds room for each one's first pieces.
        let capacity = self.pool.config().queue_capacity;
        let window = self.pool.config().workers.max(1);
        let may_queue = |next: usize, queued: usize| {
            let limit = if next < first_round {
                first_round
            } else {
                in_flight
            };
            next < pieces.len()
                && queued < limit.max(window)
                && (queued < window || self.pool.queue_len() < capacity / 4)
        };
        let mut waiting = futures_util::stream::FuturesOrdered::new();
        let mut next = 0;
        while may_queue(next, waiting.len()) {
            waiting.push_back(queue_piece(next)?);
            next += 1;
        }
        let mut slots: Vec<Option<Embedding>> = vec![None; distinct.len()];
        while let Some((piece, answer)) = waiting.next().await {
            while may_queue(next, waiting.len()) {
                waiting.push_back(queue_piece(next)?);
                next += 1;
            }
            let vectors = answer?;
            if vectors.len() != piece.len() {
                return Err(PrecisError::EngineFailure(format!(
                    "the embedding model answered {} vectors for {} sentences",
                    vectors.len(),
                    piece.len()
                )));
            }
            for (&index, vector) in by_length[piece].iter().zip(vectors) {
                slots[index] = Some(vector);
            }
        }
        log_flow_times(&self.model_id, &flow, started, pieces.len(), &lengths);
        let distinct_vectors = slots
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                PrecisError::EngineFailure("the embedding model skipped a sentence".into())
            })?;
        Ok(copy_of
            .into_iter()
            .map(|index| distinct_vectors[index].clone())
            .collect())
    }
}

/// How one request's sentences go to the embedding workers.
#[derive(Debug, PartialEq)]
struct PiecePlan {
    /// Ranges of the sentences (sorted longest first), one forward batch each.
    pieces: Vec<std::ops::Range<usize>>,
    /// Pieces queued at once at the start.
    first_round: usize,
    /// Then, pieces kept queued or running at a time.
    in_flight: usize,
    /// The request's head start in the model queue: the configured one for a request that fits
    /// in it, none for a longer one.
    head_start: usize,
}

/// Cuts one request's sentences (`lengths` in bytes, longest first) into pieces. A request whose
/// padded work fits in its head start keeps pieces of `PIECE_BYTES` and queues them all at once
/// (up to `MAX_HEAD_START_PIECES`): it then waits for the piece in service once, not once per
/// piece. A longer request is cut into pieces of `LATE_PIECE_BYTES`, so a request arriving
/// meanwhile waits for less work in service, takes no head start (it is held to its fair share
/// from the start, and the queue can tell it is held back when short requests crowd it out:
/// `runtime::worker`), and keeps two pieces per worker queued, so its next piece is there
/// whenever a worker frees up even if its task is slow to run (its CPU work is at a low
/// priority, `runtime::lanes`). A head start of 0 keeps session 7's plain fair queueing: 1 KB
/// pieces, one per worker at a time.
fn plan_pieces(
    lengths: &[usize],
    max_batch: usize,
    head_start: usize,
    workers: usize,
) -> PiecePlan {
    let workers = workers.max(1);
    let piece_bytes = |piece: &std::ops::Range<usize>| {
        (lengths[piece.start] + SPECIAL_TOKENS_BYTES) * piece.len()
    };
    let pieces = length_buckets(lengths, max_batch, PIECE_BYTES);
    let padded: usize = pieces.iter().map(piece_bytes).sum();
    let in_flight = if head_start > 0 { 2 * workers } else { workers };
    if head_start > 0 && padded > head_start {
        let pieces = length_buckets(lengths, max_batch, LATE_PIECE_BYTES);
        return PiecePlan {
            first_round: in_flight.min(pieces.len()),
            pieces,
            in_flight,
            head_start: 0,
        };
    }
    let mut ahead = 0usize;
    let first_round = pieces
        .iter()
        .take(MAX_HEAD_START_PIECES)
        .take_while(|piece| {
            ahead += piece_bytes(piece);
            ahead <= head_start
        })
        .count()
        .max(workers)
        .min(pieces.len());
    PiecePlan {
        pieces,
        first_round,
        in_flight,
        head_start,
    }
}

/// Where one request's embedding time went, at debug level (sizes and times, no text): the
/// workers' time on its pieces, the other requests' work it waited for, and the time between
/// the last answer and this task running again (a busy async runtime).
fn log_flow_times(
    model: &str,
    flow: &crate::runtime::worker::Flow<'_, EmbeddingEngine>,
    started: std::time::Instant,
    pieces: usize,
    lengths: &[usize],
) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let times = flow.times();
    let now = std::time::Instant::now();
    let in_pool = times
        .last_answer
        .map_or(std::time::Duration::ZERO, |answered| {
            answered.saturating_duration_since(started)
        });
    tracing::debug!(
        model,
        sentences = lengths.len(),
        pieces,
        bytes = lengths.iter().sum::<usize>(),
        total_us = (now - started).as_micros() as u64,
        own_service_us = times.service.as_micros() as u64,
        waited_for_others_us = in_pool.saturating_sub(times.service).as_micros() as u64,
        longest_queued_us = times.longest_queued.as_micros() as u64,
        resumed_after_us = times.last_answer.map_or(0, |answered| now
            .saturating_duration_since(answered)
            .as_micros() as u64),
        "embedding flow times"
    );
}

/// Cosine similarity; 0 for a zero vector.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut norm_a, mut norm_b) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        norm_a += x * x;
        norm_b += y * y;
    }
    if norm_a == 0.0 || norm_b == 0.0 {
        0.0
    } else {
        dot / (norm_a.sqrt() * norm_b.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_weights_load_once_per_directory_for_every_clone_of_the_options() {
        let options = EmbeddingOptions::default();
        let loads = std::sync::atomic::AtomicUsize::new(0);
        let count = || loads.load(std::sync::atomic::Ordering::SeqCst);
        let load = |value: u32| {
            loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(value)
        };
        let share = |value: &u32| value + 1000;
        let (e5, minilm) = (Path::new("models/e5"), Path::new("models/minilm"));
        // What a worker loading `directory` with `options` gets when a fresh load would give `value`.
        let get = |options: &EmbeddingOptions, directory: &Path, value: u32| {
            options
                .shared_weights
                .get_or_load(directory, share, || load(value))
        };
        let failed = options
            .shared_weights
            .get_or_load(e5, share, || Err::<u32, _>("no weights".to_string()));
        assert_eq!(
            failed,
            Err("no weights".to_string()),
            "a failed load is not kept"
        );
        assert_eq!(get(&options, e5, 7), Ok(1007));
        assert_eq!(get(&options.clone(), e5, 8), Ok(1007), "another worker");
        assert_eq!(count(), 1);
        // Options made apart (another model's pool) load their own; options reused for another
        // directory never hand out the first one's weights.
        assert_eq!(get(&EmbeddingOptions::default(), e5, 9), Ok(1009));
        assert_eq!(get(&options, minilm, 5), Ok(1005));
        assert_eq!(count(), 3);
    }

    #[test]
    fn length_buckets_cover_every_sentence_once_and_bound_padding() {
        let lengths = [300, 290, 280, 200, 150, 140, 90, 60, 59, 58, 20, 10, 3];
        let buckets = length_buckets(&lengths, 4, usize::MAX);
        let covered: Vec<usize> = buckets.iter().flat_map(|r| r.clone()).collect();
        assert_eq!(covered, (0..lengths.len()).collect::<Vec<_>>());
        for bucket in &buckets {
            assert!(bucket.len() <= 4, "{buckets:?}");
            let longest = lengths[bucket.start] + 8;
            let real: usize = lengths[bucket.clone()].iter().map(|l| l + 8).sum();
            assert!(
                (bucket.len() * longest) as f64 <= real as f64 / 0.8 + 1e-9,
                "{bucket:?} wastes more than a fifth: {buckets:?}"
            );
        }
        // Similar lengths share a batch, a long one does not drag short ones with it.
        assert_eq!(buckets[0], 0..4);
        assert!(buckets.iter().all(|b| !(b.contains(&0) && b.contains(&12))));
        assert!(length_buckets(&[], 32, usize::MAX).is_empty());
        assert_eq!(
            length_buckets(&[40; 70], 32, usize::MAX),
            vec![0..32, 32..64, 64..70]
        );
        // A byte budget cuts pieces smaller: 48 padded bytes each, at most 200 per piece.
        let pieces = length_buckets(&[40; 10], 32, 200);
        assert_eq!(pieces, vec![0..4, 4..8, 8..10]);
        // A sentence longer than the budget still gets a piece of its own.
        assert_eq!(length_buckets(&[500, 40], 32, 200), vec![0..1, 1..2]);
    }

    #[test]
    fn a_short_request_queues_its_pieces_at_once_and_a_long_one_is_cut_finer() {
        // A short article: 20 sentences of 100 bytes, 2,160 padded bytes, within an 8 KB head
        // start: 1 KB pieces, all queued at once.
        let short = [100; 20];
        let plan = plan_pieces(&short, 32, 8192, 1);
        assert_eq!(plan.pieces, length_buckets(&short, 32, PIECE_BYTES));
        assert_eq!(plan.pieces.len(), 3);
        assert_eq!(plan.first_round, 3);
        assert_eq!(plan.head_start, 8192);
        // A long one: 2,000 such sentences. Its pieces hold at most 512 padded bytes; it takes
        // no head start and keeps two pieces per worker queued.
        let long = [100; 2000];
        let plan = plan_pieces(&long, 32, 8192, 1);
        assert_eq!(plan.pieces, length_buckets(&long, 32, LATE_PIECE_BYTES));
        assert!(plan.pieces.iter().all(|piece| piece.len() * 108 <= 512));
        assert_eq!(
            (plan.first_round, plan.in_flight, plan.head_start),
            (2, 2, 0)
        );
        // No head start: 1 KB pieces, one per worker at a time, whatever the length.
        let plan = plan_pieces(&long, 32, 0, 2);
        assert_eq!(plan.pieces, length_buckets(&long, 32, PIECE_BYTES));
        assert_eq!((plan.first_round, plan.in_flight), (2, 2));
        assert!(plan_pieces(&[], 32, 8192, 1).pieces.is_empty());
    }
}
