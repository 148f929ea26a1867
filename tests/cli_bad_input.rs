//! The CLI refuses bad articles and bad model directories with a clear message and a non-zero
//! exit, never a panic.
mod common;

use std::process::Command;

/// Runs precis; returns (success, stdout, stderr).
fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_precis"))
        .args(args)
        .output()
        .expect("the precis binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.success(), stdout, stderr)
}

fn precis(args: &[&str]) -> (bool, String) {
    let (ok, _, stderr) = run(args);
    (ok, stderr)
}

#[test]
fn an_empty_article_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.txt");
    std::fs::write(&path, "  \n\t\n").unwrap();
    let (ok, stderr) = precis(&["digest", "--file", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("empty") && stderr.contains("empty.txt"),
        "{stderr}"
    );
}

#[test]
fn a_non_utf8_article_names_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.txt");
    std::fs::write(&path, b"Caf\xe9 au lait.").unwrap();
    let (ok, stderr) = precis(&["digest", "--file", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("not valid UTF-8") && stderr.contains("offset 3"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let (ok, stderr) = precis(&["digest", "--file", "/nonexistent/article.txt"]);
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/article.txt"), "{stderr}");
}

#[test]
fn a_missing_models_directory_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let article = dir.path().join("article.txt");
    std::fs::write(
        &article,
        "The bridge opens on Saturday. Traffic will be light.",
    )
    .unwrap();
    let models = dir.path().join("no-models-here");
    let (ok, stderr) = precis(&[
        "digest",
        "--file",
        article.to_str().unwrap(),
        "--models-dir",
        models.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("no-models-here") && stderr.contains("scripts/setup"),
        "{stderr}"
    );
}

/// A models directory whose all-MiniLM-L6-v2 links to the installed model's files, except
/// `changed` (a path inside the model): left out when `contents` is `None`, else written with
/// `contents`.
fn minilm_with(changed: &str, contents: Option<&[u8]>) -> tempfile::TempDir {
    let installed = common::models_dir().join("all-MiniLM-L6-v2");
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("all-MiniLM-L6-v2");
    link_tree_except(&installed, &model, &installed.join(changed));
    if let Some(contents) = contents {
        std::fs::write(model.join(changed), contents).unwrap();
    }
    dir
}

/// Mirrors `from` into `to` with symbolic links, descending into directories, leaving out `skip`.
fn link_tree_except(from: &std::path::Path, to: &std::path::Path, skip: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path == skip {
            continue;
        }
        if path.is_dir() && skip.starts_with(&path) {
            link_tree_except(&path, &to.join(entry.file_name()), skip);
        } else {
            std::os::unix::fs::symlink(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// `models list --json` loads every model and reports each one's state instead of failing:
/// the error of the model `id`, if any.
fn model_error(models: &std::path::Path, id: &str) -> Option<String> {
    model_error_with(models, id, &[])
}

/// [`model_error`] with more `models list` arguments (e.g. `--config`).
fn model_error_with(models: &std::path::Path, id: &str, more: &[&str]) -> Option<String> {
    let mut args = vec![
        "models",
        "list",
        "--json",
        "--models-dir",
        models.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    let (ok, stdout, stderr) = run(&args);
    assert!(ok, "{stderr}");
    let listed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let model = listed["models"]
        .as_array()
        .expect("a list of models")
        .iter()
        .find(|model| model["id"] == id)
        .unwrap_or_else(|| panic!("{id} is listed: {stdout}"));
    model["error"].as_str().map(str::to_string)
}

#[test]
fn a_minilm_directory_without_its_vocabulary_names_the_missing_file() {
    let models = minilm_with("vocab.txt", None);
    let error = model_error(models.path(), "all-MiniLM-L6-v2").expect("MiniLM is not ready");
    assert!(
        error.contains("vocab.txt"),
        "the missing vocabulary file is named: {error}"
    );
}

/// A models directory whose all-MiniLM-L6-v2 has `file` (relative to the model) cut to a third
/// of its length, as an interrupted copy leaves it.
fn minilm_with_truncated(file: &str) -> tempfile::TempDir {
    let installed = common::models_dir().join("all-MiniLM-L6-v2");
    let mut truncated = std::fs::read(installed.join(file)).unwrap();
    truncated.truncate(truncated.len() / 3);
    minilm_with(file, Some(&truncated))
}

/// A digest of a short article on `models` (with `more` arguments) fails, and its message names
/// MiniLM and `file`.
fn assert_digest_refused_naming(models: &std::path::Path, more: &[&str], file: &str) {
    let article = models.join("article.txt");
    std::fs::write(
        &article,
        "The bridge opens on Saturday. Traffic will be light.",
    )
    .unwrap();
    let mut args = vec![
        "digest",
        "--file",
        article.to_str().unwrap(),
        "--models-dir",
        models.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    let (ok, stderr) = precis(&args);
    assert!(!ok, "a digest never runs on a model that failed to load");
    assert!(
        stderr.contains("all-MiniLM-L6-v2") && stderr.contains(file),
        "{stderr}"
    );
}

#[test]
fn a_corrupt_onnx_graph_fails_with_a_clear_error_naming_the_file() {
    // A catalog that pins MiniLM to ONNX Runtime fp32 (the default `auto` runs it there on CPUs
    // without native bf16).
    let models = minilm_with_truncated("onnx/model.onnx");
    let default_engine = "engine = \"auto\"";
    assert!(precis::config::DEFAULT_CATALOG.contains(default_engine));
    let catalog = models.path().join("onnx-catalog.toml");
    std::fs::write(
        &catalog,
        precis::config::DEFAULT_CATALOG.replacen(default_engine, "engine = \"onnxruntime\"", 1),
    )
    .unwrap();
    let pinned = ["--config", catalog.to_str().unwrap()];

    let error =
        model_error_with(models.path(), "all-MiniLM-L6-v2", &pinned).expect("MiniLM is not ready");
    assert!(
        error.contains("model.onnx") && error.contains("cannot load"),
        "the corrupt graph file is named, with what is wrong: {error}"
    );
    assert_digest_refused_naming(models.path(), &pinned, "model.onnx");
}

#[test]
fn corrupt_libtorch_weights_fail_the_default_engine_only_where_it_reads_them() {
    // The default catalog's `auto` reads rust_model.ot on CPUs with native bf16 (torch-bf16) and
    // the ONNX graph elsewhere.
    let models = minilm_with_truncated("rust_model.ot");
    let error = model_error(models.path(), "all-MiniLM-L6-v2");
    if precis::runtime::embeddings::native_bf16().is_some() {
        let error = error.expect("MiniLM is not ready");
        assert!(
            error.contains("rust_model.ot") && error.contains("cannot read"),
            "the corrupt weights file is named, with what is wrong: {error}"
        );
        assert_digest_refused_naming(models.path(), &[], "rust_model.ot");
    } else {
        assert_eq!(error, None, "ONNX Runtime never reads rust_model.ot");
    }
}
