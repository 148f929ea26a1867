//! The translate stage: a digest's summary and quotes, or a batch of texts, through the best
//! route the router finds, with names and numbers protected and every hop's engine named.
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::HashSet;

use precis_text::language::{Detection, LanguageDetector};
use precis_text::quotes::Quote;
use precis_translate::{
    assess_quality, translate_article, translate_faithfully, EngineKind, FaithfulOptions,
    FaithfulTranslation, OutputDetection, PairCapability, QualityInputs, QuoteToTranslate,
    ReachablePair, Route, Router, TranslateError, TranslationQuality,
};
use serde::Serialize;

use crate::error::{run_blocking, PrecisError};
use crate::validate::LanguageCode;

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
    /// How good it looks (`precis_translate::assess_quality`); absent only when a server
    /// that predates the score answered.
    pub quality: Option<TranslationQuality>,

    /// Cross-lingual cosine to the original, set by the pipeline where a multilingual
    /// embedding model serves both languages.
    pub adequacy: Option<Adequacy>,
}

/// How closely a translation keeps its original's meaning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Adequacy {
    /// Cosine similarity of the two texts' embeddings.
    pub cosine: f32,
    /// The embedding model that measured it.
    pub model: String,
}

impl Translation {
    fn new(faithful: FaithfulTranslation, route: &Route, judge: &QualityJudge) -> Self {
        let quality = judge.assess(&faithful, route);
        Self {
            text: faithful.translated,
            source_language: route.source.clone(),
            target_language: route.target.clone(),
            engines: route.hops.iter().map(|hop| hop.engine_id.clone()).collect(),
            engine_kind: route.weakest_kind(),
            unpreserved_terms: faithful.missing_terms,
            quality: Some(quality),

            adequacy: None,
        }
    }
}

/// Scores translations: precis's own detector says whether an output reads as its target.
#[derive(Clone)]
struct QualityJudge {
    detector: Arc<LanguageDetector>,
    /// ISO 639-1 codes the detector can name; other targets are scored without it.
    detectable: Arc<HashSet<String>>,
}

impl QualityJudge {
    fn assess(&self, faithful: &FaithfulTranslation, route: &Route) -> TranslationQuality {
        let detection = self.detectable.contains(&route.target).then(|| {
            let detected = self.detector.detect(&faithful.translated);
            OutputDetection {
                language: if detected.is_undetermined() {
                    "und".to_string()
                } else {
                    detected.iso639_1
                },
                confidence: detected.confidence,
            }
        });
        assess_quality(&QualityInputs {
            original: &faithful.original,
            translated: &faithful.translated,
            unknown_words: &faithful.unknown_words,
            protected_terms: &faithful.protected_terms,
            target_language: &route.target,
            route_hops: route.hops.len(),
            detection,
        })
    }
}

/// A text beside its translation, or beside why it has none.
#[derive(Debug, Clone, Serialize)]
pub struct TranslatedText {
    pub original: String,
    /// Absent only when `error` says why.
    pub translation: Option<Translation>,
    /// Why this text alone is untranslated: its engine failed on it even after a restart and a
    /// retry, alone. The batch's other texts are still translated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The result of [`TranslationService::translate_texts`].
#[derive(Debug, Clone, Serialize)]
pub struct TranslatedTexts {
    /// The source language used, given or detected (ISO 639-1).
    pub source_language: String,
    pub texts: Vec<TranslatedText>,
}

/// A digest's texts translated: the summary's, and one per quote (none where the quote's pair
/// has no route).
pub struct DigestTranslations {
    pub summary: Option<Translation>,
    pub quotes: Vec<Option<Translation>>,
}

/// Every translation engine of the deployment, behind the router.
pub struct TranslationService {
    router: Arc<Router>,
    judge: QualityJudge,
}

impl TranslationService {
    /// `detector` scores each translation (is it in the target language?).
    pub fn new(router: Router, detector: Arc<LanguageDetector>) -> Self {
        let detectable = detector
            .supported_languages()
            .into_iter()
            .map(|language| language.iso639_1)
            .collect();
        Self {
            router: Arc::new(router),
            judge: QualityJudge {
                detector,
                detectable: Arc::new(detectable),
            },
        }
    }

    /// Direct pairs with their engines, preferred engine first.
    pub fn capabilities(&self) -> Vec<PairCapability> {
        self.router.capabilities()
    }

    /// Every reachable directed pair with the route a request takes, sorted by pair.
    pub fn reachable(&self) -> Vec<ReachablePair> {
        self.router.reachable()
    }

    /// Translates the summary and every quote into `target`. Quotes in the article's language
    /// go with the summary in one batch; a quote in another language goes from its own.
    /// A pair with no engine is a warning, and the texts stay untranslated; so is an engine that
    /// fails even after its restart and one retry (the other languages' texts are still
    /// translated). A quote whose translation scores below `min_quality` stays untranslated,
    /// with a warning.
    #[allow(clippy::too_many_arguments)]
    pub async fn translate_digest(
        &self,
        article_language: &Detection,
        target: &LanguageCode,
        summary: Option<&str>,
        quotes: &[Quote],
        min_quality: Option<f32>,
        deadline: Option<Instant>,
        warnings: &mut Vec<String>,
    ) -> Result<DigestTranslations, PrecisError> {
        let mut translations = DigestTranslations {
            summary: None,
            quotes: vec![None; quotes.len()],
        };
        if article_language.is_undetermined() {
            warnings.push(format!(
                "the article's language could not be determined; nothing was translated to {target}"
            ));
            return Ok(translations);
        }
        for (position, (source, members)) in group_by_language(article_language, quotes)
            .into_iter()
            .enumerate()
        {
            // The first group is the article's language: it carries the summary.
            let summary_text = summary.filter(|_| position == 0).map(str::to_string);
            if members.is_empty() && summary_text.is_none() {
                continue;
            }
            let plan = match self.router.plan(&source, target.as_str()) {
                Ok(plan) => plan,
                Err(error @ TranslateError::UnsupportedPair { .. }) => {
                    warnings.push(format!(
                        "{error}; left untranslated. {}",
                        super::pull_suggestion(&source, target.as_str())
                    ));
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
            let judge = self.judge.clone();
            let outcome = run_blocking("translation", move || {
                let translated = translate_article(
                    &plan,
                    &batch,
                    summary_text.as_deref(),
                    &FaithfulOptions::default(),
                    deadline,
                )?;
                let route = translated.route;
                let quotes: Vec<Translation> = translated
                    .quotes
                    .into_iter()
                    .map(|faithful| Translation::new(faithful, &route, &judge))
                    .collect();
                let summary = translated
                    .summary
                    .map(|faithful| Translation::new(faithful, &route, &judge));
                Ok::<_, TranslateError>((quotes, summary))
            })
            .await?;
            let (quotes_translated, summary_translated) = match outcome {
                Ok(translated) => translated,
                Err(
                    error @ (TranslateError::EngineFailure { .. }
                    | TranslateError::EngineTimedOut { .. }),
                ) => {
                    let retried = match error {
                        TranslateError::EngineFailure { .. } => " (after a restart and one retry)",
                        _ => "",
                    };
                    warnings.push(format!(
                        "{error}{retried}; {} text(s) from {source} left untranslated",
                        members.len() + usize::from(position == 0 && summary.is_some())
                    ));
                    continue;
                }
                Err(error) => return Err(translate_error(error)),
            };
            for (&index, translation) in members.iter().zip(quotes_translated) {
                let score = translation.quality.as_ref().map_or(1.0, |q| q.score);
                match min_quality {
                    Some(minimum) if score < minimum => warnings.push(format!(
                        "quote {} left untranslated: its {} translation scores {score:.2}, \
                         below the minimum {minimum:.2}",
                        index + 1,
                        translation.engines.join(" → ")
                    )),
                    _ => translations.quotes[index] = Some(translation),
                }
            }
            if let Some(translation) = summary_translated {
                translations.summary = Some(translation);
            }
        }
        for translation in translations.quotes.iter().flatten() {
            if !translation.unpreserved_terms.is_empty() {
                warnings.push(format!(
                    "the {} translation lost protected terms: {}",
                    translation.engines.join(" → "),
                    translation.unpreserved_terms.join(", ")
                ));
            }
        }
        Ok(translations)
    }

    /// Translates `texts` (one batch) from `source` into `target`. A pair with no route is
    /// `FailedPrecondition`, naming the pairs that exist. When the batch's engine fails even
    /// after its restart and one retry, each text is tried alone, so that one text the engine
    /// cannot take does not cost the others their translation; the texts that still fail carry
    /// their own error. An engine that stops answering gives every text left its error.
    pub async fn translate_texts(
        &self,
        texts: Vec<String>,
        source: &str,
        target: &LanguageCode,
        deadline: Option<Instant>,
    ) -> Result<TranslatedTexts, PrecisError> {
        let plan = self
            .router
            .plan(source, target.as_str())
            .map_err(translate_error)?;
        let route = plan.route().clone();
        let judge = self.judge.clone();
        let texts = run_blocking("translation", move || {
            let translate = |texts: &[&str]| {
                translate_faithfully(&plan, texts, &[], &FaithfulOptions::default(), deadline)
            };
            let translated = |faithful: FaithfulTranslation| TranslatedText {
                original: faithful.original.clone(),
                translation: Some(Translation::new(faithful, plan.route(), &judge)),
                error: None,
            };
            let borrowed: Vec<&str> = texts.iter().map(String::as_str).collect();
            let untranslated = |text: &str, error: String| TranslatedText {
                original: text.to_string(),
                translation: None,
                error: Some(error),
            };
            match translate(&borrowed) {
                Ok(batch) => Ok(batch.into_iter().map(translated).collect()),
                Err(TranslateError::EngineFailure { .. }) => {
                    // Alone, unless the engine stops answering: then each try would wait out
                    // the engine's whole time limit, so the texts left are not tried.
                    let mut stuck: Option<TranslateError> = None;
                    let mut results = Vec::with_capacity(borrowed.len());
                    for &text in &borrowed {
                        if let Some(error) = &stuck {
                            results.push(untranslated(text, format!("not tried alone: {error}")));
                            continue;
                        }
                        results.push(match translate(&[text]) {
                            Ok(mut alone) => translated(alone.remove(0)),
                            Err(error @ TranslateError::EngineFailure { .. }) => untranslated(
                                text,
                                format!(
                                    "{error} (on this text alone, after a restart and one retry)"
                                ),
                            ),
                            Err(error @ TranslateError::EngineTimedOut { .. }) => {
                                stuck = Some(error.clone());
                                untranslated(text, error.to_string())
                            }
                            Err(error) => return Err(error),
                        });
                    }
                    Ok(results)
                }
                // A stuck engine was restarted; another try would risk the same wait per text.
                Err(error @ TranslateError::EngineTimedOut { .. }) => Ok(borrowed
                    .iter()
                    .map(|&text| untranslated(text, error.to_string()))
                    .collect()),
                Err(error) => Err(error),
            }
        })
        .await?
        .map_err(translate_error)?;
        Ok(TranslatedTexts {
            source_language: route.source.clone(),
            texts,
        })
    }
}

/// Quote indices by source language, the article's language first (it carries the summary,
/// even with no quote of its own). A quote of undetermined language counts as the article's.
fn group_by_language(article_language: &Detection, quotes: &[Quote]) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = vec![(article_language.iso639_1.clone(), vec![])];
    for (index, quote) in quotes.iter().enumerate() {
        let source = if quote.language.is_undetermined() {
            &article_language.iso639_1
        } else {
            &quote.language.iso639_1
        };
        match groups.iter_mut().find(|(language, _)| language == source) {
            Some((_, members)) => members.push(index),
            None => groups.push((source.clone(), vec![index])),
        }
    }
    groups
}

/// Translation errors in domain terms.
fn translate_error(error: TranslateError) -> PrecisError {
    match error {
        TranslateError::DeadlineExceeded => PrecisError::DeadlineExceeded(Duration::ZERO),
        TranslateError::InvalidLanguage { .. } => {
            PrecisError::invalid("language", error.to_string())
        }
        TranslateError::UnsupportedPair { .. } => {
            PrecisError::FailedPrecondition(error.to_string())
        }
        TranslateError::EngineFailure { .. } | TranslateError::EngineTimedOut { .. } => {
            PrecisError::EngineFailure(error.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use precis_translate::{EngineInfo, EngineKind, LanguagePair, Translator};

    use super::*;

    /// An engine whose process keeps dying: what the Apertium engine reports once its restart
    /// and its one retry failed too.
    struct DeadEngine(EngineInfo);

    impl Translator for DeadEngine {
        fn info(&self) -> &EngineInfo {
            &self.0
        }

        fn translate_batch(
            &self,
            _texts: &[String],
            _deadline: Option<Instant>,
        ) -> Result<Vec<String>, TranslateError> {
            Err(TranslateError::EngineFailure {
                engine: self.0.id.clone(),
                detail: "pipeline exited with signal 9".into(),
            })
        }
    }

    #[tokio::test]
    async fn an_engine_that_keeps_dying_leaves_its_texts_untranslated_with_a_warning() {
        let detector = Arc::new(LanguageDetector::new());
        let mut router = Router::new();
        router.register(Arc::new(DeadEngine(EngineInfo {
            id: "apertium/eng-fra".into(),
            kind: EngineKind::RuleBased,
            pair: LanguagePair::new("en", "fr"),
        })));
        let service = TranslationService::new(router, Arc::clone(&detector));
        let article = "The harbour reopened on Monday after the storm. \
                       \"We lost two boats but nobody was hurt,\" the harbour master, Ana Ruiz, said.";
        let quotes = precis_text::quotes::extract_quotes(
            article,
            &precis_text::segment::segment(article),
            &detector,
        );
        assert_eq!(quotes.len(), 1, "{quotes:?}");
        let mut warnings = Vec::new();
        let translations = service
            .translate_digest(
                &detector.detect(article),
                &LanguageCode::parse("target_language", "fr").unwrap(),
                Some("The harbour reopened."),
                &quotes,
                None,
                None,
                &mut warnings,
            )
            .await
            .expect("an engine failure is not the digest's failure");
        assert!(translations.quotes.iter().all(Option::is_none));
        assert!(translations.summary.is_none());
        let warning = warnings.join("\n");
        assert!(
            warning.contains("apertium/eng-fra")
                && warning.contains("signal 9")
                && warning.contains("2 text(s) from en left untranslated"),
            "{warning}"
        );
    }

    /// An engine that fails on any batch holding a text it cannot take (here: one with a BEL
    /// control character), and otherwise returns its input.
    struct PickyEngine(EngineInfo);

    impl Translator for PickyEngine {
        fn info(&self) -> &EngineInfo {
            &self.0
        }

        fn translate_batch(
            &self,
            texts: &[String],
            _deadline: Option<Instant>,
        ) -> Result<Vec<String>, TranslateError> {
            if texts.iter().any(|text| text.contains('\u{7}')) {
                return Err(TranslateError::EngineFailure {
                    engine: self.0.id.clone(),
                    detail: "pipeline exited with signal 11".into(),
                });
            }
            Ok(texts.to_vec())
        }
    }

    fn service_with(engine: Arc<dyn Translator>) -> TranslationService {
        let mut router = Router::new();
        router.register(engine);
        TranslationService::new(router, Arc::new(LanguageDetector::new()))
    }

    #[tokio::test]
    async fn a_text_the_engine_cannot_take_gets_its_own_error_and_the_others_are_translated() {
        let service = service_with(Arc::new(PickyEngine(EngineInfo {
            id: "apertium/eng-fra".into(),
            kind: EngineKind::RuleBased,
            pair: LanguagePair::new("en", "fr"),
        })));
        let texts = vec![
            "The harbour reopened on Monday.".to_string(),
            "A text with a bell \u{7} in it.".to_string(),
            "Nobody was hurt.".to_string(),
        ];
        let translated = service
            .translate_texts(
                texts.clone(),
                "en",
                &LanguageCode::parse("target_language", "fr").unwrap(),
                None,
            )
            .await
            .expect("one bad text is not the call's failure");
        assert_eq!(translated.texts.len(), 3);
        for (text, original) in translated.texts.iter().zip(&texts) {
            assert_eq!(&text.original, original, "in order, verbatim");
        }
        let [first, bad, last] = &translated.texts[..] else {
            unreachable!()
        };
        for good in [first, last] {
            assert!(good.error.is_none(), "{good:?}");
            let translation = good.translation.as_ref().expect("translated");
            assert_eq!(translation.engines, ["apertium/eng-fra"]);
        }
        assert!(bad.translation.is_none(), "{bad:?}");
        let error = bad.error.as_deref().expect("its own error");
        assert!(
            error.contains("apertium/eng-fra") && error.contains("signal 11"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn an_engine_dead_for_every_text_gives_every_text_an_error_not_an_empty_answer() {
        let service = service_with(Arc::new(DeadEngine(EngineInfo {
            id: "apertium/eng-fra".into(),
            kind: EngineKind::RuleBased,
            pair: LanguagePair::new("en", "fr"),
        })));
        let translated = service
            .translate_texts(
                vec!["One.".to_string(), "Two.".to_string()],
                "en",
                &LanguageCode::parse("target_language", "fr").unwrap(),
                None,
            )
            .await
            .expect("per-text errors");
        assert_eq!(translated.texts.len(), 2);
        assert!(translated
            .texts
            .iter()
            .all(|text| text.translation.is_none()
                && text
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("signal 9"))));
    }

    /// An engine that never answers in time: what the Apertium engine reports when its own
    /// batch time limit fires.
    struct StuckEngine(EngineInfo, std::sync::atomic::AtomicUsize);

    impl Translator for StuckEngine {
        fn info(&self) -> &EngineInfo {
            &self.0
        }

        fn translate_batch(
            &self,
            _texts: &[String],
            _deadline: Option<Instant>,
        ) -> Result<Vec<String>, TranslateError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(TranslateError::EngineTimedOut {
                engine: self.0.id.clone(),
                waited_ms: 60_000,
            })
        }
    }

    #[tokio::test]
    async fn a_stuck_engine_is_tried_once_and_every_text_says_so() {
        let engine = Arc::new(StuckEngine(
            EngineInfo {
                id: "apertium/eng-fra".into(),
                kind: EngineKind::RuleBased,
                pair: LanguagePair::new("en", "fr"),
            },
            Default::default(),
        ));
        let service = service_with(Arc::clone(&engine) as Arc<dyn Translator>);
        let translated = service
            .translate_texts(
                vec!["One.".to_string(), "Two.".to_string(), "Three.".to_string()],
                "en",
                &LanguageCode::parse("target_language", "fr").unwrap(),
                None,
            )
            .await
            .expect("per-text errors");
        assert_eq!(
            engine.1.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "a stuck engine is not tried again text by text"
        );
        for text in &translated.texts {
            assert!(text.translation.is_none());
            let error = text.error.as_deref().unwrap_or_default();
            assert!(error.contains("no answer within 60.0 s"), "{error}");
        }
    }
}
