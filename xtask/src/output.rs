//! How commands report: progress lines for people on stderr, results on stdout as text or as one JSON document.

use std::time::Instant;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Text,
    Json,
}

/// Prints a progress line on stderr (never on stdout, which `--output json` keeps for the document).
pub fn step(message: impl std::fmt::Display) {
    eprintln!("==> {message}");
}

/// Prints how long a phase took.
pub fn done(what: &str, started: Instant) {
    eprintln!("    {what} in {:.1}s", started.elapsed().as_secs_f64());
}
