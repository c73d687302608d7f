//! The project's LocalStack venv: found or created from `localstack/requirements.txt` plus our extension, and
//! rebuilt when either changes.

use crate::{io, run, LocalError, Paths};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A Python ≥ 3.13: `RIV_PYTHON`, then `python3.13`/`python3.14` on PATH, then pyenv's installs, then `python3`.
pub fn find_python() -> Result<PathBuf, LocalError> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os("RIV_PYTHON") {
        candidates.push(p.into());
    }
    candidates.extend(["python3.13", "python3.14"].map(PathBuf::from));
    let pyenv = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")));
    if let Some(versions) = pyenv.map(|p| p.join("versions")) {
        let mut found: Vec<PathBuf> = std::fs::read_dir(versions)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin/python3"))
            .collect();
        found.sort();
        candidates.extend(found.into_iter().rev());
    }
    candidates.push("python3".into());
    candidates
        .into_iter()
        .find(|p| version(p).is_some_and(|v| v >= (3, 13)))
        .ok_or(LocalError::NoPython)
}

fn version(python: &Path) -> Option<(u32, u32)> {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys; print(sys.version_info[0], sys.version_info[1])",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace().map(|p| p.parse().ok());
    Some((parts.next()??, parts.next()??))
}

/// Hash of everything installed into the venv (requirements and the extension's files) and of `salt`, which
/// names the recipe that installs them.
pub(crate) fn inputs_hash(root: &Path, salt: &str) -> Result<String, LocalError> {
    let mut files = vec![
        root.join("localstack/requirements.txt"),
        root.join("localstack/constraints.txt"),
    ];
    let ext = root.join("localstack/extension");
    files.push(ext.join("pyproject.toml"));
    let mut modules: Vec<PathBuf> = std::fs::read_dir(ext.join("riv_localstack"))
        .map_err(io("reading localstack/extension"))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    modules.sort();
    files.extend(modules);
    let mut hash = Sha256::new();
    hash.update(salt);
    for f in files {
        hash.update(f.strip_prefix(root).unwrap_or(&f).display().to_string());
        hash.update(std::fs::read(&f).map_err(io(format!("reading {}", f.display())))?);
    }
    Ok(hex::encode(hash.finalize())[..16].to_string())
}

/// Replaces whatever is at `venv` (an interrupted install, older inputs) with an empty venv of `base`.
fn recreate(paths: &Paths, base: &Path, venv: &Path) -> Result<(), LocalError> {
    let _ = std::fs::remove_dir_all(venv);
    std::fs::create_dir_all(&paths.work).map_err(io("creating .riv"))?;
    run(
        Command::new(base).args(["-m", "venv"]).arg(venv),
        "creating the venv",
    )
}

/// `pip install` in `venv`, quietly; the caller adds what to install.
fn pip_install(venv: &Path) -> Command {
    let mut c = Command::new(venv.join("bin/python"));
    c.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]);
    c
}

/// The venv's Python, creating or refreshing the venv when its inputs changed. A marker written last tells a
/// complete venv from one an interrupted install left behind.
pub fn ensure(paths: &Paths, progress: &dyn Fn(&str)) -> Result<PathBuf, LocalError> {
    let tag = inputs_hash(&paths.root, "")?;
    let venv = paths.work.join(format!("venv-{tag}"));
    let python = venv.join("bin/python");
    let complete = venv.join(".riv-complete");
    if complete.exists() {
        return Ok(python);
    }
    let base = find_python()?;
    progress(&format!(
        "creating the LocalStack venv with {} (first run only: about a minute)",
        base.display()
    ));
    recreate(paths, &base, &venv)?;
    let pip = |args: &[&str]| {
        let mut c = pip_install(&venv);
        c.args(args);
        c
    };
    progress("installing localstack-core 4.14.0 and its pins from PyPI");
    let requirements = paths.root.join("localstack/requirements.txt");
    let constraints = paths.root.join("localstack/constraints.txt");
    run(
        pip(&["-r"]).arg(&requirements).arg("-c").arg(&constraints),
        "pip install -r localstack/requirements.txt -c localstack/constraints.txt",
    )?;
    progress("installing Riv's LocalStack extension");
    let extension = paths.root.join("localstack/extension");
    run(
        pip(&["--no-deps"]).arg(&extension),
        "pip install localstack/extension",
    )?;
    std::fs::write(&complete, &tag).map_err(io("marking the venv complete"))?;
    // Venvs of older inputs are dead weight.
    for entry in std::fs::read_dir(&paths.work)
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("venv-") && entry.path() != venv {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(python)
}

/// A venv holding one pinned command-line tool from PyPI (e.g. `awscli==1.46.2` for the teardown bench), kept
/// apart from LocalStack's pins; returns its `bin/` directory.
pub fn tool(
    paths: &Paths,
    requirement: &str,
    progress: &dyn Fn(&str),
) -> Result<PathBuf, LocalError> {
    let tag = hex::encode(Sha256::digest(requirement))[..16].to_string();
    let venv = paths.work.join(format!("tool-{tag}"));
    let complete = venv.join(".riv-complete");
    if complete.exists() {
        return Ok(venv.join("bin"));
    }
    progress(&format!(
        "installing {requirement} from PyPI into {}",
        venv.display()
    ));
    recreate(paths, &find_python()?, &venv)?;
    run(
        pip_install(&venv).arg(requirement),
        &format!("pip install {requirement}"),
    )?;
    std::fs::write(&complete, requirement).map_err(io("marking the tool venv complete"))?;
    Ok(venv.join("bin"))
}
