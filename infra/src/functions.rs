//! One Lambda function per name in `riv_domain::names::function`: its log group, its role with the least
//! privilege it needs, and the settings it reads.

use crate::iam::{allow, allow_on, role};
use crate::model::stack_tags;
use crate::model::{obj, Expr, Resource, Template};
use crate::names::*;
use crate::params::Flavor;
use riv_domain::names::{env, function as f};
use std::collections::BTreeMap;

/// Exactly the stack's collections `<stack>-1` … `<stack>-<CollectionCount>`, never a wildcard: a prefix
/// pattern would let stack `Riv` reach `Riv-Prod-1`. Joined and split again because a list element cannot
/// be conditional without `AWS::NoValue`, which not every CloudFormation engine removes from a list.
pub fn collection_arns() -> Expr {
    let arn = |n: u32| {
        format!("arn:${{AWS::Partition}}:rekognition:${{AWS::Region}}:${{AWS::AccountId}}:collection/${{AWS::StackName}}-{n}")
    };
    let mut parts = vec![Expr::sub(&arn(1))];
    for n in 2..=MAX_COLLECTIONS {
        parts.push(Expr::iff(
            &collection_condition(n),
            Expr::sub(&format!(",{}", arn(n))),
            "".into(),
        ));
    }
    Expr::Split(",".into(), Box::new(Expr::Join(String::new(), parts)))
}

fn objects(prefix: &str) -> Expr {
    Expr::sub(&format!("${{ImageBucket.Arn}}/{prefix}*"))
}

fn table() -> Expr {
    Expr::att(id::FACE_TABLE, "Arn")
}

/// `actions` on the lockout counters only: items whose partition key starts with `GUARD#`.
fn guard_counters(actions: &[&str]) -> Expr {
    let mut statement = allow(actions, vec![table()]);
    if let Expr::Map(map) = &mut statement {
        map.insert(
            "Condition".into(),
            obj([(
                "ForAllValues:StringLike",
                obj([(
                    "dynamodb:LeadingKeys",
                    Expr::list([format!("{}*", riv_domain::names::table::GUARD_PREFIX)]),
                )]),
            )]),
        );
    }
    statement
}

/// What each function may do, besides writing its own logs.
fn statements(function: &str) -> Vec<Expr> {
    let star = || vec![Expr::from("*")];
    let faces = || objects(riv_domain::names::bucket::FACES_PREFIX);
    let cards = || objects(riv_domain::names::bucket::IDCARDS_PREFIX);
    let bucket = || Expr::att(id::IMAGE_BUCKET, "Arn");
    let uploads = || objects(riv_domain::names::bucket::UPLOADS_PREFIX);
    // Rekognition and Textract read an `S3Object` with the caller's rights, at the version named.
    let read_uploads = || allow(&["s3:GetObject", "s3:GetObjectVersion"], vec![uploads()]);
    match function {
        f::DETECT_FACES => vec![
            allow(&["rekognition:DetectFaces"], star()),
            read_uploads(),
            // The lockout counters, and nothing else of the table.
            guard_counters(&["dynamodb:GetItem", "dynamodb:PutItem"]),
        ],
        f::SEARCH_FACES => vec![
            allow_on(&["rekognition:SearchFacesByImage"], collection_arns()),
            read_uploads(),
            // A match counts only through a live face record.
            allow(&["dynamodb:GetItem"], vec![table()]),
            // A verified face clears the lockout counter.
            guard_counters(&["dynamodb:DeleteItem"]),
        ],
        f::COMPARE_FACES => vec![
            allow(&["rekognition:CompareFaces"], star()),
            allow(&["s3:GetObject"], vec![faces()]),
            read_uploads(),
            allow(&["dynamodb:GetItem", "dynamodb:Query"], vec![table()]),
            guard_counters(&["dynamodb:DeleteItem"]),
        ],
        f::COMPARE_IDCARD => vec![allow(&["rekognition:CompareFaces"], star()), read_uploads()],
        f::EXTRACT_IDCARD => vec![
            allow(&["textract:AnalyzeID", "rekognition:DetectText"], star()),
            read_uploads(),
        ],
        f::INDEX_FACE | f::ROLLBACK => {
            let mut s = vec![
                allow_on(&["rekognition:DeleteFaces"], collection_arns()),
                allow(
                    &["s3:DeleteObject", "s3:DeleteObjectVersion"],
                    vec![faces(), cards()],
                ),
                allow(&["s3:ListBucketVersions"], vec![bucket()]),
                allow(
                    &[
                        "dynamodb:GetItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                    ],
                    vec![table()],
                ),
            ];
            if function == f::INDEX_FACE {
                s.push(allow_on(
                    &["rekognition:IndexFaces", "rekognition:SearchFacesByImage"],
                    collection_arns(),
                ));
                s.push(allow(&["s3:PutObject"], vec![faces(), cards()]));
                // An upload is indexed from S3 and copied to its permanent key.
                s.push(read_uploads());
                s.push(allow(
                    &["dynamodb:PutItem", "dynamodb:ConditionCheckItem"],
                    vec![table()],
                ));
            }
            s
        }
        // Signs uploads (a presigned URL carries no more than the signer may do) and deletes a flow's uploads
        // when it ends, every version.
        f::UPLOADS => vec![
            allow(
                &[
                    "s3:PutObject",
                    "s3:GetObject",
                    "s3:DeleteObject",
                    "s3:DeleteObjectVersion",
                ],
                vec![uploads()],
            ),
            allow(&["s3:ListBucketVersions"], vec![bucket()]),
        ],
        _ => Vec::new(),
    }
}

/// The settings each function reads (see `riv_domain::config`).
fn environment(function: &str, flavor: Flavor) -> BTreeMap<String, Expr> {
    let mut vars = BTreeMap::new();
    let mut set = |name: &str, value: Expr| {
        vars.insert(name.to_string(), value);
    };
    let collections = |set: &mut dyn FnMut(&str, Expr)| {
        set(env::COLLECTION_PREFIX, Expr::r("AWS::StackName"));
        set(env::COLLECTION_COUNT, Expr::r(param::COLLECTION_COUNT));
    };
    let matching = |set: &mut dyn FnMut(&str, Expr)| {
        set(
            env::FACE_MATCH_THRESHOLD,
            Expr::r(param::FACE_MATCH_THRESHOLD),
        )
    };
    let guard = |set: &mut dyn FnMut(&str, Expr)| {
        set(
            env::MAX_FAILED_ATTEMPTS,
            Expr::r(param::MAX_FAILED_ATTEMPTS),
        );
        set(env::LOCKOUT_SECONDS, Expr::r(param::LOCKOUT_SECONDS));
        set(env::DENIAL_FLOOR_MS, Expr::r(param::DENIAL_FLOOR_MS));
    };
    let max_faces = |set: &mut dyn FnMut(&str, Expr)| {
        set(env::MAX_FACES_PER_USER, Expr::r(param::MAX_FACES_PER_USER));
    };
    let storage = |set: &mut dyn FnMut(&str, Expr)| {
        set(env::TABLE_NAME, Expr::r(id::FACE_TABLE));
        set(env::BUCKET_NAME, Expr::r(id::IMAGE_BUCKET));
    };
    set(env::FUNCTION, Expr::from(function));
    match function {
        f::DETECT_FACES => {
            set(env::MIN_CONFIDENCE, Expr::r(param::MIN_CONFIDENCE));
            set(env::MAX_POSE, Expr::r(param::MAX_POSE));
            set(env::TABLE_NAME, Expr::r(id::FACE_TABLE));
            set(env::BUCKET_NAME, Expr::r(id::IMAGE_BUCKET));
            guard(&mut set);
        }
        f::SEARCH_FACES => {
            collections(&mut set);
            matching(&mut set);
            guard(&mut set);
            set(env::TABLE_NAME, Expr::r(id::FACE_TABLE));
            set(env::BUCKET_NAME, Expr::r(id::IMAGE_BUCKET));
        }
        f::COMPARE_FACES => {
            storage(&mut set);
            matching(&mut set);
            guard(&mut set);
            max_faces(&mut set);
        }
        f::COMPARE_IDCARD => {
            matching(&mut set);
            set(env::BUCKET_NAME, Expr::r(id::IMAGE_BUCKET));
        }
        f::EXTRACT_IDCARD => {
            set(env::ID_EXTRACTION, Expr::r(param::ID_EXTRACTION));
            set(env::BUCKET_NAME, Expr::r(id::IMAGE_BUCKET));
        }
        f::INDEX_FACE => {
            storage(&mut set);
            collections(&mut set);
            matching(&mut set);
            max_faces(&mut set);
        }
        f::ROLLBACK => storage(&mut set),
        f::UPLOADS => set(env::BUCKET_NAME, Expr::r(id::IMAGE_BUCKET)),
        _ => {}
    }
    if flavor.is_local() {
        // The functions that write (or search, for the DynamoDB fault) are where the faults are injected.
        if matches!(
            function,
            f::SEARCH_FACES | f::COMPARE_FACES | f::INDEX_FACE | f::ROLLBACK
        ) {
            set(env::INJECT_FAULT, Expr::r(param::INJECT_FAULT));
        }
        set(
            "AWS_ENDPOINT_URL",
            Expr::iff(
                id::HAS_ENDPOINT_URL,
                Expr::r(param::ENDPOINT_URL),
                Expr::no_value(),
            ),
        );
    }
    vars
}

/// What the scanner asks of every function that does not fit this design.
const FUNCTION_SKIPS: [(&str, &str); 2] = [
    (
        "CKV_AWS_116",
        "No dead-letter queue: Step Functions invokes every function synchronously and its Catch rolls back and \
         answers the failure, so no event is ever queued to be lost.",
    ),
    (
        "CKV_AWS_117",
        "No VPC: the functions reach only AWS APIs over TLS with IAM, there is nothing private to reach, and a VPC \
         would add NAT or endpoint cost and cold-start time.",
    ),
];

pub fn add(t: &mut Template, flavor: Flavor) {
    for function in flavor.functions() {
        let name = Expr::sub(&function_name("${AWS::StackName}", function));
        let log_group = log_group_id(function);
        t.add(
            &log_group,
            Resource::new(
                "AWS::Logs::LogGroup",
                [
                    (
                        "LogGroupName",
                        Expr::sub(&function_log_group("${AWS::StackName}", function)),
                    ),
                    ("RetentionInDays", Expr::Int(LOG_RETENTION_DAYS)),
                    ("KmsKeyId", crate::encryption::key_or_default()),
                    ("Tags", stack_tags()),
                ],
            )
            .deleted_with_stack(false),
        );
        let mut statements = statements(function);
        statements.push(allow(
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            vec![Expr::att(&log_group, "Arn")],
        ));
        t.add(
            &role_id(function),
            role(
                "lambda.amazonaws.com",
                &format!("riv-{function}"),
                statements,
            ),
        );
        t.add(
            &function_id(function),
            Resource::new(
                "AWS::Lambda::Function",
                [
                    ("FunctionName", name),
                    ("Runtime", Expr::from("provided.al2023")),
                    ("Handler", Expr::from("bootstrap")),
                    ("Architectures", Expr::list([Expr::r(param::ARCHITECTURE)])),
                    (
                        "Code",
                        obj([
                            ("S3Bucket", Expr::r(param::ARTIFACT_BUCKET)),
                            ("S3Key", Expr::r(param::CODE_KEY)),
                        ]),
                    ),
                    ("Role", Expr::att(&role_id(function), "Arn")),
                    ("MemorySize", Expr::Int(512)),
                    // A function takes about a second; the headroom is for a loaded machine (the local stack
                    // under the e2e suite timed out registrations at 10 s). The flow's 28 s still bounds it.
                    ("Timeout", Expr::Int(20)),
                    (
                        "Environment",
                        obj([("Variables", Expr::Map(environment(function, flavor)))]),
                    ),
                    ("KmsKeyArn", crate::encryption::key_or_default()),
                    ("LoggingConfig", obj([("LogGroup", Expr::r(&log_group))])),
                    (
                        "ReservedConcurrentExecutions",
                        Expr::iff(
                            id::RESERVES_CONCURRENCY,
                            Expr::r(param::FUNCTION_CONCURRENCY),
                            Expr::no_value(),
                        ),
                    ),
                    ("Tags", stack_tags()),
                ],
            )
            .scanner_skips(&FUNCTION_SKIPS),
        );
    }
}
