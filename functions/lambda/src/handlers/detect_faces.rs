//! `detect-faces`: validates the whole request up front (so bad input changes nothing anywhere), counts an
//! auth or update attempt against the UserId's lockout, and runs the selfie quality gate. Everything here is
//! refused before the first Rekognition call.

use super::{guard, image_error};
use crate::ports::{FaceEngine, FaceRecords};
use crate::HandlerError;
use riv_domain::config::{GuardConfig, QualityConfig};
use riv_domain::events::{DetectFacesRequest, DetectFacesResult};
use riv_domain::{quality, validate, Rejection};
use std::sync::Arc;

pub struct DetectFaces {
    pub faces: Arc<dyn FaceEngine>,
    /// The lockout counters (auth and update ask for the guard).
    pub records: Arc<dyn FaceRecords>,
    pub config: QualityConfig,
    pub guard: GuardConfig,
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
                let card = validate::image("IdCard", card, validate::MAX_IDCARD_BYTES)?;
                // The cheapest refusal of a card that cannot be one, before any paid call.
                if card.bytes == image.bytes {
                    return Err(Rejection::invalid(
                        "IdCard is the selfie itself: send a photo of the ID card",
                    )
                    .into());
                }
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
        if request.guard {
            guard::admit(&*self.records, &input.user_id, &self.guard).await?;
        }
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
    use crate::fakes::{good_face, photo_b64, FakeFaces, FakeRecords};
    use riv_domain::events::FlowInput;
    use riv_domain::quality::Attribute;
    use riv_domain::Reason;

    fn handler() -> (Arc<FakeFaces>, DetectFaces) {
        let faces = Arc::new(FakeFaces::default());
        let handler = DetectFaces {
            faces: faces.clone(),
            records: Arc::new(FakeRecords::default()),
            config: QualityConfig::default(),
            guard: GuardConfig {
                max_failed_attempts: 2,
                ..GuardConfig::default()
            },
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
            guard: false,
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
        let card_is_selfie = FlowInput {
            id_card: Some(photo_b64("ann")),
            ..input("ann")
        };
        let reserved = FlowInput {
            properties: Some([("LAST_NAME".to_string(), "Lee".to_string())].into()),
            ..input("ann")
        };
        let requests = [
            bad_user,
            bad_card,
            bad_props,
            not_image,
            card_is_selfie,
            reserved,
        ]
        .map(|input| DetectFacesRequest {
            input,
            require_id_card: false,
            guard: true,
        });
        let no_card = DetectFacesRequest {
            input: input("ann"),
            require_id_card: true,
            guard: false,
        };
        for req in requests.into_iter().chain([no_card]) {
            let err = h.handle(req).await.unwrap_err();
            assert_eq!(err.reason(), Reason::InvalidRequest, "{err}");
        }
        // Bad input is refused before it could count against the lockout.
        faces.faults.heal("DetectFaces");
        let guarded = || DetectFacesRequest {
            guard: true,
            ..request("ann")
        };
        h.handle(guarded()).await.unwrap();
    }

    #[tokio::test]
    async fn a_locked_out_user_is_refused_before_rekognition() {
        let (faces, h) = handler();
        let guarded = || DetectFacesRequest {
            guard: true,
            ..request("ann")
        };
        h.handle(guarded()).await.unwrap();
        h.handle(guarded()).await.unwrap();
        faces.faults.fail("DetectFaces");
        let err = h.handle(guarded()).await.unwrap_err();
        assert_eq!(err.reason(), Reason::TooManyAttempts);
        // Registration is not guarded.
        faces.faults.heal("DetectFaces");
        h.handle(request("ann")).await.unwrap();
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
                guard: false,
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
