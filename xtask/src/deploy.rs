//! `cargo xtask deploy | outputs | destroy`: one Riv stack per region, reviewed before it changes, removed
//! completely when asked.

use crate::output::{self, Output};
use anyhow::{anyhow, bail, Result};
use riv_deploy::build::Arch;
use riv_deploy::preflight::Needs;
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

/// The stack's region, checked: see [`checked`].
pub async fn target(w: &Where, needs: Needs) -> Result<Target> {
    checked(
        target_in(&w.region, w.profile.as_deref(), w.endpoint_url.as_deref()).await,
        needs,
    )
    .await
}

/// What deploying `template` needs of a region: AnalyzeID unless its `IdExtraction` says detect-text.
pub fn stack_needs(template: &riv_infra::Template) -> Needs {
    let analyze_id = template
        .parameters
        .get(riv_infra::names::param::ID_EXTRACTION)
        .and_then(|p| p.default.as_deref())
        != Some("detect-text");
    Needs::Stack { analyze_id }
}

/// Whether `url` is on this machine (LocalStack's usual place).
pub fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}

/// Clients for a region, unchecked. LocalStack on this machine takes any credentials, so without any of the
/// user's own it gets LocalStack's test credentials, and says so; anywhere else the standard chain decides.
pub async fn target_in(region: &str, profile: Option<&str>, endpoint_url: Option<&str>) -> Target {
    static SAID: std::sync::Once = std::sync::Once::new();
    let own = profile.is_some()
        || std::env::var_os("AWS_ACCESS_KEY_ID").is_some()
        || std::env::var_os("AWS_PROFILE").is_some();
    let local = endpoint_url.filter(|u| is_loopback(u) && !own);
    if let Some(url) = local {
        SAID.call_once(|| {
            output::step(format!(
                "no AWS credentials given: using LocalStack's test credentials for {url}"
            ))
        });
    }
    Target::new(
        region,
        profile,
        endpoint_url,
        local.map(|_| ("test", "test")),
    )
    .await
}

/// Preflight, in seconds, before anything slow: the region exists and offers what `needs` asks, credentials
/// resolve, and the endpoint answers and accepts them. Each failure is one line naming the fix.
pub async fn checked(target: Target, needs: Needs) -> Result<Target> {
    riv_deploy::preflight::check(&target, needs).await?;
    Ok(target)
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
    if w.endpoint_url.as_deref().is_some_and(is_loopback) {
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
    let runtime = tokio::runtime::Runtime::new()?;
    // Before compiling: a missing credential or a wrong region should cost seconds, not a build.
    let t = runtime.block_on(async {
        let t = target(w, stack_needs(&template)).await?;
        let status = stack::status(&t, &w.stack).await?;
        stack::refuse_if_changing(&w.stack, status.as_ref())?;
        Ok::<_, anyhow::Error>(t)
    })?;
    let compiling = output::Task::start("compiling the functions (release)");
    let phases = output::Phases::within(&compiling);
    let build = if compiling.is_live() {
        riv_deploy::build::build_quietly
    } else {
        riv_deploy::build::build
    };
    let manifest = build(&root, arch, riv_deploy::build::Profile::Release, &|m| {
        phases.line(m)
    })?;
    drop(phases);
    drop(compiling);
    runtime.block_on(async {
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
        // Uploading, creating the change set and applying it, each a spinner or bar at a terminal; applying
        // lasts until the next line after the stack settles (publishing the portal).
        let phases = output::Phases::new();
        let ask = |plan: &changeset::Plan| -> std::io::Result<bool> {
            phases.end();
            print_plan(plan);
            let yes = confirm(
                &format!(
                    "execute these {} changes on {} in {}?",
                    plan.changes.len(),
                    w.stack,
                    w.region
                ),
                args.yes,
            )
            .map_err(std::io::Error::other)?;
            phases.next_total(plan.changes.len() as u64, "resources");
            Ok(yes)
        };
        let on_event = |e: &changeset::StackEvent| {
            output::detail(e);
            if e.completes() {
                phases.inc();
            }
        };
        let deployed = riv_deploy::deploy(
            &t,
            &w.stack,
            &release,
            Approval::Ask(&ask),
            &|m| phases.line(m),
            &on_event,
        )
        .await;
        phases.end();
        let deployed = deployed?;
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
        let t = target(w, Needs::AnyRegion).await?;
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
        let t = target(w, Needs::AnyRegion).await?;
        let task = output::Task::start(format!("destroying {}", w.stack));
        let phases = output::Phases::within(&task);
        let progress = |m: &str| phases.line(m);
        Ok::<_, anyhow::Error>(teardown::destroy(&t, &w.stack, &progress).await?)
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
