//! The runner's command line, as LocalStack's `process` executor passes it.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "riv-lambda-runner",
    about = "Runs a Lambda bootstrap on the host for LocalStack's process executor (exits when stdin closes)"
)]
pub struct Config {
    /// LocalStack's id of this execution environment.
    #[arg(long)]
    pub runtime_id: String,
    /// Where LocalStack sends `POST /invoke`.
    #[arg(long)]
    pub listen: SocketAddr,
    /// The function's executable.
    #[arg(long)]
    pub bootstrap: PathBuf,
    /// The unzipped code (the bootstrap's working directory).
    #[arg(long)]
    pub task_root: PathBuf,
    /// LocalStack's callback base, `http://127.0.0.1:<port>/_localstack_lambda/<id>`.
    #[arg(long)]
    pub runtime_endpoint: String,
    #[arg(long, default_value_t = 3)]
    pub timeout_seconds: u64,
    #[arg(long, default_value_t = 128)]
    pub memory_mb: u64,
}
