//! The linters' venv, shared by the template's scanner tests: cfn-lint, checkov and parliament, pinned in
//! `lint-requirements.txt` and installed from PyPI on first use under the target directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The venv's Python, created from `lint-requirements.txt` when missing. Built beside its final place and
/// renamed into it, so a concurrent run never sees half a venv (scripts keep the old path in their shebang, so
/// the tools' entry points are called through the venv's Python).
pub fn lint_python() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let requirements = std::fs::read_to_string(manifest.join("lint-requirements.txt"))
        .expect("infra/lint-requirements.txt is readable");
    let tag: String = requirements
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.chars())
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("venv-{tag}"));
    let bin = venv.join("bin/python");
    if bin.exists() {
        return bin;
    }
    let building = venv.with_extension(format!("building-{}", std::process::id()));
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    run(
        Command::new(&python).args(["-m", "venv"]).arg(&building),
        &format!("creating a venv with {python} (install python3 and python3-venv, or set PYTHON)"),
    );
    run(
        Command::new(building.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(manifest.join("lint-requirements.txt")),
        "installing the linters from PyPI (infra/lint-requirements.txt)",
    );
    // Another run may have won the race: then its venv serves and ours goes.
    if std::fs::rename(&building, &venv).is_err() {
        let _ = std::fs::remove_dir_all(&building);
    }
    bin
}

/// Writes `yaml` under the target directory as `name` and returns its path.
pub fn write_template(name: &str, yaml: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, yaml).expect("the target directory is writable");
    path
}
