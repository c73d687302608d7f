//! Typed synthesis of the Riv CloudFormation stack: a small template model, the state machines (written by hand
//! in `flows`, and checked against the functions' request and result types by the `asl_paths` test), the REST
//! API, and the stack that puts them together. `names` spells every id, parameter, output and log-group name
//! once, for the template and the tools alike.

pub mod api;
pub mod asl;
pub mod encryption;
pub mod flows;
pub mod functions;
pub mod iam;
pub mod model;
pub mod names;
pub mod params;
pub mod portal;
pub mod stack;
pub mod storage;

pub use model::Template;

/// The production Riv template as YAML, as `cargo xtask synth` writes it.
pub fn synth_yaml() -> Result<String, serde_yaml::Error> {
    stack::riv().to_yaml()
}

/// The local stack's template (with the test hooks) as YAML.
pub fn synth_local_yaml() -> Result<String, serde_yaml::Error> {
    stack::template(stack::Flavor::Local).to_yaml()
}
