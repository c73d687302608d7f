//! The Lambda functions of Riv: handlers over small ports (face engine, ID reader, image store, face records),
//! AWS adapters for those ports, and the runtime glue the thin `bin/` entry points call.

pub mod aws;
pub mod error;
pub mod faults;
pub mod handlers;
pub mod ports;
pub mod runtime;
pub mod wiring;

#[cfg(any(test, feature = "fakes"))]
pub mod fakes;

pub use error::HandlerError;
