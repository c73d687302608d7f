//! Every end-to-end scenario, driven the way a client drives Riv: HTTP to the API URL, then a look at what the
//! table, the bucket and the collections hold. `tests/flows.rs` runs each as a test; `cargo xtask e2e` runs them
//! all with a summary.

use crate::events::Inbox;
use crate::{b64, photo, stack, unique, variant, Stack};
use riv_emulator::testimage::{self, Case, Format};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub type Outcome = Result<(), String>;
pub type Scenario = fn() -> Pin<Box<dyn Future<Output = Outcome> + Send>>;

#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        let holds: bool = $cond;
        if !holds {
            return Err(format!($($msg)+));
        }
    };
}

/// The answer must be this status and reason.
pub(crate) fn expect(route: &str, got: (u16, Value), status: u16, reason: &str) -> Outcome {
    ensure!(
        got.0 == status && got.1["Reason"] == reason,
        "{route}: wanted {status} {reason}, got {} {}",
        got.0,
        got.1
    );
    Ok(())
}

/// A 400 in the contract's shape, whoever refused the request: the function, the API's request validation (its
/// gateway response) or Step Functions (its input limit, through the integration's response mapping).
pub(crate) fn expect_bad_request(what: &str, got: (u16, Value)) -> Outcome {
    let explained = got.1["Message"].as_str().is_some_and(|m| !m.is_empty());
    ensure!(
        got.0 == 400 && got.1["Reason"] == "InvalidRequest" && explained,
        "{what}: wanted 400 InvalidRequest with a message, got {} {}",
        got.0,
        got.1
    );
    Ok(())
}

pub(crate) fn body(user: &str, image: &str) -> Value {
    json!({"UserId": user, "Image": image})
}

pub(crate) async fn registered(s: &Stack, identity: &str) -> Result<String, String> {
    let user = unique(identity);
    let (status, answer) = s
        .post("register", &body(&user, &photo(Case::Selfie, &user)))
        .await;
    ensure!(status == 200, "registering {user}: {status} {answer}");
    Ok(user)
}

/// The scenarios of the four flows as a person uses them (the whole suite is `crate::catalog::all`).
pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![
        ("register_stores_face_image_and_record", || {
            Box::pin(register_stores_face_image_and_record())
        }),
        ("register_rejects_every_quality_failure", || {
            Box::pin(register_rejects_every_quality_failure())
        }),
        ("register_refuses_a_face_registered_to_another_user", || {
            Box::pin(register_refuses_a_face_registered_to_another_user())
        }),
        ("register_refuses_an_existing_user", || {
            Box::pin(register_refuses_an_existing_user())
        }),
        ("register_rejects_malformed_requests_without_state", || {
            Box::pin(register_rejects_malformed_requests_without_state())
        }),
        ("register_idcard_reads_the_card_with_analyze_id", || {
            Box::pin(register_idcard_reads_the_card(false))
        }),
        ("register_idcard_reads_the_card_with_detect_text", || {
            Box::pin(register_idcard_reads_the_card(true))
        }),
        ("register_idcard_refuses_someone_elses_card", || {
            Box::pin(register_idcard_refuses_someone_elses_card())
        }),
        (
            "register_idcard_rejects_unreadable_and_oversized_cards",
            || Box::pin(register_idcard_rejects_bad_cards()),
        ),
        ("auth_verifies_the_right_person", || {
            Box::pin(auth_verifies_the_right_person())
        }),
        (
            "auth_denies_another_person_and_publishes_login_failed",
            || Box::pin(auth_denies_and_publishes()),
        ),
        ("auth_denies_an_unknown_user_like_a_wrong_face", || {
            Box::pin(auth_unknown_user())
        }),
        ("auth_falls_back_to_the_collection_search", || {
            Box::pin(auth_falls_back_to_collection_search())
        }),
        ("update_adds_the_new_face_of_the_same_person", || {
            Box::pin(update_same_person())
        }),
        ("update_denies_another_person_and_changes_nothing", || {
            Box::pin(update_other_person())
        }),
        (
            "rollback_leaves_nothing_when_the_record_write_fails",
            || Box::pin(rollback_after_index_faces()),
        ),
        (
            "concurrent_registrations_of_one_face_have_one_winner",
            || Box::pin(concurrent_registrations()),
        ),
        ("concurrent_auths_are_all_correct", || {
            Box::pin(concurrent_auths())
        }),
    ]
}

async fn register_stores_face_image_and_record() -> Outcome {
    let s = stack();
    let user = unique("ann.lee@example.com");
    let req = json!({"UserId": user, "Image": photo(Case::Selfie, &user), "Properties": {"dept": "sales"}});
    let (status, answer) = s.post("register", &req).await;
    ensure!(
        status == 200 && answer["Status"] == "Registered",
        "register: {status} {answer}"
    );
    let face_id = answer["FaceId"].as_str().unwrap_or("").to_string();
    let state = s.user_state(&user).await?;
    ensure!(
        state.rows == ["FACE#".to_string() + &face_id, "PROFILE".into()],
        "rows: {:?}",
        state.rows
    );
    ensure!(
        state.objects == [format!("faces/{user}/{face_id}.jpg")],
        "objects: {:?}",
        state.objects
    );
    ensure!(
        state.faces == [face_id.clone()],
        "faces: {:?} vs {face_id}",
        state.faces
    );
    Ok(())
}

async fn register_rejects_every_quality_failure() -> Outcome {
    let s = stack();
    let cases = [
        (Case::NoFace, "NoFaceDetected"),
        (Case::TwoFaces, "TooManyFaces"),
        (Case::PosePitch, "PoseOutOfRange"),
        (Case::PoseRoll, "PoseOutOfRange"),
        (Case::PoseYaw, "PoseOutOfRange"),
        (Case::Sunglasses, "SunglassesDetected"),
        (Case::EyesClosed, "EyesClosed"),
        (Case::Dark, "LowQuality"),
        (Case::Blurry, "LowQuality"),
        (Case::SmallFace, "FaceTooSmall"),
    ];
    for (case, reason) in cases {
        let user = unique("quality");
        expect(
            &format!("{case:?}"),
            s.post("register", &body(&user, &photo(case, &user))).await,
            422,
            reason,
        )?;
        ensure!(
            s.user_state(&user).await?.is_empty(),
            "{case:?} left state behind"
        );
    }
    Ok(())
}

async fn register_refuses_a_face_registered_to_another_user() -> Outcome {
    let s = stack();
    let owner = registered(s, "owner").await?;
    let thief = unique("thief");
    let inbox = Inbox::subscribe(s).await?;
    let got = s
        .post("register", &body(&thief, &photo(Case::Selfie, &owner)))
        .await;
    expect("same face, other user", got, 409, "FaceAlreadyRegistered")?;
    ensure!(
        s.user_state(&thief).await?.is_empty(),
        "the refused user has state"
    );
    let event = inbox
        .wait_for("DuplicateRegistration", &thief, Duration::from_secs(15))
        .await?;
    ensure!(
        event["Reason"] == "FaceAlreadyRegistered",
        "the event: {event}"
    );
    Ok(())
}

async fn register_refuses_an_existing_user() -> Outcome {
    let s = stack();
    let user = registered(s, "twice").await?;
    let before = s.user_state(&user).await?;
    let again = s
        .post("register", &body(&user, &photo(Case::Selfie, &user)))
        .await;
    expect("same user, same face", again, 409, "UserAlreadyExists")?;
    let other_face = s
        .post(
            "register",
            &body(&user, &photo(Case::Selfie, &unique("new-face"))),
        )
        .await;
    expect("same user, new face", other_face, 409, "UserAlreadyExists")?;
    ensure!(
        s.user_state(&user).await? == before,
        "the existing user's state changed"
    );
    Ok(())
}

async fn register_rejects_malformed_requests_without_state() -> Outcome {
    let s = stack();
    let user = unique("malformed");
    let selfie = photo(Case::Selfie, &user);
    let six_mib = b64(&testimage::padded_png(
        &testimage::case(Case::Selfie, &user),
        6 * 1024 * 1024,
    ));
    let cases = [
        ("missing Image", json!({"UserId": user})),
        ("missing UserId", json!({"Image": selfie})),
        ("bad base64", body(&user, "not base64 at all!")),
        (
            "not an image",
            body(&user, &b64(b"just some text, not a picture")),
        ),
        ("6 MiB image", body(&user, &six_mib)),
        ("UserId ../x", body("../x", &selfie)),
        ("1 MB UserId", body(&"u".repeat(1_000_000), &selfie)),
        ("unicode UserId", body("anné", &selfie)),
        (
            "Properties not strings",
            json!({"UserId": user, "Image": selfie, "Properties": {"n": 1}}),
        ),
        ("UserId a number", json!({"UserId": 7, "Image": selfie})),
        (
            "an extra member",
            json!({"UserId": user, "Image": selfie, "Admin": true}),
        ),
        (
            "a 280 KB image",
            body(&user, &crate::photo_over_256_kib(&user)),
        ),
    ];
    for (what, req) in cases {
        expect_bad_request(what, s.post("register", &req).await)?;
    }
    ensure!(
        s.user_state(&user).await?.is_empty(),
        "a malformed request stored something"
    );
    Ok(())
}

pub(crate) fn card(identity: &str, fields: &[(&str, &str)]) -> String {
    b64(&testimage::render(
        &testimage::id_card_manifest(identity, fields),
        Format::Png,
    ))
}

pub(crate) const CARD_FIELDS: [(&str, &str); 4] = [
    ("FIRST_NAME", "JANE"),
    ("LAST_NAME", "DOE"),
    ("DATE_OF_BIRTH", "01/31/1990"),
    ("DOCUMENT_NUMBER", "D1234567"),
];

async fn register_idcard_reads_the_card(detect_text: bool) -> Outcome {
    let s = if detect_text {
        variant("Riv-E2E-DetectText", &[("IdExtraction", "detect-text")])
    } else {
        stack()
    };
    let user = unique("carded");
    let req = json!({
        "UserId": user,
        "Image": photo(Case::Selfie, &user),
        "IdCard": card(&user, &CARD_FIELDS),
        "Properties": {"team": "blue"},
    });
    let (status, answer) = s.post("register-idcard", &req).await;
    ensure!(
        status == 200 && answer["Status"] == "Registered",
        "register-idcard: {status} {answer}"
    );
    ensure!(
        answer["Properties"] == json!({"team": "blue"}),
        "properties: {answer}"
    );
    let card = &answer["IdCard"];
    let f = &card["Fields"];
    ensure!(
        f["LAST_NAME"] == "DOE" && f["FIRST_NAME"] == "JANE",
        "card fields: {card}"
    );
    ensure!(
        f["DATE_OF_BIRTH"] == "1990-01-31" && f["DOCUMENT_NUMBER"] == "D1234567",
        "card fields: {card}"
    );
    let method = if detect_text {
        "detect-text"
    } else {
        "analyze-id"
    };
    ensure!(card["Method"] == method, "read by: {card}");
    let state = s.user_state(&user).await?;
    ensure!(
        state
            .objects
            .iter()
            .any(|o| o.starts_with(&format!("idcards/{user}/"))),
        "no card stored: {state:?}"
    );
    Ok(())
}

async fn register_idcard_refuses_someone_elses_card() -> Outcome {
    let s = stack();
    let user = unique("impostor");
    let inbox = Inbox::subscribe(s).await?;
    let req = json!({"UserId": user, "Image": photo(Case::Selfie, &user), "IdCard": card(&unique("victim"), &CARD_FIELDS)});
    expect(
        "card of someone else",
        s.post("register-idcard", &req).await,
        403,
        "FaceNotMatchWithIdCard",
    )?;
    ensure!(
        s.user_state(&user).await?.is_empty(),
        "a refused card stored something"
    );
    let event = inbox
        .wait_for("IdCardMismatch", &user, Duration::from_secs(15))
        .await?;
    ensure!(
        event["Reason"] == "FaceNotMatchWithIdCard",
        "the event: {event}"
    );
    Ok(())
}

async fn register_idcard_rejects_bad_cards() -> Outcome {
    let s = stack();
    let user = unique("badcard");
    let nameless = json!({"UserId": user, "Image": photo(Case::Selfie, &user), "IdCard": card(&user, &[("DOCUMENT_NUMBER", "X1")])});
    expect(
        "card without a name",
        s.post("register-idcard", &nameless).await,
        422,
        "IdCardUnreadable",
    )?;
    let big = b64(&testimage::padded_png(
        &testimage::id_card_manifest(&user, &CARD_FIELDS),
        300 * 1024,
    ));
    let oversized = json!({"UserId": user, "Image": photo(Case::Selfie, &user), "IdCard": big});
    expect_bad_request(
        "card over 256 KiB",
        s.post("register-idcard", &oversized).await,
    )?;
    let missing = body(&user, &photo(Case::Selfie, &user));
    expect_bad_request("no card", s.post("register-idcard", &missing).await)?;
    ensure!(
        s.user_state(&user).await?.is_empty(),
        "a bad card stored something"
    );
    Ok(())
}

async fn auth_verifies_the_right_person() -> Outcome {
    let s = stack();
    let user = registered(s, "verified").await?;
    let (status, answer) = s
        .post("auth", &body(&user, &photo(Case::Selfie, &user)))
        .await;
    ensure!(
        status == 200 && answer["Status"] == "Verified",
        "auth: {status} {answer}"
    );
    ensure!(
        answer["Similarity"].as_f64().unwrap_or(0.0) >= 95.0,
        "similarity: {answer}"
    );
    Ok(())
}

async fn auth_denies_and_publishes() -> Outcome {
    let s = stack();
    let user = registered(s, "target").await?;
    let inbox = Inbox::subscribe(s).await?;
    let intruder = photo(Case::Selfie, &unique("intruder"));
    expect(
        "auth by another person",
        s.post("auth", &body(&user, &intruder)).await,
        401,
        "UserAccessDenied",
    )?;
    let event = inbox
        .wait_for("LoginFailed", &user, Duration::from_secs(10))
        .await?;
    ensure!(
        event["Reason"] == "UserAccessDenied",
        "the event names no reason: {event}"
    );
    Ok(())
}

async fn auth_unknown_user() -> Outcome {
    let s = stack();
    let ghost = unique("ghost");
    expect(
        "auth of an unknown user",
        s.post("auth", &body(&ghost, &photo(Case::Selfie, &ghost)))
            .await,
        401,
        "UserAccessDenied",
    )
}

async fn auth_falls_back_to_collection_search() -> Outcome {
    let s = stack();
    let user = registered(s, "fallback").await?;
    // Without stored images the comparison finds nothing; the collection still knows the face.
    s.delete_face_images(&user).await?;
    let (status, answer) = s
        .post("auth", &body(&user, &photo(Case::Selfie, &user)))
        .await;
    ensure!(
        status == 200 && answer["Status"] == "Verified",
        "fallback auth: {status} {answer}"
    );
    Ok(())
}

async fn update_same_person() -> Outcome {
    let s = stack();
    let user = registered(s, "updater").await?;
    let new_photo = b64(&testimage::render(
        &testimage::case(Case::Selfie, &user),
        Format::Png,
    ));
    let req = json!({"UserId": user, "Image": new_photo, "Properties": {"team": "red"}});
    let (status, answer) = s.post("update", &req).await;
    ensure!(
        status == 200 && answer["Status"] == "Updated",
        "update: {status} {answer}"
    );
    let state = s.user_state(&user).await?;
    ensure!(
        state.faces.len() == 2 && state.objects.len() == 2 && state.rows.len() == 3,
        "after update: {state:?}"
    );
    ensure!(
        state
            .faces
            .contains(&answer["FaceId"].as_str().unwrap_or("").to_string()),
        "new face missing"
    );
    Ok(())
}

async fn update_other_person() -> Outcome {
    let s = stack();
    let user = registered(s, "victim").await?;
    let before = s.user_state(&user).await?;
    let req = body(&user, &photo(Case::Selfie, &unique("attacker")));
    expect(
        "update by another person",
        s.post("update", &req).await,
        401,
        "UserAccessDenied",
    )?;
    ensure!(
        s.user_state(&user).await? == before,
        "a denied update changed state"
    );
    Ok(())
}

async fn rollback_after_index_faces() -> Outcome {
    let s = variant("Riv-E2E-Faults", &[("InjectFault", "record-write")]);
    let user = unique("doomed");
    let req = json!({"UserId": user, "Image": photo(Case::Selfie, &user), "IdCard": card(&user, &CARD_FIELDS)});
    let got = s.post("register-idcard", &req).await;
    ensure!(
        got.0 >= 500 && got.1["Reason"] == "InternalError",
        "wanted a 5xx InternalError, got {} {}",
        got.0,
        got.1
    );
    let state = s.user_state(&user).await?;
    ensure!(state.is_empty(), "the failed attempt left {state:?}");
    Ok(())
}

async fn concurrent_registrations() -> Outcome {
    let s = stack();
    let face = photo(Case::Selfie, &unique("popular"));
    let users: Vec<String> = (0..8).map(|_| unique("racer")).collect();
    let bodies: Vec<Value> = users.iter().map(|u| body(u, &face)).collect();
    let answers = futures_join(bodies.iter().map(|b| s.post("register", b))).await;
    let winners = answers.iter().filter(|(status, _)| *status == 200).count();
    let losers = answers
        .iter()
        .filter(|(status, a)| *status == 409 && a["Reason"] == "FaceAlreadyRegistered")
        .count();
    ensure!(
        winners == 1 && losers == 7,
        "8 racers: {winners} won, {losers} lost properly: {answers:?}"
    );
    let mut stored = 0;
    for u in &users {
        stored += s.user_state(u).await?.faces.len();
    }
    ensure!(stored == 1, "{stored} faces stored for one person");
    Ok(())
}

async fn concurrent_auths() -> Outcome {
    let s = stack();
    // Twelve people, four attempts each at once (three right, one wrong): fewer than the lockout allows,
    // since every attempt counts until one succeeds.
    let people: Vec<String> = futures_join((0..12).map(|_| registered(s, "crowd")))
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let requests: Vec<(String, String, u16)> = (0..48)
        .map(|i| {
            let (me, other) = (&people[i % 12], &people[(i + 1) % 12]);
            match i / 12 {
                3 => (me.clone(), photo(Case::Selfie, other), 401),
                _ => (me.clone(), photo(Case::Selfie, me), 200),
            }
        })
        .collect();
    let bodies: Vec<Value> = requests.iter().map(|(u, img, _)| body(u, img)).collect();
    let answers = futures_join(bodies.iter().map(|b| s.post("auth", b))).await;
    for ((user, _, want), (status, answer)) in requests.iter().zip(&answers) {
        ensure!(
            status == want,
            "auth of {user}: wanted {want}, got {status} {answer}"
        );
    }
    Ok(())
}

/// Runs the futures concurrently and keeps their order.
pub(crate) async fn futures_join<F: Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    futures::future::join_all(futures).await
}
