//! The emulator's engine, made ready before the emulator starts: Debian's dlib, OpenBLAS and Tesseract
//! (installed when running as root, otherwise the exact `apt-get` line is printed), dlib's models from PyPI
//! into `.riv/models`, and the `riv-face-engine` worker built. `auto` falls back to the deterministic engine,
//! saying once why; `real` refuses to start without its parts.

use crate::LocalError;
use riv_emulator::engine::EngineChoice;
use riv_emulator::real::models;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Debian packages the real engine needs: dlib and OpenBLAS to build and run the face worker, Tesseract
/// for text.
pub const PACKAGES: [&str; 3] = ["libdlib-dev", "libopenblas-dev", "tesseract-ocr"];

/// What the emulator is started with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineSetup {
    pub choice: EngineChoice,
    /// The face worker and its models, when the real engine can run.
    pub real: Option<RealParts>,
    /// Why the real engine is not there, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RealParts {
    pub face_engine: PathBuf,
    pub models: PathBuf,
}

impl EngineSetup {
    pub fn deterministic() -> Self {
        EngineSetup {
            choice: EngineChoice::Deterministic,
            real: None,
            missing: None,
        }
    }

    /// The emulator's arguments after `serve --listen …`.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec!["--engine".to_string(), self.choice.to_string()];
        if let Some(real) = &self.real {
            args.push("--face-engine".into());
            args.push(real.face_engine.display().to_string());
            args.push("--models".into());
            args.push(real.models.display().to_string());
        }
        args
    }

    /// `auto (real photos: dlib + Tesseract)`, as `local status` shows it.
    pub fn describe(&self) -> String {
        match (&self.choice, &self.real, &self.missing) {
            (EngineChoice::Deterministic, _, _) => "deterministic (test manifests only)".into(),
            (choice, Some(_), _) => format!("{choice} (real photos through dlib and Tesseract)"),
            (choice, None, Some(why)) => format!("{choice}, deterministic only: {why}"),
            (choice, None, None) => format!("{choice}, deterministic only"),
        }
    }
}

/// Installed Debian packages among `PACKAGES`, by dpkg's own record.
fn missing_packages() -> Vec<&'static str> {
    PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect()
}

fn apt_install(packages: &[&str], progress: &dyn Fn(&str)) -> Result<(), String> {
    let install = |update: bool| -> Result<(), String> {
        if update {
            crate::run(
                Command::new("apt-get").args(["update", "-q"]),
                "apt-get update",
            )
            .map_err(|e| e.to_string())?;
        }
        crate::run(
            Command::new("apt-get")
                .args(["install", "-y", "-q"])
                .args(packages)
                .env("DEBIAN_FRONTEND", "noninteractive"),
            "apt-get install",
        )
        .map_err(|e| e.to_string())
    };
    progress(&format!(
        "installing {} for the real face engine",
        packages.join(" ")
    ));
    // A fresh machine's package lists may be empty: update once, only when the first attempt fails.
    install(false).or_else(|_| install(true))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The face worker's package and binary.
pub const FACE_WORKER: &str = "riv-face-engine";

/// Gets the real engine ready for `choice`, or says why it cannot be.
pub fn prepare(
    root: &Path,
    choice: EngineChoice,
    progress: &dyn Fn(&str),
) -> Result<EngineSetup, LocalError> {
    let setup = prepare_unbuilt(root, choice, progress)?;
    if setup.real.is_none() {
        return Ok(setup);
    }
    progress("building the face worker (riv-face-engine)");
    match riv_deploy::build::build_host_tools(root, &[FACE_WORKER]) {
        Ok(_) => Ok(setup),
        Err(e) => without_real(
            choice,
            format!("building riv-face-engine failed: {e}"),
            progress,
        ),
    }
}

/// [`prepare`] up to the face worker, which the caller builds (as `riv_deploy::build::build_host_tools` would,
/// with its own binaries) where `real.face_engine` says.
pub fn prepare_unbuilt(
    root: &Path,
    choice: EngineChoice,
    progress: &dyn Fn(&str),
) -> Result<EngineSetup, LocalError> {
    if choice == EngineChoice::Deterministic {
        return Ok(EngineSetup::deterministic());
    }
    match real_prerequisites(root, progress) {
        Ok(models) => Ok(EngineSetup {
            choice,
            real: Some(RealParts {
                face_engine: riv_deploy::build::host_tools_dir(root).join(FACE_WORKER),
                models,
            }),
            missing: None,
        }),
        Err(why) => without_real(choice, why, progress),
    }
}

/// The setup without the real engine, for `why`: refused with `--engine real`, said once with `auto`.
pub fn without_real(
    choice: EngineChoice,
    why: String,
    progress: &dyn Fn(&str),
) -> Result<EngineSetup, LocalError> {
    match choice {
        EngineChoice::Real => Err(LocalError::Command {
            what: "preparing the real engine (--engine real)".into(),
            detail: why,
        }),
        EngineChoice::Auto | EngineChoice::Deterministic => {
            progress(&format!(
                "the real face engine is not available, so real photos will show no face: {why}"
            ));
            Ok(EngineSetup {
                choice,
                real: None,
                missing: Some(why),
            })
        }
    }
}

/// Dlib's Debian packages and models, in place for the face worker; returns the models' directory.
fn real_prerequisites(root: &Path, progress: &dyn Fn(&str)) -> Result<PathBuf, String> {
    let missing = missing_packages();
    if !missing.is_empty() {
        if !is_root() {
            return Err(format!(
                "{} not installed: run `sudo apt-get install -y {}`, then `cargo xtask local up` again",
                missing.join(", "),
                PACKAGES.join(" ")
            ));
        }
        apt_install(&missing, progress)?;
    }
    let dir = models::dir_under(root);
    if !models::present(&dir) {
        progress(&format!(
            "fetching dlib's models ({} {} from PyPI, 100 MB) into {}",
            models::PACKAGE,
            models::VERSION,
            dir.display()
        ));
        let python = crate::venv::find_python().map_err(|e| e.to_string())?;
        models::ensure(&dir, &python).map_err(|e| e.to_string())?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulator_is_told_the_engine_and_where_its_parts_are() {
        assert_eq!(
            EngineSetup::deterministic().args(),
            ["--engine", "deterministic"]
        );
        let real = EngineSetup {
            choice: EngineChoice::Auto,
            real: Some(RealParts {
                face_engine: "/t/riv-face-engine".into(),
                models: "/m".into(),
            }),
            missing: None,
        };
        assert_eq!(
            real.args(),
            [
                "--engine",
                "auto",
                "--face-engine",
                "/t/riv-face-engine",
                "--models",
                "/m"
            ]
        );
        assert_eq!(
            real.describe(),
            "auto (real photos through dlib and Tesseract)"
        );
        let fallback = EngineSetup {
            choice: EngineChoice::Auto,
            real: None,
            missing: Some("libdlib-dev not installed".into()),
        };
        assert_eq!(fallback.args(), ["--engine", "auto"]);
        assert!(fallback
            .describe()
            .contains("deterministic only: libdlib-dev"));
    }

    #[test]
    fn a_state_file_from_before_engines_reads_as_deterministic() {
        let old = r#"{"choice": "deterministic", "real": null}"#;
        let setup: EngineSetup = serde_json::from_str(old).expect("parses");
        assert_eq!(setup, EngineSetup::deterministic());
    }
}
