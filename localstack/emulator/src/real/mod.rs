//! The real engine: faces from dlib (in the `riv-face-engine` worker process, since dlib is a native library
//! the rest of the workspace must build without), text from Tesseract. It is not Rekognition: its thresholds are
//! calibrated on a handful of photos (`localstack/emulator/fixtures/faces`), enough for a developer's photos
//! to go through the local stack, not to measure accuracy.

pub mod geometry;
pub mod idcard;
pub mod models;
pub mod ocr;
pub mod photo;
pub mod worker;

use crate::engine::{Engine, Face, TextLine};
use crate::error::{AwsError, Result};
use crate::manifest::FaceSpec;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A face as the worker reports it: what Rekognition describes, and dlib's 128-d embedding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysed {
    pub spec: FaceSpec,
    pub embedding: Vec<f32>,
}

/// Marks a signature as a dlib embedding, so the auto engine never compares it with a manifest identity.
pub const SIGNATURE_PREFIX: &str = "dlib:";

pub fn signature(embedding: &[f32]) -> String {
    let bytes: Vec<u8> = embedding.iter().flat_map(|v| v.to_le_bytes()).collect();
    format!(
        "{SIGNATURE_PREFIX}{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
    )
}

pub fn embedding(signature: &str) -> Option<Vec<f32>> {
    let encoded = signature.strip_prefix(SIGNATURE_PREFIX)?;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(encoded)
        .ok()?;
    (bytes.len() % 4 == 0).then(|| {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

/// The distance at which two faces are as likely the same person as not: dlib's own recommended threshold.
pub const EVEN_DISTANCE: f32 = 0.6;
/// How fast similarity falls around `EVEN_DISTANCE`: chosen so that a distance of 0.5 maps to 95, the stack's
/// default FaceMatchThreshold. So the default matches only faces closer than 0.5, stricter than dlib's 0.6.
pub const DISTANCE_SCALE: f32 = 0.034;

/// Rekognition-scale similarity (0–100) of two embeddings' Euclidean distance: a logistic curve,
/// `100 / (1 + e^((d - 0.6) / 0.034))`.
///
/// Calibration (dlib_face_recognition_resnet_model_v1, the fixtures of `localstack/emulator/fixtures/faces`):
/// photos of one person lie 0.34–0.42 apart (similarity 99.5–99.95), of different people 0.75–0.90 (under
/// 1.2);
/// `cargo xtask bench engine` prints the whole table. Distance 0.5 → 95, 0.55 → 81, 0.6 → 50, 0.65 → 19.
pub fn similarity_of_distance(distance: f32) -> f32 {
    100.0 / (1.0 + ((distance - EVEN_DISTANCE) / DISTANCE_SCALE).exp())
}

/// The similarity of two dlib signatures; 0 when either is not one (a face of the deterministic engine).
pub fn similarity(a: &str, b: &str) -> f32 {
    match (embedding(a), embedding(b)) {
        (Some(a), Some(b)) if a.len() == b.len() => {
            let distance = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f32>()
                .sqrt();
            similarity_of_distance(distance)
        }
        _ => 0.0,
    }
}

/// Faces through the worker, text through Tesseract (when installed).
pub struct Real {
    pub faces: worker::FaceWorker,
    pub ocr: Option<ocr::Tesseract>,
}

/// What the real engine needs, for the one message a machine without it gets.
pub const NEEDS: &str =
    "the real engine needs dlib and Tesseract (apt-get install libdlib-dev libopenblas-dev \
     tesseract-ocr, then `cargo build --release -p riv-face-engine`) and the models of PyPI's \
     face_recognition_models 0.3.0 in .riv/models: `cargo xtask local up` installs all three";

impl Real {
    /// Starts the face worker (`program --models models`) and finds Tesseract.
    pub fn start(
        program: &std::path::Path,
        models: &std::path::Path,
    ) -> std::result::Result<Self, String> {
        if !models::present(models) {
            return Err(format!("no dlib models in {}", models.display()));
        }
        let faces = worker::FaceWorker::start(program, models).map_err(|e| e.to_string())?;
        let ocr = ocr::Tesseract::find();
        if ocr.is_none() {
            tracing::warn!("tesseract not found: DetectText and AnalyzeID on real images will fail until {} is installed", ocr::NEEDS);
        }
        Ok(Real { faces, ocr })
    }

    fn ocr(&self) -> Result<&ocr::Tesseract> {
        self.ocr
            .as_ref()
            .ok_or_else(|| AwsError::internal(format!("the emulator's OCR needs {}", ocr::NEEDS)))
    }
}

impl Engine for Real {
    fn faces(&self, image: &[u8]) -> Result<Vec<Face>> {
        let started = std::time::Instant::now();
        let mut faces: Vec<Face> = self
            .faces
            .analyse(image)?
            .into_iter()
            .map(|a| Face {
                signature: signature(&a.embedding),
                spec: a.spec,
            })
            .collect();
        let area = |f: &Face| f.spec.bounding_box[0] * f.spec.bounding_box[1];
        faces.sort_by(|a, b| area(b).total_cmp(&area(a)));
        tracing::info!(
            faces = faces.len(),
            millis = started.elapsed().as_millis() as u64,
            "real engine: faces"
        );
        Ok(faces)
    }

    fn similarity(&self, a: &str, b: &str) -> f32 {
        similarity(a, b)
    }

    fn text(&self, image: &[u8]) -> Result<Vec<TextLine>> {
        let started = std::time::Instant::now();
        let lines = self.ocr()?.lines(image)?;
        tracing::info!(
            lines = lines.len(),
            millis = started.elapsed().as_millis() as u64,
            "real engine: text"
        );
        Ok(lines)
    }

    fn id_fields(&self, image: &[u8]) -> Result<Vec<(String, String)>> {
        let lines = self.text(image)?;
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        Ok(idcard::fields(&texts))
    }
}

impl From<photo::PhotoError> for AwsError {
    fn from(e: photo::PhotoError) -> Self {
        match e {
            photo::PhotoError::Format(_) => {
                AwsError::new("InvalidImageFormatException", e.to_string())
            }
            photo::PhotoError::TooLarge { .. } => {
                AwsError::new("ImageTooLargeException", e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_threshold_sits_at_distance_one_half() {
        assert!((similarity_of_distance(0.5) - 95.0).abs() < 0.1);
        assert!(similarity_of_distance(0.43) > 99.0);
        assert!(similarity_of_distance(0.70) < 5.1);
        assert!((similarity_of_distance(EVEN_DISTANCE) - 50.0).abs() < 1e-3);
    }

    #[test]
    fn signatures_round_trip_and_never_match_a_manifest_identity() {
        let a: Vec<f32> = (0..128).map(|i| i as f32 / 1000.0).collect();
        let mut b = a.clone();
        b[0] += 0.3;
        assert_eq!(embedding(&signature(&a)), Some(a.clone()));
        assert!(
            (similarity(&signature(&a), &signature(&b)) - similarity_of_distance(0.3)).abs() < 1e-3
        );
        assert_eq!(similarity(&signature(&a), "alice"), 0.0);
        assert_eq!(similarity("alice", "alice"), 0.0);
    }
}
