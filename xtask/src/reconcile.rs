//! `cargo xtask reconcile`: find what breaks a stack's data invariants (faces and images without a live record,
//! records pointing at missing faces or images, unfinished attempts, stale claims), show it, fix it on
//! confirmation.

use crate::deploy::{confirm, target, Where};
use crate::output::{self, Output};
use anyhow::{bail, Result};
use riv_deploy::cleanup::human_age;
use riv_deploy::reconcile::{self, Finding, Outcome, StackData};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    at: Where,
    /// List what would be fixed and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Fix without asking (required without a terminal).
    #[arg(long)]
    yes: bool,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    stack: &'a str,
    region: &'a str,
    findings: &'a [Finding],
    dry_run: bool,
    #[serde(flatten)]
    outcome: Outcome,
}

fn print_table(findings: &[Finding]) {
    println!(
        "{:<19} {:<40} {:<28} {:>5}  action",
        "kind", "id", "user", "age"
    );
    for f in findings {
        println!(
            "{:<19} {:<40} {:<28} {:>5}  {}",
            f.kind.label(),
            f.id,
            f.user.as_deref().unwrap_or("-"),
            f.age_secs.map(human_age).unwrap_or_else(|| "-".into()),
            f.action
        );
    }
    println!("{} finding(s)", findings.len());
}

pub fn run(args: &Args, out: Output) -> Result<()> {
    let started = Instant::now();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let (region, stack) = (&args.at.region, &args.at.stack);
        let target = target(&args.at, riv_deploy::preflight::Needs::AnyRegion).await?;
        output::step(format!("reading stack {stack} in {region}"));
        let data = StackData::of(&target, stack).await?;
        output::step(format!(
            "surveying table {}, bucket {}, collections {}",
            data.table,
            data.bucket,
            data.collections.join(",")
        ));
        let findings = reconcile::check(&target, &data).await?;
        if out == Output::Text {
            print_table(&findings);
        }
        let act = !findings.is_empty()
            && !args.dry_run
            && confirm(&format!("fix these {} finding(s)?", findings.len()), args.yes)?;
        let outcome = if act {
            output::step("fixing");
            reconcile::apply(&target, &data, &findings).await
        } else {
            Outcome::default()
        };
        output::done(&format!("reconcile ({} fixed)", outcome.fixed), started);
        let failed = outcome.failed.clone();
        match out {
            Output::Json => println!(
                "{}",
                serde_json::to_string(&Report {
                    stack,
                    region,
                    findings: &findings,
                    dry_run: args.dry_run,
                    outcome,
                })?
            ),
            Output::Text if args.dry_run => println!("dry run: nothing was changed"),
            Output::Text => {}
        }
        if !failed.is_empty() {
            let listed: Vec<String> = failed.iter().map(|(id, why)| format!("{id} ({why})")).collect();
            bail!(
                "{} finding(s) could not be fixed; run reconcile again, or check the permissions: {}",
                failed.len(),
                listed.join("; ")
            );
        }
        Ok(())
    })
}
