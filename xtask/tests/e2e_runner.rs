//! `cargo xtask e2e` must fail when a scenario panics: the runner is run with its hidden canary, a scenario that
//! panics and needs no stack.

use std::process::Command;

#[test]
fn a_panicking_scenario_makes_the_suite_exit_non_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["e2e", "--canary-panic"])
        .output()
        .expect("xtask runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "exit 0 despite a panic:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
    assert!(stdout.contains("the canary panicked"), "{stdout}");
}
