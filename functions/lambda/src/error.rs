//! The error every handler returns. Its Lambda error type is the reason code Step Functions matches on; its
//! message is safe to show a user (dependency details go to the log, never into the response).

use crate::ports::ServiceError;
use lambda_runtime::Diagnostic;
use riv_domain::{Reason, Rejection};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum HandlerError {
    /// The rules turned the request down: a 4xx with this reason.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// A backing service failed: retried by the state machine, then a 500.
    #[error(transparent)]
    Dependency(#[from] ServiceError),
}

/// What a user sees when a backing service fails.
pub const INTERNAL_ERROR_MESSAGE: &str = "a backing service failed: try again in a moment";

impl HandlerError {
    pub fn reason(&self) -> Reason {
        match self {
            HandlerError::Rejected(r) => r.reason(),
            HandlerError::Dependency(_) => Reason::InternalError,
        }
    }

    /// The rejection, if this is one.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            HandlerError::Rejected(r) => Some(r),
            HandlerError::Dependency(_) => None,
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Diagnostic {
        let error_message = match &error {
            HandlerError::Rejected(r) => r.to_string(),
            HandlerError::Dependency(e) => {
                tracing::error!(error = %e, "dependency failed");
                INTERNAL_ERROR_MESSAGE.to_string()
            }
        };
        Diagnostic {
            error_type: error.reason().as_str().to_string(),
            error_message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::ServiceErrorKind;

    #[test]
    fn rejections_become_reason_typed_diagnostics() {
        let d = Diagnostic::from(HandlerError::from(Rejection::FaceAlreadyRegistered));
        assert_eq!(d.error_type, "FaceAlreadyRegistered");
        assert_eq!(
            d.error_message,
            "this face is already registered to another user"
        );
    }

    #[test]
    fn dependency_failures_hide_their_details() {
        let e = ServiceError::new(
            "dynamodb",
            "TransactWriteItems",
            ServiceErrorKind::Other,
            "arn:aws:dynamodb:eu-west-1:123456789012:table/x is broken",
        );
        let d = Diagnostic::from(HandlerError::from(e));
        assert_eq!(d.error_type, "InternalError");
        assert!(!d.error_message.contains("arn:"), "{}", d.error_message);
    }
}
