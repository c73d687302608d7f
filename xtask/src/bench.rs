//! `cargo xtask bench …`: speed figures, printed, never asserted.

use crate::output::{self, Output};
use anyhow::{anyhow, Result};
use std::time::Duration;

#[derive(clap::Subcommand)]
pub enum Command {
    /// The emulator's real face and text engine on the committed photo fixtures: p50/p95 of DetectFaces,
    /// IndexFaces, CompareFaces and AnalyzeID (a rendered ID card), and CompareFaces' similarity for every pair
    /// of photos. Installs the engine's parts first, as `local up --engine real` does.
    Engine {
        /// Passes over the fixtures.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Parity of the Rekognition/Textract emulator with the botocore models: every emulated operation is sent
    /// valid requests (faces under quality bars, pages, users, liveness outcomes, S3 images) and every member of
    /// every answer is checked against the operation's output shape. Prints, per operation, calls, members
    /// checked and mismatches.
    Parity,
    /// Latency percentiles and throughput of the floor, register and auth through the local API at each number
    /// of clients, on a bench stack of their own (`Riv-Bench-Flows`, deployed beside the stack under test). The
    /// floor is a route to an EXPRESS state machine of one Lambda that returns its input: each flow is also
    /// printed as a multiple of it, so figures from noisy machines compare. Scaling: each flow's throughput as
    /// a multiple of its throughput with the fewest clients (goals: auth p50 at 1 client ≤ 2x the floor's, auth
    /// throughput at 8 clients ≥ 4x that at 1).
    ///
    /// Examples: `cargo xtask bench flows` (1 and 8 clients); `cargo xtask bench flows --concurrency 1,2,4,8,16
    /// --duration 10`; `RIV_ENDPOINT_URL=http://127.0.0.1:4566 cargo xtask --output json bench flows`.
    Flows {
        /// Concurrent clients, one level after another (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = [1, 8])]
        concurrency: Vec<usize>,
        /// Seconds per flow (bounded at 20,000 requests a flow).
        #[arg(long, default_value_t = 15)]
        duration: u64,
    },
    /// Denial latency of auth and update, one request at a time: a wrong face on a user with the most faces a
    /// user keeps, against a UserId nobody registered (goal: the two indistinguishable, both due at the first
    /// whole second after the denial floor).
    Denials {
        /// Requests of each kind per route.
        #[arg(long, default_value_t = 20)]
        samples: usize,
    },
    /// Time `local up` on a fresh port (warm: venv and build cached; --cold: the venv is rebuilt first) and
    /// a function's first and second invocation in the process executor (goals: warm up ≤ 60 s, cold
    /// function start ≤ 50 ms).
    LocalUp {
        #[arg(long)]
        cold: bool,
    },
    /// Empty two identical versioned buckets in the local stack, one with Riv's destroy code and one with the AWS
    /// CLI from PyPI (`aws s3 rm --recursive`, then versions and delete markers 1,000 at a time), and print both
    /// times and their ratio (goal: Riv >= 3x faster).
    Teardown {
        /// Objects per bucket; every fifth is overwritten and every tenth deleted, so versions and delete markers
        /// exist too.
        #[arg(long, default_value_t = 10_000)]
        objects: usize,
    },
}

pub fn run(command: Command, out: Output) -> Result<()> {
    match command {
        Command::Engine { rounds } => engine(rounds.clamp(1, 50), out),
        Command::Parity => parity(out),
        Command::Teardown { objects } => {
            output::step("bringing up the stack under test");
            riv_e2e::stack();
            let runtime = tokio::runtime::Runtime::new()?;
            let f = runtime
                .block_on(riv_e2e::teardown_bench::teardown(objects))
                .map_err(|e| anyhow!(e))?;
            match out {
                Output::Json => println!("{}", serde_json::to_string(&f)?),
                Output::Text => {
                    println!(
                        "{} objects, {} versions and delete markers per bucket (filled both in {:.1} s)",
                        f.objects, f.versions, f.fill_seconds
                    );
                    println!("riv empty_bucket        {:>8.1} s", f.riv_seconds);
                    println!(
                        "aws cli ({})  {:>8.1} s  (s3 rm {:.1} s + versions/markers {:.1} s)",
                        riv_e2e::teardown_bench::AWSCLI,
                        f.cli_seconds,
                        f.cli_rm_seconds,
                        f.cli_versions_seconds
                    );
                    println!("riv is {:.1}x faster (goal: >= 3x)", f.speedup);
                }
            }
            Ok(())
        }
        Command::LocalUp { cold } => {
            let runtime = tokio::runtime::Runtime::new()?;
            let f = runtime
                .block_on(riv_e2e::bench::local_up(cold))
                .map_err(|e| anyhow!(e))?;
            match out {
                Output::Json => println!("{}", serde_json::to_string(&f)?),
                Output::Text => {
                    println!(
                        "local up ({}): {:.1} s",
                        if cold { "cold venv" } else { "warm" },
                        f.total_seconds
                    );
                    for (phase, s) in &f.phases {
                        println!("  {phase:<8} {s:>6.1} s");
                    }
                    println!(
                        "first invoke (cold start) {:.0} ms, second (warm) {:.0} ms",
                        f.first_invoke_ms, f.warm_invoke_ms
                    );
                    println!("goals: warm local up <= 60 s, cold function start <= 50 ms");
                }
            }
            Ok(())
        }
        Command::Denials { samples } => {
            output::step("bringing up the stack under test");
            riv_e2e::stack();
            let runtime = tokio::runtime::Runtime::new()?;
            let figures = runtime
                .block_on(riv_e2e::bench::denials(samples.clamp(1, 200)))
                .map_err(|e| anyhow!(e))?;
            match out {
                Output::Json => println!("{}", serde_json::to_string(&figures)?),
                Output::Text => {
                    println!(
                        "{:<18} {:>8} {:>8} {:>8} {:>8}",
                        "denial", "requests", "p50 ms", "p95 ms", "p99 ms"
                    );
                    for f in &figures {
                        println!(
                            "{:<18} {:>8} {:>8.1} {:>8.1} {:>8.1}",
                            f.flow, f.requests, f.p50_ms, f.p95_ms, f.p99_ms
                        );
                    }
                    println!(
                        "goal: wrong face and unknown user indistinguishable, both due at the first whole second after the floor ({} ms by default)",
                        riv_domain::config::DENIAL_FLOOR_MS.default
                    );
                }
            }
            Ok(())
        }
        Command::Flows {
            concurrency,
            duration,
        } => flows(&concurrency, duration, out),
    }
}

fn flows(levels: &[usize], duration: u64, out: Output) -> Result<()> {
    let mut levels: Vec<usize> = levels.iter().map(|c| (*c).clamp(1, 64)).collect();
    levels.sort_unstable();
    levels.dedup();
    if levels.is_empty() {
        return Err(anyhow!(
            "--concurrency needs at least one number of clients, e.g. 1,8"
        ));
    }
    output::step("bringing up the stack under test");
    riv_e2e::stack();
    output::step(format!(
        "deploying the bench stack {} (the local template and its floor route)",
        riv_e2e::bench::BENCH_STACK
    ));
    let stack = riv_e2e::bench::bench_stack();
    output::step(format!(
        "loading {} with {levels:?} clients, {duration}s per flow and level",
        stack.api_url
    ));
    let runtime = tokio::runtime::Runtime::new()?;
    let figures = runtime
        .block_on(riv_e2e::bench::flows(
            stack,
            &levels,
            Duration::from_secs(duration),
        ))
        .map_err(|e| anyhow!(e))?;
    let scaling = riv_e2e::bench::scaling(&figures);
    let floor = riv_e2e::bench::versus_floor(&figures);
    match out {
        Output::Json => {
            let rows: Vec<serde_json::Value> = figures
                .iter()
                .zip(&scaling)
                .zip(&floor)
                .map(|((f, (_, _, ratio)), floor)| {
                    let mut row = serde_json::to_value(f).unwrap_or_default();
                    row["throughput_vs_fewest_clients"] = serde_json::json!(ratio);
                    row["versus_floor"] = serde_json::json!(floor);
                    row
                })
                .collect();
            println!("{}", serde_json::to_string(&rows)?);
        }
        Output::Text => {
            println!(
                "{:<10} {:>7} {:>8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10}",
                "flow",
                "clients",
                "requests",
                "errors",
                "req/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "scaling",
                "p50/floor",
                "req/floor"
            );
            for ((f, (_, _, ratio)), floor) in figures.iter().zip(&scaling).zip(&floor) {
                let (p50, per_second) = match floor {
                    Some(r) => (format!("{:.2}x", r.p50), format!("{:.2}x", r.throughput)),
                    None => ("-".into(), "-".into()),
                };
                println!(
                    "{:<10} {:>7} {:>8} {:>6} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>7.2}x {:>10} {:>10}",
                    f.flow,
                    f.clients,
                    f.requests,
                    f.errors,
                    f.per_second,
                    f.p50_ms,
                    f.p95_ms,
                    f.p99_ms,
                    ratio,
                    p50,
                    per_second
                );
            }
            println!(
                "scaling: req/s over the same flow's with {} client(s); p50/floor and req/floor: over the floor's (one echo Lambda behind the same API and an EXPRESS state machine) with as many clients",
                levels[0]
            );
            println!(
                "goals: auth p50 at 1 client <= 2x the floor's; auth req/s at 8 clients >= 4x at 1"
            );
        }
    }
    Ok(())
}

fn engine(rounds: usize, out: Output) -> Result<()> {
    let root = riv_e2e::workspace_root();
    let setup =
        riv_launcher::engine::prepare(&root, riv_emulator::engine::EngineChoice::Real, &|m| {
            output::step(m)
        })
        .map_err(|e| anyhow!(riv_e2e::chain(&e)))?;
    let parts = setup.real.ok_or_else(|| {
        anyhow!(
            "the real engine did not come up: {}",
            setup.missing.unwrap_or_default()
        )
    })?;
    let real = riv_emulator::real::Real::start(&parts.face_engine, &parts.models)
        .map_err(|e| anyhow!(e))?;
    output::step(format!(
        "{rounds} rounds over the fixtures in {}",
        riv_emulator::photos::dir().display()
    ));
    let f = riv_e2e::engine_bench::engine(Box::new(real), rounds).map_err(|e| anyhow!(e))?;
    match out {
        Output::Json => println!("{}", serde_json::to_string(&f)?),
        Output::Text => {
            println!(
                "{:<14} {:>6} {:>9} {:>9}",
                "operation", "calls", "p50 ms", "p95 ms"
            );
            for t in &f.timings {
                println!(
                    "{:<14} {:>6} {:>9.0} {:>9.0}",
                    t.operation, t.calls, t.p50_ms, t.p95_ms
                );
            }
            println!();
            println!(
                "CompareFaces similarity (source row, target column; default threshold {}):",
                f.threshold
            );
            print!("{:<14}", "");
            for p in &f.photos {
                print!("{p:>14}");
            }
            println!();
            for (p, row) in f.photos.iter().zip(&f.similarity) {
                print!("{p:<14}");
                for s in row {
                    print!("{s:>14.2}");
                }
                println!();
            }
        }
    }
    Ok(())
}

fn parity(out: Output) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime
        .block_on(riv_emulator::parity::run())
        .map_err(|e| anyhow!(e))?;
    match out {
        Output::Json => {
            let rows: Vec<serde_json::Value> = report
                .iter()
                .map(|((service, operation), row)| {
                    serde_json::json!({
                        "service": service, "operation": operation, "calls": row.calls,
                        "members_checked": row.members_checked, "mismatches": row.mismatches,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string(&rows)?);
        }
        Output::Text => {
            println!(
                "{:<44} {:>6} {:>16} {:>11}",
                "operation", "calls", "members checked", "mismatches"
            );
            for ((service, operation), row) in &report {
                println!(
                    "{:<44} {:>6} {:>16} {:>11}",
                    format!("{service}.{operation}"),
                    row.calls,
                    row.members_checked,
                    row.mismatches.len()
                );
            }
            let total =
                |f: fn(&riv_emulator::parity::Row) -> usize| report.values().map(f).sum::<usize>();
            println!(
                "{:<44} {:>6} {:>16} {:>11}",
                format!("{} operations", report.len()),
                total(|r| r.calls),
                total(|r| r.members_checked),
                total(|r| r.mismatches.len())
            );
            for ((service, operation), row) in &report {
                for m in &row.mismatches {
                    println!("mismatch: {service}.{operation}: {m}");
                }
            }
        }
    }
    Ok(())
}
