//! Scenarios of a hostile caller: probing for UserIds, guessing faces, typing identity data, growing a user
//! without bound, and making the stack pay for calls that cannot succeed.

use crate::events::Inbox;
use crate::scenarios::{body, card, expect, registered, Outcome, CARD_FIELDS};
use crate::{b64, digest, ensure, photo, photo_bytes, stack, unique, variant, Case, Stack};
use riv_emulator::testimage::{self, Format};
use serde_json::json;
use std::time::Duration;

/// A stack whose lockout window the tests can wait out, with no denial floor to slow the guesses down.
const GUARD_STACK: &str = "Riv-E2E-Guard";
/// Long enough for five requests and three refusals on a loaded machine (two users fail side by side),
/// short enough to wait out.
const LOCKOUT_SECONDS: u64 = 60;

fn guard_stack() -> &'static Stack {
    variant(
        GUARD_STACK,
        &[
            ("LockoutSeconds", &LOCKOUT_SECONDS.to_string()),
            ("DenialFloorMs", "0"),
        ],
    )
}

/// Five wrong faces for `user`, each denied like any wrong face.
async fn five_failures(s: &Stack, user: &str, guess: &str) -> Outcome {
    for n in 0..5 {
        expect(
            &format!("{user}, failure {n}"),
            s.post("auth", &body(user, guess)).await,
            401,
            "UserAccessDenied",
        )?;
    }
    Ok(())
}

/// A second shot of `identity`'s registered face whose bytes were never sent before.
fn fresh_photo(identity: &str) -> Vec<u8> {
    testimage::render(&testimage::case(Case::Selfie, identity), Format::Png)
}

pub fn all() -> Vec<(&'static str, crate::scenarios::Scenario)> {
    vec![
        (
            "abuse_an_unknown_user_and_a_wrong_face_answer_alike",
            || Box::pin(unknown_user_and_wrong_face_answer_alike()),
        ),
        ("abuse_failed_attempts_lock_the_user_out", || {
            Box::pin(failed_attempts_lock_the_user_out())
        }),
        ("abuse_card_fields_cannot_be_typed_or_overwritten", || {
            Box::pin(card_fields_cannot_be_typed_or_overwritten())
        }),
        (
            "abuse_an_update_beyond_the_cap_replaces_the_oldest_face",
            || Box::pin(an_update_beyond_the_cap_replaces_the_oldest_face()),
        ),
        (
            "abuse_the_selfie_as_its_own_card_costs_no_textract_call",
            || Box::pin(the_selfie_as_its_own_card_costs_no_textract_call()),
        ),
        ("abuse_properties_are_capped_per_user", || {
            Box::pin(properties_are_capped_per_user())
        }),
        (
            "abuse_an_api_key_stack_refuses_callers_without_the_key",
            || Box::pin(an_api_key_stack_refuses_callers_without_the_key()),
        ),
    ]
}

async fn unknown_user_and_wrong_face_answer_alike() -> Outcome {
    let s = stack();
    let user = registered(s, "known").await?;
    let ghost = unique("ghost");
    let inbox = Inbox::subscribe(s).await?;
    let stranger = photo(Case::Selfie, &unique("stranger"));
    let floor = Duration::from_millis(riv_domain::config::DENIAL_FLOOR_MS.default as u64);
    for route in ["auth", "update"] {
        let (wrong_status, wrong, wrong_took) = s.post_raw(route, &body(&user, &stranger)).await;
        let (ghost_status, unknown, ghost_took) = s.post_raw(route, &body(&ghost, &stranger)).await;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        ensure!(
            wrong_status == 401 && ghost_status == 401,
            "{route}: wrong face {wrong_status} {}, unknown user {ghost_status} {}",
            text(&wrong),
            text(&unknown)
        );
        ensure!(
            wrong == unknown,
            "{route}: the bodies tell the two apart: {} vs {}",
            text(&wrong),
            text(&unknown)
        );
        ensure!(
            wrong_took >= floor && ghost_took >= floor,
            "{route}: answered before the {floor:?} floor: wrong face {wrong_took:?}, unknown user {ghost_took:?}"
        );
    }
    for who in [&user, &ghost] {
        let event = inbox
            .wait_for("LoginFailed", who, Duration::from_secs(15))
            .await?;
        ensure!(
            event["Reason"] == "UserAccessDenied"
                && event["RequestId"].is_string()
                && event["At"].is_string(),
            "the event lacks reason, request id or time: {event}"
        );
        ensure!(
            !event.to_string().contains(&stranger[..64]),
            "the event carries the image"
        );
    }
    Ok(())
}

async fn failed_attempts_lock_the_user_out() -> Outcome {
    let s = guard_stack();
    let user = registered(s, "guessed").await?;
    let inbox = Inbox::subscribe(s).await?;
    let guess = photo(Case::Selfie, &unique("guesser"));
    let right = photo(Case::Selfie, &user);
    // A success clears the count: four failures and a success, twice, never lock.
    for round in 0..2 {
        for n in 0..4 {
            expect(
                &format!("round {round}, guess {n}"),
                s.post("auth", &body(&user, &guess)).await,
                401,
                "UserAccessDenied",
            )?;
        }
        let counted = s.stored_attempts(&user).await?;
        ensure!(
            counted == Some(4),
            "round {round}: {counted:?} attempts counted, not 4"
        );
        let (status, answer) = s.post("auth", &body(&user, &right)).await;
        ensure!(
            status == 200,
            "round {round}: the right face got {status} {answer}"
        );
        let counted = s.stored_attempts(&user).await?;
        ensure!(
            counted.is_none(),
            "round {round}: a success left {counted:?} attempts"
        );
    }
    // The registered user and an unknown UserId fail side by side, so both windows start together and one
    // clock bounds every refusal below: an unknown UserId locks out the same way, and the lockout tells nobody
    // who is registered.
    let ghost = unique("ghost");
    let window = std::time::Instant::now();
    let (mine, theirs) = tokio::join!(
        five_failures(s, &user, &guess),
        five_failures(s, &ghost, &guess)
    );
    mine?;
    theirs?;
    // The sixth attempt is refused even with the right face, and before any face is looked at.
    let fresh = fresh_photo(&user);
    let refusals = [
        ("auth after five failures", "auth", &user, b64(&fresh)),
        ("update after five failures", "update", &user, b64(&fresh)),
        (
            "unknown user after five failures",
            "auth",
            &ghost,
            guess.clone(),
        ),
    ];
    for (what, route, who, image) in refusals {
        let answer = s.post(route, &body(who, &image)).await;
        ensure!(
            window.elapsed() < Duration::from_secs(LOCKOUT_SECONDS),
            "the machine is too slow to test a {LOCKOUT_SECONDS} s window: {what} answered after {:?}",
            window.elapsed()
        );
        expect(what, answer, 429, "TooManyAttempts")?;
    }
    let seen = digest(&fresh);
    let calls = s.emulator_calls().await?;
    ensure!(
        !calls.iter().any(|(_, images)| images.contains(&seen)),
        "a locked-out attempt reached Rekognition: {:?}",
        calls
            .iter()
            .filter(|(_, i)| i.contains(&seen))
            .collect::<Vec<_>>()
    );
    for who in [&user, &ghost] {
        let event = inbox
            .wait_for("UserLockedOut", who, Duration::from_secs(15))
            .await?;
        ensure!(
            event["Reason"] == "TooManyAttempts" && event["RequestId"].is_string(),
            "UserLockedOut event: {event}"
        );
    }
    // The window ends, and the right face works again. It began when the first failure reached the gate, a
    // little after `window` on a loaded machine; a refusal until then counts nothing, so asking again is fine.
    let ends = Duration::from_secs(LOCKOUT_SECONDS + 1);
    tokio::time::sleep(ends.saturating_sub(window.elapsed())).await;
    loop {
        let (status, answer) = s.post("auth", &body(&user, &right)).await;
        if status == 200 {
            return Ok(());
        }
        ensure!(
            status == 429 && window.elapsed() < ends + Duration::from_secs(20),
            "after the window the right face got {status} {answer}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn card_fields_cannot_be_typed_or_overwritten() -> Outcome {
    let s = stack();
    let user = unique("provenance");
    let selfie = photo(Case::Selfie, &user);
    let typed = json!({"UserId": user, "Image": selfie, "Properties": {"LAST_NAME": "Typed"}});
    expect(
        "LAST_NAME typed on register",
        s.post("register", &typed).await,
        400,
        "InvalidRequest",
    )?;
    ensure!(
        s.user_state(&user).await?.is_empty(),
        "a refused Properties map stored something"
    );
    let req = json!({
        "UserId": user,
        "Image": selfie,
        "IdCard": card(&user, &CARD_FIELDS),
        "Properties": {"team": "blue"},
    });
    let (status, answer) = s.post("register-idcard", &req).await;
    ensure!(status == 200, "register-idcard: {status} {answer}");
    let read = &answer["IdCard"];
    ensure!(
        read["Fields"]["LAST_NAME"] == "DOE"
            && read["Method"] == "analyze-id"
            && read["ReadAt"].is_string(),
        "the answer's IdCard: {answer}"
    );
    ensure!(
        answer["Properties"] == json!({"team": "blue"}),
        "card fields leaked into Properties: {answer}"
    );
    let again = b64(&fresh_photo(&user));
    let overwrite = json!({"UserId": user, "Image": again, "Properties": {"last_name": "Forged"}});
    expect(
        "last_name on update",
        s.post("update", &overwrite).await,
        400,
        "InvalidRequest",
    )?;
    let honest = json!({"UserId": user, "Image": again, "Properties": {"team": "red"}});
    let (status, answer) = s.post("update", &honest).await;
    ensure!(
        status == 200 && answer["Properties"] == json!({"team": "red"}),
        "update: {status} {answer}"
    );
    let card_fields = s.stored_id_card(&user).await?;
    ensure!(
        card_fields.get("LAST_NAME").map(String::as_str) == Some("DOE")
            && card_fields.get("DOCUMENT_NUMBER").map(String::as_str) == Some("D1234567"),
        "the card's fields after the update: {card_fields:?}"
    );
    let properties = s.stored_properties(&user).await?;
    ensure!(
        !properties
            .keys()
            .any(|k| riv_domain::validate::is_reserved(k)),
        "a card field among Properties: {properties:?}"
    );
    Ok(())
}

async fn an_update_beyond_the_cap_replaces_the_oldest_face() -> Outcome {
    let s = stack();
    let cap = riv_domain::config::MAX_FACES_PER_USER.default as usize;
    let user = registered(s, "many-faces").await?;
    let first = s.user_state(&user).await?.faces;
    ensure!(first.len() == 1, "after registering: {first:?}");
    for n in 1..=cap {
        let (status, answer) = s
            .post("update", &body(&user, &b64(&fresh_photo(&user))))
            .await;
        ensure!(status == 200, "update {n}: {status} {answer}");
    }
    let state = s.user_state(&user).await?;
    ensure!(
        state.faces.len() == cap && state.objects.len() == cap && state.rows.len() == cap + 1,
        "after {cap} updates: {state:?}"
    );
    ensure!(
        !state.faces.contains(&first[0]),
        "the oldest face {} is still in the collection: {state:?}",
        first[0]
    );
    ensure!(
        !state.objects.iter().any(|o| o.contains(&first[0])),
        "the oldest image is still stored: {state:?}"
    );
    let (status, answer) = s
        .post("auth", &body(&user, &photo(Case::Selfie, &user)))
        .await;
    ensure!(status == 200, "auth after the cap: {status} {answer}");
    Ok(())
}

async fn the_selfie_as_its_own_card_costs_no_textract_call() -> Outcome {
    let s = stack();
    let user = unique("no-card");
    let selfie = photo_bytes(Case::Selfie, &user);
    let copies = [
        ("the selfie's very bytes", selfie.clone()),
        ("the selfie re-encoded", fresh_photo(&user)),
    ];
    for (what, card) in &copies {
        let req = json!({"UserId": user, "Image": b64(&selfie), "IdCard": b64(card)});
        expect(
            what,
            s.post("register-idcard", &req).await,
            400,
            "InvalidRequest",
        )?;
    }
    let calls = s.emulator_calls().await?;
    for (what, card) in &copies {
        let seen = digest(card);
        let paid: Vec<&String> = calls
            .iter()
            .filter(|(target, images)| {
                images.contains(&seen)
                    && (target.starts_with("Textract.") || target.ends_with(".DetectText"))
            })
            .map(|(target, _)| target)
            .collect();
        ensure!(paid.is_empty(), "{what} was read as a card: {paid:?}");
    }
    ensure!(
        s.user_state(&user).await?.is_empty(),
        "a refused card stored something"
    );
    Ok(())
}

async fn properties_are_capped_per_user() -> Outcome {
    let s = stack();
    let user = registered(s, "hoarder").await?;
    let batch = |tag: &str, n: usize| -> serde_json::Map<String, serde_json::Value> {
        (0..n).map(|i| (format!("{tag}{i}"), json!("v"))).collect()
    };
    // 50 and 50 are the 100 a user may keep; one more is refused and changes nothing.
    for tag in ["a", "b"] {
        let req = json!({"UserId": user, "Image": b64(&fresh_photo(&user)), "Properties": batch(tag, 50)});
        let (status, answer) = s.post("update", &req).await;
        ensure!(status == 200, "update with 50 more: {status} {answer}");
    }
    let before = (
        s.user_state(&user).await?,
        s.stored_properties(&user).await?,
    );
    let req =
        json!({"UserId": user, "Image": b64(&fresh_photo(&user)), "Properties": batch("c", 1)});
    expect(
        "the 101st property",
        s.post("update", &req).await,
        400,
        "InvalidRequest",
    )?;
    let after = (
        s.user_state(&user).await?,
        s.stored_properties(&user).await?,
    );
    ensure!(
        before == after,
        "a refused update changed the user: {before:?} -> {after:?}"
    );
    Ok(())
}

async fn an_api_key_stack_refuses_callers_without_the_key() -> Outcome {
    let s = variant("Riv-E2E-ApiKey", &[("ApiKeyRequired", "true")]);
    let user = unique("keyed");
    let req = body(&user, &photo(Case::Selfie, &user));
    for (what, key) in [("no key", None), ("a wrong key", Some("not-the-key"))] {
        expect(
            what,
            s.post_with_key("register", &req, key).await,
            403,
            "InvalidApiKey",
        )?;
    }
    ensure!(
        s.user_state(&user).await?.is_empty(),
        "a refused caller stored something"
    );
    let key = s.api_key_value().await?;
    let (status, answer) = s.post_with_key("register", &req, Some(&key)).await;
    ensure!(status == 200, "with the key: {status} {answer}");
    Ok(())
}
