//! Translation engines for the pipeline: neural (rust-bert, through model workers) where weights
//! are installed, Apertium otherwise; `precis-translate` routes between them.
pub mod neural;

use std::sync::Arc;

use precis_translate::apertium::{start_installed, ApertiumConfig};
use precis_translate::{Router, Translator};

use crate::config::{Catalog, RuntimeSettings};
use crate::runtime::generation::{GenerationSettings, TranslationEngine};
use crate::runtime::{start_model_pool, ModelStatus};
use neural::NeuralTranslator;
use precis_translate::LanguagePair;

/// Builds the router: neural engines first (the router prefers them per pair), then every
/// installed Apertium direction. An Apertium installation that cannot be read is an error;
/// no installed pair at all is not (Capabilities then lists none).
pub fn build_router(
    neural: Vec<Arc<dyn Translator>>,
    apertium: &ApertiumConfig,
) -> anyhow::Result<Router> {
    let mut router = Router::new();
    for engine in neural {
        router.register(engine);
    }
    if apertium.data_dir.join("modes").is_dir() {
        for engine in start_installed(apertium)? {
            router.register(engine);
        }
    }
    Ok(router)
}

/// The neural engines that loaded, and the status of every configured pair.
pub struct NeuralEngines {
    pub translators: Vec<Arc<dyn Translator>>,
    pub statuses: Vec<ModelStatus>,
}

/// Starts a worker pool per neural pair of the catalog.
pub fn load_neural(catalog: &Catalog, settings: &RuntimeSettings) -> anyhow::Result<NeuralEngines> {
    let models_dir = settings.models_dir();
    let mut translators: Vec<Arc<dyn Translator>> = Vec::new();
    let mut statuses = Vec::new();
    for pair in &catalog.translation.neural {
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
            let language_pair = LanguagePair::new(pair.source.clone(), pair.target.clone());
            translators.push(Arc::new(NeuralTranslator::new(
                &spec.id,
                language_pair,
                pool,
            )));
        }
    }
    Ok(NeuralEngines {
        translators,
        statuses,
    })
}

/// For `models list`: Apertium pairs are engines too.
pub fn apertium_statuses(router: &Router) -> Vec<ModelStatus> {
    router
        .capabilities()
        .into_iter()
        .flat_map(|capability| capability.engines)
        .filter(|engine| engine.kind == precis_translate::EngineKind::RuleBased)
        .map(|engine| ModelStatus {
            id: engine.id.clone(),
            role: crate::runtime::ModelRole::Translation {
                source: engine.pair.source.clone(),
                target: engine.pair.target.clone(),
            },
            location: "apertium (Debian package)".into(),
            architecture: None,
            size_bytes: None,
            load_millis: None,
            ready: true,
            error: None,
            test_model: false,
        })
        .collect()
}
