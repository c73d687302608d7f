//! cfn-lint, installed on first use into a venv under the target directory, reports nothing on the template:
//! no error, no warning, no informational finding, across the regions we document.

use std::path::{Path, PathBuf};
use std::process::Command;

const REGIONS: [&str; 7] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "sa-east-1",
];

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The venv's Python with cfn-lint, created from `lint-requirements.txt` when missing. Built beside its final
/// place and renamed into it, so a concurrent run never sees half a venv (scripts keep the old path in their
/// shebang, so cfn-lint's entry point is called through the venv's Python).
fn lint_python() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let requirements = std::fs::read_to_string(manifest.join("lint-requirements.txt")).unwrap();
    let tag: String = requirements
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("venv-{tag}"));
    let bin = venv.join("bin/python");
    if venv.join("bin/cfn-lint").exists() {
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
        "installing cfn-lint from PyPI",
    );
    // Another run may have won the race: then its venv serves and ours goes.
    if std::fs::rename(&building, &venv).is_err() {
        let _ = std::fs::remove_dir_all(&building);
    }
    bin
}

#[test]
fn cfn_lint_finds_nothing() {
    // Both flavors: the production template, and the local stack's with its test hooks.
    for (name, yaml) in [
        ("riv-lint.template.yaml", riv_infra::synth_yaml().unwrap()),
        (
            "riv-lint-local.template.yaml",
            riv_infra::synth_local_yaml().unwrap(),
        ),
    ] {
        let template = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&template, yaml).unwrap();
        let out = Command::new(lint_python())
            .args(["-c", "import sys; from cfnlint.runner import main; sys.argv[0] = 'cfn-lint'; sys.exit(main())"])
            .args(["--format", "parseable", "--include-checks", "I", "--regions"])
            .args(REGIONS)
            .arg("--")
            .arg(&template)
            .output()
            .unwrap();
        let findings = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && findings.trim().is_empty(),
            "cfn-lint of {name} (exit {:?}):\n{findings}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
