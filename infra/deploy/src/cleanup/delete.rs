//! Deleting the leftovers `cleanup` chose, one at a time; one that is gone already counts as deleted.

use super::plan::{Kind, Leftover};
use crate::buckets::{delete_versions, empty_and_delete_bucket, version_ids};
use crate::stack::{aws, gone_is_fine, DeployError};
use crate::Target;

const NOT_FOUND: &str = "ResourceNotFoundException";

/// Deletes one leftover; one that is gone already counts as deleted.
pub async fn delete(
    target: &Target,
    leftover: &Leftover,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), DeployError> {
    let name = leftover.name.as_str();
    match leftover.kind {
        Kind::ImageBucket | Kind::AccessLogBucket => {
            match target.s3.head_bucket().bucket(name).send().await {
                Ok(_) => {}
                Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(()),
                Err(e) => return Err(aws(&format!("s3 HeadBucket {name}"))(e)),
            }
            empty_and_delete_bucket(target, name, &|e| progress(&format!("  {name}: {e}")))
                .await
                .map(|_| ())
        }
        Kind::Key => crate::cleanup::keys::schedule_deletion(target, name).await,
        Kind::Collection => {
            let result = target
                .rekognition
                .delete_collection()
                .collection_id(name)
                .send()
                .await;
            gone_is_fine(result, NOT_FOUND, "deleting a leftover collection")
        }
        Kind::Artifact => {
            let (bucket, key) = name
                .strip_prefix("s3://")
                .and_then(|rest| rest.split_once('/'))
                .ok_or_else(|| DeployError::Other(format!("{name} is not an s3:// address")))?;
            let ids = version_ids(target, bucket, Some(key)).await?;
            delete_versions(target, bucket, ids).await.map(|_| ())
        }
        Kind::LogGroup => {
            let result = target
                .logs
                .delete_log_group()
                .log_group_name(name)
                .send()
                .await;
            gone_is_fine(result, NOT_FOUND, "deleting a leftover log group")
        }
    }
}
