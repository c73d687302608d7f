//! `detect-faces` Lambda: the selfie quality gate.

use riv_domain::config::{self, process_env};
use riv_lambda::aws::*;
use riv_lambda::runtime::{self, setting};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::init_tracing();
    let clients = Clients::from_env().await;
    let handler = riv_lambda::handlers::detect_faces::DetectFaces {
        faces: Arc::new(Rekognition::new(clients.rekognition)),
        config: setting(config::QualityConfig::from_lookup(process_env))?,
    };
    runtime::serve(|request| handler.handle(request)).await
}
