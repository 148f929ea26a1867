//! The summarize stage: chooses abstractive where a model is configured for the article's
//! language, checks its output with the guard, and falls back to the extractive summary when
//! the model fails or the guard rejects too much. Model work runs only on the worker pools:
//! sentence embeddings on the embedding pool (a request's sentences in pieces of similar length,
//! a few at a time, so big articles cannot starve small ones), generation on the summarization pool (one job per chunk, so chunks of requests that
//! wait together share batches).
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use precis_text::language::Detection;
use precis_text::segment::Segmentation;
use precis_text::ByteSpan;
use unicode_segmentation::UnicodeSegmentation;

use tokio::sync::oneshot;

use super::abstractive::{map_reduce, AbstractiveDraft};
use super::extractive::{
    repeated_sentences, select_sentences_among, shortlist, ExtractiveWeights, Ranking,
    SimilarityMatrix, SummaryLength, SHORTLIST_SENTENCES,
};
use super::guard::{self, Evidence, GuardOutcome, GuardReport, GuardSettings, SupportMatrix};
use super::summary::{SentenceOrigin, SummarizerInfo, Summary, SummaryMethod, SummarySentence};
use crate::config::DEFAULT_SUMMARIZER;
use crate::error::{run_blocking, PrecisError};
use crate::runtime::embeddings::{Embedding, EmbeddingService};
use crate::runtime::generation::{SummarizerInput, RESERVED_INPUT_TOKENS};
use crate::runtime::{ModelEngine, WorkerPool};

/// The engine name of the lexical ranking.
pub const LEXICAL_ENGINE: &str = "tfidf-centrality";

/// Where chunks go to be summarized: a worker pool of a text-to-text model. A trait so that
/// tests can put a recording or scripted engine behind the same request path.
pub trait ChunkQueue: Send + Sync {
    /// Queues one chunk (refused at once when the queue is full); the receiver answers with its
    /// summary, or `DeadlineExceeded` when the deadline passed before it could start.
    fn submit_chunk(
        &self,
        chunk: String,
        deadline: Option<Instant>,
    ) -> Result<oneshot::Receiver<Result<String, PrecisError>>, PrecisError>;
}

impl<E> ChunkQueue for WorkerPool<E>
where
    E: ModelEngine<Input = String, Output = String>,
{
    fn submit_chunk(
        &self,
        chunk: String,
        deadline: Option<Instant>,
    ) -> Result<oneshot::Receiver<Result<String, PrecisError>>, PrecisError> {
        self.submit(chunk, deadline)
    }
}

/// How many tokens a text makes for a summarization model.
pub trait TokenCount: Send + Sync {
    fn count_tokens(&self, text: &str) -> usize;
}

impl TokenCount for SummarizerInput {
    fn count_tokens(&self, text: &str) -> usize {
        SummarizerInput::count_tokens(self, text)
    }
}

/// One abstractive model on its workers, with what chunking needs to know about it.
pub struct SummarizerService {
    pub model_id: String,
    pub pool: Arc<dyn ChunkQueue>,
    pub tokens: Arc<dyn TokenCount>,
    /// Tokens of article text per model input (the model's limit minus special tokens).
    pub chunk_tokens: usize,
    /// Random weights made for tests: the response says so.
    pub test_model: bool,
}

/// Abstractive models by language code, `default` for any language.
#[derive(Default)]
pub struct Summarizers {
    pub by_language: BTreeMap<String, SummarizerService>,
}

impl Summarizers {
    pub fn for_language(&self, language: &str) -> Option<&SummarizerService> {
        self.by_language
            .get(language)
            .or_else(|| self.by_language.get(DEFAULT_SUMMARIZER))
    }
}

/// The summarize stage's engines: the sentence embeddings (ranking, evidence) and the
/// abstractive models by language.
#[derive(Default)]
pub struct SummarizeService {
    pub embeddings: Option<EmbeddingService>,
    /// Further embedding models for the languages `embeddings` does not serve, in catalog order.
    pub more_embeddings: Vec<EmbeddingService>,
    /// Abstractive summarizers by language; empty means every summary is extractive.
    pub summarizers: Summarizers,
}

impl SummarizeService {
    /// Every loaded embedding model, `embeddings` first.
    pub fn all_embeddings(&self) -> impl Iterator<Item = &EmbeddingService> {
        self.embeddings.iter().chain(&self.more_embeddings)
    }

    /// The first embedding model that serves both languages: one that can compare a text with
    /// its translation.
    pub fn cross_lingual_embedder(&self, source: &str, target: &str) -> Option<&EmbeddingService> {
        self.all_embeddings()
            .find(|service| service.serves(source) && service.serves(target))
    }

    /// The embedding model that ranks `language` (ISO 639-1): the first that serves it.
    pub fn embedder_for(&self, language: &str) -> Option<&EmbeddingService> {
        self.all_embeddings()
            .find(|service| service.serves(language))
    }

    /// Summarizes one article; see the module documentation for the choices made.
    pub async fn summarize(
        &self,
        request: &SummaryRequest<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Summary, PrecisError> {
        // The model serving the language, else any loaded one (which `summarize` then sets
        // aside for lexical ranking, without warning that none is loaded).
        let embedder = self
            .embedder_for(&request.language.iso639_1)
            .or_else(|| self.all_embeddings().next());
        summarize(embedder, &self.summarizers, request, warnings).await
    }

    /// The summarizers this deployment runs, for Capabilities: per language, the preferred one
    /// first. Abstractive models (with the ranking their evidence uses) come first; the
    /// extractive summarizers follow, since they serve every other language and replace an
    /// abstractive summary the guard rejects. `*` stands for any other language.
    pub fn capabilities(&self) -> Vec<SummarizerInfo> {
        let ranks_with_embeddings = |language: &str| self.embedder_for(language).is_some();
        let mut summarizers = Vec::new();
        for (language, service) in &self.summarizers.by_language {
            let any = language == DEFAULT_SUMMARIZER;
            summarizers.push(SummarizerInfo {
                language: if any { "*".into() } else { language.clone() },
                method: SummaryMethod::Abstractive,
                ranking: if !any && ranks_with_embeddings(language) {
                    Ranking::Embeddings
                } else {
                    Ranking::Lexical
                },
                engine: service.model_id.clone(),
            });
        }
        for service in self.all_embeddings() {
            for language in &service.languages {
                if self.embedder_for(language).map(|s| &s.model_id) != Some(&service.model_id) {
                    continue; // an earlier model serves it
                }
                summarizers.push(SummarizerInfo {
                    language: language.clone(),
                    method: SummaryMethod::Extractive,
                    ranking: Ranking::Embeddings,
                    engine: service.model_id.clone(),
                });
            }
        }
        summarizers.push(SummarizerInfo {
            language: "*".into(),
            method: SummaryMethod::Extractive,
            ranking: Ranking::Lexical,
            engine: LEXICAL_ENGINE.into(),
        });
        summarizers
    }
}

/// What one summary needs from the request.
pub struct SummaryRequest<'a> {
    pub text: &'a str,
    pub segmentation: &'a Segmentation,
    pub language: &'a Detection,
    pub length: SummaryLength,
    pub deadline: Option<Instant>,
}

/// The article's sentences, trimmed, with exact spans.
struct ArticleSentences<'a> {
    texts: Vec<&'a str>,
    spans: Vec<ByteSpan>,
    word_counts: Vec<usize>,
}

impl<'a> ArticleSentences<'a> {
    fn new(text: &'a str, segmentation: &Segmentation) -> Self {
        let spans: Vec<ByteSpan> = segmentation
            .sentences
            .iter()
            .map(|sentence| trimmed_span(text, sentence.span))
            .collect();
        let texts: Vec<&str> = spans
            .iter()
            .map(|span| &text[span.start..span.end])
            .collect();
        let word_counts = texts.iter().map(|t| t.unicode_words().count()).collect();
        Self {
            texts,
            spans,
            word_counts,
        }
    }
}

/// The span without surrounding whitespace, so `article[span]` is exactly the sentence shown.
pub fn trimmed_span(text: &str, span: ByteSpan) -> ByteSpan {
    let slice = &text[span.start..span.end];
    let start = span.start + (slice.len() - slice.trim_start().len());
    let end = span.end - (slice.len() - slice.trim_end().len());
    ByteSpan {
        start,
        end: end.max(start),
    }
}

/// Summarizes one article; see the module documentation for the choices made.
pub async fn summarize(
    embeddings: Option<&EmbeddingService>,
    summarizers: &Summarizers,
    request: &SummaryRequest<'_>,
    warnings: &mut Vec<String>,
) -> Result<Summary, PrecisError> {
    let article = ArticleSentences::new(request.text, request.segmentation);
    let embedder = embeddings.filter(|service| service.serves(&request.language.iso639_1));
    if embeddings.is_none() {
        warnings
            .push("no sentence-embedding model is loaded; the summary is ranked lexically".into());
    }
    let Some(summarizer) = summarizers.for_language(&request.language.iso639_1) else {
        // A long article is ranked on its shortlist: only those sentences are embedded.
        let ranked = shortlist(&article.texts, SHORTLIST_SENTENCES);
        let vectors = match embedder {
            Some(service) => {
                let texts: Vec<&str> = match &ranked {
                    Some(indices) => indices.iter().map(|&i| article.texts[i]).collect(),
                    None => article.texts.clone(),
                };
                Some(service.embed(&texts, request.deadline).await?)
            }
            None => None,
        };
        return Ok(extractive_among(
            &article,
            request,
            embedder,
            vectors.as_deref(),
            ranked.as_deref(),
        ));
    };

    let draft = match generate(summarizer, &article, request.deadline).await {
        Ok(draft) => draft,
        Err(error @ (PrecisError::DeadlineExceeded(_) | PrecisError::Cancelled)) => {
            return Err(error)
        }
        Err(error) => {
            tracing::warn!(model = %summarizer.model_id, %error, "abstractive summary failed; serving the extractive one");
            warnings.push(format!(
                "the abstractive summarizer {} failed ({error}); the summary is extractive",
                summarizer.model_id
            ));
            let vectors = match embedder {
                Some(service) => Some(service.embed(&article.texts, request.deadline).await?),
                None => None,
            };
            return Ok(extractive(&article, request, embedder, vectors.as_deref()));
        }
    };
    if summarizer.test_model {
        warnings.push(format!(
            "{} is a random-weight test model: its output is not a summary",
            summarizer.model_id
        ));
    }
    let draft_sentences = split_sentences(&draft.text);
    let draft_borrowed: Vec<&str> = draft_sentences.iter().map(String::as_str).collect();

    // One embedding job for the article and the draft together: one trip through the queue.
    let (support, article_vectors, settings) = match embedder {
        Some(service) => {
            let mut all: Vec<&str> = article.texts.clone();
            all.extend(&draft_borrowed);
            let mut vectors = service.embed(&all, request.deadline).await?;
            let draft_vectors = vectors.split_off(article.texts.len());
            (
                SupportMatrix::from_embeddings(&draft_vectors, &vectors),
                Some(vectors),
                GuardSettings {
                    min_support: service.cutoffs.min_support,
                    ..GuardSettings::for_embeddings()
                },
            )
        }
        None => (
            SupportMatrix::lexical(&draft_borrowed, &article.texts),
            None,
            GuardSettings::for_lexical(),
        ),
    };
    let report = guard::check(
        &summarizer.model_id,
        request.text,
        &article.texts,
        &draft_borrowed,
        &support,
        settings,
    );
    let ranking = if embedder.is_some() {
        Ranking::Embeddings
    } else {
        Ranking::Lexical
    };
    tracing::debug!(
        model = %summarizer.model_id,
        chunks = draft.chunks,
        reduce_rounds = draft.reduce_rounds,
        outcome = ?report.outcome,
        "abstractive summary checked"
    );
    match report.outcome {
        GuardOutcome::FellBackToExtractive => {
            warnings.push(format!(
                "the abstractive summary of {} failed the faithfulness guard; the summary is extractive",
                summarizer.model_id
            ));
            let mut summary = extractive(&article, request, embedder, article_vectors.as_deref());
            summary.chunks = draft.chunks;
            summary.guard = Some(report);
            Ok(summary)
        }
        GuardOutcome::Passed | GuardOutcome::SentencesDropped => {
            if report.outcome == GuardOutcome::SentencesDropped {
                warnings.push(format!(
                    "{} sentence(s) of the abstractive summary failed the faithfulness guard and were dropped",
                    report.dropped().count()
                ));
            }
            Ok(abstractive_summary(
                &summarizer.model_id,
                &draft,
                report,
                ranking,
                request.length,
                article.texts.len(),
            ))
        }
    }
}

/// Map-reduce generation on the summarization workers. Article sentences are counted in
/// tokens off the async runtime (a long article takes milliseconds to tokenize).
async fn generate(
    summarizer: &SummarizerService,
    article: &ArticleSentences<'_>,
    deadline: Option<Instant>,
) -> Result<AbstractiveDraft, PrecisError> {
    let input = Arc::clone(&summarizer.tokens);
    let owned: Vec<String> = article.texts.iter().map(|s| s.to_string()).collect();
    let counts: HashMap<String, usize> = run_blocking("token counting", move || {
        owned
            .into_iter()
            .map(|sentence| {
                let count = input.count_tokens(&sentence);
                (sentence, count)
            })
            .collect()
    })
    .await?;
    let input = &summarizer.tokens;
    let count_tokens = |text: &str| {
        counts
            .get(text)
            .copied()
            .unwrap_or_else(|| input.count_tokens(text))
    };
    let pool = &*summarizer.pool;
    map_reduce(
        &article.texts,
        &count_tokens,
        &split_sentences,
        summarizer.chunk_tokens,
        |chunks: Vec<String>| async move {
            // Every chunk is queued before any is awaited, so the workers see them together
            // and batch them (with other requests' chunks waiting at the same time).
            let receivers = chunks
                .into_iter()
                .map(|chunk| pool.submit_chunk(chunk, deadline))
                .collect::<Result<Vec<_>, _>>()?;
            let mut summaries = Vec::with_capacity(receivers.len());
            for receiver in receivers {
                let summary = receiver.await.unwrap_or_else(|_| {
                    Err(PrecisError::EngineFailure(
                        "a summarization worker died".into(),
                    ))
                })?;
                summaries.push(summary);
            }
            Ok(summaries)
        },
    )
    .await
}

/// Sentences of generated text, trimmed.
fn split_sentences(text: &str) -> Vec<String> {
    precis_text::segment::segment(text)
        .sentences
        .iter()
        .map(|sentence| {
            text[sentence.span.start..sentence.span.end]
                .trim()
                .to_string()
        })
        .filter(|sentence| !sentence.is_empty())
        .collect()
}

/// The extractive summary, ranked by embeddings when `vectors` are given, else lexically.
fn extractive(
    article: &ArticleSentences<'_>,
    request: &SummaryRequest<'_>,
    embedder: Option<&EmbeddingService>,
    vectors: Option<&[Embedding]>,
) -> Summary {
    extractive_among(article, request, embedder, vectors, None)
}

/// The extractive summary ranked among `shortlist` (article indices, in order; `vectors` are
/// theirs), or among every sentence when `None` (`vectors` one per sentence).
fn extractive_among(
    article: &ArticleSentences<'_>,
    request: &SummaryRequest<'_>,
    embedder: Option<&EmbeddingService>,
    vectors: Option<&[Embedding]>,
    shortlist: Option<&[usize]>,
) -> Summary {
    let all: Vec<usize>;
    let indices = match shortlist {
        Some(indices) => indices,
        None => {
            all = (0..article.texts.len()).collect();
            &all
        }
    };
    let texts: Vec<&str> = indices.iter().map(|&i| article.texts[i]).collect();
    let word_counts: Vec<usize> = indices.iter().map(|&i| article.word_counts[i]).collect();
    // Page furniture is what the whole article repeats, shortlisted or not.
    let repeated_in_article = repeated_sentences(&article.texts);
    let repeated: Vec<bool> = indices.iter().map(|&i| repeated_in_article[i]).collect();
    // A share of the article is a share of all its sentences, not of the shortlist.
    let length = match (request.length, shortlist) {
        (SummaryLength::Ratio(ratio), Some(_)) => SummaryLength::Sentences(
            ((article.texts.len() as f32 * ratio.clamp(0.0, 1.0)).round() as usize).max(1),
        ),
        (length, _) => length,
    };
    let (similarity, ranking, engine) = match (embedder, vectors) {
        (Some(service), Some(vectors)) => (
            SimilarityMatrix::from_embeddings_above(vectors, service.cutoffs.floor),
            Ranking::Embeddings,
            service.model_id.clone(),
        ),
        _ => (
            SimilarityMatrix::lexical(&texts),
            Ranking::Lexical,
            LEXICAL_ENGINE.to_string(),
        ),
    };
    let weights = match (ranking, embedder) {
        (Ranking::Embeddings, Some(service)) => ExtractiveWeights::for_embeddings(&service.cutoffs),
        _ => ExtractiveWeights::for_ranking(ranking),
    };
    let chosen = select_sentences_among(
        &similarity,
        &texts,
        &word_counts,
        &repeated,
        length,
        weights,
    );
    let sentences: Vec<SummarySentence> = chosen
        .into_iter()
        .map(|ranked| {
            let index = indices[ranked.index];
            SummarySentence {
                text: article.texts[index].to_string(),
                span: article.spans[index],
                score: ranked.score,
                origin: SentenceOrigin::Article,
                // An article sentence is its own evidence.
                evidence: vec![Evidence {
                    sentence_index: index,
                    similarity: 1.0,
                }],
            }
        })
        .collect();
    let text = sentences
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    Summary {
        text,
        sentences,
        method: SummaryMethod::Extractive,
        ranking,
        engine,
        guard: None,
        chunks: 0,
    }
}

/// The guard's surviving sentences, cut to the requested length, with spans into the summary.
fn abstractive_summary(
    model_id: &str,
    draft: &AbstractiveDraft,
    report: GuardReport,
    ranking: Ranking,
    length: SummaryLength,
    article_sentences: usize,
) -> Summary {
    let (max_sentences, max_words) = match length {
        SummaryLength::Sentences(count) => (count.max(1), usize::MAX),
        SummaryLength::Words(words) => (usize::MAX, words.max(1)),
        SummaryLength::Ratio(ratio) => (
            ((article_sentences as f32 * ratio.clamp(0.0, 1.0)).round() as usize).max(1),
            usize::MAX,
        ),
    };
    let mut text = String::new();
    let mut sentences = Vec::new();
    let mut words = 0;
    for checked in report.kept() {
        let sentence_words = checked.text.unicode_words().count();
        if sentences.len() == max_sentences
            || (!sentences.is_empty() && words + sentence_words > max_words)
        {
            break;
        }
        words += sentence_words;
        if !text.is_empty() {
            text.push(' ');
        }
        let start = text.len();
        text.push_str(&checked.text);
        sentences.push(SummarySentence {
            text: checked.text.clone(),
            span: ByteSpan {
                start,
                end: text.len(),
            },
            score: checked.evidence.first().map_or(0.0, |e| e.similarity),
            origin: SentenceOrigin::Generated,
            evidence: checked.evidence.clone(),
        });
    }
    Summary {
        text,
        sentences,
        method: SummaryMethod::Abstractive,
        ranking,
        engine: model_id.to_string(),
        guard: Some(report),
        chunks: draft.chunks,
    }
}

/// Tokens of article text one model input may hold.
pub fn chunk_tokens(position_limit: usize, configured: Option<usize>) -> usize {
    let limit = configured.unwrap_or(position_limit).min(position_limit);
    limit.saturating_sub(RESERVED_INPUT_TOKENS).max(16)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn chunks_leave_room_for_special_tokens_and_respect_the_model_limit() {
        assert_eq!(chunk_tokens(1024, None), 1024 - RESERVED_INPUT_TOKENS);
        assert_eq!(chunk_tokens(1024, Some(400)), 400 - RESERVED_INPUT_TOKENS);
        assert_eq!(
            chunk_tokens(512, Some(4096)),
            512 - RESERVED_INPUT_TOKENS,
            "a configured budget never exceeds what the model reads"
        );
    }
}
