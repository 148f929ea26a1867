//! Model runtime: the registry that finds and checks models, and the workers that run them.
pub mod cpu;
pub mod embeddings;
pub mod generation;
pub mod int8_linear;
pub mod lanes;
pub mod openmp;
pub mod packed_linear;
pub mod registry;
pub mod text_input;
pub mod torch_bart;
pub mod vocabulary_screen;
pub mod worker;

pub use cpu::native_bf16;
pub use registry::{ModelError, ModelLocation, ModelRole, ModelSpec};
pub use worker::{ModelEngine, PoolConfig, WorkerPool};

/// The name of the rust-bert (libtorch) engine in catalogs and engine ids: the default engine of
/// every model role (`config::DEFAULT_ENGINE`).
pub const RUST_BERT_ENGINE: &str = "rust-bert";

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use registry::{inspect_directory, Architecture};

/// How one configured model fared at start-up: what `precis models list` prints.
#[derive(Debug, Clone, Serialize)]
pub struct ModelStatus {
    pub id: String,
    #[serde(flatten)]
    pub role: ModelRole,
    pub location: String,
    pub architecture: Option<Architecture>,
    pub size_bytes: Option<u64>,
    pub load_millis: Option<u64>,
    pub ready: bool,
    /// Why the model is not ready.
    pub error: Option<String>,
    /// Random weights made for tests: never serve their output as a result.
    pub test_model: bool,
    /// Installed by `precis models pull`: when it cannot load, the server starts without it.
    pub pulled: bool,
}

impl ModelStatus {
    /// A pulled directory that cannot be served, as `models list` shows it.
    pub fn rejected(id: &str, role: ModelRole, location: &Path, reason: &str) -> Self {
        Self {
            id: id.to_string(),
            role,
            location: location.display().to_string(),
            architecture: None,
            size_bytes: None,
            load_millis: None,
            ready: false,
            error: Some(reason.to_string()),
            test_model: false,
            pulled: true,
        }
    }
}

/// Starts a pool for one configured model and reports how it went; a failure is reported in
/// the status (with the path, the file and the fix), not returned, so `models list` can show
/// every model and `serve` can refuse to start with all reasons at once.
pub fn start_model_pool<E, L>(
    spec: &ModelSpec,
    config: PoolConfig,
    load: L,
) -> (Option<WorkerPool<E>>, ModelStatus)
where
    E: ModelEngine,
    L: Fn(&ModelSpec) -> Result<E, ModelError> + Send + Sync + 'static,
{
    let directory = match &spec.location {
        ModelLocation::Directory(path) => inspect_directory(&spec.id, &spec.role, path).ok(),
        ModelLocation::Remote(_) => None,
    };
    let load_spec = spec.clone();
    let started = Instant::now();
    let pool = WorkerPool::start(config, move || load(&load_spec));
    let load_millis = started.elapsed().as_millis() as u64;
    let (pool, error) = match pool {
        Ok(pool) => (Some(pool), None),
        Err(error) => (None, Some(error.to_string())),
    };
    let status = ModelStatus {
        id: spec.id.clone(),
        role: spec.role.clone(),
        location: spec.location.to_string(),
        architecture: directory.as_ref().map(|d| d.architecture),
        size_bytes: directory.as_ref().map(|d| d.size_bytes),
        load_millis: pool.is_some().then_some(load_millis),
        ready: pool.is_some(),
        error,
        test_model: directory.as_ref().is_some_and(|d| d.test_model),
        pulled: false,
    };
    (pool, status)
}

/// The text of a caught panic, for the error that reports it (model loads and batches).
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_string()
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else {
        "unknown panic".to_string()
    }
}
