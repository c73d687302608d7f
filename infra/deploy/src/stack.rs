//! Artifact bucket, uploads keyed by content hash, and a create-or-update of the stack that waits for the
//! end and says which resource failed and why.

use crate::build::Manifest;
use crate::Target;
use aws_sdk_cloudformation::types::StackStatus;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use riv_infra::naming::code_key_parameter;
use std::collections::BTreeMap;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DeployError {
    #[error("{action} failed: {detail}")]
    Aws { action: String, detail: String },
    #[error("stack {stack} ended in {status}: {reason}")]
    Failed {
        stack: String,
        status: String,
        reason: String,
    },
    #[error("{0}")]
    Other(String),
}

pub(crate) fn aws<E: std::error::Error + ProvideErrorMetadata + 'static>(
    action: &str,
) -> impl FnOnce(E) -> DeployError + '_ {
    move |e| DeployError::Aws {
        action: action.to_string(),
        detail: e
            .message()
            .map(str::to_string)
            .unwrap_or_else(|| DisplayErrorContext(&e).to_string()),
    }
}

/// `riv-artifacts-<account>-<region>`: one per account and region, so stacks of a region share uploads.
pub async fn artifact_bucket_name(target: &Target) -> Result<String, DeployError> {
    let identity = target
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(aws("sts GetCallerIdentity"))?;
    let account = identity.account().unwrap_or("000000000000");
    Ok(format!("riv-artifacts-{account}-{}", target.region))
}

/// Creates a bucket in the target's region (us-east-1 takes no location constraint).
pub async fn create_bucket(target: &Target, bucket: &str) -> Result<(), DeployError> {
    let mut create = target.s3.create_bucket().bucket(bucket);
    if target.region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    target.region.as_str(),
                ))
                .build(),
        );
    }
    create
        .send()
        .await
        .map(|_| ())
        .map_err(aws(&format!("creating bucket {bucket}")))
}

/// Keeps every version of every object from now on.
pub async fn enable_versioning(target: &Target, bucket: &str) -> Result<(), DeployError> {
    target
        .s3
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(aws(&format!("enabling versioning on {bucket}")))
}

/// Days an artifact superseded by a newer upload of the same key is kept.
pub const ARTIFACT_NONCURRENT_DAYS: i32 = 30;

/// The region's artifact bucket, created if missing: versioned, encrypted, private, and with a lifecycle that
/// expires superseded versions and abandoned uploads (unreferenced artifacts are `cargo xtask cleanup`'s job).
pub async fn artifact_bucket(target: &Target) -> Result<String, DeployError> {
    let bucket = artifact_bucket_name(target).await?;
    if target.s3.head_bucket().bucket(&bucket).send().await.is_ok() {
        return Ok(bucket);
    }
    create_bucket(target, &bucket).await?;
    enable_versioning(target, &bucket).await?;
    let block = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .block_public_policy(true)
        .ignore_public_acls(true)
        .restrict_public_buckets(true)
        .build();
    target
        .s3
        .put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(block)
        .send()
        .await
        .map_err(aws("blocking public access to the artifact bucket"))?;
    use aws_sdk_s3::types::{
        AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
        LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration, ServerSideEncryption,
        ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    };
    let sse = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(|e| DeployError::Other(e.to_string()))?;
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(sse)
                .build(),
        )
        .build()
        .map_err(|e| DeployError::Other(e.to_string()))?;
    target
        .s3
        .put_bucket_encryption()
        .bucket(&bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .map_err(aws("encrypting the artifact bucket"))?;
    let rule = LifecycleRule::builder()
        .id("ExpireSupersededArtifacts")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(ARTIFACT_NONCURRENT_DAYS)
                .build(),
        )
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(1)
                .build(),
        )
        .build()
        .map_err(|e| DeployError::Other(e.to_string()))?;
    let lifecycle = BucketLifecycleConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|e| DeployError::Other(e.to_string()))?;
    target
        .s3
        .put_bucket_lifecycle_configuration()
        .bucket(&bucket)
        .lifecycle_configuration(lifecycle)
        .send()
        .await
        .map_err(aws("setting the artifact bucket's lifecycle"))?;
    Ok(bucket)
}

/// Uploads each zip under `functions/<name>/<sha256>.zip` unless it is there already; returns the keys.
pub async fn upload_artifacts(
    target: &Target,
    bucket: &str,
    manifest: &Manifest,
    progress: &dyn Fn(&str),
) -> Result<BTreeMap<String, String>, DeployError> {
    let mut keys = BTreeMap::new();
    for artifact in &manifest.functions {
        let key = format!("functions/{}/{}.zip", artifact.function, artifact.sha256);
        let present = target
            .s3
            .head_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .is_ok();
        if !present {
            let body = aws_sdk_s3::primitives::ByteStream::from_path(&artifact.zip)
                .await
                .map_err(|e| {
                    DeployError::Other(format!("reading {}: {e}", artifact.zip.display()))
                })?;
            target
                .s3
                .put_object()
                .bucket(bucket)
                .key(&key)
                .body(body)
                .send()
                .await
                .map_err(aws("uploading an artifact"))?;
            progress(&format!(
                "uploaded {} ({} KiB)",
                artifact.function,
                artifact.size / 1024
            ));
        }
        keys.insert(artifact.function.clone(), key);
    }
    Ok(keys)
}

/// The stack parameters that point at uploaded code.
pub fn code_parameters(bucket: &str, keys: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut params: BTreeMap<String, String> = keys
        .iter()
        .map(|(function, key)| (code_key_parameter(function), key.clone()))
        .collect();
    params.insert(
        riv_infra::stack::param::ARTIFACT_BUCKET.into(),
        bucket.into(),
    );
    params
}

/// How a deploy ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployed {
    pub stack: String,
    pub changed: bool,
    pub status: String,
    pub outputs: BTreeMap<String, String>,
}

pub(crate) fn in_progress(status: &StackStatus) -> bool {
    status.as_str().ends_with("_IN_PROGRESS")
}

/// The stack's status, `None` when it does not exist.
pub async fn status(target: &Target, stack: &str) -> Result<Option<StackStatus>, DeployError> {
    match target
        .cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
    {
        Ok(out) => Ok(out.stacks().first().and_then(|s| s.stack_status().cloned())),
        Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => Ok(None),
        Err(e) => Err(aws("cloudformation DescribeStacks")(e)),
    }
}

/// Puts the template where CloudFormation reads it (too large for an inline body) and returns its URL.
pub async fn upload_template(
    target: &Target,
    bucket: &str,
    stack: &str,
    yaml: &str,
) -> Result<String, DeployError> {
    use sha2::Digest;
    let key = format!(
        "templates/{stack}/{}.yaml",
        hex::encode(sha2::Sha256::digest(yaml))
    );
    target
        .s3
        .put_object()
        .bucket(bucket)
        .key(&key)
        .body(yaml.as_bytes().to_vec().into())
        .send()
        .await
        .map_err(aws("uploading the template"))?;
    Ok(target.object_url(bucket, &key))
}

/// How often to ask CloudFormation for progress: LocalStack answers in milliseconds, AWS in seconds.
pub fn poll_interval(target: &Target) -> Duration {
    if target.endpoint.is_some() {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(3)
    }
}

/// Polls until the stack leaves its `*_IN_PROGRESS` state; a deleted stack reads as `DELETE_COMPLETE`.
async fn wait(target: &Target, stack: &str) -> Result<StackStatus, DeployError> {
    let pause = poll_interval(target);
    loop {
        match status(target, stack).await? {
            Some(s) if in_progress(&s) => tokio::time::sleep(pause).await,
            Some(s) => return Ok(s),
            None => return Ok(StackStatus::DeleteComplete),
        }
    }
}

/// Deletes the stack and waits; a stack that is gone already is success.
pub async fn delete_stack(target: &Target, stack: &str) -> Result<(), DeployError> {
    if status(target, stack).await?.is_none() {
        return Ok(());
    }
    target
        .cloudformation
        .delete_stack()
        .stack_name(stack)
        .send()
        .await
        .map_err(aws("cloudformation DeleteStack"))?;
    match wait(target, stack).await? {
        StackStatus::DeleteComplete => Ok(()),
        other => Err(DeployError::Failed {
            stack: stack.into(),
            status: other.as_str().into(),
            reason: first_failure(target, stack).await,
        }),
    }
}

/// The first resource that failed, with CloudFormation's reason, from every page of the stack's events.
pub(crate) async fn first_failure(target: &Target, stack: &str) -> String {
    let mut events = Vec::new();
    let mut pages = target
        .cloudformation
        .describe_stack_events()
        .stack_name(stack)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => events.extend(page.stack_events().iter().cloned()),
            Err(e) => return format!("the stack's events could not be read: {e}"),
        }
    }
    // Newest first: the first failure is the last one listed. A resource "cancelled" because another failed
    // is not the cause.
    events
        .iter()
        .rev()
        .find(|e| {
            e.resource_status()
                .is_some_and(|s| s.as_str().ends_with("_FAILED"))
                && !e
                    .resource_status_reason()
                    .unwrap_or_default()
                    .contains("cancelled")
        })
        .map(|e| {
            format!(
                "{} ({}): {}",
                e.logical_resource_id().unwrap_or("?"),
                e.resource_type().unwrap_or("?"),
                e.resource_status_reason().unwrap_or("no reason given")
            )
        })
        .unwrap_or_else(|| "no failed resource reported".into())
}

/// The stack's outputs.
pub async fn outputs(
    target: &Target,
    stack: &str,
) -> Result<BTreeMap<String, String>, DeployError> {
    let out = target
        .cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(aws("cloudformation DescribeStacks"))?;
    Ok(out.stacks().first().map(stack_outputs).unwrap_or_default())
}

/// A described stack's outputs by key.
pub(crate) fn stack_outputs(
    stack: &aws_sdk_cloudformation::types::Stack,
) -> BTreeMap<String, String> {
    stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect()
}

/// A delete whose target is gone already (the `missing` error code) succeeded all the same.
pub(crate) fn gone_is_fine<T, E>(
    result: Result<T, E>,
    missing: &str,
    action: &str,
) -> Result<(), DeployError>
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(missing) => Ok(()),
        Err(e) => Err(aws(action)(e)),
    }
}
