//! Admission: one tower layer in front of every `precis.v1.Precis` call.
//!
//! In order: the API key (UNAUTHENTICATED), readiness and draining (UNAVAILABLE), the
//! concurrency limit (RESOURCE_EXHAUSTED at once, never queued), then the call's deadline
//! (`grpc-timeout`) is handed to the handler and enforced here (DEADLINE_EXCEEDED). The outcome
//! of every call, admitted or not, is recorded once, when its response body ends.
//! grpc.health.v1 and reflection pass straight through: orchestrators and foreign clients must
//! reach them without a key, while starting and while draining.
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body::Frame;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::body::Body;
use tonic::{Code, Status};
use tower::{Layer, Service};
use tracing::Instrument;

use crate::error::PrecisError;
use crate::grpc::auth::ApiKeys;
use crate::grpc::status;
use crate::pipeline::Pipeline;
use crate::telemetry;

/// The instant a call's deadline passes, put in the request's extensions for the handlers.
#[derive(Debug, Clone, Copy)]
pub struct CallDeadline(pub Instant);

/// What admission decides on: readiness, draining, the concurrency limit, the API keys.
pub(crate) struct ServerState {
    pipeline: OnceLock<Arc<Pipeline>>,
    draining: AtomicBool,
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    api_keys: ApiKeys,
}

impl ServerState {
    pub fn new(max_concurrent: usize, api_keys: ApiKeys) -> Arc<Self> {
        let max_concurrent = max_concurrent.clamp(1, u32::MAX as usize);
        Arc::new(Self {
            pipeline: OnceLock::new(),
            draining: AtomicBool::new(false),
            permits: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            api_keys,
        })
    }

    /// The pipeline, once loaded and warmed up.
    pub fn pipeline(&self) -> Option<&Arc<Pipeline>> {
        self.pipeline.get()
    }

    pub fn set_ready(&self, pipeline: Arc<Pipeline>) {
        let _ = self.pipeline.set(pipeline);
    }

    pub fn max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    /// From now on new calls get UNAVAILABLE; calls already admitted carry on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Resolves when no admitted call is left (every permit is back).
    pub async fn wait_idle(&self) {
        // Draining admits nothing new, so once all permits are back, none can leave again.
        let _all = self.permits.acquire_many(self.max_concurrent as u32).await;
    }

    fn admit(&self, headers: &http::HeaderMap) -> Result<OwnedSemaphorePermit, Status> {
        if let Err(reason) = self.api_keys.check(headers) {
            telemetry::record_failure("unauthenticated");
            return Err(Status::unauthenticated(reason));
        }
        if self.draining.load(Ordering::SeqCst) {
            return Err(status::report(PrecisError::Unavailable(
                "the server is shutting down; retry on another instance".into(),
            )));
        }
        if self.pipeline.get().is_none() {
            return Err(status::report(PrecisError::Unavailable(
                "the server is starting: models are loading and warming up; retry shortly".into(),
            )));
        }
        Arc::clone(&self.permits).try_acquire_owned().map_err(|_| {
            status::report(PrecisError::Overloaded(format!(
                "the server is at its limit of {} concurrent calls; retry later",
                self.max_concurrent
            )))
        })
    }
}

#[derive(Clone)]
pub(crate) struct AdmissionLayer {
    state: Arc<ServerState>,
}

impl AdmissionLayer {
    pub fn new(state: Arc<ServerState>) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for AdmissionLayer {
    type Service = Admission<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Admission {
            inner,
            state: Arc::clone(&self.state),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Admission<S> {
    inner: S,
    state: Arc<ServerState>,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> Service<http::Request<Body>> for Admission<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // Use the service that was driven to readiness; leave a fresh clone in its place.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let Some(rpc) = rpc_name(request.uri().path()) else {
            return Box::pin(inner.call(request));
        };
        let started = Instant::now();
        let permit = match self.state.admit(request.headers()) {
            Ok(permit) => permit,
            Err(status) => {
                CallRecord::new(rpc, started, None).finish(status.code());
                return Box::pin(std::future::ready(Ok(status.into_http())));
            }
        };
        let timeout = request
            .headers()
            .get("grpc-timeout")
            .and_then(parse_grpc_timeout);
        let deadline = timeout.map(|timeout| started + timeout);
        if let Some(deadline) = deadline {
            request.extensions_mut().insert(CallDeadline(deadline));
        }
        let record = CallRecord::new(rpc, started, Some(permit));
        let span = tracing::debug_span!("call", rpc);
        Box::pin(
            async move {
                let call = inner.call(request);
                let response = match (deadline, timeout) {
                    (Some(deadline), Some(timeout)) => {
                        match tokio::time::timeout_at(deadline.into(), call).await {
                            Ok(response) => response?,
                            // Dropping the handler drops its model jobs' replies: queued work
                            // for this call is skipped by the workers.
                            Err(_) => {
                                status::report(PrecisError::DeadlineExceeded(timeout)).into_http()
                            }
                        }
                    }
                    _ => call.await?,
                };
                Ok(observe(response, record))
            }
            .instrument(span),
        )
    }
}

/// The method name of a `precis.v1.Precis` call, as a static label; none for other services.
/// The names come from the service definition itself (`proto::PRECIS_METHODS`, generated at
/// build time), so a new RPC is labelled by its name with no list to keep.
fn rpc_name(path: &str) -> Option<&'static str> {
    let method = path
        .strip_prefix('/')?
        .strip_prefix(crate::proto::PRECIS_SERVICE)?
        .strip_prefix('/')?;
    Some(
        crate::proto::PRECIS_METHODS
            .iter()
            .find(|known| **known == method)
            .copied()
            .unwrap_or("unknown"),
    )
}

/// `grpc-timeout`: an integer of at most 8 digits and a unit (gRPC over HTTP/2).
pub(crate) fn parse_grpc_timeout(value: &http::HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// The response with a body that records the call's outcome when it ends (or is dropped).
fn observe(response: http::Response<Body>, mut record: CallRecord) -> http::Response<Body> {
    let response = match Status::from_header_map(response.headers()) {
        Some(status) if status.code() == Code::OutOfRange => {
            status::over_message_limit(status).into_http()
        }
        _ => response,
    };
    let (parts, body) = response.into_parts();
    // An error answer is "trailers-only": its status is in the headers.
    record.code = Status::from_header_map(&parts.headers).map(|status| status.code());
    http::Response::from_parts(
        parts,
        Body::new(ObservedBody {
            inner: body,
            record,
        }),
    )
}

/// One call's outcome. Recorded exactly once, on drop; holds the call's permit until then, so
/// a streaming call counts as in flight until its last message.
struct CallRecord {
    rpc: &'static str,
    started: Instant,
    code: Option<Code>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl CallRecord {
    fn new(rpc: &'static str, started: Instant, permit: Option<OwnedSemaphorePermit>) -> Self {
        Self {
            rpc,
            started,
            code: None,
            _permit: permit,
        }
    }

    fn finish(mut self, code: Code) {
        self.code = Some(code);
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        // No status seen: the response never ended, i.e. the client went away.
        let code = self.code.unwrap_or(Code::Cancelled);
        telemetry::record_call(self.rpc, code, self.started.elapsed());
    }
}

struct ObservedBody {
    inner: Body,
    record: CallRecord,
}

impl http_body::Body for ObservedBody {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(status) = frame.trailers_ref().and_then(Status::from_header_map) {
                    this.record.code = Some(status.code());
                }
            }
            Poll::Ready(Some(Err(status))) => this.record.code = Some(status.code()),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_units() {
        let parse = |text: &str| parse_grpc_timeout(&http::HeaderValue::from_str(text).unwrap());
        assert_eq!(parse("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse("2M"), Some(Duration::from_secs(120)));
        assert_eq!(parse("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse("9n"), Some(Duration::from_nanos(9)));
        assert_eq!(parse("123456789S"), None, "at most 8 digits");
        assert_eq!(parse("m"), None);
        assert_eq!(parse("5x"), None);
    }

    #[test]
    fn only_precis_calls_are_admitted() {
        assert_eq!(rpc_name("/precis.v1.Precis/Digest"), Some("Digest"));
        assert_eq!(
            rpc_name("/precis.v1.Precis/GetCapabilities"),
            Some("GetCapabilities")
        );
        assert_eq!(rpc_name("/precis.v1.Precis/Nope"), Some("unknown"));
        assert_eq!(rpc_name("/grpc.health.v1.Health/Check"), None);
        assert_eq!(
            rpc_name("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
            None
        );
    }
}
