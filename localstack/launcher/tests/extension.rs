//! Riv's LocalStack extension against the pinned LocalStack: each check under `localstack/extension/checks`
//! runs in the project venv (created on first use) and must exit 0.

use std::path::Path;
use std::process::Command;

fn check(name: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let paths = riv_launcher::Paths::new(&root);
    let python = riv_launcher::venv::ensure(&paths, &|m| eprintln!("==> {m}"))
        .unwrap_or_else(|e| panic!("the LocalStack venv: {e}"));
    let script = root.join("localstack/extension/checks").join(name);
    let out = Command::new(&python).arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "{name}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_cold_start_cannot_fail_a_concurrent_invocation() {
    check("lambda_environments.py");
}

#[test]
fn a_wait_state_waits_until_its_timestamp() {
    check("states_wait.py");
}
