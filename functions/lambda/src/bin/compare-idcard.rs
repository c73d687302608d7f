//! `compare-idcard` Lambda: the selfie against the ID card's portrait.

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
    let handler = riv_lambda::handlers::compare_idcard::CompareIdCard {
        faces: Arc::new(Rekognition::new(clients.rekognition)),
        matching: setting(config::MatchConfig::from_lookup(process_env))?,
        bucket,
    };
    runtime::serve(|request| handler.handle(request)).await
}
