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
use crate::names::NameAnalysers;
use crate::runtime::embeddings::{cosine, EmbeddingService};
use crate::runtime::lanes::{CpuLanes, LONG_REQUEST_BYTES, LONG_REQUEST_NICENESS};
use crate::runtime::ModelStatus;
use crate::summarize::{Summary, SummaryRequest};
use crate::telemetry;
use crate::translate::{Adequacy, TranslatedTexts, Translation};
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
    /// Where a request's own CPU stages run: long articles at a lower OS priority.
    lanes: CpuLanes,
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
        let lanes = CpuLanes::new(LONG_REQUEST_BYTES, LONG_REQUEST_NICENESS);
        Ok((Self { engines, lanes }, statuses))
    }

    pub fn detector(&self) -> &Arc<LanguageDetector> {
        &self.engines.detector
    }

    /// Languages, summarizers and translation pairs, as loaded.
    pub fn capabilities(&self) -> Capabilities {
        self.engines.capabilities()
    }

    /// Digests one request in the lane its length picks (see `runtime::lanes`): a long article's
    /// CPU stages run on low-priority threads, so they neither hold the threads that serve short
    /// calls nor take the CPU from them.
    pub async fn digest_in_lane(
        self: &Arc<Self>,
        request: ValidDigest,
        deadline: Option<Instant>,
    ) -> Result<Digest, PrecisError> {
        let cost = request.article().text().len();
        let pipeline = Arc::clone(self);
        self.lanes
            .run(
                cost,
                async move { pipeline.digest(&request, deadline).await },
            )
            .await?
    }

    pub async fn digest(
        &self,
        request: &ValidDigest,
        deadline: Option<Instant>,
    ) -> Result<Digest, PrecisError> {
        let text = request.article().text();
        let options = request.options();
        let started = Instant::now();
        let mut clock = Stopwatch::new();
        let mut warnings = Vec::new();
        check_deadline(deadline)?;

        // Detection, segmentation and quote extraction take milliseconds of CPU on a long
        // article: they run on a blocking thread so the async workers keep serving.
        let analysis = {
            let detector = Arc::clone(&self.engines.detector);
            let names = Arc::clone(&self.engines.names);
            let owned_text = text.to_string();
            let (skip_quotes, max_quotes) = (options.skip_quotes, options.max_quotes);
            run_blocking("text analysis", move || {
                analyse_text(&detector, &names, &owned_text, skip_quotes, max_quotes)
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

        let (mut translated_summary, mut quote_translations) = match &options.target_language {
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
        {
            let mut pairs: Vec<(&str, &mut Translation)> = Vec::new();
            if let (Some(summary), Some(translation)) = (&summary, translated_summary.as_mut()) {
                pairs.push((summary.text.as_str(), translation));
            }
            for (quote, translation) in quotes.iter().zip(quote_translations.iter_mut()) {
                if let Some(translation) = translation.as_mut() {
                    pairs.push((quote.text.as_str(), translation));
                }
            }
            self.measure_adequacy(pairs, deadline, &mut warnings)
                .await?;
        }
        clock.lap(stage::TRANSLATE);
        if tracing::enabled!(tracing::Level::DEBUG) {
            // Sizes and times only, never text: where a slow call's time went.
            let micros = |name: &str| {
                clock
                    .timings
                    .iter()
                    .filter(|timing| timing.stage == name)
                    .map(|timing| timing.micros)
                    .sum::<u64>()
            };
            tracing::debug!(
                article_bytes = text.len(),
                sentences = segmentation.sentences.len(),
                total_us = started.elapsed().as_micros() as u64,
                analysis_us =
                    micros(stage::LANGUAGE) + micros(stage::SEGMENT) + micros(stage::QUOTES),
                summarize_us = micros(stage::SUMMARIZE),
                translate_us = micros(stage::TRANSLATE),
                "digest times"
            );
        }

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

    /// Sets each translation's adequacy: the cosine of its original and its text under the first
    /// embedding model that serves both its languages, one embedding job per model. A failure
    /// leaves adequacy unset with a warning; only a passed deadline or a cancel fails the call.
    async fn measure_adequacy(
        &self,
        pairs: Vec<(&str, &mut Translation)>,
        deadline: Option<Instant>,
        warnings: &mut Vec<String>,
    ) -> Result<(), PrecisError> {
        let mut by_model: Vec<(&EmbeddingService, Vec<(&str, &mut Translation)>)> = Vec::new();
        for (original, translation) in pairs {
            // The identity route translated nothing.
            if translation.source_language == translation.target_language {
                continue;
            }
            let Some(embedder) = self
                .engines
                .summarize
                .cross_lingual_embedder(&translation.source_language, &translation.target_language)
            else {
                continue;
            };
            match by_model
                .iter_mut()
                .find(|(service, _)| service.model_id == embedder.model_id)
            {
                Some((_, group)) => group.push((original, translation)),
                None => by_model.push((embedder, vec![(original, translation)])),
            }
        }
        for (embedder, group) in by_model {
            let mut texts: Vec<&str> = Vec::with_capacity(group.len() * 2);
            for (original, translation) in &group {
                texts.push(original);
                texts.push(translation.text.as_str());
            }
            match embedder.embed(&texts, deadline).await {
                Ok(vectors) => {
                    for ((_, translation), pair) in group.into_iter().zip(vectors.chunks(2)) {
                        translation.adequacy = Some(Adequacy {
                            cosine: cosine(&pair[0], &pair[1]),
                            model: embedder.model_id.clone(),
                        });
                    }
                }
                Err(error @ (PrecisError::DeadlineExceeded(_) | PrecisError::Cancelled)) => {
                    return Err(error)
                }
                Err(error) => {
                    tracing::warn!(model = %embedder.model_id, %error, "translation adequacy failed");
                    warnings.push(format!(
                        "translation adequacy could not be measured ({error})"
                    ));
                }
            }
        }
        Ok(())
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
        let mut translated = self
            .engines
            .translation
            .translate_texts(request.into_texts(), &source, &target, deadline)
            .await?;
        // Translate has no warnings field: an unmeasured adequacy is left unset (and logged).
        let pairs = translated
            .texts
            .iter_mut()
            .filter_map(|text| Some((text.original.as_str(), text.translation.as_mut()?)))
            .collect();
        self.measure_adequacy(pairs, deadline, &mut Vec::new())
            .await?;
        Ok(translated)
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
    names: &NameAnalysers,
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
        let mut quotes = names.extract_quotes(text, &segmentation, detector, &language.iso639_1);
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
