//! [`IdDocumentReader`] over Amazon Textract AnalyzeID.

use super::classify;
use crate::ports::{IdDocumentReader, Picture, ServiceError};
use async_trait::async_trait;
use aws_sdk_textract::primitives::Blob;
use aws_sdk_textract::types::{Document, IdentityDocumentField, S3Object};
use aws_sdk_textract::Client;
use riv_domain::idcard::AnalyzedField;

pub struct Textract {
    client: Client,
}

impl Textract {
    pub fn new(client: Client) -> Self {
        Textract { client }
    }
}

fn analyzed(field: &IdentityDocumentField) -> Option<AnalyzedField> {
    let value = field.value_detection()?;
    Some(AnalyzedField {
        key: field.r#type()?.text().to_string(),
        text: value.text().to_string(),
        normalized: value
            .normalized_value()
            .and_then(|n| n.value())
            .map(str::to_string),
    })
}

#[async_trait]
impl IdDocumentReader for Textract {
    async fn analyze_id(&self, picture: &Picture) -> Result<Vec<AnalyzedField>, ServiceError> {
        let document = match picture {
            Picture::Bytes(bytes) => Document::builder().bytes(Blob::new(bytes.clone())).build(),
            Picture::Stored(object) => Document::builder()
                .s3_object(
                    S3Object::builder()
                        .bucket(&object.bucket)
                        .name(&object.key)
                        .set_version(object.version_id.clone())
                        .build(),
                )
                .build(),
        };
        let out = self
            .client
            .analyze_id()
            .document_pages(document)
            .send()
            .await
            .map_err(|e| classify("textract", "AnalyzeID", e))?;
        Ok(out
            .identity_documents()
            .first()
            .map(|doc| {
                doc.identity_document_fields()
                    .iter()
                    .filter_map(analyzed)
                    .collect()
            })
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::ServiceErrorKind;
    use aws_sdk_textract::error::ErrorMetadata;
    use aws_sdk_textract::operation::analyze_id::{AnalyzeIDError, AnalyzeIdOutput};
    use aws_sdk_textract::types::error::UnsupportedDocumentException;
    use aws_sdk_textract::types::{AnalyzeIdDetections, IdentityDocument, NormalizedValue};
    use aws_smithy_mocks::{mock, mock_client};

    fn detection(text: &str) -> AnalyzeIdDetections {
        AnalyzeIdDetections::builder().text(text).build().unwrap()
    }

    #[tokio::test]
    async fn fields_carry_type_text_and_normalised_value() {
        let rule = mock!(Client::analyze_id).then_output(|| {
            let dob = AnalyzeIdDetections::builder()
                .text("01/31/1990")
                .normalized_value(
                    NormalizedValue::builder()
                        .value("1990-01-31T00:00:00")
                        .value_type(aws_sdk_textract::types::ValueType::Date)
                        .build(),
                )
                .build()
                .unwrap();
            let doc = IdentityDocument::builder()
                .identity_document_fields(
                    IdentityDocumentField::builder()
                        .r#type(detection("FIRST_NAME"))
                        .value_detection(detection("ANN"))
                        .build(),
                )
                .identity_document_fields(
                    IdentityDocumentField::builder()
                        .r#type(detection("DATE_OF_BIRTH"))
                        .value_detection(dob)
                        .build(),
                )
                .build();
            AnalyzeIdOutput::builder().identity_documents(doc).build()
        });
        let reader = Textract::new(mock_client!(aws_sdk_textract, [&rule]));
        let fields = reader
            .analyze_id(&Picture::Bytes(b"card".to_vec()))
            .await
            .unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(
            (fields[0].key.as_str(), fields[0].text.as_str()),
            ("FIRST_NAME", "ANN")
        );
        assert_eq!(fields[1].normalized.as_deref(), Some("1990-01-31T00:00:00"));
    }

    #[tokio::test]
    async fn an_unsupported_document_is_an_invalid_image() {
        let rule = mock!(Client::analyze_id).then_error(|| {
            AnalyzeIDError::UnsupportedDocumentException(
                UnsupportedDocumentException::builder()
                    .meta(
                        ErrorMetadata::builder()
                            .code("UnsupportedDocumentException")
                            .build(),
                    )
                    .build(),
            )
        });
        let reader = Textract::new(mock_client!(aws_sdk_textract, [&rule]));
        let err = reader
            .analyze_id(&Picture::Bytes(b"card".to_vec()))
            .await
            .unwrap_err();
        assert_eq!(err.kind, ServiceErrorKind::InvalidImage);
    }
}
