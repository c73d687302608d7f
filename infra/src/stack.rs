//! The Riv stack: parameters, storage, collections, functions with their roles, state machines, the topic,
//! the API and the outputs.

use crate::flows;
use crate::iam::{allow, role};
use crate::model::{obj, Expr, Parameter, Resource, Template};
use crate::naming::*;
use riv_domain::config::{self, Range};
use riv_domain::names::function as f;
use std::collections::BTreeMap;

pub const DEFAULT_STACK_NAME: &str = "Riv-Prod";
/// Collections are resources, so their number has a ceiling the template spells out.
pub const MAX_COLLECTIONS: u32 = 8;
pub const LOG_RETENTION_DAYS: i64 = 30;
pub const STACK_TAG: &str = "riv:stack";

pub mod param {
    pub const STAGE: &str = "Stage";
    pub const FACE_MATCH_THRESHOLD: &str = "FaceMatchThreshold";
    pub const MIN_CONFIDENCE: &str = "MinConfidence";
    pub const MAX_POSE: &str = "MaxPose";
    pub const COLLECTION_COUNT: &str = "CollectionCount";
    pub const ID_EXTRACTION: &str = "IdExtraction";
    pub const ARCHITECTURE: &str = "Architecture";
    pub const ARTIFACT_BUCKET: &str = "ArtifactBucket";
    pub const ENDPOINT_URL: &str = "EndpointUrl";
    pub const INJECT_FAULT: &str = "InjectFault";
    pub const MAX_FAILED_ATTEMPTS: &str = "MaxFailedAttempts";
    pub const LOCKOUT_SECONDS: &str = "LockoutSeconds";
    pub const DENIAL_FLOOR_MS: &str = "DenialFloorMs";
    pub const MAX_FACES_PER_USER: &str = "MaxFacesPerUser";
    pub const API_KEY_REQUIRED: &str = "ApiKeyRequired";
    pub const LOGIN_FAILURE_ALARM: &str = "LoginFailureAlarmThreshold";
}

pub mod id {
    pub const IMAGE_BUCKET: &str = "ImageBucket";
    pub const IMAGE_BUCKET_POLICY: &str = "ImageBucketPolicy";
    pub const FACE_TABLE: &str = "FaceTable";
    pub const TOPIC: &str = "LoginFailedTopic";
    pub const STATES_ROLE: &str = "StatesRole";
    pub const STATES_LOG_GROUP: &str = "StatesLogGroup";
    pub const HAS_ENDPOINT_URL: &str = "HasEndpointUrl";
    pub const REQUIRES_API_KEY: &str = "RequiresApiKey";
    pub const HAS_LOGIN_FAILURE_ALARM: &str = "HasLoginFailureAlarm";
    pub const LOGIN_FAILURE_ALARM: &str = "LoginFailureAlarm";
    pub const ALARM_TOPIC: &str = "LoginFailureAlarmTopic";
}

/// The tag every taggable resource carries, so cleanup can tell Riv's leftovers from anyone else's.
pub fn stack_tags() -> Expr {
    Expr::list([obj([
        ("Key", Expr::from(STACK_TAG)),
        ("Value", Expr::r("AWS::StackName")),
    ])])
}

pub fn collection_id(n: u32) -> String {
    format!("Collection{n}")
}

pub fn collection_condition(n: u32) -> String {
    format!("HasCollection{n}")
}

/// The whole template.
pub fn riv() -> Template {
    let mut t = Template::new(
        "Riv: identity verification with Rekognition face matching and Textract ID extraction",
    );
    parameters(&mut t);
    conditions(&mut t);
    storage(&mut t);
    collections(&mut t);
    crate::functions::add(&mut t);
    state_machines(&mut t);
    crate::api::add(&mut t);
    alarm(&mut t);
    outputs(&mut t);
    t
}

/// A stack parameter over one of the functions' ranged settings: the same bounds, so CloudFormation refuses
/// what the function would refuse at cold start.
fn ranged(description: &str, range: Range) -> Parameter {
    Parameter::number(
        &format!("{description} ({} to {})", range.min, range.max),
        range.default.into(),
        range.min.into(),
        range.max.into(),
    )
}

fn parameters(t: &mut Template) {
    let p = &mut t.parameters;
    p.insert(
        param::STAGE.into(),
        Parameter {
            allowed_pattern: Some("^[a-zA-Z0-9_]{1,64}$".into()),
            ..Parameter::string("API stage name", Some("prod"))
        },
    );
    let ranged_parameters = [
        (
            param::FACE_MATCH_THRESHOLD,
            "Similarity, in percent, for two faces to be the same person",
            config::FACE_MATCH_THRESHOLD,
        ),
        (
            param::MIN_CONFIDENCE,
            "Face detection confidence, in percent, below which a face is ignored",
            config::MIN_CONFIDENCE,
        ),
        (
            param::MAX_POSE,
            "Largest head pitch, roll or yaw accepted, in degrees",
            config::MAX_POSE,
        ),
        (
            param::MAX_FAILED_ATTEMPTS,
            "Auth or update attempts of one UserId without a success before it is locked out",
            config::MAX_FAILED_ATTEMPTS,
        ),
        (
            param::LOCKOUT_SECONDS,
            "The lockout window in seconds: it starts at the first attempt, and a locked-out UserId is free again when it ends",
            config::LOCKOUT_SECONDS,
        ),
        (
            param::DENIAL_FLOOR_MS,
            "A denied auth or update is answered no sooner than this many milliseconds after it started, so an unknown UserId and a wrong face take equally long",
            config::DENIAL_FLOOR_MS,
        ),
        (
            param::MAX_FACES_PER_USER,
            "Faces a user keeps; an update beyond it replaces the oldest",
            config::MAX_FACES_PER_USER,
        ),
    ];
    for (name, description, range) in ranged_parameters {
        p.insert(name.into(), ranged(description, range));
    }
    p.insert(
        param::API_KEY_REQUIRED.into(),
        Parameter::one_of(
            "true: every route needs an x-api-key header; keys get a usage plan with a per-key rate and daily quota (see README)",
            "false",
            &["false", "true"],
        ),
    );
    p.insert(
        param::LOGIN_FAILURE_ALARM.into(),
        Parameter::number(
            "Failed auth executions in 5 minutes that raise an alarm to the security topic; 0 for no alarm",
            0.0,
            0.0,
            100_000.0,
        ),
    );
    let counts: Vec<String> = (1..=MAX_COLLECTIONS).map(|n| n.to_string()).collect();
    let counts: Vec<&str> = counts.iter().map(String::as_str).collect();
    p.insert(
        param::COLLECTION_COUNT.into(),
        Parameter::one_of(
            "Rekognition collections users are spread over. Fixed at first deploy: changing it strands stored faces",
            "1",
            &counts,
        ),
    );
    p.insert(
        param::ID_EXTRACTION.into(),
        Parameter::one_of(
            "analyze-id (Textract AnalyzeID) or detect-text (Rekognition DetectText, for regions without AnalyzeID)",
            "analyze-id",
            &["analyze-id", "detect-text"],
        ),
    );
    p.insert(
        param::ARCHITECTURE.into(),
        Parameter::one_of(
            "Lambda architecture the artifacts were built for",
            "x86_64",
            &["x86_64", "arm64"],
        ),
    );
    p.insert(
        param::ARTIFACT_BUCKET.into(),
        Parameter::string(
            "Bucket holding the functions' bootstrap.zip artifacts",
            None,
        ),
    );
    for function in f::ALL {
        p.insert(
            code_key_parameter(function),
            Parameter::string(&format!("Object key of the {function} bootstrap.zip"), None),
        );
    }
    let fault = "record-write|crash-after-index-faces|crash-after-s3-write|delete-faces-once|dynamodb-errors";
    p.insert(
        param::INJECT_FAULT.into(),
        Parameter {
            allowed_pattern: Some(format!("^(none|({fault})(,({fault}))*)$")),
            ..Parameter::string(
                "Tests only: faults the functions inject, comma-separated (record-write, crash-after-index-faces, \
                 crash-after-s3-write, delete-faces-once, dynamodb-errors), to exercise rollback and reconcile",
                Some("none"),
            )
        },
    );
    p.insert(
        param::ENDPOINT_URL.into(),
        Parameter::string(
            "Local emulation only: AWS endpoint the functions call. Empty on AWS",
            Some(""),
        ),
    );
}

fn conditions(t: &mut Template) {
    let c = &mut t.conditions;
    c.insert(
        id::REQUIRES_API_KEY.into(),
        Expr::equals(Expr::r(param::API_KEY_REQUIRED), "true".into()),
    );
    c.insert(
        id::HAS_LOGIN_FAILURE_ALARM.into(),
        Expr::Not(Box::new(Expr::equals(
            Expr::r(param::LOGIN_FAILURE_ALARM),
            "0".into(),
        ))),
    );
    c.insert(
        id::HAS_ENDPOINT_URL.into(),
        Expr::Not(Box::new(Expr::equals(
            Expr::r(param::ENDPOINT_URL),
            "".into(),
        ))),
    );
    // Collection n exists when CollectionCount >= n, spelled as membership because conditions cannot compare.
    for n in 2..=MAX_COLLECTIONS {
        let members: Vec<Expr> = (n..=MAX_COLLECTIONS)
            .map(|k| Expr::equals(Expr::r(param::COLLECTION_COUNT), k.to_string().into()))
            .collect();
        let condition = if members.len() == 1 {
            members.into_iter().next().unwrap_or(Expr::Bool(false))
        } else {
            Expr::Or(members)
        };
        c.insert(collection_condition(n), condition);
    }
}

fn storage(t: &mut Template) {
    let block_all = obj([
        ("BlockPublicAcls", Expr::Bool(true)),
        ("BlockPublicPolicy", Expr::Bool(true)),
        ("IgnorePublicAcls", Expr::Bool(true)),
        ("RestrictPublicBuckets", Expr::Bool(true)),
    ]);
    let sse = obj([(
        "ServerSideEncryptionConfiguration",
        Expr::list([obj([(
            "ServerSideEncryptionByDefault",
            obj([("SSEAlgorithm", Expr::from("AES256"))]),
        )])]),
    )]);
    let lifecycle = obj([(
        "Rules",
        Expr::list([obj([
            ("Id", Expr::from("AbortIncompleteUploads")),
            ("Status", Expr::from("Enabled")),
            (
                "AbortIncompleteMultipartUpload",
                obj([("DaysAfterInitiation", Expr::Int(7))]),
            ),
        ])]),
    )]);
    t.add(
        id::IMAGE_BUCKET,
        Resource::new(
            "AWS::S3::Bucket",
            [
                ("BucketEncryption", sse),
                (
                    "VersioningConfiguration",
                    obj([("Status", Expr::from("Enabled"))]),
                ),
                ("PublicAccessBlockConfiguration", block_all),
                (
                    "OwnershipControls",
                    obj([(
                        "Rules",
                        Expr::list([obj([("ObjectOwnership", "BucketOwnerEnforced")])]),
                    )]),
                ),
                ("LifecycleConfiguration", lifecycle),
                ("Tags", stack_tags()),
            ],
        )
        // Face images outlive the stack on purpose: `cargo xtask destroy` empties and removes the bucket.
        .retained(),
    );
    let tls_only = obj([
        ("Sid", Expr::from("DenyInsecureTransport")),
        ("Effect", Expr::from("Deny")),
        ("Principal", Expr::from("*")),
        ("Action", Expr::from("s3:*")),
        (
            "Resource",
            Expr::list([
                Expr::att(id::IMAGE_BUCKET, "Arn"),
                Expr::sub("${ImageBucket.Arn}/*"),
            ]),
        ),
        (
            "Condition",
            obj([("Bool", obj([("aws:SecureTransport", "false")]))]),
        ),
    ]);
    t.add(
        id::IMAGE_BUCKET_POLICY,
        Resource::new(
            "AWS::S3::BucketPolicy",
            [
                ("Bucket", Expr::r(id::IMAGE_BUCKET)),
                (
                    "PolicyDocument",
                    obj([
                        ("Version", Expr::from("2012-10-17")),
                        ("Statement", Expr::list([tls_only])),
                    ]),
                ),
            ],
        ),
    );
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
                ("SSESpecification", obj([("SSEEnabled", Expr::Bool(true))])),
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
                ("KmsMasterKeyId", Expr::from("alias/aws/sns")),
                ("Tags", stack_tags()),
            ],
        ),
    );
}

fn collections(t: &mut Template) {
    for n in 1..=MAX_COLLECTIONS {
        let resource = Resource::new(
            "AWS::Rekognition::Collection",
            [
                (
                    "CollectionId",
                    Expr::sub(&format!("${{AWS::StackName}}-{n}")),
                ),
                ("Tags", stack_tags()),
            ],
        );
        let resource = if n == 1 {
            resource
        } else {
            resource.when(&collection_condition(n))
        };
        t.add(&collection_id(n), resource);
    }
}

fn state_machines(t: &mut Template) {
    let invoke: Vec<Expr> = f::ALL
        .iter()
        .map(|function| Expr::att(&function_id(function), "Arn"))
        .collect();
    t.add(
        id::STATES_LOG_GROUP,
        Resource::new(
            "AWS::Logs::LogGroup",
            [
                (
                    "LogGroupName",
                    Expr::sub("/aws/vendedlogs/states/${AWS::StackName}"),
                ),
                ("RetentionInDays", Expr::Int(LOG_RETENTION_DAYS)),
                ("Tags", stack_tags()),
            ],
        )
        .deleted_with_stack(false),
    );
    let log_delivery = [
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    ];
    t.add(
        id::STATES_ROLE,
        role(
            "states.amazonaws.com",
            "riv-flows",
            vec![
                allow(&["lambda:InvokeFunction"], invoke),
                allow(&["sns:Publish"], vec![Expr::r(id::TOPIC)]),
                allow(&log_delivery, vec![Expr::from("*")]),
            ],
        ),
    );
    let mut substitutions: BTreeMap<String, Expr> = f::ALL
        .iter()
        .map(|function| {
            (
                arn_variable(function),
                Expr::att(&function_id(function), "Arn"),
            )
        })
        .collect();
    substitutions.insert(TOPIC_ARN_VARIABLE.into(), Expr::r(id::TOPIC));
    for (route, machine) in flows::all() {
        let definition = serde_json::to_value(&machine).unwrap_or_default();
        t.add(
            &state_machine_id(route),
            Resource::new(
                "AWS::StepFunctions::StateMachine",
                [
                    (
                        "StateMachineName",
                        Expr::sub(&format!("${{AWS::StackName}}-{route}")),
                    ),
                    ("StateMachineType", Expr::from("EXPRESS")),
                    ("Definition", Expr::from_json(&definition)),
                    ("DefinitionSubstitutions", Expr::Map(substitutions.clone())),
                    ("RoleArn", Expr::att(id::STATES_ROLE, "Arn")),
                    (
                        "LoggingConfiguration",
                        obj([
                            ("Level", Expr::from("ERROR")),
                            ("IncludeExecutionData", Expr::Bool(false)),
                            (
                                "Destinations",
                                Expr::list([obj([(
                                    "CloudWatchLogsLogGroup",
                                    obj([("LogGroupArn", Expr::att(id::STATES_LOG_GROUP, "Arn"))]),
                                )])]),
                            ),
                        ]),
                    ),
                    ("Tags", stack_tags()),
                ],
            ),
        );
    }
}

/// Optional: an alarm on failed authentications. It publishes to a topic of its own: CloudWatch cannot use the
/// AWS-managed SNS key that encrypts the events topic, and an alarm's message holds no UserId or image.
fn alarm(t: &mut Template) {
    t.add(
        id::ALARM_TOPIC,
        Resource::new("AWS::SNS::Topic", [("Tags", stack_tags())])
            .when(id::HAS_LOGIN_FAILURE_ALARM),
    );
    t.add(
        id::LOGIN_FAILURE_ALARM,
        Resource::new(
            "AWS::CloudWatch::Alarm",
            [
                (
                    "AlarmDescription",
                    Expr::from(
                        "Failed authentications (wrong face, unknown UserId, lockout, bad photo) above the \
                         LoginFailureAlarmThreshold stack parameter in 5 minutes",
                    ),
                ),
                ("Namespace", Expr::from("AWS/States")),
                ("MetricName", Expr::from("ExecutionsFailed")),
                (
                    "Dimensions",
                    Expr::list([obj([
                        ("Name", Expr::from("StateMachineArn")),
                        ("Value", Expr::r(&state_machine_id(riv_domain::names::route::AUTH))),
                    ])]),
                ),
                ("Statistic", Expr::from("Sum")),
                ("Period", Expr::Int(300)),
                ("EvaluationPeriods", Expr::Int(1)),
                ("Threshold", Expr::r(param::LOGIN_FAILURE_ALARM)),
                (
                    "ComparisonOperator",
                    Expr::from("GreaterThanOrEqualToThreshold"),
                ),
                ("TreatMissingData", Expr::from("notBreaching")),
                ("AlarmActions", Expr::list([Expr::r(id::ALARM_TOPIC)])),
            ],
        )
        .when(id::HAS_LOGIN_FAILURE_ALARM),
    );
}

fn outputs(t: &mut Template) {
    t.output(
        "ApiUrl",
        "Base URL of the API: POST <ApiUrl>/register, /register-idcard, /auth, /update",
        Expr::sub("https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}"),
    );
    t.output(
        "ApiId",
        "REST API id (LocalStack serves it at <endpoint>/restapis/<ApiId>/<ApiStageName>/_user_request_)",
        Expr::r(crate::api::API),
    );
    t.output("ApiStageName", "API stage name", Expr::r(param::STAGE));
    t.output(
        "ImageBucket",
        "Bucket of face and ID card images (retained on stack delete)",
        Expr::r(id::IMAGE_BUCKET),
    );
    t.output(
        "FaceTable",
        "DynamoDB table of users and faces",
        Expr::r(id::FACE_TABLE),
    );
    // Conditional collections join in only when they exist; Join over plain strings works everywhere.
    let mut names = vec![Expr::r(&collection_id(1))];
    for n in 2..=MAX_COLLECTIONS {
        names.push(Expr::iff(
            &collection_condition(n),
            Expr::sub(&format!(",${{{}}}", collection_id(n))),
            "".into(),
        ));
    }
    t.output(
        "Collections",
        "Rekognition collections, comma-separated",
        Expr::Join(String::new(), names),
    );
    t.output(
        "LoginFailedTopic",
        "SNS topic of security events: LoginFailed, UserLockedOut, DuplicateRegistration, IdCardMismatch \
         (message attribute Event)",
        Expr::r(id::TOPIC),
    );
    t.outputs.insert(
        "LoginFailureAlarmTopic".into(),
        crate::model::Output {
            description:
                "SNS topic of the login failure alarm (when LoginFailureAlarmThreshold is set)"
                    .into(),
            value: Expr::r(id::ALARM_TOPIC),
            condition: Some(id::HAS_LOGIN_FAILURE_ALARM.into()),
        },
    );
    for route in riv_domain::names::route::ALL {
        t.output(
            &format!("{}StateMachineArn", pascal(route)),
            &format!("State machine behind POST /{route}"),
            Expr::r(&state_machine_id(route)),
        );
    }
}

/// A `--param K=V` that the template cannot take.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParamError {
    #[error("{0:?} is not KEY=VALUE")]
    Malformed(String),
    #[error("unknown parameter {name}: the template takes {known}")]
    Unknown { name: String, known: String },
    #[error("{name}={value} is not allowed: {rule}")]
    Invalid {
        name: String,
        value: String,
        rule: String,
    },
}

/// Sets parameter defaults from `KEY=VALUE` pairs, checked against each parameter's own constraints.
pub fn set_defaults(t: &mut Template, pairs: &[String]) -> Result<(), ParamError> {
    for pair in pairs {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| ParamError::Malformed(pair.clone()))?;
        let known = t.parameters.keys().cloned().collect::<Vec<_>>().join(", ");
        let p = t
            .parameters
            .get_mut(name)
            .ok_or_else(|| ParamError::Unknown {
                name: name.into(),
                known,
            })?;
        let invalid = |rule: String| ParamError::Invalid {
            name: name.into(),
            value: value.into(),
            rule,
        };
        if !p.allowed_values.is_empty() && !p.allowed_values.iter().any(|a| a == value) {
            return Err(invalid(format!("one of {}", p.allowed_values.join(", "))));
        }
        if p.kind == "Number" {
            let n: f64 = value.parse().map_err(|_| invalid("a number".into()))?;
            let (min, max) = (
                p.min_value.unwrap_or(f64::MIN),
                p.max_value.unwrap_or(f64::MAX),
            );
            if !(min..=max).contains(&n) {
                return Err(invalid(format!("between {min} and {max}")));
            }
        }
        p.default = Some(value.to_string());
    }
    Ok(())
}
