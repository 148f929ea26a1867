//! The rust-bert backend: Marian and M2M100 models on worker pools, behind the `Translator`
//! trait.
use std::sync::Arc;
use std::time::Instant;

use precis_translate::{EngineInfo, EngineKind, LanguagePair, TranslateError, Translator};

use super::{engine_id, StartedEngines, TranslationBackend};
use crate::config::{RuntimeSettings, TranslationCatalog};
use crate::error::PrecisError;
use crate::runtime::generation::{GenerationSettings, TranslationEngine};
use crate::runtime::{start_model_pool, WorkerPool};

pub struct RustBertTranslation;

impl TranslationBackend for RustBertTranslation {
    fn name(&self) -> &'static str {
        crate::config::DEFAULT_ENGINE
    }

    /// A worker pool per neural pair of the catalog that names this backend.
    fn start(
        &self,
        catalog: &TranslationCatalog,
        settings: &RuntimeSettings,
    ) -> anyhow::Result<StartedEngines> {
        let models_dir = settings.models_dir();
        let mut translators: Vec<Arc<dyn Translator>> = Vec::new();
        let mut statuses = Vec::new();
        for pair in catalog
            .neural
            .iter()
            .filter(|pair| pair.engine_name() == self.name())
        {
            let spec = pair.spec(&models_dir)?;
            let (pool, status) = start_model_pool(
                &spec,
                settings.pool_config(&format!("translate-{}-{}", pair.source, pair.target), 32),
                |spec| {
                    // A translation may be as short as its source allows.
                    let settings = GenerationSettings {
                        min_length: 0,
                        ..GenerationSettings::default()
                    };
                    TranslationEngine::load(spec, settings)
                },
            );
            statuses.push(status);
            if let Some(pool) = pool {
                translators.push(Arc::new(NeuralTranslator {
                    info: EngineInfo {
                        id: engine_id(self, &spec.id),
                        kind: EngineKind::Neural,
                        pair: LanguagePair::new(pair.source.clone(), pair.target.clone()),
                    },
                    pool,
                }));
            }
        }
        Ok(StartedEngines {
            translators,
            statuses,
        })
    }
}

/// One neural pair: a model on its workers.
struct NeuralTranslator {
    info: EngineInfo,
    pool: WorkerPool<TranslationEngine>,
}

impl Translator for NeuralTranslator {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    /// Blocking: called from a blocking thread, it waits for the model worker.
    fn translate_batch(
        &self,
        texts: &[String],
        deadline: Option<Instant>,
    ) -> Result<Vec<String>, TranslateError> {
        self.pool
            .run_blocking(texts.to_vec(), deadline)
            .map_err(|error| match error {
                PrecisError::DeadlineExceeded(_) => TranslateError::DeadlineExceeded,
                other => TranslateError::EngineFailure {
                    engine: self.info.id.clone(),
                    detail: other.to_string(),
                },
            })
    }
}
