//! In-memory image bucket (versioned) and face table (conditional writes, attempts) for handler tests.

use super::Faults;
use crate::ports::*;
use async_trait::async_trait;
use riv_domain::attempt::{AttemptStatus, ProfileStatus};
use riv_domain::events::WrittenObject;
use riv_domain::guard::Counter;
use riv_domain::names::table;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Versions of one key, oldest first: (version id, bytes).
pub type Versions = Vec<(String, Vec<u8>)>;

/// A versioned bucket: key → versions.
#[derive(Default)]
pub struct FakeStore {
    pub faults: Faults,
    pub objects: Mutex<BTreeMap<String, Versions>>,
    /// Per version id: the content type and the owner metadata it was written with.
    pub heads: Mutex<BTreeMap<String, (String, Option<String>)>>,
    next_version: AtomicUsize,
}

impl FakeStore {
    /// Stores `bytes` as a presigned PUT would: with its content type and owner metadata.
    pub fn upload(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        owner: Option<&str>,
    ) -> String {
        let version = self.write(key, bytes);
        self.heads.lock().unwrap().insert(
            version.clone(),
            (content_type.to_string(), owner.map(str::to_string)),
        );
        version
    }

    fn write(&self, key: &str, bytes: Vec<u8>) -> String {
        let version = format!("v{}", self.next_version.fetch_add(1, Ordering::SeqCst));
        self.objects
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default()
            .push((version.clone(), bytes));
        version
    }

    /// The bytes of one version (the latest when none is named).
    pub fn version(&self, key: &str, version: Option<&str>) -> Option<Vec<u8>> {
        let objects = self.objects.lock().unwrap();
        let versions = objects.get(key)?;
        match version {
            Some(v) => versions.iter().find(|(id, _)| id == v),
            None => versions.last(),
        }
        .map(|(_, bytes)| bytes.clone())
    }

    /// Every key that still has a version.
    pub fn keys(&self) -> Vec<String> {
        self.objects.lock().unwrap().keys().cloned().collect()
    }
}

const S3: &str = "s3";

/// A stand-in for an ETag: equal bytes, equal tag.
fn fingerprint(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

#[async_trait]
impl ImageStore for FakeStore {
    fn bucket(&self) -> &str {
        "fake-bucket"
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectHead>, ServiceError> {
        self.faults.check(S3, "HeadObject")?;
        let latest = self
            .objects
            .lock()
            .unwrap()
            .get(key)
            .and_then(|versions| versions.last().cloned());
        Ok(latest.map(|(version, bytes)| {
            let (content_type, owner) = self
                .heads
                .lock()
                .unwrap()
                .get(&version)
                .cloned()
                .map_or((None, None), |(t, o)| (Some(t), o));
            ObjectHead {
                content_type,
                content_length: bytes.len() as u64,
                owner,
                e_tag: Some(format!("\"{:x}\"", fingerprint(&bytes))),
                version_id: Some(version),
            }
        }))
    }

    async fn read_start(
        &self,
        object: &WrittenObject,
        length: u64,
    ) -> Result<Vec<u8>, ServiceError> {
        self.faults.check(S3, "GetObject")?;
        let mut bytes = self
            .version(&object.key, object.version_id.as_deref())
            .ok_or_else(|| {
                ServiceError::new(S3, "GetObject", ServiceErrorKind::NotFound, "NoSuchKey")
            })?;
        bytes.truncate(length as usize);
        Ok(bytes)
    }

    async fn copy(
        &self,
        from: &WrittenObject,
        key: &str,
        content_type: &str,
    ) -> Result<WrittenObject, ServiceError> {
        self.faults.check(S3, "CopyObject")?;
        let bytes = self
            .version(&from.key, from.version_id.as_deref())
            .ok_or_else(|| {
                ServiceError::new(
                    S3,
                    "CopyObject",
                    ServiceErrorKind::NotFound,
                    "NoSuchVersion",
                )
            })?;
        let version = self.upload(key, bytes, content_type, None);
        Ok(WrittenObject {
            key: key.to_string(),
            version_id: Some(version),
        })
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<WrittenObject, ServiceError> {
        self.faults.check(S3, "PutObject")?;
        let version = self.upload(key, bytes, content_type, None);
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
    Attempt(Attempt),
    Guard(Counter),
}

/// The face table, keyed by (PK, SK), with the same conditions as the DynamoDB adapter.
#[derive(Default)]
pub struct FakeRecords {
    pub faults: Faults,
    pub rows: Mutex<BTreeMap<(String, String), Row>>,
}

fn conflict(operation: &'static str, what: &str) -> ServiceError {
    ServiceError::new(DYNAMODB, operation, ServiceErrorKind::Conflict, what)
}

fn profile_key(user_id: &str) -> (String, String) {
    (table::user_pk(user_id), table::PROFILE.to_string())
}

fn face_key(user_id: &str, face_id: &str) -> (String, String) {
    (table::user_pk(user_id), table::face_sk(face_id))
}

fn attempt_key(attempt_id: &str) -> (String, String) {
    (table::attempt_pk(attempt_id), table::ATTEMPT_SK.to_string())
}

fn guard_key(user_id: &str) -> (String, String) {
    (table::guard_pk(user_id), table::GUARD_SK.to_string())
}

impl FakeRecords {
    /// Rows that are part of a user (profile and faces), not attempts or counters.
    pub fn row_count(&self) -> usize {
        self.rows
            .lock()
            .unwrap()
            .values()
            .filter(|r| matches!(r, Row::Profile(_) | Row::Face(_)))
            .count()
    }

    /// The lockout counter of a UserId, as stored.
    pub fn counter(&self, user_id: &str) -> Option<Counter> {
        match self.rows.lock().unwrap().get(&guard_key(user_id)) {
            Some(Row::Guard(c)) => Some(*c),
            _ => None,
        }
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.rows
            .lock()
            .unwrap()
            .values()
            .filter_map(|r| match r {
                Row::Attempt(a) => Some(a.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn insert_profile(&self, profile: Profile) {
        self.rows
            .lock()
            .unwrap()
            .insert(profile_key(&profile.user_id), Row::Profile(profile));
    }

    pub fn insert_face(&self, face: FaceRecord) {
        self.rows
            .lock()
            .unwrap()
            .insert(face_key(&face.user_id, &face.face.face_id), Row::Face(face));
    }

    /// A registered user holding `face_id` (the profile is created on first use), as a commit leaves them.
    pub fn live_user(&self, user_id: &str, collection: &str, face_id: &str) {
        if !self
            .rows
            .lock()
            .unwrap()
            .contains_key(&profile_key(user_id))
        {
            self.insert_profile(active_profile(user_id));
        }
        self.insert_face(FaceRecord {
            user_id: user_id.into(),
            face: super::written_face(collection, face_id),
            image: WrittenObject {
                key: format!("faces/{user_id}/{face_id}.png"),
                version_id: None,
            },
            attempt_id: "seeded".into(),
            created_at: "t".into(),
        });
    }

    pub fn insert_attempt(&self, attempt: Attempt) {
        self.rows
            .lock()
            .unwrap()
            .insert(attempt_key(&attempt.attempt_id), Row::Attempt(attempt));
    }
}

/// A live profile without properties.
pub fn active_profile(user_id: &str) -> Profile {
    Profile {
        user_id: user_id.into(),
        status: ProfileStatus::Active,
        properties: Default::default(),
        id_card: None,
        id_card_data: None,
        attempt_id: "seeded".into(),
        created_at: "t".into(),
        version: 1,
        expires_at_ms: 0,
    }
}

type Rows = BTreeMap<(String, String), Row>;

fn attempt_in<'a>(rows: &'a mut Rows, attempt_id: &str) -> Option<&'a mut Attempt> {
    match rows.get_mut(&attempt_key(attempt_id)) {
        Some(Row::Attempt(a)) => Some(a),
        _ => None,
    }
}

fn profile_in<'a>(rows: &'a mut Rows, user_id: &str) -> Option<&'a mut Profile> {
    match rows.get_mut(&profile_key(user_id)) {
        Some(Row::Profile(p)) => Some(p),
        _ => None,
    }
}

/// Checks every condition of a commit without writing, as a transaction does.
fn commit_holds(rows: &mut Rows, c: &Commit) -> bool {
    let own = attempt_in(rows, &c.attempt_id).is_some_and(|a| {
        a.status == AttemptStatus::Pending && a.expires_at_ms > c.now_ms && a.beaten_by.is_none()
    });
    let profile = match (&c.profile, profile_in(rows, &c.face.user_id)) {
        (ProfileChange::Create(_), Some(p)) => {
            p.status == ProfileStatus::Pending && p.attempt_id == c.attempt_id
        }
        (
            ProfileChange::Update {
                expected_version, ..
            },
            Some(p),
        ) => p.is_active() && p.version == *expected_version,
        (_, None) => false,
    };
    let face_free = !rows.contains_key(&face_key(&c.face.user_id, &c.face.face.face_id));
    let defeatable = c
        .defeats
        .iter()
        .all(|d| attempt_in(rows, d).is_some_and(|a| a.status == AttemptStatus::Pending));
    let passed_over_unrecorded = c
        .passed_over
        .iter()
        .all(|(user, face)| !rows.contains_key(&face_key(user, face)));
    let evictable = c
        .evict
        .iter()
        .all(|f| rows.contains_key(&face_key(&f.user_id, &f.face.face_id)));
    own && profile && face_free && defeatable && passed_over_unrecorded && evictable
}

const DYNAMODB: &str = "dynamodb";

#[async_trait]
impl FaceRecords for FakeRecords {
    async fn profile(&self, user_id: &str) -> Result<Option<Profile>, ServiceError> {
        self.faults.check(DYNAMODB, "GetItem")?;
        Ok(profile_in(&mut self.rows.lock().unwrap(), user_id).map(|p| p.clone()))
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
                _ => None,
            })
            .collect())
    }

    async fn face(&self, user_id: &str, face_id: &str) -> Result<Option<FaceRecord>, ServiceError> {
        self.faults.check(DYNAMODB, "GetItem")?;
        Ok(
            match self.rows.lock().unwrap().get(&face_key(user_id, face_id)) {
                Some(Row::Face(f)) => Some(f.clone()),
                _ => None,
            },
        )
    }

    async fn attempt(&self, attempt_id: &str) -> Result<Option<Attempt>, ServiceError> {
        self.faults.check(DYNAMODB, "GetItem")?;
        Ok(attempt_in(&mut self.rows.lock().unwrap(), attempt_id).map(|a| a.clone()))
    }

    async fn begin(&self, attempt: &Attempt, claim: Option<&Profile>) -> Result<(), ServiceError> {
        self.faults.check(DYNAMODB, "TransactWriteItems")?;
        let mut rows = self.rows.lock().unwrap();
        let attempt_free = attempt_in(&mut rows, &attempt.attempt_id)
            .is_none_or(|a| a.status == AttemptStatus::RolledBack);
        let now = riv_domain::attempt::now_ms();
        let user_free = claim.is_none()
            || profile_in(&mut rows, &attempt.user_id)
                .is_none_or(|p| p.status == ProfileStatus::Pending && p.expires_at_ms < now);
        if !(attempt_free && user_free) {
            return Err(conflict("TransactWriteItems", "taken"));
        }
        rows.insert(
            attempt_key(&attempt.attempt_id),
            Row::Attempt(attempt.clone()),
        );
        if let Some(claim) = claim {
            rows.insert(profile_key(&claim.user_id), Row::Profile(claim.clone()));
        }
        Ok(())
    }

    async fn record_face(
        &self,
        attempt_id: &str,
        face_id: &str,
        image_key: &str,
    ) -> Result<(), ServiceError> {
        self.faults.check(DYNAMODB, "RecordFace")?;
        let mut rows = self.rows.lock().unwrap();
        match attempt_in(&mut rows, attempt_id) {
            Some(a) if a.status == AttemptStatus::Pending => {
                a.face_id = Some(face_id.to_string());
                a.image_key = Some(image_key.to_string());
                Ok(())
            }
            _ => Err(conflict("UpdateItem", "not pending")),
        }
    }

    async fn commit(&self, c: &Commit) -> Result<(), ServiceError> {
        self.faults.check(DYNAMODB, "TransactWriteItems")?;
        let mut rows = self.rows.lock().unwrap();
        if !commit_holds(&mut rows, c) {
            return Err(conflict("TransactWriteItems", "a condition failed"));
        }
        if let Some(a) = attempt_in(&mut rows, &c.attempt_id) {
            a.status = AttemptStatus::Committed;
        }
        match &c.profile {
            ProfileChange::Create(p) => {
                rows.insert(profile_key(&p.user_id), Row::Profile(p.clone()));
            }
            ProfileChange::Update {
                properties,
                expected_version,
                ..
            } => {
                if let Some(p) = profile_in(&mut rows, &c.face.user_id) {
                    p.properties = properties.clone();
                    p.version = expected_version + 1;
                }
            }
        }
        rows.insert(
            face_key(&c.face.user_id, &c.face.face.face_id),
            Row::Face(c.face.clone()),
        );
        for old in &c.evict {
            rows.remove(&face_key(&old.user_id, &old.face.face_id));
        }
        for d in &c.defeats {
            if let Some(a) = attempt_in(&mut rows, d) {
                a.beaten_by = Some(c.attempt_id.clone());
            }
        }
        Ok(())
    }

    async fn set_attempt_status(
        &self,
        attempt_id: &str,
        status: AttemptStatus,
    ) -> Result<(), ServiceError> {
        self.faults.check(DYNAMODB, "UpdateItem")?;
        let mut rows = self.rows.lock().unwrap();
        match attempt_in(&mut rows, attempt_id) {
            Some(a) if a.status != AttemptStatus::Committed => {
                a.status = status;
                Ok(())
            }
            _ => Err(conflict("UpdateItem", "committed or absent")),
        }
    }

    async fn release_claim(&self, user_id: &str, attempt_id: &str) -> Result<(), ServiceError> {
        self.faults.check(DYNAMODB, "DeleteItem")?;
        let mut rows = self.rows.lock().unwrap();
        if profile_in(&mut rows, user_id)
            .is_some_and(|p| p.status == ProfileStatus::Pending && p.attempt_id == attempt_id)
        {
            rows.remove(&profile_key(user_id));
        }
        Ok(())
    }

    async fn guard_counter(&self, user_id: &str) -> Result<Option<Counter>, ServiceError> {
        self.faults.check(DYNAMODB, "GetItem")?;
        Ok(self.counter(user_id))
    }

    async fn store_guard_counter(
        &self,
        user_id: &str,
        counter: &Counter,
        expected: Option<&Counter>,
    ) -> Result<(), ServiceError> {
        self.faults.check(DYNAMODB, "PutItem")?;
        let mut rows = self.rows.lock().unwrap();
        let current = match rows.get(&guard_key(user_id)) {
            Some(Row::Guard(c)) => Some(*c),
            _ => None,
        };
        if current.as_ref() != expected {
            return Err(conflict("PutItem", "the counter changed"));
        }
        rows.insert(guard_key(user_id), Row::Guard(*counter));
        Ok(())
    }

    async fn clear_guard_counter(&self, user_id: &str) -> Result<(), ServiceError> {
        self.faults.check(DYNAMODB, "DeleteItem")?;
        self.rows.lock().unwrap().remove(&guard_key(user_id));
        Ok(())
    }
}
