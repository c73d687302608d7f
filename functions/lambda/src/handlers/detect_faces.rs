//! `detect-faces`: validates the whole request up front (so bad input changes nothing anywhere) and runs the
//! selfie quality gate.

use super::image_error;
use crate::ports::FaceEngine;
use crate::HandlerError;
use riv_domain::config::QualityConfig;
use riv_domain::events::{DetectFacesRequest, DetectFacesResult};
use riv_domain::{quality, validate, Rejection};
use std::sync::Arc;

pub struct DetectFaces {
    pub faces: Arc<dyn FaceEngine>,
    pub config: QualityConfig,
}

impl DetectFaces {
    pub async fn handle(
        &self,
        request: DetectFacesRequest,
    ) -> Result<DetectFacesResult, HandlerError> {
        let input = request.input;
        validate::user_id(&input.user_id)?;
        let image = validate::image("Image", &input.image, validate::MAX_SELFIE_BYTES)?;
        match &input.id_card {
            Some(card) => {
                validate::image("IdCard", card, validate::MAX_IDCARD_BYTES)?;
            }
            None if request.require_id_card => {
                return Err(
                    Rejection::invalid("IdCard is required: send a photo of the ID card").into(),
                );
            }
            None => {}
        }
        let properties = input.properties.unwrap_or_default();
        validate::properties(&properties)?;
        let faces = self
            .faces
            .detect_faces(&image.bytes)
            .await
            .map_err(|e| image_error(e, "Image"))?;
        let face = quality::check(&faces, &self.config)?;
        tracing::info!(faces = faces.len(), "quality gate passed");
        Ok(DetectFacesResult { face, properties })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{good_face, photo_b64, FakeFaces};
    use riv_domain::events::FlowInput;
    use riv_domain::quality::Attribute;
    use riv_domain::Reason;

    fn handler() -> (Arc<FakeFaces>, DetectFaces) {
        let faces = Arc::new(FakeFaces::default());
        let handler = DetectFaces {
            faces: faces.clone(),
            config: QualityConfig::default(),
        };
        (faces, handler)
    }

    fn input(identity: &str) -> FlowInput {
        FlowInput {
            user_id: "ann".into(),
            image: photo_b64(identity),
            ..FlowInput::default()
        }
    }

    fn request(identity: &str) -> DetectFacesRequest {
        DetectFacesRequest {
            input: input(identity),
            require_id_card: false,
        }
    }

    #[tokio::test]
    async fn a_good_selfie_passes_with_its_face() {
        let (_, h) = handler();
        let result = h.handle(request("ann")).await.unwrap();
        assert_eq!(result.face, good_face());
        assert!(
            result.properties.is_empty(),
            "absent Properties read as an empty map"
        );
    }

    #[tokio::test]
    async fn quality_failures_carry_their_reason() {
        let (faces, h) = handler();
        let mut shades = good_face();
        shades.sunglasses = Some(Attribute {
            value: true,
            confidence: 99.0,
        });
        let mut dark = good_face();
        dark.brightness = 5.0;
        faces.set_faces("shades", vec![shades]);
        faces.set_faces("dark", vec![dark]);
        faces.set_faces("pair", vec![good_face(), good_face()]);
        for (label, reason) in [
            ("nobody", Reason::NoFaceDetected),
            ("shades", Reason::SunglassesDetected),
            ("dark", Reason::LowQuality),
            ("pair", Reason::TooManyFaces),
        ] {
            let err = h.handle(request(label)).await.unwrap_err();
            assert_eq!(err.reason(), reason, "{label}");
        }
    }

    #[tokio::test]
    async fn invalid_input_is_rejected_before_any_service_call() {
        let (faces, h) = handler();
        faces.faults.fail("DetectFaces");
        let bad_user = FlowInput {
            user_id: "../x".into(),
            ..input("ann")
        };
        let bad_card = FlowInput {
            id_card: Some("????".into()),
            ..input("ann")
        };
        let bad_props = FlowInput {
            properties: Some([("bad key".to_string(), String::new())].into()),
            ..input("ann")
        };
        let not_image = FlowInput {
            image: "aGVsbG8=".into(),
            ..input("ann")
        };
        let requests = [bad_user, bad_card, bad_props, not_image].map(|input| DetectFacesRequest {
            input,
            require_id_card: false,
        });
        let no_card = DetectFacesRequest {
            input: input("ann"),
            require_id_card: true,
        };
        for req in requests.into_iter().chain([no_card]) {
            let err = h.handle(req).await.unwrap_err();
            assert_eq!(err.reason(), Reason::InvalidRequest, "{err}");
        }
    }

    #[tokio::test]
    async fn a_card_and_properties_pass_through_validation() {
        let (_, h) = handler();
        let mut with_card = input("ann");
        with_card.id_card = Some(photo_b64("ann#card"));
        with_card.properties = Some([("dept".to_string(), "x".to_string())].into());
        let result = h
            .handle(DetectFacesRequest {
                input: with_card,
                require_id_card: true,
            })
            .await
            .unwrap();
        assert_eq!(result.properties["dept"], "x");
    }

    #[tokio::test]
    async fn a_service_failure_is_an_internal_error() {
        let (faces, h) = handler();
        faces.faults.fail("DetectFaces");
        let err = h.handle(request("ann")).await.unwrap_err();
        assert_eq!(err.reason(), Reason::InternalError);
    }
}
