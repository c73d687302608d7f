//! Stamps the commit into `cargo xtask --version` (`RIV_COMMIT`), and exists so that `[build-dependencies]`
//! in Cargo.toml resolve the host's crates with the features the test build gives them (see the comment there).

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|out| out.status.success() && !out.stdout.is_empty());
    println!(
        "cargo:rustc-env=RIV_COMMIT={commit}{}",
        if dirty { "-dirty" } else { "" }
    );
    // A new commit changes HEAD (or the branch it points to); either file's change re-runs this.
    for path in ["../.git/HEAD", "../.git/index", "../.git/refs/heads"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
