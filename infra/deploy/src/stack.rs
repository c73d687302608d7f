//! Artifact bucket, uploads keyed by content hash, and a create-or-update of the stack that waits for the
//! end and says which resource failed and why.

use crate::Target;
use aws_sdk_cloudformation::types::StackStatus;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use std::collections::BTreeMap;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DeployError {
    #[error("{action} failed: {detail}")]
    Aws {
        action: String,
        detail: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("stack {stack} ended in {status}: {reason}")]
    Failed {
        stack: String,
        status: String,
        reason: String,
    },
    #[error(
        "the artifact bucket {bucket} exists but is not owned by this account ({account}): someone else may \
         have created it to receive our code and templates, so nothing was uploaded. Delete it if it is yours \
         in another account, or deploy with credentials of the account that owns it"
    )]
    ForeignArtifactBucket { bucket: String, account: String },
    #[error("the artifact bucket {bucket} is not safe to deploy from: {problem}. Fix its settings (versioned, default encryption, all public access blocked) or delete it so deploy recreates it")]
    UnsafeArtifactBucket { bucket: String, problem: String },
    #[error("reading {}", .path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the change set for {stack} was not approved; it was deleted and nothing changed")]
    NotApproved { stack: String },
    #[error(
        "stack {stack} is not a Riv stack (it has no {tag}={stack} tag): destroy only removes stacks Riv deployed",
        tag = riv_infra::names::STACK_TAG
    )]
    NotRiv { stack: String },
    #[error("destroying {stack} is unfinished: {}. Run destroy again to finish; what is gone stays gone", .failures.join("; "))]
    Incomplete {
        stack: String,
        failures: Vec<String>,
    },
    #[error("{0}")]
    Other(String),
}

pub(crate) fn aws<E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static>(
    action: &str,
) -> impl FnOnce(E) -> DeployError + '_ {
    move |e| DeployError::Aws {
        action: action.to_string(),
        detail: e
            .message()
            .map(str::to_string)
            .unwrap_or_else(|| DisplayErrorContext(&e).to_string()),
        source: Box::new(e),
    }
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
    Ok(describe(target, stack)
        .await?
        .and_then(|s| s.stack_status().cloned()))
}

/// The stack as DescribeStacks tells it, `None` when it does not exist.
pub(crate) async fn describe(
    target: &Target,
    stack: &str,
) -> Result<Option<aws_sdk_cloudformation::types::Stack>, DeployError> {
    match target
        .cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
    {
        Ok(out) => Ok(out.stacks().first().cloned()),
        Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => Ok(None),
        Err(e) => Err(aws("cloudformation DescribeStacks")(e)),
    }
}

/// A stack mid-change cannot take another change (or a delete): the error names who to wait for.
pub fn refuse_if_changing(stack: &str, status: Option<&StackStatus>) -> Result<(), DeployError> {
    match status {
        Some(s) if in_progress(s) && *s != StackStatus::ReviewInProgress => {
            Err(DeployError::Other(format!(
            "stack {stack} is {}: another deploy or delete is running on it; wait until it settles \
             (`cargo xtask outputs` succeeds then), or stop an update with `aws cloudformation \
             cancel-update-stack --stack-name {stack}`",
            s.as_str()
        )))
        }
        _ => Ok(()),
    }
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

/// The physical id of the stack's resource `logical_id`.
pub async fn physical_id(
    target: &Target,
    stack: &str,
    logical_id: &str,
) -> Result<String, DeployError> {
    target
        .cloudformation
        .describe_stack_resource()
        .stack_name(stack)
        .logical_resource_id(logical_id)
        .send()
        .await
        .map_err(aws("cloudformation DescribeStackResource"))?
        .stack_resource_detail()
        .and_then(|r| r.physical_resource_id())
        .map(str::to_string)
        .ok_or_else(|| DeployError::Other(format!("{stack} has no physical id for {logical_id}")))
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

/// A described stack's parameter values by key.
pub(crate) fn stack_parameters(
    stack: &aws_sdk_cloudformation::types::Stack,
) -> BTreeMap<String, String> {
    stack
        .parameters()
        .iter()
        .filter_map(|p| {
            Some((
                p.parameter_key()?.to_string(),
                p.parameter_value()?.to_string(),
            ))
        })
        .collect()
}

/// A delete whose target is gone already (the `missing` error code) succeeded all the same.
pub(crate) fn gone_is_fine<T, E>(
    result: Result<T, E>,
    missing: &str,
    action: &str,
) -> Result<(), DeployError>
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(missing) => Ok(()),
        Err(e) => Err(aws(action)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_mid_change_refuses_another_naming_the_way_out() {
        let busy = refuse_if_changing("Riv-Prod", Some(&StackStatus::UpdateInProgress));
        let message = busy.expect_err("an update in progress refuses").to_string();
        assert!(
            message.contains("UPDATE_IN_PROGRESS") && message.contains("cancel-update-stack"),
            "{message}"
        );
        assert!(refuse_if_changing("Riv-Prod", Some(&StackStatus::DeleteInProgress)).is_err());
        for settled in [
            None,
            Some(StackStatus::UpdateComplete),
            Some(StackStatus::ReviewInProgress),
            Some(StackStatus::RollbackComplete),
        ] {
            assert!(
                refuse_if_changing("Riv-Prod", settled.as_ref()).is_ok(),
                "{settled:?}"
            );
        }
    }
}
