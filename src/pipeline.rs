//! The Digest path: validate → language → segment → quotes → summarize → (translate).
//! Each stage is a domain module; this file only orders them, times them and collects warnings.
use std::sync::Arc;
use std::time::{Duration, Instant};

use precis_text::language::{Detection, LanguageDetector};
use precis_text::quotes::Quote;
use precis_text::segment::Segmentation;
use precis_text::ByteSpan;
use serde::Serialize;

use crate::error::PrecisError;
use crate::runtime::embeddings::EmbeddingEngine;
use crate::runtime::WorkerPool;
use crate::summarize::extractive::{
    select_sentences, ExtractiveWeights, Ranking, SimilarityMatrix, SummaryLength,
};

/// Limits applied before any work is queued.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_article_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_article_bytes: 256 * 1024,
        }
    }
}

/// An article that passed validation: non-empty, within limits.
#[derive(Debug, Clone)]
pub struct ValidArticle {
    text: String,
}

impl ValidArticle {
    pub fn new(text: String, limits: &Limits) -> Result<Self, PrecisError> {
        if text.len() > limits.max_article_bytes {
            return Err(PrecisError::invalid(
                "text",
                format!(
                    "the article is {} bytes; the limit is {} bytes (UTF-8)",
                    text.len(),
                    limits.max_article_bytes
                ),
            ));
        }
        if text.trim().is_empty() {
            return Err(PrecisError::invalid(
                "text",
                "the article is empty or only whitespace",
            ));
        }
        Ok(Self { text })
    }

    /// Reads raw bytes (a file, stdin): refuses invalid UTF-8 and names the first bad byte.
    pub fn from_bytes(bytes: Vec<u8>, limits: &Limits) -> Result<Self, PrecisError> {
        let text = String::from_utf8(bytes).map_err(|error| {
            PrecisError::invalid(
                "text",
                format!(
                    "the article is not valid UTF-8 (first invalid byte at offset {}); convert it to UTF-8 first",
                    error.utf8_error().valid_up_to()
                ),
            )
        })?;
        Self::new(text, limits)
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// What the caller wants from a digest.
#[derive(Debug, Clone, Default)]
pub struct DigestOptions {
    pub summary_length: SummaryLength,
    /// At most this many key quotes, by salience; 0 means all.
    pub max_quotes: usize,
    pub skip_summary: bool,
    pub skip_quotes: bool,
    pub deadline: Option<Instant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SummarySentence {
    pub text: String,
    pub span: ByteSpan,
    pub score: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryMethod {
    Extractive,
    Abstractive,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub text: String,
    pub sentences: Vec<SummarySentence>,
    pub method: SummaryMethod,
    pub ranking: Ranking,
    /// The model or algorithm that ranked or wrote the summary.
    pub engine: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    pub stage: &'static str,
    pub micros: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    pub language: Detection,
    pub summary: Option<Summary>,
    pub quotes: Vec<Quote>,
    pub warnings: Vec<String>,
    pub timings: Vec<StageTiming>,
}

/// The sentence-embedding pool and the languages it ranks well.
pub struct EmbeddingService {
    pub model_id: String,
    pub pool: WorkerPool<EmbeddingEngine>,
    pub languages: Vec<String>,
}

/// Everything a digest needs, loaded once and shared.
pub struct Pipeline {
    pub detector: Arc<LanguageDetector>,
    pub embeddings: Option<EmbeddingService>,
    pub limits: Limits,
}

struct Stopwatch {
    timings: Vec<StageTiming>,
    last: Instant,
}

impl Stopwatch {
    fn new() -> Self {
        Self {
            timings: Vec::new(),
            last: Instant::now(),
        }
    }

    fn lap(&mut self, stage: &'static str) {
        let now = Instant::now();
        let elapsed = now - self.last;
        metrics::histogram!("precis_stage_seconds", "stage" => stage).record(elapsed.as_secs_f64());
        self.timings.push(StageTiming {
            stage,
            micros: elapsed.as_micros() as u64,
        });
        self.last = now;
    }
}

impl Pipeline {
    pub async fn digest(
        &self,
        article: &ValidArticle,
        options: &DigestOptions,
    ) -> Result<Digest, PrecisError> {
        let text = article.text();
        let mut clock = Stopwatch::new();
        let mut warnings = Vec::new();
        check_deadline(options.deadline)?;

        let language = self.detector.detect(text);
        clock.lap("language");

        let segmentation = precis_text::segment::segment(text);
        clock.lap("segment");

        let quotes = if options.skip_quotes {
            Vec::new()
        } else {
            let mut quotes =
                precis_text::quotes::extract_quotes(text, &segmentation, &self.detector);
            if options.max_quotes > 0 && quotes.len() > options.max_quotes {
                // Keep the most salient, then restore article order.
                quotes.sort_by(|a, b| b.salience.total_cmp(&a.salience));
                quotes.truncate(options.max_quotes);
                quotes.sort_by_key(|quote| quote.span.start);
            }
            quotes
        };
        clock.lap("quotes");

        let summary = if options.skip_summary {
            None
        } else {
            Some(
                self.summarize_extractive(text, &segmentation, &language, options, &mut warnings)
                    .await?,
            )
        };
        clock.lap("summarize");

        Ok(Digest {
            language,
            summary,
            quotes,
            warnings,
            timings: clock.timings,
        })
    }

    async fn summarize_extractive(
        &self,
        text: &str,
        segmentation: &Segmentation,
        language: &Detection,
        options: &DigestOptions,
        warnings: &mut Vec<String>,
    ) -> Result<Summary, PrecisError> {
        let sentences: Vec<&str> = segmentation
            .sentences
            .iter()
            .map(|sentence| text[sentence.span.start..sentence.span.end].trim())
            .collect();
        let word_counts: Vec<usize> = sentences
            .iter()
            .map(|sentence| {
                unicode_segmentation::UnicodeSegmentation::unicode_words(*sentence).count()
            })
            .collect();
        let embedding_service = self
            .embeddings
            .as_ref()
            .filter(|service| service.languages.iter().any(|l| *l == language.iso639_1));
        let (similarity, ranking, engine) = match embedding_service {
            Some(service) => {
                let owned: Vec<String> = sentences.iter().map(|s| s.to_string()).collect();
                let embeddings = service.pool.run(owned, options.deadline).await?;
                (
                    SimilarityMatrix::from_embeddings(&embeddings),
                    Ranking::Embeddings,
                    service.model_id.clone(),
                )
            }
            None => {
                if self.embeddings.is_none() {
                    warnings.push(
                        "no sentence-embedding model is loaded; the summary is ranked lexically"
                            .into(),
                    );
                }
                (
                    SimilarityMatrix::lexical(&sentences),
                    Ranking::Lexical,
                    "tfidf-centrality".to_string(),
                )
            }
        };
        let chosen = select_sentences(
            &similarity,
            &word_counts,
            options.summary_length,
            ExtractiveWeights::for_ranking(ranking),
        );
        let sentences: Vec<SummarySentence> = chosen
            .into_iter()
            .map(|ranked| {
                let span = trimmed_span(text, segmentation.sentences[ranked.index].span);
                SummarySentence {
                    text: text[span.start..span.end].to_string(),
                    span,
                    score: ranked.score,
                }
            })
            .collect();
        let summary_text = sentences
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Summary {
            text: summary_text,
            sentences,
            method: SummaryMethod::Extractive,
            ranking,
            engine,
        })
    }
}

/// The span without surrounding whitespace, so `article[span]` is exactly the sentence shown.
fn trimmed_span(text: &str, span: ByteSpan) -> ByteSpan {
    let slice = &text[span.start..span.end];
    let start = span.start + (slice.len() - slice.trim_start().len());
    let end = span.end - (slice.len() - slice.trim_end().len());
    ByteSpan {
        start,
        end: end.max(start),
    }
}

fn check_deadline(deadline: Option<Instant>) -> Result<(), PrecisError> {
    match deadline {
        Some(deadline) if Instant::now() >= deadline => {
            Err(PrecisError::DeadlineExceeded(Duration::ZERO))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field_and_the_limit() {
        let limits = Limits {
            max_article_bytes: 10,
        };
        let error = ValidArticle::new("x".repeat(11), &limits).unwrap_err();
        assert!(error.to_string().contains("limit is 10 bytes"), "{error}");
        let error = ValidArticle::new(" \n\t".into(), &limits).unwrap_err();
        assert!(error.to_string().contains("empty"), "{error}");
        let error = ValidArticle::from_bytes(vec![b'a', 0xff, b'b'], &limits).unwrap_err();
        assert!(error.to_string().contains("offset 1"), "{error}");
        assert!(ValidArticle::new("Hello.".into(), &limits).is_ok());
    }

    #[test]
    fn trimmed_span_drops_outer_whitespace() {
        let text = "  Hi there.  ";
        let span = trimmed_span(
            text,
            ByteSpan {
                start: 0,
                end: text.len(),
            },
        );
        assert_eq!(&text[span.start..span.end], "Hi there.");
    }
}

/// How one configured model fared at start-up: what `precis models list` prints.
#[derive(Debug, Clone, Serialize)]
pub struct ModelStatus {
    pub id: String,
    #[serde(flatten)]
    pub role: crate::runtime::ModelRole,
    pub location: String,
    pub architecture: Option<crate::runtime::registry::Architecture>,
    pub size_bytes: Option<u64>,
    pub load_millis: Option<u64>,
    pub ready: bool,
    /// Why the model is not ready.
    pub error: Option<String>,
    /// Random weights made for tests: never serve their output as a result.
    pub test_model: bool,
}

impl Pipeline {
    /// Loads every model of the catalog. A model that fails is reported in its status, not
    /// fatal here: `serve` refuses to start on it, `models list` shows why.
    pub fn load(
        settings: &crate::config::RuntimeSettings,
        limits: Limits,
    ) -> anyhow::Result<(Self, Vec<ModelStatus>)> {
        use crate::runtime::registry::inspect_directory;
        use crate::runtime::{ModelLocation, ModelRole, PoolConfig};

        let catalog = settings.catalog()?;
        let models_dir = settings.models_dir();
        let mut statuses = Vec::new();
        let mut embeddings = None;
        if let Some(model) = &catalog.embeddings {
            let spec = model.spec(ModelRole::SentenceEmbeddings, &models_dir)?;
            let directory = match &spec.location {
                ModelLocation::Directory(path) => {
                    inspect_directory(&spec.id, &spec.role, path).ok()
                }
                ModelLocation::Remote(_) => None,
            };
            let pool_config = PoolConfig {
                name: "embeddings".into(),
                workers: settings.model_workers,
                queue_capacity: settings.queue_capacity,
                max_batch_cost: settings.embedding_batch * 4,
                torch_threads: settings.torch_threads,
            };
            let forward_batch = settings.embedding_batch;
            let load_spec = spec.clone();
            let started = Instant::now();
            let pool = WorkerPool::start(pool_config, move || {
                EmbeddingEngine::load(&load_spec, forward_batch)
            });
            let load_millis = started.elapsed().as_millis() as u64;
            let (ready, error) = match pool {
                Ok(pool) => {
                    embeddings = Some(EmbeddingService {
                        model_id: spec.id.clone(),
                        pool,
                        languages: model.languages.clone(),
                    });
                    (true, None)
                }
                Err(error) => (false, Some(error.to_string())),
            };
            statuses.push(ModelStatus {
                id: spec.id.clone(),
                role: spec.role.clone(),
                location: spec.location.to_string(),
                architecture: directory.as_ref().map(|d| d.architecture),
                size_bytes: directory.as_ref().map(|d| d.size_bytes),
                load_millis: ready.then_some(load_millis),
                ready,
                error,
                test_model: directory.as_ref().is_some_and(|d| d.test_model),
            });
        }
        let pipeline = Self {
            detector: Arc::new(LanguageDetector::new()),
            embeddings,
            limits,
        };
        Ok((pipeline, statuses))
    }
}
