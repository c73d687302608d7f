//! User vectors over a collection's faces: a user is a set of faces of one person (AssociateFaces checks each
//! new face against the ones already there), and searching users scores each by its best face.

use super::faces::{face_detail, under_bar, QualityBar, Wanted};
use super::{Collection, Regional, FACE_MODEL_VERSION};
use crate::error::{AwsError, Result};
use crate::request::{page_token, Req, Sources, REKOGNITION_IMAGES};
use serde_json::{json, Value};

/// A user holds at most this many faces (AWS's limit).
const MAX_USER_FACES: usize = 100;

fn no_user(id: &str) -> AwsError {
    AwsError::not_found(format!("The user id: {id} does not exist"))
}

/// Every user but `skip`, scored by its best face against `signature`, best first, at least `threshold`.
fn score_users(
    sources: Sources,
    c: &Collection,
    signature: &str,
    skip_user: Option<&str>,
    r: &Req,
) -> Vec<Value> {
    let threshold = r.number("UserMatchThreshold", 80.0) as f32;
    let max = r.number("MaxUsers", 5.0) as usize;
    let mut scored: Vec<(f32, &String)> = c
        .users
        .keys()
        .filter(|u| Some(u.as_str()) != skip_user)
        .filter_map(|u| {
            c.user_faces(u)
                .map(|f| sources.engine.similarity(signature, &f.signature))
                .max_by(f32::total_cmp)
                .map(|best| (best, u))
        })
        .filter(|(s, _)| *s >= threshold)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored
        .into_iter()
        .take(max)
        .map(|(s, u)| json!({"Similarity": s, "User": {"UserId": u, "UserStatus": c.user_status(u)}}))
        .collect()
}

impl Regional<'_> {
    pub(super) fn create_user(&self, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let user = r.str("UserId")?;
        let token = r.opt_str("ClientRequestToken").map(str::to_string);
        self.with_mut(id, |c| match c.users.get(user) {
            // The same request again (same token) is the same user, as on AWS.
            Some(created_by) if token.is_some() && *created_by == token => Ok(json!({})),
            Some(_) => Err(AwsError::new(
                "ConflictException",
                format!("A User with the same Id already exists within the collection: {user}"),
            )),
            None => {
                c.users.insert(user.to_string(), token);
                Ok(json!({}))
            }
        })?
    }

    pub(super) fn delete_user(&self, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let user = r.str("UserId")?;
        self.with_mut(id, |c| {
            c.users.remove(user).ok_or_else(|| no_user(user))?;
            for face in c.faces.iter_mut() {
                if face.user_id.as_deref() == Some(user) {
                    face.user_id = None;
                }
            }
            Ok(json!({}))
        })?
    }

    pub(super) fn list_users(&self, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let max = r.number("MaxResults", 500.0) as usize;
        let listing = format!("users:{}:{id}", self.region);
        let start = r.page_start(&listing)?;
        self.with(id, |c| {
            let page: Vec<Value> = c
                .users
                .keys()
                .skip(start)
                .take(max)
                .map(|u| json!({"UserId": u, "UserStatus": c.user_status(u)}))
                .collect();
            let mut out = json!({ "Users": page });
            if start + max < c.users.len() {
                out["NextToken"] = json!(page_token(&listing, start + max));
            }
            out
        })
    }

    pub(super) fn associate_faces(&self, sources: Sources, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let user = r.str("UserId")?;
        let threshold = r.number("UserMatchThreshold", 75.0) as f32;
        let face_ids = r.strings("FaceIds");
        self.with_mut(id, |c| {
            if !c.users.contains_key(user) {
                return Err(no_user(user));
            }
            let (mut associated, mut refused) = (Vec::new(), Vec::new());
            for face_id in &face_ids {
                let Some(index) = c.faces.iter().position(|f| &f.face_id == face_id) else {
                    refused.push(json!({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]}));
                    continue;
                };
                let face = &c.faces[index];
                match face.user_id.as_deref() {
                    Some(owner) if owner == user => {
                        associated.push(json!({ "FaceId": face_id }));
                        continue;
                    }
                    Some(owner) => {
                        refused.push(json!({"FaceId": face_id, "UserId": owner, "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]}));
                        continue;
                    }
                    None => {}
                }
                // A face joins a user only if it looks like the faces already there.
                let best = c
                    .user_faces(user)
                    .map(|f| sources.engine.similarity(&face.signature, &f.signature))
                    .max_by(f32::total_cmp);
                let full = c.user_faces(user).count() >= MAX_USER_FACES;
                match best {
                    Some(similarity) if similarity < threshold || full => refused.push(json!({
                        "FaceId": face_id, "UserId": user, "Confidence": similarity,
                        "Reasons": ["LOW_MATCH_CONFIDENCE"],
                    })),
                    _ => {
                        c.faces[index].user_id = Some(user.to_string());
                        associated.push(json!({ "FaceId": face_id }));
                    }
                }
            }
            Ok(json!({
                "AssociatedFaces": associated,
                "UnsuccessfulFaceAssociations": refused,
                "UserStatus": c.user_status(user),
            }))
        })?
    }

    pub(super) fn disassociate_faces(&self, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let user = r.str("UserId")?;
        let face_ids = r.strings("FaceIds");
        self.with_mut(id, |c| {
            if !c.users.contains_key(user) {
                return Err(no_user(user));
            }
            let (mut gone, mut refused) = (Vec::new(), Vec::new());
            for face_id in &face_ids {
                match c.faces.iter_mut().find(|f| &f.face_id == face_id) {
                    None => refused.push(json!({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})),
                    Some(f) if f.user_id.as_deref() == Some(user) => {
                        f.user_id = None;
                        gone.push(json!({ "FaceId": face_id }));
                    }
                    Some(f) => refused.push(json!({
                        "FaceId": face_id, "UserId": f.user_id,
                        "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"],
                    })),
                }
            }
            Ok(json!({
                "DisassociatedFaces": gone,
                "UnsuccessfulFaceDisassociations": refused,
                "UserStatus": c.user_status(user),
            }))
        })?
    }

    pub(super) fn search_users(&self, sources: Sources, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let (user, face) = (r.opt_str("UserId"), r.opt_str("FaceId"));
        self.with(id, |c| match (user, face) {
            (Some(user), None) => {
                if !c.users.contains_key(user) {
                    return Err(no_user(user));
                }
                // A user is as close to another as their two closest faces.
                let mut best: Vec<Value> = Vec::new();
                for f in c.user_faces(user) {
                    best.extend(score_users(sources, c, &f.signature, Some(user), r));
                }
                best.sort_by(|a, b| {
                    b["Similarity"]
                        .as_f64()
                        .unwrap_or(0.0)
                        .total_cmp(&a["Similarity"].as_f64().unwrap_or(0.0))
                });
                let mut seen = Vec::new();
                best.retain(|m| {
                    let id = m["User"]["UserId"].clone();
                    let first = !seen.contains(&id);
                    seen.push(id);
                    first
                });
                Ok(json!({"UserMatches": best, "FaceModelVersion": FACE_MODEL_VERSION, "SearchedUser": {"UserId": user}}))
            }
            (None, Some(face_id)) => {
                let face = c
                    .faces
                    .iter()
                    .find(|f| f.face_id == face_id)
                    .ok_or_else(|| AwsError::not_found(format!("The face id: {face_id} does not exist")))?;
                let matches = score_users(sources, c, &face.signature, None, r);
                Ok(json!({"UserMatches": matches, "FaceModelVersion": FACE_MODEL_VERSION, "SearchedFace": {"FaceId": face_id}}))
            }
            _ => Err(AwsError::invalid("Exactly one of UserId or FaceId must be given")),
        })?
    }

    pub(super) fn search_users_by_image(&self, sources: Sources, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let image = r.image("Image", &REKOGNITION_IMAGES, sources.s3)?;
        let bar = QualityBar::of(r, "NONE");
        self.with(id, |_| ())?;
        let faces = sources.engine.faces(&image)?;
        let all = Wanted::default();
        // The largest face that clears the bar is searched; every other face is reported with its reasons.
        let (clear, _under) = under_bar(&faces, &bar);
        let searched = *clear.first().ok_or_else(|| {
            AwsError::invalid("There are no faces in the image. Should be at least 1.")
        })?;
        let unsearched: Vec<Value> = (0..faces.len())
            .filter(|i| *i != searched)
            .map(|i| {
                let mut reasons = bar.reasons(&faces[i].spec);
                if reasons.is_empty() {
                    reasons.push("FACE_NOT_LARGEST");
                }
                json!({"FaceDetails": face_detail(&faces[i], &all), "Reasons": reasons})
            })
            .collect();
        let matches = self.with(id, |c| {
            score_users(sources, c, &faces[searched].signature, None, r)
        })?;
        Ok(json!({
            "UserMatches": matches,
            "FaceModelVersion": FACE_MODEL_VERSION,
            "SearchedFace": {"FaceDetail": face_detail(&faces[searched], &all)},
            "UnsearchedFaces": unsearched,
        }))
    }
}
