//! Caps on what an untrusted image may make layerproof read. Each field is a command-line flag
//! named like it (`max_layers` → `--max-layers`), and [`Error::Limit`] names the flag to raise.
use crate::error::Error;

/// Limits for reading untrusted images; see each field for what it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most layers of one image: a docker-archive's `Layers` list (checked before any layer is
    /// hashed) or a manifest's `layers`. Docker itself stacks at most 125 layers.
    pub max_layers: u64,
    /// Most nodes walked from a reference to its images: indexes, manifests and the entries
    /// listed but not followed (other platforms, attestations). Nested indexes that repeat one
    /// another are walked once each, but a tree of distinct ones can still be wide.
    pub max_manifests: u64,
    /// Largest blob accepted from a registry, checked against the descriptor's size before the
    /// first byte is fetched (and so before anything is spooled to disk).
    pub max_blob_bytes: u64,
}

/// Default for [`Limits::max_layers`].
pub const DEFAULT_MAX_LAYERS: u64 = 1000;
/// Default for [`Limits::max_manifests`].
pub const DEFAULT_MAX_MANIFESTS: u64 = 10_000;
/// Default for [`Limits::max_blob_bytes`] (64 GiB, as the tarball data limit).
pub const DEFAULT_MAX_BLOB_BYTES: u64 = 64 << 30;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layers: DEFAULT_MAX_LAYERS,
            max_manifests: DEFAULT_MAX_MANIFESTS,
            max_blob_bytes: DEFAULT_MAX_BLOB_BYTES,
        }
    }
}

impl Limits {
    /// `Err` when `what` has more than `max_layers` layers.
    pub(crate) fn layers(&self, what: impl FnOnce() -> String, n: usize) -> Result<(), Error> {
        check(what, "max-layers", self.max_layers, n as u64, "layers")
    }

    /// `Err` when a walk has reached more than `max_manifests` nodes.
    pub(crate) fn manifests(&self, what: impl FnOnce() -> String, n: u64) -> Result<(), Error> {
        check(what, "max-manifests", self.max_manifests, n, "nodes")
    }

    /// `Err` when a blob declared `size` bytes, more than `max_blob_bytes`.
    pub(crate) fn blob(&self, what: impl FnOnce() -> String, size: u64) -> Result<(), Error> {
        check(what, "max-blob-bytes", self.max_blob_bytes, size, "bytes")
    }
}

fn check(
    what: impl FnOnce() -> String,
    limit: &'static str,
    max: u64,
    n: u64,
    unit: &'static str,
) -> Result<(), Error> {
    if n > max {
        return Err(Error::Limit {
            what: what(),
            count: n,
            unit,
            limit,
            max,
        });
    }
    Ok(())
}
