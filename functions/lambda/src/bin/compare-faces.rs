//! `compare-faces` Lambda: the selfie against the user's stored faces.

use riv_domain::config::{self, process_env};
use riv_domain::names::env;
use riv_lambda::aws::*;
use riv_lambda::runtime::{self, setting};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    runtime::init_tracing();
    let clients = Clients::from_env().await;
    let bucket = setting(config::required(&process_env, env::BUCKET_NAME))?;
    let table = setting(config::required(&process_env, env::TABLE_NAME))?;
    let faults = setting(riv_lambda::faults::Faults::from_env(process_env))?;
    let handler = riv_lambda::handlers::compare_faces::CompareFaces {
        faces: Arc::new(Rekognition::new(clients.rekognition)),
        images: Arc::new(S3Images::new(clients.s3, bucket)),
        records: faults.records(Arc::new(DynamoRecords::new(clients.dynamodb, table))),
        matching: setting(config::MatchConfig::from_lookup(process_env))?,
        guard: setting(config::GuardConfig::from_lookup(process_env))?,
        max_faces: setting(config::max_faces_per_user(process_env))?,
    };
    runtime::serve(|request| handler.handle(request)).await
}
