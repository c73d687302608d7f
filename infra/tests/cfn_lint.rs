//! cfn-lint, installed on first use into a venv under the target directory, reports nothing on the template:
//! no error, no warning, no informational finding, across the regions we document.

mod support;

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
        let template = support::write_template(name, &yaml);
        let out = Command::new(support::lint_python())
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
