//! The one error type of this crate: every variant names the reference, file, entry or digest
//! it is about, and digest/size failures carry the expected and the actual value.
use std::path::PathBuf;

use crate::digest::Digest;

/// Everything that can go wrong while reading an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An image reference could not be parsed.
    #[error("invalid image reference {input:?}: {reason}")]
    Reference {
        /// What the user wrote.
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// A digest string is malformed.
    #[error("malformed digest {input:?}: {reason}")]
    MalformedDigest {
        /// The text.
        input: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A well-formed digest uses an algorithm this tool does not verify.
    #[error("unsupported digest algorithm in {digest:?} (only sha256 is verified)")]
    UnsupportedDigest {
        /// The digest as written.
        digest: String,
    },
    /// Bytes did not hash to the digest they were fetched by.
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was read (blob, manifest, URL or file entry).
        what: String,
        /// The digest we asked for.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// Bytes had a different length than their descriptor says.
    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}{}", if *.truncated { " (truncated)" } else { "" })]
    SizeMismatch {
        /// What was read.
        what: String,
        /// The size from the descriptor.
        expected: u64,
        /// The number of bytes seen (a lower bound when more arrived than expected).
        actual: u64,
        /// The stream ended early.
        truncated: bool,
    },
    /// A manifest, index or config is larger than the configured cap.
    #[error(
        "{what} is larger than the limit of {limit} bytes (layerproof's cap for image metadata: \
         real manifests, indexes and configs are kilobytes; the registry manifest cap is \
         RegistryOptions::max_manifest_bytes)"
    )]
    TooLarge {
        /// What was read.
        what: String,
        /// The cap.
        limit: u64,
    },
    /// An image is over one of the [`crate::Limits`]; `limit` is the flag's name.
    #[error("{what}: {count} {unit}: over the {limit} limit of {max} (raise it with --{limit})")]
    Limit {
        /// The image, document or blob.
        what: String,
        /// How many (or how large) it is, as far as it was counted.
        count: u64,
        /// What `count` counts.
        unit: &'static str,
        /// The limit's name, which is also its flag (`max-layers`).
        limit: &'static str,
        /// The limit's value.
        max: u64,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// JSON that should describe an image does not.
    #[error("cannot parse {what}: {reason}")]
    Parse {
        /// Which document (file entry or digest).
        what: String,
        /// The parser's message.
        reason: String,
    },
    /// A manifest or layer media type this tool does not read.
    #[error("unsupported media type {media_type:?} for {what}")]
    UnsupportedMediaType {
        /// Which document.
        what: String,
        /// Its media type.
        media_type: String,
    },
    /// A tag, digest, file or blob that is not there.
    #[error("not found: {what}")]
    NotFound {
        /// What was looked for, and where.
        what: String,
    },
    /// A path or symlink that would leave an OCI layout or archive.
    #[error("{what}: path {path:?} leads outside the {container}")]
    PathEscape {
        /// Which entry.
        what: String,
        /// The offending path or link target.
        path: String,
        /// "layout" or "archive".
        container: &'static str,
    },
    /// A malformed archive or layout (missing `oci-layout`, bad `manifest.json`, ...).
    #[error("{what}: {reason}")]
    Layout {
        /// The archive or directory.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// No manifest matches the requested platform.
    #[error("no manifest for platform {wanted} in {what}; available: {}", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    PlatformNotFound {
        /// The reference.
        what: String,
        /// The platform asked for.
        wanted: String,
        /// The platforms present.
        available: Vec<String>,
    },
    /// The registry answered with an error status.
    #[error("{url}: HTTP {status}{}", if detail.is_empty() { String::new() } else { format!(": {detail}") })]
    Http {
        /// The URL (never with credentials).
        url: String,
        /// The status code.
        status: u16,
        /// The registry's error message, if it sent one (truncated).
        detail: String,
    },
    /// A network failure (connection, TLS, timeout, broken body) after all retries.
    #[error("{url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// Plain HTTP to a host that is neither loopback nor listed as insecure.
    #[error(
        "refusing plain HTTP to {host}: only loopback hosts and --insecure-registry hosts may use it"
    )]
    InsecureRefused {
        /// The host.
        host: String,
    },
    /// Authentication with the registry failed.
    #[error("authentication with {registry} failed: {reason}")]
    Auth {
        /// The registry host.
        registry: String,
        /// Why (never contains a secret).
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Error::Parse {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    /// Recovers an [`Error`] that travelled inside an [`std::io::Error`] (as the verified readers
    /// report digest and size failures), or wraps the I/O error with `what`.
    pub fn from_io(err: std::io::Error, what: impl Into<PathBuf>) -> Self {
        if err.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(inner) = err.into_inner() {
                if let Ok(e) = inner.downcast::<Error>() {
                    return *e;
                }
                // unreachable in practice: `is::<Error>` was checked above
                return Error::io(what, std::io::Error::other("error type changed"));
            }
            return Error::io(what, std::io::Error::other("missing inner error"));
        }
        Error::io(what, err)
    }
}
