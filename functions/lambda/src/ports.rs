//! The small traits the handlers depend on, one per AWS service, plus the error they share. The AWS adapters
//! live in [`crate::aws`]; in-memory ones for tests in `fakes`.

use async_trait::async_trait;
use riv_domain::events::{Properties, RowKey, WrittenFace, WrittenObject};
use riv_domain::idcard::AnalyzedField;
use riv_domain::quality::DetectedFace;
use thiserror::Error;

/// What kind of failure a service reported, as far as the handlers care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceErrorKind {
    /// The thing addressed does not exist (collection, object, item).
    NotFound,
    /// A conditional write lost: the item exists, or no longer does.
    Conflict,
    /// The service could not read the image.
    InvalidImage,
    /// The service found no face where it needed one.
    NoFace,
    /// Throttled or temporarily unavailable: worth retrying.
    Throttled,
    Other,
}

#[derive(Debug, Clone, PartialEq, Error)]
#[error("{service} {operation} failed ({kind:?}): {message}")]
pub struct ServiceError {
    pub service: &'static str,
    pub operation: &'static str,
    pub kind: ServiceErrorKind,
    pub message: String,
}

impl ServiceError {
    pub fn new(
        service: &'static str,
        operation: &'static str,
        kind: ServiceErrorKind,
        message: impl Into<String>,
    ) -> Self {
        ServiceError {
            service,
            operation,
            kind,
            message: message.into(),
        }
    }
}

/// A face found in a collection search.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceMatch {
    pub face_id: String,
    pub external_image_id: Option<String>,
    pub similarity: f32,
}

/// Rekognition, as the handlers use it.
#[async_trait]
pub trait FaceEngine: Send + Sync {
    /// Every face in the image with all attributes.
    async fn detect_faces(&self, image: &[u8]) -> Result<Vec<DetectedFace>, ServiceError>;
    /// Faces in the collection similar to the largest face in the image, best first.
    async fn search_faces_by_image(
        &self,
        collection: &str,
        image: &[u8],
        threshold: f32,
        max_faces: i32,
    ) -> Result<Vec<FaceMatch>, ServiceError>;
    /// The best similarity between the source's largest face and any face in the target; `None` when the
    /// target holds no face.
    async fn compare_faces(
        &self,
        source: &[u8],
        target: &[u8],
    ) -> Result<Option<f32>, ServiceError>;
    /// Indexes the largest face; `None` when no face was indexed.
    async fn index_face(
        &self,
        collection: &str,
        image: &[u8],
        external_image_id: &str,
    ) -> Result<Option<String>, ServiceError>;
    /// Deletes faces; a face or collection that is already gone is not an error.
    async fn delete_faces(&self, collection: &str, face_ids: &[String])
        -> Result<(), ServiceError>;
    /// The lines of text in the image, top to bottom.
    async fn detect_text(&self, image: &[u8]) -> Result<Vec<String>, ServiceError>;
}

/// Textract AnalyzeID.
#[async_trait]
pub trait IdDocumentReader: Send + Sync {
    async fn analyze_id(&self, image: &[u8]) -> Result<Vec<AnalyzedField>, ServiceError>;
}

/// The image bucket.
#[async_trait]
pub trait ImageStore: Send + Sync {
    /// Writes an object; the result names the version written, if the bucket is versioned.
    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<WrittenObject, ServiceError>;
    async fn get(&self, key: &str) -> Result<Vec<u8>, ServiceError>;
    /// Removes the object for good: that version, or every version of the key when none is named.
    /// Already gone is not an error.
    async fn delete(&self, object: &WrittenObject) -> Result<(), ServiceError>;
}

/// A user's profile row.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub user_id: String,
    pub properties: Properties,
    pub id_card: Option<WrittenObject>,
    pub attempt_id: String,
    pub created_at: String,
}

/// One of a user's face rows.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceRecord {
    pub user_id: String,
    pub face: WrittenFace,
    pub image: WrittenObject,
    pub attempt_id: String,
    pub created_at: String,
}

/// A row some attempt wrote, with what it points to.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    pub key: RowKey,
    pub face: Option<WrittenFace>,
    pub objects: Vec<WrittenObject>,
}

/// The face table.
#[async_trait]
pub trait FaceRecords: Send + Sync {
    async fn profile(&self, user_id: &str) -> Result<Option<Profile>, ServiceError>;
    async fn faces(&self, user_id: &str) -> Result<Vec<FaceRecord>, ServiceError>;
    /// Creates profile and first face together; `Conflict` when the user exists.
    async fn create_user(&self, profile: &Profile, face: &FaceRecord) -> Result<(), ServiceError>;
    /// Adds a face and replaces the profile's properties together; `Conflict` when the profile is gone.
    async fn add_face(
        &self,
        face: &FaceRecord,
        properties: &Properties,
        updated_at: &str,
    ) -> Result<(), ServiceError>;
    /// Deletes a row; an absent row is not an error.
    async fn delete_row(&self, key: &RowKey) -> Result<(), ServiceError>;
    /// Takes the named lock for `lease` unless someone else holds an unexpired lease; true when taken.
    async fn acquire_lock(
        &self,
        name: &str,
        owner: &str,
        lease: std::time::Duration,
    ) -> Result<bool, ServiceError>;
    /// Gives the lock back if `owner` still holds it.
    async fn release_lock(&self, name: &str, owner: &str) -> Result<(), ServiceError>;
    /// The user's rows written by one attempt.
    async fn rows_of_attempt(
        &self,
        user_id: &str,
        attempt_id: &str,
    ) -> Result<Vec<AttemptRow>, ServiceError>;
}
