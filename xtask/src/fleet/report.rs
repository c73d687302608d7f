//! `fleet status`, `fleet drift` (and `drift` for one stack) and `fleet destroy`: reading and removing what the
//! fleet file lists.

use super::deploy::api_url;
use super::{each, flavor, json_error, load, target, template, DestroyArgs, FleetArgs};
use crate::output::{self, Output};
use anyhow::{bail, Result};
use riv_deploy::drift::Report;
use riv_deploy::fleet::status::{self, RegionStatus};
use riv_deploy::fleet::Entry;
use riv_deploy::preflight::Needs;
use std::time::Instant;

pub fn status(args: &FleetArgs, out: Output) -> Result<()> {
    let fleet = load(args)?;
    let endpoint = args.endpoint_url.as_deref();
    let commit =
        riv_deploy::build::commit(&crate::workspace_root()?).unwrap_or_else(|| "unknown".into());
    let commit = commit.as_str();
    let results = each(&fleet, args.concurrency, |entry| async move {
        let template = template(&entry, endpoint)?;
        let target = target(&entry, endpoint, Needs::AnyRegion).await?;
        let mut status = status::region(&target, &entry, &template, commit).await?;
        status.api_url = api_url(&status.outputs, endpoint);
        Ok::<RegionStatus, anyhow::Error>(status)
    })?;
    // Riv stacks in the visited regions that the file does not list.
    let mut unlisted = Vec::new();
    let mut visited: Vec<&Entry> = Vec::new();
    for entry in &fleet.entries {
        if !visited.iter().any(|e| e.region == entry.region) {
            visited.push(entry);
        }
    }
    let runtime = tokio::runtime::Runtime::new()?;
    for entry in visited {
        let found = runtime.block_on(async {
            let target = target(entry, endpoint, Needs::AnyRegion).await?;
            Ok::<_, anyhow::Error>(status::riv_stacks(&target).await?)
        })?;
        for (stack, state) in found {
            let listed = fleet
                .entries
                .iter()
                .any(|e| e.region == entry.region && e.stack == stack);
            if !listed {
                unlisted.push(
                    serde_json::json!({"region": entry.region, "stack": stack, "status": state}),
                );
            }
        }
    }
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    match out {
        Output::Json => {
            let rows: Vec<serde_json::Value> = results
                .iter()
                .map(|(entry, r)| match r {
                    Ok(s) => serde_json::to_value(s).unwrap_or_default(),
                    Err(e) => json_error(entry, e),
                })
                .collect();
            println!(
                "{}",
                serde_json::json!({"commit": commit, "stacks": rows, "not_in_file": unlisted})
            );
        }
        Output::Text => {
            output::step(format!("this workspace deploys commit {commit}"));
            println!(
                "{:<16} {:<24} {:<24} {:<44} {:<28} api",
                "region", "stack", "status", "version", "differs from the file"
            );
            for (entry, r) in &results {
                match r {
                    Ok(s) => println!(
                        "{:<16} {:<24} {:<24} {:<44} {:<28} {}",
                        s.region,
                        s.stack,
                        s.status.as_deref().unwrap_or("(no stack)"),
                        match (&s.stamp, s.other_commit) {
                            (Some(x), false) => x.to_string(),
                            (Some(x), true) => format!("{x} OTHER COMMIT"),
                            (None, _) if s.status.is_some() => "(no release tags)".into(),
                            (None, _) => "-".into(),
                        },
                        if s.differs.is_empty() {
                            "-".to_string()
                        } else {
                            s.differs
                                .iter()
                                .map(|d| format!("{}={} (file {})", d.name, d.deployed, d.file))
                                .collect::<Vec<_>>()
                                .join(", ")
                        },
                        s.api_url.as_deref().unwrap_or("-"),
                    ),
                    Err(e) => println!("{:<16} {:<24} ERROR {e:#}", entry.region, entry.stack),
                }
            }
            for u in &unlisted {
                println!(
                    "not in the file: {} in {} ({})",
                    u["stack"].as_str().unwrap_or_default(),
                    u["region"].as_str().unwrap_or_default(),
                    u["status"].as_str().unwrap_or_default()
                );
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} regions could not be read", results.len());
    }
    Ok(())
}

pub fn drift(args: &FleetArgs, out: Output) -> Result<()> {
    let fleet = load(args)?;
    let endpoint = args.endpoint_url.as_deref();
    let results = each(&fleet, args.concurrency, |entry| async move {
        let template = template(&entry, endpoint)?;
        let target = target(&entry, endpoint, Needs::AnyRegion).await?;
        output::step(format!(
            "{}: comparing {} with its template",
            entry.region, entry.stack
        ));
        Ok::<Report, anyhow::Error>(
            riv_deploy::drift::check(&target, &entry.stack, &template, true).await?,
        )
    })?;
    let reports: Vec<Result<&Report, (&Entry, &anyhow::Error)>> = results
        .iter()
        .map(|(entry, r)| r.as_ref().map_err(|e| (entry, e)))
        .collect();
    print_drift(&reports, out)
}

/// `cargo xtask drift --region R`: one stack.
pub fn drift_one(w: &crate::deploy::Where, out: Output) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(async {
        let target = crate::deploy::target(w, Needs::AnyRegion).await?;
        let template = riv_infra::stack::template(flavor(w.endpoint_url.as_deref()));
        Ok::<_, anyhow::Error>(riv_deploy::drift::check(&target, &w.stack, &template, true).await?)
    })?;
    print_drift(&[Ok(&report)], out)
}

fn print_drift(reports: &[Result<&Report, (&Entry, &anyhow::Error)>], out: Output) -> Result<()> {
    let drifted = reports
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.drifted()))
        .count();
    let unchecked = reports.iter().filter(|r| r.is_err()).count();
    match out {
        Output::Json => {
            let rows: Vec<serde_json::Value> = reports
                .iter()
                .map(|r| match r {
                    Ok(report) => serde_json::json!({
                        "region": report.region,
                        "stack": report.stack,
                        "drifted": report.drifted(),
                        "checked": report.checked,
                        "cloudformation": report.cloudformation,
                        "differences": report.differences,
                    }),
                    Err((entry, e)) => json_error(entry, e),
                })
                .collect();
            println!("{}", serde_json::to_string(&rows)?);
        }
        Output::Text => {
            for r in reports {
                match r {
                    Ok(report) => {
                        let cfn = match &report.cloudformation {
                            riv_deploy::drift::CloudFormationDrift::Skipped => {
                                "not asked".to_string()
                            }
                            riv_deploy::drift::CloudFormationDrift::InSync => "in sync".to_string(),
                            riv_deploy::drift::CloudFormationDrift::Drifted { resources } => {
                                format!("DRIFTED: {}", resources.join(", "))
                            }
                            riv_deploy::drift::CloudFormationDrift::Unavailable { reason } => {
                                format!("unavailable ({reason})")
                            }
                        };
                        println!(
                            "{} in {}: {} of {} properties differ; CloudFormation drift detection: {cfn}",
                            report.stack,
                            report.region,
                            report.differences.len(),
                            report.checked
                        );
                        for d in &report.differences {
                            println!(
                                "    {:<36} {:<48} expected {:<24} actual {}",
                                d.resource, d.property, d.expected, d.actual
                            );
                        }
                    }
                    Err((entry, e)) => println!("{} in {}: ERROR {e:#}", entry.stack, entry.region),
                }
            }
        }
    }
    if unchecked > 0 {
        bail!(
            "{unchecked} of {} stack(s) could not be checked (the lines above say why)",
            reports.len()
        );
    }
    if drifted > 0 {
        return Err(crate::output::ChangesFound(format!(
            "{drifted} stack(s) drifted from their template: `cargo xtask deploy` (or `fleet deploy`) puts the \
             template's values back"
        ))
        .into());
    }
    Ok(())
}

pub fn destroy(args: &DestroyArgs, out: Output) -> Result<()> {
    let started = Instant::now();
    let fleet = load(&args.fleet)?;
    let list: Vec<String> = fleet
        .entries
        .iter()
        .map(|e| format!("{} in {}", e.stack, e.region))
        .collect();
    if !crate::deploy::confirm(
        &format!("destroy {} and every image they stored?", list.join(", ")),
        args.yes,
    )? {
        bail!("nothing was destroyed");
    }
    let endpoint = args.fleet.endpoint_url.as_deref();
    let results = each(&fleet, args.fleet.concurrency, |entry| async move {
        let target = target(&entry, endpoint, Needs::AnyRegion).await?;
        let region = entry.region.clone();
        Ok::<_, anyhow::Error>(
            riv_deploy::teardown::destroy(&target, &entry.stack, &|m| {
                output::step(format!("{region}: {m}"))
            })
            .await?,
        )
    })?;
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    match out {
        Output::Json => {
            let rows: Vec<serde_json::Value> = results
                .iter()
                .map(|(entry, r)| match r {
                    Ok(report) => serde_json::json!({
                        "region": entry.region,
                        "stack": entry.stack,
                        "destroyed": report,
                    }),
                    Err(e) => serde_json::json!({
                        "region": entry.region,
                        "stack": entry.stack,
                        "error": e.to_string(),
                    }),
                })
                .collect();
            println!("{}", serde_json::to_string(&rows)?);
        }
        Output::Text => {
            for (entry, r) in &results {
                match r {
                    Ok(report) if !report.stack_existed && report.buckets.is_empty() => {
                        println!("{:<16} {:<24} nothing to destroy", entry.region, entry.stack)
                    }
                    Ok(report) => println!(
                        "{:<16} {:<24} destroyed: {} object versions, buckets {:?}, collections {:?}",
                        entry.region,
                        entry.stack,
                        report.objects_deleted,
                        report.buckets,
                        report.collections_deleted
                    ),
                    Err(e) => println!("{:<16} {:<24} FAILED: {e}", entry.region, entry.stack),
                }
            }
        }
    }
    output::done("fleet destroy", started);
    if failed > 0 {
        bail!(
            "{failed} of {} stacks were not destroyed completely: run fleet destroy again to finish",
            results.len()
        );
    }
    Ok(())
}
