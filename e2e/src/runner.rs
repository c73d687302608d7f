//! Runs scenarios concurrently and counts every one that did not return `Ok` as failed, a panicked one
//! included: a suite must never report green for a scenario it could not finish.

use crate::scenarios::{Outcome, Scenario};
use futures::FutureExt;
use std::time::Instant;

/// One scenario's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Ran {
    pub scenario: &'static str,
    pub ok: bool,
    pub ms: u128,
    pub error: Option<String>,
}

/// What a panic says, as text.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "a panic with no message".into(),
    }
}

/// Runs `scenarios`, at most `jobs` at a time, and reports each in the order given. `report` hears of each as
/// it ends.
pub async fn run(
    scenarios: Vec<(&'static str, Scenario)>,
    jobs: usize,
    report: &(dyn Fn(&Ran) + Sync),
) -> Vec<Ran> {
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let tasks: Vec<_> = scenarios
        .into_iter()
        .map(|(name, scenario)| {
            let semaphore = semaphore.clone();
            let task = tokio::spawn(async move {
                // A load scenario waits for its turn before it takes a job slot, so it never holds one idle.
                let turn = crate::catalog::wait_for_turn(name).await;
                let _permit = semaphore.acquire_owned().await;
                let started = Instant::now();
                if let Err(e) = turn {
                    return (Err(e), 0);
                }
                // A panic is caught here so that its time is measured, and again at the join below in case
                // anything around it panics.
                let outcome: Outcome = match std::panic::AssertUnwindSafe(scenario())
                    .catch_unwind()
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(payload) => Err(format!("panicked: {}", panic_message(&*payload))),
                };
                (outcome, started.elapsed().as_millis())
            });
            (name, task)
        })
        .collect();
    let mut results = Vec::new();
    for (name, task) in tasks {
        let (outcome, ms) = match task.await {
            Ok(done) => done,
            Err(e) => (Err(format!("the scenario's task failed: {e}")), 0),
        };
        let ran = Ran {
            scenario: name,
            ok: outcome.is_ok(),
            ms,
            error: outcome.err(),
        };
        report(&ran);
        results.push(ran);
    }
    results
}

/// A scenario that panics, for proving that the runner counts a panic as a failure.
pub fn panicking_canary() -> (&'static str, Scenario) {
    ("canary_that_panics", || {
        Box::pin(async { panic!("the canary panicked, as it should") })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_scenario_is_a_failure_and_the_others_still_run() {
        let passing: (&'static str, Scenario) = ("passes", || Box::pin(async { Ok(()) }));
        let failing: (&'static str, Scenario) =
            ("fails", || Box::pin(async { Err("no".to_string()) }));
        let ran = run(vec![passing, panicking_canary(), failing], 2, &|_| {}).await;
        let summary: Vec<(&str, bool)> = ran.iter().map(|r| (r.scenario, r.ok)).collect();
        assert_eq!(
            summary,
            [
                ("passes", true),
                ("canary_that_panics", false),
                ("fails", false)
            ]
        );
        let why = ran[1].error.as_deref().unwrap_or("");
        assert!(why.contains("the canary panicked"), "{why}");
    }

    static IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static MOST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    /// Stands in for a load scenario: notes how many are in flight beside it.
    fn load_stand_in() -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send>> {
        use std::sync::atomic::Ordering::SeqCst;
        Box::pin(async {
            let now = IN_FLIGHT.fetch_add(1, SeqCst) + 1;
            MOST.fetch_max(now, SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            IN_FLIGHT.fetch_sub(1, SeqCst);
            Ok(())
        })
    }

    #[tokio::test]
    async fn load_scenarios_take_turns_even_with_free_jobs() {
        let scenarios: Vec<(&'static str, Scenario)> = crate::catalog::LOAD
            .iter()
            .map(|name| (*name, load_stand_in as Scenario))
            .collect();
        let ran = run(scenarios, 8, &|_| {}).await;
        assert!(ran.iter().all(|r| r.ok), "{ran:?}");
        assert_eq!(MOST.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
