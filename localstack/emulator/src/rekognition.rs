//! Rekognition operations over in-memory collections, answered in the service's own JSON shapes.

use crate::engine::{Engine, Face};
use crate::error::{AwsError, Result};
use crate::real::geometry::DEFAULT_LANDMARKS;
use crate::request::{Req, MAX_IMAGE_BYTES};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

pub const FACE_MODEL_VERSION: &str = "7.0";
/// The region of requests that carry no SigV4 credential scope.
pub const DEFAULT_REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";

#[derive(Debug, Clone)]
struct StoredFace {
    face_id: String,
    image_id: String,
    external_image_id: Option<String>,
    signature: String,
    bounding_box: [f32; 4],
    confidence: f32,
}

#[derive(Debug, Default)]
struct Collection {
    created: f64,
    faces: Vec<StoredFace>,
    tags: BTreeMap<String, String>,
}

/// All collections of the emulated account, safe under concurrent requests. Collections are regional on AWS (a
/// stack of the same name in two regions owns two collections of the same id), so they are keyed by region.
#[derive(Default)]
pub struct Rekognition {
    collections: RwLock<Collections>,
}

/// The collections of one region, as one request sees them.
struct Regional<'a> {
    rekognition: &'a Rekognition,
    region: &'a str,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn bbox(b: [f32; 4]) -> Value {
    json!({"Width": b[0], "Height": b[1], "Left": b[2], "Top": b[3]})
}

/// Which FaceDetail members a request asks for (`Attributes` / `DetectionAttributes`).
#[derive(Debug, Clone, PartialEq, Default)]
struct Wanted {
    all: bool,
    named: Vec<String>,
}

impl Wanted {
    fn has(&self, attribute: &str) -> bool {
        self.all || self.named.iter().any(|a| a == attribute)
    }
}

/// The Attribute enum of Rekognition's model.
const ATTRIBUTES: [&str; 14] = [
    "DEFAULT",
    "ALL",
    "AGE_RANGE",
    "BEARD",
    "EMOTIONS",
    "EYE_DIRECTION",
    "EYEGLASSES",
    "EYES_OPEN",
    "FACE_OCCLUDED",
    "GENDER",
    "MOUTH_OPEN",
    "MUSTACHE",
    "SMILE",
    "SUNGLASSES",
];

fn wanted(req: &Value, field: &str, member: &str) -> Result<Wanted> {
    let Some(list) = req.get(field) else {
        return Ok(Wanted::default());
    };
    let names: Vec<&str> = list
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(bad) = names.iter().find(|n| !ATTRIBUTES.contains(n)) {
        return Err(AwsError::new(
            "ValidationException",
            format!(
                "1 validation error detected: Value '[{bad}]' at '{member}' failed to satisfy constraint: \
                 Member must satisfy constraint: [Member must satisfy enum value set: [{}]]",
                ATTRIBUTES.join(", ")
            ),
        ));
    }
    Ok(Wanted {
        all: names.contains(&"ALL"),
        named: names.iter().map(|n| n.to_string()).collect(),
    })
}

fn face_detail(face: &Face, wanted: &Wanted) -> Value {
    let s = &face.spec;
    let mut detail = json!({
        "BoundingBox": bbox(s.bounding_box),
        "Confidence": s.confidence,
        "Pose": {"Pitch": s.pose[0], "Roll": s.pose[1], "Yaw": s.pose[2]},
        "Quality": {"Brightness": s.brightness, "Sharpness": s.sharpness},
        "Landmarks": landmarks(s, if wanted.all { usize::MAX } else { DEFAULT_LANDMARKS }),
    });
    if wanted.has("SUNGLASSES") {
        detail["Sunglasses"] =
            json!({"Value": s.sunglasses, "Confidence": s.sunglasses_confidence});
    }
    if wanted.has("EYES_OPEN") {
        detail["EyesOpen"] = json!({"Value": s.eyes_open, "Confidence": s.eyes_open_confidence});
    }
    if wanted.has("EYEGLASSES") {
        detail["Eyeglasses"] =
            json!({"Value": s.sunglasses, "Confidence": s.sunglasses_confidence});
    }
    detail
}

fn landmarks(s: &crate::manifest::FaceSpec, count: usize) -> Vec<Value> {
    s.landmarks
        .iter()
        .take(count)
        .map(|l| json!({"Type": l.kind, "X": l.x, "Y": l.y}))
        .collect()
}

fn stored_face(f: &StoredFace) -> Value {
    let mut v = json!({
        "FaceId": f.face_id,
        "ImageId": f.image_id,
        "BoundingBox": bbox(f.bounding_box),
        "Confidence": f.confidence,
    });
    if let Some(ext) = &f.external_image_id {
        v["ExternalImageId"] = json!(ext);
    }
    v
}

/// Without the `arn:` prefix, as CreateCollection answers on AWS.
fn collection_arn(region: &str, id: &str) -> String {
    format!("aws:rekognition:{region}:{ACCOUNT}:collection/{id}")
}

/// (region, collection id) of a collection ARN, with or without the `arn:` prefix.
fn parse_collection_arn(arn: &str) -> Result<(&str, &str)> {
    let rest = arn.strip_prefix("arn:").unwrap_or(arn);
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    match parts.as_slice() {
        ["aws", "rekognition", region, _account, resource] => resource
            .strip_prefix("collection/")
            .filter(|id| !id.is_empty())
            .map(|id| (*region, id))
            .ok_or_else(|| AwsError::invalid(format!("{arn} is not a collection ARN"))),
        _ => Err(AwsError::invalid(format!("{arn} is not a collection ARN"))),
    }
}

fn string_map(r: &Req, field: &str) -> Result<BTreeMap<String, String>> {
    match r.0.get(field) {
        None => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|v| (k.clone(), v.to_string()))
                    .ok_or_else(|| AwsError::invalid(format!("{field}.{k} must be a string")))
            })
            .collect(),
        Some(_) => Err(AwsError::invalid(format!("{field} must be a map"))),
    }
}

/// An image field as Rekognition reads it: base64 JPEG or PNG, at most 5 MiB.
fn image(r: &Req, field: &str) -> Result<Vec<u8>> {
    r.image(
        field,
        MAX_IMAGE_BYTES,
        "ImageTooLargeException",
        "InvalidImageFormatException",
    )
}

type Collections = BTreeMap<(String, String), Collection>;

impl Rekognition {
    /// Answers one operation for a caller in `region` (the SigV4 credential scope's).
    pub fn call(&self, engine: &dyn Engine, region: &str, op: &str, body: &Value) -> Result<Value> {
        let regional = Regional {
            rekognition: self,
            region,
        };
        regional.call(engine, op, body)
    }
}

impl Regional<'_> {
    fn key(&self, id: &str) -> (String, String) {
        (self.region.to_string(), id.to_string())
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, Collections>> {
        self.rekognition
            .collections
            .read()
            .map_err(|_| AwsError::new("InternalServerError", "state poisoned"))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, Collections>> {
        self.rekognition
            .collections
            .write()
            .map_err(|_| AwsError::new("InternalServerError", "state poisoned"))
    }

    fn call(&self, engine: &dyn Engine, op: &str, body: &Value) -> Result<Value> {
        let r = Req(body);
        match op {
            "CreateCollection" => self.create_collection(&r),
            "DeleteCollection" => self.delete_collection(&r),
            "DescribeCollection" => self.describe_collection(&r),
            "ListCollections" => self.list_collections(&r),
            "ListTagsForResource" => self.list_tags(&r),
            "TagResource" => self.tag_resource(&r),
            "UntagResource" => self.untag_resource(&r),
            "DetectFaces" => detect_faces(engine, &r),
            "IndexFaces" => self.index_faces(engine, &r),
            "SearchFacesByImage" => self.search_faces_by_image(engine, &r),
            "SearchFaces" => self.search_faces(engine, &r),
            "CompareFaces" => compare_faces(engine, &r),
            "DeleteFaces" => self.delete_faces(&r),
            "ListFaces" => self.list_faces(&r),
            "DetectText" => detect_text(engine, &r),
            other => Err(AwsError::new(
                "UnknownOperationException",
                format!("Rekognition operation {other} is not emulated"),
            )),
        }
    }

    fn with<T>(&self, id: &str, f: impl FnOnce(&Collection) -> T) -> Result<T> {
        let collections = self.read()?;
        collections
            .get(&self.key(id))
            .map(f)
            .ok_or_else(|| AwsError::not_found(format!("The collection id: {id} does not exist")))
    }

    fn with_mut<T>(&self, id: &str, f: impl FnOnce(&mut Collection) -> T) -> Result<T> {
        let mut collections = self.write()?;
        collections
            .get_mut(&self.key(id))
            .map(f)
            .ok_or_else(|| AwsError::not_found(format!("The collection id: {id} does not exist")))
    }

    fn create_collection(&self, r: &Req) -> Result<Value> {
        let id = r.id("CollectionId")?;
        let tags = string_map(r, "Tags")?;
        let mut collections = self.write()?;
        if collections.contains_key(&self.key(id)) {
            return Err(AwsError::new(
                "ResourceAlreadyExistsException",
                format!("The collection id: {id} already exists"),
            ));
        }
        collections.insert(
            self.key(id),
            Collection {
                created: now(),
                faces: Vec::new(),
                tags,
            },
        );
        Ok(
            json!({"StatusCode": 200, "CollectionArn": collection_arn(self.region, id), "FaceModelVersion": FACE_MODEL_VERSION}),
        )
    }

    fn delete_collection(&self, r: &Req) -> Result<Value> {
        let id = r.id("CollectionId")?;
        let mut collections = self.write()?;
        collections
            .remove(&self.key(id))
            .map(|_| json!({"StatusCode": 200}))
            .ok_or_else(|| AwsError::not_found(format!("The collection id: {id} does not exist")))
    }

    fn describe_collection(&self, r: &Req) -> Result<Value> {
        let id = r.id("CollectionId")?;
        self.with(id, |c| {
            json!({
                "FaceCount": c.faces.len(),
                "UserCount": 0,
                "FaceModelVersion": FACE_MODEL_VERSION,
                // DescribeCollection's ARN is whole, unlike CreateCollection's.
                "CollectionARN": format!("arn:{}", collection_arn(self.region, id)),
                "CreationTimestamp": c.created,
            })
        })
    }

    fn list_collections(&self, r: &Req) -> Result<Value> {
        let max = r.number("MaxResults", 1000.0, 0.0, 4096.0)? as usize;
        let start = r.opt_str("NextToken").unwrap_or_default();
        let collections = self.read()?;
        let ids: Vec<&String> = collections
            .keys()
            .filter(|(region, _)| region == self.region)
            .map(|(_, id)| id)
            .filter(|k| k.as_str() > start || start.is_empty())
            .collect();
        let page: Vec<&String> = ids.iter().take(max).copied().collect();
        let mut out = json!({
            "CollectionIds": page,
            "FaceModelVersions": page.iter().map(|_| FACE_MODEL_VERSION).collect::<Vec<_>>(),
        });
        if ids.len() > page.len() {
            out["NextToken"] = json!(page.last());
        }
        Ok(out)
    }

    /// The collection an ARN names; tagging calls carry the region in the ARN, not only in the signature.
    fn tagged<T>(&self, r: &Req, f: impl FnOnce(&mut Collection) -> T) -> Result<T> {
        let (region, id) = parse_collection_arn(r.str("ResourceArn")?)?;
        let mut collections = self.write()?;
        collections
            .get_mut(&(region.to_string(), id.to_string()))
            .map(f)
            .ok_or_else(|| AwsError::not_found(format!("The collection id: {id} does not exist")))
    }

    fn list_tags(&self, r: &Req) -> Result<Value> {
        self.tagged(r, |c| json!({"Tags": c.tags}))
    }

    fn tag_resource(&self, r: &Req) -> Result<Value> {
        let tags = string_map(r, "Tags")?;
        self.tagged(r, |c| {
            c.tags.extend(tags);
            json!({})
        })
    }

    fn untag_resource(&self, r: &Req) -> Result<Value> {
        let keys: Vec<String> =
            r.0.get("TagKeys")
                .and_then(Value::as_array)
                .ok_or_else(|| AwsError::invalid("TagKeys must list tag keys"))?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
        self.tagged(r, |c| {
            c.tags.retain(|k, _| !keys.contains(k));
            json!({})
        })
    }

    fn index_faces(&self, engine: &dyn Engine, r: &Req) -> Result<Value> {
        let id = r.id("CollectionId")?;
        let image = image(r, "Image")?;
        let external = r.opt_str("ExternalImageId");
        if let Some(ext) = external {
            let ok = !ext.is_empty()
                && ext.len() <= 255
                && ext
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'));
            if !ok {
                return Err(AwsError::new(
                    "ValidationException",
                    "ExternalImageId must match [a-zA-Z0-9_.\\-:]+",
                ));
            }
        }
        // Any MaxFaces ≥ 1 is valid; IndexFaces never indexes more than 100 faces of one image whatever it says.
        let max = r
            .number("MaxFaces", 100.0, 1.0, f64::from(i32::MAX))?
            .min(100.0) as usize;
        let all = wanted(r.0, "DetectionAttributes", "detectionAttributes")?;
        self.with(id, |_| ())?;
        let faces = engine.faces(&image)?;
        let image_id = uuid::Uuid::new_v4().to_string();
        let (indexed, unindexed) = faces.split_at(max.min(faces.len()));
        let records: Vec<StoredFace> = indexed
            .iter()
            .map(|f| StoredFace {
                face_id: uuid::Uuid::new_v4().to_string(),
                image_id: image_id.clone(),
                external_image_id: external.map(str::to_string),
                signature: f.signature.clone(),
                bounding_box: f.spec.bounding_box,
                confidence: f.spec.confidence,
            })
            .collect();
        let out = json!({
            "FaceRecords": records.iter().zip(indexed).map(|(s, f)| json!({"Face": stored_face(s), "FaceDetail": face_detail(f, &all)})).collect::<Vec<_>>(),
            "UnindexedFaces": unindexed.iter().map(|f| json!({"Reasons": ["EXCEEDS_MAX_FACES"], "FaceDetail": face_detail(f, &all)})).collect::<Vec<_>>(),
            "FaceModelVersion": FACE_MODEL_VERSION,
        });
        self.with_mut(id, |c| c.faces.extend(records))?;
        Ok(out)
    }

    fn matches(
        &self,
        engine: &dyn Engine,
        id: &str,
        signature: &str,
        skip: Option<&str>,
        r: &Req,
    ) -> Result<Vec<Value>> {
        let threshold = r.number("FaceMatchThreshold", 80.0, 0.0, 100.0)? as f32;
        let max = r.number("MaxFaces", 80.0, 1.0, 4096.0)? as usize;
        self.with(id, |c| {
            let mut found: Vec<(f32, &StoredFace)> = c
                .faces
                .iter()
                .filter(|f| Some(f.face_id.as_str()) != skip)
                .map(|f| (engine.similarity(signature, &f.signature), f))
                .filter(|(s, _)| *s >= threshold)
                .collect();
            found.sort_by(|a, b| b.0.total_cmp(&a.0));
            found
                .into_iter()
                .take(max)
                .map(|(s, f)| json!({"Similarity": s, "Face": stored_face(f)}))
                .collect()
        })
    }

    fn search_faces_by_image(&self, engine: &dyn Engine, r: &Req) -> Result<Value> {
        let id = r.id("CollectionId")?;
        let image = image(r, "Image")?;
        self.with(id, |_| ())?;
        let faces = engine.faces(&image)?;
        let face = faces.first().ok_or_else(|| {
            AwsError::invalid("There are no faces in the image. Should be at least 1.")
        })?;
        let matches = self.matches(engine, id, &face.signature, None, r)?;
        Ok(json!({
            "SearchedFaceBoundingBox": bbox(face.spec.bounding_box),
            "SearchedFaceConfidence": face.spec.confidence,
            "FaceMatches": matches,
            "FaceModelVersion": FACE_MODEL_VERSION,
        }))
    }

    fn search_faces(&self, engine: &dyn Engine, r: &Req) -> Result<Value> {
        let id = r.id("CollectionId")?;
        let face_id = r.str("FaceId")?;
        let signature = self
            .with(id, |c| {
                c.faces
                    .iter()
                    .find(|f| f.face_id == face_id)
                    .map(|f| f.signature.clone())
            })?
            .ok_or_else(|| AwsError::invalid(format!("Invalid face ID: {face_id}")))?;
        let matches = self.matches(engine, id, &signature, Some(face_id), r)?;
        Ok(
            json!({"SearchedFaceId": face_id, "FaceMatches": matches, "FaceModelVersion": FACE_MODEL_VERSION}),
        )
    }

    fn delete_faces(&self, r: &Req) -> Result<Value> {
        let id = r.id("CollectionId")?;
        let ids: Vec<String> =
            r.0.get("FaceIds")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty() && a.len() <= 4096)
                .ok_or_else(|| AwsError::invalid("FaceIds must list 1 to 4096 face ids"))?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
        self.with_mut(id, |c| {
            let (gone, kept): (Vec<StoredFace>, Vec<StoredFace>) = std::mem::take(&mut c.faces)
                .into_iter()
                .partition(|f| ids.contains(&f.face_id));
            c.faces = kept;
            let deleted: Vec<&String> = gone.iter().map(|f| &f.face_id).collect();
            let missing: Vec<Value> = ids
                .iter()
                .filter(|i| !deleted.contains(i))
                .map(|i| json!({"FaceId": i, "Reasons": ["FACE_NOT_FOUND"]}))
                .collect();
            json!({"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": missing})
        })
    }

    fn list_faces(&self, r: &Req) -> Result<Value> {
        let id = r.id("CollectionId")?;
        let max = r.number("MaxResults", 1000.0, 0.0, 4096.0)? as usize;
        let start: usize = r
            .opt_str("NextToken")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        self.with(id, |c| {
            let page: Vec<Value> = c
                .faces
                .iter()
                .skip(start)
                .take(max)
                .map(stored_face)
                .collect();
            let mut out = json!({"Faces": page, "FaceModelVersion": FACE_MODEL_VERSION});
            if start + max < c.faces.len() {
                out["NextToken"] = json!((start + max).to_string());
            }
            out
        })
    }
}

fn detect_faces(engine: &dyn Engine, r: &Req) -> Result<Value> {
    let image = image(r, "Image")?;
    let all = wanted(r.0, "Attributes", "attributes")?;
    let faces = engine.faces(&image)?;
    Ok(json!({"FaceDetails": faces.iter().map(|f| face_detail(f, &all)).collect::<Vec<_>>()}))
}

fn compare_faces(engine: &dyn Engine, r: &Req) -> Result<Value> {
    let source = image(r, "SourceImage")?;
    let target = image(r, "TargetImage")?;
    let threshold = r.number("SimilarityThreshold", 80.0, 0.0, 100.0)? as f32;
    let source_faces = engine.faces(&source)?;
    let face = source_faces.first().ok_or_else(|| {
        AwsError::invalid("There are no faces in the source image. Should be at least 1.")
    })?;
    let (mut matched, mut unmatched) = (Vec::new(), Vec::new());
    for t in engine.faces(&target)? {
        // The same face in the same place and pose is the same photo: Rekognition scores a copy of one image
        // (re-encoded or not) at 100, above any two shots of one person.
        let similarity = if t == *face {
            100.0
        } else {
            engine.similarity(&face.signature, &t.signature)
        };
        let compared = json!({
            "BoundingBox": bbox(t.spec.bounding_box),
            "Confidence": t.spec.confidence,
            "Pose": {"Pitch": t.spec.pose[0], "Roll": t.spec.pose[1], "Yaw": t.spec.pose[2]},
            "Quality": {"Brightness": t.spec.brightness, "Sharpness": t.spec.sharpness},
            "Landmarks": landmarks(&t.spec, DEFAULT_LANDMARKS),
        });
        if similarity >= threshold {
            matched.push(json!({"Similarity": similarity, "Face": compared}));
        } else {
            unmatched.push(compared);
        }
    }
    Ok(json!({
        "SourceImageFace": {"BoundingBox": bbox(face.spec.bounding_box), "Confidence": face.spec.confidence},
        "FaceMatches": matched,
        "UnmatchedFaces": unmatched,
    }))
}

fn detect_text(engine: &dyn Engine, r: &Req) -> Result<Value> {
    let image = image(r, "Image")?;
    let mut detections = Vec::new();
    let lines = engine.text(&image)?;
    let mut next_id = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let geometry = json!({"BoundingBox": bbox(line.bounding_box)});
        detections.push(json!({"DetectedText": line.text, "Type": "LINE", "Id": i, "Confidence": line.confidence, "Geometry": geometry}));
        for word in line.text.split_whitespace() {
            detections.push(json!({"DetectedText": word, "Type": "WORD", "Id": next_id, "ParentId": i, "Confidence": line.confidence, "Geometry": geometry}));
            next_id += 1;
        }
    }
    Ok(json!({"TextDetections": detections, "TextModelVersion": "3.0"}))
}
