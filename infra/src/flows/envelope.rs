//! The envelope of every flow: its states run in one Parallel branch, then the uploads the request named are
//! discarded whatever the outcome, then the flow answers or fails exactly as the branch ended.

use super::{at, next, result, retries, TIMEOUT_SECONDS};
use crate::asl::{
    Branch, Catch, Choice, ChoiceRule, Fail, Parallel, Pass, State, StateMachine, Task, Then,
};
use crate::names::arn_variable;
use riv_domain::names::function as f;
use riv_domain::uploads;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A flow: its states in one branch, then the uploads it was given discarded whatever the outcome, then its
/// answer or its error exactly as the branch ended.
pub(super) fn machine(comment: &str, start: &str, states: BTreeMap<String, State>) -> StateMachine {
    let mut s = BTreeMap::new();
    s.insert(
        "Flow".to_string(),
        State::Parallel(Parallel {
            comment: comment.to_string(),
            branches: vec![Branch {
                start_at: start.to_string(),
                states,
            }],
            result_path: at(result::OUTCOME),
            catch: vec![Catch {
                error_equals: vec!["States.ALL".into()],
                result_path: at(result::FLOW_ERROR),
                next: "HasUploads".into(),
            }],
            then: next("HasUploads"),
        }),
    );
    let uploaded = |field: &str| ChoiceRule {
        variable: format!("$.{field}"),
        boolean_equals: None,
        string_equals: None,
        is_present: Some(true),
        next: "DiscardUploads".into(),
    };
    s.insert(
        "HasUploads".to_string(),
        State::Choice(Choice {
            comment: "Only a request that named uploads has any to discard".into(),
            choices: vec![
                uploaded(uploads::Slot::Selfie.key_field()),
                uploaded(uploads::Slot::IdCard.key_field()),
            ],
            default: "Finish".into(),
        }),
    );
    s.insert(
        "DiscardUploads".to_string(),
        State::Task(Task {
            comment: "Delete the request's uploads (those granted to its UserId); a failure here must not \
                      change the answer: the bucket's lifecycle rule expires what is left"
                .into(),
            resource: format!("${{{}}}", arn_variable(f::UPLOADS)),
            parameters: json!({"Discard.$": "$"}),
            result_path: at("Discarded"),
            retry: retries(),
            catch: vec![Catch {
                error_equals: vec!["States.ALL".into()],
                result_path: at("DiscardError"),
                next: "Finish".into(),
            }],
            then: next("Finish"),
        }),
    );
    s.insert(
        "Finish".to_string(),
        State::Choice(Choice {
            comment: "Answer as the flow ended".into(),
            choices: vec![ChoiceRule {
                variable: format!("$.{}", result::FLOW_ERROR),
                boolean_equals: None,
                string_equals: None,
                is_present: Some(true),
                next: "Refused".into(),
            }],
            default: "Answer".into(),
        }),
    );
    s.insert(
        "Refused".to_string(),
        State::Fail(Fail {
            comment: "The flow's own error and cause".into(),
            error: None,
            cause: None,
            error_path: Some(format!("$.{}.Error", result::FLOW_ERROR)),
            cause_path: Some(format!("$.{}.Cause", result::FLOW_ERROR)),
        }),
    );
    s.insert(
        "Answer".to_string(),
        State::Pass(Pass {
            comment: "The flow's own answer".into(),
            parameters: Value::Null,
            result_path: None,
            output_path: Some(format!("$.{}[0]", result::OUTCOME)),
            then: Then::End,
        }),
    );
    StateMachine {
        comment: comment.to_string(),
        start_at: "Flow".to_string(),
        timeout_seconds: TIMEOUT_SECONDS,
        states: s,
    }
}
