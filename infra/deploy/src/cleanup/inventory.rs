//! Reading one region for `cleanup`: stacks, Riv-tagged buckets, collections, log groups and keys, and the artifact
//! bucket's objects, into an [`Inventory`] that [`plan`](super::plan::plan) judges. Buckets of other regions are
//! skipped (ListBuckets is global).

use super::plan::{ArtifactObject, Found, Inventory, Kind, Leftover, LiveStack};
use crate::buckets::{bucket_riv_tags, for_each_version};
use crate::stack::{aws, in_progress, stack_outputs, DeployError};
use crate::Target;
use aws_sdk_cloudformation::types::StackStatus;
use std::collections::BTreeMap;

/// The leftovers of the target's region, with the time they were judged at: reads the region, lets
/// [`plan`](super::plan::plan) decide, then sizes only the buckets it chose (a live stack's bucket may hold
/// millions of versions, and listing them all would tell nobody anything).
pub async fn survey(target: &Target) -> Result<(i64, Vec<Leftover>), DeployError> {
    let inventory = inventory(target).await?;
    let mut leftovers = super::plan::plan(&inventory);
    for leftover in &mut leftovers {
        if matches!(leftover.kind, Kind::ImageBucket | Kind::AccessLogBucket) {
            let (items, bytes) = bucket_size(target, &leftover.name).await?;
            (leftover.items, leftover.bytes) = (Some(items), Some(bytes));
        }
    }
    Ok((inventory.now, leftovers))
}

/// Reads everything [`plan`](super::plan::plan) decides on in the target's region (buckets unsized).
async fn inventory(target: &Target) -> Result<Inventory, DeployError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let artifact_bucket = crate::artifacts::artifact_bucket_name(target).await?;
    let artifacts = artifact_objects(target, &artifact_bucket).await?;
    Ok(Inventory {
        region: target.region.clone(),
        now,
        stacks: live_stacks(target).await?,
        buckets: tagged_buckets(target).await?,
        collections: collections(target).await?,
        log_groups: log_groups(target).await?,
        keys: crate::cleanup::keys::tagged_keys(target).await?,
        artifact_bucket: artifacts.is_some().then_some(artifact_bucket.name),
        artifacts: artifacts.unwrap_or_default(),
    })
}

async fn live_stacks(target: &Target) -> Result<BTreeMap<String, LiveStack>, DeployError> {
    let mut stacks = BTreeMap::new();
    let mut pages = target
        .cloudformation
        .describe_stacks()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws("cloudformation DescribeStacks"))?;
        for s in page.stacks() {
            let Some(name) = s.stack_name() else { continue };
            let Some(status) = s.stack_status() else {
                continue;
            };
            if *status == StackStatus::DeleteComplete {
                continue;
            }
            let parameters = crate::stack::stack_parameters(s);
            stacks.insert(
                name.to_string(),
                LiveStack {
                    outputs: stack_outputs(s),
                    parameters,
                    changing: in_progress(status),
                },
            );
        }
    }
    Ok(stacks)
}

/// S3 answers `None` (or an empty constraint) for us-east-1 and the legacy `EU` for eu-west-1.
fn bucket_region(constraint: Option<&str>) -> &str {
    match constraint {
        None | Some("") => "us-east-1",
        Some("EU") => "eu-west-1",
        Some(region) => region,
    }
}

/// Buckets of this region that carry a `riv:stack` tag.
pub(crate) async fn tagged_buckets(target: &Target) -> Result<Vec<Found>, DeployError> {
    let listed = target
        .s3
        .list_buckets()
        .send()
        .await
        .map_err(aws("s3 ListBuckets"))?;
    let mut found = Vec::new();
    for b in listed.buckets() {
        let Some(name) = b.name() else { continue };
        let Ok(location) = target.s3.get_bucket_location().bucket(name).send().await else {
            continue; // deleted meanwhile, or not ours to read
        };
        let constraint = location.location_constraint().map(|c| c.as_str());
        if bucket_region(constraint) != target.region {
            continue;
        }
        // A bucket whose tags cannot be read is not provably Riv's: cleanup leaves it alone.
        let Ok((Some(stack), holds)) = bucket_riv_tags(target, name).await else {
            continue;
        };
        found.push(Found {
            name: name.to_string(),
            stack_tag: Some(stack),
            holds,
            bytes: None,
            items: None,
            created: b.creation_date().map(|d| d.secs()),
        });
    }
    Ok(found)
}

/// (object versions and delete markers, bytes) of a bucket.
async fn bucket_size(target: &Target, bucket: &str) -> Result<(u64, u64), DeployError> {
    let (mut items, mut bytes) = (0, 0);
    for_each_version(target, bucket, None, |v| {
        items += 1;
        bytes += v.size;
    })
    .await?;
    Ok((items, bytes))
}

/// Every key of the artifact bucket, its versions summed; `None` when the region has no artifact bucket.
/// The artifact bucket's objects; `None` when this account has no such bucket (one of that name owned by
/// another account is not ours to clean).
async fn artifact_objects(
    target: &Target,
    artifacts: &crate::artifacts::ArtifactBucket,
) -> Result<Option<Vec<ArtifactObject>>, DeployError> {
    let bucket = artifacts.name.as_str();
    let head = target
        .s3
        .head_bucket()
        .bucket(bucket)
        .expected_bucket_owner(&artifacts.owner)
        .send()
        .await;
    if head.is_err() {
        return Ok(None);
    }
    let mut by_key: BTreeMap<String, ArtifactObject> = BTreeMap::new();
    for_each_version(target, bucket, None, |v| {
        let entry = by_key
            .entry(v.key.clone())
            .or_insert_with(|| ArtifactObject {
                key: v.key,
                ..ArtifactObject::default()
            });
        entry.bytes += v.size;
        entry.versions += 1;
        entry.modified = entry.modified.max(v.modified);
    })
    .await?;
    Ok(Some(by_key.into_values().collect()))
}

fn stack_tag(tags: Option<&std::collections::HashMap<String, String>>) -> Option<String> {
    tags?.get(riv_infra::names::STACK_TAG).cloned()
}

fn collection_arn(arn: &str) -> String {
    if arn.starts_with("arn:") {
        arn.to_string()
    } else {
        format!("arn:{arn}")
    }
}

pub(crate) async fn collections(target: &Target) -> Result<Vec<Found>, DeployError> {
    let mut ids = Vec::new();
    let mut pages = target
        .rekognition
        .list_collections()
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws("rekognition ListCollections"))?;
        ids.extend(page.collection_ids().iter().cloned());
    }
    let mut found = Vec::new();
    for id in ids {
        let Ok(described) = target
            .rekognition
            .describe_collection()
            .collection_id(&id)
            .send()
            .await
        else {
            continue; // deleted meanwhile
        };
        let stack_tag = match described.collection_arn() {
            Some(arn) => target
                .rekognition
                .list_tags_for_resource()
                .resource_arn(collection_arn(arn))
                .send()
                .await
                .ok()
                .and_then(|t| stack_tag(t.tags())),
            None => None,
        };
        found.push(Found {
            name: id,
            stack_tag,
            bytes: None,
            items: described.face_count().map(|n| n.max(0) as u64),
            created: described.creation_timestamp().map(|d| d.secs()),
            holds: None,
        });
    }
    Ok(found)
}

/// Log groups under the prefixes Riv names its groups with; tags are read only for those.
async fn log_groups(target: &Target) -> Result<Vec<Found>, DeployError> {
    let mut found = Vec::new();
    for prefix in ["/aws/lambda/", "/aws/vendedlogs/states/"] {
        let mut pages = target
            .logs
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(aws("logs DescribeLogGroups"))?;
            for g in page.log_groups() {
                let Some(name) = g.log_group_name() else {
                    continue;
                };
                let arn = g
                    .log_group_arn()
                    .map(str::to_string)
                    .or_else(|| g.arn().map(|a| a.trim_end_matches(":*").to_string()));
                let stack_tag = match arn {
                    Some(arn) => target
                        .logs
                        .list_tags_for_resource()
                        .resource_arn(arn)
                        .send()
                        .await
                        .ok()
                        .and_then(|t| stack_tag(t.tags())),
                    None => None,
                };
                found.push(Found {
                    name: name.to_string(),
                    stack_tag,
                    bytes: g.stored_bytes().map(|b| b.max(0) as u64),
                    items: None,
                    created: g.creation_time().map(|ms| ms / 1000),
                    holds: None,
                });
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_locations_name_regions_as_s3_spells_them() {
        assert_eq!(bucket_region(None), "us-east-1");
        assert_eq!(bucket_region(Some("")), "us-east-1");
        assert_eq!(bucket_region(Some("EU")), "eu-west-1");
        assert_eq!(bucket_region(Some("ap-south-1")), "ap-south-1");
    }

    #[test]
    fn collection_arns_get_their_prefix() {
        assert_eq!(
            collection_arn("aws:rekognition:eu-west-1:1:collection/x"),
            "arn:aws:rekognition:eu-west-1:1:collection/x"
        );
        assert_eq!(collection_arn("arn:aws:x"), "arn:aws:x");
    }
}
