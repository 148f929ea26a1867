//! The Apertium backend: every installed Debian language pair, as rule-based engines.
use std::sync::Arc;

use precis_translate::apertium::{start_installed, ApertiumConfig};
use precis_translate::Translator;

use super::{StartedEngines, TranslationBackend};
use crate::config::{RuntimeSettings, TranslationCatalog};
use crate::runtime::{ModelRole, ModelStatus};

pub struct ApertiumTranslation;

impl TranslationBackend for ApertiumTranslation {
    fn name(&self) -> &'static str {
        "apertium"
    }

    /// An Apertium installation that cannot be read is an error; no installed pair at all is
    /// not (Capabilities then lists none).
    fn start(
        &self,
        _catalog: &TranslationCatalog,
        settings: &RuntimeSettings,
    ) -> anyhow::Result<StartedEngines> {
        let config = ApertiumConfig {
            data_dir: settings.apertium_dir.clone(),
            ..Default::default()
        };
        if !config.data_dir.join("modes").is_dir() {
            return Ok(StartedEngines {
                translators: Vec::new(),
                statuses: Vec::new(),
            });
        }
        let mut engines = start_installed(&config)?;
        engines.sort_by(|a, b| a.info().pair.cmp(&b.info().pair));
        // For `models list`: each pair is an engine too, ready once its pipeline started.
        let statuses = engines
            .iter()
            .map(|engine| engine.info())
            .map(|info| ModelStatus {
                id: info.id.clone(),
                role: ModelRole::Translation {
                    source: info.pair.source.clone(),
                    target: info.pair.target.clone(),
                },
                location: "apertium (Debian package)".into(),
                architecture: None,
                size_bytes: None,
                load_millis: None,
                ready: true,
                error: None,
                test_model: false,
                pulled: false,
            })
            .collect();
        let translators = engines
            .into_iter()
            .map(|engine| engine as Arc<dyn Translator>)
            .collect();
        Ok(StartedEngines {
            translators,
            statuses,
        })
    }
}
