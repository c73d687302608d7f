//! Reading request fields with the checks and error names the real services use. The model's constraints
//! (required members, lengths, ranges, patterns, enums) are checked before an operation runs (`crate::model`);
//! what is read here is what the model cannot say: image bytes, S3 objects, tokens.

use crate::error::{AwsError, Result};
use crate::s3::{S3Error, S3};
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Where a service reads images from, and the limits and error names it uses for them.
pub struct ImageRules {
    /// Largest image sent as bytes.
    pub max_bytes: usize,
    /// Largest image read from S3.
    pub max_s3_bytes: usize,
    pub too_large: &'static str,
    pub bad_format: &'static str,
}

/// Rekognition: 5 MiB as bytes, 15 MiB from S3.
pub const REKOGNITION_IMAGES: ImageRules = ImageRules {
    max_bytes: 5 * 1024 * 1024,
    max_s3_bytes: 15 * 1024 * 1024,
    too_large: "ImageTooLargeException",
    bad_format: "InvalidImageFormatException",
};

/// Textract's synchronous operations: 10 MiB either way.
pub const TEXTRACT_DOCUMENTS: ImageRules = ImageRules {
    max_bytes: 10 * 1024 * 1024,
    max_s3_bytes: 10 * 1024 * 1024,
    too_large: "DocumentTooLargeException",
    bad_format: "UnsupportedDocumentException",
};

pub struct Req<'a>(pub &'a Value);

/// What an operation reads images and faces with: the engine, and the local S3 for `S3Object` images.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub engine: &'a dyn crate::engine::Engine,
    pub s3: &'a S3,
}

impl<'a> Req<'a> {
    pub fn str(&self, field: &str) -> Result<&'a str> {
        self.0
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| AwsError::new("ValidationException", format!("1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null", lower_camel(field))))
    }

    pub fn opt_str(&self, field: &str) -> Option<&'a str> {
        self.0.get(field).and_then(Value::as_str)
    }

    /// A number the model has already bounded, or its default.
    pub fn number(&self, field: &str, default: f64) -> f64 {
        self.0.get(field).and_then(Value::as_f64).unwrap_or(default)
    }

    /// The strings of a list member (absent: empty).
    pub fn strings(&self, field: &str) -> Vec<String> {
        self.0
            .get(field)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The bytes of an `Image`/`Document` structure: `{"Bytes": base64}` or `{"S3Object": {Bucket, Name,
    /// Version}}` read from the local S3.
    pub fn image(&self, field: &str, rules: &ImageRules, s3: &S3) -> Result<Vec<u8>> {
        let image = self.0.get(field).unwrap_or(&Value::Null);
        let bytes = match (image.get("Bytes"), image.get("S3Object")) {
            (Some(encoded), None) => {
                let bytes = encoded
                    .as_str()
                    .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
                    .ok_or_else(|| {
                        AwsError::new(
                            "SerializationException",
                            format!("{field}.Bytes is not base64"),
                        )
                    })?;
                if bytes.len() > rules.max_bytes {
                    return Err(AwsError::new(
                        rules.too_large,
                        format!("{field} is larger than {} bytes", rules.max_bytes),
                    ));
                }
                bytes
            }
            (None, Some(object)) => {
                let name = |member: &str| object.get(member).and_then(Value::as_str);
                let (Some(bucket), Some(key)) = (name("Bucket"), name("Name")) else {
                    return Err(invalid_s3_object());
                };
                match s3.get(bucket, key, name("Version"), rules.max_s3_bytes) {
                    Ok(bytes) => bytes,
                    Err(S3Error::TooLarge { max, .. }) => {
                        return Err(AwsError::new(
                            rules.too_large,
                            format!("{field} is larger than {max} bytes"),
                        ))
                    }
                    Err(e) => {
                        tracing::info!(error = %e, "an S3Object image was not read");
                        return Err(invalid_s3_object());
                    }
                }
            }
            _ => {
                return Err(AwsError::invalid(
                    "Requested image should either contain bytes or s3 object.",
                ))
            }
        };
        let jpeg = bytes.starts_with(&[0xFF, 0xD8, 0xFF]);
        let png = bytes.starts_with(&[0x89, b'P', b'N', b'G']);
        if !(jpeg || png) {
            return Err(AwsError::new(
                rules.bad_format,
                "Request has invalid image format",
            ));
        }
        Ok(bytes)
    }

    /// Where a listing resumes: 0 without a token, the position a token of this listing carries, or
    /// InvalidPaginationTokenException for any other token (another listing's, or made up).
    pub fn page_start(&self, listing: &str) -> Result<usize> {
        let Some(token) = self.opt_str("NextToken") else {
            return Ok(0);
        };
        let invalid = || {
            AwsError::new(
                "InvalidPaginationTokenException",
                "Invalid pagination token",
            )
        };
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(invalid)?;
        let (position, scope) = decoded.split_once('.').ok_or_else(invalid)?;
        if scope != scope_digest(listing) {
            return Err(invalid());
        }
        position.parse().map_err(|_| invalid())
    }
}

/// The token that resumes `listing` at `position`: opaque to callers, and only valid for that listing.
pub fn page_token(listing: &str, position: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{position}.{}", scope_digest(listing)))
}

fn scope_digest(listing: &str) -> String {
    hex::encode(&Sha256::digest(listing.as_bytes())[..8])
}

fn invalid_s3_object() -> AwsError {
    AwsError::new(
        "InvalidS3ObjectException",
        "Unable to get object metadata from S3. Check object key, region and/or access permissions.",
    )
}

/// A member's name as validation messages spell its path: `CollectionId` → `collectionId`.
pub fn lower_camel(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_token_resumes_only_its_own_listing() {
        let token = page_token("faces:us-east-1:c1", 40);
        let req = json!({"NextToken": token});
        assert_eq!(Req(&req).page_start("faces:us-east-1:c1"), Ok(40));
        let other = Req(&req).page_start("faces:us-east-1:c2").unwrap_err();
        assert_eq!(other.kind, "InvalidPaginationTokenException");
        for made_up in ["40", "bm9wZQ", ""] {
            let req = json!({"NextToken": made_up});
            assert_eq!(
                Req(&req).page_start("faces:us-east-1:c1").unwrap_err().kind,
                "InvalidPaginationTokenException",
                "{made_up}"
            );
        }
        assert_eq!(Req(&json!({})).page_start("x"), Ok(0));
    }

    #[test]
    fn an_image_is_bytes_or_an_s3_object_not_both_nor_neither() {
        let s3 = S3::default();
        let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG....");
        let ok = json!({"Image": {"Bytes": png}});
        assert!(Req(&ok).image("Image", &REKOGNITION_IMAGES, &s3).is_ok());
        let both = json!({"Image": {"Bytes": png, "S3Object": {"Bucket": "b", "Name": "k"}}});
        let neither = json!({"Image": {}});
        for bad in [both, neither] {
            let e = Req(&bad)
                .image("Image", &REKOGNITION_IMAGES, &s3)
                .unwrap_err();
            assert_eq!(e.kind, "InvalidParameterException");
        }
        let no_s3 = json!({"Image": {"S3Object": {"Bucket": "b", "Name": "k"}}});
        let e = Req(&no_s3)
            .image("Image", &REKOGNITION_IMAGES, &s3)
            .unwrap_err();
        assert_eq!(e.kind, "InvalidS3ObjectException");
        let text = json!({"Document": {"Bytes": base64::engine::general_purpose::STANDARD.encode(b"hello")}});
        let e = Req(&text)
            .image("Document", &TEXTRACT_DOCUMENTS, &s3)
            .unwrap_err();
        assert_eq!(e.kind, "UnsupportedDocumentException");
    }
}
