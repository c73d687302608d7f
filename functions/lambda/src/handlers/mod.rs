//! One module per Lambda function, plus the logic they share. Each function's module is a struct holding its
//! ports and settings, with an `async fn handle(request) -> Result<result, HandlerError>` that the `bin/` wires
//! to the runtime.
//!
//! Functions: `compare_faces`, `compare_idcard`, `detect_faces`, `extract_idcard`, `index_face`, `rollback`,
//! `search_faces`, `uploads`. They only wire a request to shared logic and never use one another.
//!
//! Shared logic, not functions: `registration` (the claim on a UserId, duplicate refusal, the contest between
//! racing registrations, the undo of an attempt), `guard` (the per-UserId lockout and when a denial is due),
//! `pictures` (an image inline or as a checked upload, as services read it) and `image_error` below (a face
//! engine failure as the caller's fault or a dependency's).

pub mod compare_faces;
pub mod compare_idcard;
pub mod detect_faces;
pub mod extract_idcard;
pub mod index_face;
pub mod rollback;
pub mod search_faces;
pub mod uploads;

pub(crate) mod pictures;

pub mod guard;
pub mod registration;

use crate::ports::{ServiceError, ServiceErrorKind};
use crate::HandlerError;
use riv_domain::Rejection;

/// Turns a face engine failure about the image itself into the user's fault, and anything else into a
/// dependency failure.
pub(crate) fn image_error(error: ServiceError, field: &str) -> HandlerError {
    match error.kind {
        ServiceErrorKind::InvalidImage => Rejection::invalid(format!(
            "{field} could not be decoded as an image: send an uncorrupted JPEG or PNG"
        ))
        .into(),
        ServiceErrorKind::NoFace => Rejection::NoFaceDetected.into(),
        _ => error.into(),
    }
}
