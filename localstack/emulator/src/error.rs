//! Errors as the services report them: the real exception names, in AWS JSON 1.1's `__type` form.

use serde_json::json;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct AwsError {
    pub kind: &'static str,
    pub message: String,
    pub status: u16,
}

impl AwsError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        AwsError {
            kind,
            message: message.into(),
            status: 400,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        AwsError::new("InvalidParameterException", message)
    }

    /// A fault of the emulator itself (500), as `InternalServerError` on AWS.
    pub fn internal(message: impl Into<String>) -> Self {
        AwsError {
            kind: "InternalServerError",
            message: message.into(),
            status: 500,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        AwsError::new("ResourceNotFoundException", message)
    }

    pub fn body(&self) -> serde_json::Value {
        json!({"__type": self.kind, "message": self.message, "Message": self.message})
    }
}

pub type Result<T> = std::result::Result<T, AwsError>;
