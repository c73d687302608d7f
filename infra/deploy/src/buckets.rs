//! S3 buckets as Riv empties and reads them: every object version, delete marker and unfinished upload, in
//! batches of 1,000 sent concurrently; and the `riv:stack` tag that says whose a bucket is.

use crate::stack::{aws, DeployError};
use crate::Target;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use futures::stream::{self, StreamExt};
use riv_infra::names::{BUCKET_TAG, STACK_TAG};

/// Keys a DeleteObjects request takes at most.
pub const BATCH: usize = 1000;
/// DeleteObjects requests in flight at once.
pub const PARALLEL_BATCHES: usize = 8;

/// The `riv:stack` tag of a bucket: `None` when it has no such tag (or no longer exists); a failure to read
/// the tags is an error, never "untagged".
pub async fn bucket_stack_tag(
    target: &Target,
    bucket: &str,
) -> Result<Option<String>, DeployError> {
    Ok(bucket_riv_tags(target, bucket).await?.0)
}

/// A bucket's `riv:stack` and `riv:bucket` tags (the stack it belongs to, what it holds).
pub async fn bucket_riv_tags(
    target: &Target,
    bucket: &str,
) -> Result<(Option<String>, Option<String>), DeployError> {
    match target.s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(tags) => {
            let tag = |key: &str| {
                tags.tag_set()
                    .iter()
                    .find(|t| t.key() == key)
                    .map(|t| t.value().to_string())
            };
            Ok((tag(STACK_TAG), tag(BUCKET_TAG)))
        }
        Err(e) if matches!(e.code(), Some("NoSuchTagSet" | "NoSuchBucket")) => Ok((None, None)),
        Err(e) => Err(aws(&format!("s3 GetBucketTagging {bucket}"))(e)),
    }
}

/// How far emptying a bucket has got: versions and delete markers deleted, of those found so far (a listing
/// that comes back with more, written meanwhile, raises `found`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Emptying {
    pub deleted: usize,
    pub found: usize,
}

impl std::fmt::Display for Emptying {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} versions deleted", self.deleted, self.found)
    }
}

/// Deletes every object version, delete marker and incomplete multipart upload; returns how many versions and
/// markers went. Repeats the listing until it comes back empty, so writes racing the delete are caught too.
pub async fn empty_bucket(
    target: &Target,
    bucket: &str,
    progress: &(dyn Fn(Emptying) + Sync),
) -> Result<usize, DeployError> {
    let mut deleted = 0;
    let mut found = 0;
    loop {
        let ids = version_ids(target, bucket, None).await?;
        if ids.is_empty() {
            break;
        }
        found += ids.len();
        let before = deleted;
        progress(Emptying { deleted, found });
        deleted += delete_batched(target, bucket, ids, &|n| {
            progress(Emptying {
                deleted: before + n,
                found,
            })
        })
        .await?;
    }
    abort_uploads(target, bucket).await?;
    Ok(deleted)
}

/// Deletes a bucket, emptying it first; returns the versions deleted. A bucket that fills again before it goes
/// (S3 delivers access logs minutes after the requests they record) is emptied again, a few times; one that is
/// gone already counts as deleted.
pub async fn empty_and_delete_bucket(
    target: &Target,
    bucket: &str,
    progress: &(dyn Fn(Emptying) + Sync),
) -> Result<usize, DeployError> {
    const ATTEMPTS: u32 = 5;
    let mut deleted = 0;
    for attempt in 1..=ATTEMPTS {
        let before = deleted;
        deleted += empty_bucket(target, bucket, &|e| {
            progress(Emptying {
                deleted: before + e.deleted,
                found: before + e.found,
            })
        })
        .await?;
        match target.s3.delete_bucket().bucket(bucket).send().await {
            Ok(_) => return Ok(deleted),
            Err(e) if e.code() == Some("NoSuchBucket") => return Ok(deleted),
            Err(e) if e.code() == Some("BucketNotEmpty") && attempt < ATTEMPTS => {
                tokio::time::sleep(std::time::Duration::from_secs(u64::from(attempt))).await;
            }
            Err(e) => return Err(aws(&format!("s3 DeleteBucket {bucket}"))(e)),
        }
    }
    Ok(deleted)
}

/// Deletes the given versions with DeleteObjects, [`BATCH`] keys a request and [`PARALLEL_BATCHES`] requests at
/// once; returns how many went.
pub async fn delete_versions(
    target: &Target,
    bucket: &str,
    ids: Vec<ObjectIdentifier>,
) -> Result<usize, DeployError> {
    delete_batched(target, bucket, ids, &|_| {}).await
}

/// Generic over the progress callback so that a caller passing a plain (thread-safe) closure gets a `Send`
/// future.
async fn delete_batched<P: Fn(usize) + ?Sized>(
    target: &Target,
    bucket: &str,
    ids: Vec<ObjectIdentifier>,
    progress: &P,
) -> Result<usize, DeployError> {
    let mut batches: Vec<Vec<ObjectIdentifier>> = Vec::new();
    let mut rest = ids;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(BATCH));
        batches.push(std::mem::replace(&mut rest, tail));
    }
    let mut results = stream::iter(batches)
        .map(|batch| async move {
            let count = batch.len();
            let delete = Delete::builder()
                .set_objects(Some(batch))
                .quiet(true)
                .build()
                .map_err(|e| DeployError::Other(e.to_string()))?;
            let out = target
                .s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(aws("deleting objects"))?;
            if let Some(first) = out.errors().first() {
                return Err(DeployError::Other(format!(
                    "could not delete {}: {}",
                    first.key().unwrap_or("?"),
                    first.message().unwrap_or("no reason given")
                )));
            }
            Ok(count)
        })
        .buffer_unordered(PARALLEL_BATCHES);
    let mut deleted = 0;
    while let Some(result) = results.next().await {
        deleted += result?;
        progress(deleted);
    }
    Ok(deleted)
}

/// One object version or delete marker.
pub(crate) struct Version {
    pub key: String,
    pub version_id: Option<String>,
    pub size: u64,
    pub modified: i64,
    /// The key's latest version, and not a delete marker: what a GET of the key returns.
    pub current: bool,
}

/// Every version and delete marker of the bucket, or of exactly the key `only`, ready for DeleteObjects.
pub(crate) async fn version_ids(
    target: &Target,
    bucket: &str,
    only: Option<&str>,
) -> Result<Vec<ObjectIdentifier>, DeployError> {
    let mut ids = Vec::new();
    let mut invalid = None;
    for_each_version(target, bucket, only, |v| {
        if only.is_some_and(|key| key != v.key) {
            return;
        }
        match ObjectIdentifier::builder()
            .key(v.key)
            .set_version_id(v.version_id)
            .build()
        {
            Ok(id) => ids.push(id),
            Err(e) => invalid = Some(e.to_string()),
        }
    })
    .await?;
    match invalid {
        Some(e) => Err(DeployError::Other(e)),
        None => Ok(ids),
    }
}

/// Calls `each` for every version and delete marker, of keys starting with `prefix` if given.
pub(crate) async fn for_each_version(
    target: &Target,
    bucket: &str,
    prefix: Option<&str>,
    mut each: impl FnMut(Version),
) -> Result<(), DeployError> {
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = target
            .s3
            .list_object_versions()
            .bucket(bucket)
            .set_prefix(prefix.map(str::to_string))
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
            .map_err(aws("listing object versions"))?;
        for v in page.versions() {
            each(Version {
                key: v.key().unwrap_or_default().to_string(),
                version_id: v.version_id().map(str::to_string),
                size: v.size().unwrap_or_default().max(0) as u64,
                modified: v.last_modified().map(|d| d.secs()).unwrap_or_default(),
                current: v.is_latest() == Some(true),
            });
        }
        for m in page.delete_markers() {
            each(Version {
                key: m.key().unwrap_or_default().to_string(),
                version_id: m.version_id().map(str::to_string),
                size: 0,
                modified: m.last_modified().map(|d| d.secs()).unwrap_or_default(),
                current: false,
            });
        }
        if page.is_truncated() != Some(true) {
            return Ok(());
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
    }
}

async fn abort_uploads(target: &Target, bucket: &str) -> Result<(), DeployError> {
    let uploads = target
        .s3
        .list_multipart_uploads()
        .bucket(bucket)
        .send()
        .await
        .map_err(aws("listing multipart uploads"))?;
    for upload in uploads.uploads() {
        target
            .s3
            .abort_multipart_upload()
            .bucket(bucket)
            .key(upload.key().unwrap_or_default())
            .upload_id(upload.upload_id().unwrap_or_default())
            .send()
            .await
            .map_err(aws("aborting a multipart upload"))?;
    }
    Ok(())
}
