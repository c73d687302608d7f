//! `cargo xtask fleet …`: every region's stack as `riv.fleet.yaml` describes it. `plan` builds once, uploads
//! and creates a change set in each region at once, prints one table, and executes nothing.

use crate::output::{self, Output};
use anyhow::{anyhow, bail, Result};
use futures::StreamExt;
use riv_deploy::build::{Arch, Manifest};
use riv_deploy::fleet::plan::{plan_entry, RegionPlan};
use riv_deploy::fleet::{Entry, Fleet};
use riv_deploy::Release;
use riv_infra::stack::Flavor;
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum Command {
    /// What a deploy would do in every region of the fleet file: builds once, uploads and creates a change set
    /// per region (concurrently), prints region, stack, action (create / update / no change) and changes by kind
    /// with replacements flagged, then deletes the change sets. Executes nothing.
    Plan(PlanArgs),
}

#[derive(clap::Args)]
pub struct FleetArgs {
    /// The fleet file (see riv.fleet.example.yaml).
    #[arg(long, default_value = riv_deploy::fleet::DEFAULT_FILE)]
    fleet: PathBuf,
    /// Another endpoint for every region, e.g. LocalStack's http://127.0.0.1:4566 (it serves many regions).
    #[arg(long)]
    endpoint_url: Option<String>,
}

#[derive(clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    fleet: FleetArgs,
    /// Regions planned at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    concurrency: u16,
    /// Lambda architecture to build for.
    #[arg(long, default_value = "x86_64", value_parser = ["x86_64", "arm64"])]
    arch: String,
}

pub fn run(command: Command, out: Output) -> Result<()> {
    match command {
        Command::Plan(args) => plan(&args, out),
    }
}

fn load(args: &FleetArgs) -> Result<Fleet> {
    let fleet = riv_deploy::fleet::load(&args.fleet).map_err(|e| anyhow!(e))?;
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

fn build(arch: &str) -> Result<Manifest> {
    let arch = if arch == "arm64" {
        Arch::Arm64
    } else {
        Arch::X86_64
    };
    let root = crate::workspace_root()?;
    Ok(riv_deploy::build::build(&root, arch, true, &|m| {
        output::step(m)
    })?)
}

/// The entry's template: the local stack's (with its test hooks) only for a LocalStack on this machine, with
/// the entry's parameters baked in as defaults; they are passed as values too, so they win over the code's.
fn template(entry: &Entry, endpoint_url: Option<&str>) -> Result<riv_infra::Template> {
    let local = endpoint_url.is_some_and(|u| u.contains("127.0.0.1") || u.contains("localhost"));
    let mut template = riv_infra::stack::template(if local { Flavor::Local } else { Flavor::Aws });
    let pairs: Vec<String> = entry
        .parameters
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    riv_infra::stack::set_defaults(&mut template, &pairs)?;
    Ok(template)
}

async fn plan_one(
    entry: &Entry,
    manifest: &Manifest,
    endpoint_url: Option<&str>,
) -> Result<RegionPlan> {
    let template = template(entry, endpoint_url)?;
    let mut target =
        crate::deploy::target_in(&entry.region, entry.profile.as_deref(), endpoint_url).await;
    if let Some(role) = &entry.role {
        target = target.assuming(role).await;
    }
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
    let manifest = build(&args.arch)?;
    let endpoint = args.fleet.endpoint_url.as_deref();
    let runtime = tokio::runtime::Runtime::new()?;
    // `buffered` keeps the file's order in the table while up to `concurrency` regions plan at once.
    let results: Vec<(Entry, Result<RegionPlan>)> = runtime.block_on(
        futures::stream::iter(fleet.entries.iter().cloned())
            .map(|entry| {
                let manifest = &manifest;
                async move {
                    let result = plan_one(&entry, manifest, endpoint).await;
                    (entry, result)
                }
            })
            .buffered(usize::from(args.concurrency))
            .collect(),
    );
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
                    Err(e) => serde_json::json!({
                        "region": entry.region,
                        "stack": entry.stack,
                        "error": format!("{e:#}"),
                    }),
                })
                .collect();
            println!("{}", serde_json::to_string(&rows)?);
        }
        Output::Text => print_table(&results),
    }
    output::done("fleet plan (nothing executed)", started);
    if failed > 0 {
        bail!("{failed} of {} regions could not be planned", results.len());
    }
    Ok(())
}

fn print_table(results: &[(Entry, Result<RegionPlan>)]) {
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
