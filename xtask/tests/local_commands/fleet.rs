//! `cargo xtask fleet …` on the local stack, which serves many regions at once: a three-region fleet file
//! planned, deployed canary first, changed, failed in one region and converged, drifted out of band and
//! repaired, then destroyed.

use riv_deploy::Target;
use riv_e2e::{stack, unique, workspace_root};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};

/// Runs `cargo xtask --output json <args>` against the local stack: whether it succeeded, its JSON document,
/// and its stderr.
fn xtask_json(
    endpoint: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (bool, serde_json::Value, String) {
    let (code, document, stderr) = xtask_json_code(endpoint, args, env);
    (code == Some(0), document, stderr)
}

/// [`xtask_json`] with the exit code (3: changes found).
fn xtask_json_code(
    endpoint: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Option<i32>, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["--output", "json"])
        .args(args)
        .args(["--endpoint-url", endpoint])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("xtask runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // A command refused before it did anything prints no document.
    let document = if out.stdout.is_empty() && !out.status.success() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("one JSON document from {args:?}: {e}: {stderr}"))
    };
    (out.status.code(), document, stderr)
}

/// `fleet plan`: its exit code (0 nothing would change, 3 something would), rows and stderr.
fn plan(endpoint: &str, file: &std::path::Path) -> (Option<i32>, serde_json::Value, String) {
    let file = file.to_str().expect("a UTF-8 path");
    xtask_json_code(endpoint, &["fleet", "plan", "--fleet", file], &[])
}

/// A fleet command's rows by region (`fleet plan`, `deploy`, `drift` answer one row per region).
fn by_region(rows: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    rows.as_array()
        .expect("a list of regions")
        .iter()
        .map(|r| {
            (
                r["region"].as_str().expect("a region").to_string(),
                r.clone(),
            )
        })
        .collect()
}

fn fleet(
    endpoint: &str,
    command: &str,
    file: &std::path::Path,
    extra: &[&str],
) -> (bool, serde_json::Value, String) {
    let file = file.to_str().expect("a UTF-8 path");
    let mut args = vec!["fleet", command, "--fleet", file];
    args.extend_from_slice(extra);
    xtask_json(endpoint, &args, &[])
}

/// The buckets, tables and collections of `stack` in the target's region (bucket names are lower case).
async fn left_in(target: &Target, stack: &str) -> Vec<String> {
    let lower = stack.to_lowercase();
    let mut left = Vec::new();
    let buckets = target
        .s3
        .list_buckets()
        .send()
        .await
        .expect("buckets listed");
    for b in buckets.buckets() {
        let name = b.name().unwrap_or_default();
        if !name.starts_with(&lower) {
            continue;
        }
        // LocalStack lists every region's buckets: only this region's count.
        let location = target
            .s3
            .get_bucket_location()
            .bucket(name)
            .send()
            .await
            .expect("bucket location read");
        let region = location
            .location_constraint()
            .map(|c| c.as_str().to_string())
            .unwrap_or_default();
        if region == target.region {
            left.push(format!("bucket {name}"));
        }
    }
    let tables = target
        .dynamodb
        .list_tables()
        .send()
        .await
        .expect("tables listed");
    left.extend(
        tables
            .table_names()
            .iter()
            .filter(|t| t.starts_with(stack))
            .map(|t| format!("table {t}")),
    );
    let collections = target
        .rekognition
        .list_collections()
        .send()
        .await
        .expect("collections listed");
    left.extend(
        collections
            .collection_ids()
            .iter()
            .filter(|c| c.starts_with(stack))
            .map(|c| format!("collection {c}")),
    );
    left
}

/// The (action, logical id) pairs of a plan row.
fn changes(row: &serde_json::Value) -> Vec<(String, String)> {
    row["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["action"].as_str().unwrap_or_default().to_string(),
                c["logical_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Each difference of a drift row as (resource, property, expected, actual).
fn differences(row: &serde_json::Value) -> Vec<(String, String, String, String)> {
    row["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            let field = |k: &str| d[k].as_str().unwrap_or_default().to_string();
            (
                field("resource"),
                field("property"),
                field("expected"),
                field("actual"),
            )
        })
        .collect()
}

/// The whole fleet on the local stack, three regions: plan (three creates), deploy (canary, then the other two
/// at once, all serving), plan again (no change), one parameter changed (exactly that update); a region whose
/// deploy fails leaves the others deployed, is named with its failing resource, and converges once the file is
/// fixed; three out-of-band changes are each reported by drift and put back by the next deploy; status tells
/// the release and the parameters that differ from the file; destroy leaves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_plans_deploys_converges_reports_drift_and_destroys() {
    const REGIONS: [&str; 3] = ["eu-west-2", "us-west-1", "ap-northeast-2"];
    let endpoint = stack().endpoint.clone();
    let name = unique("Riv-Fleet");
    let dir = workspace_root().join("target").join("tmp");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.fleet.yaml"));
    // `extra[i]` goes under region i's entry.
    let write = |extra: [&str; 3]| {
        let mut text = format!("defaults:\n  stack: {name}\nstacks:\n");
        for (region, extra) in REGIONS.iter().zip(extra) {
            text.push_str(&format!("  - region: {region}\n{extra}"));
        }
        std::fs::write(&file, text).unwrap();
    };
    write(["", "", ""]);

    let (code, rows, stderr) = plan(&endpoint, &file);
    assert_eq!(code, Some(3), "a plan with changes exits 3: {stderr}");
    let rows = by_region(&rows);
    for region in REGIONS {
        assert_eq!(
            rows[region]["action"], "create",
            "{region}: {}",
            rows[region]
        );
        let target = Target::local(&endpoint, region).await;
        assert_eq!(
            riv_deploy::stack::status(&target, &name).await.unwrap(),
            None,
            "planning left a stack in {region}"
        );
    }

    let (ok, _, stderr) = fleet(&endpoint, "deploy", &file, &[]);
    assert!(
        !ok && stderr.contains("pass --yes"),
        "deployed without confirmation: {stderr}"
    );
    let (ok, rows, stderr) = fleet(&endpoint, "deploy", &file, &["--yes"]);
    assert!(ok, "{stderr}");
    let rows = by_region(&rows);
    let canary = &rows[REGIONS[0]];
    assert_eq!(canary["result"], "deployed", "{canary}");
    for region in &REGIONS[1..] {
        let row = &rows[*region];
        assert_eq!(row["result"], "deployed", "{row}");
        assert!(
            row["started_at"].as_f64().unwrap() >= canary["finished_at"].as_f64().unwrap(),
            "{region} started before the canary finished: {row} / {canary}"
        );
    }
    let (a, b) = (&rows[REGIONS[1]], &rows[REGIONS[2]]);
    assert!(
        a["started_at"].as_f64().unwrap() < b["finished_at"].as_f64().unwrap()
            && b["started_at"].as_f64().unwrap() < a["finished_at"].as_f64().unwrap(),
        "the two after the canary did not run at once: {a} / {b}"
    );
    for region in REGIONS {
        let api = rows[region]["detail"]
            .as_str()
            .expect("the API URL")
            .to_string();
        let (status, answer) =
            riv_e2e::post_json(&format!("{api}/auth"), &serde_json::json!({})).await;
        assert_eq!(status, 400, "{region} does not serve its API: {answer}");
    }

    let (code, rows, stderr) = plan(&endpoint, &file);
    assert_eq!(code, Some(0), "a plan without changes exits 0: {stderr}");
    for (region, row) in by_region(&rows) {
        assert_eq!(row["action"], "no-change", "{region}: {row}");
    }

    write(["    parameters:\n      MaxPose: 30\n", "", ""]);
    let (code, rows, stderr) = plan(&endpoint, &file);
    assert_eq!(code, Some(3), "{stderr}");
    let rows = by_region(&rows);
    assert_eq!(rows[REGIONS[0]]["action"], "update", "{}", rows[REGIONS[0]]);
    assert_eq!(
        changes(&rows[REGIONS[0]]),
        vec![("Modify".to_string(), "DetectFacesFunction".to_string())],
        "MaxPose reaches detect-faces alone"
    );
    for region in &REGIONS[1..] {
        assert_eq!(rows[*region]["action"], "no-change", "{}", rows[*region]);
    }
    let (ok, status, stderr) = fleet(&endpoint, "status", &file, &[]);
    assert!(ok, "{stderr}");
    let stacks = by_region(&status["stacks"]);
    let differs = stacks[REGIONS[0]]["differs"].as_array().expect("differs");
    assert_eq!(differs.len(), 1, "{status}");
    assert_eq!(
        (&differs[0]["name"], &differs[0]["file"]),
        (&"MaxPose".into(), &"30".into())
    );
    assert_eq!(
        differs[0]["deployed"].as_str().unwrap().parse::<f64>(),
        Ok(45.0),
        "{status}"
    );
    for region in REGIONS {
        let row = &stacks[region];
        assert!(
            row["status"].as_str().unwrap().ends_with("_COMPLETE"),
            "{row}"
        );
        assert_eq!(row["stamp"]["version"], env!("CARGO_PKG_VERSION"), "{row}");
        assert_eq!(
            row["stamp"]["template"].as_str().map(str::len),
            Some(16),
            "{row}"
        );
    }

    // The third region's deploy fails; the other two go on, and the first takes its new MaxPose.
    write([
        "    parameters:\n      MaxPose: 30\n",
        "",
        "    parameters:\n      InjectDeployFailure: true\n",
    ]);
    // Built as another commit would be: the canary's update carries that commit's tag.
    let file_arg = file.to_str().expect("a UTF-8 path");
    let (ok, rows, stderr) = xtask_json(
        &endpoint,
        &["fleet", "deploy", "--fleet", file_arg, "--yes"],
        &[("RIV_COMMIT", "0ther0c0mm1t")],
    );
    assert!(!ok, "a failed region must fail the command: {stderr}");
    let rows = by_region(&rows);
    assert_eq!(
        rows[REGIONS[0]]["result"], "deployed",
        "{}",
        rows[REGIONS[0]]
    );
    assert_eq!(
        rows[REGIONS[1]]["result"], "unchanged",
        "{}",
        rows[REGIONS[1]]
    );
    let failed = &rows[REGIONS[2]];
    assert_eq!(failed["result"], "FAILED", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("InjectedDeployFailure (AWS::Lambda::Function)"),
        "the summary does not name the failing resource: {failed}"
    );
    let (ok, status, stderr) = fleet(&endpoint, "status", &file, &[]);
    assert!(ok, "{stderr}");
    let stacks = by_region(&status["stacks"]);
    assert_eq!(
        stacks[REGIONS[0]]["stamp"]["commit"], "0ther0c0mm1t",
        "{status}"
    );
    assert_eq!(stacks[REGIONS[0]]["other_commit"], true, "{status}");
    assert_eq!(stacks[REGIONS[1]]["other_commit"], false, "{status}");
    assert_eq!(
        stacks[REGIONS[1]]["stamp"]["commit"], status["commit"],
        "{status}"
    );

    write(["    parameters:\n      MaxPose: 30\n", "", ""]);
    let (ok, rows, stderr) = fleet(&endpoint, "deploy", &file, &["--yes"]);
    assert!(ok, "the rerun did not converge: {stderr}");
    for (region, row) in by_region(&rows) {
        assert_ne!(row["result"], "FAILED", "{region}: {row}");
    }
    let (code, rows, stderr) = plan(&endpoint, &file);
    assert_eq!(code, Some(0), "{stderr}");
    for (region, row) in by_region(&rows) {
        assert_eq!(row["action"], "no-change", "{region}: {row}");
    }

    // Out of band, in the canary's region: versioning suspended, an environment variable, the stage's throttle.
    let region = REGIONS[0];
    let target = Target::local(&endpoint, region).await;
    let outputs = riv_deploy::stack::outputs(&target, &name).await.unwrap();
    let bucket = &outputs["ImageBucket"];
    target
        .s3
        .put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .expect("versioning suspended");
    let function = riv_deploy::stack::physical_id(&target, &name, "DetectFacesFunction")
        .await
        .unwrap();
    let config = target
        .lambda
        .get_function_configuration()
        .function_name(&function)
        .send()
        .await
        .expect("the function's configuration");
    let mut variables = config
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    let max_pose = variables
        .get("RIV_MAX_POSE")
        .cloned()
        .expect("RIV_MAX_POSE is set");
    assert_eq!(max_pose, "30");
    variables.insert("RIV_MAX_POSE".into(), "90".into());
    target
        .lambda
        .update_function_configuration()
        .function_name(&function)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .set_variables(Some(variables))
                .build(),
        )
        .send()
        .await
        .expect("environment changed");
    let replace = |path: &str, value: &str| {
        aws_sdk_apigateway::types::PatchOperation::builder()
            .op(aws_sdk_apigateway::types::Op::Replace)
            .path(path)
            .value(value)
            .build()
    };
    target
        .apigateway
        .update_stage()
        .rest_api_id(&outputs["ApiId"])
        .stage_name(&outputs["ApiStageName"])
        .patch_operations(replace("/*/*/throttling/rateLimit", "1000"))
        .send()
        .await
        .expect("throttle changed");

    let args = ["drift", "--region", region, "--stack", &name];
    let (code, rows, stderr) = xtask_json_code(&endpoint, &args, &[]);
    assert_eq!(
        code,
        Some(3),
        "drift exits 3 (changes found) on drift: {stderr}"
    );
    let found = differences(&rows[0]);
    for (resource, property, expected, actual) in [
        (
            "ImageBucket",
            "VersioningConfiguration.Status",
            "Enabled",
            "Suspended",
        ),
        (
            "DetectFacesFunction",
            "Environment.Variables.RIV_MAX_POSE",
            "30",
            "90",
        ),
    ] {
        assert!(
            found.contains(&(
                resource.into(),
                property.into(),
                expected.into(),
                actual.into()
            )),
            "{property} not reported: {found:?}"
        );
    }
    assert!(
        found
            .iter()
            .any(|(r, p, e, a)| r.starts_with("ApiDeployment")
                && p == "MethodSettings[*/*].ThrottlingRateLimit"
                && a == "1000"
                && e != a),
        "the stage's throttle not reported: {found:?}"
    );
    assert_eq!(found.len(), 3, "only what was changed: {found:?}");
    let file_arg = file.to_str().expect("a UTF-8 path");
    let (code, rows, _) = xtask_json_code(&endpoint, &["fleet", "drift", "--fleet", file_arg], &[]);
    assert_eq!(code, Some(3));
    let rows = by_region(&rows);
    assert_eq!(differences(&rows[region]).len(), 3, "{}", rows[region]);
    for other in &REGIONS[1..] {
        assert_eq!(rows[*other]["drifted"], false, "{}", rows[*other]);
        assert!(
            rows[*other]["checked"].as_u64().unwrap() > 50,
            "{}",
            rows[*other]
        );
    }

    let (ok, _, stderr) = fleet(&endpoint, "deploy", &file, &["--yes"]);
    assert!(ok, "{stderr}");
    let (ok, rows, stderr) = xtask_json(&endpoint, &args, &[]);
    assert!(ok, "deploy left drift behind: {rows} {stderr}");

    let (ok, rows, stderr) = fleet(&endpoint, "destroy", &file, &["--yes"]);
    assert!(ok, "{stderr}");
    for (region, row) in by_region(&rows) {
        assert_eq!(row["destroyed"]["stack_existed"], true, "{region}: {row}");
        let target = Target::local(&endpoint, &region).await;
        assert_eq!(
            riv_deploy::stack::status(&target, &name).await.unwrap(),
            None
        );
        assert_eq!(
            left_in(&target, &name).await,
            Vec::<String>::new(),
            "{region}"
        );
    }
    let (ok, status, stderr) = fleet(&endpoint, "status", &file, &[]);
    assert!(ok, "{stderr}");
    for (region, row) in by_region(&status["stacks"]) {
        assert_eq!(row["status"], serde_json::Value::Null, "{region}: {row}");
    }
}
