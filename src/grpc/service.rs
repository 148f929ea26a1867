//! The RPC handlers: proto → domain, call the pipeline, domain → proto. Admission (keys,
//! readiness, limits, deadlines, metrics) already happened in the layer in front.
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::FuturesOrdered;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::error::{run_blocking, PrecisError};
use crate::grpc::admission::{CallDeadline, ServerState};
use crate::grpc::{convert, status};
use crate::pipeline::Pipeline;
use crate::proto;
use crate::proto::precis_server::Precis;
use crate::telemetry;
use crate::validate::{
    validate_digest, validate_quotes, validate_summary, validate_translate, Limits, ValidArticle,
};

pub(crate) struct PrecisService {
    state: Arc<ServerState>,
    limits: Limits,
    max_stream_in_flight: usize,
    max_message_bytes: usize,
}

impl PrecisService {
    pub fn new(
        state: Arc<ServerState>,
        limits: Limits,
        max_stream_in_flight: usize,
        max_message_bytes: usize,
    ) -> Self {
        Self {
            state,
            limits,
            max_stream_in_flight: max_stream_in_flight.max(1),
            max_message_bytes,
        }
    }

    /// Admission lets no call through before the pipeline is ready; this never fails then, but a
    /// handler must not panic if it ever does.
    fn pipeline(&self) -> Result<&Arc<Pipeline>, Status> {
        self.state.pipeline().ok_or_else(|| {
            status::report(PrecisError::Unavailable(
                "the server is starting; retry shortly".into(),
            ))
        })
    }
}

fn deadline_of<T>(request: &Request<T>) -> Option<Instant> {
    request
        .extensions()
        .get::<CallDeadline>()
        .map(|deadline| deadline.0)
}

/// One article through the whole pipeline; shared by Digest and DigestStream.
async fn digest_one(
    pipeline: &Arc<Pipeline>,
    limits: &Limits,
    request: proto::DigestRequest,
    deadline: Option<Instant>,
) -> Result<proto::DigestResponse, PrecisError> {
    let client_id = request.client_id.clone();
    let request = validate_digest(convert::digest_input(request), limits)?;
    let digest = pipeline.digest_in_lane(request, deadline).await?;
    Ok(convert::digest(client_id, &digest))
}

#[tonic::async_trait]
impl Precis for PrecisService {
    async fn digest(
        &self,
        request: Request<proto::DigestRequest>,
    ) -> Result<Response<proto::DigestResponse>, Status> {
        let deadline = deadline_of(&request);
        let response = digest_one(
            self.pipeline()?,
            &self.limits,
            request.into_inner(),
            deadline,
        )
        .await
        .map_err(status::report)?;
        Ok(Response::new(response))
    }

    type DigestStreamStream = ReceiverStream<Result<proto::DigestStreamResult, Status>>;

    async fn digest_stream(
        &self,
        request: Request<Streaming<proto::DigestRequest>>,
    ) -> Result<Response<Self::DigestStreamStream>, Status> {
        let deadline = deadline_of(&request);
        let pipeline = Arc::clone(self.pipeline()?);
        // Results wait here for the client to read them; together with the articles in flight,
        // at most twice the bound is held per stream.
        let (results, receiver) = mpsc::channel(self.max_stream_in_flight);
        let stream = DigestStream {
            pipeline,
            limits: self.limits,
            inbound: request.into_inner(),
            results,
            max_in_flight: self.max_stream_in_flight,
            deadline,
        };
        tokio::spawn(stream.run().in_current_span());
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn detect_language(
        &self,
        request: Request<proto::DetectLanguageRequest>,
    ) -> Result<Response<proto::DetectLanguageResponse>, Status> {
        let pipeline = self.pipeline()?;
        let text =
            ValidArticle::new(request.into_inner().text, &self.limits).map_err(status::report)?;
        // Model-free, but up to a few hundred microseconds of CPU (more when the cascade falls
        // through to lingua): on a blocking thread, so the two async workers stay free for I/O
        // and health checks. Measured faster than inline under load (loadtest --rpc detect).
        // The admission limit bounds how many run at once.
        let detector = Arc::clone(pipeline.detector());
        let detection = run_blocking("language detection", move || detector.detect(text.text()))
            .await
            .map_err(status::report)?;
        Ok(Response::new(proto::DetectLanguageResponse {
            language: Some(convert::detection(&detection)),
        }))
    }

    async fn extract_quotes(
        &self,
        request: Request<proto::ExtractQuotesRequest>,
    ) -> Result<Response<proto::ExtractQuotesResponse>, Status> {
        let deadline = deadline_of(&request);
        let pipeline = self.pipeline()?;
        let request = request.into_inner();
        let request = validate_quotes(request.text, request.max_quotes, &self.limits)
            .map_err(status::report)?;
        let digest = pipeline
            .digest(&request, deadline)
            .await
            .map_err(status::report)?;
        Ok(Response::new(proto::ExtractQuotesResponse {
            quotes: digest.quotes.iter().map(convert::key_quote).collect(),
        }))
    }

    async fn summarize(
        &self,
        request: Request<proto::SummarizeRequest>,
    ) -> Result<Response<proto::SummarizeResponse>, Status> {
        let deadline = deadline_of(&request);
        let pipeline = self.pipeline()?;
        let request = request.into_inner();
        let length = convert::summary_length(request.summary_length.as_ref());
        let request =
            validate_summary(request.text, length, &self.limits).map_err(status::report)?;
        let digest = pipeline
            .digest(&request, deadline)
            .await
            .map_err(status::report)?;
        Ok(Response::new(proto::SummarizeResponse {
            summary: digest.summary.as_ref().map(convert::summary),
            language: Some(convert::detection(&digest.language)),
            warnings: digest.warnings,
        }))
    }

    async fn translate(
        &self,
        request: Request<proto::TranslateRequest>,
    ) -> Result<Response<proto::TranslateResponse>, Status> {
        let deadline = deadline_of(&request);
        let pipeline = self.pipeline()?;
        let request =
            validate_translate(convert::translate_input(request.into_inner()), &self.limits)
                .map_err(status::report)?;
        let translated = pipeline
            .translate(request, deadline)
            .await
            .map_err(status::report)?;
        Ok(Response::new(convert::translated_texts(&translated)))
    }

    async fn get_capabilities(
        &self,
        _request: Request<proto::GetCapabilitiesRequest>,
    ) -> Result<Response<proto::Capabilities>, Status> {
        let pipeline = self.pipeline()?;
        let limits = proto::Limits {
            max_article_bytes: saturating_u32(self.limits.max_article_bytes),
            max_stream_in_flight: saturating_u32(self.max_stream_in_flight),
            max_message_bytes: saturating_u32(self.max_message_bytes),
            max_concurrent_requests: saturating_u32(self.state.max_concurrent()),
        };
        Ok(Response::new(convert::capabilities(
            &pipeline.capabilities(),
            limits,
        )))
    }
}

fn saturating_u32(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// One DigestStream call: reads ahead at most `max_in_flight` articles, works on them
/// concurrently, answers in request order, each with its digest or its own error.
struct DigestStream {
    pipeline: Arc<Pipeline>,
    limits: Limits,
    inbound: Streaming<proto::DigestRequest>,
    results: mpsc::Sender<Result<proto::DigestStreamResult, Status>>,
    max_in_flight: usize,
    deadline: Option<Instant>,
}

impl DigestStream {
    async fn run(self) {
        let results = self.results.clone();
        let Some(deadline) = self.deadline else {
            return self.serve_items().await;
        };
        if tokio::time::timeout_at(deadline.into(), self.serve_items())
            .await
            .is_err()
        {
            // The work in flight was dropped with the timed-out future; its queued model jobs
            // are skipped by the workers.
            let _ = results
                .send(Err(Status::deadline_exceeded(
                    "the DigestStream call's deadline passed; results after the last one received were not computed",
                )))
                .await;
        }
    }

    async fn serve_items(mut self) {
        let mut in_flight = FuturesOrdered::new();
        let mut next_index: u32 = 0;
        let mut inbound_open = true;
        loop {
            if !inbound_open && in_flight.is_empty() {
                return; // every answer sent: dropping the sender ends the response stream
            }
            tokio::select! {
                // Client gone: return, dropping the articles in flight and their model jobs.
                () = self.results.closed() => return,
                Some(result) = in_flight.next(), if !in_flight.is_empty() => {
                    if self.results.send(Ok(result)).await.is_err() {
                        return;
                    }
                }
                message = self.inbound.message(),
                    if inbound_open && in_flight.len() < self.max_in_flight =>
                {
                    match message {
                        Ok(Some(request)) => {
                            in_flight.push_back(stream_item(
                                Arc::clone(&self.pipeline),
                                self.limits,
                                next_index,
                                request,
                                self.deadline,
                            ));
                            next_index = next_index.saturating_add(1);
                        }
                        Ok(None) => inbound_open = false,
                        // The request stream itself broke (a bad frame, an over-size message):
                        // nothing after it can be read, so the call ends with that status.
                        Err(error) => {
                            let _ = self.results.send(Err(status::over_message_limit(error))).await;
                            return;
                        }
                    }
                }
                else => return,
            }
        }
    }
}

async fn stream_item(
    pipeline: Arc<Pipeline>,
    limits: Limits,
    index: u32,
    request: proto::DigestRequest,
    deadline: Option<Instant>,
) -> proto::DigestStreamResult {
    let started = Instant::now();
    let client_id = request.client_id.clone();
    let result = match digest_one(&pipeline, &limits, request, deadline).await {
        Ok(digest) => {
            telemetry::record_call("DigestStream/item", tonic::Code::Ok, started.elapsed());
            proto::digest_stream_result::Result::Digest(digest)
        }
        Err(error) => {
            let status = status::report(error);
            telemetry::record_call("DigestStream/item", status.code(), started.elapsed());
            proto::digest_stream_result::Result::Error(proto::ItemError {
                code: status.code() as i32,
                message: status.message().to_string(),
            })
        }
    };
    proto::DigestStreamResult {
        index,
        client_id,
        result: Some(result),
    }
}
