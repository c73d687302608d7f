//! `cargo xtask synth --param` refuses values off a parameter's real scale before anything is written, as
//! `deploy` and `local up` do with the same check.

use std::process::Command;

fn synth(param: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["synth", "--out", "-", "--param", param])
        .output()
        .expect("xtask runs")
}

#[test]
fn thresholds_on_the_wrong_scale_are_refused() {
    for (param, rule) in [
        ("FaceMatchThreshold=0.95", "between 80 and 100"),
        ("MinConfidence=0.9", "between 50 and 100"),
        ("DenialFloorMs=60000", "between 0 and 5000"),
    ] {
        let out = synth(param);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{param} was accepted");
        assert!(stderr.contains(rule), "{param}: {stderr}");
        assert!(out.stdout.is_empty(), "{param}: a template was written");
    }
    let fine = synth("FaceMatchThreshold=97");
    assert!(
        fine.status.success(),
        "{}",
        String::from_utf8_lossy(&fine.stderr)
    );
    assert!(
        String::from_utf8_lossy(&fine.stdout).contains("Default: '97'")
            || String::from_utf8_lossy(&fine.stdout).contains("Default: \"97\"")
            || String::from_utf8_lossy(&fine.stdout).contains("Default: 97")
    );
}
