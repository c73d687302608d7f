//! Every name the template gives and the tools look up, spelled once: logical ids, parameters, outputs, the
//! stack tag, log-group names (with their parser). A leaf: it imports nothing from this crate, so the template's
//! modules and the tools (deploy, teardown, cleanup, xtask, tests) can all depend on it without a cycle.

use riv_domain::names::function as f;

pub const DEFAULT_STACK_NAME: &str = "Riv-Prod";
/// Collections are resources, so their number has a ceiling the template spells out.
pub const MAX_COLLECTIONS: u32 = 8;
pub const LOG_RETENTION_DAYS: i64 = 30;
/// Requests per second and burst for the whole API stage.
pub const THROTTLE_RATE: i64 = 50;
pub const THROTTLE_BURST: i64 = 100;
/// The tag every taggable resource carries (value: the stack name), so destroy and cleanup can tell Riv's
/// resources from anyone else's.
pub const STACK_TAG: &str = "riv:stack";
/// What a Riv bucket holds (`images` or `access-logs`), so cleanup can say what it found after the stack is gone.
pub const BUCKET_TAG: &str = "riv:bucket";
pub const IMAGES: &str = "images";
pub const ACCESS_LOGS: &str = "access-logs";
/// Days a key made by a stack waits, after `destroy` or `cleanup` schedules its deletion, before KMS deletes it:
/// the least KMS allows, as everything it encrypted is gone by then; `aws kms cancel-key-deletion` undoes it.
pub const KEY_DELETION_WINDOW_DAYS: i32 = 7;
/// Days the image bucket's access logs are kept.
pub const ACCESS_LOG_RETENTION_DAYS: i64 = 365;

/// Logical ids of the template's fixed resources and conditions.
pub mod id {
    pub const IMAGE_BUCKET: &str = "ImageBucket";
    pub const IMAGE_BUCKET_POLICY: &str = "ImageBucketPolicy";
    pub const FACE_TABLE: &str = "FaceTable";
    pub const TOPIC: &str = "LoginFailedTopic";
    pub const STATES_ROLE: &str = "StatesRole";
    pub const STATES_LOG_GROUP: &str = "StatesLogGroup";
    pub const API: &str = "Api";
    pub const HAS_ENDPOINT_URL: &str = "HasEndpointUrl";
    pub const REQUIRES_API_KEY: &str = "RequiresApiKey";
    pub const HAS_LOGIN_FAILURE_ALARM: &str = "HasLoginFailureAlarm";
    pub const LOGIN_FAILURE_ALARM: &str = "LoginFailureAlarm";
    pub const ALARM_TOPIC: &str = "LoginFailureAlarmTopic";
    pub const ACCESS_LOG_BUCKET: &str = "AccessLogBucket";
    pub const ACCESS_LOG_BUCKET_POLICY: &str = "AccessLogBucketPolicy";
    pub const STACK_KEY: &str = "StackKey";
    pub const STACK_KEY_ALIAS: &str = "StackKeyAlias";
    pub const STACK_KEY_USE: &str = "StackKeyUse";
    /// Condition: `KmsKey` is set, so a customer-managed key encrypts the stack's data.
    pub const USES_CUSTOMER_KEY: &str = "UsesCustomerKey";
    /// Condition: `KmsKey=create`, so the stack makes that key.
    pub const CREATES_STACK_KEY: &str = "CreatesStackKey";
    /// Condition: `FunctionConcurrency` is not 0.
    pub const RESERVES_CONCURRENCY: &str = "ReservesConcurrency";
}

/// The stack's parameters.
pub mod param {
    pub const STAGE: &str = "Stage";
    pub const FACE_MATCH_THRESHOLD: &str = "FaceMatchThreshold";
    pub const MIN_CONFIDENCE: &str = "MinConfidence";
    pub const MAX_POSE: &str = "MaxPose";
    pub const COLLECTION_COUNT: &str = "CollectionCount";
    pub const ID_EXTRACTION: &str = "IdExtraction";
    pub const ARCHITECTURE: &str = "Architecture";
    pub const ARTIFACT_BUCKET: &str = "ArtifactBucket";
    /// The key of the `bootstrap.zip` every function runs.
    pub const CODE_KEY: &str = "CodeKey";
    /// Local templates only (see `Flavor::Local`).
    pub const ENDPOINT_URL: &str = "EndpointUrl";
    /// Local templates only (see `Flavor::Local`).
    pub const INJECT_FAULT: &str = "InjectFault";
    /// Local templates only (see `Flavor::Local`).
    pub const INJECT_DEPLOY_FAILURE: &str = "InjectDeployFailure";
    pub const MAX_FAILED_ATTEMPTS: &str = "MaxFailedAttempts";
    pub const LOCKOUT_SECONDS: &str = "LockoutSeconds";
    pub const DENIAL_FLOOR_MS: &str = "DenialFloorMs";
    pub const MAX_FACES_PER_USER: &str = "MaxFacesPerUser";
    pub const API_KEY_REQUIRED: &str = "ApiKeyRequired";
    pub const LOGIN_FAILURE_ALARM: &str = "LoginFailureAlarmThreshold";
    pub const KMS_KEY: &str = "KmsKey";
    pub const FUNCTION_CONCURRENCY: &str = "FunctionConcurrency";
}

/// The stack's outputs, as deploy prints them and the tools read them.
pub mod output {
    pub const API_URL: &str = "ApiUrl";
    pub const PORTAL_URL: &str = "PortalUrl";
    pub const API_ID: &str = "ApiId";
    pub const API_STAGE_NAME: &str = "ApiStageName";
    pub const API_KEY_ID: &str = "ApiKeyId";
    pub const IMAGE_BUCKET: &str = "ImageBucket";
    pub const FACE_TABLE: &str = "FaceTable";
    /// Comma-separated collection ids.
    pub const COLLECTIONS: &str = "Collections";
    pub const LOGIN_FAILED_TOPIC: &str = "LoginFailedTopic";
    pub const LOGIN_FAILURE_ALARM_TOPIC: &str = "LoginFailureAlarmTopic";
    pub const ACCESS_LOG_BUCKET: &str = "AccessLogBucket";
    pub const KMS_KEY_ARN: &str = "KmsKeyArn";

    /// `AuthStateMachineArn` for route `auth`.
    pub fn state_machine_arn(route: &str) -> String {
        format!("{}StateMachineArn", super::pascal(route))
    }
}

/// `detect-faces` → `DetectFaces`.
pub fn pascal(name: &str) -> String {
    name.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

pub fn function_id(function: &str) -> String {
    format!("{}Function", pascal(function))
}

pub fn role_id(function: &str) -> String {
    format!("{}Role", pascal(function))
}

pub fn log_group_id(function: &str) -> String {
    format!("{}LogGroup", pascal(function))
}

/// The state machine definitions' `${…}` variable for a function's ARN.
pub fn arn_variable(function: &str) -> String {
    format!("{}Arn", pascal(function))
}

pub fn state_machine_id(route: &str) -> String {
    format!("{}StateMachine", pascal(route))
}

pub fn collection_id(n: u32) -> String {
    format!("Collection{n}")
}

pub fn collection_condition(n: u32) -> String {
    format!("HasCollection{n}")
}

pub const TOPIC_ARN_VARIABLE: &str = "LoginFailedTopicArn";

const FUNCTION_LOGS: &str = "/aws/lambda/";
const STATES_LOGS: &str = "/aws/vendedlogs/states/";

/// A function's name in stack `stack` (`Riv-Prod-index-face`); `stack` may be `${AWS::StackName}`.
pub fn function_name(stack: &str, function: &str) -> String {
    format!("{stack}-{function}")
}

/// The log group of a function of stack `stack`; `stack` may be `${AWS::StackName}`.
pub fn function_log_group(stack: &str, function: &str) -> String {
    format!("{FUNCTION_LOGS}{}", function_name(stack, function))
}

/// The state machines' log group of stack `stack`; `stack` may be `${AWS::StackName}`.
pub fn states_log_group(stack: &str) -> String {
    format!("{STATES_LOGS}{stack}")
}

/// Whose a log group's name says it is. A name is only a claim: cleanup also wants the stack's tag on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogGroupName {
    /// `/aws/lambda/<stack>-<function>` for one of Riv's functions.
    Function { stack: String, function: String },
    /// `/aws/vendedlogs/states/<stack>`.
    States { stack: String },
}

impl LogGroupName {
    pub fn stack(&self) -> &str {
        match self {
            LogGroupName::Function { stack, .. } | LogGroupName::States { stack } => stack,
        }
    }

    /// The inverse of `function_log_group` and `states_log_group`; `None` for any other name.
    pub fn parse(name: &str) -> Option<LogGroupName> {
        if let Some(rest) = name.strip_prefix(FUNCTION_LOGS) {
            return f::ALL.iter().find_map(|function| {
                let stack = rest.strip_suffix(function)?.strip_suffix('-')?;
                (!stack.is_empty()).then(|| LogGroupName::Function {
                    stack: stack.to_string(),
                    function: function.to_string(),
                })
            });
        }
        let stack = name.strip_prefix(STATES_LOGS)?;
        (!stack.is_empty() && !stack.contains('/')).then(|| LogGroupName::States {
            stack: stack.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_pascal_case() {
        assert_eq!(pascal("register-idcard"), "RegisterIdcard");
        assert_eq!(function_id("detect-faces"), "DetectFacesFunction");
        assert_eq!(arn_variable("index-face"), "IndexFaceArn");
        assert_eq!(state_machine_id("auth"), "AuthStateMachine");
        assert_eq!(
            output::state_machine_arn("register-idcard"),
            "RegisterIdcardStateMachineArn"
        );
    }

    #[test]
    fn log_group_names_parse_back() {
        for function in f::ALL {
            let name = function_log_group("Riv-Prod-2", function);
            assert_eq!(
                LogGroupName::parse(&name),
                Some(LogGroupName::Function {
                    stack: "Riv-Prod-2".into(),
                    function: function.to_string()
                })
            );
        }
        assert_eq!(
            LogGroupName::parse(&states_log_group("Riv")).map(|g| g.stack().to_string()),
            Some("Riv".into())
        );
        for other in [
            "/aws/lambda/payments",
            "/aws/lambda/-index-face",
            "/aws/lambda/index-face",
            "/aws/vendedlogs/states/",
            "/aws/vendedlogs/states/a/b",
            "/ecs/Riv-Prod",
        ] {
            assert_eq!(LogGroupName::parse(other), None, "{other}");
        }
    }
}
