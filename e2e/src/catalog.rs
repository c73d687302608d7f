//! The whole end-to-end suite by name: the flows, integrity and abuse scenarios, for `cargo xtask e2e` and the
//! `flows` test.

use crate::scenarios::{Outcome, Scenario};

/// Every scenario, in the order the suite runs them.
pub fn all() -> Vec<(&'static str, Scenario)> {
    let mut all = crate::scenarios::all();
    all.extend(crate::integrity::all());
    all.extend(crate::abuse::all());
    all
}

/// Runs one scenario by name.
pub async fn run(name: &str) -> Outcome {
    let scenario = all()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| s)
        .ok_or(format!("no scenario {name}"))?;
    scenario().await
}
