//! Summaries: extractive (always available), abstractive where a model is installed, the
//! guard that checks abstractive output against the article (with the facts it pulls out of
//! both), and the service that chooses.
//!
//! Summarizer backends are registered here, in [`SUMMARIZER_BACKENDS`]: adding a kind of
//! abstractive summarizer is one file implementing [`SummarizerBackend`] and one line there.
//! A catalog entry picks its backend by `engine` (default `rust-bert`).
pub mod abstractive;
pub mod extractive;
mod facts;
pub mod guard;
pub mod pull;
mod rust_bert;
pub mod service;
mod summary;

pub use extractive::{Ranking, SummaryLength};
pub use service::{SummarizeService, SummarizerService, Summarizers, SummaryRequest};
pub use summary::{SentenceOrigin, SummarizerInfo, Summary, SummaryMethod, SummarySentence};

use crate::config::{CatalogModel, RuntimeSettings, SummarizationCatalog};
use crate::runtime::ModelStatus;

/// One summarizer the catalog configures, with what its backend needs to start it.
pub struct SummarizerEntry<'a> {
    /// An ISO 639-1 code, or `default` for any language.
    pub language: &'a str,
    pub model: &'a CatalogModel,
    /// The decoding and chunking settings shared by every summarizer.
    pub section: &'a SummarizationCatalog,
    pub settings: &'a RuntimeSettings,
}

/// What starting a summarizer gives: the service when it loaded, and its status either way.
pub type StartedSummarizer = (Option<SummarizerService>, ModelStatus);

/// A kind of abstractive summarizer precis can run.
pub trait SummarizerBackend: Sync {
    /// The catalog's `engine` value for this backend.
    fn name(&self) -> &'static str;

    /// Starts one catalog entry's summarizer. A model that fails to load is reported in its
    /// status, never silently replaced.
    fn start(&self, entry: &SummarizerEntry<'_>) -> anyhow::Result<StartedSummarizer>;
}

/// Every summarizer backend, by the name catalog entries use.
pub const SUMMARIZER_BACKENDS: &[&dyn SummarizerBackend] = &[
    &rust_bert::RustBertSummarizer,
    &rust_bert::TorchBartSummarizer,
];

/// The backend a catalog entry names, or an error listing the registered ones.
fn backend_for(model: &CatalogModel) -> anyhow::Result<&'static dyn SummarizerBackend> {
    let wanted = model.engine_name();
    SUMMARIZER_BACKENDS
        .iter()
        .copied()
        .find(|backend| backend.name() == wanted)
        .ok_or_else(|| {
            let known: Vec<&str> = SUMMARIZER_BACKENDS.iter().map(|b| b.name()).collect();
            anyhow::anyhow!(
                "summarizer '{}' asks for engine '{wanted}'; the summarizer engines are: {}",
                model.id,
                known.join(", ")
            )
        })
}

/// Starts every summarizer of the catalog, each through its backend.
pub fn start_summarizers(
    section: &SummarizationCatalog,
    settings: &RuntimeSettings,
    statuses: &mut Vec<ModelStatus>,
) -> anyhow::Result<Summarizers> {
    let mut summarizers = Summarizers::default();
    for (language, model) in &section.models {
        let entry = SummarizerEntry {
            language,
            model,
            section,
            settings,
        };
        let (service, status) = backend_for(model)?.start(&entry)?;
        if let Some(service) = service {
            summarizers.by_language.insert(language.clone(), service);
        }
        statuses.push(status);
    }
    Ok(summarizers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_catalog_entry_names_a_registered_backend_or_is_refused() {
        let mut model = CatalogModel {
            id: "tiny".into(),
            path: Some("tiny".into()),
            remote: None,
            languages: Vec::new(),
            similarity: None,
            engine: None,
        };
        assert_eq!(backend_for(&model).unwrap().name(), "rust-bert");
        model.engine = Some("ctranslate2".into());
        let error = backend_for(&model).err().unwrap().to_string();
        assert!(
            error.contains("'ctranslate2'") && error.contains("rust-bert"),
            "{error}"
        );
    }
}
