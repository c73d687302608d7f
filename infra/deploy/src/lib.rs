//! Getting Riv onto an account and off it again, AWS only (CloudFormation, S3, Rekognition, DynamoDB, Logs,
//! STS): building the function artifacts, the one deploy path (`deploy`) that `cargo xtask deploy` and the local
//! stack both take, destroy, reconcile and cleanup. Nothing here knows about LocalStack's process or Docker.

pub mod artifacts;
pub mod buckets;
pub mod build;
pub mod changeset;
pub mod cleanup;
pub mod drift;
pub mod fleet;
pub mod pipeline;
pub mod portal;
pub mod preflight;
pub mod reconcile;
pub mod regions;
pub mod stack;
pub mod stamp;
pub mod target;
pub mod teardown;

pub use pipeline::{deploy, Approval, Release};
pub use target::Target;
