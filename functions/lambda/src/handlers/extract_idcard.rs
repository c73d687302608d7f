//! `extract-idcard`: the card's fields, from Textract AnalyzeID or, where that is unavailable
//! (`ID_EXTRACTION=detect-text`), from Rekognition DetectText and label parsing.

use super::pictures;
use crate::ports::{FaceEngine, IdDocumentReader, ServiceError, ServiceErrorKind};
use crate::HandlerError;
use riv_domain::config::IdExtraction;
use riv_domain::events::{ExtractIdCardRequest, ExtractIdCardResult};
use riv_domain::uploads::Slot;
use riv_domain::{idcard, validate, Rejection};
use std::sync::Arc;

pub struct ExtractIdCard {
    pub reader: Arc<dyn IdDocumentReader>,
    pub faces: Arc<dyn FaceEngine>,
    pub mode: IdExtraction,
    /// The image bucket, where uploads are read from.
    pub bucket: String,
}

impl ExtractIdCard {
    pub async fn handle(
        &self,
        request: ExtractIdCardRequest,
    ) -> Result<ExtractIdCardResult, HandlerError> {
        validate::user_id(&request.user_id)?;
        let card = pictures::resolve(Slot::IdCard, &request.id_card, &self.bucket)?.picture;
        let fields = match self.mode {
            IdExtraction::AnalyzeId => self
                .reader
                .analyze_id(&card)
                .await
                .map(|f| idcard::from_analyze_id(&f)),
            IdExtraction::DetectText => self
                .faces
                .detect_text(&card)
                .await
                .map(|lines| idcard::from_labelled_lines(&lines)),
        }
        .map_err(unreadable_image)?;
        if !idcard::is_readable(&fields) {
            return Err(Rejection::IdCardUnreadable(
                "no name could be read: send a sharp, well-lit photo of the front of the card"
                    .into(),
            )
            .into());
        }
        tracing::info!(
            mode = self.mode.as_str(),
            fields = fields.len(),
            "ID card read"
        );
        Ok(ExtractIdCardResult {
            fields,
            method: self.mode.as_str().to_string(),
            read_at: riv_domain::clock::now(false),
        })
    }
}

fn unreadable_image(error: ServiceError) -> HandlerError {
    match error.kind {
        ServiceErrorKind::InvalidImage => {
            Rejection::IdCardUnreadable("the card image could not be decoded".into()).into()
        }
        _ => error.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{inline, FakeFaces, FakeIdReader};
    use riv_domain::Reason;

    fn handler(mode: IdExtraction) -> (Arc<FakeIdReader>, Arc<FakeFaces>, ExtractIdCard) {
        let reader = Arc::new(FakeIdReader::default());
        let faces = Arc::new(FakeFaces::default());
        let h = ExtractIdCard {
            reader: reader.clone(),
            faces: faces.clone(),
            mode,
            bucket: "fake-bucket".into(),
        };
        (reader, faces, h)
    }

    fn request(card: &str) -> ExtractIdCardRequest {
        ExtractIdCardRequest {
            user_id: "ann".into(),
            id_card: inline(card),
        }
    }

    #[tokio::test]
    async fn analyze_id_fields_are_normalised() {
        let (reader, faces, h) = handler(IdExtraction::AnalyzeId);
        reader.set_fields(
            "card",
            &[
                ("FIRST_NAME", "ANN"),
                ("LAST_NAME", "LEE"),
                ("DATE_OF_BIRTH", "02/29/2000"),
            ],
        );
        faces.faults.fail("DetectText");
        let r = h.handle(request("card")).await.unwrap();
        assert_eq!(r.fields["FIRST_NAME"], "ANN");
        assert_eq!(r.fields["DATE_OF_BIRTH"], "2000-02-29");
    }

    #[tokio::test]
    async fn detect_text_mode_parses_labelled_lines() {
        let (reader, faces, h) = handler(IdExtraction::DetectText);
        faces.set_text(
            "card",
            &[
                "IDENTITY CARD",
                "SURNAME",
                "LEE",
                "GIVEN NAME: ANN",
                "DOB 31 JAN 1990",
            ],
        );
        reader.faults.fail("AnalyzeID");
        let r = h.handle(request("card")).await.unwrap();
        assert_eq!(r.fields["LAST_NAME"], "LEE");
        assert_eq!(r.fields["FIRST_NAME"], "ANN");
        assert_eq!(r.fields["DATE_OF_BIRTH"], "1990-01-31");
    }

    #[tokio::test]
    async fn a_card_without_a_name_is_unreadable() {
        for mode in [IdExtraction::AnalyzeId, IdExtraction::DetectText] {
            let (reader, faces, h) = handler(mode);
            reader.set_fields("card", &[("DOCUMENT_NUMBER", "X1")]);
            faces.set_text("card", &["DOC NO X1"]);
            let err = h.handle(request("card")).await.unwrap_err();
            assert_eq!(err.reason(), Reason::IdCardUnreadable, "{mode:?}");
        }
    }

    #[tokio::test]
    async fn service_failures_are_internal_and_bad_input_invalid() {
        let (reader, _, h) = handler(IdExtraction::AnalyzeId);
        reader.faults.fail("AnalyzeID");
        assert_eq!(
            h.handle(request("card")).await.unwrap_err().reason(),
            Reason::InternalError
        );
        let bad = ExtractIdCardRequest {
            user_id: "ann".into(),
            id_card: riv_domain::events::ImageRef::Inline("bm9wZQ==".into()),
        };
        assert_eq!(
            h.handle(bad).await.unwrap_err().reason(),
            Reason::InvalidRequest
        );
    }
}
