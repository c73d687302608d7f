//! The region's artifact bucket and what deploy puts in it: function zips keyed by content hash, and templates.
//!
//! The bucket's name (`riv-artifacts-<account>-<region>`) is predictable, so anyone may create it first in
//! their own account and wait for our code and templates: a planted `bootstrap.zip` or a swapped template would
//! then run under our `CAPABILITY_IAM` change set. So every call names the owner it expects
//! (`ExpectedBucketOwner`, the caller's account), a bucket owned by anyone else stops deploy, and an existing
//! bucket is used only when it is versioned, encrypted and private.

use crate::build::Manifest;
use crate::stack::{aws, DeployError};
use crate::Target;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus,
    ExpirationStatus, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use riv_infra::names::param;
use std::collections::BTreeMap;

/// Days an artifact superseded by a newer upload of the same key is kept.
pub const ARTIFACT_NONCURRENT_DAYS: i32 = 30;

/// The artifact bucket of a region, and the account that must own it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactBucket {
    pub name: String,
    pub owner: String,
}

/// The caller's account.
pub async fn account(target: &Target) -> Result<String, DeployError> {
    let identity = target
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(aws("sts GetCallerIdentity"))?;
    identity
        .account()
        .map(str::to_string)
        .ok_or_else(|| DeployError::Other("sts GetCallerIdentity named no account".into()))
}

/// `riv-artifacts-<account>-<region>`: one per account and region, so stacks of a region share uploads.
pub async fn artifact_bucket_name(target: &Target) -> Result<ArtifactBucket, DeployError> {
    let owner = account(target).await?;
    Ok(ArtifactBucket {
        name: format!("riv-artifacts-{owner}-{}", target.region),
        owner,
    })
}

/// The region's artifact bucket, created if missing: versioned, encrypted, private, and with a lifecycle that
/// expires superseded versions and abandoned uploads (unreferenced artifacts are `cargo xtask cleanup`'s job).
/// A bucket of that name owned by another account, or one of ours that is not versioned, encrypted and
/// private, stops deploy before anything is uploaded.
pub async fn artifact_bucket(target: &Target) -> Result<ArtifactBucket, DeployError> {
    let bucket = artifact_bucket_name(target).await?;
    let head = target
        .s3
        .head_bucket()
        .bucket(&bucket.name)
        .expected_bucket_owner(&bucket.owner)
        .send()
        .await;
    match head {
        Ok(_) => {
            verify(target, &bucket).await?;
            Ok(bucket)
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
            create(target, &bucket).await?;
            Ok(bucket)
        }
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            if status == Some(403) || matches!(e.code(), Some("Forbidden" | "AccessDenied")) {
                Err(DeployError::ForeignArtifactBucket {
                    bucket: bucket.name,
                    account: bucket.owner,
                })
            } else {
                Err(aws(&format!("s3 HeadBucket {}", bucket.name))(e))
            }
        }
    }
}

/// An existing bucket of ours must be versioned, encrypted and private before code goes into it.
async fn verify(target: &Target, bucket: &ArtifactBucket) -> Result<(), DeployError> {
    let unsafe_bucket = |problem: &str| DeployError::UnsafeArtifactBucket {
        bucket: bucket.name.clone(),
        problem: problem.to_string(),
    };
    let versioning = target
        .s3
        .get_bucket_versioning()
        .bucket(&bucket.name)
        .expected_bucket_owner(&bucket.owner)
        .send()
        .await
        .map_err(aws("s3 GetBucketVersioning on the artifact bucket"))?;
    if versioning.status() != Some(&BucketVersioningStatus::Enabled) {
        return Err(unsafe_bucket("versioning is not enabled"));
    }
    let encryption = target
        .s3
        .get_bucket_encryption()
        .bucket(&bucket.name)
        .expected_bucket_owner(&bucket.owner)
        .send()
        .await
        .map_err(aws("s3 GetBucketEncryption on the artifact bucket"))?;
    let encrypted = encryption
        .server_side_encryption_configuration()
        .is_some_and(|c| {
            c.rules()
                .iter()
                .any(|r| r.apply_server_side_encryption_by_default().is_some())
        });
    if !encrypted {
        return Err(unsafe_bucket("default encryption is not set"));
    }
    let block = target
        .s3
        .get_public_access_block()
        .bucket(&bucket.name)
        .expected_bucket_owner(&bucket.owner)
        .send()
        .await
        .map_err(aws("s3 GetPublicAccessBlock on the artifact bucket"))?;
    let private = block.public_access_block_configuration().is_some_and(|b| {
        b.block_public_acls() == Some(true)
            && b.block_public_policy() == Some(true)
            && b.ignore_public_acls() == Some(true)
            && b.restrict_public_buckets() == Some(true)
    });
    if !private {
        return Err(unsafe_bucket("public access is not blocked"));
    }
    Ok(())
}

fn build_error(what: &str) -> impl FnOnce(aws_sdk_s3::error::BuildError) -> DeployError + '_ {
    move |e| DeployError::Other(format!("building {what}: {e}"))
}

async fn create(target: &Target, bucket: &ArtifactBucket) -> Result<(), DeployError> {
    let name = &bucket.name;
    let owner = &bucket.owner;
    crate::stack::create_bucket(target, name).await?;
    target
        .s3
        .put_bucket_versioning()
        .bucket(name)
        .expected_bucket_owner(owner)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(aws("enabling versioning on the artifact bucket"))?;
    let block = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .block_public_policy(true)
        .ignore_public_acls(true)
        .restrict_public_buckets(true)
        .build();
    target
        .s3
        .put_public_access_block()
        .bucket(name)
        .expected_bucket_owner(owner)
        .public_access_block_configuration(block)
        .send()
        .await
        .map_err(aws("blocking public access to the artifact bucket"))?;
    let sse = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(build_error("the encryption rule"))?;
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(sse)
                .build(),
        )
        .build()
        .map_err(build_error("the encryption configuration"))?;
    target
        .s3
        .put_bucket_encryption()
        .bucket(name)
        .expected_bucket_owner(owner)
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
        .map_err(build_error("the lifecycle rule"))?;
    let lifecycle = BucketLifecycleConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(build_error("the lifecycle"))?;
    target
        .s3
        .put_bucket_lifecycle_configuration()
        .bucket(name)
        .expected_bucket_owner(owner)
        .lifecycle_configuration(lifecycle)
        .send()
        .await
        .map_err(aws("setting the artifact bucket's lifecycle"))?;
    Ok(())
}

/// Uploads the functions' `bootstrap.zip` as `functions/bootstrap/<sha256>.zip` unless it is there already;
/// returns its key.
pub async fn upload_artifacts(
    target: &Target,
    bucket: &ArtifactBucket,
    manifest: &Manifest,
    progress: &dyn Fn(&str),
) -> Result<String, DeployError> {
    let artifact = &manifest.bootstrap;
    let key = format!("functions/bootstrap/{}.zip", artifact.sha256);
    let present = target
        .s3
        .head_object()
        .bucket(&bucket.name)
        .expected_bucket_owner(&bucket.owner)
        .key(&key)
        .send()
        .await;
    match present {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
            progress(&format!(
                "uploading the bootstrap of {} functions ({} KiB)…",
                manifest.functions.len(),
                artifact.size / 1024
            ));
            let body = aws_sdk_s3::primitives::ByteStream::from_path(&artifact.zip)
                .await
                .map_err(|e| DeployError::Read {
                    path: artifact.zip.clone(),
                    source: Box::new(e),
                })?;
            target
                .s3
                .put_object()
                .bucket(&bucket.name)
                .expected_bucket_owner(&bucket.owner)
                .key(&key)
                .body(body)
                .send()
                .await
                .map_err(aws("uploading an artifact"))?;
        }
        Err(e) => return Err(aws(&format!("s3 HeadObject {key}"))(e)),
    }
    Ok(key)
}

/// The stack parameters that point at uploaded code.
pub fn code_parameters(bucket: &ArtifactBucket, key: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (param::CODE_KEY.into(), key.to_string()),
        (param::ARTIFACT_BUCKET.into(), bucket.name.clone()),
    ])
}

/// Puts the template where CloudFormation reads it (too large for an inline body) and returns its URL.
pub async fn upload_template(
    target: &Target,
    bucket: &ArtifactBucket,
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
        .bucket(&bucket.name)
        .expected_bucket_owner(&bucket.owner)
        .key(&key)
        .body(yaml.as_bytes().to_vec().into())
        .send()
        .await
        .map_err(aws("uploading the template"))?;
    Ok(target.object_url(&bucket.name, &key))
}
