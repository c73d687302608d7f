//! dlib's model files, from PyPI's `face_recognition_models` (the package `face_recognition` itself uses): pinned
//! by version and by the sdist's SHA-256, fetched with pip into the project's `.riv/`, never from a model hub.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const PACKAGE: &str = "face_recognition_models";
pub const VERSION: &str = "0.3.0";
const SDIST_SHA256: &str = "b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf";
/// The 68-point shape predictor (landmarks) and the ResNet that embeds a face in 128 dimensions.
pub const LANDMARKS: &str = "shape_predictor_68_face_landmarks.dat";
pub const ENCODER: &str = "dlib_face_recognition_resnet_model_v1.dat";
const FILES: [&str; 2] = [LANDMARKS, ENCODER];

#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("cannot fetch {PACKAGE}=={VERSION} from PyPI with {python}: {detail}")]
    Pip { python: String, detail: String },
    #[error(
        "the downloaded {file} has SHA-256 {actual}, not the pinned {SDIST_SHA256}: refusing it"
    )]
    Digest { file: PathBuf, actual: String },
    #[error("cannot unpack the models into {dir}: {source}")]
    Unpack {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{PACKAGE}=={VERSION} holds no {0}")]
    Missing(&'static str),
}

/// Where the models live under a project root: `.riv/models/face_recognition_models-0.3.0`.
pub fn dir_under(root: &Path) -> PathBuf {
    root.join(".riv")
        .join("models")
        .join(format!("{PACKAGE}-{VERSION}"))
}

pub fn present(dir: &Path) -> bool {
    FILES.iter().all(|f| dir.join(f).is_file())
}

/// Makes sure the models are in `dir`, downloading the sdist with `python -m pip download` when they are not.
pub fn ensure(dir: &Path, python: &Path) -> Result<(), ModelsError> {
    if present(dir) {
        return Ok(());
    }
    let unpack = |source| ModelsError::Unpack {
        dir: dir.to_path_buf(),
        source,
    };
    // Names of this call's own: two stacks starting at once (tests do) each fetch into their own, and the first to
    // finish places the models; the other finds them there and drops its copy.
    let own = format!(
        "{}-{:?}-{}",
        std::process::id(),
        std::thread::current().id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    )
    .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "");
    let download = dir.with_extension(format!("download-{own}"));
    std::fs::create_dir_all(&download).map_err(unpack)?;
    let output = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--quiet",
            "-d",
        ])
        .arg(&download)
        .arg(format!("{PACKAGE}=={VERSION}"))
        .output()
        .map_err(|e| ModelsError::Pip {
            python: python.display().to_string(),
            detail: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(ModelsError::Pip {
            python: python.display().to_string(),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    let sdist = download.join(format!("{PACKAGE}-{VERSION}.tar.gz"));
    let bytes = std::fs::read(&sdist).map_err(unpack)?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != SDIST_SHA256 {
        return Err(ModelsError::Digest {
            file: sdist,
            actual,
        });
    }
    // Unpack beside the target and rename, so an interrupted run never leaves half a model file behind.
    let staging = dir.with_extension(format!("partial-{own}"));
    std::fs::create_dir_all(&staging).map_err(unpack)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
    for entry in archive.entries().map_err(unpack)? {
        let mut entry = entry.map_err(unpack)?;
        let path = entry.path().map_err(unpack)?.into_owned();
        if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            if FILES.contains(&name) {
                entry.unpack(staging.join(name)).map_err(unpack)?;
            }
        }
    }
    for file in FILES {
        if !staging.join(file).is_file() {
            return Err(ModelsError::Missing(file));
        }
    }
    let placed = std::fs::rename(&staging, dir);
    // Ours, or a concurrent fetch's: either way the models are there. Otherwise the rename's error says why.
    if placed.is_err() && present(dir) {
        std::fs::remove_dir_all(&staging).map_err(unpack)?;
    } else {
        placed.map_err(unpack)?;
    }
    std::fs::remove_dir_all(&download).map_err(unpack)?;
    Ok(())
}
