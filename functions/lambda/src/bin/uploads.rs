//! `uploads` Lambda: presigned upload URLs for `POST /uploads`, and the discarding of a flow's uploads.

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
    let bucket = Arc::new(S3Images::new(clients.s3, bucket));
    let handler = riv_lambda::handlers::uploads::Uploads {
        signer: bucket.clone(),
        images: bucket,
    };
    runtime::serve(|call| handler.call(call)).await
}
