//! `riv-emulator`: serves the Rekognition/Textract emulator, or writes a test image.

use clap::{Parser, Subcommand};
use riv_emulator::engine::Deterministic;
use riv_emulator::testimage::{self, Case, Format};
use riv_emulator::Emulator;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    about = "Rekognition and Textract emulator for Riv's local stack",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve AWS JSON 1.1 (`X-Amz-Target: RekognitionService.*` / `Textract.*`) until stopped.
    Serve {
        /// Loopback address to listen on.
        #[arg(long, default_value = "127.0.0.1:4599")]
        listen: SocketAddr,
    },
    /// Write a test image whose manifest says what it shows.
    Image {
        #[arg(long, value_enum)]
        case: Case,
        /// Who the face belongs to: images of one identity match.
        #[arg(long, default_value = "alice")]
        identity: String,
        #[arg(long, value_enum, default_value_t = Format::Png)]
        format: Format,
        #[arg(long)]
        out: PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { listen } => {
            if !listen.ip().is_loopback() {
                anyhow::bail!("refusing to listen on {listen}: the emulator serves loopback only");
            }
            let bound = riv_emulator::spawn(listen, Emulator::new(Box::new(Deterministic)))
                .await
                .map_err(|e| {
                    anyhow::anyhow!("cannot listen on {listen}: {e} (is another emulator running?)")
                })?;
            tracing::info!(%bound, "emulator listening");
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
        Command::Image {
            case,
            identity,
            format,
            out,
        } => {
            let bytes = testimage::render(&testimage::case(case, &identity), format);
            std::fs::write(&out, bytes)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
            Ok(())
        }
    }
}
