//! `riv-emulator`: serves the Rekognition/Textract emulator, or writes a test image.

use clap::{Parser, Subcommand};
use riv_emulator::auto::Auto;
use riv_emulator::engine::{Deterministic, Engine, EngineChoice};
use riv_emulator::real::{self, Real};
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
        /// auto: images carrying a test manifest go to the deterministic engine, all others to the real one
        /// (the deterministic one alone if the real one cannot start); real: every image to the real engine;
        /// deterministic: manifests only.
        #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
        engine: EngineChoice,
        /// The face worker binary (riv-face-engine); default: next to this binary.
        #[arg(long)]
        face_engine: Option<PathBuf>,
        /// dlib's model files (face_recognition_models 0.3.0), e.g. .riv/models/face_recognition_models-0.3.0.
        #[arg(long)]
        models: Option<PathBuf>,
    },
    /// Scale a real photo to 640 px and write it as JPEG, as a client sends a photo inline through the API
    /// (Step Functions carries the whole request in 256 KiB).
    Scale {
        /// A JPEG or PNG.
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Render an ID card (the fixtures' sample fields: DOE, JOHN PAUL, born 08/04/1961) around a
    /// head-and-shoulders photo, scaled for the API, for register-idcard with the real engine.
    Card {
        /// The card's portrait: a JPEG or PNG of one face, cropped close.
        #[arg(long)]
        photo: PathBuf,
        #[arg(long)]
        out: PathBuf,
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

fn choose_engine(
    choice: EngineChoice,
    face_engine: Option<PathBuf>,
    models: Option<PathBuf>,
) -> anyhow::Result<Box<dyn Engine>> {
    if choice == EngineChoice::Deterministic {
        tracing::info!("engine: deterministic (test manifests only)");
        return Ok(Box::new(Deterministic));
    }
    let program = match face_engine {
        Some(p) => p,
        None => std::env::current_exe()?.with_file_name("riv-face-engine"),
    };
    let started = match &models {
        Some(models) => Real::start(&program, models),
        None => Err("no --models directory given".to_string()),
    };
    match (choice, started) {
        (EngineChoice::Real, Ok(real)) => {
            tracing::info!("engine: real (dlib faces, Tesseract text) for every image");
            Ok(Box::new(real))
        }
        (EngineChoice::Real, Err(why)) => {
            anyhow::bail!("the real engine cannot start: {why}; {}", real::NEEDS)
        }
        (_, Ok(real)) => {
            tracing::info!("engine: auto (test manifests deterministic, real photos through dlib and Tesseract)");
            Ok(Box::new(Auto {
                real: Some(Box::new(real)),
            }))
        }
        (_, Err(why)) => {
            tracing::warn!(
                "engine: deterministic only, real photos will show no face ({why}): {}",
                real::NEEDS
            );
            Ok(Box::new(Auto { real: None }))
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    riv_emulator::log_to_stderr();
    match Cli::parse().command {
        Command::Serve {
            listen,
            engine,
            face_engine,
            models,
        } => {
            if !listen.ip().is_loopback() {
                anyhow::bail!("refusing to listen on {listen}: the emulator serves loopback only");
            }
            let engine = choose_engine(engine, face_engine, models)?;
            let bound = riv_emulator::spawn(listen, Emulator::new(engine))
                .await
                .map_err(|e| {
                    anyhow::anyhow!("cannot listen on {listen}: {e} (is another emulator running?)")
                })?;
            tracing::info!(%bound, "emulator listening");
            tokio::signal::ctrl_c().await?;
            Ok(())
        }
        Command::Scale { input, out } => {
            let photo = read_photo(&input)?;
            write(&out, &riv_emulator::photos::for_upload(&photo))
        }
        Command::Card { photo, out } => {
            let portrait = read_photo(&photo)?;
            let card = riv_emulator::photos::id_card(
                &portrait,
                &riv_emulator::photos::CardFields::sample(),
            );
            write(&out, &riv_emulator::photos::for_upload(&card))
        }
        Command::Image {
            case,
            identity,
            format,
            out,
        } => {
            let bytes = testimage::render(&testimage::case(case, &identity), format);
            write(&out, &bytes)
        }
    }
}

fn read_photo(path: &std::path::Path) -> anyhow::Result<image::RgbImage> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    riv_emulator::real::photo::decode(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

fn write(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}
