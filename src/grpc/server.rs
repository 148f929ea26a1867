//! Start-up, readiness and drain.
//!
//! The port opens at once, with health NOT_SERVING and precis calls answered UNAVAILABLE, so an
//! orchestrator sees a live process while the models load. Health turns SERVING only after one
//! real digest (the warm-up) went through every model. On SIGTERM or Ctrl-C: health NOT_SERVING,
//! new calls UNAVAILABLE, queued calls the server's pace cannot finish within the grace period
//! answered UNAVAILABLE at once (clients retry elsewhere), the others finish within it, whatever
//! is still open at its end is answered UNAVAILABLE too, then the connections close and
//! `serve_on` returns. No call ends without a gRPC status.
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::server::NamedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, ServerTlsConfig};
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use crate::config::RuntimeSettings;
use crate::grpc::admission::{AdmissionLayer, ServerState};
use crate::grpc::auth::ApiKeys;
use crate::grpc::service::PrecisService;
use crate::grpc::ServeSettings;
use crate::pipeline::Pipeline;
use crate::proto;
use crate::proto::precis_server::PrecisServer;
use crate::telemetry;
use crate::validate::{validate_digest, DigestInput, Limits};

/// The sockets a server uses, bound before it starts (tests bind port 0 and read the address).
pub struct Listeners {
    pub grpc: TcpListener,
    /// Prometheus `GET /metrics`; none to expose no metrics.
    pub metrics: Option<TcpListener>,
}

impl Listeners {
    pub async fn bind(settings: &ServeSettings) -> anyhow::Result<Self> {
        let grpc = TcpListener::bind(settings.listen)
            .await
            .map_err(|error| anyhow::anyhow!("cannot listen on {}: {error}", settings.listen))?;
        let metrics = match settings.metrics_address()? {
            Some(address) => Some(TcpListener::bind(address).await.map_err(|error| {
                anyhow::anyhow!("cannot listen for metrics on {address}: {error}")
            })?),
            None => None,
        };
        Ok(Self { grpc, metrics })
    }
}

/// `precis serve`: binds, loads the models, serves until Ctrl-C or SIGTERM, then drains.
pub async fn serve(settings: ServeSettings) -> anyhow::Result<()> {
    let listeners = Listeners::bind(&settings).await?;
    let pipeline = pull_then_load(&settings);
    serve_on(listeners, settings, pipeline, shutdown_signal()).await
}

/// `--pull`: installs the missing models (off the async runtime), then loads everything.
fn pull_then_load(
    settings: &ServeSettings,
) -> impl std::future::Future<Output = anyhow::Result<Arc<Pipeline>>> {
    let repos = settings.pull.clone();
    let options = crate::hub::PullOptions {
        // The server's stderr carries its log: no progress line in between.
        progress: false,
        ..settings.hub.pull_options(Vec::new())
    };
    let runtime = settings.runtime.clone();
    async move {
        if !repos.is_empty() {
            let models_dir = runtime.models_dir();
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                for repo in repos.iter().map(|r| r.trim()).filter(|r| !r.is_empty()) {
                    match crate::hub::pull(repo, &models_dir, &options) {
                        Ok(crate::hub::PullOutcome::Pulled { directory, role }) => {
                            tracing::info!(model = repo, directory = %directory.display(), %role, "pulled");
                        }
                        Ok(crate::hub::PullOutcome::AlreadyInstalled { .. }) => {
                            tracing::info!(model = repo, "already installed");
                        }
                        Err(error) => anyhow::bail!("--pull {repo}: {error}"),
                    }
                }
                Ok(())
            })
            .await??;
        }
        load_pipeline(runtime).await
    }
}

/// Loads every configured model off the async runtime. A configured model that does not load
/// stops the server: never a silent downgrade.
pub async fn load_pipeline(runtime: RuntimeSettings) -> anyhow::Result<Arc<Pipeline>> {
    let (pipeline, statuses) =
        tokio::task::spawn_blocking(move || Pipeline::load(&runtime)).await??;
    for status in &statuses {
        match &status.error {
            Some(error) if status.pulled => {
                tracing::warn!(model = %status.id, %error, "pulled model not served");
                continue;
            }
            Some(error) => anyhow::bail!("{error}"),
            None => {}
        }
        tracing::info!(model = %status.id, role = %status.role, load_ms = ?status.load_millis, "model ready");
    }
    Ok(Arc::new(pipeline))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM; only Ctrl-C drains");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Serves on bound `listeners` until `shutdown` resolves, then drains (see the module doc).
/// `pipeline` is awaited in the background while health says NOT_SERVING; an error from it (or
/// from the warm-up) stops the server and is returned.
pub async fn serve_on<P, S>(
    listeners: Listeners,
    settings: ServeSettings,
    pipeline: P,
    shutdown: S,
) -> anyhow::Result<()>
where
    P: Future<Output = anyhow::Result<Arc<Pipeline>>> + Send + 'static,
    S: Future<Output = ()> + Send + 'static,
{
    let api_keys = ApiKeys::load(
        settings.api_keys.as_deref(),
        settings.api_keys_file.as_deref(),
    )?;
    let tls = tls_config(&settings)?;
    let state = ServerState::new(settings.max_concurrent_requests, api_keys.clone());
    let (health, health_service) = tonic_health::server::health_reporter();
    set_health(&health, ServingStatus::NotServing).await;

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    // v1alpha too: grpcurl and grpcio's Python reflection client still speak it.
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let _metrics = match listeners.metrics {
        Some(listener) => {
            let handle = telemetry::install_metrics()?;
            tracing::info!(address = %listener.local_addr()?, "metrics at GET /metrics");
            Some(AbortOnDrop::spawn(telemetry::serve_metrics(
                listener, handle,
            )))
        }
        None => None,
    };

    let limits = Limits {
        max_article_bytes: settings.max_article_bytes,
    };
    let precis = PrecisServer::new(PrecisService::new(
        Arc::clone(&state),
        limits,
        settings.max_stream_in_flight,
        settings.max_message_bytes,
    ))
    .max_decoding_message_size(settings.max_message_bytes);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls)?;
    }
    let router = builder
        .layer(AdmissionLayer::new(Arc::clone(&state)))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(precis);

    let address = listeners.grpc.local_addr()?;
    let incoming = TcpIncoming::from(listeners.grpc).with_nodelay(Some(true));
    tracing::info!(%address, tls = settings.tls_cert.is_some(), api_keys = api_keys.is_enabled(), "listening; loading models");

    let (startup_failed, startup_failure) = oneshot::channel::<()>();
    let startup_error = Arc::new(std::sync::Mutex::new(None::<anyhow::Error>));
    let _readiness = AbortOnDrop::spawn(become_ready(
        pipeline,
        Arc::clone(&state),
        health.clone(),
        (Arc::clone(&startup_error), startup_failed),
    ));

    let grace = settings.drain_grace();
    let (drained, calls_done) = oneshot::channel::<()>();
    let drain = {
        let state = Arc::clone(&state);
        async move {
            tokio::select! {
                () = shutdown => tracing::info!(grace_seconds = grace.as_secs_f64(), "shutdown requested: draining"),
                Ok(()) = startup_failure => {}
            }
            state.start_draining();
            set_health(&health, ServingStatus::NotServing).await;
            let shed = state.shed_beyond(grace);
            if shed > 0 {
                tracing::info!(calls = shed, "answered UNAVAILABLE at once: more work queued than the grace period can finish");
            }
            if tokio::time::timeout(grace, state.wait_idle())
                .await
                .is_err()
            {
                let cut = state.shed_all();
                tracing::warn!(
                    calls = cut,
                    "grace period over: calls still in flight answered UNAVAILABLE"
                );
                // Their answers are on their way; each permit returns as its answer ends.
                let _ = tokio::time::timeout(CONNECTION_LINGER, state.wait_idle()).await;
            }
            let _ = drained.send(());
        }
    };
    let server = router.serve_with_incoming_shutdown(incoming, drain);
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result?,
        Ok(()) = calls_done => {
            // Every precis call has answered (or the grace period is over). What may still hold
            // a connection open is a health Watch or a reflection stream, which never end by
            // themselves: let the last frames flush, then drop the connections.
            if tokio::time::timeout(CONNECTION_LINGER, &mut server).await.is_err() {
                tracing::info!("closing the connections still open (health watches, idle clients)");
            }
        }
    }
    // A server that stopped because start-up failed reports why.
    if let Some(error) = startup_error.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(error);
    }
    tracing::info!("stopped");
    Ok(())
}

/// How long connections may stay open once every call has been answered on shutdown.
const CONNECTION_LINGER: Duration = Duration::from_secs(2);

/// Where a failed start-up leaves its reason for `serve_on` to return.
type StartupError = Arc<std::sync::Mutex<Option<anyhow::Error>>>;

/// Loads (awaits) the pipeline, runs the warm-up digest, then opens the gate and reports SERVING.
async fn become_ready<P>(
    pipeline: P,
    state: Arc<ServerState>,
    health: HealthReporter,
    (startup_error, startup_failed): (StartupError, oneshot::Sender<()>),
) where
    P: Future<Output = anyhow::Result<Arc<Pipeline>>>,
{
    let started = Instant::now();
    let ready = async {
        let pipeline = pipeline.await?;
        warm_up(&pipeline).await?;
        anyhow::Ok(pipeline)
    }
    .await;
    match ready {
        Ok(pipeline) => {
            state.set_ready(pipeline);
            if !state.is_draining() {
                set_health(&health, ServingStatus::Serving).await;
            }
            tracing::info!(
                millis = started.elapsed().as_millis() as u64,
                "models loaded and warmed up: SERVING"
            );
        }
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "start-up failed; stopping");
            if let Ok(mut slot) = startup_error.lock() {
                *slot = Some(error);
            }
            let _ = startup_failed.send(());
        }
    }
}

/// One real digest through every model before health says SERVING.
async fn warm_up(pipeline: &Pipeline) -> anyhow::Result<()> {
    let request = validate_digest(
        DigestInput {
            text: "The city council approved the new harbour budget on Monday. \
                   \"This is a good day for the port,\" the mayor said. \
                   Work starts in March."
                .to_string(),
            ..DigestInput::default()
        },
        &Limits::default(),
    )?;
    pipeline
        .digest(&request, None)
        .await
        .map_err(|error| anyhow::anyhow!("warm-up failed: {error}"))?;
    Ok(())
}

/// The overall status ("") and the Precis service's, always together.
async fn set_health(health: &HealthReporter, status: ServingStatus) {
    health.set_service_status("", status).await;
    health
        .set_service_status(<PrecisServer<PrecisService> as NamedService>::NAME, status)
        .await;
}

fn tls_config(settings: &ServeSettings) -> anyhow::Result<Option<ServerTlsConfig>> {
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else {
        return Ok(None);
    };
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).map_err(|error| {
            anyhow::anyhow!("cannot read the TLS {what} {}: {error}", path.display())
        })
    };
    let identity = Identity::from_pem(read(cert, "certificate")?, read(key, "key")?);
    Ok(Some(ServerTlsConfig::new().identity(identity)))
}

/// A spawned task that ends with its owner.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    fn spawn(task: impl Future<Output = T> + Send + 'static) -> Self
    where
        T: Send + 'static,
    {
        Self(tokio::spawn(task))
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
