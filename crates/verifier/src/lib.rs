//! layerproof-verifier (under construction).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod dockerfile;

pub mod conformance;
pub mod infer;
pub mod rebuild;
