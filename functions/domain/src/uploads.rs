//! Uploads: images of real size go to S3 through short-lived presigned URLs instead of through the API body
//! (which Step Functions caps at 256 KiB). What a caller may ask for, where the objects go, and what a stored
//! upload must look like before a flow trusts it. Every refusal is an `InvalidRequest` naming the field.

use crate::Rejection;

/// Where uploads live in the image bucket; a lifecycle rule expires whatever a flow did not delete.
pub const PREFIX: &str = "uploads/";
/// Days an abandoned upload is kept.
pub const EXPIRE_AFTER_DAYS: i64 = 1;
/// How long a presigned URL works: long enough for a slow phone connection, short enough to be useless later.
pub const URL_SECONDS: u64 = 300;
/// The object metadata naming the UserId an upload was granted to (`x-amz-meta-riv-user` on the wire).
pub const OWNER_METADATA: &str = "riv-user";
/// Content types an upload may declare.
pub const CONTENT_TYPES: [&str; 2] = ["image/jpeg", "image/png"];
/// Smallest upload accepted: anything smaller holds no usable face.
pub const MIN_BYTES: u64 = 1024;

/// The two images a flow may take from an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Selfie,
    IdCard,
}

impl Slot {
    /// The request field that names an upload of this slot.
    pub fn key_field(self) -> &'static str {
        match self {
            Slot::Selfie => "ImageKey",
            Slot::IdCard => "IdCardKey",
        }
    }

    /// The `POST /uploads` field that asks for this slot.
    pub fn request_field(self) -> &'static str {
        match self {
            Slot::Selfie => "Selfie",
            Slot::IdCard => "IdCard",
        }
    }

    /// Rekognition reads up to 15 MB from S3; a card needs far less, and Textract's synchronous limit is 10 MB.
    pub fn max_bytes(self) -> u64 {
        match self {
            Slot::Selfie => 15 * 1024 * 1024,
            Slot::IdCard => 10 * 1024 * 1024,
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            Slot::Selfie => "selfie",
            Slot::IdCard => "idcard",
        }
    }
}

/// The object key of one slot of upload `id` (a random UUID: keys are not guessable).
pub fn key(id: &str, slot: Slot) -> String {
    format!("{PREFIX}{id}/{}", slot.file_name())
}

/// What a caller declares about an image before uploading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub content_type: String,
    pub content_length: u64,
}

/// Checks a declaration against the slot's rules.
pub fn check_declared(slot: Slot, declared: &Declared) -> Result<(), Rejection> {
    let field = slot.request_field();
    if !CONTENT_TYPES.contains(&declared.content_type.as_str()) {
        return Err(Rejection::invalid(format!(
            "{field}.ContentType must be image/jpeg or image/png, not {:?}",
            declared.content_type
        )));
    }
    check_size(field, "ContentLength", slot, declared.content_length)
}

fn check_size(field: &str, what: &str, slot: Slot, bytes: u64) -> Result<(), Rejection> {
    let max = slot.max_bytes();
    if !(MIN_BYTES..=max).contains(&bytes) {
        return Err(Rejection::invalid(format!(
            "{field}: {what} {bytes} is outside {MIN_BYTES}..={max} bytes: send a JPEG or PNG photo of at most {} MB",
            max / (1024 * 1024)
        )));
    }
    Ok(())
}

/// What S3 says about a stored upload (HeadObject plus its first bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub content_type: Option<String>,
    pub content_length: u64,
    pub owner: Option<String>,
    /// The object's first bytes, enough to tell JPEG from PNG from anything else.
    pub head: Vec<u8>,
}

/// How many leading bytes [`check_stored`] needs.
pub const SNIFF_BYTES: u64 = 16;

/// Checks a key's shape before anything is read: only keys this API hands out are accepted.
pub fn check_key(slot: Slot, key: &str) -> Result<(), Rejection> {
    let field = slot.key_field();
    let id = key
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(&format!("/{}", slot.file_name())));
    let well_formed = id
        .is_some_and(|id| id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    if well_formed {
        Ok(())
    } else {
        Err(Rejection::invalid(format!(
            "{field} must be a key answered by POST /uploads for this image ({PREFIX}<id>/{}), not {key:?}",
            slot.file_name()
        )))
    }
}

/// The refusal of a key under which nothing was uploaded (or it expired).
pub fn missing(slot: Slot) -> Rejection {
    Rejection::invalid(format!(
        "{} names no uploaded object: upload the image to the URL POST /uploads answered (it works for {} minutes), then send the key",
        slot.key_field(),
        URL_SECONDS / 60
    ))
}

/// The part of [`check_stored`] that needs no byte of the object: it was granted to `user_id` and its size is
/// one the slot allows.
pub fn check_granted(
    slot: Slot,
    user_id: &str,
    owner: Option<&str>,
    content_length: u64,
) -> Result<(), Rejection> {
    let field = slot.key_field();
    // The same answer whether the key was granted to another UserId or to none: a key says nothing about
    // whose it is.
    if owner != Some(user_id) {
        return Err(Rejection::invalid(format!(
            "{field} was not uploaded for user {user_id}: ask POST /uploads with this UserId"
        )));
    }
    check_size(field, "the uploaded object's size", slot, content_length)
}

/// Checks that a stored upload belongs to `user_id` and is an image the slot accepts; `None` means the
/// object does not exist.
pub fn check_stored(
    slot: Slot,
    user_id: &str,
    stored: Option<&Stored>,
) -> Result<crate::validate::ImageFormat, Rejection> {
    let field = slot.key_field();
    let Some(stored) = stored else {
        return Err(missing(slot));
    };
    check_granted(
        slot,
        user_id,
        stored.owner.as_deref(),
        stored.content_length,
    )?;
    let declared = stored.content_type.as_deref().unwrap_or("none");
    let format = crate::validate::ImageFormat::sniff(&stored.head);
    match (format, declared) {
        (Some(f @ crate::validate::ImageFormat::Jpeg), "image/jpeg")
        | (Some(f @ crate::validate::ImageFormat::Png), "image/png") => Ok(f),
        _ => Err(Rejection::invalid(format!(
            "{field} is not a JPEG or PNG image (content type {declared}): upload a photo"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reason;

    const ID: &str = "0b6c3b1e-5f0a-4c39-9d0e-4a9f1f2f7a10";

    fn jpeg(owner: &str, len: u64) -> Stored {
        Stored {
            content_type: Some("image/jpeg".into()),
            content_length: len,
            owner: Some(owner.into()),
            head: vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10],
        }
    }

    fn message(r: Result<impl std::fmt::Debug, Rejection>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.reason(), Reason::InvalidRequest);
        e.to_string()
    }

    #[test]
    fn keys_are_per_upload_and_per_slot_and_nothing_else_passes() {
        assert_eq!(key(ID, Slot::Selfie), format!("uploads/{ID}/selfie"));
        assert!(check_key(Slot::Selfie, &key(ID, Slot::Selfie)).is_ok());
        assert!(check_key(Slot::IdCard, &key(ID, Slot::IdCard)).is_ok());
        for bad in [
            key(ID, Slot::IdCard),
            format!("faces/ann/{ID}.jpg"),
            format!("uploads/{ID}/../faces/selfie"),
            "uploads/x/selfie".into(),
            String::new(),
        ] {
            assert!(
                message(check_key(Slot::Selfie, &bad)).contains("ImageKey"),
                "{bad}"
            );
        }
    }

    #[test]
    fn declarations_are_limited_to_photos_of_a_sane_size() {
        let ok = |t: &str, n| Declared {
            content_type: t.into(),
            content_length: n,
        };
        assert!(check_declared(Slot::Selfie, &ok("image/jpeg", 3_000_000)).is_ok());
        assert!(check_declared(Slot::Selfie, &ok("image/png", 15 * 1024 * 1024)).is_ok());
        assert!(
            message(check_declared(Slot::Selfie, &ok("application/pdf", 3_000)))
                .contains("image/jpeg or image/png")
        );
        assert!(message(check_declared(
            Slot::Selfie,
            &ok("image/jpeg", 15 * 1024 * 1024 + 1)
        ))
        .contains("at most 15 MB"));
        assert!(message(check_declared(
            Slot::IdCard,
            &ok("image/jpeg", 11 * 1024 * 1024)
        ))
        .contains("IdCard"));
        assert!(check_declared(Slot::Selfie, &ok("image/jpeg", 10)).is_err());
    }

    #[test]
    fn a_stored_upload_must_be_the_users_and_a_real_image() {
        assert_eq!(
            check_stored(Slot::Selfie, "ann", Some(&jpeg("ann", 3_000_000))),
            Ok(crate::validate::ImageFormat::Jpeg)
        );
        assert!(
            message(check_stored(Slot::Selfie, "ann", None)).contains("names no uploaded object")
        );
        assert!(
            message(check_stored(Slot::Selfie, "ann", Some(&jpeg("bob", 3_000))))
                .contains("not uploaded for user ann")
        );
        let unowned = Stored {
            owner: None,
            ..jpeg("ann", 3_000)
        };
        assert!(check_stored(Slot::Selfie, "ann", Some(&unowned)).is_err());
        assert!(message(check_stored(
            Slot::Selfie,
            "ann",
            Some(&jpeg("ann", 16 * 1024 * 1024))
        ))
        .contains("size"));
        let pdf = Stored {
            content_type: Some("image/jpeg".into()),
            head: b"%PDF-1.7\n".to_vec(),
            ..jpeg("ann", 3_000)
        };
        assert!(
            message(check_stored(Slot::Selfie, "ann", Some(&pdf))).contains("not a JPEG or PNG")
        );
        let mislabelled = Stored {
            content_type: Some("application/pdf".into()),
            ..jpeg("ann", 3_000)
        };
        assert!(check_stored(Slot::Selfie, "ann", Some(&mislabelled)).is_err());
    }
}
