//! The one domain error of precis. The gRPC layer maps it to a status; the CLI prints it.
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum PrecisError {
    /// The request itself is wrong; `field` names what to fix.
    #[error("invalid {field}: {message}")]
    InvalidArgument {
        field: &'static str,
        message: String,
    },
    /// Admission control refused the work; retrying later may succeed.
    #[error("overloaded: {0}")]
    Overloaded(String),
    /// The service is starting, draining or a worker is gone.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The request is valid but this deployment cannot serve it (pair, model).
    #[error("not supported here: {0}")]
    FailedPrecondition(String),
    #[error("deadline exceeded after {0:?}")]
    DeadlineExceeded(Duration),
    /// The caller went away before the work ran.
    #[error("cancelled by the caller")]
    Cancelled,
    /// A model or engine failed while running.
    #[error("engine failure: {0}")]
    EngineFailure(String),
    /// precis itself failed (a worker task died): a bug, not the request's or an engine's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl PrecisError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field,
            message: message.into(),
        }
    }

    /// A stable label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidArgument { .. } => "invalid_argument",
            Self::Overloaded(_) => "overloaded",
            Self::Unavailable(_) => "unavailable",
            Self::FailedPrecondition(_) => "failed_precondition",
            Self::DeadlineExceeded(_) => "deadline_exceeded",
            Self::Cancelled => "cancelled",
            Self::EngineFailure(_) => "engine_failure",
            Self::Internal(_) => "internal",
        }
    }
}

/// Runs blocking work (CPU-bound text analysis, waiting on an engine's pipe or worker) on
/// tokio's blocking threads, so the async workers keep serving; a task that dies is `Internal`.
pub async fn run_blocking<T, F>(task: &'static str, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| PrecisError::Internal(format!("{task} failed: {error}")))
}

pub type Result<T, E = PrecisError> = std::result::Result<T, E>;
