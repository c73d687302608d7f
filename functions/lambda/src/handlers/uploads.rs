//! `uploads` Lambda (`POST /uploads`): presigned PUT URLs for a selfie and optionally an ID card, each under a
//! fresh random key, signed for the declared type and exact size and for the UserId as owner metadata. A flow
//! that takes such a key must check the stored object again (`riv_domain::uploads::check_stored`): what a
//! caller declared is not what it uploaded.

use crate::ports::UploadSigner;
use crate::HandlerError;
use riv_domain::events::{DeclaredImage, UploadTarget, UploadsRequest, UploadsResult};
use riv_domain::uploads::{self, Declared, Slot};
use riv_domain::validate;
use std::sync::Arc;

pub struct Uploads {
    pub signer: Arc<dyn UploadSigner>,
}

impl Uploads {
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
    use crate::ports::{PresignedPut, ServiceError};
    use async_trait::async_trait;
    use riv_domain::Reason;
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
}
