//! The pure core: manifests, indexes and configs parsed from bytes (typed by `oci-spec`), never
//! re-serialised; digests are always of the raw bytes.
use std::collections::BTreeMap;

use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};

use crate::digest::Digest;
use crate::error::Error;
use crate::platform::Platform;

/// Media type strings this crate knows.
pub mod media {
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// Docker manifest list (schema 2).
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// Docker image manifest (schema 2).
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker schema 1 (signed or not): refused.
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    /// Docker schema 1 (signed).
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
    /// OCI config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// Docker config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    /// OCI uncompressed layer.
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    /// OCI gzip layer.
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// OCI zstd layer.
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    /// Docker gzip layer.
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    /// Docker uncompressed layer (seen in `docker save` descriptors).
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";

    /// The `Accept` header for manifests: all four kinds.
    pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

    /// Whether a media type names an index or manifest list.
    pub fn is_index(mt: &str) -> bool {
        mt == OCI_INDEX || mt == DOCKER_LIST
    }

    /// Whether a media type names an image manifest.
    pub fn is_manifest(mt: &str) -> bool {
        mt == OCI_MANIFEST || mt == DOCKER_MANIFEST
    }
}

/// A content descriptor: what we know about one blob before reading it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Descriptor {
    /// Its media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// The platform an index entry is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations (`org.opencontainers.image.ref.name`, `vnd.docker.reference.type`, …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    fn from_oci(d: &oci_spec::image::Descriptor, what: &str) -> Result<Descriptor, Error> {
        let digest = Digest::parse(d.digest().as_ref()).map_err(|e| match e {
            Error::UnsupportedDigest { .. } => e,
            other => Error::parse(what, other),
        })?;
        Ok(Descriptor {
            media_type: d.media_type().to_string(),
            digest,
            size: d.size(),
            platform: d.platform().as_ref().map(|p| Platform {
                os: p.os().to_string(),
                architecture: p.architecture().to_string(),
                variant: p.variant().clone(),
            }),
            annotations: d
                .annotations()
                .as_ref()
                .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
        })
    }

    /// The tag an OCI layout records for this entry (`org.opencontainers.image.ref.name`).
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations
            .get("org.opencontainers.image.ref.name")
            .map(String::as_str)
    }

    /// Whether this index entry is a BuildKit attestation manifest, not an image.
    pub fn is_attestation(&self) -> bool {
        self.annotations
            .get("vnd.docker.reference.type")
            .is_some_and(|t| t == "attestation-manifest")
    }
}

/// A parsed manifest or index.
#[derive(Debug, Clone)]
pub enum Manifest {
    /// An OCI index or Docker manifest list.
    Index {
        /// Its media type (from the document, else from the transport).
        media_type: String,
        /// Its entries.
        manifests: Vec<Descriptor>,
    },
    /// An OCI or Docker schema-2 image manifest.
    Image {
        /// Its media type.
        media_type: String,
        /// The config descriptor; its digest is the image ID.
        config: Descriptor,
        /// The layer blobs, bottom first.
        layers: Vec<Descriptor>,
    },
}

#[derive(serde::Deserialize)]
struct Sniff {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<serde_json::Value>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    manifests: Option<serde_json::Value>,
    config: Option<serde_json::Value>,
    layers: Option<serde_json::Value>,
}

impl Manifest {
    /// Parses raw manifest bytes. `hint` is the media type the transport gave (HTTP
    /// `Content-Type`, descriptor); the document's own `mediaType` wins when present.
    pub fn parse(bytes: &[u8], hint: Option<&str>, what: &str) -> Result<Manifest, Error> {
        let sniff: Sniff = serde_json::from_slice(bytes).map_err(|e| Error::parse(what, e))?;
        if sniff.schema_version.as_ref().and_then(|v| v.as_u64()) == Some(1) {
            return Err(Error::UnsupportedMediaType {
                what: what.to_string(),
                media_type: media::DOCKER_SCHEMA1.into(),
            });
        }
        let hint = hint
            .map(|h| h.split(';').next().unwrap_or(h).trim())
            .filter(|h| {
                !h.is_empty() && *h != "application/json" && *h != "application/octet-stream"
            });
        let media_type = sniff.media_type.clone().or(hint.map(str::to_string));
        let is_index = match media_type.as_deref() {
            Some(mt) if media::is_index(mt) => true,
            Some(mt) if media::is_manifest(mt) => false,
            Some(mt) if mt == media::DOCKER_SCHEMA1 || mt == media::DOCKER_SCHEMA1_SIGNED => {
                return Err(Error::UnsupportedMediaType {
                    what: what.to_string(),
                    media_type: mt.to_string(),
                });
            }
            // OCI 1.0 allows an absent mediaType; guess from the fields
            None if sniff.manifests.is_some() => true,
            None if sniff.config.is_some() && sniff.layers.is_some() => false,
            Some(mt) => {
                return Err(Error::UnsupportedMediaType {
                    what: what.to_string(),
                    media_type: mt.to_string(),
                });
            }
            None => return Err(Error::parse(what, "neither an index nor an image manifest")),
        };
        let mt = media_type.unwrap_or_else(|| {
            if is_index {
                media::OCI_INDEX
            } else {
                media::OCI_MANIFEST
            }
            .to_string()
        });
        if is_index {
            let idx: ImageIndex =
                serde_json::from_slice(bytes).map_err(|e| Error::parse(what, e))?;
            let manifests = idx
                .manifests()
                .iter()
                .map(|d| Descriptor::from_oci(d, what))
                .collect::<Result<_, _>>()?;
            Ok(Manifest::Index {
                media_type: mt,
                manifests,
            })
        } else {
            let m: ImageManifest =
                serde_json::from_slice(bytes).map_err(|e| Error::parse(what, e))?;
            Ok(Manifest::Image {
                media_type: mt,
                config: Descriptor::from_oci(m.config(), what)?,
                layers: m
                    .layers()
                    .iter()
                    .map(|d| Descriptor::from_oci(d, what))
                    .collect::<Result<_, _>>()?,
            })
        }
    }
}

/// What an image config says that matters here.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConfigSummary {
    /// `os/architecture[/variant]` from the config.
    pub platform: Platform,
    /// `created`, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// `rootfs.diff_ids`: sha256 of each uncompressed layer tar.
    pub diff_ids: Vec<Digest>,
    /// Number of history entries.
    pub history_len: usize,
}

impl ConfigSummary {
    /// Parses config bytes (OCI or Docker).
    pub fn parse(bytes: &[u8], what: &str) -> Result<ConfigSummary, Error> {
        let c: ImageConfiguration =
            serde_json::from_slice(bytes).map_err(|e| Error::parse(what, e))?;
        let diff_ids = c
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| Digest::parse(d))
            .collect::<Result<_, _>>()?;
        Ok(ConfigSummary {
            platform: Platform {
                os: c.os().to_string(),
                architecture: c.architecture().to_string(),
                variant: c.variant().clone(),
            },
            created: c.created().clone(),
            diff_ids,
            history_len: c.history().as_ref().map_or(0, Vec::len),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_inputs_are_errors() {
        for input in [
            &b""[..],
            b"{}",
            b"[]",
            b"{\"schemaVersion\":1}",
            b"{\"mediaType\":\"text/html\"}",
            b"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"sha512:00\",\"size\":1}]}",
            b"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"sha256:../x\",\"size\":1}]}",
            b"\xff\xfe",
        ] {
            assert!(Manifest::parse(input, None, "t").is_err(), "{input:?}");
        }
        assert!(ConfigSummary::parse(b"{}", "t").is_err());
    }
}
