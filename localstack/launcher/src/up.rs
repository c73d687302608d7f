//! The whole local stack in one call: venv, emulator and LocalStack, function artifacts, and the stack deployed
//! into it — what `cargo xtask local up` runs and the end-to-end tests start once per run.

use crate::build::{self, Arch};
use crate::stack::{self, Deployed};
use crate::Target;
use riv_local::{Backend, BackendChoice, Options, Paths, Running};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

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
}

impl UpOptions {
    /// Defaults for a stack on `port`: the default stack name and region, `RIV_BACKEND`'s backend.
    pub fn on_port(port: u16, stack: &str) -> Result<UpOptions, String> {
        Ok(UpOptions {
            port,
            stack: stack.to_string(),
            region: REGION.to_string(),
            parameters: BTreeMap::new(),
            backend: BackendChoice::from_env()?,
            image: None,
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
        outputs.get("ApiId")?,
        outputs.get("ApiStageName")?
    ))
}

/// Builds the runner and emulator binaries (release: the runner's overhead is on every invocation).
fn build_helpers(root: &Path) -> Result<(), String> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--package",
            "riv-runner",
            "--package",
            "riv-emulator",
        ])
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("cargo build of riv-runner and riv-emulator failed (output above)".into())
    }
}

/// Starts what is not running yet, then builds, uploads and deploys. Re-running with nothing changed leaves the
/// stack as it was and is quick.
pub async fn up(root: &Path, options: &UpOptions, progress: &dyn Fn(&str)) -> Result<Up, String> {
    let paths = Paths::new(root);
    let mut phases = Vec::new();
    let mut phase =
        |name: &str, started: Instant| phases.push((name.to_string(), started.elapsed()));

    let backend = options
        .backend
        .resolve(&paths, options.image.as_deref())
        .map_err(|e| e.to_string())?;
    let t = Instant::now();
    // The container brings its own LocalStack; only the host backend needs the venv.
    let python = match backend {
        Backend::Host => riv_local::venv::ensure(&paths, progress).map_err(|e| e.to_string())?,
        Backend::Container { .. } => Default::default(),
    };
    phase("venv", t);

    let t = Instant::now();
    progress("building the Lambda runner and the emulator");
    build_helpers(root)?;
    phase("helpers", t);

    let t = Instant::now();
    let dir = paths.stack_dir(options.port);
    let same_launch = |r: &Running| match &backend {
        Backend::Host => r.container.is_none() && r.python == python,
        Backend::Container { image } => r.image.as_ref() == Some(image),
    };
    let running = match Running::load(&dir) {
        Some(r) if r.is_alive() && same_launch(&r) => {
            progress(&format!(
                "LocalStack already runs on 127.0.0.1:{} ({})",
                r.port,
                r.describe()
            ));
            r
        }
        found => {
            if found.is_some_and(|r| r.is_alive()) {
                progress("LocalStack runs from another venv or image (requirements, extension or backend changed): restarting it");
                riv_local::stop(&dir).map_err(|e| e.to_string())?;
            }
            let release = root.join("target/release");
            let opts = Options {
                port: options.port,
                runner: release.join("riv-lambda-runner"),
                emulator: release.join("riv-emulator"),
                backend,
            };
            riv_local::start(&paths, &python, &opts, progress).map_err(|e| e.to_string())?
        }
    };
    phase("start", t);

    let t = Instant::now();
    let manifest = build::build(root, Arch::X86_64, true, progress).map_err(|e| e.to_string())?;
    phase("build", t);

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

    let api_url = api_url(&running.endpoint(), &deployed.outputs)
        .ok_or("the stack has no ApiId/ApiStageName output")?;
    Ok(Up {
        running,
        deployed,
        api_url,
        phases,
    })
}

/// Uploads the artifacts and applies the template through a change set, approved without asking (the local
/// stack is disposable); the same path `cargo xtask deploy` takes.
pub async fn deploy(
    target: &Target,
    stack_name: &str,
    manifest: &build::Manifest,
    parameters: &BTreeMap<String, String>,
    progress: &dyn Fn(&str),
) -> Result<Deployed, String> {
    let bucket = stack::artifact_bucket(target)
        .await
        .map_err(|e| e.to_string())?;
    let keys = stack::upload_artifacts(target, &bucket, manifest, progress)
        .await
        .map_err(|e| e.to_string())?;
    let mut params = stack::code_parameters(&bucket, &keys);
    params.insert(
        riv_infra::stack::param::ARCHITECTURE.into(),
        manifest.arch.lambda_name().into(),
    );
    params.extend(parameters.clone());
    let yaml = riv_infra::synth_yaml().map_err(|e| format!("rendering the template: {e}"))?;
    let url = stack::upload_template(target, &bucket, stack_name, &yaml)
        .await
        .map_err(|e| e.to_string())?;
    match crate::changeset::plan(target, stack_name, &url, &params)
        .await
        .map_err(|e| e.to_string())?
    {
        None => {
            progress(&format!("{stack_name}: no changes"));
            let outputs = stack::outputs(target, stack_name)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Deployed {
                stack: stack_name.into(),
                changed: false,
                status: "UNCHANGED".into(),
                outputs,
            })
        }
        Some(plan) => {
            progress(&format!(
                "{stack_name}: applying {} resource changes",
                plan.changes.len()
            ));
            crate::changeset::execute(target, &plan, &|_| {})
                .await
                .map_err(|e| e.to_string())
        }
    }
}
