//! `precis models pull` where the model hub cannot be reached: a quick, clear failure that
//! leaves nothing behind (these machines have no network; the test does not depend on that).
use std::time::{Duration, Instant};

use precis::summarize::pull::{pull_model, PullError, RemoteModel};

#[test]
fn an_unreachable_host_fails_fast_with_the_fix_and_leaves_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    // `.invalid` never resolves (RFC 2606), with or without a network.
    let model = RemoteModel {
        id: "distilbart-cnn-6-6",
        files: vec![(
            "config.json",
            (
                "distilbart/config",
                "https://precis-model-hub.invalid/config.json",
            ),
        )],
    };
    let started = Instant::now();
    let error = pull_model(&model, dir.path(), Duration::from_secs(2)).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(error, PullError::Download { .. }), "{error:?}");
    let message = error.to_string();
    for expected in [
        "distilbart-cnn-6-6",
        "config.json",
        "precis-model-hub.invalid",
        "cannot reach the model hub",
    ] {
        assert!(
            message.contains(expected),
            "{expected:?} missing from: {message}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "nothing is left behind: {left:?}");
}

#[test]
fn the_cli_refuses_an_unknown_model_and_lists_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_precis"))
        .args(["models", "pull", "bart-huge", "--models-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("distilbart-cnn-6-6") && stderr.contains("t5-small"),
        "{stderr}"
    );
}
