//! `cleanup`: what old stacks left behind in a region. `inventory` reads the region, `plan` decides (pure, and
//! only on what is provably Riv's), `delete` removes what the plan chose.

pub mod delete;
pub mod inventory;
pub mod keys;
pub mod plan;

pub use plan::{human_age, human_bytes, Kind, Leftover, RIV_REGIONS};
