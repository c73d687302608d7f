//! Deploy and destroy against the local stack: a no-op redeploy, a parameter change, a destroy that leaves
//! nothing (stack, versioned bucket, collection, table), a failing deploy that names its cause, and a second
//! region that outlives the first's destroy.

use riv_deploy::{teardown, Target};
use riv_e2e::{photo, stack, unique, workspace_root};
use riv_emulator::testimage::Case;
use riv_launcher::up as stack_local;
use std::collections::BTreeMap;
use std::time::Instant;

async fn deploy(
    target: &Target,
    name: &str,
    params: &[(&str, &str)],
) -> Result<riv_deploy::stack::Deployed, String> {
    let manifest = riv_deploy::build::Manifest::load(&workspace_root())
        .ok_or("no target/lambda/manifest.json")?;
    let params: BTreeMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    stack_local::deploy(target, name, &manifest, &params, &|m| eprintln!("==> {m}"))
        .await
        .map_err(|e| riv_e2e::chain(&e))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_redeploy_change_and_destroy_leave_nothing_behind() {
    let base = stack();
    let target = Target::local(&base.endpoint, "eu-west-1").await;
    let name = "Riv-Lifecycle-EU";

    let first = deploy(&target, name, &[]).await.unwrap();
    assert!(first.changed);
    let t = Instant::now();
    let again = deploy(&target, name, &[]).await.unwrap();
    assert!(!again.changed, "a redeploy without changes must be a no-op");
    eprintln!("no-op redeploy took {:?}", t.elapsed());

    deploy(&target, name, &[("FaceMatchThreshold", "97")])
        .await
        .unwrap();
    let lambda = aws_sdk_lambda::Client::new(&target.config);
    let config = lambda
        .get_function_configuration()
        .function_name(format!("{name}-search-faces"))
        .send()
        .await
        .unwrap();
    let env = config
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        env.get("RIV_FACE_MATCH_THRESHOLD").map(String::as_str),
        Some("97")
    );

    // A user plus 2,000 object versions, overwrites and delete markers in the image bucket.
    let outputs = riv_deploy::stack::outputs(&target, name).await.unwrap();
    let api = stack_local::api_url(&base.endpoint, &outputs).unwrap();
    let user = unique("eu");
    let (status, answer) = riv_e2e::post_json(
        &format!("{api}/register"),
        &serde_json::json!({"UserId": user, "Image": photo(Case::Selfie, &user)}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let bucket = outputs[riv_infra::names::output::IMAGE_BUCKET].clone();
    let mut puts = Vec::new();
    for i in 0..1500 {
        let (s3, bucket) = (target.s3.clone(), bucket.clone());
        puts.push(tokio::spawn(async move {
            let key = format!("faces/load/{}.bin", i % 750);
            s3.put_object()
                .bucket(&bucket)
                .key(&key)
                .body(vec![1u8; 16].into())
                .send()
                .await
                .unwrap();
            if i % 3 == 0 {
                s3.delete_object()
                    .bucket(&bucket)
                    .key(&key)
                    .send()
                    .await
                    .unwrap();
            }
        }));
    }
    for p in puts {
        p.await.unwrap();
    }

    let report = teardown::destroy(&target, name, &|m| eprintln!("==> {m}"))
        .await
        .unwrap();
    assert!(report.objects_deleted >= 2000, "{report:?}");
    assert!(
        riv_deploy::stack::status(&target, name)
            .await
            .unwrap()
            .is_none(),
        "the stack is gone"
    );
    assert!(
        target
            .s3
            .head_bucket()
            .bucket(&bucket)
            .send()
            .await
            .is_err(),
        "the bucket is gone"
    );
    let collection = target
        .rekognition
        .describe_collection()
        .collection_id(&outputs[riv_infra::names::output::COLLECTIONS])
        .send()
        .await;
    assert!(collection.is_err(), "the collection is gone");
    let dynamodb = aws_sdk_dynamodb::Client::new(&target.config);
    assert!(
        dynamodb
            .describe_table()
            .table_name(&outputs[riv_infra::names::output::FACE_TABLE])
            .send()
            .await
            .is_err(),
        "the table is gone"
    );

    let again = teardown::destroy(&target, name, &|_| {}).await.unwrap();
    assert!(
        !again.stack_existed,
        "destroying twice is a successful no-op"
    );

    // The main region still serves.
    let user = unique("still-here");
    let (status, answer) = base
        .post(
            "register",
            &serde_json::json!({"UserId": user, "Image": photo(Case::Selfie, &user)}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_deploy_names_its_cause() {
    let base = stack();
    let target = Target::local(&base.endpoint, "us-west-2").await;
    // Code that is not where the parameter says: the functions cannot be created.
    let err = deploy(
        &target,
        "Riv-Broken",
        &[("ArtifactBucket", "riv-no-such-artifact-bucket")],
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("Riv-Broken") && err.contains("Function (AWS::Lambda::Function)"),
        "{err}"
    );
    let _ = teardown::destroy(&target, "Riv-Broken", &|_| {}).await;
}
