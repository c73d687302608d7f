//! Shared by the end-to-end tests: one local stack per test run (started with the same code as
//! `cargo xtask local up`, or reused from `RIV_ENDPOINT_URL`), SDK clients for it, and HTTP calls to its API.

use base64::Engine as _;
use riv_infra::stack::Flavor;
use riv_launcher::up::{self as stack_local, UpOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub mod abuse;
pub mod bench;
pub mod catalog;
pub mod encryption;
pub mod engine_bench;
pub mod events;
pub mod faults;
pub mod integrity;
pub mod malformed;
pub mod portal;
pub mod real_photos;
pub mod runner;
pub mod scenarios;
pub mod state;
pub mod teardown_bench;
pub mod uploads;

/// What the tests need to know about the stack under test.
#[derive(Debug, Clone)]
pub struct Stack {
    pub endpoint: String,
    pub region: String,
    pub name: String,
    pub api_url: String,
    pub outputs: BTreeMap<String, String>,
    /// The Rekognition/Textract emulator behind this LocalStack, when it is known (see [`Stack::emulator_calls`]).
    pub emulator_url: Option<String>,
}

/// The emulator of the local stack on `endpoint`, read from the state file `local up` wrote for its port;
/// `None` for an endpoint this workspace did not start (a scenario that needs it then says so).
fn emulator_of(endpoint: &str) -> Option<String> {
    let port = endpoint.rsplit(':').next()?.trim_end_matches('/');
    let port: u16 = match port.parse() {
        Ok(port) => port,
        Err(_) => return None,
    };
    let running =
        riv_launcher::Running::load(&riv_launcher::Paths::new(&workspace_root()).stack_dir(port))?;
    Some(format!("http://127.0.0.1:{}", running.emulator_port))
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// The stack directory a run started, stopped when the test process exits.
static STARTED: Mutex<Option<PathBuf>> = Mutex::new(None);

extern "C" fn stop_started() {
    let started = match STARTED.lock() {
        Ok(mut dir) => dir.take(),
        Err(poisoned) => poisoned.into_inner().take(),
    };
    if let Some(dir) = started {
        if let Err(e) = riv_launcher::stop(&dir) {
            eprintln!("could not stop the test stack in {}: {e}", dir.display());
        }
    }
}

/// How the suite finds its stack: set once, by `configure` (what `cargo xtask e2e` does with its flags) or from
/// the environment on first use (`RIV_ENDPOINT_URL`, `RIV_STACK`, `RIV_BACKEND`, `RIV_LOCALSTACK_IMAGE`, for
/// `cargo test`).
#[derive(Debug, Clone)]
pub struct Config {
    /// The stack's name: the one to start, or the one to find at `endpoint`.
    pub stack: String,
    /// Use the stack already deployed on this LocalStack instead of starting one.
    pub endpoint: Option<String>,
    pub backend: riv_launcher::BackendChoice,
    /// The container backend's image (default: `RIV_LOCALSTACK_IMAGE`, then the workspace's image).
    pub image: Option<String>,
    /// The emulator's engine for a stack the suite starts (default: `RIV_ENGINE`, else auto).
    pub engine: riv_emulator::engine::EngineChoice,
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        let endpoint =
            std::env::var_os("RIV_ENDPOINT_URL").map(|v| v.to_string_lossy().into_owned());
        let default_stack = match endpoint {
            Some(_) => riv_infra::names::DEFAULT_STACK_NAME,
            None => "Riv-E2E",
        };
        Ok(Config {
            stack: std::env::var("RIV_STACK").unwrap_or_else(|_| default_stack.into()),
            endpoint,
            backend: riv_launcher::BackendChoice::from_env().map_err(|e| chain(&e))?,
            image: std::env::var_os(riv_launcher::IMAGE_ENV)
                .map(|v| v.to_string_lossy().into_owned()),
            engine: riv_launcher::up::engine_from_env().map_err(|e| chain(&e))?,
        })
    }
}

static CONFIG: OnceLock<Result<Config, String>> = OnceLock::new();

/// Sets the suite's configuration; only before the stack is first used.
pub fn configure(config: Config) -> Result<(), String> {
    CONFIG
        .set(Ok(config))
        .map_err(|_| "the end-to-end suite is configured already".to_string())
}

/// The engine the suite asks for.
pub fn engine() -> Result<riv_emulator::engine::EngineChoice, String> {
    config().map(|c| c.engine)
}

fn config() -> Result<&'static Config, String> {
    CONFIG
        .get_or_init(Config::from_env)
        .as_ref()
        .map_err(Clone::clone)
}

/// The stack under test, started on first use (on a free port, so runs never collide) and stopped at exit; a
/// stack that cannot start fails the scenario asking for it (see [`try_stack`] for the error instead).
pub fn stack() -> &'static Stack {
    match try_stack() {
        Ok(stack) => stack,
        Err(e) => panic!("{e}"),
    }
}

/// [`stack`], or why it is not available (no Docker daemon, a busy port, no Python 3.13 …).
pub fn try_stack() -> Result<&'static Stack, String> {
    static STACK: OnceLock<Result<Stack, String>> = OnceLock::new();
    let result = STACK.get_or_init(|| {
        // Its own thread and runtime: the tests' runtimes come and go, the stack stays.
        std::thread::spawn(start_or_reuse)
            .join()
            .unwrap_or_else(|_| Err("starting the stack panicked".into()))
    });
    result
        .as_ref()
        .map_err(|e| format!("the local stack is not available: {e}"))
}

/// An error with every cause under it, as one line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text += &format!(": {cause}");
        source = cause.source();
    }
    text
}

fn start_or_reuse() -> Result<Stack, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let config = config()?;
    let name = config.stack.clone();
    let region = stack_local::REGION.to_string();
    if let Some(endpoint) = config.endpoint.clone() {
        let target = runtime.block_on(riv_deploy::Target::local(&endpoint, &region));
        let outputs = runtime
            .block_on(riv_deploy::stack::outputs(&target, &name))
            .map_err(|e| format!("RIV_ENDPOINT_URL={endpoint} has no stack {name}: {e}"))?;
        let api_url =
            stack_local::api_url(&endpoint, &outputs).ok_or("the stack has no ApiId output")?;
        return Ok(Stack {
            emulator_url: emulator_of(&endpoint),
            endpoint,
            region,
            name,
            api_url,
            outputs,
        });
    }
    let port = riv_launcher::http::free_port().map_err(|e| e.to_string())?;
    let options = UpOptions {
        backend: config.backend,
        image: config.image.clone(),
        engine: config.engine,
        ..UpOptions::on_port(port, &name).map_err(|e| chain(&e))?
    };
    let root = workspace_root();
    *STARTED.lock().map_err(|e| e.to_string())? =
        Some(riv_launcher::Paths::new(&root).stack_dir(port));
    // SAFETY: registers a plain extern "C" function to run at process exit.
    unsafe {
        libc::atexit(stop_started);
    }
    let up = runtime
        .block_on(stack_local::up(&root, &options, &|m| eprintln!("==> {m}")))
        .map_err(|e| chain(&e))?;
    Ok(Stack {
        endpoint: up.running.endpoint(),
        region,
        name,
        api_url: up.api_url,
        outputs: up.deployed.outputs,
        emulator_url: Some(format!("http://127.0.0.1:{}", up.running.emulator_port)),
    })
}

/// A second stack beside the main one in the same LocalStack, with other parameters (deployed on first use).
/// Different variants deploy at the same time; a second caller of one variant waits for its deploy.
pub fn variant(name: &str, parameters: &[(&str, &str)]) -> &'static Stack {
    variant_of(name, Flavor::Local, parameters)
}

/// [`variant`] from another LocalStack template flavor.
pub fn variant_of(name: &str, flavor: Flavor, parameters: &[(&str, &str)]) -> &'static Stack {
    type Cell = &'static OnceLock<Result<Stack, String>>;
    static VARIANTS: Mutex<BTreeMap<String, Cell>> = Mutex::new(BTreeMap::new());
    let base = stack();
    let cell: Cell = *VARIANTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name.to_string())
        .or_insert_with(|| Box::leak(Box::new(OnceLock::new())));
    let deployed = cell.get_or_init(|| {
        let params: BTreeMap<String, String> = parameters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (endpoint, region, stack_name) =
            (base.endpoint.clone(), base.region.clone(), name.to_string());
        std::thread::spawn(move || deploy_variant(endpoint, region, stack_name, flavor, params))
            .join()
            .unwrap_or_else(|_| Err("deploying the variant panicked".into()))
    });
    match deployed {
        Ok(stack) => stack,
        Err(e) => panic!("variant stack {name}: {e}"),
    }
}

fn deploy_variant(
    endpoint: String,
    region: String,
    stack_name: String,
    flavor: Flavor,
    params: BTreeMap<String, String>,
) -> Result<Stack, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let root = workspace_root();
    let manifest = match riv_deploy::build::Manifest::load(&root) {
        Some(m) => m,
        None => riv_deploy::build::build(
            &root,
            riv_deploy::build::Arch::X86_64,
            riv_deploy::build::Profile::Local,
            &|m| eprintln!("==> {m}"),
        )
        .map_err(|e| e.to_string())?,
    };
    let target = runtime.block_on(riv_deploy::Target::local(&endpoint, &region));
    let deployed = runtime
        .block_on(stack_local::deploy_flavor(
            &target,
            &stack_name,
            flavor,
            &manifest,
            &params,
            &|m| eprintln!("==> {m}"),
        ))
        .map_err(|e| chain(&e))?;
    let api_url = stack_local::api_url(&endpoint, &deployed.outputs).ok_or("no ApiId output")?;
    Ok(Stack {
        emulator_url: emulator_of(&endpoint),
        endpoint,
        region,
        name: stack_name,
        api_url,
        outputs: deployed.outputs,
    })
}

impl Stack {
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        riv_deploy::Target::local(&self.endpoint, &self.region)
            .await
            .config
    }

    /// A stack output; a missing one is an error naming it, never an empty string that reads as "nothing".
    pub fn output(&self, key: &str) -> Result<&str, String> {
        self.outputs
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("stack {} has no output {key}", self.name))
    }

    /// The stack's Rekognition collections (its `Collections` output).
    pub fn collections(&self) -> Result<Vec<&str>, String> {
        Ok(self
            .output(riv_infra::names::output::COLLECTIONS)?
            .split(',')
            .filter(|c| !c.is_empty())
            .collect())
    }

    pub fn function_name(&self, function: &str) -> String {
        format!("{}-{function}", self.name)
    }

    /// `POST <api>/<route>` with a JSON body → (status, JSON body).
    pub async fn post(&self, route: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        post_json(&format!("{}/{route}", self.api_url), body).await
    }

    /// `POST <api>/<route>` with an `x-api-key` header, when given → (status, JSON body).
    pub async fn post_with_key(
        &self,
        route: &str,
        body: &serde_json::Value,
        key: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let headers: Vec<(&str, &str)> = key.map(|k| ("x-api-key", k)).into_iter().collect();
        let (status, bytes) =
            post_bytes_with(&format!("{}/{route}", self.api_url), body, &headers).await;
        (status, json_or_raw(&bytes))
    }

    /// The value of the stack's API key (output `ApiKeyId`), read from LocalStack's API Gateway. Test-only: the
    /// call is unsigned (LocalStack routes on the credential scope and checks no signature).
    pub async fn api_key_value(&self) -> Result<String, String> {
        let id = self.output(riv_infra::names::output::API_KEY_ID)?;
        let url = format!("{}/apikeys/{id}?includeValue=true", self.endpoint);
        let scope = format!(
            "AWS4-HMAC-SHA256 Credential=test/20260101/{}/apigateway/aws4_request, SignedHeaders=host, Signature=0",
            self.region
        );
        let key = get_json(&url, &[("authorization", &scope)]).await?;
        key["value"]
            .as_str()
            .map(str::to_string)
            .ok_or(format!("GET {url}: no value in {key}"))
    }

    /// `POST <api>/<route>` → (status, the body's very bytes, how long the answer took).
    pub async fn post_raw(
        &self,
        route: &str,
        body: &serde_json::Value,
    ) -> (u16, Vec<u8>, std::time::Duration) {
        let started = std::time::Instant::now();
        let (status, bytes) = post_bytes(&format!("{}/{route}", self.api_url), body).await;
        (status, bytes, started.elapsed())
    }

    /// The emulator's log of recent calls: (operation, SHA-256 of each image sent).
    pub async fn emulator_calls(&self) -> Result<Vec<(String, Vec<String>)>, String> {
        let url = self.emulator_url.as_deref().ok_or(format!(
            "the emulator of {} is unknown: start the stack with `cargo xtask local up`",
            self.endpoint
        ))?;
        let log = get_json(&format!("{url}/_riv/calls"), &[]).await?;
        let calls = log
            .as_array()
            .ok_or(format!("the emulator's call log is not a list: {log}"))?;
        calls
            .iter()
            .map(|c| {
                let target = c["Target"]
                    .as_str()
                    .ok_or(format!("a call without Target: {c}"))?;
                let images = c["Images"]
                    .as_array()
                    .ok_or(format!("a call without Images: {c}"))?
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .ok_or(format!("bad digest in {c}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((target.to_string(), images))
            })
            .collect()
    }
}

impl Stack {
    /// A request to the emulator's control paths (`/_riv/faults`, `/_riv/liveness/…`); a non-2xx answer is an
    /// error with its body.
    pub async fn emulator_control(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, String> {
        let base = self.emulator_url.as_deref().ok_or(format!(
            "the emulator of {} is unknown: start the stack with `cargo xtask local up`",
            self.endpoint
        ))?;
        json_request(method, &format!("{base}{path}"), &[], body).await
    }
}

/// `GET url` → its JSON body; any failure, a non-2xx status included, is an error naming the URL.
async fn get_json(url: &str, headers: &[(&str, &str)]) -> Result<serde_json::Value, String> {
    json_request("GET", url, headers, None).await
}

/// `method url` with an optional JSON body → the answer's JSON body; any failure, a non-2xx status included, is
/// an error naming the request.
async fn json_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> Result<serde_json::Value, String> {
    use http_body_util::{BodyExt, Full};
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(b) => bytes::Bytes::from(b.to_string()),
        None => bytes::Bytes::new(),
    };
    let request = request
        .header("content-type", "application/json")
        .body(Full::new(body))
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let response = client
        .request(request)
        .await
        .map_err(|e| format!("{method} {url}: {e}"))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{method} {url}: reading the answer: {e}"))?
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    if !status.is_success() {
        return Err(format!("{method} {url}: {status} {text}"));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("{method} {url}: not JSON ({e}): {text}"))
}

/// Lowercase hex SHA-256, as the emulator's call log names images.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub async fn post_json(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let (status, bytes) = post_bytes(url, body).await;
    (status, json_or_raw(&bytes))
}

fn json_or_raw(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| serde_json::json!({"raw": String::from_utf8_lossy(bytes)}))
}

async fn post_bytes(url: &str, body: &serde_json::Value) -> (u16, Vec<u8>) {
    post_bytes_with(url, body, &[]).await
}

async fn post_bytes_with(
    url: &str,
    body: &serde_json::Value,
    headers: &[(&str, &str)],
) -> (u16, Vec<u8>) {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    send("POST", url, &all, body.to_string().into_bytes()).await
}

/// One HTTP/1 request to a loopback URL; the status and body of the answer.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let (status, _, body) = exchange(method, url, headers, body).await;
    (status, body)
}

/// `GET url`: the status, the headers (names in lower case) and the body.
pub async fn get(url: &str) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    exchange("GET", url, &[], Vec::new()).await
}

/// One HTTP/1 request to a loopback URL; the status, headers and body of the answer.
async fn exchange(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(bytes::Bytes::from(body)))
        .unwrap_or_else(|e| panic!("{method} {url}: not a valid request: {e}"));
    let response = client
        .request(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let answered: BTreeMap<String, String> = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_else(|e| panic!("{method} {url}: reading the answer: {e}"));
    (status, answered, bytes.to_vec())
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub use riv_emulator::testimage::Case;

/// A generated JPEG photo of `identity` for a test case.
pub fn photo_bytes(case: Case, identity: &str) -> Vec<u8> {
    use riv_emulator::testimage::{self, Format};
    testimage::render(&testimage::case(case, identity), Format::Jpeg)
}

/// A generated photo of `identity` for a test case, base64.
pub fn photo(case: Case, identity: &str) -> String {
    b64(&photo_bytes(case, identity))
}

/// A valid selfie of `identity` of about 280 KB: under the model's 5 MiB, but base64 in a Step Functions input it
/// is over the 262,144 bytes StartSyncExecution takes.
pub fn photo_over_256_kib(identity: &str) -> String {
    b64(&riv_emulator::testimage::padded_png(
        &riv_emulator::testimage::case(Case::Selfie, identity),
        280 * 1024,
    ))
}

/// A UserId no other test (or earlier run against the same stack) uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .expect("the clock is after 1970");
    format!(
        "{prefix}-{}-{}",
        nanos % 1_000_000_000,
        N.fetch_add(1, Ordering::SeqCst)
    )
}
