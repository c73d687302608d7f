//! Fault injection for end-to-end tests of rollback and reconciliation, switched on by the stack's
//! `InjectFault` parameter (`RIV_INJECT_FAULT`, comma-separated). Unset in any real deployment; an unknown
//! name stops the function at cold start.
//!
//! - `record-write`: every commit of a user's rows fails, after the face and images were stored.
//! - `crash-after-index-faces`: index-face exits right after IndexFaces answered, before it notes the face.
//! - `crash-after-s3-write`: index-face exits right after storing the images, before it commits.
//!   Each crash fires once per UserId (a marker file in the function's temp directory), so that a retry of the
//!   same request shows what the crash left behind without crashing again.
//! - `delete-faces-once`: the first DeleteFaces of each face in this process fails.
//! - `dynamodb-errors`: one table call in ten fails as throttled (what LocalStack's
//!   `DYNAMODB_ERROR_PROBABILITY` does for its own DynamoDB, for this stack's functions only).

use crate::ports::*;
use async_trait::async_trait;
use riv_domain::attempt::AttemptStatus;
use riv_domain::config::ConfigError;
use riv_domain::guard::Counter;
use riv_domain::names::env;
use riv_domain::quality::DetectedFace;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    RecordWrite,
    CrashAfterIndexFaces,
    CrashAfterS3Write,
    DeleteFacesOnce,
    DynamodbErrors,
}

impl Fault {
    const ALL: [Fault; 5] = [
        Fault::RecordWrite,
        Fault::CrashAfterIndexFaces,
        Fault::CrashAfterS3Write,
        Fault::DeleteFacesOnce,
        Fault::DynamodbErrors,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::RecordWrite => "record-write",
            Fault::CrashAfterIndexFaces => "crash-after-index-faces",
            Fault::CrashAfterS3Write => "crash-after-s3-write",
            Fault::DeleteFacesOnce => "delete-faces-once",
            Fault::DynamodbErrors => "dynamodb-errors",
        }
    }
}

/// The share of table calls `dynamodb-errors` fails, in per mille.
const DYNAMODB_ERROR_PER_MILLE: u128 = 100;

/// The faults switched on for this function.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults(BTreeSet<Fault>);

impl Faults {
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Faults, ConfigError> {
        Faults::parse(lookup(env::INJECT_FAULT).as_deref().unwrap_or(""))
    }

    pub fn parse(text: &str) -> Result<Faults, ConfigError> {
        let mut faults = BTreeSet::new();
        for name in text.split(',').map(str::trim) {
            if name.is_empty() || name == "none" {
                continue;
            }
            match Fault::ALL.into_iter().find(|f| f.name() == name) {
                Some(fault) => faults.insert(fault),
                None => {
                    return Err(ConfigError::NotOneOf {
                        name: env::INJECT_FAULT,
                        value: name.to_string(),
                        allowed:
                            "none, record-write, crash-after-index-faces, crash-after-s3-write, \
                                  delete-faces-once, dynamodb-errors (comma-separated)",
                    })
                }
            };
        }
        if !faults.is_empty() {
            tracing::warn!(?faults, "fault injection on");
        }
        Ok(Faults(faults))
    }

    pub fn has(&self, fault: Fault) -> bool {
        self.0.contains(&fault)
    }

    /// Ends the process here, as a crash would, when this crash point is switched on and has not fired for
    /// this user yet.
    pub fn crash_at(&self, point: Fault, user_id: &str) {
        if !self.has(point) {
            return;
        }
        // UserIds are file-name safe (no `/`); `create_new` makes the first caller the only one to crash.
        let marker = std::env::temp_dir().join(format!("riv-fault-{}-{user_id}", point.name()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
        {
            Ok(_) => {
                tracing::error!(fault = point.name(), "injected crash: exiting");
                std::process::exit(70);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                tracing::info!(
                    fault = point.name(),
                    "injected crash already fired for this user"
                );
            }
            Err(e) => {
                tracing::error!(fault = point.name(), error = %e, "cannot mark the injected crash; crashing anyway");
                std::process::exit(70);
            }
        }
    }

    /// The table, failing as the faults say.
    pub fn records(&self, records: Arc<dyn FaceRecords>) -> Arc<dyn FaceRecords> {
        if self.has(Fault::RecordWrite) || self.has(Fault::DynamodbErrors) {
            Arc::new(FaultyRecords {
                inner: records,
                fail_commits: self.has(Fault::RecordWrite),
                random_errors: self.has(Fault::DynamodbErrors),
            })
        } else {
            records
        }
    }

    /// The face engine, failing as the faults say.
    pub fn faces(&self, faces: Arc<dyn FaceEngine>) -> Arc<dyn FaceEngine> {
        if self.has(Fault::DeleteFacesOnce) {
            Arc::new(DeleteFacesFailsOnce {
                inner: faces,
                failed: Mutex::new(BTreeSet::new()),
            })
        } else {
            faces
        }
    }
}

fn injected(
    service: &'static str,
    operation: &'static str,
    kind: ServiceErrorKind,
) -> ServiceError {
    ServiceError::new(
        service,
        operation,
        kind,
        "injected fault (RIV_INJECT_FAULT)",
    )
}

struct FaultyRecords {
    inner: Arc<dyn FaceRecords>,
    fail_commits: bool,
    random_errors: bool,
}

impl FaultyRecords {
    fn roll(&self, operation: &'static str) -> Result<(), ServiceError> {
        if self.random_errors && uuid::Uuid::new_v4().as_u128() % 1000 < DYNAMODB_ERROR_PER_MILLE {
            return Err(injected("dynamodb", operation, ServiceErrorKind::Throttled));
        }
        Ok(())
    }
}

#[async_trait]
impl FaceRecords for FaultyRecords {
    async fn profile(&self, user_id: &str) -> Result<Option<Profile>, ServiceError> {
        self.roll("GetItem")?;
        self.inner.profile(user_id).await
    }

    async fn faces(&self, user_id: &str) -> Result<Vec<FaceRecord>, ServiceError> {
        self.roll("Query")?;
        self.inner.faces(user_id).await
    }

    async fn face(&self, user_id: &str, face_id: &str) -> Result<Option<FaceRecord>, ServiceError> {
        self.roll("GetItem")?;
        self.inner.face(user_id, face_id).await
    }

    async fn attempt(&self, attempt_id: &str) -> Result<Option<Attempt>, ServiceError> {
        self.roll("GetItem")?;
        self.inner.attempt(attempt_id).await
    }

    async fn begin(&self, attempt: &Attempt, claim: Option<&Profile>) -> Result<(), ServiceError> {
        self.roll("TransactWriteItems")?;
        self.inner.begin(attempt, claim).await
    }

    async fn record_face(
        &self,
        attempt_id: &str,
        face_id: &str,
        image_key: &str,
    ) -> Result<(), ServiceError> {
        self.roll("UpdateItem")?;
        self.inner.record_face(attempt_id, face_id, image_key).await
    }

    async fn commit(&self, commit: &Commit) -> Result<(), ServiceError> {
        if self.fail_commits {
            return Err(injected(
                "dynamodb",
                "TransactWriteItems",
                ServiceErrorKind::Other,
            ));
        }
        self.roll("TransactWriteItems")?;
        self.inner.commit(commit).await
    }

    async fn set_attempt_status(
        &self,
        attempt_id: &str,
        status: AttemptStatus,
    ) -> Result<(), ServiceError> {
        self.roll("UpdateItem")?;
        self.inner.set_attempt_status(attempt_id, status).await
    }

    async fn release_claim(&self, user_id: &str, attempt_id: &str) -> Result<(), ServiceError> {
        self.roll("DeleteItem")?;
        self.inner.release_claim(user_id, attempt_id).await
    }

    async fn guard_counter(&self, user_id: &str) -> Result<Option<Counter>, ServiceError> {
        self.roll("GetItem")?;
        self.inner.guard_counter(user_id).await
    }

    async fn store_guard_counter(
        &self,
        user_id: &str,
        counter: &Counter,
        expected: Option<&Counter>,
    ) -> Result<(), ServiceError> {
        self.roll("PutItem")?;
        self.inner
            .store_guard_counter(user_id, counter, expected)
            .await
    }

    async fn clear_guard_counter(&self, user_id: &str) -> Result<(), ServiceError> {
        self.roll("DeleteItem")?;
        self.inner.clear_guard_counter(user_id).await
    }
}

/// Fails the first DeleteFaces of each set of faces, then passes it through.
struct DeleteFacesFailsOnce {
    inner: Arc<dyn FaceEngine>,
    failed: Mutex<BTreeSet<Vec<String>>>,
}

#[async_trait]
impl FaceEngine for DeleteFacesFailsOnce {
    async fn detect_faces(&self, image: &Picture) -> Result<Vec<DetectedFace>, ServiceError> {
        self.inner.detect_faces(image).await
    }

    async fn search_faces_by_image(
        &self,
        collection: &str,
        image: &Picture,
        threshold: f32,
        max_faces: i32,
    ) -> Result<Vec<FaceMatch>, ServiceError> {
        self.inner
            .search_faces_by_image(collection, image, threshold, max_faces)
            .await
    }

    async fn compare_faces(
        &self,
        source: &Picture,
        target: &Picture,
    ) -> Result<Option<Comparison>, ServiceError> {
        self.inner.compare_faces(source, target).await
    }

    async fn index_face(
        &self,
        collection: &str,
        image: &Picture,
        external_image_id: &str,
    ) -> Result<Option<String>, ServiceError> {
        self.inner
            .index_face(collection, image, external_image_id)
            .await
    }

    async fn delete_faces(
        &self,
        collection: &str,
        face_ids: &[String],
    ) -> Result<(), ServiceError> {
        let first_time = self
            .failed
            .lock()
            .map_err(|_| injected("rekognition", "DeleteFaces", ServiceErrorKind::Other))?
            .insert(face_ids.to_vec());
        if first_time {
            return Err(injected(
                "rekognition",
                "DeleteFaces",
                ServiceErrorKind::Other,
            ));
        }
        self.inner.delete_faces(collection, face_ids).await
    }

    async fn detect_text(&self, image: &Picture) -> Result<Vec<String>, ServiceError> {
        self.inner.detect_text(image).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeFaces, FakeRecords};

    #[test]
    fn only_known_faults_are_accepted_in_a_list() {
        assert_eq!(Faults::parse("").unwrap(), Faults::default());
        assert_eq!(Faults::parse("none").unwrap(), Faults::default());
        let both = Faults::parse("crash-after-s3-write, delete-faces-once").unwrap();
        assert!(both.has(Fault::CrashAfterS3Write) && both.has(Fault::DeleteFacesOnce));
        assert!(!both.has(Fault::RecordWrite));
        assert!(Faults::parse("record-write,everything").is_err());
        assert!(Faults::from_env(|_| Some("dynamodb-errors".into()))
            .unwrap()
            .has(Fault::DynamodbErrors));
    }

    #[tokio::test]
    async fn delete_faces_fails_once_per_face_then_works() {
        let fake = Arc::new(FakeFaces::with_collections(&["c"]));
        let id = fake.seed("c", "ann", "ann");
        let faces = Faults::parse("delete-faces-once")
            .unwrap()
            .faces(fake.clone());
        let ids = [id];
        assert!(faces.delete_faces("c", &ids).await.is_err());
        assert_eq!(fake.face_count(), 1);
        faces.delete_faces("c", &ids).await.unwrap();
        assert_eq!(fake.face_count(), 0);
    }

    #[tokio::test]
    async fn dynamodb_errors_fail_about_one_call_in_ten() {
        let records = Faults::parse("dynamodb-errors")
            .unwrap()
            .records(Arc::new(FakeRecords::default()));
        let mut failed = 0;
        for _ in 0..2000 {
            if records.profile("ann").await.is_err() {
                failed += 1;
            }
        }
        // 200 expected; a binomial(2000, 0.1) lies in 140..260 with overwhelming probability.
        assert!((140..260).contains(&failed), "{failed} of 2000 failed");
    }
}
