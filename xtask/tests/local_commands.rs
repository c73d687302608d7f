//! `cargo xtask cleanup` and `reconcile` against the local stack (one LocalStack for both).
//!
//! Cleanup: a stack deleted by CloudFormation alone leaves its image bucket, access-log bucket and KMS key
//! (retained by design; the key is scheduled for deletion, not deleted); with a
//! collection and a log group it also left, cleanup lists them on `--dry-run` without touching them, refuses to
//! delete without `--yes` when nobody can confirm, removes them with `--yes`, and never touches an untagged
//! bucket or a Riv bucket of another region.
//!
//! Reconcile: a face planted under a user's id and an image nobody names are listed on `--dry-run`, left alone
//! without `--yes`, removed with it; the registered user's own face, image and records stay.
//!
//! The fleet (`fleet.rs`, on the same LocalStack): plan, deploy, status, drift and destroy across three regions.

use riv_deploy::Target;
use riv_e2e::{stack, unique, workspace_root};
use riv_launcher::up as stack_local;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};

#[path = "local_commands/fleet.rs"]
mod fleet;

const REGION: &str = "ap-southeast-2";
const OTHER_REGION: &str = "ca-central-1";
const STACK: &str = "Riv-Cleanup";

fn xtask(endpoint: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["--output", "json", "cleanup", "--regions", REGION])
        .args(["--endpoint-url", endpoint])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("xtask runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn leftover_names(stdout: &str) -> Vec<(String, String)> {
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON report");
    report["leftovers"]
        .as_array()
        .expect("a leftovers list")
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap_or_default().to_string(),
                l["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn tagged_bucket(target: &Target, name: &str, tag: Option<&str>) {
    riv_deploy::stack::create_bucket(target, name)
        .await
        .unwrap();
    if let Some(stack) = tag {
        let tag = aws_sdk_s3::types::Tag::builder()
            .key(riv_infra::names::STACK_TAG)
            .value(stack)
            .build()
            .unwrap();
        target
            .s3
            .put_bucket_tagging()
            .bucket(name)
            .tagging(
                aws_sdk_s3::types::Tagging::builder()
                    .tag_set(tag)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    target
        .s3
        .put_object()
        .bucket(name)
        .key("kept.txt")
        .body(b"not riv's".to_vec().into())
        .send()
        .await
        .unwrap();
}

async fn bucket_exists(target: &Target, name: &str) -> bool {
    target.s3.head_bucket().bucket(name).send().await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_lists_then_removes_what_a_deleted_stack_left_and_nothing_else() {
    let endpoint = stack().endpoint.clone();
    let target = Target::local(&endpoint, REGION).await;
    let manifest = riv_deploy::build::Manifest::load(&workspace_root())
        .expect("target/lambda/manifest.json: run cargo xtask build --release");
    // With a key of its own: CloudFormation retains it with the buckets it encrypts.
    let params = BTreeMap::from([("KmsKey".to_string(), "create".to_string())]);
    let deployed = stack_local::deploy(&target, STACK, &manifest, &params, &|m| {
        eprintln!("==> {m}")
    })
    .await
    .unwrap();
    let image_bucket = deployed.outputs[riv_infra::names::output::IMAGE_BUCKET].clone();
    let log_bucket = deployed.outputs[riv_infra::names::output::ACCESS_LOG_BUCKET].clone();
    let key = deployed.outputs[riv_infra::names::output::KMS_KEY_ARN].clone();
    for body in ["v1", "v2"] {
        target
            .s3
            .put_object()
            .bucket(&image_bucket)
            .key("faces/someone/1.jpg")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    // CloudFormation alone: the image bucket stays, as its DeletionPolicy says.
    riv_deploy::stack::delete_stack(&target, STACK)
        .await
        .unwrap();
    assert!(bucket_exists(&target, &image_bucket).await);
    assert!(bucket_exists(&target, &log_bucket).await);
    // What a failed collection delete and a late Lambda log write leave.
    let collection = format!("{STACK}-7");
    target
        .rekognition
        .create_collection()
        .collection_id(&collection)
        .tags(riv_infra::names::STACK_TAG, STACK)
        .send()
        .await
        .unwrap();
    // The stack's log group as the template tags it, and someone else's group named like one of Riv's.
    let log_group = format!("/aws/lambda/{STACK}-index-face");
    target
        .logs
        .create_log_group()
        .log_group_name(&log_group)
        .tags(riv_infra::names::STACK_TAG, STACK)
        .send()
        .await
        .unwrap();
    let foreign_group = format!("/aws/lambda/{}-rollback", unique("payments"));
    target
        .logs
        .create_log_group()
        .log_group_name(&foreign_group)
        .send()
        .await
        .unwrap();
    let untagged = unique("not-riv").to_lowercase();
    tagged_bucket(&target, &untagged, None).await;
    let elsewhere = Target::local(&endpoint, OTHER_REGION).await;
    let other_region_bucket = unique("riv-other-region").to_lowercase();
    tagged_bucket(&elsewhere, &other_region_bucket, Some(STACK)).await;

    let (ok, stdout, stderr) = xtask(&endpoint, &["--dry-run"]);
    assert!(ok, "{stderr}");
    let listed = leftover_names(&stdout);
    for expected in [
        ("ImageBucket", image_bucket.as_str()),
        ("AccessLogBucket", log_bucket.as_str()),
        ("Key", key.as_str()),
        ("Collection", collection.as_str()),
        ("LogGroup", log_group.as_str()),
    ] {
        assert!(
            listed
                .iter()
                .any(|(k, n)| k == expected.0 && n == expected.1),
            "{expected:?} not listed in {listed:?}"
        );
    }
    assert!(
        !listed
            .iter()
            .any(|(_, n)| n == &untagged || n == &other_region_bucket || n == &foreign_group),
        "{listed:?}"
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let sized = report["leftovers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["name"] == image_bucket.as_str());
    // Deploy published the portal's files there too.
    let portal = &riv_infra::portal::FILES;
    let portal_bytes: usize = portal.iter().map(|f| f.bytes.len()).sum();
    assert!(
        sized.is_some_and(|l| l["items"] == 2 + portal.len() && l["bytes"] == 4 + portal_bytes),
        "the retained bucket's two versions of 2 bytes and the portal's files: {sized:?}"
    );
    assert!(
        bucket_exists(&target, &image_bucket).await,
        "--dry-run deletes nothing"
    );

    let (ok, _, stderr) = xtask(&endpoint, &[]);
    assert!(!ok && stderr.contains("--yes"), "{stderr}");
    assert!(bucket_exists(&target, &image_bucket).await);

    let (ok, stdout, stderr) = xtask(&endpoint, &["--yes"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(report["deleted"].as_u64() >= Some(3), "{report}");
    assert!(!bucket_exists(&target, &image_bucket).await);
    assert!(!bucket_exists(&target, &log_bucket).await);
    let key_state = target
        .kms
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .and_then(|m| m.key_state().cloned());
    assert_eq!(
        key_state,
        Some(aws_sdk_kms::types::KeyState::PendingDeletion),
        "the stack's key is scheduled for deletion"
    );
    assert!(target
        .rekognition
        .describe_collection()
        .collection_id(&collection)
        .send()
        .await
        .is_err());
    let groups = target
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&log_group)
        .send()
        .await
        .unwrap();
    assert!(groups.log_groups().is_empty(), "{groups:?}");
    let foreign = target
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&foreign_group)
        .send()
        .await
        .unwrap();
    assert_eq!(
        foreign.log_groups().len(),
        1,
        "an untagged group was deleted"
    );
    assert!(bucket_exists(&target, &untagged).await);
    assert!(bucket_exists(&elsewhere, &other_region_bucket).await);

    let (ok, stdout, stderr) = xtask(&endpoint, &["--dry-run"]);
    assert!(ok, "{stderr}");
    assert_eq!(leftover_names(&stdout), Vec::<(String, String)>::new());
}

fn reconcile(endpoint: &str, stack: &str, args: &[&str]) -> (bool, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "--output",
            "json",
            "reconcile",
            "--region",
            stack_local::REGION,
        ])
        .args(["--stack", stack, "--endpoint-url", endpoint])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("xtask runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = match out.status.success() {
        true => serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("one JSON report ({e}): {stdout}\n{stderr}")),
        false => serde_json::Value::Null,
    };
    (out.status.success(), report, stderr)
}

fn found(report: &serde_json::Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .expect("a findings list")
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().expect("a kind").to_string(),
                f["id"].as_str().expect("an id").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_lists_then_removes_what_no_record_holds_and_nothing_else() {
    let s = stack();
    let user = unique("reconciled");
    let image = |who: &str| riv_e2e::photo_bytes(riv_e2e::Case::Selfie, who);
    let body = serde_json::json!({"UserId": user, "Image": riv_e2e::b64(&image(&user))});
    let (status, answer) = s.post("register", &body).await;
    assert_eq!(status, 200, "{answer}");
    let before = s.user_state(&user).await.expect("state readable");
    let planted = s
        .plant_face(&user, &image(&unique("intruder")))
        .await
        .expect("a face planted");
    let target = Target::local(&s.endpoint, &s.region).await;
    let stray = format!("faces/{user}/stray.jpg");
    target
        .s3
        .put_object()
        .bucket(
            s.output(riv_infra::names::output::IMAGE_BUCKET)
                .expect("a bucket output"),
        )
        .key(&stray)
        .body(image(&user).into())
        .send()
        .await
        .expect("a stray image written");

    let (ok, dry, stderr) = reconcile(&s.endpoint, &s.name, &["--dry-run"]);
    assert!(ok, "{stderr}");
    let listed = found(&dry);
    assert!(
        listed.contains(&("orphan-face".into(), planted.clone())),
        "{listed:?}"
    );
    assert!(
        listed.contains(&("orphan-image".into(), stray.clone())),
        "{listed:?}"
    );
    let (ok, _, stderr) = reconcile(&s.endpoint, &s.name, &[]);
    assert!(!ok, "fixed without --yes and without a terminal");
    assert!(stderr.contains("pass --yes"), "{stderr}");
    assert!(s
        .user_state(&user)
        .await
        .expect("state readable")
        .faces
        .contains(&planted));

    let (ok, fixed, stderr) = reconcile(&s.endpoint, &s.name, &["--yes"]);
    assert!(ok, "{stderr}");
    assert!(fixed["fixed"].as_u64().expect("a count") >= 2, "{fixed}");
    let after = s.user_state(&user).await.expect("state readable");
    assert_eq!(
        after, before,
        "only the planted face and the stray image went"
    );
    let (ok, again, stderr) = reconcile(&s.endpoint, &s.name, &["--dry-run"]);
    assert!(ok, "{stderr}");
    let left = found(&again);
    assert!(
        !left.iter().any(|(_, id)| *id == planted || *id == stray),
        "{left:?}"
    );
}
