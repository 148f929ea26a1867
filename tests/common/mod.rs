//! Shared by the integration tests: where scripts/setup put the models.
#![allow(dead_code)]
use std::path::PathBuf;
use std::time::Duration;

use precis::config::{default_models_dir, RuntimeSettings};

pub mod gated;

/// How long a test waits for a condition before it fails: long enough for a loaded 2-core
/// machine; a test that waits this long has failed anyway.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// The models directory scripts/setup fills (all-MiniLM-L6-v2). A missing model fails the test
/// with the fix; it is never skipped.
pub fn models_dir() -> PathBuf {
    let dir = std::env::var_os("PRECIS_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(default_models_dir);
    assert!(
        dir.join("all-MiniLM-L6-v2").join("rust_model.ot").is_file(),
        "all-MiniLM-L6-v2 is not installed in {}: run scripts/setup",
        dir.display()
    );
    dir
}

/// The tiny random-weight models of scripts/make_test_models.py.
pub fn test_model(name: &str) -> PathBuf {
    let dir = std::env::var_os("PRECIS_TEST_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| default_models_dir().with_file_name("test-models"))
        .join(name);
    assert!(
        dir.join("rust_model.ot").is_file(),
        "test model {} is missing: run scripts/setup",
        dir.display()
    );
    dir
}

pub fn runtime_settings() -> RuntimeSettings {
    RuntimeSettings {
        models_dir: Some(models_dir()),
        config: None,
        torch_threads: 1,
        model_workers: 1,
        queue_capacity: 16,
        embedding_batch: 32,
        apertium_dir: precis_translate::apertium::DEFAULT_DATA_DIR.into(),
        onnxruntime_lib: None,
        summarizers: Vec::new(),
    }
}

/// A one-worker pool running the real all-MiniLM-L6-v2.
pub fn minilm_pool() -> precis::runtime::WorkerPool<precis::runtime::embeddings::EmbeddingEngine> {
    use precis::runtime::embeddings::EmbeddingEngine;
    use precis::runtime::{ModelLocation, ModelRole, ModelSpec, PoolConfig, WorkerPool};
    let spec = ModelSpec {
        id: "all-MiniLM-L6-v2".into(),
        role: ModelRole::SentenceEmbeddings,
        location: ModelLocation::Directory(models_dir().join("all-MiniLM-L6-v2")),
    };
    let config = PoolConfig {
        name: "embeddings".into(),
        workers: 1,
        queue_capacity: 8,
        max_batch_cost: 64,
        torch_threads: 1,
    };
    let options = precis::runtime::embeddings::EmbeddingOptions {
        forward_batch: 32,
        threads: 1,
        onnxruntime_lib: None,
    };
    WorkerPool::start(config, move || {
        EmbeddingEngine::load(&spec, precis::config::DEFAULT_ENGINE, &options)
    })
    .expect("MiniLM loads")
}
