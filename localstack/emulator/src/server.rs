//! The HTTP front: AWS JSON 1.1 on `POST /` dispatched by `X-Amz-Target`, plus `GET /health` and the control
//! paths a test uses:
//! - `GET /_riv/calls`: the log of recent calls (operation and the SHA-256 of each image sent), which lets a test
//!   prove a paid call was never made for its image;
//! - `GET|POST|DELETE /_riv/faults`: the faults in force (`crate::faults`);
//! - `POST /_riv/liveness/<SessionId>`: a Face Liveness session's outcome (`crate::rekognition::liveness`).

use crate::engine::Engine;
use crate::error::AwsError;
use crate::faults::{Faults, Rule};
use crate::rekognition::Rekognition;
use crate::request::Sources;
use crate::s3::S3;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// Requests larger than this are refused before they are read (Textract takes 10 MiB, base64 adds a third).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Calls kept in the log: enough for any test, bounded for a long-running stack.
const CALL_LOG_LEN: usize = 10_000;

/// One call, as the log keeps it: no image, only its digest.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Call {
    /// `X-Amz-Target`, e.g. `Textract.AnalyzeID`.
    pub target: String,
    /// Lowercase hex SHA-256 of every image in the request (each `Bytes` field, decoded).
    pub images: Vec<String>,
}

pub struct Emulator {
    pub engine: Box<dyn Engine>,
    pub rekognition: Rekognition,
    pub faults: Faults,
    s3: S3,
    calls: Mutex<VecDeque<Call>>,
}

/// The SHA-256 of every base64 `Bytes` field anywhere in a request.
fn image_digests(request: &serde_json::Value, out: &mut Vec<String>) {
    use base64::Engine as _;
    match request {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value.as_str()) {
                    ("Bytes", Some(b64)) => {
                        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) {
                            out.push(hex::encode(Sha256::digest(&bytes)));
                        }
                    }
                    _ => image_digests(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| image_digests(v, out)),
        _ => {}
    }
}

impl Emulator {
    pub fn new(engine: Box<dyn Engine>) -> Self {
        Emulator {
            engine,
            rekognition: Rekognition::default(),
            faults: Faults::default(),
            s3: S3::default(),
            calls: Mutex::new(VecDeque::new()),
        }
    }

    /// Reads `S3Object` images from this S3 (the local stack's).
    pub fn with_s3(mut self, s3: S3) -> Self {
        self.s3 = s3;
        self
    }

    /// Starts with these faults in force (`RIV_EMULATOR_FAULTS`).
    pub fn with_faults(self, rules: Vec<Rule>) -> Self {
        Emulator {
            faults: Faults::new(rules),
            ..self
        }
    }

    /// The most recent calls, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        match self.calls.lock() {
            Ok(calls) => calls.iter().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().iter().cloned().collect(),
        }
    }

    /// Logs the call; returns the digests of its images.
    fn log_call(&self, target: &str, request: &serde_json::Value) -> Vec<String> {
        let mut images = Vec::new();
        image_digests(request, &mut images);
        let mut calls = match self.calls.lock() {
            Ok(calls) => calls,
            Err(poisoned) => poisoned.into_inner(),
        };
        if calls.len() == CALL_LOG_LEN {
            calls.pop_front();
        }
        calls.push_back(Call {
            target: target.to_string(),
            images: images.clone(),
        });
        images
    }

    /// Answers one AWS JSON 1.1 call: (`X-Amz-Target`, caller's region, body) → (status, JSON body).
    pub fn dispatch(&self, target: &str, region: &str, body: &[u8]) -> (u16, serde_json::Value) {
        let request: serde_json::Value =
            match serde_json::from_slice(if body.is_empty() { b"{}" } else { body }) {
                Ok(v) => v,
                Err(e) => {
                    return error(&AwsError::new(
                        "SerializationException",
                        format!("body is not JSON: {e}"),
                    ))
                }
            };
        let images = self.log_call(target, &request);
        let result = self.answer(target, region, &request, &images);
        match result {
            Ok(v) => (200, v),
            Err(e) => error(&e),
        }
    }
}

impl Emulator {
    /// One call's answer: a fault meets it before the service looks at it (a throttled call never reaches the
    /// service), then the model's constraints are checked before the operation runs, as AWS's front end does.
    fn answer(
        &self,
        target: &str,
        region: &str,
        request: &serde_json::Value,
        images: &[String],
    ) -> Result<serde_json::Value, AwsError> {
        let (prefix, operation) = target.split_once('.').unwrap_or(("", target));
        if let Some(fault) = self.faults.draw(operation, images) {
            return Err(fault);
        }
        let service = crate::model::Service::from_target_prefix(prefix).ok_or_else(|| {
            AwsError::new(
                "UnknownOperationException",
                format!("unknown target {target:?}"),
            )
        })?;
        crate::model::validate_input(service, operation, request)?;
        let sources = Sources {
            engine: &*self.engine,
            s3: &self.s3,
        };
        match service {
            crate::model::Service::Rekognition => {
                self.rekognition.call(sources, region, operation, request)
            }
            crate::model::Service::Textract => crate::textract::call(sources, operation, request),
        }
    }
}

/// The region of a SigV4 `Authorization` header: `… Credential=<key>/<date>/<region>/<service>/aws4_request, …`.
pub fn signed_region(authorization: &str) -> Option<&str> {
    let scope = authorization.split("Credential=").nth(1)?;
    let scope = scope.split([',', ' ']).next()?;
    scope.split('/').nth(2).filter(|r| !r.is_empty())
}

fn error(e: &AwsError) -> (u16, serde_json::Value) {
    tracing::info!(kind = e.kind, message = %e.message, "request refused");
    (e.status, e.body())
}

fn respond(status: u16, body: Vec<u8>, error_type: Option<&str>) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-requestid", uuid::Uuid::new_v4().to_string());
    if let Some(kind) = error_type {
        builder = builder.header("x-amzn-errortype", kind);
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

async fn handle(
    emulator: Arc<Emulator>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if request.method() == Method::GET && request.uri().path() == "/health" {
        return Ok(respond(200, br#"{"status":"ok"}"#.to_vec(), None));
    }
    if request.method() == Method::GET && request.uri().path() == "/_riv/calls" {
        let body = serde_json::to_vec(&emulator.calls()).unwrap_or_default();
        return Ok(respond(200, body, None));
    }
    if request.uri().path().starts_with("/_riv/") {
        return Ok(control(&emulator, request).await);
    }
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let target = header("x-amz-target");
    let region = signed_region(&header("authorization"))
        .unwrap_or(crate::rekognition::DEFAULT_REGION)
        .to_string();
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            // In the words of the service called.
            let kind = if target.starts_with("Textract.") {
                "DocumentTooLargeException"
            } else {
                "ImageTooLargeException"
            };
            let (status, body) = error(&AwsError::new(kind, "request body too large"));
            return Ok(respond(status, body.to_string().into_bytes(), Some(kind)));
        }
    };
    // The real engine takes a fraction of a second per image: off the async threads.
    let worker = emulator.clone();
    let (status, json) =
        tokio::task::spawn_blocking(move || worker.dispatch(&target, &region, &body))
            .await
            .unwrap_or_else(|e| {
                (
                    500,
                    crate::error::AwsError::internal(format!("the request's handler failed: {e}"))
                        .body(),
                )
            });
    let kind = json
        .get("__type")
        .and_then(|t| t.as_str())
        .map(str::to_string);
    Ok(respond(
        status,
        json.to_string().into_bytes(),
        kind.as_deref(),
    ))
}

/// A control path's answer: 200 with JSON, or 400/404 with `{"message"}` saying what was wrong.
fn control_answer(status: u16, body: serde_json::Value) -> Response<Full<Bytes>> {
    respond(status, body.to_string().into_bytes(), None)
}

/// The control paths (faults, liveness outcomes); the request body is small JSON.
async fn control(emulator: &Emulator, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let image = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("image=")))
        .map(str::to_string);
    let body = match Limited::new(request.into_body(), 64 * 1024 * 1024)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return control_answer(
                400,
                serde_json::json!({"message": format!("reading the body: {e}")}),
            )
        }
    };
    let refused = |status: u16, message: String| {
        control_answer(status, serde_json::json!({ "message": message }))
    };
    match (method, path.as_str()) {
        (Method::GET, "/_riv/faults") => {
            control_answer(200, serde_json::json!({"Rules": emulator.faults.list()}))
        }
        // `?image=<sha256>` removes the rules of one image (a test's own); without it, every rule goes.
        (Method::DELETE, "/_riv/faults") => {
            match image {
                Some(digest) => emulator.faults.clear_image(&digest),
                None => emulator.faults.clear(),
            }
            control_answer(200, serde_json::json!({"Rules": emulator.faults.list()}))
        }
        (Method::POST, "/_riv/faults") => {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "PascalCase", deny_unknown_fields)]
            struct Add {
                rules: Vec<Rule>,
            }
            match serde_json::from_slice::<Add>(&body) {
                Err(e) => refused(400, format!("the body is not {{\"Rules\": [{{\"Operation\", \"Error\", \"Probability\"?, \"Times\"?, \"Image\"?}}]}}: {e}")),
                Ok(add) => match emulator.faults.add(add.rules) {
                    Ok(()) => control_answer(200, serde_json::json!({"Rules": emulator.faults.list()})),
                    Err(e) => refused(400, e.to_string()),
                },
            }
        }
        (Method::POST, liveness) if liveness.starts_with("/_riv/liveness/") => {
            let id = &liveness["/_riv/liveness/".len()..];
            match serde_json::from_slice(&body) {
                Err(e) => refused(400, format!("the body is not {{\"Status\", \"Confidence\"?, \"ReferenceImage\"?}}: {e}")),
                Ok(outcome) => match emulator.rekognition.liveness.decide(id, outcome) {
                    Ok(()) => control_answer(200, serde_json::json!({"SessionId": id})),
                    Err(e @ crate::rekognition::liveness::OutcomeError::NoSession(_)) => refused(404, e.to_string()),
                    Err(e) => refused(400, e.to_string()),
                },
            }
        }
        (method, path) => refused(404, format!("no control path {method} {path}: GET /_riv/calls, GET|POST|DELETE /_riv/faults, POST /_riv/liveness/<SessionId>")),
    }
}

/// Serves until the listener fails; each connection on its own task.
pub async fn serve(listener: TcpListener, emulator: Arc<Emulator>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let emulator = emulator.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(emulator.clone(), req));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

/// Binds `addr` and serves in the background; returns the bound address (port 0 picks a free one).
pub async fn spawn(addr: SocketAddr, emulator: Emulator) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let emulator = Arc::new(emulator);
    tokio::spawn(async move {
        if let Err(e) = serve(listener, emulator).await {
            tracing::error!(error = %e, "emulator stopped");
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_is_logged_with_the_digests_of_its_images() {
        let emulator = Emulator::new(Box::new(crate::engine::Deterministic));
        let body = serde_json::json!({"DocumentPages": [{"Bytes": "aGk="}]});
        emulator.dispatch(
            "Textract.AnalyzeID",
            "us-east-1",
            body.to_string().as_bytes(),
        );
        emulator.dispatch("RekognitionService.ListCollections", "us-east-1", b"{}");
        let calls = emulator.calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].target, "Textract.AnalyzeID");
        // sha256("hi")
        assert_eq!(
            calls[0].images,
            ["8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"]
        );
        assert!(calls[1].images.is_empty());
    }
}
