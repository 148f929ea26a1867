//! The sentence-embedding model (all-MiniLM-L6-v2, multilingual-e5-small) as a batched worker
//! engine.
use rust_bert::pipelines::sentence_embeddings::{
    SentenceEmbeddingsBuilder, SentenceEmbeddingsModel, SentenceEmbeddingsModelType,
};
use tch::Device;

use crate::error::PrecisError;
use crate::runtime::registry::{
    inspect_directory, load_with, EmbeddingTokenizer, ModelError, ModelLocation, ModelRole,
    ModelSpec,
};
use crate::runtime::text_input::{load_sentencepiece_bert, TextInput};
use crate::runtime::worker::{ModelEngine, WorkerPool};

/// One sentence's embedding: L2-normalised when the model's modules say so (MiniLM does).
pub type Embedding = Vec<f32>;

pub struct EmbeddingEngine {
    model: SentenceEmbeddingsModel,
    /// The model card's prefix and the tokenizer's normalization, applied before tokenizing.
    input: TextInput,
    /// Sentences per forward pass; padding grows with the batch's longest sentence.
    forward_batch: usize,
}

impl EmbeddingEngine {
    pub fn load(spec: &ModelSpec, forward_batch: usize) -> Result<Self, ModelError> {
        let mut input = TextInput::default();
        let model = match &spec.location {
            ModelLocation::Directory(path) => {
                inspect_directory(&spec.id, &ModelRole::SentenceEmbeddings, path)?;
                input = TextInput::from_directory(&spec.id, path)?;
                match EmbeddingTokenizer::of_directory(path) {
                    EmbeddingTokenizer::WordPiece => load_with(spec, || {
                        SentenceEmbeddingsBuilder::local(path.clone())
                            .with_device(Device::Cpu)
                            .create_model()
                    })?,
                    EmbeddingTokenizer::XlmRobertaSentencePiece => {
                        load_sentencepiece_bert(spec, path)?
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
        Ok(Self {
            model,
            input,
            forward_batch: forward_batch.max(1),
        })
    }

    /// The token ids the model reads for `text` (with its special tokens), as `run_batch` feeds
    /// them: text longer than the model's window is truncated to it.
    pub fn token_ids(&self, text: &str) -> Vec<i64> {
        let prepared = [self.input.prepare(text)];
        self.model
            .tokenize(&prepared)
            .tokens_ids
            .first()
            .and_then(|ids| Vec::<i64>::try_from(ids).ok())
            .unwrap_or_default()
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
        // A forward batch is padded to its longest sentence: batching sentences of similar
        // length (as sentence-transformers does) wastes far less compute on padding.
        let mut by_length: Vec<usize> = (0..sentences.len()).collect();
        by_length.sort_by_key(|&index| std::cmp::Reverse(sentences[index].len()));
        let mut slots: Vec<Option<Embedding>> = vec![None; sentences.len()];
        for chunk in by_length.chunks(self.forward_batch) {
            let texts: Vec<String> = chunk
                .iter()
                .map(|&index| self.input.prepare(&sentences[index]))
                .collect();
            match tch::no_grad(|| self.model.encode(&texts)) {
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
}

impl Default for SimilarityCutoffs {
    /// all-MiniLM-L6-v2's (see `ExtractiveWeights::for_ranking`, `GuardSettings::for_embeddings`).
    fn default() -> Self {
        Self {
            max_redundancy: 0.75,
            min_support: 0.5,
            floor: 0.0,
        }
    }
}

/// The sentence-embedding pool and the languages it serves well.
pub struct EmbeddingService {
    pub model_id: String,
    pub pool: WorkerPool<EmbeddingEngine>,
    pub languages: Vec<String>,
    pub cutoffs: SimilarityCutoffs,
}

impl EmbeddingService {
    /// Whether this model serves `language` (ISO 639-1) well enough to rank with it.
    pub fn serves(&self, language: &str) -> bool {
        self.languages.iter().any(|served| served == language)
    }

    /// Embeds sentences on the embedding workers, as one job (one trip through the queue).
    pub async fn embed(
        &self,
        sentences: &[&str],
        deadline: Option<std::time::Instant>,
    ) -> Result<Vec<Embedding>, PrecisError> {
        let owned: Vec<String> = sentences.iter().map(|s| s.to_string()).collect();
        let vectors = self.pool.run(owned, deadline).await?;
        if vectors.len() != sentences.len() {
            return Err(PrecisError::EngineFailure(format!(
                "the embedding model answered {} vectors for {} sentences",
                vectors.len(),
                sentences.len()
            )));
        }
        Ok(vectors)
    }
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
