//! CloudFormation's own drift detection, where the endpoint has it.

use super::CloudFormationDrift;
use crate::Target;
use aws_sdk_s3::error::ProvideErrorMetadata;
/// CloudFormation's DetectStackDrift, waited for; what it cannot do is said, not hidden.
pub(super) async fn cloudformation_drift(target: &Target, stack: &str) -> CloudFormationDrift {
    use aws_sdk_cloudformation::types::{
        StackDriftDetectionStatus, StackDriftStatus, StackResourceDriftStatus,
    };
    let cfn = &target.cloudformation;
    let id = match cfn.detect_stack_drift().stack_name(stack).send().await {
        Ok(out) => out
            .stack_drift_detection_id()
            .unwrap_or_default()
            .to_string(),
        Err(e) => {
            return CloudFormationDrift::Unavailable {
                reason: format!(
                    "DetectStackDrift: {}",
                    e.message().unwrap_or("not supported by this endpoint")
                ),
            }
        }
    };
    // LocalStack answers at once or never: do not hold a local check for AWS's minutes.
    let limit = if target.endpoint.is_some() { 30 } else { 300 };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(limit);
    loop {
        let status = match cfn
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(&id)
            .send()
            .await
        {
            Ok(s) => s,
            Err(e) => {
                return CloudFormationDrift::Unavailable {
                    reason: format!(
                        "DescribeStackDriftDetectionStatus: {}",
                        e.message().unwrap_or("failed")
                    ),
                }
            }
        };
        match status.detection_status() {
            Some(StackDriftDetectionStatus::DetectionInProgress)
                if std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(crate::stack::poll_interval(target)).await
            }
            Some(StackDriftDetectionStatus::DetectionInProgress) => {
                return CloudFormationDrift::Unavailable {
                    reason: format!("drift detection did not finish in {limit} s"),
                }
            }
            Some(StackDriftDetectionStatus::DetectionFailed) => {
                return CloudFormationDrift::Unavailable {
                    reason: status
                        .detection_status_reason()
                        .unwrap_or("detection failed")
                        .into(),
                }
            }
            _ if status.stack_drift_status() == Some(&StackDriftStatus::InSync) => {
                return CloudFormationDrift::InSync
            }
            _ => break,
        }
    }
    match cfn
        .describe_stack_resource_drifts()
        .stack_name(stack)
        .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
        .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
        .send()
        .await
    {
        Ok(out) => CloudFormationDrift::Drifted {
            resources: out
                .stack_resource_drifts()
                .iter()
                .map(|d| {
                    format!(
                        "{} ({})",
                        d.logical_resource_id().unwrap_or("?"),
                        d.stack_resource_drift_status()
                            .map(|s| s.as_str())
                            .unwrap_or("?")
                    )
                })
                .collect(),
        },
        Err(e) => CloudFormationDrift::Unavailable {
            reason: format!(
                "DescribeStackResourceDrifts: {}",
                e.message().unwrap_or("failed")
            ),
        },
    }
}
