//! Tests of the claim a registration holds on its UserId; the duplicate guard, the contest and the undo are
//! tested through the functions that wire them (`search-faces`, `index-face`, `rollback`).

use super::*;
use crate::fakes::{active_profile, FakeRecords};
use riv_domain::attempt::AttemptStatus;
use riv_domain::Reason;

fn attempt(user: &str, attempt_id: &str, mode: IndexMode) -> Attempt {
    Attempt {
        attempt_id: attempt_id.into(),
        user_id: user.into(),
        mode,
        status: AttemptStatus::Pending,
        collection: "riv-1".into(),
        face_id: None,
        image_key: None,
        id_card_key: None,
        created_at: "t".into(),
        expires_at_ms: u64::MAX,
        beaten_by: None,
    }
}

#[tokio::test]
async fn a_held_claim_refuses_a_second_registration_of_the_user() {
    let records = FakeRecords::default();
    let first = attempt("ann", "a1", IndexMode::Register);
    begin(&records, &first, Some(&claim(&first))).await.unwrap();
    still_pending(&records, &first).await.unwrap();
    still_claimed(&records, &first).await.unwrap();

    let second = attempt("ann", "a2", IndexMode::Register);
    let err = begin(&records, &second, Some(&claim(&second)))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), Reason::UserAlreadyExists);
    // An update claims nothing: a conflict on its attempt record is a dependency failure, not a rejection.
    let update = attempt("ann", "a1", IndexMode::Update);
    let err = begin(&records, &update, None).await.unwrap_err();
    assert_eq!(err.reason(), Reason::InternalError);
}

#[tokio::test]
async fn a_lost_claim_or_a_beaten_attempt_cannot_commit() {
    let records = FakeRecords::default();
    let me = attempt("ann", "a1", IndexMode::Register);
    begin(&records, &me, Some(&claim(&me))).await.unwrap();

    records.insert_profile(active_profile("ann"));
    let err = still_claimed(&records, &me).await.unwrap_err();
    assert_eq!(err.reason(), Reason::UserAlreadyExists);

    records.insert_attempt(Attempt {
        beaten_by: Some("b1".into()),
        ..me.clone()
    });
    let err = still_pending(&records, &me).await.unwrap_err();
    assert_eq!(err.reason(), Reason::FaceAlreadyRegistered);

    records.insert_attempt(Attempt {
        status: AttemptStatus::Aborted,
        ..me.clone()
    });
    let err = still_pending(&records, &me).await.unwrap_err();
    assert_eq!(err.reason(), Reason::InternalError);
}
