//! Artifact bucket, uploads keyed by content hash, and a create-or-update of the stack that waits for the
//! end and says which resource failed and why.

use crate::build::Manifest;
use crate::Target;
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus, Tag};
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

fn aws<E: std::error::Error + ProvideErrorMetadata + 'static>(
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
pub async fn artifact_bucket(target: &Target) -> Result<String, DeployError> {
    let identity = target
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(aws("sts GetCallerIdentity"))?;
    let account = identity.account().unwrap_or("000000000000");
    let bucket = format!("riv-artifacts-{account}-{}", target.region);
    if target.s3.head_bucket().bucket(&bucket).send().await.is_ok() {
        return Ok(bucket);
    }
    let mut create = target.s3.create_bucket().bucket(&bucket);
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
        .map_err(aws("creating the artifact bucket"))?;
    target
        .s3
        .put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(aws("enabling artifact bucket versioning"))?;
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

fn in_progress(status: &StackStatus) -> bool {
    status.as_str().ends_with("_IN_PROGRESS")
}

async fn status_of(target: &Target, stack: &str) -> Result<Option<StackStatus>, DeployError> {
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

/// Creates the stack, or updates it when it exists ("no updates" is success), and waits for the end.
pub async fn create_or_update(
    target: &Target,
    stack: &str,
    template_yaml: &str,
    bucket: &str,
    parameters: &BTreeMap<String, String>,
    progress: &dyn Fn(&str),
) -> Result<Deployed, DeployError> {
    use sha2::Digest;
    let key = format!(
        "templates/{stack}/{}.yaml",
        hex::encode(sha2::Sha256::digest(template_yaml))
    );
    target
        .s3
        .put_object()
        .bucket(bucket)
        .key(&key)
        .body(template_yaml.as_bytes().to_vec().into())
        .send()
        .await
        .map_err(aws("uploading the template"))?;
    let url = target.object_url(bucket, &key);
    let params: Vec<Parameter> = parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect();
    let tag = Tag::builder()
        .key(riv_infra::stack::STACK_TAG)
        .value(stack)
        .build();

    let mut existing = status_of(target, stack).await?;
    if existing == Some(StackStatus::RollbackComplete) {
        // A failed first create can only be deleted.
        progress(&format!(
            "{stack} is in ROLLBACK_COMPLETE from a failed create: deleting it first"
        ));
        target
            .cloudformation
            .delete_stack()
            .stack_name(stack)
            .send()
            .await
            .map_err(aws("deleting the failed stack"))?;
        wait(target, stack).await?;
        existing = None;
    }
    let changed = if existing.is_none() {
        progress(&format!("creating stack {stack}"));
        match target
            .cloudformation
            .create_stack()
            .stack_name(stack)
            .template_url(&url)
            .set_parameters(Some(params))
            .capabilities(Capability::CapabilityIam)
            .tags(tag)
            .send()
            .await
        {
            Ok(_) => {}
            // A retried create whose first attempt went through: the stack is ours and on its way.
            Err(e) if e.code() == Some("AlreadyExistsException") => {}
            Err(e) => return Err(aws("cloudformation CreateStack")(e)),
        }
        true
    } else {
        progress(&format!("updating stack {stack}"));
        match target
            .cloudformation
            .update_stack()
            .stack_name(stack)
            .template_url(&url)
            .set_parameters(Some(params))
            .capabilities(Capability::CapabilityIam)
            .tags(tag)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e)
                if e.message()
                    .is_some_and(|m| m.contains("No updates are to be performed")) =>
            {
                false
            }
            Err(e) => return Err(aws("cloudformation UpdateStack")(e)),
        }
    };
    let status = if changed {
        wait(target, stack).await?
    } else {
        existing.unwrap_or(StackStatus::CreateComplete)
    };
    let ok = matches!(
        status,
        StackStatus::CreateComplete | StackStatus::UpdateComplete
    );
    if !ok {
        return Err(DeployError::Failed {
            stack: stack.into(),
            status: status.as_str().into(),
            reason: first_failure(target, stack).await,
        });
    }
    Ok(Deployed {
        stack: stack.into(),
        changed,
        status: status.as_str().into(),
        outputs: outputs(target, stack).await?,
    })
}

/// Polls until the stack leaves its `*_IN_PROGRESS` state; a deleted stack reads as `DELETE_COMPLETE`.
async fn wait(target: &Target, stack: &str) -> Result<StackStatus, DeployError> {
    let pause = if target.endpoint.is_some() {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(5)
    };
    loop {
        match status_of(target, stack).await? {
            Some(s) if in_progress(&s) => tokio::time::sleep(pause).await,
            Some(s) => return Ok(s),
            None => return Ok(StackStatus::DeleteComplete),
        }
    }
}

/// The first resource that failed, with CloudFormation's reason.
async fn first_failure(target: &Target, stack: &str) -> String {
    let Ok(out) = target
        .cloudformation
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
    else {
        return "no stack events available".into();
    };
    out.stack_events()
        .iter()
        .rev()
        .find(|e| {
            e.resource_status()
                .is_some_and(|s| s.as_str().ends_with("_FAILED"))
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
    Ok(out
        .stacks()
        .first()
        .map(|s| {
            s.outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
                .collect()
        })
        .unwrap_or_default())
}
