//! The calls that put a drifted property back to the template's value.

use super::Fix;
use crate::stack::{aws, DeployError};
use crate::Target;
/// One line for the progress of a repair.
pub(super) fn describe_fix(fix: &Fix) -> String {
    match fix {
        Fix::BucketVersioning { bucket } => format!("versioning back on for {bucket}"),
        Fix::BucketEncryption {
            bucket, algorithm, ..
        } => format!("{algorithm} encryption for {bucket}"),
        Fix::PublicAccessBlock { bucket } => format!("all public access blocked for {bucket}"),
        Fix::BucketPolicy { bucket, .. } => format!("the TLS-only policy back on {bucket}"),
        Fix::BucketLifecycle { bucket, .. } => format!("the lifecycle rules back on {bucket}"),
        Fix::TablePitr { table } => format!("point-in-time recovery back on for {table}"),
        Fix::TableEncryption { table } => format!("encryption back on for {table}"),
        Fix::FunctionEnvironment { function, .. } => format!("the environment of {function}"),
        Fix::FunctionRole { function, .. } => format!("the role of {function}"),
        Fix::FunctionCode { function, key, .. } => format!("the code of {function} from {key}"),
        Fix::StateMachineDefinition { arn, .. } => format!("the definition of {arn}"),
        Fix::StageThrottle {
            api,
            stage,
            rate,
            burst,
        } => {
            format!("throttling {rate}/s burst {burst} on {api}/{stage}")
        }
        Fix::BucketLogging {
            bucket,
            target_bucket,
            prefix,
        } => format!("access logging of {bucket} to s3://{target_bucket}/{prefix}"),
        Fix::LogGroupKey { group, .. } => format!("the customer key on log group {group}"),
        Fix::FunctionKey { function, .. } => format!("the customer key on {function}'s settings"),
        Fix::FunctionConcurrency { function, reserved } => {
            format!("{reserved} reserved executions for {function}")
        }
    }
}

/// Restores one property.
pub(super) async fn apply(target: &Target, fix: &Fix) -> Result<(), DeployError> {
    use aws_sdk_s3::types as s3;
    match fix {
        Fix::BucketVersioning { bucket } => crate::stack::enable_versioning(target, bucket).await,
        Fix::BucketEncryption {
            bucket,
            algorithm,
            kms_key,
        } => {
            let by_default = s3::ServerSideEncryptionByDefault::builder()
                .sse_algorithm(s3::ServerSideEncryption::from(algorithm.as_str()))
                .set_kms_master_key_id(kms_key.clone())
                .build()
                .map_err(|e| DeployError::Other(e.to_string()))?;
            let rule = s3::ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .build();
            let config = s3::ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| DeployError::Other(e.to_string()))?;
            target
                .s3
                .put_bucket_encryption()
                .bucket(bucket)
                .server_side_encryption_configuration(config)
                .send()
                .await
                .map(|_| ())
                .map_err(aws(&format!("s3 PutBucketEncryption {bucket}")))
        }
        Fix::BucketLogging {
            bucket,
            target_bucket,
            prefix,
        } => {
            let enabled = s3::LoggingEnabled::builder()
                .target_bucket(target_bucket)
                .target_prefix(prefix)
                .build()
                .map_err(|e| DeployError::Other(e.to_string()))?;
            let status = s3::BucketLoggingStatus::builder()
                .logging_enabled(enabled)
                .build();
            target
                .s3
                .put_bucket_logging()
                .bucket(bucket)
                .bucket_logging_status(status)
                .send()
                .await
                .map(|_| ())
                .map_err(aws(&format!("s3 PutBucketLogging {bucket}")))
        }
        Fix::LogGroupKey { group, key } => target
            .logs
            .associate_kms_key()
            .log_group_name(group)
            .kms_key_id(key)
            .send()
            .await
            .map(|_| ())
            .map_err(aws(&format!("logs AssociateKmsKey {group}"))),
        Fix::FunctionKey { function, key } => target
            .lambda
            .update_function_configuration()
            .function_name(function)
            .kms_key_arn(key)
            .send()
            .await
            .map(|_| ())
            .map_err(aws(&format!(
                "lambda UpdateFunctionConfiguration {function}"
            ))),
        Fix::FunctionConcurrency { function, reserved } => target
            .lambda
            .put_function_concurrency()
            .function_name(function)
            .reserved_concurrent_executions(*reserved)
            .send()
            .await
            .map(|_| ())
            .map_err(aws(&format!("lambda PutFunctionConcurrency {function}"))),
        Fix::PublicAccessBlock { bucket } => {
            let all = s3::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true)
                .build();
            target
                .s3
                .put_public_access_block()
                .bucket(bucket)
                .public_access_block_configuration(all)
                .send()
                .await
                .map(|_| ())
                .map_err(aws(&format!("s3 PutPublicAccessBlock {bucket}")))
        }
        Fix::BucketPolicy { bucket, policy } => target
            .s3
            .put_bucket_policy()
            .bucket(bucket)
            .policy(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(aws(&format!("s3 PutBucketPolicy {bucket}"))),
        Fix::BucketLifecycle { bucket, rules } => {
            let mut built = Vec::new();
            for rule in rules {
                let mut b = s3::LifecycleRule::builder()
                    .id(&rule.id)
                    .status(if rule.enabled {
                        s3::ExpirationStatus::Enabled
                    } else {
                        s3::ExpirationStatus::Disabled
                    })
                    .filter(
                        s3::LifecycleRuleFilter::builder()
                            .prefix(rule.prefix.clone().unwrap_or_default())
                            .build(),
                    );
                if let Some(d) = rule.expire_days {
                    b = b.expiration(s3::LifecycleExpiration::builder().days(d).build());
                }
                if let Some(d) = rule.noncurrent_days {
                    b = b.noncurrent_version_expiration(
                        s3::NoncurrentVersionExpiration::builder()
                            .noncurrent_days(d)
                            .build(),
                    );
                }
                if let Some(d) = rule.abort_upload_days {
                    b = b.abort_incomplete_multipart_upload(
                        s3::AbortIncompleteMultipartUpload::builder()
                            .days_after_initiation(d)
                            .build(),
                    );
                }
                built.push(b.build().map_err(|e| DeployError::Other(e.to_string()))?);
            }
            let config = s3::BucketLifecycleConfiguration::builder()
                .set_rules(Some(built))
                .build()
                .map_err(|e| DeployError::Other(e.to_string()))?;
            target
                .s3
                .put_bucket_lifecycle_configuration()
                .bucket(bucket)
                .lifecycle_configuration(config)
                .send()
                .await
                .map(|_| ())
                .map_err(aws(&format!("s3 PutBucketLifecycleConfiguration {bucket}")))
        }
        Fix::TablePitr { table } => {
            let spec = aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .map_err(|e| DeployError::Other(e.to_string()))?;
            target
                .dynamodb
                .update_continuous_backups()
                .table_name(table)
                .point_in_time_recovery_specification(spec)
                .send()
                .await
                .map(|_| ())
                .map_err(aws(&format!("dynamodb UpdateContinuousBackups {table}")))
        }
        Fix::TableEncryption { table } => target
            .dynamodb
            .update_table()
            .table_name(table)
            .sse_specification(
                aws_sdk_dynamodb::types::SseSpecification::builder()
                    .enabled(true)
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(aws(&format!("dynamodb UpdateTable {table}"))),
        Fix::FunctionEnvironment {
            function,
            variables,
        } => target
            .lambda
            .update_function_configuration()
            .function_name(function)
            .environment(
                aws_sdk_lambda::types::Environment::builder()
                    .set_variables(Some(variables.clone().into_iter().collect()))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(aws(&format!(
                "lambda UpdateFunctionConfiguration {function}"
            ))),
        Fix::FunctionRole { function, role } => target
            .lambda
            .update_function_configuration()
            .function_name(function)
            .role(role)
            .send()
            .await
            .map(|_| ())
            .map_err(aws(&format!(
                "lambda UpdateFunctionConfiguration {function}"
            ))),
        Fix::FunctionCode {
            function,
            bucket,
            key,
        } => target
            .lambda
            .update_function_code()
            .function_name(function)
            .s3_bucket(bucket)
            .s3_key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(aws(&format!("lambda UpdateFunctionCode {function}"))),
        Fix::StateMachineDefinition { arn, definition } => target
            .sfn
            .update_state_machine()
            .state_machine_arn(arn)
            .definition(definition)
            .send()
            .await
            .map(|_| ())
            .map_err(aws(&format!("states UpdateStateMachine {arn}"))),
        Fix::StageThrottle {
            api,
            stage,
            rate,
            burst,
        } => {
            use aws_sdk_apigateway::types::{Op, PatchOperation};
            let op = |path: &str, value: String| {
                PatchOperation::builder()
                    .op(Op::Replace)
                    .path(path)
                    .value(value)
                    .build()
            };
            target
                .apigateway
                .update_stage()
                .rest_api_id(api)
                .stage_name(stage)
                .patch_operations(op("/*/*/throttling/rateLimit", rate.to_string()))
                .patch_operations(op("/*/*/throttling/burstLimit", burst.to_string()))
                .send()
                .await
                .map(|_| ())
                .map_err(aws(&format!("apigateway UpdateStage {api}/{stage}")))
        }
    }
}
