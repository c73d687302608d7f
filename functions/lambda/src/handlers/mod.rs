//! One module per Lambda function. Each handler is a struct holding its ports and settings, with an
//! `async fn handle(request) -> Result<result, HandlerError>` that the `bin/` wires to the runtime.

pub mod compare_faces;
pub mod compare_idcard;
pub mod detect_faces;
pub mod extract_idcard;
pub mod guard;
pub mod index_face;
pub mod rollback;
pub mod search_faces;

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
