//! `extract-idcard` Lambda: the ID card's fields (Textract AnalyzeID, or Rekognition DetectText).

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
    let handler = riv_lambda::handlers::extract_idcard::ExtractIdCard {
        reader: Arc::new(Textract::new(clients.textract)),
        faces: Arc::new(Rekognition::new(clients.rekognition)),
        mode: setting(config::IdExtraction::from_lookup(process_env))?,
        bucket,
    };
    runtime::serve(|request| handler.handle(request)).await
}
