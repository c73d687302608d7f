//! `index-face`: the only writer. Indexes the face, stores the selfie (and ID card) and commits the user's rows
//! with conditions, in that order; any failure removes what this attempt wrote before it answers.

use super::image_error;
use super::rollback::remove;

use crate::ports::{
    FaceEngine, FaceRecord, FaceRecords, ImageStore, Profile, ServiceError, ServiceErrorKind,
};
use crate::HandlerError;
use riv_domain::config::{CollectionConfig, MatchConfig};
use riv_domain::events::{
    IndexFaceRequest, IndexFaceResult, IndexMode, IndexStatus, Properties, RowKey, WrittenFace,
};
use riv_domain::names::{bucket, table};
use riv_domain::{collections, validate, Rejection};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct IndexFace {
    pub faces: Arc<dyn FaceEngine>,
    pub images: Arc<dyn ImageStore>,
    pub records: Arc<dyn FaceRecords>,
    pub collections: CollectionConfig,
    pub matching: MatchConfig,
}

/// Registrations check for duplicates and index under one lock, so two people racing to register the same
/// face cannot both win (the duplicate guard before this step is only an early, lock-free rejection).
pub const REGISTRATION_LOCK: &str = "registration";
/// Longer than the function's timeout: a holder that dies frees the lock when its lease runs out.
const LOCK_LEASE: Duration = Duration::from_secs(20);
const LOCK_WAIT: Duration = Duration::from_secs(6);

impl IndexFace {
    pub async fn handle(&self, request: IndexFaceRequest) -> Result<IndexFaceResult, HandlerError> {
        if request.mode != IndexMode::Register {
            return self.index(request).await;
        }
        let owner = request.attempt_id.clone();
        self.lock(&owner).await?;
        let result = self.index(request).await;
        if let Err(e) = self.records.release_lock(REGISTRATION_LOCK, &owner).await {
            tracing::warn!(error = %e, "could not release the registration lock; its lease will expire");
        }
        result
    }

    async fn lock(&self, owner: &str) -> Result<(), HandlerError> {
        let started = Instant::now();
        while !self
            .records
            .acquire_lock(REGISTRATION_LOCK, owner, LOCK_LEASE)
            .await?
        {
            if started.elapsed() > LOCK_WAIT {
                return Err(ServiceError::new(
                    "dynamodb",
                    "PutItem",
                    ServiceErrorKind::Throttled,
                    "registration lock still held after waiting",
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        Ok(())
    }

    async fn index(&self, request: IndexFaceRequest) -> Result<IndexFaceResult, HandlerError> {
        let user_id = validate::user_id(&request.user_id)?.to_string();
        let selfie = validate::image("Image", &request.image, validate::MAX_SELFIE_BYTES)?;
        let card = match &request.id_card {
            Some(card) => Some(validate::image("IdCard", card, validate::MAX_IDCARD_BYTES)?),
            None => None,
        };
        let mut properties = request.properties.clone().unwrap_or_default();
        validate::properties(&properties)?;
        if request.attempt_id.trim().is_empty() {
            return Err(Rejection::invalid("AttemptId is empty").into());
        }
        // Verified card data wins over what the caller typed.
        properties.extend(request.id_card_fields.clone().unwrap_or_default());

        let existing = match request.mode {
            IndexMode::Register => None,
            IndexMode::Update => match self.records.profile(&user_id).await? {
                Some(profile) => Some(profile),
                None => return Err(Rejection::UserNotFound(user_id).into()),
            },
        };

        if request.mode == IndexMode::Register {
            let threshold = self.matching.face_match_threshold;
            super::search_faces::refuse_duplicates(
                &*self.faces,
                &self.collections,
                threshold,
                &user_id,
                &selfie.bytes,
            )
            .await?;
        }
        let collection = collections::for_user(&self.collections, &user_id);
        let external_id = collections::external_image_id(&user_id);
        let face_id = self
            .faces
            .index_face(&collection, &selfie.bytes, &external_id)
            .await
            .map_err(|e| image_error(e, "Image"))?
            .ok_or(Rejection::NoFaceDetected)?;

        let face = WrittenFace {
            collection,
            face_id: face_id.clone(),
        };
        let mut written = riv_domain::events::Written {
            face: Some(face.clone()),
            ..Default::default()
        };
        let now = riv_domain::clock::now(false);

        let outcome: Result<(), HandlerError> = async {
            let key = bucket::face_key(&user_id, &face_id, selfie.format.extension());
            let image = self
                .images
                .put(&key, selfie.bytes.clone(), selfie.format.content_type())
                .await?;
            written.objects.push(image.clone());
            let id_card = match &card {
                Some(card) => {
                    let key =
                        bucket::idcard_key(&user_id, &request.attempt_id, card.format.extension());
                    let object = self
                        .images
                        .put(&key, card.bytes.clone(), card.format.content_type())
                        .await?;
                    written.objects.push(object.clone());
                    Some(object)
                }
                None => None,
            };
            let record = FaceRecord {
                user_id: user_id.clone(),
                face: face.clone(),
                image,
                attempt_id: request.attempt_id.clone(),
                created_at: now.clone(),
            };
            let face_row = RowKey {
                pk: table::user_pk(&user_id),
                sk: table::face_sk(&face_id),
            };
            match &existing {
                None => {
                    let profile = Profile {
                        user_id: user_id.clone(),
                        properties: properties.clone(),
                        id_card,
                        attempt_id: request.attempt_id.clone(),
                        created_at: now.clone(),
                    };
                    self.records
                        .create_user(&profile, &record)
                        .await
                        .map_err(|e| match e.kind {
                            ServiceErrorKind::Conflict => {
                                Rejection::UserAlreadyExists(user_id.clone()).into()
                            }
                            _ => HandlerError::from(e),
                        })?;
                    written.rows.push(RowKey {
                        pk: table::user_pk(&user_id),
                        sk: table::PROFILE.into(),
                    });
                }
                Some(profile) => {
                    let merged: Properties = profile
                        .properties
                        .clone()
                        .into_iter()
                        .chain(properties.clone())
                        .collect();
                    self.records
                        .add_face(&record, &merged, &now)
                        .await
                        .map_err(|e| match e.kind {
                            ServiceErrorKind::Conflict => {
                                Rejection::UserNotFound(user_id.clone()).into()
                            }
                            _ => HandlerError::from(e),
                        })?;
                    properties = merged;
                }
            }
            written.rows.push(face_row);
            Ok(())
        }
        .await;

        if let Err(error) = outcome {
            tracing::warn!(reason = %error.reason(), "index failed; removing this attempt's writes");
            // Rows are only recorded once committed, so the removal never touches a row this attempt lost to.
            if let Err(cleanup) =
                remove(&*self.faces, &*self.images, &*self.records, &written).await
            {
                tracing::error!(error = %cleanup, ?written, "could not remove partial writes");
            }
            return Err(error);
        }
        tracing::info!(mode = ?request.mode, "face indexed");
        Ok(IndexFaceResult {
            user_id,
            face_id,
            status: match request.mode {
                IndexMode::Register => IndexStatus::Registered,
                IndexMode::Update => IndexStatus::Updated,
            },
            properties,
            written,
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
        };
        World {
            faces,
            images,
            records,
            handler,
        }
    }

    impl World {
        fn state(&self) -> (usize, usize, usize) {
            (
                self.faces.face_count(),
                self.images.keys().len(),
                self.records.row_count(),
            )
        }
    }

    fn register(user: &str, identity: &str) -> IndexFaceRequest {
        IndexFaceRequest {
            user_id: user.into(),
            image: photo_b64(identity),
            mode: IndexMode::Register,
            attempt_id: format!("attempt-{identity}"),
            properties: Some([("dept".to_string(), "sales".to_string())].into()),
            id_card: None,
            id_card_fields: None,
        }
    }

    #[tokio::test]
    async fn registration_writes_face_image_and_rows_consistently() {
        let w = world();
        let r = w
            .handler
            .handle(register("ann@example.com", "ann"))
            .await
            .unwrap();
        assert_eq!(r.status, IndexStatus::Registered);
        assert_eq!(w.state(), (1, 1, 2));
        let stored = w.faces.collections.lock().unwrap()["riv-1"][0].clone();
        assert_eq!(stored.face_id, r.face_id);
        assert_eq!(stored.external_image_id, "ann:example.com");
        assert_eq!(
            w.images.keys(),
            [format!("faces/ann@example.com/{}.png", r.face_id)]
        );
        let profile = w.records.profile("ann@example.com").await.unwrap().unwrap();
        assert_eq!(profile.properties["dept"], "sales");
        assert_eq!(r.written.rows.len(), 2);
        assert_eq!(r.written.objects.len(), 1);
    }

    #[tokio::test]
    async fn card_fields_override_caller_properties_and_the_card_is_stored() {
        let w = world();
        let mut req = register("ann", "ann");
        req.properties = Some([("LAST_NAME".to_string(), "typed".to_string())].into());
        req.id_card = Some(photo_b64("ann#card"));
        req.id_card_fields = Some([("LAST_NAME".to_string(), "LEE".to_string())].into());
        let r = w.handler.handle(req).await.unwrap();
        assert_eq!(r.properties["LAST_NAME"], "LEE");
        assert!(w
            .images
            .keys()
            .contains(&"idcards/ann/attempt-ann.png".to_string()));
        assert_eq!(r.written.objects.len(), 2);
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
        assert_eq!(
            w.state(),
            before,
            "the loser's face and image are gone, the winner's rows stay"
        );
    }

    #[tokio::test]
    async fn a_failure_after_each_write_leaves_nothing_behind() {
        // (operation, successes before it fails): the face, the selfie, the card, then the rows.
        let steps = [
            ("IndexFaces", 0),
            ("PutObject", 0),
            ("PutObject", 1),
            ("TransactWriteItems", 0),
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
        }
    }

    #[tokio::test]
    async fn a_face_someone_registered_meanwhile_is_refused_under_the_lock() {
        let w = world();
        // Passed the early guard, then bob registered this face before we got the lock.
        w.faces.seed("riv-1", "bob", "ann");
        let err = w
            .handler
            .handle(register("ann", "ann#2"))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), Reason::FaceAlreadyRegistered);
        assert_eq!(w.state(), (1, 0, 0));
        assert!(
            w.records.locks.lock().unwrap().is_empty(),
            "the lock is released on failure"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_registrations_of_one_face_have_one_winner() {
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
            match t.await.unwrap() {
                Ok(_) => wins += 1,
                Err(e) => assert_eq!(e.reason(), Reason::FaceAlreadyRegistered),
            }
        }
        assert_eq!(wins, 1);
        assert_eq!(w.state(), (1, 1, 2));
    }

    #[tokio::test]
    async fn a_held_lock_that_never_frees_is_a_retryable_failure() {
        let w = world();
        w.records
            .locks
            .lock()
            .unwrap()
            .insert(REGISTRATION_LOCK.into(), "someone".into());
        let started = Instant::now();
        let err = w.handler.handle(register("ann", "ann")).await.unwrap_err();
        assert_eq!(err.reason(), Reason::InternalError);
        assert!(started.elapsed() >= LOCK_WAIT);
        assert_eq!(w.state(), (0, 0, 0));
    }

    #[tokio::test]
    async fn update_adds_a_face_and_merges_properties() {
        let w = world();
        w.handler.handle(register("ann", "ann")).await.unwrap();
        let mut req = register("ann", "ann#2");
        req.mode = IndexMode::Update;
        req.properties = Some([("team".to_string(), "blue".to_string())].into());
        let r = w.handler.handle(req).await.unwrap();
        assert_eq!(r.status, IndexStatus::Updated);
        assert_eq!(r.properties.len(), 2);
        assert_eq!(w.state(), (2, 2, 3));
        assert_eq!(
            r.written.rows.len(),
            1,
            "only the new face row belongs to this attempt"
        );
    }

    #[tokio::test]
    async fn update_of_an_unknown_user_writes_nothing() {
        let w = world();
        let mut req = register("ghost", "ghost");
        req.mode = IndexMode::Update;
        let err = w.handler.handle(req).await.unwrap_err();
        assert_eq!(err.reason(), Reason::UserNotFound);
        assert_eq!(w.state(), (0, 0, 0));
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
