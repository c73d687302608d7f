//! The two HTTP faces of the runner: the Lambda Runtime API the bootstrap polls, and `POST /invoke` where
//! LocalStack hands over invocations.

use crate::{error_body, Current, Invocation, Outcome, Runner};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

const PREFIX: &str = "/2018-06-01/runtime/";

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

/// Serves `handler` on every connection the listener accepts, until the process ends.
pub fn serve<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let fut = handler(req);
                    async move { Ok::<_, std::convert::Infallible>(fut.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

async fn body(req: Request<Incoming>) -> Bytes {
    req.into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

/// LocalStack's side. `POST /invoke` accepts the invocation and answers at once; the result goes back by
/// callbacks through LocalStack's gateway. `POST /invoke?wait=1` (Riv's process executor) answers when the
/// invocation ends instead, with `x-riv-outcome: response|error`, `x-riv-logs-length: N` and a body of the N
/// bytes of logs followed by the payload: two fewer requests for LocalStack's one interpreter to serve per invoke.
pub async fn invoke(runner: Arc<Runner>, req: Request<Incoming>) -> Reply {
    if req.method() != Method::POST || req.uri().path() != "/invoke" {
        return reply(StatusCode::NOT_FOUND, "unknown path");
    }
    let wait = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "wait=1"));
    let invocation = match serde_json::from_slice::<Invocation>(&body(req).await) {
        Ok(invocation) => invocation,
        Err(e) => return reply(StatusCode::BAD_REQUEST, format!("bad invocation: {e}")),
    };
    if !wait {
        let _ = runner.queue_tx.send(invocation);
        return reply(StatusCode::ACCEPTED, "");
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let id = invocation.id.clone();
    runner
        .waiting
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id.clone(), tx);
    if runner.queue_tx.send(invocation).is_err() {
        runner
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        return reply(StatusCode::SERVICE_UNAVAILABLE, "the runner is stopping");
    }
    match rx.await {
        Ok((logs, outcome)) => ended(logs, outcome),
        Err(_) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "the invocation was dropped",
        ),
    }
}

fn ended(logs: String, outcome: Outcome) -> Reply {
    let (kind, payload) = match outcome {
        Outcome::Response(body) => ("response", body),
        Outcome::Error(body) => ("error", body),
    };
    let mut body = Vec::with_capacity(logs.len() + payload.len());
    body.extend_from_slice(logs.as_bytes());
    body.extend_from_slice(&payload);
    Response::builder()
        .status(StatusCode::OK)
        .header("x-riv-outcome", kind)
        .header("x-riv-logs-length", logs.len())
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| reply(StatusCode::INTERNAL_SERVER_ERROR, "bad headers"))
}

/// The bootstrap's side: the Runtime API.
pub async fn runtime(runner: Arc<Runner>, req: Request<Incoming>) -> Reply {
    let path = req
        .uri()
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or_default()
        .to_string();
    let parts: Vec<&str> = path.split('/').collect();
    match (req.method().clone(), parts.as_slice()) {
        (Method::GET, ["invocation", "next"]) => next(runner).await,
        (Method::POST, ["invocation", id, kind @ ("response" | "error")]) => {
            let (id, is_error) = (id.to_string(), *kind == "error");
            let payload = body(req).await;
            let Some(done) = runner.finish(&id) else {
                return reply(
                    StatusCode::BAD_REQUEST,
                    format!("unknown or finished invocation {id}"),
                );
            };
            let outcome = if is_error {
                Outcome::Error(payload)
            } else {
                Outcome::Response(payload)
            };
            runner.report(done, outcome).await;
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        (Method::POST, ["init", "error"]) => {
            let payload = body(req).await;
            runner.supervisor.init_failed.store(true, Ordering::SeqCst);
            runner.callbacks.init_error(payload).await;
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
        }
        _ => reply(StatusCode::NOT_FOUND, "unknown runtime API path"),
    }
}

async fn next(runner: Arc<Runner>) -> Reply {
    if !runner.ready_sent.swap(true, Ordering::SeqCst) {
        runner.callbacks.ready().await;
    }
    let invocation = match runner.queue_rx.lock().await.recv().await {
        Some(i) => i,
        None => return reply(StatusCode::INTERNAL_SERVER_ERROR, "runner shutting down"),
    };
    let timeout = Duration::from_secs(runner.config.timeout_seconds);
    let deadline = SystemTime::now()
        .checked_add(timeout)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let watch = {
        let (runner, id) = (runner.clone(), invocation.id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            // Its own task: finishing the invocation aborts this watch, which must not cancel the report.
            tokio::spawn(async move { timed_out(runner, &id).await });
        })
        .abort_handle()
    };
    runner.log_line(&format!(
        "START RequestId: {} Version: $LATEST",
        invocation.id
    ));
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &invocation.id)
        .header("lambda-runtime-deadline-ms", deadline.to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            &invocation.function_arn,
        );
    if let Some(trace) = &invocation.trace_id {
        response = response.header("lambda-runtime-trace-id", trace);
    }
    let payload = Bytes::from(invocation.payload.clone());
    *runner.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(Current {
        invocation,
        started: std::time::Instant::now(),
        watch,
    });
    response
        .body(Full::new(payload))
        .unwrap_or_else(|_| reply(StatusCode::INTERNAL_SERVER_ERROR, "bad headers"))
}

/// Lambda's behaviour on timeout: the environment is killed and the invocation fails with `Task timed out`.
async fn timed_out(runner: Arc<Runner>, id: &str) {
    let Some(done) = runner.finish(id) else {
        return;
    };
    runner.supervisor.kill();
    let seconds = runner.config.timeout_seconds;
    let message = format!(
        "{} {id} Task timed out after {seconds}.00 seconds",
        utc_now()
    );
    runner.log_line(&message);
    runner
        .report(
            done,
            Outcome::Error(error_body("Sandbox.Timedout", &message)),
        )
        .await;
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, as Lambda prints it.
pub fn utc_now() -> String {
    riv_domain::clock::now(true)
}
