//! The runner against a fake LocalStack: a bootstrap that answers, one that returns an error, one that
//! crashes mid-invocation, one that times out, one that dies at init; and no process left behind.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// A bash custom runtime: its behaviour comes from the event's `mode`.
const BOOTSTRAP: &str = r#"#!/bin/bash
set -u
[ -n "${CRASH_AT_INIT:-}" ] && { echo "dying at init" >&2; exit 3; }
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
echo "pid $$"
while true; do
  headers=$(mktemp)
  event=$(curl -sS -D "$headers" "$api/invocation/next")
  id=$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | tr -d '\r' | cut -d' ' -f2)
  rm -f "$headers"
  echo "handling $event"
  case "$event" in
    *fail*) curl -sS -X POST "$api/invocation/$id/error" -d '{"errorType":"Boom","errorMessage":"asked to fail"}' >/dev/null ;;
    *crash*) exit 2 ;;
    *sleep*) sleep 30 ;;
    *) curl -sS -X POST "$api/invocation/$id/response" -d "{\"echo\": $event, \"root\": \"$LAMBDA_TASK_ROOT\"}" >/dev/null ;;
  esac
done
"#;

type Calls = Arc<Mutex<Vec<(String, String)>>>;

/// Records every callback the runner makes.
async fn fake_localstack() -> (String, Calls) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "http://{}/_localstack_lambda/env-1",
        listener.local_addr().unwrap()
    );
    let calls: Calls = Arc::default();
    let recorded = calls.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let recorded = recorded.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let recorded = recorded.clone();
                    async move {
                        let path = req.uri().path().replace("/_localstack_lambda/env-1/", "");
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        recorded
                            .lock()
                            .unwrap()
                            .push((path, String::from_utf8_lossy(&body).into_owned()));
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new())))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (base, calls)
}

struct Env {
    child: Child,
    listen: String,
    calls: Calls,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn start(timeout: u64, env: &[(&str, &str)]) -> Env {
    let (base, calls) = fake_localstack().await;
    let dir = std::env::temp_dir().join(format!(
        "riv-lambda-runner-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let bootstrap: PathBuf = dir.join("bootstrap");
    std::fs::write(&bootstrap, BOOTSTRAP).unwrap();
    std::fs::set_permissions(
        &bootstrap,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_riv-lambda-runner"))
        .args([
            "--runtime-id",
            "env-1",
            "--listen",
            &listen,
            "--runtime-endpoint",
            &base,
        ])
        .args([
            "--timeout-seconds",
            &timeout.to_string(),
            "--memory-mb",
            "256",
        ])
        .arg("--bootstrap")
        .arg(&bootstrap)
        .arg("--task-root")
        .arg(&dir)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    Env {
        child,
        listen,
        calls,
        _dir: tempdir::Dir(dir),
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

impl Env {
    async fn invoke(&self, id: &str, payload: &str) {
        let body = serde_json::json!({
            "invoke-id": id,
            "invoked-function-arn": "arn:aws:lambda:us-east-1:000000000000:function:f",
            "payload": payload,
            "trace-id": "Root=1-abc",
        });
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let req = Request::post(format!("http://{}/invoke", self.listen))
                .body(Full::new(Bytes::from(body.to_string())))
                .unwrap();
            match client.request(req).await {
                Ok(r) => {
                    assert!(r.status().is_success());
                    return;
                }
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(e) => panic!("runner not listening: {e}"),
            }
        }
    }

    /// `POST /invoke?wait=1`: (x-riv-outcome, logs, payload) of the answer that comes at the invocation's end.
    async fn invoke_waiting(&self, id: &str, payload: &str) -> (String, String, String) {
        let body = serde_json::json!({
            "invoke-id": id,
            "invoked-function-arn": "arn:aws:lambda:us-east-1:000000000000:function:f",
            "payload": payload,
        });
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let deadline = Instant::now() + Duration::from_secs(5);
        let response = loop {
            let req = Request::post(format!("http://{}/invoke?wait=1", self.listen))
                .body(Full::new(Bytes::from(body.to_string())))
                .unwrap();
            match client.request(req).await {
                Ok(r) => break r,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
                Err(e) => panic!("runner not listening: {e}"),
            }
        };
        assert_eq!(response.status(), 200);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_else(|| panic!("no {name} header"))
        };
        let outcome = header("x-riv-outcome");
        let logs_length: usize = header("x-riv-logs-length").parse().unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let (logs, payload) = bytes.split_at(logs_length);
        (
            outcome,
            String::from_utf8(logs.to_vec()).unwrap(),
            String::from_utf8(payload.to_vec()).unwrap(),
        )
    }

    /// Waits for a callback whose path ends with `suffix`, returning its body.
    async fn callback(&self, suffix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some((_, body)) = self
                .calls
                .lock()
                .unwrap()
                .iter()
                .find(|(p, _)| p.ends_with(suffix))
            {
                return body.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {suffix} callback; got {:?}",
                self.calls.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn order(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }
}

#[tokio::test]
async fn a_successful_invocation_reports_ready_logs_then_response() {
    let env = start(3, &[]).await;
    env.invoke("i-1", r#"{"mode":"echo","n":1}"#).await;
    let response = env.callback("invocations/i-1/response").await;
    let v: serde_json::Value = serde_json::from_str(&response).unwrap();
    assert_eq!(v["echo"]["n"], 1);
    let logs = env.callback("invocations/i-1/logs").await;
    assert!(
        logs.contains("START RequestId: i-1") && logs.contains("handling"),
        "{logs}"
    );
    assert!(logs.contains("REPORT RequestId: i-1"), "{logs}");
    assert_eq!(
        env.order(),
        [
            "status/env-1/ready",
            "invocations/i-1/logs",
            "invocations/i-1/response"
        ]
    );
    // A warm second invocation reuses the bootstrap and sends no second ready.
    env.invoke("i-2", r#"{"mode":"echo","n":2}"#).await;
    env.callback("invocations/i-2/response").await;
    assert_eq!(
        env.order().iter().filter(|p| p.ends_with("/ready")).count(),
        1
    );
}

#[tokio::test]
async fn a_function_error_is_reported_as_an_error() {
    let env = start(3, &[]).await;
    env.invoke("i-1", r#"{"mode":"fail"}"#).await;
    let error = env.callback("invocations/i-1/error").await;
    assert!(error.contains("\"Boom\""), "{error}");
}

#[tokio::test]
async fn a_crash_is_an_exit_error_and_the_next_invocation_gets_a_fresh_runtime() {
    let env = start(3, &[]).await;
    env.invoke("i-1", r#"{"mode":"crash"}"#).await;
    let error = env.callback("invocations/i-1/error").await;
    assert!(
        error.contains("Runtime.ExitError") && error.contains("exit status: 2"),
        "{error}"
    );
    env.invoke("i-2", r#"{"mode":"echo"}"#).await;
    env.callback("invocations/i-2/response").await;
}

#[tokio::test]
async fn a_waiting_invoke_is_answered_with_logs_and_result_and_no_callbacks() {
    let env = start(1, &[]).await;
    let (outcome, logs, payload) = env.invoke_waiting("w-1", r#"{"mode":"echo","n":7}"#).await;
    assert_eq!(outcome, "response");
    assert!(payload.contains(r#""n":7"#), "{payload}");
    assert!(
        logs.contains("END RequestId: w-1") && logs.contains("REPORT RequestId: w-1"),
        "{logs}"
    );

    let (outcome, _, payload) = env.invoke_waiting("w-2", r#"{"mode":"fail"}"#).await;
    assert_eq!(outcome, "error");
    assert!(payload.contains("errorType"), "{payload}");

    let (outcome, logs, payload) = env.invoke_waiting("w-3", r#"{"mode":"sleep"}"#).await;
    assert_eq!(outcome, "error");
    assert!(
        payload.contains("w-3 Task timed out after 1.00 seconds"),
        "{payload}"
    );
    assert!(logs.contains("Task timed out"), "{logs}");

    // The next invocation gets a fresh runtime after the timeout, and nothing went by callback.
    let (outcome, _, _) = env.invoke_waiting("w-4", r#"{"mode":"echo"}"#).await;
    assert_eq!(outcome, "response");
    assert!(
        !env.order().iter().any(|p| p.contains("/invocations/")),
        "{:?}",
        env.order()
    );
}

#[tokio::test]
async fn a_slow_invocation_times_out_and_is_killed() {
    let env = start(1, &[]).await;
    let started = Instant::now();
    env.invoke("i-1", r#"{"mode":"sleep"}"#).await;
    let error = env.callback("invocations/i-1/error").await;
    assert!(
        error.contains("i-1 Task timed out after 1.00 seconds"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    env.invoke("i-2", r#"{"mode":"echo"}"#).await;
    env.callback("invocations/i-2/response").await;
}

#[tokio::test]
async fn a_bootstrap_that_dies_at_init_reports_an_init_error() {
    let env = start(3, &[("CRASH_AT_INIT", "1")]).await;
    let error = env.callback("status/env-1/error").await;
    assert!(
        error.contains("Runtime.ExitError") && error.contains("exit status: 3"),
        "{error}"
    );
    assert!(!env.order().iter().any(|p| p.ends_with("/ready")));
}

#[tokio::test]
async fn closing_stdin_stops_the_runner_and_its_bootstrap() {
    let mut env = start(3, &[]).await;
    env.invoke("i-1", r#"{"mode":"echo"}"#).await;
    let logs: serde_json::Value =
        serde_json::from_str(&env.callback("invocations/i-1/logs").await).unwrap();
    let pid: i32 = logs["logs"]
        .as_str()
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("pid "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    drop(env.child.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(5), env.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
    // Killed processes linger as zombies until reaped; under load that takes a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while running(pid) {
        assert!(
            Instant::now() < deadline,
            "bootstrap {pid} outlived its runner"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether `pid` exists and is not a zombie.
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}
