//! layerproof-verifier (under construction).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod dockerfile;

pub mod blob;
pub mod checksum;
pub mod classic_hash;
pub mod config;

pub mod conformance;
pub mod explain;
pub mod infer;
pub mod layerscan;
pub mod rebuild;
pub mod report;
pub mod streamed;
pub mod verify;

mod pipeline;
