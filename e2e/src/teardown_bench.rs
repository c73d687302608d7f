//! `cargo xtask bench teardown`: empties two identical versioned buckets, one with Riv's `empty_bucket`
//! (batched DeleteObjects, concurrent batches) and one the way the AWS CLI documents it (`aws s3 rm
//! --recursive`, then list-object-versions / delete-objects rounds of 1,000 for versions and delete markers).

use crate::{stack, unique};
use riv_deploy::{buckets, Target};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The AWS CLI the comparison runs (v1 is the one PyPI carries).
pub const AWSCLI: &str = "awscli==1.46.2";
/// PUTs in flight while filling a bucket.
const FILL_CONCURRENCY: usize = 32;

#[derive(Debug, Clone, serde::Serialize)]
pub struct TeardownFigures {
    pub objects: usize,
    /// Versions and delete markers in each bucket before emptying.
    pub versions: usize,
    pub fill_seconds: f64,
    pub riv_seconds: f64,
    pub cli_rm_seconds: f64,
    pub cli_versions_seconds: f64,
    pub cli_seconds: f64,
    /// CLI time over Riv's.
    pub speedup: f64,
}

async fn versioned_bucket(target: &Target, name: &str) -> Result<(), String> {
    riv_deploy::stack::create_bucket(target, name)
        .await
        .map_err(|e| e.to_string())?;
    riv_deploy::stack::enable_versioning(target, name)
        .await
        .map_err(|e| e.to_string())
}

/// `objects` keys, every fifth overwritten (a second version) and every tenth deleted (a delete marker);
/// returns how many versions and markers that makes.
async fn fill(target: &Target, bucket: &str, objects: usize) -> Result<usize, String> {
    use futures::stream::{self, StreamExt, TryStreamExt};
    let writes = (0..objects)
        .map(|i| (i, false))
        .chain((0..objects).step_by(5).map(|i| (i, false)))
        .chain((0..objects).step_by(10).map(|i| (i, true)));
    let ops: Vec<(usize, bool)> = writes.collect();
    let count = ops.len();
    // The first pass of each key must land before its overwrite or delete: run the passes in order.
    for pass in [&ops[..objects], &ops[objects..]] {
        stream::iter(pass.iter().copied())
            .map(|(i, delete)| async move {
                let key = format!("objects/{i:06}.bin");
                let result = if delete {
                    target
                        .s3
                        .delete_object()
                        .bucket(bucket)
                        .key(&key)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| format!("{e:?}"))
                } else {
                    target
                        .s3
                        .put_object()
                        .bucket(bucket)
                        .key(&key)
                        .body(vec![b'x'; 64].into())
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| format!("{e:?}"))
                };
                result.map_err(|e| format!("filling {bucket}/{key}: {e}"))
            })
            .buffer_unordered(FILL_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
    }
    Ok(count)
}

fn aws(bin: &Path, endpoint: &str, region: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(bin.join("aws"))
        .args([
            "--endpoint-url",
            endpoint,
            "--region",
            region,
            "--output",
            "json",
        ])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_PAGER", "")
        .output()
        .map_err(|e| format!("running aws: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "aws {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The documented CLI recipe for a versioned bucket: list a page of versions (then of markers) and delete it,
/// until none are left. Returns (rm seconds, versions seconds).
fn cli_empty(bin: &Path, endpoint: &str, region: &str, bucket: &str) -> Result<(f64, f64), String> {
    let started = Instant::now();
    aws(
        bin,
        endpoint,
        region,
        &[
            "s3",
            "rm",
            &format!("s3://{bucket}"),
            "--recursive",
            "--quiet",
        ],
    )?;
    let rm = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let batch = std::env::temp_dir().join(format!("{bucket}-delete.json"));
    for field in ["Versions", "DeleteMarkers"] {
        loop {
            let query =
                format!("{{Objects: {field}[].{{Key:Key,VersionId:VersionId}}, Quiet: `true`}}");
            let page = aws(
                bin,
                endpoint,
                region,
                &[
                    "s3api",
                    "list-object-versions",
                    "--bucket",
                    bucket,
                    "--max-items",
                    "1000",
                    "--query",
                    &query,
                ],
            )?;
            let parsed: Value = serde_json::from_str(&page).map_err(|e| e.to_string())?;
            if parsed["Objects"].as_array().is_none_or(|a| a.is_empty()) {
                break;
            }
            std::fs::write(&batch, &page).map_err(|e| e.to_string())?;
            aws(
                bin,
                endpoint,
                region,
                &[
                    "s3api",
                    "delete-objects",
                    "--bucket",
                    bucket,
                    "--delete",
                    &format!("file://{}", batch.display()),
                ],
            )?;
        }
    }
    std::fs::remove_file(&batch).map_err(|e| format!("removing {}: {e}", batch.display()))?;
    Ok((rm, started.elapsed().as_secs_f64()))
}

/// Fills two buckets alike, empties one with Riv's code and the other with the AWS CLI, and deletes both.
pub async fn teardown(objects: usize) -> Result<TeardownFigures, String> {
    let s = stack();
    let paths = riv_launcher::Paths::new(&crate::workspace_root());
    let bin = riv_launcher::venv::tool(&paths, AWSCLI, &|m| eprintln!("==> {m}"))
        .map_err(|e| e.to_string())?;
    let target = Target::local(&s.endpoint, &s.region).await;
    let ours = unique("bench-teardown-riv").to_lowercase();
    let theirs = unique("bench-teardown-cli").to_lowercase();
    let started = Instant::now();
    let mut versions = 0;
    for bucket in [&ours, &theirs] {
        versioned_bucket(&target, bucket).await?;
        eprintln!("==> filling {bucket} with {objects} objects");
        versions = fill(&target, bucket, objects).await?;
    }
    let fill_seconds = started.elapsed().as_secs_f64();

    eprintln!("==> emptying {ours} with riv-deploy's empty_bucket");
    let started = Instant::now();
    let deleted = buckets::empty_bucket(&target, &ours, &|_| {})
        .await
        .map_err(|e| e.to_string())?;
    let riv_seconds = started.elapsed().as_secs_f64();
    if deleted != versions {
        return Err(format!(
            "empty_bucket deleted {deleted} versions, the bucket had {versions}"
        ));
    }

    eprintln!("==> emptying {theirs} with the AWS CLI ({AWSCLI})");
    let (endpoint, region) = (s.endpoint.clone(), s.region.clone());
    let bucket = theirs.clone();
    let (cli_rm_seconds, cli_versions_seconds) =
        tokio::task::spawn_blocking(move || cli_empty(&bin, &endpoint, &region, &bucket))
            .await
            .map_err(|e| e.to_string())??;
    for bucket in [&ours, &theirs] {
        target
            .s3
            .delete_bucket()
            .bucket(bucket.as_str())
            .send()
            .await
            .map_err(|e| format!("deleting {bucket} (not empty?): {e:?}"))?;
    }
    let cli_seconds = cli_rm_seconds + cli_versions_seconds;
    Ok(TeardownFigures {
        objects,
        versions,
        fill_seconds,
        riv_seconds,
        cli_rm_seconds,
        cli_versions_seconds,
        cli_seconds,
        speedup: cli_seconds / riv_seconds.max(f64::EPSILON),
    })
}
