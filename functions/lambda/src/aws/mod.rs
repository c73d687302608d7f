//! AWS adapters for the ports: Rekognition, Textract, S3 and DynamoDB through the AWS SDK, with service errors
//! sorted into the few kinds the handlers act on.

mod dynamodb;
mod rekognition;
mod s3;
mod textract;

pub use dynamodb::DynamoRecords;
pub use rekognition::Rekognition;
pub use s3::S3Images;
pub use textract::Textract;

use crate::ports::{ServiceError, ServiceErrorKind};
// Every SDK crate re-exports the same smithy error types; one crate's path serves them all.
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Sorts an SDK failure by its error code; transport failures count as `Other`.
pub(crate) fn classify<E, R>(
    service: &'static str,
    operation: &'static str,
    error: SdkError<E, R>,
) -> ServiceError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let kind = error.code().map_or(ServiceErrorKind::Other, kind_of_code);
    let message = match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(&error).to_string(),
    };
    ServiceError::new(service, operation, kind, message)
}

fn kind_of_code(code: &str) -> ServiceErrorKind {
    match code {
        "ResourceNotFoundException" | "NoSuchKey" | "NoSuchVersion" | "NotFound" => {
            ServiceErrorKind::NotFound
        }
        "ConditionalCheckFailedException" => ServiceErrorKind::Conflict,
        "InvalidImageFormatException"
        | "ImageTooLargeException"
        | "UnsupportedDocumentException"
        | "BadDocumentException"
        | "DocumentTooLargeException"
        | "InvalidS3ObjectException" => ServiceErrorKind::InvalidImage,
        "ThrottlingException"
        | "ProvisionedThroughputExceededException"
        | "LimitExceededException"
        | "RequestLimitExceeded"
        | "SlowDown"
        | "ServiceUnavailable"
        | "InternalServerError" => ServiceErrorKind::Throttled,
        _ => ServiceErrorKind::Other,
    }
}

/// Clients built once per cold start, shared by every handler a binary wires up.
pub struct Clients {
    pub rekognition: aws_sdk_rekognition::Client,
    pub textract: aws_sdk_textract::Client,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Clients {
    /// Loads region, credentials and endpoint (`AWS_ENDPOINT_URL`, which LocalStack sets) from the environment.
    pub async fn from_env() -> Clients {
        let config = aws_config::load_from_env().await;
        // Path-style addressing: virtual hosts do not resolve against an IP endpoint such as LocalStack's.
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Clients {
            rekognition: aws_sdk_rekognition::Client::new(&config),
            textract: aws_sdk_textract::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_sort_into_kinds() {
        let table = [
            ("ResourceNotFoundException", ServiceErrorKind::NotFound),
            ("NoSuchKey", ServiceErrorKind::NotFound),
            (
                "ConditionalCheckFailedException",
                ServiceErrorKind::Conflict,
            ),
            (
                "InvalidImageFormatException",
                ServiceErrorKind::InvalidImage,
            ),
            ("ImageTooLargeException", ServiceErrorKind::InvalidImage),
            (
                "ProvisionedThroughputExceededException",
                ServiceErrorKind::Throttled,
            ),
            ("AccessDeniedException", ServiceErrorKind::Other),
        ];
        for (code, kind) in table {
            assert_eq!(kind_of_code(code), kind, "{code}");
        }
    }
}
