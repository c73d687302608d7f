//! `uploads` Lambda. `Sign` (`POST /uploads`): presigned PUT URLs for a selfie and optionally an ID card, each
//! under a fresh random key, signed for the declared type and exact size and for the UserId as owner metadata.
//! A flow that takes such a key checks the stored object again (`detect-faces`): what a caller declared is not
//! what it uploaded. `Discard`: every flow ends here, whatever its outcome, and the uploads it was given are
//! deleted, every version, if they were granted to its UserId.

use crate::ports::{ImageStore, UploadSigner};
use crate::HandlerError;
use riv_domain::events::{
    DeclaredImage, DiscardUploadsResult, UploadTarget, UploadsCall, UploadsRequest, UploadsResult,
    WrittenObject,
};
use riv_domain::uploads::{self, Declared, Slot};
use riv_domain::validate;
use std::sync::Arc;

/// What a call answers, as the call's own result type.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub enum UploadsAnswer {
    Signed(UploadsResult),
    Discarded(DiscardUploadsResult),
}

pub struct Uploads {
    pub signer: Arc<dyn UploadSigner>,
    pub images: Arc<dyn ImageStore>,
}

impl Uploads {
    pub async fn call(&self, call: UploadsCall) -> Result<UploadsAnswer, HandlerError> {
        Ok(match call {
            UploadsCall::Sign(request) => UploadsAnswer::Signed(self.handle(request).await?),
            UploadsCall::Discard(input) => UploadsAnswer::Discarded(self.discard(&input).await?),
        })
    }

    /// Deletes the uploads a flow's input names, if they were granted to its UserId; anything else (no key, a
    /// malformed one, someone else's) is left alone: this runs after refusals too.
    pub async fn discard(
        &self,
        input: &serde_json::Value,
    ) -> Result<DiscardUploadsResult, HandlerError> {
        let mut deleted = Vec::new();
        let Some(user_id) = input["UserId"].as_str() else {
            return Ok(DiscardUploadsResult { deleted });
        };
        for slot in [Slot::Selfie, Slot::IdCard] {
            let Some(key) = input[slot.key_field()].as_str() else {
                continue;
            };
            if uploads::check_key(slot, key).is_err() {
                continue;
            }
            match self.images.head(key).await? {
                Some(head) if head.owner.as_deref() == Some(user_id) => {
                    let every_version = WrittenObject {
                        key: key.to_string(),
                        version_id: None,
                    };
                    self.images.delete(&every_version).await?;
                    deleted.push(key.to_string());
                }
                Some(_) => tracing::warn!(
                    key,
                    "an upload granted to another UserId was named; left alone"
                ),
                None => {}
            }
        }
        tracing::info!(deleted = deleted.len(), "uploads discarded");
        Ok(DiscardUploadsResult { deleted })
    }

    pub async fn handle(&self, request: UploadsRequest) -> Result<UploadsResult, HandlerError> {
        let user_id = validate::user_id(&request.user_id)?;
        // Every declaration is checked before anything is signed: a bad card refuses the selfie's URL too.
        uploads::check_declared(Slot::Selfie, &declared_of(&request.selfie))?;
        if let Some(card) = &request.id_card {
            uploads::check_declared(Slot::IdCard, &declared_of(card))?;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let selfie = self
            .sign(&id, Slot::Selfie, &request.selfie, user_id)
            .await?;
        let id_card = match &request.id_card {
            Some(card) => Some(self.sign(&id, Slot::IdCard, card, user_id).await?),
            None => None,
        };
        tracing::info!(upload = %id, card = id_card.is_some(), "upload URLs signed");
        Ok(UploadsResult {
            selfie,
            id_card,
            expires_in_seconds: uploads::URL_SECONDS,
        })
    }

    async fn sign(
        &self,
        id: &str,
        slot: Slot,
        declared: &DeclaredImage,
        owner: &str,
    ) -> Result<UploadTarget, HandlerError> {
        let key = uploads::key(id, slot);
        let put = self
            .signer
            .presign_put(
                &key,
                &declared.content_type,
                declared.content_length,
                owner,
                uploads::URL_SECONDS,
            )
            .await?;
        Ok(UploadTarget {
            key,
            method: "PUT".into(),
            url: put.url,
            headers: put.headers.into_iter().collect(),
        })
    }
}

fn declared_of(image: &DeclaredImage) -> Declared {
    Declared {
        content_type: image.content_type.clone(),
        content_length: image.content_length,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{photo, FakeStore};
    use crate::ports::{PresignedPut, ServiceError};
    use async_trait::async_trait;
    use riv_domain::Reason;
    use serde_json::json;
    use std::sync::Mutex;

    #[derive(Default)]
    struct RecordingSigner {
        signed: Mutex<Vec<(String, String, u64, String)>>,
    }

    #[async_trait]
    impl UploadSigner for RecordingSigner {
        async fn presign_put(
            &self,
            key: &str,
            content_type: &str,
            content_length: u64,
            owner: &str,
            seconds: u64,
        ) -> Result<PresignedPut, ServiceError> {
            assert_eq!(seconds, uploads::URL_SECONDS);
            self.signed.lock().unwrap().push((
                key.into(),
                content_type.into(),
                content_length,
                owner.into(),
            ));
            Ok(PresignedPut {
                url: format!("http://s3/{key}?sig"),
                headers: vec![("content-type".into(), content_type.into())],
            })
        }
    }

    fn image(content_type: &str, content_length: u64) -> DeclaredImage {
        DeclaredImage {
            content_type: content_type.into(),
            content_length,
        }
    }

    #[tokio::test]
    async fn a_selfie_and_a_card_get_urls_under_one_fresh_upload() {
        let signer = Arc::new(RecordingSigner::default());
        let uploads = Uploads {
            signer: signer.clone(),
            images: Arc::new(FakeStore::default()),
        };
        let request = UploadsRequest {
            user_id: "ann".into(),
            selfie: image("image/jpeg", 3_000_000),
            id_card: Some(image("image/png", 200_000)),
        };
        let first = uploads.handle(request.clone()).await.unwrap();
        let card = first.id_card.expect("a card URL");
        assert!(uploads::check_key(Slot::Selfie, &first.selfie.key).is_ok());
        assert!(uploads::check_key(Slot::IdCard, &card.key).is_ok());
        assert_eq!(first.selfie.method, "PUT");
        assert_eq!(
            first.selfie.key.rsplit_once('/').unwrap().0,
            card.key.rsplit_once('/').unwrap().0
        );
        let signed = signer.signed.lock().unwrap().clone();
        assert_eq!(signed[0].1, "image/jpeg");
        assert_eq!(signed[0].2, 3_000_000);
        assert_eq!(signed[0].3, "ann");
        assert_eq!(signed[1].1, "image/png");
        let second = uploads.handle(request).await.unwrap();
        assert_ne!(second.selfie.key, first.selfie.key);
    }

    #[tokio::test]
    async fn bad_declarations_are_refused_before_anything_is_signed() {
        let signer = Arc::new(RecordingSigner::default());
        let uploads = Uploads {
            signer: signer.clone(),
            images: Arc::new(FakeStore::default()),
        };
        let cases = [
            (
                "ann",
                image("image/jpeg", 3_000),
                Some(image("application/pdf", 3_000)),
            ),
            ("ann", image("image/gif", 3_000), None),
            ("ann", image("image/jpeg", 16 * 1024 * 1024), None),
            ("not a user id", image("image/jpeg", 3_000), None),
        ];
        for (user, selfie, id_card) in cases {
            let err = uploads
                .handle(UploadsRequest {
                    user_id: user.into(),
                    selfie,
                    id_card,
                })
                .await
                .unwrap_err();
            assert_eq!(err.reason(), Reason::InvalidRequest);
        }
        assert!(signer.signed.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_flow_discards_its_own_uploads_and_nothing_else() {
        let store = Arc::new(FakeStore::default());
        let uploads = Uploads {
            signer: Arc::new(RecordingSigner::default()),
            images: store.clone(),
        };
        let id = "0b6c3b1e-5f0a-4c39-9d0e-4a9f1f2f7a10";
        let other = "9f6c3b1e-5f0a-4c39-9d0e-4a9f1f2f7a11";
        let (selfie, card) = (
            uploads::key(id, Slot::Selfie),
            uploads::key(id, Slot::IdCard),
        );
        let bobs = uploads::key(other, Slot::IdCard);
        store.upload(&selfie, photo("ann"), "image/png", Some("ann"));
        store.upload(&selfie, photo("ann#2"), "image/png", Some("ann"));
        store.upload(&bobs, photo("bob"), "image/png", Some("bob"));
        store.upload("faces/ann/f.png", photo("ann"), "image/png", Some("ann"));
        let input = json!({"UserId": "ann", "ImageKey": selfie, "IdCardKey": bobs, "Image": "x"});
        let answer = uploads.call(UploadsCall::Discard(input)).await.unwrap();
        assert_eq!(json!(answer), json!({"Deleted": [selfie]}));
        assert_eq!(
            store.keys(),
            vec!["faces/ann/f.png".to_string(), bobs.clone()]
        );
        // A refused request may be anything at all: it discards nothing and does not fail.
        for input in [
            json!({"UserId": "ann", "ImageKey": "faces/ann/f.png"}),
            json!({"UserId": 7, "ImageKey": card}),
            json!("not an object"),
        ] {
            let result = uploads.discard(&input).await.unwrap();
            assert!(result.deleted.is_empty(), "{input}");
        }
        assert_eq!(store.keys().len(), 2);
    }
}
