//! Faults on demand: an operation answers ThrottlingException, ProvisionedThroughputExceededException or
//! InternalServerError with a given probability, so the functions' retry paths run locally as they would when
//! AWS pushes back.
//!
//! Rules come from `RIV_EMULATOR_FAULTS` at start (`Operation=Error:probability`, comma-separated, e.g.
//! `SearchFacesByImage=ThrottlingException:0.3`; `*` is every operation) and from the control path
//! (`POST /_riv/faults` adds rules, `GET` lists them, `DELETE` removes them all, or those of one image with
//! `?image=<sha256>`). A rule from the control path may
//! be bounded (`Times`: it fires that many times, then is gone) and scoped to one image (`Image`: the SHA-256 the
//! call log shows), so a test can fault its own calls on a stack others use at the same time.

use crate::error::AwsError;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// The errors a rule may answer: the ones AWS answers when it pushes back, which the SDK and the functions retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    ThrottlingException,
    ProvisionedThroughputExceededException,
    InternalServerError,
}

impl FaultKind {
    fn parse(name: &str) -> Result<Self, FaultError> {
        match name {
            "ThrottlingException" => Ok(FaultKind::ThrottlingException),
            "ProvisionedThroughputExceededException" => {
                Ok(FaultKind::ProvisionedThroughputExceededException)
            }
            "InternalServerError" => Ok(FaultKind::InternalServerError),
            other => Err(FaultError::UnknownError(other.to_string())),
        }
    }

    /// The error as the service sends it (Throttling and throughput are 400s, an internal error a 500).
    pub fn error(self, operation: &str) -> AwsError {
        match self {
            FaultKind::ThrottlingException => AwsError::new(
                "ThrottlingException",
                format!("Rate exceeded (fault injected into {operation})"),
            ),
            FaultKind::ProvisionedThroughputExceededException => AwsError::new(
                "ProvisionedThroughputExceededException",
                format!("Provisioned rate exceeded (fault injected into {operation})"),
            ),
            FaultKind::InternalServerError => AwsError::internal(format!(
                "Internal server error (fault injected into {operation})"
            )),
        }
    }
}

/// One rule: which calls it hits and what they answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Rule {
    /// An operation name (`SearchFacesByImage`, `AnalyzeID`) or `*` for all.
    pub operation: String,
    pub error: FaultKind,
    /// 0 to 1; a rule that always fires is 1.
    #[serde(default = "always")]
    pub probability: f64,
    /// Fires this many times, then is removed; unbounded when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Only calls that send this image (lowercase hex SHA-256, as `/_riv/calls` shows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

fn always() -> f64 {
    1.0
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultError {
    #[error("fault rule {0:?} is not Operation=Error:probability (e.g. SearchFacesByImage=ThrottlingException:0.3)")]
    Syntax(String),
    #[error("unknown fault error {0:?}: ThrottlingException, ProvisionedThroughputExceededException or InternalServerError")]
    UnknownError(String),
    #[error("fault probability {0} is not between 0 and 1")]
    Probability(f64),
    #[error("a fault rule's Times must be at least 1")]
    Times,
    #[error("a fault rule's Image must be a SHA-256 in lowercase hex, got {0:?}")]
    Image(String),
}

impl Rule {
    fn checked(self) -> Result<Self, FaultError> {
        if !(0.0..=1.0).contains(&self.probability) {
            return Err(FaultError::Probability(self.probability));
        }
        if self.times == Some(0) {
            return Err(FaultError::Times);
        }
        if let Some(image) = &self.image {
            let hex = image.len() == 64
                && image
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
            if !hex {
                return Err(FaultError::Image(image.clone()));
            }
        }
        if self.operation.is_empty() {
            return Err(FaultError::Syntax(String::new()));
        }
        Ok(self)
    }

    fn hits(&self, operation: &str, images: &[String]) -> bool {
        (self.operation == "*" || self.operation == operation)
            && self
                .image
                .as_ref()
                .is_none_or(|digest| images.contains(digest))
    }
}

/// Parses `RIV_EMULATOR_FAULTS`: `Operation=Error:probability[,…]`.
pub fn parse_setting(setting: &str) -> Result<Vec<Rule>, FaultError> {
    setting
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|spec| {
            let (operation, rest) = spec
                .split_once('=')
                .ok_or_else(|| FaultError::Syntax(spec.to_string()))?;
            let (error, probability) = rest.split_once(':').unwrap_or((rest, "1"));
            let probability: f64 = probability
                .parse()
                .map_err(|_| FaultError::Syntax(spec.to_string()))?;
            Rule {
                operation: operation.trim().to_string(),
                error: FaultKind::parse(error.trim())?,
                probability,
                times: None,
                image: None,
            }
            .checked()
        })
        .collect()
}

/// The rules in force, shared by every request.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
}

/// A number in [0, 1) from the operating system's randomness (through UUID v4, already a dependency).
fn chance() -> f64 {
    (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64
}

impl Faults {
    pub fn new(rules: Vec<Rule>) -> Self {
        Faults {
            rules: Mutex::new(rules),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Rule>> {
        self.rules.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add(&self, rules: Vec<Rule>) -> Result<(), FaultError> {
        let rules = rules
            .into_iter()
            .map(Rule::checked)
            .collect::<Result<Vec<_>, _>>()?;
        self.lock().extend(rules);
        Ok(())
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Removes the rules scoped to this image.
    pub fn clear_image(&self, digest: &str) {
        self.lock().retain(|r| r.image.as_deref() != Some(digest));
    }

    pub fn list(&self) -> Vec<Rule> {
        self.lock().clone()
    }

    /// The fault this call meets, if any: the first rule that hits it and wins its draw.
    pub fn draw(&self, operation: &str, images: &[String]) -> Option<AwsError> {
        let mut rules = self.lock();
        let index = rules
            .iter()
            .position(|r| r.hits(operation, images) && chance() < r.probability)?;
        let kind = rules[index].error;
        if let Some(times) = rules[index].times.as_mut() {
            *times -= 1;
            if *times == 0 {
                rules.remove(index);
            }
        }
        Some(kind.error(operation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_names_operation_error_and_probability() {
        let rules =
            parse_setting("SearchFacesByImage=ThrottlingException:0.3, *=InternalServerError")
                .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].operation, "SearchFacesByImage");
        assert_eq!(rules[0].error, FaultKind::ThrottlingException);
        assert_eq!(rules[0].probability, 0.3);
        assert_eq!(rules[1].operation, "*");
        assert_eq!(rules[1].probability, 1.0);
        assert!(matches!(
            parse_setting("IndexFaces=SlowDown:1"),
            Err(FaultError::UnknownError(_))
        ));
        assert!(matches!(
            parse_setting("IndexFaces=ThrottlingException:2"),
            Err(FaultError::Probability(_))
        ));
        assert!(matches!(
            parse_setting("IndexFaces"),
            Err(FaultError::Syntax(_))
        ));
    }

    #[test]
    fn a_bounded_rule_fires_its_times_then_is_gone() {
        let faults = Faults::default();
        let digest = "a".repeat(64);
        faults
            .add(vec![Rule {
                operation: "IndexFaces".into(),
                error: FaultKind::ThrottlingException,
                probability: 1.0,
                times: Some(2),
                image: Some(digest.clone()),
            }])
            .unwrap();
        let mine = [digest];
        assert!(faults.draw("IndexFaces", &["b".repeat(64)]).is_none());
        assert!(faults.draw("DetectFaces", &mine).is_none());
        assert_eq!(
            faults.draw("IndexFaces", &mine).unwrap().kind,
            "ThrottlingException"
        );
        assert!(faults.draw("IndexFaces", &mine).is_some());
        assert!(faults.draw("IndexFaces", &mine).is_none());
        assert!(faults.list().is_empty());
    }

    #[test]
    fn probability_is_honoured_roughly_and_zero_never_fires() {
        let faults = Faults::new(parse_setting("*=InternalServerError:0.3").unwrap());
        let fired = (0..4000)
            .filter(|_| faults.draw("ListFaces", &[]).is_some())
            .count();
        assert!((1000..1400).contains(&fired), "{fired} of 4000");
        let never = Faults::new(parse_setting("*=InternalServerError:0").unwrap());
        assert!((0..1000).all(|_| never.draw("ListFaces", &[]).is_none()));
        let error = FaultKind::InternalServerError.error("ListFaces");
        assert_eq!(error.status, 500);
    }

    #[test]
    fn bad_rules_from_the_control_path_are_refused_whole() {
        let faults = Faults::default();
        let bad = Rule {
            operation: "IndexFaces".into(),
            error: FaultKind::InternalServerError,
            probability: 1.0,
            times: Some(0),
            image: None,
        };
        assert_eq!(faults.add(vec![bad]), Err(FaultError::Times));
        assert!(faults.list().is_empty());
    }
}
