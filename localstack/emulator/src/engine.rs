//! Face and text engines behind one trait: the deterministic engine believes the manifest inside the image, so
//! tests can state every case exactly; the real one (`crate::real`) looks at the pixels; `crate::auto` sends
//! each image to the one it is for.

use crate::error::Result;
use crate::manifest::{self, FaceSpec};

/// A face found in an image, with an opaque signature the engine compares.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    pub signature: String,
    pub spec: FaceSpec,
}

/// A line of printed text, with its box (width, height, left, top as ratios of the image).
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    pub text: String,
    pub confidence: f32,
    pub bounding_box: [f32; 4],
}

pub trait Engine: Send + Sync {
    /// Every face in the image, largest first; an error for an image the engine cannot read.
    fn faces(&self, image: &[u8]) -> Result<Vec<Face>>;
    /// Similarity (0–100) of two faces' signatures.
    fn similarity(&self, a: &str, b: &str) -> f32;
    /// Printed lines, top to bottom.
    fn text(&self, image: &[u8]) -> Result<Vec<TextLine>>;
    /// ID document fields (AnalyzeID's `Type` → value as printed).
    fn id_fields(&self, image: &[u8]) -> Result<Vec<(String, String)>>;
}

/// Which engine answers: `auto` sends an image with a manifest to the deterministic engine and any other to
/// the real one.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    #[default]
    Auto,
    Real,
    Deterministic,
}

impl EngineChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineChoice::Auto => "auto",
            EngineChoice::Real => "real",
            EngineChoice::Deterministic => "deterministic",
        }
    }
}

impl std::fmt::Display for EngineChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EngineChoice {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(EngineChoice::Auto),
            "real" => Ok(EngineChoice::Real),
            "deterministic" => Ok(EngineChoice::Deterministic),
            other => Err(format!(
                "unknown engine {other:?}: auto, real or deterministic"
            )),
        }
    }
}

/// Reads faces and text from the image's manifest; an image without one shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Deterministic;

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Five landmarks where a face of the given box (width, height, left, top) has them on average, so the
/// deterministic engine's answers carry Rekognition's default landmarks too.
fn template_landmarks(b: [f32; 4]) -> Vec<manifest::Landmark> {
    [
        ("eyeLeft", 0.3, 0.38),
        ("eyeRight", 0.7, 0.38),
        ("mouthLeft", 0.35, 0.75),
        ("mouthRight", 0.65, 0.75),
        ("nose", 0.5, 0.58),
    ]
    .iter()
    .map(|(kind, x, y)| manifest::Landmark {
        kind: kind.to_string(),
        x: b[2] + x * b[0],
        y: b[3] + y * b[1],
    })
    .collect()
}

impl Engine for Deterministic {
    fn faces(&self, image: &[u8]) -> Result<Vec<Face>> {
        let mut faces: Vec<Face> = manifest::read(image)
            .map(|m| m.faces)
            .unwrap_or_default()
            .into_iter()
            .map(|mut spec| {
                if spec.landmarks.is_empty() {
                    spec.landmarks = template_landmarks(spec.bounding_box);
                }
                Face {
                    signature: spec.identity.clone(),
                    spec,
                }
            })
            .collect();
        let area = |f: &Face| f.spec.bounding_box[0] * f.spec.bounding_box[1];
        faces.sort_by(|a, b| area(b).total_cmp(&area(a)));
        Ok(faces)
    }

    /// Same identity: 99.0–99.8; different: 2.0–19.9. Stable for a pair, whatever the order.
    fn similarity(&self, a: &str, b: &str) -> f32 {
        if a == b {
            return 99.0 + (fnv(a.as_bytes()) % 9) as f32 / 10.0;
        }
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        2.0 + (fnv(format!("{lo}\0{hi}").as_bytes()) % 180) as f32 / 10.0
    }

    /// The manifest's lines, laid out evenly down the image.
    fn text(&self, image: &[u8]) -> Result<Vec<TextLine>> {
        let lines = manifest::read(image).map(|m| m.text).unwrap_or_default();
        let count = lines.len().max(1) as f32;
        Ok(lines
            .into_iter()
            .enumerate()
            .map(|(i, text)| TextLine {
                text,
                confidence: 99.0,
                bounding_box: [0.8, 0.8 / count, 0.1, i as f32 / count],
            })
            .collect())
    }

    fn id_fields(&self, image: &[u8]) -> Result<Vec<(String, String)>> {
        Ok(manifest::read(image)
            .map(|m| m.id_fields.into_iter().collect())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_separates_identities() {
        let e = Deterministic;
        for (a, b) in [("ann", "bob"), ("x", "y"), ("ann", "ann-companion")] {
            let same = e.similarity(a, a);
            let different = e.similarity(a, b);
            assert!((99.0..100.0).contains(&same), "{same}");
            assert!(different <= 20.0, "{different}");
            assert_eq!(different, e.similarity(b, a));
        }
    }
}
