//! Drift: what a deployed stack's resources say now, compared with the synthesized template. CloudFormation's
//! own DetectStackDrift is asked where the endpoint has it; Riv's checks always run, on AWS and on the local
//! stack alike, for the properties a verification system's safety rests on: the image bucket's encryption,
//! versioning, public-access block, TLS-only policy and lifecycle; the table's PITR and encryption; each
//! function's code, environment and role; the state machines' definitions; the API stage's throttling; and
//! the customer key, access logging and reserved concurrency (`guards`).
//! Every difference carries the fix that puts the template's value back, which deploy applies.

pub mod resolve;

mod checks;
mod cloudformation;
mod compare;
mod guards;
mod repair;

use crate::stack::{aws, DeployError};
use crate::Target;
pub use compare::Rule;
use resolve::Deployed;
use riv_infra::names::{id, param};
use serde_json::Value;
use std::collections::BTreeMap;

/// One property whose live value is not the template's.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Difference {
    /// The template's logical id.
    pub resource: String,
    pub property: String,
    pub expected: String,
    pub actual: String,
    /// What puts `expected` back; `None` where only a person should act.
    #[serde(skip)]
    pub fix: Option<Fix>,
}

/// A call that restores a property to the template's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Fix {
    BucketVersioning {
        bucket: String,
    },
    BucketEncryption {
        bucket: String,
        algorithm: String,
        kms_key: Option<String>,
    },
    PublicAccessBlock {
        bucket: String,
    },
    BucketPolicy {
        bucket: String,
        policy: String,
    },
    BucketLifecycle {
        bucket: String,
        rules: Vec<Rule>,
    },
    TablePitr {
        table: String,
    },
    TableEncryption {
        table: String,
    },
    FunctionEnvironment {
        function: String,
        variables: BTreeMap<String, String>,
    },
    FunctionRole {
        function: String,
        role: String,
    },
    FunctionCode {
        function: String,
        bucket: String,
        key: String,
    },
    StateMachineDefinition {
        arn: String,
        definition: String,
    },
    StageThrottle {
        api: String,
        stage: String,
        rate: f64,
        burst: i64,
    },
    BucketLogging {
        bucket: String,
        target_bucket: String,
        prefix: String,
    },
    LogGroupKey {
        group: String,
        key: String,
    },
    FunctionKey {
        function: String,
        key: String,
    },
    FunctionConcurrency {
        function: String,
        reserved: i32,
    },
}

/// What CloudFormation's own drift detection said.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum CloudFormationDrift {
    /// Not asked (deploy's own check).
    Skipped,
    InSync,
    Drifted {
        resources: Vec<String>,
    },
    /// The endpoint has no drift detection, or it failed: Riv's checks stand alone.
    Unavailable {
        reason: String,
    },
}

/// A stack's drift: CloudFormation's verdict and every difference Riv's checks found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    pub stack: String,
    pub region: String,
    pub cloudformation: CloudFormationDrift,
    /// Properties compared by Riv's checks.
    pub checked: usize,
    pub differences: Vec<Difference>,
}

impl Report {
    pub fn drifted(&self) -> bool {
        !self.differences.is_empty()
            || matches!(self.cloudformation, CloudFormationDrift::Drifted { .. })
    }
}

/// Compares `stack` with `template` (the code's template; its parameters come from the stack). With
/// `cloudformation`, CloudFormation's DetectStackDrift runs too.
pub async fn check(
    target: &Target,
    stack: &str,
    template: &riv_infra::Template,
    cloudformation: bool,
) -> Result<Report, DeployError> {
    let deployed = deployed(target, stack, template).await?;
    let template = serde_json::to_value(template)
        .map_err(|e| DeployError::Other(format!("rendering the template: {e}")))?;
    let cloudformation = if cloudformation {
        cloudformation::cloudformation_drift(target, stack).await
    } else {
        CloudFormationDrift::Skipped
    };
    let mut checks = checks::Checks::new(target, &deployed);
    let resources = template["Resources"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (logical, resource) in &resources {
        if let Some(condition) = resource["Condition"].as_str() {
            if deployed.condition(condition) != Some(true) {
                continue;
            }
        }
        let Some((physical, _)) = deployed.resources.get(logical) else {
            continue;
        };
        let properties = &resource["Properties"];
        match resource["Type"].as_str().unwrap_or_default() {
            "AWS::S3::Bucket" => {
                checks.bucket(logical, physical, properties).await?;
                checks
                    .bucket_key_and_logging(logical, physical, properties)
                    .await?
            }
            "AWS::Logs::LogGroup" => checks.log_group(logical, physical, properties).await?,
            "AWS::S3::BucketPolicy" => checks.bucket_policy(logical, properties).await?,
            "AWS::DynamoDB::Table" => checks.table(logical, physical, properties).await?,
            "AWS::Lambda::Function" => {
                checks.function(logical, physical, properties).await?;
                checks
                    .function_key_and_concurrency(logical, physical, properties)
                    .await?
            }
            "AWS::StepFunctions::StateMachine" => {
                checks.state_machine(logical, physical, properties).await?
            }
            "AWS::ApiGateway::Deployment" => checks.stage(logical, properties).await?,
            _ => {}
        }
    }
    Ok(Report {
        stack: stack.into(),
        region: target.region.clone(),
        cloudformation,
        checked: checks.checked,
        differences: checks.differences,
    })
}

/// Applies every difference's fix once; returns what it did. A difference without a fix is left as it is.
pub async fn repair(
    target: &Target,
    differences: &[Difference],
    progress: &dyn Fn(&str),
) -> Result<usize, DeployError> {
    let mut fixes: Vec<&Fix> = Vec::new();
    for fix in differences.iter().filter_map(|d| d.fix.as_ref()) {
        if !fixes.contains(&fix) {
            fixes.push(fix);
        }
    }
    for fix in &fixes {
        progress(&format!("repairing drift: {}", repair::describe_fix(fix)));
        repair::apply(target, fix).await?;
    }
    Ok(fixes.len())
}

/// The stack as drift sees it: parameters (the template's defaults under the stack's values), resources by
/// logical id, account, conditions.
async fn deployed(
    target: &Target,
    stack: &str,
    template: &riv_infra::Template,
) -> Result<Deployed, DeployError> {
    let described = crate::stack::describe(target, stack)
        .await?
        .ok_or_else(|| {
            DeployError::Other(format!(
                "stack {stack} does not exist in {}: nothing to compare (deploy it first)",
                target.region
            ))
        })?;
    let mut parameters: BTreeMap<String, String> = template
        .parameters
        .iter()
        .filter_map(|(k, p)| Some((k.clone(), p.default.clone()?)))
        .collect();
    parameters.extend(crate::stack::stack_parameters(&described));
    let account = target
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(aws("sts GetCallerIdentity"))?
        .account()
        .unwrap_or_default()
        .to_string();
    let mut resources = BTreeMap::new();
    let mut pages = target
        .cloudformation
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws("cloudformation ListStackResources"))?;
        for r in page.stack_resource_summaries() {
            if let (Some(logical), Some(physical)) =
                (r.logical_resource_id(), r.physical_resource_id())
            {
                resources.insert(
                    logical.to_string(),
                    (
                        physical.to_string(),
                        r.resource_type().unwrap_or_default().to_string(),
                    ),
                );
            }
        }
    }
    let conditions = match serde_json::to_value(&template.conditions) {
        Ok(Value::Object(map)) => map,
        _ => Default::default(),
    };
    Ok(Deployed {
        stack: stack.into(),
        region: target.region.clone(),
        account,
        parameters,
        resources,
        conditions,
    })
}

/// The API and its stage: the stage is made by the deployment resource, named by a parameter.
pub(crate) fn stage(deployed: &Deployed) -> Option<(String, String)> {
    let api = deployed.resources.get(id::API)?.0.clone();
    Some((api, deployed.parameters.get(param::STAGE)?.clone()))
}
