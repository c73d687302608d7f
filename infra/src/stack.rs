//! The Riv stack: parameters, storage, collections, functions with their roles, state machines, the topic,
//! the API and the outputs.

use crate::flows;
use crate::iam::{allow, role};
use crate::model::stack_tags;
use crate::model::{obj, Expr, Resource, Template};
use crate::names::*;
use riv_domain::names::function as f;
use std::collections::BTreeMap;

pub use crate::params::{set_defaults, Flavor, ParamError};

/// The production template, as `cargo xtask deploy` ships it and `cargo xtask synth` prints it.
pub fn riv() -> Template {
    template(Flavor::Aws)
}

/// The whole template of a flavor: the local stack's adds the test hooks.
pub fn template(flavor: Flavor) -> Template {
    let mut t = Template::new(
        "Riv: identity verification with Rekognition face matching and Textract ID extraction",
    );
    crate::params::add(&mut t, flavor);
    conditions(&mut t, flavor);
    crate::encryption::conditions(&mut t);
    crate::storage::add(&mut t, flavor);
    crate::encryption::add(&mut t, flavor);
    collections(&mut t);
    crate::functions::add(&mut t, flavor);
    state_machines(&mut t, flavor);
    crate::api::add(&mut t, flavor);
    alarm(&mut t);
    outputs(&mut t);
    if flavor.is_local() {
        injected_deploy_failure(&mut t);
    }
    t
}

const DEPLOY_FAILURE_INJECTED: &str = "DeployFailureInjected";

/// Tests only: a function whose code bucket does not exist, so CloudFormation fails the deploy on it and rolls
/// back, as a real mistake in a region would.
fn injected_deploy_failure(t: &mut Template) {
    let role = role_id(f::ALL[0]);
    let resource = Resource::new(
        "AWS::Lambda::Function",
        [
            // Named, so LocalStack (which does not roll back a failed update) can delete it on the next deploy.
            (
                "FunctionName",
                Expr::sub("${AWS::StackName}-injected-deploy-failure"),
            ),
            ("Runtime", Expr::from("provided.al2023")),
            ("Handler", Expr::from("bootstrap")),
            (
                "Code",
                obj([
                    (
                        "S3Bucket",
                        Expr::from("riv-injected-deploy-failure-no-such-bucket"),
                    ),
                    ("S3Key", Expr::from("bootstrap.zip")),
                ]),
            ),
            ("Role", Expr::att(&role, "Arn")),
        ],
    )
    .when(DEPLOY_FAILURE_INJECTED);
    t.add("InjectedDeployFailure", resource);
}

fn conditions(t: &mut Template, flavor: Flavor) {
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
        id::RESERVES_CONCURRENCY.into(),
        Expr::Not(Box::new(Expr::equals(
            Expr::r(param::FUNCTION_CONCURRENCY),
            "0".into(),
        ))),
    );
    if flavor.is_local() {
        c.insert(
            DEPLOY_FAILURE_INJECTED.into(),
            Expr::equals(Expr::r(param::INJECT_DEPLOY_FAILURE), "true".into()),
        );
        c.insert(
            id::HAS_ENDPOINT_URL.into(),
            Expr::Not(Box::new(Expr::equals(
                Expr::r(param::ENDPOINT_URL),
                "".into(),
            ))),
        );
    }
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

fn state_machines(t: &mut Template, flavor: Flavor) {
    let invoke: Vec<Expr> = flavor
        .functions()
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
                    Expr::sub(&states_log_group("${AWS::StackName}")),
                ),
                ("RetentionInDays", Expr::Int(LOG_RETENTION_DAYS)),
                ("KmsKeyId", crate::encryption::key_or_default()),
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
    let mut substitutions: BTreeMap<String, Expr> = flavor
        .functions()
        .iter()
        .map(|function| {
            (
                arn_variable(function),
                Expr::att(&function_id(function), "Arn"),
            )
        })
        .collect();
    substitutions.insert(TOPIC_ARN_VARIABLE.into(), Expr::r(id::TOPIC));
    let mut machines = flows::all();
    if flavor == Flavor::Bench {
        machines.insert(riv_domain::names::route::FLOOR, flows::floor());
    }
    for (route, machine) in machines {
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
/// AWS-managed SNS key that encrypts the events topic, so that topic is encrypted only with a customer key
/// (whose policy lets CloudWatch use it); an alarm's message holds no UserId or image.
fn alarm(t: &mut Template) {
    t.add(
        id::ALARM_TOPIC,
        Resource::new(
            "AWS::SNS::Topic",
            [
                ("KmsMasterKeyId", crate::encryption::key_or_default()),
                ("Tags", stack_tags()),
            ],
        )
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
        output::API_URL,
        "Base URL of the API: POST <ApiUrl>/register, /register-idcard, /auth, /update",
        Expr::sub("https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}"),
    );
    t.output(
        output::API_ID,
        "REST API id (LocalStack serves it at <endpoint>/restapis/<ApiId>/<ApiStageName>/_user_request_)",
        Expr::r(id::API),
    );
    t.output(
        output::API_STAGE_NAME,
        "API stage name",
        Expr::r(param::STAGE),
    );
    t.output(
        output::IMAGE_BUCKET,
        "Bucket of face and ID card images (retained on stack delete)",
        Expr::r(id::IMAGE_BUCKET),
    );
    t.output(
        output::ACCESS_LOG_BUCKET,
        "Bucket of the image bucket's S3 access logs (retained on stack delete)",
        Expr::r(id::ACCESS_LOG_BUCKET),
    );
    t.outputs.insert(
        output::KMS_KEY_ARN.into(),
        crate::model::Output {
            description: "Customer-managed KMS key of the stack's data (when KmsKey is set)".into(),
            value: crate::encryption::key_arn(),
            condition: Some(id::USES_CUSTOMER_KEY.into()),
        },
    );
    t.output(
        output::FACE_TABLE,
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
        output::COLLECTIONS,
        "Rekognition collections, comma-separated",
        Expr::Join(String::new(), names),
    );
    t.output(
        output::LOGIN_FAILED_TOPIC,
        "SNS topic of security events: LoginFailed, UserLockedOut, DuplicateRegistration, IdCardMismatch \
         (message attribute Event)",
        Expr::r(id::TOPIC),
    );
    t.outputs.insert(
        output::LOGIN_FAILURE_ALARM_TOPIC.into(),
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
            &output::state_machine_arn(route),
            &format!("State machine behind POST /{route}"),
            Expr::r(&state_machine_id(route)),
        );
    }
}
