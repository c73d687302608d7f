//! Typed synthesis of the Riv CloudFormation stack: a small template model, the state machines generated from
//! the function types, the REST API, and the stack that puts them together.

pub mod api;
pub mod asl;
pub mod flows;
pub mod functions;
pub mod iam;
pub mod model;
pub mod naming;
pub mod params;
pub mod stack;

pub use model::Template;

/// The Riv template as YAML, as `cargo xtask synth` writes it.
pub fn synth_yaml() -> Result<String, serde_yaml::Error> {
    stack::riv().to_yaml()
}
