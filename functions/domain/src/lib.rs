//! Riv's domain: the names, types, reason codes and pure rules shared by the Lambda functions, the
//! infrastructure synthesis and the end-to-end tests. No I/O lives here.

pub mod attempt;
pub mod clock;
pub mod collections;
pub mod config;
pub mod events;
pub mod guard;
pub mod idcard;
pub mod names;
pub mod quality;
pub mod reason;
pub mod uploads;
pub mod validate;

pub use reason::{Reason, Rejection};
