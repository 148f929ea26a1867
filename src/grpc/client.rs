//! Talking to a running precis server: what the CLI's `--server URL` and the load test use.
use std::path::{Path, PathBuf};
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::proto::precis_client::PrecisClient;

/// How the CLI reaches a server; without `--server` commands run in-process.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientSettings {
    /// Send the work to a running precis server (http://host:port or https://…) instead of
    /// loading the models in this process
    #[arg(long, env = "PRECIS_SERVER")]
    pub server: Option<String>,

    /// API key for the server, sent as `authorization: Bearer <key>`
    #[arg(long, env = "PRECIS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// CA certificate (PEM) to trust for an https:// server
    #[arg(long, env = "PRECIS_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

/// A connected channel plus the credentials every request carries.
#[derive(Clone)]
pub struct Connection {
    channel: Channel,
    authorization: Option<MetadataValue<Ascii>>,
}

impl Connection {
    pub async fn connect(
        url: &str,
        ca_cert: Option<&Path>,
        api_key: Option<&str>,
    ) -> anyhow::Result<Self> {
        let mut endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|error| anyhow::anyhow!("{url:?} is not a server URL: {error}"))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        if url.starts_with("https://") {
            let mut tls = ClientTlsConfig::new();
            if let Some(path) = ca_cert {
                let pem = std::fs::read(path).map_err(|error| {
                    anyhow::anyhow!("cannot read the CA certificate {}: {error}", path.display())
                })?;
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            endpoint = endpoint.tls_config(tls)?;
        }
        let channel = endpoint
            .connect()
            .await
            .map_err(|error| anyhow::anyhow!("cannot connect to {url}: {error}"))?;
        let authorization = api_key
            .map(|key| {
                format!("Bearer {key}")
                    .parse()
                    .map_err(|_| anyhow::anyhow!("the API key must be printable ASCII"))
            })
            .transpose()?;
        Ok(Self {
            channel,
            authorization,
        })
    }

    pub async fn from_settings(settings: &ClientSettings, url: &str) -> anyhow::Result<Self> {
        Self::connect(
            url,
            settings.ca_cert.as_deref(),
            settings.api_key.as_deref(),
        )
        .await
    }

    pub fn precis(&self) -> PrecisClient<Channel> {
        // Answers can be larger than requests (translations beside originals).
        PrecisClient::new(self.channel.clone()).max_decoding_message_size(64 * 1024 * 1024)
    }

    pub fn health(&self) -> HealthClient<Channel> {
        HealthClient::new(self.channel.clone())
    }

    /// `message` as a request carrying the API key, if any.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(authorization) = &self.authorization {
            request
                .metadata_mut()
                .insert("authorization", authorization.clone());
        }
        request
    }

    /// The overall health status ("" service).
    pub async fn serving_status(&self) -> anyhow::Result<ServingStatus> {
        let response = self
            .health()
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map_err(status_error)?;
        Ok(response.into_inner().status())
    }
}

/// A status as a CLI error: the code name and the server's message.
pub fn status_error(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!(
        "the server answered {}: {}",
        crate::telemetry::code_label(status.code()),
        status.message()
    )
}
