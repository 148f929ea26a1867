//! The Digest path: language → segment → quotes → summarize → translate, over a request that
//! already passed validation (`validate`). Each stage is a service or a domain module; this
//! file only orders them, times them and collects their warnings.
use std::sync::Arc;
use std::time::{Duration, Instant};

use precis_text::language::{Detection, LanguageDetector};
use precis_text::quotes::Quote;
use serde::Serialize;

use crate::engines::{Capabilities, Engines};
use crate::error::{run_blocking, PrecisError};
use crate::runtime::ModelStatus;
use crate::summarize::{Summary, SummaryRequest};
use crate::telemetry;
use crate::translate::{TranslatedTexts, Translation};
use crate::validate::{ValidDigest, ValidTranslate};

/// The stages of a digest, in order: the names its timings and the stage metric carry.
pub mod stage {
    pub const LANGUAGE: &str = "language";
    pub const SEGMENT: &str = "segment";
    pub const QUOTES: &str = "quotes";
    pub const SUMMARIZE: &str = "summarize";
    pub const TRANSLATE: &str = "translate";
    pub const ALL: [&str; 5] = [LANGUAGE, SEGMENT, QUOTES, SUMMARIZE, TRANSLATE];
}

#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    pub stage: &'static str,
    pub micros: u64,
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

/// The stages in order over the engines of one deployment.
pub struct Pipeline {
    pub engines: Engines,
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
        telemetry::record_stage(stage, elapsed);
        self.timings.push(StageTiming {
            stage,
            micros: elapsed.as_micros() as u64,
        });
        self.last = now;
    }
}

impl Pipeline {
    /// Starts every engine of the catalog (see [`Engines::load`]).
    pub fn load(
        settings: &crate::config::RuntimeSettings,
    ) -> anyhow::Result<(Self, Vec<ModelStatus>)> {
        let (engines, statuses) = Engines::load(settings)?;
        Ok((Self { engines }, statuses))
    }

    pub fn detector(&self) -> &Arc<LanguageDetector> {
        &self.engines.detector
    }

    /// Languages, summarizers and translation pairs, as loaded.
    pub fn capabilities(&self) -> Capabilities {
        self.engines.capabilities()
    }

    pub async fn digest(
        &self,
        request: &ValidDigest,
        deadline: Option<Instant>,
    ) -> Result<Digest, PrecisError> {
        let text = request.article().text();
        let options = request.options();
        let mut clock = Stopwatch::new();
        let mut warnings = Vec::new();
        check_deadline(deadline)?;

        // Detection, segmentation and quote extraction take milliseconds of CPU on a long
        // article: they run on a blocking thread so the async workers keep serving.
        let analysis = {
            let detector = Arc::clone(&self.engines.detector);
            let owned_text = text.to_string();
            let (skip_quotes, max_quotes) = (options.skip_quotes, options.max_quotes);
            run_blocking("text analysis", move || {
                analyse_text(&detector, &owned_text, skip_quotes, max_quotes)
            })
            .await?
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
            let request = SummaryRequest {
                text,
                segmentation: &segmentation,
                language: &language,
                length: options.summary_length,
                deadline,
            };
            Some(
                self.engines
                    .summarize
                    .summarize(&request, &mut warnings)
                    .await?,
            )
        };
        clock.lap(stage::SUMMARIZE);

        let (translated_summary, quote_translations) = match &options.target_language {
            Some(target) => {
                let translations = self
                    .engines
                    .translation
                    .translate_digest(
                        &language,
                        target,
                        summary.as_ref().map(|summary| summary.text.as_str()),
                        &quotes,
                        options.min_translation_quality,
                        deadline,
                        &mut warnings,
                    )
                    .await?;
                (translations.summary, translations.quotes)
            }
            None => (None, vec![None; quotes.len()]),
        };
        clock.lap(stage::TRANSLATE);

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

    /// Translates a batch of texts; without a source language, it is detected from all the
    /// texts together.
    pub async fn translate(
        &self,
        request: ValidTranslate,
        deadline: Option<Instant>,
    ) -> Result<TranslatedTexts, PrecisError> {
        let source = match request.source_language() {
            Some(code) => code.as_str().to_string(),
            None => {
                let detection = self.engines.detector.detect(&request.texts().join("\n"));
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
        let target = request.target_language().clone();
        self.engines
            .translation
            .translate_texts(request.into_texts(), &source, &target, deadline)
            .await
    }
}

/// The model-free stages of a digest.
struct TextAnalysis {
    language: Detection,
    segmentation: precis_text::segment::Segmentation,
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
    clock.lap(stage::LANGUAGE);
    let segmentation = precis_text::segment::segment(text);
    clock.lap(stage::SEGMENT);
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
    clock.lap(stage::QUOTES);
    TextAnalysis {
        language,
        segmentation,
        quotes,
        timings: clock.timings,
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
