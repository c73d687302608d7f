//! Handler tests of `index-face`: two phases, undo after every failure, racers, versioned updates.

use super::*;
use crate::fakes::{inline, FakeFaces, FakeRecords, FakeStore};
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
        max_faces: 3,
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
        image: inline(identity),
        mode: IndexMode::Register,
        attempt_id: format!("attempt-{user}-{identity}"),
        properties: Some([("dept".to_string(), "sales".to_string())].into()),
        id_card: None,
        id_card_data: None,
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

fn card_data() -> IdCardData {
    IdCardData {
        fields: [("LAST_NAME".to_string(), "LEE".to_string())].into(),
        method: "analyze-id".into(),
        read_at: "2026-12-02T00:00:00Z".into(),
    }
}

#[tokio::test]
async fn card_data_is_kept_apart_from_properties_and_survives_updates() {
    let w = world();
    let mut req = register("ann", "ann");
    req.id_card = Some(inline("ann#card"));
    req.id_card_data = Some(card_data());
    let attempt = req.attempt_id.clone();
    let r = w.handler.handle(req).await.unwrap();
    assert_eq!(r.id_card, Some(card_data()));
    assert!(!r.properties.contains_key("LAST_NAME"));
    assert!(w
        .images
        .keys()
        .contains(&format!("idcards/ann/{attempt}.png")));

    // An update cannot name a card field, and carries no card data of its own even if handed some.
    let mut reserved = update("ann", "ann#2", "LAST_NAME");
    reserved.attempt_id = "u1".into();
    let err = w.handler.handle(reserved).await.unwrap_err();
    assert_eq!(err.reason(), Reason::InvalidRequest);
    let mut sneaky = update("ann", "ann#3", "dept");
    sneaky.attempt_id = "u2".into();
    sneaky.id_card_data = Some(IdCardData {
        fields: [("LAST_NAME".to_string(), "EVIL".to_string())].into(),
        ..card_data()
    });
    let r = w.handler.handle(sneaky).await.unwrap();
    assert_eq!(r.id_card, Some(card_data()));
    let stored = w.records.profile("ann").await.unwrap().unwrap();
    assert_eq!(stored.id_card_data, Some(card_data()));
}

#[tokio::test]
async fn an_update_beyond_the_cap_replaces_the_oldest_face() {
    let w = world();
    let first = w.handler.handle(register("ann", "ann")).await.unwrap();
    let mut ids = vec![first.face_id.clone()];
    for n in 2..=4 {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        let mut req = update("ann", &format!("ann#{n}"), "dept");
        req.attempt_id = format!("u{n}");
        ids.push(w.handler.handle(req).await.unwrap().face_id);
    }
    let mut kept: Vec<String> = w
        .records
        .faces("ann")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.face.face_id)
        .collect();
    kept.sort();
    let mut newest = ids[1..].to_vec();
    newest.sort();
    assert_eq!(kept, newest, "the first face went, the three newest stay");
    assert_eq!(w.faces.face_count(), 3, "its face left the collection");
    assert_eq!(w.images.keys().len(), 3, "and its image the bucket");
    assert!(!w.images.keys().iter().any(|k| k.contains(&first.face_id)));
}

#[tokio::test]
async fn stored_properties_are_capped_across_updates() {
    let w = world();
    w.handler.handle(register("ann", "ann")).await.unwrap();
    // One from the registration, then 50 and 49: exactly the 100 a user may keep.
    for (batch, count) in [(0, 50), (1, 49)] {
        let mut req = update("ann", &format!("ann#{batch}"), "k");
        req.attempt_id = format!("p{batch}");
        req.properties = Some(
            (0..count)
                .map(|i| (format!("b{batch}-{i}"), "v".into()))
                .collect(),
        );
        w.handler.handle(req).await.unwrap();
    }
    let before = w.records.profile("ann").await.unwrap().unwrap();
    let mut req = update("ann", "ann#9", "one-too-many");
    req.attempt_id = "p9".into();
    let err = w.handler.handle(req).await.unwrap_err();
    assert_eq!(err.reason(), Reason::InvalidRequest);
    assert!(err.to_string().contains("at most 100"), "{err}");
    let after = w.records.profile("ann").await.unwrap().unwrap();
    assert_eq!(after.properties, before.properties);
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
        req.id_card = Some(inline("ann#card"));
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
    for _ in 0..500 {
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
    let err = w.handler.handle(register("bob", "same")).await.unwrap_err();
    assert_eq!(err.reason(), Reason::FaceAlreadyRegistered);
    assert_eq!(w.state(), (1, 1, 2));
    assert!(w
        .records
        .face("ann", &first.face_id)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn update_adds_a_face_and_merges_properties() {
    let w = world();
    w.handler.handle(register("ann", "ann")).await.unwrap();
    let r = w
        .handler
        .handle(update("ann", "ann#2", "team"))
        .await
        .unwrap();
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

#[tokio::test]
async fn an_upload_is_copied_at_its_checked_version_and_left_for_the_flow_to_discard() {
    let w = world();
    w.faces.reading(w.images.clone());
    let key = "uploads/0b6c3b1e-5f0a-4c39-9d0e-4a9f1f2f7a10/selfie";
    let checked = w
        .images
        .upload(key, crate::fakes::photo("ann"), "image/jpeg", Some("ann"));
    // A second PUT to the same URL after the checks: the flow still uses what was checked.
    w.images.upload(
        key,
        crate::fakes::photo("mallory"),
        "image/jpeg",
        Some("ann"),
    );
    let mut req = register("ann", "ann");
    req.image = riv_domain::events::ImageRef::Upload(riv_domain::events::UploadedImage {
        key: key.into(),
        version_id: Some(checked),
        format: riv_domain::validate::ImageFormat::Jpeg,
    });
    let r = w.handler.handle(req).await.unwrap();
    let stored = format!("faces/ann/{}.jpg", r.face_id);
    assert_eq!(
        w.images.version(&stored, None),
        Some(crate::fakes::photo("ann"))
    );
    let indexed = w.faces.collections.lock().unwrap()["riv-1"][0].clone();
    assert_eq!(indexed.identity, "ann");
    assert!(w.images.keys().contains(&key.to_string()));
}
