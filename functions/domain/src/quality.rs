//! The selfie quality gate: exactly one confident face, head pose within limits, no sunglasses, eyes open,
//! bright and sharp enough, and large enough in the frame. Rules run in that order; the first failure wins.

use crate::config::QualityConfig;
use crate::Rejection;
use serde::{Deserialize, Serialize};

/// Box of a face, as fractions (0–1) of the image's width and height.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BoundingBox {
    pub width: f32,
    pub height: f32,
    pub left: f32,
    pub top: f32,
}

/// Head orientation in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pose {
    pub pitch: f32,
    pub roll: f32,
    pub yaw: f32,
}

/// A yes/no attribute with the detector's confidence (0–100) in it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attribute {
    pub value: bool,
    pub confidence: f32,
}

/// One face as the detector describes it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DetectedFace {
    pub confidence: f32,
    pub bounding_box: BoundingBox,
    pub pose: Pose,
    pub sunglasses: Option<Attribute>,
    pub eyes_open: Option<Attribute>,
    pub brightness: f32,
    pub sharpness: f32,
}

/// An attribute counts only when the detector is reasonably sure of it; a 50/50 guess must not reject a user.
const ATTRIBUTE_CONFIDENCE: f32 = 80.0;

/// Picks the one face that passes the gate, or says why none does.
pub fn check(faces: &[DetectedFace], config: &QualityConfig) -> Result<DetectedFace, Rejection> {
    let confident: Vec<&DetectedFace> = faces
        .iter()
        .filter(|f| f.confidence >= config.min_confidence)
        .collect();
    let face = match confident.as_slice() {
        [] => return Err(Rejection::NoFaceDetected),
        [one] => *one,
        many => return Err(Rejection::TooManyFaces { count: many.len() }),
    };

    for (axis, degrees) in [
        ("pitch", face.pose.pitch),
        ("roll", face.pose.roll),
        ("yaw", face.pose.yaw),
    ] {
        if degrees.abs() >= config.max_pose {
            return Err(Rejection::PoseOutOfRange {
                axis,
                degrees,
                max: config.max_pose,
            });
        }
    }
    if is_sure(face.sunglasses, true) {
        return Err(Rejection::SunglassesDetected);
    }
    if is_sure(face.eyes_open, false) {
        return Err(Rejection::EyesClosed);
    }
    if face.brightness < config.min_brightness {
        return Err(Rejection::LowQuality {
            what: "dark",
            value: face.brightness,
            min: config.min_brightness,
            hint: "take the photo in better light",
        });
    }
    if face.sharpness < config.min_sharpness {
        return Err(Rejection::LowQuality {
            what: "blurry",
            value: face.sharpness,
            min: config.min_sharpness,
            hint: "hold the camera still and keep it in focus",
        });
    }
    let percent = face.bounding_box.width * face.bounding_box.height * 100.0;
    if percent < config.min_face_area {
        return Err(Rejection::FaceTooSmall {
            percent,
            min: config.min_face_area,
        });
    }
    Ok(face.clone())
}

fn is_sure(attribute: Option<Attribute>, value: bool) -> bool {
    attribute.is_some_and(|a| a.value == value && a.confidence >= ATTRIBUTE_CONFIDENCE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Reason;

    fn good() -> DetectedFace {
        DetectedFace {
            confidence: 99.9,
            bounding_box: BoundingBox {
                width: 0.4,
                height: 0.5,
                left: 0.3,
                top: 0.2,
            },
            pose: Pose {
                pitch: 3.0,
                roll: -2.0,
                yaw: 5.0,
            },
            sunglasses: Some(Attribute {
                value: false,
                confidence: 99.0,
            }),
            eyes_open: Some(Attribute {
                value: true,
                confidence: 98.0,
            }),
            brightness: 80.0,
            sharpness: 90.0,
        }
    }

    fn with(change: impl FnOnce(&mut DetectedFace)) -> DetectedFace {
        let mut f = good();
        change(&mut f);
        f
    }

    #[test]
    fn gate_rules_table() {
        let faint = with(|f| f.confidence = 60.0);
        let cases: Vec<(&str, Vec<DetectedFace>, Option<Reason>)> = vec![
            ("one good face", vec![good()], None),
            ("no face", vec![], Some(Reason::NoFaceDetected)),
            (
                "only a faint face",
                vec![faint.clone()],
                Some(Reason::NoFaceDetected),
            ),
            ("good face and a faint one", vec![good(), faint], None),
            (
                "two faces",
                vec![good(), good()],
                Some(Reason::TooManyFaces),
            ),
            (
                "pitch at limit",
                vec![with(|f| f.pose.pitch = 45.0)],
                Some(Reason::PoseOutOfRange),
            ),
            (
                "pitch just inside",
                vec![with(|f| f.pose.pitch = 44.9)],
                None,
            ),
            (
                "roll negative",
                vec![with(|f| f.pose.roll = -50.0)],
                Some(Reason::PoseOutOfRange),
            ),
            (
                "yaw",
                vec![with(|f| f.pose.yaw = 46.0)],
                Some(Reason::PoseOutOfRange),
            ),
            (
                "sunglasses",
                vec![with(|f| {
                    f.sunglasses = Some(Attribute {
                        value: true,
                        confidence: 95.0,
                    })
                })],
                Some(Reason::SunglassesDetected),
            ),
            (
                "unsure sunglasses",
                vec![with(|f| {
                    f.sunglasses = Some(Attribute {
                        value: true,
                        confidence: 55.0,
                    })
                })],
                None,
            ),
            (
                "eyes closed",
                vec![with(|f| {
                    f.eyes_open = Some(Attribute {
                        value: false,
                        confidence: 90.0,
                    })
                })],
                Some(Reason::EyesClosed),
            ),
            (
                "no attributes reported",
                vec![with(|f| {
                    f.sunglasses = None;
                    f.eyes_open = None;
                })],
                None,
            ),
            (
                "dark",
                vec![with(|f| f.brightness = 10.0)],
                Some(Reason::LowQuality),
            ),
            (
                "blurry",
                vec![with(|f| f.sharpness = 5.0)],
                Some(Reason::LowQuality),
            ),
            (
                "tiny face",
                vec![with(|f| {
                    f.bounding_box = BoundingBox {
                        width: 0.1,
                        height: 0.1,
                        left: 0.0,
                        top: 0.0,
                    }
                })],
                Some(Reason::FaceTooSmall),
            ),
        ];
        let config = QualityConfig::default();
        for (name, faces, expected) in cases {
            let got = check(&faces, &config).err().map(|r| r.reason());
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn the_accepted_face_is_the_confident_one() {
        let faint = with(|f| {
            f.confidence = 50.0;
            f.pose.yaw = 80.0;
        });
        let picked = check(&[faint, good()], &QualityConfig::default()).unwrap();
        assert_eq!(picked, good());
    }

    #[test]
    fn thresholds_come_from_config() {
        let strict = QualityConfig {
            max_pose: 10.0,
            ..QualityConfig::default()
        };
        let err = check(&[with(|f| f.pose.yaw = -12.0)], &strict).unwrap_err();
        assert_eq!(
            err,
            Rejection::PoseOutOfRange {
                axis: "yaw",
                degrees: -12.0,
                max: 10.0
            }
        );
        let lenient = QualityConfig {
            min_confidence: 50.0,
            ..QualityConfig::default()
        };
        assert!(check(&[with(|f| f.confidence = 60.0)], &lenient).is_ok());
    }
}
