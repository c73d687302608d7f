//! `cargo xtask fleet …`: every region's stack as `riv.fleet.yaml` describes it. `plan` shows what a deploy
//! would do everywhere and executes nothing; `deploy` goes canary first, then the rest at once; `status` says
//! what runs where and how it differs from the file; `drift` compares each live stack with its template;
//! `destroy` removes them all after one confirmation.

mod deploy;
mod report;

pub use report::drift_one;

use crate::output::{self, Output};
use anyhow::{anyhow, bail, Result};
use futures::StreamExt;
use riv_deploy::build::{Arch, Manifest};
use riv_deploy::fleet::plan::{plan_entry, RegionPlan};
use riv_deploy::fleet::{Entry, Fleet};
use riv_deploy::preflight::Needs;
use riv_deploy::{Release, Target};
use riv_infra::stack::Flavor;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum Command {
    /// What a deploy would do in every region of the fleet file: builds once, uploads and creates a change set
    /// per region (concurrently), prints region, stack, action (create / update / no change) and changes by kind
    /// with replacements flagged, then deletes the change sets. Executes nothing.
    #[command(
        after_long_help = "Examples:\n  cargo xtask fleet plan                         # exit 0: nothing would change; 3: something would\n  cargo xtask fleet plan --endpoint-url http://127.0.0.1:4566\n  cargo xtask --output json fleet plan --fleet riv.fleet.yaml"
    )]
    Plan(PlanArgs),
    /// Deploy every stack of the fleet file: the canary (the first entry, or --canary) first, then, if it
    /// succeeded, the others concurrently. One live line per region, a summary table at the end; a region's
    /// failure does not stop the others (unless --fail-fast). Exits non-zero when any region failed; run it again
    /// once fixed, and it converges.
    #[command(
        after_long_help = "Examples:\n  cargo xtask fleet deploy                       # asks once, canary first\n  cargo xtask fleet deploy --yes --endpoint-url http://127.0.0.1:4566\n  cargo xtask --output json fleet deploy --yes"
    )]
    Deploy(DeployArgs),
    /// Per region: stack status, the Riv version deployed (version, commit, template hash), parameters that
    /// differ from the file, and the API URL; regions of the file without a stack, and Riv stacks in those
    /// regions that the file does not list.
    #[command(
        after_long_help = "Examples:\n  cargo xtask fleet status\n  cargo xtask fleet status --endpoint-url http://127.0.0.1:4566\n  cargo xtask --output json fleet status"
    )]
    Status(FleetArgs),
    /// Compare every stack of the file with its template (see `cargo xtask drift`); exits 3 on drift.
    #[command(
        after_long_help = "Examples:\n  cargo xtask fleet drift                        # exit 3 when a stack drifted\n  cargo xtask fleet drift --endpoint-url http://127.0.0.1:4566\n  cargo xtask --output json fleet drift"
    )]
    Drift(FleetArgs),
    /// Destroy every stack of the file (each emptied and deleted as `cargo xtask destroy` does), after one
    /// confirmation that lists them all.
    #[command(
        after_long_help = "Examples:\n  cargo xtask fleet destroy                      # lists every stack, asks once\n  cargo xtask fleet destroy --yes --endpoint-url http://127.0.0.1:4566\n  cargo xtask --output json fleet destroy --yes"
    )]
    Destroy(DestroyArgs),
}

#[derive(clap::Args)]
pub struct FleetArgs {
    /// The fleet file (see riv.fleet.example.yaml).
    #[arg(long, default_value = riv_deploy::fleet::DEFAULT_FILE)]
    fleet: PathBuf,
    /// Another endpoint for every region, e.g. LocalStack's http://127.0.0.1:4566 (it serves many regions).
    #[arg(long)]
    endpoint_url: Option<String>,
    /// Regions worked on at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    concurrency: u16,
}

#[derive(clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    fleet: FleetArgs,
    /// Lambda architecture to build for.
    #[arg(long, default_value = "x86_64", value_parser = ["x86_64", "arm64"])]
    arch: String,
}

#[derive(clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    fleet: FleetArgs,
    /// Lambda architecture to build for.
    #[arg(long, default_value = "x86_64", value_parser = ["x86_64", "arm64"])]
    arch: String,
    /// The region deployed first, alone (default: the file's first entry).
    #[arg(long, value_name = "REGION")]
    canary: Option<String>,
    /// Start no further region once one has failed.
    #[arg(long)]
    fail_fast: bool,
    /// Deploy without asking (required without a terminal).
    #[arg(long)]
    yes: bool,
}

#[derive(clap::Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    fleet: FleetArgs,
    /// Destroy without asking (required without a terminal).
    #[arg(long)]
    yes: bool,
}

pub fn run(command: Command, out: Output) -> Result<()> {
    match command {
        Command::Plan(args) => plan(&args, out),
        Command::Deploy(args) => deploy::run(&args, out),
        Command::Status(args) => report::status(&args, out),
        Command::Drift(args) => report::drift(&args, out),
        Command::Destroy(args) => report::destroy(&args, out),
    }
}

/// The local stack's template (with its test hooks) only for a LocalStack on this machine.
fn flavor(endpoint_url: Option<&str>) -> Flavor {
    if endpoint_url.is_some_and(|u| u.contains("127.0.0.1") || u.contains("localhost")) {
        Flavor::Local
    } else {
        Flavor::Aws
    }
}

fn load(args: &FleetArgs) -> Result<Fleet> {
    let fleet = riv_deploy::fleet::load(&args.fleet, flavor(args.endpoint_url.as_deref()))
        .map_err(|e| anyhow!(e))?;
    output::step(format!(
        "{}: {} stacks ({})",
        args.fleet.display(),
        fleet.entries.len(),
        fleet
            .entries
            .iter()
            .map(|e| format!("{} in {}", e.stack, e.region))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(fleet)
}

/// Preflight of every entry (its region, its credentials or role, its endpoint; see
/// [`crate::deploy::checked`]), then the one build every region deploys: a wrong region or an expired role costs
/// seconds, not a build.
fn checked_build(fleet: &Fleet, args: &FleetArgs, arch: &str) -> Result<Manifest> {
    let endpoint = args.endpoint_url.as_deref();
    let checked = each(fleet, args.concurrency, |entry| async move {
        let template = template(&entry, endpoint)?;
        let needs = crate::deploy::stack_needs(&template);
        target(&entry, endpoint, needs).await.map(|_| ())
    })?;
    let failed: Vec<String> = checked
        .iter()
        .filter_map(|(entry, r)| r.as_ref().err().map(|e| format!("  {}: {e}", entry.region)))
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} of {} regions failed preflight; nothing was built or changed:\n{}",
            failed.len(),
            checked.len(),
            failed.join("\n")
        );
    }
    build(arch)
}

fn build(arch: &str) -> Result<Manifest> {
    let arch = if arch == "arm64" {
        Arch::Arm64
    } else {
        Arch::X86_64
    };
    let root = crate::workspace_root()?;
    Ok(riv_deploy::build::build(
        &root,
        arch,
        riv_deploy::build::Profile::Release,
        &|m| output::step(m),
    )?)
}

/// The entry's template, with the entry's parameters baked in as defaults; they are passed as values too, so
/// they win over the code's.
fn template(entry: &Entry, endpoint_url: Option<&str>) -> Result<riv_infra::Template> {
    let mut template = riv_infra::stack::template(flavor(endpoint_url));
    let pairs: Vec<String> = entry
        .parameters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    riv_infra::stack::set_defaults(&mut template, &pairs)?;
    Ok(template)
}

/// The entry's region with its role assumed, after preflight (see [`crate::deploy::checked`]).
async fn target(entry: &Entry, endpoint_url: Option<&str>, needs: Needs) -> Result<Target> {
    let target =
        crate::deploy::target_in(&entry.region, entry.profile.as_deref(), endpoint_url).await;
    let target = match &entry.role {
        Some(role) => target.assuming(role).await,
        None => target,
    };
    crate::deploy::checked(target, needs).await
}

/// Runs `work` on every entry, `concurrency` at once, keeping the file's order in the results.
fn each<'a, T, F, Fut>(fleet: &'a Fleet, concurrency: u16, work: F) -> Result<Vec<(Entry, T)>>
where
    F: Fn(Entry) -> Fut,
    Fut: std::future::Future<Output = T> + 'a,
{
    let runtime = tokio::runtime::Runtime::new()?;
    Ok(runtime.block_on(
        futures::stream::iter(fleet.entries.iter().cloned())
            .map(|entry| {
                let fut = work(entry.clone());
                async move { (entry, fut.await) }
            })
            .buffered(usize::from(concurrency))
            .collect(),
    ))
}

fn json_error(entry: &Entry, e: &anyhow::Error) -> serde_json::Value {
    serde_json::json!({"region": entry.region, "stack": entry.stack, "error": format!("{e:#}")})
}

async fn plan_one(
    entry: &Entry,
    manifest: &Manifest,
    endpoint_url: Option<&str>,
) -> Result<RegionPlan> {
    let template = template(entry, endpoint_url)?;
    let target = target(entry, endpoint_url, crate::deploy::stack_needs(&template)).await?;
    let release = Release {
        template: &template,
        manifest,
        parameters: &entry.parameters,
    };
    let region = entry.region.clone();
    let progress = move |m: &str| output::step(format!("{region}: {m}"));
    Ok(plan_entry(&target, entry, &release, &progress).await?)
}

fn plan(args: &PlanArgs, out: Output) -> Result<()> {
    let started = Instant::now();
    let fleet = load(&args.fleet)?;
    let manifest = checked_build(&fleet, &args.fleet, &args.arch)?;
    let endpoint = args.fleet.endpoint_url.as_deref();
    let results = each(&fleet, args.fleet.concurrency, |entry| {
        let manifest = &manifest;
        async move { plan_one(&entry, manifest, endpoint).await }
    })?;
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    match out {
        Output::Json => {
            let rows: Vec<serde_json::Value> = results
                .iter()
                .map(|(entry, result)| match result {
                    Ok(plan) => serde_json::json!({
                        "region": plan.region,
                        "stack": plan.stack,
                        "action": plan.action,
                        "changes": plan.changes,
                        "replacements": plan.replacements(),
                    }),
                    Err(e) => json_error(entry, e),
                })
                .collect();
            println!("{}", serde_json::to_string(&rows)?);
        }
        Output::Text => print_plan(&results),
    }
    output::done("fleet plan (nothing executed)", started);
    if failed > 0 {
        bail!("{failed} of {} regions could not be planned", results.len());
    }
    let changing = results
        .iter()
        .filter(|(_, r)| {
            r.as_ref()
                .is_ok_and(|p| p.action != riv_deploy::fleet::plan::Action::NoChange)
        })
        .count();
    if changing > 0 {
        return Err(output::ChangesFound(format!(
            "{changing} of {} stacks would change: `cargo xtask fleet deploy` applies the plan",
            results.len()
        ))
        .into());
    }
    Ok(())
}

fn print_plan(results: &[(Entry, Result<RegionPlan>)]) {
    println!(
        "{:<16} {:<24} {:<10} {:>4} {:>7} {:>7}  replacements",
        "region", "stack", "action", "add", "modify", "remove"
    );
    for (entry, result) in results {
        match result {
            Ok(plan) => {
                let replaced = plan.replacements();
                println!(
                    "{:<16} {:<24} {:<10} {:>4} {:>7} {:>7}  {}",
                    plan.region,
                    plan.stack,
                    plan.action.as_str(),
                    plan.count("Add"),
                    plan.count("Modify"),
                    plan.count("Remove"),
                    if replaced.is_empty() {
                        "-".to_string()
                    } else {
                        format!("REPLACES {}", replaced.join(", "))
                    }
                );
            }
            Err(e) => println!(
                "{:<16} {:<24} {:<10} {e:#}",
                entry.region, entry.stack, "ERROR"
            ),
        }
    }
}
