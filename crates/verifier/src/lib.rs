//! layerproof-verifier (under construction).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The Dockerfile frontend (`layerproof-dockerfile`), under the path the verifier has used for it.
pub use layerproof_dockerfile as dockerfile;

pub mod blob;
pub mod build;
pub mod checksum;
pub mod classic_hash;
pub mod config;

pub mod conformance;
pub mod explain;
pub mod import;
pub mod infer;
pub mod layerscan;
pub mod materialise;
pub mod paths;
pub mod rebuild;
pub mod report;
pub mod streamed;
pub mod verify;

mod pipeline;
