//! Builds the Lambda functions, one `bootstrap` binary serving all of them (each picks its wiring by
//! `RIV_FUNCTION`), and packages it as a reproducible `bootstrap.zip` listed in a manifest.

use riv_domain::names::function;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use thiserror::Error;

/// The functions' one binary (`functions/lambda/src/bin/bootstrap.rs`).
pub const BINARY: &str = "bootstrap";

/// provided.al2023 ships glibc 2.34: a bootstrap needing newer symbols fails at cold start.
pub const RUNTIME_GLIBC: (u32, u32) = (2, 34);

#[derive(Debug, Error)]
pub enum BuildError {
    #[error("the Rust target {0} is not installed: run `rustup target add {0}`")]
    MissingTarget(&'static str),
    #[error(
        "the linker {0} is missing: run `apt-get install gcc-aarch64-linux-gnu` (Debian/Ubuntu)"
    )]
    MissingLinker(&'static str),
    #[error("cargo build failed (its output is above)")]
    Cargo,
    #[error("{name} needs GLIBC_{}.{} but provided.al2023 has {}.{}: build on an older glibc or for musl", .needed.0, .needed.1, RUNTIME_GLIBC.0, RUNTIME_GLIBC.1)]
    Glibc { name: String, needed: (u32, u32) },
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("packaging {0}: {1}")]
    Zip(String, String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let what = what.into();
    move |e| BuildError::Io(what, e)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    X86_64,
    Arm64,
}

impl Arch {
    pub fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// This machine's.
    pub fn host() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Arm64
        } else {
            Arch::X86_64
        }
    }

    /// The name CloudFormation's `Architectures` takes.
    pub fn lambda_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm64 => "arm64",
        }
    }

    fn linker(self) -> Option<&'static str> {
        match self {
            Arch::X86_64 => None,
            Arch::Arm64 => Some("aarch64-linux-gnu-gcc"),
        }
    }
}

/// The packaged `bootstrap`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    pub zip: PathBuf,
    pub sha256: String,
    pub size: u64,
}

/// `target/lambda/manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub arch: Arch,
    pub profile: String,
    /// The one zip every function runs: one link and one upload instead of one per function (measured: the
    /// release build of the functions' crate went from 28 s to 13 s, and 8 zips of ~5 MB became one).
    pub bootstrap: Artifact,
    /// The functions it serves.
    pub functions: Vec<String>,
    /// The commit the functions were built from (`-dirty` with uncommitted changes), for the stack's tags.
    #[serde(default)]
    pub commit: Option<String>,
}

/// Cargo's target directory for the workspace at `root`: `CARGO_TARGET_DIR` (relative to `root` when
/// relative), else `<root>/target`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// Names the commit a build is from where git cannot tell (a source archive), or on purpose.
pub const COMMIT_VARIABLE: &str = "RIV_COMMIT";

/// The workspace's commit (`RIV_COMMIT` when set), `None` outside a git checkout.
pub fn commit(root: &Path) -> Option<String> {
    if let Some(commit) = std::env::var(COMMIT_VARIABLE)
        .ok()
        .filter(|c| !c.is_empty())
    {
        return Some(commit);
    }
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

impl Manifest {
    pub fn path(root: &Path) -> PathBuf {
        target_dir(root).join("lambda").join("manifest.json")
    }

    pub fn load(root: &Path) -> Option<Manifest> {
        serde_json::from_slice(&std::fs::read(Self::path(root)).ok()?).ok()
    }
}

/// Compiles the binaries named like the workspace's `packages` (the local stack's helpers: the Lambda runner,
/// the emulator, the face worker) for this machine and returns their directory. Like [`Profile::Local`], in the
/// dev profile together with xtask, so they reuse every dependency `cargo xtask` compiled (a fresh clone built
/// them optimised in 85 s); their pixel and dlib work is optimised even there (see the workspace's Cargo.toml).
pub fn build_host_tools(root: &Path, packages: &[&str]) -> Result<PathBuf, BuildError> {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(root)
        .args(["build", "--package", "xtask"]);
    for package in packages {
        cargo.args(["--package", package, "--bin", package]);
    }
    if !cargo.status().map_err(io("running cargo"))?.success() {
        return Err(BuildError::Cargo);
    }
    Ok(host_tools_dir(root))
}

/// Where [`build_host_tools`] and [`build_local`] put the helpers.
pub fn host_tools_dir(root: &Path) -> PathBuf {
    target_dir(root).join(Profile::Local.dir())
}

/// How the functions are compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// What AWS runs: optimised for size, for the Lambda architecture's target.
    Release,
    /// `cargo xtask build` without `--release`: unoptimised, for the Lambda architecture's target.
    Debug,
    /// The local stack's: cargo's dev profile for this machine, built together with xtask so cargo resolves
    /// the features `cargo xtask` itself was compiled with and reuses every dependency. The same code as a
    /// release, unoptimised (and with overflow checks): a fresh clone compiles the AWS SDK once instead of a
    /// second time optimised (about 3 of its 8 minutes on 2 cores), and a change relinks in seconds.
    Local,
}

impl Profile {
    /// Cargo's name for the profile's output directory.
    fn dir(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Debug | Profile::Local => "debug",
        }
    }
}

/// Compiles the functions' `bootstrap` (for `arch`, or this machine's with [`Profile::Local`]) and writes
/// `target/lambda/bootstrap.zip` and the manifest.
pub fn build(
    root: &Path,
    arch: Arch,
    profile: Profile,
    progress: &dyn Fn(&str),
) -> Result<Manifest, BuildError> {
    build_with(root, arch, profile, &[], CargoOutput::Shown, progress)
}

/// [`build`] for a caller that shows its own progress (a spinner at a terminal): cargo prints only warnings and
/// errors, not its own progress bar drawn over the caller's.
pub fn build_quietly(
    root: &Path,
    arch: Arch,
    profile: Profile,
    progress: &dyn Fn(&str),
) -> Result<Manifest, BuildError> {
    build_with(root, arch, profile, &[], CargoOutput::Quiet, progress)
}

/// What cargo prints while it builds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CargoOutput {
    /// Its status lines and progress bar, as a person running cargo sees them.
    Shown,
    /// Warnings and errors only (`--quiet`).
    Quiet,
}

/// The local stack's build: the bootstrap ([`Profile::Local`]) and the helpers named by `tools` (as
/// [`build_host_tools`] builds them), in one cargo run so cargo compiles them side by side (the face worker's
/// C++ alone takes half a minute on a fresh clone).
pub fn build_local(
    root: &Path,
    tools: &[&str],
    progress: &dyn Fn(&str),
) -> Result<Manifest, BuildError> {
    build_with(
        root,
        Arch::host(),
        Profile::Local,
        tools,
        CargoOutput::Shown,
        progress,
    )
}

fn build_with(
    root: &Path,
    arch: Arch,
    profile: Profile,
    tools: &[&str],
    output: CargoOutput,
    progress: &dyn Fn(&str),
) -> Result<Manifest, BuildError> {
    let arch = match profile {
        Profile::Local => Arch::host(),
        Profile::Release | Profile::Debug => arch,
    };
    check_toolchain(arch)?;
    progress(&format!(
        "compiling the bootstrap of {} functions ({profile:?}, {})",
        function::ALL.len(),
        arch.triple()
    ));
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(root)
        .args(["build", "--package", "riv-lambda", "--bin", BINARY]);
    if output == CargoOutput::Quiet {
        cargo.arg("--quiet");
    }
    match profile {
        Profile::Release => {
            cargo.args(["--release", "--target", arch.triple()]);
        }
        Profile::Debug => {
            cargo.args(["--target", arch.triple()]);
        }
        // No --target: a host build shares target/debug with xtask's own dependencies.
        Profile::Local => {
            cargo.args(["--package", "xtask"]);
            for tool in tools {
                cargo.args(["--package", tool, "--bin", tool]);
            }
        }
    }
    if let Some(linker) = arch.linker().filter(|_| profile != Profile::Local) {
        let var = format!(
            "CARGO_TARGET_{}_LINKER",
            arch.triple().to_uppercase().replace('-', "_")
        );
        cargo.env(var, linker);
    }
    if !cargo.status().map_err(io("running cargo"))?.success() {
        return Err(BuildError::Cargo);
    }

    let binary = match profile {
        Profile::Local => target_dir(root).join(profile.dir()),
        Profile::Release | Profile::Debug => {
            target_dir(root).join(arch.triple()).join(profile.dir())
        }
    }
    .join(BINARY);
    let zip = target_dir(root).join("lambda").join("bootstrap.zip");
    let bootstrap = match packaged(&binary, &zip) {
        Some(artifact) => artifact,
        None => {
            progress("zipping the bootstrap…");
            package(&binary, &zip)?
        }
    };
    progress(&format!(
        "bootstrap: {} KiB, sha256 {}",
        bootstrap.size / 1024,
        &bootstrap.sha256[..12]
    ));
    let manifest = Manifest {
        arch,
        profile: format!("{profile:?}").to_lowercase(),
        bootstrap,
        functions: function::ALL.iter().map(|f| f.to_string()).collect(),
        commit: commit(root),
    };
    let text = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    std::fs::write(Manifest::path(root), text).map_err(io("writing the manifest"))?;
    Ok(manifest)
}

/// What `bootstrap.zip` was made from, kept beside it as `bootstrap.source`: the binary's length and
/// modification time (cargo writes a new file whenever it links again) and the zip's hash and size.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Packaged {
    binary_len: u64,
    binary_modified_ns: u128,
    sha256: String,
    size: u64,
}

fn binary_stamp(binary: &Path) -> Option<(u64, u128)> {
    let meta = std::fs::metadata(binary).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some((meta.len(), modified.as_nanos()))
}

fn source_path(zip: &Path) -> PathBuf {
    zip.with_file_name("bootstrap.source")
}

/// The zip made earlier from this very binary, if it is still there: zipping and hashing a 15 MB binary is
/// most of a no-change `local up`.
fn packaged(binary: &Path, zip: &Path) -> Option<Artifact> {
    let (binary_len, binary_modified_ns) = binary_stamp(binary)?;
    let source: Packaged = serde_json::from_slice(&std::fs::read(source_path(zip)).ok()?).ok()?;
    let zip_len = std::fs::metadata(zip).ok()?.len();
    let fresh = source.binary_len == binary_len
        && source.binary_modified_ns == binary_modified_ns
        && source.size == zip_len;
    fresh.then(|| Artifact {
        zip: zip.to_path_buf(),
        sha256: source.sha256,
        size: source.size,
    })
}

fn package(binary_path: &Path, zip: &Path) -> Result<Artifact, BuildError> {
    let binary = std::fs::read(binary_path).map_err(io(format!("reading the {BINARY} binary")))?;
    if let Some(needed) = max_glibc(&binary).filter(|v| *v > RUNTIME_GLIBC) {
        return Err(BuildError::Glibc {
            name: BINARY.into(),
            needed,
        });
    }
    if let Some(dir) = zip.parent() {
        std::fs::create_dir_all(dir).map_err(io("creating target/lambda"))?;
    }
    let bytes =
        zip_bootstrap(&binary).map_err(|e| BuildError::Zip(BINARY.into(), e.to_string()))?;
    // The record goes first and is checked against the zip's size, so a zip cut short is never taken as done.
    let _ = std::fs::remove_file(source_path(zip));
    std::fs::write(zip, &bytes).map_err(io(format!("writing {}", zip.display())))?;
    let artifact = Artifact {
        sha256: hex::encode(Sha256::digest(&bytes)),
        size: bytes.len() as u64,
        zip: zip.to_path_buf(),
    };
    if let Some((binary_len, binary_modified_ns)) = binary_stamp(binary_path) {
        let source = Packaged {
            binary_len,
            binary_modified_ns,
            sha256: artifact.sha256.clone(),
            size: artifact.size,
        };
        let text = serde_json::to_vec(&source).unwrap_or_default();
        std::fs::write(source_path(zip), text).map_err(io("writing bootstrap.source"))?;
    }
    Ok(artifact)
}

fn check_toolchain(arch: Arch) -> Result<(), BuildError> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    // Without rustup (a distribution toolchain) only the host target exists; cargo will say so itself.
    if !installed.is_empty() && !installed.lines().any(|l| l.trim() == arch.triple()) {
        return Err(BuildError::MissingTarget(arch.triple()));
    }
    if let Some(linker) = arch.linker() {
        if Command::new(linker).arg("--version").output().is_err() {
            return Err(BuildError::MissingLinker(linker));
        }
    }
    Ok(())
}

/// A zip holding only `bootstrap`, executable, with a fixed timestamp: the same binary always gives the same
/// bytes, so unchanged code keeps its hash and is not uploaded again.
pub fn zip_bootstrap(binary: &[u8]) -> zip::result::ZipResult<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755)
        .last_modified_time(zip::DateTime::default());
    writer.start_file("bootstrap", options)?;
    writer.write_all(binary)?;
    Ok(writer.finish()?.into_inner())
}

/// The newest `GLIBC_x.y` symbol version named in an ELF binary.
pub fn max_glibc(binary: &[u8]) -> Option<(u32, u32)> {
    const TAG: &[u8] = b"GLIBC_";
    binary
        .windows(TAG.len())
        .enumerate()
        .filter(|(_, w)| *w == TAG)
        .filter_map(|(i, _)| {
            let rest = &binary[i + TAG.len()..];
            let end = rest
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b'.'))
                .unwrap_or(rest.len());
            let text = std::str::from_utf8(&rest[..end]).ok()?;
            let mut parts = text.split('.');
            Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zips_are_reproducible_and_executable() {
        let a = zip_bootstrap(b"\x7fELF binary").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let b = zip_bootstrap(b"\x7fELF binary").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, zip_bootstrap(b"\x7fELF other").unwrap());
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(a)).unwrap();
        let entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    }

    #[test]
    fn a_zip_is_made_again_only_when_its_binary_changes() {
        let dir = std::env::temp_dir().join(format!("riv-package-{}", std::process::id()));
        let binary = dir.join("bootstrap");
        let zip = dir.join("lambda/bootstrap.zip");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&binary, b"\x7fELF first").unwrap();
        assert_eq!(packaged(&binary, &zip), None);
        let first = package(&binary, &zip).unwrap();
        assert_eq!(packaged(&binary, &zip), Some(first.clone()));

        // A new link writes a new file: another length or modification time means another zip.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&binary, b"\x7fELF second!").unwrap();
        assert_eq!(packaged(&binary, &zip), None);
        let second = package(&binary, &zip).unwrap();
        assert_ne!(second.sha256, first.sha256);
        assert_eq!(
            second.sha256,
            hex::encode(Sha256::digest(std::fs::read(&zip).unwrap()))
        );

        // A zip cut short is not taken for the one recorded.
        std::fs::write(&zip, b"PK").unwrap();
        assert_eq!(packaged(&binary, &zip), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn finds_the_newest_glibc_version() {
        let bytes = b"\0GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_2.17\0GLIBC_PRIVATE\0";
        assert_eq!(max_glibc(bytes), Some((2, 34)));
        assert_eq!(max_glibc(b"\0GLIBC_2.9\0GLIBC_2.10\0"), Some((2, 10)));
        assert_eq!(max_glibc(b"static"), None);
    }
}
