//! Image writers: an OCI image layout directory (`oci:DIR`) and a `docker save` archive
//! (`docker-archive:FILE`), both read back by this crate's sources.
//!
//! Layers stream: a [`LayerWriter`] writes into a temporary file next to its destination while
//! it hashes the uncompressed bytes (the diff_id) and the stored bytes (the blob digest); the
//! finished file is renamed into place (OCI) or copied into the archive (docker-archive). No
//! layer is ever held in memory whole.
//!
//! Formats written:
//! * **OCI layout** (image-spec 1.1): `oci-layout` (`{"imageLayoutVersion":"1.0.0"}`),
//!   `index.json` with one image manifest (platform and, when given,
//!   `org.opencontainers.image.ref.name`), `blobs/sha256/<hex>` for the manifest, the config
//!   (`application/vnd.oci.image.config.v1+json`) and the layers, uncompressed
//!   (`application/vnd.oci.image.layer.v1.tar`, so blob digest = diff_id) or gzip
//!   (`…tar+gzip`, flate2 at the default level: valid, but not the bytes `docker push` makes).
//! * **docker-archive**: the legacy layout Docker ≤ 24 saves and every `docker load` accepts
//!   (checked by hand with Docker 20.10.24 and 26.1.5): `manifest.json`
//!   (`[{"Config":"<hex>.json","RepoTags":[…],"Layers":["<diff_id hex>/layer.tar"]}]`), the
//!   config as `<image id hex>.json`, and each layer uncompressed as
//!   `<diff_id hex>/layer.tar`. Tar members are USTAR with mode 0644, owner 0:0 and mtime 0,
//!   so the archive depends only on its contents.
//!
//! [`ImageWriter`] writes either, chosen by a [`Target`].
//!
//! Both writers check that the config's `rootfs.diff_ids` equal the layers written, in order,
//! as `docker load` does.
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use tempfile::NamedTempFile;

use crate::digest::{Digest, Hasher};
use crate::error::Error;
use crate::manifest::{Descriptor, media};
use crate::platform::Platform;

/// How a layer blob is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayerCompression {
    /// Uncompressed tar (blob digest = diff_id).
    #[default]
    None,
    /// gzip (flate2, default level; not Docker's Go gzip bytes).
    Gzip,
}

/// A layer that was written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LayerBlob {
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// sha256 of the stored blob.
    pub digest: Digest,
    /// Size of the stored blob.
    pub size: u64,
    /// Uncompressed size.
    pub diff_size: u64,
    /// Media type of the stored blob.
    pub media_type: String,
}

/// Hashes what passes through to the file.
struct HashFile {
    file: BufWriter<File>,
    hash: Hasher,
}

impl Write for HashFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

enum Sink {
    Plain(HashFile),
    Gzip(Box<GzEncoder<HashFile>>),
}

/// Streams one layer tar into a temporary file, hashing the diff_id and the blob digest.
/// Write the uncompressed layer into it, then hand it to the writer it came from.
pub struct LayerWriter {
    sink: Option<Sink>,
    diff: Hasher,
    temp: tempfile::TempPath,
    compression: LayerCompression,
}

impl std::fmt::Debug for LayerWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerWriter")
            .field("temp", &self.temp)
            .field("compression", &self.compression)
            .field("written", &self.diff.len())
            .finish()
    }
}

impl LayerWriter {
    fn new(dir: &Path, compression: LayerCompression) -> Result<LayerWriter, Error> {
        let temp = NamedTempFile::with_prefix_in(".layer-", dir).map_err(|e| Error::io(dir, e))?;
        let (file, temp) = temp.into_parts();
        let hf = HashFile {
            file: BufWriter::with_capacity(1 << 20, file),
            hash: Hasher::new(),
        };
        let sink = match compression {
            LayerCompression::None => Sink::Plain(hf),
            LayerCompression::Gzip => {
                Sink::Gzip(Box::new(GzEncoder::new(hf, Compression::default())))
            }
        };
        Ok(LayerWriter {
            sink: Some(sink),
            diff: Hasher::new(),
            temp,
            compression,
        })
    }

    /// Bytes of uncompressed layer written so far.
    pub fn len(&self) -> u64 {
        self.diff.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.diff.is_empty()
    }

    fn finish(mut self) -> Result<(LayerBlob, tempfile::TempPath), Error> {
        let path = self.temp.to_path_buf();
        let io = |e| Error::io(&path, e);
        let hf = match self.sink.take() {
            Some(Sink::Plain(hf)) => hf,
            Some(Sink::Gzip(gz)) => (*gz).finish().map_err(io)?,
            None => return Err(io(io::Error::other("layer writer already finished"))),
        };
        let HashFile { file, hash } = hf;
        let file = file.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        let size = hash.len();
        let diff_size = self.diff.len();
        let diff_id = std::mem::take(&mut self.diff).finish();
        let digest = hash.finish();
        let media_type = match self.compression {
            LayerCompression::None => media::OCI_LAYER,
            LayerCompression::Gzip => media::OCI_LAYER_GZIP,
        }
        .to_string();
        Ok((
            LayerBlob {
                diff_id,
                digest,
                size,
                diff_size,
                media_type,
            },
            self.temp,
        ))
    }
}

impl Write for LayerWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.sink {
            Some(Sink::Plain(w)) => w.write(buf)?,
            Some(Sink::Gzip(w)) => w.write(buf)?,
            None => return Err(io::Error::other("layer writer already finished")),
        };
        self.diff.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Some(Sink::Plain(w)) => w.flush(),
            Some(Sink::Gzip(w)) => w.flush(),
            None => Ok(()),
        }
    }
}

/// What a writer produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Written {
    /// The manifest (OCI layout only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Descriptor>,
    /// The config; its digest is the image ID.
    pub config: Descriptor,
    /// The layers, in order.
    pub layers: Vec<LayerBlob>,
    /// Where it was written.
    pub path: PathBuf,
}

/// `rootfs.diff_ids` of a config must equal the layers, as `docker load` requires.
fn check_diff_ids(config: &[u8], layers: &[LayerBlob], what: &str) -> Result<(), Error> {
    let v: serde_json::Value =
        serde_json::from_slice(config).map_err(|e| Error::parse(format!("{what}: config"), e))?;
    let listed: Vec<&str> = v["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d.as_str()).collect())
        .unwrap_or_default();
    let ours: Vec<String> = layers.iter().map(|l| l.diff_id.to_string()).collect();
    if listed != ours {
        return Err(Error::Layout {
            what: what.to_string(),
            reason: format!(
                "the config lists diff_ids {listed:?} but the layers written are {ours:?}"
            ),
        });
    }
    Ok(())
}

/// Writes `bytes` to `dir/name` through a temporary file and a rename.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let mut t = NamedTempFile::with_prefix_in(".tmp-", dir).map_err(|e| Error::io(dir, e))?;
    t.write_all(bytes)
        .and_then(|()| t.as_file().sync_all())
        .map_err(|e| Error::io(t.path(), e))?;
    let dest = dir.join(name);
    t.persist(&dest).map_err(|e| Error::io(&dest, e.error))?;
    Ok(())
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest: Digest::of(bytes),
        size: bytes.len() as u64,
        platform: None,
        annotations: Default::default(),
    }
}

/// An OCI image layout being written into a new (or empty) directory.
#[derive(Debug)]
pub struct OciWriter {
    dir: PathBuf,
    blobs: PathBuf,
    layers: Vec<LayerBlob>,
}

impl OciWriter {
    /// Creates `dir` (which must not exist or be empty) with `oci-layout` and `blobs/sha256/`.
    pub fn create(dir: &Path) -> Result<OciWriter, Error> {
        if dir.exists() {
            let mut entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
            if entries.next().is_some() {
                return Err(Error::Layout {
                    what: dir.display().to_string(),
                    reason: "the output directory exists and is not empty".into(),
                });
            }
        }
        let blobs = dir.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).map_err(|e| Error::io(&blobs, e))?;
        write_atomic(dir, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        Ok(OciWriter {
            dir: dir.to_path_buf(),
            blobs,
            layers: Vec::new(),
        })
    }

    /// A writer for the next layer.
    pub fn layer(&self, compression: LayerCompression) -> Result<LayerWriter, Error> {
        LayerWriter::new(&self.blobs, compression)
    }

    /// Finishes a layer and moves its blob into place.
    pub fn add_layer(&mut self, w: LayerWriter) -> Result<LayerBlob, Error> {
        let (blob, temp) = w.finish()?;
        let dest = self.blobs.join(blob.digest.hex());
        temp.persist(&dest).map_err(|e| Error::io(&dest, e.error))?;
        self.layers.push(blob.clone());
        Ok(blob)
    }

    /// Writes the config, the manifest and `index.json`.
    pub fn finish(
        self,
        config: &[u8],
        platform: Option<&Platform>,
        ref_name: Option<&str>,
    ) -> Result<Written, Error> {
        let what = self.dir.display().to_string();
        check_diff_ids(config, &self.layers, &what)?;
        let config_desc = descriptor(media::OCI_CONFIG, config);
        write_atomic(&self.blobs, config_desc.digest.hex(), config)?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_MANIFEST,
            "config": config_desc,
            "layers": self.layers.iter().map(|l| Descriptor {
                media_type: l.media_type.clone(),
                digest: l.digest.clone(),
                size: l.size,
                platform: None,
                annotations: Default::default(),
            }).collect::<Vec<_>>(),
        });
        let manifest = serde_json::to_vec(&manifest).map_err(|e| Error::parse(&what, e))?;
        let mut manifest_desc = descriptor(media::OCI_MANIFEST, &manifest);
        write_atomic(&self.blobs, manifest_desc.digest.hex(), &manifest)?;
        let mut entry = manifest_desc.clone();
        entry.platform = platform.cloned();
        if let Some(r) = ref_name {
            entry
                .annotations
                .insert("org.opencontainers.image.ref.name".into(), r.to_string());
        }
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media::OCI_INDEX,
            "manifests": [entry],
        });
        let index = serde_json::to_vec(&index).map_err(|e| Error::parse(&what, e))?;
        write_atomic(&self.dir, "index.json", &index)?;
        manifest_desc.platform = platform.cloned();
        Ok(Written {
            manifest: Some(manifest_desc),
            config: config_desc,
            layers: self.layers,
            path: self.dir,
        })
    }
}

/// A `docker save` archive (legacy layout) being written.
#[derive(Debug)]
pub struct DockerArchiveWriter {
    path: PathBuf,
    staging: tempfile::TempDir,
    layers: Vec<(LayerBlob, tempfile::TempPath)>,
}

impl DockerArchiveWriter {
    /// Prepares to write `path`; layers are staged in a temporary directory beside it.
    pub fn create(path: &Path) -> Result<DockerArchiveWriter, Error> {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if path.is_dir() {
            return Err(Error::Layout {
                what: path.display().to_string(),
                reason: "is a directory (docker-archive: names a file)".into(),
            });
        }
        let staging = tempfile::Builder::new()
            .prefix(".layerproof-save-")
            .tempdir_in(&parent)
            .map_err(|e| Error::io(&parent, e))?;
        Ok(DockerArchiveWriter {
            path: path.to_path_buf(),
            staging,
            layers: Vec::new(),
        })
    }

    /// A writer for the next layer (stored uncompressed, as `docker save` does).
    pub fn layer(&self) -> Result<LayerWriter, Error> {
        LayerWriter::new(self.staging.path(), LayerCompression::None)
    }

    /// Finishes a layer; it is copied into the archive by [`DockerArchiveWriter::finish`].
    pub fn add_layer(&mut self, w: LayerWriter) -> Result<LayerBlob, Error> {
        let (mut blob, temp) = w.finish()?;
        blob.media_type = media::DOCKER_LAYER.to_string();
        self.layers.push((blob.clone(), temp));
        Ok(blob)
    }

    /// Writes the archive: `manifest.json`, the config and every layer.
    pub fn finish(self, config: &[u8], repo_tags: &[String]) -> Result<Written, Error> {
        let what = self.path.display().to_string();
        let blobs: Vec<LayerBlob> = self.layers.iter().map(|(b, _)| b.clone()).collect();
        check_diff_ids(config, &blobs, &what)?;
        let config_desc = descriptor(media::DOCKER_CONFIG, config);
        let config_name = format!("{}.json", config_desc.digest.hex());
        let layer_names: Vec<String> = blobs
            .iter()
            .map(|b| format!("{}/layer.tar", b.diff_id.hex()))
            .collect();
        let manifest = serde_json::json!([{
            "Config": config_name,
            "RepoTags": if repo_tags.is_empty() { serde_json::Value::Null } else { serde_json::json!(repo_tags) },
            "Layers": layer_names,
        }]);
        let manifest = serde_json::to_vec(&manifest).map_err(|e| Error::parse(&what, e))?;

        let parent = self.staging.path().to_path_buf();
        let temp = NamedTempFile::with_prefix_in(".archive-", &parent)
            .map_err(|e| Error::io(&parent, e))?;
        let tpath = temp.path().to_path_buf();
        let io = |e| Error::io(&tpath, e);
        let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, temp));
        let mut seen_dirs = std::collections::BTreeSet::new();
        for ((blob, file), name) in self.layers.iter().zip(&layer_names) {
            let dir = blob.diff_id.hex().to_string();
            if seen_dirs.insert(dir.clone()) {
                append_dir(&mut tar, &format!("{dir}/")).map_err(io)?;
                let mut f = File::open(file).map_err(|e| Error::io(file.to_path_buf(), e))?;
                append_file(&mut tar, name, blob.size, &mut f).map_err(io)?;
            }
        }
        append_file(
            &mut tar,
            &config_name,
            config.len() as u64,
            &mut &config[..],
        )
        .map_err(io)?;
        append_file(
            &mut tar,
            "manifest.json",
            manifest.len() as u64,
            &mut &manifest[..],
        )
        .map_err(io)?;
        let temp = tar
            .into_inner()
            .map_err(io)?
            .into_inner()
            .map_err(|e| io(e.into_error()))?;
        temp.as_file().sync_all().map_err(io)?;
        temp.persist(&self.path)
            .map_err(|e| Error::io(&self.path, e.error))?;
        Ok(Written {
            manifest: None,
            config: config_desc,
            layers: blobs,
            path: self.path,
        })
    }
}

/// Where an image is written: an OCI layout directory or a `docker save` archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `oci:DIR`: an OCI image layout (DIR must not exist or be empty).
    Oci(PathBuf),
    /// `docker-archive:FILE`: what `docker save` writes and `docker load` reads.
    DockerArchive(PathBuf),
}

impl Target {
    /// `oci` or `docker-archive`: the transport's name, as in an image reference.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Oci(_) => "oci",
            Target::DockerArchive(_) => "docker-archive",
        }
    }

    /// The directory or file written.
    pub fn path(&self) -> &Path {
        match self {
            Target::Oci(p) | Target::DockerArchive(p) => p,
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind(), self.path().display())
    }
}

/// An image being written to a [`Target`], in either format.
#[derive(Debug)]
pub enum ImageWriter {
    /// An OCI layout.
    Oci(OciWriter),
    /// A `docker save` archive.
    DockerArchive(DockerArchiveWriter),
}

impl ImageWriter {
    /// Starts writing to `target` ([`OciWriter::create`], [`DockerArchiveWriter::create`]).
    pub fn create(target: &Target) -> Result<ImageWriter, Error> {
        Ok(match target {
            Target::Oci(dir) => ImageWriter::Oci(OciWriter::create(dir)?),
            Target::DockerArchive(file) => {
                ImageWriter::DockerArchive(DockerArchiveWriter::create(file)?)
            }
        })
    }

    /// A writer for the next layer. A docker-archive stores layers uncompressed whatever
    /// `compression` says, as `docker save` does.
    pub fn layer(&self, compression: LayerCompression) -> Result<LayerWriter, Error> {
        match self {
            ImageWriter::Oci(o) => o.layer(compression),
            ImageWriter::DockerArchive(d) => d.layer(),
        }
    }

    /// Finishes a layer written through [`ImageWriter::layer`].
    pub fn add_layer(&mut self, w: LayerWriter) -> Result<LayerBlob, Error> {
        match self {
            ImageWriter::Oci(o) => o.add_layer(w),
            ImageWriter::DockerArchive(d) => d.add_layer(w),
        }
    }

    /// Writes the config and the manifest. The platform is recorded in an OCI index; the tag
    /// becomes the OCI ref name or the archive's only `RepoTags` entry.
    pub fn finish(
        self,
        config: &[u8],
        platform: &Platform,
        tag: Option<&str>,
    ) -> Result<Written, Error> {
        match self {
            ImageWriter::Oci(o) => o.finish(config, Some(platform), tag),
            ImageWriter::DockerArchive(d) => {
                let tags: Vec<String> = tag.iter().map(|t| t.to_string()).collect();
                d.finish(config, &tags)
            }
        }
    }
}

fn header(path: &str, size: u64, dir: bool) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    h.set_size(size);
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h.set_cksum();
    Ok(h)
}

fn append_dir<W: Write>(tar: &mut tar::Builder<W>, path: &str) -> io::Result<()> {
    tar.append(&header(path, 0, true)?, io::empty())
}

fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    body: &mut dyn io::Read,
) -> io::Result<()> {
    let mut limited = io::Read::take(body, size);
    tar.append(&header(path, size, false)?, &mut limited)
}
