//! The verification report and its renderings.
//!
//! [`model`] is the report as data: its `serde` form is the JSON schema `layerproof.verify/v1`
//! (`docs/verify-json.md`). [`human()`] renders it for people, [`junit()`] for CI systems.

mod human;
mod junit;
pub mod model;

pub use human::{Style, human};
pub use junit::{headline, junit};
pub use model::*;

#[cfg(test)]
mod tests;
