//! What old Riv stacks left behind, decided from an inventory of one region without calling AWS: image and
//! access-log buckets the stack retained on delete, its KMS key (retained with them), collections, function and template artifacts no live stack references, and log
//! groups (Lambda recreates a function's group when a late invocation logs after the stack is gone).
//!
//! The rules are conservative: only resources tagged `riv:stack` (or named exactly as Riv names them) are
//! candidates, nothing of a stack that is still changing is touched, and artifacts younger than a grace period
//! are kept because a deploy may be about to reference them.

use riv_infra::names::{output, LogGroupName, ACCESS_LOGS};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What kind of leftover, in the order cleanup deletes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Kind {
    ImageBucket,
    /// After the image buckets: S3 logs their emptying into it.
    AccessLogBucket,
    Collection,
    Artifact,
    LogGroup,
    /// Last: scheduled for deletion once what it encrypted is gone.
    Key,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::ImageBucket => "image bucket",
            Kind::AccessLogBucket => "access-log bucket",
            Kind::Collection => "collection",
            Kind::Artifact => "artifact",
            Kind::LogGroup => "log group",
            Kind::Key => "KMS key",
        }
    }
}

/// One resource cleanup would delete, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Leftover {
    pub region: String,
    pub kind: Kind,
    /// Bucket name, collection id, `s3://bucket/key` of an artifact, or log group name.
    pub name: String,
    pub stack: Option<String>,
    /// Stored bytes (all object versions of a bucket, stored bytes of a log group).
    pub bytes: Option<u64>,
    /// Object versions of a bucket, faces of a collection, versions of an artifact.
    pub items: Option<u64>,
    /// Creation (or last modification) time, seconds since the epoch.
    pub created: Option<i64>,
    pub why: String,
}

/// A stack that exists in the region (any status but `DELETE_COMPLETE`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveStack {
    pub outputs: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
    /// `*_IN_PROGRESS`: its outputs and parameters may not name what it is creating yet.
    pub changing: bool,
}

/// A bucket, collection, log group or KMS key with its `riv:stack` tag, if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// Bucket name, collection id, log group name, or a key's ARN.
    pub name: String,
    pub stack_tag: Option<String>,
    /// A bucket's `riv:bucket` tag: what it holds (`images` or `access-logs`); untagged buckets hold images.
    pub holds: Option<String>,
    pub bytes: Option<u64>,
    pub items: Option<u64>,
    pub created: Option<i64>,
}

/// One key of the artifact bucket, all its versions together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArtifactObject {
    pub key: String,
    pub bytes: u64,
    pub versions: u64,
    pub modified: i64,
}

/// Everything cleanup looked at in one region.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub region: String,
    pub now: i64,
    pub stacks: BTreeMap<String, LiveStack>,
    pub buckets: Vec<Found>,
    pub collections: Vec<Found>,
    pub log_groups: Vec<Found>,
    /// Customer-managed keys tagged `riv:stack`, not already pending deletion.
    pub keys: Vec<Found>,
    pub artifact_bucket: Option<String>,
    pub artifacts: Vec<ArtifactObject>,
}

/// The regions `--all-regions` visits: every commercial region enabled by default that offers Rekognition's
/// face APIs, which Riv needs (`--regions` reaches any other).
pub const RIV_REGIONS: [&str; 13] = crate::regions::REKOGNITION_DEFAULT;

/// Artifacts younger than this are kept: a deploy uploads them before its change set references them.
pub const ARTIFACT_GRACE_SECS: i64 = 3600;

/// The leftovers of one region, sorted by kind then name.
pub fn plan(inv: &Inventory) -> Vec<Leftover> {
    let mut out = Vec::new();
    let owned = |stack: &str, output: &str, name: &str| -> Result<(), String> {
        match inv.stacks.get(stack) {
            None => Err(format!("stack {stack} no longer exists")),
            Some(s) if s.changing => Ok(()),
            Some(s) => {
                let named = s
                    .outputs
                    .get(output)
                    .is_some_and(|v| v.split(',').any(|n| n == name));
                if named {
                    Ok(())
                } else {
                    Err(format!("stack {stack} no longer uses it"))
                }
            }
        }
    };
    let leftover = |kind: Kind, found: &Found, stack: &str, why: String| Leftover {
        region: inv.region.clone(),
        kind,
        name: found.name.clone(),
        stack: Some(stack.to_string()),
        bytes: found.bytes,
        items: found.items,
        created: found.created,
        why,
    };
    for f in &inv.buckets {
        let Some(stack) = &f.stack_tag else { continue };
        let (kind, output) = match f.holds.as_deref() {
            Some(ACCESS_LOGS) => (Kind::AccessLogBucket, output::ACCESS_LOG_BUCKET),
            _ => (Kind::ImageBucket, output::IMAGE_BUCKET),
        };
        if let Err(why) = owned(stack, output, &f.name) {
            out.push(leftover(kind, f, stack, why));
        }
    }
    for f in &inv.collections {
        let Some(stack) = &f.stack_tag else { continue };
        if let Err(why) = owned(stack, output::COLLECTIONS, &f.name) {
            out.push(leftover(Kind::Collection, f, stack, why));
        }
    }
    // A key goes only with its stack: a live stack's bucket may still hold objects encrypted with a key it no
    // longer names (KmsKey changed), and they would become unreadable.
    for k in &inv.keys {
        let Some(stack) = &k.stack_tag else { continue };
        if !inv.stacks.contains_key(stack) {
            out.push(leftover(
                Kind::Key,
                k,
                stack,
                format!("stack {stack} no longer exists"),
            ));
        }
    }
    // A log group's name is anyone's to choose (`/aws/lambda/payments-rollback` reads like stack `payments`'s
    // rollback function): only a group that carries the stack's tag, and whose name says the same stack, is
    // Riv's. A group Lambda recreated without tags after its stack went is left for its owner to judge.
    for g in &inv.log_groups {
        let Some(tag) = g.stack_tag.as_deref() else {
            continue;
        };
        let named = LogGroupName::parse(&g.name).is_some_and(|n| n.stack() == tag);
        if named && !inv.stacks.contains_key(tag) {
            out.push(leftover(
                Kind::LogGroup,
                g,
                tag,
                format!("stack {tag} no longer exists"),
            ));
        }
    }
    out.extend(artifacts(inv));
    out.sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
    out
}

/// Function zips no live stack's parameters name, and templates other than each live stack's newest.
fn artifacts(inv: &Inventory) -> Vec<Leftover> {
    let Some(bucket) = &inv.artifact_bucket else {
        return Vec::new();
    };
    if inv.stacks.values().any(|s| s.changing) {
        return Vec::new();
    }
    let referenced: BTreeSet<&str> = inv
        .stacks
        .values()
        .flat_map(|s| &s.parameters)
        // `CodeKey`, and the `<Function>CodeKey` of stacks deployed before the functions shared one bootstrap.
        .filter(|(k, _)| k.ends_with("CodeKey"))
        .map(|(_, v)| v.as_str())
        .collect();
    let mut newest_template: BTreeMap<&str, &ArtifactObject> = BTreeMap::new();
    for a in &inv.artifacts {
        if let Some(stack) = template_stack(&a.key) {
            let newest = newest_template.entry(stack).or_insert(a);
            if a.modified > newest.modified {
                *newest = a;
            }
        }
    }
    inv.artifacts
        .iter()
        .filter(|a| inv.now - a.modified >= ARTIFACT_GRACE_SECS)
        .filter_map(|a| {
            let (stack, why) = match template_stack(&a.key) {
                Some(stack) if !inv.stacks.contains_key(stack) => {
                    (Some(stack), format!("stack {stack} no longer exists"))
                }
                Some(stack) if newest_template.get(stack).map(|n| &n.key) != Some(&a.key) => {
                    (Some(stack), format!("an older template of {stack}"))
                }
                Some(_) => return None,
                None if a.key.starts_with("functions/") && !referenced.contains(a.key.as_str()) => {
                    (None, "no live stack runs this code".to_string())
                }
                None => return None,
            };
            Some(Leftover {
                region: inv.region.clone(),
                kind: Kind::Artifact,
                name: format!("s3://{bucket}/{}", a.key),
                stack: stack.map(str::to_string),
                bytes: Some(a.bytes),
                items: Some(a.versions),
                created: Some(a.modified),
                why,
            })
        })
        .collect()
}

/// `templates/<stack>/<sha256>.yaml` → the stack.
fn template_stack(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("templates/")?;
    let (stack, file) = rest.split_once('/')?;
    (file.ends_with(".yaml") && !stack.is_empty()).then_some(stack)
}

/// `1.5 GiB`-style sizes for the table.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `3d`, `5h`, `12m`, `40s`: how long ago.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        s if s >= 86_400 => format!("{}d", s / 86_400),
        s if s >= 3_600 => format!("{}h", s / 3_600),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn found(name: &str, tag: Option<&str>) -> Found {
        Found {
            name: name.into(),
            stack_tag: tag.map(str::to_string),
            created: Some(NOW - 86_400),
            ..Found::default()
        }
    }

    fn live(outputs: &[(&str, &str)], parameters: &[(&str, &str)]) -> LiveStack {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        LiveStack {
            outputs: map(outputs),
            parameters: map(parameters),
            changing: false,
        }
    }

    fn artifact(key: &str, age: i64) -> ArtifactObject {
        ArtifactObject {
            key: key.into(),
            bytes: 10,
            versions: 1,
            modified: NOW - age,
        }
    }

    fn inventory() -> Inventory {
        Inventory {
            region: "eu-west-1".into(),
            now: NOW,
            stacks: BTreeMap::from([(
                "Riv-Prod".to_string(),
                live(
                    &[
                        ("ImageBucket", "prod-images-2"),
                        ("Collections", "Riv-Prod-1,Riv-Prod-2"),
                    ],
                    &[("CodeKey", "functions/bootstrap/bbb.zip")],
                ),
            )]),
            ..Inventory::default()
        }
    }

    fn names(plan: &[Leftover]) -> Vec<&str> {
        plan.iter().map(|l| l.name.as_str()).collect()
    }

    #[test]
    fn tagged_buckets_and_collections_of_dead_stacks_are_leftovers() {
        let mut inv = inventory();
        inv.buckets = vec![
            found("gone-images", Some("Riv-Gone")),
            found("prod-images-1", Some("Riv-Prod")),
            found("prod-images-2", Some("Riv-Prod")),
            found("someone-elses", None),
        ];
        inv.collections = vec![
            found("Riv-Gone-1", Some("Riv-Gone")),
            found("Riv-Prod-1", Some("Riv-Prod")),
            found("Riv-Prod-2", Some("Riv-Prod")),
            found("untagged-1", None),
        ];
        let plan = plan(&inv);
        assert_eq!(names(&plan), ["gone-images", "prod-images-1", "Riv-Gone-1"]);
        assert_eq!(plan[0].why, "stack Riv-Gone no longer exists");
        assert_eq!(plan[1].why, "stack Riv-Prod no longer uses it");
        assert_eq!(plan[2].kind, Kind::Collection);
    }

    #[test]
    fn access_log_buckets_and_keys_go_with_their_stack() {
        let mut inv = inventory();
        let logs = |name: &str, stack: &str| Found {
            holds: Some(ACCESS_LOGS.into()),
            ..found(name, Some(stack))
        };
        inv.stacks
            .get_mut("Riv-Prod")
            .unwrap()
            .outputs
            .insert("AccessLogBucket".into(), "prod-logs".into());
        inv.buckets = vec![
            logs("prod-logs", "Riv-Prod"),
            logs("gone-logs", "Riv-Gone"),
            // Named as the stack's image bucket: an access-log bucket is judged by its own output.
            logs("prod-images-2", "Riv-Prod"),
        ];
        inv.keys = vec![
            found("arn:aws:kms:eu-west-1:1:key/gone", Some("Riv-Gone")),
            found("arn:aws:kms:eu-west-1:1:key/old-prod", Some("Riv-Prod")),
            found("arn:aws:kms:eu-west-1:1:key/untagged", None),
        ];
        let plan = plan(&inv);
        assert_eq!(
            names(&plan),
            [
                "gone-logs",
                "prod-images-2",
                "arn:aws:kms:eu-west-1:1:key/gone"
            ]
        );
        assert_eq!(plan[0].kind, Kind::AccessLogBucket);
        assert_eq!(plan[2].kind, Kind::Key);
        assert_eq!(plan[2].why, "stack Riv-Gone no longer exists");
    }

    #[test]
    fn nothing_of_a_stack_that_is_changing_is_touched() {
        let mut inv = inventory();
        inv.stacks.insert(
            "Riv-New".into(),
            LiveStack {
                changing: true,
                ..LiveStack::default()
            },
        );
        inv.buckets = vec![found("new-images", Some("Riv-New"))];
        inv.artifact_bucket = Some("riv-artifacts".into());
        inv.artifacts = vec![artifact("functions/bootstrap/old.zip", 86_400)];
        assert!(plan(&inv).is_empty());
    }

    #[test]
    fn log_groups_of_dead_stacks_need_the_stacks_tag_and_name() {
        let mut inv = inventory();
        inv.log_groups = vec![
            found("/aws/lambda/Riv-Gone-index-face", Some("Riv-Gone")),
            found("/aws/vendedlogs/states/Riv-Gone", Some("Riv-Gone")),
            // Named like Riv's, but untagged: anyone may own it.
            found("/aws/lambda/Riv-Old-index-face", None),
            found("/aws/vendedlogs/states/Riv-Old", None),
            // Tagged for one stack, named for another: not provably that stack's.
            found("/aws/lambda/Other-index-face", Some("Riv-Gone")),
            // Tagged, but not a name Riv gives.
            found("/aws/lambda/Tagged-Old-thing", Some("Tagged-Old")),
            // A live stack's.
            found("/aws/lambda/Riv-Prod-index-face", Some("Riv-Prod")),
        ];
        let plan = plan(&inv);
        assert_eq!(
            names(&plan),
            [
                "/aws/lambda/Riv-Gone-index-face",
                "/aws/vendedlogs/states/Riv-Gone",
            ]
        );
        assert!(plan.iter().all(|l| l.kind == Kind::LogGroup));
    }

    #[test]
    fn an_untagged_group_named_like_a_riv_function_is_not_planned() {
        let mut inv = Inventory {
            region: "eu-west-1".into(),
            now: NOW,
            ..Inventory::default()
        };
        inv.log_groups = vec![found("/aws/lambda/payments-rollback", None)];
        assert!(plan(&inv).is_empty(), "{:?}", plan(&inv));
        inv.log_groups = vec![found("/aws/vendedlogs/states/payments", None)];
        assert!(plan(&inv).is_empty());
    }

    #[test]
    fn artifacts_no_live_stack_references_go_after_the_grace_period() {
        let mut inv = inventory();
        inv.artifact_bucket = Some("riv-artifacts-1-eu-west-1".into());
        inv.artifacts = vec![
            artifact("functions/bootstrap/aaa.zip", 7_200),
            artifact("functions/bootstrap/bbb.zip", 7_200),
            artifact("functions/bootstrap/fresh.zip", 60),
            artifact("templates/Riv-Prod/old.yaml", 9_000),
            artifact("templates/Riv-Prod/new.yaml", 7_200),
            artifact("templates/Riv-Gone/x.yaml", 9_000),
            artifact("notes/readme.txt", 9_000),
        ];
        let plan = plan(&inv);
        assert_eq!(
            names(&plan),
            [
                "s3://riv-artifacts-1-eu-west-1/functions/bootstrap/aaa.zip",
                "s3://riv-artifacts-1-eu-west-1/templates/Riv-Gone/x.yaml",
                "s3://riv-artifacts-1-eu-west-1/templates/Riv-Prod/old.yaml",
            ]
        );
        assert_eq!(plan[2].why, "an older template of Riv-Prod");
    }

    #[test]
    fn sizes_and_ages_read_like_people_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(human_age(40), "40s");
        assert_eq!(human_age(3 * 3600 + 5), "3h");
        assert_eq!(human_age(-5), "0s");
        assert_eq!(human_age(2 * 86_400), "2d");
    }
}
