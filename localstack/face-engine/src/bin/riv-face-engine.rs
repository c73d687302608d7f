//! `riv-face-engine --models DIR`: the emulator's face worker. Loads dlib's models, says `Ready`, then answers
//! each image frame on stdin with one reply frame on stdout (see `riv_emulator::real::worker`) until stdin ends.

use clap::Parser;
use riv_emulator::real::photo::PhotoError;
use riv_emulator::real::worker::{read_frame, write_frame, Reply};
use riv_face_engine::FaceEngine;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    about = "dlib face worker of Riv's Rekognition emulator (speaks frames on stdin/stdout)",
    version
)]
struct Cli {
    /// Directory holding shape_predictor_68_face_landmarks.dat and dlib_face_recognition_resnet_model_v1.dat
    /// (from PyPI's face_recognition_models 0.3.0; `cargo xtask local up` fetches them into .riv/models).
    #[arg(long)]
    models: PathBuf,
}

fn send(reply: &Reply) -> anyhow::Result<()> {
    let body = serde_json::to_vec(reply)?;
    write_frame(&mut std::io::stdout().lock(), &body)?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // stdout carries frames: logs go to stderr only.
    riv_emulator::log_to_stderr();
    let cli = Cli::parse();
    let started = std::time::Instant::now();
    let engine = FaceEngine::load(&cli.models)?;
    tracing::info!(
        millis = started.elapsed().as_millis() as u64,
        "face worker ready"
    );
    send(&Reply::Ready)?;
    let mut stdin = std::io::stdin().lock();
    while let Some(image) = read_frame(&mut stdin)? {
        let started = std::time::Instant::now();
        let reply = match engine.analyse(&image) {
            Ok(faces) => Reply::Faces(faces),
            Err(e) => Reply::Refused {
                too_large: matches!(e, PhotoError::TooLarge { .. }),
                message: e.to_string(),
            },
        };
        tracing::debug!(
            millis = started.elapsed().as_millis() as u64,
            "analysed an image"
        );
        send(&reply)?;
    }
    Ok(())
}
