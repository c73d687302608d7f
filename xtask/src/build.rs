//! `cargo xtask build`: compiles the Lambda functions and packages each as a reproducible `bootstrap.zip`.

use crate::output::{self, Output};
use anyhow::{bail, Context, Result};
use riv_domain::names::function;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// provided.al2023 ships glibc 2.34: a bootstrap needing newer symbols fails at cold start.
const RUNTIME_GLIBC: (u32, u32) = (2, 34);

#[derive(clap::Args)]
pub struct Args {
    /// Build with the release profile (stripped, size-optimised): what you deploy.
    #[arg(long)]
    release: bool,
    /// Lambda architecture to build for.
    #[arg(long, value_enum, default_value_t = Arch::X86_64)]
    arch: Arch,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    #[value(name = "x86_64")]
    X86_64,
    Arm64,
}

impl Arch {
    fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    fn linker(self) -> Option<&'static str> {
        match self {
            Arch::X86_64 => None,
            Arch::Arm64 => Some("aarch64-linux-gnu-gcc"),
        }
    }
}

/// One packaged function, as `manifest.json` lists it.
#[derive(Serialize)]
pub struct Artifact {
    pub function: String,
    pub zip: PathBuf,
    pub sha256: String,
    pub size: u64,
}

#[derive(Serialize)]
struct Manifest<'a> {
    arch: Arch,
    profile: &'a str,
    functions: &'a [Artifact],
}

pub fn run(args: &Args, out: Output) -> Result<()> {
    let root = workspace_root()?;
    check_toolchain(args.arch)?;
    let profile = if args.release { "release" } else { "debug" };
    let started = Instant::now();
    output::step(format!(
        "compiling {} functions ({profile}, {})",
        function::ALL.len(),
        args.arch.triple()
    ));
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo.current_dir(&root).args([
        "build",
        "--package",
        "riv-lambda",
        "--bins",
        "--target",
        args.arch.triple(),
    ]);
    if args.release {
        cargo.arg("--release");
    }
    if let Some(linker) = args.arch.linker() {
        let var = format!(
            "CARGO_TARGET_{}_LINKER",
            args.arch.triple().to_uppercase().replace('-', "_")
        );
        cargo.env(var, linker);
    }
    let status = cargo.status().context("could not run cargo")?;
    if !status.success() {
        bail!("cargo build failed (see its output above)");
    }
    output::done("compiled", started);

    let bin_dir = root.join("target").join(args.arch.triple()).join(profile);
    let lambda_dir = root.join("target").join("lambda");
    let mut artifacts = Vec::new();
    for name in function::ALL {
        let binary = std::fs::read(bin_dir.join(name))
            .with_context(|| format!("the {name} binary is missing from {}", bin_dir.display()))?;
        if let Some(needed) = max_glibc(&binary).filter(|v| *v > RUNTIME_GLIBC) {
            bail!(
                "{name} needs GLIBC_{}.{} but provided.al2023 has {}.{}: build on an older glibc or for musl",
                needed.0, needed.1, RUNTIME_GLIBC.0, RUNTIME_GLIBC.1
            );
        }
        let zip = lambda_dir.join(name).join("bootstrap.zip");
        std::fs::create_dir_all(zip.parent().unwrap_or(&lambda_dir))?;
        let bytes = zip_bootstrap(&binary)?;
        std::fs::write(&zip, &bytes)
            .with_context(|| format!("could not write {}", zip.display()))?;
        let artifact = Artifact {
            function: name.to_string(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            size: bytes.len() as u64,
            zip,
        };
        output::step(format!(
            "{name}: {} KiB, sha256 {}",
            artifact.size / 1024,
            &artifact.sha256[..12]
        ));
        artifacts.push(artifact);
    }
    let manifest = Manifest {
        arch: args.arch,
        profile,
        functions: &artifacts,
    };
    let manifest_path = lambda_dir.join("manifest.json");
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest)?)?;
    output::done(&format!("packaged into {}", lambda_dir.display()), started);
    match out {
        Output::Json => println!("{}", serde_json::to_string(&manifest)?),
        Output::Text => println!("{}", manifest_path.display()),
    }
    Ok(())
}

pub fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .context("xtask is not inside the workspace")
}

fn check_toolchain(arch: Arch) -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    // Without rustup (a distribution toolchain) only the host target exists; cargo will say so itself.
    if !installed.is_empty() && !installed.lines().any(|l| l.trim() == arch.triple()) {
        bail!(
            "the Rust target {0} is not installed: run `rustup target add {0}`",
            arch.triple()
        );
    }
    if let Some(linker) = arch.linker() {
        if Command::new(linker).arg("--version").output().is_err() {
            bail!("the linker {linker} is missing: run `apt-get install gcc-aarch64-linux-gnu` (Debian/Ubuntu)");
        }
    }
    Ok(())
}

/// A zip holding only `bootstrap`, executable, with a fixed timestamp: the same binary always gives the same
/// bytes, so unchanged code keeps its hash and is not uploaded again.
pub fn zip_bootstrap(binary: &[u8]) -> Result<Vec<u8>> {
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
    fn finds_the_newest_glibc_version() {
        let bytes = b"\0GLIBC_2.2.5\0GLIBC_2.34\0GLIBC_2.17\0GLIBC_PRIVATE\0";
        assert_eq!(max_glibc(bytes), Some((2, 34)));
        assert_eq!(max_glibc(b"\0GLIBC_2.9\0GLIBC_2.10\0"), Some((2, 10)));
        assert_eq!(max_glibc(b"static"), None);
    }
}
