//! `docker save` archives: the legacy layout (`manifest.json`, `<id>/layer.tar`, `<id>/json`,
//! Docker ≤ 24) and the Docker ≥ 25 layout (an OCI layout plus `manifest.json`).
use std::collections::HashMap;
use std::path::Path;

use crate::digest::{Digest, VerifiedReader};
use crate::error::Error;
use crate::limits::Limits;
use crate::manifest::{Descriptor, media};
use crate::oci::{OciLayout, hash_file, read_meta};
use crate::source::{BlobReader, ImageSource, LooseImage, Root, SeekRead, Transport};
use crate::store::{Store, TarStore};

#[derive(serde::Deserialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

enum Kind {
    /// Docker ≥ 25: read through the embedded OCI layout.
    Oci(OciLayout),
    /// Legacy: loose images, and where each digest lives.
    Legacy {
        store: TarStore,
        images: Vec<LooseImage>,
        paths: HashMap<Digest, String>,
    },
}

/// A `docker save` tarball (`docker-archive:PATH`).
pub struct DockerArchive {
    name: String,
    tags: Vec<String>,
    kind: Kind,
    limits: Limits,
}

impl DockerArchive {
    /// Indexes the archive under the default [`Limits`]; see [`DockerArchive::open_with`].
    pub fn open(path: &Path) -> Result<DockerArchive, Error> {
        Self::open_with(path, Limits::default())
    }

    /// Indexes the archive; for the legacy layout every layer file is hashed once, because Docker
    /// records no layer blob digests there. A file that several `Layers` entries name (through
    /// the same path or through links) is hashed once, and an image listing more than
    /// `limits.max_layers` layers is refused before any is hashed.
    pub fn open_with(path: &Path, limits: Limits) -> Result<DockerArchive, Error> {
        let store = TarStore::open(path)?;
        let name = store.name();
        let bytes = read_meta(&store, "manifest.json")?;
        let what = format!("manifest.json in {name}");
        let entries: Vec<Entry> =
            serde_json::from_slice(&bytes).map_err(|e| Error::parse(&what, e))?;
        if entries.is_empty() {
            return Err(Error::Layout {
                what,
                reason: "no images".into(),
            });
        }
        let tags: Vec<String> = entries
            .iter()
            .flat_map(|e| e.repo_tags.clone().unwrap_or_default())
            .collect();
        if store.exists("oci-layout") && store.exists("index.json") {
            let layout = OciLayout::new(Box::new(store), None, Transport::DockerArchive)?
                .with_limits(limits);
            return Ok(DockerArchive {
                name,
                tags,
                kind: Kind::Oci(layout),
                limits,
            });
        }
        // each entry is a node of the tree chain walks: refuse too many before hashing any
        limits.manifests(|| format!("the images of {what}"), entries.len() as u64)?;
        for (i, e) in entries.iter().enumerate() {
            limits.layers(|| format!("image {i} of {what}"), e.layers.len())?;
        }
        let mut images = Vec::new();
        let mut paths = HashMap::new();
        // by member: (digest, size, gzip)
        let mut hashed: HashMap<String, (Digest, u64, bool)> = HashMap::new();
        for e in entries {
            let cfg_digest = e
                .config
                .strip_suffix(".json")
                .and_then(|h| Digest::parse(&format!("sha256:{h}")).ok());
            let (cfg_digest, cfg_size) = match cfg_digest {
                Some(d) => (d, store.open(&e.config)?.1),
                None => {
                    let (d, n, _) = hash_file(&store, &e.config)?;
                    (d, n)
                }
            };
            paths.insert(cfg_digest.clone(), e.config.clone());
            let mut layers = Vec::new();
            for l in &e.layers {
                let (member, _, _) = store.member(l)?;
                let (d, size, gz) = match hashed.get(&member) {
                    Some(known) => known.clone(),
                    None => {
                        let h = hash_file(&store, l)?;
                        hashed.insert(member, h.clone());
                        h
                    }
                };
                paths.insert(d.clone(), l.clone());
                layers.push(Descriptor {
                    media_type: if gz {
                        media::DOCKER_LAYER_GZIP
                    } else {
                        media::DOCKER_LAYER
                    }
                    .to_string(),
                    digest: d,
                    size,
                    platform: None,
                    annotations: Default::default(),
                });
            }
            images.push(LooseImage {
                repo_tags: e.repo_tags.unwrap_or_default(),
                config: Descriptor {
                    media_type: media::DOCKER_CONFIG.to_string(),
                    digest: cfg_digest,
                    size: cfg_size,
                    platform: None,
                    annotations: Default::default(),
                },
                layers,
            });
        }
        Ok(DockerArchive {
            name,
            tags,
            kind: Kind::Legacy {
                store,
                images,
                paths,
            },
            limits,
        })
    }

    /// Whether this is the legacy (pre-25) layout.
    pub fn is_legacy(&self) -> bool {
        matches!(self.kind, Kind::Legacy { .. })
    }
}

impl ImageSource for DockerArchive {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn transport(&self) -> Transport {
        Transport::DockerArchive
    }

    fn tags(&self) -> Vec<String> {
        self.tags.clone()
    }

    fn limits(&self) -> Limits {
        self.limits
    }

    fn root(&self) -> Result<Root, Error> {
        match &self.kind {
            Kind::Oci(l) => l.root(),
            Kind::Legacy { images, .. } => Ok(Root::Loose(images.clone())),
        }
    }

    fn blob(&self, desc: &Descriptor) -> Result<BlobReader, Error> {
        match &self.kind {
            Kind::Oci(l) => l.blob(desc),
            Kind::Legacy { store, paths, .. } => {
                let (r, path) = self.legacy_blob(store, paths, desc)?;
                Ok(VerifiedReader::new(
                    r,
                    desc.digest.clone(),
                    Some(desc.size),
                    format!("{path} in {}", self.name),
                ))
            }
        }
    }

    fn blob_unverified(&self, desc: &Descriptor) -> Result<Option<Box<dyn SeekRead>>, Error> {
        match &self.kind {
            Kind::Oci(l) => l.blob_unverified(desc),
            Kind::Legacy { store, paths, .. } => Ok(Some(self.legacy_blob(store, paths, desc)?.0)),
        }
    }
}

impl DockerArchive {
    /// A legacy archive's file for a blob, and its path inside the archive; its length must be
    /// the descriptor's size (as for a layout's blob, see `OciLayout::blob_unverified`).
    fn legacy_blob<'p>(
        &self,
        store: &TarStore,
        paths: &'p HashMap<Digest, String>,
        desc: &Descriptor,
    ) -> Result<(Box<dyn SeekRead>, &'p str), Error> {
        let path = paths.get(&desc.digest).ok_or_else(|| Error::NotFound {
            what: format!("blob {} in {}", desc.digest, self.name),
        })?;
        let (r, len) = store.open(path)?;
        if len != desc.size {
            return Err(Error::SizeMismatch {
                what: format!("{path} in {}", self.name),
                expected: desc.size,
                actual: len,
                truncated: len < desc.size,
            });
        }
        Ok((r, path))
    }
}
