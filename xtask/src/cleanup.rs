//! `cargo xtask cleanup`: find what deleted Riv stacks left behind in some regions, show it, delete it on
//! confirmation.

use crate::deploy::{confirm, target_in};
use crate::output::{self, Output};
use anyhow::{bail, Result};
use riv_deploy::cleanup::{self, human_age, human_bytes, Leftover};
use riv_deploy::cleanup::{delete, inventory};
use riv_deploy::preflight::Needs;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Regions to look in, comma-separated (default: the region of the standard AWS configuration).
    #[arg(long, value_delimiter = ',', conflicts_with = "all_regions")]
    regions: Vec<String>,
    /// Every region that offers Rekognition (see `RIV_REGIONS` in riv-deploy's cleanup module).
    #[arg(long)]
    all_regions: bool,
    /// List what would be deleted and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Delete without asking (required without a terminal).
    #[arg(long)]
    yes: bool,
    /// Named profile from ~/.aws (otherwise the standard chain: environment, SSO, instance role).
    #[arg(long)]
    profile: Option<String>,
    /// Another endpoint, e.g. LocalStack's http://127.0.0.1:4566.
    #[arg(long)]
    endpoint_url: Option<String>,
}

#[derive(serde::Serialize)]
struct Report {
    leftovers: Vec<Leftover>,
    deleted: usize,
    dry_run: bool,
    /// Regions that could not be read, with the reason (e.g. an opt-in region not enabled).
    unreadable: Vec<(String, String)>,
    /// Leftovers whose deletion failed, with the reason; the others are still deleted.
    failed: Vec<(String, String)>,
}

async fn regions(args: &Args) -> Result<Vec<String>> {
    if args.all_regions {
        return Ok(cleanup::RIV_REGIONS.map(str::to_string).to_vec());
    }
    if !args.regions.is_empty() {
        return Ok(args.regions.clone());
    }
    match riv_deploy::target::configured_region(args.profile.as_deref()).await {
        Some(r) => Ok(vec![r]),
        None => bail!(
            "no region given and none configured: pass --regions eu-west-1,us-east-1 or --all-regions \
             (or set AWS_REGION)"
        ),
    }
}

fn print_table(leftovers: &[Leftover], now: i64) {
    println!(
        "{:<14} {:<12} {:<64} {:<16} {:>10} {:>8} {:>5}  why",
        "region", "kind", "name", "stack", "size", "items", "age"
    );
    for l in leftovers {
        println!(
            "{:<14} {:<12} {:<64} {:<16} {:>10} {:>8} {:>5}  {}",
            l.region,
            l.kind.label(),
            l.name,
            l.stack.as_deref().unwrap_or("-"),
            l.bytes.map(human_bytes).unwrap_or_else(|| "-".into()),
            l.items.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
            l.created
                .map(|c| human_age(now - c))
                .unwrap_or_else(|| "-".into()),
            l.why
        );
    }
    let bytes: u64 = leftovers.iter().filter_map(|l| l.bytes).sum();
    println!(
        "{} leftovers, {} stored",
        leftovers.len(),
        human_bytes(bytes)
    );
}

pub fn run(args: &Args, out: Output) -> Result<()> {
    let started = Instant::now();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let mut report = Report {
            leftovers: Vec::new(),
            deleted: 0,
            dry_run: args.dry_run,
            unreadable: Vec::new(),
            failed: Vec::new(),
        };
        let mut targets = Vec::new();
        let mut now = 0;
        for (n, region) in regions(args).await?.into_iter().enumerate() {
            output::step(format!("looking in {region}"));
            let target = target_in(
                &region,
                args.profile.as_deref(),
                args.endpoint_url.as_deref(),
            )
            .await;
            // Credentials and the endpoint once (they are the same everywhere), each region's name always.
            let target = if n == 0 {
                crate::deploy::checked(target, Needs::AnyRegion).await?
            } else {
                if args.endpoint_url.is_none() {
                    riv_deploy::preflight::check_region(&region, Needs::AnyRegion)?;
                }
                target
            };
            match inventory::survey(&target).await {
                Ok((judged_at, leftovers)) => {
                    now = judged_at;
                    report.leftovers.extend(leftovers);
                    targets.push(target);
                }
                Err(e) => {
                    output::step(format!("{region}: could not be read ({e}); skipped"));
                    report.unreadable.push((region, e.to_string()));
                }
            }
        }
        if out == Output::Text {
            print_table(&report.leftovers, now);
        }
        let act = !report.leftovers.is_empty()
            && !args.dry_run
            && confirm(
                &format!("delete these {} leftovers?", report.leftovers.len()),
                args.yes,
            )?;
        if act {
            let task = output::Task::start("deleting the leftovers");
            task.total(report.leftovers.len() as u64, "leftovers");
            for l in &report.leftovers {
                let Some(target) = targets.iter().find(|t| t.region == l.region) else {
                    task.inc();
                    continue;
                };
                output::step(format!(
                    "deleting {} {} in {}",
                    l.kind.label(),
                    l.name,
                    l.region
                ));
                let phases = output::Phases::within(&task);
                let progress = |m: &str| phases.line(m);
                match delete::delete(target, l, &progress).await {
                    Ok(()) => report.deleted += 1,
                    Err(e) => {
                        output::step(format!("  could not delete {}: {e}", l.name));
                        report.failed.push((l.name.clone(), e.to_string()));
                    }
                }
                // Counted once its delete has ended, whichever way.
                task.inc();
            }
        }
        output::done(&format!("cleanup ({} deleted)", report.deleted), started);
        if out == Output::Json {
            println!("{}", serde_json::to_string(&report)?);
        } else if args.dry_run {
            println!("dry run: nothing was deleted");
        }
        let listed = |pairs: &[(String, String)]| {
            pairs
                .iter()
                .map(|(what, why)| format!("{what} ({why})"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        if !report.failed.is_empty() {
            bail!(
                "{} leftover(s) could not be deleted (check the permissions in the README's \"Removing everything\"): {}",
                report.failed.len(),
                listed(&report.failed)
            );
        }
        if !report.unreadable.is_empty() {
            bail!(
                "{} region(s) could not be read: {}",
                report.unreadable.len(),
                listed(&report.unreadable)
            );
        }
        Ok(())
    })
}
