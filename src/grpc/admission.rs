//! Admission: one tower layer in front of every `precis.v1.Precis` call.
//!
//! In order: the API key (UNAUTHENTICATED), readiness and draining (UNAVAILABLE), the
//! concurrency limit (RESOURCE_EXHAUSTED at once, never queued), then the call's deadline
//! (`grpc-timeout`) is handed to the handler and enforced here (DEADLINE_EXCEEDED). The outcome
//! of every call, admitted or not, is recorded once, when its response body ends.
//!
//! Every admitted call stays registered until it has answered, so a draining server can answer
//! it UNAVAILABLE itself (trailers-only, or trailers ending a stream) rather than let a closing
//! connection lose it: at SIGTERM the calls the measured pace cannot finish within the grace
//! period, newest first; at the end of the grace period, every call still open.
//! grpc.health.v1 and reflection pass straight through: orchestrators and foreign clients must
//! reach them without a key, while starting and while draining.
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body::Frame;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
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

/// How far back the finished calls that measure the server's pace go.
const PACE_WINDOW: Duration = Duration::from_secs(10);
/// At most this many finished calls measure the pace.
const PACE_SAMPLES: usize = 256;

/// What admission decides on: readiness, draining, the concurrency limit, the API keys; and the
/// calls admitted and not yet answered, which a drain may answer early.
pub(crate) struct ServerState {
    pipeline: OnceLock<Arc<Pipeline>>,
    draining: AtomicBool,
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    api_keys: ApiKeys,
    /// Admitted calls by admission order, each with the way to answer it UNAVAILABLE now.
    open_calls: Mutex<BTreeMap<u64, oneshot::Sender<Status>>>,
    next_call: AtomicU64,
    /// How fast admitted calls have been answered lately: what a drain expects to keep up.
    pace: Mutex<Pace>,
}

/// The server's pace, on a clock that runs only while calls are open, so that idle time does
/// not count as slowness.
#[derive(Default)]
struct Pace {
    open: usize,
    busy_since: Option<Instant>,
    busy_before: Duration,
    /// Recent answers: when (wall clock), and the busy time then.
    answered: VecDeque<(Instant, Duration)>,
}

impl Pace {
    fn busy_time(&self, now: Instant) -> Duration {
        self.busy_before + self.busy_since.map_or(Duration::ZERO, |since| now - since)
    }

    fn opened(&mut self, now: Instant) {
        if self.open == 0 {
            self.busy_since = Some(now);
        }
        self.open += 1;
    }

    fn closed(&mut self, now: Instant, answered: bool) {
        let busy = self.busy_time(now);
        if answered {
            if self.answered.len() == PACE_SAMPLES {
                self.answered.pop_front();
            }
            self.answered.push_back((now, busy));
        }
        self.open = self.open.saturating_sub(1);
        if self.open == 0 {
            self.busy_before = busy;
            self.busy_since = None;
        }
    }

    /// Calls answered per second of busy time, over the answers of the last `PACE_WINDOW`;
    /// none with fewer than two of them.
    fn calls_per_second(&self, now: Instant) -> Option<f64> {
        let mut recent = self
            .answered
            .iter()
            .filter(|(at, _)| now.duration_since(*at) <= PACE_WINDOW);
        let (_, first) = *recent.next()?;
        let (count, last) =
            recent.fold((1usize, first), |(count, _), (_, busy)| (count + 1, *busy));
        let span = (last - first).as_secs_f64();
        (count >= 2 && span > 0.0).then(|| (count - 1) as f64 / span)
    }
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
            open_calls: Mutex::new(BTreeMap::new()),
            next_call: AtomicU64::new(0),
            pace: Mutex::new(Pace::default()),
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

    /// On shutdown: answers UNAVAILABLE at once the calls that the server's recent pace cannot
    /// finish within `grace`, so their clients retry on another instance now rather than at
    /// the end of the grace period. The oldest calls (the ones being worked on: model queues
    /// are first in, first out) carry on. Without a measured pace (no call finished lately)
    /// every call carries on. Returns how many calls were answered.
    pub fn shed_beyond(&self, grace: Duration) -> usize {
        let Some(calls_per_second) = self.pace() else {
            return 0;
        };
        let can_finish = (calls_per_second * grace.as_secs_f64()).floor() as usize;
        self.shed(
            can_finish,
            "the server is shutting down and would not reach this call within its drain grace \
             period; retry on another instance",
        )
    }

    /// At the end of the grace period: answers UNAVAILABLE every call still open. Returns how
    /// many.
    pub fn shed_all(&self) -> usize {
        self.shed(
            0,
            "the server is shutting down and its drain grace period ended before this call \
             finished; retry on another instance",
        )
    }

    /// Answers UNAVAILABLE every open call but the `keep` oldest.
    fn shed(&self, keep: usize, reason: &str) -> usize {
        let shed: Vec<oneshot::Sender<Status>> = {
            let Ok(mut calls) = self.open_calls.lock() else {
                return 0;
            };
            let newest: Vec<u64> = calls.keys().skip(keep).copied().collect();
            newest
                .into_iter()
                .filter_map(|key| calls.remove(&key))
                .collect()
        };
        let count = shed.len();
        for answer in shed {
            // A call that answered meanwhile has dropped its receiver: nothing to do.
            let _ = answer.send(status::report(PrecisError::Unavailable(reason.to_string())));
        }
        count
    }

    fn pace(&self) -> Option<f64> {
        self.pace.lock().ok()?.calls_per_second(Instant::now())
    }

    /// Registers an admitted call; the receiver yields a status if the drain answers it early.
    fn open_call(&self) -> (u64, oneshot::Receiver<Status>) {
        let key = self.next_call.fetch_add(1, Ordering::Relaxed);
        let (answer, early) = oneshot::channel();
        if let Ok(mut calls) = self.open_calls.lock() {
            calls.insert(key, answer);
        }
        if let Ok(mut pace) = self.pace.lock() {
            pace.opened(Instant::now());
        }
        (key, early)
    }

    /// A call has answered (or its client went away).
    fn close_call(&self, key: u64, answered_by_handler: bool) {
        if let Ok(mut calls) = self.open_calls.lock() {
            calls.remove(&key);
        }
        if let Ok(mut pace) = self.pace.lock() {
            pace.closed(Instant::now(), answered_by_handler);
        }
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
        let (key, mut early_answer) = self.state.open_call();
        let timeout = request
            .headers()
            .get("grpc-timeout")
            .and_then(parse_grpc_timeout);
        let deadline = timeout.map(|timeout| started + timeout);
        if let Some(deadline) = deadline {
            request.extensions_mut().insert(CallDeadline(deadline));
        }
        let mut record = CallRecord::new(rpc, started, Some(permit));
        record.open = Some((Arc::clone(&self.state), key));
        let span = tracing::debug_span!("call", rpc);
        Box::pin(
            async move {
                let call = async {
                    let call = inner.call(request);
                    match (deadline, timeout) {
                        (Some(deadline), Some(timeout)) => {
                            match tokio::time::timeout_at(deadline.into(), call).await {
                                Ok(response) => response,
                                // Dropping the handler drops its model jobs' replies: queued
                                // work for this call is skipped by the workers.
                                Err(_) => {
                                    Ok(status::report(PrecisError::DeadlineExceeded(timeout))
                                        .into_http())
                                }
                            }
                        }
                        _ => call.await,
                    }
                };
                tokio::pin!(call);
                // A drain may answer first; the handler (and its queued work) is then dropped.
                let (response, early_answer) = tokio::select! {
                    response = &mut call => (response?, Some(early_answer)),
                    answer = &mut early_answer => match answer {
                        Ok(status) => {
                            record.answered_early = true;
                            (status.into_http(), None)
                        }
                        // Not registered (a poisoned lock): the handler answers.
                        Err(_) => (call.await?, None),
                    },
                };
                Ok(observe(response, record, early_answer))
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

/// The response with a body that records the call's outcome when it ends (or is dropped), and
/// that a drain can still end with UNAVAILABLE while it streams (`early_answer`).
fn observe(
    response: http::Response<Body>,
    mut record: CallRecord,
    early_answer: Option<oneshot::Receiver<Status>>,
) -> http::Response<Body> {
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
            early_answer,
            ended: false,
        }),
    )
}

/// One call's outcome. Recorded exactly once, on drop; holds the call's permit and its place
/// among the open calls until then, so a streaming call counts as in flight until its last
/// message.
struct CallRecord {
    rpc: &'static str,
    started: Instant,
    code: Option<Code>,
    /// The state it is registered in, and its key there (admitted calls only).
    open: Option<(Arc<ServerState>, u64)>,
    /// Answered UNAVAILABLE by a drain rather than by its handler.
    answered_early: bool,
    _permit: Option<OwnedSemaphorePermit>,
}

impl CallRecord {
    fn new(rpc: &'static str, started: Instant, permit: Option<OwnedSemaphorePermit>) -> Self {
        Self {
            rpc,
            started,
            code: None,
            open: None,
            answered_early: false,
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
        if let Some((state, key)) = self.open.take() {
            state.close_call(key, self.code.is_some() && !self.answered_early);
        }
    }
}

struct ObservedBody {
    inner: Body,
    record: CallRecord,
    /// Until the body ends: a drain's UNAVAILABLE, sent as the trailers that end it.
    early_answer: Option<oneshot::Receiver<Status>>,
    ended: bool,
}

impl http_body::Body for ObservedBody {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(early_answer) = this.early_answer.as_mut() {
            if let Poll::Ready(answer) = Pin::new(early_answer).poll(cx) {
                this.early_answer = None;
                if let Ok(status) = answer {
                    let mut trailers = http::HeaderMap::new();
                    if status.add_header(&mut trailers).is_ok() {
                        this.ended = true;
                        this.record.code = Some(status.code());
                        this.record.answered_early = true;
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                    }
                }
            }
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(status) = frame.trailers_ref().and_then(Status::from_header_map) {
                    this.record.code = Some(status.code());
                }
            }
            Poll::Ready(Some(Err(status))) => this.record.code = Some(status.code()),
            Poll::Ready(None) => this.ended = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
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
    fn the_pace_counts_busy_time_only() {
        let start = Instant::now();
        let at = |millis| start + Duration::from_millis(millis);
        let mut pace = Pace::default();
        pace.opened(at(0));
        pace.closed(at(100), true);
        assert_eq!(
            pace.calls_per_second(at(100)),
            None,
            "one answer is no pace"
        );
        // Five idle seconds, then two calls open together, answered 100 ms apart.
        pace.opened(at(5_000));
        pace.opened(at(5_000));
        pace.closed(at(5_100), true);
        pace.closed(at(5_200), true);
        let rate = pace.calls_per_second(at(5_200)).unwrap();
        // Busy time at the answers: 0.1, 0.2 and 0.3 s: two answers in 0.2 s.
        assert!((rate - 2.0 / 0.2).abs() < 1e-9, "{rate} calls/s");
        // Answers older than the window no longer count.
        assert_eq!(pace.calls_per_second(at(5_200) + PACE_WINDOW * 2), None);
    }

    #[test]
    fn a_drain_answers_the_newest_calls_and_keeps_the_oldest() {
        let state = ServerState::new(8, ApiKeys::default());
        let mut calls: Vec<_> = (0..5).map(|_| state.open_call()).collect();
        assert_eq!(state.shed(2, "test"), 3);
        for (key, early_answer) in &mut calls {
            match early_answer.try_recv() {
                Ok(status) => {
                    assert!(*key >= 2, "call {key} is among the oldest two");
                    assert_eq!(status.code(), Code::Unavailable);
                }
                Err(_) => assert!(*key < 2, "call {key} was not answered"),
            }
        }
        assert_eq!(state.shed_all(), 2);
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
