//! Riv's Rekognition and Textract emulator: the real AWS JSON 1.1 wire protocol over in-memory state, with a
//! deterministic engine that reads what an image shows from a manifest inside it, and the generator of such
//! images.

pub mod engine;
pub mod error;
pub mod manifest;
pub mod rekognition;
pub mod request;
pub mod server;
pub mod testimage;
pub mod textract;

pub use server::{spawn, Emulator};
