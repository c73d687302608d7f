//! `rollback`: removes what an `index-face` attempt wrote, exactly and idempotently, so a failed registration
//! leaves nothing behind. `index-face` uses the same removal for its own partial failures.

use crate::ports::{FaceEngine, FaceRecords, ImageStore, ServiceError};
use crate::HandlerError;
use riv_domain::events::{RollbackRequest, RollbackResult, Written};
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
        let written = match (request.written, request.attempt_id) {
            (Some(written), _) => written,
            // The writer died before it could report: find its writes by the attempt tag on the rows.
            (None, Some(attempt)) => {
                let mut written = Written::default();
                for row in self.records.rows_of_attempt(user_id, &attempt).await? {
                    written.rows.push(row.key);
                    written.objects.extend(row.objects);
                    if row.face.is_some() {
                        written.face = row.face;
                    }
                }
                written
            }
            (None, None) => {
                return Err(Rejection::invalid("rollback needs Written or AttemptId").into());
            }
        };
        let result = remove(&*self.faces, &*self.images, &*self.records, &written).await?;
        tracing::info!(?result, "rolled back");
        Ok(result)
    }
}

/// Deletes rows first (the user stops existing for readers), then the face and the objects. Every removal is
/// attempted even when one fails; the first failure is returned so the state machine retries the whole
/// (idempotent) removal.
pub async fn remove(
    faces: &dyn FaceEngine,
    images: &dyn ImageStore,
    records: &dyn FaceRecords,
    written: &Written,
) -> Result<RollbackResult, ServiceError> {
    let mut result = RollbackResult::default();
    let mut first_error: Option<ServiceError> = None;
    let mut note = |outcome: Result<(), ServiceError>, counter: &mut usize| match outcome {
        Ok(()) => *counter += 1,
        Err(e) => {
            tracing::warn!(error = %e, "rollback step failed");
            first_error.get_or_insert(e);
        }
    };
    for row in &written.rows {
        note(records.delete_row(row).await, &mut result.rows_deleted);
    }
    if let Some(face) = &written.face {
        let ids = [face.face_id.clone()];
        note(
            faces.delete_faces(&face.collection, &ids).await,
            &mut result.faces_deleted,
        );
    }
    for object in &written.objects {
        note(images.delete(object).await, &mut result.objects_deleted);
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(result),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{photo, written_face, FakeFaces, FakeRecords, FakeStore};
    use crate::ports::{FaceRecord, Profile};
    use riv_domain::events::{RowKey, WrittenObject};
    use riv_domain::names::table;
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

    /// Writes what a registration under `attempt` would, and returns its `Written`.
    async fn registered(w: &World, user: &str, attempt: &str) -> Written {
        let face_id = w.faces.seed("riv-1", user, user);
        let image = w
            .images
            .put(
                &format!("faces/{user}/{face_id}.png"),
                photo(user),
                "image/png",
            )
            .await
            .unwrap();
        let card = w
            .images
            .put(&format!("idcards/{user}/c.png"), photo(user), "image/png")
            .await
            .unwrap();
        w.records.insert_profile(Profile {
            user_id: user.into(),
            properties: Default::default(),
            id_card: Some(card.clone()),
            attempt_id: attempt.into(),
            created_at: "t".into(),
        });
        w.records.insert_face(FaceRecord {
            user_id: user.into(),
            face: written_face("riv-1", &face_id),
            image: image.clone(),
            attempt_id: attempt.into(),
            created_at: "t".into(),
        });
        Written {
            face: Some(written_face("riv-1", &face_id)),
            objects: vec![image, card],
            rows: vec![
                RowKey {
                    pk: table::user_pk(user),
                    sk: table::PROFILE.into(),
                },
                RowKey {
                    pk: table::user_pk(user),
                    sk: table::face_sk(&face_id),
                },
            ],
        }
    }

    fn empty(w: &World) -> bool {
        w.faces.face_count() == 0 && w.images.keys().is_empty() && w.records.row_count() == 0
    }

    #[tokio::test]
    async fn removes_exactly_what_was_written_and_is_idempotent() {
        let w = world();
        let written = registered(&w, "ann", "a1").await;
        let keep = registered(&w, "bob", "b1").await;
        let request = RollbackRequest {
            user_id: "ann".into(),
            attempt_id: None,
            written: Some(written),
        };
        let r = w.handler.handle(request.clone()).await.unwrap();
        assert_eq!(
            (r.faces_deleted, r.objects_deleted, r.rows_deleted),
            (1, 2, 2)
        );
        assert_eq!(w.faces.face_count(), 1);
        assert_eq!(w.records.row_count(), 2);
        assert!(w.images.keys().iter().all(|k| k.contains("/bob/")));
        // Again: nothing left to remove, still a success.
        w.handler.handle(request).await.unwrap();
        let bob = RollbackRequest {
            user_id: "bob".into(),
            attempt_id: None,
            written: Some(keep),
        };
        w.handler.handle(bob).await.unwrap();
        assert!(empty(&w));
    }

    #[tokio::test]
    async fn finds_the_writes_of_an_attempt_that_never_reported() {
        let w = world();
        registered(&w, "ann", "a1").await;
        let request = RollbackRequest {
            user_id: "ann".into(),
            attempt_id: Some("a1".into()),
            written: None,
        };
        let r = w.handler.handle(request).await.unwrap();
        assert_eq!(
            (r.faces_deleted, r.objects_deleted, r.rows_deleted),
            (1, 2, 2)
        );
        assert!(empty(&w));
    }

    #[tokio::test]
    async fn leaves_other_attempts_alone() {
        let w = world();
        registered(&w, "ann", "a1").await;
        let request = RollbackRequest {
            user_id: "ann".into(),
            attempt_id: Some("a2".into()),
            written: None,
        };
        let r = w.handler.handle(request).await.unwrap();
        assert_eq!(r, RollbackResult::default());
        assert_eq!(w.records.row_count(), 2);
    }

    #[tokio::test]
    async fn keeps_going_past_a_failure_then_reports_it() {
        let w = world();
        let written = registered(&w, "ann", "a1").await;
        w.faces.faults.fail("DeleteFaces");
        let request = RollbackRequest {
            user_id: "ann".into(),
            attempt_id: None,
            written: Some(written),
        };
        let err = w.handler.handle(request.clone()).await.unwrap_err();
        assert_eq!(err.reason(), Reason::InternalError);
        assert!(w.images.keys().is_empty() && w.records.row_count() == 0);
        assert_eq!(w.faces.face_count(), 1);
        // The state machine retries; with the service back, the retry finishes the job.
        w.faces.faults.heal("DeleteFaces");
        w.handler.handle(request).await.unwrap();
        assert!(empty(&w));
    }

    #[tokio::test]
    async fn needs_something_to_go_on() {
        let w = world();
        let request = RollbackRequest {
            user_id: "ann".into(),
            attempt_id: None,
            written: None,
        };
        assert_eq!(
            w.handler.handle(request).await.unwrap_err().reason(),
            Reason::InvalidRequest
        );
        let bad = RollbackRequest {
            user_id: "../x".into(),
            attempt_id: Some("a".into()),
            written: None,
        };
        assert_eq!(
            w.handler.handle(bad).await.unwrap_err().reason(),
            Reason::InvalidRequest
        );
        let unversioned = WrittenObject {
            key: "faces/ann/x.png".into(),
            version_id: None,
        };
        w.images
            .put(&unversioned.key, photo("ann"), "image/png")
            .await
            .unwrap();
        w.images
            .put(&unversioned.key, photo("ann#2"), "image/png")
            .await
            .unwrap();
        let written = Written {
            objects: vec![unversioned],
            ..Written::default()
        };
        let request = RollbackRequest {
            user_id: "ann".into(),
            attempt_id: None,
            written: Some(written),
        };
        w.handler.handle(request).await.unwrap();
        assert!(
            w.images.keys().is_empty(),
            "every version of an unversioned reference goes"
        );
    }
}
