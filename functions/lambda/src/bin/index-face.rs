//! `index-face` Lambda: indexes the face, stores the images and commits the user's records, in two phases.

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
    let handler = riv_lambda::handlers::index_face::IndexFace {
        faces: Arc::new(Rekognition::new(clients.rekognition)),
        images: Arc::new(S3Images::new(clients.s3, bucket)),
        records: faults.records(Arc::new(DynamoRecords::new(clients.dynamodb, table))),
        collections: setting(config::CollectionConfig::from_lookup(process_env))?,
        matching: setting(config::MatchConfig::from_lookup(process_env))?,
        max_faces: setting(config::max_faces_per_user(process_env))?,
        faults,
    };
    runtime::serve(|request| handler.handle(request)).await
}
