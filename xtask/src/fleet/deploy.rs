//! `fleet deploy`: the canary alone, then the rest at once, one live line per region and a summary table.

use super::{checked_build, flavor, load, target, template, DeployArgs};
use crate::output::{self, Output};
use anyhow::{anyhow, bail, Result};
use futures::StreamExt;
use riv_deploy::build::Manifest;
use riv_deploy::changeset::StackEvent;
use riv_deploy::fleet::{Entry, Fleet};
use riv_deploy::{Approval, Release};
use riv_infra::names::output as outputs;
use riv_infra::stack::Flavor;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// One line per region that the deploy keeps current: redrawn in place on a terminal, printed as it changes
/// otherwise (a log keeps every line).
struct Board {
    lines: Mutex<Vec<(String, String)>>,
    redraw: bool,
    drawn: AtomicBool,
}

impl Board {
    fn new(entries: &[Entry]) -> Board {
        Board {
            lines: Mutex::new(
                entries
                    .iter()
                    .map(|e| (e.region.clone(), "waiting".to_string()))
                    .collect(),
            ),
            redraw: std::io::stderr().is_terminal(),
            drawn: AtomicBool::new(false),
        }
    }

    fn set(&self, region: &str, text: String) {
        let Ok(mut lines) = self.lines.lock() else {
            return;
        };
        let Some(line) = lines.iter_mut().find(|(r, _)| r == region) else {
            return;
        };
        if line.1 == text {
            return;
        }
        line.1 = text;
        let mut err = std::io::stderr().lock();
        if !self.redraw {
            let _ = writeln!(err, "    {region:<16} {}", line.1);
            return;
        }
        if self.drawn.swap(true, Ordering::Relaxed) {
            let _ = write!(err, "\x1b[{}A", lines.len());
        }
        // A line that wrapped would throw the cursor arithmetic off: each stays within the terminal's width.
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<usize>().ok())
            .unwrap_or(100)
            .saturating_sub(22)
            .max(20);
        for (r, t) in lines.iter() {
            let _ = writeln!(
                err,
                "\x1b[2K    {r:<16} {}",
                t.chars().take(width).collect::<String>()
            );
        }
    }
}

/// How one region's deploy ended.
struct Deployed {
    result: Result<riv_deploy::stack::Deployed, String>,
    /// When the region started and ended, in seconds since the command started: the waves, as they ran.
    started: f64,
    seconds: f64,
    skipped: bool,
}

async fn deploy_one(
    entry: &Entry,
    manifest: &Manifest,
    endpoint_url: Option<&str>,
    board: &Board,
) -> Result<riv_deploy::stack::Deployed> {
    let template = template(entry, endpoint_url)?;
    let target = target(entry, endpoint_url, crate::deploy::stack_needs(&template)).await?;
    let release = Release {
        template: &template,
        manifest,
        parameters: &entry.parameters,
    };
    let region = entry.region.as_str();
    let total = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let approve = |plan: &riv_deploy::changeset::Plan| -> std::io::Result<bool> {
        total.store(plan.changes.len(), Ordering::Relaxed);
        Ok(true)
    };
    let on_event = |e: &StackEvent| {
        if e.completes() {
            done.fetch_add(1, Ordering::Relaxed);
        }
        board.set(
            region,
            format!(
                "{}/{} resources · {} {}",
                done.load(Ordering::Relaxed),
                total.load(Ordering::Relaxed),
                e.logical_id,
                e.status
            ),
        );
    };
    let deployed = riv_deploy::deploy(
        &target,
        &entry.stack,
        &release,
        Approval::Ask(&approve),
        &|m| board.set(region, m.to_string()),
        &on_event,
    )
    .await?;
    Ok(deployed)
}

pub fn run(args: &DeployArgs, out: Output) -> Result<()> {
    let started = Instant::now();
    let fleet = load(&args.fleet)?;
    let canary = match &args.canary {
        None => 0,
        Some(region) => fleet
            .entries
            .iter()
            .position(|e| &e.region == region)
            .ok_or_else(|| {
                anyhow!(
                    "--canary {region}: the fleet file has no stack in {region} (it lists {})",
                    regions(&fleet)
                )
            })?,
    };
    let mut order = fleet.entries.clone();
    let first = order.remove(canary);
    order.insert(0, first);
    let list: Vec<String> = order
        .iter()
        .enumerate()
        .map(|(i, e)| {
            format!(
                "{} in {}{}",
                e.stack,
                e.region,
                if i == 0 { " (canary)" } else { "" }
            )
        })
        .collect();
    if !crate::deploy::confirm(
        &format!(
            "deploy {}? (`cargo xtask fleet plan` shows the changes first)",
            list.join(", ")
        ),
        args.yes,
    )? {
        bail!("nothing was deployed");
    }
    let manifest = checked_build(&fleet, &args.fleet, &args.arch)?;
    let endpoint = args.fleet.endpoint_url.as_deref();
    let board = Board::new(&order);
    let stop = AtomicBool::new(false);
    let run = |entry: Entry, wave: &'static str| {
        let (manifest, board, stop) = (&manifest, &board, &stop);
        async move {
            let clock = Instant::now();
            let begun = started.elapsed().as_secs_f64();
            if stop.load(Ordering::Relaxed) {
                board.set(&entry.region, format!("skipped: {wave}"));
                return (
                    entry,
                    Deployed {
                        result: Err(format!("not deployed: {wave}")),
                        started: begun,
                        seconds: 0.0,
                        skipped: true,
                    },
                );
            }
            board.set(&entry.region, "starting".into());
            let result = deploy_one(&entry, manifest, endpoint, board)
                .await
                .map_err(|e| format!("{e:#}"));
            board.set(
                &entry.region,
                match &result {
                    Ok(d) if d.changed => {
                        format!("{} in {:.0}s", d.status, clock.elapsed().as_secs_f64())
                    }
                    Ok(_) => "no changes".into(),
                    Err(e) => format!("FAILED: {}", e.chars().take(90).collect::<String>()),
                },
            );
            if result.is_err() && args.fail_fast {
                stop.store(true, Ordering::Relaxed);
            }
            (
                entry,
                Deployed {
                    result,
                    started: begun,
                    seconds: clock.elapsed().as_secs_f64(),
                    skipped: false,
                },
            )
        }
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let results: Vec<(Entry, Deployed)> = runtime.block_on(async {
        let mut results = vec![run(order[0].clone(), "").await];
        if results[0].1.result.is_err() {
            // The canary failed: nothing else starts.
            stop.store(true, Ordering::Relaxed);
        }
        let wave = if stop.load(Ordering::Relaxed) {
            "the canary failed"
        } else {
            "an earlier region failed (--fail-fast)"
        };
        let rest: Vec<(Entry, Deployed)> = futures::stream::iter(order[1..].iter().cloned())
            .map(|entry| run(entry, wave))
            .buffered(usize::from(args.fleet.concurrency))
            .collect()
            .await;
        results.extend(rest);
        results
    });
    let failed = results.iter().filter(|(_, d)| d.result.is_err()).count();
    match out {
        Output::Json => {
            let rows: Vec<serde_json::Value> = results
                .iter()
                .map(|(entry, d)| {
                    let (result, detail) = summary(d, endpoint);
                    serde_json::json!({
                        "region": entry.region,
                        "stack": entry.stack,
                        "result": result,
                        "seconds": (d.seconds * 10.0).round() / 10.0,
                        "started_at": (d.started * 10.0).round() / 10.0,
                        "finished_at": ((d.started + d.seconds) * 10.0).round() / 10.0,
                        "outputs": d.result.as_ref().ok().map(|x| &x.outputs),
                        "error": d.result.as_ref().err(),
                        "detail": detail,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string(&rows)?);
        }
        Output::Text => {
            println!(
                "{:<16} {:<24} {:<10} {:>8}  detail",
                "region", "stack", "result", "seconds"
            );
            for (entry, d) in &results {
                let (result, detail) = summary(d, endpoint);
                println!(
                    "{:<16} {:<24} {:<10} {:>8.1}  {detail}",
                    entry.region, entry.stack, result, d.seconds
                );
            }
        }
    }
    output::done("fleet deploy", started);
    if failed > 0 {
        bail!(
            "{failed} of {} regions were not deployed: fix what the summary names and run fleet deploy again \
             (deployed regions come out unchanged)",
            results.len()
        );
    }
    Ok(())
}

/// A region's result word and what to show beside it: the API URL, or what failed.
fn summary(d: &Deployed, endpoint_url: Option<&str>) -> (&'static str, String) {
    match &d.result {
        Ok(x) => (
            if x.changed { "deployed" } else { "unchanged" },
            api_url(&x.outputs, endpoint_url).unwrap_or_default(),
        ),
        Err(e) if d.skipped => ("skipped", e.clone()),
        Err(e) => ("FAILED", e.clone()),
    }
}

/// Where the API answers: LocalStack serves it under its own endpoint, not at the AWS-shaped `ApiUrl`.
pub(super) fn api_url(
    outputs: &std::collections::BTreeMap<String, String>,
    endpoint_url: Option<&str>,
) -> Option<String> {
    match endpoint_url {
        Some(endpoint) if flavor(endpoint_url) == Flavor::Local => {
            riv_launcher::up::api_url(endpoint, outputs)
        }
        _ => outputs.get(outputs::API_URL).cloned(),
    }
}

fn regions(fleet: &Fleet) -> String {
    fleet
        .entries
        .iter()
        .map(|e| e.region.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
