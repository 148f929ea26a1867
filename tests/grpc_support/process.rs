//! A `precis serve` process of the real binary, for tests of signals and of several replicas.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use precis::grpc::client::Connection;
use tonic_health::pb::health_check_response::ServingStatus;

use super::PATIENCE;
use crate::common;

/// Kills the server if the test fails half-way.
pub struct ServerProcess(pub Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A started `precis serve`.
pub struct Replica {
    pub process: ServerProcess,
    /// Where it listens for gRPC (host:port).
    pub address: String,
    /// Where it serves metrics, with `--metrics-listen`.
    pub metrics: Option<String>,
    /// Its log lines after the one naming its address.
    pub log: std::sync::mpsc::Receiver<String>,
}

/// Starts `precis serve` on an ephemeral port with `extra_args`.
pub fn start_binary(extra_args: &[&str]) -> Replica {
    let mut child = Command::new(env!("CARGO_BIN_EXE_precis"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(extra_args)
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
    let mut metrics = None;
    loop {
        let line = received
            .recv_timeout(PATIENCE)
            .expect("the server logs its address");
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let message = entry["fields"]["message"].as_str().unwrap_or_default();
        if let Some(address) = entry["fields"]["address"].as_str() {
            if message.starts_with("metrics at") {
                metrics = Some(address.to_string());
            } else if message.starts_with("listening") {
                return Replica {
                    process,
                    address: address.to_string(),
                    metrics,
                    log: received,
                };
            }
        }
    }
}

/// Starts `precis serve` with `extra_args` and waits until it is SERVING; returns the replica,
/// a connection to it and the open health watch (later status changes arrive on it).
pub async fn start_serving(
    extra_args: &[&str],
) -> (
    Replica,
    Connection,
    tonic::Streaming<tonic_health::pb::HealthCheckResponse>,
) {
    let replica = start_binary(extra_args);
    let connection = Connection::connect(&format!("http://{}", replica.address), None, None)
        .await
        .unwrap();
    let health = watch_until_serving(&connection).await;
    (replica, connection, health)
}

/// A health watch on the server, once it says SERVING.
pub async fn watch_until_serving(
    connection: &Connection,
) -> tonic::Streaming<tonic_health::pb::HealthCheckResponse> {
    let mut health = connection
        .health()
        .watch(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    wait_for_status(&mut health, ServingStatus::Serving).await;
    health
}

/// Reads the health watch until it reports `wanted`. A stream that ends (or fails) first fails
/// the test: only an actual message with that status counts.
pub async fn wait_for_status(
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

pub fn send_sigterm(process: &ServerProcess) {
    let pid = process.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
}

/// Waits (bounded) for the process to exit and returns its status.
pub async fn wait_exit(mut process: ServerProcess) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || {
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
    .unwrap()
}
