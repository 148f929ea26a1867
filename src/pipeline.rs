//! The Digest path: validate → language → segment → quotes → summarize → (translate).
//! Each stage is a domain module; this file only orders them, times them and collects warnings.
use std::sync::Arc;
use std::time::{Duration, Instant};

use precis_text::language::{Detection, LanguageDetector};
use precis_text::quotes::Quote;
use precis_text::segment::Segmentation;
use precis_text::ByteSpan;
use precis_translate::{
    normalize_language, translate_article, EngineKind, FaithfulOptions, FaithfulTranslation,
    QuoteToTranslate, Route, Router, TranslateError,
};
use serde::Serialize;

use crate::error::PrecisError;
use crate::runtime::embeddings::EmbeddingEngine;
use crate::runtime::WorkerPool;
use crate::summarize::extractive::{Ranking, SummaryLength};
use crate::summarize::guard::{Evidence, GuardReport};
use crate::summarize::service::{Summarizers, SummaryRequest};

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
    /// Translate the summary and quotes into this language (ISO 639-1 / BCP-47).
    pub target_language: Option<String>,
    pub deadline: Option<Instant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SummarySentence {
    pub text: String,
    /// `Article` sentences: their exact span in the article. `Generated` sentences: their span
    /// in `Summary::text` (they are not in the article; `evidence` links them to it).
    pub span: ByteSpan,
    /// Extractive: the ranking score in [0, 1]. Abstractive: the similarity of the best evidence.
    pub score: f32,
    pub origin: SentenceOrigin,
    /// The article sentences that support this one, best first. An extractive sentence is its
    /// own evidence (similarity 1).
    pub evidence: Vec<Evidence>,
}

/// Where a summary sentence comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SentenceOrigin {
    /// Copied from the article.
    Article,
    /// Written by an abstractive model.
    Generated,
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
    /// Extractive: what ranked the sentences. Abstractive: what linked them to their evidence.
    pub ranking: Ranking,
    /// The model or algorithm that ranked or wrote the summary.
    pub engine: String,
    /// Present when an abstractive summary was written: what the faithfulness guard found and
    /// did. With `method` extractive, the guard rejected the abstractive summary (the report
    /// says why) and this extractive summary replaced it.
    pub guard: Option<GuardReport>,
    /// Model inputs the article was split into for the abstractive summary; 0 when none ran.
    pub chunks: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    pub stage: &'static str,
    pub micros: u64,
}

/// A text translated, beside what was protected and which engines did it.
#[derive(Debug, Clone, Serialize)]
pub struct Translation {
    pub text: String,
    pub source_language: String,
    pub target_language: String,
    /// One engine id per hop; empty when source and target are the same language.
    pub engines: Vec<String>,
    /// The weakest hop's kind (rule-based if any hop is); none for the identity route.
    pub engine_kind: Option<EngineKind>,
    /// Protected names and numbers the engine lost; empty when all survived.
    pub unpreserved_terms: Vec<String>,
}

impl Translation {
    fn new(faithful: FaithfulTranslation, route: &Route) -> Self {
        let engine_kind = if route.hops.is_empty() {
            None
        } else if route
            .hops
            .iter()
            .any(|hop| hop.engine_kind == EngineKind::RuleBased)
        {
            Some(EngineKind::RuleBased)
        } else {
            Some(EngineKind::Neural)
        };
        Self {
            text: faithful.translated,
            source_language: route.source.clone(),
            target_language: route.target.clone(),
            engines: route.hops.iter().map(|hop| hop.engine_id.clone()).collect(),
            engine_kind,
            unpreserved_terms: faithful.missing_terms,
        }
    }
}

/// A quote, verbatim, with its translation when one was asked for and possible.
#[derive(Debug, Clone, Serialize)]
pub struct KeyQuote {
    #[serde(flatten)]
    pub quote: Quote,
    pub translation: Option<Translation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    pub language: Detection,
    pub summary: Option<Summary>,
    pub translated_summary: Option<Translation>,
    pub quotes: Vec<KeyQuote>,
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
    /// Abstractive summarizers by language; empty means every summary is extractive.
    pub summarizers: Summarizers,
    pub router: Arc<Router>,
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

    /// Takes over laps timed elsewhere (another thread) and restarts from now.
    fn extend(&mut self, timings: Vec<StageTiming>) {
        self.timings.extend(timings);
        self.last = Instant::now();
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
        let target_language = options
            .target_language
            .as_deref()
            .map(|code| {
                normalize_language(code)
                    .map_err(|error| PrecisError::invalid("target_language", error.to_string()))
            })
            .transpose()?;

        // Detection, segmentation and quote extraction take milliseconds of CPU on a long
        // article: they run on a blocking thread so the async workers keep serving.
        let analysis = {
            let detector = Arc::clone(&self.detector);
            let owned_text = text.to_string();
            let (skip_quotes, max_quotes) = (options.skip_quotes, options.max_quotes);
            tokio::task::spawn_blocking(move || {
                analyse_text(&detector, &owned_text, skip_quotes, max_quotes)
            })
            .await
            .map_err(|error| PrecisError::Internal(format!("text analysis failed: {error}")))?
        };
        clock.extend(analysis.timings);
        let TextAnalysis {
            language,
            segmentation,
            quotes,
            ..
        } = analysis;

        let summary = if options.skip_summary {
            None
        } else {
            Some(
                self.summarize(text, &segmentation, &language, options, &mut warnings)
                    .await?,
            )
        };
        clock.lap("summarize");

        let (translated_summary, quote_translations) = match &target_language {
            Some(target) => {
                self.translate(
                    &language,
                    target,
                    summary.as_ref(),
                    &quotes,
                    options.deadline,
                    &mut warnings,
                )
                .await?
            }
            None => (None, vec![None; quotes.len()]),
        };
        clock.lap("translate");

        Ok(Digest {
            language,
            summary,
            translated_summary,
            quotes: quotes
                .into_iter()
                .zip(quote_translations)
                .map(|(quote, translation)| KeyQuote { quote, translation })
                .collect(),
            warnings,
            timings: clock.timings,
        })
    }

    /// Translates the summary and every quote into `target`. Quotes in the article's language
    /// go with the summary in one batch; a quote in another language goes from its own.
    /// A pair with no engine is a warning, and the texts stay untranslated.
    async fn translate(
        &self,
        article_language: &Detection,
        target: &str,
        summary: Option<&Summary>,
        quotes: &[Quote],
        deadline: Option<Instant>,
        warnings: &mut Vec<String>,
    ) -> Result<(Option<Translation>, Vec<Option<Translation>>), PrecisError> {
        let mut quote_translations: Vec<Option<Translation>> = vec![None; quotes.len()];
        if article_language.is_undetermined() {
            warnings.push(format!(
                "the article's language could not be determined; nothing was translated to {target}"
            ));
            return Ok((None, quote_translations));
        }
        // Group quote indices by source language; the article's language carries the summary.
        let mut groups: Vec<(String, Vec<usize>)> =
            vec![(article_language.iso639_1.clone(), vec![])];
        for (index, quote) in quotes.iter().enumerate() {
            let source = if quote.language.is_undetermined() {
                article_language.iso639_1.clone()
            } else {
                quote.language.iso639_1.clone()
            };
            match groups.iter_mut().find(|(language, _)| *language == source) {
                Some((_, members)) => members.push(index),
                None => groups.push((source, vec![index])),
            }
        }
        let mut translated_summary = None;
        for (position, (source, members)) in groups.into_iter().enumerate() {
            let carries_summary = position == 0 && summary.is_some();
            if members.is_empty() && !carries_summary {
                continue;
            }
            let plan = match self.router.plan(&source, target) {
                Ok(plan) => plan,
                Err(error @ TranslateError::UnsupportedPair { .. }) => {
                    warnings.push(format!("{error}; left untranslated"));
                    continue;
                }
                Err(error) => return Err(translate_error(error)),
            };
            let batch: Vec<QuoteToTranslate> = members
                .iter()
                .map(|&index| QuoteToTranslate {
                    text: quotes[index].text.clone(),
                    speaker: quotes[index].speaker.as_ref().map(|s| s.name.clone()),
                })
                .collect();
            let summary_text = carries_summary
                .then(|| summary.map(|s| s.text.clone()))
                .flatten();
            // Engines block (a pipe, a model worker): wait for them off the async runtime.
            let translated = tokio::task::spawn_blocking(move || {
                translate_article(
                    &plan,
                    &batch,
                    summary_text.as_deref(),
                    &FaithfulOptions::default(),
                    deadline,
                )
            })
            .await
            .map_err(|error| PrecisError::Internal(format!("translation task failed: {error}")))?
            .map_err(translate_error)?;
            for (&index, faithful) in members.iter().zip(translated.quotes) {
                quote_translations[index] = Some(Translation::new(faithful, &translated.route));
            }
            if let Some(faithful) = translated.summary {
                translated_summary = Some(Translation::new(faithful, &translated.route));
            }
        }
        for translation in quote_translations.iter().flatten() {
            if !translation.unpreserved_terms.is_empty() {
                warnings.push(format!(
                    "the {} translation lost protected terms: {}",
                    translation.engines.join(" → "),
                    translation.unpreserved_terms.join(", ")
                ));
            }
        }
        Ok((translated_summary, quote_translations))
    }

    /// Abstractive where a model serves the article's language (checked by the guard, with
    /// the extractive summary as fallback), extractive otherwise: see `summarize::service`.
    async fn summarize(
        &self,
        text: &str,
        segmentation: &Segmentation,
        language: &Detection,
        options: &DigestOptions,
        warnings: &mut Vec<String>,
    ) -> Result<Summary, PrecisError> {
        let request = SummaryRequest {
            text,
            segmentation,
            language,
            length: options.summary_length,
            deadline: options.deadline,
        };
        crate::summarize::service::summarize(
            self.embeddings.as_ref(),
            &self.summarizers,
            &request,
            warnings,
        )
        .await
    }
}

/// The model-free stages of a digest.
struct TextAnalysis {
    language: Detection,
    segmentation: Segmentation,
    quotes: Vec<Quote>,
    timings: Vec<StageTiming>,
}

fn analyse_text(
    detector: &LanguageDetector,
    text: &str,
    skip_quotes: bool,
    max_quotes: usize,
) -> TextAnalysis {
    let mut clock = Stopwatch::new();
    let language = detector.detect(text);
    clock.lap("language");
    let segmentation = precis_text::segment::segment(text);
    clock.lap("segment");
    let quotes = if skip_quotes {
        Vec::new()
    } else {
        let mut quotes = precis_text::quotes::extract_quotes(text, &segmentation, detector);
        if max_quotes > 0 && quotes.len() > max_quotes {
            // Keep the most salient, then restore article order.
            quotes.sort_by(|a, b| b.salience.total_cmp(&a.salience));
            quotes.truncate(max_quotes);
            quotes.sort_by_key(|quote| quote.span.start);
        }
        quotes
    };
    clock.lap("quotes");
    TextAnalysis {
        language,
        segmentation,
        quotes,
        timings: clock.timings,
    }
}

/// Translation errors in domain terms.
pub fn translate_error(error: TranslateError) -> PrecisError {
    match error {
        TranslateError::DeadlineExceeded => PrecisError::DeadlineExceeded(Duration::ZERO),
        TranslateError::InvalidLanguage { .. } => {
            PrecisError::invalid("language", error.to_string())
        }
        TranslateError::UnsupportedPair { .. } => {
            PrecisError::FailedPrecondition(error.to_string())
        }
        TranslateError::EngineFailure { .. } => PrecisError::Internal(error.to_string()),
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
}

impl Pipeline {
    /// Loads every model of the catalog. A model that fails is reported in its status, not
    /// fatal here: `serve` refuses to start on it, `models list` shows why.
    pub fn load(
        settings: &crate::config::RuntimeSettings,
        limits: Limits,
    ) -> anyhow::Result<(Self, Vec<crate::runtime::ModelStatus>)> {
        use crate::runtime::{start_model_pool, ModelRole};

        let catalog = settings.catalog()?;
        let models_dir = settings.models_dir();
        let mut statuses = Vec::new();
        let mut embeddings = None;
        if let Some(model) = &catalog.embeddings {
            let spec = model.spec(ModelRole::SentenceEmbeddings, &models_dir)?;
            let forward_batch = settings.embedding_batch;
            let (pool, status) = start_model_pool(
                &spec,
                // One forward batch per job pick-up, so a second worker finds work waiting
                // instead of the first taking the whole queue.
                settings.pool_config("embeddings", settings.embedding_batch),
                move |spec| EmbeddingEngine::load(spec, forward_batch),
            );
            statuses.push(status);
            embeddings = pool.map(|pool| EmbeddingService {
                model_id: spec.id.clone(),
                pool,
                languages: model.languages.clone(),
            });
        }
        let summarizers =
            crate::summarize::service::load_summarizers(&catalog, settings, &mut statuses)?;
        let neural = crate::translate::load_neural(&catalog, settings)?;
        statuses.extend(neural.statuses);
        let apertium = precis_translate::apertium::ApertiumConfig {
            data_dir: settings.apertium_dir.clone(),
            ..Default::default()
        };
        let router = crate::translate::build_router(neural.translators, &apertium)?;
        statuses.extend(crate::translate::apertium_statuses(&router));
        let pipeline = Self {
            detector: Arc::new(LanguageDetector::new()),
            embeddings,
            summarizers,
            router: Arc::new(router),
            limits,
        };
        Ok((pipeline, statuses))
    }
}

/// One summarizer this deployment runs, for capabilities.
#[derive(Debug, Clone, Serialize)]
pub struct SummarizerInfo {
    /// ISO 639-1 code, or `*` for any language.
    pub language: String,
    pub method: SummaryMethod,
    pub ranking: Ranking,
    pub engine: String,
}

/// What this deployment can do: what GetCapabilities reports.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineCapabilities {
    /// ISO 639-1 codes, sorted.
    pub detectable_languages: Vec<String>,
    /// Per-language summarizers first, then the any-language fallback.
    pub summarizers: Vec<SummarizerInfo>,
    /// Direct pairs with their engines, preferred engine first.
    pub translation_pairs: Vec<precis_translate::PairCapability>,
}

/// A text beside its translation.
#[derive(Debug, Clone, Serialize)]
pub struct TranslatedText {
    pub original: String,
    pub translation: Translation,
}

/// The result of [`Pipeline::translate_texts`].
#[derive(Debug, Clone, Serialize)]
pub struct TranslatedTexts {
    /// The source language used, given or detected (ISO 639-1).
    pub source_language: String,
    pub texts: Vec<TranslatedText>,
}

impl Pipeline {
    /// Languages, summarizers and translation pairs, as loaded.
    pub fn capabilities(&self) -> PipelineCapabilities {
        let summarizers = self.summarizers();
        let mut detectable_languages: Vec<String> = self
            .detector
            .supported_languages()
            .into_iter()
            .map(|language| language.iso639_1)
            .collect();
        detectable_languages.sort();
        detectable_languages.dedup();
        PipelineCapabilities {
            detectable_languages,
            summarizers,
            translation_pairs: self.router.capabilities(),
        }
    }

    /// Translates `texts` (one batch) from `source_language` (detected from all the texts
    /// together when `None`) into `target_language`. Validated before any engine runs: at least
    /// one text, all of them within the article size limit together, both codes well formed.
    /// A pair with no route is `FailedPrecondition`, naming the pairs that exist.
    pub async fn translate_texts(
        &self,
        texts: Vec<String>,
        source_language: Option<&str>,
        target_language: &str,
        deadline: Option<Instant>,
    ) -> Result<TranslatedTexts, PrecisError> {
        if texts.is_empty() {
            return Err(PrecisError::invalid("texts", "give at least one text"));
        }
        let total_bytes: usize = texts.iter().map(String::len).sum();
        if total_bytes > self.limits.max_article_bytes {
            return Err(PrecisError::invalid(
                "texts",
                format!(
                    "the texts are {total_bytes} bytes together; the limit is {} bytes (UTF-8)",
                    self.limits.max_article_bytes
                ),
            ));
        }
        let target = normalize_language(target_language)
            .map_err(|error| PrecisError::invalid("target_language", error.to_string()))?;
        let source = match source_language {
            Some(code) => normalize_language(code)
                .map_err(|error| PrecisError::invalid("source_language", error.to_string()))?,
            None => {
                let detection = self.detector.detect(&texts.join("\n"));
                if detection.is_undetermined() {
                    return Err(PrecisError::invalid(
                        "source_language",
                        "the language of the texts could not be detected; set source_language",
                    ));
                }
                detection.iso639_1
            }
        };
        check_deadline(deadline)?;
        let plan = self
            .router
            .plan(&source, &target)
            .map_err(translate_error)?;
        let route = plan.route().clone();
        // Engines block (a pipe, a model worker): wait for them off the async runtime.
        let translated = tokio::task::spawn_blocking(move || {
            let borrowed: Vec<&str> = texts.iter().map(String::as_str).collect();
            precis_translate::translate_faithfully(
                &plan,
                &borrowed,
                &[],
                &FaithfulOptions::default(),
                deadline,
            )
        })
        .await
        .map_err(|error| PrecisError::Internal(format!("translation task failed: {error}")))?
        .map_err(translate_error)?;
        Ok(TranslatedTexts {
            source_language: source,
            texts: translated
                .into_iter()
                .map(|faithful| TranslatedText {
                    original: faithful.original.clone(),
                    translation: Translation::new(faithful, &route),
                })
                .collect(),
        })
    }
}

impl Pipeline {
    /// The summarizers this deployment runs, for Capabilities: per language, the preferred one
    /// first. Abstractive models (with the ranking their evidence uses) come first; the
    /// extractive summarizers follow, since they serve every other language and replace an
    /// abstractive summary the guard rejects. `*` stands for any other language.
    pub fn summarizers(&self) -> Vec<SummarizerInfo> {
        let embedding_languages: &[String] = self
            .embeddings
            .as_ref()
            .map_or(&[], |service| service.languages.as_slice());
        let mut summarizers = Vec::new();
        for (language, service) in &self.summarizers.by_language {
            let any = language == crate::config::DEFAULT_SUMMARIZER;
            summarizers.push(SummarizerInfo {
                language: if any { "*".into() } else { language.clone() },
                method: SummaryMethod::Abstractive,
                ranking: if !any && embedding_languages.contains(language) {
                    Ranking::Embeddings
                } else {
                    Ranking::Lexical
                },
                engine: service.model_id.clone(),
            });
        }
        if let Some(service) = &self.embeddings {
            for language in &service.languages {
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
            engine: crate::summarize::service::LEXICAL_ENGINE.into(),
        });
        summarizers
    }
}
