//! Reading each checked resource as its service reports it and comparing it with the template's resolved value.

use super::compare::{
    code_sha256, denies_plain_http, first_difference, list, rule_of, substitute, template_rules,
    Rule,
};
use super::resolve::{scalar, Deployed};
use super::{Difference, Fix};
use crate::stack::{aws, DeployError};
use crate::Target;
use aws_sdk_s3::error::ProvideErrorMetadata;
use serde_json::Value;
use std::collections::BTreeMap;
/// Where a bucket's template puts its default encryption.
pub(super) const BY_DEFAULT: &str =
    "/BucketEncryption/ServerSideEncryptionConfiguration/0/ServerSideEncryptionByDefault";

/// A bucket's default encryption as S3 reports it: its algorithm and KMS key, `None` when it has none.
pub(super) async fn default_encryption(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
) -> Result<Option<(String, Option<String>)>, DeployError> {
    match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(out) => Ok(out
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map(|d| {
                (
                    d.sse_algorithm().as_str().to_string(),
                    d.kms_master_key_id().map(str::to_string),
                )
            })),
        Err(e) if e.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => Ok(None),
        Err(e) => Err(aws(&format!("s3 GetBucketEncryption {bucket}"))(e)),
    }
}

/// The checks' state: what was compared and what differed.
pub(super) struct Checks<'a> {
    pub(super) target: &'a Target,
    pub(super) deployed: &'a Deployed,
    pub checked: usize,
    pub differences: Vec<Difference>,
}

impl<'a> Checks<'a> {
    pub fn new(target: &'a Target, deployed: &'a Deployed) -> Self {
        Checks {
            target,
            deployed,
            checked: 0,
            differences: Vec::new(),
        }
    }

    pub(super) fn compare(
        &mut self,
        resource: &str,
        property: &str,
        expected: String,
        actual: String,
        fix: Option<Fix>,
    ) {
        self.checked += 1;
        if expected != actual {
            self.differences.push(Difference {
                resource: resource.into(),
                property: property.into(),
                expected,
                actual,
                fix,
            });
        }
    }

    pub(super) fn expected(&self, properties: &Value, pointer: &str) -> Option<Value> {
        self.deployed.resolve(properties.pointer(pointer)?)
    }

    pub async fn bucket(
        &mut self,
        logical: &str,
        bucket: &str,
        props: &Value,
    ) -> Result<(), DeployError> {
        let s3 = &self.target.s3;
        if let Some(expected) = self.expected(props, BY_DEFAULT) {
            let algorithm = expected["SSEAlgorithm"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let kms_key = expected["KMSMasterKeyID"].as_str().map(str::to_string);
            let actual = default_encryption(s3, bucket)
                .await?
                .map_or_else(|| "(none)".into(), |(algorithm, _)| algorithm);
            let fix = Fix::BucketEncryption {
                bucket: bucket.into(),
                algorithm: algorithm.clone(),
                kms_key,
            };
            self.compare(
                logical,
                "BucketEncryption.SSEAlgorithm",
                algorithm,
                actual,
                Some(fix),
            );
        }
        if let Some(expected) = self.expected(props, "/VersioningConfiguration/Status") {
            let actual = s3
                .get_bucket_versioning()
                .bucket(bucket)
                .send()
                .await
                .map_err(aws(&format!("s3 GetBucketVersioning {bucket}")))?
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "(never enabled)".into());
            let fix = Fix::BucketVersioning {
                bucket: bucket.into(),
            };
            self.compare(
                logical,
                "VersioningConfiguration.Status",
                scalar(&expected).unwrap_or_default(),
                actual,
                Some(fix),
            );
        }
        if let Some(expected) = self.expected(props, "/PublicAccessBlockConfiguration") {
            let flags = [
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            ];
            let actual: Vec<bool> = match s3.get_public_access_block().bucket(bucket).send().await {
                Ok(out) => {
                    let c = out.public_access_block_configuration();
                    vec![
                        c.and_then(|c| c.block_public_acls()).unwrap_or(false),
                        c.and_then(|c| c.block_public_policy()).unwrap_or(false),
                        c.and_then(|c| c.ignore_public_acls()).unwrap_or(false),
                        c.and_then(|c| c.restrict_public_buckets()).unwrap_or(false),
                    ]
                }
                Err(e) if e.code() == Some("NoSuchPublicAccessBlockConfiguration") => {
                    vec![false; 4]
                }
                Err(e) => return Err(aws(&format!("s3 GetPublicAccessBlock {bucket}"))(e)),
            };
            for (flag, actual) in flags.iter().zip(actual) {
                let expected = scalar(&expected[flag]).unwrap_or_else(|| "false".into());
                let fix = Fix::PublicAccessBlock {
                    bucket: bucket.into(),
                };
                self.compare(
                    logical,
                    &format!("PublicAccessBlockConfiguration.{flag}"),
                    expected,
                    actual.to_string(),
                    Some(fix),
                );
            }
        }
        if let Some(expected) = self.expected(props, "/LifecycleConfiguration") {
            let expected = template_rules(&expected);
            let mut actual: Vec<Rule> = match s3
                .get_bucket_lifecycle_configuration()
                .bucket(bucket)
                .send()
                .await
            {
                Ok(out) => out.rules().iter().map(rule_of).collect(),
                Err(e) if e.code() == Some("NoSuchLifecycleConfiguration") => Vec::new(),
                Err(e) => {
                    return Err(aws(&format!("s3 GetBucketLifecycleConfiguration {bucket}"))(e))
                }
            };
            actual.sort();
            let fix = Fix::BucketLifecycle {
                bucket: bucket.into(),
                rules: expected.clone(),
            };
            self.compare(
                logical,
                "LifecycleConfiguration.Rules",
                list(&expected),
                list(&actual),
                Some(fix),
            );
        }
        Ok(())
    }

    pub async fn bucket_policy(&mut self, logical: &str, props: &Value) -> Result<(), DeployError> {
        let Some(expected) = self.expected(props, "/PolicyDocument") else {
            return Ok(());
        };
        if !denies_plain_http(&expected) {
            return Ok(());
        }
        let Some(bucket) = self.expected(props, "/Bucket").and_then(|b| scalar(&b)) else {
            return Ok(());
        };
        let actual = match self
            .target
            .s3
            .get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
        {
            Ok(out) => out
                .policy()
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
                .unwrap_or(Value::Null),
            Err(e) if e.code() == Some("NoSuchBucketPolicy") => Value::Null,
            Err(e) => return Err(aws(&format!("s3 GetBucketPolicy {bucket}"))(e)),
        };
        let says = |denies: bool| {
            if denies {
                "denies non-TLS requests"
            } else {
                "allows non-TLS requests"
            }
        };
        let fix = Fix::BucketPolicy {
            bucket,
            policy: expected.to_string(),
        };
        self.compare(
            logical,
            "PolicyDocument (TLS only)",
            says(true).into(),
            says(denies_plain_http(&actual)).into(),
            Some(fix),
        );
        Ok(())
    }

    pub async fn table(
        &mut self,
        logical: &str,
        table: &str,
        props: &Value,
    ) -> Result<(), DeployError> {
        let dynamodb = &self.target.dynamodb;
        if let Some(expected) = self.expected(
            props,
            "/PointInTimeRecoverySpecification/PointInTimeRecoveryEnabled",
        ) {
            let actual = dynamodb
                .describe_continuous_backups()
                .table_name(table)
                .send()
                .await
                .map_err(aws(&format!("dynamodb DescribeContinuousBackups {table}")))?
                .continuous_backups_description()
                .and_then(|c| c.point_in_time_recovery_description())
                .and_then(|p| p.point_in_time_recovery_status())
                .is_some_and(|s| s.as_str() == "ENABLED");
            let fix = Fix::TablePitr {
                table: table.into(),
            };
            self.compare(
                logical,
                "PointInTimeRecoveryEnabled",
                scalar(&expected).unwrap_or_default(),
                actual.to_string(),
                Some(fix),
            );
        }
        if let Some(expected) = self.expected(props, "/SSESpecification/SSEEnabled") {
            let described = dynamodb
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(aws(&format!("dynamodb DescribeTable {table}")))?;
            let actual = described
                .table()
                .and_then(|t| t.sse_description())
                .and_then(|d| d.status())
                .is_some_and(|s| matches!(s.as_str(), "ENABLED" | "ENABLING" | "UPDATING"));
            let fix = Fix::TableEncryption {
                table: table.into(),
            };
            self.compare(
                logical,
                "SSESpecification.SSEEnabled",
                scalar(&expected).unwrap_or_default(),
                actual.to_string(),
                Some(fix),
            );
        }
        Ok(())
    }

    pub async fn function(
        &mut self,
        logical: &str,
        function: &str,
        props: &Value,
    ) -> Result<(), DeployError> {
        let config = self
            .target
            .lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(aws(&format!("lambda GetFunctionConfiguration {function}")))?;
        let code = (
            self.expected(props, "/Code/S3Bucket")
                .and_then(|v| scalar(&v)),
            self.expected(props, "/Code/S3Key").and_then(|v| scalar(&v)),
        );
        if let (Some(bucket), Some(key)) = code {
            if let Some(expected) = code_sha256(&key) {
                let fix = Fix::FunctionCode {
                    function: function.into(),
                    bucket,
                    key,
                };
                self.compare(
                    logical,
                    "CodeSha256",
                    expected,
                    config.code_sha256().unwrap_or_default().into(),
                    Some(fix),
                );
            }
        }
        if let Some(expected) = self.expected(props, "/Environment/Variables") {
            let expected: BTreeMap<String, String> = expected
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), scalar(v)?)))
                .collect();
            let actual: BTreeMap<String, String> = config
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            let mut names: Vec<&String> = expected.keys().chain(actual.keys()).collect();
            names.sort();
            names.dedup();
            let absent = || "(absent)".to_string();
            for name in names {
                let fix = Fix::FunctionEnvironment {
                    function: function.into(),
                    variables: expected.clone(),
                };
                self.compare(
                    logical,
                    &format!("Environment.Variables.{name}"),
                    expected.get(name).cloned().unwrap_or_else(absent),
                    actual.get(name).cloned().unwrap_or_else(absent),
                    Some(fix),
                );
            }
        }
        if let Some(expected) = self.expected(props, "/Role").and_then(|v| scalar(&v)) {
            // Compared by name: the ARN's path part is the service's to add.
            let name = |arn: &str| arn.rsplit('/').next().unwrap_or_default().to_string();
            let actual = config.role().unwrap_or_default();
            let fix = Fix::FunctionRole {
                function: function.into(),
                role: expected.clone(),
            };
            self.compare(logical, "Role", name(&expected), name(actual), Some(fix));
        }
        Ok(())
    }

    pub async fn state_machine(
        &mut self,
        logical: &str,
        arn: &str,
        props: &Value,
    ) -> Result<(), DeployError> {
        let Some(definition) = props.get("Definition") else {
            return Ok(());
        };
        let substitutions: Option<BTreeMap<String, String>> = props["DefinitionSubstitutions"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| Some((k.clone(), scalar(&self.deployed.resolve(v)?)?)))
            .collect();
        let Some(substitutions) = substitutions else {
            return Ok(());
        };
        let expected = substitute(definition, &substitutions);
        let described = self
            .target
            .sfn
            .describe_state_machine()
            .state_machine_arn(arn)
            .send()
            .await
            .map_err(aws(&format!("states DescribeStateMachine {arn}")))?;
        let actual: Value = serde_json::from_str(described.definition()).unwrap_or(Value::Null);
        let (property, expected_at, actual_at) =
            match first_difference("Definition", &expected, &actual) {
                Some(found) => found,
                None => ("Definition".into(), String::new(), String::new()),
            };
        let fix = Fix::StateMachineDefinition {
            arn: arn.into(),
            definition: expected.to_string(),
        };
        self.compare(logical, &property, expected_at, actual_at, Some(fix));
        Ok(())
    }

    pub async fn stage(&mut self, logical: &str, props: &Value) -> Result<(), DeployError> {
        let Some((api, stage)) = super::stage(self.deployed) else {
            return Ok(());
        };
        let Some(settings) = self.expected(props, "/StageDescription/MethodSettings") else {
            return Ok(());
        };
        let Some(all) = settings
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["ResourcePath"] == "/*" && s["HttpMethod"] == "*")
        else {
            return Ok(());
        };
        let (Some(rate), Some(burst)) = (
            scalar(&all["ThrottlingRateLimit"]).and_then(|r| r.parse::<f64>().ok()),
            scalar(&all["ThrottlingBurstLimit"]).and_then(|b| b.parse::<i64>().ok()),
        ) else {
            return Ok(());
        };
        let live = self
            .target
            .apigateway
            .get_stage()
            .rest_api_id(&api)
            .stage_name(&stage)
            .send()
            .await
            .map_err(aws(&format!("apigateway GetStage {api}/{stage}")))?;
        let method = live.method_settings().and_then(|m| m.get("*/*"));
        let actual_rate = method
            .map(|m| format!("{}", m.throttling_rate_limit()))
            .unwrap_or_else(|| "(not set)".into());
        let actual_burst = method
            .map(|m| m.throttling_burst_limit().to_string())
            .unwrap_or_else(|| "(not set)".into());
        let fix = Fix::StageThrottle {
            api: api.clone(),
            stage: stage.clone(),
            rate,
            burst,
        };
        let resource = format!("{logical} (stage {stage})");
        self.compare(
            &resource,
            "MethodSettings[*/*].ThrottlingRateLimit",
            format!("{rate}"),
            actual_rate,
            Some(fix.clone()),
        );
        self.compare(
            &resource,
            "MethodSettings[*/*].ThrottlingBurstLimit",
            burst.to_string(),
            actual_burst,
            Some(fix),
        );
        Ok(())
    }
}
