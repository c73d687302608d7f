//! The container backend's LocalStack image, built where no registry can be reached: a Debian root file system
//! from `debootstrap` (trixie, for its Python 3.13), LocalStack and our pins in a venv, our extension, imported
//! with `docker import`. Tagged by the hash of its inputs, so an unchanged workspace reuses the image.
//!
//! With internet, `--from-official` instead layers the extension on the official image with `docker build`.

use crate::{io, run, venv, LocalError, Paths};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The Debian release the image is built from: its python3 is 3.13, as LocalStack 4.14 needs.
pub const SUITE: &str = "trixie";
/// Packages the root file system gets beyond `minbase`.
const PACKAGES: &str = "python3,python3-venv,ca-certificates";
/// Where the venv lives inside the image.
const VENV: &str = "/opt/localstack/venv";
/// Changes when the recipe below changes, so the tag does too.
const RECIPE: &str = "riv-localstack-image/1";

/// The tag of the offline image for this workspace's requirements and extension.
pub fn tag(paths: &Paths) -> Result<String, LocalError> {
    Ok(format!(
        "riv/localstack:4.14.0-{}",
        venv::inputs_hash(&paths.root, RECIPE)?
    ))
}

/// The tag of the extension layered on the official image.
pub fn official_tag(paths: &Paths) -> Result<String, LocalError> {
    Ok(format!(
        "riv/localstack-official:4.14.0-{}",
        venv::inputs_hash(&paths.root, "official/1")?
    ))
}

/// What a build did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Built {
    pub image: String,
    /// The image existed already: nothing was built.
    pub reused: bool,
    pub seconds: f64,
    pub size_bytes: u64,
}

fn need(tool: &str, package: &str) -> Result<(), LocalError> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        Ok(())
    } else {
        Err(LocalError::Command {
            what: format!("finding {tool}"),
            detail: format!("{tool} is not installed: apt-get install {package}"),
        })
    }
}

/// The Debian mirror apt uses on this machine (deb822 `URIs:` or a `deb` line), else deb.debian.org.
pub fn apt_mirror() -> String {
    let mut texts = vec![std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default()];
    for entry in std::fs::read_dir("/etc/apt/sources.list.d")
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = entry.path();
        if path
            .extension()
            .is_some_and(|e| e == "sources" || e == "list")
        {
            texts.push(std::fs::read_to_string(path).unwrap_or_default());
        }
    }
    mirror_in(&texts.join("\n")).unwrap_or_else(|| "http://deb.debian.org/debian".into())
}

fn mirror_in(sources: &str) -> Option<String> {
    sources.lines().map(str::trim).find_map(|line| {
        let uri = line
            .strip_prefix("URIs:")
            .map(|rest| rest.split_whitespace().next().unwrap_or_default())
            .or_else(|| {
                line.strip_prefix("deb ")
                    .and_then(|rest| rest.split_whitespace().find(|w| w.contains("://")))
            })?;
        (uri.ends_with("/debian") || uri.ends_with("/debian/"))
            .then(|| uri.trim_end_matches('/').to_string())
    })
}

fn size(image: &str) -> u64 {
    Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Size}}", image])
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(0)
}

/// Builds the offline image unless the daemon has it already.
pub fn build(
    paths: &Paths,
    mirror: Option<&str>,
    progress: &dyn Fn(&str),
) -> Result<Built, LocalError> {
    let started = Instant::now();
    let image = tag(paths)?;
    if !crate::container::daemon_answers() {
        return Err(LocalError::NoDocker);
    }
    if crate::container::image_present(&image) {
        return Ok(Built {
            size_bytes: size(&image),
            image,
            reused: true,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    // SAFETY: geteuid always succeeds and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Err(LocalError::Command {
            what: "building the LocalStack image".into(),
            detail: "debootstrap and chroot need root: run it as root (e.g. sudo -E cargo xtask image localstack)"
                .into(),
        });
    }
    need("debootstrap", "debootstrap")?;
    need("docker", "docker.io")?;
    let mirror = mirror.map(str::to_string).unwrap_or_else(apt_mirror);
    let rootfs = paths
        .work
        .join("image")
        .join(image.replace([':', '/'], "-"));
    let _ = std::fs::remove_dir_all(&rootfs);
    std::fs::create_dir_all(&rootfs).map_err(io("creating the image root"))?;
    let result = build_rootfs(paths, &rootfs, &mirror, progress).and_then(|()| {
        progress(&format!("importing {image} (docker import)"));
        import(&rootfs, &image)
    });
    let _ = std::fs::remove_dir_all(&rootfs);
    result?;
    Ok(Built {
        size_bytes: size(&image),
        image,
        reused: false,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn build_rootfs(
    paths: &Paths,
    rootfs: &Path,
    mirror: &str,
    progress: &dyn Fn(&str),
) -> Result<(), LocalError> {
    progress(&format!(
        "debootstrap {SUITE} from {mirror} (a few minutes)"
    ));
    run(
        Command::new("debootstrap")
            .args(["--variant=minbase", &format!("--include={PACKAGES}"), SUITE])
            .arg(rootfs)
            .arg(mirror),
        "debootstrap",
    )?;
    // pip inside the chroot resolves names, trusts certificates and reads its configuration as this machine does;
    // the copies live in the image's /tmp, which is emptied before the import.
    std::fs::create_dir_all(rootfs.join("tmp")).map_err(io("creating /tmp in the image"))?;
    let mut pip_env: Vec<(&str, &str)> = Vec::new();
    for (from, to, var) in [
        ("/etc/resolv.conf", "etc/resolv.conf", None),
        (
            "/etc/ssl/certs/ca-certificates.crt",
            "tmp/riv-host-ca.crt",
            Some("PIP_CERT"),
        ),
        ("/etc/pip.conf", "tmp/riv-pip.conf", Some("PIP_CONFIG_FILE")),
    ] {
        if Path::new(from).exists() {
            std::fs::copy(from, rootfs.join(to))
                .map_err(io(format!("copying {from} into the image")))?;
            match var {
                // pip checks certificates through the system store (truststore) or its own bundle setting.
                Some("PIP_CERT") => {
                    for v in ["PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"] {
                        pip_env.push((v, to));
                    }
                }
                Some(var) => pip_env.push((var, to)),
                None => {}
            }
        }
    }
    let riv = rootfs.join("opt/riv");
    std::fs::create_dir_all(&riv).map_err(io("creating /opt/riv"))?;
    for file in ["requirements.txt", "constraints.txt"] {
        std::fs::copy(paths.root.join("localstack").join(file), riv.join(file))
            .map_err(io(format!("copying {file}")))?;
    }
    copy_tree(
        &paths.root.join("localstack/extension"),
        &riv.join("extension"),
    )?;
    let chroot = |args: &[&str]| {
        let mut c = Command::new("chroot");
        c.arg(rootfs).args(args).env("HOME", "/root");
        for (var, path) in &pip_env {
            c.env(var, format!("/{path}"));
        }
        c
    };
    progress("creating the venv and installing localstack-core 4.14.0 with Riv's pins");
    run(
        &mut chroot(&["python3", "-m", "venv", VENV]),
        "python3 -m venv",
    )?;
    let pip = format!("{VENV}/bin/pip");
    let quiet = [
        "install",
        "--quiet",
        "--no-cache-dir",
        "--disable-pip-version-check",
    ];
    run(
        chroot(&[&pip])
            .args(quiet)
            .args(["-r", "/opt/riv/requirements.txt"])
            .args(["-c", "/opt/riv/constraints.txt"]),
        "pip install -r requirements.txt -c constraints.txt (in the image)",
    )?;
    run(
        chroot(&[&pip])
            .args(quiet)
            .args(["--no-deps", "/opt/riv/extension"]),
        "pip install the extension (in the image)",
    )?;
    for leftover in [
        "var/cache/apt/archives",
        "var/lib/apt/lists",
        "root/.cache",
        "opt/riv/extension/build",
        "tmp",
    ] {
        let dir = rootfs.join(leftover);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), LocalError> {
    std::fs::create_dir_all(to).map_err(io(format!("creating {}", to.display())))?;
    for entry in std::fs::read_dir(from)
        .map_err(io(format!("reading {}", from.display())))?
        .flatten()
    {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') || name == "__pycache__" || name == "build" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name))?;
        } else {
            std::fs::copy(&path, to.join(&name))
                .map_err(io(format!("copying {}", path.display())))?;
        }
    }
    Ok(())
}

fn import(rootfs: &Path, image: &str) -> Result<(), LocalError> {
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .args(["--numeric-owner", "-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(io("running tar"))?;
    let stdout = tar.stdout.take().ok_or_else(|| LocalError::Command {
        what: "tar".into(),
        detail: "no output pipe".into(),
    })?;
    // The supervisor runs `python -m localstack.runtime.main` in the foreground, forwards SIGTERM and reaps
    // the executor's children, as the official image's entrypoint does.
    let entrypoint = format!(r#"ENTRYPOINT ["{VENV}/bin/localstack-supervisor"]"#);
    let result = run(
        Command::new("docker")
            .args(["import"])
            .args([
                "--change",
                &format!("ENV PATH={VENV}/bin:/usr/local/bin:/usr/bin:/bin"),
            ])
            .args(["--change", "ENV HOME=/tmp"])
            .args(["--change", &entrypoint])
            .args(["-", image])
            .stdin(stdout),
        "docker import",
    );
    let _ = tar.wait();
    result
}

/// Layers the extension on the official image (pulls it: needs internet and Docker Hub).
pub fn build_from_official(paths: &Paths, progress: &dyn Fn(&str)) -> Result<Built, LocalError> {
    let started = Instant::now();
    let image = official_tag(paths)?;
    need("docker", "docker.io")?;
    let context: PathBuf = paths.work.join("image").join("official");
    let _ = std::fs::remove_dir_all(&context);
    copy_tree(
        &paths.root.join("localstack/extension"),
        &context.join("extension"),
    )?;
    let dockerfile = format!(
        "FROM {}\nCOPY extension /opt/riv/extension\n\
         RUN /opt/code/localstack/.venv/bin/python -m pip install --no-cache-dir --no-deps /opt/riv/extension\n",
        crate::container::OFFICIAL_IMAGE
    );
    std::fs::write(context.join("Dockerfile"), dockerfile).map_err(io("writing the Dockerfile"))?;
    progress(&format!(
        "docker build {image} from {}",
        crate::container::OFFICIAL_IMAGE
    ));
    run(
        Command::new("docker")
            .args(["build", "-t", &image])
            .arg(&context),
        "docker build",
    )?;
    Ok(Built {
        size_bytes: size(&image),
        image,
        reused: false,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mirror_comes_from_apt_sources_in_either_format() {
        let deb822 = "Types: deb\nURIs: http://mirror.local/debian\nSuites: bookworm\n";
        assert_eq!(
            mirror_in(deb822).as_deref(),
            Some("http://mirror.local/debian")
        );
        let classic = "deb [arch=amd64] http://ftp.example.org/debian/ bookworm main\n";
        assert_eq!(
            mirror_in(classic).as_deref(),
            Some("http://ftp.example.org/debian")
        );
        let security_only = "URIs: http://deb.debian.org/debian-security\n";
        assert_eq!(mirror_in(security_only), None);
    }
}
