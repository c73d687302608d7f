//! Face operations: detection with the FaceDetail members asked for, indexing and searching under a quality
//! bar (`QualityFilter`), comparison, deletion and listing; and DetectText, which reads images the same way.

use super::{bbox, Regional, StoredFace, FACE_MODEL_VERSION};
use crate::engine::Face;
use crate::error::{AwsError, Result};
use crate::manifest::FaceSpec;
use crate::real::geometry::DEFAULT_LANDMARKS;
use crate::request::{page_token, Req, Sources, REKOGNITION_IMAGES};
use serde_json::{json, Value};

/// Which FaceDetail members a request asks for (`Attributes` / `DetectionAttributes`); the model has already
/// checked the names. BoundingBox, Confidence, Pose, Quality and Landmarks come whatever is asked.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Wanted {
    all: bool,
    named: Vec<String>,
}

impl Wanted {
    pub(super) fn of(r: &Req, field: &str) -> Wanted {
        let named = r.strings(field);
        Wanted {
            all: named.iter().any(|n| n == "ALL"),
            named,
        }
    }

    fn has(&self, attribute: &str) -> bool {
        self.all || self.named.iter().any(|a| a == attribute)
    }
}

fn flag(value: bool, confidence: f32) -> Value {
    json!({"Value": value, "Confidence": confidence})
}

/// A stable number in 0..n for a face, so answers the engine cannot measure do not change between calls.
fn pick(spec: &FaceSpec, n: u64) -> u64 {
    spec.identity
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
        % n
}

pub(super) fn face_detail(face: &Face, wanted: &Wanted) -> Value {
    let s = &face.spec;
    let t = &s.traits;
    let mut detail = json!({
        "BoundingBox": bbox(s.bounding_box),
        "Confidence": s.confidence,
        "Pose": {"Pitch": s.pose[0], "Roll": s.pose[1], "Yaw": s.pose[2]},
        "Quality": {"Brightness": s.brightness, "Sharpness": s.sharpness},
        "Landmarks": landmarks(s, if wanted.all { usize::MAX } else { DEFAULT_LANDMARKS }),
    });
    let mut set = |attribute: &str, member: &str, value: Value| {
        if wanted.has(attribute) {
            detail[member] = value;
        }
    };
    set(
        "AGE_RANGE",
        "AgeRange",
        json!({"Low": t.age_range[0], "High": t.age_range[1]}),
    );
    set("SMILE", "Smile", flag(t.smile, 92.0));
    set(
        "EYEGLASSES",
        "Eyeglasses",
        flag(s.sunglasses, s.sunglasses_confidence),
    );
    set(
        "SUNGLASSES",
        "Sunglasses",
        flag(s.sunglasses, s.sunglasses_confidence),
    );
    let gender = match &t.gender {
        Some(known) => json!({"Value": known, "Confidence": 98.0}),
        // Nothing here tells; a coin flip that says it is one.
        None => {
            let value = ["Female", "Male"][pick(s, 2) as usize];
            json!({"Value": value, "Confidence": 50.5})
        }
    };
    set("GENDER", "Gender", gender);
    set("BEARD", "Beard", flag(t.beard, 90.0));
    set("MUSTACHE", "Mustache", flag(t.mustache, 90.0));
    set(
        "EYES_OPEN",
        "EyesOpen",
        flag(s.eyes_open, s.eyes_open_confidence),
    );
    set("MOUTH_OPEN", "MouthOpen", flag(t.mouth_open, 90.0));
    let emotion = if t.smile { "HAPPY" } else { "CALM" };
    set(
        "EMOTIONS",
        "Emotions",
        json!([{"Type": emotion, "Confidence": 90.0}, {"Type": "SURPRISED", "Confidence": 4.0}, {"Type": "CONFUSED", "Confidence": 2.0}]),
    );
    set("FACE_OCCLUDED", "FaceOccluded", flag(false, 95.0));
    // The eyes look where the head points unless something says otherwise.
    set(
        "EYE_DIRECTION",
        "EyeDirection",
        json!({"Yaw": 0.0, "Pitch": 0.0, "Confidence": 90.0}),
    );
    detail
}

fn landmarks(s: &FaceSpec, count: usize) -> Vec<Value> {
    s.landmarks
        .iter()
        .take(count)
        .map(|l| json!({"Type": l.kind, "X": l.x, "Y": l.y}))
        .collect()
}

/// A face as the collection reports it (IndexFaces, ListFaces, searches).
pub(super) fn stored_face(f: &StoredFace) -> Value {
    let mut v = json!({
        "FaceId": f.face_id,
        "ImageId": f.image_id,
        "BoundingBox": bbox(f.bounding_box),
        "Confidence": f.confidence,
        "IndexFacesModelVersion": FACE_MODEL_VERSION,
    });
    if let Some(ext) = &f.external_image_id {
        v["ExternalImageId"] = json!(ext);
    }
    if let Some(user) = &f.user_id {
        v["UserId"] = json!(user);
    }
    v
}

/// `QualityFilter`: the bar a face must clear to be indexed, searched or compared. AWS does not publish its bars;
/// these are ours, stricter with each level, and `AUTO` is `LOW`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct QualityBar {
    confidence: f32,
    brightness: f32,
    sharpness: f32,
    /// Largest |pitch|, |roll| or |yaw|, degrees.
    pose: f32,
    /// Smallest side of the box, as a ratio of the image's.
    side: f32,
}

const NO_BAR: QualityBar = QualityBar {
    confidence: 0.0,
    brightness: 0.0,
    sharpness: 0.0,
    pose: 180.0,
    side: 0.0,
};
const LOW: QualityBar = QualityBar {
    confidence: 50.0,
    brightness: 10.0,
    sharpness: 10.0,
    pose: 75.0,
    side: 0.02,
};
const MEDIUM: QualityBar = QualityBar {
    confidence: 70.0,
    brightness: 25.0,
    sharpness: 25.0,
    pose: 60.0,
    side: 0.04,
};
const HIGH: QualityBar = QualityBar {
    confidence: 90.0,
    brightness: 40.0,
    sharpness: 40.0,
    pose: 45.0,
    side: 0.08,
};

impl QualityBar {
    /// The request's `QualityFilter`, or the operation's default (`AUTO` for IndexFaces, `NONE` elsewhere).
    pub(super) fn of(r: &Req, default: &str) -> QualityBar {
        match r.opt_str("QualityFilter").unwrap_or(default) {
            "NONE" => NO_BAR,
            "MEDIUM" => MEDIUM,
            "HIGH" => HIGH,
            // AUTO and LOW; the model has refused anything else.
            _ => LOW,
        }
    }

    /// Why a face falls under the bar, in Rekognition's reason names; empty when it clears it.
    pub(super) fn reasons(&self, s: &FaceSpec) -> Vec<&'static str> {
        let mut reasons = Vec::new();
        if s.pose.iter().any(|a| a.abs() > self.pose) {
            reasons.push("EXTREME_POSE");
        }
        if s.brightness < self.brightness {
            reasons.push("LOW_BRIGHTNESS");
        }
        if s.sharpness < self.sharpness {
            reasons.push("LOW_SHARPNESS");
        }
        if s.confidence < self.confidence {
            reasons.push("LOW_CONFIDENCE");
        }
        if s.bounding_box[0].min(s.bounding_box[1]) < self.side {
            reasons.push("SMALL_BOUNDING_BOX");
        }
        reasons
    }
}

fn area(f: &Face) -> f32 {
    f.spec.bounding_box[0] * f.spec.bounding_box[1]
}

/// The faces of an image that clear the bar, largest first, each with its index in the engine's list; and the
/// others with their reasons.
pub(super) fn under_bar(
    faces: &[Face],
    bar: &QualityBar,
) -> (Vec<usize>, Vec<(usize, Vec<&'static str>)>) {
    let (mut clear, mut under) = (Vec::new(), Vec::new());
    for (i, f) in faces.iter().enumerate() {
        let reasons = bar.reasons(&f.spec);
        if reasons.is_empty() {
            clear.push(i);
        } else {
            under.push((i, reasons));
        }
    }
    clear.sort_by(|a, b| area(&faces[*b]).total_cmp(&area(&faces[*a])));
    (clear, under)
}

const NO_FACE: &str = "There are no faces in the image. Should be at least 1.";

impl Regional<'_> {
    pub(super) fn index_faces(&self, sources: Sources, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let image = r.image("Image", &REKOGNITION_IMAGES, sources.s3)?;
        let external = r.opt_str("ExternalImageId");
        // Any MaxFaces ≥ 1 is valid; IndexFaces never indexes more than 100 faces of one image whatever it says.
        let max = r.number("MaxFaces", 100.0).min(100.0) as usize;
        let wanted = Wanted::of(r, "DetectionAttributes");
        let bar = QualityBar::of(r, "AUTO");
        self.with(id, |_| ())?;
        let faces = sources.engine.faces(&image)?;
        let (mut clear, under) = under_bar(&faces, &bar);
        // Over MaxFaces, the lowest quality goes first (what would not clear the AUTO bar), then the smallest.
        clear.sort_by_key(|i| !LOW.reasons(&faces[*i].spec).is_empty());
        let exceeding = clear.split_off(max.min(clear.len()));
        let image_id = uuid::Uuid::new_v4().to_string();
        let records: Vec<StoredFace> = clear
            .iter()
            .map(|i| StoredFace {
                face_id: uuid::Uuid::new_v4().to_string(),
                image_id: image_id.clone(),
                external_image_id: external.map(str::to_string),
                signature: faces[*i].signature.clone(),
                bounding_box: faces[*i].spec.bounding_box,
                confidence: faces[*i].spec.confidence,
                user_id: None,
            })
            .collect();
        let mut unindexed: Vec<Value> = under
            .iter()
            .map(|(i, reasons)| json!({"Reasons": reasons, "FaceDetail": face_detail(&faces[*i], &wanted)}))
            .collect();
        unindexed.extend(exceeding.iter().map(|i| {
            json!({"Reasons": ["EXCEEDS_MAX_FACES"], "FaceDetail": face_detail(&faces[*i], &wanted)})
        }));
        let out = json!({
            "FaceRecords": records.iter().zip(&clear).map(|(s, i)| json!({"Face": stored_face(s), "FaceDetail": face_detail(&faces[*i], &wanted)})).collect::<Vec<_>>(),
            "UnindexedFaces": unindexed,
            "FaceModelVersion": FACE_MODEL_VERSION,
        });
        self.with_mut(id, |c| c.faces.extend(records))?;
        Ok(out)
    }

    /// The collection's faces at least `threshold` similar to `signature`, best first, at most `max`.
    pub(super) fn matches(
        &self,
        sources: Sources,
        id: &str,
        signature: &str,
        skip: Option<&str>,
        r: &Req,
    ) -> Result<Vec<Value>> {
        let threshold = r.number("FaceMatchThreshold", 80.0) as f32;
        let max = r.number("MaxFaces", 80.0) as usize;
        self.with(id, |c| {
            let mut found: Vec<(f32, &StoredFace)> = c
                .faces
                .iter()
                .filter(|f| Some(f.face_id.as_str()) != skip)
                .map(|f| (sources.engine.similarity(signature, &f.signature), f))
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

    pub(super) fn search_faces_by_image(&self, sources: Sources, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let image = r.image("Image", &REKOGNITION_IMAGES, sources.s3)?;
        let bar = QualityBar::of(r, "NONE");
        self.with(id, |_| ())?;
        let faces = sources.engine.faces(&image)?;
        // The largest face is searched; under the bar, there is nothing to search.
        let face = faces
            .iter()
            .max_by(|a, b| area(a).total_cmp(&area(b)))
            .filter(|f| bar.reasons(&f.spec).is_empty())
            .ok_or_else(|| AwsError::invalid(NO_FACE))?;
        let matches = self.matches(sources, id, &face.signature, None, r)?;
        Ok(json!({
            "SearchedFaceBoundingBox": bbox(face.spec.bounding_box),
            "SearchedFaceConfidence": face.spec.confidence,
            "FaceMatches": matches,
            "FaceModelVersion": FACE_MODEL_VERSION,
        }))
    }

    pub(super) fn search_faces(&self, sources: Sources, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let face_id = r.str("FaceId")?;
        let signature = self
            .with(id, |c| {
                c.faces
                    .iter()
                    .find(|f| f.face_id == face_id)
                    .map(|f| f.signature.clone())
            })?
            .ok_or_else(|| AwsError::invalid(format!("Invalid face ID: {face_id}")))?;
        let matches = self.matches(sources, id, &signature, Some(face_id), r)?;
        Ok(
            json!({"SearchedFaceId": face_id, "FaceMatches": matches, "FaceModelVersion": FACE_MODEL_VERSION}),
        )
    }

    pub(super) fn delete_faces(&self, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let ids = r.strings("FaceIds");
        self.with_mut(id, |c| {
            let mut deleted = Vec::new();
            let mut refused = Vec::new();
            for face_id in &ids {
                match c.faces.iter().position(|f| &f.face_id == face_id) {
                    // A face of a user vector stays until it is disassociated.
                    Some(i) if c.faces[i].user_id.is_some() => refused.push(json!({
                        "FaceId": face_id,
                        "UserId": c.faces[i].user_id,
                        "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"],
                    })),
                    Some(i) => {
                        c.faces.remove(i);
                        deleted.push(face_id.clone());
                    }
                    None if deleted.contains(face_id) => {}
                    None => refused.push(json!({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})),
                }
            }
            json!({"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": refused})
        })
    }

    pub(super) fn list_faces(&self, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let max = r.number("MaxResults", 1000.0) as usize;
        let user = r.opt_str("UserId");
        let only = r.strings("FaceIds");
        // A token resumes this listing with these filters, nothing else.
        let listing = format!("faces:{}:{id}:{user:?}:{only:?}", self.region);
        let start = r.page_start(&listing)?;
        self.with(id, |c| {
            let chosen: Vec<&StoredFace> = c
                .faces
                .iter()
                .filter(|f| user.is_none() || f.user_id.as_deref() == user)
                .filter(|f| only.is_empty() || only.contains(&f.face_id))
                .collect();
            let page: Vec<Value> = chosen
                .iter()
                .skip(start)
                .take(max)
                .map(|f| stored_face(f))
                .collect();
            let mut out = json!({"Faces": page, "FaceModelVersion": FACE_MODEL_VERSION});
            if start + max < chosen.len() {
                out["NextToken"] = json!(page_token(&listing, start + max));
            }
            out
        })
    }
}

pub(super) fn detect_faces(sources: Sources, r: &Req) -> Result<Value> {
    let image = r.image("Image", &REKOGNITION_IMAGES, sources.s3)?;
    let wanted = Wanted::of(r, "Attributes");
    let faces = sources.engine.faces(&image)?;
    Ok(json!({"FaceDetails": faces.iter().map(|f| face_detail(f, &wanted)).collect::<Vec<_>>()}))
}

pub(super) fn compare_faces(sources: Sources, r: &Req) -> Result<Value> {
    let source = r.image("SourceImage", &REKOGNITION_IMAGES, sources.s3)?;
    let target = r.image("TargetImage", &REKOGNITION_IMAGES, sources.s3)?;
    let threshold = r.number("SimilarityThreshold", 80.0) as f32;
    let bar = QualityBar::of(r, "NONE");
    let source_faces = sources.engine.faces(&source)?;
    let face = source_faces
        .iter()
        .max_by(|a, b| area(a).total_cmp(&area(b)))
        .filter(|f| bar.reasons(&f.spec).is_empty())
        .ok_or_else(|| {
            AwsError::invalid("There are no faces in the source image. Should be at least 1.")
        })?;
    let (mut matched, mut unmatched) = (Vec::new(), Vec::new());
    let target_faces = sources.engine.faces(&target)?;
    let (clear, _under) = under_bar(&target_faces, &bar);
    for t in clear.iter().map(|i| &target_faces[*i]) {
        // The same face in the same place and pose is the same photo: Rekognition scores a copy of one image
        // (re-encoded or not) at 100, above any two shots of one person.
        let similarity = if t == face {
            100.0
        } else {
            sources.engine.similarity(&face.signature, &t.signature)
        };
        let s = &t.spec;
        let compared = json!({
            "BoundingBox": bbox(s.bounding_box),
            "Confidence": s.confidence,
            "Pose": {"Pitch": s.pose[0], "Roll": s.pose[1], "Yaw": s.pose[2]},
            "Quality": {"Brightness": s.brightness, "Sharpness": s.sharpness},
            "Landmarks": landmarks(s, DEFAULT_LANDMARKS),
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

/// A box's four corners, clockwise from the top left, as `Geometry.Polygon`.
pub fn polygon(b: [f32; 4]) -> Value {
    let [w, h, left, top] = b;
    json!([
        {"X": left, "Y": top},
        {"X": left + w, "Y": top},
        {"X": left + w, "Y": top + h},
        {"X": left, "Y": top + h},
    ])
}

/// The words of a line with boxes shared out by their length (the engines box lines, not words).
pub fn words(text: &str, line: [f32; 4]) -> Vec<(String, [f32; 4])> {
    let total = text.chars().count().max(1) as f32;
    let [w, h, left, top] = line;
    let mut out = Vec::new();
    let mut start = 0usize;
    for word in text.split(' ') {
        let len = word.chars().count();
        if len > 0 {
            out.push((
                word.to_string(),
                [
                    w * len as f32 / total,
                    h,
                    left + w * start as f32 / total,
                    top,
                ],
            ));
        }
        start += len + 1;
    }
    out
}

pub(super) fn detect_text(sources: Sources, r: &Req) -> Result<Value> {
    let image = r.image("Image", &REKOGNITION_IMAGES, sources.s3)?;
    let mut detections = Vec::new();
    let lines = sources.engine.text(&image)?;
    let mut next_id = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let geometry = |b: [f32; 4]| json!({"BoundingBox": bbox(b), "Polygon": polygon(b)});
        detections.push(json!({"DetectedText": line.text, "Type": "LINE", "Id": i, "Confidence": line.confidence, "Geometry": geometry(line.bounding_box)}));
        for (word, b) in words(&line.text, line.bounding_box) {
            detections.push(json!({"DetectedText": word, "Type": "WORD", "Id": next_id, "ParentId": i, "Confidence": line.confidence, "Geometry": geometry(b)}));
            next_id += 1;
        }
    }
    Ok(json!({"TextDetections": detections, "TextModelVersion": "3.0"}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(f: impl FnOnce(&mut FaceSpec)) -> FaceSpec {
        let mut spec = FaceSpec::of("ann");
        f(&mut spec);
        spec
    }

    #[test]
    fn each_bar_is_stricter_than_the_last_and_names_every_reason() {
        let poor = face(|s| {
            s.brightness = 5.0;
            s.pose = [80.0, 0.0, 0.0];
            s.bounding_box = [0.02, 0.03, 0.5, 0.5];
        });
        assert_eq!(
            HIGH.reasons(&poor),
            ["EXTREME_POSE", "LOW_BRIGHTNESS", "SMALL_BOUNDING_BOX"]
        );
        assert_eq!(LOW.reasons(&poor), ["EXTREME_POSE", "LOW_BRIGHTNESS"]);
        assert!(NO_BAR.reasons(&poor).is_empty());
        let middling = face(|s| s.sharpness = 30.0);
        assert!(LOW.reasons(&middling).is_empty());
        assert!(MEDIUM.reasons(&middling).is_empty());
        assert_eq!(HIGH.reasons(&middling), ["LOW_SHARPNESS"]);
        let unsure = face(|s| s.confidence = 60.0);
        assert_eq!(MEDIUM.reasons(&unsure), ["LOW_CONFIDENCE"]);
    }

    #[test]
    fn words_share_their_line_box_by_length() {
        let got = words("AB CDEF", [0.7, 0.1, 0.1, 0.5]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "AB");
        assert!((got[0].1[0] - 0.2).abs() < 1e-6);
        assert!((got[1].1[2] - 0.4).abs() < 1e-6, "{:?}", got[1]);
        assert!((got[1].1[0] - 0.4).abs() < 1e-6);
    }

    #[test]
    fn one_named_attribute_is_not_all() {
        let f = Face {
            signature: "ann".into(),
            spec: face(|s| {
                s.landmarks = (0..30)
                    .map(|i| crate::manifest::Landmark {
                        kind: format!("mark{i}"),
                        x: 0.5,
                        y: 0.5,
                    })
                    .collect()
            }),
        };
        let req = json!({"Attributes": ["SUNGLASSES"]});
        let detail = face_detail(&f, &Wanted::of(&Req(&req), "Attributes"));
        assert!(detail.get("Sunglasses").is_some());
        assert!(detail.get("Smile").is_none());
        assert_eq!(detail["Landmarks"].as_array().map(Vec::len), Some(5));
        let req = json!({"Attributes": ["ALL"]});
        let all = face_detail(&f, &Wanted::of(&Req(&req), "Attributes"));
        for member in [
            "AgeRange",
            "Smile",
            "Eyeglasses",
            "Sunglasses",
            "Gender",
            "Beard",
            "Mustache",
            "EyesOpen",
            "MouthOpen",
            "Emotions",
            "FaceOccluded",
            "EyeDirection",
        ] {
            assert!(all.get(member).is_some(), "{member}");
        }
        assert_eq!(all["Landmarks"].as_array().map(Vec::len), Some(30));
    }
}
