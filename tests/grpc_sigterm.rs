//! The real binary, drained by SIGTERM: no reply in flight is lost, new calls get UNAVAILABLE,
//! and the process exits 0 once its calls are done.
mod common;
mod grpc_support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use grpc_support::{digest_request, finish_stream, open_stream, HARBOUR_ARTICLE, PATIENCE};
use precis::grpc::client::Connection;
use precis::proto;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

/// Kills the server if the test fails half-way.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `precis serve` on an ephemeral port; returns it with the address it logged and the
/// rest of its log lines.
fn start_binary() -> (ServerProcess, String, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_precis"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--drain-grace-seconds",
            "120",
        ])
        .env("PRECIS_MODELS_DIR", common::models_dir())
        .env("PRECIS_MODEL_WORKERS", "1")
        .env_remove("PRECIS_API_KEYS")
        .env_remove("PRECIS_API_KEYS_FILE")
        .env_remove("PRECIS_METRICS_LISTEN")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("precis serve starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let process = ServerProcess(child);
    loop {
        let line = received
            .recv_timeout(PATIENCE)
            .expect("the server logs its address");
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if let Some(address) = entry["fields"]["address"].as_str() {
            if entry["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("listening"))
            {
                return (process, address.to_string(), received);
            }
        }
    }
}

/// Reads the health watch until it reports `wanted`. A stream that ends (or fails) first fails
/// the test: only an actual message with that status counts.
async fn wait_for_status(
    health: &mut tonic::Streaming<tonic_health::pb::HealthCheckResponse>,
    wanted: ServingStatus,
) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            match health.message().await {
                Ok(Some(update)) if update.status() == wanted => return,
                Ok(Some(_)) => {}
                Ok(None) => panic!("the health stream ended before {wanted:?}"),
                Err(status) => panic!("the health stream failed before {wanted:?}: {status:?}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {wanted:?} within {PATIENCE:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_without_losing_a_reply_in_flight() {
    let (mut process, address, log) = start_binary();
    let url = format!("http://{address}");
    let connection = Connection::connect(&url, None, None).await.unwrap();
    let mut health = connection
        .health()
        .watch(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    wait_for_status(&mut health, ServingStatus::Serving).await;

    // A stream whose first answer proves the call is admitted and in flight.
    let (sender, results) = open_stream(
        &connection,
        proto::DigestRequest {
            client_id: "before".into(),
            ..digest_request(HARBOUR_ARTICLE)
        },
    )
    .await;
    // Unary calls racing the signal: each must end in a digest or UNAVAILABLE, nothing else.
    let racing: Vec<_> = (0..6)
        .map(|_| {
            let connection = connection.clone();
            tokio::spawn(async move {
                connection
                    .precis()
                    .digest(connection.request(digest_request(HARBOUR_ARTICLE)))
                    .await
            })
        })
        .collect();

    let pid = process.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());

    // Health turns NOT_SERVING on the watch already open.
    wait_for_status(&mut health, ServingStatus::NotServing).await;
    let status = connection
        .precis()
        .digest(connection.request(digest_request(HARBOUR_ARTICLE)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    for call in racing {
        match call.await.unwrap() {
            Ok(response) => assert!(response.into_inner().summary.is_some()),
            Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
        }
    }

    // The stream in flight is still served to the end.
    finish_stream(sender, results, "after").await;

    let status = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            if let Some(status) = process.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not exit"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    assert!(status.success(), "exit status {status}");
    // The process is gone, so its log ends: read it all.
    let log: Vec<String> = log.iter().collect();
    assert!(log.iter().any(|line| line.contains("draining")), "{log:#?}");
    assert!(log.iter().any(|line| line.contains("stopped")), "{log:#?}");
}
