//! Taking a stack down completely: its image bucket, access-log bucket and KMS key are retained by CloudFormation
//! on purpose, so destroy empties the image bucket (every version, delete marker and unfinished upload, in
//! batches of 1,000 sent concurrently), deletes the stack, then deletes the image bucket, the access-log bucket
//! (last, as S3 logs the emptying into it) and any collection left, and schedules the stack's key for deletion.
//! Only buckets and keys tagged with the stack's name are touched.

use crate::buckets::{bucket_stack_tag, empty_and_delete_bucket, empty_bucket};
use crate::cleanup::inventory;
use crate::stack::{gone_is_fine, stack_outputs, DeployError};
use crate::Target;
use riv_infra::names::{output, ACCESS_LOGS, KEY_DELETION_WINDOW_DAYS, STACK_TAG};
use std::collections::BTreeMap;

/// What destroy found and removed.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Destroyed {
    pub stack_existed: bool,
    /// The first of `buckets` (what earlier versions reported).
    pub bucket: Option<String>,
    /// Every bucket removed: the stack's image and access-log buckets, and any it retained before (found by tag).
    pub buckets: Vec<String>,
    /// The stack's own KMS keys (`KmsKey=create`), scheduled for deletion.
    pub keys_scheduled: Vec<String>,
    pub objects_deleted: usize,
    pub collections_deleted: Vec<String>,
    /// A bucket named by the stack but not tagged as its own, left alone.
    pub skipped_bucket: Option<String>,
}

/// A stack as destroy sees it: its `riv:stack` tag, its status and its outputs.
struct Described {
    tag: Option<String>,
    status: Option<aws_sdk_cloudformation::types::StackStatus>,
    outputs: BTreeMap<String, String>,
}

async fn describe(target: &Target, stack: &str) -> Result<Option<Described>, DeployError> {
    Ok(crate::stack::describe(target, stack)
        .await?
        .map(|s| Described {
            status: s.stack_status().cloned(),
            tag: s
                .tags()
                .iter()
                .find(|t| t.key() == Some(STACK_TAG))
                .and_then(|t| t.value())
                .map(str::to_string),
            outputs: stack_outputs(&s),
        }))
}

/// Empties and removes everything of `stack`: the stack, its image bucket (retained by CloudFormation), and its
/// collections. Only a stack tagged `riv:stack=<stack>` is destroyed, and only buckets and collections carrying
/// that tag are touched. Buckets and collections left by an earlier, partial destroy are found by their tag, so
/// running destroy again finishes the job. Every failed delete is reported, and any makes it an error.
pub async fn destroy(
    target: &Target,
    stack: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Destroyed, DeployError> {
    let mut report = Destroyed::default();
    let mut buckets: Vec<String> = Vec::new();
    let mut collections: Vec<String> = Vec::new();
    let described = describe(target, stack).await?;
    if let Some(found) = &described {
        if found.tag.as_deref() != Some(stack) {
            return Err(DeployError::NotRiv {
                stack: stack.into(),
            });
        }
        // Refused before anything is emptied: CloudFormation will not delete a stack that is mid-change, and
        // destroy must not leave a running stack without its images.
        crate::stack::refuse_if_changing(stack, found.status.as_ref())?;
        report.stack_existed = true;
        for name in [output::IMAGE_BUCKET, output::ACCESS_LOG_BUCKET] {
            let Some(bucket) = found.outputs.get(name) else {
                continue;
            };
            if bucket_stack_tag(target, bucket).await?.as_deref() == Some(stack) {
                buckets.push(bucket.clone());
            } else {
                progress(&format!(
                    "{bucket} is not tagged {STACK_TAG}={stack}: leaving it alone"
                ));
                report.skipped_bucket = Some(bucket.clone());
            }
        }
        collections.extend(
            found
                .outputs
                .get(output::COLLECTIONS)
                .map(|c| c.split(','))
                .into_iter()
                .flatten()
                .filter(|c| !c.is_empty())
                .map(str::to_string),
        );
    }
    let mut access_logs = Vec::new();
    for bucket in inventory::tagged_buckets(target).await? {
        if bucket.stack_tag.as_deref() != Some(stack) {
            continue;
        }
        if bucket.holds.as_deref() == Some(ACCESS_LOGS) {
            access_logs.push(bucket.name.clone());
        }
        if !buckets.contains(&bucket.name) {
            buckets.push(bucket.name);
        }
    }
    // The access-log buckets go last: S3 logs the image bucket's emptying into them.
    buckets.sort_by_key(|b| access_logs.contains(b));
    for collection in inventory::collections(target).await? {
        if collection.stack_tag.as_deref() == Some(stack) && !collections.contains(&collection.name)
        {
            collections.push(collection.name);
        }
    }
    let keys: Vec<String> = crate::cleanup::keys::tagged_keys(target)
        .await?
        .into_iter()
        .filter(|k| k.stack_tag.as_deref() == Some(stack))
        .map(|k| k.name)
        .collect();
    if described.is_none() {
        if buckets.is_empty() && collections.is_empty() && keys.is_empty() {
            progress(&format!(
                "stack {stack} does not exist in {}: nothing to destroy",
                target.region
            ));
            return Ok(report);
        }
        progress(&format!(
            "stack {stack} is gone, but it left {} bucket(s), {} collection(s) and {} key(s) tagged {STACK_TAG}={stack}: removing them",
            buckets.len(),
            collections.len(),
            keys.len()
        ));
    }

    let mut failures = Vec::new();
    let mut emptied = Vec::new();
    for bucket in &buckets {
        progress(&format!("emptying {bucket} (all versions)"));
        match empty_bucket(target, bucket, &|e| progress(&format!("  {e}"))).await {
            Ok(n) => {
                report.objects_deleted += n;
                emptied.push(bucket.clone());
            }
            Err(e) => failures.push(format!("emptying {bucket}: {e}")),
        }
    }
    if described.is_some() {
        progress(&format!("deleting stack {stack}"));
        if let Err(e) = crate::stack::delete_stack(target, stack).await {
            failures.push(format!("deleting stack {stack}: {e}"));
        }
    }
    for bucket in &emptied {
        match empty_and_delete_bucket(target, bucket, &|_| {}).await {
            Ok(n) => {
                report.objects_deleted += n;
                progress(&format!("bucket {bucket} is gone"));
                report.buckets.push(bucket.clone());
            }
            Err(e) => failures.push(format!("deleting bucket {bucket}: {e}")),
        }
    }
    report.bucket = report.buckets.first().cloned();
    for collection in &collections {
        let result = target
            .rekognition
            .delete_collection()
            .collection_id(collection)
            .send()
            .await;
        let action = format!("deleting collection {collection}");
        match gone_is_fine(result, "ResourceNotFoundException", &action) {
            Ok(()) => report.collections_deleted.push(collection.clone()),
            Err(e) => failures.push(e.to_string()),
        }
    }
    // Last, and only once the data it encrypted is gone: a key that cannot decrypt a bucket left behind would
    // lose those images for good.
    if failures.is_empty() {
        for key in &keys {
            match crate::cleanup::keys::schedule_deletion(target, key).await {
                Ok(()) => {
                    progress(&format!(
                        "key {key} is scheduled for deletion in {KEY_DELETION_WINDOW_DAYS} days"
                    ));
                    report.keys_scheduled.push(key.clone());
                }
                Err(e) => failures.push(e.to_string()),
            }
        }
    } else if !keys.is_empty() {
        progress(&format!(
            "keeping {} key(s) until the rest is gone: run destroy again",
            keys.len()
        ));
    }
    if failures.is_empty() {
        Ok(report)
    } else {
        Err(DeployError::Incomplete {
            stack: stack.into(),
            failures,
        })
    }
}
