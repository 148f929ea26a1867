//! The CLI prints the same thing in-process and with `--server`, and `precis health` answers
//! for the container's health check.
mod common;
mod grpc_support;

use std::io::Write;
use std::process::{Command, Stdio};

use grpc_support::{settings, TestServer, HARBOUR_ARTICLE};

/// Runs the `precis` binary; returns its stdout, failing the test on a non-zero exit.
fn precis(args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_precis"))
        .args(args)
        .env("PRECIS_MODELS_DIR", common::models_dir())
        .env_remove("PRECIS_SERVER")
        .env_remove("PRECIS_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("precis runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "precis {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// JSON without what legitimately differs between two runs: timings, and the last bits of the
/// detector's confidences (lingua sums its scores in hash-map order, which varies by process).
fn comparable(json: &str) -> serde_json::Value {
    fn normalize(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("timings");
                map.values_mut().for_each(normalize);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(normalize),
            serde_json::Value::Number(number) if number.is_f64() => {
                let rounded = format!("{:.9e}", number.as_f64().unwrap_or_default());
                *value = serde_json::Value::String(rounded);
            }
            _ => {}
        }
    }
    let mut value: serde_json::Value = serde_json::from_str(json).expect("JSON output");
    normalize(&mut value);
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_the_same_in_process_and_through_a_server() {
    let server = TestServer::start(settings()).await;
    let url = server.url();
    let directory = tempfile::tempdir().unwrap();
    let article = directory.path().join("harbour.txt");
    std::fs::write(&article, HARBOUR_ARTICLE).unwrap();
    let article = article.to_str().unwrap().to_string();

    let run_both = |args: Vec<&str>, stdin: &'static str| {
        let url = url.clone();
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        tokio::task::spawn_blocking(move || {
            let local_args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut remote_args = local_args.clone();
            remote_args.extend(["--server", url.as_str()]);
            (precis(&local_args, stdin), precis(&remote_args, stdin))
        })
    };

    for args in [
        vec!["digest", "--file", &article, "--json", "--to", "es"],
        vec![
            "summarize",
            "--file",
            &article,
            "--json",
            "--sentences",
            "2",
        ],
        vec!["quotes", "--file", &article, "--json"],
    ] {
        let (local, remote) = run_both(args.clone(), "").await.unwrap();
        assert_eq!(comparable(&local), comparable(&remote), "{args:?}");
    }
    // The text output too (no float noise in it).
    // `quotes --json` prints an object: the article's language, the quotes, warnings.
    let (local, _) = run_both(vec!["quotes", "--file", &article, "--json"], "")
        .await
        .unwrap();
    let output = comparable(&local);
    assert_eq!(output["language"]["iso639_1"], "en", "{local}");
    let quotes = output["quotes"].as_array().expect("a quotes array");
    assert!(!quotes.is_empty(), "{local}");
    assert!(quotes.iter().all(|quote| quote["text"].is_string()));
    assert!(output["warnings"].as_array().is_some_and(Vec::is_empty));

    let (local, remote) = run_both(vec!["digest", "--file", &article, "--to", "es"], "")
        .await
        .unwrap();
    assert_eq!(local, remote);
    assert!(local.contains("language: en"), "{local}");

    let (local, remote) = run_both(
        vec!["detect", "--lines"],
        "The council approved the plan on Monday.\n\nLe conseil a approuvé le plan lundi.\n",
    )
    .await
    .unwrap();
    let local: Vec<_> = local.lines().map(comparable).collect();
    let remote: Vec<_> = remote.lines().map(comparable).collect();
    assert_eq!(local, remote);
    assert_eq!(local[0]["iso639_1"], "en");
    assert_eq!(local[1]["iso639_1"], "und", "a blank line");
    assert_eq!(local[2]["iso639_1"], "fr");

    let (local, remote) = run_both(
        vec!["translate", "--to", "es", "--json"],
        "The council approved the plan.",
    )
    .await
    .unwrap();
    assert_eq!(comparable(&local), comparable(&remote));
    assert!(local.contains("\"original\": \"The council approved the plan.\""));

    let health_url = url.clone();
    let health = tokio::task::spawn_blocking(move || {
        precis(&["health", "--server", health_url.as_str()], "")
    })
    .await
    .unwrap();
    assert_eq!(health.trim(), "SERVING");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn precis_health_fails_while_the_server_is_not_serving() {
    // A server whose models never finish loading.
    let server = TestServer::start_with(settings(), std::future::pending(), false).await;
    let url = server.url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_precis"))
            .args(["health", "--server", url.as_str()])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "NOT_SERVING"
    );
    server.stop().await.unwrap();
}
