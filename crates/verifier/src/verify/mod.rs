//! `layerproof verify`: rebuild every layer of a Dockerfile's image and grade it against a
//! published image.
//!
//! [`verify`] reads the inputs and the image, then verifies each selected platform
//! (`platform`): it reads the config once (its digest is the image ID), tells the builder
//! from its history (`evidence`), evaluates the Dockerfile for that builder and platform, and
//! pairs each layer-producing step with a published layer. Each pair goes through the stages
//! of `layer`:
//!
//! 1. **Streamed**, for a published layer stored uncompressed on disk ([`crate::streamed`]):
//!    its headers are read, the source is unpacked once with its bodies hashed in layer order,
//!    and the candidates' headers are compared with the published ones. Anything unusual gives
//!    up, and the layer is read whole.
//! 2. **Scan both sides**, on three threads: the published blob is read once (digest verified,
//!    decompressed, diff_id hashed, every entry scanned), the source's digests are taken
//!    (`sources`), and the source is unpacked by Docker's `ADD` rules for the likeliest
//!    profile, keeping only body digests.
//! 3. **Rank** the engine profiles by what the published layer and config show.
//! 4. **Skeleton pass**: each candidate encodes its headers only; an equal skeleton is an
//!    equal layer.
//! 5. **Bytes pass**, when no skeleton matched: the source is unpacked again with its bodies
//!    and each candidate writes and hashes its whole layer.
//! 6. **Explain** the closest candidate when none matched ([`crate::explain`]).
//!
//! A reproduced layer then goes to the blob level ([`crate::blob`]). The few free parameters
//! (implied directories' wall-clock mtimes, the uid/gid → name table of engines that look names
//! up, a copied file's mtime) are taken from the published layer by [`crate::infer`] and
//! reported; content never is.
//!
//! Verdicts, strongest first: `reproduced` (level `blob` or `diff_id`), `content-equivalent`,
//! `different`, `not-buildable`.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::PathBuf;
use std::time::Instant;

use layerproof_archive::compression::{self, Compression};
use layerproof_dockerfile::{self as dockerfile, Context};
use layerproof_image::{
    DEFAULT_MAX_MANIFEST, ImageRef, ImageSource, OpenOptions, PlatformSelector,
};
use layerproof_image::{Descriptor, chain};
use layerproof_layer::Profile;

use crate::checksum;
use crate::layerscan::{self, Scan};
use crate::rebuild;
use crate::report::{Input, PlatformReport, Role, SCHEMA, Timings, Tool, worst};
pub use crate::report::{Level, Report, Verdict};

mod closest;
mod evidence;
pub(crate) mod layer;
mod platform;
pub(crate) mod sources;

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
    /// Re-encode compressed layers to reach level `blob` (one compression pass per try).
    pub blob_level: bool,
    /// Compare a published layer stored uncompressed on disk by streaming our rebuild against
    /// its headers ([`crate::streamed`]), without reading its bodies. `false` reads every
    /// published layer whole, which also checks the local blob file against its digest.
    pub streamed: bool,
    /// Limits for untrusted input: decompression and the tar reader's limits apply to sources
    /// and published layers alike, the unpack limits (with the memory for file bodies before
    /// they spill to a temporary file) to sources.
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
    /// A tarball to compare could not be scanned (the rootfs of an oci-import).
    #[error("{path}: {source}")]
    Scan {
        /// The tarball.
        path: PathBuf,
        /// Why.
        source: Box<layerscan::ScanError>,
    },
    /// Writing our layer to a temporary file, or reading it back, failed.
    #[error("temporary file: {0}")]
    Temp(io::Error),
    /// Our own layer, read back from its temporary file, does not scan.
    #[error("our layer, read back: {0}")]
    OwnLayer(Box<layerscan::ScanError>),
    /// A failure of layerproof itself, not of its input: a worker thread panicked, or no
    /// candidate could be explained.
    #[error("internal error: {0}")]
    Internal(String),
    /// A checksum file next to the tarball disagrees with it.
    #[error("{path}: {message}")]
    Checksum {
        /// The tarball.
        path: PathBuf,
        /// What disagrees.
        message: String,
    },
}

/// What every platform and layer of one run shares.
pub(crate) struct Run<'a> {
    pub(crate) req: &'a Request,
    df: &'a dockerfile::Dockerfile,
    context: &'a Context,
    pub(crate) src: &'a dyn ImageSource,
    pub(crate) progress: &'a dyn Progress,
    /// The memory budget of each source tree: the request's, shared by the platforms
    /// verified at the same time.
    pub(crate) memory_budget: u64,
    /// Threads for one blob-level check: the cores, shared by the platforms verified at the
    /// same time.
    pub(crate) encode_threads: usize,
}

/// Verify `req`.
pub fn verify(req: &Request, progress: &dyn Progress) -> Result<Report, Error> {
    let started = Instant::now();
    let (df, mut inputs) = read_inputs(req)?;
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
        role: Role::Image,
        name: chain.reference.clone(),
        digest: chain.shown_by.docker_pull.as_ref().map(ToString::to_string),
        size: None,
    });
    let images = chain.images();

    let concurrent = rayon::current_num_threads().min(images.len()).max(1);
    let run = Run {
        req,
        df: &df,
        context: &context,
        src: src.as_ref(),
        progress,
        memory_budget: req.limits.unpack.memory_budget / concurrent as u64,
        encode_threads: (std::thread::available_parallelism().map_or(1, |n| n.get()) / concurrent)
            .max(1),
    };
    let results: Vec<Result<(PlatformReport, sources::Sources), Error>> = if images.len() > 1 {
        use rayon::prelude::*;
        images
            .par_iter()
            .map(|img| run.verify_platform(img))
            .collect()
    } else {
        images.iter().map(|img| run.verify_platform(img)).collect()
    };
    let mut reports = Vec::new();
    let mut hashed = sources::Sources::new();
    for r in results {
        let (report, digests) = r?;
        reports.push(report);
        hashed.extend(digests);
    }
    for (path, d) in hashed {
        inputs.push(Input {
            role: Role::Source,
            name: path,
            digest: Some(d.sha256.to_string()),
            size: Some(d.size),
        });
    }
    let (verdict, level) = worst(reports.iter().map(|r| (r.verdict, r.level)));
    let platform = reports
        .iter()
        .map(|r| r.platform.as_str())
        .collect::<Vec<_>>()
        .join(",");
    Ok(Report {
        schema: SCHEMA,
        tool: Tool {
            name: "layerproof",
            version: env!("CARGO_PKG_VERSION"),
        },
        verdict,
        level,
        inputs,
        platform,
        multi_platform: matches!(req.platforms, PlatformSelector::All) || reports.len() > 1,
        platforms: reports,
        timings: Timings {
            total_ms: started.elapsed().as_millis() as u64,
        },
    })
}

/// The Dockerfile to evaluate (for an import, `FROM scratch`) and the inputs read for it, with
/// their digests: the Dockerfile, or the rootfs tarball and the checksum file that vouches for it.
fn read_inputs(req: &Request) -> Result<(dockerfile::Dockerfile, Vec<Input>), Error> {
    let mut inputs = Vec::new();
    let df = match &req.rootfs {
        Some(rootfs) => {
            let (digest, size) = sources::sha256_file(rootfs)?;
            let checked =
                checksum::verify_beside(rootfs, &digest.hex()).map_err(|e| Error::Checksum {
                    path: rootfs.clone(),
                    message: e,
                })?;
            inputs.push(Input {
                role: Role::Rootfs,
                name: rootfs.display().to_string(),
                digest: Some(digest.to_string()),
                size: Some(size),
            });
            if let Some(c) = checked {
                inputs.push(Input {
                    role: Role::Checksum,
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
            let (df_digest, df_size) = sources::sha256_file(&req.dockerfile)?;
            inputs.push(Input {
                role: Role::Dockerfile,
                name: req.dockerfile.display().to_string(),
                digest: Some(df_digest.to_string()),
                size: Some(df_size),
            });
            dockerfile::parse(&df_text).map_err(|e| Error::Dockerfile {
                path: req.dockerfile.clone(),
                message: e.to_string(),
            })?
        }
    };
    Ok((df, inputs))
}

/// The result of a worker thread of a scope; a thread that panicked is an internal failure
/// named after `what` the thread did.
pub(crate) fn joined<T>(
    t: std::thread::ScopedJoinHandle<'_, Result<T, Error>>,
    what: &str,
) -> Result<T, Error> {
    t.join()
        .unwrap_or_else(|_| Err(Error::Internal(format!("the {what} thread failed"))))
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

impl Run<'_> {
    /// Read a published blob once: verified against its digest, decompressed, diff_id hashed
    /// and every entry scanned.
    pub(super) fn scan_published(
        &self,
        desc: &Descriptor,
        what: &str,
    ) -> Result<(Scan, Compression), Error> {
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
            let d = compression::open(&mut counting, &self.req.limits.decompress)
                .map_err(|e| err(e.into()))?;
            let c = d.compression();
            (
                layerscan::scan(d, self.req.limits.read.clone()).map_err(err)?,
                c,
            )
        };
        // read to the end so the blob's digest and size are verified
        io::copy(&mut counting, &mut io::sink()).map_err(|e| err(e.into()))?;
        self.progress.finished(what);
        Ok((scan, compression))
    }
}
