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
        /// The local stack's S3 (http://127.0.0.1:PORT), where `S3Object` images are read; without it they are
        /// refused with InvalidS3ObjectException.
        #[arg(long)]
        s3_endpoint: Option<String>,
        /// Faults in force from the start: `Operation=Error:probability`, comma-separated, e.g.
        /// `SearchFacesByImage=ThrottlingException:0.3` (Error: ThrottlingException,
        /// ProvisionedThroughputExceededException or InternalServerError; Operation `*` for all). More through
        /// `POST /_riv/faults` while it runs. Default: `RIV_EMULATOR_FAULTS`.
        #[arg(long)]
        faults: Option<String>,
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
            s3_endpoint,
            faults,
        } => {
            if !listen.ip().is_loopback() {
                anyhow::bail!("refusing to listen on {listen}: the emulator serves loopback only");
            }
            let faults = faults.or_else(|| std::env::var("RIV_EMULATOR_FAULTS").ok());
            let faults = riv_emulator::faults::parse_setting(faults.as_deref().unwrap_or_default())
                .map_err(|e| anyhow::anyhow!("--faults / RIV_EMULATOR_FAULTS: {e}"))?;
            let s3 = riv_emulator::s3::S3::new(s3_endpoint.as_deref())
                .map_err(|e| anyhow::anyhow!("--s3-endpoint: {e}"))?;
            let engine = choose_engine(engine, face_engine, models)?;
            if !faults.is_empty() {
                tracing::warn!(?faults, "faults in force");
            }
            let emulator = Emulator::new(engine).with_s3(s3).with_faults(faults);
            let bound = riv_emulator::spawn(listen, emulator).await.map_err(|e| {
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
