//! Where the stack keeps its data: the image bucket (face and ID-card images, retained on stack delete), its
//! access-log bucket, the face table and the security events topic, each encrypted with the stack's customer
//! key when `KmsKey` is set, and with AWS-managed keys otherwise.

use crate::encryption::{key_arn, key_or_default, with_customer_key};
use crate::model::{obj, stack_tag, stack_tags, Expr, Resource, Template};
use crate::names::*;
use crate::params::Flavor;

/// Where S3 delivers the image bucket's access logs, under the access-log bucket.
pub const ACCESS_LOG_PREFIX: &str = "images/";

pub fn add(t: &mut Template, flavor: Flavor) {
    image_bucket(t, flavor);
    access_log_bucket(t);
    table_and_topic(t);
}

fn block_all_public_access() -> Expr {
    obj([
        ("BlockPublicAcls", Expr::Bool(true)),
        ("BlockPublicPolicy", Expr::Bool(true)),
        ("IgnorePublicAcls", Expr::Bool(true)),
        ("RestrictPublicBuckets", Expr::Bool(true)),
    ])
}

fn owner_enforced() -> Expr {
    obj([(
        "Rules",
        Expr::list([obj([("ObjectOwnership", "BucketOwnerEnforced")])]),
    )])
}

fn encryption(by_default: Expr) -> Expr {
    obj([(
        "ServerSideEncryptionConfiguration",
        Expr::list([obj([
            ("ServerSideEncryptionByDefault", by_default),
            // One data key per bucket and key instead of a KMS call per object.
            (
                "BucketKeyEnabled",
                with_customer_key(Expr::Bool(true), Expr::Bool(false)),
            ),
        ])]),
    )])
}

/// The stack's tag, and what the bucket holds, so cleanup can name it after the stack is gone.
fn bucket_tags(holds: &str) -> Expr {
    Expr::list([
        stack_tag(),
        obj([
            ("Key", Expr::from(BUCKET_TAG)),
            ("Value", Expr::from(holds)),
        ]),
    ])
}

/// A bucket policy: `statements`, and a refusal of any request not over TLS.
fn bucket_policy(bucket: &str, mut statements: Vec<Expr>) -> Resource {
    statements.push(obj([
        ("Sid", Expr::from("DenyInsecureTransport")),
        ("Effect", Expr::from("Deny")),
        ("Principal", Expr::from("*")),
        ("Action", Expr::from("s3:*")),
        (
            "Resource",
            Expr::list([
                Expr::att(bucket, "Arn"),
                Expr::sub(&format!("${{{bucket}.Arn}}/*")),
            ]),
        ),
        (
            "Condition",
            obj([("Bool", obj([("aws:SecureTransport", "false")]))]),
        ),
    ]));
    Resource::new(
        "AWS::S3::BucketPolicy",
        [
            ("Bucket", Expr::r(bucket)),
            (
                "PolicyDocument",
                obj([
                    ("Version", Expr::from("2012-10-17")),
                    ("Statement", Expr::List(statements)),
                ]),
            ),
        ],
    )
}

fn image_bucket(t: &mut Template, flavor: Flavor) {
    let lifecycle = obj([(
        "Rules",
        Expr::list([
            obj([
                ("Id", Expr::from("AbortIncompleteUploads")),
                ("Status", Expr::from("Enabled")),
                (
                    "AbortIncompleteMultipartUpload",
                    obj([("DaysAfterInitiation", Expr::Int(7))]),
                ),
            ]),
            // What a flow did not take (an abandoned upload, a crash between steps) goes after a day, every
            // version of it: the bucket is versioned, so an expired upload would otherwise linger as an old version.
            obj([
                ("Id", Expr::from("ExpireUploads")),
                ("Status", Expr::from("Enabled")),
                ("Prefix", Expr::from(riv_domain::uploads::PREFIX)),
                (
                    "ExpirationInDays",
                    Expr::Int(riv_domain::uploads::EXPIRE_AFTER_DAYS),
                ),
                (
                    "NoncurrentVersionExpiration",
                    obj([(
                        "NoncurrentDays",
                        Expr::Int(riv_domain::uploads::EXPIRE_AFTER_DAYS),
                    )]),
                ),
            ]),
        ]),
    )]);
    let by_default = with_customer_key(
        obj([
            ("SSEAlgorithm", Expr::from("aws:kms")),
            ("KMSMasterKeyID", key_arn()),
        ]),
        obj([("SSEAlgorithm", Expr::from("AES256"))]),
    );
    t.add(
        id::IMAGE_BUCKET,
        Resource::new(
            "AWS::S3::Bucket",
            [
                ("BucketEncryption", encryption(by_default)),
                (
                    "VersioningConfiguration",
                    obj([("Status", Expr::from("Enabled"))]),
                ),
                ("PublicAccessBlockConfiguration", block_all_public_access()),
                ("OwnershipControls", owner_enforced()),
                ("LifecycleConfiguration", lifecycle),
                (
                    "LoggingConfiguration",
                    obj([
                        ("DestinationBucketName", Expr::r(id::ACCESS_LOG_BUCKET)),
                        ("LogFilePrefix", Expr::from(ACCESS_LOG_PREFIX)),
                    ]),
                ),
                // The portal PUTs large photos straight to presigned URLs, from the API's origin.
                ("CorsConfiguration", crate::portal::upload_cors(flavor)),
                ("Tags", bucket_tags(IMAGES)),
            ],
        )
        // Face images outlive the stack on purpose: `cargo xtask destroy` empties and removes the bucket.
        .retained(),
    );
    t.add(
        id::IMAGE_BUCKET_POLICY,
        bucket_policy(id::IMAGE_BUCKET, Vec::new()),
    );
}

/// Server access logs of the image bucket: who read, wrote or was refused which image, presigned uploads
/// included. Chosen over CloudTrail data events because they cost only their storage, need no trail (an
/// account-wide resource, five per region), and LocalStack serves the same template.
fn access_log_bucket(t: &mut Template) {
    let lifecycle = obj([(
        "Rules",
        Expr::list([obj([
            ("Id", Expr::from("ExpireAccessLogs")),
            ("Status", Expr::from("Enabled")),
            ("ExpirationInDays", Expr::Int(ACCESS_LOG_RETENTION_DAYS)),
            (
                "NoncurrentVersionExpiration",
                obj([("NoncurrentDays", Expr::Int(30))]),
            ),
            (
                "AbortIncompleteMultipartUpload",
                obj([("DaysAfterInitiation", Expr::Int(7))]),
            ),
        ])]),
    )]);
    t.add(
        id::ACCESS_LOG_BUCKET,
        Resource::new(
            "AWS::S3::Bucket",
            [
                // S3 delivers access logs only to buckets encrypted with S3-managed keys (SSE-S3).
                (
                    "BucketEncryption",
                    obj([(
                        "ServerSideEncryptionConfiguration",
                        Expr::list([obj([(
                            "ServerSideEncryptionByDefault",
                            obj([("SSEAlgorithm", Expr::from("AES256"))]),
                        )])]),
                    )]),
                ),
                (
                    "VersioningConfiguration",
                    obj([("Status", Expr::from("Enabled"))]),
                ),
                ("PublicAccessBlockConfiguration", block_all_public_access()),
                ("OwnershipControls", owner_enforced()),
                ("LifecycleConfiguration", lifecycle),
                ("Tags", bucket_tags(ACCESS_LOGS)),
            ],
        )
        // Kept with the image bucket it describes; `cargo xtask destroy` empties and removes both.
        .retained()
        .scanner_skips(&[(
            "CKV_AWS_18",
            "This is the access-log bucket: logging it into itself would log its own deliveries without end, \
             and only the S3 logging service writes to it.",
        )]),
    );
    let delivery = obj([
        ("Sid", Expr::from("S3LogsTheImageBucket")),
        ("Effect", Expr::from("Allow")),
        (
            "Principal",
            obj([("Service", Expr::from("logging.s3.amazonaws.com"))]),
        ),
        ("Action", Expr::from("s3:PutObject")),
        (
            "Resource",
            Expr::sub(&format!(
                "${{{}.Arn}}/{ACCESS_LOG_PREFIX}*",
                id::ACCESS_LOG_BUCKET
            )),
        ),
        (
            "Condition",
            obj([
                (
                    "ArnLike",
                    obj([("aws:SourceArn", Expr::att(id::IMAGE_BUCKET, "Arn"))]),
                ),
                (
                    "StringEquals",
                    obj([("aws:SourceAccount", Expr::r("AWS::AccountId"))]),
                ),
            ]),
        ),
    ]);
    t.add(
        id::ACCESS_LOG_BUCKET_POLICY,
        bucket_policy(id::ACCESS_LOG_BUCKET, vec![delivery]),
    );
}

fn table_and_topic(t: &mut Template) {
    let key = |name: &str, kind: &str| obj([("AttributeName", name), ("KeyType", kind)]);
    let attr = |name: &str| obj([("AttributeName", name), ("AttributeType", "S")]);
    use riv_domain::names::table as tbl;
    t.add(
        id::FACE_TABLE,
        Resource::new(
            "AWS::DynamoDB::Table",
            [
                ("BillingMode", Expr::from("PAY_PER_REQUEST")),
                (
                    "KeySchema",
                    Expr::list([key(tbl::PK, "HASH"), key(tbl::SK, "RANGE")]),
                ),
                (
                    "AttributeDefinitions",
                    Expr::list([attr(tbl::PK), attr(tbl::SK)]),
                ),
                (
                    "PointInTimeRecoverySpecification",
                    obj([("PointInTimeRecoveryEnabled", Expr::Bool(true))]),
                ),
                (
                    "SSESpecification",
                    obj([
                        ("SSEEnabled", Expr::Bool(true)),
                        ("SSEType", Expr::from("KMS")),
                        ("KMSMasterKeyId", key_or_default()),
                    ]),
                ),
                // Finished attempt records expire on their own; live rows never carry the attribute.
                (
                    "TimeToLiveSpecification",
                    obj([
                        ("AttributeName", Expr::from(tbl::PURGE_AT)),
                        ("Enabled", Expr::Bool(true)),
                    ]),
                ),
                ("Tags", stack_tags()),
            ],
        )
        // Destroy removes users with the stack; a replacement must never drop them silently.
        .deleted_with_stack(true),
    );
    t.add(
        id::TOPIC,
        Resource::new(
            "AWS::SNS::Topic",
            [
                (
                    "KmsMasterKeyId",
                    with_customer_key(key_arn(), "alias/aws/sns".into()),
                ),
                ("Tags", stack_tags()),
            ],
        ),
    );
}
