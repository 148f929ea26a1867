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

use crate::cli::LogFormat;

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

/// One finished gRPC call: its count by method and status code, and its duration.
pub fn record_call(rpc: &'static str, code: Code, elapsed: Duration) {
    let code = code_label(code);
    metrics::counter!("precis_requests_total", "rpc" => rpc, "code" => code).increment(1);
    metrics::histogram!("precis_request_seconds", "rpc" => rpc, "code" => code)
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
    metrics::counter!("precis_failures_total", "error" => kind).increment(1);
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

fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "precis_requests_total",
        "gRPC calls to precis.v1.Precis by method (rpc) and status code (code)"
    );
    describe_histogram!(
        "precis_request_seconds",
        Unit::Seconds,
        "Duration of gRPC calls, until the last response message"
    );
    describe_histogram!(
        "precis_stage_seconds",
        Unit::Seconds,
        "Duration of each digest stage (language, segment, quotes, summarize, translate)"
    );
    describe_gauge!(
        "precis_queue_depth",
        "Jobs waiting in a model worker pool's queue"
    );
    describe_counter!(
        "precis_failures_total",
        "Failures by error type (invalid_argument, overloaded, deadline_exceeded, ...)"
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
