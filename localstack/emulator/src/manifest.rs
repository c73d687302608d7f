//! What a test image shows, carried inside the image: a JSON manifest in a PNG `tEXt` chunk (keyword `riv`) or
//! a JPEG comment segment starting with `riv:`. The deterministic engine reads faces and card text from it, so
//! every quality case can be expressed with a real image file.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const PNG_KEYWORD: &str = "riv";
pub const JPEG_PREFIX: &[u8] = b"riv:";
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// A face in the picture. Fractions and degrees as Rekognition reports them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct FaceSpec {
    /// Who this is: faces of one identity match each other.
    pub identity: String,
    #[serde(default = "default_box")]
    pub bounding_box: [f32; 4],
    #[serde(default = "default_confidence")]
    pub confidence: f32,
    /// Pitch, roll, yaw in degrees.
    #[serde(default)]
    pub pose: [f32; 3],
    #[serde(default)]
    pub sunglasses: bool,
    #[serde(default = "yes")]
    pub eyes_open: bool,
    #[serde(default = "default_quality")]
    pub brightness: f32,
    #[serde(default = "default_quality")]
    pub sharpness: f32,
    /// Landmarks as Rekognition names them, x and y as ratios of the image; the deterministic engine places
    /// the default five from the box when the manifest gives none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub landmarks: Vec<Landmark>,
    /// How sure the engine is of `eyes_open` and `sunglasses` (the deterministic engine is sure).
    #[serde(default = "sure")]
    pub eyes_open_confidence: f32,
    #[serde(default = "sure")]
    pub sunglasses_confidence: f32,
    /// What else Rekognition tells of a face with `Attributes=ALL`; unremarkable unless the manifest says.
    #[serde(default)]
    pub traits: Traits,
}

/// A face's looks beyond quality: expression, hair, apparent age.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", default)]
pub struct Traits {
    pub smile: bool,
    pub mouth_open: bool,
    pub beard: bool,
    pub mustache: bool,
    /// Apparent age, low and high.
    pub age_range: [u32; 2],
    /// `Male` or `Female` when known; otherwise the answer carries a coin-flip confidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
}

impl Default for Traits {
    fn default() -> Self {
        Traits {
            smile: false,
            mouth_open: false,
            beard: false,
            mustache: false,
            age_range: [25, 35],
            gender: None,
        }
    }
}

/// One landmark, as in Rekognition's `Landmarks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Landmark {
    #[serde(rename = "type")]
    pub kind: String,
    pub x: f32,
    pub y: f32,
}

fn sure() -> f32 {
    98.0
}

fn default_box() -> [f32; 4] {
    // width, height, left, top
    [0.4, 0.5, 0.3, 0.2]
}

fn default_confidence() -> f32 {
    99.9
}

fn yes() -> bool {
    true
}

fn default_quality() -> f32 {
    85.0
}

impl FaceSpec {
    pub fn of(identity: &str) -> Self {
        FaceSpec {
            identity: identity.to_string(),
            bounding_box: default_box(),
            confidence: default_confidence(),
            pose: [0.0; 3],
            sunglasses: false,
            eyes_open: true,
            brightness: default_quality(),
            sharpness: default_quality(),
            landmarks: Vec::new(),
            eyes_open_confidence: sure(),
            sunglasses_confidence: sure(),
            traits: Traits::default(),
        }
    }
}

/// Everything an image shows.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Manifest {
    #[serde(default)]
    pub faces: Vec<FaceSpec>,
    /// Lines of printed text, top to bottom (what DetectText and DetectDocumentText read).
    #[serde(default)]
    pub text: Vec<String>,
    /// ID document fields as AnalyzeID reports them (`FIRST_NAME` → `JANE`); dates as printed.
    #[serde(default)]
    pub id_fields: BTreeMap<String, String>,
}

/// The manifest inside an image, if any. `None` for an image without one (it shows nothing).
pub fn read(image: &[u8]) -> Option<Manifest> {
    let json = if image.starts_with(&PNG_SIGNATURE) {
        png_text(image)?
    } else if image.starts_with(&[0xFF, 0xD8]) {
        jpeg_comment(image)?
    } else {
        return None;
    };
    serde_json::from_slice(&json).ok()
}

fn png_text(image: &[u8]) -> Option<Vec<u8>> {
    let mut at = PNG_SIGNATURE.len();
    while at + 8 <= image.len() {
        let len = u32::from_be_bytes(image[at..at + 4].try_into().ok()?) as usize;
        let kind = &image[at + 4..at + 8];
        let data = image.get(at + 8..at + 8 + len)?;
        if kind == b"tEXt" {
            let mut parts = data.splitn(2, |b| *b == 0);
            if parts.next() == Some(PNG_KEYWORD.as_bytes()) {
                return parts.next().map(<[u8]>::to_vec);
            }
        }
        if kind == b"IEND" {
            return None;
        }
        at += 12 + len;
    }
    None
}

fn jpeg_comment(image: &[u8]) -> Option<Vec<u8>> {
    let mut at = 2;
    while at + 4 <= image.len() {
        if image[at] != 0xFF {
            return None;
        }
        let marker = image[at + 1];
        // Start of scan: entropy-coded data follows, no more headers.
        if marker == 0xDA {
            return None;
        }
        let len = u16::from_be_bytes([image[at + 2], image[at + 3]]) as usize;
        let data = image.get(at + 4..at + 2 + len)?;
        if marker == 0xFE {
            if let Some(json) = data.strip_prefix(JPEG_PREFIX) {
                return Some(json.to_vec());
            }
        }
        at += 2 + len;
    }
    None
}

/// A PNG chunk: length, type, data, CRC over type and data.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = Vec::with_capacity(12 + data.len());
    chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    chunk.extend_from_slice(&crc.finalize().to_be_bytes());
    chunk
}

/// Adds the manifest to a PNG (after IHDR) or JPEG (after SOI).
pub fn embed(image: &[u8], manifest: &Manifest) -> Option<Vec<u8>> {
    let json = serde_json::to_vec(manifest).ok()?;
    if image.starts_with(&PNG_SIGNATURE) {
        // IHDR is always first and 25 bytes long with its header and CRC.
        let split = PNG_SIGNATURE.len() + 25;
        let mut text = PNG_KEYWORD.as_bytes().to_vec();
        text.push(0);
        text.extend_from_slice(&json);
        Some([&image[..split], &png_chunk(b"tEXt", &text), &image[split..]].concat())
    } else if image.starts_with(&[0xFF, 0xD8]) {
        let body = [JPEG_PREFIX, &json].concat();
        let len = u16::try_from(body.len() + 2).ok()?;
        let mut segment = vec![0xFF, 0xFE];
        segment.extend_from_slice(&len.to_be_bytes());
        segment.extend_from_slice(&body);
        Some([&image[..2], &segment, &image[2..]].concat())
    } else {
        None
    }
}
