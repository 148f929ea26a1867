//! Logs and metrics.
//!
//! Logs: article text is never logged above `debug`: newsrooms handle embargoed copy.
//! Metrics: every name starts with `precis_`; durations are histograms in seconds; every failure
//! lands in `precis_failures_total`, labelled by error type. Recording is a no-op until
//! [`install_metrics`] has run, so library code and tests record freely.
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tonic::Code;
use tracing_subscriber::EnvFilter;

/// How log lines are written: text for people, JSON for log collectors.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs go to stderr so that stdout stays the command's output. `RUST_LOG` refines the level.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

const REQUESTS: &str = "precis_requests_total";
const REQUEST_SECONDS: &str = "precis_request_seconds";
const STAGE_SECONDS: &str = "precis_stage_seconds";
const FAILURES: &str = "precis_failures_total";
const QUEUE_DEPTH: &str = "precis_queue_depth";
const BATCH_SIZE: &str = "precis_batch_size";
const QUEUE_WAIT_SECONDS: &str = "precis_queue_wait_seconds";
const MODEL_BATCH_SECONDS: &str = "precis_model_batch_seconds";
const JOBS_DROPPED: &str = "precis_jobs_dropped_total";
const CREDIT_CAPPED_JOBS: &str = "precis_queue_credit_capped_jobs_total";
const NAME_ANALYSER_FALLBACKS: &str = "precis_name_analyser_fallbacks_total";
const NAME_ANALYSER_RESTARTS: &str = "precis_name_analyser_restarts_total";

/// One finished gRPC call: its count by method and status code, and its duration.
pub fn record_call(rpc: &'static str, code: Code, elapsed: Duration) {
    let code = code_label(code);
    metrics::counter!(REQUESTS, "rpc" => rpc, "code" => code).increment(1);
    metrics::histogram!(REQUEST_SECONDS, "rpc" => rpc, "code" => code)
        .record(elapsed.as_secs_f64());
    // Per call at debug only: at thousands of calls per second, info would drown the logs.
    tracing::debug!(
        rpc,
        code,
        micros = elapsed.as_micros() as u64,
        "call finished"
    );
}

/// One failure, by error type (`PrecisError::kind`, or a transport-level kind).
pub fn record_failure(kind: &'static str) {
    metrics::counter!(FAILURES, "error" => kind).increment(1);
}

/// One digest stage's duration.
pub fn record_stage(stage: &'static str, elapsed: Duration) {
    metrics::histogram!(STAGE_SECONDS, "stage" => stage).record(elapsed.as_secs_f64());
}

/// Jobs waiting in a model pool's queue.
pub fn record_queue_depth(pool: &str, depth: usize) {
    metrics::gauge!(QUEUE_DEPTH, "pool" => pool.to_string()).set(depth as f64);
}

/// A batch a model worker takes: its size, and how long each of its jobs waited.
pub fn record_batch_start(pool: &str, waits: impl Iterator<Item = Duration>) {
    let mut size = 0;
    for wait in waits {
        metrics::histogram!(QUEUE_WAIT_SECONDS, "pool" => pool.to_string())
            .record(wait.as_secs_f64());
        size += 1;
    }
    metrics::histogram!(BATCH_SIZE, "pool" => pool.to_string()).record(size as f64);
}

/// How long a model ran one batch.
pub fn record_batch_run(pool: &str, elapsed: Duration) {
    metrics::histogram!(MODEL_BATCH_SECONDS, "pool" => pool.to_string())
        .record(elapsed.as_secs_f64());
}

/// A queued model job dropped before it ran (`deadline` or `caller_gone`).
pub fn record_dropped_job(reason: &'static str) {
    metrics::counter!(JOBS_DROPPED, "reason" => reason).increment(1);
}

/// A model pool ran a held-back request's job out of fair order because head starts had taken
/// their cap of the recent work (a stream of short requests beside a long one).
pub fn record_credit_capped_job(pool: &str) {
    metrics::counter!(CREDIT_CAPPED_JOBS, "pool" => pool.to_string()).increment(1);
}

/// An article whose speakers the rules checked alone because its language's name analyser
/// died, hung or could not start.
pub fn record_name_analyser_fallback(language: &str) {
    metrics::counter!(NAME_ANALYSER_FALLBACKS, "language" => language.to_string()).increment(1);
}

/// Name analyser children started again since the server started (a running total).
pub fn record_name_analyser_restarts(total: u64) {
    metrics::counter!(NAME_ANALYSER_RESTARTS).absolute(total);
}

/// The canonical gRPC name of a status code, as Prometheus label.
pub fn code_label(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder, once per process (a global recorder cannot be replaced;
/// an in-process server started twice, as in tests, shares it).
pub fn install_metrics() -> anyhow::Result<&'static PrometheusHandle> {
    if let Some(handle) = PROMETHEUS.get() {
        return Ok(handle);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            &[
                0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                5.0, 10.0, 30.0,
            ],
        )?
        .install_recorder()
        .map_err(|error| anyhow::anyhow!("cannot install the metrics recorder: {error}"))?;
    describe_metrics();
    Ok(PROMETHEUS.get_or_init(|| handle))
}

/// Every metric precis emits, described once; the recording functions above are the only
/// places that name them.
fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        REQUESTS,
        "gRPC calls to precis.v1.Precis by method (rpc) and status code (code)"
    );
    describe_histogram!(
        REQUEST_SECONDS,
        Unit::Seconds,
        "Duration of gRPC calls, until the last response message"
    );
    describe_histogram!(
        STAGE_SECONDS,
        Unit::Seconds,
        "Duration of each digest stage (language, segment, quotes, summarize, translate)"
    );
    describe_counter!(
        FAILURES,
        "Failures by error type (invalid_argument, overloaded, deadline_exceeded, ...)"
    );
    describe_gauge!(QUEUE_DEPTH, "Jobs waiting in a model worker pool's queue");
    describe_histogram!(
        BATCH_SIZE,
        Unit::Count,
        "Jobs a model worker ran together in one batch, per pool"
    );
    describe_histogram!(
        QUEUE_WAIT_SECONDS,
        Unit::Seconds,
        "Time a job waited in a model pool's queue before its batch started"
    );
    describe_histogram!(
        MODEL_BATCH_SECONDS,
        Unit::Seconds,
        "Time a model took to run one batch, per pool"
    );
    describe_counter!(
        NAME_ANALYSER_FALLBACKS,
        "Articles whose quote speakers the rules checked alone because the language's name analyser died, hung or could not start"
    );
    describe_counter!(
        NAME_ANALYSER_RESTARTS,
        "Name analyser (lt-proc) children started again after one died or hung"
    );
    describe_counter!(
        CREDIT_CAPPED_JOBS,
        "Jobs of held-back requests run out of fair order because head starts had taken their cap of the recent work (a stream of short requests beside a long one), per pool"
    );
    describe_counter!(
        JOBS_DROPPED,
        "Queued model jobs dropped before they ran, by reason (deadline, caller_gone)"
    );
}

/// Serves `GET /metrics` in the Prometheus text format on `listener` until the task is dropped.
/// A plain HTTP/1.1 responder: scrapers send one small request per connection.
pub async fn serve_metrics(listener: TcpListener, handle: &'static PrometheusHandle) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut head = Vec::with_capacity(1024);
            let mut buffer = [0u8; 1024];
            // Read the request head only (bounded); scrapers send no body.
            while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < 8192 {
                match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await {
                    Ok(Ok(read)) if read > 0 => head.extend_from_slice(&buffer[..read]),
                    _ => return,
                }
            }
            let request_line = head.split(|&byte| byte == b'\r').next().unwrap_or_default();
            let (status, content_type, body) = if request_line.starts_with(b"GET /metrics ") {
                handle.run_upkeep();
                (
                    "200 OK",
                    "text/plain; version=0.0.4; charset=utf-8",
                    handle.render(),
                )
            } else {
                (
                    "404 Not Found",
                    "text/plain; charset=utf-8",
                    "metrics are at GET /metrics\n".to_string(),
                )
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
