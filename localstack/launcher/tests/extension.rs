//! Riv's LocalStack extension against the pinned LocalStack: each check under `localstack/extension/checks`
//! runs in the project venv (created on first use) and must exit 0.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// (workspace root, the venv's Python). Made once: the checks run on parallel threads, and several of them
/// creating the same venv at once leave a broken one behind.
fn venv() -> &'static (PathBuf, PathBuf) {
    static VENV: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    VENV.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .unwrap();
        let paths = riv_launcher::Paths::new(&root);
        let python = riv_launcher::venv::ensure(&paths, &|m| eprintln!("==> {m}"))
            .unwrap_or_else(|e| panic!("the LocalStack venv: {e}"));
        (root, python)
    })
}

fn check(name: &str) {
    let (root, python) = venv();
    let script = root.join("localstack/extension/checks").join(name);
    let out = Command::new(python).arg(&script).output().unwrap();
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

#[test]
fn a_body_failing_its_model_gets_the_gateway_response_template() {
    check("gateway_responses.py");
}

#[test]
fn step_functions_refuses_an_input_over_256_kib() {
    check("states_input_limit.py");
}

#[test]
fn definitions_jsonpaths_and_transactions_take_the_fast_paths() {
    check("fast_paths.py");
}

#[test]
fn a_log_group_takes_a_customer_key() {
    check("logs_kms_keys.py");
}
