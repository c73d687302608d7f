//! `riv-lambda-runner`: wires the runner's servers and the bootstrap, then waits for stdin to close or a
//! termination signal, and takes the bootstrap down with it.

use clap::Parser;
use riv_lambda_runner::{config::Config, runtime_api, supervisor, Runner};
use std::sync::atomic::Ordering;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

/// Exit status when `--listen` is taken (EADDRINUSE's number), so the executor can retry on another port.
const EXIT_PORT_TAKEN: i32 = 98;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RIV_RUNNER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let config = Config::parse();
    if !config.listen.ip().is_loopback() {
        anyhow::bail!("--listen {} is not a loopback address", config.listen);
    }
    let invoke_listener = match TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        // A distinct exit code: the executor picked a port someone took meanwhile and will retry with another.
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            eprintln!("cannot listen on {}: {e}", config.listen);
            std::process::exit(EXIT_PORT_TAKEN);
        }
        Err(e) => anyhow::bail!("cannot listen on {}: {e}", config.listen),
    };
    let api_listener = TcpListener::bind("127.0.0.1:0").await?;
    let api = api_listener.local_addr()?;
    let runner = Runner::new(config);

    let r = runner.clone();
    runtime_api::serve(invoke_listener, move |req| {
        runtime_api::invoke(r.clone(), req)
    });
    let r = runner.clone();
    runtime_api::serve(api_listener, move |req| {
        runtime_api::runtime(r.clone(), req)
    });
    supervisor::spawn(runner.clone(), api)
        .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", runner.config.bootstrap.display()))?;

    let mut term = signal(SignalKind::terminate())?;
    let mut stdin = tokio::io::stdin();
    let mut sink = [0u8; 256];
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = async { while matches!(stdin.read(&mut sink).await, Ok(n) if n > 0) {} } => {}
    }
    runner
        .supervisor
        .shutting_down
        .store(true, Ordering::SeqCst);
    runner.supervisor.kill();
    Ok(())
}
