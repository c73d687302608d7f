//! Deploys as a platform engineer wants them: a change set first, its resource changes shown for review, then
//! executed with the stack's events streamed until a terminal state. "No changes" is a successful no-op.

use crate::stack::{aws, outputs, DeployError, Deployed};
use crate::Target;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, StackStatus, Tag,
};
use std::collections::{BTreeMap, HashSet};

/// One row of the review table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    pub replacement: String,
}

/// A change set waiting for approval.
#[derive(Debug, Clone)]
pub struct Plan {
    pub stack: String,
    pub change_set: String,
    pub changes: Vec<Change>,
    /// A create: the stack does not exist yet (CloudFormation holds it in REVIEW_IN_PROGRESS meanwhile).
    pub creates: bool,
}

/// Creates a change set for the template at `template_url`; `None` when it would change nothing.
pub async fn plan(
    target: &Target,
    stack: &str,
    template_url: &str,
    parameters: &BTreeMap<String, String>,
    stamp: &crate::stamp::Stamp,
) -> Result<Option<Plan>, DeployError> {
    let status = crate::stack::status(target, stack).await?;
    crate::stack::refuse_if_changing(stack, status.as_ref())?;
    if status == Some(StackStatus::RollbackComplete) {
        // AWS leaves a failed first create in ROLLBACK_COMPLETE, which can only be deleted before trying again.
        // LocalStack also ends a failed update there without rolling it back, and cannot update it after: the
        // same delete is what converges it (its retained image bucket stays, tagged, for destroy or cleanup).
        crate::stack::delete_stack(target, stack).await?;
    }
    let exists = matches!(&status, Some(s) if *s != StackStatus::ReviewInProgress && *s != StackStatus::RollbackComplete);
    let name = format!(
        "riv-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default()
    );
    let params: Vec<Parameter> = parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect();
    let kind = if exists {
        ChangeSetType::Update
    } else {
        ChangeSetType::Create
    };
    target
        .cloudformation
        .create_change_set()
        .stack_name(stack)
        .change_set_name(&name)
        .change_set_type(kind)
        .template_url(template_url)
        .set_parameters(Some(params))
        .capabilities(Capability::CapabilityIam)
        .set_tags(Some(
            std::iter::once((riv_infra::names::STACK_TAG.to_string(), stack.to_string()))
                .chain(stamp.tags())
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await
        .map_err(aws("cloudformation CreateChangeSet"))?;
    loop {
        let cs = target
            .cloudformation
            .describe_change_set()
            .stack_name(stack)
            .change_set_name(&name)
            .send()
            .await
            .map_err(aws("cloudformation DescribeChangeSet"))?;
        match cs.status() {
            Some(ChangeSetStatus::CreateComplete) => {
                let changes = cs
                    .changes()
                    .iter()
                    .filter_map(|c| c.resource_change())
                    .map(|r| Change {
                        action: r
                            .action()
                            .map(|a| a.as_str().to_string())
                            .unwrap_or_default(),
                        logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
                        resource_type: r.resource_type().unwrap_or_default().to_string(),
                        replacement: r
                            .replacement()
                            .map(|x| x.as_str().to_string())
                            .unwrap_or_else(|| "-".into()),
                    })
                    .collect();
                return Ok(Some(Plan {
                    stack: stack.into(),
                    change_set: name,
                    changes,
                    creates: !exists,
                }));
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = cs.status_reason().unwrap_or_default().to_string();
                let _ = target
                    .cloudformation
                    .delete_change_set()
                    .stack_name(stack)
                    .change_set_name(&name)
                    .send()
                    .await;
                if reason.contains("didn't contain changes") || reason.contains("No updates") {
                    return Ok(None);
                }
                return Err(DeployError::Failed {
                    stack: stack.into(),
                    status: "change set FAILED".into(),
                    reason,
                });
            }
            _ => tokio::time::sleep(crate::stack::poll_interval(target)).await,
        }
    }
}

/// Drops a change set nobody will execute, and for a create the empty stack that holds it, so planning leaves
/// the account as it found it.
pub async fn discard(target: &Target, plan: &Plan) -> Result<(), DeployError> {
    target
        .cloudformation
        .delete_change_set()
        .stack_name(&plan.stack)
        .change_set_name(&plan.change_set)
        .send()
        .await
        .map_err(aws("cloudformation DeleteChangeSet"))?;
    if plan.creates
        && crate::stack::status(target, &plan.stack).await? == Some(StackStatus::ReviewInProgress)
    {
        crate::stack::delete_stack(target, &plan.stack).await?;
    }
    Ok(())
}

/// One resource's step, as the stack's events tell it.
#[derive(Debug, Clone, PartialEq)]
pub struct StackEvent {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

impl StackEvent {
    /// A resource reached its end state (created, updated or deleted).
    pub fn completes(&self) -> bool {
        self.status.ends_with("_COMPLETE") && self.resource_type != "AWS::CloudFormation::Stack"
    }
}

impl std::fmt::Display for StackEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<44} {:<34} {:<28} {}",
            self.logical_id, self.resource_type, self.status, self.reason
        )
    }
}

/// Executes the change set and reports every stack event as it happens until the stack settles.
pub async fn execute(
    target: &Target,
    plan: &Plan,
    on_event: &dyn Fn(&StackEvent),
) -> Result<Deployed, DeployError> {
    let started = aws_sdk_cloudformation::primitives::DateTime::from(std::time::SystemTime::now());
    // Events already there are not this execution's, even within the second of slack the clock check allows (a
    // deploy right after another, as tests do, would otherwise replay the last one's end).
    let mut seen: HashSet<String> = target
        .cloudformation
        .describe_stack_events()
        .stack_name(&plan.stack)
        .send()
        .await
        .map_err(aws("cloudformation DescribeStackEvents"))?
        .stack_events()
        .iter()
        .filter_map(|e| e.event_id().map(str::to_string))
        .collect();
    target
        .cloudformation
        .execute_change_set()
        .stack_name(&plan.stack)
        .change_set_name(&plan.change_set)
        .send()
        .await
        .map_err(aws("cloudformation ExecuteChangeSet"))?;
    let mut first_failure: Option<String> = None;
    loop {
        tokio::time::sleep(crate::stack::poll_interval(target)).await;
        if let Ok(out) = target
            .cloudformation
            .describe_stack_events()
            .stack_name(&plan.stack)
            .send()
            .await
        {
            let mut fresh: Vec<_> = out
                .stack_events()
                .iter()
                .filter(|e| {
                    e.timestamp()
                        .is_some_and(|t| t.secs() >= started.secs() - 1)
                })
                .filter(|e| seen.insert(e.event_id().unwrap_or_default().to_string()))
                .collect();
            fresh.reverse();
            for e in fresh {
                let status = e.resource_status().map(|s| s.as_str()).unwrap_or_default();
                let reason = e.resource_status_reason().unwrap_or_default();
                if status.ends_with("_FAILED")
                    && first_failure.is_none()
                    && !reason.contains("cancelled")
                {
                    first_failure = Some(format!(
                        "{} ({}): {reason}",
                        e.logical_resource_id().unwrap_or_default(),
                        e.resource_type().unwrap_or_default()
                    ));
                }
                on_event(&StackEvent {
                    logical_id: e.logical_resource_id().unwrap_or_default().into(),
                    resource_type: e.resource_type().unwrap_or_default().into(),
                    status: status.into(),
                    reason: reason.into(),
                });
            }
        }
        let status = crate::stack::status(target, &plan.stack).await?;
        match status {
            Some(s) if s.as_str().ends_with("_IN_PROGRESS") => continue,
            Some(s @ (StackStatus::CreateComplete | StackStatus::UpdateComplete)) => {
                return Ok(Deployed {
                    stack: plan.stack.clone(),
                    changed: true,
                    status: s.as_str().into(),
                    outputs: outputs(target, &plan.stack).await?,
                })
            }
            other => {
                return Err(DeployError::Failed {
                    stack: plan.stack.clone(),
                    status: other
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "DELETED".into()),
                    // The stack may have settled after this poll read its events: read them all again.
                    reason: match first_failure {
                        Some(reason) => reason,
                        None => crate::stack::first_failure(target, &plan.stack).await,
                    },
                });
            }
        }
    }
}
