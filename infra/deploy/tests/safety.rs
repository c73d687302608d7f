//! Deploy and destroy refuse what is not provably ours, and destroy finishes what it started: AWS answers are
//! mocked (aws-smithy-mocks), so each refusal is checked together with the calls that must never happen.

use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::types::{Output, Stack, StackStatus, Tag};
use aws_sdk_rekognition::operation::list_collections::ListCollectionsOutput;
use aws_sdk_s3::operation::get_bucket_location::GetBucketLocationOutput;
use aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingOutput;
use aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningOutput;
use aws_sdk_s3::operation::head_bucket::HeadBucketOutput;
use aws_sdk_s3::operation::list_buckets::ListBucketsOutput;
use aws_sdk_s3::operation::list_multipart_uploads::ListMultipartUploadsOutput;
use aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput;
use aws_sdk_s3::types::{Bucket, BucketVersioningStatus};
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use riv_deploy::build::{Arch, Manifest};
use riv_deploy::stack::DeployError;
use riv_deploy::{Approval, Release, Target};
use riv_infra::names::{output, STACK_TAG};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const ACCOUNT: &str = "111122223333";
const STACK: &str = "Riv-Safety";
const IMAGES: &str = "riv-safety-images";

/// Clients answering only what the rules say (any other call fails the test's expectations).
fn target(cloudformation: &[&Rule], s3: &[&Rule], sts: &[&Rule], rekognition: &[&Rule]) -> Target {
    let none: &[&Rule] = &[];
    Target {
        region: "us-east-1".into(),
        endpoint: None,
        config: aws_config::SdkConfig::builder().build(),
        cloudformation: mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, cloudformation),
        s3: mock_client!(aws_sdk_s3, RuleMode::MatchAny, s3),
        sts: mock_client!(aws_sdk_sts, RuleMode::MatchAny, sts),
        rekognition: mock_client!(aws_sdk_rekognition, RuleMode::MatchAny, rekognition),
        dynamodb: mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, none),
        logs: mock_client!(aws_sdk_cloudwatchlogs, RuleMode::MatchAny, none),
        // The account holds no key: destroy's search for the stack's own finds nothing to schedule.
        kms: mock_client!(
            aws_sdk_kms,
            RuleMode::MatchAny,
            &[&mock!(aws_sdk_kms::Client::list_keys).then_output(|| {
                aws_sdk_kms::operation::list_keys::ListKeysOutput::builder().build()
            })]
        ),
        // Never called here: plain clients, which would fail for want of credentials if they were.
        lambda: aws_sdk_lambda::Client::new(&aws_config::SdkConfig::builder().build()),
        sfn: aws_sdk_sfn::Client::new(&aws_config::SdkConfig::builder().build()),
        apigateway: aws_sdk_apigateway::Client::new(&aws_config::SdkConfig::builder().build()),
    }
}

fn caller() -> Rule {
    mock!(aws_sdk_sts::Client::get_caller_identity)
        .then_output(|| GetCallerIdentityOutput::builder().account(ACCOUNT).build())
}

#[tokio::test]
async fn a_foreign_owned_artifact_bucket_stops_deploy_before_any_upload() {
    // S3 answers a HEAD on a bucket owned by another account than ExpectedBucketOwner with a bare 403.
    let head = mock!(aws_sdk_s3::Client::head_bucket)
        .match_requests(|r| r.expected_bucket_owner() == Some(ACCOUNT))
        .sequence()
        .http_status(403, None)
        .repeatedly()
        .build();
    let put = mock!(aws_sdk_s3::Client::put_object)
        .then_output(|| aws_sdk_s3::operation::put_object::PutObjectOutput::builder().build());
    let create = mock!(aws_sdk_s3::Client::create_bucket).then_output(|| {
        aws_sdk_s3::operation::create_bucket::CreateBucketOutput::builder().build()
    });
    let change_set = mock!(aws_sdk_cloudformation::Client::create_change_set).then_output(|| {
        aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput::builder()
            .build()
    });
    let t = target(&[&change_set], &[&head, &put, &create], &[&caller()], &[]);
    let template = riv_infra::stack::riv();
    let manifest = Manifest {
        arch: Arch::X86_64,
        profile: "release".into(),
        bootstrap: riv_deploy::build::Artifact {
            zip: "target/lambda/bootstrap.zip".into(),
            sha256: "0".repeat(64),
            size: 0,
        },
        functions: Vec::new(),
        commit: None,
    };
    let release = Release {
        template: &template,
        manifest: &manifest,
        parameters: &BTreeMap::new(),
    };
    let err = riv_deploy::deploy(&t, STACK, &release, Approval::Auto, &|_| {}, &|_| {})
        .await
        .unwrap_err();
    match &err {
        DeployError::ForeignArtifactBucket { bucket, account } => {
            assert_eq!(bucket, &format!("riv-artifacts-{ACCOUNT}-us-east-1"));
            assert_eq!(account, ACCOUNT);
        }
        other => panic!("wanted ForeignArtifactBucket, got {other:?}"),
    }
    assert!(
        err.to_string().contains("not owned by this account"),
        "{err}"
    );
    assert_eq!(head.num_calls(), 1);
    assert_eq!(put.num_calls(), 0, "something was uploaded");
    assert_eq!(create.num_calls(), 0, "a bucket was created");
    assert_eq!(change_set.num_calls(), 0, "a change set was created");
}

#[tokio::test]
async fn an_unversioned_artifact_bucket_of_ours_is_not_used() {
    let head = mock!(aws_sdk_s3::Client::head_bucket)
        .match_requests(|r| r.expected_bucket_owner() == Some(ACCOUNT))
        .then_output(|| HeadBucketOutput::builder().build());
    let versioning = mock!(aws_sdk_s3::Client::get_bucket_versioning)
        .match_requests(|r| r.expected_bucket_owner() == Some(ACCOUNT))
        .then_output(|| {
            GetBucketVersioningOutput::builder()
                .status(BucketVersioningStatus::Suspended)
                .build()
        });
    let put = mock!(aws_sdk_s3::Client::put_object)
        .then_output(|| aws_sdk_s3::operation::put_object::PutObjectOutput::builder().build());
    let t = target(&[], &[&head, &versioning, &put], &[&caller()], &[]);
    let err = riv_deploy::artifacts::artifact_bucket(&t)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DeployError::UnsafeArtifactBucket { problem, .. } if problem.contains("versioning")),
        "{err:?}"
    );
    assert_eq!(put.num_calls(), 0);
}

fn stack(tags: &[(&str, &str)]) -> DescribeStacksOutput {
    stack_in(StackStatus::CreateComplete, tags)
}

fn stack_in(status: StackStatus, tags: &[(&str, &str)]) -> DescribeStacksOutput {
    let mut s = Stack::builder()
        .stack_name(STACK)
        .stack_status(status)
        .outputs(
            Output::builder()
                .output_key(output::IMAGE_BUCKET)
                .output_value(IMAGES)
                .build(),
        )
        .outputs(
            Output::builder()
                .output_key(output::COLLECTIONS)
                .output_value(format!("{STACK}-1"))
                .build(),
        );
    for (k, v) in tags {
        s = s.tags(Tag::builder().key(*k).value(*v).build());
    }
    DescribeStacksOutput::builder().stacks(s.build()).build()
}

fn gone() -> DescribeStacksError {
    DescribeStacksError::generic(
        aws_sdk_cloudformation::error::ErrorMetadata::builder()
            .code("ValidationError")
            .message(format!("Stack with id {STACK} does not exist"))
            .build(),
    )
}

/// Destroy of the stack `described` must fail before deleting the stack or emptying a bucket; returns its error.
async fn refused_destroy(described: DescribeStacksOutput) -> DeployError {
    let describe = mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .then_output(move || described.clone());
    let delete = mock!(aws_sdk_cloudformation::Client::delete_stack).then_output(|| {
        aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput::builder().build()
    });
    let empty = mock!(aws_sdk_s3::Client::list_object_versions)
        .then_output(|| ListObjectVersionsOutput::builder().build());
    let t = target(&[&describe, &delete], &[&empty], &[], &[]);
    let err = riv_deploy::teardown::destroy(&t, STACK, &|_| {})
        .await
        .unwrap_err();
    assert_eq!(delete.num_calls(), 0, "the stack was deleted");
    assert_eq!(empty.num_calls(), 0, "a bucket was emptied");
    err
}

#[tokio::test]
async fn destroy_refuses_a_stack_riv_did_not_deploy() {
    let err = refused_destroy(stack(&[("team", "payments")])).await;
    assert!(matches!(err, DeployError::NotRiv { .. }), "{err:?}");
    assert!(err.to_string().contains(STACK_TAG), "{err}");
}

#[tokio::test]
async fn destroy_refuses_a_stack_mid_change_before_emptying_anything() {
    let err = refused_destroy(stack_in(
        StackStatus::UpdateInProgress,
        &[(STACK_TAG, STACK)],
    ))
    .await;
    assert!(err.to_string().contains("UPDATE_IN_PROGRESS"), "{err}");
    assert!(err.to_string().contains("wait until it settles"), "{err}");
}

#[tokio::test]
async fn a_second_destroy_removes_the_bucket_a_failed_delete_left() {
    let deleted = Arc::new(AtomicBool::new(false));
    let (live, dead, mark) = (deleted.clone(), deleted.clone(), deleted.clone());
    let describe_live = mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .match_requests(move |_| !live.load(Ordering::SeqCst))
        .then_output(|| stack(&[(STACK_TAG, STACK)]));
    let describe_gone = mock!(aws_sdk_cloudformation::Client::describe_stacks)
        .match_requests(move |_| dead.load(Ordering::SeqCst))
        .then_error(gone);
    let delete_stack = mock!(aws_sdk_cloudformation::Client::delete_stack)
        .match_requests(move |_| {
            mark.store(true, Ordering::SeqCst);
            true
        })
        .then_output(|| {
            aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput::builder().build()
        });
    let tagging = mock!(aws_sdk_s3::Client::get_bucket_tagging)
        .match_requests(|r| r.bucket() == Some(IMAGES))
        .then_output(|| {
            GetBucketTaggingOutput::builder()
                .tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key(STACK_TAG)
                        .value(STACK)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        });
    let list = mock!(aws_sdk_s3::Client::list_buckets).then_output(|| {
        ListBucketsOutput::builder()
            .buckets(Bucket::builder().name(IMAGES).build())
            .build()
    });
    let location = mock!(aws_sdk_s3::Client::get_bucket_location)
        .then_output(|| GetBucketLocationOutput::builder().build());
    let versions = mock!(aws_sdk_s3::Client::list_object_versions)
        .then_output(|| ListObjectVersionsOutput::builder().build());
    let uploads = mock!(aws_sdk_s3::Client::list_multipart_uploads)
        .then_output(|| ListMultipartUploadsOutput::builder().build());
    // A write that raced the emptying (S3 refuses the delete, and the SDK does not retry a 409): destroy empties
    // the bucket again. Then a refusal it cannot fix (a policy being changed): the first destroy fails, the
    // second finishes.
    let not_empty = "<Error><Code>BucketNotEmpty</Code><Message>The bucket you tried to delete is not empty</Message></Error>";
    let denied = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
    let delete_bucket = mock!(aws_sdk_s3::Client::delete_bucket)
        .sequence()
        .http_status(409, Some(not_empty.into()))
        .http_status(403, Some(denied.into()))
        .output(|| aws_sdk_s3::operation::delete_bucket::DeleteBucketOutput::builder().build())
        .build();
    let collections = mock!(aws_sdk_rekognition::Client::list_collections)
        .then_output(|| ListCollectionsOutput::builder().build());
    let delete_collection =
        mock!(aws_sdk_rekognition::Client::delete_collection).then_output(|| {
            aws_sdk_rekognition::operation::delete_collection::DeleteCollectionOutput::builder()
                .build()
        });
    let t = target(
        &[&describe_live, &describe_gone, &delete_stack],
        &[
            &tagging,
            &list,
            &location,
            &versions,
            &uploads,
            &delete_bucket,
        ],
        &[],
        &[&collections, &delete_collection],
    );

    let first = riv_deploy::teardown::destroy(&t, STACK, &|_| {}).await;
    let err = first.expect_err("a failed DeleteBucket makes destroy fail");
    assert!(
        matches!(&err, DeployError::Incomplete { failures, .. } if failures.len() == 1 && failures[0].contains(IMAGES)),
        "{err:?}"
    );
    assert!(err.to_string().contains("Run destroy again"), "{err}");
    assert_eq!(
        delete_bucket.num_calls(),
        2,
        "emptied again after BucketNotEmpty"
    );
    assert_eq!(delete_stack.num_calls(), 1);
    assert_eq!(delete_collection.num_calls(), 1);

    let second = riv_deploy::teardown::destroy(&t, STACK, &|_| {})
        .await
        .expect("the second destroy finishes");
    assert!(!second.stack_existed);
    assert_eq!(second.buckets, [IMAGES]);
    assert_eq!(delete_bucket.num_calls(), 3);
    assert_eq!(delete_stack.num_calls(), 1, "the stack is deleted once");
}
