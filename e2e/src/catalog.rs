//! The whole end-to-end suite by name: the flows, integrity, abuse, malformed-request, fault and real-photo scenarios, for `cargo xtask e2e` and the
//! `flows` test.

use crate::scenarios::{Outcome, Scenario};

/// Every scenario there is, whatever the engine.
pub fn every() -> Vec<(&'static str, Scenario)> {
    let mut all = crate::scenarios::all();
    all.extend(crate::integrity::all());
    all.extend(crate::abuse::all());
    all.extend(crate::malformed::all());
    all.extend(crate::faults::all());
    all.extend(crate::real_photos::all());
    all
}

/// The scenarios this run can play, in the order the suite runs them: a run that chose the deterministic
/// engine cannot see real photos, so their scenarios are left out (and say so when asked for by name).
pub fn all() -> Vec<(&'static str, Scenario)> {
    // A configuration that does not read fails the run as soon as the stack is wanted, with its reason;
    // until then every scenario is listed.
    let deterministic = crate::engine() == Ok(riv_emulator::engine::EngineChoice::Deterministic);
    let real: Vec<&str> = crate::real_photos::all()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    every()
        .into_iter()
        .filter(|(name, _)| !(deterministic && real.contains(name)))
        .collect()
}

/// Runs one scenario by name.
pub async fn run(name: &str) -> Outcome {
    let scenario = all()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| s)
        .ok_or(format!(
            "no scenario {name} in this run (real-photo scenarios need an engine other than deterministic)"
        ))?;
    scenario().await
}
