//! The engine `--engine auto` runs: test images to the deterministic engine, real photos to the real one.

use crate::engine::{Deterministic, Engine, Face, TextLine};
use crate::error::Result;
use crate::manifest;

/// The deterministic engine for images that carry a manifest, the real one (when it could start) for all
/// others. Without a real engine, an image without a manifest shows nothing, as before.
pub struct Auto {
    pub real: Option<Box<dyn Engine>>,
}

impl Auto {
    fn pick(&self, image: &[u8]) -> &dyn Engine {
        match &self.real {
            Some(real) if manifest::read(image).is_none() => real.as_ref(),
            _ => &Deterministic,
        }
    }
}

impl Engine for Auto {
    fn faces(&self, image: &[u8]) -> Result<Vec<Face>> {
        self.pick(image).faces(image)
    }

    /// A real signature is only ever compared by the real engine, which finds a manifest identity unlike it.
    fn similarity(&self, a: &str, b: &str) -> f32 {
        if a.starts_with(crate::real::SIGNATURE_PREFIX)
            || b.starts_with(crate::real::SIGNATURE_PREFIX)
        {
            crate::real::similarity(a, b)
        } else {
            Deterministic.similarity(a, b)
        }
    }

    fn text(&self, image: &[u8]) -> Result<Vec<TextLine>> {
        self.pick(image).text(image)
    }

    fn id_fields(&self, image: &[u8]) -> Result<Vec<(String, String)>> {
        self.pick(image).id_fields(image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testimage::{self, Case, Format};

    /// Sees one face, with a real-looking signature, in whatever it is shown.
    struct Seeing;

    impl Engine for Seeing {
        fn faces(&self, _: &[u8]) -> Result<Vec<Face>> {
            Ok(vec![Face {
                signature: crate::real::signature(&[0.5; 128]),
                spec: manifest::FaceSpec::of(""),
            }])
        }
        fn similarity(&self, _: &str, _: &str) -> f32 {
            unreachable!("auto compares real signatures itself")
        }
        fn text(&self, _: &[u8]) -> Result<Vec<TextLine>> {
            Ok(Vec::new())
        }
        fn id_fields(&self, _: &[u8]) -> Result<Vec<(String, String)>> {
            Ok(vec![("LAST_NAME".into(), "REAL".into())])
        }
    }

    #[test]
    fn manifests_go_to_the_deterministic_engine_and_photos_to_the_real_one() {
        let auto = Auto {
            real: Some(Box::new(Seeing)),
        };
        let test_image = testimage::render(&testimage::case(Case::Selfie, "ann"), Format::Png);
        let from_manifest = auto.faces(&test_image).expect("faces");
        assert_eq!(from_manifest[0].signature, "ann");
        let photo = auto.faces(b"\xff\xd8 a photo").expect("faces");
        assert!(photo[0]
            .signature
            .starts_with(crate::real::SIGNATURE_PREFIX));
        assert_eq!(
            auto.similarity(&photo[0].signature, &photo[0].signature),
            100.0
        );
        assert_eq!(auto.similarity(&photo[0].signature, "ann"), 0.0);
        assert!(auto.similarity("ann", "ann") >= 99.0);
        assert_eq!(auto.id_fields(b"photo").expect("fields")[0].1, "REAL");
        let without_real = Auto { real: None };
        assert!(without_real
            .faces(b"\xff\xd8 a photo")
            .expect("faces")
            .is_empty());
    }
}
