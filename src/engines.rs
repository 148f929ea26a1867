//! The engines a deployment runs — the language detector, the summarize service, the
//! translation service — started from the catalog through the registries (`summarize` and
//! `translate` register their backends), and what they can do together (Capabilities).
use std::sync::Arc;

use precis_text::language::LanguageDetector;
use precis_translate::{PairCapability, ReachablePair};
use serde::Serialize;

use crate::config::RuntimeSettings;
use crate::names::NameAnalysers;
use crate::runtime::embeddings::{EmbeddingEngine, EmbeddingOptions, EmbeddingService};
use crate::runtime::{start_model_pool, ModelRole, ModelStatus};
use crate::summarize::{start_summarizers, SummarizeService, SummarizerInfo};
use crate::translate::{start_translation, TranslationService};

/// Everything a digest needs, loaded once and shared.
pub struct Engines {
    pub detector: Arc<LanguageDetector>,
    pub summarize: SummarizeService,
    pub translation: TranslationService,
    /// The analysers quote attribution checks speakers' names with.
    pub names: Arc<NameAnalysers>,
}

/// What this deployment can do: what GetCapabilities reports.
#[derive(Debug, Clone, Serialize)]
pub struct Capabilities {
    /// ISO 639-1 codes, sorted.
    pub detectable_languages: Vec<String>,
    /// Per-language summarizers first, then the any-language fallback.
    pub summarizers: Vec<SummarizerInfo>,
    /// Direct pairs with their engines, preferred engine first.
    pub translation_pairs: Vec<PairCapability>,
    /// Every reachable directed pair with the route a request takes.
    pub translation_routes: Vec<ReachablePair>,
}

impl Engines {
    /// Starts every engine of the catalog. A model that fails is reported in its status, not
    /// fatal here: `serve` refuses to start on it, `models list` shows why.
    pub fn load(settings: &RuntimeSettings) -> anyhow::Result<(Self, Vec<ModelStatus>)> {
        let catalog = settings.catalog()?;
        let mut statuses = Vec::new();
        let mut start_embeddings = |model: &crate::config::CatalogModel,
                                    pool_name: String|
         -> anyhow::Result<Option<EmbeddingService>> {
            let spec = model.spec(ModelRole::SentenceEmbeddings, &settings.models_dir())?;
            // An unknown engine is a catalog error, refused before anything loads; `auto`
            // picks its engine here, so the pool is shaped for the one that runs.
            let backend =
                crate::runtime::embeddings::resolve_backend(model.engine_name(), &spec)
                    .map_err(|error| anyhow::anyhow!("embedding model '{}': {error}", model.id))?;
            let engine = backend.name().to_string();
            // One forward batch per job pick-up, so a second worker finds work waiting instead
            // of the first taking the whole queue.
            let pool_config = if backend.one_thread_per_worker() {
                settings.single_thread_pool_config(&pool_name, settings.embedding_batch)
            } else {
                settings.pool_config(&pool_name, settings.embedding_batch)
            };
            let options = EmbeddingOptions {
                forward_batch: settings.embedding_batch,
                threads: pool_config.torch_threads,
                onnxruntime_lib: settings.onnxruntime_lib.clone(),
                // A slot of this pool's own: its workers share one copy of the weights.
                shared_weights: Default::default(),
            };
            let (pool, status) = start_model_pool(&spec, pool_config, move |spec| {
                EmbeddingEngine::load(spec, &engine, &options)
            });
            statuses.push(status);
            Ok(pool.map(|pool| EmbeddingService {
                model_id: spec.id.clone(),
                pool,
                languages: model.languages.clone(),
                cutoffs: model.similarity.unwrap_or_default(),
                head_start: settings.embedding_head_start,
            }))
        };
        let embeddings = match &catalog.embeddings {
            Some(model) => start_embeddings(model, "embeddings".into())?,
            None => None,
        };
        let mut more_embeddings = Vec::new();
        for model in &catalog.more_embeddings {
            more_embeddings.extend(start_embeddings(model, format!("embeddings-{}", model.id))?);
        }
        let summarizers = start_summarizers(&catalog.summarization, settings, &mut statuses)?;
        let detector = Arc::new(LanguageDetector::new());
        let (translation, translation_statuses) =
            start_translation(&catalog.translation, settings, Arc::clone(&detector))?;
        statuses.extend(translation_statuses);
        // Pulled models: a failure is reported, and the rest of the service starts without it.
        for status in &mut statuses {
            status.pulled = catalog.pulled.ids.contains(&status.id);
        }
        statuses.extend(catalog.pulled.rejected.iter().map(|rejected| {
            ModelStatus::rejected(
                &rejected.id,
                crate::hub::PulledRole::model_role(rejected.role.as_ref()),
                &rejected.directory,
                &rejected.reason,
            )
        }));
        let engines = Self {
            detector,
            summarize: SummarizeService {
                embeddings,
                more_embeddings,
                summarizers,
            },
            translation,
            names: Arc::new(NameAnalysers::start(&settings.names)),
        };
        Ok((engines, statuses))
    }

    /// Languages, summarizers and translation pairs, as loaded.
    pub fn capabilities(&self) -> Capabilities {
        let mut detectable_languages: Vec<String> = self
            .detector
            .supported_languages()
            .into_iter()
            .map(|language| language.iso639_1)
            .collect();
        detectable_languages.sort();
        detectable_languages.dedup();
        Capabilities {
            detectable_languages,
            summarizers: self.summarize.capabilities(),
            translation_pairs: self.translation.capabilities(),
            translation_routes: self.translation.reachable(),
        }
    }
}
