//! `cargo xtask e2e`: every end-to-end scenario against a local stack, with a readable summary.

use crate::output::{self, Output};
use anyhow::{bail, Result};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Only scenarios whose name contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Scenarios run at once.
    #[arg(long, default_value_t = 4)]
    jobs: usize,
    /// Use the stack at this LocalStack endpoint (deployed by `cargo xtask local up`) instead of starting one.
    #[arg(long)]
    endpoint_url: Option<String>,
    #[command(flatten)]
    backend: crate::local::BackendArgs,
    /// Run only a scenario that panics, without a stack: proves that a panic makes the suite fail.
    #[arg(long, hide = true)]
    canary_panic: bool,
}

pub fn run(args: &Args, out: Output) -> Result<()> {
    let started = Instant::now();
    let scenarios = if args.canary_panic {
        vec![riv_e2e::runner::panicking_canary()]
    } else {
        set_environment(args);
        output::step("bringing up the stack under test");
        let stack = riv_e2e::stack();
        output::step(format!("API {}", stack.api_url));
        riv_e2e::catalog::all()
            .into_iter()
            .filter(|(name, _)| args.filter.as_deref().is_none_or(|f| name.contains(f)))
            .collect()
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let results = runtime.block_on(riv_e2e::runner::run(scenarios, args.jobs, &|r| {
        eprintln!(
            "    {:<4} {} ({} ms)",
            if r.ok { "ok" } else { "FAIL" },
            r.scenario,
            r.ms
        )
    }));
    let failed: Vec<_> = results.iter().filter(|r| !r.ok).collect();
    match out {
        Output::Json => println!("{}", serde_json::to_string(&results)?),
        Output::Text => {
            println!("{:<58} {:>6} {:>8}", "scenario", "result", "ms");
            for r in &results {
                println!(
                    "{:<58} {:>6} {:>8}",
                    r.scenario,
                    if r.ok { "pass" } else { "FAIL" },
                    r.ms
                );
            }
            for r in &failed {
                println!(
                    "\n{}:\n  {}",
                    r.scenario,
                    r.error.as_deref().unwrap_or("failed")
                );
            }
            println!(
                "\n{} passed, {} failed",
                results.len() - failed.len(),
                failed.len()
            );
        }
    }
    output::done("end-to-end suite", started);
    if !failed.is_empty() {
        bail!("{} scenario(s) failed", failed.len());
    }
    Ok(())
}

/// Read by riv_e2e::stack() when it starts a stack, before any thread starts.
fn set_environment(args: &Args) {
    if let Some(backend) = &args.backend.backend {
        std::env::set_var(riv_local::BACKEND_ENV, backend);
    }
    if let Some(image) = &args.backend.image {
        std::env::set_var(riv_local::IMAGE_ENV, image);
    }
    if let Some(url) = &args.endpoint_url {
        std::env::set_var("RIV_ENDPOINT_URL", url);
        if std::env::var_os("RIV_STACK").is_none() {
            std::env::set_var("RIV_STACK", riv_infra::names::DEFAULT_STACK_NAME);
        }
    }
}
