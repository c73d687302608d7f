//! Keeps the bootstrap running: starts it in its own process group, forwards its output to the invocation's
//! logs, reports a crash against the invocation it was working on, enforces the memory limit, and restarts it
//! for the next invocation.

use crate::{error_body, Outcome, Runner};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

#[derive(Default)]
pub struct Supervisor {
    /// Process group (= pid) of the running bootstrap, 0 when none.
    pgid: AtomicI32,
    pub init_failed: AtomicBool,
    pub shutting_down: AtomicBool,
    out_of_memory: AtomicBool,
}

impl Supervisor {
    /// Kills the bootstrap and everything it started.
    pub fn kill(&self) {
        let pgid = self.pgid.swap(0, Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: kill(2) with a negative pid signals a process group we created; no memory is touched.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

fn forward(runner: Arc<Runner>, stream: impl AsyncRead + Unpin + Send + 'static) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            runner.log_line(&line);
        }
    });
}

/// Starts the bootstrap; a watcher restarts it after it exits, unless it never got through init.
pub fn spawn(runner: Arc<Runner>, api: SocketAddr) -> std::io::Result<()> {
    let config = &runner.config;
    let mut command = Command::new(&config.bootstrap);
    command
        .current_dir(&config.task_root)
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("LAMBDA_TASK_ROOT", &config.task_root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // Lambda always sets these; runtimes such as Rust's lambda_runtime refuse to start without them.
    let defaults = [
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            config.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "function".to_string()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/function".to_string(),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", config.runtime_id.clone()),
    ];
    for (name, value) in defaults {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    let mut child = command.spawn()?;
    let pid = child.id().unwrap_or_default() as i32;
    runner.supervisor.pgid.store(pid, Ordering::SeqCst);
    runner
        .supervisor
        .out_of_memory
        .store(false, Ordering::SeqCst);
    if let Some(out) = child.stdout.take() {
        forward(runner.clone(), out);
    }
    if let Some(err) = child.stderr.take() {
        forward(runner.clone(), err);
    }
    watch_memory(runner.clone(), pid);
    tokio::spawn(async move {
        let status = child.wait().await;
        let code = status
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        exited(runner, api, pid, code).await;
    });
    Ok(())
}

async fn exited(runner: Arc<Runner>, api: SocketAddr, pid: i32, status: String) {
    let sup = &runner.supervisor;
    let _ = sup
        .pgid
        .compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst);
    if sup.shutting_down.load(Ordering::SeqCst) {
        return;
    }
    let current = runner
        .current
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(done) = current {
        done.watch.abort();
        let id = done.invocation.id.clone();
        let (kind, what) = if sup.out_of_memory.load(Ordering::SeqCst) {
            (
                "Runtime.OutOfMemory",
                "Runtime exited with error: signal: killed (memory limit reached)".to_string(),
            )
        } else {
            (
                "Runtime.ExitError",
                format!("Runtime exited with error: {status}"),
            )
        };
        let message = format!("RequestId: {id} Error: {what}");
        runner.log_line(&message);
        runner
            .report(done, Outcome::Error(error_body(kind, &message)))
            .await;
    } else if !runner.ready_sent.load(Ordering::SeqCst) {
        if !sup.init_failed.swap(true, Ordering::SeqCst) {
            let message = format!("Runtime exited during init with error: {status}");
            runner.log_line(&message);
            runner
                .callbacks
                .init_error(error_body("Runtime.ExitError", &message))
                .await;
        }
        return;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    if let Err(e) = spawn(runner.clone(), api) {
        tracing::error!(error = %e, "could not restart the bootstrap");
    }
}

/// Lambda kills a function that outgrows its memory: poll the bootstrap's resident size.
fn watch_memory(runner: Arc<Runner>, pid: i32) {
    let limit_kib = runner.config.memory_mb * 1024;
    tokio::spawn(async move {
        let status = format!("/proc/{pid}/status");
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if runner.supervisor.pgid.load(Ordering::SeqCst) != pid {
                return;
            }
            let Ok(text) = tokio::fs::read_to_string(&status).await else {
                return;
            };
            let rss = text
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_default();
            if rss > limit_kib {
                runner.log_line(&format!(
                    "memory limit of {} MB reached; killing the runtime",
                    runner.config.memory_mb
                ));
                runner
                    .supervisor
                    .out_of_memory
                    .store(true, Ordering::SeqCst);
                runner.supervisor.kill();
                return;
            }
        }
    });
}
