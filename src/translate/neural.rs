//! The rust-bert backend: Marian and many-to-many (M2M100, NLLB, mBART-50) models on worker
//! pools, behind the `Translator` trait. A model whose catalog entry names no engine runs on
//! the project-owned BART-family path (torch-bart: rust-bert's tokens, faster); `engine =
//! "rust-bert"` keeps rust-bert's pipeline. Engine ids name the path that runs
//! (`torch-bart/<model>` or `rust-bert/<model>`). A many-to-many model runs on one pool and is
//! registered once per directed pair of its languages, so the router sees each pair as a
//! direct neural route.
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use precis_translate::{EngineInfo, EngineKind, LanguagePair, TranslateError, Translator};

use super::{engine_id, StartedEngines, TranslationBackend};
use crate::config::{RuntimeSettings, TranslationCatalog};
use crate::error::PrecisError;
use crate::runtime::generation::{
    language_from_code, GenerationPath, GenerationSettings, ManyToManyEngine, PairTexts,
    TranslationEngine,
};
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
            let precision = generation_precision(&pair.id, pair.precision.as_deref())?;
            // A pair naming no engine gets the preferred path (torch-bart for Marian); one
            // naming `rust-bert` gets rust-bert's pipeline.
            let path = if pair.engine.is_some() {
                GenerationPath::RustBert
            } else {
                GenerationPath::Preferred
            };
            let runner = Arc::new(OnceLock::new());
            let loaded_runner = Arc::clone(&runner);
            let (pool, status) = start_model_pool(
                &spec,
                settings.pool_config(&format!("translate-{}-{}", pair.source, pair.target), 32),
                move |spec| {
                    // A translation may be as short as its source allows.
                    let settings = GenerationSettings {
                        min_length: 0,
                        ..GenerationSettings::default()
                    };
                    let engine = TranslationEngine::load_on_in(spec, settings, path, precision)?;
                    let _ = loaded_runner.set(engine.runner());
                    Ok(engine)
                },
            );
            statuses.push(status);
            if let Some(pool) = pool {
                translators.push(Arc::new(NeuralTranslator {
                    info: EngineInfo {
                        id: engine_id(runner.get().copied().unwrap_or(self.name()), &spec.id),
                        kind: EngineKind::Neural,
                        pair: LanguagePair::new(pair.source.clone(), pair.target.clone()),
                    },
                    pool,
                }));
            }
        }
        for model in catalog
            .many_to_many
            .iter()
            .filter(|model| model.engine_name() == self.name())
        {
            let spec = model.spec(&models_dir)?;
            let precision = generation_precision(&model.id, model.precision.as_deref())?;
            // As for a pair: torch-bart unless the entry names `rust-bert`.
            let path = if model.engine.is_some() {
                GenerationPath::RustBert
            } else {
                GenerationPath::Preferred
            };
            let runner = Arc::new(OnceLock::new());
            let loaded_runner = Arc::clone(&runner);
            let (pool, status) = start_model_pool(
                &spec,
                settings.pool_config(&format!("translate-many-{}", model.id), 32),
                move |spec| {
                    let settings = GenerationSettings {
                        min_length: 0,
                        ..GenerationSettings::default()
                    };
                    let engine = ManyToManyEngine::load_on_in(spec, settings, path, precision)?;
                    let _ = loaded_runner.set(engine.runner());
                    Ok(engine)
                },
            );
            let id = engine_id(runner.get().copied().unwrap_or(self.name()), &spec.id);
            statuses.push(status);
            let Some(pool) = pool else { continue };
            let pool = Arc::new(pool);
            // The engine loaded, so every code maps to a rust-bert language.
            let languages: Vec<(&String, rust_bert::pipelines::translation::Language)> = model
                .languages
                .iter()
                .filter_map(|code| Some((code, language_from_code(code)?)))
                .collect();
            for (source_code, source) in &languages {
                for (target_code, target) in &languages {
                    if source_code == target_code {
                        continue;
                    }
                    translators.push(Arc::new(ManyToManyPair {
                        info: EngineInfo {
                            id: id.clone(),
                            kind: EngineKind::Neural,
                            pair: LanguagePair::new((*source_code).clone(), (*target_code).clone()),
                        },
                        source: *source,
                        target: *target,
                        pool: Arc::clone(&pool),
                    }));
                }
            }
        }
        Ok(StartedEngines {
            translators,
            statuses,
        })
    }
}

fn engine_failure(engine: &str, error: PrecisError) -> TranslateError {
    match error {
        PrecisError::DeadlineExceeded(_) => TranslateError::DeadlineExceeded,
        other => TranslateError::EngineFailure {
            engine: engine.to_string(),
            detail: other.to_string(),
        },
    }
}

/// One directed pair of a many-to-many model; the model's pool is shared by all its pairs.
struct ManyToManyPair {
    info: EngineInfo,
    source: rust_bert::pipelines::translation::Language,
    target: rust_bert::pipelines::translation::Language,
    pool: Arc<WorkerPool<ManyToManyEngine>>,
}

impl Translator for ManyToManyPair {
    fn info(&self) -> &EngineInfo {
        &self.info
    }

    /// Blocking: called from a blocking thread, it waits for the model worker.
    fn translate_batch(
        &self,
        texts: &[String],
        deadline: Option<Instant>,
    ) -> Result<Vec<String>, TranslateError> {
        let job = PairTexts {
            source: self.source,
            target: self.target,
            texts: texts.to_vec(),
        };
        self.pool
            .run_blocking(job, deadline)
            .map_err(|error| engine_failure(&self.info.id, error))
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
            .map_err(|error| engine_failure(&self.info.id, error))
    }
}

/// A translation entry's `precision`: fp32 when absent, an error naming the accepted values
/// otherwise.
fn generation_precision(
    id: &str,
    precision: Option<&str>,
) -> anyhow::Result<crate::runtime::generation::Precision> {
    use crate::runtime::generation::Precision;
    match precision {
        None => Ok(Precision::Fp32),
        Some(text) => Precision::parse(text).ok_or_else(|| {
            anyhow::anyhow!(
                "translation model {id}: precision \"{text}\" is not one of \"fp32\", \"bf16\""
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Catalog;
    use crate::runtime::generation::Precision;

    #[test]
    fn a_translation_entry_opts_into_bf16_and_other_precisions_are_refused() {
        let catalog: Catalog = toml::from_str(
            r#"
            [[translation.many_to_many]]
            id = "m2m"
            path = "m2m"
            languages = ["en", "es"]
            precision = "bf16"
            [[translation.neural]]
            id = "pair"
            path = "pair"
            source = "en"
            target = "es"
            "#,
        )
        .unwrap();
        let model = &catalog.translation.many_to_many[0];
        let pair = &catalog.translation.neural[0];
        assert_eq!(
            generation_precision(&model.id, model.precision.as_deref()).unwrap(),
            Precision::Bf16
        );
        assert_eq!(
            generation_precision(&pair.id, pair.precision.as_deref()).unwrap(),
            Precision::Fp32
        );
        let error = generation_precision("pair", Some("int4"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("\"bf16\"") && error.contains("int4"),
            "{error}"
        );
    }
}
