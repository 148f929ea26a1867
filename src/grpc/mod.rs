//! The gRPC layer: maps proto ↔ domain and errors ↔ status; no domain logic here.
mod convert;
mod status;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status};

use crate::config::RuntimeSettings;
use crate::pipeline::{DigestOptions, Limits, Pipeline, ValidArticle};
use crate::proto;
use crate::proto::precis_server::{Precis, PrecisServer};

#[derive(Debug, Clone, clap::Args)]
pub struct ServeSettings {
    /// Address to listen on for gRPC
    #[arg(long, env = "PRECIS_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// Largest accepted article, in UTF-8 bytes
    #[arg(long, env = "PRECIS_MAX_ARTICLE_BYTES", default_value_t = 256 * 1024)]
    pub max_article_bytes: usize,

    #[command(flatten)]
    pub runtime: RuntimeSettings,
}

pub struct PrecisService {
    pipeline: Arc<Pipeline>,
}

impl PrecisService {
    pub fn new(pipeline: Arc<Pipeline>) -> Self {
        Self { pipeline }
    }

    fn article(&self, text: String) -> Result<ValidArticle, Status> {
        Ok(ValidArticle::new(text, &self.pipeline.limits)?)
    }
}

/// The deadline the client set (`grpc-timeout`), as an instant.
fn deadline_of<T>(request: &Request<T>) -> Option<Instant> {
    let header = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (value, unit) = header.split_at(header.len().checked_sub(1)?);
    let value: u64 = value.parse().ok()?;
    let duration = match unit {
        "H" => std::time::Duration::from_secs(value * 3600),
        "M" => std::time::Duration::from_secs(value * 60),
        "S" => std::time::Duration::from_secs(value),
        "m" => std::time::Duration::from_millis(value),
        "u" => std::time::Duration::from_micros(value),
        "n" => std::time::Duration::from_nanos(value),
        _ => return None,
    };
    Some(Instant::now() + duration)
}

#[tonic::async_trait]
impl Precis for PrecisService {
    async fn digest(
        &self,
        request: Request<proto::DigestRequest>,
    ) -> Result<Response<proto::DigestResponse>, Status> {
        let deadline = deadline_of(&request);
        let request = request.into_inner();
        let article = self.article(request.text)?;
        let options = DigestOptions {
            summary_length: convert::summary_length(request.summary_length.as_ref())?,
            max_quotes: request.max_quotes as usize,
            skip_summary: request.skip_summary,
            skip_quotes: request.skip_quotes,
            target_language: (!request.target_language.is_empty() && !request.skip_translation)
                .then_some(request.target_language),
            deadline,
        };
        let digest = self.pipeline.digest(&article, &options).await?;
        Ok(Response::new(convert::digest(request.client_id, &digest)))
    }

    type DigestStreamStream =
        tokio_stream::wrappers::ReceiverStream<Result<proto::DigestStreamResult, Status>>;

    async fn digest_stream(
        &self,
        _request: Request<tonic::Streaming<proto::DigestRequest>>,
    ) -> Result<Response<Self::DigestStreamStream>, Status> {
        Err(Status::unimplemented("DigestStream is not implemented yet"))
    }

    async fn detect_language(
        &self,
        request: Request<proto::DetectLanguageRequest>,
    ) -> Result<Response<proto::DetectLanguageResponse>, Status> {
        let text = request.into_inner().text;
        let article = self.article(text)?;
        let detection = self.pipeline.detector.detect(article.text());
        Ok(Response::new(proto::DetectLanguageResponse {
            language: Some(convert::detection(&detection)),
        }))
    }

    async fn extract_quotes(
        &self,
        _request: Request<proto::ExtractQuotesRequest>,
    ) -> Result<Response<proto::ExtractQuotesResponse>, Status> {
        Err(Status::unimplemented(
            "ExtractQuotes is not implemented yet",
        ))
    }

    async fn summarize(
        &self,
        _request: Request<proto::SummarizeRequest>,
    ) -> Result<Response<proto::SummarizeResponse>, Status> {
        Err(Status::unimplemented("Summarize is not implemented yet"))
    }

    async fn translate(
        &self,
        _request: Request<proto::TranslateRequest>,
    ) -> Result<Response<proto::TranslateResponse>, Status> {
        Err(Status::unimplemented("Translate is not implemented yet"))
    }

    async fn get_capabilities(
        &self,
        _request: Request<proto::GetCapabilitiesRequest>,
    ) -> Result<Response<proto::Capabilities>, Status> {
        Err(Status::unimplemented(
            "GetCapabilities is not implemented yet",
        ))
    }
}

/// Loads the models, warms them up, then serves until Ctrl-C or SIGTERM.
pub async fn serve(settings: ServeSettings) -> anyhow::Result<()> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_not_serving::<PrecisServer<PrecisService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;

    let limits = Limits {
        max_article_bytes: settings.max_article_bytes,
    };
    let runtime = settings.runtime.clone();
    let (pipeline, statuses) =
        tokio::task::spawn_blocking(move || Pipeline::load(&runtime, limits)).await??;
    for status in &statuses {
        if let Some(error) = &status.error {
            anyhow::bail!("{error}");
        }
        tracing::info!(model = %status.id, role = %status.role, load_ms = ?status.load_millis, "model ready");
    }
    let pipeline = Arc::new(pipeline);
    warm_up(&pipeline).await?;
    health_reporter
        .set_serving::<PrecisServer<PrecisService>>()
        .await;

    tracing::info!(listen = %settings.listen, "serving");
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection)
        .add_service(PrecisServer::new(PrecisService::new(pipeline)))
        .serve_with_shutdown(settings.listen, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// One real digest through every model before health says SERVING.
async fn warm_up(pipeline: &Pipeline) -> anyhow::Result<()> {
    let article = ValidArticle::new(
        "The city council approved the new harbour budget on Monday. \
         \"This is a good day for the port,\" the mayor said. \
         Work starts in March."
            .to_string(),
        &pipeline.limits,
    )?;
    pipeline
        .digest(&article, &DigestOptions::default())
        .await
        .map_err(|error| anyhow::anyhow!("warm-up failed: {error}"))?;
    Ok(())
}
