//! Rekognition operations over in-memory collections, answered in the service's own JSON shapes: collections and
//! tags here, faces in `faces`, user vectors in `users`, Face Liveness sessions in `liveness`.

mod faces;
pub mod liveness;
mod users;

pub use faces::{polygon, words};

use crate::error::{AwsError, Result};
use crate::request::{page_token, Req, Sources};
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
    /// The user vector this face belongs to (AssociateFaces).
    user_id: Option<String>,
}

#[derive(Debug, Default)]
struct Collection {
    created: f64,
    faces: Vec<StoredFace>,
    /// User vectors by id, with the ClientRequestToken that created each (the faces name their user).
    users: BTreeMap<String, Option<String>>,
    tags: BTreeMap<String, String>,
}

impl Collection {
    fn user_faces<'a>(&'a self, user: &'a str) -> impl Iterator<Item = &'a StoredFace> + 'a {
        self.faces
            .iter()
            .filter(move |f| f.user_id.as_deref() == Some(user))
    }

    /// CREATED until a face is associated, ACTIVE after (AWS's UPDATING/CREATING are instants here).
    fn user_status(&self, user: &str) -> &'static str {
        if self.user_faces(user).next().is_some() {
            "ACTIVE"
        } else {
            "CREATED"
        }
    }
}

/// All collections of the emulated account, safe under concurrent requests. Collections are regional on AWS (a
/// stack of the same name in two regions owns two collections of the same id), so they are keyed by region.
#[derive(Default)]
pub struct Rekognition {
    collections: RwLock<Collections>,
    pub liveness: liveness::Sessions,
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

fn string_map(r: &Req, field: &str) -> BTreeMap<String, String> {
    r.0.get(field)
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn no_collection(id: &str) -> AwsError {
    AwsError::not_found(format!("The collection id: {id} does not exist"))
}

type Collections = BTreeMap<(String, String), Collection>;

impl Rekognition {
    /// Answers one operation for a caller in `region` (the SigV4 credential scope's).
    pub fn call(&self, sources: Sources, region: &str, op: &str, body: &Value) -> Result<Value> {
        let regional = Regional {
            rekognition: self,
            region,
        };
        regional.call(sources, op, body)
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
            .map_err(|_| AwsError::internal("state poisoned"))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, Collections>> {
        self.rekognition
            .collections
            .write()
            .map_err(|_| AwsError::internal("state poisoned"))
    }

    fn call(&self, sources: Sources, op: &str, body: &Value) -> Result<Value> {
        let r = Req(body);
        match op {
            "CreateCollection" => self.create_collection(&r),
            "DeleteCollection" => self.delete_collection(&r),
            "DescribeCollection" => self.describe_collection(&r),
            "ListCollections" => self.list_collections(&r),
            "ListTagsForResource" => self.list_tags(&r),
            "TagResource" => self.tag_resource(&r),
            "UntagResource" => self.untag_resource(&r),
            "DetectFaces" => faces::detect_faces(sources, &r),
            "IndexFaces" => self.index_faces(sources, &r),
            "SearchFacesByImage" => self.search_faces_by_image(sources, &r),
            "SearchFaces" => self.search_faces(sources, &r),
            "CompareFaces" => faces::compare_faces(sources, &r),
            "DeleteFaces" => self.delete_faces(&r),
            "ListFaces" => self.list_faces(&r),
            "DetectText" => faces::detect_text(sources, &r),
            "CreateUser" => self.create_user(&r),
            "DeleteUser" => self.delete_user(&r),
            "ListUsers" => self.list_users(&r),
            "AssociateFaces" => self.associate_faces(sources, &r),
            "DisassociateFaces" => self.disassociate_faces(&r),
            "SearchUsers" => self.search_users(sources, &r),
            "SearchUsersByImage" => self.search_users_by_image(sources, &r),
            "CreateFaceLivenessSession" => self.rekognition.liveness.create(self.region, &r),
            "GetFaceLivenessSessionResults" => self.rekognition.liveness.results(self.region, &r),
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
            .ok_or_else(|| no_collection(id))
    }

    fn with_mut<T>(&self, id: &str, f: impl FnOnce(&mut Collection) -> T) -> Result<T> {
        let mut collections = self.write()?;
        collections
            .get_mut(&self.key(id))
            .map(f)
            .ok_or_else(|| no_collection(id))
    }

    fn create_collection(&self, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let tags = string_map(r, "Tags");
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
                tags,
                ..Collection::default()
            },
        );
        Ok(
            json!({"StatusCode": 200, "CollectionArn": collection_arn(self.region, id), "FaceModelVersion": FACE_MODEL_VERSION}),
        )
    }

    fn delete_collection(&self, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        let mut collections = self.write()?;
        collections
            .remove(&self.key(id))
            .map(|_| json!({"StatusCode": 200}))
            .ok_or_else(|| no_collection(id))
    }

    fn describe_collection(&self, r: &Req) -> Result<Value> {
        let id = r.str("CollectionId")?;
        self.with(id, |c| {
            json!({
                "FaceCount": c.faces.len(),
                "UserCount": c.users.len(),
                "FaceModelVersion": FACE_MODEL_VERSION,
                // DescribeCollection's ARN is whole, unlike CreateCollection's.
                "CollectionARN": format!("arn:{}", collection_arn(self.region, id)),
                "CreationTimestamp": c.created,
            })
        })
    }

    fn list_collections(&self, r: &Req) -> Result<Value> {
        let listing = format!("collections:{}", self.region);
        let max = r.number("MaxResults", 1000.0) as usize;
        let start = r.page_start(&listing)?;
        let collections = self.read()?;
        let ids: Vec<&String> = collections
            .keys()
            .filter(|(region, _)| region == self.region)
            .map(|(_, id)| id)
            .collect();
        let page: Vec<&String> = ids.iter().skip(start).take(max).copied().collect();
        let mut out = json!({
            "CollectionIds": page,
            "FaceModelVersions": page.iter().map(|_| FACE_MODEL_VERSION).collect::<Vec<_>>(),
        });
        if start + page.len() < ids.len() {
            out["NextToken"] = json!(page_token(&listing, start + page.len()));
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
            .ok_or_else(|| no_collection(id))
    }

    fn list_tags(&self, r: &Req) -> Result<Value> {
        self.tagged(r, |c| json!({"Tags": c.tags}))
    }

    fn tag_resource(&self, r: &Req) -> Result<Value> {
        let tags = string_map(r, "Tags");
        self.tagged(r, |c| {
            c.tags.extend(tags);
            json!({})
        })
    }

    fn untag_resource(&self, r: &Req) -> Result<Value> {
        let keys = r.strings("TagKeys");
        self.tagged(r, |c| {
            c.tags.retain(|k, _| !keys.contains(k));
            json!({})
        })
    }
}
