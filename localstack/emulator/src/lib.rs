//! Riv's Rekognition and Textract emulator: the real AWS JSON 1.1 wire protocol over in-memory state, with a
//! deterministic engine that reads what an image shows from a manifest inside it (and the generator of such
//! images), and a real engine that looks at the pixels (dlib faces in a worker process, Tesseract text).

pub mod auto;
pub mod camera;
pub mod engine;
pub mod error;
pub mod faults;
pub mod manifest;
pub mod model;
pub mod parity;
pub mod photos;
pub mod real;
pub mod rekognition;
pub mod request;
pub mod s3;
pub mod server;
pub mod testimage;
pub mod textract;

pub use server::{spawn, Emulator};

/// Logs of the emulator's programs (`riv-emulator`, `riv-face-engine`): to stderr, whose stdout may carry frames,
/// at `RUST_LOG`'s level or info.
pub fn log_to_stderr() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}
