//! The gRPC layer: maps proto ↔ domain and errors ↔ status; no domain logic here.
//!
//! - `server`: start-up (health NOT_SERVING until warm-up), reflection, TLS, drain on signal.
//! - `admission`: one tower layer in front of every `precis.v1.Precis` call: API key, readiness
//!   and draining, the concurrency limit, the call's deadline, request metrics.
//! - `service`: the RPC handlers, each a thin proto → domain → proto mapping.
//! - `convert`, `status`: the mappings themselves.
//! - `client`: what the CLI and the load test use to talk to a server.
mod admission;
mod auth;
pub mod client;
mod convert;
mod server;
mod service;
mod status;

use std::path::PathBuf;
use std::time::Duration;

pub use admission::CallDeadline;
pub use auth::ApiKeys;
pub use convert::from_proto;
pub use server::{load_pipeline, serve, serve_on, Listeners};

use crate::config::RuntimeSettings;

/// Defaults shared by the flags and [`ServeSettings::new`], so tests and the CLI agree.
pub mod defaults {
    pub const LISTEN: &str = "127.0.0.1:50051";
    pub const MAX_ARTICLE_BYTES: usize = 256 * 1024;
    pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
    pub const MAX_CONCURRENT_REQUESTS: usize = 256;
    pub const MAX_STREAM_IN_FLIGHT: usize = 4;
    pub const DRAIN_GRACE_SECONDS: f64 = 20.0;
}

/// Every setting of `precis serve`; each is a flag with a `PRECIS_*` env var.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeSettings {
    /// Address to listen on for gRPC
    #[arg(long, env = "PRECIS_LISTEN", default_value = defaults::LISTEN)]
    pub listen: std::net::SocketAddr,

    /// Largest accepted article, in UTF-8 bytes (larger: INVALID_ARGUMENT naming the limit)
    #[arg(long, env = "PRECIS_MAX_ARTICLE_BYTES", default_value_t = defaults::MAX_ARTICLE_BYTES)]
    pub max_article_bytes: usize,

    /// Largest gRPC message accepted, in bytes (larger: RESOURCE_EXHAUSTED)
    #[arg(long, env = "PRECIS_MAX_MESSAGE_BYTES", default_value_t = defaults::MAX_MESSAGE_BYTES)]
    pub max_message_bytes: usize,

    /// Calls served at once; beyond that, calls get RESOURCE_EXHAUSTED at once
    #[arg(long, env = "PRECIS_MAX_CONCURRENT_REQUESTS", default_value_t = defaults::MAX_CONCURRENT_REQUESTS)]
    pub max_concurrent_requests: usize,

    /// Articles worked on at once within one DigestStream call
    #[arg(long, env = "PRECIS_MAX_STREAM_IN_FLIGHT", default_value_t = defaults::MAX_STREAM_IN_FLIGHT)]
    pub max_stream_in_flight: usize,

    /// On SIGTERM or Ctrl-C, how long in-flight calls may take to finish (seconds)
    #[arg(long, env = "PRECIS_DRAIN_GRACE_SECONDS", default_value_t = defaults::DRAIN_GRACE_SECONDS)]
    pub drain_grace_seconds: f64,

    /// API keys, comma-separated; when any key is set (here or in --api-keys-file), calls need
    /// `authorization: Bearer <key>`
    #[arg(long, env = "PRECIS_API_KEYS", hide_env_values = true)]
    pub api_keys: Option<String>,

    /// File with one API key per line (`#` starts a comment)
    #[arg(long, env = "PRECIS_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,

    /// TLS certificate chain (PEM); serve TLS when set, together with --tls-key
    #[arg(long, env = "PRECIS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM)
    #[arg(long, env = "PRECIS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Address for Prometheus metrics over HTTP (GET /metrics); empty: no metrics endpoint
    #[arg(long, env = "PRECIS_METRICS_LISTEN", default_value = "")]
    pub metrics_listen: String,

    #[command(flatten)]
    pub runtime: RuntimeSettings,

    /// Hub repositories (OWNER/NAME, comma-separated) to pull into the models directory before
    /// loading, where not installed yet; a failed pull stops the start
    #[arg(long = "pull", env = "PRECIS_PULL", value_delimiter = ',')]
    pub pull: Vec<String>,

    #[command(flatten)]
    pub hub: crate::config::HubSettings,
}

impl ServeSettings {
    /// The flag defaults around `runtime`: what an in-process server (tests, benches) starts with.
    pub fn new(runtime: RuntimeSettings) -> Self {
        Self {
            listen: defaults::LISTEN.parse().unwrap_or_else(|_| {
                std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 50051))
            }),
            max_article_bytes: defaults::MAX_ARTICLE_BYTES,
            max_message_bytes: defaults::MAX_MESSAGE_BYTES,
            max_concurrent_requests: defaults::MAX_CONCURRENT_REQUESTS,
            max_stream_in_flight: defaults::MAX_STREAM_IN_FLIGHT,
            drain_grace_seconds: defaults::DRAIN_GRACE_SECONDS,
            api_keys: None,
            api_keys_file: None,
            tls_cert: None,
            tls_key: None,
            metrics_listen: String::new(),
            runtime,
            pull: Vec::new(),
            hub: crate::config::HubSettings {
                hub_url: None,
                hf_endpoint: None,
                token: None,
                revision: "main".into(),
                connect_timeout: 10,
            },
        }
    }

    pub fn drain_grace(&self) -> Duration {
        Duration::try_from_secs_f64(self.drain_grace_seconds.max(0.0)).unwrap_or(Duration::ZERO)
    }

    /// The metrics address, or none when the flag is empty.
    pub fn metrics_address(&self) -> anyhow::Result<Option<std::net::SocketAddr>> {
        let text = self.metrics_listen.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|error| {
            anyhow::anyhow!(
                "--metrics-listen {text:?} is not an address like 127.0.0.1:9090: {error}"
            )
        })
    }
}
