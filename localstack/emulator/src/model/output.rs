//! Checks a response the emulator built against the operation's output shape, for tests and the parity report:
//! required members present, JSON types as AWS JSON 1.1 sends them (timestamps as epoch seconds, blobs as
//! base64), enum values, and no member the model does not have (an SDK drops those silently, so they would hide
//! a misspelt member). Lengths, ranges and patterns are request rules and are not checked on output.

use super::{operation, Kind, Service, Shape};
use base64::Engine as _;
use serde_json::Value;
use std::fmt;

/// One place where a response departs from the model. Paths use the wire names: `FaceDetails[0].Gender.Value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub path: String,
    pub what: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(response)"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.what)
    }
}

/// The result of checking one response: how many values were looked at (every member present, list element and
/// map value, at any depth) and what did not match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputCheck {
    pub members_checked: usize,
    pub mismatches: Vec<Mismatch>,
}

/// Checks `response` against `operation`'s output shape; an operation outside the generated model is itself a
/// mismatch, so a parity report cannot count it as checked.
pub fn check_output_counted(
    service: Service,
    operation_name: &str,
    response: &Value,
) -> OutputCheck {
    let mut check = OutputCheck::default();
    match operation(service, operation_name) {
        Some(op) => walk(op.output, response, "", &mut check),
        None => check.mismatches.push(Mismatch {
            path: String::new(),
            what: format!("{service:?}.{operation_name} is not in the generated model"),
        }),
    }
    check
}

/// The mismatches of `response` (see [`check_output_counted`]).
pub fn check_output(service: Service, operation_name: &str, response: &Value) -> Vec<Mismatch> {
    check_output_counted(service, operation_name, response).mismatches
}

/// How many values of `response` were checked (see [`check_output_counted`]).
pub fn members_checked(service: Service, operation_name: &str, response: &Value) -> usize {
    check_output_counted(service, operation_name, response).members_checked
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn walk(shape: &Shape, value: &Value, path: &str, check: &mut OutputCheck) {
    let mut mismatch = |what: String| {
        check.mismatches.push(Mismatch {
            path: path.to_string(),
            what,
        })
    };
    let expected = match &shape.kind {
        Kind::Structure { .. } | Kind::Map { .. } => value.is_object(),
        Kind::List { .. } => value.is_array(),
        Kind::String { .. } | Kind::Blob { .. } => value.is_string(),
        Kind::Integer { .. } | Kind::Long { .. } => value.is_i64() || value.is_u64(),
        Kind::Float { .. } | Kind::Double { .. } | Kind::Timestamp => value.is_number(),
        Kind::Boolean => value.is_boolean(),
    };
    if !expected {
        let what = if value.is_null() {
            // AWS leaves an absent member out rather than sending null.
            format!(
                "null where {} ({}) is expected",
                shape.name,
                shape.kind.type_name()
            )
        } else {
            format!(
                "{} where {} ({}) is expected",
                json_type(value),
                shape.name,
                shape.kind.type_name()
            )
        };
        mismatch(what);
        return;
    }
    match (&shape.kind, value) {
        (Kind::Structure { members, required }, Value::Object(object)) => {
            for name in required.iter().filter(|r| !object.contains_key(**r)) {
                check.mismatches.push(Mismatch {
                    path: dotted(path, name),
                    what: format!("required member of {} is missing", shape.name),
                });
            }
            for (name, item) in object {
                let item_path = dotted(path, name);
                check.members_checked += 1;
                match members.iter().find(|m| m.name == name) {
                    Some(member) => walk(member.shape, item, &item_path, check),
                    None => check.mismatches.push(Mismatch {
                        path: item_path,
                        what: format!("not a member of {} in the model", shape.name),
                    }),
                }
            }
        }
        (Kind::List { member, .. }, Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check.members_checked += 1;
                walk(member, item, &format!("{path}[{i}]"), check);
            }
        }
        (
            Kind::Map {
                key,
                value: item_shape,
                ..
            },
            Value::Object(entries),
        ) => {
            for (k, item) in entries {
                let item_path = dotted(path, k);
                check.members_checked += 1;
                walk(key, &Value::String(k.clone()), &item_path, check);
                walk(item_shape, item, &item_path, check);
            }
        }
        (Kind::String { enums, .. }, Value::String(s))
            if !enums.is_empty() && !enums.contains(&s.as_str()) =>
        {
            mismatch(format!(
                "'{s}' is not in {}'s enum value set [{}]",
                shape.name,
                enums.join(", ")
            ));
        }
        (Kind::Blob { .. }, Value::String(s))
            if base64::engine::general_purpose::STANDARD.decode(s).is_err() =>
        {
            mismatch(format!("{} is not base64", shape.name));
        }
        _ => {}
    }
}

fn dotted(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}
