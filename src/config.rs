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

    /// libtorch intra-op threads per model worker
    #[arg(long, env = "PRECIS_TORCH_THREADS", default_value_t = 1)]
    pub torch_threads: usize,

    /// Worker threads per model (each holds its own copy of the model)
    #[arg(long, env = "PRECIS_MODEL_WORKERS", default_value_t = 1)]
    pub model_workers: usize,

    /// Jobs allowed to wait per model before new ones are refused
    #[arg(long, env = "PRECIS_QUEUE_CAPACITY", default_value_t = 64)]
    pub queue_capacity: usize,

    /// Apertium's data directory (holds modes/<pair>.mode)
    #[arg(long, env = "PRECIS_APERTIUM_DIR", default_value = precis_translate::apertium::DEFAULT_DATA_DIR)]
    pub apertium_dir: PathBuf,

    /// Sentences per embedding forward pass
    #[arg(long, env = "PRECIS_EMBEDDING_BATCH", default_value_t = 32)]
    pub embedding_batch: usize,
}

impl RuntimeSettings {
    pub fn models_dir(&self) -> PathBuf {
        self.models_dir.clone().unwrap_or_else(default_models_dir)
    }

    /// The shape of a model pool, from these settings.
    pub fn pool_config(&self, name: &str, max_batch_cost: usize) -> crate::runtime::PoolConfig {
        crate::runtime::PoolConfig {
            name: name.to_string(),
            workers: self.model_workers,
            queue_capacity: self.queue_capacity,
            max_batch_cost,
            torch_threads: self.torch_threads,
        }
    }

    pub fn catalog(&self) -> anyhow::Result<Catalog> {
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
    #[serde(default)]
    pub summarization: SummarizationCatalog,
    #[serde(default)]
    pub translation: TranslationCatalog,
}

#[derive(Debug, Clone, Deserialize)]
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
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummarizationCatalog {
    /// Abstractive model per language code, or "default" for any language.
    #[serde(default)]
    pub models: BTreeMap<String, CatalogModel>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslationCatalog {
    #[serde(default)]
    pub neural: Vec<NeuralPair>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeuralPair {
    pub id: String,
    pub path: Option<PathBuf>,
    pub remote: Option<String>,
    pub source: String,
    pub target: String,
}

impl CatalogModel {
    pub fn spec(&self, role: ModelRole, models_dir: &Path) -> anyhow::Result<ModelSpec> {
        Ok(ModelSpec {
            id: self.id.clone(),
            role,
            location: location(
                &self.id,
                self.path.as_deref(),
                self.remote.as_deref(),
                models_dir,
            )?,
        })
    }
}

impl NeuralPair {
    pub fn spec(&self, models_dir: &Path) -> anyhow::Result<ModelSpec> {
        Ok(ModelSpec {
            id: self.id.clone(),
            role: ModelRole::Translation {
                source: self.source.clone(),
                target: self.target.clone(),
            },
            location: location(
                &self.id,
                self.path.as_deref(),
                self.remote.as_deref(),
                models_dir,
            )?,
        })
    }
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
    fn a_model_with_both_path_and_remote_is_refused() {
        let model = CatalogModel {
            id: "x".into(),
            path: Some("a".into()),
            remote: Some("b".into()),
            languages: vec![],
        };
        let error = model
            .spec(ModelRole::Summarization, Path::new("m"))
            .unwrap_err();
        assert!(error.to_string().contains("exactly one of"));
    }
}
