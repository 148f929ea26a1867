//! Shared by the gRPC integration tests: an in-process server on an ephemeral loopback port,
//! one pipeline loaded once per test binary, and articles written for the tests.
#![allow(dead_code)]
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use precis::grpc::client::Connection;
use precis::grpc::{serve_on, Listeners, ServeSettings};
use precis::pipeline::Pipeline;
use precis::proto;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::HealthCheckRequest;

use crate::common;

pub use crate::common::PATIENCE;

pub mod process;

/// An English article written for these tests: a lead, two attributed quotes, background.
pub const HARBOUR_ARTICLE: &str = include_str!("../articles/harbour-en.txt");

/// A short Spanish article written for these tests.
pub const SPANISH_ARTICLE: &str = "\
El ayuntamiento de Valdemora aprobó el lunes un plan para renovar el mercado central de la ciudad.

\"Es un día importante para los comerciantes\", dijo la alcaldesa Lucía Prieto tras la votación.

Las obras comenzarán en otoño y durarán un año, según el proyecto aprobado por el pleno.
";

/// The pipeline every in-process server of a test binary shares: loading MiniLM and the
/// Apertium pairs once keeps the tests fast.
pub fn shared_pipeline() -> Arc<Pipeline> {
    static PIPELINE: OnceLock<Arc<Pipeline>> = OnceLock::new();
    PIPELINE.get_or_init(own_pipeline).clone()
}

/// A pipeline of its own, for a test that counts what its model workers did: no other test's
/// jobs can then land in its counters.
pub fn own_pipeline() -> Arc<Pipeline> {
    let (pipeline, statuses) =
        tokio::task::block_in_place(|| Pipeline::load(&common::runtime_settings()))
            .expect("the pipeline loads");
    for status in statuses {
        assert!(status.error.is_none(), "{:?}", status.error);
    }
    Arc::new(pipeline)
}

pub fn settings() -> ServeSettings {
    ServeSettings::new(common::runtime_settings())
}

/// A server running in this process until `stop` (or drop).
pub struct TestServer {
    pub address: SocketAddr,
    /// With TLS: the certificate to trust (self-signed, so its own CA).
    pub tls_ca: Option<PathBuf>,
    pub metrics_address: Option<SocketAddr>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// The shared pipeline, ready at once (after the warm-up digest).
    pub async fn start(settings: ServeSettings) -> Self {
        Self::start_on(settings, shared_pipeline()).await
    }

    /// `pipeline`, ready at once (after the warm-up digest).
    pub async fn start_on(settings: ServeSettings, pipeline: Arc<Pipeline>) -> Self {
        let server = Self::start_with(settings, async move { Ok(pipeline) }, false).await;
        server.wait_serving().await;
        server
    }

    /// `pipeline` resolves when the test decides; health is NOT_SERVING until then.
    pub async fn start_with<P>(settings: ServeSettings, pipeline: P, with_metrics: bool) -> Self
    where
        P: Future<Output = anyhow::Result<Arc<Pipeline>>> + Send + 'static,
    {
        let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = grpc.local_addr().unwrap();
        let metrics = if with_metrics {
            Some(TcpListener::bind("127.0.0.1:0").await.unwrap())
        } else {
            None
        };
        let metrics_address = metrics
            .as_ref()
            .map(|listener| listener.local_addr().unwrap());
        let tls_ca = settings.tls_cert.clone();
        let (shutdown, shutdown_received) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_on(
            Listeners { grpc, metrics },
            settings,
            pipeline,
            async move {
                let _ = shutdown_received.await;
            },
        ));
        Self {
            address,
            tls_ca,
            metrics_address,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls_ca.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.address)
    }

    pub async fn connect(&self) -> Connection {
        Connection::connect(&self.url(), self.tls_ca.as_deref(), None)
            .await
            .unwrap()
    }

    pub async fn connect_with_key(&self, key: &str) -> Connection {
        Connection::connect(&self.url(), self.tls_ca.as_deref(), Some(key))
            .await
            .unwrap()
    }

    pub async fn health(&self) -> ServingStatus {
        self.connect().await.serving_status().await.unwrap()
    }

    /// Waits (watching, not polling) until health reports SERVING.
    pub async fn wait_serving(&self) {
        let connection = self.connect().await;
        let mut updates = connection
            .health()
            .watch(HealthCheckRequest {
                service: "precis.v1.Precis".into(),
            })
            .await
            .unwrap()
            .into_inner();
        tokio::time::timeout(PATIENCE, async {
            while let Some(update) = updates.message().await.unwrap() {
                if update.status() == ServingStatus::Serving {
                    return;
                }
            }
            panic!("the health stream ended before SERVING");
        })
        .await
        .expect("the server became SERVING");
    }

    /// Starts the drain (as SIGTERM would) without waiting for it to end.
    pub fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// Waits for `serve_on` to return by itself.
    pub async fn wait_stopped(mut self) -> anyhow::Result<()> {
        let task = self.task.take().expect("stopped once");
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("the server stopped within the patience")?
    }

    /// Drains and waits for `serve_on` to return.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.begin_shutdown();
        let task = self.task.take().expect("stopped once");
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("the server stopped within the patience")?
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Asserts a call failed with `code` and a message naming `needle`.
pub fn assert_status(status: &tonic::Status, code: tonic::Code, needle: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert!(status.message().contains(needle), "{}", status.message());
}

/// Opens a DigestStream with `first` as its first request, and waits for its answer: the call
/// is then admitted and in flight.
pub async fn open_stream(
    connection: &Connection,
    first: proto::DigestRequest,
) -> (
    mpsc::Sender<proto::DigestRequest>,
    tonic::Streaming<proto::DigestStreamResult>,
) {
    let client_id = first.client_id.clone();
    let (sender, receiver) = mpsc::channel(4);
    sender.send(first).await.unwrap();
    let mut results = connection
        .precis()
        .digest_stream(connection.request(ReceiverStream::new(receiver)))
        .await
        .unwrap()
        .into_inner();
    let answer = results.message().await.unwrap().unwrap();
    assert_eq!(answer.client_id, client_id);
    (sender, results)
}

/// Sends one more article on an open stream, closes it, and checks that article is digested
/// and the stream then ends: a stream in flight is served to the end.
pub async fn finish_stream(
    sender: mpsc::Sender<proto::DigestRequest>,
    mut results: tonic::Streaming<proto::DigestStreamResult>,
    client_id: &str,
) {
    sender
        .send(proto::DigestRequest {
            client_id: client_id.into(),
            ..digest_request(HARBOUR_ARTICLE)
        })
        .await
        .unwrap();
    drop(sender);
    let last = results.message().await.unwrap().unwrap();
    assert_eq!(last.client_id, client_id);
    assert!(matches!(
        last.result,
        Some(proto::digest_stream_result::Result::Digest(_))
    ));
    assert!(results.message().await.unwrap().is_none());
}

pub fn digest_request(text: &str) -> proto::DigestRequest {
    proto::DigestRequest {
        text: text.to_string(),
        ..Default::default()
    }
}

/// The virtualenv's python, checked to import grpcio and grpcio-reflection.
pub fn venv_python() -> PathBuf {
    let venv = std::env::var_os("PRECIS_VENV").unwrap_or_else(|| {
        panic!("PRECIS_VENV is not set: run `. scripts/env.sh` (scripts/test does) first")
    });
    let python = Path::new(&venv).join("bin").join("python");
    assert!(
        python.is_file(),
        "{} does not exist: run scripts/setup to create the virtualenv",
        python.display()
    );
    let check = Command::new(&python)
        .args(["-c", "import grpc, grpc_reflection, grpc_tools"])
        .output()
        .expect("python runs");
    assert!(
        check.status.success(),
        "{} cannot import grpcio, grpcio-reflection and grpcio-tools: \
         `{} -m pip install grpcio grpcio-reflection grpcio-tools`\n{}",
        python.display(),
        python.display(),
        String::from_utf8_lossy(&check.stderr)
    );
    python
}

/// The Prometheus page a server serves at `address` (`--metrics-listen`).
pub async fn scrape(address: impl tokio::net::ToSocketAddrs) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}
