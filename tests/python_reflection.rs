//! A foreign client: Python grpcio with nothing but reflection (no .proto, no generated code)
//! lists the service, digests the shared sample article and gets INVALID_ARGUMENT for an empty
//! one. Python comes from the project's virtualenv (`PRECIS_VENV`, set by scripts/env.sh); a
//! missing interpreter or package fails the test with the fix, it never skips.
mod common;
mod grpc_support;

use std::path::Path;
use std::process::Command;

use grpc_support::{settings, venv_python, TestServer};

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_with_reflection_only_digests_the_sample_and_gets_invalid_argument_for_empty() {
    let python = venv_python();
    let sample = repo_root().join("../shared/samples/voa-iran-islamic-state.txt");
    assert!(
        sample.is_file(),
        "the shared sample {} is missing",
        sample.display()
    );
    let server = TestServer::start(settings()).await;
    let script = repo_root().join("examples/python_reflection_client.py");
    let address = server.address.to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args(["--server", &address, "--article"])
            .arg(sample)
            .output()
            .expect("the Python client runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python client failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("precis.v1.Precis"), "{stdout}");
    assert!(stdout.contains("\"language\": \"en\""), "{stdout}");
    assert!(
        stdout.contains("empty article: INVALID_ARGUMENT: invalid text: the article is empty"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("OK"), "{stdout}");
    server.stop().await.unwrap();
}
