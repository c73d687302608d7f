//! The one deploy path, for `cargo xtask deploy` and the local stack alike: the artifact bucket (checked),
//! uploads keyed by content hash, the template, a change set, its approval, its execution, and the web portal's
//! files in the image bucket.

use crate::artifacts::{self, ArtifactBucket};
use crate::build::Manifest;
use crate::changeset::{self, Plan, StackEvent};
use crate::stack::{self, DeployError, Deployed};
use crate::stamp::Stamp;
use crate::Target;
use riv_infra::names::{output, param};
use std::collections::BTreeMap;

/// Who approves a change set before it runs.
pub enum Approval<'a> {
    /// Without asking: the local stack is disposable.
    Auto,
    /// Asks (a person, shown the plan); `Ok(false)` deletes the change set and changes nothing.
    Ask(&'a dyn Fn(&Plan) -> std::io::Result<bool>),
}

/// What to deploy: the template (its flavor and defaults already chosen), the built functions, and the
/// parameters beyond the code's.
pub struct Release<'a> {
    pub template: &'a riv_infra::Template,
    pub manifest: &'a Manifest,
    pub parameters: &'a BTreeMap<String, String>,
}

/// A release uploaded to a region and its change set, not executed.
pub struct Planned {
    pub bucket: ArtifactBucket,
    /// `None`: the stack is already what the release would make it.
    pub plan: Option<Plan>,
}

/// Uploads the release to the region's artifact bucket and creates its change set; executes nothing.
pub async fn plan(
    target: &Target,
    stack_name: &str,
    release: &Release<'_>,
    progress: &dyn Fn(&str),
) -> Result<Planned, DeployError> {
    let bucket: ArtifactBucket = artifacts::artifact_bucket(target).await?;
    let key = artifacts::upload_artifacts(target, &bucket, release.manifest, progress).await?;
    let mut params = artifacts::code_parameters(&bucket, &key);
    params.insert(
        param::ARCHITECTURE.into(),
        release.manifest.arch.lambda_name().into(),
    );
    params.extend(release.parameters.clone());
    let yaml = release
        .template
        .to_yaml()
        .map_err(|e| DeployError::Other(format!("rendering the template: {e}")))?;
    let stamp = Stamp::new(&yaml, release.manifest.commit.as_deref());
    let url = artifacts::upload_template(target, &bucket, stack_name, &yaml).await?;
    progress(&format!("{stack_name}: creating the change set…"));
    let plan = changeset::plan(target, stack_name, &url, &params, &stamp).await?;
    Ok(Planned { bucket, plan })
}

/// Uploads, plans, asks, executes. `progress` gets one line per step, `on_event` one per stack event; a line
/// ending in `…` announces work that lasts until the next line or the question to `Approval::Ask`.
pub async fn deploy(
    target: &Target,
    stack_name: &str,
    release: &Release<'_>,
    approval: Approval<'_>,
    progress: &dyn Fn(&str),
    on_event: &dyn Fn(&StackEvent),
) -> Result<Deployed, DeployError> {
    let Planned { bucket, plan } = plan(target, stack_name, release, progress).await?;
    let Some(plan) = plan else {
        progress(&format!("{stack_name}: no changes"));
        let deployed = Deployed {
            stack: stack_name.into(),
            changed: false,
            status: "UNCHANGED".into(),
            outputs: stack::outputs(target, stack_name).await?,
        };
        // The portal's files change without the template: publish them anyway.
        let deployed = publish_portal(target, &bucket, deployed, progress).await?;
        repair_drift(target, stack_name, release, progress).await?;
        return Ok(deployed);
    };
    if let Approval::Ask(ask) = approval {
        let approved = ask(&plan).map_err(|e| DeployError::Other(e.to_string()))?;
        if !approved {
            target
                .cloudformation
                .delete_change_set()
                .stack_name(stack_name)
                .change_set_name(&plan.change_set)
                .send()
                .await
                .map_err(stack::aws("cloudformation DeleteChangeSet"))?;
            return Err(DeployError::NotApproved {
                stack: stack_name.into(),
            });
        }
    }
    progress(&format!(
        "{stack_name}: applying {} resource changes…",
        plan.changes.len()
    ));
    let deployed = changeset::execute(target, &plan, on_event).await?;
    let deployed = publish_portal(target, &bucket, deployed, progress).await?;
    repair_drift(target, stack_name, release, progress).await?;
    Ok(deployed)
}

/// CloudFormation leaves a property changed out of band as it is when the template did not change it: deploy
/// puts back what Riv's drift checks find, so a deploy always ends with the stack its template describes.
async fn repair_drift(
    target: &Target,
    stack_name: &str,
    release: &Release<'_>,
    progress: &dyn Fn(&str),
) -> Result<(), DeployError> {
    // The stack is deployed either way: a check that cannot read says so rather than failing the deploy.
    let report = match crate::drift::check(target, stack_name, release.template, false).await {
        Ok(report) => report,
        Err(e) => {
            progress(&format!(
                "{stack_name}: drift not checked ({e}); run `cargo xtask drift` once that is fixed"
            ));
            return Ok(());
        }
    };
    if report.differences.is_empty() {
        return Ok(());
    }
    // After a change set, a difference is either a change made out of band that the template did not touch, or
    // a property the engine did not apply (LocalStack leaves out several): put back either way.
    progress(&format!(
        "{stack_name}: {} properties differ from the template; putting them back",
        report.differences.len()
    ));
    for d in &report.differences {
        progress(&format!(
            "  {} {} is {:?}, the template says {:?}",
            d.resource, d.property, d.actual, d.expected
        ));
    }
    crate::drift::repair(target, &report.differences, &|m| {
        progress(&format!("  {m}"))
    })
    .await?;
    Ok(())
}

/// Puts the portal in the image bucket the stack's API serves it from.
async fn publish_portal(
    target: &Target,
    artifacts: &ArtifactBucket,
    deployed: Deployed,
    progress: &dyn Fn(&str),
) -> Result<Deployed, DeployError> {
    let images = deployed.outputs.get(output::IMAGE_BUCKET).ok_or_else(|| {
        DeployError::Other(format!(
            "stack {} has no {} output, so the portal has nowhere to go: is it a Riv stack?",
            deployed.stack,
            output::IMAGE_BUCKET
        ))
    })?;
    crate::portal::publish(target, images, Some(&artifacts.owner), progress).await?;
    Ok(deployed)
}
