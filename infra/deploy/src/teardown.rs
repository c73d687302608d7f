//! Taking a stack down completely: its image bucket is retained by CloudFormation on purpose, so destroy empties
//! it (every version, delete marker and unfinished upload, in batches of 1,000 sent concurrently), deletes the
//! stack, then deletes the bucket and any collection left. Only buckets tagged with the stack's name are touched.

use crate::buckets::{bucket_stack_tag, empty_bucket};
use crate::cleanup::inventory;
use crate::stack::{gone_is_fine, stack_outputs, DeployError};
use crate::Target;
use riv_infra::names::{output, STACK_TAG};
use std::collections::BTreeMap;

/// What destroy found and removed.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct Destroyed {
    pub stack_existed: bool,
    /// The first of `buckets` (what earlier versions reported).
    pub bucket: Option<String>,
    /// Every image bucket removed: the stack's, and any it retained before (found by tag).
    pub buckets: Vec<String>,
    pub objects_deleted: usize,
    pub collections_deleted: Vec<String>,
    /// A bucket named by the stack but not tagged as its own, left alone.
    pub skipped_bucket: Option<String>,
}

/// A stack as destroy sees it: its `riv:stack` tag and its outputs.
struct Described {
    tag: Option<String>,
    outputs: BTreeMap<String, String>,
}

async fn describe(target: &Target, stack: &str) -> Result<Option<Described>, DeployError> {
    Ok(crate::stack::describe(target, stack)
        .await?
        .map(|s| Described {
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
    progress: &dyn Fn(&str),
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
        report.stack_existed = true;
        if let Some(bucket) = found.outputs.get(output::IMAGE_BUCKET) {
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
    for bucket in inventory::tagged_buckets(target).await? {
        if bucket.stack_tag.as_deref() == Some(stack) && !buckets.contains(&bucket.name) {
            buckets.push(bucket.name);
        }
    }
    for collection in inventory::collections(target).await? {
        if collection.stack_tag.as_deref() == Some(stack) && !collections.contains(&collection.name)
        {
            collections.push(collection.name);
        }
    }
    if described.is_none() {
        if buckets.is_empty() && collections.is_empty() {
            progress(&format!(
                "stack {stack} does not exist in {}: nothing to destroy",
                target.region
            ));
            return Ok(report);
        }
        progress(&format!(
            "stack {stack} is gone, but it left {} bucket(s) and {} collection(s) tagged {STACK_TAG}={stack}: removing them",
            buckets.len(),
            collections.len()
        ));
    }

    let mut failures = Vec::new();
    let mut emptied = Vec::new();
    for bucket in &buckets {
        progress(&format!("emptying {bucket} (all versions)"));
        match empty_bucket(target, bucket, &|n| {
            progress(&format!("  {n} versions deleted"))
        })
        .await
        {
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
        let result = target.s3.delete_bucket().bucket(bucket).send().await;
        match gone_is_fine(result, "NoSuchBucket", &format!("deleting bucket {bucket}")) {
            Ok(()) => {
                progress(&format!("bucket {bucket} is gone"));
                report.buckets.push(bucket.clone());
            }
            Err(e) => failures.push(e.to_string()),
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
    if failures.is_empty() {
        Ok(report)
    } else {
        Err(DeployError::Incomplete {
            stack: stack.into(),
            failures,
        })
    }
}
