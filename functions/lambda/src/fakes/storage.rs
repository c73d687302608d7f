//! In-memory image bucket (versioned) and face table (conditional writes, locks) for handler tests.

use super::Faults;
use crate::ports::*;
use async_trait::async_trait;
use riv_domain::events::{Properties, RowKey, WrittenObject};
use riv_domain::names::table;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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
    /// What `pick` takes from the rows of one user (one partition, as a DynamoDB Query reads it).
    fn user_rows<T>(
        &self,
        user_id: &str,
        mut pick: impl FnMut(&(String, String), &Row) -> Option<T>,
    ) -> Vec<T> {
        let pk = table::user_pk(user_id);
        self.rows
            .lock()
            .unwrap()
            .iter()
            .filter(|((p, _), _)| *p == pk)
            .filter_map(|(key, row)| pick(key, row))
            .collect()
    }

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
        Ok(self.user_rows(user_id, |_, row| match row {
            Row::Face(f) => Some(f.clone()),
            Row::Profile(_) => None,
        }))
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
        Ok(self.user_rows(user_id, |(pk, sk), row| {
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
        }))
    }
}
