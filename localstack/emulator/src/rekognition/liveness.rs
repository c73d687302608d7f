//! Face Liveness sessions. The check itself streams video from a browser SDK, which cannot be emulated; a
//! session here is created as on AWS and its outcome (status, confidence, reference image) is set by the test
//! through the control path `POST /_riv/liveness/<SessionId>`.

use crate::error::{AwsError, Result};
use crate::request::Req;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A session without an outcome expires this long after it was created, as on AWS.
const SESSION_LIFETIME: Duration = Duration::from_secs(180);

/// What the control path sets: the outcome of the check a browser would have run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Outcome {
    /// SUCCEEDED, FAILED or IN_PROGRESS.
    pub status: String,
    #[serde(default)]
    pub confidence: Option<f32>,
    /// Base64 of the reference image (JPEG or PNG).
    #[serde(default)]
    pub reference_image: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OutcomeError {
    #[error("no liveness session {0}")]
    NoSession(String),
    #[error("liveness status {0:?} cannot be set: SUCCEEDED, FAILED or IN_PROGRESS")]
    Status(String),
    #[error("Confidence {0} is not between 0 and 100")]
    Confidence(f32),
    #[error("ReferenceImage is not base64")]
    Image,
}

#[derive(Debug)]
struct Session {
    created: Instant,
    outcome: Option<Outcome>,
}

#[derive(Debug, Default)]
pub struct Sessions {
    sessions: Mutex<BTreeMap<String, (String, Session)>>,
}

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (String, Session)>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn create(&self, region: &str, _r: &Req) -> Result<Value> {
        let id = uuid::Uuid::new_v4().to_string();
        self.lock().insert(
            id.clone(),
            (
                region.to_string(),
                Session {
                    created: Instant::now(),
                    outcome: None,
                },
            ),
        );
        Ok(json!({ "SessionId": id }))
    }

    pub fn results(&self, region: &str, r: &Req) -> Result<Value> {
        let id = r.str("SessionId")?;
        let sessions = self.lock();
        let session = match sessions.get(id) {
            Some((home, session)) if home == region => session,
            _ => {
                return Err(AwsError::new(
                    "SessionNotFoundException",
                    format!("Session {id} not found"),
                ))
            }
        };
        let challenge = json!({"Type": "FaceMovementAndLightChallenge", "Version": "1.0.0"});
        let Some(outcome) = &session.outcome else {
            let status = if session.created.elapsed() > SESSION_LIFETIME {
                "EXPIRED"
            } else {
                "CREATED"
            };
            return Ok(json!({"SessionId": id, "Status": status, "AuditImages": []}));
        };
        let mut out = json!({"SessionId": id, "Status": outcome.status, "AuditImages": [], "Challenge": challenge});
        if let Some(confidence) = outcome.confidence {
            out["Confidence"] = json!(confidence);
        }
        if let Some(image) = &outcome.reference_image {
            out["ReferenceImage"] = json!({
                "Bytes": image,
                "BoundingBox": {"Width": 0.4, "Height": 0.5, "Left": 0.3, "Top": 0.2},
            });
        }
        Ok(out)
    }

    /// Sets a session's outcome (the control path).
    pub fn decide(&self, id: &str, outcome: Outcome) -> std::result::Result<(), OutcomeError> {
        if !matches!(
            outcome.status.as_str(),
            "SUCCEEDED" | "FAILED" | "IN_PROGRESS"
        ) {
            return Err(OutcomeError::Status(outcome.status));
        }
        if let Some(c) = outcome.confidence.filter(|c| !(0.0..=100.0).contains(c)) {
            return Err(OutcomeError::Confidence(c));
        }
        if let Some(image) = &outcome.reference_image {
            base64::engine::general_purpose::STANDARD
                .decode(image)
                .map_err(|_| OutcomeError::Image)?;
        }
        let mut sessions = self.lock();
        let (_, session) = sessions
            .get_mut(id)
            .ok_or_else(|| OutcomeError::NoSession(id.to_string()))?;
        session.outcome = Some(outcome);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_answers_created_until_its_outcome_is_set() {
        let sessions = Sessions::default();
        let id = sessions.create("us-east-1", &Req(&json!({}))).unwrap()["SessionId"]
            .as_str()
            .unwrap()
            .to_string();
        let ask = json!({ "SessionId": id });
        let before = sessions.results("us-east-1", &Req(&ask)).unwrap();
        assert_eq!(before["Status"], "CREATED");
        assert!(before.get("Confidence").is_none());
        let elsewhere = sessions.results("eu-west-1", &Req(&ask)).unwrap_err();
        assert_eq!(elsewhere.kind, "SessionNotFoundException");
        sessions
            .decide(
                &id,
                Outcome {
                    status: "SUCCEEDED".into(),
                    confidence: Some(97.5),
                    reference_image: Some("aGk=".into()),
                },
            )
            .unwrap();
        let after = sessions.results("us-east-1", &Req(&ask)).unwrap();
        assert_eq!(after["Status"], "SUCCEEDED");
        assert_eq!(after["Confidence"], 97.5);
        assert_eq!(after["ReferenceImage"]["Bytes"], "aGk=");
        let bad = Outcome {
            status: "EXPIRED".into(),
            confidence: None,
            reference_image: None,
        };
        assert!(matches!(
            sessions.decide(&id, bad),
            Err(OutcomeError::Status(_))
        ));
    }
}
