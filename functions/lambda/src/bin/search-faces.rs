//! `search-faces` Lambda: duplicate guard of registration, fallback search of authentication; both trust a
//! collection match only through a live face record.

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
    let faults = setting(riv_lambda::faults::Faults::from_env(process_env))?;
    let handler = riv_lambda::handlers::search_faces::SearchFaces {
        faces: Arc::new(Rekognition::new(clients.rekognition)),
        records: faults.records(Arc::new(DynamoRecords::new(clients.dynamodb, table))),
        collections: setting(config::CollectionConfig::from_lookup(process_env))?,
        matching: setting(config::MatchConfig::from_lookup(process_env))?,
        guard: setting(config::GuardConfig::from_lookup(process_env))?,
        bucket,
    };
    runtime::serve(|request| handler.handle(request)).await
}
