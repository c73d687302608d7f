//! The container backend: LocalStack in a container started with testcontainers. The container shares the host's
//! network, so LocalStack binds 127.0.0.1 exactly as on the host backend and reaches the emulator there; the stack
//! directory and the Lambda runner are mounted at their host paths, so state and paths mean the same inside and
//! out. Docker is reached the way testcontainers and the docker CLI both read it: `DOCKER_HOST`, else the default
//! socket.

use crate::LocalError;
use std::future::Future;
use std::path::Path;
use std::time::Duration;
use testcontainers_modules::testcontainers::bollard::query_parameters::{
    LogsOptions, RemoveContainerOptions,
};
use testcontainers_modules::testcontainers::bollard::Docker;
use testcontainers_modules::testcontainers::core::{AccessMode, Mount};
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{GenericImage, ImageExt};

/// The official image: the last LocalStack release usable without an account (it needs internet to pull, and
/// Riv's extension on top: `cargo xtask image localstack --from-official`).
pub const OFFICIAL_IMAGE: &str = "localstack/localstack:4.14.0";
/// Passed through to the container when set (LocalStack's licensed images want it).
pub const AUTH_TOKEN_ENV: &str = "LOCALSTACK_AUTH_TOKEN";

/// Runs a future to completion on a runtime of its own, so sync callers inside or outside Tokio can use it.
fn block<F: Future + Send + 'static>(future: F) -> Result<F::Output, LocalError>
where
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(future))
    })
    .join()
    .unwrap_or_else(|_| Err(std::io::Error::other("the Docker client thread panicked")))
    .map_err(crate::io("running the Docker client"))
}

fn docker() -> Result<Docker, LocalError> {
    Docker::connect_with_defaults().map_err(|e| docker_error("connecting to Docker", e))
}

fn docker_error(what: &str, e: impl std::fmt::Display) -> LocalError {
    LocalError::Command {
        what: what.to_string(),
        detail: format!(
            "{e} (is a Docker daemon running? DOCKER_HOST={})",
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unset: the default socket".into())
        ),
    }
}

/// Whether a Docker daemon answers within a second (`auto` picks the container backend only then).
pub fn daemon_answers() -> bool {
    let Ok(docker) = docker() else { return false };
    block(async move {
        tokio::time::timeout(Duration::from_secs(1), docker.ping())
            .await
            .is_ok_and(|r| r.is_ok())
    })
    .unwrap_or(false)
}

/// Whether the daemon has `image` already (nothing is pulled to find out).
pub fn image_present(image: &str) -> bool {
    let Ok(docker) = docker() else { return false };
    let image = image.to_string();
    block(async move { docker.inspect_image(&image).await.is_ok() }).unwrap_or(false)
}

/// What to run.
pub struct Spec<'a> {
    pub image: &'a str,
    pub name: String,
    pub env: Vec<(String, String)>,
    /// Host paths mounted at the same path inside: (path, writable).
    pub mounts: Vec<(&'a Path, bool)>,
}

/// `name:tag` → (name, tag), `latest` when no tag is given (a registry port is not a tag).
pub fn split_image(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

/// Starts the container and returns its id. The handle is forgotten on purpose: testcontainers removes a
/// container when its handle drops, but a local stack outlives the command that started it; [`remove`] ends it.
pub fn run(spec: Spec<'_>) -> Result<String, LocalError> {
    let (name, tag) = split_image(spec.image);
    let mut request = GenericImage::new(name, tag)
        .with_network("host")
        .with_container_name(&spec.name)
        // Files LocalStack writes into the mounted stack directory stay the invoking user's.
        .with_user(owner());
    for (k, v) in spec.env {
        request = request.with_env_var(k, v);
    }
    if let Ok(token) = std::env::var(AUTH_TOKEN_ENV) {
        request = request.with_env_var(AUTH_TOKEN_ENV, token);
    }
    for (path, writable) in spec.mounts {
        let p = path.display().to_string();
        let mode = if writable {
            AccessMode::ReadWrite
        } else {
            AccessMode::ReadOnly
        };
        request = request.with_mount(Mount::bind_mount(p.clone(), p).with_access_mode(mode));
    }
    let stale = spec.name.clone();
    block(async move {
        if let Ok(docker) = Docker::connect_with_defaults() {
            // A container of a stack that was not stopped cleanly holds the name.
            let _ = docker
                .remove_container(
                    &stale,
                    Some(RemoveContainerOptions {
                        force: true,
                        ..Default::default()
                    }),
                )
                .await;
        }
        let container = request
            .start()
            .await
            .map_err(|e| docker_error("starting the LocalStack container", e))?;
        let id = container.id().to_string();
        std::mem::forget(container);
        Ok(id)
    })?
}

/// `uid:gid` of this process.
fn owner() -> String {
    // SAFETY: getuid and getgid always succeed and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    format!("{uid}:{gid}")
}

/// Whether the container runs; `Some(reason)` when it stopped (its exit code), `None` while it runs.
pub fn exited(id: &str) -> Option<String> {
    let docker = docker().ok()?;
    let id = id.to_string();
    block(async move {
        match docker.inspect_container(&id, None).await {
            Ok(info) => {
                let state = info.state?;
                if state.running == Some(true) {
                    None
                } else {
                    Some(format!(
                        "container exited with {}",
                        state.exit_code.unwrap_or(-1)
                    ))
                }
            }
            Err(e) => Some(format!("container gone: {e}")),
        }
    })
    .unwrap_or_else(|e| Some(e.to_string()))
}

/// Removes the container, stopping it first; true when there was one.
pub fn remove(id: &str) -> bool {
    let Ok(docker) = docker() else { return false };
    let id = id.to_string();
    block(async move {
        docker
            .remove_container(
                &id,
                Some(RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                }),
            )
            .await
            .is_ok()
    })
    .unwrap_or(false)
}

/// The last `lines` lines of the container's output.
pub fn logs(id: &str, lines: usize) -> String {
    use futures::StreamExt;
    let Ok(docker) = docker() else {
        return String::new();
    };
    let id = id.to_string();
    block(async move {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: lines.to_string(),
            ..Default::default()
        };
        let mut out = String::new();
        let mut stream = docker.logs(&id, Some(options));
        while let Some(Ok(chunk)) = stream.next().await {
            out.push_str(&chunk.to_string());
        }
        out
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_name_and_tag() {
        assert_eq!(
            split_image("localstack/localstack:4.14.0"),
            ("localstack/localstack", "4.14.0")
        );
        assert_eq!(split_image("riv/localstack"), ("riv/localstack", "latest"));
        assert_eq!(
            split_image("registry.local:5000/ls"),
            ("registry.local:5000/ls", "latest")
        );
    }
}
