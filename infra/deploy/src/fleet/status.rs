//! `fleet status` for one region: what the stack is, which release it runs (its stamp), which parameters differ
//! from the fleet file, and where its API is; and the Riv stacks a region holds, listed or not.

use crate::fleet::Entry;
use crate::stack::{aws, stack_outputs, DeployError};
use crate::stamp::Stamp;
use crate::Target;
use riv_infra::names::{output, param, STACK_TAG};
use std::collections::BTreeMap;

/// A parameter whose deployed value is not the file's (or, where the file is silent, the template's default).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParameterDiff {
    pub name: String,
    pub file: String,
    pub deployed: String,
}

/// One entry of the fleet file as its region has it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RegionStatus {
    pub region: String,
    pub stack: String,
    /// `None`: no such stack in the region.
    pub status: Option<String>,
    pub stamp: Option<Stamp>,
    /// Deployed from another commit than the one given to [`region`] (or with no release tags at all).
    pub other_commit: bool,
    pub differs: Vec<ParameterDiff>,
    pub api_url: Option<String>,
    #[serde(skip)]
    pub outputs: BTreeMap<String, String>,
}

/// Parameters the deploy commands set themselves, never the file.
fn set_by_deploy(name: &str) -> bool {
    [
        param::ARTIFACT_BUCKET,
        param::ARCHITECTURE,
        param::ENDPOINT_URL,
    ]
    .contains(&name)
        || name.ends_with("CodeKey")
}

/// `file` and `deployed` say the same (CloudFormation may write 95 as 95.0).
fn same(file: &str, deployed: &str) -> bool {
    file == deployed
        || matches!((file.parse::<f64>(), deployed.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
}

/// The parameters of `deployed` that differ from `template`'s defaults (the file's values baked in).
pub fn differences(
    template: &riv_infra::Template,
    deployed: &BTreeMap<String, String>,
) -> Vec<ParameterDiff> {
    template
        .parameters
        .iter()
        .filter(|(name, _)| !set_by_deploy(name))
        .filter_map(|(name, p)| {
            let file = p.default.clone()?;
            let live = deployed.get(name)?;
            (!same(&file, live)).then(|| ParameterDiff {
                name: name.clone(),
                file,
                deployed: live.clone(),
            })
        })
        .collect()
}

/// The entry's stack in its region; `template` is the entry's, with the file's parameters as defaults, and
/// `commit` the one this workspace would deploy.
pub async fn region(
    target: &Target,
    entry: &Entry,
    template: &riv_infra::Template,
    commit: &str,
) -> Result<RegionStatus, DeployError> {
    let mut status = RegionStatus {
        region: entry.region.clone(),
        stack: entry.stack.clone(),
        status: None,
        stamp: None,
        other_commit: false,
        differs: Vec::new(),
        api_url: None,
        outputs: BTreeMap::new(),
    };
    let Some(stack) = crate::stack::describe(target, &entry.stack).await? else {
        return Ok(status);
    };
    let tags: BTreeMap<String, String> = stack
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect();
    let deployed = crate::stack::stack_parameters(&stack);
    status.status = stack.stack_status().map(|s| s.as_str().to_string());
    status.stamp = Stamp::from_tags(&tags);
    status.other_commit = status.stamp.as_ref().map(|s| s.commit.as_str()) != Some(commit);
    status.differs = differences(template, &deployed);
    status.outputs = stack_outputs(&stack);
    status.api_url = status.outputs.get(output::API_URL).cloned();
    Ok(status)
}

/// Every Riv stack (tagged `riv:stack`) in the target's region, with its status.
pub async fn riv_stacks(target: &Target) -> Result<Vec<(String, String)>, DeployError> {
    let mut found = Vec::new();
    let mut pages = target
        .cloudformation
        .describe_stacks()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws("cloudformation DescribeStacks"))?;
        for stack in page.stacks() {
            let riv = stack.tags().iter().any(|t| t.key() == Some(STACK_TAG));
            let status = stack.stack_status().map(|s| s.as_str()).unwrap_or_default();
            if riv && status != "DELETE_COMPLETE" {
                found.push((
                    stack.stack_name().unwrap_or_default().to_string(),
                    status.to_string(),
                ));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_parameters_the_file_owns_are_compared_and_numbers_by_value() {
        let mut template = riv_infra::stack::riv();
        riv_infra::stack::set_defaults(&mut template, &["MaxPose=30".into()]).unwrap();
        let deployed = BTreeMap::from([
            ("MaxPose".to_string(), "45".to_string()),
            ("FaceMatchThreshold".to_string(), "95.0".to_string()),
            ("ArtifactBucket".to_string(), "riv-artifacts-1".to_string()),
            (
                "CodeKey".to_string(),
                "functions/bootstrap/x.zip".to_string(),
            ),
        ]);
        let found = differences(&template, &deployed);
        assert_eq!(
            found,
            vec![ParameterDiff {
                name: "MaxPose".into(),
                file: "30".into(),
                deployed: "45".into(),
            }]
        );
    }
}
