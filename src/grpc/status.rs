//! Domain errors → gRPC status codes, in one place.
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
            PrecisError::Internal(_) => Code::Internal,
        };
        telemetry::record_failure(error.kind());
        if let PrecisError::Internal(message) = &error {
            // Engine failures are the operator's problem, not the client's: log them loudly.
            tracing::error!(%message, "engine failure");
        }
        Status::new(code, error.to_string())
    }
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
