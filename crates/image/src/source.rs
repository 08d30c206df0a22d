//! The transport-independent interface every image source implements.
use std::io::Read;

use crate::digest::{Digest, VerifiedReader};
use crate::error::Error;
use crate::limits::Limits;
use crate::manifest::Descriptor;

/// A blob reader whose bytes are verified against the descriptor's digest and size
/// (see [`VerifiedReader`]: it never reports end of stream unless both matched).
pub type BlobReader = VerifiedReader<Box<dyn Read + Send>>;

/// The kind of place an image was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// A `docker save` tarball.
    DockerArchive,
    /// An OCI layout directory.
    Oci,
    /// A tar of an OCI layout.
    OciArchive,
    /// A registry (distribution API v2).
    Registry,
}

/// An image in a legacy `docker save` archive: a config and layer files, but no manifest.
#[derive(Debug, Clone)]
pub struct LooseImage {
    /// `RepoTags` from `manifest.json`.
    pub repo_tags: Vec<String>,
    /// The config (its digest is the image ID).
    pub config: Descriptor,
    /// The layer files, digests computed by hashing them (Docker records none).
    pub layers: Vec<Descriptor>,
}

/// What a reference points at.
#[derive(Debug, Clone)]
pub enum Root {
    /// A content-addressed manifest or index (a registry reference, or a layout entry picked by
    /// tag or digest). `bytes` are verified against `descriptor.digest`.
    Addressed {
        /// The descriptor (for a registry tag, the digest is computed from the bytes).
        descriptor: Descriptor,
        /// The raw bytes.
        bytes: Vec<u8>,
    },
    /// An OCI layout's `index.json`, which has no digest of its own.
    LayoutIndex {
        /// Its entries.
        manifests: Vec<Descriptor>,
    },
    /// A legacy `docker save` archive.
    Loose(Vec<LooseImage>),
}

/// A place images are read from: registry, OCI layout, oci-archive or docker-archive.
///
/// Every method returns verified content: [`ImageSource::manifest`] returns bytes already
/// checked against the descriptor; [`ImageSource::blob`] returns a [`BlobReader`], so a verifier
/// can hash the compressed blob and decompress + hash the diff_id in one pass over it.
pub trait ImageSource: Send + Sync {
    /// The reference, for messages.
    fn name(&self) -> String;
    /// The kind of source.
    fn transport(&self) -> Transport;
    /// Tags this source knows for its image (docker-archive `RepoTags`, layout ref names).
    fn tags(&self) -> Vec<String> {
        Vec::new()
    }
    /// What the reference points at.
    fn root(&self) -> Result<Root, Error>;
    /// A manifest or index by descriptor, verified, at most `limit` bytes.
    fn manifest(&self, desc: &Descriptor, limit: u64) -> Result<Vec<u8>, Error> {
        self.blob(desc)?.read_all(limit)
    }
    /// The limits this source was opened with (they bound what [`crate::chain::resolve`] walks).
    fn limits(&self) -> Limits {
        Limits::default()
    }
    /// A blob (config or layer) as a verifying stream.
    fn blob(&self, desc: &Descriptor) -> Result<BlobReader, Error>;
    /// A local blob's bytes, not hashed on the way: for a caller that proves what it needs of
    /// them another way (a verifier that hashes its own rebuild and compares the digest with
    /// the descriptor reads only the headers here). `Ok(None)` where the source does not offer
    /// it (a registry, whose blobs are checked as they arrive).
    fn blob_unverified(&self, _desc: &Descriptor) -> Result<Option<Box<dyn SeekRead>>, Error> {
        Ok(None)
    }
}

pub use crate::store::SeekRead;

pub(crate) fn blob_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm(), d.hex())
}
