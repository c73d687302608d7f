//! In-memory ports for handler tests: deterministic faces, a versioned bucket, a table with conditional
//! writes, and failure injection by operation name.
//!
//! A fake photo is PNG magic bytes followed by `<identity>#<shot>`: photos with the same identity show the
//! same person (similarity 99.5), others a stranger (similarity 10).

use crate::ports::*;
use async_trait::async_trait;
use base64::Engine as _;
use riv_domain::events::{Properties, RowKey, WrittenFace, WrittenObject};
use riv_domain::idcard::AnalyzedField;
use riv_domain::names::table;
use riv_domain::quality::{Attribute, BoundingBox, DetectedFace, Pose};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
/// An identity whose photos hold no face.
pub const NOBODY: &str = "nobody";
pub const SAME_PERSON: f32 = 99.5;
pub const STRANGER: f32 = 10.0;

/// A fake photo of `identity` (`"ann#2"` is a second shot of ann).
pub fn photo(identity: &str) -> Vec<u8> {
    let mut bytes = PNG_MAGIC.to_vec();
    bytes.extend_from_slice(identity.as_bytes());
    bytes
}

pub fn photo_b64(identity: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(photo(identity))
}

fn label(image: &[u8]) -> String {
    String::from_utf8_lossy(image.get(PNG_MAGIC.len()..).unwrap_or_default()).into_owned()
}

fn identity(image: &[u8]) -> String {
    label(image)
        .split('#')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// A face that passes the default quality gate.
pub fn good_face() -> DetectedFace {
    DetectedFace {
        confidence: 99.9,
        bounding_box: BoundingBox {
            width: 0.4,
            height: 0.5,
            left: 0.3,
            top: 0.2,
        },
        pose: Pose::default(),
        sunglasses: Some(Attribute {
            value: false,
            confidence: 99.0,
        }),
        eyes_open: Some(Attribute {
            value: true,
            confidence: 99.0,
        }),
        brightness: 80.0,
        sharpness: 80.0,
    }
}

/// Operations that fail on demand, shared by every fake: each armed operation succeeds a set number of times
/// more, then fails until healed.
#[derive(Default)]
pub struct Faults(Mutex<HashMap<&'static str, usize>>);

impl Faults {
    pub fn fail(&self, operation: &'static str) {
        self.fail_after(operation, 0);
    }

    pub fn fail_after(&self, operation: &'static str, successes: usize) {
        self.0.lock().unwrap().insert(operation, successes);
    }

    pub fn heal(&self, operation: &'static str) {
        self.0.lock().unwrap().remove(operation);
    }

    fn check(&self, service: &'static str, operation: &'static str) -> Result<(), ServiceError> {
        match self.0.lock().unwrap().get_mut(operation) {
            Some(0) => Err(ServiceError::new(
                service,
                operation,
                ServiceErrorKind::Other,
                "injected failure",
            )),
            Some(left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredFace {
    pub face_id: String,
    pub external_image_id: String,
    pub identity: String,
}

/// Rekognition stand-in.
#[derive(Default)]
pub struct FakeFaces {
    pub faults: Faults,
    /// Faces to report for a photo label instead of one good face.
    pub faces_by_label: Mutex<HashMap<String, Vec<DetectedFace>>>,
    pub text_by_label: Mutex<HashMap<String, Vec<String>>>,
    pub collections: Mutex<BTreeMap<String, Vec<StoredFace>>>,
    next_id: AtomicUsize,
}

impl FakeFaces {
    pub fn with_collections(names: &[&str]) -> Self {
        let faces = FakeFaces::default();
        for name in names {
            faces
                .collections
                .lock()
                .unwrap()
                .insert(name.to_string(), Vec::new());
        }
        faces
    }

    pub fn set_faces(&self, label: &str, faces: Vec<DetectedFace>) {
        self.faces_by_label
            .lock()
            .unwrap()
            .insert(label.to_string(), faces);
    }

    pub fn set_text(&self, label: &str, lines: &[&str]) {
        self.text_by_label.lock().unwrap().insert(
            label.to_string(),
            lines.iter().map(|l| l.to_string()).collect(),
        );
    }

    /// Puts a face straight into a collection, as an earlier registration would have.
    pub fn seed(&self, collection: &str, external_image_id: &str, identity: &str) -> String {
        let face_id = format!("face-{}", self.next_id.fetch_add(1, Ordering::SeqCst));
        self.collections
            .lock()
            .unwrap()
            .entry(collection.to_string())
            .or_default()
            .push(StoredFace {
                face_id: face_id.clone(),
                external_image_id: external_image_id.to_string(),
                identity: identity.to_string(),
            });
        face_id
    }

    pub fn face_count(&self) -> usize {
        self.collections
            .lock()
            .unwrap()
            .values()
            .map(Vec::len)
            .sum()
    }

    fn faces_in(&self, image: &[u8]) -> Vec<DetectedFace> {
        let label = label(image);
        if let Some(faces) = self.faces_by_label.lock().unwrap().get(&label) {
            return faces.clone();
        }
        if identity(image) == NOBODY {
            Vec::new()
        } else {
            vec![good_face()]
        }
    }

    fn similarity(a: &str, b: &str) -> f32 {
        if a == b {
            SAME_PERSON
        } else {
            STRANGER
        }
    }
}

const REKOGNITION: &str = "rekognition";

#[async_trait]
impl FaceEngine for FakeFaces {
    async fn detect_faces(&self, image: &[u8]) -> Result<Vec<DetectedFace>, ServiceError> {
        self.faults.check(REKOGNITION, "DetectFaces")?;
        Ok(self.faces_in(image))
    }

    async fn search_faces_by_image(
        &self,
        collection: &str,
        image: &[u8],
        threshold: f32,
        max_faces: i32,
    ) -> Result<Vec<FaceMatch>, ServiceError> {
        self.faults.check(REKOGNITION, "SearchFacesByImage")?;
        if self.faces_in(image).is_empty() {
            return Err(ServiceError::new(
                REKOGNITION,
                "SearchFacesByImage",
                ServiceErrorKind::NoFace,
                "no face",
            ));
        }
        let who = identity(image);
        let collections = self.collections.lock().unwrap();
        let stored = collections.get(collection).ok_or_else(|| {
            ServiceError::new(
                REKOGNITION,
                "SearchFacesByImage",
                ServiceErrorKind::NotFound,
                "no such collection",
            )
        })?;
        let mut matches: Vec<FaceMatch> = stored
            .iter()
            .map(|f| FaceMatch {
                face_id: f.face_id.clone(),
                external_image_id: Some(f.external_image_id.clone()),
                similarity: Self::similarity(&who, &f.identity),
            })
            .filter(|m| m.similarity >= threshold)
            .collect();
        matches.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
        matches.truncate(max_faces.max(0) as usize);
        Ok(matches)
    }

    async fn compare_faces(
        &self,
        source: &[u8],
        target: &[u8],
    ) -> Result<Option<f32>, ServiceError> {
        self.faults.check(REKOGNITION, "CompareFaces")?;
        if self.faces_in(source).is_empty() {
            return Err(ServiceError::new(
                REKOGNITION,
                "CompareFaces",
                ServiceErrorKind::NoFace,
                "no face in source",
            ));
        }
        if self.faces_in(target).is_empty() {
            return Ok(None);
        }
        Ok(Some(Self::similarity(&identity(source), &identity(target))))
    }

    async fn index_face(
        &self,
        collection: &str,
        image: &[u8],
        external_image_id: &str,
    ) -> Result<Option<String>, ServiceError> {
        self.faults.check(REKOGNITION, "IndexFaces")?;
        if !self.collections.lock().unwrap().contains_key(collection) {
            return Err(ServiceError::new(
                REKOGNITION,
                "IndexFaces",
                ServiceErrorKind::NotFound,
                "no such collection",
            ));
        }
        if self.faces_in(image).is_empty() {
            return Ok(None);
        }
        Ok(Some(self.seed(
            collection,
            external_image_id,
            &identity(image),
        )))
    }

    async fn delete_faces(
        &self,
        collection: &str,
        face_ids: &[String],
    ) -> Result<(), ServiceError> {
        self.faults.check(REKOGNITION, "DeleteFaces")?;
        if let Some(faces) = self.collections.lock().unwrap().get_mut(collection) {
            faces.retain(|f| !face_ids.contains(&f.face_id));
        }
        Ok(())
    }

    async fn detect_text(&self, image: &[u8]) -> Result<Vec<String>, ServiceError> {
        self.faults.check(REKOGNITION, "DetectText")?;
        Ok(self
            .text_by_label
            .lock()
            .unwrap()
            .get(&label(image))
            .cloned()
            .unwrap_or_default())
    }
}

/// Textract stand-in: fields per photo label.
#[derive(Default)]
pub struct FakeIdReader {
    pub faults: Faults,
    pub fields_by_label: Mutex<HashMap<String, Vec<AnalyzedField>>>,
}

impl FakeIdReader {
    pub fn set_fields(&self, label: &str, fields: &[(&str, &str)]) {
        let fields = fields
            .iter()
            .map(|(k, v)| AnalyzedField {
                key: k.to_string(),
                text: v.to_string(),
                normalized: None,
            })
            .collect();
        self.fields_by_label
            .lock()
            .unwrap()
            .insert(label.to_string(), fields);
    }
}

#[async_trait]
impl IdDocumentReader for FakeIdReader {
    async fn analyze_id(&self, image: &[u8]) -> Result<Vec<AnalyzedField>, ServiceError> {
        self.faults.check("textract", "AnalyzeID")?;
        Ok(self
            .fields_by_label
            .lock()
            .unwrap()
            .get(&label(image))
            .cloned()
            .unwrap_or_default())
    }
}

/// Versions of one key, oldest first: (version id, bytes).
pub type Versions = Vec<(String, Vec<u8>)>;

/// A versioned bucket: key → versions.
#[derive(Default)]
pub struct FakeStore {
    pub faults: Faults,
    pub objects: Mutex<BTreeMap<String, Versions>>,
    next_version: AtomicUsize,
}

impl FakeStore {
    /// Every key that still has a version.
    pub fn keys(&self) -> Vec<String> {
        self.objects.lock().unwrap().keys().cloned().collect()
    }
}

const S3: &str = "s3";

#[async_trait]
impl ImageStore for FakeStore {
    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        _content_type: &str,
    ) -> Result<WrittenObject, ServiceError> {
        self.faults.check(S3, "PutObject")?;
        let version = format!("v{}", self.next_version.fetch_add(1, Ordering::SeqCst));
        self.objects
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default()
            .push((version.clone(), bytes));
        Ok(WrittenObject {
            key: key.to_string(),
            version_id: Some(version),
        })
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, ServiceError> {
        self.faults.check(S3, "GetObject")?;
        self.objects
            .lock()
            .unwrap()
            .get(key)
            .and_then(|versions| versions.last())
            .map(|(_, bytes)| bytes.clone())
            .ok_or_else(|| {
                ServiceError::new(S3, "GetObject", ServiceErrorKind::NotFound, "NoSuchKey")
            })
    }

    async fn delete(&self, object: &WrittenObject) -> Result<(), ServiceError> {
        self.faults.check(S3, "DeleteObject")?;
        let mut objects = self.objects.lock().unwrap();
        if let Some(versions) = objects.get_mut(&object.key) {
            match &object.version_id {
                Some(v) => versions.retain(|(id, _)| id != v),
                None => versions.clear(),
            }
            if versions.is_empty() {
                objects.remove(&object.key);
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    Profile(Profile),
    Face(FaceRecord),
}

/// The face table, keyed by (PK, SK), and its locks (name → owner).
#[derive(Default)]
pub struct FakeRecords {
    pub faults: Faults,
    pub rows: Mutex<BTreeMap<(String, String), Row>>,
    pub locks: Mutex<HashMap<String, String>>,
}

impl FakeRecords {
    pub fn row_count(&self) -> usize {
        self.rows.lock().unwrap().len()
    }

    pub fn insert_profile(&self, profile: Profile) {
        self.rows.lock().unwrap().insert(
            (table::user_pk(&profile.user_id), table::PROFILE.to_string()),
            Row::Profile(profile),
        );
    }

    pub fn insert_face(&self, face: FaceRecord) {
        self.rows.lock().unwrap().insert(
            (
                table::user_pk(&face.user_id),
                table::face_sk(&face.face.face_id),
            ),
            Row::Face(face),
        );
    }
}

const DYNAMODB: &str = "dynamodb";

#[async_trait]
impl FaceRecords for FakeRecords {
    async fn profile(&self, user_id: &str) -> Result<Option<Profile>, ServiceError> {
        self.faults.check(DYNAMODB, "GetItem")?;
        let key = (table::user_pk(user_id), table::PROFILE.to_string());
        Ok(match self.rows.lock().unwrap().get(&key) {
            Some(Row::Profile(p)) => Some(p.clone()),
            _ => None,
        })
    }

    async fn faces(&self, user_id: &str) -> Result<Vec<FaceRecord>, ServiceError> {
        self.faults.check(DYNAMODB, "Query")?;
        let pk = table::user_pk(user_id);
        Ok(self
            .rows
            .lock()
            .unwrap()
            .iter()
            .filter(|((p, _), _)| *p == pk)
            .filter_map(|(_, row)| match row {
                Row::Face(f) => Some(f.clone()),
                Row::Profile(_) => None,
            })
            .collect())
    }

    async fn create_user(&self, profile: &Profile, face: &FaceRecord) -> Result<(), ServiceError> {
        self.faults.check(DYNAMODB, "TransactWriteItems")?;
        let key = (table::user_pk(&profile.user_id), table::PROFILE.to_string());
        if self.rows.lock().unwrap().contains_key(&key) {
            return Err(ServiceError::new(
                DYNAMODB,
                "TransactWriteItems",
                ServiceErrorKind::Conflict,
                "exists",
            ));
        }
        self.insert_profile(profile.clone());
        self.insert_face(face.clone());
        Ok(())
    }

    async fn add_face(
        &self,
        face: &FaceRecord,
        properties: &Properties,
        _updated_at: &str,
    ) -> Result<(), ServiceError> {
        self.faults.check(DYNAMODB, "TransactWriteItems")?;
        let key = (table::user_pk(&face.user_id), table::PROFILE.to_string());
        let mut rows = self.rows.lock().unwrap();
        let Some(Row::Profile(profile)) = rows.get_mut(&key) else {
            return Err(ServiceError::new(
                DYNAMODB,
                "TransactWriteItems",
                ServiceErrorKind::Conflict,
                "gone",
            ));
        };
        profile.properties = properties.clone();
        rows.insert(
            (
                table::user_pk(&face.user_id),
                table::face_sk(&face.face.face_id),
            ),
            Row::Face(face.clone()),
        );
        Ok(())
    }

    async fn delete_row(&self, key: &RowKey) -> Result<(), ServiceError> {
        self.faults.check(DYNAMODB, "DeleteItem")?;
        self.rows
            .lock()
            .unwrap()
            .remove(&(key.pk.clone(), key.sk.clone()));
        Ok(())
    }

    async fn acquire_lock(
        &self,
        name: &str,
        owner: &str,
        _lease: std::time::Duration,
    ) -> Result<bool, ServiceError> {
        self.faults.check(DYNAMODB, "AcquireLock")?;
        let mut locks = self.locks.lock().unwrap();
        if locks.contains_key(name) {
            return Ok(false);
        }
        locks.insert(name.to_string(), owner.to_string());
        Ok(true)
    }

    async fn release_lock(&self, name: &str, owner: &str) -> Result<(), ServiceError> {
        let mut locks = self.locks.lock().unwrap();
        if locks.get(name).map(String::as_str) == Some(owner) {
            locks.remove(name);
        }
        Ok(())
    }

    async fn rows_of_attempt(
        &self,
        user_id: &str,
        attempt_id: &str,
    ) -> Result<Vec<AttemptRow>, ServiceError> {
        self.faults.check(DYNAMODB, "Query")?;
        let pk = table::user_pk(user_id);
        Ok(self
            .rows
            .lock()
            .unwrap()
            .iter()
            .filter(|((p, _), _)| *p == pk)
            .filter_map(|((pk, sk), row)| {
                let key = RowKey {
                    pk: pk.clone(),
                    sk: sk.clone(),
                };
                match row {
                    Row::Profile(p) if p.attempt_id == attempt_id => Some(AttemptRow {
                        key,
                        face: None,
                        objects: p.id_card.iter().cloned().collect(),
                    }),
                    Row::Face(f) if f.attempt_id == attempt_id => Some(AttemptRow {
                        key,
                        face: Some(f.face.clone()),
                        objects: vec![f.image.clone()],
                    }),
                    _ => None,
                }
            })
            .collect())
    }
}

/// Shorthand for a `WrittenFace`.
pub fn written_face(collection: &str, face_id: &str) -> WrittenFace {
    WrittenFace {
        collection: collection.to_string(),
        face_id: face_id.to_string(),
    }
}
