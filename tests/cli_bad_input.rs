//! The CLI refuses bad articles and bad model directories with a clear message and a non-zero
//! exit, never a panic.
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

#[test]
fn a_corrupt_minilm_directory_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("all-MiniLM-L6-v2");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::write(model.join("config.json"), r#"{"model_type": "bert"}"#).unwrap();
    std::fs::write(model.join("rust_model.ot"), b"not weights").unwrap();
    // `models list` reports each model's state instead of failing.
    let (ok, stdout, stderr) = run(&[
        "models",
        "list",
        "--models-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("NOT READY") && stdout.contains("vocab.txt"),
        "the first missing vocabulary file is named: {stdout}"
    );
}
