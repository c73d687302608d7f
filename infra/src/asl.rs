//! A typed subset of the Amazon States Language: the states our flows use, serialised as Step Functions
//! expects them.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateMachine {
    pub comment: String,
    pub start_at: String,
    pub timeout_seconds: u32,
    pub states: BTreeMap<String, State>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "Type")]
pub enum State {
    Task(Task),
    Pass(Pass),
    Choice(Choice),
    Wait(Wait),
    Fail(Fail),
    Parallel(Parallel),
}

/// Runs its branches on the same input; its result is the array of their outputs. An error in a branch is the
/// Parallel's error, with the same `Error` and `Cause`, so a Catch here sees whatever any state inside raised.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parallel {
    pub comment: String,
    pub branches: Vec<Branch>,
    pub result_path: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catch>,
    #[serde(flatten)]
    pub then: Then,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Branch {
    pub start_at: String,
    pub states: BTreeMap<String, State>,
}

/// Waits until the time a path of the state names (RFC 3339); a time in the past does not wait.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Wait {
    pub comment: String,
    pub timestamp_path: String,
    #[serde(flatten)]
    pub then: Then,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retry {
    pub error_equals: Vec<String>,
    pub interval_seconds: u32,
    pub max_attempts: u32,
    pub backoff_rate: f64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catch {
    pub error_equals: Vec<String>,
    /// Where the error object (`Error`, `Cause`) goes in the state.
    pub result_path: Value,
    pub next: String,
}

/// How a state ends: the name of the next state, or the end of the execution.
#[derive(Debug, Clone, PartialEq)]
pub enum Then {
    Next(String),
    End,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Task {
    pub comment: String,
    pub resource: String,
    /// `null` hands the state's whole input to the task.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub parameters: Value,
    /// `$.X` to add the result to the state, `$` to make it the whole output, or `null` to discard it.
    pub result_path: Value,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub retry: Vec<Retry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catch: Vec<Catch>,
    #[serde(flatten)]
    pub then: Then,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pass {
    pub comment: String,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub parameters: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<Value>,
    /// The part of the state passed on (after Parameters and ResultPath).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_path: Option<String>,
    #[serde(flatten)]
    pub then: Then,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChoiceRule {
    pub variable: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boolean_equals: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_equals: Option<String>,
    /// Whether the variable's path exists at all (so a later state may name it without a runtime error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_present: Option<bool>,
    pub next: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Choice {
    pub comment: String,
    pub choices: Vec<ChoiceRule>,
    pub default: String,
}

/// A failure with a fixed error, or with error and cause read from the state (`ErrorPath`, `CausePath`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Fail {
    pub comment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause_path: Option<String>,
}

impl Serialize for Then {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        match self {
            Then::Next(next) => map.serialize_entry("Next", next)?,
            Then::End => map.serialize_entry("End", &true)?,
        }
        map.end()
    }
}

impl State {
    /// Every state this one can hand over to.
    pub fn successors(&self) -> Vec<&str> {
        fn then(t: &Then) -> Vec<&str> {
            match t {
                Then::Next(n) => vec![n.as_str()],
                Then::End => vec![],
            }
        }
        match self {
            State::Task(t) => {
                let mut out = then(&t.then);
                out.extend(t.catch.iter().map(|c| c.next.as_str()));
                out
            }
            State::Pass(p) => then(&p.then),
            State::Wait(w) => then(&w.then),
            State::Choice(c) => {
                let mut out: Vec<&str> = c.choices.iter().map(|r| r.next.as_str()).collect();
                out.push(&c.default);
                out
            }
            State::Parallel(p) => {
                let mut out = then(&p.then);
                out.extend(p.catch.iter().map(|c| c.next.as_str()));
                out
            }
            State::Fail(_) => vec![],
        }
    }
}
