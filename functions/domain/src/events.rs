//! The payload of every function: what the state machines pass in and what they read back. Field names are
//! PascalCase like the API; the state machine definitions in `infra/` use these same names.

use crate::idcard::IdCardFields;
use crate::quality::DetectedFace;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub type Properties = BTreeMap<String, String>;

/// The body of every API route, and so the input of every state machine. Each image comes either inline
/// (base64) or as the key of an upload answered by `POST /uploads`: exactly one of the two.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowInput {
    pub user_id: String,
    /// Base64 JPEG or PNG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `uploads/<id>/selfie`, uploaded for this UserId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_card: Option<String>,
    /// `uploads/<id>/idcard`, uploaded for this UserId.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_card_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Properties>,
}

/// An image a step works on, as `detect-faces` passed it on: the bytes the caller sent, or an upload it
/// verified. An upload is pinned to the version that was checked, so a second PUT to the same URL cannot swap
/// the photo between the checks and the writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageRef {
    /// Base64 JPEG or PNG.
    Inline(String),
    Upload(UploadedImage),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadedImage {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub format: crate::validate::ImageFormat,
}

/// `detect-faces`: validates the whole request and runs the quality gate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DetectFacesRequest {
    /// The flow input as the API received it.
    pub input: FlowInput,
    /// The register-idcard flow needs a card; the others must not fail for lack of one.
    #[serde(default)]
    pub require_id_card: bool,
    /// Auth and update: count this attempt against the UserId's lockout before any face is looked at.
    #[serde(default)]
    pub guard: bool,
}

/// The request as every later step reads it: it replaces the flow's state, so an inline image is carried
/// once and an upload only as its verified key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DetectFacesResult {
    pub user_id: String,
    pub image: ImageRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_card: Option<ImageRef>,
    /// The caller's Properties, validated; empty when none were sent (so later states can always read them).
    pub properties: Properties,
    /// The one face that passed the gate.
    pub face: DetectedFace,
}

/// Why `search-faces` searches the collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SearchPurpose {
    /// Registration: fail if this face already belongs to anyone.
    DuplicateGuard,
    /// Authentication fallback: succeed only if the best match belongs to this user.
    Identify,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchFacesRequest {
    pub user_id: String,
    pub image: ImageRef,
    pub purpose: SearchPurpose,
    /// When the flow started (`$$.Execution.StartTime`), for [`SearchFacesResult::deny_at`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchFacesResult {
    pub matched: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
    /// Identify: the earliest a denial may be answered (RFC 3339), the flow start plus the denial floor. The
    /// flow waits for it in a Wait state, so "no such user" and "wrong face" take equally long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompareFacesRequest {
    pub user_id: String,
    pub image: ImageRef,
    /// When the flow started (`$$.Execution.StartTime`), for [`CompareFacesResult::deny_at`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompareFacesResult {
    pub matched: bool,
    /// Best similarity over all the user's stored faces (0 when none could be compared).
    pub similarity: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_id: Option<String>,
    /// The earliest a denial may be answered (RFC 3339): the flow start plus the denial floor.
    pub deny_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompareIdCardRequest {
    pub user_id: String,
    pub image: ImageRef,
    pub id_card: ImageRef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompareIdCardResult {
    pub similarity: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExtractIdCardRequest {
    pub user_id: String,
    pub id_card: ImageRef,
}

/// What was read from an ID card, kept apart from the caller's Properties: callers can neither set nor
/// overwrite it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdCardData {
    /// Normalised card fields (see [`crate::idcard::FIELDS`]).
    pub fields: IdCardFields,
    /// `analyze-id` or `detect-text`.
    pub method: String,
    /// When it was read (RFC 3339).
    pub read_at: String,
}

pub type ExtractIdCardResult = IdCardData;

/// Whether `index-face` creates a user or adds a face to an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexMode {
    Register,
    Update,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexFaceRequest {
    pub user_id: String,
    pub image: ImageRef,
    pub mode: IndexMode,
    /// Names this attempt (the state machine passes its execution name) so a rollback can find its writes.
    pub attempt_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Properties>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_card: Option<ImageRef>,
    /// What `extract-idcard` read; stored apart from Properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_card_data: Option<IdCardData>,
}

/// `Registered` or `Updated`, as the API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexStatus {
    Registered,
    Updated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexFaceResult {
    pub user_id: String,
    pub face_id: String,
    pub status: IndexStatus,
    /// The caller's Properties as stored.
    pub properties: Properties,
    /// The card's data as stored, when the user registered with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_card: Option<IdCardData>,
}

/// An object version written to the image bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WrittenObject {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

/// A face indexed into a collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WrittenFace {
    pub collection: String,
    pub face_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowKey {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
}

/// `rollback`: undo what an attempt wrote, found from its attempt record alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RollbackRequest {
    pub user_id: String,
    pub attempt_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RollbackResult {
    pub faces_deleted: usize,
    pub objects_deleted: usize,
    pub rows_deleted: usize,
    /// The attempt had committed before the rollback came: nothing was undone, the record is live.
    #[serde(default)]
    pub committed: bool,
}

/// What the `uploads` function is asked: to sign uploads (`POST /uploads` passes its body as `Sign`), or, at
/// the end of every flow, to delete what the flow was given (`Discard`: the flow's input as the API received
/// it, read leniently because it may be the very input that was refused). The API can only ever send `Sign`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UploadsCall {
    Sign(UploadsRequest),
    Discard(serde_json::Value),
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscardUploadsResult {
    pub deleted: Vec<String>,
}

/// `uploads` (`POST /uploads`): the images a caller is about to upload, declared before any byte moves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadsRequest {
    pub user_id: String,
    pub selfie: DeclaredImage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_card: Option<DeclaredImage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeclaredImage {
    /// `image/jpeg` or `image/png`.
    pub content_type: String,
    /// The exact size in bytes: the URL is signed for it.
    pub content_length: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadsResult {
    pub selfie: UploadTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_card: Option<UploadTarget>,
    /// How long the URLs work.
    pub expires_in_seconds: u64,
}

/// Where and how to upload one image, and the key a flow then takes in place of the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadTarget {
    pub key: String,
    pub method: String,
    pub url: String,
    /// Headers the upload must carry exactly as given (they are signed).
    pub headers: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flow_input_reads_the_api_body() {
        let body = json!({"UserId": "ann", "Image": "aGk=", "Properties": {"dept": "x"}});
        let input: FlowInput = serde_json::from_value(body).unwrap();
        assert_eq!(input.user_id, "ann");
        assert_eq!(input.image.as_deref(), Some("aGk="));
        assert_eq!((input.id_card, input.image_key), (None, None));
        assert_eq!(input.properties.unwrap()["dept"], "x");
    }

    #[test]
    fn an_image_ref_names_its_kind() {
        let inline = ImageRef::Inline("aGk=".into());
        assert_eq!(json!(inline), json!({"Inline": "aGk="}));
        let upload: ImageRef = serde_json::from_value(json!({"Upload": {
            "Key": "uploads/x/selfie", "VersionId": "v1", "Format": "Jpeg"}}))
        .unwrap();
        assert!(matches!(upload, ImageRef::Upload(u) if u.version_id.as_deref() == Some("v1")));
    }

    #[test]
    fn the_uploads_function_tells_a_discard_from_a_signing() {
        let discard: UploadsCall =
            serde_json::from_value(json!({"Discard": {"UserId": "ann", "ImageKey": "k"}})).unwrap();
        assert!(matches!(discard, UploadsCall::Discard(_)));
        let sign: UploadsCall = serde_json::from_value(json!({"Sign": {"UserId": "ann",
            "Selfie": {"ContentType": "image/png", "ContentLength": 2000}}}))
        .unwrap();
        assert!(matches!(sign, UploadsCall::Sign(_)));
        // A body as the API receives it is neither: only the state machine's wrapping makes a call.
        let bare = json!({"UserId": "ann", "Discard": {"UserId": "ann", "ImageKey": "k"}});
        assert!(serde_json::from_value::<UploadsCall>(bare).is_err());
    }

    #[test]
    fn rollback_reads_the_state_machine_parameters() {
        let r: RollbackRequest =
            serde_json::from_value(json!({"UserId": "ann", "AttemptId": "exec-1"})).unwrap();
        assert_eq!(r.attempt_id, "exec-1");
        assert!(serde_json::from_value::<RollbackRequest>(json!({"UserId": "ann"})).is_err());
    }

    #[test]
    fn purposes_and_modes_use_their_names_on_the_wire() {
        assert_eq!(
            json!(SearchPurpose::DuplicateGuard),
            json!("DuplicateGuard")
        );
        assert_eq!(json!(IndexMode::Update), json!("Update"));
        assert_eq!(json!(IndexStatus::Registered), json!("Registered"));
    }
}
