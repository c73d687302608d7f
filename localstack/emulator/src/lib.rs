//! Riv's Rekognition and Textract emulator: the real AWS JSON 1.1 wire protocol over in-memory state, with a
//! deterministic engine that reads what an image shows from a manifest inside it (and the generator of such
//! images), and a real engine that looks at the pixels (dlib faces in a worker process, Tesseract text).

pub mod auto;
pub mod engine;
pub mod error;
pub mod manifest;
pub mod photos;
pub mod real;
pub mod rekognition;
pub mod request;
pub mod server;
pub mod testimage;
pub mod textract;

pub use server::{spawn, Emulator};
