//! The real face engine: dlib's HOG face detector, its 68-point shape predictor and its ResNet face embedding
//! (the models of PyPI's `face_recognition_models`), measured into what Rekognition reports by the pure
//! functions of `riv_emulator::real`. The emulator runs it as a worker process (`riv-face-engine --models DIR`)
//! so that only this crate links dlib.

use dlib_face_recognition::{
    FaceDetector, FaceDetectorTrait, FaceEncoderNetwork, FaceEncoderTrait, ImageMatrix,
    LandmarkPredictor, LandmarkPredictorTrait, Rectangle,
};
use image::RgbImage;
use riv_emulator::manifest::{FaceSpec, Landmark};
use riv_emulator::real::geometry::{self, Point};
use riv_emulator::real::photo::{self, PhotoError, Region};
use riv_emulator::real::{models, Analysed};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("cannot load the dlib model {path}: {detail}")]
pub struct LoadError {
    pub path: PathBuf,
    pub detail: String,
}

pub struct FaceEngine {
    detector: FaceDetector,
    landmarks: LandmarkPredictor,
    encoder: FaceEncoderNetwork,
}

/// A HOG detection carries no calibrated probability (and the bindings do not expose its score). Faces at least
/// this many pixels tall are reported at 99.9, smaller ones lower, down to 90 at half that, because small
/// detections are the unreliable ones.
const CONFIDENT_FACE_PX: f32 = 80.0;

/// How much taller than dlib's box Rekognition's is, above the brows.
const FOREHEAD: f32 = 0.25;

fn confidence(face_height: f32) -> f32 {
    let t = ((face_height - CONFIDENT_FACE_PX / 2.0) / (CONFIDENT_FACE_PX / 2.0)).clamp(0.0, 1.0);
    90.0 + 9.9 * t
}

impl FaceEngine {
    pub fn load(models: &Path) -> Result<Self, LoadError> {
        let path = |file: &str| models.join(file);
        let landmarks_path = path(models::LANDMARKS);
        let encoder_path = path(models::ENCODER);
        let landmarks = LandmarkPredictor::open(&landmarks_path).map_err(|detail| LoadError {
            path: landmarks_path,
            detail,
        })?;
        let encoder = FaceEncoderNetwork::open(&encoder_path).map_err(|detail| LoadError {
            path: encoder_path,
            detail,
        })?;
        Ok(FaceEngine {
            detector: FaceDetector::new(),
            landmarks,
            encoder,
        })
    }

    /// Every face in an encoded JPEG or PNG.
    pub fn analyse(&self, bytes: &[u8]) -> Result<Vec<Analysed>, PhotoError> {
        let (small, _) = photo::for_analysis(photo::decode(bytes)?);
        Ok(self.analyse_image(&small))
    }

    /// Every face in a decoded photo (already at analysis size).
    pub fn analyse_image(&self, image: &RgbImage) -> Vec<Analysed> {
        let matrix = ImageMatrix::from_image(image);
        let rects: Vec<Rectangle> = self.detector.face_locations(&matrix).to_vec();
        if rects.is_empty() {
            return Vec::new();
        }
        let shapes: Vec<_> = rects
            .iter()
            .map(|r| self.landmarks.face_landmarks(&matrix, r))
            .collect();
        let encodings = self.encoder.get_face_encodings(&matrix, &shapes, 0);
        let gray = photo::luminance(image);
        let (width, height) = (image.width() as f32, image.height() as f32);
        rects
            .iter()
            .zip(&shapes)
            .zip(encodings.iter())
            .map(|((rect, shape), encoding)| {
                let points: Vec<Point> =
                    shape.iter().map(|p| (p.x() as f32, p.y() as f32)).collect();
                let left = (rect.left as f32).max(0.0);
                let top = (rect.top as f32).max(0.0);
                let right = (rect.right as f32).min(width - 1.0);
                let bottom = (rect.bottom as f32).min(height - 1.0);
                let region = Region {
                    left,
                    top,
                    width: right - left,
                    height: bottom - top,
                };
                // dlib's box runs from the brows to the chin; Rekognition's takes in the forehead too.
                let forehead = (region.height * FOREHEAD).min(top);
                let (eyes_open, eyes_open_confidence) = geometry::eyes_open(&points);
                let (sunglasses, sunglasses_confidence) = geometry::sunglasses(&points, &gray);
                let spec = FaceSpec {
                    identity: String::new(),
                    bounding_box: [
                        region.width / width,
                        (region.height + forehead) / height,
                        left / width,
                        (top - forehead) / height,
                    ],
                    confidence: confidence(region.height),
                    pose: geometry::pose(&points),
                    sunglasses,
                    eyes_open,
                    brightness: photo::brightness(&gray, region),
                    sharpness: photo::sharpness(&gray, region),
                    landmarks: geometry::landmarks(&points, width, height)
                        .into_iter()
                        .map(|(kind, x, y)| Landmark { kind, x, y })
                        .collect(),
                    eyes_open_confidence,
                    sunglasses_confidence,
                    traits: geometry::traits(&points),
                };
                Analysed {
                    spec,
                    embedding: encoding.as_ref().iter().map(|v| *v as f32).collect(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_faces_are_reported_with_less_confidence() {
        assert_eq!(super::confidence(200.0), 99.9);
        assert_eq!(super::confidence(40.0), 90.0);
        assert!((super::confidence(60.0) - 94.95).abs() < 1e-3);
    }
}
