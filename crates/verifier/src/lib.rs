//! layerproof-verifier (under construction).
#![forbid(unsafe_code)]

pub mod infer;
pub mod rebuild;
