//! OCI image layouts (image-spec 1.0 and 1.1), as a directory (`oci:`) or a tar (`oci-archive:`),
//! and the OCI layout that Docker ≥ 25 writes inside `docker save` archives.
use std::path::Path;

use crate::digest::{Digest, VerifiedReader};
use crate::error::Error;
use crate::limits::Limits;
use crate::manifest::{Descriptor, Manifest, media};
use crate::reference::Selector;
use crate::source::{BlobReader, ImageSource, Root, SeekRead, Transport, blob_path};
use crate::store::{DirStore, Store, TarStore};

/// Largest `index.json` / `oci-layout` / `manifest.json` read.
pub(crate) const MAX_META: u64 = 4 << 20;

pub(crate) fn read_meta(store: &dyn Store, path: &str) -> Result<Vec<u8>, Error> {
    let (r, len) = store.open(path)?;
    let what = format!("{path} in {}", store.name());
    if len > MAX_META {
        return Err(Error::TooLarge {
            what,
            limit: MAX_META,
        });
    }
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(r, MAX_META), &mut buf)
        .map_err(|e| Error::io(store.name(), e))?;
    Ok(buf)
}

/// An OCI layout read through a [`Store`].
pub struct OciLayout {
    store: Box<dyn Store>,
    selector: Option<Selector>,
    transport: Transport,
    limits: Limits,
}

impl OciLayout {
    /// Opens a layout directory (`oci:DIR`).
    pub fn open_dir(dir: &Path, selector: Option<Selector>) -> Result<OciLayout, Error> {
        Self::new(Box::new(DirStore::new(dir)?), selector, Transport::Oci)
    }

    /// Opens a tar of a layout (`oci-archive:PATH`).
    pub fn open_archive(path: &Path, selector: Option<Selector>) -> Result<OciLayout, Error> {
        Self::new(
            Box::new(TarStore::open(path)?),
            selector,
            Transport::OciArchive,
        )
    }

    pub(crate) fn new(
        store: Box<dyn Store>,
        selector: Option<Selector>,
        transport: Transport,
    ) -> Result<OciLayout, Error> {
        let layout = read_meta(store.as_ref(), "oci-layout")?;
        let v: serde_json::Value = serde_json::from_slice(&layout)
            .map_err(|e| Error::parse(format!("oci-layout in {}", store.name()), e))?;
        let version = v
            .get("imageLayoutVersion")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        if !version.starts_with("1.") {
            return Err(Error::Layout {
                what: store.name(),
                reason: format!("unsupported imageLayoutVersion {version:?} (expected 1.x)"),
            });
        }
        Ok(OciLayout {
            store,
            selector,
            transport,
            limits: Limits::default(),
        })
    }

    /// The same layout under other limits.
    pub fn with_limits(self, limits: Limits) -> OciLayout {
        OciLayout { limits, ..self }
    }

    /// The entries of `index.json`.
    pub fn index(&self) -> Result<Vec<Descriptor>, Error> {
        let bytes = read_meta(self.store.as_ref(), "index.json")?;
        let what = format!("index.json in {}", self.store.name());
        match Manifest::parse(&bytes, Some(media::OCI_INDEX), &what)? {
            Manifest::Index { manifests, .. } => Ok(manifests),
            Manifest::Image { .. } => Err(Error::Layout {
                what,
                reason: "index.json is not an index".into(),
            }),
        }
    }
}

impl ImageSource for OciLayout {
    fn name(&self) -> String {
        self.store.name()
    }

    fn transport(&self) -> Transport {
        self.transport
    }

    fn tags(&self) -> Vec<String> {
        self.index()
            .map(|m| {
                m.iter()
                    .filter_map(|d| d.ref_name().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn root(&self) -> Result<Root, Error> {
        let entries = self.index()?;
        let chosen = match &self.selector {
            None => return Ok(Root::LayoutIndex { manifests: entries }),
            Some(Selector::Tag(t)) => entries
                .into_iter()
                .find(|d| d.ref_name() == Some(t.as_str()))
                .ok_or_else(|| Error::NotFound {
                    what: format!("tag {t:?} in {}", self.store.name()),
                })?,
            Some(Selector::Digest(dg)) => match entries.into_iter().find(|d| &d.digest == dg) {
                Some(d) => d,
                None => {
                    // any manifest blob of the layout may be named by digest
                    let (_, size) =
                        self.store
                            .open(&blob_path(dg))
                            .map_err(|_| Error::NotFound {
                                what: format!("{dg} in {}", self.store.name()),
                            })?;
                    let probe = Descriptor {
                        media_type: String::new(),
                        digest: dg.clone(),
                        size,
                        platform: None,
                        annotations: Default::default(),
                    };
                    let bytes = self.manifest(&probe, crate::DEFAULT_MAX_MANIFEST)?;
                    let mt = match Manifest::parse(&bytes, None, &dg.to_string())? {
                        Manifest::Index { media_type, .. } | Manifest::Image { media_type, .. } => {
                            media_type
                        }
                    };
                    return Ok(Root::Addressed {
                        descriptor: Descriptor {
                            media_type: mt,
                            ..probe
                        },
                        bytes,
                    });
                }
            },
        };
        let bytes = self.manifest(&chosen, crate::DEFAULT_MAX_MANIFEST)?;
        Ok(Root::Addressed {
            descriptor: chosen,
            bytes,
        })
    }

    fn limits(&self) -> Limits {
        self.limits
    }

    fn blob(&self, desc: &Descriptor) -> Result<BlobReader, Error> {
        let path = blob_path(&desc.digest);
        let (r, _len) = self.store.open(&path)?;
        Ok(VerifiedReader::new(
            r,
            desc.digest.clone(),
            Some(desc.size),
            format!("{path} in {}", self.store.name()),
        ))
    }

    /// The blob's bytes unhashed, but only when its length is the descriptor's size: a caller
    /// that proves the digest by hashing its own rebuild never reads the published length, and
    /// Docker refuses to load a layer whose descriptor misstates it.
    fn blob_unverified(&self, desc: &Descriptor) -> Result<Option<Box<dyn SeekRead>>, Error> {
        let path = blob_path(&desc.digest);
        let (r, len) = self.store.open(&path)?;
        if len != desc.size {
            return Err(Error::SizeMismatch {
                what: format!("{path} in {}", self.store.name()),
                expected: desc.size,
                actual: len,
                truncated: len < desc.size,
            });
        }
        Ok(Some(r))
    }
}

/// Digest of a layout file, by hashing it (used for legacy docker-archives).
pub(crate) fn hash_file(store: &dyn Store, path: &str) -> Result<(Digest, u64, bool), Error> {
    let (mut r, _) = store.open(path)?;
    let mut h = crate::digest::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut gz = None;
    loop {
        let n = r.read(&mut buf).map_err(|e| Error::io(store.name(), e))?;
        if n == 0 {
            break;
        }
        if gz.is_none() {
            gz = Some(buf[..n].starts_with(&[0x1f, 0x8b]));
        }
        h.update(&buf[..n]);
    }
    let len = h.len();
    Ok((h.finish(), len, gz.unwrap_or(false)))
}

use std::io::Read;
