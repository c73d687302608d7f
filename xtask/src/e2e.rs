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
}

pub fn run(args: &Args, out: Output) -> Result<()> {
    // Read by riv_e2e::stack() when it starts a stack, before any thread starts.
    if let Some(backend) = &args.backend.backend {
        std::env::set_var(riv_local::BACKEND_ENV, backend);
    }
    if let Some(image) = &args.backend.image {
        std::env::set_var(riv_local::IMAGE_ENV, image);
    }
    if let Some(url) = &args.endpoint_url {
        // Read by riv_e2e::stack(), before any thread starts.
        std::env::set_var("RIV_ENDPOINT_URL", url);
        if std::env::var_os("RIV_STACK").is_none() {
            std::env::set_var("RIV_STACK", riv_infra::stack::DEFAULT_STACK_NAME);
        }
    }
    let started = Instant::now();
    output::step("bringing up the stack under test");
    let stack = riv_e2e::stack();
    output::step(format!("API {}", stack.api_url));
    let scenarios: Vec<_> = riv_e2e::scenarios::all()
        .into_iter()
        .filter(|(name, _)| args.filter.as_deref().is_none_or(|f| name.contains(f)))
        .collect();
    let runtime = tokio::runtime::Runtime::new()?;
    let results = runtime.block_on(async {
        let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(args.jobs.max(1)));
        let tasks: Vec<_> = scenarios
            .into_iter()
            .map(|(name, scenario)| {
                let semaphore = semaphore.clone();
                tokio::spawn(async move {
                    let _permit = semaphore.acquire().await;
                    let t = Instant::now();
                    let outcome = scenario().await;
                    let ms = t.elapsed().as_millis();
                    eprintln!(
                        "    {:<4} {name} ({ms} ms)",
                        if outcome.is_ok() { "ok" } else { "FAIL" }
                    );
                    (name, outcome, ms)
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            if let Ok(r) = t.await {
                results.push(r);
            }
        }
        results
    });
    let failed: Vec<_> = results.iter().filter(|(_, o, _)| o.is_err()).collect();
    match out {
        Output::Json => println!(
            "{}",
            serde_json::json!(results
                .iter()
                .map(|(n, o, ms)| serde_json::json!({"scenario": n, "ok": o.is_ok(), "ms": ms, "error": o.as_ref().err()}))
                .collect::<Vec<_>>())
        ),
        Output::Text => {
            println!("{:<58} {:>6} {:>8}", "scenario", "result", "ms");
            for (name, outcome, ms) in &results {
                println!("{name:<58} {:>6} {ms:>8}", if outcome.is_ok() { "pass" } else { "FAIL" });
            }
            for (name, outcome, _) in &failed {
                if let Err(e) = outcome {
                    println!("\n{name}:\n  {e}");
                }
            }
            println!("\n{} passed, {} failed", results.len() - failed.len(), failed.len());
        }
    }
    output::done("end-to-end suite", started);
    if !failed.is_empty() {
        bail!("{} scenario(s) failed", failed.len());
    }
    Ok(())
}
