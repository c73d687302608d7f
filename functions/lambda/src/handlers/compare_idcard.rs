//! `compare-idcard`: the selfie must show the person on the ID card, and the card must not be the selfie again
//! (a re-encoded copy passes the face match, and every later step costs money).

use super::{image_error, pictures};
use crate::ports::{Comparison, FaceEngine};
use crate::HandlerError;
use riv_domain::config::MatchConfig;
use riv_domain::events::{CompareIdCardRequest, CompareIdCardResult};
use riv_domain::uploads::Slot;
use riv_domain::{validate, Rejection};
use std::sync::Arc;

pub struct CompareIdCard {
    pub faces: Arc<dyn FaceEngine>,
    pub matching: MatchConfig,
    /// The image bucket, where uploads are read from.
    pub bucket: String,
}

impl CompareIdCard {
    pub async fn handle(
        &self,
        request: CompareIdCardRequest,
    ) -> Result<CompareIdCardResult, HandlerError> {
        validate::user_id(&request.user_id)?;
        let selfie = pictures::resolve(Slot::Selfie, &request.image, &self.bucket)?;
        let card = pictures::resolve(Slot::IdCard, &request.id_card, &self.bucket)?;
        let comparison = self
            .faces
            .compare_faces(&selfie.picture, &card.picture)
            .await
            .map_err(|e| image_error(e, "Image"))?
            .ok_or_else(|| {
                Rejection::IdCardUnreadable(
                    "no face was found on the card: photograph the side with the portrait".into(),
                )
            })?;
        let similarity = comparison.similarity;
        tracing::info!(similarity, "compared with ID card");
        if is_same_photo(&comparison) {
            return Err(Rejection::invalid(
                "IdCard shows the selfie's very photo, not an ID card: photograph the card itself",
            )
            .into());
        }
        if similarity < self.matching.face_match_threshold {
            return Err(Rejection::FaceNotMatchWithIdCard.into());
        }
        Ok(CompareIdCardResult { similarity })
    }
}

/// Similarity at which two faces can only come from one photo.
const SAME_PHOTO_SIMILARITY: f32 = 99.9;
/// How far (fraction of the image) the face boxes may differ and still be the same placement.
const SAME_BOX_TOLERANCE: f32 = 0.01;

/// The card's face is the selfie's face in the same place: the "card" is the selfie, re-encoded or cropped
/// at most. A portrait printed on a card never sits where the selfie's face does, at this similarity.
fn is_same_photo(c: &Comparison) -> bool {
    let (Some(a), Some(b)) = (c.source_box, c.target_box) else {
        return false;
    };
    let close = |x: f32, y: f32| (x - y).abs() <= SAME_BOX_TOLERANCE;
    c.similarity >= SAME_PHOTO_SIMILARITY
        && close(a.left, b.left)
        && close(a.top, b.top)
        && close(a.width, b.width)
        && close(a.height, b.height)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{inline, FakeFaces, SAME_PERSON};
    use riv_domain::events::ImageRef;
    use riv_domain::Reason;

    fn handler() -> (Arc<FakeFaces>, CompareIdCard) {
        let faces = Arc::new(FakeFaces::default());
        let h = CompareIdCard {
            faces: faces.clone(),
            matching: MatchConfig::default(),
            bucket: "fake-bucket".into(),
        };
        (faces, h)
    }

    fn request(selfie: &str, card: &str) -> CompareIdCardRequest {
        CompareIdCardRequest {
            user_id: "ann".into(),
            image: inline(selfie),
            id_card: inline(card),
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
            id_card: ImageRef::Inline(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                [crate::fakes::photo("ann"), vec![0; 256 * 1024]].concat(),
            )),
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
        let err = h.handle(request("ann", "ann#2")).await.unwrap_err();
        assert_eq!(err.reason(), Reason::InternalError);
    }

    #[tokio::test]
    async fn the_selfie_sent_as_the_card_is_refused() {
        let (_, h) = handler();
        let err = h.handle(request("ann", "ann")).await.unwrap_err();
        assert_eq!(err.reason(), Reason::InvalidRequest);
        assert!(err.to_string().contains("not an ID card"), "{err}");
    }

    #[test]
    fn the_same_face_elsewhere_in_the_image_is_another_photo() {
        let at = |left: f32| riv_domain::quality::BoundingBox {
            width: 0.3,
            height: 0.4,
            left,
            top: 0.2,
        };
        let c = |similarity: f32, left: f32| Comparison {
            similarity,
            source_box: Some(at(0.35)),
            target_box: Some(at(left)),
        };
        assert!(is_same_photo(&c(100.0, 0.355)));
        assert!(
            !is_same_photo(&c(100.0, 0.1)),
            "a card's portrait sits elsewhere"
        );
        assert!(
            !is_same_photo(&c(99.5, 0.35)),
            "another photo of the same person"
        );
        assert!(!is_same_photo(&Comparison {
            target_box: None,
            ..c(100.0, 0.35)
        }));
    }
}
