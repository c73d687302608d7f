//! Empty on purpose: it exists so that `[build-dependencies]` in Cargo.toml resolve the host's crates with the
//! features the test build gives them (see the comment there).

fn main() {}
