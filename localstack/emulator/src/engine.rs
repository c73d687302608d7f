//! Face and text engines behind one trait. This crate ships the deterministic engine: it believes the
//! manifest inside the image, so tests can state every case exactly.

use crate::manifest::{self, FaceSpec};

/// A face found in an image, with an opaque signature the engine compares.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    pub signature: String,
    pub spec: FaceSpec,
}

pub trait Engine: Send + Sync {
    /// Every face in the image, largest first.
    fn faces(&self, image: &[u8]) -> Vec<Face>;
    /// Similarity (0–100) of two faces' signatures.
    fn similarity(&self, a: &str, b: &str) -> f32;
    /// Printed lines, top to bottom.
    fn text(&self, image: &[u8]) -> Vec<String>;
    /// ID document fields (AnalyzeID's `Type` → value as printed).
    fn id_fields(&self, image: &[u8]) -> Vec<(String, String)>;
}

/// Reads faces and text from the image's manifest; an image without one shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Deterministic;

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Engine for Deterministic {
    fn faces(&self, image: &[u8]) -> Vec<Face> {
        let mut faces: Vec<Face> = manifest::read(image)
            .map(|m| m.faces)
            .unwrap_or_default()
            .into_iter()
            .map(|spec| Face {
                signature: spec.identity.clone(),
                spec,
            })
            .collect();
        let area = |f: &Face| f.spec.bounding_box[0] * f.spec.bounding_box[1];
        faces.sort_by(|a, b| area(b).total_cmp(&area(a)));
        faces
    }

    /// Same identity: 99.0–99.8; different: 2.0–19.9. Stable for a pair, whatever the order.
    fn similarity(&self, a: &str, b: &str) -> f32 {
        if a == b {
            return 99.0 + (fnv(a.as_bytes()) % 9) as f32 / 10.0;
        }
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        2.0 + (fnv(format!("{lo}\0{hi}").as_bytes()) % 180) as f32 / 10.0
    }

    fn text(&self, image: &[u8]) -> Vec<String> {
        manifest::read(image).map(|m| m.text).unwrap_or_default()
    }

    fn id_fields(&self, image: &[u8]) -> Vec<(String, String)> {
        manifest::read(image)
            .map(|m| m.id_fields.into_iter().collect())
            .unwrap_or_default()
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
