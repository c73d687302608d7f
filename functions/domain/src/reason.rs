//! Reason codes: the `Reason` of every failure body, the Lambda error type Step Functions matches on, and the
//! HTTP status the API answers with. A grep for a code finds the rule, the state, the route mapping and the test.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Every failure the API can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Reason {
    InvalidRequest,
    NoFaceDetected,
    TooManyFaces,
    PoseOutOfRange,
    SunglassesDetected,
    EyesClosed,
    FaceTooSmall,
    LowQuality,
    UserAlreadyExists,
    FaceAlreadyRegistered,
    IdCardUnreadable,
    FaceNotMatchWithIdCard,
    UserNotFound,
    UserAccessDenied,
    UpdateConflict,
    TooManyAttempts,
    InternalError,
}

impl Reason {
    pub const ALL: [Reason; 17] = [
        Reason::InvalidRequest,
        Reason::NoFaceDetected,
        Reason::TooManyFaces,
        Reason::PoseOutOfRange,
        Reason::SunglassesDetected,
        Reason::EyesClosed,
        Reason::FaceTooSmall,
        Reason::LowQuality,
        Reason::UserAlreadyExists,
        Reason::FaceAlreadyRegistered,
        Reason::IdCardUnreadable,
        Reason::FaceNotMatchWithIdCard,
        Reason::UserNotFound,
        Reason::UserAccessDenied,
        Reason::UpdateConflict,
        Reason::TooManyAttempts,
        Reason::InternalError,
    ];

    /// The code as it appears in `{"Reason": ...}` and as the Lambda error type.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidRequest => "InvalidRequest",
            Reason::NoFaceDetected => "NoFaceDetected",
            Reason::TooManyFaces => "TooManyFaces",
            Reason::PoseOutOfRange => "PoseOutOfRange",
            Reason::SunglassesDetected => "SunglassesDetected",
            Reason::EyesClosed => "EyesClosed",
            Reason::FaceTooSmall => "FaceTooSmall",
            Reason::LowQuality => "LowQuality",
            Reason::UserAlreadyExists => "UserAlreadyExists",
            Reason::FaceAlreadyRegistered => "FaceAlreadyRegistered",
            Reason::IdCardUnreadable => "IdCardUnreadable",
            Reason::FaceNotMatchWithIdCard => "FaceNotMatchWithIdCard",
            Reason::UserNotFound => "UserNotFound",
            Reason::UserAccessDenied => "UserAccessDenied",
            Reason::UpdateConflict => "UpdateConflict",
            Reason::TooManyAttempts => "TooManyAttempts",
            Reason::InternalError => "InternalError",
        }
    }

    /// The HTTP status the API answers with for this reason.
    pub fn http_status(self) -> u16 {
        match self {
            Reason::InvalidRequest => 400,
            Reason::UserAccessDenied => 401,
            Reason::FaceNotMatchWithIdCard => 403,
            Reason::UserNotFound => 404,
            Reason::UserAlreadyExists | Reason::FaceAlreadyRegistered | Reason::UpdateConflict => {
                409
            }
            Reason::NoFaceDetected
            | Reason::TooManyFaces
            | Reason::PoseOutOfRange
            | Reason::SunglassesDetected
            | Reason::EyesClosed
            | Reason::FaceTooSmall
            | Reason::LowQuality
            | Reason::IdCardUnreadable => 422,
            Reason::TooManyAttempts => 429,
            Reason::InternalError => 500,
        }
    }

    pub fn parse(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == code)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request the rules turned down. Variant names are the reason codes; `Display` is a sentence a user can act
/// on, with no internal identifiers in it.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Rejection {
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("no face was found in the image: take a photo of your face, facing the camera")]
    NoFaceDetected,
    #[error("{count} faces were found in the image: the photo must show exactly one person")]
    TooManyFaces { count: usize },
    #[error("the head is turned too far ({axis} {degrees:.0}°, at most {max:.0}° allowed): look straight at the camera")]
    PoseOutOfRange {
        axis: &'static str,
        degrees: f32,
        max: f32,
    },
    #[error("sunglasses were detected: take them off and try again")]
    SunglassesDetected,
    #[error("the eyes look closed: keep your eyes open and try again")]
    EyesClosed,
    #[error("the face fills {percent:.1}% of the image, at least {min:.1}% is needed: move closer to the camera")]
    FaceTooSmall { percent: f32, min: f32 },
    #[error("the photo is too {what} ({value:.0}, at least {min:.0} needed): {hint}")]
    LowQuality {
        what: &'static str,
        value: f32,
        min: f32,
        hint: &'static str,
    },
    #[error("user {0} is already registered: use /update to add a new photo")]
    UserAlreadyExists(String),
    #[error("this face is already registered to another user")]
    FaceAlreadyRegistered,
    #[error("the ID card could not be read: {0}")]
    IdCardUnreadable(String),
    #[error("the face does not match the photo on the ID card")]
    FaceNotMatchWithIdCard,
    #[error("user {0} is not registered")]
    UserNotFound(String),
    #[error("the face could not be verified for this user")]
    UserAccessDenied,
    #[error("user {0} was changed by another update at the same time, again and again: send the update again")]
    UpdateConflict(String),
    /// The same message whether or not the UserId exists: a lockout must not tell who is registered.
    #[error("too many failed attempts for this user: try again in {retry_after_seconds} s")]
    TooManyAttempts { retry_after_seconds: u64 },
}

impl Rejection {
    pub fn reason(&self) -> Reason {
        match self {
            Rejection::InvalidRequest(_) => Reason::InvalidRequest,
            Rejection::NoFaceDetected => Reason::NoFaceDetected,
            Rejection::TooManyFaces { .. } => Reason::TooManyFaces,
            Rejection::PoseOutOfRange { .. } => Reason::PoseOutOfRange,
            Rejection::SunglassesDetected => Reason::SunglassesDetected,
            Rejection::EyesClosed => Reason::EyesClosed,
            Rejection::FaceTooSmall { .. } => Reason::FaceTooSmall,
            Rejection::LowQuality { .. } => Reason::LowQuality,
            Rejection::UserAlreadyExists(_) => Reason::UserAlreadyExists,
            Rejection::FaceAlreadyRegistered => Reason::FaceAlreadyRegistered,
            Rejection::IdCardUnreadable(_) => Reason::IdCardUnreadable,
            Rejection::FaceNotMatchWithIdCard => Reason::FaceNotMatchWithIdCard,
            Rejection::UserNotFound(_) => Reason::UserNotFound,
            Rejection::UserAccessDenied => Reason::UserAccessDenied,
            Rejection::UpdateConflict(_) => Reason::UpdateConflict,
            Rejection::TooManyAttempts { .. } => Reason::TooManyAttempts,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Rejection::InvalidRequest(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for reason in Reason::ALL {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{reason}\""));
        }
    }

    #[test]
    fn statuses_follow_the_api_contract() {
        let table = [
            (Reason::InvalidRequest, 400),
            (Reason::NoFaceDetected, 422),
            (Reason::TooManyFaces, 422),
            (Reason::PoseOutOfRange, 422),
            (Reason::SunglassesDetected, 422),
            (Reason::LowQuality, 422),
            (Reason::UserAlreadyExists, 409),
            (Reason::FaceAlreadyRegistered, 409),
            (Reason::IdCardUnreadable, 422),
            (Reason::FaceNotMatchWithIdCard, 403),
            (Reason::UserNotFound, 404),
            (Reason::UserAccessDenied, 401),
            (Reason::UpdateConflict, 409),
            (Reason::TooManyAttempts, 429),
            (Reason::InternalError, 500),
        ];
        for (reason, status) in table {
            assert_eq!(reason.http_status(), status, "{reason}");
        }
    }

    #[test]
    fn rejection_messages_name_the_fix() {
        let pose = Rejection::PoseOutOfRange {
            axis: "yaw",
            degrees: 50.0,
            max: 45.0,
        };
        assert_eq!(pose.reason(), Reason::PoseOutOfRange);
        assert!(pose.to_string().contains("look straight at the camera"));
        assert_eq!(
            Rejection::UserAlreadyExists("ann".into()).to_string(),
            "user ann is already registered: use /update to add a new photo"
        );
    }
}
