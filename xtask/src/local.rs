//! `cargo xtask local up|down|status|logs`: Riv on this machine, offline, with no AWS account.

use crate::output::{self, Output};
use anyhow::{anyhow, bail, Result};
use riv_launcher::up::{self as stack_local, UpOptions};
use riv_launcher::{Paths, Running};
use std::time::Instant;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Start LocalStack and the emulator (if not running), build the functions and deploy the stack; prints
    /// the API URL. Re-running with nothing changed is quick and leaves the stack as it was.
    #[command(
        after_long_help = "Examples:\n  cargo xtask local up                           # 127.0.0.1:4566, host backend\n  cargo xtask local up --port 4599 --param KmsKey=create\n  cargo xtask --output json local up --backend container"
    )]
    Up(UpArgs),
    /// Stop the LocalStack process (or container) and the emulator of this workspace's local stack (its data goes
    /// with them).
    #[command(
        after_long_help = "Examples:\n  cargo xtask local down\n  cargo xtask local down --port 4599\n  cargo xtask --output json local down"
    )]
    Down(PortArg),
    /// Say whether the local stack runs, and which services LocalStack reports.
    #[command(
        after_long_help = "Examples:\n  cargo xtask local status\n  cargo xtask local status --port 4599\n  cargo xtask --output json local status"
    )]
    Status(PortArg),
    /// Print the end of LocalStack's log (or the emulator's).
    #[command(
        after_long_help = "Examples:\n  cargo xtask local logs\n  cargo xtask local logs --port 4599\n  cargo xtask --output json local logs"
    )]
    Logs(LogsArgs),
}

#[derive(clap::Args)]
pub struct PortArg {
    /// LocalStack's port on 127.0.0.1.
    #[arg(long, default_value_t = riv_launcher::DEFAULT_PORT)]
    port: u16,
}

#[derive(clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    port: PortArg,
    /// Stack name.
    #[arg(long, default_value = riv_infra::names::DEFAULT_STACK_NAME)]
    stack: String,
    /// Region to deploy into (LocalStack serves every region at once).
    #[arg(long, default_value = stack_local::REGION)]
    region: String,
    /// Stack parameter, e.g. `--param IdExtraction=detect-text` (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    #[command(flatten)]
    backend: BackendArgs,
}

/// Where LocalStack runs; shared by `local up` and `e2e`.
#[derive(clap::Args, Clone)]
pub struct BackendArgs {
    /// `host`: a LocalStack process from the project venv (no Docker). `container`: LocalStack in a container
    /// started with testcontainers (needs a Docker daemon and the image, see `cargo xtask image localstack`).
    /// `auto`: container when a daemon answers and has the image, else host. Default: RIV_BACKEND, else host.
    #[arg(long, value_parser = ["host", "container", "auto"])]
    pub backend: Option<String>,
    /// The container backend's LocalStack image (default: RIV_LOCALSTACK_IMAGE, else the image `cargo xtask
    /// image localstack` builds for this workspace).
    #[arg(long)]
    pub image: Option<String>,
    /// The emulator's engine. `auto`: images carrying a test manifest go to the deterministic engine, real
    /// photos to the real one (dlib faces, Tesseract text), which `local up` installs (Debian packages as root,
    /// models from PyPI) or falls back from, saying why. `real`: every image to the real engine, and no start
    /// without it. `deterministic`: test manifests only. Default: RIV_ENGINE, else auto.
    #[arg(long, value_parser = ["auto", "real", "deterministic"])]
    pub engine: Option<String>,
}

impl BackendArgs {
    pub fn engine(&self) -> Result<riv_emulator::engine::EngineChoice> {
        match &self.engine {
            Some(e) => e.parse().map_err(|e: String| anyhow!(e)),
            None => stack_local::engine_from_env().map_err(|e| anyhow!(e)),
        }
    }

    pub fn backend(&self) -> Result<riv_launcher::BackendChoice> {
        match &self.backend {
            Some(b) => b.parse().map_err(|e: String| anyhow!(e)),
            None => riv_launcher::BackendChoice::from_env().map_err(|e| anyhow!(e)),
        }
    }
}

#[derive(clap::Args)]
pub struct LogsArgs {
    #[command(flatten)]
    port: PortArg,
    /// The emulator's log instead of LocalStack's.
    #[arg(long)]
    emulator: bool,
    /// How many lines.
    #[arg(long, default_value_t = 100)]
    lines: usize,
}

pub fn run(command: Command, out: Output) -> Result<()> {
    let paths = Paths::new(&crate::workspace_root()?);
    match command {
        Command::Up(args) => up(&paths, args, out),
        Command::Down(args) => down(&paths, args.port, out),
        Command::Status(args) => status(&paths, args.port, out),
        Command::Logs(args) => logs(&paths, args),
    }
}

fn up(paths: &Paths, args: UpArgs, out: Output) -> Result<()> {
    let started = Instant::now();
    let mut template = riv_infra::stack::template(riv_infra::stack::Flavor::Local);
    // Checked here so a typo fails before anything starts.
    riv_infra::stack::set_defaults(&mut template, &args.params)?;
    let parameters = args
        .params
        .iter()
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let options = UpOptions {
        port: args.port.port,
        stack: args.stack,
        region: args.region,
        parameters,
        backend: args.backend.backend()?,
        engine: args.backend.engine()?,
        image: args.backend.image,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let phases = output::Phases::new();
    let up = runtime
        .block_on(stack_local::up(&paths.root, &options, &|m| phases.line(m)))
        .map_err(|e| anyhow!(e))?;
    drop(phases);
    for (phase, took) in &up.phases {
        eprintln!("    {phase:<8} {:>6.1}s", took.as_secs_f64());
    }
    output::done(
        if up.deployed.changed {
            "stack deployed"
        } else {
            "stack unchanged"
        },
        started,
    );
    let o = |k: &str| up.output(k).unwrap_or("-").to_string();
    match out {
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "endpoint": up.running.endpoint(),
                "api_url": up.api_url,
                "portal_url": stack_local::portal_url(&up.api_url),
                "stack": up.deployed.stack,
                "changed": up.deployed.changed,
                "outputs": up.deployed.outputs,
                "phases": up.phases.iter().map(|(p, d)| (p.clone(), d.as_secs_f64())).collect::<std::collections::BTreeMap<_, _>>(),
            })
        ),
        Output::Text => {
            println!("PortalUrl    {}", stack_local::portal_url(&up.api_url));
            println!("ApiUrl       {}", up.api_url);
            println!(
                "Endpoint     {}  (aws --endpoint-url {} …)",
                up.running.endpoint(),
                up.running.endpoint()
            );
            println!("ImageBucket  {}", o(riv_infra::names::output::IMAGE_BUCKET));
            println!("FaceTable    {}", o(riv_infra::names::output::FACE_TABLE));
            println!("Collections  {}", o(riv_infra::names::output::COLLECTIONS));
            println!(
                "Stop with    cargo xtask local down --port {}",
                up.running.port
            );
        }
    }
    Ok(())
}

fn down(paths: &Paths, port: u16, out: Output) -> Result<()> {
    let stopped = riv_launcher::stop(&paths.stack_dir(port))?;
    match out {
        Output::Json => println!(
            "{}",
            serde_json::json!({"port": port, "stopped": stopped.processes, "container": stopped.container})
        ),
        Output::Text if stopped.processes.is_empty() && stopped.container.is_none() => {
            println!("no local stack was running on port {port}")
        }
        Output::Text => {
            print!("stopped processes {:?}", stopped.processes);
            if let Some(id) = &stopped.container {
                print!(" and container {}", &id[..id.len().min(12)]);
            }
            println!(" (port {port})");
        }
    }
    Ok(())
}

fn status(paths: &Paths, port: u16, out: Output) -> Result<()> {
    let running = Running::load(&paths.stack_dir(port)).filter(Running::is_alive);
    let health = running
        .as_ref()
        .and_then(|r| riv_launcher::http::get(r.port, "/_localstack/health").ok())
        .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(&body).ok());
    match out {
        Output::Json => println!(
            "{}",
            serde_json::json!({"port": port, "running": running, "health": health})
        ),
        Output::Text => match (&running, &health) {
            (Some(r), Some(h)) => {
                println!(
                    "running on {} (LocalStack {}, emulator pid {} on port {})",
                    r.endpoint(),
                    r.describe(),
                    r.emulator.pid,
                    r.emulator_port
                );
                println!("engine: {}", r.engine.describe());
                if let Some(services) = h.get("services").and_then(|s| s.as_object()) {
                    let up: Vec<&String> = services
                        .iter()
                        .filter(|(_, v)| *v == "running" || *v == "available")
                        .map(|(k, _)| k)
                        .collect();
                    println!(
                        "services: {}",
                        up.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    );
                }
            }
            _ => println!(
                "not running on port {port}: start it with `cargo xtask local up --port {port}`"
            ),
        },
    }
    Ok(())
}

fn logs(paths: &Paths, args: LogsArgs) -> Result<()> {
    let dir = paths.stack_dir(args.port.port);
    let Some(running) = Running::load(&dir) else {
        bail!(
            "no local stack on port {}: start it with `cargo xtask local up`",
            args.port.port
        );
    };
    if args.emulator {
        println!(
            "{}",
            riv_launcher::process::tail(&running.emulator_log(), args.lines)
        );
    } else {
        println!("{}", running.localstack_tail(args.lines));
    }
    Ok(())
}
