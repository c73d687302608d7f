//! `rollback`: undoes what an `index-face` attempt wrote, from its attempt record alone, so a failed
//! registration or update leaves nothing behind. `index-face` runs the same undo for its own failures: both
//! call `registration::undo`.

use super::registration;
use crate::ports::{FaceEngine, FaceRecords, ImageStore};
use crate::HandlerError;
use riv_domain::events::{RollbackRequest, RollbackResult};
use riv_domain::{validate, Rejection};
use std::sync::Arc;

pub struct Rollback {
    pub faces: Arc<dyn FaceEngine>,
    pub images: Arc<dyn ImageStore>,
    pub records: Arc<dyn FaceRecords>,
}

impl Rollback {
    pub async fn handle(&self, request: RollbackRequest) -> Result<RollbackResult, HandlerError> {
        let user_id = validate::user_id(&request.user_id)?;
        if request.attempt_id.trim().is_empty() {
            return Err(Rejection::invalid("AttemptId is empty").into());
        }
        // The attempt record is the first thing an attempt writes: without it, nothing was written.
        let Some(attempt) = self.records.attempt(&request.attempt_id).await? else {
            tracing::info!("no attempt record: nothing was written");
            return Ok(RollbackResult::default());
        };
        if attempt.user_id != user_id {
            return Err(Rejection::invalid("AttemptId belongs to another user").into());
        }
        // From the record alone, a missing FaceId may mean the writer died between IndexFaces and noting it.
        let result =
            registration::undo(&*self.faces, &*self.images, &*self.records, &attempt, false)
                .await?;
        tracing::info!(?result, "rolled back");
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{active_profile, photo, FakeFaces, FakeRecords, FakeStore};
    use crate::ports::{Attempt, ImageStore, Profile};
    use riv_domain::attempt::{AttemptStatus, ProfileStatus};
    use riv_domain::events::IndexMode;
    use riv_domain::Reason;

    struct World {
        faces: Arc<FakeFaces>,
        images: Arc<FakeStore>,
        records: Arc<FakeRecords>,
        handler: Rollback,
    }

    fn world() -> World {
        let faces = Arc::new(FakeFaces::with_collections(&["riv-1"]));
        let images = Arc::new(FakeStore::default());
        let records = Arc::new(FakeRecords::default());
        let handler = Rollback {
            faces: faces.clone(),
            images: images.clone(),
            records: records.clone(),
        };
        World {
            faces,
            images,
            records,
            handler,
        }
    }

    /// What a registration of `user` leaves when it dies after storing its images: a claim, a face, a selfie
    /// (two versions) and a card, all named by the attempt record.
    async fn died_after_storing(w: &World, user: &str, attempt_id: &str) -> Attempt {
        let face_id = w.faces.seed("riv-1", user, user);
        let image_key = format!("faces/{user}/{face_id}.png");
        let card_key = format!("idcards/{user}/{attempt_id}.png");
        for key in [&image_key, &image_key, &card_key] {
            w.images.put(key, photo(user), "image/png").await.unwrap();
        }
        w.records.insert_profile(Profile {
            status: ProfileStatus::Pending,
            attempt_id: attempt_id.into(),
            ..active_profile(user)
        });
        let attempt = Attempt {
            attempt_id: attempt_id.into(),
            user_id: user.into(),
            mode: IndexMode::Register,
            status: AttemptStatus::Pending,
            collection: "riv-1".into(),
            face_id: Some(face_id),
            image_key: Some(image_key),
            id_card_key: Some(card_key),
            created_at: "t".into(),
            expires_at_ms: u64::MAX,
            beaten_by: None,
        };
        w.records.insert_attempt(attempt.clone());
        attempt
    }

    fn request(user: &str, attempt: &str) -> RollbackRequest {
        RollbackRequest {
            user_id: user.into(),
            attempt_id: attempt.into(),
        }
    }

    fn status(w: &World, attempt: &str) -> Option<AttemptStatus> {
        w.records
            .attempts()
            .into_iter()
            .find(|a| a.attempt_id == attempt)
            .map(|a| a.status)
    }

    #[tokio::test]
    async fn removes_everything_the_record_names_and_is_idempotent() {
        let w = world();
        died_after_storing(&w, "ann", "a1").await;
        died_after_storing(&w, "bob", "b1").await;
        let r = w.handler.handle(request("ann", "a1")).await.unwrap();
        assert_eq!(
            (r.faces_deleted, r.objects_deleted, r.rows_deleted),
            (1, 2, 1)
        );
        assert_eq!(status(&w, "a1"), Some(AttemptStatus::RolledBack));
        assert_eq!(w.faces.face_count(), 1, "bob's face stays");
        assert!(w.images.keys().iter().all(|k| k.contains("/bob/")));
        assert_eq!(w.records.row_count(), 1, "bob's claim stays");
        // Again: nothing left to remove, still a success.
        let again = w.handler.handle(request("ann", "a1")).await.unwrap();
        assert_eq!(again, RollbackResult::default());
    }

    #[tokio::test]
    async fn a_retry_after_a_failed_step_finishes_the_job() {
        // DeleteFaces fails after the record was read and the other steps ran: the record still names the
        // face, so the state machine's retry removes it. (The old rollback deleted the rows that named it.)
        let w = world();
        died_after_storing(&w, "ann", "a1").await;
        w.faces.faults.fail("DeleteFaces");
        let err = w.handler.handle(request("ann", "a1")).await.unwrap_err();
        assert_eq!(err.reason(), Reason::InternalError);
        assert_eq!(status(&w, "a1"), Some(AttemptStatus::Aborted));
        assert!(w.images.keys().is_empty() && w.records.row_count() == 0);
        assert_eq!(w.faces.face_count(), 1);
        w.faces.faults.heal("DeleteFaces");
        w.handler.handle(request("ann", "a1")).await.unwrap();
        assert_eq!(w.faces.face_count(), 0);
        assert_eq!(status(&w, "a1"), Some(AttemptStatus::RolledBack));
    }

    #[tokio::test]
    async fn every_subset_of_failing_steps_converges_on_retry() {
        let steps = ["DeleteFaces", "DeleteObject", "DeleteItem", "UpdateItem"];
        for mask in 1..(1u32 << steps.len()) {
            let w = world();
            died_after_storing(&w, "ann", "a1").await;
            let failing: Vec<&str> = (0..steps.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| steps[i])
                .collect();
            for step in &failing {
                match *step {
                    "DeleteFaces" => w.faces.faults.fail("DeleteFaces"),
                    "DeleteObject" => w.images.faults.fail("DeleteObject"),
                    "DeleteItem" => w.records.faults.fail("DeleteItem"),
                    _ => w.records.faults.fail("UpdateItem"),
                }
            }
            assert!(w.handler.handle(request("ann", "a1")).await.is_err());
            assert_ne!(
                status(&w, "a1"),
                Some(AttemptStatus::RolledBack),
                "{failing:?}"
            );
            w.faces.faults.heal("DeleteFaces");
            w.images.faults.heal("DeleteObject");
            w.records.faults.heal("DeleteItem");
            w.records.faults.heal("UpdateItem");
            w.handler.handle(request("ann", "a1")).await.unwrap();
            assert_eq!(status(&w, "a1"), Some(AttemptStatus::RolledBack));
            assert_eq!(
                (
                    w.faces.face_count(),
                    w.images.keys().len(),
                    w.records.row_count()
                ),
                (0, 0, 0),
                "{failing:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_attempt_that_died_before_noting_its_face_is_left_to_the_reconciler() {
        let w = world();
        let mut attempt = died_after_storing(&w, "ann", "a1").await;
        attempt.face_id = None;
        attempt.image_key = None;
        w.records.insert_attempt(attempt);
        let err = w.handler.handle(request("ann", "a1")).await.unwrap_err();
        assert_eq!(err.reason(), Reason::InternalError);
        assert_eq!(status(&w, "a1"), Some(AttemptStatus::Aborted));
        assert_eq!(
            w.records.row_count(),
            0,
            "the claim is released all the same"
        );
    }

    #[tokio::test]
    async fn a_committed_attempt_is_not_undone() {
        let w = world();
        let mut attempt = died_after_storing(&w, "ann", "a1").await;
        attempt.status = AttemptStatus::Committed;
        w.records.insert_attempt(attempt);
        let r = w.handler.handle(request("ann", "a1")).await.unwrap();
        assert!(r.committed);
        assert_eq!(w.faces.face_count(), 1);
    }

    #[tokio::test]
    async fn no_record_means_nothing_was_written() {
        let w = world();
        let r = w.handler.handle(request("ann", "never")).await.unwrap();
        assert_eq!(r, RollbackResult::default());
    }

    #[tokio::test]
    async fn refuses_bad_input_and_another_users_attempt() {
        let w = world();
        died_after_storing(&w, "ann", "a1").await;
        for req in [
            request("../x", "a1"),
            request("ann", " "),
            request("bob", "a1"),
        ] {
            assert_eq!(
                w.handler.handle(req).await.unwrap_err().reason(),
                Reason::InvalidRequest
            );
        }
        assert_eq!(status(&w, "a1"), Some(AttemptStatus::Pending));
    }
}
