//! In-memory ports for handler tests: deterministic faces, a versioned bucket, a table with conditional
//! writes, and failure injection by operation name.
//!
//! A fake photo is PNG magic bytes followed by `<identity>#<shot>`: photos with the same identity show the
//! same person (similarity 99.5), others a stranger (similarity 10).

use crate::ports::*;

mod storage;
use async_trait::async_trait;
use base64::Engine as _;
use riv_domain::events::WrittenFace;
use riv_domain::idcard::AnalyzedField;
use riv_domain::quality::{Attribute, BoundingBox, DetectedFace, Pose};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
pub use storage::*;

const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
/// An identity whose photos hold no face.
pub const NOBODY: &str = "nobody";
pub const SAME_PERSON: f32 = 99.5;
/// Two copies of one photo.
pub const SAME_SHOT: f32 = 100.0;
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

/// A fake photo sent inline, as `detect-faces` passes it on.
pub fn inline(identity: &str) -> riv_domain::events::ImageRef {
    riv_domain::events::ImageRef::Inline(photo_b64(identity))
}

/// The picture of a fake photo sent along with the call.
pub fn picture(identity: &str) -> Picture {
    Picture::Bytes(photo(identity))
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
pub struct Faults(
    Mutex<HashMap<&'static str, usize>>,
    Mutex<HashMap<&'static str, usize>>,
);

impl Faults {
    /// How often `operation` was called, failed calls included.
    pub fn calls(&self, operation: &'static str) -> usize {
        self.1.lock().unwrap().get(operation).copied().unwrap_or(0)
    }

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
        *self.1.lock().unwrap().entry(operation).or_default() += 1;
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
    /// The bucket `Picture::Stored` is read from.
    pub bucket: Mutex<Option<Arc<FakeStore>>>,
    next_id: AtomicUsize,
}

/// The bytes of a picture: sent along, or read from the fake bucket as Rekognition reads `S3Object`.
fn bytes_of(
    bucket: &Mutex<Option<Arc<FakeStore>>>,
    picture: &Picture,
    service: &'static str,
    operation: &'static str,
) -> Result<Vec<u8>, ServiceError> {
    match picture {
        Picture::Bytes(bytes) => Ok(bytes.clone()),
        Picture::Stored(object) => bucket
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|store| store.version(&object.key, object.version_id.as_deref()))
            .ok_or_else(|| {
                ServiceError::new(
                    service,
                    operation,
                    ServiceErrorKind::InvalidImage,
                    "InvalidS3ObjectException: unable to get object metadata from S3",
                )
            }),
    }
}

impl FakeFaces {
    pub fn calls(&self, operation: &'static str) -> usize {
        self.faults.calls(operation)
    }

    /// Reads `Picture::Stored` from `store`.
    pub fn reading(&self, store: Arc<FakeStore>) {
        *self.bucket.lock().unwrap() = Some(store);
    }

    fn bytes(&self, picture: &Picture, operation: &'static str) -> Result<Vec<u8>, ServiceError> {
        bytes_of(&self.bucket, picture, REKOGNITION, operation)
    }

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
    async fn detect_faces(&self, image: &Picture) -> Result<Vec<DetectedFace>, ServiceError> {
        self.faults.check(REKOGNITION, "DetectFaces")?;
        Ok(self.faces_in(&self.bytes(image, "DetectFaces")?))
    }

    async fn search_faces_by_image(
        &self,
        collection: &str,
        image: &Picture,
        threshold: f32,
        max_faces: i32,
    ) -> Result<Vec<FaceMatch>, ServiceError> {
        self.faults.check(REKOGNITION, "SearchFacesByImage")?;
        let image = &self.bytes(image, "SearchFacesByImage")?;
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
        source: &Picture,
        target: &Picture,
    ) -> Result<Option<Comparison>, ServiceError> {
        self.faults.check(REKOGNITION, "CompareFaces")?;
        let source = &self.bytes(source, "CompareFaces")?;
        let target = &self.bytes(target, "CompareFaces")?;
        let Some(source_face) = self.faces_in(source).first().cloned() else {
            return Err(ServiceError::new(
                REKOGNITION,
                "CompareFaces",
                ServiceErrorKind::NoFace,
                "no face in source",
            ));
        };
        let Some(target_face) = self.faces_in(target).first().cloned() else {
            return Ok(None);
        };
        // The very same shot is as similar as it gets.
        let similarity = if label(source) == label(target) {
            SAME_SHOT
        } else {
            Self::similarity(&identity(source), &identity(target))
        };
        Ok(Some(Comparison {
            similarity,
            source_box: Some(source_face.bounding_box),
            target_box: Some(target_face.bounding_box),
        }))
    }

    async fn index_face(
        &self,
        collection: &str,
        image: &Picture,
        external_image_id: &str,
    ) -> Result<Option<String>, ServiceError> {
        self.faults.check(REKOGNITION, "IndexFaces")?;
        let image = &self.bytes(image, "IndexFaces")?;
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

    async fn detect_text(&self, image: &Picture) -> Result<Vec<String>, ServiceError> {
        self.faults.check(REKOGNITION, "DetectText")?;
        let image = &self.bytes(image, "DetectText")?;
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
    /// The bucket `Picture::Stored` is read from.
    pub bucket: Mutex<Option<Arc<FakeStore>>>,
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
    async fn analyze_id(&self, image: &Picture) -> Result<Vec<AnalyzedField>, ServiceError> {
        self.faults.check("textract", "AnalyzeID")?;
        let image = &bytes_of(&self.bucket, image, "textract", "AnalyzeID")?;
        Ok(self
            .fields_by_label
            .lock()
            .unwrap()
            .get(&label(image))
            .cloned()
            .unwrap_or_default())
    }
}

/// Shorthand for a `WrittenFace`.
pub fn written_face(collection: &str, face_id: &str) -> WrittenFace {
    WrittenFace {
        collection: collection.to_string(),
        face_id: face_id.to_string(),
    }
}
