//! `compare-idcard`: the selfie must show the person on the ID card.

use super::image_error;
use crate::ports::FaceEngine;
use crate::HandlerError;
use riv_domain::config::MatchConfig;
use riv_domain::events::{CompareIdCardRequest, CompareIdCardResult};
use riv_domain::{validate, Rejection};
use std::sync::Arc;

pub struct CompareIdCard {
    pub faces: Arc<dyn FaceEngine>,
    pub matching: MatchConfig,
}

impl CompareIdCard {
    pub async fn handle(
        &self,
        request: CompareIdCardRequest,
    ) -> Result<CompareIdCardResult, HandlerError> {
        validate::user_id(&request.user_id)?;
        let selfie = validate::image("Image", &request.image, validate::MAX_SELFIE_BYTES)?;
        let card = validate::image("IdCard", &request.id_card, validate::MAX_IDCARD_BYTES)?;
        let similarity = self
            .faces
            .compare_faces(&selfie.bytes, &card.bytes)
            .await
            .map_err(|e| image_error(e, "Image"))?
            .ok_or_else(|| {
                Rejection::IdCardUnreadable(
                    "no face was found on the card: photograph the side with the portrait".into(),
                )
            })?;
        tracing::info!(similarity, "compared with ID card");
        if similarity < self.matching.face_match_threshold {
            return Err(Rejection::FaceNotMatchWithIdCard.into());
        }
        Ok(CompareIdCardResult { similarity })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{photo_b64, FakeFaces, SAME_PERSON};
    use riv_domain::Reason;

    fn handler() -> (Arc<FakeFaces>, CompareIdCard) {
        let faces = Arc::new(FakeFaces::default());
        let h = CompareIdCard {
            faces: faces.clone(),
            matching: MatchConfig::default(),
        };
        (faces, h)
    }

    fn request(selfie: &str, card: &str) -> CompareIdCardRequest {
        CompareIdCardRequest {
            user_id: "ann".into(),
            image: photo_b64(selfie),
            id_card: photo_b64(card),
        }
    }

    #[tokio::test]
    async fn the_card_holder_matches() {
        let (_, h) = handler();
        let r = h.handle(request("ann#selfie", "ann#card")).await.unwrap();
        assert_eq!(r.similarity, SAME_PERSON);
    }

    #[tokio::test]
    async fn failures_map_to_reasons() {
        let (faces, h) = handler();
        let big_card = CompareIdCardRequest {
            id_card: base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                [crate::fakes::photo("ann"), vec![0; 256 * 1024]].concat(),
            ),
            ..request("ann", "ann")
        };
        let cases = [
            (request("ann", "bob"), Reason::FaceNotMatchWithIdCard),
            (request("ann", "nobody"), Reason::IdCardUnreadable),
            (request("nobody", "ann"), Reason::NoFaceDetected),
            (big_card, Reason::InvalidRequest),
        ];
        for (req, reason) in cases {
            let err = h.handle(req).await.unwrap_err();
            assert_eq!(err.reason(), reason, "{err}");
        }
        faces.faults.fail("CompareFaces");
        let err = h.handle(request("ann", "ann")).await.unwrap_err();
        assert_eq!(err.reason(), Reason::InternalError);
    }
}
