//! The whole local stack in one call: venv, emulator and LocalStack, function artifacts, and the stack deployed
//! into it — what `cargo xtask local up` runs and the end-to-end tests start once per run.

use crate::engine::EngineSetup;
use crate::{Backend, BackendChoice, Launch, LocalError, LocalStackRuns, Options, Paths, Running};
use riv_deploy::build::{self, BuildError};
use riv_deploy::stack::{DeployError, Deployed};
use riv_deploy::{Approval, Release, Target};
use riv_emulator::engine::EngineChoice;
use riv_infra::names::output;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Why the local stack could not come up.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    #[error(transparent)]
    Local(#[from] LocalError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("deploying the stack")]
    Deploy(#[from] DeployError),
    #[error("the parameters: {0}")]
    Parameters(#[from] riv_infra::stack::ParamError),
    #[error(
        "the stack has no {} or {} output",
        output::API_ID,
        output::API_STAGE_NAME
    )]
    NoApi,
}

/// The region the local stack deploys into unless told otherwise.
pub const REGION: &str = "us-east-1";

#[derive(Debug, Clone)]
pub struct UpOptions {
    pub port: u16,
    pub stack: String,
    pub region: String,
    /// Extra stack parameters (`FaceMatchThreshold`, `IdExtraction`, …).
    pub parameters: BTreeMap<String, String>,
    /// Where LocalStack runs.
    pub backend: BackendChoice,
    /// The container backend's image (default: `RIV_LOCALSTACK_IMAGE`, then the image built from this workspace).
    pub image: Option<String>,
    /// The emulator's engine (default: `RIV_ENGINE`, else auto).
    pub engine: EngineChoice,
}

/// Names the emulator's engine for `local up` and the tests: auto, real or deterministic.
pub const ENGINE_ENV: &str = "RIV_ENGINE";

/// `RIV_ENGINE`'s engine, auto when unset.
pub fn engine_from_env() -> Result<EngineChoice, LocalError> {
    match std::env::var(ENGINE_ENV) {
        Ok(v) => v.parse().map_err(|e: String| LocalError::Command {
            what: ENGINE_ENV.into(),
            detail: e,
        }),
        Err(_) => Ok(EngineChoice::Auto),
    }
}

impl UpOptions {
    /// Defaults for a stack on `port`: the default stack name and region, `RIV_BACKEND`'s backend.
    pub fn on_port(port: u16, stack: &str) -> Result<UpOptions, LocalError> {
        Ok(UpOptions {
            port,
            stack: stack.to_string(),
            region: REGION.to_string(),
            parameters: BTreeMap::new(),
            backend: BackendChoice::from_env()?,
            image: None,
            engine: engine_from_env()?,
        })
    }
}

/// A deployed local stack and how long each phase took.
#[derive(Debug, Clone)]
pub struct Up {
    pub running: Running,
    pub deployed: Deployed,
    pub api_url: String,
    pub phases: Vec<(String, Duration)>,
}

impl Up {
    pub fn output(&self, key: &str) -> Option<&str> {
        self.deployed.outputs.get(key).map(String::as_str)
    }
}

/// The API's base URL on LocalStack (`…/restapis/<id>/<stage>/_user_request_`).
pub fn api_url(endpoint: &str, outputs: &BTreeMap<String, String>) -> Option<String> {
    Some(format!(
        "{}/restapis/{}/{}/_user_request_",
        endpoint.trim_end_matches('/'),
        outputs.get(output::API_ID)?,
        outputs.get(output::API_STAGE_NAME)?
    ))
}

/// The web portal of the stack whose API is at `api_url` (its `PortalUrl` on LocalStack).
pub fn portal_url(api_url: &str) -> String {
    format!(
        "{}/{}/{}",
        api_url.trim_end_matches('/'),
        riv_infra::portal::PATH,
        riv_infra::portal::INDEX
    )
}

/// Starts what is not running yet, then builds, uploads and deploys. Re-running with nothing changed leaves the
/// stack as it was and is quick.
pub async fn up(
    root: &Path,
    options: &UpOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Up, UpError> {
    let paths = Paths::new(root);
    let mut phases = Vec::new();
    // Before any build: a port another program holds is a seconds-long answer, not a minutes-long one.
    let ours = Running::load(&paths.stack_dir(options.port)).is_some_and(|r| r.is_alive());
    if !ours && !crate::http::port_free(options.port) {
        return Err(crate::http::port_busy(options.port).into());
    }
    let backend = options.backend.resolve(&paths, options.image.as_deref())?;
    // The venv is pip's work (downloads and unpacking), the rest cargo's: on a fresh clone they go side by side
    // (the venv took 34 s there, the builds about as long).
    let (launch, built) = match backend {
        Backend::Host => std::thread::scope(|scope| {
            let venv = scope.spawn(|| {
                let t = Instant::now();
                crate::venv::ensure(&paths, progress).map(|python| (python, t.elapsed()))
            });
            let built = build_all(root, options, progress);
            let venv = venv.join().unwrap_or_else(|_| {
                Err(LocalError::Command {
                    what: "creating the LocalStack venv".into(),
                    detail: "its thread panicked".into(),
                })
            });
            (
                venv.map(|(python, took)| {
                    phases.push(("venv".to_string(), took));
                    Launch::Host { python }
                }),
                built,
            )
        }),
        // The container brings its own LocalStack; only the host backend needs the venv.
        Backend::Container { image } => (
            Ok(Launch::Container { image }),
            build_all(root, options, progress),
        ),
    };
    let launch = launch?;
    let tools = build::host_tools_dir(root);
    let Built {
        engine,
        manifest,
        took,
    } = built?;
    phases.extend(took);
    let mut phase =
        |name: &str, started: Instant| phases.push((name.to_string(), started.elapsed()));

    let t = Instant::now();
    let dir = paths.stack_dir(options.port);
    let same_launch = |r: &Running| match (&launch, &r.localstack) {
        (Launch::Host { python }, LocalStackRuns::Host { python: p, .. }) => p == python,
        (Launch::Container { image }, LocalStackRuns::Container { image: i, .. }) => i == image,
        _ => false,
    };
    let running = match Running::load(&dir) {
        Some(r) if r.is_alive() && same_launch(&r) && r.engine == engine => {
            progress(&format!(
                "LocalStack already runs on 127.0.0.1:{} ({})",
                r.port,
                r.describe()
            ));
            r
        }
        found => {
            if found.is_some_and(|r| r.is_alive()) {
                progress("LocalStack runs from another venv or image, or with another engine (requirements, extension, backend or --engine changed): restarting it");
                crate::stop(&dir)?;
            }
            let opts = Options {
                port: options.port,
                runner: tools.join(RUNNER),
                emulator: tools.join(EMULATOR),
                engine: engine.clone(),
                launch: launch.clone(),
            };
            crate::start(&paths, &opts, progress)?
        }
    };
    phase("start", t);

    let t = Instant::now();
    let target = Target::local(&running.endpoint(), &options.region).await;
    let deployed = deploy(
        &target,
        &options.stack,
        &manifest,
        &options.parameters,
        progress,
    )
    .await?;
    phase("deploy", t);

    let api_url = api_url(&running.endpoint(), &deployed.outputs).ok_or(UpError::NoApi)?;
    Ok(Up {
        running,
        deployed,
        api_url,
        phases,
    })
}

/// The Lambda runner's and the emulator's packages and binaries.
const RUNNER: &str = "riv-lambda-runner";
const EMULATOR: &str = "riv-emulator";

/// What `up` compiles before anything starts.
struct Built {
    engine: EngineSetup,
    manifest: build::Manifest,
    took: Vec<(String, Duration)>,
}

fn build_all(root: &Path, options: &UpOptions, progress: &dyn Fn(&str)) -> Result<Built, UpError> {
    let t = Instant::now();
    let mut engine = crate::engine::prepare_unbuilt(root, options.engine, progress)?;
    let helpers = t.elapsed();
    let t = Instant::now();
    let mut tools = vec![RUNNER, EMULATOR];
    if engine.real.is_some() {
        tools.push(crate::engine::FACE_WORKER);
    }
    progress(&format!(
        "building {} beside the bootstrap",
        tools.join(", ")
    ));
    let manifest = match build::build_local(root, &tools, progress) {
        Ok(manifest) => manifest,
        // As `engine::prepare` does: `auto` goes on without a face worker that does not build.
        Err(e) if engine.real.is_some() => {
            let why = format!("building riv-face-engine failed: {e}");
            engine = crate::engine::without_real(options.engine, why, progress)?;
            build::build_local(root, &[RUNNER, EMULATOR], progress)?
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Built {
        engine,
        manifest,
        took: vec![("helpers".into(), helpers), ("build".into(), t.elapsed())],
    })
}

/// Deploys the local stack's template (the test hooks included) through the one deploy path, approved without
/// asking: the local stack is disposable.
pub async fn deploy(
    target: &Target,
    stack_name: &str,
    manifest: &build::Manifest,
    parameters: &BTreeMap<String, String>,
    progress: &dyn Fn(&str),
) -> Result<Deployed, UpError> {
    let flavor = riv_infra::stack::Flavor::Local;
    deploy_flavor(target, stack_name, flavor, manifest, parameters, progress).await
}

/// [`deploy`] of another LocalStack flavor (the bench stack's, with its floor route).
pub async fn deploy_flavor(
    target: &Target,
    stack_name: &str,
    flavor: riv_infra::stack::Flavor,
    manifest: &build::Manifest,
    parameters: &BTreeMap<String, String>,
    progress: &dyn Fn(&str),
) -> Result<Deployed, UpError> {
    let mut template = riv_infra::stack::template(flavor);
    // Checked here, before anything is uploaded: an unknown or out-of-range parameter names its rule.
    let pairs: Vec<String> = parameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
    riv_infra::stack::set_defaults(&mut template, &pairs)?;
    // Passed as values too, after the code's: a caller may point a parameter elsewhere on purpose (the failing
    // deploy test names an artifact bucket that does not exist).
    let release = Release {
        template: &template,
        manifest,
        parameters,
    };
    Ok(riv_deploy::deploy(
        target,
        stack_name,
        &release,
        Approval::Auto,
        progress,
        &|_| {},
    )
    .await?)
}
