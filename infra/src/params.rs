//! The stack's parameters, with the ranges the functions enforce, and `--param K=V` defaults checked against
//! them before anything is built or deployed.

use crate::model::{Parameter, Template};
use crate::names::{param, MAX_COLLECTIONS};
use riv_domain::config::{self, Range};
use riv_domain::names::{function as f, route};
use std::collections::BTreeMap;

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

/// `KmsKey`: empty, `create`, or a KMS key's ARN.
pub const KMS_KEY_PATTERN: &str =
    "^(|create|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+)$";

/// Reserved concurrency of each function: the stage admits `THROTTLE_RATE` requests a second, and a function
/// call takes up to about a second, so this many instances of any one function serve the whole stage.
pub const FUNCTION_CONCURRENCY: i64 = crate::names::THROTTLE_RATE;

/// Which template: the production one, or the local stack's, which adds the test hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// What `cargo xtask deploy` ships to AWS: no fault injection, no endpoint override.
    Aws,
    /// LocalStack only: adds `InjectFault` (the functions crash on purpose, for the fault tests) and
    /// `EndpointUrl` (the functions send every SDK call, images included, to that host). Neither may ever
    /// reach a production template.
    Local,
    /// `cargo xtask bench flows` only: the local stack and its floor, a `POST /floor` route to an EXPRESS state
    /// machine of one `echo` function that returns its input, so each flow's figures read against the
    /// platform's own cost of a route, a state machine and a Lambda hop.
    Bench,
}

impl Flavor {
    /// LocalStack only: the test hooks are there.
    pub fn is_local(self) -> bool {
        matches!(self, Flavor::Local | Flavor::Bench)
    }

    /// The functions the template deploys.
    pub fn functions(self) -> Vec<&'static str> {
        let mut all = f::ALL.to_vec();
        if self == Flavor::Bench {
            all.push(f::ECHO);
        }
        all
    }

    /// The API's routes, each to its own state machine.
    pub fn routes(self) -> Vec<&'static str> {
        let mut all = route::ALL.to_vec();
        if self == Flavor::Bench {
            all.push(route::FLOOR);
        }
        all
    }
}

/// Every parameter of the stack.
pub fn add(t: &mut Template, flavor: Flavor) {
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
    p.insert(
        param::KMS_KEY.into(),
        Parameter {
            allowed_pattern: Some(KMS_KEY_PATTERN.into()),
            ..Parameter::string(
                "Customer-managed KMS key for the images, the table, the events topic, the logs and the functions' \
                 settings: empty for the AWS-managed keys, create for a key of the stack's own (rotated yearly), \
                 or the ARN of a key in this region (its policy must let CloudWatch Logs use it, see README)",
                Some(""),
            )
        },
    );
    p.insert(
        param::FUNCTION_CONCURRENCY.into(),
        Parameter::number(
            &format!(
                "Concurrent executions reserved for each function, so one flow cannot starve the others or the \
                 account; 0 reserves none (for accounts whose Lambda limit is under {}). The default serves the \
                 API's whole throttle ({} requests/s) with calls of up to a second",
                FUNCTION_CONCURRENCY * f::ALL.len() as i64 + 100,
                crate::names::THROTTLE_RATE
            ),
            FUNCTION_CONCURRENCY as f64,
            0.0,
            1000.0,
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
    p.insert(
        param::CODE_KEY.into(),
        Parameter::string(
            "Object key of the bootstrap.zip every function runs (each picks its part by RIV_FUNCTION)",
            None,
        ),
    );
    if flavor.is_local() {
        test_hooks(p);
    }
}

fn test_hooks(p: &mut BTreeMap<String, Parameter>) {
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
        param::INJECT_DEPLOY_FAILURE.into(),
        Parameter::one_of(
            "Tests only: true adds a function whose code does not exist, so the deploy fails on it (fleet tests)",
            "false",
            &["false", "true"],
        ),
    );
    p.insert(
        param::ENDPOINT_URL.into(),
        Parameter::string(
            "Local emulation only: AWS endpoint the functions call. Empty on AWS",
            Some(""),
        ),
    );
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
