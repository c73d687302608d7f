//! `index-face`: the only writer, in two phases. It records the attempt (and, for a registration, claims the
//! UserId) before any write, notes the face on the record right after IndexFaces, settles who owns the face,
//! stores the images, and commits: the face record becomes live and the attempt committed in one transaction.
//! Any failure undoes the attempt from what it knows; a crash leaves the record for `rollback` and the reconciler.
//!
//! No lock: different people register in parallel. When several UserIds race with one face, each indexes
//! first and then searches; of two racers at least one sees the other's face, and a commit marks every pending
//! racer it saw as beaten in the same transaction, while a racer's own commit requires it is not beaten and
//! none it saw has committed. DynamoDB serialises the transactions, so exactly one of them wins.

use super::image_error;
use super::rollback::undo;
use super::search_faces::{live_owner, search};

use crate::faults::{Fault, Faults};
use crate::ports::{
    Attempt, Commit, FaceEngine, FaceRecord, FaceRecords, ImageStore, Profile, ProfileChange,
    ServiceError, ServiceErrorKind,
};
use crate::HandlerError;
use riv_domain::attempt::{self, AttemptStatus, ProfileStatus};
use riv_domain::config::{CollectionConfig, MatchConfig};
use riv_domain::events::{
    IndexFaceRequest, IndexFaceResult, IndexMode, IndexStatus, Properties, WrittenFace,
};
use riv_domain::names::bucket;
use riv_domain::validate::Image;
use riv_domain::{collections, validate, Rejection};
use std::sync::Arc;

/// Candidates looked at when settling who owns a face: racers and faces without records included.
const MAX_CONTENDERS: i32 = 50;
/// Commits tried before giving up: each retry follows a lost condition that changed what we know.
const COMMIT_TRIES: usize = 5;

pub struct IndexFace {
    pub faces: Arc<dyn FaceEngine>,
    pub images: Arc<dyn ImageStore>,
    pub records: Arc<dyn FaceRecords>,
    pub collections: CollectionConfig,
    pub matching: MatchConfig,
    /// Crash points for tests (`InjectFault`); empty in any real deployment.
    pub faults: Faults,
}

/// A validated request.
struct Checked {
    user_id: String,
    mode: IndexMode,
    attempt_id: String,
    selfie: Image,
    card: Option<Image>,
    properties: Properties,
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
            undo(
                &*self.faces,
                &*self.images,
                &*self.records,
                &earlier,
                false,
            )
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
            created_at: now.clone(),
            expires_at_ms: attempt::expiry(now_ms),
            beaten_by: None,
        };
        let claim = match checked.mode {
            IndexMode::Register => Some(Profile {
                user_id: checked.user_id.clone(),
                status: ProfileStatus::Pending,
                properties: Properties::new(),
                id_card: None,
                attempt_id: checked.attempt_id.clone(),
                created_at: now.clone(),
                version: 0,
                expires_at_ms: attempt.expires_at_ms,
            }),
            IndexMode::Update => {
                self.live_profile(&checked.user_id).await?;
                None
            }
        };
        self.records
            .begin(&attempt, claim.as_ref())
            .await
            .map_err(|e| match e.kind {
                ServiceErrorKind::Conflict => {
                    Rejection::UserAlreadyExists(checked.user_id.clone()).into()
                }
                _ => HandlerError::from(e),
            })?;

        match self.write(&checked, &mut attempt).await {
            Ok(result) => {
                tracing::info!(mode = ?checked.mode, "face indexed and committed");
                Ok(result)
            }
            Err(error) => {
                tracing::warn!(reason = %error.reason(), "attempt failed; undoing its writes");
                // This process knows exactly what it wrote, including "no face was indexed".
                if let Err(e) =
                    undo(&*self.faces, &*self.images, &*self.records, &attempt, true).await
                {
                    tracing::error!(error = %e, attempt = %attempt.attempt_id, "undo failed; the rollback step or the reconciler will finish it");
                }
                Err(error)
            }
        }
    }

    fn check(&self, request: IndexFaceRequest) -> Result<Checked, HandlerError> {
        let user_id = validate::user_id(&request.user_id)?.to_string();
        let selfie = validate::image("Image", &request.image, validate::MAX_SELFIE_BYTES)?;
        let card = match &request.id_card {
            Some(card) => Some(validate::image("IdCard", card, validate::MAX_IDCARD_BYTES)?),
            None => None,
        };
        let mut properties = request.properties.unwrap_or_default();
        validate::properties(&properties)?;
        if request.attempt_id.trim().is_empty() {
            return Err(Rejection::invalid("AttemptId is empty").into());
        }
        // Verified card data wins over what the caller typed.
        properties.extend(request.id_card_fields.unwrap_or_default());
        Ok(Checked {
            user_id,
            mode: request.mode,
            attempt_id: request.attempt_id,
            selfie,
            card,
            properties,
        })
    }

    async fn live_profile(&self, user_id: &str) -> Result<Profile, HandlerError> {
        match self.records.profile(user_id).await? {
            Some(profile) if profile.is_active() => Ok(profile),
            _ => Err(Rejection::UserNotFound(user_id.to_string()).into()),
        }
    }

    /// Every write after the attempt record, in order; `attempt` always says what was written so far.
    async fn write(
        &self,
        checked: &Checked,
        attempt: &mut Attempt,
    ) -> Result<IndexFaceResult, HandlerError> {
        let external_id = collections::external_image_id(&checked.user_id);
        let face_id = self
            .faces
            .index_face(&attempt.collection, &checked.selfie.bytes, &external_id)
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
        self.faults.crash_at(Fault::CrashAfterIndexFaces);
        self.records
            .record_face(&attempt.attempt_id, &face_id, &image_key)
            .await?;

        let mut defeats = match checked.mode {
            IndexMode::Register => self.contest(attempt, &checked.selfie.bytes).await?,
            IndexMode::Update => Vec::new(),
        };
        let image = self
            .images
            .put(
                &image_key,
                checked.selfie.bytes.clone(),
                checked.selfie.format.content_type(),
            )
            .await?;
        let id_card = match (&checked.card, &attempt.id_card_key) {
            (Some(card), Some(key)) => Some(
                self.images
                    .put(key, card.bytes.clone(), card.format.content_type())
                    .await?,
            ),
            _ => None,
        };
        self.faults.crash_at(Fault::CrashAfterS3Write);

        let now = riv_domain::clock::now(false);
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
        let mut profile = match checked.mode {
            IndexMode::Update => Some(self.live_profile(&checked.user_id).await?),
            IndexMode::Register => None,
        };
        for _ in 0..COMMIT_TRIES {
            let (change, properties) = match &profile {
                None => {
                    let created = Profile {
                        user_id: checked.user_id.clone(),
                        status: ProfileStatus::Active,
                        properties: checked.properties.clone(),
                        id_card: id_card.clone(),
                        attempt_id: attempt.attempt_id.clone(),
                        created_at: now.clone(),
                        version: 1,
                        expires_at_ms: 0,
                    };
                    (ProfileChange::Create(created), checked.properties.clone())
                }
                Some(current) => {
                    // The caller's keys over what is stored now: a concurrent update's keys survive.
                    let mut merged = current.properties.clone();
                    merged.extend(checked.properties.clone());
                    let change = ProfileChange::Update {
                        properties: merged.clone(),
                        expected_version: current.version,
                        updated_at: now.clone(),
                    };
                    (change, merged)
                }
            };
            let commit = Commit {
                attempt_id: attempt.attempt_id.clone(),
                face: face.clone(),
                profile: change,
                defeats: defeats.clone(),
                now_ms: attempt::now_ms(),
            };
            match self.records.commit(&commit).await {
                Ok(()) => {
                    attempt.status = AttemptStatus::Committed;
                    return Ok(IndexFaceResult {
                        user_id: checked.user_id.clone(),
                        face_id,
                        status: match checked.mode {
                            IndexMode::Register => IndexStatus::Registered,
                            IndexMode::Update => IndexStatus::Updated,
                        },
                        properties,
                    });
                }
                Err(e) if e.kind == ServiceErrorKind::Conflict => {
                    tracing::info!("commit lost a condition; reading what changed");
                    self.still_pending(attempt).await?;
                    match checked.mode {
                        IndexMode::Register => {
                            self.still_claimed(attempt).await?;
                            defeats = self.contest(attempt, &checked.selfie.bytes).await?;
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

    /// Decides who owns this face before the commit. Another user's live face means we lose; a pending
    /// registration of another UserId that already noted a face we matched is a racer our commit must beat;
    /// anything else (faces without a record, attempts that are over) is ignored.
    async fn contest(&self, me: &Attempt, image: &[u8]) -> Result<Vec<String>, HandlerError> {
        let threshold = self.matching.face_match_threshold;
        let mut defeats: Vec<String> = Vec::new();
        for collection in collections::names(&self.collections.prefix, self.collections.count) {
            for candidate in
                search(&*self.faces, &collection, image, threshold, MAX_CONTENDERS).await?
            {
                if me.face_id.as_deref() == Some(candidate.face_id.as_str()) {
                    continue;
                }
                if let Some(owner) = live_owner(&*self.records, &candidate).await? {
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
                if owner == me.user_id {
                    continue;
                }
                let Some(claim) = self.records.profile(&owner).await? else {
                    continue;
                };
                if claim.status != ProfileStatus::Pending || claim.attempt_id == me.attempt_id {
                    continue;
                }
                let Some(racer) = self.records.attempt(&claim.attempt_id).await? else {
                    continue;
                };
                let racing = attempt::in_flight(racer.status, racer.expires_at_ms, attempt::now_ms())
                    && racer.face_id.as_deref() == Some(candidate.face_id.as_str());
                if racing && !defeats.contains(&racer.attempt_id) {
                    defeats.push(racer.attempt_id);
                }
            }
        }
        Ok(defeats)
    }

    /// Fails when another registration's commit beat this attempt, or it can no longer commit at all.
    async fn still_pending(&self, me: &Attempt) -> Result<(), HandlerError> {
        match self.records.attempt(&me.attempt_id).await? {
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
    async fn still_claimed(&self, me: &Attempt) -> Result<(), HandlerError> {
        match self.records.profile(&me.user_id).await? {
            Some(p) if p.status == ProfileStatus::Pending && p.attempt_id == me.attempt_id => Ok(()),
            _ => Err(Rejection::UserAlreadyExists(me.user_id.clone()).into()),
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{photo_b64, FakeFaces, FakeRecords, FakeStore};
    use riv_domain::Reason;

    struct World {
        faces: Arc<FakeFaces>,
        images: Arc<FakeStore>,
        records: Arc<FakeRecords>,
        handler: IndexFace,
    }

    fn world() -> World {
        let faces = Arc::new(FakeFaces::with_collections(&["riv-1"]));
        let images = Arc::new(FakeStore::default());
        let records = Arc::new(FakeRecords::default());
        let handler = IndexFace {
            faces: faces.clone(),
            images: images.clone(),
            records: records.clone(),
            collections: CollectionConfig {
                prefix: "riv".into(),
                count: 1,
            },
            matching: MatchConfig::default(),
            faults: Faults::default(),
        };
        World {
            faces,
            images,
            records,
            handler,
        }
    }

    impl World {
        /// (faces in the collection, image keys, user rows)
        fn state(&self) -> (usize, usize, usize) {
            (
                self.faces.face_count(),
                self.images.keys().len(),
                self.records.row_count(),
            )
        }

        fn statuses(&self) -> Vec<AttemptStatus> {
            self.records.attempts().iter().map(|a| a.status).collect()
        }
    }

    fn register(user: &str, identity: &str) -> IndexFaceRequest {
        IndexFaceRequest {
            user_id: user.into(),
            image: photo_b64(identity),
            mode: IndexMode::Register,
            attempt_id: format!("attempt-{user}-{identity}"),
            properties: Some([("dept".to_string(), "sales".to_string())].into()),
            id_card: None,
            id_card_fields: None,
        }
    }

    fn update(user: &str, identity: &str, key: &str) -> IndexFaceRequest {
        IndexFaceRequest {
            mode: IndexMode::Update,
            properties: Some([(key.to_string(), "x".to_string())].into()),
            ..register(user, identity)
        }
    }

    #[tokio::test]
    async fn registration_commits_face_image_rows_and_attempt() {
        let w = world();
        let r = w
            .handler
            .handle(register("ann@example.com", "ann"))
            .await
            .unwrap();
        assert_eq!(r.status, IndexStatus::Registered);
        assert_eq!(w.state(), (1, 1, 2));
        assert_eq!(w.statuses(), [AttemptStatus::Committed]);
        let stored = w.faces.collections.lock().unwrap()["riv-1"][0].clone();
        assert_eq!(stored.face_id, r.face_id);
        assert_eq!(stored.external_image_id, "ann:example.com");
        assert_eq!(
            w.images.keys(),
            [format!("faces/ann@example.com/{}.png", r.face_id)]
        );
        let profile = w.records.profile("ann@example.com").await.unwrap().unwrap();
        assert!(profile.is_active());
        assert_eq!(profile.properties["dept"], "sales");
        assert!(w
            .records
            .face("ann@example.com", &r.face_id)
            .await
            .unwrap()
            .is_some());
    }

    #[tokio::test]
    async fn card_fields_override_caller_properties_and_the_card_is_stored() {
        let w = world();
        let mut req = register("ann", "ann");
        req.properties = Some([("LAST_NAME".to_string(), "typed".to_string())].into());
        req.id_card = Some(photo_b64("ann#card"));
        req.id_card_fields = Some([("LAST_NAME".to_string(), "LEE".to_string())].into());
        let attempt = req.attempt_id.clone();
        let r = w.handler.handle(req).await.unwrap();
        assert_eq!(r.properties["LAST_NAME"], "LEE");
        assert!(w
            .images
            .keys()
            .contains(&format!("idcards/ann/{attempt}.png")));
    }

    #[tokio::test]
    async fn a_second_registration_of_the_user_loses_cleanly() {
        let w = world();
        w.handler.handle(register("ann", "ann")).await.unwrap();
        let before = w.state();
        let err = w
            .handler
            .handle(register("ann", "ann#2"))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::UserAlreadyExists);
        assert_eq!(w.state(), before, "nothing of the loser was written");
    }

    #[tokio::test]
    async fn a_failure_after_each_write_leaves_nothing_behind() {
        // (operation, successes before it fails): the face, its note, the selfie, the card, the commit.
        let steps = [
            ("IndexFaces", 0),
            ("RecordFace", 0),
            ("PutObject", 0),
            ("PutObject", 1),
            ("TransactWriteItems", 1),
        ];
        for (failing, successes) in steps {
            let w = world();
            let mut req = register("ann", "ann");
            req.id_card = Some(photo_b64("ann#card"));
            match failing {
                "IndexFaces" => w.faces.faults.fail_after(failing, successes),
                "PutObject" => w.images.faults.fail_after(failing, successes),
                _ => w.records.faults.fail_after(failing, successes),
            }
            let err = w.handler.handle(req).await.unwrap_err();
            assert_eq!(err.reason(), Reason::InternalError, "{failing}");
            assert_eq!(
                w.state(),
                (0, 0, 0),
                "after {failing} #{} failed",
                successes + 1
            );
            assert_eq!(w.statuses(), [AttemptStatus::RolledBack], "{failing}");
        }
    }

    #[tokio::test]
    async fn a_retry_of_the_same_attempt_after_a_failure_starts_clean() {
        let w = world();
        w.records.faults.fail_after("TransactWriteItems", 1);
        assert!(w.handler.handle(register("ann", "ann")).await.is_err());
        w.records.faults.heal("TransactWriteItems");
        let r = w.handler.handle(register("ann", "ann")).await.unwrap();
        assert_eq!(w.state(), (1, 1, 2));
        // And once more, as if the answer had been lost: the committed result again, nothing new written.
        let again = w.handler.handle(register("ann", "ann")).await.unwrap();
        assert_eq!(again.face_id, r.face_id);
        assert_eq!(w.state(), (1, 1, 2));
    }

    #[tokio::test]
    async fn a_face_someone_registered_meanwhile_is_refused() {
        let w = world();
        // Passed the early guard, then bob registered this face before we indexed ours.
        let bobs = w.faces.seed("riv-1", "bob", "ann");
        w.records.live_user("bob", "riv-1", &bobs);
        let err = w
            .handler
            .handle(register("ann", "ann#2"))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::FaceAlreadyRegistered);
        assert_eq!(w.faces.face_count(), 1, "ann's face was removed again");
        assert!(w.records.profile("ann").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_orphan_of_the_same_face_does_not_block_a_registration() {
        let w = world();
        w.faces.seed("riv-1", "mallory", "ann");
        w.handler.handle(register("ann", "ann")).await.unwrap();
        assert!(w.records.profile("ann").await.unwrap().unwrap().is_active());
    }

    #[tokio::test]
    async fn an_expired_claim_is_taken_over() {
        let w = world();
        w.records.insert_profile(Profile {
            status: ProfileStatus::Pending,
            attempt_id: "dead".into(),
            expires_at_ms: 1,
            ..crate::fakes::active_profile("ann")
        });
        w.handler.handle(register("ann", "ann")).await.unwrap();
        let live = w.records.profile("ann").await.unwrap().unwrap();
        assert!(live.is_active());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_registrations_of_one_face_have_one_winner() {
        for _ in 0..20 {
            let w = Arc::new(world());
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let w = w.clone();
                    tokio::spawn(async move {
                        w.handler
                            .handle(register(&format!("user-{i}"), "same-person"))
                            .await
                    })
                })
                .collect();
            let mut wins = 0;
            for t in tasks {
                match t.await.expect("a registration task panicked") {
                    Ok(_) => wins += 1,
                    Err(e) => assert_eq!(e.reason(), Reason::FaceAlreadyRegistered),
                }
            }
            assert_eq!(wins, 1);
            assert_eq!(w.state(), (1, 1, 2));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn different_people_register_in_parallel() {
        let w = Arc::new(world());
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let w = w.clone();
                tokio::spawn(async move {
                    let user = format!("user-{i}");
                    w.handler.handle(register(&user, &user)).await
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("a registration task panicked").unwrap();
        }
        assert_eq!(w.state(), (20, 20, 40));
    }

    #[tokio::test]
    async fn racers_resolve_by_commit_order() {
        // Two pending registrations of one face, each having noted its face: the first commit beats the other.
        let w = world();
        let first = w.handler.handle(register("ann", "same")).await.unwrap();
        let err = w
            .handler
            .handle(register("bob", "same"))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::FaceAlreadyRegistered);
        assert_eq!(w.state(), (1, 1, 2));
        assert!(w.records.face("ann", &first.face_id).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn update_adds_a_face_and_merges_properties() {
        let w = world();
        w.handler.handle(register("ann", "ann")).await.unwrap();
        let r = w.handler.handle(update("ann", "ann#2", "team")).await.unwrap();
        assert_eq!(r.status, IndexStatus::Updated);
        assert_eq!(r.properties.len(), 2);
        assert_eq!(w.state(), (2, 2, 3));
        assert_eq!(w.records.profile("ann").await.unwrap().unwrap().version, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_updates_lose_no_property() {
        let w = Arc::new(world());
        w.handler.handle(register("ann", "ann")).await.unwrap();
        let tasks: Vec<_> = ["k1", "k2", "k3", "k4"]
            .iter()
            .map(|key| {
                let w = w.clone();
                let key = key.to_string();
                tokio::spawn(async move {
                    w.handler
                        .handle(update("ann", &format!("ann#{key}"), &key))
                        .await
                })
            })
            .collect();
        let mut written = Vec::new();
        for (t, key) in tasks.into_iter().zip(["k1", "k2", "k3", "k4"]) {
            match t.await.expect("an update task panicked") {
                Ok(_) => written.push(key),
                Err(e) => assert_eq!(e.reason(), Reason::UpdateConflict),
            }
        }
        let stored = w.records.profile("ann").await.unwrap().unwrap().properties;
        for key in written {
            assert!(stored.contains_key(key), "{key} lost: {stored:?}");
        }
    }

    #[tokio::test]
    async fn a_failed_update_leaves_properties_as_they_were() {
        let w = world();
        w.handler.handle(register("ann", "ann")).await.unwrap();
        let before = w.records.profile("ann").await.unwrap().unwrap();
        w.images.faults.fail("PutObject");
        let err = w
            .handler
            .handle(update("ann", "ann#2", "team"))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::InternalError);
        assert_eq!(w.records.profile("ann").await.unwrap().unwrap(), before);
        assert_eq!(w.state(), (1, 1, 2));
    }

    #[tokio::test]
    async fn update_of_an_unknown_or_pending_user_writes_nothing() {
        let w = world();
        let err = w
            .handler
            .handle(update("ghost", "ghost", "k"))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::UserNotFound);
        w.records.insert_profile(Profile {
            status: ProfileStatus::Pending,
            ..crate::fakes::active_profile("ann")
        });
        let err = w
            .handler
            .handle(update("ann", "ann", "k"))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::UserNotFound);
        assert_eq!(w.state(), (0, 0, 1));
        assert!(w.statuses().is_empty());
    }

    #[tokio::test]
    async fn bad_input_and_faceless_images_write_nothing() {
        let w = world();
        let mut bad_props = register("ann", "ann");
        bad_props.properties = Some([("no spaces".to_string(), String::new())].into());
        let mut no_attempt = register("ann", "ann");
        no_attempt.attempt_id = " ".into();
        let cases = [
            (register("../x", "ann"), Reason::InvalidRequest),
            (bad_props, Reason::InvalidRequest),
            (no_attempt, Reason::InvalidRequest),
            (register("ann", "nobody"), Reason::NoFaceDetected),
        ];
        for (req, reason) in cases {
            assert_eq!(w.handler.handle(req).await.unwrap_err().reason(), reason);
            assert_eq!(w.state(), (0, 0, 0));
        }
    }
}
