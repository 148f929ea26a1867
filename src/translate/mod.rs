//! Translation: the service that translates a digest's quotes and summary or a batch of texts,
//! and the engines behind it.
//!
//! Translation backends are registered here, in [`TRANSLATION_BACKENDS`]: adding a kind of
//! engine is one file implementing [`TranslationBackend`] and one line there. Its engines'
//! ids (in responses and capabilities) start with the backend's name; the router
//! (`precis-translate`) picks the best route per pair over every registered engine.
mod apertium;
mod neural;
pub mod service;

use std::sync::Arc;

use precis_text::language::LanguageDetector;
use precis_translate::{Router, Translator};

pub use service::{Adequacy, TranslatedText, TranslatedTexts, Translation, TranslationService};

use crate::config::{RuntimeSettings, TranslationCatalog};
use crate::runtime::ModelStatus;

/// The engines one backend started, and the status of each model it was configured with.
pub struct StartedEngines {
    pub translators: Vec<Arc<dyn Translator>>,
    pub statuses: Vec<ModelStatus>,
}

/// A kind of translation engine precis can run.
pub trait TranslationBackend: Sync {
    /// The catalog's `engine` value for this backend, and the first part of its engine ids.
    fn name(&self) -> &'static str;

    /// Starts this backend's engines. A configured model that fails to load is reported in
    /// its status (`serve` refuses to start on it); an engine that is simply not installed
    /// starts nothing.
    fn start(
        &self,
        catalog: &TranslationCatalog,
        settings: &RuntimeSettings,
    ) -> anyhow::Result<StartedEngines>;
}

/// Every translation backend. Order only breaks ties: the router prefers neural engines and
/// shorter routes whatever the order.
pub const TRANSLATION_BACKENDS: &[&dyn TranslationBackend] =
    &[&neural::RustBertTranslation, &apertium::ApertiumTranslation];

/// `runner/model`: how engine ids are formed, so responses and logs name the implementation
/// that actually serves (`torch-bart`, `rust-bert`, `apertium`), not only the backend that
/// registered it.
pub fn engine_id(runner: &str, model: &str) -> String {
    format!("{runner}/{model}")
}

/// The many-to-many model `precis models pull` suggests for a missing pair; it serves every
/// pair of the languages rust-bert's pipeline names (all among its 100).
pub const MANY_TO_MANY_SUGGESTION: &str = "facebook/m2m100_418M";

/// What to run to add a pair the router cannot reach: a pulled M2M100 serves it whenever
/// rust-bert knows both languages; an OPUS-MT pair model is smaller and often better, when
/// one is published for the pair.
pub fn pull_suggestion(source: &str, target: &str) -> String {
    let opus = format!("precis models pull Helsinki-NLP/opus-mt-{source}-{target}");
    let many = crate::runtime::generation::language_from_code(source).is_some()
        && crate::runtime::generation::language_from_code(target).is_some();
    if many {
        format!(
            "A neural model would add the pair: precis models pull {MANY_TO_MANY_SUGGESTION} \
             (any two of its 100 languages), or {opus} (one pair, smaller, where published)"
        )
    } else {
        format!("A neural model would add the pair: {opus}, where published")
    }
}

/// Starts every registered backend and routes over all their engines; `detector` scores the
/// translations.
pub fn start_translation(
    catalog: &TranslationCatalog,
    settings: &RuntimeSettings,
    detector: Arc<LanguageDetector>,
) -> anyhow::Result<(TranslationService, Vec<ModelStatus>)> {
    let configured = catalog
        .neural
        .iter()
        .map(|pair| (&pair.id, pair.engine_name()))
        .chain(
            catalog
                .many_to_many
                .iter()
                .map(|model| (&model.id, model.engine_name())),
        );
    for (id, wanted) in configured {
        if !TRANSLATION_BACKENDS.iter().any(|b| b.name() == wanted) {
            let known: Vec<&str> = TRANSLATION_BACKENDS.iter().map(|b| b.name()).collect();
            anyhow::bail!(
                "translation model '{id}' asks for engine '{wanted}'; the translation engines are: {}",
                known.join(", ")
            );
        }
    }
    let mut router = Router::new();
    let mut statuses = Vec::new();
    for backend in TRANSLATION_BACKENDS {
        let started = backend.start(catalog, settings)?;
        for engine in started.translators {
            router.register(engine);
        }
        statuses.extend(started.statuses);
    }
    Ok((TranslationService::new(router, detector), statuses))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_pair_suggests_a_pull_that_would_add_it() {
        let both = pull_suggestion("en", "de");
        assert!(
            both.contains("precis models pull facebook/m2m100_418M"),
            "{both}"
        );
        assert!(
            both.contains("precis models pull Helsinki-NLP/opus-mt-en-de"),
            "{both}"
        );
        // Esperanto is no language rust-bert's pipeline names: only the pair model is offered.
        let pair_only = pull_suggestion("en", "eo");
        assert!(!pair_only.contains("m2m100"), "{pair_only}");
        assert!(
            pair_only.contains("Helsinki-NLP/opus-mt-en-eo"),
            "{pair_only}"
        );
    }

    #[test]
    fn backends_have_distinct_names_and_form_engine_ids_from_them() {
        let mut names: Vec<&str> = TRANSLATION_BACKENDS.iter().map(|b| b.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TRANSLATION_BACKENDS.len(), "{names:?}");
        assert_eq!(
            engine_id(neural::RustBertTranslation.name(), "opus-mt-en-de"),
            "rust-bert/opus-mt-en-de"
        );
        assert_eq!(
            engine_id(
                crate::runtime::generation::TORCH_BART_ENGINE,
                "opus-mt-en-de"
            ),
            "torch-bart/opus-mt-en-de"
        );
    }
}
