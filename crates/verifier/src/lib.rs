//! layerproof-verifier (under construction).
#![forbid(unsafe_code)]

pub mod rebuild;
