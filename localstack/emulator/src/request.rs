//! Reading request fields with the checks and error names the real services use.

use crate::error::{AwsError, Result};
use base64::Engine as _;
use serde_json::Value;

/// Rekognition's limit for image bytes.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// Textract's limit for synchronous documents.
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

pub struct Req<'a>(pub &'a Value);

impl<'a> Req<'a> {
    pub fn str(&self, field: &str) -> Result<&'a str> {
        self.0
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| AwsError::new("ValidationException", format!("1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null")))
    }

    pub fn opt_str(&self, field: &str) -> Option<&'a str> {
        self.0.get(field).and_then(Value::as_str)
    }

    pub fn number(&self, field: &str, default: f64, min: f64, max: f64) -> Result<f64> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_f64()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    AwsError::invalid(format!("{field} must be between {min} and {max}"))
                }),
        }
    }

    /// A name matching `[a-zA-Z0-9_.\-]+` (collections), up to 255 characters.
    pub fn id(&self, field: &str) -> Result<&'a str> {
        let value = self.str(field)?;
        let ok = !value.is_empty()
            && value.len() <= 255
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if ok {
            Ok(value)
        } else {
            Err(AwsError::new(
                "ValidationException",
                format!("1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.\\-]+"),
            ))
        }
    }

    /// The bytes of an `Image`/`Document` structure: `{"Bytes": base64}`. S3 references are not emulated.
    pub fn image(
        &self,
        field: &str,
        max: usize,
        too_large: &'static str,
        bad_format: &'static str,
    ) -> Result<Vec<u8>> {
        let image = self
            .0
            .get(field)
            .ok_or_else(|| AwsError::invalid(format!("{field} is required")))?;
        if image.get("S3Object").is_some() {
            return Err(AwsError::invalid(
                "S3Object images are not emulated: send the image as Bytes",
            ));
        }
        let encoded = image
            .get("Bytes")
            .and_then(Value::as_str)
            .ok_or_else(|| AwsError::invalid(format!("{field}.Bytes is required")))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| AwsError::invalid(format!("{field}.Bytes is not valid base64")))?;
        if bytes.len() > max {
            return Err(AwsError::new(
                too_large,
                format!("{field} is larger than {} bytes", max),
            ));
        }
        let jpeg = bytes.starts_with(&[0xFF, 0xD8, 0xFF]);
        let png = bytes.starts_with(&[0x89, b'P', b'N', b'G']);
        if !(jpeg || png) {
            return Err(AwsError::new(
                bad_format,
                "Request has invalid image format",
            ));
        }
        Ok(bytes)
    }
}
