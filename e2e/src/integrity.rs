//! Scenarios of issue-level integrity: a face authenticates only through a live record; injected crashes and
//! DynamoDB errors leave nothing the reconciler cannot repair; registrations run in parallel; concurrent
//! updates lose nothing.

use crate::ensure;
use crate::events::Inbox;
use crate::scenarios::{body, expect, futures_join, registered, Outcome, Scenario};
use crate::{photo, photo_bytes, stack, unique, variant, Stack};
use riv_emulator::testimage::{self, Case, Format};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![
        ("auth_denies_a_face_planted_under_the_victims_id", || {
            Box::pin(orphan_attack())
        }),
        ("a_crash_after_index_faces_is_repaired_by_reconcile", || {
            Box::pin(crash_then_retry_then_reconcile(
                "Riv-E2E-CrashIndexed",
                "crash-after-index-faces",
            ))
        }),
        (
            "a_crash_after_the_image_write_is_rolled_back_past_a_failing_delete",
            || {
                Box::pin(crash_then_retry_then_reconcile(
                    "Riv-E2E-CrashStored",
                    "crash-after-s3-write,delete-faces-once",
                ))
            },
        ),
        (
            "registrations_under_dynamodb_errors_keep_the_invariants",
            || Box::pin(registrations_under_dynamodb_errors()),
        ),
        ("twenty_people_register_at_once", || {
            Box::pin(twenty_people_at_once())
        }),
        ("concurrent_updates_lose_no_property", || {
            Box::pin(concurrent_updates())
        }),
    ]
}

async fn orphan_attack() -> Outcome {
    let s = stack();
    let victim = registered(s, "victim").await?;
    let attacker = unique("attacker");
    // The attacker's face sits in the victim's collection under the victim's ExternalImageId, with no record:
    // what a registration killed after IndexFaces used to leave, or what anyone with IndexFaces can plant.
    s.plant_face(&victim, &photo_bytes(Case::Selfie, &attacker))
        .await?;
    let inbox = Inbox::subscribe(s).await?;
    expect(
        "auth as the victim with the planted face",
        s.post("auth", &body(&victim, &photo(Case::Selfie, &attacker)))
            .await,
        401,
        "UserAccessDenied",
    )?;
    inbox
        .wait_for("LoginFailed", &victim, Duration::from_secs(10))
        .await?;
    // The victim still gets in.
    let (status, answer) = s
        .post("auth", &body(&victim, &photo(Case::Selfie, &victim)))
        .await;
    ensure!(status == 200, "the victim's own auth: {status} {answer}");
    Ok(())
}

/// A registration on a stack with `faults`: the first try fails, a retry of the same request succeeds, and
/// after a reconcile the stack's data breaks no invariant.
async fn crash_then_retry_then_reconcile(stack_name: &str, faults: &str) -> Outcome {
    let s = variant(stack_name, &[("InjectFault", faults)]);
    let user = unique("crashed");
    let request = body(&user, &photo(Case::Selfie, &user));
    let first = s.post("register", &request).await;
    ensure!(
        first.0 == 500 && first.1["Reason"] == "InternalError",
        "{faults}: wanted 500 InternalError from the crash, got {} {}",
        first.0,
        first.1
    );
    let after_crash = s.violations().await?;
    let retry = s.post("register", &request).await;
    ensure!(
        retry.0 == 200,
        "{faults}: the retry of the same request: {} {}",
        retry.0,
        retry.1
    );
    let fixed = s.reconcile().await?;
    let left = s.violations().await?;
    eprintln!(
        "    {faults}: {} violation(s) after the crash, {fixed} fixed by reconcile, {} left",
        after_crash.len(),
        left.len()
    );
    ensure!(left.is_empty(), "{faults}: after reconcile: {left:?}");
    let state = s.user_state(&user).await?;
    ensure!(
        state.faces.len() == 1 && state.objects.len() == 1 && state.rows.len() == 2,
        "{faults}: the user should hold exactly the retry's face, image and rows: {state:?}"
    );
    let (status, answer) = s
        .post("auth", &body(&user, &photo(Case::Selfie, &user)))
        .await;
    ensure!(
        status == 200,
        "{faults}: auth after all that: {status} {answer}"
    );
    Ok(())
}

const LOAD_REGISTRATIONS: usize = 200;
const LOAD_CLIENTS: usize = 8;

async fn registrations_under_dynamodb_errors() -> Outcome {
    let s = variant(
        "Riv-E2E-DynamoErrors",
        &[("InjectFault", "dynamodb-errors")],
    );
    let users: Vec<String> = (0..LOAD_REGISTRATIONS).map(|_| unique("load")).collect();
    let started = std::time::Instant::now();
    let answers = in_clients(s, &users, LOAD_CLIENTS).await;
    let took = started.elapsed();
    let mut by_status: BTreeMap<(u16, String), usize> = BTreeMap::new();
    for (status, answer) in &answers {
        let reason = answer["Reason"].as_str().unwrap_or("-").to_string();
        *by_status.entry((*status, reason)).or_default() += 1;
    }
    let documented = |status: u16, reason: &str| match status {
        200 => true,
        500 => reason == "InternalError",
        409 => reason == "UserAlreadyExists" || reason == "FaceAlreadyRegistered",
        _ => false,
    };
    let before = s.violations().await?;
    let fixed = s.reconcile().await?;
    let after = s.violations().await?;
    eprintln!(
        "    {LOAD_REGISTRATIONS} registrations, {LOAD_CLIENTS} clients, 10% DynamoDB errors, {took:.0?}: answers \
         {by_status:?}; violations {} before reconcile, {fixed} fixed, {} after",
        before.len(),
        after.len()
    );
    for ((status, reason), count) in &by_status {
        ensure!(
            documented(*status, reason),
            "{count} answer(s) {status} {reason} are not in the API contract"
        );
    }
    ensure!(
        by_status.keys().any(|(status, _)| *status == 200),
        "no registration succeeded: {by_status:?}"
    );
    ensure!(after.is_empty(), "after reconcile: {after:?}");
    Ok(())
}

/// Registers every user with their own face, `clients` requests in flight at a time; answers in order.
async fn in_clients(s: &'static Stack, users: &[String], clients: usize) -> Vec<(u16, Value)> {
    use futures::stream::{self, StreamExt};
    stream::iter(users.to_vec())
        .map(|u| async move {
            s.post("register", &body(&u, &photo(Case::Selfie, &u)))
                .await
        })
        .buffered(clients)
        .collect()
        .await
}

async fn twenty_people_at_once() -> Outcome {
    let s = stack();
    let users: Vec<String> = (0..20).map(|_| unique("crowd")).collect();
    let answers = in_clients(s, &users, 20).await;
    for (user, (status, answer)) in users.iter().zip(&answers) {
        ensure!(*status == 200, "{user} did not register: {status} {answer}");
    }
    for user in &users {
        let state = s.user_state(user).await?;
        ensure!(
            state.faces.len() == 1 && state.rows.len() == 2,
            "{user}: {state:?}"
        );
    }
    Ok(())
}

async fn concurrent_updates() -> Outcome {
    let s = stack();
    let user = registered(s, "busy").await?;
    let new_photo = || {
        crate::b64(&testimage::render(
            &testimage::case(Case::Selfie, &user),
            Format::Png,
        ))
    };
    let requests = [
        json!({"UserId": user, "Image": new_photo(), "Properties": {"team": "red"}}),
        json!({"UserId": user, "Image": new_photo(), "Properties": {"floor": "3"}}),
    ];
    let answers = futures_join(requests.iter().map(|r| s.post("update", r))).await;
    let stored = s.stored_properties(&user).await?;
    for (request, (status, answer)) in requests.iter().zip(&answers) {
        let conflict = *status == 409 && answer["Reason"] == "UpdateConflict";
        ensure!(*status == 200 || conflict, "update: {status} {answer}");
        if *status == 200 {
            let props = request["Properties"]
                .as_object()
                .ok_or("a request without Properties")?;
            for (key, value) in props {
                ensure!(
                    stored.get(key).map(String::as_str) == value.as_str(),
                    "the answered update of {key} was lost: stored {stored:?}, answers {answers:?}"
                );
            }
        }
    }
    Ok(())
}
