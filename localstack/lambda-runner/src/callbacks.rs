//! Calls back to LocalStack's executor endpoint: ready, init error, and each invocation's logs and result.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

pub struct Callbacks {
    base: String,
    runtime_id: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Callbacks {
    pub fn new(base: &str, runtime_id: &str) -> Self {
        Callbacks {
            base: base.trim_end_matches('/').to_string(),
            runtime_id: runtime_id.to_string(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// POSTs and logs a failure; LocalStack owns what happens next, so a failed callback is not fatal here.
    async fn post(&self, path: &str, content_type: &str, body: Bytes) {
        let url = format!("{}/{path}", self.base);
        let request = hyper::Request::post(&url)
            .header("content-type", content_type)
            .body(Full::new(body));
        let result = match request {
            Ok(r) => self.client.request(r).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                let status = response.status();
                let text = response
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                tracing::warn!(%url, %status, body = %String::from_utf8_lossy(&text), "callback refused");
            }
            Err(error) => tracing::warn!(%url, %error, "callback failed"),
        }
    }

    pub async fn ready(&self) {
        self.post(
            &format!("status/{}/ready", self.runtime_id),
            "application/json",
            Bytes::new(),
        )
        .await;
    }

    pub async fn init_error(&self, body: Bytes) {
        self.post(
            &format!("status/{}/error", self.runtime_id),
            "application/json",
            body,
        )
        .await;
    }

    pub async fn logs(&self, invoke_id: &str, logs: &str) {
        let body = serde_json::json!({"logs": logs}).to_string();
        self.post(
            &format!("invocations/{invoke_id}/logs"),
            "application/json",
            body.into(),
        )
        .await;
    }

    pub async fn response(&self, invoke_id: &str, body: Bytes) {
        self.post(
            &format!("invocations/{invoke_id}/response"),
            "application/octet-stream",
            body,
        )
        .await;
    }

    pub async fn error(&self, invoke_id: &str, body: Bytes) {
        self.post(
            &format!("invocations/{invoke_id}/error"),
            "application/json",
            body,
        )
        .await;
    }
}
