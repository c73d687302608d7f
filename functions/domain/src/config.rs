//! Thresholds and settings read from the environment, each on its real scale with a documented default and
//! range. The template's parameters carry the same ranges ([`RANGES`]), so CloudFormation refuses what a function
//! would refuse at cold start. Parsing is pure (it takes a lookup function) so the rules are tested without
//! touching the process env.

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
            min_confidence: MIN_CONFIDENCE.default,
            max_pose: MAX_POSE.default,
            min_brightness: MIN_BRIGHTNESS.default,
            min_sharpness: MIN_SHARPNESS.default,
            min_face_area: MIN_FACE_AREA.default,
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
            face_match_threshold: FACE_MATCH_THRESHOLD.default,
        }
    }
}

/// How hard a UserId may be guessed at: the lockout and the denial floor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuardConfig {
    pub max_failed_attempts: u64,
    pub lockout_ms: u64,
    pub denial_floor_ms: u64,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            max_failed_attempts: MAX_FAILED_ATTEMPTS.default as u64,
            lockout_ms: LOCKOUT_SECONDS.default as u64 * 1000,
            denial_floor_ms: DENIAL_FLOOR_MS.default as u64,
        }
    }
}

impl GuardConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(GuardConfig {
            max_failed_attempts: MAX_FAILED_ATTEMPTS.read_whole(&lookup)?,
            lockout_ms: LOCKOUT_SECONDS.read_whole(&lookup)? * 1000,
            denial_floor_ms: DENIAL_FLOOR_MS.read_whole(&lookup)?,
        })
    }
}

/// How many faces a user keeps.
pub fn max_faces_per_user(lookup: impl Fn(&str) -> Option<String>) -> Result<usize, ConfigError> {
    Ok(MAX_FACES_PER_USER.read_whole(&lookup)? as usize)
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

/// A setting's allowed range and default, on the scale the service uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub name: &'static str,
    pub min: f32,
    pub max: f32,
    pub default: f32,
}

/// Similarity is a percentage: below 80 strangers start to match, and a 0–1 value (0.95) is the classic
/// scale mistake that would make every face match.
pub const FACE_MATCH_THRESHOLD: Range = Range {
    name: env::FACE_MATCH_THRESHOLD,
    min: 80.0,
    max: 100.0,
    default: 95.0,
};
/// Detection confidence, percent: below 50 Rekognition's "faces" include shadows and patterns.
pub const MIN_CONFIDENCE: Range = Range {
    name: env::MIN_CONFIDENCE,
    min: 50.0,
    max: 100.0,
    default: 90.0,
};
/// Head pose, degrees: Rekognition reports pitch, roll and yaw within ±180.
pub const MAX_POSE: Range = Range {
    name: env::MAX_POSE,
    min: 1.0,
    max: 180.0,
    default: 45.0,
};
pub const MIN_BRIGHTNESS: Range = Range {
    name: env::MIN_BRIGHTNESS,
    min: 0.0,
    max: 100.0,
    default: 40.0,
};
pub const MIN_SHARPNESS: Range = Range {
    name: env::MIN_SHARPNESS,
    min: 0.0,
    max: 100.0,
    default: 40.0,
};
/// Percent of the image the face box covers.
pub const MIN_FACE_AREA: Range = Range {
    name: env::MIN_FACE_AREA,
    min: 0.0,
    max: 100.0,
    default: 2.0,
};
/// Failed authentications or updates of one UserId, within the window, before it is locked out.
pub const MAX_FAILED_ATTEMPTS: Range = Range {
    name: env::MAX_FAILED_ATTEMPTS,
    min: 1.0,
    max: 100.0,
    default: 5.0,
};
/// The lockout window, seconds (15 minutes by default).
pub const LOCKOUT_SECONDS: Range = Range {
    name: env::LOCKOUT_SECONDS,
    min: 1.0,
    max: 86_400.0,
    default: 900.0,
};
/// A denial is answered no sooner than this after the flow started, milliseconds: the time of "no such user"
/// and "wrong face" must not differ. The flow waits in a Wait state; at most 5 s keeps a denial well inside the
/// flow's 28 s.
pub const DENIAL_FLOOR_MS: Range = Range {
    name: env::DENIAL_FLOOR_MS,
    min: 0.0,
    max: 5_000.0,
    default: 1_500.0,
};
/// Faces stored per user: an update beyond it replaces the oldest, and auth compares at most this many.
pub const MAX_FACES_PER_USER: Range = Range {
    name: env::MAX_FACES_PER_USER,
    min: 1.0,
    max: 20.0,
    default: 5.0,
};

/// Every ranged setting, for the template's parameters and the tests.
pub const RANGES: [Range; 10] = [
    FACE_MATCH_THRESHOLD,
    MIN_CONFIDENCE,
    MAX_POSE,
    MIN_BRIGHTNESS,
    MIN_SHARPNESS,
    MIN_FACE_AREA,
    MAX_FAILED_ATTEMPTS,
    LOCKOUT_SECONDS,
    DENIAL_FLOOR_MS,
    MAX_FACES_PER_USER,
];

impl Range {
    /// The setting from `lookup`, its default when unset or blank, an error when out of range.
    pub fn read(&self, lookup: &impl Fn(&str) -> Option<String>) -> Result<f32, ConfigError> {
        let Some(raw) = lookup(self.name).filter(|v| !v.trim().is_empty()) else {
            return Ok(self.default);
        };
        match raw.trim().parse::<f32>() {
            Ok(v) if (self.min..=self.max).contains(&v) => Ok(v),
            _ => Err(ConfigError::OutOfRange {
                name: self.name,
                value: raw,
                min: self.min,
                max: self.max,
                default: self.default,
            }),
        }
    }

    /// A whole-number setting.
    pub fn read_whole(&self, lookup: &impl Fn(&str) -> Option<String>) -> Result<u64, ConfigError> {
        let v = self.read(lookup)?;
        if v.fract() != 0.0 {
            return Err(ConfigError::OutOfRange {
                name: self.name,
                value: v.to_string(),
                min: self.min,
                max: self.max,
                default: self.default,
            });
        }
        Ok(v as u64)
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
        Ok(QualityConfig {
            min_confidence: MIN_CONFIDENCE.read(&lookup)?,
            max_pose: MAX_POSE.read(&lookup)?,
            min_brightness: MIN_BRIGHTNESS.read(&lookup)?,
            min_sharpness: MIN_SHARPNESS.read(&lookup)?,
            min_face_area: MIN_FACE_AREA.read(&lookup)?,
        })
    }
}

impl MatchConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(MatchConfig {
            face_match_threshold: FACE_MATCH_THRESHOLD.read(&lookup)?,
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
            // The 0-1 scale mistake: would make every face match.
            ("0.95", env::FACE_MATCH_THRESHOLD),
            ("79", env::FACE_MATCH_THRESHOLD),
        ];
        for (value, name) in bad {
            let err = MatchConfig::from_lookup(lookup(&[(name, value)])).unwrap_err();
            assert!(matches!(err, ConfigError::OutOfRange { .. }), "{value}");
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn quality_limits_are_on_their_real_scales() {
        for (name, value) in [(env::MIN_CONFIDENCE, "0.9"), (env::MAX_POSE, "200")] {
            let err = QualityConfig::from_lookup(lookup(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn guard_settings_are_whole_numbers_in_range() {
        let g = GuardConfig::from_lookup(lookup(&[])).unwrap();
        assert_eq!(g, GuardConfig::default());
        assert_eq!(
            (g.max_failed_attempts, g.lockout_ms, g.denial_floor_ms),
            (5, 900_000, 1_500)
        );
        let g = GuardConfig::from_lookup(lookup(&[(env::LOCKOUT_SECONDS, "3")])).unwrap();
        assert_eq!(g.lockout_ms, 3_000);
        for (name, value) in [
            (env::MAX_FAILED_ATTEMPTS, "0"),
            (env::MAX_FAILED_ATTEMPTS, "2.5"),
            (env::LOCKOUT_SECONDS, "86401"),
        ] {
            assert!(GuardConfig::from_lookup(lookup(&[(name, value)])).is_err());
        }
        assert_eq!(max_faces_per_user(lookup(&[])).unwrap(), 5);
        assert!(max_faces_per_user(lookup(&[(env::MAX_FACES_PER_USER, "21")])).is_err());
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
