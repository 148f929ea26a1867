//! The translate stage: a digest's summary and quotes, or a batch of texts, through the best
//! route the router finds, with names and numbers protected and every hop's engine named.
use std::sync::Arc;
use std::time::{Duration, Instant};

use precis_text::language::Detection;
use precis_text::quotes::Quote;
use precis_translate::{
    translate_article, translate_faithfully, EngineKind, FaithfulOptions, FaithfulTranslation,
    PairCapability, QuoteToTranslate, Route, Router, TranslateError,
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
            adequacy: None,
        }
    }
}

/// A text beside its translation.
#[derive(Debug, Clone, Serialize)]
pub struct TranslatedText {
    pub original: String,
    pub translation: Translation,
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
}

impl TranslationService {
    pub fn new(router: Router) -> Self {
        Self {
            router: Arc::new(router),
        }
    }

    /// Direct pairs with their engines, preferred engine first.
    pub fn capabilities(&self) -> Vec<PairCapability> {
        self.router.capabilities()
    }

    /// Translates the summary and every quote into `target`. Quotes in the article's language
    /// go with the summary in one batch; a quote in another language goes from its own.
    /// A pair with no engine is a warning, and the texts stay untranslated.
    pub async fn translate_digest(
        &self,
        article_language: &Detection,
        target: &LanguageCode,
        summary: Option<&str>,
        quotes: &[Quote],
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
            let translated = run_blocking("translation", move || {
                translate_article(
                    &plan,
                    &batch,
                    summary_text.as_deref(),
                    &FaithfulOptions::default(),
                    deadline,
                )
            })
            .await?
            .map_err(translate_error)?;
            for (&index, faithful) in members.iter().zip(translated.quotes) {
                translations.quotes[index] = Some(Translation::new(faithful, &translated.route));
            }
            if let Some(faithful) = translated.summary {
                translations.summary = Some(Translation::new(faithful, &translated.route));
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
    /// `FailedPrecondition`, naming the pairs that exist.
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
        let translated = run_blocking("translation", move || {
            let borrowed: Vec<&str> = texts.iter().map(String::as_str).collect();
            translate_faithfully(&plan, &borrowed, &[], &FaithfulOptions::default(), deadline)
        })
        .await?
        .map_err(translate_error)?;
        Ok(TranslatedTexts {
            source_language: route.source.clone(),
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
        TranslateError::EngineFailure { .. } => PrecisError::EngineFailure(error.to_string()),
    }
}
