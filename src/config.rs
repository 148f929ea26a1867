//! Settings: command-line flags (each with a `PRECIS_*` env var) and the model catalog (TOML).
//! Nothing else in precis reads the environment.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::runtime::{ModelLocation, ModelRole, ModelSpec};

/// The catalog compiled into the binary, used when no --config is given.
pub const DEFAULT_CATALOG: &str = include_str!("../config/default.toml");

/// How models are found and run; shared by `serve` and the in-process CLI commands.
#[derive(Debug, Clone, clap::Args)]
pub struct RuntimeSettings {
    /// Directory that relative model paths resolve against
    /// [default: ~/.cache/precis/models]
    #[arg(long, env = "PRECIS_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,

    /// Model catalog (TOML); the built-in catalog is used when absent
    #[arg(long, env = "PRECIS_CONFIG")]
    pub config: Option<PathBuf>,

    /// Intra-op threads per model worker, libtorch's and ONNX Runtime's; 0: the cores this
    /// process may use (CPU affinity and cgroup quota) shared among --model-workers, at most
    /// 4 per worker (a torch-bf16 embedding model gets a worker per core, at most 4, of one
    /// thread each instead)
    #[arg(long, env = "PRECIS_TORCH_THREADS", default_value_t = 0)]
    pub torch_threads: usize,

    /// Worker threads per model (each holds its own copy of the model; a torch-bf16 embedding
    /// model's workers share one)
    #[arg(long, env = "PRECIS_MODEL_WORKERS", default_value_t = 1)]
    pub model_workers: usize,

    /// Jobs allowed to wait per model before new ones are refused (an embedding model on
    /// one-thread workers, torch-bf16, gets this much per --model-workers' worth of its workers)
    #[arg(long, env = "PRECIS_QUEUE_CAPACITY", default_value_t = 64)]
    pub queue_capacity: usize,

    /// Apertium's data directory (holds modes/<pair>.mode)
    #[arg(long, env = "PRECIS_APERTIUM_DIR", default_value = precis_translate::apertium::DEFAULT_DATA_DIR)]
    pub apertium_dir: PathBuf,

    /// Sentences per embedding forward pass
    #[arg(long, env = "PRECIS_EMBEDDING_BATCH", default_value_t = 32)]
    pub embedding_batch: usize,

    /// Padded bytes of a request's first embedding work that run ahead of the requests already
    /// being served, so a short article is not slowed by long ones in flight; 0: plain fair
    /// queueing
    #[arg(long, env = "PRECIS_EMBEDDING_HEAD_START", default_value_t = 8192)]
    pub embedding_head_start: usize,

    /// ONNX Runtime's shared library (libonnxruntime.so) for the `onnxruntime` engines
    /// [default: beside the binary in ../lib/precis/, else the one scripts/setup installed]
    #[arg(long, env = "PRECIS_ONNXRUNTIME_LIB")]
    pub onnxruntime_lib: Option<PathBuf>,

    /// Abstractive summarizer per language, overriding the catalog: LANG=DIR or
    /// LANG=remote:NAME, LANG an ISO 639-1 code or `default` (any language); DIR is resolved
    /// against --models-dir. Repeat the flag, or separate with commas in the env var.
    #[arg(long = "summarizer", env = "PRECIS_SUMMARIZERS", value_delimiter = ',', value_parser = parse_summarizer_flag)]
    pub summarizers: Vec<SummarizerFlag>,

    #[command(flatten)]
    pub names: NameAnalyserSettings,
}

/// The Apertium morphological analysers quote attribution asks whether a speaker's name is a
/// person, a place or an organisation (issue #17).
#[derive(Debug, Clone, clap::Args)]
pub struct NameAnalyserSettings {
    /// Check quote speakers with Apertium's analysers, for the languages that have one
    /// installed (the rules alone for the others, or with `false`)
    #[arg(long = "name-analysers", env = "PRECIS_NAME_ANALYSERS", default_value_t = true, action = clap::ArgAction::Set)]
    pub enabled: bool,

    /// The lt-proc program that runs the analysers
    #[arg(long = "lt-proc", env = "PRECIS_LT_PROC", default_value = "lt-proc")]
    pub program: PathBuf,

    /// Where the Apertium pair packages are (`apertium-*/<lang>-*.automorf.bin`)
    #[arg(long = "name-analyser-dir", env = "PRECIS_NAME_ANALYSER_DIR", default_value = precis_text::name_oracle::DEFAULT_APERTIUM_DIR)]
    pub dir: PathBuf,

    /// Milliseconds an analyser may take on one article before it is restarted and the
    /// rules answer alone for that article
    #[arg(
        long = "name-analyser-timeout-ms",
        env = "PRECIS_NAME_ANALYSER_TIMEOUT_MS",
        default_value_t = 500
    )]
    pub timeout_ms: u64,
}

impl Default for NameAnalyserSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            program: PathBuf::from("lt-proc"),
            dir: PathBuf::from(precis_text::name_oracle::DEFAULT_APERTIUM_DIR),
            timeout_ms: precis_text::name_oracle::DEFAULT_REPLY_TIMEOUT.as_millis() as u64,
        }
    }
}

/// Where `precis models pull` and `precis serve --pull` fetch models from.
#[derive(Debug, Clone, clap::Args)]
pub struct HubSettings {
    /// A Hugging Face–compatible hub [default: HF_ENDPOINT, else https://huggingface.co]
    #[arg(long, env = "PRECIS_HUB_URL")]
    pub hub_url: Option<String>,

    /// The hub address the Hugging Face tools use; --hub-url / PRECIS_HUB_URL win over it
    #[arg(long, env = "HF_ENDPOINT", hide = true)]
    pub hf_endpoint: Option<String>,

    /// Access token for gated or private repositories, sent as a Bearer token to the hub
    #[arg(long, env = "HF_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Branch, tag or commit to pull
    #[arg(long, default_value = "main")]
    pub revision: String,

    /// Seconds to wait for each connection before giving up
    #[arg(long, env = "PRECIS_PULL_CONNECT_TIMEOUT", default_value_t = 10)]
    pub connect_timeout: u64,
}

impl HubSettings {
    /// The pull options these settings give; `languages` for summarizers and embedders.
    pub fn pull_options(&self, languages: Vec<String>) -> crate::hub::PullOptions {
        let url = self
            .hub_url
            .clone()
            .or_else(|| self.hf_endpoint.clone())
            .filter(|url| !url.trim().is_empty())
            .unwrap_or_else(|| crate::hub::DEFAULT_HUB_URL.to_string());
        crate::hub::PullOptions {
            token: self.token.clone(),
            revision: self.revision.clone(),
            connect_timeout: std::time::Duration::from_secs(self.connect_timeout),
            languages,
            ..crate::hub::PullOptions::new(url)
        }
    }
}

/// One `--summarizer LANG=LOCATION` flag.
#[derive(Debug, Clone, PartialEq)]
pub struct SummarizerFlag {
    pub language: String,
    pub model: CatalogModel,
}

fn parse_summarizer_flag(value: &str) -> Result<SummarizerFlag, String> {
    let (language, location) = value.split_once('=').ok_or_else(|| {
        format!("'{value}' is not LANG=DIR or LANG=remote:NAME (e.g. en=distilbart-cnn-6-6)")
    })?;
    let language = language.trim().to_ascii_lowercase();
    let location = location.trim();
    if language.is_empty() || location.is_empty() {
        return Err(format!("'{value}' needs both a language and a location"));
    }
    let (path, remote) = match location.strip_prefix("remote:") {
        Some(name) => (None, Some(name.to_string())),
        None => (Some(PathBuf::from(location)), None),
    };
    // The model's id is the directory's name or the remote name, as `models list` shows it.
    let id = match (&path, &remote) {
        (Some(path), _) => path.file_name().map_or_else(
            || location.to_string(),
            |name| name.to_string_lossy().into_owned(),
        ),
        (None, Some(name)) => name.clone(),
        (None, None) => location.to_string(),
    };
    Ok(SummarizerFlag {
        language,
        model: CatalogModel {
            id,
            path,
            remote,
            languages: Vec::new(),
            similarity: None,
            engine: None,
        },
    })
}

/// The most intra-op threads `--torch-threads 0` gives a worker: a MiniLM forward pass of a
/// few hundred tokens gains little past four, and more only add wake-up cost.
pub const MAX_AUTO_THREADS: usize = 4;

/// Threads per worker when `cores` are available to `workers` workers of one model.
fn auto_threads(cores: usize, workers: usize) -> usize {
    (cores / workers.max(1)).clamp(1, MAX_AUTO_THREADS)
}

/// Workers of one thread each for `cores`, when the operator asked for `workers`.
fn single_thread_workers(cores: usize, workers: usize) -> usize {
    workers.max(cores.min(MAX_AUTO_THREADS)).max(1)
}

/// The cores this process may use (CPU affinity and cgroup quota).
fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl RuntimeSettings {
    pub fn models_dir(&self) -> PathBuf {
        self.models_dir.clone().unwrap_or_else(default_models_dir)
    }

    /// Intra-op threads per model worker: `--torch-threads`, or with 0 the cores this process
    /// may use over the workers of one model, between 1 and [`MAX_AUTO_THREADS`].
    pub fn torch_threads(&self) -> usize {
        if self.torch_threads > 0 {
            return self.torch_threads;
        }
        auto_threads(available_cores(), self.model_workers)
    }

    /// The shape of a pool whose engine runs best at one intra-op thread per worker: with
    /// `--torch-threads 0`, a worker per core (at least `--model-workers`, at most
    /// [`MAX_AUTO_THREADS`]), one thread each; a thread count the operator set keeps
    /// [`Self::pool_config`]'s shape. The queue grows with the workers: a request keeps pieces
    /// queued per worker (`runtime::embeddings`), so with the shared shape's capacity half as
    /// many long Digests could wait at two workers.
    pub fn single_thread_pool_config(
        &self,
        name: &str,
        max_batch_cost: usize,
    ) -> crate::runtime::PoolConfig {
        let shared = self.pool_config(name, max_batch_cost);
        if self.torch_threads > 0 {
            return shared;
        }
        let workers = single_thread_workers(available_cores(), self.model_workers);
        crate::runtime::PoolConfig {
            workers,
            torch_threads: 1,
            queue_capacity: self.queue_capacity * workers / self.model_workers.max(1),
            ..shared
        }
    }

    /// The shape of a model pool, from these settings.
    pub fn pool_config(&self, name: &str, max_batch_cost: usize) -> crate::runtime::PoolConfig {
        crate::runtime::PoolConfig {
            name: name.to_string(),
            workers: self.model_workers,
            queue_capacity: self.queue_capacity,
            max_batch_cost,
            torch_threads: self.torch_threads(),
        }
    }

    /// The catalog with the `--summarizer` flags applied over it, then the models
    /// `precis models pull` installed in the models directory (the catalog's own entries win a
    /// summarizer language).
    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        let mut catalog = self.catalog_file()?;
        for flag in &self.summarizers {
            catalog
                .summarization
                .models
                .insert(flag.language.clone(), flag.model.clone());
        }
        add_pulled_models(&mut catalog, &self.models_dir());
        Ok(catalog)
    }

    fn catalog_file(&self) -> anyhow::Result<Catalog> {
        let text = match &self.config {
            Some(path) => std::fs::read_to_string(path).map_err(|error| {
                anyhow::anyhow!("cannot read the model catalog {}: {error}", path.display())
            })?,
            None => DEFAULT_CATALOG.to_string(),
        };
        let source = self.config.as_deref().map_or_else(
            || "the built-in catalog".to_string(),
            |p| p.display().to_string(),
        );
        toml::from_str(&text)
            .map_err(|error| anyhow::anyhow!("{source} is not a valid model catalog: {error}"))
    }
}

fn add_pulled_models(catalog: &mut Catalog, models_dir: &Path) {
    use crate::hub::{PulledRole, RejectedModel};
    let (installed, rejected) = crate::hub::installed(models_dir);
    catalog.pulled.rejected = rejected;
    let mut pulled_embedders = 0;
    for model in installed {
        let entry = |languages: Vec<String>| CatalogModel {
            id: model.id.clone(),
            path: Some(model.directory.clone()),
            remote: None,
            languages,
            similarity: None,
            engine: None,
        };
        match &model.role {
            PulledRole::Translation { source, target } => {
                catalog.translation.neural.push(NeuralPair {
                    id: model.id.clone(),
                    path: Some(model.directory.clone()),
                    remote: None,
                    source: source.clone(),
                    target: target.clone(),
                    engine: None,
                    precision: None,
                });
            }
            PulledRole::ManyToManyTranslation { languages } => {
                catalog.translation.many_to_many.push(ManyToManyModel {
                    id: model.id.clone(),
                    path: Some(model.directory.clone()),
                    remote: None,
                    languages: languages.clone(),
                    engine: None,
                    precision: None,
                });
            }
            PulledRole::Summarization { languages } => {
                let mut served = false;
                for language in languages {
                    if !catalog.summarization.models.contains_key(language) {
                        catalog
                            .summarization
                            .models
                            .insert(language.clone(), entry(Vec::new()));
                        served = true;
                    }
                }
                if !served {
                    catalog.pulled.rejected.push(RejectedModel {
                        id: model.id.clone(),
                        directory: model.directory.clone(),
                        role: Some(model.role.clone()),
                        reason: format!(
                            "pulled summarizer {} is not used: the catalog already has a summarizer for {}",
                            model.id,
                            languages.join(", ")
                        ),
                    });
                    continue;
                }
            }
            // Ahead of the catalog's further embedders (multilingual-e5-small lists about a
            // hundred languages): a model pulled for a language is there to rank it. The
            // catalog's `embeddings` model still comes first.
            PulledRole::SentenceEmbeddings { languages } => {
                catalog
                    .more_embeddings
                    .insert(pulled_embedders, entry(languages.clone()));
                pulled_embedders += 1;
            }
        }
        catalog.pulled.ids.insert(model.id);
    }
}

/// `~/.cache/precis/models`, where scripts/setup puts the models it installs.
pub fn default_models_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("precis")
        .join("models")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub embeddings: Option<CatalogModel>,
    /// Further embedding models, each for its own languages: a language is ranked by the first
    /// model that lists it, `embeddings` first, then pulled embedders, then these.
    #[serde(default)]
    pub more_embeddings: Vec<CatalogModel>,
    #[serde(default)]
    pub summarization: SummarizationCatalog,
    #[serde(default)]
    pub translation: TranslationCatalog,
    /// Models `precis models pull` installed in the models directory, added to the sections
    /// above at start-up (see [`RuntimeSettings::catalog`]); not part of the file.
    #[serde(skip)]
    pub pulled: PulledModels,
}

/// The pulled models of a catalog: the ids it serves, and the directories it cannot serve.
#[derive(Debug, Clone, Default)]
pub struct PulledModels {
    pub ids: std::collections::BTreeSet<String>,
    pub rejected: Vec<crate::hub::RejectedModel>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogModel {
    pub id: String,
    /// A directory (relative to --models-dir or absolute)…
    pub path: Option<PathBuf>,
    /// …or the name of one of rust-bert's remote resources, where a network exists.
    pub remote: Option<String>,
    /// For embeddings: the languages it ranks well.
    #[serde(default)]
    pub languages: Vec<String>,
    /// For embeddings: its similarity cut-offs (default: all-MiniLM-L6-v2's).
    pub similarity: Option<crate::runtime::embeddings::SimilarityCutoffs>,
    /// The backend that runs it (a name registered in `summarize` or `translate`);
    /// [`DEFAULT_ENGINE`] when absent.
    pub engine: Option<String>,
}

/// The backend of catalog entries that name none: rust-bert on libtorch.
pub const DEFAULT_ENGINE: &str = crate::runtime::RUST_BERT_ENGINE;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummarizationCatalog {
    /// Abstractive model per language code, or "default" for any language.
    #[serde(default)]
    pub models: BTreeMap<String, CatalogModel>,
    /// Beams per generation; 1 is greedy.
    pub num_beams: Option<i64>,
    /// Fewest tokens a chunk's summary may have.
    pub min_length: Option<i64>,
    /// Most tokens a chunk's summary may have.
    pub max_length: Option<i64>,
    /// Tokens one model input may hold; longer articles are split into chunks. Defaults to the
    /// model's position limit (config.json).
    pub max_input_tokens: Option<usize>,
    /// Chunks one batch may hold; chunks of requests waiting together share a batch.
    pub max_batch_chunks: Option<usize>,
}

/// The key of the any-language summarizer in `[summarization.models]`.
pub const DEFAULT_SUMMARIZER: &str = "default";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslationCatalog {
    #[serde(default)]
    pub neural: Vec<NeuralPair>,
    /// Models translating between any two of their languages (M2M100): every directed pair
    /// becomes a direct neural route.
    #[serde(default)]
    pub many_to_many: Vec<ManyToManyModel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManyToManyModel {
    pub id: String,
    pub path: Option<PathBuf>,
    pub remote: Option<String>,
    /// ISO 639-1 codes; each ordered pair of two of them is served.
    pub languages: Vec<String>,
    /// The backend that runs it; [`DEFAULT_ENGINE`] when absent.
    pub engine: Option<String>,
    /// Opt-in `"bf16"` weights on the torch-bart engine (default `"fp32"`).
    pub precision: Option<String>,
}

impl ManyToManyModel {
    pub fn engine_name(&self) -> &str {
        self.engine.as_deref().unwrap_or(DEFAULT_ENGINE)
    }

    pub fn spec(&self, models_dir: &Path) -> anyhow::Result<ModelSpec> {
        let role = ModelRole::ManyToManyTranslation {
            languages: self.languages.clone(),
        };
        model_spec(
            &self.id,
            role,
            self.path.as_deref(),
            self.remote.as_deref(),
            models_dir,
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeuralPair {
    pub id: String,
    pub path: Option<PathBuf>,
    pub remote: Option<String>,
    pub source: String,
    pub target: String,
    /// The backend that runs it; [`DEFAULT_ENGINE`] when absent.
    pub engine: Option<String>,
    /// Opt-in `"bf16"` weights on the torch-bart engine (default `"fp32"`).
    pub precision: Option<String>,
}

impl CatalogModel {
    pub fn engine_name(&self) -> &str {
        self.engine.as_deref().unwrap_or(DEFAULT_ENGINE)
    }

    pub fn spec(&self, role: ModelRole, models_dir: &Path) -> anyhow::Result<ModelSpec> {
        model_spec(
            &self.id,
            role,
            self.path.as_deref(),
            self.remote.as_deref(),
            models_dir,
        )
    }
}

impl NeuralPair {
    pub fn engine_name(&self) -> &str {
        self.engine.as_deref().unwrap_or(DEFAULT_ENGINE)
    }

    pub fn spec(&self, models_dir: &Path) -> anyhow::Result<ModelSpec> {
        let role = ModelRole::Translation {
            source: self.source.clone(),
            target: self.target.clone(),
        };
        model_spec(
            &self.id,
            role,
            self.path.as_deref(),
            self.remote.as_deref(),
            models_dir,
        )
    }
}

fn model_spec(
    id: &str,
    role: ModelRole,
    path: Option<&Path>,
    remote: Option<&str>,
    models_dir: &Path,
) -> anyhow::Result<ModelSpec> {
    Ok(ModelSpec {
        id: id.to_string(),
        role,
        location: location(id, path, remote, models_dir)?,
    })
}

fn location(
    id: &str,
    path: Option<&Path>,
    remote: Option<&str>,
    models_dir: &Path,
) -> anyhow::Result<ModelLocation> {
    match (path, remote) {
        (Some(path), None) => Ok(ModelLocation::Directory(models_dir.join(path))),
        (None, Some(remote)) => Ok(ModelLocation::Remote(remote.to_string())),
        _ => anyhow::bail!("model '{id}' in the catalog needs exactly one of `path` or `remote`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_catalog_parses_and_names_minilm() {
        let catalog: Catalog = toml::from_str(DEFAULT_CATALOG).unwrap();
        let embeddings = catalog.embeddings.unwrap();
        assert_eq!(embeddings.id, "all-MiniLM-L6-v2");
        let spec = embeddings
            .spec(ModelRole::SentenceEmbeddings, Path::new("models"))
            .unwrap();
        assert_eq!(
            spec.location,
            ModelLocation::Directory(PathBuf::from("models/all-MiniLM-L6-v2"))
        );
        assert!(catalog.summarization.models.is_empty());
    }

    #[test]
    fn summarizer_flags_name_a_directory_or_a_remote_model_per_language() {
        let flag = parse_summarizer_flag("EN=summarizers/distilbart-cnn-6-6").unwrap();
        assert_eq!(flag.language, "en");
        assert_eq!(flag.model.id, "distilbart-cnn-6-6");
        assert_eq!(
            flag.model.path.as_deref(),
            Some(Path::new("summarizers/distilbart-cnn-6-6"))
        );
        let flag = parse_summarizer_flag("default=remote:bart-large-cnn").unwrap();
        assert_eq!(flag.language, DEFAULT_SUMMARIZER);
        assert_eq!(flag.model.remote.as_deref(), Some("bart-large-cnn"));
        let error = parse_summarizer_flag("distilbart").unwrap_err();
        assert!(error.contains("LANG=DIR"), "{error}");
    }

    #[test]
    fn the_summarization_section_takes_models_and_decoding_settings() {
        let catalog: Catalog = toml::from_str(
            r#"
            [summarization]
            num_beams = 2
            max_input_tokens = 400
            [summarization.models.default]
            id = "distilbart-cnn-6-6"
            path = "distilbart-cnn-6-6"
            "#,
        )
        .unwrap();
        assert_eq!(catalog.summarization.num_beams, Some(2));
        assert_eq!(catalog.summarization.max_input_tokens, Some(400));
        assert!(catalog
            .summarization
            .models
            .contains_key(DEFAULT_SUMMARIZER));
        let error = toml::from_str::<Catalog>("[summarization]\nbeams = 2\n").unwrap_err();
        assert!(error.to_string().contains("beams"), "{error}");
    }

    #[test]
    fn a_catalog_file_may_name_a_many_to_many_translation_model() {
        let catalog: Catalog = toml::from_str(
            r#"
            [[translation.many_to_many]]
            id = "m2m100_418M"
            path = "translation/m2m100_418M"
            languages = ["en", "de", "fr"]
            "#,
        )
        .unwrap();
        let model = &catalog.translation.many_to_many[0];
        assert_eq!(model.engine_name(), DEFAULT_ENGINE);
        let spec = model.spec(Path::new("/models")).unwrap();
        assert_eq!(
            spec.role,
            ModelRole::ManyToManyTranslation {
                languages: vec!["en".into(), "de".into(), "fr".into()]
            }
        );
        assert_eq!(
            spec.location,
            ModelLocation::Directory("/models/translation/m2m100_418M".into())
        );
        // A typo in the section is refused, as everywhere in the catalog.
        assert!(toml::from_str::<Catalog>(
            "[[translation.many_to_many]]\nid = \"x\"\nlanguage = [\"en\"]\n"
        )
        .is_err());
    }

    #[test]
    fn a_model_with_both_path_and_remote_is_refused() {
        let model = CatalogModel {
            id: "x".into(),
            path: Some("a".into()),
            remote: Some("b".into()),
            languages: vec![],
            similarity: None,
            engine: None,
        };
        let error = model
            .spec(ModelRole::Summarization, Path::new("m"))
            .unwrap_err();
        assert!(error.to_string().contains("exactly one of"));
    }

    #[test]
    fn automatic_threads_share_the_cores_among_workers_within_bounds() {
        assert_eq!(auto_threads(2, 1), 2);
        assert_eq!(auto_threads(2, 2), 1);
        assert_eq!(auto_threads(1, 1), 1);
        // More workers than cores still get a thread each; many cores are capped.
        assert_eq!(auto_threads(2, 3), 1);
        assert_eq!(auto_threads(64, 1), MAX_AUTO_THREADS);
        assert_eq!(auto_threads(8, 2), 4);
        assert_eq!(auto_threads(6, 2), 3);
    }

    #[test]
    fn single_thread_pools_take_a_worker_per_core_within_bounds() {
        assert_eq!(single_thread_workers(2, 1), 2);
        assert_eq!(single_thread_workers(1, 1), 1);
        // The operator's worker count is a floor; many cores are capped like threads are.
        assert_eq!(single_thread_workers(2, 3), 3);
        assert_eq!(single_thread_workers(64, 1), MAX_AUTO_THREADS);
        assert_eq!(single_thread_workers(0, 0), 1);
    }
}
