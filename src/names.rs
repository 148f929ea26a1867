//! The Apertium name analysers quote attribution asks (issue #17): whether a one-word speaker
//! the rules found is a person, or a place or organisation that must not be returned as one.
//!
//! One long-lived `lt-proc -z` child per language with an installed analyser
//! ([`precis_text::name_oracle::LtProcOracle`]): started on the first article of its language,
//! never one process per article; a child that dies or does not answer within the bound is
//! killed and started again on the next article, and that article is attributed by the rules
//! alone. Metrics count both (`precis_name_analyser_fallbacks_total` by language,
//! `precis_name_analyser_restarts_total`).
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use precis_text::language::LanguageDetector;
use precis_text::name_oracle::{LtProcOracle, NameOracle, NameTags};
use precis_text::quotes::Quote;
use precis_text::segment::Segmentation;

use crate::config::NameAnalyserSettings;
use crate::telemetry;

/// The analysers of a deployment, or none (disabled, or lt-proc missing).
pub struct NameAnalysers {
    oracle: Option<LtProcOracle>,
    languages: BTreeSet<String>,
}

impl NameAnalysers {
    /// Finds the analysers the settings allow and says in the log which languages have one.
    /// Children start on first use, so a deployment that never sees a language pays nothing.
    pub fn start(settings: &NameAnalyserSettings) -> Self {
        if !settings.enabled {
            tracing::info!("name analysers disabled: quote speakers by the rules alone");
            return Self::disabled();
        }
        if !program_exists(&settings.program) {
            tracing::warn!(
                program = %settings.program.display(),
                "lt-proc not found: quote speakers by the rules alone (scripts/setup installs it)"
            );
            return Self::disabled();
        }
        let oracle = LtProcOracle::discover(
            &settings.dir,
            &settings.program,
            Duration::from_millis(settings.timeout_ms.max(1)),
        );
        let languages: BTreeSet<String> = oracle.languages().into_iter().collect();
        let list = languages.iter().cloned().collect::<Vec<_>>().join(",");
        tracing::info!(
            languages = %list,
            dir = %settings.dir.display(),
            timeout_ms = settings.timeout_ms,
            "name analysers for quote speakers (other languages: rules alone)"
        );
        Self {
            oracle: Some(oracle),
            languages,
        }
    }

    /// No analyser: every article attributed by the rules alone.
    pub fn disabled() -> Self {
        Self {
            oracle: None,
            languages: BTreeSet::new(),
        }
    }

    /// The languages (ISO 639-1) with an analyser, sorted.
    pub fn languages(&self) -> Vec<String> {
        self.languages.iter().cloned().collect()
    }

    /// Every direct quote of an article in `language` (its detected ISO 639-1 code), speakers
    /// checked by the language's analyser when it has one.
    pub fn extract_quotes(
        &self,
        text: &str,
        segmentation: &Segmentation,
        detector: &LanguageDetector,
        language: &str,
    ) -> Vec<Quote> {
        precis_text::quotes::extract_quotes_with_oracle(
            text,
            segmentation,
            detector,
            language,
            self,
        )
    }
}

impl NameOracle for NameAnalysers {
    fn tag_words(&self, language: &str, words: &[&str]) -> Option<Vec<NameTags>> {
        let oracle = self.oracle.as_ref()?;
        if !self.languages.contains(language) {
            return None;
        }
        let answer = oracle.tag_words(language, words);
        if answer.is_none() {
            telemetry::record_name_analyser_fallback(language);
        }
        telemetry::record_name_analyser_restarts(oracle.restarts());
        answer
    }
}

/// Whether `program` can be run: a path to a file, or a bare name found on PATH.
fn program_exists(program: &Path) -> bool {
    if program.components().count() > 1 {
        return program.is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
