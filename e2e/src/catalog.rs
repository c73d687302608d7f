//! The whole end-to-end suite by name: the flows, integrity, abuse, malformed-request, fault, upload and
//! real-photo scenarios, for `cargo xtask e2e` and the `flows` test.

use crate::scenarios::{Outcome, Scenario};

/// Every scenario there is, whatever the engine.
pub fn every() -> Vec<(&'static str, Scenario)> {
    let mut all = crate::scenarios::all();
    all.extend(crate::integrity::all());
    all.extend(crate::abuse::all());
    all.extend(crate::malformed::all());
    all.extend(crate::faults::all());
    all.extend(crate::encryption::all());
    all.extend(crate::uploads::all());
    all.extend(crate::portal::all());
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

/// The scenarios that put many requests in flight to assert that every one is answered correctly. Two of
/// them at once (or one next to a fault-injecting load) measure the machine, not the stack: on a 2-core CI
/// machine that made correct flows time out. They take turns; the other scenarios still run beside them.
pub const LOAD: [&str; 4] = [
    "concurrent_registrations_of_one_face_have_one_winner",
    "concurrent_auths_are_all_correct",
    "registrations_under_dynamodb_errors_keep_the_invariants",
    "twenty_people_register_at_once",
];

/// One load scenario at a time, across every runtime of the process (each `flows` test has its own).
static LOAD_TURN: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Waits until a load scenario may run and holds its turn until the answer is dropped; any other scenario
/// goes at once.
pub async fn wait_for_turn(
    name: &str,
) -> Result<Option<tokio::sync::SemaphorePermit<'static>>, String> {
    if !LOAD.contains(&name) {
        return Ok(None);
    }
    match LOAD_TURN.acquire().await {
        Ok(turn) => Ok(Some(turn)),
        Err(e) => Err(format!("{name} could not take its load turn: {e}")),
    }
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
    let _turn = wait_for_turn(name).await?;
    scenario().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_load_scenario_exists() {
        let names: Vec<&str> = every().into_iter().map(|(n, _)| n).collect();
        for load in LOAD {
            assert!(names.contains(&load), "{load} is not a scenario");
        }
    }
}
