//! Removal of an attempt: what `rollback` runs from the attempt record after a crash, and what `index-face`
//! runs for its own failures. One undo for both, so that an attempt is undone the same way whoever undoes it.

use crate::ports::{Attempt, FaceEngine, FaceRecords, ImageStore, ServiceError, ServiceErrorKind};
use riv_domain::attempt::AttemptStatus;
use riv_domain::events::{IndexMode, RollbackResult, WrittenObject};

/// Undoes an attempt: first makes it unable to commit (`Aborted`), then removes its face, its objects (every
/// version) and its claim on the UserId, and marks it `RolledBack` only once all of that is gone. Every removal
/// is tried even when one fails; the first failure is returned, and a retry starts over (each step is
/// idempotent). `face_known` says whether a missing FaceId means "no face was indexed" (the writer itself
/// knows) or "unknown" (read from the record after a crash): then the attempt stays `Aborted` for the
/// reconciler, and the undo fails rather than claim that nothing is left.
pub async fn undo(
    faces: &dyn FaceEngine,
    images: &dyn ImageStore,
    records: &dyn FaceRecords,
    attempt: &Attempt,
    face_known: bool,
) -> Result<RollbackResult, ServiceError> {
    let committed = RollbackResult {
        committed: true,
        ..RollbackResult::default()
    };
    match attempt.status {
        AttemptStatus::RolledBack => return Ok(RollbackResult::default()),
        AttemptStatus::Committed => return Ok(committed),
        AttemptStatus::Pending | AttemptStatus::Aborted => {}
    }
    if let Err(e) = records
        .set_attempt_status(&attempt.attempt_id, AttemptStatus::Aborted)
        .await
    {
        if e.kind != ServiceErrorKind::Conflict {
            return Err(e);
        }
        // It committed meanwhile (or its record is gone): there is nothing of a failure to undo.
        return match records.attempt(&attempt.attempt_id).await? {
            Some(a) if a.status == AttemptStatus::Committed => Ok(committed),
            _ => Ok(RollbackResult::default()),
        };
    }

    let mut result = RollbackResult::default();
    let mut first_error: Option<ServiceError> = None;
    let mut note = |outcome: Result<(), ServiceError>, counter: &mut usize| match outcome {
        Ok(()) => *counter += 1,
        Err(e) => {
            tracing::warn!(error = %e, "rollback step failed");
            first_error.get_or_insert(e);
        }
    };
    if let Some(face_id) = &attempt.face_id {
        let ids = [face_id.clone()];
        note(
            faces.delete_faces(&attempt.collection, &ids).await,
            &mut result.faces_deleted,
        );
    }
    for key in [&attempt.image_key, &attempt.id_card_key]
        .into_iter()
        .flatten()
    {
        // Keys are unique to the attempt (face id, attempt id): every version of them is its own.
        let object = WrittenObject {
            key: key.clone(),
            version_id: None,
        };
        note(images.delete(&object).await, &mut result.objects_deleted);
    }
    if attempt.mode == IndexMode::Register {
        note(
            records
                .release_claim(&attempt.user_id, &attempt.attempt_id)
                .await,
            &mut result.rows_deleted,
        );
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if attempt.face_id.is_none() && !face_known {
        return Err(ServiceError::new(
            "rekognition",
            "IndexFaces",
            ServiceErrorKind::Other,
            format!(
                "attempt {} may have indexed a face it did not record; it stays Aborted until \
                 `cargo xtask reconcile` removes faces without a record",
                attempt.attempt_id
            ),
        ));
    }
    records
        .set_attempt_status(&attempt.attempt_id, AttemptStatus::RolledBack)
        .await?;
    Ok(result)
}
