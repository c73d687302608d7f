//! Getting Riv onto an account: building the function artifacts, the artifact bucket and uploads, and
//! creating or updating the stack. `cargo xtask` and the end-to-end tests call the same code.

pub mod build;
pub mod changeset;
pub mod cleanup;
pub mod local;
pub mod reconcile;
pub mod stack;
pub mod sweep;
pub mod target;
pub mod teardown;

pub use target::Target;
