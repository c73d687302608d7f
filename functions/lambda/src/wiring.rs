//! Each function's wiring: its ports over AWS clients and its settings, read from the environment at cold start.
//! Every function ships as the same `bootstrap` (one link, one artifact) and [`run`] picks the wiring named by
//! `RIV_FUNCTION`, which the template sets on each function beside its own role, settings and log group.

use crate::aws::*;
use crate::runtime::{self, setting};
use crate::HandlerError;
use lambda_runtime::Error;
use riv_domain::config::{self, process_env};
use riv_domain::names::{env, function};
use std::sync::Arc;

/// Why the bootstrap cannot tell which function it is.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(
        "{} is not set: the template sets it on every function to the function's name",
        env::FUNCTION
    )]
    Unset,
    #[error("{var} is `{0}`, which is none of {known}", var = env::FUNCTION, known = known())]
    Unknown(String),
}

fn known() -> String {
    let mut names = function::ALL.to_vec();
    names.push(function::ECHO);
    names.join(", ")
}

/// The function named by `RIV_FUNCTION`, served until the runtime stops.
pub async fn run_from_env() -> Result<(), Error> {
    match std::env::var(env::FUNCTION) {
        Ok(name) => run(&name).await,
        Err(_) => Err(logged(DispatchError::Unset)),
    }
}

/// Serves the function `name` (one of [`function::ALL`], or [`function::ECHO`]).
pub async fn run(name: &str) -> Result<(), Error> {
    match name {
        function::DETECT_FACES => detect_faces().await,
        function::SEARCH_FACES => search_faces().await,
        function::COMPARE_FACES => compare_faces().await,
        function::COMPARE_IDCARD => compare_idcard().await,
        function::EXTRACT_IDCARD => extract_idcard().await,
        function::INDEX_FACE => index_face().await,
        function::ROLLBACK => rollback().await,
        function::UPLOADS => uploads().await,
        function::ECHO => echo().await,
        other => Err(logged(DispatchError::Unknown(other.into()))),
    }
}

fn logged(e: DispatchError) -> Error {
    tracing::error!(error = %e, "cannot tell which function to serve");
    e.into()
}

/// The bench stack's floor: returns its input, so a flow's latency can be read against the platform's own.
async fn echo() -> Result<(), Error> {
    runtime::serve(|event: serde_json::Value| async move { Ok::<_, HandlerError>(event) }).await
}

async fn detect_faces() -> Result<(), Error> {
    let clients = Clients::from_env().await;
    let table = setting(config::required(&process_env, env::TABLE_NAME))?;
    let bucket = setting(config::required(&process_env, env::BUCKET_NAME))?;
    let handler = crate::handlers::detect_faces::DetectFaces {
        faces: Arc::new(Rekognition::new(clients.rekognition)),
        records: Arc::new(DynamoRecords::new(clients.dynamodb, table)),
        images: Arc::new(S3Images::new(clients.s3, bucket)),
        config: setting(config::QualityConfig::from_lookup(process_env))?,
        guard: setting(config::GuardConfig::from_lookup(process_env))?,
    };
    runtime::serve(|request| handler.handle(request)).await
}

async fn search_faces() -> Result<(), Error> {
    let clients = Clients::from_env().await;
    let table = setting(config::required(&process_env, env::TABLE_NAME))?;
    let bucket = setting(config::required(&process_env, env::BUCKET_NAME))?;
    let faults = setting(crate::faults::Faults::from_env(process_env))?;
    let handler = crate::handlers::search_faces::SearchFaces {
        faces: Arc::new(Rekognition::new(clients.rekognition)),
        records: faults.records(Arc::new(DynamoRecords::new(clients.dynamodb, table))),
        collections: setting(config::CollectionConfig::from_lookup(process_env))?,
        matching: setting(config::MatchConfig::from_lookup(process_env))?,
        guard: setting(config::GuardConfig::from_lookup(process_env))?,
        bucket,
    };
    runtime::serve(|request| handler.handle(request)).await
}

async fn compare_faces() -> Result<(), Error> {
    let clients = Clients::from_env().await;
    let bucket = setting(config::required(&process_env, env::BUCKET_NAME))?;
    let table = setting(config::required(&process_env, env::TABLE_NAME))?;
    let faults = setting(crate::faults::Faults::from_env(process_env))?;
    let handler = crate::handlers::compare_faces::CompareFaces {
        faces: Arc::new(Rekognition::new(clients.rekognition)),
        images: Arc::new(S3Images::new(clients.s3, bucket)),
        records: faults.records(Arc::new(DynamoRecords::new(clients.dynamodb, table))),
        matching: setting(config::MatchConfig::from_lookup(process_env))?,
        guard: setting(config::GuardConfig::from_lookup(process_env))?,
        max_faces: setting(config::max_faces_per_user(process_env))?,
    };
    runtime::serve(|request| handler.handle(request)).await
}

async fn compare_idcard() -> Result<(), Error> {
    let clients = Clients::from_env().await;
    let bucket = setting(config::required(&process_env, env::BUCKET_NAME))?;
    let handler = crate::handlers::compare_idcard::CompareIdCard {
        faces: Arc::new(Rekognition::new(clients.rekognition)),
        matching: setting(config::MatchConfig::from_lookup(process_env))?,
        bucket,
    };
    runtime::serve(|request| handler.handle(request)).await
}

async fn extract_idcard() -> Result<(), Error> {
    let clients = Clients::from_env().await;
    let bucket = setting(config::required(&process_env, env::BUCKET_NAME))?;
    let handler = crate::handlers::extract_idcard::ExtractIdCard {
        reader: Arc::new(Textract::new(clients.textract)),
        faces: Arc::new(Rekognition::new(clients.rekognition)),
        mode: setting(config::IdExtraction::from_lookup(process_env))?,
        bucket,
    };
    runtime::serve(|request| handler.handle(request)).await
}

async fn index_face() -> Result<(), Error> {
    let clients = Clients::from_env().await;
    let bucket = setting(config::required(&process_env, env::BUCKET_NAME))?;
    let table = setting(config::required(&process_env, env::TABLE_NAME))?;
    let faults = setting(crate::faults::Faults::from_env(process_env))?;
    let handler = crate::handlers::index_face::IndexFace {
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

async fn rollback() -> Result<(), Error> {
    let clients = Clients::from_env().await;
    let bucket = setting(config::required(&process_env, env::BUCKET_NAME))?;
    let table = setting(config::required(&process_env, env::TABLE_NAME))?;
    let faults = setting(crate::faults::Faults::from_env(process_env))?;
    let handler = crate::handlers::rollback::Rollback {
        faces: faults.faces(Arc::new(Rekognition::new(clients.rekognition))),
        images: Arc::new(S3Images::new(clients.s3, bucket)),
        records: faults.records(Arc::new(DynamoRecords::new(clients.dynamodb, table))),
    };
    runtime::serve(|request| handler.handle(request)).await
}

async fn uploads() -> Result<(), Error> {
    let clients = Clients::from_env().await;
    let bucket = setting(config::required(&process_env, env::BUCKET_NAME))?;
    let bucket = Arc::new(S3Images::new(clients.s3, bucket));
    let handler = crate::handlers::uploads::Uploads {
        signer: bucket.clone(),
        images: bucket,
    };
    runtime::serve(|call| handler.call(call)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unknown_function_is_refused_naming_the_known_ones() {
        let err = run("detect-face").await.unwrap_err().to_string();
        assert!(err.contains("RIV_FUNCTION is `detect-face`"), "{err}");
        for name in function::ALL {
            assert!(err.contains(name), "{err} should name {name}");
        }
    }
}
