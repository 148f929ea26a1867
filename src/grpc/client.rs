//! Talking to running precis servers: what the CLI's `--server URL[,URL…]` and the load test
//! use. Several servers share one balanced channel (tonic's power-of-two-choices over every
//! endpoint); a call answered UNAVAILABLE (a replica starting or draining) or lost with its
//! connection is sent again, with backoff, for up to the retry budget: the balancer places it on
//! a ready replica.
use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tonic::body::Body;
use tonic::codegen::{Bytes, StdError};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use crate::proto::precis_client::PrecisClient;

/// How the CLI reaches a server; without `--server` commands run in-process.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ClientSettings {
    /// Send the work to a running precis server (http://host:port or https://…) instead of
    /// loading the models in this process; several, comma-separated, balance the calls over
    /// those replicas
    #[arg(long, env = "PRECIS_SERVER")]
    pub server: Option<String>,

    /// API key for the server, sent as `authorization: Bearer <key>`
    #[arg(long, env = "PRECIS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// CA certificate (PEM) to trust for an https:// server
    #[arg(long, env = "PRECIS_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

    /// How long to keep sending again a call answered UNAVAILABLE (a server starting or
    /// draining) or lost with its connection, with backoff; 0 sends each call once
    #[arg(long, env = "PRECIS_RETRY_SECONDS", default_value_t = 30.0)]
    pub retry_seconds: f64,
}

/// A connected channel plus the credentials every request carries.
#[derive(Clone)]
pub struct Connection {
    channel: RetryUnavailable,
    authorization: Option<MetadataValue<Ascii>>,
}

impl Connection {
    /// Connects to `urls` (one URL, or several comma-separated); every call is sent once.
    pub async fn connect(
        urls: &str,
        ca_cert: Option<&Path>,
        api_key: Option<&str>,
    ) -> anyhow::Result<Self> {
        Self::connect_with_retry(urls, ca_cert, api_key, Duration::ZERO).await
    }

    /// One URL: connected at once (an unreachable server fails here). Several: a balanced
    /// channel that connects to each as calls need it and leaves out those it cannot reach.
    pub async fn connect_with_retry(
        urls: &str,
        ca_cert: Option<&Path>,
        api_key: Option<&str>,
        retry_budget: Duration,
    ) -> anyhow::Result<Self> {
        let urls: Vec<&str> = urls
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .collect();
        let endpoints = urls
            .iter()
            .map(|url| endpoint(url, ca_cert))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let channel = match endpoints.as_slice() {
            [] => anyhow::bail!("no server URL given"),
            [endpoint] => endpoint
                .connect()
                .await
                .map_err(|error| anyhow::anyhow!("cannot connect to {}: {error}", urls[0]))?,
            _ => Channel::balance_list(endpoints.into_iter()),
        };
        let authorization = api_key
            .map(|key| {
                format!("Bearer {key}")
                    .parse()
                    .map_err(|_| anyhow::anyhow!("the API key must be printable ASCII"))
            })
            .transpose()?;
        Ok(Self {
            channel: RetryUnavailable {
                channel,
                budget: retry_budget,
            },
            authorization,
        })
    }

    pub async fn from_settings(settings: &ClientSettings, urls: &str) -> anyhow::Result<Self> {
        let retry_budget = Duration::try_from_secs_f64(settings.retry_seconds.max(0.0))
            .map_err(|error| anyhow::anyhow!("--retry-seconds: {error}"))?;
        Self::connect_with_retry(
            urls,
            settings.ca_cert.as_deref(),
            settings.api_key.as_deref(),
            retry_budget,
        )
        .await
    }

    pub fn precis(&self) -> PrecisClient<RetryUnavailable> {
        // Answers can be larger than requests (translations beside originals).
        PrecisClient::new(self.channel.clone()).max_decoding_message_size(64 * 1024 * 1024)
    }

    /// Health is asked once, never retried: its answer is the point.
    pub fn health(&self) -> HealthClient<Channel> {
        HealthClient::new(self.channel.channel.clone())
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

fn endpoint(url: &str, ca_cert: Option<&Path>) -> anyhow::Result<Endpoint> {
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
    Ok(endpoint)
}

/// Calls whose request is a stream: sent once (their messages cannot be replayed).
const STREAMING_REQUESTS: &[&str] = &["/precis.v1.Precis/DigestStream"];
const FIRST_BACKOFF: Duration = Duration::from_millis(25);
const LONGEST_BACKOFF: Duration = Duration::from_secs(1);

/// The channel, sending a unary call again while it is answered UNAVAILABLE (as a trailers-only
/// answer: before any message) or lost with its connection, until `budget` has passed. Every
/// precis call is idempotent, so sending one twice is safe.
#[derive(Clone)]
pub struct RetryUnavailable {
    channel: Channel,
    budget: Duration,
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, StdError>> + Send>>;

impl tower::Service<http::Request<Body>> for RetryUnavailable {
    type Response = http::Response<Body>;
    type Error = StdError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::poll_ready(&mut self.channel, cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // Use the channel that was driven to readiness; leave a fresh clone in its place.
        let fresh = self.channel.clone();
        let mut channel = std::mem::replace(&mut self.channel, fresh);
        if self.budget.is_zero() || STREAMING_REQUESTS.contains(&request.uri().path()) {
            return Box::pin(async move { channel.call(request).await.map_err(Into::into) });
        }
        let budget = self.budget;
        Box::pin(async move {
            use tower::ServiceExt;
            let give_up = Instant::now() + budget;
            let (parts, body) = request.into_parts();
            let message = collect(body).await?;
            let mut backoff = FIRST_BACKOFF;
            loop {
                let attempt = replay(&parts, message.clone());
                let outcome = channel.ready().await?.call(attempt).await;
                let retry = match &outcome {
                    Ok(response) => tonic::Status::from_header_map(response.headers())
                        .is_some_and(|status| status.code() == Code::Unavailable),
                    Err(_) => true,
                };
                if !retry || Instant::now() + backoff > give_up {
                    return outcome.map_err(Into::into);
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(LONGEST_BACKOFF);
            }
        })
    }
}

/// A unary request's body: its one encoded message.
async fn collect(mut body: Body) -> Result<Bytes, StdError> {
    use http_body::Body as _;
    let mut message = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame?.into_data() {
            message.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(message))
}

/// The same request again, with `message` as its body.
fn replay(parts: &http::request::Parts, message: Bytes) -> http::Request<Body> {
    let mut request = http::Request::new(Body::new(Message(Some(message))));
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    *request.extensions_mut() = parts.extensions.clone();
    request
}

/// A body of one data frame.
struct Message(Option<Bytes>);

impl http_body::Body for Message {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        Poll::Ready(
            self.get_mut()
                .0
                .take()
                .map(|data| Ok(http_body::Frame::data(data))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.0.as_ref().map_or(0, |data| data.len() as u64))
    }
}
