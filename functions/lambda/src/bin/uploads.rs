//! `uploads` Lambda: presigned upload URLs for `POST /uploads`.

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
    let handler = riv_lambda::handlers::uploads::Uploads {
        signer: Arc::new(S3Images::new(clients.s3, bucket)),
    };
    runtime::serve(|request| handler.handle(request)).await
}
