//! Request validation as AWS's JSON 1.1 front end (Coral) does it before an operation runs, from the model:
//!
//! 1. Deserialization: a value of the wrong JSON type is a `SerializationException` (AWS reads the body into
//!    typed objects first, so it fails there, before any constraint is looked at), as is a blob that is not
//!    base64. JSON `null` is an absent member, as on AWS.
//! 2. Constraints: every violation is collected and reported at once as one `ValidationException`,
//!    `N validation error(s) detected: Value '<value>' at '<path>' failed to satisfy constraint: <phrase>`,
//!    joined by `; `. Paths are the members' names with a lower-case first letter, joined by dots; an element of
//!    a list of structures is `<list>.<n>.member` (from 1). Values are shown as Java prints them (`null`
//!    unquoted, lists `[a, b]`, maps `{k=v}`, whole floats `101.0`).
//!
//! Members the model does not know are ignored, as AWS's JSON services ignore them. A blob's maximum length is
//! not checked here: the operations answer `ImageTooLargeException`/`DocumentTooLargeException` for it.

use super::{operation, pattern, Kind, Service, Shape};
use crate::error::AwsError;
use base64::Engine as _;
use serde_json::Value;

/// Checks `request` against `operation`'s input shape. An operation the generated model does not cover passes:
/// whether it exists is the dispatcher's to answer.
pub fn validate_input(
    service: Service,
    operation_name: &str,
    request: &Value,
) -> Result<(), AwsError> {
    let Some(op) = operation(service, operation_name) else {
        return Ok(());
    };
    // An empty body is an empty input structure.
    let empty = Value::Object(Default::default());
    let request = if request.is_null() { &empty } else { request };
    types(op.input, request, "")?;
    let mut errors = Vec::new();
    constraints(op.input, request, "", &mut errors);
    match errors.len() {
        0 => Ok(()),
        1 => Err(AwsError::new(
            "ValidationException",
            format!("1 validation error detected: {}", errors[0]),
        )),
        n => Err(AwsError::new(
            "ValidationException",
            format!("{n} validation errors detected: {}", errors.join("; ")),
        )),
    }
}

fn join(path: &str, member: &str) -> String {
    let mut chars = member.chars();
    let lower: String = chars
        .next()
        .map(|c| c.to_ascii_lowercase())
        .into_iter()
        .chain(chars)
        .collect();
    if path.is_empty() {
        lower
    } else {
        format!("{path}.{lower}")
    }
}

fn serialization(message: String) -> AwsError {
    AwsError::new("SerializationException", message)
}

/// The deserializer's view of a mismatched value, in the words AWS's JSON 1.1 front end uses
/// (`STRING_VALUE can not be converted to an Integer`, `Start of structure or map found where not expected.`).
fn mismatch(kind: &Kind, value: &Value) -> AwsError {
    let token = match value {
        Value::Object(_) => {
            return serialization("Start of structure or map found where not expected.".into())
        }
        Value::Array(_) => return serialization("Start of list found where not expected".into()),
        Value::String(_) => "STRING_VALUE",
        Value::Number(_) => "NUMBER_VALUE",
        Value::Bool(true) => "TRUE_VALUE",
        Value::Bool(false) => "FALSE_VALUE",
        Value::Null => "NULL_VALUE",
    };
    let name = kind.type_name();
    let article = if name.starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    };
    serialization(format!("{token} can not be converted to {article} {name}"))
}

fn types(shape: &Shape, value: &Value, path: &str) -> Result<(), AwsError> {
    let kind = &shape.kind;
    match (kind, value) {
        (_, Value::Null) => Ok(()),
        (Kind::Structure { members, .. }, Value::Object(object)) => {
            for member in members.iter() {
                if let Some(v) = object.get(member.name) {
                    types(member.shape, v, &join(path, member.name))?;
                }
            }
            Ok(())
        }
        (Kind::List { member, .. }, Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                types(member, item, &format!("{path}.{}.member", i + 1))?;
            }
            Ok(())
        }
        (Kind::Map { value: shape, .. }, Value::Object(entries)) => {
            for (key, item) in entries {
                types(shape, item, &format!("{path}.{key}"))?;
            }
            Ok(())
        }
        (Kind::String { .. }, Value::String(_)) => Ok(()),
        (
            Kind::Integer { .. } | Kind::Long { .. } | Kind::Float { .. } | Kind::Double { .. },
            Value::Number(_),
        ) => Ok(()),
        (Kind::Timestamp, Value::Number(_)) => Ok(()),
        (Kind::Boolean, Value::Bool(_)) => Ok(()),
        (Kind::Blob { .. }, Value::String(text)) => decode(text)
            .map(|_| ())
            .ok_or_else(|| serialization(format!("Value at '{path}' is not valid base64"))),
        (kind, value) => Err(mismatch(kind, value)),
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// A value as Java's `toString` shows it in AWS's messages.
fn render(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => java_float(n.as_f64().unwrap_or_default()),
        },
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{k}={}", render(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A float as Java prints a `Float`: whole values keep a `.0`.
fn java_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e7 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// How a scalar value is shown: numbers of a float shape as floats, blobs as the `ByteBuffer` AWS holds.
fn render_scalar(kind: &Kind, value: &Value) -> String {
    match (kind, value) {
        (Kind::Float { .. } | Kind::Double { .. }, Value::Number(n)) => {
            java_float(n.as_f64().unwrap_or_default())
        }
        (Kind::Integer { .. } | Kind::Long { .. }, Value::Number(n)) if n.as_i64().is_none() => {
            // AWS truncates a fractional number read into an integer.
            (n.as_f64().unwrap_or_default().trunc() as i64).to_string()
        }
        (Kind::Blob { .. }, Value::String(s)) => {
            let n = decode(s).map_or(0, |b| b.len());
            format!("java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]")
        }
        _ => render(value),
    }
}

/// One constraint of a scalar shape, in the order AWS lists them (`Member must satisfy constraint: [...]`
/// lists the maximum before the minimum, then the pattern, then the enum).
enum Constraint {
    MaxLength(i64),
    MinLength(i64),
    Pattern(&'static str),
    Enum(&'static [&'static str]),
    MaxValue(i64),
    MinValue(i64),
}

impl Constraint {
    fn phrase(&self) -> String {
        match self {
            Constraint::MaxLength(n) => {
                format!("Member must have length less than or equal to {n}")
            }
            Constraint::MinLength(n) => {
                format!("Member must have length greater than or equal to {n}")
            }
            Constraint::Pattern(p) => {
                format!("Member must satisfy regular expression pattern: {p}")
            }
            Constraint::Enum(values) => format!(
                "Member must satisfy enum value set: [{}]",
                values.join(", ")
            ),
            Constraint::MaxValue(n) => format!("Member must have value less than or equal to {n}"),
            Constraint::MinValue(n) => {
                format!("Member must have value greater than or equal to {n}")
            }
        }
    }

    /// Whether `value` (already of the right JSON type) satisfies the constraint.
    fn holds(&self, kind: &Kind, value: &Value) -> bool {
        let length = || -> i64 {
            match (kind, value) {
                // Java counts UTF-16 units.
                (Kind::String { .. }, Value::String(s)) => s.encode_utf16().count() as i64,
                (Kind::Blob { .. }, Value::String(s)) => decode(s).map_or(0, |b| b.len() as i64),
                _ => 0,
            }
        };
        let number = || value.as_f64().unwrap_or_default();
        let number = || match kind {
            Kind::Integer { .. } | Kind::Long { .. } => number().trunc(),
            _ => number(),
        };
        match self {
            Constraint::MaxLength(n) => length() <= *n,
            Constraint::MinLength(n) => length() >= *n,
            Constraint::Pattern(p) => value
                .as_str()
                .is_none_or(|s| pattern::matches(p, s).unwrap_or(true)),
            Constraint::Enum(values) => value.as_str().is_none_or(|s| values.contains(&s)),
            Constraint::MaxValue(n) => number() <= *n as f64,
            Constraint::MinValue(n) => number() >= *n as f64,
        }
    }
}

/// Every constraint of a scalar shape (none for a composite one).
fn scalar_constraints(kind: &Kind) -> Vec<Constraint> {
    let mut out = Vec::new();
    match kind {
        Kind::String {
            min,
            max,
            pattern,
            enums,
        } => {
            out.extend(max.map(Constraint::MaxLength));
            out.extend(min.map(Constraint::MinLength));
            out.extend(pattern.map(Constraint::Pattern));
            if !enums.is_empty() {
                out.push(Constraint::Enum(enums));
            }
        }
        Kind::Integer { min, max }
        | Kind::Long { min, max }
        | Kind::Float { min, max }
        | Kind::Double { min, max } => {
            out.extend(max.map(Constraint::MaxValue));
            out.extend(min.map(Constraint::MinValue));
        }
        Kind::Blob { min, .. } => out.extend(min.map(Constraint::MinLength)),
        _ => {}
    }
    out
}

fn is_composite(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::Structure { .. } | Kind::List { .. } | Kind::Map { .. }
    )
}

/// Whether a scalar element fails any of its shape's constraints (a `null` element always does).
fn element_fails(shape: &Shape, value: &Value) -> bool {
    value.is_null()
        || scalar_constraints(&shape.kind)
            .iter()
            .any(|c| !c.holds(&shape.kind, value))
}

fn listed(shape: &Shape) -> String {
    let phrases: Vec<String> = scalar_constraints(&shape.kind)
        .iter()
        .map(Constraint::phrase)
        .collect();
    format!("[{}]", phrases.join(", "))
}

fn count_constraints(
    min: &Option<i64>,
    max: &Option<i64>,
    count: usize,
    value: &Value,
    path: &str,
    errors: &mut Vec<String>,
) {
    let count = count as i64;
    let failed = [
        max.filter(|m| count > *m).map(Constraint::MaxLength),
        min.filter(|m| count < *m).map(Constraint::MinLength),
    ];
    for constraint in failed.into_iter().flatten() {
        errors.push(format!(
            "Value '{}' at '{path}' failed to satisfy constraint: {}",
            render(value),
            constraint.phrase()
        ));
    }
}

fn constraints(shape: &Shape, value: &Value, path: &str, errors: &mut Vec<String>) {
    match (&shape.kind, value) {
        (Kind::Structure { members, required }, Value::Object(object)) => {
            for member in members.iter() {
                let member_path = join(path, member.name);
                match object.get(member.name).filter(|v| !v.is_null()) {
                    Some(v) => constraints(member.shape, v, &member_path, errors),
                    None if required.contains(&member.name) => errors.push(format!(
                        "Value null at '{member_path}' failed to satisfy constraint: Member must not be null"
                    )),
                    None => {}
                }
            }
        }
        (Kind::List { member, min, max }, Value::Array(items)) => {
            count_constraints(min, max, items.len(), value, path, errors);
            if is_composite(&member.kind) {
                for (i, item) in items.iter().enumerate() {
                    if !item.is_null() {
                        constraints(member, item, &format!("{path}.{}.member", i + 1), errors);
                    }
                }
            } else if items.iter().any(|item| element_fails(member, item)) {
                errors.push(format!(
                    "Value '{}' at '{path}' failed to satisfy constraint: Member must satisfy constraint: {}",
                    render(value),
                    listed(member)
                ));
            }
        }
        (
            Kind::Map {
                key,
                value: item_shape,
                min,
                max,
            },
            Value::Object(entries),
        ) => {
            count_constraints(min, max, entries.len(), value, path, errors);
            if entries
                .keys()
                .any(|k| element_fails(key, &Value::String(k.clone())))
            {
                errors.push(format!(
                    "Value '{}' at '{path}' failed to satisfy constraint: Map keys must satisfy constraint: {}",
                    render(value),
                    listed(key)
                ));
            }
            if is_composite(&item_shape.kind) {
                for (k, item) in entries {
                    constraints(item_shape, item, &format!("{path}.{k}.member"), errors);
                }
            } else if entries.values().any(|item| element_fails(item_shape, item)) {
                errors.push(format!(
                    "Value '{}' at '{path}' failed to satisfy constraint: Map value must satisfy constraint: {}",
                    render(value),
                    listed(item_shape)
                ));
            }
        }
        (kind, value) => {
            for constraint in scalar_constraints(kind) {
                if !constraint.holds(kind, value) {
                    errors.push(format!(
                        "Value '{}' at '{path}' failed to satisfy constraint: {}",
                        render_scalar(kind, value),
                        constraint.phrase()
                    ));
                }
            }
        }
    }
}
