//! `index-face`: the only writer, in two phases. It records the attempt (and, for a registration, claims the
//! UserId) before any write, notes the face on the record right after IndexFaces, settles who owns the face,
//! stores the images, and commits: the face record becomes live and the attempt committed in one transaction.
//! Any failure undoes the attempt from what it knows; a crash leaves the record for `rollback` and the reconciler.
//!
//! No lock: different people register in parallel. When several UserIds race with one face, each indexes
//! first and then searches; of two racers at least one sees the other's face. A commit marks every pending
//! racer it saw as beaten in the same transaction, and requires that its own attempt is not beaten and that
//! every other face it saw and passed over still has no record. DynamoDB serialises the transactions, so
//! exactly one of them wins.

use super::image_error;
use super::pictures::{self, Photo};
use super::registration::{self, Contest};

use crate::faults::{Fault, Faults};
use crate::ports::{
    Attempt, Commit, FaceEngine, FaceRecord, FaceRecords, ImageStore, Profile, ProfileChange,
    ServiceError, ServiceErrorKind,
};
use crate::HandlerError;
use riv_domain::attempt::{self, AttemptStatus, ProfileStatus};
use riv_domain::config::{CollectionConfig, MatchConfig};
use riv_domain::events::{
    IdCardData, IndexFaceRequest, IndexFaceResult, IndexMode, IndexStatus, Properties, WrittenFace,
    WrittenObject,
};
use riv_domain::names::bucket;
use riv_domain::uploads::Slot;
use riv_domain::{collections, validate, Rejection};
use std::sync::Arc;

/// Commits tried before giving up: each retry follows a lost condition, that is a change another request made
/// (a racer noting its face, committing, or beating us), so the bound is about how many may race one face.
/// Five was too few for eight racers arriving a little apart on a loaded machine: each newly noted face
/// invalidated the last commit, and racers gave up with 500 before anyone had won.
const COMMIT_TRIES: usize = 20;

pub struct IndexFace {
    pub faces: Arc<dyn FaceEngine>,
    pub images: Arc<dyn ImageStore>,
    pub records: Arc<dyn FaceRecords>,
    pub collections: CollectionConfig,
    pub matching: MatchConfig,
    /// Faces a user keeps: an update beyond it replaces the oldest.
    pub max_faces: usize,
    /// Crash points for tests (`InjectFault`); empty in any real deployment.
    pub faults: Faults,
}

/// A validated request.
struct Checked {
    user_id: String,
    mode: IndexMode,
    attempt_id: String,
    selfie: Photo,
    card: Option<Photo>,
    properties: Properties,
    id_card_data: Option<IdCardData>,
}

impl IndexFace {
    pub async fn handle(&self, request: IndexFaceRequest) -> Result<IndexFaceResult, HandlerError> {
        let checked = self.check(request)?;
        // The state machine retries this step with the same AttemptId: finish or clear the earlier try first.
        if let Some(earlier) = self.records.attempt(&checked.attempt_id).await? {
            if earlier.user_id != checked.user_id {
                return Err(Rejection::invalid("AttemptId belongs to another user").into());
            }
            if earlier.status == AttemptStatus::Committed {
                return self.replay(&earlier).await;
            }
            registration::undo(&*self.faces, &*self.images, &*self.records, &earlier, false)
                .await?;
        }

        let now_ms = attempt::now_ms();
        let now = riv_domain::clock::now(false);
        let mut attempt = Attempt {
            attempt_id: checked.attempt_id.clone(),
            user_id: checked.user_id.clone(),
            mode: checked.mode,
            status: AttemptStatus::Pending,
            collection: collections::for_user(&self.collections, &checked.user_id),
            face_id: None,
            image_key: None,
            id_card_key: checked.card.as_ref().map(|card| {
                bucket::idcard_key(
                    &checked.user_id,
                    &checked.attempt_id,
                    card.format.extension(),
                )
            }),
            created_at: now,
            expires_at_ms: attempt::expiry(now_ms),
            beaten_by: None,
        };
        let mut profile = None;
        let claim = match checked.mode {
            IndexMode::Register => Some(registration::claim(&attempt)),
            IndexMode::Update => {
                profile = Some(self.live_profile(&checked.user_id).await?);
                None
            }
        };
        registration::begin(&*self.records, &attempt, claim.as_ref()).await?;

        match self.write(&checked, &mut attempt, profile).await {
            Ok(result) => {
                tracing::info!(mode = ?checked.mode, "face indexed and committed");
                Ok(result)
            }
            Err(error) => {
                tracing::warn!(reason = %error.reason(), "attempt failed; undoing its writes");
                // This process knows exactly what it wrote, including "no face was indexed".
                if let Err(e) =
                    registration::undo(&*self.faces, &*self.images, &*self.records, &attempt, true)
                        .await
                {
                    tracing::error!(error = %e, attempt = %attempt.attempt_id, "undo failed; the rollback step or the reconciler will finish it");
                }
                Err(error)
            }
        }
    }

    fn check(&self, request: IndexFaceRequest) -> Result<Checked, HandlerError> {
        let user_id = validate::user_id(&request.user_id)?.to_string();
        let bucket = self.images.bucket();
        let selfie = pictures::resolve(Slot::Selfie, &request.image, bucket)?;
        let card = match &request.id_card {
            Some(card) => Some(pictures::resolve(Slot::IdCard, card, bucket)?),
            None => None,
        };
        let properties = request.properties.unwrap_or_default();
        validate::properties(&properties)?;
        if request.attempt_id.trim().is_empty() {
            return Err(Rejection::invalid("AttemptId is empty").into());
        }
        // Card data comes with a card, and only to a registration: an update never touches it.
        let id_card_data = match (&card, request.mode) {
            (Some(_), IndexMode::Register) => request.id_card_data,
            _ => None,
        };
        Ok(Checked {
            user_id,
            mode: request.mode,
            attempt_id: request.attempt_id,
            selfie,
            card,
            properties,
            id_card_data,
        })
    }

    async fn live_profile(&self, user_id: &str) -> Result<Profile, HandlerError> {
        match self.records.profile(user_id).await? {
            Some(profile) if profile.is_active() => Ok(profile),
            _ => Err(Rejection::UserNotFound(user_id.to_string()).into()),
        }
    }

    /// Every write after the attempt record, in order; `attempt` always says what was written so far. An
    /// update starts from the `profile` it read before it began.
    async fn write(
        &self,
        checked: &Checked,
        attempt: &mut Attempt,
        mut profile: Option<Profile>,
    ) -> Result<IndexFaceResult, HandlerError> {
        let external_id = collections::external_image_id(&checked.user_id);
        let face_id = self
            .faces
            .index_face(&attempt.collection, &checked.selfie.picture, &external_id)
            .await
            .map_err(|e| image_error(e, "Image"))?
            .ok_or(Rejection::NoFaceDetected)?;
        let image_key = bucket::face_key(
            &checked.user_id,
            &face_id,
            checked.selfie.format.extension(),
        );
        attempt.face_id = Some(face_id.clone());
        attempt.image_key = Some(image_key.clone());
        self.faults
            .crash_at(Fault::CrashAfterIndexFaces, &checked.user_id);
        self.records
            .record_face(&attempt.attempt_id, &face_id, &image_key)
            .await?;

        let mut contest = match checked.mode {
            IndexMode::Register => self.contest(attempt, &checked.selfie.picture).await?,
            IndexMode::Update => Contest::default(),
        };
        // An upload is copied to its permanent key at the version that was checked; the flow deletes the
        // upload itself when it ends.
        let image = pictures::keep(&*self.images, &checked.selfie, &image_key).await?;
        let id_card = match (&checked.card, &attempt.id_card_key) {
            (Some(card), Some(key)) => Some(pictures::keep(&*self.images, card, key).await?),
            _ => None,
        };
        self.faults
            .crash_at(Fault::CrashAfterS3Write, &checked.user_id);

        // Milliseconds: the per-user cap replaces the oldest face, so order within a second matters.
        let now = riv_domain::clock::now(true);
        let face = FaceRecord {
            user_id: checked.user_id.clone(),
            face: WrittenFace {
                collection: attempt.collection.clone(),
                face_id: face_id.clone(),
            },
            image,
            attempt_id: attempt.attempt_id.clone(),
            created_at: now.clone(),
        };
        for _ in 0..COMMIT_TRIES {
            let (change, properties, id_card_data) = match &profile {
                None => {
                    let created = Profile {
                        user_id: checked.user_id.clone(),
                        status: ProfileStatus::Active,
                        properties: checked.properties.clone(),
                        id_card: id_card.clone(),
                        id_card_data: checked.id_card_data.clone(),
                        attempt_id: attempt.attempt_id.clone(),
                        created_at: now.clone(),
                        version: 1,
                        expires_at_ms: 0,
                    };
                    let data = created.id_card_data.clone();
                    (
                        ProfileChange::Create(created),
                        checked.properties.clone(),
                        data,
                    )
                }
                Some(current) => {
                    // The caller's keys over what is stored now: a concurrent update's keys survive.
                    let mut merged = current.properties.clone();
                    merged.extend(checked.properties.clone());
                    validate::stored_properties(&merged)?;
                    let change = ProfileChange::Update {
                        properties: merged.clone(),
                        expected_version: current.version,
                        updated_at: now.clone(),
                    };
                    (change, merged, current.id_card_data.clone())
                }
            };
            let evict = match checked.mode {
                IndexMode::Update => self.oldest_beyond_cap(&checked.user_id).await?,
                IndexMode::Register => Vec::new(),
            };
            let commit = Commit {
                attempt_id: attempt.attempt_id.clone(),
                face: face.clone(),
                profile: change,
                defeats: contest.defeats.clone(),
                passed_over: contest.passed_over.clone(),
                evict,
                now_ms: attempt::now_ms(),
            };
            match self.records.commit(&commit).await {
                Ok(()) => {
                    attempt.status = AttemptStatus::Committed;
                    self.remove_evicted(&commit.evict).await;
                    return Ok(IndexFaceResult {
                        user_id: checked.user_id.clone(),
                        face_id,
                        status: match checked.mode {
                            IndexMode::Register => IndexStatus::Registered,
                            IndexMode::Update => IndexStatus::Updated,
                        },
                        properties,
                        id_card: id_card_data,
                    });
                }
                Err(e) if e.kind == ServiceErrorKind::Conflict => {
                    tracing::info!("commit lost a condition; reading what changed");
                    registration::still_pending(&*self.records, attempt).await?;
                    match checked.mode {
                        IndexMode::Register => {
                            registration::still_claimed(&*self.records, attempt).await?;
                            contest = self.contest(attempt, &checked.selfie.picture).await?;
                        }
                        IndexMode::Update => {
                            profile = Some(self.live_profile(&checked.user_id).await?);
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(match checked.mode {
            IndexMode::Update => Rejection::UpdateConflict(checked.user_id.clone()).into(),
            IndexMode::Register => ServiceError::new(
                "dynamodb",
                "TransactWriteItems",
                ServiceErrorKind::Throttled,
                "the registration kept losing its commit to concurrent changes",
            )
            .into(),
        })
    }

    /// Who owns this face, among the other faces that match it: see `registration::contest`.
    async fn contest(
        &self,
        me: &Attempt,
        image: &crate::ports::Picture,
    ) -> Result<Contest, HandlerError> {
        registration::contest(
            &*self.faces,
            &*self.records,
            &self.collections,
            self.matching.face_match_threshold,
            me,
            image,
        )
        .await
    }

    /// The user's oldest faces that must go so that, with the new one, at most `max_faces` remain.
    async fn oldest_beyond_cap(&self, user_id: &str) -> Result<Vec<FaceRecord>, HandlerError> {
        let mut faces = self.records.faces(user_id).await?;
        let excess = (faces.len() + 1).saturating_sub(self.max_faces);
        faces.sort_by(|a, b| {
            (a.created_at.as_str(), a.face.face_id.as_str())
                .cmp(&(b.created_at.as_str(), b.face.face_id.as_str()))
        });
        faces.truncate(excess);
        Ok(faces)
    }

    /// Removes the faces and images of records the commit deleted. Their rows are gone, so they can no longer
    /// authenticate anyone; what fails here is an orphan the reconciler finds and removes.
    async fn remove_evicted(&self, evicted: &[FaceRecord]) {
        for old in evicted {
            tracing::info!(face_id = %old.face.face_id, "replaced the oldest face (per-user cap)");
            let face_ids = [old.face.face_id.clone()];
            if let Err(e) = self
                .faces
                .delete_faces(&old.face.collection, &face_ids)
                .await
            {
                tracing::error!(error = %e, face_id = %old.face.face_id, "evicted face left in the collection; reconcile removes it");
            }
            let every_version = WrittenObject {
                key: old.image.key.clone(),
                version_id: None,
            };
            if let Err(e) = self.images.delete(&every_version).await {
                tracing::error!(error = %e, key = %old.image.key, "evicted image left in the bucket; reconcile removes it");
            }
        }
    }

    /// The answer of an attempt that committed on an earlier try.
    async fn replay(&self, done: &Attempt) -> Result<IndexFaceResult, HandlerError> {
        let profile = self.live_profile(&done.user_id).await?;
        Ok(IndexFaceResult {
            user_id: done.user_id.clone(),
            face_id: done.face_id.clone().unwrap_or_default(),
            status: match done.mode {
                IndexMode::Register => IndexStatus::Registered,
                IndexMode::Update => IndexStatus::Updated,
            },
            properties: profile.properties,
            id_card: profile.id_card_data,
        })
    }
}

#[cfg(test)]
mod tests;
