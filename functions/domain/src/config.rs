//! Thresholds and settings read from the environment, each on the 0–100 scale with a documented default.
//! Parsing is pure (it takes a lookup function) so the rules are tested without touching the process env.

use crate::names::env;
use thiserror::Error;

/// A setting that is present but unusable. Raised at cold start so a bad deployment fails loudly.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    #[error("{name}={value:?} is not a number between {min} and {max}: fix the stack parameter or unset it for the default ({default})")]
    OutOfRange {
        name: &'static str,
        value: String,
        min: f32,
        max: f32,
        default: f32,
    },
    #[error("{name} is not set: the function needs it (the stack sets it; locally, export it)")]
    Missing { name: &'static str },
    #[error("{name}={value:?} is not one of {allowed}")]
    NotOneOf {
        name: &'static str,
        value: String,
        allowed: &'static str,
    },
}

/// The quality gate's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityConfig {
    /// Faces below this detection confidence are ignored (default 90).
    pub min_confidence: f32,
    /// |pitch|, |roll| and |yaw| must stay below this, in degrees (default 45).
    pub max_pose: f32,
    /// Rekognition's Quality.Brightness must reach this (default 40).
    pub min_brightness: f32,
    /// Rekognition's Quality.Sharpness must reach this (default 40).
    pub min_sharpness: f32,
    /// The face box must cover at least this percentage of the image (default 2).
    pub min_face_area: f32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            min_confidence: 90.0,
            max_pose: 45.0,
            min_brightness: 40.0,
            min_sharpness: 40.0,
            min_face_area: 2.0,
        }
    }
}

/// Similarity needed for two faces to count as the same person (default 95).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchConfig {
    pub face_match_threshold: f32,
}

impl Default for MatchConfig {
    fn default() -> Self {
        MatchConfig {
            face_match_threshold: 95.0,
        }
    }
}

/// Where ID card data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdExtraction {
    /// Textract AnalyzeID (default).
    #[default]
    AnalyzeId,
    /// Rekognition DetectText plus label parsing, for regions without AnalyzeID.
    DetectText,
}

impl IdExtraction {
    pub fn as_str(self) -> &'static str {
        match self {
            IdExtraction::AnalyzeId => "analyze-id",
            IdExtraction::DetectText => "detect-text",
        }
    }
}

/// Where a user's faces live.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionConfig {
    pub prefix: String,
    pub count: u32,
}

fn percent(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: f32,
    max: f32,
) -> Result<f32, ConfigError> {
    let Some(raw) = lookup(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    match raw.trim().parse::<f32>() {
        Ok(v) if (0.0..=max).contains(&v) => Ok(v),
        _ => Err(ConfigError::OutOfRange {
            name,
            value: raw,
            min: 0.0,
            max,
            default,
        }),
    }
}

/// Reads a required, non-empty setting.
pub fn required(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    lookup(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing { name })
}

impl QualityConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = QualityConfig::default();
        Ok(QualityConfig {
            min_confidence: percent(&lookup, env::MIN_CONFIDENCE, d.min_confidence, 100.0)?,
            max_pose: percent(&lookup, env::MAX_POSE, d.max_pose, 180.0)?,
            min_brightness: percent(&lookup, env::MIN_BRIGHTNESS, d.min_brightness, 100.0)?,
            min_sharpness: percent(&lookup, env::MIN_SHARPNESS, d.min_sharpness, 100.0)?,
            min_face_area: percent(&lookup, env::MIN_FACE_AREA, d.min_face_area, 100.0)?,
        })
    }
}

impl MatchConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = MatchConfig::default();
        Ok(MatchConfig {
            face_match_threshold: percent(
                &lookup,
                env::FACE_MATCH_THRESHOLD,
                d.face_match_threshold,
                100.0,
            )?,
        })
    }
}

impl IdExtraction {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        match lookup(env::ID_EXTRACTION).as_deref().map(str::trim) {
            None | Some("") | Some("analyze-id") => Ok(IdExtraction::AnalyzeId),
            Some("detect-text") => Ok(IdExtraction::DetectText),
            Some(other) => Err(ConfigError::NotOneOf {
                name: env::ID_EXTRACTION,
                value: other.to_string(),
                allowed: "analyze-id, detect-text",
            }),
        }
    }
}

impl CollectionConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let prefix = required(&lookup, env::COLLECTION_PREFIX)?;
        let count = match lookup(env::COLLECTION_COUNT).filter(|v| !v.trim().is_empty()) {
            None => 1,
            Some(raw) => match raw.trim().parse::<u32>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    return Err(ConfigError::OutOfRange {
                        name: env::COLLECTION_COUNT,
                        value: raw,
                        min: 1.0,
                        max: 100.0,
                        default: 1.0,
                    })
                }
            },
        };
        Ok(CollectionConfig { prefix, count })
    }
}

/// Reads the real process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_apply_when_unset_or_blank() {
        let q = QualityConfig::from_lookup(lookup(&[(env::MAX_POSE, " ")])).unwrap();
        assert_eq!(q, QualityConfig::default());
        assert_eq!(q.min_confidence, 90.0);
        assert_eq!(q.max_pose, 45.0);
        let m = MatchConfig::from_lookup(lookup(&[])).unwrap();
        assert_eq!(m.face_match_threshold, 95.0);
        assert_eq!(
            IdExtraction::from_lookup(lookup(&[])).unwrap(),
            IdExtraction::AnalyzeId
        );
    }

    #[test]
    fn values_are_read_and_range_checked() {
        let q = QualityConfig::from_lookup(lookup(&[
            (env::MIN_CONFIDENCE, "80"),
            (env::MAX_POSE, "30.5"),
        ]))
        .unwrap();
        assert_eq!((q.min_confidence, q.max_pose), (80.0, 30.5));

        let bad = [
            ("101", env::FACE_MATCH_THRESHOLD),
            ("-1", env::FACE_MATCH_THRESHOLD),
            ("high", env::FACE_MATCH_THRESHOLD),
        ];
        for (value, name) in bad {
            let err = MatchConfig::from_lookup(lookup(&[(name, value)])).unwrap_err();
            assert!(matches!(err, ConfigError::OutOfRange { .. }), "{value}");
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn id_extraction_accepts_only_known_modes() {
        let l = lookup(&[(env::ID_EXTRACTION, "detect-text")]);
        assert_eq!(
            IdExtraction::from_lookup(l).unwrap(),
            IdExtraction::DetectText
        );
        let err = IdExtraction::from_lookup(lookup(&[(env::ID_EXTRACTION, "ocr")])).unwrap_err();
        assert!(err.to_string().contains("analyze-id, detect-text"));
    }

    #[test]
    fn collections_need_a_prefix_and_a_sane_count() {
        assert!(matches!(
            CollectionConfig::from_lookup(lookup(&[])),
            Err(ConfigError::Missing { .. })
        ));
        let c =
            CollectionConfig::from_lookup(lookup(&[(env::COLLECTION_PREFIX, "Riv-Prod")])).unwrap();
        assert_eq!(c.count, 1);
        let err = CollectionConfig::from_lookup(lookup(&[
            (env::COLLECTION_PREFIX, "Riv-Prod"),
            (env::COLLECTION_COUNT, "0"),
        ]));
        assert!(err.is_err());
    }
}
