//! Checks of the protections the security scan asked for: the customer key on the buckets, the log groups and
//! the functions' environment, the image bucket's access logging, and each function's reserved concurrency.
//! LocalStack's CloudFormation leaves most of them out, so on the local stack these checks are also what puts
//! them in place (deploy repairs what they find).

use super::checks::{default_encryption, Checks, BY_DEFAULT};
use super::resolve::scalar;
use super::Fix;
use crate::stack::{aws, DeployError};
use riv_infra::encryption::key_id;
use serde_json::Value;

impl Checks<'_> {
    /// The image bucket's customer key (when the template names one) and its access logging.
    pub async fn bucket_key_and_logging(
        &mut self,
        logical: &str,
        bucket: &str,
        props: &Value,
    ) -> Result<(), DeployError> {
        let s3 = &self.target.s3;
        let expected_key = self
            .expected(props, BY_DEFAULT)
            .and_then(|d| d["KMSMasterKeyID"].as_str().map(str::to_string));
        if let Some(expected) = expected_key {
            let actual = default_encryption(s3, bucket)
                .await?
                .and_then(|(_, key)| key)
                .map_or_else(|| "(none)".into(), |k| key_id(&k).to_string());
            let fix = Fix::BucketEncryption {
                bucket: bucket.into(),
                algorithm: "aws:kms".into(),
                kms_key: Some(expected.clone()),
            };
            self.compare(
                logical,
                "BucketEncryption.KMSMasterKeyID",
                key_id(&expected).to_string(),
                actual,
                Some(fix),
            );
        }
        if let Some(expected) = self.expected(props, "/LoggingConfiguration") {
            let target_bucket = scalar(&expected["DestinationBucketName"]).unwrap_or_default();
            let prefix = scalar(&expected["LogFilePrefix"]).unwrap_or_default();
            let actual = s3
                .get_bucket_logging()
                .bucket(bucket)
                .send()
                .await
                .map_err(aws(&format!("s3 GetBucketLogging {bucket}")))?
                .logging_enabled()
                .map(|l| format!("s3://{}/{}", l.target_bucket(), l.target_prefix()))
                .unwrap_or_else(|| "(off)".into());
            let fix = Fix::BucketLogging {
                bucket: bucket.into(),
                target_bucket: target_bucket.clone(),
                prefix: prefix.clone(),
            };
            self.compare(
                logical,
                "LoggingConfiguration",
                format!("s3://{target_bucket}/{prefix}"),
                actual,
                Some(fix),
            );
        }
        Ok(())
    }

    /// A log group's customer key, when the template names one.
    pub async fn log_group(
        &mut self,
        logical: &str,
        group: &str,
        props: &Value,
    ) -> Result<(), DeployError> {
        let Some(expected) = self.expected(props, "/KmsKeyId").and_then(|v| scalar(&v)) else {
            return Ok(());
        };
        let described = self
            .target
            .logs
            .describe_log_groups()
            .log_group_name_prefix(group)
            .send()
            .await
            .map_err(aws(&format!("logs DescribeLogGroups {group}")))?;
        let actual = described
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(group))
            .and_then(|g| g.kms_key_id())
            .map(|k| key_id(k).to_string())
            .unwrap_or_else(|| "(none)".into());
        let fix = Fix::LogGroupKey {
            group: group.into(),
            key: expected.clone(),
        };
        self.compare(
            logical,
            "KmsKeyId",
            key_id(&expected).to_string(),
            actual,
            Some(fix),
        );
        Ok(())
    }

    /// A function's customer key for its environment and its reserved concurrency.
    pub async fn function_key_and_concurrency(
        &mut self,
        logical: &str,
        function: &str,
        props: &Value,
    ) -> Result<(), DeployError> {
        let lambda = &self.target.lambda;
        // LocalStack's Lambda (4.14) keeps no KMSKeyArn at all: compared on AWS only, where it is kept.
        let expected_key = self
            .expected(props, "/KmsKeyArn")
            .and_then(|v| scalar(&v))
            .filter(|_| self.target.endpoint.is_none());
        if let Some(expected) = expected_key {
            let actual = lambda
                .get_function_configuration()
                .function_name(function)
                .send()
                .await
                .map_err(aws(&format!("lambda GetFunctionConfiguration {function}")))?
                .kms_key_arn()
                .map(|k| key_id(k).to_string())
                .unwrap_or_else(|| "(none)".into());
            let fix = Fix::FunctionKey {
                function: function.into(),
                key: expected.clone(),
            };
            self.compare(
                logical,
                "KmsKeyArn",
                key_id(&expected).to_string(),
                actual,
                Some(fix),
            );
        }
        let expected = self
            .expected(props, "/ReservedConcurrentExecutions")
            .and_then(|v| scalar(&v));
        if let Some(expected) = expected {
            let actual = lambda
                .get_function_concurrency()
                .function_name(function)
                .send()
                .await
                .map_err(aws(&format!("lambda GetFunctionConcurrency {function}")))?
                .reserved_concurrent_executions()
                .map(|n| n.to_string())
                .unwrap_or_else(|| "(unreserved)".into());
            let reserved = expected.parse::<i32>().map_err(|_| {
                DeployError::Other(format!(
                    "{logical}: ReservedConcurrentExecutions {expected:?} is not a number"
                ))
            })?;
            let fix = Fix::FunctionConcurrency {
                function: function.into(),
                reserved,
            };
            self.compare(
                logical,
                "ReservedConcurrentExecutions",
                expected,
                actual,
                Some(fix),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::key_id;

    #[test]
    fn a_key_is_the_same_by_id_or_arn() {
        assert_eq!(key_id("arn:aws:kms:eu-west-1:1:key/abc-1"), "abc-1");
        assert_eq!(key_id("abc-1"), "abc-1");
    }
}
