//! The four flows as EXPRESS state machines. Every task's parameters name fields of the function types in
//! `riv_domain::events`. `detect-faces` replaces the API body with the request as later steps read it (each
//! image inline or as a verified upload); each later step adds its result under its own name, so later steps
//! can read any earlier one. Every flow runs inside one Parallel branch so that, whatever its outcome, the
//! uploads it was given are discarded before it answers.

use crate::asl::{Catch, Choice, ChoiceRule, Fail, Pass, Retry, State, StateMachine, Task, Then};
use crate::names::arn_variable;
use riv_domain::names::{function as f, route};
use riv_domain::Reason;
use serde_json::{json, Value};
use std::collections::BTreeMap;

mod envelope;
mod security;

use envelope::machine;

pub use security::event;
use security::{denial, security_event, Answer};

/// EXPRESS machines answer synchronously; the API gives up at 29 s, so the flow must have ended by then.
pub const TIMEOUT_SECONDS: u32 = 28;

/// Where each step's result lands in the state.
pub mod result {
    pub const DUPLICATES: &str = "Duplicates";
    pub const COMPARE: &str = "Compare";
    pub const SEARCH: &str = "Search";
    pub const ID_CARD_MATCH: &str = "IdCardMatch";
    pub const ID_CARD_DATA: &str = "IdCardData";
    pub const INDEX: &str = "Index";
    pub const ERROR: &str = "Error";
    pub const EVENT: &str = "SecurityEvent";
    /// Outside the flow's branch, on the API body (whose schema allows neither name): the branch's output, and
    /// its error.
    pub const OUTCOME: &str = "FlowOutcome";
    pub const FLOW_ERROR: &str = "FlowError";
}

const LAMBDA_TRANSIENT: [&str; 4] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

fn retries() -> Vec<Retry> {
    vec![
        Retry {
            error_equals: LAMBDA_TRANSIENT.map(String::from).to_vec(),
            interval_seconds: 1,
            max_attempts: 3,
            backoff_rate: 2.0,
        },
        // Our own dependency failures: every step is idempotent or cleans up after itself, so one more try is safe.
        Retry {
            error_equals: vec![riv_domain::Reason::InternalError.as_str().to_string()],
            interval_seconds: 1,
            max_attempts: 1,
            backoff_rate: 2.0,
        },
    ]
}

/// The `Cause` a Lambda error carries, `{"errorType": …, "errorMessage": …}`, in that key order whatever
/// serde_json's features.
fn lambda_error_cause(error_type: &str, message: &str) -> String {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Cause<'a> {
        error_type: &'a str,
        error_message: &'a str,
    }
    serde_json::to_string(&Cause {
        error_type,
        error_message: message,
    })
    .unwrap_or_default()
}

fn at(step: &str) -> Value {
    json!(format!("$.{step}"))
}

fn next(state: &str) -> Then {
    Then::Next(state.to_string())
}

fn lambda(function: &str, comment: &str, parameters: Value, result: &str, then: Then) -> State {
    State::Task(Task {
        comment: comment.to_string(),
        resource: format!("${{{}}}", arn_variable(function)),
        parameters,
        result_path: at(result),
        retry: retries(),
        catch: Vec::new(),
        then,
    })
}

fn with_catch(mut state: State, errors: &[&str], result: &str, to: &str) -> State {
    if let State::Task(task) = &mut state {
        task.catch.push(Catch {
            error_equals: errors.iter().map(|e| e.to_string()).collect(),
            result_path: at(result),
            next: to.to_string(),
        });
    }
    state
}

fn pass_end(comment: &str, parameters: Value) -> State {
    State::Pass(Pass {
        comment: comment.to_string(),
        parameters,
        result_path: None,
        output_path: None,
        then: Then::End,
    })
}

/// `detect-faces` hands on the request as later steps read it, in place of the API body.
fn replacing_the_state(mut state: State) -> State {
    if let State::Task(task) = &mut state {
        task.result_path = json!("$");
    }
    state
}

fn detect_faces(require_id_card: bool, then: &str) -> State {
    replacing_the_state(lambda(
        f::DETECT_FACES,
        "Validate the request, check its uploads, run the selfie quality gate",
        json!({"Input.$": "$", "RequireIdCard": require_id_card}),
        "",
        next(then),
    ))
}

/// Auth and update: the gate also counts the attempt against the UserId's lockout; a locked-out UserId is
/// refused (429) before any face is looked at, and security operations hear of it.
fn guarded_detect_faces(states: &mut BTreeMap<String, State>, then: &str) -> State {
    security_event(
        states,
        "LockedOut",
        event::USER_LOCKED_OUT,
        Reason::TooManyAttempts,
        Answer::Rethrow,
    );
    with_catch(
        replacing_the_state(lambda(
            f::DETECT_FACES,
            "Validate the request, check its uploads, count the attempt against the lockout, run the \
             selfie quality gate",
            json!({"Input.$": "$", "RequireIdCard": false, "Guard": true}),
            "",
            next(then),
        )),
        &[Reason::TooManyAttempts.as_str()],
        result::ERROR,
        "LockedOutEvent",
    )
}

fn matched(step: &str, then: &str, otherwise: &str, comment: &str) -> State {
    State::Choice(Choice {
        comment: comment.into(),
        choices: vec![ChoiceRule {
            variable: format!("$.{step}.Matched"),
            boolean_equals: Some(true),
            string_equals: None,
            is_present: None,
            next: then.into(),
        }],
        default: otherwise.into(),
    })
}

fn user_and_image() -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("UserId.$".into(), json!("$.UserId"));
    m.insert("Image.$".into(), json!("$.Image"));
    m
}

fn with(mut base: serde_json::Map<String, Value>, extra: Value) -> Value {
    if let Value::Object(extra) = extra {
        base.extend(extra);
    }
    Value::Object(base)
}

/// The writer, with the rollback path every write needs.
fn index_face(
    mode: &str,
    with_card: bool,
    states: &mut BTreeMap<String, State>,
    then: &str,
) -> State {
    let mut params = json!({
        "Mode": mode,
        "AttemptId.$": "$$.Execution.Name",
        "Properties.$": "$.Properties",
    });
    if with_card {
        params["IdCard.$"] = json!("$.IdCard");
        params["IdCardData.$"] = json!(format!("$.{}", result::ID_CARD_DATA));
    }
    states.insert(
        "RollBack".into(),
        with_catch(
            lambda(
                f::ROLLBACK,
                "Remove whatever this attempt wrote (found by its AttemptId)",
                json!({"UserId.$": "$.UserId", "AttemptId.$": "$$.Execution.Name"}),
                "Rollback",
                next(if mode == "Register" {
                    "RolledBack"
                } else {
                    "Failed"
                }),
            ),
            &["States.ALL"],
            "RollbackError",
            "RollbackFailed",
        ),
    );
    states.insert(
        "RollbackFailed".into(),
        State::Fail(Fail {
            comment: "The undo could not finish: whatever the original error, the answer is a 500, and the \
                      attempt record is left for the reconciler"
                .into(),
            error: Some(riv_domain::Reason::InternalError.as_str().into()),
            cause: Some(lambda_error_cause(
                riv_domain::Reason::InternalError.as_str(),
                "the request could not be completed: try again in a moment",
            )),
            error_path: None,
            cause_path: None,
        }),
    );
    if mode == "Register" {
        // A racer with the same face under another UserId lost in the commit: as much a duplicate
        // registration as one the guard caught.
        states.insert(
            "RolledBack".into(),
            State::Choice(Choice {
                comment: "A duplicate face is a security event; anything else is reported as it is"
                    .into(),
                choices: vec![ChoiceRule {
                    variable: format!("$.{}.Error", result::ERROR),
                    boolean_equals: None,
                    string_equals: Some(Reason::FaceAlreadyRegistered.as_str().into()),
                    is_present: None,
                    next: "LostRaceEvent".into(),
                }],
                default: "Failed".into(),
            }),
        );
        security_event(
            states,
            "LostRace",
            event::DUPLICATE_REGISTRATION,
            Reason::FaceAlreadyRegistered,
            Answer::Rethrow,
        );
    }
    states.insert(
        "Failed".into(),
        State::Fail(Fail {
            comment: "Report the error that started the rollback".into(),
            error: None,
            cause: None,
            error_path: Some(format!("$.{}.Error", result::ERROR)),
            cause_path: Some(format!("$.{}.Cause", result::ERROR)),
        }),
    );
    with_catch(
        lambda(
            f::INDEX_FACE,
            "Index the face, store the images and commit the user's rows",
            with(user_and_image(), params),
            result::INDEX,
            next(then),
        ),
        &["States.ALL"],
        result::ERROR,
        "RollBack",
    )
}

/// The answer of a write: with the caller's Properties as stored (update, register-idcard) and the card's
/// data, labelled apart (register-idcard).
fn indexed(with_properties: bool, with_card: bool) -> Value {
    let mut v = json!({
        "UserId.$": format!("$.{}.UserId", result::INDEX),
        "FaceId.$": format!("$.{}.FaceId", result::INDEX),
        "Status.$": format!("$.{}.Status", result::INDEX),
    });
    if with_properties {
        v["Properties.$"] = json!(format!("$.{}.Properties", result::INDEX));
    }
    if with_card {
        v["IdCard.$"] = json!(format!("$.{}.IdCard", result::INDEX));
    }
    v
}

fn duplicate_guard(states: &mut BTreeMap<String, State>, then: &str) -> State {
    security_event(
        states,
        "Duplicate",
        event::DUPLICATE_REGISTRATION,
        Reason::FaceAlreadyRegistered,
        Answer::Rethrow,
    );
    with_catch(
        lambda(
            f::SEARCH_FACES,
            "Refuse a face that is already registered to anyone",
            with(user_and_image(), json!({"Purpose": "DuplicateGuard"})),
            result::DUPLICATES,
            next(then),
        ),
        &[Reason::FaceAlreadyRegistered.as_str()],
        result::ERROR,
        "DuplicateEvent",
    )
}

pub fn register() -> StateMachine {
    let mut s = BTreeMap::new();
    s.insert("DetectFaces".into(), detect_faces(false, "DuplicateGuard"));
    let guard = duplicate_guard(&mut s, "IndexFace");
    s.insert("DuplicateGuard".into(), guard);
    let index = index_face("Register", false, &mut s, "Registered");
    s.insert("IndexFace".into(), index);
    s.insert(
        "Registered".into(),
        pass_end("Answer the API", indexed(false, false)),
    );
    machine("Register a user from a selfie", "DetectFaces", s)
}

pub fn register_idcard() -> StateMachine {
    let mut s = BTreeMap::new();
    s.insert("DetectFaces".into(), detect_faces(true, "DuplicateGuard"));
    let guard = duplicate_guard(&mut s, "CompareWithIdCard");
    s.insert("DuplicateGuard".into(), guard);
    security_event(
        &mut s,
        "CardMismatch",
        event::ID_CARD_MISMATCH,
        Reason::FaceNotMatchWithIdCard,
        Answer::Rethrow,
    );
    s.insert(
        "CompareWithIdCard".into(),
        with_catch(
            lambda(
                f::COMPARE_IDCARD,
                "The selfie must show the person on the card, and the card must not be the selfie",
                with(user_and_image(), json!({"IdCard.$": "$.IdCard"})),
                result::ID_CARD_MATCH,
                next("ExtractIdCard"),
            ),
            &[Reason::FaceNotMatchWithIdCard.as_str()],
            result::ERROR,
            "CardMismatchEvent",
        ),
    );
    s.insert(
        "ExtractIdCard".into(),
        lambda(
            f::EXTRACT_IDCARD,
            "Read the card's fields",
            json!({"UserId.$": "$.UserId", "IdCard.$": "$.IdCard"}),
            result::ID_CARD_DATA,
            next("IndexFace"),
        ),
    );
    let index = index_face("Register", true, &mut s, "Registered");
    s.insert("IndexFace".into(), index);
    s.insert(
        "Registered".into(),
        pass_end("Answer the API", indexed(true, true)),
    );
    machine(
        "Register a user from a selfie and an ID card",
        "DetectFaces",
        s,
    )
}

pub fn auth() -> StateMachine {
    let mut s = BTreeMap::new();
    let gate = guarded_detect_faces(&mut s, "CompareWithStoredFaces");
    s.insert("DetectFaces".into(), gate);
    s.insert(
        "CompareWithStoredFaces".into(),
        lambda(
            f::COMPARE_FACES,
            "Best similarity over the user's stored faces (none for an unknown UserId)",
            with(
                user_and_image(),
                json!({"StartedAt.$": "$$.Execution.StartTime"}),
            ),
            result::COMPARE,
            next("StoredFaceMatched"),
        ),
    );
    s.insert(
        "StoredFaceMatched".into(),
        matched(
            result::COMPARE,
            "Verified",
            "SearchCollection",
            "Verified by a stored face, or fall back to the collection",
        ),
    );
    s.insert(
        "Verified".into(),
        pass_end(
            "Answer the API",
            json!({"UserId.$": "$.UserId", "Status": "Verified", "Similarity.$": format!("$.{}.Similarity", result::COMPARE)}),
        ),
    );
    s.insert(
        "SearchCollection".into(),
        lambda(
            f::SEARCH_FACES,
            "The best match in the user's collection must be theirs",
            with(
                user_and_image(),
                json!({"Purpose": "Identify", "StartedAt.$": "$$.Execution.StartTime"}),
            ),
            result::SEARCH,
            next("FoundBySearch"),
        ),
    );
    s.insert(
        "FoundBySearch".into(),
        matched(
            result::SEARCH,
            "VerifiedBySearch",
            "HoldDenial",
            "Verified by the collection, or denied",
        ),
    );
    s.insert(
        "VerifiedBySearch".into(),
        pass_end(
            "Answer the API",
            json!({"UserId.$": "$.UserId", "Status": "Verified", "Similarity.$": format!("$.{}.Similarity", result::SEARCH)}),
        ),
    );
    denial(&mut s, &format!("$.{}.DenyAt", result::SEARCH));
    machine("Authenticate a user by selfie", "DetectFaces", s)
}

pub fn update() -> StateMachine {
    let mut s = BTreeMap::new();
    let gate = guarded_detect_faces(&mut s, "CompareWithStoredFaces");
    s.insert("DetectFaces".into(), gate);
    s.insert(
        "CompareWithStoredFaces".into(),
        lambda(
            f::COMPARE_FACES,
            "Only the same person may add a face",
            with(
                user_and_image(),
                json!({"StartedAt.$": "$$.Execution.StartTime"}),
            ),
            result::COMPARE,
            next("SamePerson"),
        ),
    );
    s.insert(
        "SamePerson".into(),
        matched(
            result::COMPARE,
            "IndexFace",
            "HoldDenial",
            "The user's own face goes on; anyone else is denied",
        ),
    );
    denial(&mut s, &format!("$.{}.DenyAt", result::COMPARE));
    let index = index_face("Update", false, &mut s, "Updated");
    s.insert("IndexFace".into(), index);
    s.insert(
        "Updated".into(),
        pass_end("Answer the API", indexed(true, false)),
    );
    machine("Add a new face to a verified user", "DetectFaces", s)
}

/// `POST /uploads`: one task that signs the upload URLs; its refusals end the execution with their reason. The
/// body goes to the function as a `Sign` call, so no body can ask for anything else.
pub fn uploads() -> StateMachine {
    let mut s = BTreeMap::new();
    s.insert(
        "SignUploads".into(),
        State::Task(Task {
            comment: "Presign PUT URLs for the declared images".into(),
            resource: format!("${{{}}}", arn_variable(f::UPLOADS)),
            parameters: json!({"Sign.$": "$"}),
            result_path: json!("$"),
            retry: retries(),
            catch: Vec::new(),
            then: Then::End,
        }),
    );
    StateMachine {
        comment: "Presigned uploads of real-size images".into(),
        start_at: "SignUploads".into(),
        timeout_seconds: TIMEOUT_SECONDS,
        states: s,
    }
}

/// Bench stacks only: one Lambda that returns its input, then the small answer a flow gives; the floor that
/// `cargo xtask bench flows` reads the flows' latencies against.
pub fn floor() -> StateMachine {
    let mut s = BTreeMap::new();
    s.insert(
        "Echo".into(),
        State::Task(Task {
            comment: "Hands the whole request to a function that returns it".into(),
            resource: format!("${{{}}}", arn_variable(f::ECHO)),
            parameters: Value::Null,
            result_path: json!("$"),
            retry: retries(),
            catch: Vec::new(),
            then: next("Answer"),
        }),
    );
    s.insert(
        "Answer".into(),
        pass_end(
            "A flow's answer is small: the image does not go back",
            json!({"UserId.$": "$.UserId", "Echoed": true}),
        ),
    );
    StateMachine {
        comment: "The floor: the API, an EXPRESS state machine and one Lambda hop".into(),
        start_at: "Echo".into(),
        timeout_seconds: TIMEOUT_SECONDS,
        states: s,
    }
}

/// Every state machine, by its API route: the four flows and the uploads.
pub fn all() -> BTreeMap<&'static str, StateMachine> {
    [
        (route::REGISTER, register()),
        (route::REGISTER_IDCARD, register_idcard()),
        (route::AUTH, auth()),
        (route::UPDATE, update()),
        (route::UPLOADS, uploads()),
    ]
    .into()
}
