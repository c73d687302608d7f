//! `detect-faces` Lambda: request validation, the lockout and the selfie quality gate.

use riv_domain::config::{self, process_env};
use riv_domain::names::env;
use riv_lambda::aws::*;
use riv_lambda::runtime::{self, setting};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::init_tracing();
    let clients = Clients::from_env().await;
    let table = setting(config::required(&process_env, env::TABLE_NAME))?;
    let bucket = setting(config::required(&process_env, env::BUCKET_NAME))?;
    let handler = riv_lambda::handlers::detect_faces::DetectFaces {
        faces: Arc::new(Rekognition::new(clients.rekognition)),
        records: Arc::new(DynamoRecords::new(clients.dynamodb, table)),
        images: Arc::new(S3Images::new(clients.s3, bucket)),
        config: setting(config::QualityConfig::from_lookup(process_env))?,
        guard: setting(config::GuardConfig::from_lookup(process_env))?,
    };
    runtime::serve(|request| handler.handle(request)).await
}
