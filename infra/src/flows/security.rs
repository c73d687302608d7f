//! The security events of the flows: each a Pass that builds the event, an SNS publish that cannot change the
//! answer, and the Fail that answers; and the denial of auth and update, which first waits until it is due.

use super::{at, lambda_error_cause, next, result};
use crate::asl::{Catch, Fail, Pass, State, Task, Wait};
use crate::names::TOPIC_ARN_VARIABLE;
use riv_domain::{Reason, Rejection};
use serde_json::json;
use std::collections::BTreeMap;

/// The security events published to the stack's topic (the `Event` field and message attribute).
pub mod event {
    /// A failed authentication or update: unknown UserId and wrong face alike.
    pub const LOGIN_FAILED: &str = "LoginFailed";
    /// An attempt refused by the lockout.
    pub const USER_LOCKED_OUT: &str = "UserLockedOut";
    /// A registration whose face is already registered to another UserId.
    pub const DUPLICATE_REGISTRATION: &str = "DuplicateRegistration";
    /// A registration whose selfie does not match the ID card.
    pub const ID_CARD_MISMATCH: &str = "IdCardMismatch";
    pub const ALL: [&str; 4] = [
        LOGIN_FAILED,
        USER_LOCKED_OUT,
        DUPLICATE_REGISTRATION,
        ID_CARD_MISMATCH,
    ];
}

/// How the flow answers after a security event.
pub(super) enum Answer {
    /// With the error in `$.Error`, as the step that raised it reported it.
    Rethrow,
    /// With this rejection's reason and message, the same whatever led to it.
    Fixed(Rejection),
}

/// `<name>Event` → `Notify<name>` → `<name>`: builds the event, publishes it to the topic (a failed publish
/// must not change the answer), then fails. The event carries the UserId, the reason, the time and the request
/// id; never an image.
pub(super) fn security_event(
    states: &mut BTreeMap<String, State>,
    name: &str,
    event: &str,
    reason: Reason,
    answer: Answer,
) {
    let (build, notify) = (format!("{name}Event"), format!("Notify{name}"));
    states.insert(
        build,
        State::Pass(Pass {
            comment: format!("The {event} event security operations receive"),
            parameters: json!({
                "Event": event,
                "UserId.$": "$.UserId",
                "Reason": reason.as_str(),
                "RequestId.$": "$$.Execution.Name",
                "Execution.$": "$$.Execution.Id",
                "At.$": "$$.State.EnteredTime",
            }),
            result_path: Some(at(result::EVENT)),
            output_path: None,
            then: next(&notify),
        }),
    );
    states.insert(
        notify,
        State::Task(Task {
            comment: format!("Publish {event}; a failed publish must not change the answer"),
            resource: "arn:aws:states:::sns:publish".into(),
            parameters: json!({
                "TopicArn": format!("${{{TOPIC_ARN_VARIABLE}}}"),
                "Message.$": format!("States.JsonToString($.{})", result::EVENT),
                "MessageAttributes": {"Event": {"DataType": "String", "StringValue": event}},
            }),
            // Not `null`: LocalStack's template engine cannot hold a null value.
            result_path: at("Notified"),
            retry: Vec::new(),
            catch: vec![Catch {
                error_equals: vec!["States.ALL".into()],
                result_path: json!("$.NotifyError"),
                next: name.to_string(),
            }],
            then: next(name),
        }),
    );
    let fail = match answer {
        Answer::Rethrow => Fail {
            comment: format!("Answer with the {reason} that raised the event"),
            error: None,
            cause: None,
            error_path: Some(format!("$.{}.Error", result::ERROR)),
            cause_path: Some(format!("$.{}.Cause", result::ERROR)),
        },
        Answer::Fixed(rejection) => Fail {
            comment: "One answer, whatever led here".into(),
            error: Some(reason.as_str().into()),
            // The same shape a Lambda error has, so the API reads every failure alike.
            cause: Some(lambda_error_cause(reason.as_str(), &rejection.to_string())),
            error_path: None,
            cause_path: None,
        },
    };
    states.insert(name.to_string(), State::Fail(fail));
}

/// A "not you" for auth and update: wait until the denial is due (the flow start plus the floor, from
/// `<step>.DenyAt`), so an unknown UserId and a wrong face take equally long, then publish `LoginFailed` and
/// answer 401 with one body.
pub(super) fn denial(states: &mut BTreeMap<String, State>, deny_at: &str) {
    states.insert(
        "HoldDenial".into(),
        State::Wait(Wait {
            comment: "Answer no sooner than the denial floor after the flow started".into(),
            timestamp_path: deny_at.into(),
            then: next("DeniedEvent"),
        }),
    );
    security_event(
        states,
        "Denied",
        event::LOGIN_FAILED,
        Reason::UserAccessDenied,
        Answer::Fixed(Rejection::UserAccessDenied),
    );
}
