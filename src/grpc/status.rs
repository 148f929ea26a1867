//! Domain errors → gRPC status codes, in one place. The mapping itself is pure; [`report`]
//! is where an error answered to a client is counted and, for engine failures, logged.
use tonic::{Code, Status};

use crate::error::PrecisError;
use crate::telemetry;

impl From<PrecisError> for Status {
    fn from(error: PrecisError) -> Self {
        let code = match &error {
            PrecisError::InvalidArgument { .. } => Code::InvalidArgument,
            PrecisError::Overloaded(_) => Code::ResourceExhausted,
            PrecisError::Unavailable(_) => Code::Unavailable,
            PrecisError::FailedPrecondition(_) => Code::FailedPrecondition,
            PrecisError::DeadlineExceeded(_) => Code::DeadlineExceeded,
            PrecisError::Cancelled => Code::Cancelled,
            PrecisError::EngineFailure(_) | PrecisError::Internal(_) => Code::Internal,
        };
        Status::new(code, error.to_string())
    }
}

/// A domain error answered to a client: counted by type in `precis_failures_total`; engine
/// and internal failures are the operator's problem, not the client's, so they are logged too.
pub(crate) fn report(error: PrecisError) -> Status {
    telemetry::record_failure(error.kind());
    if let PrecisError::EngineFailure(message) | PrecisError::Internal(message) = &error {
        tracing::error!(kind = error.kind(), %message, "request failed inside precis");
    }
    Status::from(error)
}

/// tonic's codec answers a message over the size limit with OUT_OF_RANGE; gRPC's reference
/// implementations, and this contract, say RESOURCE_EXHAUSTED. Precis itself never answers
/// OUT_OF_RANGE, so the status is only ever the codec's. The message (with the limit) is kept.
pub(crate) fn over_message_limit(status: Status) -> Status {
    if status.code() != Code::OutOfRange {
        return status;
    }
    telemetry::record_failure("message_too_large");
    Status::resource_exhausted(format!(
        "{}; send a smaller message (see Capabilities.limits.max_message_bytes)",
        status.message()
    ))
}
