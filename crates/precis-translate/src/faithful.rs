//! Faithful translation of an article's quotes and summary: originals kept beside translations,
//! protected terms checked, long texts split on sentences, everything in one engine batch.

use std::time::Instant;

use serde::Serialize;

use crate::error::TranslateError;
use crate::protect::{mask_terms, unmask_terms, ProtectionOptions};
use crate::router::{Route, RoutePlan};
use crate::segment::chunk_text;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaithfulOptions {
    pub protection: ProtectionOptions,
    /// Texts longer than this (in characters) go to the engine as several runs of whole
    /// sentences; neural engines have a bounded input length.
    pub max_chunk_chars: usize,
    /// Names to protect besides the speakers (people, places, organisations found upstream).
    pub extra_names: Vec<String>,
}

impl Default for FaithfulOptions {
    fn default() -> Self {
        FaithfulOptions {
            protection: ProtectionOptions::default(),
            max_chunk_chars: 400,
            extra_names: Vec::new(),
        }
    }
}

/// A direct quote and who said it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuoteToTranslate {
    pub text: String,
    pub speaker: Option<String>,
}

/// One text in both languages, with what protection found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaithfulTranslation {
    pub original: String,
    pub translated: String,
    /// Terms kept out of the engine, in order of appearance (repeats included).
    pub protected_terms: Vec<String>,
    /// Protected terms the engine lost: absent from `translated`. Empty when all is well.
    pub missing_terms: Vec<String>,
    /// Words the engine(s) did not know and left as they were.
    pub unknown_words: Vec<String>,
}

/// The translated quotes and summary of one article, and the route that served them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArticleTranslation {
    pub route: Route,
    pub quotes: Vec<FaithfulTranslation>,
    pub summary: Option<FaithfulTranslation>,
}

/// Translates every quote and the summary of an article along `plan`, in one batch call per hop.
/// Every speaker's name (and `options.extra_names`) is protected in every text.
pub fn translate_article(
    plan: &RoutePlan,
    quotes: &[QuoteToTranslate],
    summary: Option<&str>,
    options: &FaithfulOptions,
    deadline: Option<Instant>,
) -> Result<ArticleTranslation, TranslateError> {
    let mut names: Vec<String> = quotes
        .iter()
        .filter_map(|quote| quote.speaker.clone())
        .chain(options.extra_names.iter().cloned())
        .collect();
    names.sort();
    names.dedup();
    let mut texts: Vec<&str> = quotes.iter().map(|quote| quote.text.as_str()).collect();
    texts.extend(summary);
    let mut translations = translate_faithfully(plan, &texts, &names, options, deadline)?;
    let summary = match summary {
        Some(_) => translations.pop(),
        None => None,
    };
    Ok(ArticleTranslation {
        route: plan.route().clone(),
        quotes: translations,
        summary,
    })
}

/// Translates `texts` along `plan` in one batch call per hop, protecting `names`, numbers and
/// proper nouns; one result per text, in order. The identity route calls no engine.
pub fn translate_faithfully(
    plan: &RoutePlan,
    texts: &[&str],
    names: &[String],
    options: &FaithfulOptions,
    deadline: Option<Instant>,
) -> Result<Vec<FaithfulTranslation>, TranslateError> {
    if plan.route().is_identity() {
        return Ok(texts
            .iter()
            .map(|text| FaithfulTranslation {
                original: text.to_string(),
                translated: text.to_string(),
                protected_terms: Vec::new(),
                missing_terms: Vec::new(),
                unknown_words: Vec::new(),
            })
            .collect());
    }
    let source_language = plan.route().source.as_str();
    let prepared: Vec<_> = texts
        .iter()
        .map(|text| {
            let masked = mask_terms(text, source_language, names, options.protection);
            let chunks = chunk_text(&masked.masked, options.max_chunk_chars.max(1));
            (masked, chunks)
        })
        .collect();
    let batch: Vec<String> = prepared
        .iter()
        .flat_map(|(_, chunks)| chunks.pieces.iter().cloned())
        .collect();
    let outputs = plan.translate_batch(&batch, deadline)?;
    if outputs.len() != batch.len() {
        return Err(TranslateError::engine_failure(
            "route",
            format!("{} outputs for a batch of {}", outputs.len(), batch.len()),
        ));
    }

    let mut outputs = outputs.into_iter();
    let mut results = Vec::with_capacity(texts.len());
    for (text, (masked, chunks)) in texts.iter().zip(&prepared) {
        let mut pieces = Vec::with_capacity(chunks.pieces.len());
        let mut unknown_words: Vec<String> = Vec::new();
        for output in outputs.by_ref().take(chunks.pieces.len()) {
            pieces.push(output.text);
            for word in output.unknown_words {
                if !unknown_words.contains(&word) {
                    unknown_words.push(word);
                }
            }
        }
        let restored = unmask_terms(&chunks.join(&pieces), masked);
        if !restored.missing_terms.is_empty() {
            tracing::debug!(
                missing = restored.missing_terms.len(),
                "protected terms lost in translation"
            );
        }
        results.push(FaithfulTranslation {
            original: text.to_string(),
            translated: restored.text,
            protected_terms: masked.terms.iter().map(|term| term.text.clone()).collect(),
            missing_terms: restored.missing_terms,
            unknown_words,
        });
    }
    Ok(results)
}
