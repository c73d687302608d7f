//! A stack deployed with `KmsKey=create`: its bucket, table, topic and log groups name the stack's own key, its
//! image bucket logs to its access-log bucket, a person registers and authenticates through it, and `destroy`
//! removes both buckets and schedules the key's deletion.

use crate::scenarios::{body, Outcome, Scenario};
use crate::{b64, ensure, photo_bytes, unique, variant, Case};
use aws_sdk_kms::types::KeyState;
use riv_infra::encryption::key_id;
use riv_infra::names::output;

pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![(
        "a_customer_key_encrypts_the_stack_and_destroy_removes_it",
        || Box::pin(customer_key()),
    )]
}

fn failed(what: &str, e: &dyn std::error::Error) -> String {
    format!("{what}: {}", crate::chain(e))
}

async fn customer_key() -> Outcome {
    let s = variant("Riv-E2E-Kms", &[("KmsKey", "create")]);
    let target = riv_deploy::Target::local(&s.endpoint, &s.region).await;
    let key = s.output(output::KMS_KEY_ARN)?.to_string();
    let (bucket, logs_bucket) = (
        s.output(output::IMAGE_BUCKET)?.to_string(),
        s.output(output::ACCESS_LOG_BUCKET)?.to_string(),
    );

    let encryption = target
        .s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .map_err(|e| failed("s3 GetBucketEncryption", &e))?;
    let bucket_key = encryption
        .server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .and_then(|d| d.kms_master_key_id())
        .unwrap_or("(none)");
    ensure!(
        key_id(bucket_key) == key_id(&key),
        "the image bucket is encrypted with {bucket_key}, not the stack's key {key}"
    );
    let logging = target
        .s3
        .get_bucket_logging()
        .bucket(&bucket)
        .send()
        .await
        .map_err(|e| failed("s3 GetBucketLogging", &e))?;
    ensure!(
        logging.logging_enabled().map(|l| l.target_bucket()) == Some(logs_bucket.as_str()),
        "the image bucket should log to {logs_bucket}: {logging:?}"
    );
    let table = target
        .dynamodb
        .describe_table()
        .table_name(s.output(output::FACE_TABLE)?)
        .send()
        .await
        .map_err(|e| failed("dynamodb DescribeTable", &e))?;
    let table_key = table
        .table()
        .and_then(|t| t.sse_description())
        .and_then(|d| d.kms_master_key_arn())
        .unwrap_or("(none)");
    ensure!(
        key_id(table_key) == key_id(&key),
        "the table is encrypted with {table_key}, not {key}"
    );
    let sns = aws_sdk_sns::Client::new(&s.sdk_config().await);
    let topic = sns
        .get_topic_attributes()
        .topic_arn(s.output(output::LOGIN_FAILED_TOPIC)?)
        .send()
        .await
        .map_err(|e| failed("sns GetTopicAttributes", &e))?;
    let topic_key = topic
        .attributes()
        .and_then(|a| a.get("KmsMasterKeyId"))
        .map_or("(none)", String::as_str);
    ensure!(
        key_id(topic_key) == key_id(&key),
        "the events topic is encrypted with {topic_key}, not {key}"
    );
    let mut groups = 0;
    for prefix in [
        format!("/aws/lambda/{}-", s.name),
        format!("/aws/vendedlogs/states/{}", s.name),
    ] {
        let described = target
            .logs
            .describe_log_groups()
            .log_group_name_prefix(&prefix)
            .send()
            .await
            .map_err(|e| failed("logs DescribeLogGroups", &e))?;
        for g in described.log_groups() {
            let group_key = g.kms_key_id().unwrap_or("(none)");
            ensure!(
                key_id(group_key) == key_id(&key),
                "log group {:?} is encrypted with {group_key}, not {key}",
                g.log_group_name()
            );
            groups += 1;
        }
    }
    ensure!(
        groups == riv_domain::names::function::ALL.len() + 1,
        "{groups} log groups found, one per function and the state machines' wanted"
    );

    let user = unique("kms");
    let image = b64(&photo_bytes(Case::Selfie, &user));
    let (status, answer) = s.post("register", &body(&user, &image)).await;
    ensure!(
        status == 200 && answer["Status"] == "Registered",
        "register on the customer-key stack: {status} {answer}"
    );
    let (status, answer) = s.post("auth", &body(&user, &image)).await;
    ensure!(
        status == 200 && answer["Status"] == "Verified",
        "auth on the customer-key stack: {status} {answer}"
    );

    let destroyed = riv_deploy::teardown::destroy(&target, &s.name, &|m| eprintln!("    {m}"))
        .await
        .map_err(|e| failed("destroy", &e))?;
    for gone in [&bucket, &logs_bucket] {
        ensure!(
            destroyed.buckets.contains(gone)
                && target.s3.head_bucket().bucket(gone).send().await.is_err(),
            "destroy should have removed {gone}: {destroyed:?}"
        );
    }
    let state = target
        .kms
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .map_err(|e| failed("kms DescribeKey", &e))?
        .key_metadata()
        .and_then(|m| m.key_state().cloned());
    ensure!(
        state == Some(KeyState::PendingDeletion) && destroyed.keys_scheduled == [key.clone()],
        "the stack's key should be pending deletion: {state:?}, {destroyed:?}"
    );
    eprintln!(
        "    {groups} log groups, bucket, table and topic under {}; destroy removed both buckets, key pending deletion",
        key_id(&key)
    );
    Ok(())
}
