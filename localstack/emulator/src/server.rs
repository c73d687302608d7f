//! The HTTP front: AWS JSON 1.1 on `POST /` dispatched by `X-Amz-Target`, plus `GET /health`.

use crate::engine::Engine;
use crate::error::AwsError;
use crate::rekognition::Rekognition;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Requests larger than this are refused before they are read (Textract takes 10 MiB, base64 adds a third).
const MAX_BODY: usize = 16 * 1024 * 1024;

pub struct Emulator {
    pub engine: Box<dyn Engine>,
    pub rekognition: Rekognition,
}

impl Emulator {
    pub fn new(engine: Box<dyn Engine>) -> Self {
        Emulator {
            engine,
            rekognition: Rekognition::default(),
        }
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
        let result = match target.split_once('.') {
            Some(("RekognitionService", op)) => {
                self.rekognition.call(&*self.engine, region, op, &request)
            }
            Some(("Textract", op)) => crate::textract::call(&*self.engine, op, &request),
            _ => Err(AwsError::new(
                "UnknownOperationException",
                format!("unknown target {target:?}"),
            )),
        };
        match result {
            Ok(v) => (200, v),
            Err(e) => error(&e),
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
            let (status, body) = error(&AwsError::new(
                "ImageTooLargeException",
                "request body too large",
            ));
            return Ok(respond(
                status,
                body.to_string().into_bytes(),
                Some("ImageTooLargeException"),
            ));
        }
    };
    let (status, json) = emulator.dispatch(&target, &region, &body);
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
