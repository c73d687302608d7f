//! The services' own API models, as tables generated from botocore (`generated.rs`, by `cargo xtask codegen`):
//! requests are validated against them the way AWS's front end does before an operation runs (`validate`), and
//! tests check the emulator's responses against them (`output`), so neither depends on a hand-copied rule.

pub mod generated;
mod output;
mod pattern;
mod validate;

pub use output::{check_output, check_output_counted, members_checked, Mismatch, OutputCheck};
pub use validate::validate_input;

/// A service the emulator answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Rekognition,
    Textract,
}

impl Service {
    /// The service of an `X-Amz-Target` prefix (`RekognitionService`, `Textract`).
    pub fn from_target_prefix(prefix: &str) -> Option<Service> {
        match prefix {
            "RekognitionService" => Some(Service::Rekognition),
            "Textract" => Some(Service::Textract),
            _ => None,
        }
    }
}

/// A named shape of a model.
#[derive(Debug)]
pub struct Shape {
    pub name: &'static str,
    pub kind: Kind,
}

/// What a shape is, with the constraints AWS checks on requests. Bounds are lengths (characters, list items,
/// map entries, bytes) or numeric ranges, as the model's `min`/`max`.
#[derive(Debug)]
pub enum Kind {
    Structure {
        members: &'static [Member],
        required: &'static [&'static str],
    },
    List {
        member: &'static Shape,
        min: Option<i64>,
        max: Option<i64>,
    },
    Map {
        key: &'static Shape,
        value: &'static Shape,
        min: Option<i64>,
        max: Option<i64>,
    },
    String {
        min: Option<i64>,
        max: Option<i64>,
        pattern: Option<&'static str>,
        enums: &'static [&'static str],
    },
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Long {
        min: Option<i64>,
        max: Option<i64>,
    },
    Float {
        min: Option<i64>,
        max: Option<i64>,
    },
    Double {
        min: Option<i64>,
        max: Option<i64>,
    },
    Boolean,
    Blob {
        min: Option<i64>,
        max: Option<i64>,
    },
    Timestamp,
}

/// A member of a structure: its name on the wire and its shape.
#[derive(Debug)]
pub struct Member {
    pub name: &'static str,
    pub shape: &'static Shape,
}

/// An operation with its input and output shapes and the errors the model says it returns.
#[derive(Debug)]
pub struct Operation {
    pub service: Service,
    pub name: &'static str,
    pub input: &'static Shape,
    pub output: &'static Shape,
    pub errors: &'static [&'static str],
}

/// The generated operation `name` of `service`, if the emulator's model covers it.
pub fn operation(service: Service, name: &str) -> Option<&'static Operation> {
    generated::OPERATIONS
        .iter()
        .find(|op| op.service == service && op.name == name)
}

impl Kind {
    /// The type's name as AWS's deserializer reports it (`… can not be converted to an Integer`).
    fn type_name(&self) -> &'static str {
        match self {
            Kind::Structure { .. } => "Structure",
            Kind::List { .. } => "List",
            Kind::Map { .. } => "Map",
            Kind::String { .. } => "String",
            Kind::Integer { .. } => "Integer",
            Kind::Long { .. } => "Long",
            Kind::Float { .. } => "Float",
            Kind::Double { .. } => "Double",
            Kind::Boolean => "Boolean",
            Kind::Blob { .. } => "Blob",
            Kind::Timestamp => "Timestamp",
        }
    }
}

#[cfg(test)]
mod tests;
