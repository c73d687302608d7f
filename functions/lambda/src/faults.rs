//! Fault injection for end-to-end tests of the rollback: with `RIV_INJECT_FAULT=record-write` (the stack's
//! `InjectFault` parameter) every write of a user's rows fails after the face and image were stored. Unset in
//! any real deployment; an unknown value stops the function at cold start.

use crate::ports::{AttemptRow, FaceRecord, FaceRecords, Profile, ServiceError, ServiceErrorKind};
use async_trait::async_trait;
use riv_domain::config::ConfigError;
use riv_domain::events::{Properties, RowKey};
use riv_domain::names::env;
use std::sync::Arc;
use std::time::Duration;

pub const RECORD_WRITE: &str = "record-write";

/// Wraps `records` as the environment asks.
pub fn records_from_env(
    records: Arc<dyn FaceRecords>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn FaceRecords>, ConfigError> {
    match lookup(env::INJECT_FAULT).as_deref().map(str::trim) {
        None | Some("") | Some("none") => Ok(records),
        Some(RECORD_WRITE) => {
            tracing::warn!("fault injection on: every user row write fails");
            Ok(Arc::new(FailingRecordWrites(records)))
        }
        Some(other) => Err(ConfigError::NotOneOf {
            name: env::INJECT_FAULT,
            value: other.to_string(),
            allowed: "none, record-write",
        }),
    }
}

/// Reads pass through; creating a user or adding a face fails.
pub struct FailingRecordWrites(pub Arc<dyn FaceRecords>);

fn injected(operation: &'static str) -> ServiceError {
    ServiceError::new(
        "dynamodb",
        operation,
        ServiceErrorKind::Other,
        "injected fault (RIV_INJECT_FAULT=record-write)",
    )
}

#[async_trait]
impl FaceRecords for FailingRecordWrites {
    async fn profile(&self, user_id: &str) -> Result<Option<Profile>, ServiceError> {
        self.0.profile(user_id).await
    }

    async fn faces(&self, user_id: &str) -> Result<Vec<FaceRecord>, ServiceError> {
        self.0.faces(user_id).await
    }

    async fn create_user(
        &self,
        _profile: &Profile,
        _face: &FaceRecord,
    ) -> Result<(), ServiceError> {
        Err(injected("TransactWriteItems"))
    }

    async fn add_face(
        &self,
        _face: &FaceRecord,
        _properties: &Properties,
        _at: &str,
    ) -> Result<(), ServiceError> {
        Err(injected("TransactWriteItems"))
    }

    async fn delete_row(&self, key: &RowKey) -> Result<(), ServiceError> {
        self.0.delete_row(key).await
    }

    async fn acquire_lock(
        &self,
        name: &str,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, ServiceError> {
        self.0.acquire_lock(name, owner, lease).await
    }

    async fn release_lock(&self, name: &str, owner: &str) -> Result<(), ServiceError> {
        self.0.release_lock(name, owner).await
    }

    async fn rows_of_attempt(
        &self,
        user_id: &str,
        attempt_id: &str,
    ) -> Result<Vec<AttemptRow>, ServiceError> {
        self.0.rows_of_attempt(user_id, attempt_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::FakeRecords;

    #[test]
    fn only_known_faults_are_accepted() {
        let records: Arc<dyn FaceRecords> = Arc::new(FakeRecords::default());
        assert!(records_from_env(records.clone(), |_| None).is_ok());
        assert!(records_from_env(records.clone(), |_| Some("record-write".into())).is_ok());
        assert!(records_from_env(records, |_| Some("everything".into())).is_err());
    }
}
