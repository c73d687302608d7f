//! Riv's Lambda runner: runs one function's `bootstrap` on the host for LocalStack's `process` executor. It
//! serves the Lambda Runtime API to the bootstrap, takes invocations from LocalStack, reports ready, logs,
//! responses and errors back, and enforces the timeout and memory limit the way Lambda does.

pub mod callbacks;
pub mod config;
pub mod runtime_api;
pub mod supervisor;

use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

/// An invocation's end as a waiting `POST /invoke?wait=1` answers it: the logs, then the outcome.
pub type Ended = (String, Outcome);

/// One invocation as LocalStack sends it to `POST /invoke`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Invocation {
    #[serde(rename = "invoke-id")]
    pub id: String,
    #[serde(rename = "invoked-function-arn")]
    pub function_arn: String,
    /// The event, as a JSON string.
    pub payload: String,
    #[serde(rename = "trace-id", default)]
    pub trace_id: Option<String>,
}

/// The invocation the bootstrap is working on.
#[derive(Debug)]
pub struct Current {
    pub invocation: Invocation,
    pub started: std::time::Instant,
    /// Cancels the timeout watch when the invocation ends first.
    pub watch: tokio::task::AbortHandle,
}

/// State shared by the servers and the supervisor.
pub struct Runner {
    pub config: config::Config,
    pub callbacks: callbacks::Callbacks,
    pub queue_tx: mpsc::UnboundedSender<Invocation>,
    pub queue_rx: Mutex<mpsc::UnboundedReceiver<Invocation>>,
    pub current: std::sync::Mutex<Option<Current>>,
    /// What the bootstrap printed since the last invocation ended.
    pub logs: std::sync::Mutex<String>,
    pub ready_sent: std::sync::atomic::AtomicBool,
    pub supervisor: supervisor::Supervisor,
    /// Invocations whose `POST /invoke?wait=1` is still open, waiting for the end instead of callbacks.
    pub waiting: std::sync::Mutex<HashMap<String, oneshot::Sender<Ended>>>,
}

impl Runner {
    pub fn new(config: config::Config) -> Arc<Runner> {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        Arc::new(Runner {
            callbacks: callbacks::Callbacks::new(&config.runtime_endpoint, &config.runtime_id),
            config,
            queue_tx,
            queue_rx: Mutex::new(queue_rx),
            current: std::sync::Mutex::new(None),
            logs: std::sync::Mutex::new(String::new()),
            ready_sent: std::sync::atomic::AtomicBool::new(false),
            supervisor: supervisor::Supervisor::default(),
            waiting: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Takes the invocation `id` off the bootstrap if it is the current one.
    pub fn finish(&self, id: &str) -> Option<Current> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.as_ref().is_some_and(|c| c.invocation.id == id) {
            let done = current.take();
            if let Some(c) = &done {
                c.watch.abort();
            }
            done
        } else {
            None
        }
    }

    pub fn take_logs(&self) -> String {
        std::mem::take(&mut *self.logs.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn log_line(&self, line: &str) {
        eprintln!("{line}");
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.push_str(line);
        logs.push('\n');
    }

    /// Reports an invocation's end to LocalStack: in the answer to its `POST /invoke?wait=1` when that is still
    /// open, else by callbacks, its logs first, then the result.
    pub async fn report(&self, done: Current, outcome: Outcome) {
        let id = &done.invocation.id;
        let millis = done.started.elapsed().as_secs_f64() * 1000.0;
        self.log_line(&format!("END RequestId: {id}"));
        self.log_line(&format!(
            "REPORT RequestId: {id}\tDuration: {millis:.2} ms\tMemory Size: {} MB",
            self.config.memory_mb
        ));
        let logs = self.take_logs();
        let waiter = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        // A waiter gone (LocalStack closed the connection) leaves the outcome to the callbacks.
        let (logs, outcome) = match waiter {
            Some(waiter) => match waiter.send((logs, outcome)) {
                Ok(()) => return,
                Err(ended) => ended,
            },
            None => (logs, outcome),
        };
        self.callbacks.logs(id, &logs).await;
        match outcome {
            Outcome::Response(body) => self.callbacks.response(id, body).await,
            Outcome::Error(body) => self.callbacks.error(id, body).await,
        }
    }
}

pub enum Outcome {
    Response(bytes::Bytes),
    Error(bytes::Bytes),
}

/// `{"errorType", "errorMessage"}` as Lambda reports runtime failures.
pub fn error_body(error_type: &str, message: &str) -> bytes::Bytes {
    bytes::Bytes::from(
        serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string(),
    )
}
