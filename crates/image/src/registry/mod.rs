//! A registry client for the distribution API v2: manifests (OCI and Docker, images and
//! indexes) and blobs, anonymous bearer tokens and `config.json` credentials, bounded retries,
//! and digest verification of every byte before a caller sees it.
pub mod auth;
mod client;
mod host;

pub use client::{Registry, RegistryOptions};
