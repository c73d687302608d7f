//! The small traits the handlers depend on, one per AWS service, plus the error they share. The AWS adapters
//! live in [`crate::aws`]; in-memory ones for tests in `fakes`.

use async_trait::async_trait;
use riv_domain::attempt::{AttemptStatus, ProfileStatus};
use riv_domain::events::{IdCardData, IndexMode, Properties, WrittenFace, WrittenObject};
use riv_domain::guard::Counter;
use riv_domain::idcard::AnalyzedField;
use riv_domain::quality::{BoundingBox, DetectedFace};
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

/// The best match of a CompareFaces call: how similar, and where each face is in its image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub similarity: f32,
    pub source_box: Option<BoundingBox>,
    pub target_box: Option<BoundingBox>,
}

/// An image as a service reads it: bytes sent along, or an object the service reads from the image bucket
/// itself (Rekognition's and Textract's `S3Object`), so an upload's bytes never pass through a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picture {
    Bytes(Vec<u8>),
    Stored(StoredPicture),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPicture {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
}

/// What HeadObject says about an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub content_type: Option<String>,
    pub content_length: u64,
    /// The `riv-user` metadata (see `riv_domain::uploads::OWNER_METADATA`).
    pub owner: Option<String>,
    pub version_id: Option<String>,
    pub e_tag: Option<String>,
}

/// Rekognition, as the handlers use it.
#[async_trait]
pub trait FaceEngine: Send + Sync {
    /// Every face in the image with all attributes.
    async fn detect_faces(&self, image: &Picture) -> Result<Vec<DetectedFace>, ServiceError>;
    /// Faces in the collection similar to the largest face in the image, best first.
    async fn search_faces_by_image(
        &self,
        collection: &str,
        image: &Picture,
        threshold: f32,
        max_faces: i32,
    ) -> Result<Vec<FaceMatch>, ServiceError>;
    /// The best match between the source's largest face and any face in the target; `None` when the target
    /// holds no face.
    async fn compare_faces(
        &self,
        source: &Picture,
        target: &Picture,
    ) -> Result<Option<Comparison>, ServiceError>;
    /// Indexes the largest face; `None` when no face was indexed.
    async fn index_face(
        &self,
        collection: &str,
        image: &Picture,
        external_image_id: &str,
    ) -> Result<Option<String>, ServiceError>;
    /// Deletes faces; a face or collection that is already gone is not an error.
    async fn delete_faces(&self, collection: &str, face_ids: &[String])
        -> Result<(), ServiceError>;
    /// The lines of text in the image, top to bottom.
    async fn detect_text(&self, image: &Picture) -> Result<Vec<String>, ServiceError>;
}

/// Textract AnalyzeID.
#[async_trait]
pub trait IdDocumentReader: Send + Sync {
    async fn analyze_id(&self, image: &Picture) -> Result<Vec<AnalyzedField>, ServiceError>;
}

/// The image bucket.
#[async_trait]
pub trait ImageStore: Send + Sync {
    /// The bucket's name, for services that read an object themselves.
    fn bucket(&self) -> &str;
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
    /// The object's head, `None` when there is no such key.
    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, ServiceError>;
    /// The first `length` bytes of one version of an object.
    async fn read_start(
        &self,
        object: &WrittenObject,
        length: u64,
    ) -> Result<Vec<u8>, ServiceError>;
    /// Copies one version of an object to `key` inside the bucket; the result names the version written.
    async fn copy(
        &self,
        from: &WrittenObject,
        key: &str,
        content_type: &str,
    ) -> Result<WrittenObject, ServiceError>;
}

/// A presigned upload: the URL and the headers it was signed with.
#[derive(Debug, Clone, PartialEq)]
pub struct PresignedPut {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// Signs uploads into the image bucket.
#[async_trait]
pub trait UploadSigner: Send + Sync {
    /// A PUT of exactly `content_length` bytes of `content_type` to `key`, with the owner's UserId as object
    /// metadata, valid for `seconds`.
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        owner: &str,
        seconds: u64,
    ) -> Result<PresignedPut, ServiceError>;
}

/// A user's profile row: live, or a registration's claim on the UserId.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub user_id: String,
    pub status: ProfileStatus,
    pub properties: Properties,
    pub id_card: Option<WrittenObject>,
    /// What was read from the card, apart from Properties.
    pub id_card_data: Option<IdCardData>,
    /// The attempt that created it (for a claim: the registration holding it).
    pub attempt_id: String,
    pub created_at: String,
    /// Bumped by every write of Properties; a write names the version it read.
    pub version: u64,
    /// A claim past this may be taken over (epoch ms); 0 on a live profile.
    pub expires_at_ms: u64,
}

impl Profile {
    pub fn is_active(&self) -> bool {
        self.status == ProfileStatus::Active
    }
}

/// One of a user's face rows. A face authenticates only through one of these.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceRecord {
    pub user_id: String,
    pub face: WrittenFace,
    pub image: WrittenObject,
    pub attempt_id: String,
    pub created_at: String,
}

/// The intent record of a registration or update: written before anything else, then told of every write, so
/// that the attempt can be undone from it alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub attempt_id: String,
    pub user_id: String,
    pub mode: IndexMode,
    pub status: AttemptStatus,
    /// The collection its face goes to.
    pub collection: String,
    /// Set right after IndexFaces, before any other write.
    pub face_id: Option<String>,
    /// The selfie's key (known once the face id is).
    pub image_key: Option<String>,
    /// The ID card's key (known from the start).
    pub id_card_key: Option<String>,
    pub created_at: String,
    pub expires_at_ms: u64,
    /// The registration whose commit defeated this one (the same face, another UserId).
    pub beaten_by: Option<String>,
}

/// How a commit changes the profile.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileChange {
    /// Turns this attempt's claim into the live profile.
    Create(Profile),
    /// Replaces Properties if the profile is still at `expected_version`.
    Update {
        properties: Properties,
        expected_version: u64,
        updated_at: String,
    },
}

/// Everything a commit makes true at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub attempt_id: String,
    pub face: FaceRecord,
    pub profile: ProfileChange,
    /// Pending registrations of the same face under other UserIds: the commit marks them beaten.
    pub defeats: Vec<String>,
    /// Faces of other users the contest passed over as unrecorded: (UserId, FaceId). The commit requires they
    /// still have no record, so one that became live meanwhile makes it lose its condition.
    pub passed_over: Vec<(String, String)>,
    /// The user's oldest faces an update replaces to stay within the cap: their rows go in the same
    /// transaction (each must still exist), their faces and images right after.
    pub evict: Vec<FaceRecord>,
    pub now_ms: u64,
}

/// The face table. Every write is conditional; a lost condition is a `Conflict`.
#[async_trait]
pub trait FaceRecords: Send + Sync {
    /// The profile row, live or a claim.
    async fn profile(&self, user_id: &str) -> Result<Option<Profile>, ServiceError>;
    async fn faces(&self, user_id: &str) -> Result<Vec<FaceRecord>, ServiceError>;
    /// The live record of one face, if there is one.
    async fn face(&self, user_id: &str, face_id: &str) -> Result<Option<FaceRecord>, ServiceError>;
    async fn attempt(&self, attempt_id: &str) -> Result<Option<Attempt>, ServiceError>;
    /// Records a new attempt (or reuses a rolled-back one's id) and, for a registration, claims the UserId in
    /// the same transaction: free, or held by a claim that expired. `Conflict` when either is taken.
    async fn begin(&self, attempt: &Attempt, claim: Option<&Profile>) -> Result<(), ServiceError>;
    /// Notes the indexed face and the selfie's key on a pending attempt; `Conflict` when it is not pending.
    async fn record_face(
        &self,
        attempt_id: &str,
        face_id: &str,
        image_key: &str,
    ) -> Result<(), ServiceError>;
    /// Makes the face live, applies the profile change, defeats the named attempts, checks that the faces
    /// passed over are still unrecorded and marks this attempt committed, all or nothing. `Conflict` when any
    /// condition fails.
    async fn commit(&self, commit: &Commit) -> Result<(), ServiceError>;
    /// Moves an attempt that has not committed to `status`; `Conflict` when it committed, `NotFound` when
    /// there is no such attempt.
    async fn set_attempt_status(
        &self,
        attempt_id: &str,
        status: AttemptStatus,
    ) -> Result<(), ServiceError>;
    /// Deletes the user's profile row if it is still this attempt's claim; anything else is left alone.
    async fn release_claim(&self, user_id: &str, attempt_id: &str) -> Result<(), ServiceError>;

    /// The UserId's failed-attempt counter (see `riv_domain::guard`).
    async fn guard_counter(&self, user_id: &str) -> Result<Option<Counter>, ServiceError>;
    /// Replaces the counter if it is still `expected` (absent when `None`); `Conflict` otherwise.
    async fn store_guard_counter(
        &self,
        user_id: &str,
        counter: &Counter,
        expected: Option<&Counter>,
    ) -> Result<(), ServiceError>;
    /// Removes the counter after a success; already gone is fine.
    async fn clear_guard_counter(&self, user_id: &str) -> Result<(), ServiceError>;
}
