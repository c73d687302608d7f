//! Input rules: UserId syntax, images by magic bytes and size, and the Properties map. Every failure is an
//! `InvalidRequest` that says which field is wrong and why.

use crate::Rejection;
use base64::Engine as _;
use std::collections::BTreeMap;

/// Largest selfie accepted, decoded (Rekognition's own limit for image bytes).
pub const MAX_SELFIE_BYTES: usize = 5 * 1024 * 1024;
/// Largest ID card image accepted, decoded.
pub const MAX_IDCARD_BYTES: usize = 256 * 1024;
/// Longest UserId.
pub const MAX_USER_ID_LEN: usize = 128;
pub const MAX_PROPERTIES: usize = 50;
/// Properties a user keeps in all, whatever number of updates brought them.
pub const MAX_STORED_PROPERTIES: usize = 100;
/// Bytes of keys and values a user keeps in all: far below DynamoDB's 400 KB item, so a profile can never
/// grow until every write of it fails.
pub const MAX_STORED_PROPERTY_BYTES: usize = 32 * 1024;
pub const MAX_PROPERTY_KEY_LEN: usize = 128;
pub const MAX_PROPERTY_VALUE_LEN: usize = 1024;

/// Checks `^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$`.
pub fn user_id(raw: &str) -> Result<&str, Rejection> {
    let mut chars = raw.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if raw.len() <= MAX_USER_ID_LEN && first_ok && rest_ok {
        Ok(raw)
    } else {
        Err(Rejection::invalid(format!(
            "UserId must be 1 to {MAX_USER_ID_LEN} characters of letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )))
    }
}

/// Image encodings Rekognition accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ImageFormat {
    Jpeg,
    Png,
}

impl ImageFormat {
    pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
        const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if bytes.starts_with(PNG) {
            Some(ImageFormat::Png)
        } else {
            None
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
        }
    }
}

/// A decoded, format-checked image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub bytes: Vec<u8>,
    pub format: ImageFormat,
}

/// Decodes a base64 image field and checks its format and size. `field` names it in the error.
pub fn image(field: &str, base64: &str, max_bytes: usize) -> Result<Image, Rejection> {
    // Reject before decoding so a huge body costs no allocation.
    if base64.len() / 4 * 3 > max_bytes + 3 {
        return Err(too_large(field, max_bytes));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64.trim())
        .map_err(|_| Rejection::invalid(format!("{field} is not valid base64")))?;
    if bytes.is_empty() {
        return Err(Rejection::invalid(format!("{field} is empty")));
    }
    if bytes.len() > max_bytes {
        return Err(too_large(field, max_bytes));
    }
    let format = ImageFormat::sniff(&bytes)
        .ok_or_else(|| Rejection::invalid(format!("{field} is not a JPEG or PNG image")))?;
    Ok(Image { bytes, format })
}

fn too_large(field: &str, max_bytes: usize) -> Rejection {
    Rejection::invalid(format!(
        "{field} is larger than {} KiB: send a smaller image",
        max_bytes / 1024
    ))
}

/// Checks the caller-supplied Properties map.
pub fn properties(props: &BTreeMap<String, String>) -> Result<(), Rejection> {
    if props.len() > MAX_PROPERTIES {
        return Err(Rejection::invalid(format!(
            "Properties has {} entries, at most {MAX_PROPERTIES} are allowed",
            props.len()
        )));
    }
    for (key, value) in props {
        let key_ok = !key.is_empty()
            && key.len() <= MAX_PROPERTY_KEY_LEN
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !key_ok {
            return Err(Rejection::invalid(format!(
                "Properties key {:?} must be 1 to {MAX_PROPERTY_KEY_LEN} letters, digits, '_', '-' or '.'",
                truncate(key, 40)
            )));
        }
        if value.chars().count() > MAX_PROPERTY_VALUE_LEN {
            return Err(Rejection::invalid(format!(
                "Properties value of {key} is longer than {MAX_PROPERTY_VALUE_LEN} characters"
            )));
        }
        if is_reserved(key) {
            return Err(Rejection::invalid(format!(
                "Properties key {key} is reserved for data read from an ID card: choose another name"
            )));
        }
    }
    Ok(())
}

/// Names only an ID card may set, in any letter case.
pub fn is_reserved(key: &str) -> bool {
    crate::idcard::FIELDS
        .iter()
        .any(|f| f.eq_ignore_ascii_case(key))
}

/// Checks what a user would keep after an update merges the caller's Properties into the stored ones.
pub fn stored_properties(props: &BTreeMap<String, String>) -> Result<(), Rejection> {
    let bytes: usize = props.iter().map(|(k, v)| k.len() + v.len()).sum();
    if props.len() > MAX_STORED_PROPERTIES || bytes > MAX_STORED_PROPERTY_BYTES {
        return Err(Rejection::invalid(format!(
            "the user would keep {} Properties of {bytes} bytes, at most {MAX_STORED_PROPERTIES} of \
             {MAX_STORED_PROPERTY_BYTES} bytes in all are allowed: send fewer or shorter ones",
            props.len()
        )));
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reason;
    use base64::engine::general_purpose::STANDARD;

    const PNG_HEADER: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0];

    #[test]
    fn user_ids_follow_the_contract() {
        let long_ok = "a".repeat(128);
        let too_long = "a".repeat(129);
        let table: [(&str, bool); 12] = [
            ("ann", true),
            ("Ann.Lee_2@example.com", true),
            ("0-x", true),
            (&long_ok, true),
            ("", false),
            (&too_long, false),
            ("../x", false),
            (".ann", false),
            ("-ann", false),
            ("ann lee", false),
            ("anné", false),
            ("a/b", false),
        ];
        for (id, ok) in table {
            assert_eq!(user_id(id).is_ok(), ok, "{id:?}");
        }
        assert_eq!(user_id("x y").unwrap_err().reason(), Reason::InvalidRequest);
    }

    #[test]
    fn images_are_recognised_by_magic_bytes() {
        let png = image("Image", &STANDARD.encode(PNG_HEADER), MAX_SELFIE_BYTES).unwrap();
        assert_eq!(png.format, ImageFormat::Png);
        let jpeg = image(
            "Image",
            &STANDARD.encode([0xFF, 0xD8, 0xFF, 0xE0]),
            MAX_SELFIE_BYTES,
        )
        .unwrap();
        assert_eq!(jpeg.format, ImageFormat::Jpeg);
        assert_eq!(jpeg.format.extension(), "jpg");
    }

    #[test]
    fn bad_images_are_invalid_requests_naming_the_field() {
        let gif = STANDARD.encode(b"GIF89a....");
        let big = STANDARD.encode(vec![0xFFu8; MAX_IDCARD_BYTES + 1]);
        let cases = [
            ("not base64!!", "not valid base64"),
            ("", "empty"),
            (gif.as_str(), "not a JPEG or PNG"),
            (big.as_str(), "larger than 256 KiB"),
        ];
        for (input, expected) in cases {
            let err = image("IdCard", input, MAX_IDCARD_BYTES).unwrap_err();
            assert_eq!(err.reason(), Reason::InvalidRequest);
            let text = err.to_string();
            assert!(text.contains("IdCard") && text.contains(expected), "{text}");
        }
    }

    #[test]
    fn an_image_at_the_limit_is_accepted() {
        let mut bytes = vec![0u8; MAX_IDCARD_BYTES];
        bytes[..PNG_HEADER.len()].copy_from_slice(PNG_HEADER);
        assert!(image("IdCard", &STANDARD.encode(&bytes), MAX_IDCARD_BYTES).is_ok());
    }

    #[test]
    fn properties_are_bounded() {
        let ok: BTreeMap<_, _> = [("dept".to_string(), "sales".to_string())].into();
        assert!(properties(&ok).is_ok());
        let bad_key: BTreeMap<_, _> = [("a b".to_string(), "x".to_string())].into();
        assert!(properties(&bad_key).is_err());
        let long_value: BTreeMap<_, _> = [("k".to_string(), "x".repeat(1025))].into();
        assert!(properties(&long_value).is_err());
        let many: BTreeMap<_, _> = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(properties(&many).is_err());
    }

    #[test]
    fn card_field_names_are_reserved_in_any_case() {
        for key in ["LAST_NAME", "last_name", "Document_Number"] {
            let props: BTreeMap<_, _> = [(key.to_string(), "x".to_string())].into();
            let err = properties(&props).unwrap_err();
            assert!(err.to_string().contains("reserved"), "{err}");
        }
        let fine: BTreeMap<_, _> = [("LAST_NAME_X".to_string(), "x".to_string())].into();
        assert!(properties(&fine).is_ok());
    }

    #[test]
    fn what_a_user_keeps_is_bounded_in_count_and_bytes() {
        let at_limit: BTreeMap<_, _> = (0..MAX_STORED_PROPERTIES)
            .map(|i| (format!("k{i:03}"), "v".repeat(100)))
            .collect();
        assert!(stored_properties(&at_limit).is_ok());
        let mut too_many = at_limit.clone();
        too_many.insert("one-more".into(), String::new());
        assert!(stored_properties(&too_many).is_err());
        let too_big: BTreeMap<_, _> = (0..40)
            .map(|i| (format!("k{i}"), "v".repeat(1000)))
            .collect();
        let err = stored_properties(&too_big).unwrap_err();
        assert!(err.to_string().contains("bytes"), "{err}");
    }
}
