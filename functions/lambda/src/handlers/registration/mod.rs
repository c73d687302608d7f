//! Registration logic, not a function: the claim on a UserId, the refusal of a face somebody already owns,
//! the contest between racing registrations, and the removal of an attempt. `index-face`, `search-faces` and
//! `rollback` only wire it to their requests; it lives in one place so that what owns a face, what an attempt
//! claimed and how it is undone are decided the same way by every function that asks.
//!
//! There is no lock: the claim is a pending profile row written with the attempt record, and a registration
//! that lost its claim or its contest learns it when its commit's conditions fail (see `index-face`).

mod owners;
mod removal;

pub(crate) use owners::{contest, Contest};
pub use owners::{live_owner, refuse_duplicates, search, MAX_CANDIDATES};
pub use removal::undo;

use crate::ports::{Attempt, FaceRecords, Profile, ServiceError, ServiceErrorKind};
use crate::HandlerError;
use riv_domain::attempt::{self, ProfileStatus};
use riv_domain::events::{IndexMode, Properties};
use riv_domain::Rejection;

/// The claim a registration holds on its UserId while it runs: a pending profile that names the attempt and
/// expires with it.
pub(crate) fn claim(attempt: &Attempt) -> Profile {
    Profile {
        user_id: attempt.user_id.clone(),
        status: ProfileStatus::Pending,
        properties: Properties::new(),
        id_card: None,
        id_card_data: None,
        attempt_id: attempt.attempt_id.clone(),
        created_at: attempt.created_at.clone(),
        version: 0,
        expires_at_ms: attempt.expires_at_ms,
    }
}

/// Records the attempt, with the registration's `claim` on the UserId, before any other write. A claim that
/// is already held, by a live user or by a registration in progress, is `UserAlreadyExists`.
pub(crate) async fn begin(
    records: &dyn FaceRecords,
    attempt: &Attempt,
    claim: Option<&Profile>,
) -> Result<(), HandlerError> {
    records
        .begin(attempt, claim)
        .await
        .map_err(|e| match (e.kind, attempt.mode) {
            // The claim on the UserId is held: by a live user, or by a registration in progress.
            (ServiceErrorKind::Conflict, IndexMode::Register) => {
                Rejection::UserAlreadyExists(attempt.user_id.clone()).into()
            }
            _ => HandlerError::from(e),
        })
}

/// Fails when another registration's commit beat this attempt, or it can no longer commit at all.
pub(crate) async fn still_pending(
    records: &dyn FaceRecords,
    me: &Attempt,
) -> Result<(), HandlerError> {
    match records.attempt(&me.attempt_id).await? {
        Some(a) if a.beaten_by.is_some() => Err(Rejection::FaceAlreadyRegistered.into()),
        Some(a) if attempt::in_flight(a.status, a.expires_at_ms, attempt::now_ms()) => Ok(()),
        _ => Err(ServiceError::new(
            "dynamodb",
            "TransactWriteItems",
            ServiceErrorKind::Other,
            "the attempt expired or was aborted before it could commit",
        )
        .into()),
    }
}

/// Fails when this registration's claim on the UserId is no longer its own.
pub(crate) async fn still_claimed(
    records: &dyn FaceRecords,
    me: &Attempt,
) -> Result<(), HandlerError> {
    match records.profile(&me.user_id).await? {
        Some(p) if p.status == ProfileStatus::Pending && p.attempt_id == me.attempt_id => Ok(()),
        _ => Err(Rejection::UserAlreadyExists(me.user_id.clone()).into()),
    }
}

#[cfg(test)]
mod tests;
