//! Images as the functions take them: `detect-faces` turns what the caller sent (inline bytes or an upload's
//! key) into an [`ImageRef`] after checking it, and every later step turns that into a [`Picture`] a service
//! reads. An upload is named to Rekognition and Textract as an `S3Object` at the version that was checked; its
//! bytes never pass through a function.

use crate::ports::{ImageStore, Picture, ServiceError, StoredPicture};
use crate::HandlerError;
use riv_domain::events::{ImageRef, UploadedImage, WrittenObject};
use riv_domain::uploads::{self, Slot};
use riv_domain::validate::{self, ImageFormat};

/// An image ready for a service, with its encoding.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Photo {
    pub picture: Picture,
    pub format: ImageFormat,
}

/// The request field of a slot's inline image and its size limit.
fn inline_field(slot: Slot) -> (&'static str, usize) {
    match slot {
        Slot::Selfie => ("Image", validate::MAX_SELFIE_BYTES),
        Slot::IdCard => ("IdCard", validate::MAX_IDCARD_BYTES),
    }
}

/// An image a step was handed. Only `detect-faces` makes an `Upload` reference, from a verified upload; its
/// key's shape is checked again so that nothing else in the bucket can ever be named.
pub(crate) fn resolve(slot: Slot, image: &ImageRef, bucket: &str) -> Result<Photo, HandlerError> {
    match image {
        ImageRef::Inline(base64) => {
            let (field, max) = inline_field(slot);
            let image = validate::image(field, base64, max)?;
            Ok(Photo {
                picture: Picture::Bytes(image.bytes),
                format: image.format,
            })
        }
        ImageRef::Upload(upload) => {
            uploads::check_key(slot, &upload.key)?;
            Ok(Photo {
                picture: Picture::Stored(StoredPicture {
                    bucket: bucket.to_string(),
                    key: upload.key.clone(),
                    version_id: upload.version_id.clone(),
                }),
                format: upload.format,
            })
        }
    }
}

/// Stores a photo under `key`: writes bytes sent inline, copies an upload (at its checked version) inside the
/// bucket.
pub(crate) async fn keep(
    store: &dyn ImageStore,
    photo: &Photo,
    key: &str,
) -> Result<WrittenObject, ServiceError> {
    let content_type = photo.format.content_type();
    match &photo.picture {
        Picture::Bytes(bytes) => store.put(key, bytes.clone(), content_type).await,
        Picture::Stored(object) => {
            let from = WrittenObject {
                key: object.key.clone(),
                version_id: object.version_id.clone(),
            };
            store.copy(&from, key, content_type).await
        }
    }
}

/// A checked upload and its ETag (two slots holding the same bytes share it).
pub(crate) struct Verified {
    pub image: UploadedImage,
    pub e_tag: Option<String>,
}

/// Checks what was uploaded under `key` for `user_id`: a key this API hands out, an object that exists, was
/// granted to this UserId, has a size the slot allows and starts like the JPEG or PNG its type says. Reads
/// only: a refused key changes nothing.
pub(crate) async fn verify_upload(
    store: &dyn ImageStore,
    slot: Slot,
    user_id: &str,
    key: &str,
) -> Result<Verified, HandlerError> {
    uploads::check_key(slot, key)?;
    let Some(head) = store.head(key).await? else {
        return Err(uploads::missing(slot).into());
    };
    // Owner and size first: a stranger's or an oversize object is refused without reading a byte of it.
    uploads::check_granted(slot, user_id, head.owner.as_deref(), head.content_length)?;
    let version = WrittenObject {
        key: key.to_string(),
        version_id: head.version_id.clone(),
    };
    let stored = uploads::Stored {
        content_type: head.content_type,
        content_length: head.content_length,
        owner: head.owner,
        head: store.read_start(&version, uploads::SNIFF_BYTES).await?,
    };
    let format = uploads::check_stored(slot, user_id, Some(&stored))?;
    Ok(Verified {
        image: UploadedImage {
            key: key.to_string(),
            version_id: head.version_id,
            format,
        },
        e_tag: head.e_tag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{photo, FakeStore};
    use riv_domain::Reason;

    const KEY: &str = "uploads/0b6c3b1e-5f0a-4c39-9d0e-4a9f1f2f7a10/selfie";

    #[tokio::test]
    async fn an_upload_is_pinned_to_the_version_that_was_checked() {
        let store = FakeStore::default();
        let mut bytes = photo("ann");
        bytes.resize(4096, 0);
        let version = store.upload(KEY, bytes, "image/png", Some("ann"));
        let verified = verify_upload(&store, Slot::Selfie, "ann", KEY)
            .await
            .unwrap();
        assert_eq!(verified.image.version_id.as_deref(), Some(version.as_str()));
        assert_eq!(verified.image.format, ImageFormat::Png);
        let photo = resolve(Slot::Selfie, &ImageRef::Upload(verified.image), "bkt").unwrap();
        assert_eq!(
            photo.picture,
            Picture::Stored(StoredPicture {
                bucket: "bkt".into(),
                key: KEY.into(),
                version_id: Some(version),
            })
        );
    }

    #[tokio::test]
    async fn a_strangers_or_oversize_upload_is_refused_without_reading_it() {
        let store = FakeStore::default();
        store.upload(KEY, vec![0xFF; 4096], "image/png", Some("bob"));
        store.faults.fail("GetObject");
        let err = verify_upload(&store, Slot::Selfie, "ann", KEY)
            .await
            .err()
            .unwrap();
        assert_eq!(err.reason(), Reason::InvalidRequest);
        assert!(
            err.to_string().contains("not uploaded for user ann"),
            "{err}"
        );
        assert_eq!(store.faults.calls("GetObject"), 0);
    }

    #[tokio::test]
    async fn a_key_naming_anything_but_an_upload_is_refused_at_every_step() {
        let store = FakeStore::default();
        let face = "faces/ann/f1.png";
        store.upload(face, photo("ann"), "image/png", Some("ann"));
        let err = verify_upload(&store, Slot::Selfie, "ann", face)
            .await
            .err()
            .unwrap();
        assert_eq!(err.reason(), Reason::InvalidRequest);
        assert_eq!(store.faults.calls("HeadObject"), 0);
        let forged = ImageRef::Upload(UploadedImage {
            key: face.into(),
            version_id: None,
            format: ImageFormat::Png,
        });
        let err = resolve(Slot::Selfie, &forged, "bkt").unwrap_err();
        assert_eq!(err.reason(), Reason::InvalidRequest);
    }
}
