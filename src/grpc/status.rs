//! Domain errors → gRPC status codes, in one place.
use tonic::{Code, Status};

use crate::error::PrecisError;

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
        metrics::counter!("precis_failures_total", "error" => error.kind()).increment(1);
        Status::new(code, error.to_string())
    }
}
