//! layerproof-verifier (under construction).
#![forbid(unsafe_code)]

pub mod conformance;
pub mod infer;
pub mod rebuild;
