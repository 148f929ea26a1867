//! The registry and worker pool with the tiny random-weight models of
//! scripts/make_test_models.py. They prove loading, batching, generation and deadlines; their
//! output is meaningless and no test looks at its content.
mod common;

use std::time::Instant;

use common::gated::{wait_for_queue, Gate};
use precis::error::PrecisError;
use precis::runtime::generation::{GenerationSettings, SummarizationEngine, TranslationEngine};
use precis::runtime::registry::{inspect_directory, ModelError};
use precis::runtime::{ModelLocation, ModelRole, ModelSpec, PoolConfig, WorkerPool};

fn pool_config(name: &str) -> PoolConfig {
    PoolConfig {
        name: name.into(),
        workers: 1,
        queue_capacity: 8,
        max_batch_cost: 8,
        torch_threads: 1,
    }
}

fn tiny_settings() -> GenerationSettings {
    GenerationSettings {
        num_beams: 2,
        min_length: 1,
        max_length: 12,
    }
}

fn tiny_bart() -> ModelSpec {
    ModelSpec {
        id: "tiny-bart".into(),
        role: ModelRole::Summarization,
        location: ModelLocation::Directory(common::test_model("tiny-bart")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_bart_generates_a_batch_through_the_workers() {
    let spec = tiny_bart();
    let directory =
        inspect_directory(&spec.id, &spec.role, &common::test_model("tiny-bart")).unwrap();
    assert!(
        directory.test_model,
        "the factory marks its models as test models"
    );
    // The gate is declared after the pool, so it drops first and a failing test cannot leave
    // the worker held while the pool waits for it.
    let (pool, mut gate) = {
        let (gate, hooks) = Gate::new();
        let pool = WorkerPool::start(pool_config("summarization"), move || {
            Ok(hooks.wrap(SummarizationEngine::load(&spec, tiny_settings())?))
        })
        .unwrap();
        (pool, gate)
    };
    // Hold the worker on a first job so the next two wait in the queue together.
    let busy = pool.submit("The harbour reopens.".into(), None).unwrap();
    assert_eq!(gate.wait_for_batch_start().await, 1);
    let first = pool
        .submit(
            "The council approved the harbour plan on Monday.".into(),
            None,
        )
        .unwrap();
    let second = pool
        .submit("Work starts in September and lasts two years.".into(), None)
        .unwrap();
    wait_for_queue(&pool, 2).await;
    gate.open(2);
    busy.await.unwrap().unwrap();
    let (first, second) = (
        first.await.unwrap().unwrap(),
        second.await.unwrap().unwrap(),
    );
    // Random weights: only the mechanics are checked, never the words.
    assert!(!first.is_empty() || !second.is_empty());
    assert_eq!(
        gate.batches(),
        vec![1, 2],
        "the two waiting inputs were generated as one batch"
    );
    assert_eq!(
        pool.counters()
            .completed
            .load(std::sync::atomic::Ordering::Relaxed),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_marian_translates_a_batch_through_the_workers() {
    let spec = ModelSpec {
        id: "tiny-marian-en-es".into(),
        role: ModelRole::Translation {
            source: "en".into(),
            target: "es".into(),
        },
        location: ModelLocation::Directory(common::test_model("tiny-marian-en-es")),
    };
    let pool = WorkerPool::start(pool_config("translation"), move || {
        TranslationEngine::load(&spec, tiny_settings())
    })
    .unwrap();
    let texts = vec![
        "The bridge opens on Saturday.".to_string(),
        "Prices fell.".to_string(),
        "She said it was a good day.".to_string(),
    ];
    let translated = pool.run(texts, None).await.unwrap();
    assert_eq!(translated.len(), 3, "one output per input, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_deadline_passed_in_the_queue_is_dropped() {
    let spec = tiny_bart();
    let pool = WorkerPool::start(pool_config("summarization"), move || {
        SummarizationEngine::load(&spec, tiny_settings())
    })
    .unwrap();
    // Keep the single worker busy, then queue a job that is due the moment it is queued: its
    // deadline has passed whenever the worker reaches it, however loaded the machine.
    let long_text = "The council met again to discuss the harbour. ".repeat(40);
    let busy: Vec<_> = (0..3)
        .map(|_| pool.submit(long_text.clone(), None).unwrap())
        .collect();
    let expiring = pool.submit("Short.".into(), Some(Instant::now())).unwrap();
    let outcome = expiring.await.unwrap();
    assert!(
        matches!(outcome, Err(PrecisError::DeadlineExceeded(_))),
        "{outcome:?}"
    );
    for job in busy {
        job.await.unwrap().unwrap();
    }
    assert_eq!(
        pool.counters()
            .dropped_deadline
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[test]
fn a_missing_directory_names_the_path_and_the_fix() {
    let error = inspect_directory(
        "absent",
        &ModelRole::Summarization,
        std::path::Path::new("/nonexistent/precis-model"),
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, ModelError::MissingDirectory { .. }));
    assert!(
        message.contains("/nonexistent/precis-model") && message.contains("scripts/setup"),
        "{message}"
    );
}

#[test]
fn a_directory_without_weights_names_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), r#"{"model_type": "bart"}"#).unwrap();
    let error = inspect_directory("half", &ModelRole::Summarization, dir.path()).unwrap_err();
    assert!(error.to_string().contains("rust_model.ot"), "{error}");
    std::fs::write(dir.path().join("model.safetensors"), b"").unwrap();
    let error = inspect_directory("half", &ModelRole::Summarization, dir.path()).unwrap_err();
    assert!(
        error.to_string().contains("precis models convert"),
        "{error}"
    );
}

#[test]
fn a_malformed_config_and_a_wrong_architecture_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), "{ not json").unwrap();
    let error = inspect_directory("bad", &ModelRole::Summarization, dir.path()).unwrap_err();
    assert!(error.to_string().contains("not valid JSON"), "{error}");
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"model_type": "marian"}"#,
    )
    .unwrap();
    let error = inspect_directory("bad", &ModelRole::Summarization, dir.path()).unwrap_err();
    assert!(
        error.to_string().contains("cannot serve summarization"),
        "{error}"
    );
}

#[test]
fn corrupt_weights_fail_to_load_with_a_clear_error_not_a_panic() {
    let source = common::test_model("tiny-bart");
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(dir.path().join("rust_model.ot"), b"these are not weights").unwrap();
    let spec = ModelSpec {
        id: "corrupt".into(),
        role: ModelRole::Summarization,
        location: ModelLocation::Directory(dir.path().to_path_buf()),
    };
    let error = SummarizationEngine::load(&spec, tiny_settings())
        .err()
        .unwrap();
    let message = error.to_string();
    assert!(matches!(error, ModelError::Load { .. }), "{message}");
    assert!(
        message.contains("corrupt") && message.contains(&dir.path().display().to_string()),
        "{message}"
    );
}
