//! `detect-faces`: validates the whole request up front (so bad input changes nothing anywhere), counts an
//! auth or update attempt against the UserId's lockout, and runs the selfie quality gate. Everything here is
//! refused before the first Rekognition call.

use super::pictures;
use super::{guard, image_error};
use crate::ports::{FaceEngine, FaceRecords, ImageStore, Picture};
use crate::HandlerError;
use riv_domain::config::{GuardConfig, QualityConfig};
use riv_domain::events::{DetectFacesRequest, DetectFacesResult, ImageRef};
use riv_domain::uploads::Slot;
use riv_domain::{quality, validate, Rejection};
use std::sync::Arc;

pub struct DetectFaces {
    pub faces: Arc<dyn FaceEngine>,
    /// The lockout counters (auth and update ask for the guard).
    pub records: Arc<dyn FaceRecords>,
    /// Where uploads are checked.
    pub images: Arc<dyn ImageStore>,
    pub config: QualityConfig,
    pub guard: GuardConfig,
}

/// One image of the request as the caller sent it: inline, or the key of an upload.
enum Sent {
    Inline(String),
    Key(String),
}

/// Exactly one of the inline field and the key field.
fn one_of(
    slot: Slot,
    inline: Option<String>,
    key: Option<String>,
) -> Result<Option<Sent>, Rejection> {
    let (inline_field, key_field) = match slot {
        Slot::Selfie => ("Image", slot.key_field()),
        Slot::IdCard => ("IdCard", slot.key_field()),
    };
    match (inline, key) {
        (Some(_), Some(_)) => Err(Rejection::invalid(format!(
            "send {inline_field} or {key_field}, not both"
        ))),
        (Some(b64), None) => Ok(Some(Sent::Inline(b64))),
        (None, Some(key)) => Ok(Some(Sent::Key(key))),
        (None, None) => Ok(None),
    }
}

impl DetectFaces {
    pub async fn handle(
        &self,
        request: DetectFacesRequest,
    ) -> Result<DetectFacesResult, HandlerError> {
        let input = request.input;
        let user_id = validate::user_id(&input.user_id)?.to_string();
        let selfie = one_of(Slot::Selfie, input.image, input.image_key)?.ok_or_else(|| {
            Rejection::invalid("Image or ImageKey is required: send the selfie inline or upload it")
        })?;
        let card = one_of(Slot::IdCard, input.id_card, input.id_card_key)?;
        if card.is_none() && request.require_id_card {
            return Err(Rejection::invalid(
                "IdCard or IdCardKey is required: send a photo of the ID card",
            )
            .into());
        }
        // Everything that needs no service call is checked before anything that does.
        let inline_selfie = match &selfie {
            Sent::Inline(b64) => Some(validate::image("Image", b64, validate::MAX_SELFIE_BYTES)?),
            Sent::Key(key) => {
                riv_domain::uploads::check_key(Slot::Selfie, key)?;
                None
            }
        };
        let inline_card = match &card {
            Some(Sent::Inline(b64)) => {
                Some(validate::image("IdCard", b64, validate::MAX_IDCARD_BYTES)?)
            }
            Some(Sent::Key(key)) => {
                riv_domain::uploads::check_key(Slot::IdCard, key)?;
                None
            }
            None => None,
        };
        // The cheapest refusal of a card that cannot be one, before any paid call.
        if let (Some(selfie), Some(card)) = (&inline_selfie, &inline_card) {
            if selfie.bytes == card.bytes {
                return Err(same_image());
            }
        }
        let properties = input.properties.unwrap_or_default();
        validate::properties(&properties)?;

        // Uploads are read (never changed) before the lockout counts the attempt: a bad key changes nothing.
        let image = self.checked(Slot::Selfie, &user_id, selfie).await?;
        let id_card = match card {
            Some(card) => Some(self.checked(Slot::IdCard, &user_id, card).await?),
            None => None,
        };
        // Two uploads of the same bytes share an ETag.
        if let (Some(a), Some(b)) = (&image.1, id_card.as_ref().and_then(|c| c.1.as_ref())) {
            if a == b {
                return Err(same_image());
            }
        }
        if request.guard {
            guard::admit(&*self.records, &user_id, &self.guard).await?;
        }
        // An inline selfie was decoded above; only an upload still needs naming.
        let picture = match inline_selfie {
            Some(decoded) => Picture::Bytes(decoded.bytes),
            None => pictures::resolve(Slot::Selfie, &image.0, self.images.bucket())?.picture,
        };
        let faces = self
            .faces
            .detect_faces(&picture)
            .await
            .map_err(|e| image_error(e, "Image"))?;
        let face = quality::check(&faces, &self.config)?;
        tracing::info!(faces = faces.len(), "quality gate passed");
        Ok(DetectFacesResult {
            user_id,
            image: image.0,
            id_card: id_card.map(|c| c.0),
            properties,
            face,
        })
    }

    /// The reference later steps use, and for an upload its ETag.
    async fn checked(
        &self,
        slot: Slot,
        user_id: &str,
        sent: Sent,
    ) -> Result<(ImageRef, Option<String>), HandlerError> {
        match sent {
            Sent::Inline(b64) => Ok((ImageRef::Inline(b64), None)),
            Sent::Key(key) => {
                let verified = pictures::verify_upload(&*self.images, slot, user_id, &key).await?;
                tracing::info!(key = %key, version = ?verified.image.version_id, "upload checked");
                Ok((ImageRef::Upload(verified.image), verified.e_tag))
            }
        }
    }
}

fn same_image() -> HandlerError {
    Rejection::invalid("IdCard is the selfie itself: send a photo of the ID card").into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{good_face, photo_b64, FakeFaces, FakeRecords, FakeStore};
    use riv_domain::events::FlowInput;
    use riv_domain::quality::Attribute;
    use riv_domain::Reason;

    fn handler() -> (Arc<FakeFaces>, DetectFaces) {
        let faces = Arc::new(FakeFaces::default());
        let handler = DetectFaces {
            faces: faces.clone(),
            records: Arc::new(FakeRecords::default()),
            images: Arc::new(FakeStore::default()),
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
            image: Some(photo_b64(identity)),
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
            image: Some("aGVsbG8=".into()),
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

    const SELFIE: &str = "uploads/0b6c3b1e-5f0a-4c39-9d0e-4a9f1f2f7a10/selfie";
    const CARD: &str = "uploads/0b6c3b1e-5f0a-4c39-9d0e-4a9f1f2f7a10/idcard";

    fn big(identity: &str) -> Vec<u8> {
        let mut bytes = crate::fakes::photo(identity);
        bytes.resize(4096, b' ');
        bytes
    }

    fn with_store() -> (
        Arc<FakeFaces>,
        Arc<FakeStore>,
        Arc<FakeRecords>,
        DetectFaces,
    ) {
        let (faces, mut h) = handler();
        let store = Arc::new(FakeStore::default());
        let records = Arc::new(FakeRecords::default());
        faces.reading(store.clone());
        h.images = store.clone();
        h.records = records.clone();
        (faces, store, records, h)
    }

    fn by_key(selfie: &str, card: Option<&str>) -> DetectFacesRequest {
        DetectFacesRequest {
            input: FlowInput {
                user_id: "ann".into(),
                image_key: Some(selfie.into()),
                id_card_key: card.map(str::to_string),
                ..FlowInput::default()
            },
            require_id_card: card.is_some(),
            guard: true,
        }
    }

    #[tokio::test]
    async fn an_upload_passes_on_pinned_to_the_checked_version() {
        let (faces, store, _, h) = with_store();
        let version = store.upload(SELFIE, big("ann"), "image/png", Some("ann"));
        store.upload(CARD, big("ann#card"), "image/png", Some("ann"));
        let result = h.handle(by_key(SELFIE, Some(CARD))).await.unwrap();
        let ImageRef::Upload(image) = result.image else {
            panic!("an upload reference: {:?}", result.image);
        };
        assert_eq!(image.version_id, Some(version));
        assert!(matches!(result.id_card, Some(ImageRef::Upload(_))));
        assert_eq!(faces.calls("DetectFaces"), 1);
    }

    #[tokio::test]
    async fn bad_keys_are_refused_before_the_lockout_counts_anything() {
        let (faces, store, records, h) = with_store();
        let other = "uploads/9f6c3b1e-5f0a-4c39-9d0e-4a9f1f2f7a11/selfie";
        let pdf = "uploads/1f6c3b1e-5f0a-4c39-9d0e-4a9f1f2f7a12/selfie";
        let huge = "uploads/2f6c3b1e-5f0a-4c39-9d0e-4a9f1f2f7a13/selfie";
        let same = "uploads/3f6c3b1e-5f0a-4c39-9d0e-4a9f1f2f7a14/idcard";
        store.upload(other, big("bob"), "image/png", Some("bob"));
        store.upload(
            pdf,
            [b"%PDF-1.7".to_vec(), vec![b' '; 4096]].concat(),
            "image/png",
            Some("ann"),
        );
        store.upload(huge, vec![0x89; 16 * 1024 * 1024], "image/png", Some("ann"));
        store.upload(SELFIE, big("ann"), "image/png", Some("ann"));
        store.upload(same, big("ann"), "image/png", Some("ann"));
        let both = DetectFacesRequest {
            input: FlowInput {
                image: Some(photo_b64("ann")),
                ..by_key(SELFIE, None).input
            },
            ..by_key(SELFIE, None)
        };
        let requests = [
            by_key(other, None),
            by_key(CARD, None),
            by_key(pdf, None),
            by_key(huge, None),
            by_key("faces/ann/f.png", None),
            by_key(SELFIE, Some(same)),
            both,
        ];
        for request in requests {
            let what = format!("{:?}", request.input);
            let err = h.handle(request).await.unwrap_err();
            assert_eq!(err.reason(), Reason::InvalidRequest, "{what}: {err}");
        }
        assert_eq!(faces.calls("DetectFaces"), 0);
        assert_eq!(records.guard_counter("ann").await.unwrap(), None);
    }
}
