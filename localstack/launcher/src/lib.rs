//! Starts, watches and stops Riv's local stack: LocalStack 4.14 as a host process in a project venv, with our
//! extension, plus the Rekognition/Textract emulator. `cargo xtask local …` and the end-to-end tests share it.

pub mod container;
pub mod engine;
pub mod http;
pub mod image;
pub mod process;
pub mod up;
pub mod venv;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;

/// LocalStack's usual port.
pub const DEFAULT_PORT: u16 = 4566;
/// How long LocalStack may take to report healthy (its first start compiles Python bytecode).
pub const START_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Error)]
pub enum LocalError {
    #[error("no Python 3.13 or newer found (LocalStack 4.14 needs it): install one (pyenv install 3.13) or set RIV_PYTHON to its path")]
    NoPython,
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("port {port} on 127.0.0.1 is in use by {holder}: stop it or pick another with --port")]
    PortBusy { port: u16, holder: String },
    #[error("a local stack already runs on port {port} ({what}): use it, or run `cargo xtask local down --port {port}` first")]
    AlreadyRunning { port: u16, what: String },
    #[error("LocalStack did not become healthy within {seconds}s: see {log}")]
    NotHealthy { seconds: u64, log: String },
    #[error("LocalStack exited during start ({status}); last lines of {log}:\n{tail}")]
    Exited {
        status: String,
        log: String,
        tail: String,
    },
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
    #[error("{BACKEND_ENV}: {0}")]
    Backend(String),
    #[error("no Docker daemon answers (DOCKER_HOST or /var/run/docker.sock): start one, or use --backend host")]
    NoDocker,
    #[error("the Docker daemon has no image {image}: build it offline with `cargo xtask image localstack`, or from the official image with `cargo xtask image localstack --from-official` (needs internet)")]
    NoImage { image: String },
}

pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LocalError {
    let what = what.into();
    move |e| LocalError::Io(what, e)
}

/// Runs a command to its end; a failure carries the last lines it printed (stdin is closed unless the caller
/// set it).
pub(crate) fn run(command: &mut std::process::Command, what: &str) -> Result<(), LocalError> {
    let out = command.output().map_err(io(format!("running {what}")))?;
    if out.status.success() {
        return Ok(());
    }
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    Err(LocalError::Command {
        what: what.into(),
        detail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}

/// Where a workspace keeps its local stack: `<root>/.riv` (git-ignored).
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub work: PathBuf,
}

impl Paths {
    pub fn new(root: &Path) -> Self {
        Paths {
            root: root.to_path_buf(),
            work: root.join(".riv"),
        }
    }

    /// State, logs and data of the stack on `port`.
    pub fn stack_dir(&self, port: u16) -> PathBuf {
        self.work.join("local").join(port.to_string())
    }
}

/// What LocalStack runs as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case")]
pub enum LocalStackRuns {
    /// A process from the project venv. A stack started from an older venv must be restarted, and its venv must
    /// not be deleted under it.
    Host {
        process: process::Daemon,
        python: PathBuf,
    },
    /// A container of `image`.
    Container { id: String, image: String },
}

/// A running local stack, as its state file records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Running {
    pub port: u16,
    pub emulator_port: u16,
    pub emulator: process::Daemon,
    /// The emulator's engine (state files from before engines were recorded read as deterministic).
    #[serde(default = "engine::EngineSetup::deterministic")]
    pub engine: engine::EngineSetup,
    pub localstack: LocalStackRuns,
    pub dir: PathBuf,
}

impl Running {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn localstack_log(&self) -> PathBuf {
        self.dir.join("localstack.log")
    }

    pub fn emulator_log(&self) -> PathBuf {
        self.dir.join("emulator.log")
    }

    /// The processes of this stack still running (LocalStack's, on the host backend, and the emulator's).
    pub fn processes(&self) -> Vec<process::Daemon> {
        let mut all = vec![self.emulator];
        if let LocalStackRuns::Host { process, .. } = &self.localstack {
            all.push(*process);
        }
        all.into_iter().filter(process::Daemon::runs).collect()
    }

    fn state_file(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    fn save(&self) -> Result<(), LocalError> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(Self::state_file(&self.dir), text).map_err(io("writing the state file"))
    }

    /// The stack recorded in `dir`, if its state file exists (a file of an older layout reads as none).
    pub fn load(dir: &Path) -> Option<Running> {
        let text = std::fs::read_to_string(Self::state_file(dir)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// LocalStack's process or container still runs (it may not answer yet).
    pub fn runs(&self) -> bool {
        match &self.localstack {
            LocalStackRuns::Container { id, .. } => container::exited(id).is_none(),
            LocalStackRuns::Host { process, .. } => process.runs(),
        }
    }

    pub fn is_alive(&self) -> bool {
        self.runs() && http::get(self.port, "/_localstack/health").is_ok()
    }

    /// The last lines LocalStack wrote.
    pub fn localstack_tail(&self, lines: usize) -> String {
        match &self.localstack {
            LocalStackRuns::Container { id, .. } => container::logs(id, lines),
            LocalStackRuns::Host { .. } => process::tail(&self.localstack_log(), lines),
        }
    }

    /// What runs LocalStack, for people: `pid 123` or `container 0123abcd…`.
    pub fn describe(&self) -> String {
        match &self.localstack {
            LocalStackRuns::Container { id, .. } => {
                format!("container {}", &id[..id.len().min(12)])
            }
            LocalStackRuns::Host { process, .. } => format!("pid {}", process.pid),
        }
    }
}

/// Where LocalStack runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A process on this machine from the project venv (no Docker needed).
    Host,
    /// A container of this image, started with testcontainers.
    Container { image: String },
}

/// What users ask for with `--backend` / `RIV_BACKEND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    #[default]
    Host,
    Container,
    /// The container backend when a Docker daemon answers and has the image, else the host backend.
    Auto,
}

/// The environment variable the tests read the backend from.
pub const BACKEND_ENV: &str = "RIV_BACKEND";
/// The environment variable naming the LocalStack image of the container backend.
pub const IMAGE_ENV: &str = "RIV_LOCALSTACK_IMAGE";

impl std::str::FromStr for BackendChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "host" => Ok(BackendChoice::Host),
            "container" => Ok(BackendChoice::Container),
            "auto" => Ok(BackendChoice::Auto),
            other => Err(format!(
                "unknown backend {other:?}: use host, container or auto"
            )),
        }
    }
}

impl BackendChoice {
    /// `RIV_BACKEND`, host when unset.
    pub fn from_env() -> Result<Self, LocalError> {
        std::env::var(BACKEND_ENV)
            .map(|v| v.parse().map_err(LocalError::Backend))
            .unwrap_or(Ok(BackendChoice::Host))
    }

    /// The backend to use; `image` defaults to `RIV_LOCALSTACK_IMAGE`, then the image `cargo xtask image
    /// localstack` builds from this workspace.
    pub fn resolve(self, paths: &Paths, image: Option<&str>) -> Result<Backend, LocalError> {
        if self == BackendChoice::Host {
            return Ok(Backend::Host);
        }
        let image = match image
            .map(str::to_string)
            .or_else(|| std::env::var(IMAGE_ENV).ok())
        {
            Some(i) => i,
            None => image::tag(paths)?,
        };
        let container = Backend::Container {
            image: image.clone(),
        };
        match self {
            BackendChoice::Host => Ok(Backend::Host),
            BackendChoice::Auto
                if container::daemon_answers() && container::image_present(&image) =>
            {
                Ok(container)
            }
            BackendChoice::Auto => Ok(Backend::Host),
            BackendChoice::Container if !container::daemon_answers() => Err(LocalError::NoDocker),
            BackendChoice::Container if !container::image_present(&image) => {
                Err(LocalError::NoImage { image })
            }
            BackendChoice::Container => Ok(container),
        }
    }
}

/// How to start LocalStack: a `Backend` made concrete, once the host backend's venv exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// `python -m localstack.runtime.main` from the project venv.
    Host { python: PathBuf },
    /// A container of `image`.
    Container { image: String },
}

/// What to start.
#[derive(Debug, Clone)]
pub struct Options {
    pub port: u16,
    /// The `riv-lambda-runner` binary LocalStack's process executor runs functions under.
    pub runner: PathBuf,
    /// The `riv-emulator` binary.
    pub emulator: PathBuf,
    /// Its engine.
    pub engine: engine::EngineSetup,
    pub launch: Launch,
}

/// Starts the emulator and LocalStack, and waits until LocalStack reports healthy.
pub fn start(
    paths: &Paths,
    options: &Options,
    progress: &dyn Fn(&str),
) -> Result<Running, LocalError> {
    let dir = paths.stack_dir(options.port);
    if let Some(running) = Running::load(&dir) {
        if running.is_alive() {
            return Err(LocalError::AlreadyRunning {
                port: running.port,
                what: running.describe(),
            });
        }
        // A stale record: whatever it names is gone or not ours any more.
        stop(&dir)?;
    }
    if !http::port_free(options.port) {
        return Err(http::port_busy(options.port));
    }
    let _ = std::fs::remove_dir_all(dir.join("data"));
    std::fs::create_dir_all(dir.join("data")).map_err(io("creating the data directory"))?;

    let emulator_port = http::free_port().map_err(io("finding a free port for the emulator"))?;
    progress(&format!(
        "starting the Rekognition/Textract emulator on 127.0.0.1:{emulator_port}"
    ));
    let emulator_log = dir.join("emulator.log");
    let emulator = process::spawn_daemon(
        &options.emulator,
        &[
            vec![
                "serve".into(),
                "--listen".into(),
                format!("127.0.0.1:{emulator_port}"),
                // LocalStack's S3, for images sent as S3Object.
                "--s3-endpoint".into(),
                format!("http://127.0.0.1:{}", options.port),
            ],
            options.engine.args(),
        ]
        .concat(),
        &[],
        &emulator_log,
    )?;
    // The real engine loads 120 MB of dlib models before the emulator listens.
    wait_healthy(
        emulator_port,
        "/health",
        Duration::from_secs(30),
        &|| process::exit_status(&emulator),
        &|| process::tail(&emulator_log, 15),
        &emulator_log,
    )?;

    let localstack_log = dir.join("localstack.log");
    std::fs::create_dir_all(tmp_dir(&dir))
        .map_err(io("creating LocalStack's temporary directory"))?;
    let env = localstack_env(options, emulator_port, &dir);
    let launched = match &options.launch {
        Launch::Host { python } => {
            progress(&format!(
                "starting LocalStack 4.14 on 127.0.0.1:{}",
                options.port
            ));
            process::spawn_daemon(
                python,
                &["-m".into(), "localstack.runtime.main".into()],
                &env,
                &localstack_log,
            )
            .map(|process| LocalStackRuns::Host {
                process,
                python: python.clone(),
            })
        }
        Launch::Container { image } => {
            progress(&format!(
                "starting LocalStack in a container of {image} on 127.0.0.1:{}",
                options.port
            ));
            container::run(container::Spec {
                image,
                name: format!("riv-localstack-{}", options.port),
                env,
                mounts: vec![(&dir, true), (&options.runner, false)],
            })
            .map(|id| LocalStackRuns::Container {
                id,
                image: image.clone(),
            })
        }
    };
    let localstack = match launched {
        Ok(l) => l,
        Err(e) => {
            emulator.stop();
            return Err(e);
        }
    };
    let running = Running {
        port: options.port,
        emulator_port,
        emulator,
        engine: options.engine.clone(),
        localstack,
        dir: dir.clone(),
    };
    running.save()?;
    let exited = || match &running.localstack {
        LocalStackRuns::Container { id, .. } => container::exited(id),
        LocalStackRuns::Host { process, .. } => process::exit_status(process),
    };
    if let Err(e) = wait_healthy(
        options.port,
        "/_localstack/health",
        START_TIMEOUT,
        &exited,
        &|| running.localstack_tail(15),
        &localstack_log,
    ) {
        let _ = stop(&dir);
        return Err(e);
    }
    Ok(running)
}

/// LocalStack's temporary directory (function code it unzips, among others), removed by [`stop`].
fn tmp_dir(dir: &Path) -> PathBuf {
    dir.join("tmp")
}

/// LocalStack's environment: host mode, offline, our providers and executor (see localstack/extension).
pub fn localstack_env(options: &Options, emulator_port: u16, dir: &Path) -> Vec<(String, String)> {
    let pairs = [
        ("GATEWAY_LISTEN", format!("127.0.0.1:{}", options.port)),
        ("OVERRIDE_IN_DOCKER", "0".into()),
        ("DISABLE_EVENTS", "1".into()),
        ("FILESYSTEM_ROOT", dir.join("data").display().to_string()),
        ("PROVIDER_OVERRIDE_DYNAMODB", "moto".into()),
        ("PROVIDER_OVERRIDE_REKOGNITION", "riv".into()),
        ("PROVIDER_OVERRIDE_TEXTRACT", "riv".into()),
        (
            "RIV_EMULATOR_URL",
            format!("http://127.0.0.1:{emulator_port}"),
        ),
        ("LAMBDA_RUNTIME_EXECUTOR", "process".into()),
        ("RIV_LAMBDA_RUNNER", options.runner.display().to_string()),
        // Keep LocalStack's own outbound attempts (certificates, DNS, catalog, analytics) on loopback.
        ("SKIP_SSL_CERT_DOWNLOAD", "1".into()),
        ("DNS_ADDRESS", "0".into()),
        ("API_ENDPOINT", "http://127.0.0.1:9/v1".into()),
        ("ANALYTICS_API", "http://127.0.0.1:9/v1".into()),
        ("LAMBDA_KEEPALIVE_MS", "600000".into()),
        // Every function reserves concurrency (`FunctionConcurrency`), and one LocalStack account holds the
        // local stack, the bench's and the e2e suite's variants at once: AWS's default 1,000 would refuse the
        // fourth stack, so the local account gets room for all of them.
        ("LAMBDA_LIMITS_CONCURRENT_EXECUTIONS", "100000".into()),
        // LocalStack unzips every function version's code under the temporary directory and leaves it when the
        // process stops: in /tmp that grew by gigabytes a day. Here it goes with `local down`.
        ("TMPDIR", tmp_dir(dir).display().to_string()),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn wait_healthy(
    port: u16,
    path: &str,
    timeout: Duration,
    exited: &dyn Fn() -> Option<String>,
    tail: &dyn Fn() -> String,
    log: &Path,
) -> Result<(), LocalError> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if let Some(status) = exited() {
            return Err(LocalError::Exited {
                status,
                log: log.display().to_string(),
                tail: tail(),
            });
        }
        if matches!(http::get(port, path), Ok((200, _))) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(LocalError::NotHealthy {
        seconds: timeout.as_secs(),
        log: log.display().to_string(),
    })
}

/// Every live stack of this workspace, whatever its port.
pub fn live_stacks(paths: &Paths) -> Vec<Running> {
    std::fs::read_dir(paths.work.join("local"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Running::load(&e.path()))
        .filter(Running::runs)
        .collect()
}

/// What `stop` did.
#[derive(Debug, Default, PartialEq)]
pub struct Stopped {
    pub processes: Vec<u32>,
    pub container: Option<String>,
}

/// Stops exactly the processes the state file in `dir` names (and their process groups), then forgets them.
/// A recorded pid is signalled only while it is still the process we started (same start time): after a
/// reboot or a crash the pid may belong to anyone.
pub fn stop(dir: &Path) -> Result<Stopped, LocalError> {
    let Some(running) = Running::load(dir) else {
        return Ok(Stopped::default());
    };
    let mut stopped = Stopped::default();
    if let LocalStackRuns::Container { id, .. } = &running.localstack {
        stopped.container = container::remove(id).then(|| id.clone());
    }
    for daemon in running.processes() {
        if daemon.stop() {
            stopped.processes.push(daemon.pid);
        }
    }
    std::fs::remove_file(Running::state_file(dir)).map_err(io("removing the state file"))?;
    match std::fs::remove_dir_all(tmp_dir(dir)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(io("removing LocalStack's temporary directory")(e))
        }
        _ => {}
    }
    Ok(stopped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_parse_from_their_names_and_refuse_others() {
        assert_eq!("host".parse(), Ok(BackendChoice::Host));
        assert_eq!("container".parse(), Ok(BackendChoice::Container));
        assert_eq!("auto".parse(), Ok(BackendChoice::Auto));
        let err = "docker".parse::<BackendChoice>().unwrap_err();
        assert!(err.contains("host, container or auto"), "{err}");
    }

    #[test]
    fn the_host_backend_needs_no_docker() {
        let paths = Paths::new(Path::new("/nonexistent"));
        assert_eq!(
            BackendChoice::Host.resolve(&paths, None).unwrap(),
            Backend::Host
        );
    }
}
