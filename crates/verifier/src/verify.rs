//! `layerproof verify`: rebuild every layer of a Dockerfile's image and grade it against a
//! published image.
//!
//! For each selected platform of the image: read the config (its digest is the image ID),
//! tell the builder from its history, evaluate the Dockerfile for that builder and platform,
//! and pair each layer-producing step with a published layer. For each pair, two things run at
//! once: the published blob is read once (blob digest verified, decompressed, diff_id hashed,
//! every entry scanned) and the source is unpacked by Docker's `ADD` rules. Then candidate
//! engine profiles write the tree (cheap: a hash pass) until one gives the published diff_id.
//! The few free parameters (implied directories' wall-clock mtimes, the uid/gid → name table
//! of engines that look names up, a copied file's mtime) are taken from the published layer
//! and reported; content never is.
//!
//! Verdicts, strongest first: `reproduced` (level `blob` or `diff_id`), `content-equivalent`,
//! `different`, `not-buildable`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use layerproof_archive::compression::{self, Compression, DecompressOptions};
use layerproof_archive::hashing::HashingReader;
use layerproof_archive::{Bodies, Timestamp};
use layerproof_archive::{read, source};
use layerproof_image::chain::{self, MAX_CONFIG};
use layerproof_image::{
    DEFAULT_MAX_MANIFEST, Descriptor, ImageRef, ImageSource, OpenOptions, PlatformSelector,
};
use layerproof_layer::profile::OwnerNames;
use layerproof_layer::{HashingWriter, Profile};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::blob::{self, BlobReport};
use crate::checksum;
use crate::classic_hash::{ContextFile, ContextTar, FileHasher};
use crate::config::{CheckOptions, CheckStatus, ConfigCheck, Engine, check_config};
use crate::dockerfile::ImageModel;
use crate::dockerfile::{self, BuildOptions, BuilderKind, Context, CopyStep, StageOutcome};
use crate::explain::{self, Differences};
use crate::layerscan::{self, Scan};
use crate::rebuild::{self, Params, PlainFileMeta, Treatment, Unpacked};

/// The JSON schema name of a [`Report`].
pub const SCHEMA: &str = "layerproof.verify/v1";

/// A verdict, strongest first (the derived order makes the worst of several the maximum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Our layer is the published one (see [`Level`]).
    Reproduced,
    /// Same files, owners, modes, contents, link targets and kept xattrs; only tar-level
    /// metadata differs.
    ContentEquivalent,
    /// The layers differ in content.
    Different,
    /// Docker itself would refuse the `ADD`.
    NotBuildable,
}

impl Verdict {
    /// The name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::ContentEquivalent => "content-equivalent",
            Verdict::Different => "different",
            Verdict::NotBuildable => "not-buildable",
        }
    }
}

/// How far a reproduction reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Level {
    /// The published blob's digest equals ours (what people pin).
    #[serde(rename = "blob")]
    Blob,
    /// The uncompressed layer equals ours (the config's diff_id).
    #[serde(rename = "diff_id")]
    DiffId,
}

/// Which engine profiles to try.
#[derive(Debug, Clone, Copy)]
pub enum ProfileChoice {
    /// Every profile, most plausible first; the first that reproduces wins.
    Auto,
    /// Only this one.
    Named(&'static Profile),
}

/// What to verify.
#[derive(Debug, Clone)]
pub struct Request {
    /// The Dockerfile.
    pub dockerfile: PathBuf,
    /// The build context.
    pub context: PathBuf,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// The published image.
    pub image: ImageRef,
    /// How to open it.
    pub open: OpenOptions,
    /// Which platforms.
    pub platforms: PlatformSelector,
    /// Which profiles.
    pub profile: ProfileChoice,
    /// Memory for file bodies before they spill to a temporary file.
    pub memory_budget: u64,
    /// Decompression limits for sources and published layers.
    pub decompress: DecompressOptions,
    /// Tar reader limits for published layers.
    pub read_limits: read::Options,
    /// Re-encode compressed layers to reach level `blob` (one compression pass per try).
    pub blob_level: bool,
    /// Compare a published layer stored uncompressed on disk by streaming our rebuild against
    /// its headers ([`crate::streamed`]), without reading its bodies. `false` reads every
    /// published layer whole, which also checks the local blob file against its digest.
    pub streamed: bool,
    /// Limits for reading and unpacking sources (`decompress`/`read_limits` cover the
    /// published side).
    pub limits: layerproof_archive::source::Options,
    /// oci-import mode: the image's single layer is this tarball's own tar stream (no Docker
    /// re-tar); the Dockerfile fields are then unused.
    pub rootfs: Option<PathBuf>,
}

/// Receives progress; every method has an empty default.
pub trait Progress: Sync {
    /// A step started (`platform` is empty before the platforms are known).
    fn step(&self, _platform: &str, _message: &str) {}
    /// `done` of `total` bytes of `what` read.
    fn bytes(&self, _what: &str, _done: u64, _total: Option<u64>) {}
    /// `what` finished.
    fn finished(&self, _what: &str) {}
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// Failures that stop a verification (bad invocation or unreadable input): exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The Dockerfile does not parse or evaluate.
    #[error("{path}: {message}")]
    Dockerfile {
        /// The Dockerfile.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The Dockerfile needs something layerproof does not model.
    #[error("{path}:{line}: {instruction}: {reason}")]
    OutOfScope {
        /// The Dockerfile.
        path: PathBuf,
        /// Line of the instruction.
        line: usize,
        /// The instruction text.
        instruction: String,
        /// Why.
        reason: String,
    },
    /// The image could not be read.
    #[error(transparent)]
    Image(#[from] layerproof_image::Error),
    /// A published layer could not be read.
    #[error("published layer {digest} of {image}: {source}")]
    PublishedLayer {
        /// The image reference.
        image: String,
        /// The layer blob digest.
        digest: String,
        /// Why.
        source: Box<layerscan::ScanError>,
    },
    /// The source could not be read or rebuilt.
    #[error("{path}: {source}")]
    Rebuild {
        /// The source file.
        path: PathBuf,
        /// Why.
        source: rebuild::Error,
    },
    /// Writing a temporary file failed.
    #[error("temporary file: {0}")]
    Temp(io::Error),
    /// A checksum file next to the tarball disagrees with it.
    #[error("{path}: {message}")]
    Checksum {
        /// The tarball.
        path: PathBuf,
        /// What disagrees.
        message: String,
    },
}

/// One input and its digest.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    /// `dockerfile`, `source` or `image`.
    pub role: &'static str,
    /// Path or reference.
    pub name: String,
    /// `sha256:<hex>` of the file, or the digest the reference resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// A value taken from the published side, and why that is legitimate.
#[derive(Debug, Clone, Serialize)]
pub struct Inferred {
    /// The parameter.
    pub parameter: String,
    /// Its value.
    pub value: String,
    /// Why it may be taken from the published image.
    pub why: String,
}

/// The published layer.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedLayer {
    /// Blob digest (what the manifest lists).
    pub digest: String,
    /// The config's diff_id for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<String>,
    /// sha256 of the decompressed blob, as we computed it. Absent when the blob's bodies were
    /// not read: the streamed comparison ([`crate::streamed`]) hashes our layer instead and
    /// finds the digest the manifest lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computed_diff_id: Option<String>,
    /// Media type.
    pub media_type: String,
    /// Blob size.
    pub size: u64,
    /// Compression detected from the blob's bytes.
    pub compression: String,
    /// Uncompressed size.
    pub uncompressed_size: u64,
    /// Entries in the layer.
    pub entries: usize,
}

impl PublishedLayer {
    /// The published side of a layer report: the descriptor and config's digests, and what
    /// the scan of the blob (decompressed as `compression`) found.
    fn new(layer: &chain::Layer, compression: Compression, scan: &Scan) -> PublishedLayer {
        PublishedLayer {
            digest: layer.blob.digest.to_string(),
            diff_id: layer.diff_id.as_ref().map(ToString::to_string),
            computed_diff_id: scan.digests.then(|| scan.diff_id.clone()),
            media_type: layer.blob.media_type.clone(),
            size: layer.blob.size,
            compression: compression.as_str().to_string(),
            uncompressed_size: scan.size,
            entries: scan.entries.len(),
        }
    }
}

/// Our layer.
#[derive(Debug, Clone, Serialize)]
pub struct RebuiltLayer {
    /// sha256 of the layer tar we wrote.
    pub diff_id: String,
    /// Our blob digest, when we produced the published encoding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_digest: Option<String>,
    /// Size of the tar.
    pub size: u64,
    /// Entries written.
    pub entries: u64,
    /// How the source was treated (`unpacked gzip`, `copied: …`).
    pub treatment: String,
}

/// One profile tried.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Profile name.
    pub profile: &'static str,
    /// `match`, `differs` or `refused`.
    pub outcome: &'static str,
    /// The diff_id it produced (not known for a layer that was only compared by skeleton and
    /// differs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<String>,
    /// How the candidate was compared: `streamed` (headers encoded and compared with the
    /// published ones, bodies hashed in layer order as they streamed from the source:
    /// [`crate::streamed`]), `skeleton` (headers encoded, bodies by the digests taken while
    /// reading; equal skeletons are equal bytes) or `bytes` (the whole layer written and
    /// hashed: when skeletons differ, or the published layer has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<&'static str>,
    /// Refusal reason, or a difference count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The `ADD`/`COPY` step a layer comes from.
#[derive(Debug, Clone, Serialize)]
pub struct StepInfo {
    /// `ADD` or `COPY`.
    pub instruction: String,
    /// Dockerfile line.
    pub line: usize,
    /// Source path in the context.
    pub source: String,
    /// Destination.
    pub dest: String,
}

/// Docker's refusal.
#[derive(Debug, Clone, Serialize)]
pub struct RefusalInfo {
    /// Entry index in the tarball.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u64>,
    /// Entry name.
    pub name: String,
    /// Docker's message.
    pub message: String,
}

/// The verification of one layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    /// Position among the image's layers (0-based).
    pub index: usize,
    /// The Dockerfile step.
    pub step: StepInfo,
    /// The verdict.
    pub verdict: Verdict,
    /// For `reproduced`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// The published layer.
    pub published: PublishedLayer,
    /// Our layer (the matching or the closest profile's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebuilt: Option<RebuiltLayer>,
    /// The profile that reproduced it, or came closest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<&'static str>,
    /// Values taken from the published side.
    pub inferred: Vec<Inferred>,
    /// Every profile tried, in order.
    pub candidates: Vec<Candidate>,
    /// Why Docker would refuse (for `not-buildable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<RefusalInfo>,
    /// What differs (for `content-equivalent` and `different`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub differences: Option<Differences>,
    /// The first differing tar header, field by field (when the entries alone do not explain
    /// the difference).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_header_difference: Option<String>,
    /// The blob level: fingerprint of the published compressor and our re-encodings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob: Option<BlobReport>,
    /// Notes (e.g. a blob digest mismatch with an equal diff_id).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Hazards of the tarball (implied directories, cleaned names, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hazards: Vec<layerproof_archive::unpack::Hazard>,
}

/// The image of one platform.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// Manifest digest (absent in legacy docker-archives).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// Config digest: the image ID.
    pub config: String,
    /// `created` from the config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The builder, told from the history.
    pub builder: &'static str,
    /// Why we think so.
    pub builder_evidence: String,
}

/// The verification of one platform.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformReport {
    /// `os/arch[/variant]`.
    pub platform: String,
    /// Worst of the layers.
    pub verdict: Verdict,
    /// Weakest level of the layers (when reproduced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// The image.
    pub image: ImageInfo,
    /// One per layer.
    pub layers: Vec<LayerReport>,
    /// The published config checked field by field against the Dockerfile.
    pub config: Vec<ConfigCheck>,
    /// Image-level findings (layer count mismatches and the like).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Milliseconds spent.
    pub elapsed_ms: u64,
}

/// Tool identification.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    /// `layerproof`.
    pub name: &'static str,
    /// Its version.
    pub version: &'static str,
}

/// Timings.
#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    /// Whole run, milliseconds.
    pub total_ms: u64,
}

/// The whole answer (`layerproof.verify/v1`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// Who wrote it.
    pub tool: Tool,
    /// Worst verdict over every platform and layer.
    pub verdict: Verdict,
    /// Weakest level (when reproduced).
    pub level: Option<Level>,
    /// The inputs with their digests.
    pub inputs: Vec<Input>,
    /// The platform verified, or every platform joined by `,`.
    pub platform: String,
    /// The image (one platform).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageInfo>,
    /// The layers (one platform).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<LayerReport>>,
    /// The config checks (one platform).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Vec<ConfigCheck>>,
    /// Image-level findings (one platform).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Every platform (with `--all-platforms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platforms: Option<Vec<PlatformReport>>,
    /// Timings.
    pub timings: Timings,
}

impl Report {
    /// Every platform report, whether one or many.
    pub fn platform_reports(&self) -> Vec<PlatformReport> {
        if let Some(p) = &self.platforms {
            return p.clone();
        }
        match (&self.image, &self.layers) {
            (Some(image), Some(layers)) => vec![PlatformReport {
                platform: self.platform.clone(),
                verdict: self.verdict,
                level: self.level,
                image: image.clone(),
                layers: layers.clone(),
                config: self.config.clone().unwrap_or_default(),
                notes: self.notes.clone(),
                elapsed_ms: self.timings.total_ms,
            }],
            _ => Vec::new(),
        }
    }
}

fn worst(items: impl IntoIterator<Item = (Verdict, Option<Level>)>) -> (Verdict, Option<Level>) {
    let mut v = Verdict::Reproduced;
    let mut level = Some(Level::Blob);
    let mut any = false;
    for (verdict, l) in items {
        any = true;
        v = v.max(verdict);
        level = match (level, l) {
            (Some(Level::Blob), Some(Level::Blob)) => Some(Level::Blob),
            (Some(_), Some(_)) => Some(Level::DiffId),
            _ => None,
        };
    }
    if !any {
        return (Verdict::Different, None);
    }
    if v != Verdict::Reproduced {
        level = None;
    }
    (v, level)
}

fn sha256_file(path: &Path) -> Result<(String, u64), Error> {
    let err = |source| Error::File {
        path: path.to_path_buf(),
        source,
    };
    let mut r = HashingReader::new(File::open(path).map_err(err)?);
    io::copy(&mut r, &mut io::sink()).map_err(err)?;
    let (sha256, n) = r.finish();
    Ok((format!("sha256:{}", hex::encode(sha256)), n))
}

/// A reader that reports progress.
struct Counting<'a, R> {
    inner: R,
    done: u64,
    total: Option<u64>,
    what: &'a str,
    progress: &'a dyn Progress,
    last: u64,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if self.done - self.last >= 1 << 20 || n == 0 {
            self.last = self.done;
            self.progress.bytes(self.what, self.done, self.total);
        }
        Ok(n)
    }
}

/// Tell the builder from the config history.
fn builder_of(config: &serde_json::Value) -> (BuilderKind, &'static str, String) {
    let history = config["history"].as_array();
    let comments = history
        .into_iter()
        .flatten()
        .filter_map(|h| h["comment"].as_str());
    for c in comments {
        if c == dockerfile::eval::BUILDKIT_COMMENT {
            return (
                BuilderKind::Buildkit,
                "buildkit",
                format!("history comment {c:?}"),
            );
        }
    }
    let classic = history
        .into_iter()
        .flatten()
        .filter_map(|h| h["created_by"].as_str())
        .any(|c| c.starts_with("/bin/sh -c #(nop)"));
    if classic {
        return (
            BuilderKind::Classic,
            "classic",
            "history created_by \"/bin/sh -c #(nop) …\"".into(),
        );
    }
    (
        BuilderKind::Buildkit,
        "buildkit",
        "no builder marks in the history; assumed BuildKit (the default since Docker 23)".into(),
    )
}

/// Profile names ranked by the engine version a classic config records (`docker_version`).
fn version_hint(config: &serde_json::Value) -> Option<&'static str> {
    let v = config["docker_version"].as_str()?;
    let mut parts = v.split(['.', '+', '-', '~']);
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some(match (major, minor) {
        (20, _) if v.contains("dfsg") => "docker-20.10-debian",
        (..=20, _) => "docker-20.10",
        (23, _) => "docker-23.0",
        (24..=27, _) => "docker-24-27",
        (28, _) | (29, 0..=6) => "docker-28-29.6",
        _ => "docker-29.7",
    })
}

/// Tie order when nothing else tells the profiles apart: today's most common engines first.
const PREFERENCE: &[&str] = &[
    "docker-24-27",
    "docker-28-29.6",
    "docker-29.7",
    "docker-23.0",
    "docker-20.10",
    "docker-20.10-debian",
    "buildkit-containerd",
    "buildkit-overlayfs",
    "docker-29.7-buildkit-overlayfs",
];

/// Candidate profiles, most plausible first, with the published layer's evidence.
fn rank_profiles(
    scan: &Scan,
    version: Option<&'static str>,
    builder: BuilderKind,
) -> Vec<&'static Profile> {
    let has_names = scan.published.has_names;
    let type_bits = scan
        .entries
        .iter()
        .any(|e| e.kind == layerscan::EntryKind::Dir && e.mode & !0o7777 != 0);
    let any_dir = scan
        .entries
        .iter()
        .any(|e| e.kind == layerscan::EntryKind::Dir);
    let mut v: Vec<(i32, usize, &'static Profile)> = Profile::all()
        .iter()
        .map(|p| {
            let mut score = 0;
            if Some(p.name) == version {
                score += 8;
            }
            if has_names == (p.owner_names.value == OwnerNames::Lookup) {
                score += 4;
            }
            if any_dir && type_bits == p.type_bits.value {
                score += 2;
            }
            // the classic builder never runs on a containerd-only BuildKit
            if builder == BuilderKind::Classic && p.name.starts_with("buildkit-") {
                score -= 1;
            }
            let pref = PREFERENCE
                .iter()
                .position(|n| *n == p.name)
                .unwrap_or(PREFERENCE.len());
            (score, pref, p)
        })
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    v.into_iter().map(|(_, _, p)| p).collect()
}

/// Verify `req`.
pub fn verify(req: &Request, progress: &dyn Progress) -> Result<Report, Error> {
    let started = Instant::now();
    let mut inputs = Vec::new();
    let df = match &req.rootfs {
        Some(rootfs) => {
            let (digest, size) = sha256_file(rootfs)?;
            let hex = digest.strip_prefix("sha256:").unwrap_or(&digest);
            let checked = checksum::verify_beside(rootfs, hex).map_err(|e| Error::Checksum {
                path: rootfs.clone(),
                message: e,
            })?;
            inputs.push(Input {
                role: "rootfs",
                name: rootfs.display().to_string(),
                digest: Some(digest),
                size: Some(size),
            });
            if let Some(c) = checked {
                inputs.push(Input {
                    role: "checksum",
                    name: c.display().to_string(),
                    digest: None,
                    size: None,
                });
            }
            dockerfile::parse("FROM scratch\n").map_err(|e| Error::Dockerfile {
                path: rootfs.clone(),
                message: e.to_string(),
            })?
        }
        None => {
            let df_text =
                std::fs::read_to_string(&req.dockerfile).map_err(|source| Error::File {
                    path: req.dockerfile.clone(),
                    source,
                })?;
            let (df_digest, df_size) = sha256_file(&req.dockerfile)?;
            inputs.push(Input {
                role: "dockerfile",
                name: req.dockerfile.display().to_string(),
                digest: Some(df_digest),
                size: Some(df_size),
            });
            dockerfile::parse(&df_text).map_err(|e| Error::Dockerfile {
                path: req.dockerfile.clone(),
                message: e.to_string(),
            })?
        }
    };
    let context = if req.rootfs.is_some() {
        Context::default()
    } else {
        Context::read_dir(&req.context).map_err(|source| Error::File {
            path: req.context.clone(),
            source,
        })?
    };

    progress.step("", &format!("reading {}", req.image));
    let src = layerproof_image::open(&req.image, &req.open)?;
    let chain = chain::resolve(src.as_ref(), &req.platforms, DEFAULT_MAX_MANIFEST)?;
    inputs.push(Input {
        role: "image",
        name: chain.reference.clone(),
        digest: chain.shown_by.docker_pull.as_ref().map(ToString::to_string),
        size: None,
    });
    let images = chain.images();

    let concurrent = rayon::current_num_threads().min(images.len()).max(1);
    let env = Env {
        req,
        df: &df,
        context: &context,
        src: src.as_ref(),
        progress,
        sources: Mutex::new(BTreeMap::new()),
        memory_budget: req.memory_budget / concurrent as u64,
        encode_threads: (std::thread::available_parallelism().map_or(1, |n| n.get()) / concurrent)
            .max(1),
    };
    let results: Vec<Result<PlatformReport, Error>> = if images.len() > 1 {
        use rayon::prelude::*;
        images
            .par_iter()
            .map(|img| env.verify_platform(img))
            .collect()
    } else {
        images.iter().map(|img| env.verify_platform(img)).collect()
    };
    let mut reports = Vec::new();
    for r in results {
        reports.push(r?);
    }
    for (path, d) in env.sources.into_inner().unwrap_or_default() {
        inputs.push(Input {
            role: "source",
            name: path,
            digest: Some(d.sha256),
            size: Some(d.size),
        });
    }
    let (verdict, level) = worst(reports.iter().map(|r| (r.verdict, r.level)));
    let platform = reports
        .iter()
        .map(|r| r.platform.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let timings = Timings {
        total_ms: started.elapsed().as_millis() as u64,
    };
    let tool = Tool {
        name: "layerproof",
        version: env!("CARGO_PKG_VERSION"),
    };
    let many = matches!(req.platforms, PlatformSelector::All) || reports.len() > 1;
    Ok(if many {
        Report {
            schema: SCHEMA,
            tool,
            verdict,
            level,
            inputs,
            platform,
            image: None,
            layers: None,
            config: None,
            notes: Vec::new(),
            platforms: Some(reports),
            timings,
        }
    } else {
        let r = reports.pop();
        Report {
            schema: SCHEMA,
            tool,
            verdict,
            level,
            inputs,
            platform,
            image: r.as_ref().map(|r| r.image.clone()),
            notes: r.as_ref().map(|r| r.notes.clone()).unwrap_or_default(),
            config: r.as_ref().map(|r| r.config.clone()),
            layers: r.map(|r| r.layers),
            platforms: None,
            timings,
        }
    })
}

/// Bytes outside file bodies the streamed comparison keeps of a published layer: a rootfs of
/// 10⁵ files has some 100 MB of headers at most, a Debian minbase 6 MB.
const SHAPE_LIMIT: usize = 64 << 20;

/// The result of a worker thread of a scope; a thread that panicked is a temporary failure
/// named after `what` the thread did.
fn joined<T>(
    t: std::thread::ScopedJoinHandle<'_, Result<T, Error>>,
    what: &str,
) -> Result<T, Error> {
    t.join().unwrap_or_else(|_| {
        Err(Error::Temp(io::Error::other(format!(
            "{what} thread failed"
        ))))
    })
}

/// How far (in [`layerproof_archive::ahead::CHUNK`]s, 24 MiB) a source's decompression may
/// run ahead while the published layer's headers are read before the unpack: about what
/// zlib inflates of a rootfs in the time the headers of a large layer take.
const EARLY_DEPTH: usize = 96;

/// The layer and step [`Env::verify_streamed`] compares, handed on to [`Env::stream_compare`].
#[derive(Clone, Copy)]
struct StreamArgs<'a, 'p> {
    index: usize,
    source: &'a StepSource,
    published: &'a chain::Layer,
    platform: &'a str,
    version: Option<&'static str>,
    builder: BuilderKind,
    ctx_perm: u32,
    base_params: &'a dyn Fn(&'static Profile) -> Params<'p>,
    open: rebuild::Opener<'a>,
}

/// How the streamed comparison of a layer ended.
enum StreamedAttempt {
    /// It reproduced the layer.
    Reproduced(Box<LayerReport>),
    /// It does not apply (a compressed or remote blob, a refused source, a broken layer): the
    /// full comparison decides and reports.
    NotApplicable,
    /// It gave up, for this reason; the full comparison decides.
    GaveUp(String),
}

/// What the report of a reproduced layer is made of.
struct Match<'a> {
    index: usize,
    step: StepInfo,
    published: &'a chain::Layer,
    published_info: PublishedLayer,
    compression: Compression,
    profile: &'static Profile,
    rebuilt: RebuiltLayer,
    inferred: Vec<Inferred>,
    candidates: Vec<Candidate>,
    notes: Vec<String>,
    hazards: Vec<layerproof_archive::unpack::Hazard>,
}

struct Env<'a> {
    req: &'a Request,
    df: &'a dockerfile::Dockerfile,
    context: &'a Context,
    src: &'a dyn ImageSource,
    progress: &'a dyn Progress,
    /// Source path → its digests, hashed once.
    sources: Mutex<BTreeMap<String, SourceDigests>>,
    /// The memory budget of each source tree: the request's, shared by the platforms
    /// verified at the same time.
    memory_budget: u64,
    /// Threads for one blob-level check: the cores, shared by the platforms verified at the
    /// same time.
    encode_threads: usize,
}

/// Digests of one source file, from one read.
#[derive(Debug, Clone)]
struct SourceDigests {
    sha256: String,
    size: u64,
    /// The classic builder's `file:<hash>` for each context-tar generation.
    classic: Vec<(ContextTar, String)>,
}

/// The source of a step, resolved to a file of the context.
struct StepSource {
    path: PathBuf,
    name: String,
    info: StepInfo,
    unpack: bool,
}

impl Env<'_> {
    fn verify_platform(&self, img: &chain::Image) -> Result<PlatformReport, Error> {
        if let Some(rootfs) = &self.req.rootfs {
            return self.verify_import(img, rootfs);
        }
        let started = Instant::now();
        let platform = img.summary.platform.to_string();
        let config_bytes = self.src.blob(&img.config)?.read_all(MAX_CONFIG)?;
        let config: serde_json::Value =
            serde_json::from_slice(&config_bytes).unwrap_or(serde_json::Value::Null);
        let (builder, builder_name, builder_evidence) = builder_of(&config);
        let version = version_hint(&config);
        let image = ImageInfo {
            manifest: img.manifest.as_ref().map(|d| d.digest.to_string()),
            config: img.config.digest.to_string(),
            created: img.summary.created.clone(),
            builder: builder_name,
            builder_evidence,
        };

        let p = &img.summary.platform;
        let opts = BuildOptions {
            builder,
            build_args: self.req.build_args.clone(),
            platform: dockerfile::Platform {
                os: p.os.clone(),
                architecture: p.architecture.clone(),
                variant: p.variant.clone().unwrap_or_default(),
            },
            build_platform: None,
            target: None,
        };
        let ev = dockerfile::evaluate(self.df, &opts, Some(self.context)).map_err(|e| {
            Error::Dockerfile {
                path: self.req.dockerfile.clone(),
                message: e.to_string(),
            }
        })?;
        let model = match ev.stages.get(ev.target).map(|s| &s.outcome) {
            Some(StageOutcome::Image(m)) => m,
            Some(StageOutcome::OutOfScope(o)) => {
                return Err(Error::OutOfScope {
                    path: self.req.dockerfile.clone(),
                    line: o.span.start_line,
                    instruction: o.instruction.clone(),
                    reason: o.reason.clone(),
                });
            }
            _ => {
                return Err(Error::Dockerfile {
                    path: self.req.dockerfile.clone(),
                    message: "the target stage is not built".into(),
                });
            }
        };
        let mut notes = Vec::new();
        if let Some(w) = &img.warning {
            notes.push(w.clone());
        }
        let steps = &model.layers;
        if steps.len() != img.layers.len() {
            notes.push(format!(
                "the Dockerfile produces {} layer(s) for {platform}, the image has {}",
                steps.len(),
                img.layers.len()
            ));
        }
        let mut layers = Vec::new();
        let mut sources = Vec::new();
        for (index, (step, published)) in steps.iter().zip(&img.layers).enumerate() {
            let source = self.step_source(step)?;
            self.progress.step(
                &platform,
                &format!(
                    "layer {}: {} {}",
                    index + 1,
                    source.info.instruction,
                    source.name
                ),
            );
            let report =
                self.verify_layer(index, &source, published, &platform, version, builder)?;
            layers.push(report);
            sources.push(source);
        }
        let config_checks =
            self.config_checks(&config_bytes, model, builder, &sources, &layers, &mut notes);
        let (mut verdict, level) = worst(layers.iter().map(|l| (l.verdict, l.level)));
        if steps.len() != img.layers.len() {
            verdict = verdict.max(Verdict::Different);
        }
        let differing: Vec<&str> = config_checks
            .iter()
            .filter(|c| c.status == CheckStatus::Differ)
            .map(|c| c.field.as_str())
            .collect();
        if !differing.is_empty() {
            notes.push(format!(
                "the published config differs from the Dockerfile in: {}",
                differing.join(", ")
            ));
            verdict = verdict.max(Verdict::Different);
        }
        let level = if verdict == Verdict::Reproduced {
            level
        } else {
            None
        };
        Ok(PlatformReport {
            platform,
            verdict,
            level,
            image,
            layers,
            config: config_checks,
            notes,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// oci-import: the image's layer must be the tarball's own tar stream.
    fn verify_import(&self, img: &chain::Image, rootfs: &Path) -> Result<PlatformReport, Error> {
        let started = Instant::now();
        let platform = img.summary.platform.to_string();
        let config_bytes = self.src.blob(&img.config)?.read_all(MAX_CONFIG)?;
        let config: serde_json::Value =
            serde_json::from_slice(&config_bytes).unwrap_or(serde_json::Value::Null);
        let evidence = config["history"]
            .as_array()
            .and_then(|h| h.first())
            .and_then(|h| h["created_by"].as_str())
            .map_or_else(
                || "no history".to_string(),
                |c| format!("history created_by {c:?}"),
            );
        let image = ImageInfo {
            manifest: img.manifest.as_ref().map(|d| d.digest.to_string()),
            config: img.config.digest.to_string(),
            created: img.summary.created.clone(),
            builder: "oci-import",
            builder_evidence: evidence,
        };
        let mut notes = Vec::new();
        if img.layers.len() != 1 {
            notes.push(format!(
                "an imported rootfs is one layer; the image has {} (compared with the first)",
                img.layers.len()
            ));
        }
        let Some(published) = img.layers.first() else {
            return Ok(PlatformReport {
                platform,
                verdict: Verdict::Different,
                level: None,
                image,
                layers: Vec::new(),
                config: Vec::new(),
                notes,
                elapsed_ms: started.elapsed().as_millis() as u64,
            });
        };
        let what = format!("{platform} layer 1");
        self.progress
            .step(&platform, &format!("layer 1: {}", rootfs.display()));
        let open_rootfs = || -> Result<(Scan, Compression), Error> {
            let err = |e: io::Error| Error::File {
                path: rootfs.to_path_buf(),
                source: e,
            };
            let f = File::open(rootfs).map_err(err)?;
            let d = compression::open(BufReader::with_capacity(1 << 16, f), &self.req.decompress)
                .map_err(err)?;
            let c = d.compression();
            let scan =
                layerscan::scan(d, self.req.read_limits.clone()).map_err(|e| Error::File {
                    path: rootfs.to_path_buf(),
                    source: io::Error::other(e.to_string()),
                })?;
            Ok((scan, c))
        };
        let (scanned, ours) = std::thread::scope(|s| {
            let t = s.spawn(|| self.scan_published(&published.blob, &what));
            let ours = open_rootfs();
            (joined(t, "scanner"), ours)
        });
        let (scan, compression) = scanned?;
        let (ours, src_compression) = ours?;
        let published_info = PublishedLayer::new(published, compression, &scan);
        let mut rebuilt = RebuiltLayer {
            diff_id: ours.diff_id.clone(),
            blob_digest: None,
            size: ours.size,
            entries: ours.entries.len() as u64,
            treatment: format!(
                "imported as is ({} tarball, decompressed)",
                src_compression.as_str()
            ),
        };
        let step = StepInfo {
            instruction: "IMPORT".into(),
            line: 0,
            source: rootfs.display().to_string(),
            dest: "/".into(),
        };
        let mut report = LayerReport {
            index: 0,
            step,
            verdict: Verdict::Reproduced,
            level: None,
            published: published_info,
            rebuilt: None,
            profile: None,
            inferred: Vec::new(),
            candidates: Vec::new(),
            refusal: None,
            differences: None,
            first_header_difference: None,
            blob: None,
            notes: Vec::new(),
            hazards: Vec::new(),
        };
        if ours.diff_id == scan.diff_id {
            let layer = |w: &mut dyn io::Write| -> io::Result<()> {
                let f = File::open(rootfs)?;
                let mut d = compression::open(BufReader::new(f), &self.req.decompress)?;
                io::copy(&mut d, w).map(|_| ())
            };
            let (level, blob_digest, blob_report) = self.blob_level(
                published,
                compression,
                &ours.diff_id,
                &layer,
                "layer 1",
                &platform,
                &mut report.notes,
            )?;
            rebuilt.blob_digest = blob_digest;
            report.blob = blob_report;
            report.level = Some(level);
        } else {
            let diff = explain::compare(&ours, &scan);
            report.verdict = if diff.content_equivalent {
                Verdict::ContentEquivalent
            } else {
                Verdict::Different
            };
            report.differences = Some(diff);
        }
        report.rebuilt = Some(rebuilt);
        let verdict = report.verdict;
        let level = report.level;
        let verdict = if notes.is_empty() {
            verdict
        } else {
            verdict.max(Verdict::Different)
        };
        Ok(PlatformReport {
            platform,
            verdict,
            level: (verdict == Verdict::Reproduced).then_some(level).flatten(),
            image,
            layers: vec![report],
            config: Vec::new(),
            notes,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// The level of a reproduced layer, our blob digest, and the blob report: `blob` when the
    /// published blob is the tar itself, or when re-encoding `layer` with the fingerprinted
    /// compressor gives the published digest; else `diff_id`, with a note saying why.
    #[allow(clippy::too_many_arguments)]
    fn blob_level(
        &self,
        published: &chain::Layer,
        compression: Compression,
        diff_id: &str,
        layer: blob::LayerBytes<'_>,
        what: &str,
        platform: &str,
        notes: &mut Vec<String>,
    ) -> Result<(Level, Option<String>, Option<BlobReport>), Error> {
        let published_digest = published.blob.digest.to_string();
        if compression == Compression::Identity && published_digest == diff_id {
            return Ok((Level::Blob, Some(diff_id.to_string()), None));
        }
        if compression != Compression::Gzip || !self.req.blob_level {
            notes.push(format!(
                "the published blob is {} compressed; its digest was not re-encoded{}",
                compression.as_str(),
                if self.req.blob_level {
                    " (no exact re-encoder for this format)"
                } else {
                    " (--skip-blob)"
                }
            ));
            return Ok((Level::DiffId, None, None));
        }
        self.progress.step(
            platform,
            &format!("{what}: re-encoding for the blob digest"),
        );
        let blob = self.src.blob(&published.blob)?;
        let open = || -> io::Result<Box<dyn Read + Send>> {
            let blob = self.src.blob(&published.blob).map_err(io::Error::other)?;
            Ok(Box::new(blob))
        };
        let report =
            blob::reproduce(blob, &open, &published_digest, layer, self.encode_threads).ok();
        Ok(match report.as_ref().and_then(|r| r.matched()) {
            Some(a) => (Level::Blob, Some(a.digest.clone()), report),
            None => {
                notes.push(format!(
                    "the diff_id matches; the blob was compressed by {} and our re-encoding \
                     does not give its digest",
                    report
                        .as_ref()
                        .and_then(|r| r.fingerprint.first().cloned())
                        .unwrap_or_else(|| "an unrecognised compressor".into())
                ));
                (Level::DiffId, None, report)
            }
        })
    }

    fn step_source(&self, step: &CopyStep) -> Result<StepSource, Error> {
        let line = step.span.start_line;
        let text = format!(
            "{} {} {}",
            step.instruction,
            step.sources.join(" "),
            step.dest
        );
        let out_of_scope = |reason: &str| Error::OutOfScope {
            path: self.req.dockerfile.clone(),
            line,
            instruction: text.clone(),
            reason: reason.to_string(),
        };
        let one = rebuild::single_source(step).map_err(|why| out_of_scope(&why))?;
        let name = one
            .path
            .rsplit('/')
            .next()
            .unwrap_or(one.path.as_str())
            .to_string();
        Ok(StepSource {
            path: self.req.context.join(&one.path),
            name,
            info: StepInfo {
                instruction: step.instruction.clone(),
                line,
                source: one.path.clone(),
                dest: step.dest.clone(),
            },
            unpack: step.unpack,
        })
    }

    fn scan_published(&self, desc: &Descriptor, what: &str) -> Result<(Scan, Compression), Error> {
        let err = |source| Error::PublishedLayer {
            image: self.src.name(),
            digest: desc.digest.to_string(),
            source: Box::new(source),
        };
        let mut blob = self.src.blob(desc)?;
        let mut counting = Counting {
            inner: &mut blob,
            done: 0,
            total: Some(desc.size),
            what,
            progress: self.progress,
            last: 0,
        };
        let (scan, compression) = {
            let d = compression::open(&mut counting, &self.req.decompress)
                .map_err(|e| err(e.into()))?;
            let c = d.compression();
            (
                layerscan::scan(d, self.req.read_limits.clone()).map_err(err)?,
                c,
            )
        };
        // read to the end so the blob's digest and size are verified
        io::copy(&mut counting, &mut io::sink()).map_err(|e| err(e.into()))?;
        self.progress.finished(what);
        Ok((scan, compression))
    }

    /// sha256 of a source and, for a classic build, the classic builder's source hashes
    /// (the `ADD file:<hash>` of its history), in one read.
    fn hash_source(
        &self,
        source: &StepSource,
        perm: u32,
        builder: BuilderKind,
    ) -> Result<(), Error> {
        let key = source.path.display().to_string();
        let classic = builder == BuilderKind::Classic;
        if self
            .sources
            .lock()
            .map(|m| {
                m.get(&key)
                    .is_some_and(|d| !classic || !d.classic.is_empty())
            })
            .unwrap_or(true)
        {
            return Ok(());
        }
        let err = |e| Error::File {
            path: source.path.clone(),
            source: e,
        };
        let mut f = File::open(&source.path).map_err(err)?;
        let size = f.metadata().map_err(err)?.len();
        let file = ContextFile::new(source.info.source.clone(), perm, size);
        let tars: &[ContextTar] = if classic {
            &[ContextTar::TypeBits, ContextTar::PermissionsOnly]
        } else {
            &[]
        };
        let mut hashers: Vec<FileHasher> =
            tars.iter().map(|t| FileHasher::new(&file, *t)).collect();
        let mut sha = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut n = 0u64;
        loop {
            let k = f.read(&mut buf).map_err(err)?;
            if k == 0 {
                break;
            }
            sha.update(&buf[..k]);
            for h in &mut hashers {
                std::io::Write::write_all(h, &buf[..k]).map_err(err)?;
            }
            n += k as u64;
        }
        let mut classic = Vec::new();
        for (t, h) in tars.iter().zip(hashers) {
            classic.push((*t, h.finish().map_err(err)?));
        }
        let d = SourceDigests {
            sha256: format!("sha256:{}", hex::encode(sha.finalize())),
            size: n,
            classic,
        };
        if let Ok(mut m) = self.sources.lock() {
            m.insert(key, d);
        }
        Ok(())
    }

    /// The classic source hash when the build context's file mode differs from this
    /// checkout's (a umask 002 checkout gives 0664): try the common modes against the `file:`
    /// hashes the published history shows, in one more read of the source.
    fn context_mode_from_history(
        &self,
        source: &StepSource,
        published_lines: &[&str],
        notes: &mut Vec<String>,
    ) -> Option<String> {
        let size = std::fs::metadata(&source.path).ok()?.len();
        let file = ContextFile::new(source.info.source.clone(), 0o644, size);
        for line in published_lines {
            let Some(at) = line.find("file:") else {
                continue;
            };
            let hash: String = line[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
                .collect();
            let body = File::open(&source.path).ok()?;
            if let Ok(Some((mode, _))) =
                crate::classic_hash::find_context_mode(&file, BufReader::new(body), &hash)
            {
                notes.push(format!(
                    "the ADD source hash of {} was computed with context file mode {mode:04o} \
                     (this checkout's file has another mode; a property of the build context, \
                     not of the tarball)",
                    source.info.source
                ));
                return Some(hash);
            }
        }
        None
    }

    /// Check the published config against the Dockerfile's model.
    fn config_checks(
        &self,
        config_bytes: &[u8],
        model: &ImageModel,
        builder: BuilderKind,
        sources: &[StepSource],
        layers: &[LayerReport],
        notes: &mut Vec<String>,
    ) -> Vec<ConfigCheck> {
        let config: serde_json::Value =
            serde_json::from_slice(config_bytes).unwrap_or(serde_json::Value::Null);
        let published_lines: Vec<&str> = config["history"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h["created_by"].as_str())
            .collect();
        let engine_tar = config["docker_version"]
            .as_str()
            .and_then(Engine::from_docker_version)
            .map(|e| e.context_tar());
        let map = self.sources.lock().map(|m| m.clone()).unwrap_or_default();
        let source_hashes: Vec<Option<String>> = sources
            .iter()
            .map(|s| {
                let d = map.get(&s.path.display().to_string())?;
                if builder != BuilderKind::Classic {
                    return None;
                }
                // the client that sent the context decides the mode bits of the hashed
                // header; take the generation the history shows, else the daemon's own
                let shown = d
                    .classic
                    .iter()
                    .find(|(_, h)| published_lines.iter().any(|l| l.contains(h.as_str())));
                if shown.is_none()
                    && let Some(found) = self.context_mode_from_history(s, &published_lines, notes)
                {
                    return Some(found);
                }
                let (tar, hash) = shown
                    .or_else(|| d.classic.iter().find(|(t, _)| Some(*t) == engine_tar))
                    .or(d.classic.last())?;
                if shown.is_some() && Some(*tar) != engine_tar {
                    notes.push(format!(
                        "the ADD source hash of {} matches a {} build context (another \
                         client generation than the daemon's)",
                        s.info.source,
                        match tar {
                            ContextTar::TypeBits => "Docker ≤ 23 client's",
                            ContextTar::PermissionsOnly => "Docker ≥ 24 client's",
                        }
                    ));
                }
                Some(hash.clone())
            })
            .collect();
        let diff_ids: Vec<String> = layers
            .iter()
            .map(|l| {
                l.rebuilt
                    .as_ref()
                    .map_or_else(String::new, |r| r.diff_id.clone())
            })
            .collect();
        let complete =
            diff_ids.len() == model.layers.len() && diff_ids.iter().all(|d| !d.is_empty());
        check_config(
            config_bytes,
            model,
            &CheckOptions {
                builder: Some(builder),
                source_hashes: &source_hashes,
                diff_ids: complete.then_some(diff_ids.as_slice()),
            },
        )
    }

    fn verify_layer(
        &self,
        index: usize,
        source: &StepSource,
        published: &chain::Layer,
        platform: &str,
        version: Option<&'static str>,
        builder: BuilderKind,
    ) -> Result<LayerReport, Error> {
        let what = format!("{platform} layer {}", index + 1);
        let path = source.path.clone();
        let open = || -> io::Result<Box<dyn Read + Send>> {
            Ok(Box::new(BufReader::with_capacity(
                1 << 16,
                File::open(&path)?,
            )))
        };
        let rebuild_err = |source| Error::Rebuild {
            path: path.clone(),
            source,
        };
        let ctx_perm = std::fs::metadata(&path)
            .map(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.permissions().mode() & 0o7777
            })
            .map_err(|source| Error::File {
                path: path.clone(),
                source,
            })?;

        // The first unpack uses the preferred profile for the builder before the published
        // layer is known; it runs while the published blob is read.
        let first_guess: &'static Profile = match self.req.profile {
            ProfileChoice::Named(p) => p,
            ProfileChoice::Auto => version
                .and_then(Profile::by_name)
                .or_else(|| Profile::by_name(PREFERENCE[0]))
                .unwrap_or(&Profile::all()[0]),
        };
        let base_params = |profile: &'static Profile| {
            let mut p = Params::new(profile, source.name.as_bytes().to_vec());
            p.memory_budget = self.memory_budget;
            p.unpack = source.unpack;
            p.limits = self.req.limits.clone();
            p.plain_file = PlainFileMeta {
                perm: ctx_perm,
                mtime: Timestamp::EPOCH,
            };
            p
        };
        let gave_up = match self.verify_streamed(StreamArgs {
            index,
            source,
            published,
            platform,
            version,
            builder,
            ctx_perm,
            base_params: &base_params,
            open: &open,
        })? {
            StreamedAttempt::Reproduced(report) => return Ok(*report),
            StreamedAttempt::NotApplicable => None,
            StreamedAttempt::GaveUp(why) => Some(why),
        };
        let (scanned, first) = std::thread::scope(|s| {
            let published_thread = s.spawn(|| self.scan_published(&published.blob, &what));
            let hash_thread = s.spawn(|| self.hash_source(source, ctx_perm, builder));
            let mut p = base_params(first_guess);
            p.bodies = Bodies::Digests; // see the candidate loop
            let first = rebuild::unpack(&open, &p).map_err(rebuild_err);
            let scanned = joined(published_thread, "scanner");
            let hashed = joined(hash_thread, "hash");
            (scanned.and_then(|s| hashed.map(|()| s)), first)
        });
        let (scan, compression) = scanned?;
        let first = first?;

        let published_info = PublishedLayer::new(published, compression, &scan);
        let mut notes = Vec::new();
        if let Some(why) = gave_up {
            notes.push(format!(
                "the streamed comparison gave up ({why}); both layers were read whole"
            ));
        }
        let target = match &published.diff_id {
            Some(d) if d.to_string() != scan.diff_id => {
                notes.push(format!(
                    "the published blob decompresses to {}, but the config's diff_id is {d}; \
                     compared with what the blob holds",
                    scan.diff_id
                ));
                scan.diff_id.clone()
            }
            _ => scan.diff_id.clone(),
        };

        let candidates: Vec<&'static Profile> = match self.req.profile {
            ProfileChoice::Named(p) => vec![p],
            ProfileChoice::Auto => rank_profiles(&scan, version, builder),
        };

        // Free parameters from the published layer.
        let mut inferred = Vec::new();
        let copied_mtime = copied_file_mtime(&scan, source.name.as_bytes());

        // The first pass compares skeletons: the source was unpacked keeping only body
        // digests, and each candidate costs the encoding of its headers. When no candidate
        // matches that way (or the published layer has no skeleton), the trees are unpacked
        // again with their bodies and every candidate is written and hashed — the exact
        // comparison, which also feeds the explanation.
        let mut keep = scan.skeleton.is_none();
        let mut trees: Vec<((layerproof_archive::unpack::Options, bool), Unpacked)> = if keep {
            Vec::new()
        } else {
            vec![(rebuild::unpack_key(first_guess), first)]
        };
        let (mut tried, mut matched, mut refusal, mut built);
        loop {
            tried = Vec::new();
            matched = None::<(&'static Profile, RebuiltLayer)>;
            refusal = None::<RefusalInfo>;
            built = Vec::<(&'static Profile, String)>::new();
            let skeleton = scan.skeleton.filter(|_| !keep);
            for profile in candidates.iter().copied() {
                let key = rebuild::unpack_key(profile);
                let slot = match trees.iter().position(|(k, _)| *k == key) {
                    Some(i) => i,
                    None => {
                        let mut p = base_params(profile);
                        p.bodies = if keep { Bodies::Keep } else { Bodies::Digests };
                        let u = rebuild::unpack(&open, &p).map_err(rebuild_err)?;
                        trees.push((key, u));
                        trees.len() - 1
                    }
                };
                let params = self.params_for(profile, &base_params, &scan);
                let prepared = match &mut trees[slot].1 {
                    Unpacked::Refused(r) => {
                        if refusal.is_none() {
                            refusal = Some(RefusalInfo {
                                entry: r.entry,
                                name: r.name.clone(),
                                message: r.message.clone(),
                            });
                        }
                        tried.push(Candidate {
                            profile: profile.name,
                            outcome: "refused",
                            diff_id: None,
                            compared: None,
                            detail: Some(r.message.clone()),
                        });
                        continue;
                    }
                    Unpacked::Tree(prepared) => prepared,
                };
                // what identifies the output, its diff_id when known, size, entries
                let (identity, diff_id, size, entries) = match skeleton {
                    Some(published_skeleton) => {
                        let sk = rebuild::skeleton(prepared, &params).map_err(rebuild_err)?;
                        // equal skeletons: our bytes are the published bytes, whose sha256
                        // the scan took
                        let same = sk.skeleton == published_skeleton;
                        let identity = format!(
                            "skeleton:{}{}",
                            hex::encode(sk.skeleton.raw),
                            hex::encode(sk.skeleton.bodies)
                        );
                        (
                            identity,
                            same.then(|| target.clone()),
                            sk.skeleton.size,
                            sk.entries,
                        )
                    }
                    None => {
                        let (_, summary) =
                            rebuild::write(prepared, &params, HashingWriter::new(io::sink()))
                                .map_err(rebuild_err)?;
                        (
                            summary.diff_id.clone(),
                            Some(summary.diff_id),
                            summary.size,
                            summary.entries,
                        )
                    }
                };
                let ok = diff_id.as_ref() == Some(&target);
                tried.push(Candidate {
                    profile: profile.name,
                    outcome: if ok { "match" } else { "differs" },
                    diff_id,
                    compared: Some(if skeleton.is_some() {
                        "skeleton"
                    } else {
                        "bytes"
                    }),
                    detail: None,
                });
                if ok {
                    matched = Some((
                        profile,
                        RebuiltLayer {
                            diff_id: target.clone(),
                            blob_digest: None,
                            size,
                            entries,
                            treatment: treatment_text(&prepared.treatment),
                        },
                    ));
                    break;
                }
                if !built.iter().any(|(_, d)| *d == identity) {
                    built.push((profile, identity));
                }
            }
            if matched.is_some() || keep || built.is_empty() {
                break;
            }
            keep = true;
            trees.clear();
        }

        let hazards_of = |trees: &[(_, Unpacked)]| match trees.first().map(|t| &t.1) {
            Some(Unpacked::Tree(p)) => p.hazards.clone(),
            _ => Vec::new(),
        };
        let hazards = hazards_of(&trees);
        let chosen = matched
            .as_ref()
            .map(|(p, _)| *p)
            .or_else(|| built.first().map(|(p, _)| *p));
        if let Some(p) = chosen {
            self.describe_inferred(
                p,
                &scan,
                &trees,
                copied_mtime,
                matches!(self.req.profile, ProfileChoice::Auto) && matched.is_some(),
                &mut inferred,
            );
        }

        let step = source.info.clone();
        if let Some((profile, rebuilt)) = matched {
            return self.reproduced(
                Match {
                    index,
                    step,
                    published,
                    published_info,
                    compression,
                    profile,
                    rebuilt,
                    inferred,
                    candidates: tried,
                    notes,
                    hazards,
                },
                platform,
            );
        }

        if built.is_empty() {
            return Ok(LayerReport {
                index,
                step,
                verdict: Verdict::NotBuildable,
                level: None,
                published: published_info,
                rebuilt: None,
                profile: candidates.first().map(|p| p.name),
                inferred,
                candidates: tried,
                refusal,
                differences: None,
                first_header_difference: None,
                blob: None,
                notes,
                hazards,
            });
        }

        // No profile reproduced it: explain against each distinct candidate and keep the
        // closest.
        self.progress.step(
            platform,
            &format!("layer {}: explaining the difference", index + 1),
        );
        let mut best: Option<(
            usize,
            &'static Profile,
            Differences,
            RebuiltLayer,
            tempfile::NamedTempFile,
        )> = None;
        for (profile, _) in &built {
            let key = rebuild::unpack_key(profile);
            let Some(slot) = trees.iter().position(|(k, _)| *k == key) else {
                continue;
            };
            let Unpacked::Tree(prepared) = &mut trees[slot].1 else {
                continue;
            };
            let params = self.params_for(profile, &base_params, &scan);
            let tmp = tempfile::NamedTempFile::new().map_err(Error::Temp)?;
            let (file, summary) =
                rebuild::write(prepared, &params, io::BufWriter::new(tmp)).map_err(rebuild_err)?;
            let mut tmp = file.into_inner().map_err(|e| Error::Temp(e.into_error()))?;
            tmp.rewind().map_err(Error::Temp)?;
            let ours = layerscan::scan(BufReader::new(tmp.as_file()), read::Options::default())
                .map_err(|source| Error::Rebuild {
                    path: path.clone(),
                    source: rebuild::Error::Source(layerproof_archive::source::Error::Io(
                        io::Error::other(source.to_string()),
                    )),
                })?;
            let diff = explain::compare(&ours, &scan);
            let weight = diff
                .groups
                .iter()
                .map(|g| {
                    if g.level == explain::Level::Content {
                        g.count * 1000
                    } else {
                        g.count
                    }
                })
                .sum::<usize>()
                + diff.tar.len();
            if let Some(c) = tried.iter_mut().find(|c| c.profile == profile.name) {
                c.detail = Some(format!(
                    "{} content-level and {} tar-level difference group(s)",
                    diff.content_groups().count(),
                    diff.groups.len() - diff.content_groups().count()
                ));
            }
            if best.as_ref().is_none_or(|b| weight < b.0) {
                let rebuilt = RebuiltLayer {
                    diff_id: summary.diff_id.clone(),
                    blob_digest: None,
                    size: summary.size,
                    entries: summary.entries,
                    treatment: treatment_text(&prepared.treatment),
                };
                best = Some((weight, profile, diff, rebuilt, tmp));
            }
        }
        let Some((_, profile, diff, rebuilt, mut tmp)) = best else {
            return Err(Error::Temp(io::Error::other(
                "no candidate could be explained",
            )));
        };
        let verdict = if diff.content_equivalent {
            Verdict::ContentEquivalent
        } else {
            Verdict::Different
        };
        let first_header_difference = if diff.content_equivalent {
            tmp.rewind().map_err(Error::Temp)?;
            self.first_header_difference(tmp.as_file_mut(), &published.blob)
        } else {
            None
        };
        if let Some(r) = &refusal {
            notes.push(format!(
                "some profiles refuse this tarball: {}{}",
                r.message,
                r.entry
                    .map(|e| format!(" (entry {e} {:?})", r.name))
                    .unwrap_or_default()
            ));
        }
        Ok(LayerReport {
            index,
            step,
            verdict,
            level: None,
            published: published_info,
            rebuilt: Some(rebuilt),
            profile: Some(profile.name),
            inferred,
            candidates: tried,
            refusal: None,
            differences: Some(diff),
            first_header_difference,
            blob: None,
            notes,
            hazards,
        })
    }

    /// The report of a reproduced layer, with its blob level settled.
    fn reproduced(&self, m: Match<'_>, platform: &str) -> Result<LayerReport, Error> {
        let Match {
            index,
            step,
            published,
            published_info,
            compression,
            profile,
            mut rebuilt,
            inferred,
            candidates,
            mut notes,
            hazards,
        } = m;
        // The bytes, for re-encoding. Ours equal the published layer's (equal skeletons or
        // diff_ids), so they are read back from the published blob — a stream, where
        // writing our tree would need the source unpacked again with its bodies.
        let layer = |w: &mut dyn io::Write| -> io::Result<()> {
            let blob = self.src.blob(&published.blob).map_err(io::Error::other)?;
            let mut layer = compression::open(blob, &self.req.decompress)?;
            io::copy(&mut layer, w).map(|_| ())
        };
        let (level, blob_digest, blob_report) = self.blob_level(
            published,
            compression,
            &rebuilt.diff_id,
            &layer,
            &format!("layer {}", index + 1),
            platform,
            &mut notes,
        )?;
        rebuilt.blob_digest = blob_digest;
        Ok(LayerReport {
            index,
            step,
            verdict: Verdict::Reproduced,
            level: Some(level),
            published: published_info,
            rebuilt: Some(rebuilt),
            profile: Some(profile.name),
            inferred,
            candidates,
            refusal: None,
            differences: None,
            first_header_difference: None,
            blob: blob_report,
            notes,
            hazards,
        })
    }

    /// The streamed comparison ([`crate::streamed`]) of a published layer stored uncompressed
    /// on disk: its headers are read, the source is unpacked once with its bodies hashed in
    /// layer order, and each candidate's headers are compared with the published ones.
    fn verify_streamed(&self, args: StreamArgs<'_, '_>) -> Result<StreamedAttempt, Error> {
        let StreamArgs {
            source,
            published,
            builder,
            ctx_perm,
            open,
            ..
        } = args;
        let blob_digest = published.blob.digest.to_string();
        // a layer stored uncompressed has its diff_id for blob digest
        if !self.req.streamed
            || published
                .diff_id
                .as_ref()
                .is_some_and(|d| d.to_string() != blob_digest)
        {
            return Ok(StreamedAttempt::NotApplicable);
        }
        let Some(mut layer) = self.src.blob_unverified(&published.blob)? else {
            return Ok(StreamedAttempt::NotApplicable);
        };
        let mut magic = Vec::with_capacity(16);
        let sniffed = (&mut layer)
            .take(compression::PEEK_LEN as u64)
            .read_to_end(&mut magic)
            .and_then(|_| layer.rewind());
        if sniffed.is_err() || compression::detect(&magic) != Compression::Identity {
            return Ok(StreamedAttempt::NotApplicable);
        }
        // The source's decompression starts now, on the other core, while the published
        // headers are read (up to EARLY_DEPTH ahead). The source's own digest waits for the
        // headers: on two cores it would slow both down, and the unpack leaves room for it.
        std::thread::scope(|s| {
            let (go, wait) = std::sync::mpsc::channel::<()>();
            let mut hash_thread = Some(s.spawn(move || {
                let _ = wait.recv();
                crate::pipeline::yield_to_pipeline();
                self.hash_source(source, ctx_perm, builder)
            }));
            // a source that cannot be opened here fails again, with its error, when the unpack
            // opens it
            let started = open().ok().and_then(|src| {
                source::Started::spawn(s, src, &self.req.limits.decompress, EARLY_DEPTH).ok()
            });
            let mut hashed = || hash_thread.take().map_or(Ok(()), |t| joined(t, "hash"));
            let attempt = self.stream_compare(
                args,
                layer,
                started,
                &|| {
                    let _ = go.send(());
                },
                &mut hashed,
            );
            drop(go);
            hashed()?;
            attempt
        })
    }

    /// [`Env::verify_streamed`] once the published layer is known to be a plain tar on disk:
    /// its headers, the plan, the unpack with the streamer, each candidate's headers.
    fn stream_compare<'p>(
        &self,
        args: StreamArgs<'_, 'p>,
        layer: Box<dyn layerproof_image::source::SeekRead>,
        started: Option<source::Started>,
        headers_read: &dyn Fn(),
        hashed: &mut dyn FnMut() -> Result<(), Error>,
    ) -> Result<StreamedAttempt, Error> {
        use crate::streamed::{Plan, ShapeCheck, Streamer};
        let blob_digest = args.published.blob.digest.to_string();
        // a broken published layer is reported by the full scan
        let shaped = match layerscan::scan_shape(layer, self.req.read_limits.clone(), SHAPE_LIMIT) {
            Ok(Some(s)) => s,
            Ok(None) => {
                return Ok(StreamedAttempt::GaveUp(format!(
                    "the published layer has over {} MiB of headers",
                    SHAPE_LIMIT >> 20
                )));
            }
            Err(_) => return Ok(StreamedAttempt::NotApplicable),
        };
        let layerscan::ShapeScan {
            scan,
            shape,
            body_entries,
        } = shaped;
        let plan = match Plan::new(shape, &body_entries, &scan) {
            Ok(p) => p,
            Err(why) => return Ok(StreamedAttempt::GaveUp(why)),
        };
        // the published headers rank the profiles before the source is read: unpack as the
        // most plausible one does
        let candidates: Vec<&'static Profile> = match self.req.profile {
            ProfileChoice::Named(p) => vec![p],
            ProfileChoice::Auto => rank_profiles(&scan, args.version, args.builder),
        };
        let Some(&unpack_as) = candidates.first() else {
            return Ok(StreamedAttempt::NotApplicable);
        };
        let mut params = (args.base_params)(unpack_as);
        params.bodies = Bodies::Lengths;
        headers_read();
        let mut streamer = Streamer::new(&plan, self.memory_budget);
        let unpacked = rebuild::unpack_started(started, args.open, &params, &mut streamer);
        let streamed = streamer.finish();
        // the report names the source's digest
        hashed()?;
        let unpacked = unpacked.map_err(|e| Error::Rebuild {
            path: args.source.path.clone(),
            source: e,
        })?;
        // a refusal, or a source copied as it is, is for the full comparison
        let mut prepared = match unpacked {
            Unpacked::Tree(p) if matches!(p.treatment, Treatment::Unpacked(_)) => p,
            _ => return Ok(StreamedAttempt::NotApplicable),
        };
        let streamed = match streamed {
            Ok(s) if s.diff_id == blob_digest => s,
            Ok(s) => {
                return Ok(StreamedAttempt::GaveUp(format!(
                    "the source's bodies in the published layer's places hash to {}, not {blob_digest}",
                    s.diff_id
                )));
            }
            Err(why) => return Ok(StreamedAttempt::GaveUp(why)),
        };
        let key = rebuild::unpack_key(unpack_as);
        let copied_mtime = copied_file_mtime(&scan, args.source.name.as_bytes());
        let mut tried = Vec::new();
        let mut matched = None;
        // candidates that unpack differently need the source again: the full comparison
        for profile in candidates
            .iter()
            .copied()
            .filter(|p| rebuild::unpack_key(p) == key)
        {
            let params = self.params_for(profile, args.base_params, &scan);
            let mut check = ShapeCheck::new(&plan, &streamed.ids);
            let entries = rebuild::emit(&mut prepared, &params, &mut check).ok();
            let same = entries.is_some() && check.same();
            tried.push(Candidate {
                profile: profile.name,
                outcome: if same { "match" } else { "differs" },
                diff_id: same.then(|| streamed.diff_id.clone()),
                compared: Some("streamed"),
                detail: None,
            });
            if let (true, Some(entries)) = (same, entries) {
                matched = Some((profile, entries));
                break;
            }
        }
        let Some((profile, entries)) = matched else {
            return Ok(StreamedAttempt::GaveUp(
                "no profile's headers match the published ones".into(),
            ));
        };
        let rebuilt = RebuiltLayer {
            diff_id: streamed.diff_id.clone(),
            blob_digest: None,
            size: streamed.size,
            entries,
            treatment: treatment_text(&prepared.treatment),
        };
        let hazards = prepared.hazards.clone();
        let trees = vec![(key, Unpacked::Tree(prepared))];
        let mut inferred = Vec::new();
        self.describe_inferred(
            profile,
            &scan,
            &trees,
            copied_mtime,
            matches!(self.req.profile, ProfileChoice::Auto),
            &mut inferred,
        );
        // the shape scan hashed nothing: no computed diff_id
        let published_info = PublishedLayer::new(args.published, Compression::Identity, &scan);
        let notes = vec![
            "compared streamed: the published layer's headers were read and its bodies \
             skipped; our layer, hashed as the source streamed past, has the digest the \
             manifest lists"
                .to_string(),
        ];
        self.reproduced(
            Match {
                index: args.index,
                step: args.source.info.clone(),
                published: args.published,
                published_info,
                compression: Compression::Identity,
                profile,
                rebuilt,
                inferred,
                candidates: tried,
                notes,
                hazards,
            },
            args.platform,
        )
        .map(|r| StreamedAttempt::Reproduced(Box::new(r)))
    }

    /// `profile`'s parameters with the free ones the published layer decided: the implied
    /// directories' times, the owner-name table, the copied file's time.
    fn params_for<'p>(
        &self,
        profile: &'static Profile,
        base: &dyn Fn(&'static Profile) -> Params<'p>,
        scan: &Scan,
    ) -> Params<'p> {
        let mut params = base(profile);
        params.implied_times = scan.published.dir_mtimes.clone();
        if profile.owner_names.value == OwnerNames::Lookup && scan.published.has_names {
            params.names = Some(scan.published.names.clone());
        }
        if let Some(t) = copied_file_mtime(scan, &params.source_name) {
            params.plain_file.mtime = t;
        }
        params
    }

    fn describe_inferred(
        &self,
        profile: &'static Profile,
        scan: &Scan,
        trees: &[((layerproof_archive::unpack::Options, bool), Unpacked)],
        copied_mtime: Option<Timestamp>,
        auto: bool,
        out: &mut Vec<Inferred>,
    ) {
        if auto {
            out.push(Inferred {
                parameter: "profile".into(),
                value: profile.name.into(),
                why: format!(
                    "{} ({})",
                    "the first engine profile whose layer matches, tried most plausible first",
                    profile.summary
                ),
            });
        }
        let key = rebuild::unpack_key(profile);
        if let Some((_, Unpacked::Tree(p))) = trees.iter().find(|(k, _)| *k == key) {
            let implied: Vec<String> = p
                .hazards
                .iter()
                .filter_map(|h| match h {
                    layerproof_archive::unpack::Hazard::ImpliedDirectory { path } => {
                        let key = layerscan::normalise(path.as_bytes());
                        scan.published
                            .dir_mtimes
                            .get(&key)
                            .map(|t| format!("{}/ = {}", layerscan::display_path(&key), t.sec))
                    }
                    _ => None,
                })
                .collect();
            if !implied.is_empty() {
                out.push(Inferred {
                    parameter: "implied-directory-mtime".into(),
                    value: implied.join(", "),
                    why: "the tarball does not list these directories; Docker creates them \
                          with the build's wall-clock time, which only the published layer \
                          records"
                        .into(),
                });
            }
            if matches!(p.treatment, Treatment::Copied { .. })
                && let Some(t) = copied_mtime
            {
                out.push(Inferred {
                    parameter: "copied-file-mtime".into(),
                    value: t.sec.to_string(),
                    why: "the source is copied, not unpacked; its mtime in the build \
                          context (a checkout time) is not part of the tarball"
                        .into(),
                });
            }
        }
        if profile.owner_names.value == OwnerNames::Lookup && scan.published.has_names {
            out.push(Inferred {
                parameter: "owner-names".into(),
                value: scan.published.names.describe(),
                why: "this engine fills uname/gname from the build host's user database; \
                      the table is read from the published headers"
                    .into(),
            });
        }
    }

    /// The first differing header, for differences the entries do not show.
    fn first_header_difference(&self, ours: &mut File, blob: &Descriptor) -> Option<String> {
        let b = self.src.blob(blob).ok()?;
        let d = compression::open(b, &self.req.decompress).ok()?;
        match layerproof_layer::compare::first_difference(BufReader::new(ours), d) {
            Ok(Some(diff)) => Some(diff.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("(cannot compare headers: {e})")),
        }
    }
}

/// The time the published layer gives a source copied as it is (named `name`), if it has one.
fn copied_file_mtime(scan: &Scan, name: &[u8]) -> Option<Timestamp> {
    scan.published.files.get(name).map(|(_, t)| *t)
}

fn treatment_text(t: &Treatment) -> String {
    match t {
        Treatment::Unpacked(c) => format!("unpacked ({})", c.as_str()),
        Treatment::Copied { reason } => format!("copied as a file: {reason}"),
    }
}
