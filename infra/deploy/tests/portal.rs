//! Publishing the portal writes what is missing or changed, and nothing else: S3 is mocked (aws-smithy-mocks),
//! so the writes are counted, not guessed.

use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::types::error::NotFound;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use riv_deploy::portal::{publish, Published, SHA256_METADATA};
use riv_deploy::Target;
use riv_infra::portal::FILES;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

const OWNER: &str = "111122223333";

fn target(s3: &[&Rule]) -> Target {
    let none: &[&Rule] = &[];
    Target {
        region: "us-east-1".into(),
        endpoint: None,
        config: aws_config::SdkConfig::builder().build(),
        cloudformation: mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, none),
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3),
        sts: mock_client!(aws_sdk_sts, RuleMode::MatchAny, none),
        rekognition: mock_client!(aws_sdk_rekognition, RuleMode::MatchAny, none),
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, none),
        logs: mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, none),
        // Never called here: plain clients, which would fail for want of credentials if they were.
        lambda: aws_sdk_lambda::Client::new(&aws_config::SdkConfig::builder().build()),
        sfn: aws_sdk_sfn::Client::new(&aws_config::SdkConfig::builder().build()),
        apigateway: aws_sdk_apigateway::Client::new(&aws_config::SdkConfig::builder().build()),
        kms: aws_sdk_kms::Client::new(&aws_config::SdkConfig::builder().build()),
    }
}

#[tokio::test]
async fn only_missing_and_changed_files_are_written_with_their_type_and_hash() {
    let [index, app, style] = FILES;
    let current = hex::encode(Sha256::digest(index.bytes));
    // index.html is up to date, app.js was published from other bytes, style.css was never published.
    let head_current = mock!(aws_sdk_s3::Client::head_object)
        .match_requests(move |r| r.key() == Some(&index.key()))
        .then_output(move || {
            HeadObjectOutput::builder()
                .metadata(SHA256_METADATA, current.clone())
                .build()
        });
    let head_stale = mock!(aws_sdk_s3::Client::head_object)
        .match_requests(move |r| r.key() == Some(&app.key()))
        .then_output(|| {
            HeadObjectOutput::builder()
                .metadata(SHA256_METADATA, "0".repeat(64))
                .build()
        });
    let head_missing = mock!(aws_sdk_s3::Client::head_object)
        .match_requests(move |r| r.key() == Some(&style.key()))
        .then_error(|| HeadObjectError::NotFound(NotFound::builder().build()));
    let written = Arc::new(Mutex::new(Vec::new()));
    let seen = written.clone();
    let put = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(move |r| {
            seen.lock().expect("not poisoned").push((
                r.key().map(str::to_string),
                r.content_type().map(str::to_string),
                r.metadata().and_then(|m| m.get(SHA256_METADATA)).cloned(),
                r.expected_bucket_owner().map(str::to_string),
            ));
            true
        })
        .then_output(|| PutObjectOutput::builder().build());
    let t = target(&[&head_current, &head_stale, &head_missing, &put]);

    let published = publish(&t, "images", Some(OWNER), &|_| {}).await.unwrap();

    assert_eq!(
        published,
        Published {
            written: vec![app.name, style.name],
            unchanged: vec![index.name],
        }
    );
    let written = written.lock().expect("not poisoned").clone();
    let expect = |f: riv_infra::portal::File| {
        (
            Some(f.key()),
            Some(f.content_type.to_string()),
            Some(hex::encode(Sha256::digest(f.bytes))),
            Some(OWNER.to_string()),
        )
    };
    assert_eq!(written, vec![expect(app), expect(style)]);
}

#[tokio::test]
async fn a_refused_read_stops_publishing_and_names_the_file() {
    let denied = mock!(aws_sdk_s3::Client::head_object)
        .sequence()
        .http_status(403, None)
        .repeatedly()
        .build();
    let put =
        mock!(aws_sdk_s3::Client::put_object).then_output(|| PutObjectOutput::builder().build());
    let t = target(&[&denied, &put]);

    let error = publish(&t, "images", Some(OWNER), &|_| {})
        .await
        .unwrap_err();

    assert!(
        error.to_string().contains(FILES[0].name),
        "the error names the file: {error}"
    );
    assert_eq!(
        put.num_calls(),
        0,
        "nothing is written after a refused read"
    );
}
