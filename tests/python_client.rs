//! examples/python_client.py works: grpcio stubs generated from the proto at run time, Digest
//! and DigestStream against a server started here.
mod common;
mod grpc_support;

use std::path::Path;
use std::process::Command;

use grpc_support::{settings, venv_python, TestServer, HARBOUR_ARTICLE, SPANISH_ARTICLE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_example_digests_and_streams() {
    let python = venv_python();
    let articles = tempfile::tempdir().unwrap();
    let harbour = articles.path().join("harbour.txt");
    let market = articles.path().join("market.txt");
    std::fs::write(&harbour, HARBOUR_ARTICLE).unwrap();
    std::fs::write(&market, SPANISH_ARTICLE).unwrap();

    let server = TestServer::start(settings()).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python_client.py");
    let address = server.address.to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args(["--server", &address, "--to", "es"])
            .arg(&harbour)
            .arg(&market)
            .output()
            .expect("the Python client runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the Python client failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("Digest ") && lines[0].contains("language=en"),
        "{stdout}"
    );
    assert!(
        stdout.contains("summary in es (apertium/eng-spa):"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Ana Ruiz): We cannot let the port die"),
        "{stdout}"
    );
    // The stream answers in order, the empty article with its own error.
    let stream_lines: Vec<&&str> = lines
        .iter()
        .filter(|line| line.starts_with("DigestStream #"))
        .collect();
    assert_eq!(stream_lines.len(), 3, "{stdout}");
    assert!(
        stream_lines[0].starts_with("DigestStream #0 ") && stream_lines[0].contains("language=en")
    );
    assert!(
        stream_lines[1].starts_with("DigestStream #1 ") && stream_lines[1].contains("language=es")
    );
    assert!(
        stream_lines[2]
            .starts_with("DigestStream #2 (empty): error INVALID_ARGUMENT: invalid text"),
        "{stdout}"
    );
    server.stop().await.unwrap();
}
