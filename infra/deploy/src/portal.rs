//! Publishes the web portal (`riv_infra::portal::FILES`) to the stack's image bucket, where the API serves it
//! from. Each object carries the sha256 of its body, so a redeploy rewrites only what changed and the bucket's
//! versions do not pile up one per deploy.

use crate::stack::{aws, DeployError};
use crate::Target;
use riv_infra::portal::{File, FILES};
use sha2::{Digest, Sha256};

/// The metadata key holding an object's sha256 (`x-amz-meta-riv-sha256`).
pub const SHA256_METADATA: &str = "riv-sha256";

/// What publishing did: the files written and the files already up to date.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Published {
    pub written: Vec<&'static str>,
    pub unchanged: Vec<&'static str>,
}

/// Writes every portal file whose stored copy is missing or different; `owner` is the account expected to own
/// the bucket (none on the local stack, where there is no account to check).
pub async fn publish(
    target: &Target,
    bucket: &str,
    owner: Option<&str>,
    progress: &dyn Fn(&str),
) -> Result<Published, DeployError> {
    let mut published = Published::default();
    for file in FILES {
        let sha = hex::encode(Sha256::digest(file.bytes));
        if stored_sha(target, bucket, owner, &file).await?.as_deref() == Some(sha.as_str()) {
            published.unchanged.push(file.name);
            continue;
        }
        target
            .s3
            .put_object()
            .bucket(bucket)
            .set_expected_bucket_owner(owner.map(str::to_string))
            .key(file.key())
            .content_type(file.content_type)
            .metadata(SHA256_METADATA, &sha)
            .body(file.bytes.to_vec().into())
            .send()
            .await
            .map_err(aws(&format!("publishing the portal's {}", file.name)))?;
        published.written.push(file.name);
    }
    progress(&match published.written.len() {
        0 => "portal: up to date".to_string(),
        _ => format!("portal: published {}", published.written.join(", ")),
    });
    Ok(published)
}

/// The sha256 a stored file was published with; `None` when it is not there yet.
async fn stored_sha(
    target: &Target,
    bucket: &str,
    owner: Option<&str>,
    file: &File,
) -> Result<Option<String>, DeployError> {
    let head = target
        .s3
        .head_object()
        .bucket(bucket)
        .set_expected_bucket_owner(owner.map(str::to_string))
        .key(file.key())
        .send()
        .await;
    match head {
        Ok(out) => Ok(out.metadata().and_then(|m| m.get(SHA256_METADATA)).cloned()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
        Err(e) => Err(aws(&format!("reading the portal's {}", file.name))(e)),
    }
}
