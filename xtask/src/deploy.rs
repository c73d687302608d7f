//! `cargo xtask deploy | outputs | destroy`: one Riv stack per region, reviewed before it changes, removed
//! completely when asked.

use crate::output::{self, Output};
use anyhow::{anyhow, bail, Result};
use riv_deploy::build::Arch;
use riv_deploy::{changeset, stack, teardown, Approval, Release, Target};
use riv_infra::stack::Flavor;
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Where {
    /// AWS region, e.g. eu-west-1.
    #[arg(long)]
    pub region: String,
    #[arg(long, default_value = riv_infra::names::DEFAULT_STACK_NAME)]
    pub stack: String,
    /// Named profile from ~/.aws (otherwise the standard chain: environment, SSO, instance role).
    #[arg(long)]
    profile: Option<String>,
    /// Another endpoint, e.g. LocalStack's http://127.0.0.1:4566.
    #[arg(long)]
    pub endpoint_url: Option<String>,
}

#[derive(clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    target: Where,
    /// Stack parameter (repeatable), e.g. `--param FaceMatchThreshold=97`.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// Execute the change set without asking (required without a terminal).
    #[arg(long)]
    yes: bool,
    /// Lambda architecture to build for.
    #[arg(long, default_value = "x86_64", value_parser = ["x86_64", "arm64"])]
    arch: String,
}

#[derive(clap::Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    target: Where,
    /// Destroy without asking (required without a terminal).
    #[arg(long)]
    yes: bool,
}

pub async fn target(w: &Where) -> Target {
    target_in(&w.region, w.profile.as_deref(), w.endpoint_url.as_deref()).await
}

/// Clients for a region; LocalStack takes any credentials, so users need not invent some for it.
pub async fn target_in(region: &str, profile: Option<&str>, endpoint_url: Option<&str>) -> Target {
    let local = endpoint_url.is_some_and(|u| u.contains("127.0.0.1") || u.contains("localhost"));
    let creds =
        (local && std::env::var_os("AWS_ACCESS_KEY_ID").is_none()).then_some(("test", "test"));
    Target::new(region, profile, endpoint_url, creds).await
}

pub fn confirm(question: &str, yes: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("{question} needs confirmation and there is no terminal to ask on: pass --yes");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn print_outputs(out: Output, outputs: &std::collections::BTreeMap<String, String>) -> Result<()> {
    match out {
        Output::Json => println!("{}", serde_json::to_string(outputs)?),
        Output::Text => {
            for (k, v) in outputs {
                println!("{k:<32} {v}");
            }
        }
    }
    Ok(())
}

/// Test hooks (fault injection, an endpoint override) only ever go to a LocalStack on this machine.
fn flavor(w: &Where) -> Flavor {
    let local = w
        .endpoint_url
        .as_deref()
        .is_some_and(|u| u.contains("127.0.0.1") || u.contains("localhost"));
    if local {
        Flavor::Local
    } else {
        Flavor::Aws
    }
}

fn print_plan(plan: &changeset::Plan) {
    eprintln!(
        "{:<8} {:<44} {:<36} replacement",
        "action", "logical id", "type"
    );
    for c in &plan.changes {
        eprintln!(
            "{:<8} {:<44} {:<36} {}",
            c.action, c.logical_id, c.resource_type, c.replacement
        );
    }
}

pub fn deploy(args: &DeployArgs, out: Output) -> Result<()> {
    let started = Instant::now();
    let w = &args.target;
    let mut template = riv_infra::stack::template(flavor(w));
    riv_infra::stack::set_defaults(&mut template, &args.params)?;
    let root = crate::workspace_root()?;
    let arch = if args.arch == "arm64" {
        Arch::Arm64
    } else {
        Arch::X86_64
    };
    let manifest =
        riv_deploy::build::build(&root, arch, riv_deploy::build::Profile::Release, &|m| {
            output::step(m)
        })?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let t = target(w).await;
        output::step(format!("deploying {} to {}", w.stack, w.region));
        // Checked above and baked in as defaults; passed as values too, so they win over the code's.
        let parameters: BTreeMap<String, String> = args
            .params
            .iter()
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let release = Release {
            template: &template,
            manifest: &manifest,
            parameters: &parameters,
        };
        let ask = |plan: &changeset::Plan| -> std::io::Result<bool> {
            print_plan(plan);
            confirm(
                &format!(
                    "execute these {} changes on {} in {}?",
                    plan.changes.len(),
                    w.stack,
                    w.region
                ),
                args.yes,
            )
            .map_err(std::io::Error::other)
        };
        let deployed = riv_deploy::deploy(
            &t,
            &w.stack,
            &release,
            Approval::Ask(&ask),
            &|m| output::step(m),
            &|line| eprintln!("    {line}"),
        )
        .await?;
        let what = if deployed.changed {
            format!("{} is {}", deployed.stack, deployed.status)
        } else {
            "deploy (nothing to do)".to_string()
        };
        output::done(&what, started);
        print_outputs(out, &deployed.outputs)
    })
}

pub fn outputs(w: &Where, out: Output) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let t = target(w).await;
        let outputs = stack::outputs(&t, &w.stack).await.map_err(|e| {
            anyhow!(
                "{e}: is {} deployed in {}? (`cargo xtask deploy --region {}`)",
                w.stack,
                w.region,
                w.region
            )
        })?;
        print_outputs(out, &outputs)
    })
}

pub fn destroy(args: &DestroyArgs, out: Output) -> Result<()> {
    let started = Instant::now();
    let w = &args.target;
    if !confirm(
        &format!(
            "destroy {} in {} and every image it stored?",
            w.stack, w.region
        ),
        args.yes,
    )? {
        bail!("nothing was destroyed");
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(async {
        let t = target(w).await;
        teardown::destroy(&t, &w.stack, &|m| output::step(m)).await
    })?;
    output::done("destroy", started);
    match out {
        Output::Json => println!("{}", serde_json::to_string(&report)?),
        Output::Text
            if !report.stack_existed
                && report.buckets.is_empty()
                && report.collections_deleted.is_empty()
                && report.keys_scheduled.is_empty() =>
        {
            println!("{} did not exist in {}: nothing to do", w.stack, w.region)
        }
        Output::Text => println!(
            "destroyed {}{}: {} object versions, buckets {:?}, collections {:?}{}",
            w.stack,
            if report.stack_existed {
                ""
            } else {
                " (what an earlier destroy left)"
            },
            report.objects_deleted,
            report.buckets,
            report.collections_deleted,
            if report.keys_scheduled.is_empty() {
                String::new()
            } else {
                format!(
                    ", KMS keys scheduled for deletion in {} days {:?}",
                    riv_infra::names::KEY_DELETION_WINDOW_DAYS,
                    report.keys_scheduled
                )
            }
        ),
    }
    Ok(())
}
