//! The fleet: every region's Riv stack described in one file (`file`), and what runs across all of them at once
//! (`plan`).

pub mod file;
pub mod plan;
pub mod status;

pub use file::{load, parse, Entry, Fleet, FleetError, DEFAULT_FILE};
