//! Who owns a face: the user whose live record holds it. The duplicate guard of `search-faces`, the
//! authentication fallback of `search-faces` and the contest of an `index-face` registration all decide by
//! this one rule, so that a face without a record (a crashed attempt's, or one put there by hand) vouches for
//! nobody and blocks nobody, wherever it is asked.

use crate::handlers::image_error;
use crate::ports::{Attempt, FaceEngine, FaceMatch, FaceRecords, Picture, ServiceError};
use crate::HandlerError;
use riv_domain::attempt::{self, ProfileStatus};
use riv_domain::config::CollectionConfig;
use riv_domain::{collections, Rejection};

/// Enough candidates to see past near-duplicates of the same person and faces left without a record.
pub const MAX_CANDIDATES: i32 = 20;

/// Faces of this image in one collection at or above `threshold`, best first.
pub async fn search(
    faces: &dyn FaceEngine,
    collection: &str,
    image: &Picture,
    threshold: f32,
    max_faces: i32,
) -> Result<Vec<FaceMatch>, HandlerError> {
    let mut matches = faces
        .search_faces_by_image(collection, image, threshold, max_faces)
        .await
        .map_err(|e| image_error(e, "Image"))?;
    matches.retain(|m| m.similarity >= threshold);
    matches.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    Ok(matches)
}

/// The user a match belongs to, when a live record of that user holds that very face.
pub async fn live_owner(
    records: &dyn FaceRecords,
    candidate: &FaceMatch,
) -> Result<Option<String>, ServiceError> {
    let Some(owner) = candidate
        .external_image_id
        .as_deref()
        .map(collections::user_of_external_image_id)
    else {
        return Ok(None);
    };
    Ok(records
        .face(&owner, &candidate.face_id)
        .await?
        .map(|_| owner))
}

/// Fails when a live record holds this face: `UserAlreadyExists` if this very user's, else
/// `FaceAlreadyRegistered`. A user's partition says where *their* faces go; somebody else's copy of this face
/// can be in any collection, so all are searched. Faces without a record are passed over.
pub async fn refuse_duplicates(
    faces: &dyn FaceEngine,
    records: &dyn FaceRecords,
    config: &CollectionConfig,
    threshold: f32,
    user_id: &str,
    image: &Picture,
) -> Result<(), HandlerError> {
    for collection in collections::names(&config.prefix, config.count) {
        for candidate in search(faces, &collection, image, threshold, MAX_CANDIDATES).await? {
            if let Some(owner) = live_owner(records, &candidate).await? {
                tracing::info!(similarity = candidate.similarity, "face already registered");
                return Err(if owner == user_id {
                    Rejection::UserAlreadyExists(user_id.to_string())
                } else {
                    Rejection::FaceAlreadyRegistered
                }
                .into());
            }
        }
    }
    Ok(())
}

/// Candidates looked at when settling who owns a face: racers and faces without records included.
const MAX_CONTENDERS: i32 = 50;

/// What a registration's commit must settle about the other faces that matched its own.
#[derive(Debug, Default)]
pub(crate) struct Contest {
    pub(crate) defeats: Vec<String>,
    pub(crate) passed_over: Vec<(String, String)>,
}

/// Decides who owns this face before the commit. Another user's live face means we lose; a pending
/// registration of another UserId that already noted a face we matched is a racer our commit must beat;
/// any other face of another user (no record, attempt over, or not yet noted) is passed over, and the
/// commit checks it still has no record: these reads are not atomic, and a racer may commit between them.
pub(crate) async fn contest(
    faces: &dyn FaceEngine,
    records: &dyn FaceRecords,
    config: &CollectionConfig,
    threshold: f32,
    me: &Attempt,
    image: &Picture,
) -> Result<Contest, HandlerError> {
    let mut contest = Contest::default();
    for collection in collections::names(&config.prefix, config.count) {
        for candidate in search(faces, &collection, image, threshold, MAX_CONTENDERS).await? {
            if me.face_id.as_deref() == Some(candidate.face_id.as_str()) {
                continue;
            }
            if let Some(owner) = live_owner(records, &candidate).await? {
                tracing::info!(similarity = candidate.similarity, "face already registered");
                return Err(if owner == me.user_id {
                    Rejection::UserAlreadyExists(owner)
                } else {
                    Rejection::FaceAlreadyRegistered
                }
                .into());
            }
            let Some(owner) = candidate
                .external_image_id
                .as_deref()
                .map(collections::user_of_external_image_id)
            else {
                continue;
            };
            // Our own claim keeps this user's other faces from becoming live meanwhile.
            if owner == me.user_id {
                continue;
            }
            match racer(records, &owner, &candidate.face_id, me).await? {
                Some(racer) if !contest.defeats.contains(&racer) => contest.defeats.push(racer),
                Some(_) => {}
                None => contest.passed_over.push((owner, candidate.face_id)),
            }
        }
    }
    Ok(contest)
}

/// The pending registration of `owner` that noted `face_id`, if one is in flight.
async fn racer(
    records: &dyn FaceRecords,
    owner: &str,
    face_id: &str,
    me: &Attempt,
) -> Result<Option<String>, HandlerError> {
    let Some(claim) = records.profile(owner).await? else {
        return Ok(None);
    };
    if claim.status != ProfileStatus::Pending || claim.attempt_id == me.attempt_id {
        return Ok(None);
    }
    let Some(racer) = records.attempt(&claim.attempt_id).await? else {
        return Ok(None);
    };
    let racing = attempt::in_flight(racer.status, racer.expires_at_ms, attempt::now_ms())
        && racer.face_id.as_deref() == Some(face_id);
    Ok(racing.then_some(racer.attempt_id))
}
