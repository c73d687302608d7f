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
        let config = config(args)?;
        // Said before anything starts: without a daemon the container backend cannot run at all.
        let container = config.backend == riv_launcher::BackendChoice::Container;
        if container && config.endpoint.is_none() && !riv_launcher::container::daemon_answers() {
            return Err(riv_launcher::LocalError::NoDocker.into());
        }
        riv_e2e::configure(config).map_err(anyhow::Error::msg)?;
        output::step("bringing up the stack under test");
        let stack = riv_e2e::try_stack().map_err(anyhow::Error::msg)?;
        output::step(format!("API {}", stack.api_url));
        riv_e2e::catalog::all()
            .into_iter()
            .filter(|(name, _)| args.filter.as_deref().is_none_or(|f| name.contains(f)))
            .collect()
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let task = output::Task::start("end-to-end scenarios");
    task.total(scenarios.len() as u64, "scenarios");
    let results = runtime.block_on(riv_e2e::runner::run(scenarios, args.jobs, &|r| {
        task.inc();
        output::detail(format!(
            "{:<4} {} ({} ms)",
            if r.ok { "ok" } else { "FAIL" },
            r.scenario,
            r.ms
        ))
    }));
    drop(task);
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

/// The suite's configuration: these flags, the environment for what they leave out.
fn config(args: &Args) -> Result<riv_e2e::Config> {
    let mut config = riv_e2e::Config::from_env().map_err(anyhow::Error::msg)?;
    if let Some(backend) = &args.backend.backend {
        config.backend = backend.parse().map_err(anyhow::Error::msg)?;
    }
    if let Some(image) = &args.backend.image {
        config.image = Some(image.clone());
    }
    if args.backend.engine.is_some() {
        config.engine = args.backend.engine()?;
    }
    if let Some(url) = &args.endpoint_url {
        config.endpoint = Some(url.clone());
        if std::env::var_os("RIV_STACK").is_none() {
            config.stack = riv_infra::names::DEFAULT_STACK_NAME.into();
        }
    }
    Ok(config)
}
