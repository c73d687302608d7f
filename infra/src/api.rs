//! The REST API: four POST routes with request models and validation, each an AWS integration calling
//! `states:StartSyncExecution`, and a response mapping that turns a FAILED execution into the HTTP status and
//! `{Reason, Message}` body of the API contract.

use crate::iam::{allow, role};
use crate::model::stack_tags;
use crate::model::{obj, Expr, Resource, Template};
use crate::names::{id, param, pascal, state_machine_id};
use crate::params::Flavor;
use riv_domain::names::route;
use riv_domain::uploads;
use riv_domain::validate::{MAX_IDCARD_BYTES, MAX_PROPERTIES, MAX_SELFIE_BYTES};
use riv_domain::Reason;
use serde_json::json;
use sha2::{Digest, Sha256};

pub const API: &str = id::API;
pub const API_ROLE: &str = "ApiRole";
pub const VALIDATOR: &str = "BodyValidator";
pub use crate::names::{THROTTLE_BURST, THROTTLE_RATE};
/// With `ApiKeyRequired=true`: what one key may send. A fifth of the stage, so one caller cannot use it all.
pub const KEY_RATE: i64 = 10;
pub const KEY_BURST: i64 = 20;
pub const KEY_DAILY_QUOTA: i64 = 10_000;
pub const API_KEY: &str = "ApiKey";
pub const USAGE_PLAN: &str = "UsagePlan";

pub const USER_ID_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$";

fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

/// The JSON schema (draft 4, as API Gateway reads it) of a route's body.
pub fn request_schema(route_name: &str) -> serde_json::Value {
    if route_name == route::UPLOADS {
        return uploads_schema();
    }
    let mut properties = json!({
        "UserId": {"type": "string", "pattern": USER_ID_PATTERN},
        "Image": {"type": "string", "minLength": 1, "maxLength": base64_len(MAX_SELFIE_BYTES)},
        "ImageKey": upload_key(uploads::Slot::Selfie),
    });
    // Each image inline or as an upload's key: `detect-faces` requires exactly one of the two.
    let required = vec!["UserId"];
    if route_name != route::AUTH {
        properties["Properties"] = json!({
            "type": "object",
            "maxProperties": MAX_PROPERTIES,
            "additionalProperties": {"type": "string"},
        });
    }
    if route_name == route::REGISTER_IDCARD {
        properties["IdCard"] =
            json!({"type": "string", "minLength": 1, "maxLength": base64_len(MAX_IDCARD_BYTES)});
        properties["IdCardKey"] = upload_key(uploads::Slot::IdCard);
    }
    json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": format!("{}Request", pascal(route_name)),
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": false,
    })
}

/// The key of an upload of `slot`, as `POST /uploads` answers it.
fn upload_key(slot: uploads::Slot) -> serde_json::Value {
    let sample = uploads::key("00000000-0000-0000-0000-000000000000", slot);
    let file = sample.rsplit('/').next().unwrap_or_default();
    json!({"type": "string", "pattern": format!("^{}[0-9a-f-]{{36}}/{file}$", uploads::PREFIX)})
}

/// `POST /uploads`: the UserId and what is about to be uploaded. The function checks the size and type rules
/// again (`riv_domain::uploads`): the schema only turns away what is plainly wrong.
fn uploads_schema() -> serde_json::Value {
    let image = |slot: uploads::Slot| {
        json!({
            "type": "object",
            "required": ["ContentType", "ContentLength"],
            "properties": {
                "ContentType": {"type": "string", "enum": uploads::CONTENT_TYPES},
                "ContentLength": {"type": "integer", "minimum": uploads::MIN_BYTES, "maximum": slot.max_bytes()},
            },
            "additionalProperties": false,
        })
    };
    json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": format!("{}Request", pascal(route::UPLOADS)),
        "type": "object",
        "required": ["UserId", "Selfie"],
        "properties": {
            "UserId": {"type": "string", "pattern": USER_ID_PATTERN},
            "Selfie": image(uploads::Slot::Selfie),
            "IdCard": image(uploads::Slot::IdCard),
        },
        "additionalProperties": false,
    })
}

/// Velocity template of the integration response: the execution's output on success; otherwise the status and
/// body of the failure's reason. Errors that are not ours (timeouts, Lambda faults) become a generic 500 so no
/// internal detail reaches the caller.
pub fn response_template() -> String {
    let mut vtl = String::from(
        "#set($status = $input.path('$.status'))\n\
         #if($status == 'SUCCEEDED')\n\
         $input.path('$.output')\n\
         #else\n\
         #set($error = $input.path('$.error'))\n\
         #set($code = 0)\n",
    );
    for reason in Reason::ALL.iter().filter(|r| **r != Reason::InternalError) {
        vtl.push_str(&format!(
            "#if($error == '{}')#set($code = {})#end\n",
            reason.as_str(),
            reason.http_status()
        ));
    }
    // No execution status: Step Functions refused the call itself (a 4xx/5xx with `__type`, which this default
    // response also receives). Its ValidationException (an input over 262,144 bytes: the `SensitiveData` shape)
    // or InvalidExecutionInput is the caller's to fix; any other refusal (throttling, KMS, a missing state
    // machine) is ours and stays a generic 500.
    vtl.push_str(
        "#if(\"$!status\" == \"\")\n\
         #set($type = \"$!input.path('$.__type')\")\n\
         #if($type.contains('ValidationException') || $type.contains('InvalidExecutionInput'))\n\
         #set($error = 'InvalidRequest')\n\
         #set($code = -400)\n\
         #end\n\
         #end\n",
    );
    vtl.push_str(&format!(
        "#if($code == -400)\n\
         #set($message = 'the request was refused before the flow started: keep the body under 256 KiB')\n\
         #set($code = 400)\n\
         #elseif($code == 0)\n\
         #set($error = '{internal}')\n\
         #set($message = 'the request could not be completed: try again in a moment')\n\
         #set($code = 500)\n\
         #else\n\
         #set($message = $util.parseJson($input.path('$.cause')).errorMessage)\n\
         #end\n\
         #set($context.responseOverride.status = $code)\n\
         {{\"Reason\": \"$error\", \"Message\": \"$util.escapeJavaScript($message)\"}}\n\
         #end\n",
        internal = Reason::InternalError.as_str()
    ));
    vtl
}

/// The statuses a route can answer with.
pub fn statuses() -> Vec<u16> {
    let mut s: Vec<u16> = Reason::ALL.iter().map(|r| r.http_status()).collect();
    s.push(200);
    s.sort_unstable();
    s.dedup();
    s
}

fn integration(route_name: &str) -> Expr {
    let machine = state_machine_id(route_name);
    // escapeJavaScript also escapes single quotes, which JSON does not allow: put them back.
    let request = format!(
        "{{\"stateMachineArn\": \"${{{machine}}}\", \"input\": \"$util.escapeJavaScript($input.json('$')).replaceAll(\"\\\\'\", \"'\")\"}}"
    );
    obj([
        ("Type", Expr::from("AWS")),
        ("IntegrationHttpMethod", Expr::from("POST")),
        (
            "Uri",
            Expr::sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}:states:action/StartSyncExecution",
            ),
        ),
        ("Credentials", Expr::att(API_ROLE, "Arn")),
        ("PassthroughBehavior", Expr::from("NEVER")),
        (
            "RequestTemplates",
            obj([("application/json", Expr::sub(&request))]),
        ),
        (
            "IntegrationResponses",
            Expr::list([obj([
                ("StatusCode", Expr::from("200")),
                (
                    "ResponseTemplates",
                    obj([("application/json", Expr::from(response_template()))]),
                ),
            ])]),
        ),
    ])
}

pub fn add(t: &mut Template, flavor: Flavor) {
    let routes = flavor.routes();
    t.add(
        API,
        Resource::new(
            "AWS::ApiGateway::RestApi",
            [
                ("Name", Expr::r("AWS::StackName")),
                ("Description", Expr::from("Riv identity verification")),
                (
                    "EndpointConfiguration",
                    obj([("Types", Expr::list(["REGIONAL"]))]),
                ),
                ("Tags", stack_tags()),
            ],
        ),
    );
    t.add(
        API_ROLE,
        role(
            "apigateway.amazonaws.com",
            "riv-api",
            vec![allow(
                &["states:StartSyncExecution"],
                routes
                    .iter()
                    .map(|r| Expr::r(&state_machine_id(r)))
                    .collect(),
            )],
        ),
    );
    t.add(
        VALIDATOR,
        Resource::new(
            "AWS::ApiGateway::RequestValidator",
            [
                ("RestApiId", Expr::r(API)),
                ("ValidateRequestBody", Expr::Bool(true)),
                ("ValidateRequestParameters", Expr::Bool(false)),
            ],
        ),
    );
    // API Gateway's own refusals follow the contract too: a reason code, not its `{"message"}` body. A
    // deployment snapshots the API, gateway responses included, so the deployment below depends on these and
    // changes with them. The key refusal is harmless without ApiKeyRequired (nothing raises it) and is kept
    // unconditional because DependsOn cannot name a resource whose condition may be false.
    let gateway_responses = [
        (
            "BadRequestBodyResponse",
            gateway_response(
                "BAD_REQUEST_BODY",
                400,
                "InvalidRequest",
                "$context.error.validationErrorString",
            ),
        ),
        (
            "InvalidApiKeyResponse",
            gateway_response(
                "INVALID_API_KEY",
                403,
                "InvalidApiKey",
                "send a valid key in the x-api-key header",
            ),
        ),
        // The stage's throttle and the key's usage plan: a client slows down, in the contract's words.
        (
            "ThrottledResponse",
            gateway_response(
                "THROTTLED",
                429,
                "TooManyRequests",
                "too many requests: slow down and try again in a moment",
            ),
        ),
        (
            "QuotaExceededResponse",
            gateway_response(
                "QUOTA_EXCEEDED",
                429,
                "QuotaExceeded",
                "this API key has used its daily quota: try again tomorrow",
            ),
        ),
    ];
    let gateway_responses: Vec<String> = gateway_responses
        .into_iter()
        .map(|(name, resource)| {
            t.add(name, resource);
            name.to_string()
        })
        .collect();
    let mut methods = Vec::new();
    for &route_name in &routes {
        let p = pascal(route_name);
        let (resource, model, method) = (
            format!("{p}Resource"),
            format!("{p}Model"),
            format!("{p}Method"),
        );
        t.add(
            &resource,
            Resource::new(
                "AWS::ApiGateway::Resource",
                [
                    ("RestApiId", Expr::r(API)),
                    ("ParentId", Expr::att(API, "RootResourceId")),
                    ("PathPart", Expr::from(route_name)),
                ],
            ),
        );
        t.add(
            &model,
            Resource::new(
                "AWS::ApiGateway::Model",
                [
                    ("RestApiId", Expr::r(API)),
                    ("ContentType", Expr::from("application/json")),
                    ("Name", Expr::from(format!("{p}Request"))),
                    ("Schema", Expr::from_json(&request_schema(route_name))),
                ],
            ),
        );
        let responses = statuses()
            .into_iter()
            .map(|s| obj([("StatusCode", s.to_string())]));
        t.add(
            &method,
            Resource::new(
                "AWS::ApiGateway::Method",
                [
                    ("RestApiId", Expr::r(API)),
                    ("ResourceId", Expr::r(&resource)),
                    ("HttpMethod", Expr::from("POST")),
                    ("AuthorizationType", Expr::from("NONE")),
                    (
                        "ApiKeyRequired",
                        Expr::iff(id::REQUIRES_API_KEY, Expr::Bool(true), Expr::Bool(false)),
                    ),
                    ("RequestValidatorId", Expr::r(VALIDATOR)),
                    (
                        "RequestModels",
                        obj([("application/json", Expr::r(&model))]),
                    ),
                    ("Integration", integration(route_name)),
                    ("MethodResponses", Expr::list(responses)),
                ],
            ),
        );
        methods.push(method);
    }
    methods.extend(crate::portal::add(t));
    // A deployment is a snapshot: its id changes with the API so CloudFormation makes a new one on change.
    let models: Vec<String> = routes
        .iter()
        .map(|r| format!("{}Model", pascal(r)))
        .collect();
    let api_text: String = methods
        .iter()
        .chain(&models)
        .chain(&gateway_responses)
        .map(|name| serde_json::to_string(&t.resources[name]).unwrap_or_default())
        .collect();
    let deployment = format!(
        "ApiDeployment{}",
        &hex::encode(Sha256::digest(api_text.as_bytes()))[..10]
    );
    // The deployment creates the stage and, when it changes, moves the stage onto itself: a separate
    // AWS::ApiGateway::Stage cannot be updated in LocalStack 4.14 (it loses the stage).
    let stage = obj([
        ("ThrottlingRateLimit", Expr::Int(THROTTLE_RATE)),
        ("ThrottlingBurstLimit", Expr::Int(THROTTLE_BURST)),
        (
            "MethodSettings",
            Expr::list([obj([
                ("ResourcePath", Expr::from("/*")),
                ("HttpMethod", Expr::from("*")),
                ("ThrottlingRateLimit", Expr::Int(THROTTLE_RATE)),
                ("ThrottlingBurstLimit", Expr::Int(THROTTLE_BURST)),
            ])]),
        ),
        ("Tags", stack_tags()),
    ]);
    let mut resource = Resource::new(
        "AWS::ApiGateway::Deployment",
        [
            ("RestApiId", Expr::r(API)),
            ("Description", Expr::from("Riv API")),
            ("StageName", Expr::r(param::STAGE)),
            ("StageDescription", stage),
        ],
    );
    for name in methods.iter().chain(&gateway_responses) {
        resource = resource.depends_on(name);
    }
    t.add(&deployment, resource);
    api_keys(t, &deployment);
}

/// API Gateway's own refusal of `kind`, answered in the contract's `{Reason, Message}` shape.
fn gateway_response(kind: &str, status: u16, reason: &str, message: &str) -> Resource {
    let body = format!("{{\"Reason\": \"{reason}\", \"Message\": \"{message}\"}}");
    Resource::new(
        "AWS::ApiGateway::GatewayResponse",
        [
            ("RestApiId", Expr::r(API)),
            ("ResponseType", Expr::from(kind)),
            ("StatusCode", Expr::from(status.to_string())),
            (
                "ResponseTemplates",
                obj([("application/json", Expr::from(body))]),
            ),
        ],
    )
}

/// `ApiKeyRequired=true`: one key, on a usage plan that limits it per second and per day (the contract-shaped
/// answer for a missing or wrong key is with the other gateway responses in `add`).
fn api_keys(t: &mut Template, deployment: &str) {
    use id::REQUIRES_API_KEY;
    use param::STAGE;
    t.add(
        API_KEY,
        Resource::new(
            "AWS::ApiGateway::ApiKey",
            [
                ("Enabled", Expr::Bool(true)),
                ("Description", Expr::sub("Riv ${AWS::StackName} API key")),
                ("Tags", stack_tags()),
            ],
        )
        .when(REQUIRES_API_KEY),
    );
    t.add(
        USAGE_PLAN,
        Resource::new(
            "AWS::ApiGateway::UsagePlan",
            [
                (
                    "ApiStages",
                    Expr::list([obj([("ApiId", Expr::r(API)), ("Stage", Expr::r(STAGE))])]),
                ),
                (
                    "Throttle",
                    obj([
                        ("RateLimit", Expr::Int(KEY_RATE)),
                        ("BurstLimit", Expr::Int(KEY_BURST)),
                    ]),
                ),
                (
                    "Quota",
                    obj([
                        ("Limit", Expr::Int(KEY_DAILY_QUOTA)),
                        ("Period", Expr::from("DAY")),
                    ]),
                ),
                ("Tags", stack_tags()),
            ],
        )
        .depends_on(deployment)
        .when(REQUIRES_API_KEY),
    );
    t.add(
        "UsagePlanKey",
        Resource::new(
            "AWS::ApiGateway::UsagePlanKey",
            [
                ("KeyId", Expr::r(API_KEY)),
                ("KeyType", Expr::from("API_KEY")),
                ("UsagePlanId", Expr::r(USAGE_PLAN)),
            ],
        )
        .when(REQUIRES_API_KEY),
    );
    t.outputs.insert(
        crate::names::output::API_KEY_ID.into(),
        crate::model::Output {
            description: "With ApiKeyRequired=true: the API key's id (its value: aws apigateway get-api-key --api-key <id> --include-value)".into(),
            value: Expr::r(API_KEY),
            condition: Some(REQUIRES_API_KEY.into()),
        },
    );
}
