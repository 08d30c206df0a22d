//! `docker build` of a `FROM scratch` + `ADD rootfs.tar.gz /` Dockerfile, without Docker: the
//! layer, the config and the image, as a chosen engine writes them ([`rebuild`]).
//!
//! The steps, in order:
//! 1. settle what the request leaves open (engine, builder, platform, build time), recording
//!    each default as [`Assumed`];
//! 2. evaluate the Dockerfile for that builder and platform ([`model::image_model`]) and
//!    resolve each layer step to its one context file ([`model::step_source`]);
//! 3. unpack the source under Docker's `ADD` rules and write the layer as the profile's engine
//!    does ([`crate::rebuild`]), into the image when one is written;
//! 4. the run-dependent values (from a published config, or assumed) and the config;
//! 5. the image ([`ImageWriter`]).
//!
//! "Docker would refuse this" is a report with [`BuildOutcome::Refused`], never an `Err`.
//! The report is the JSON format `layerproof.rebuild/v1` ([`BuildReport`]).
use std::collections::BTreeMap;
use std::path::PathBuf;

use layerproof_archive::source;
use layerproof_dockerfile::{self as dockerfile, BuildOptions, BuilderKind, Context};
use layerproof_image::Platform;
use layerproof_image::write::{ImageWriter, LayerCompression, Target};
use layerproof_layer::Profile;

use crate::config::{Engine, GoTime};

mod config;
mod layer;
pub mod model;
pub mod report;
mod settle;

pub use report::{
    Assumed, AssumedSource, BuildOutcome, BuildReport, BuiltLayer, RefusedStep, StoredBlob,
    WrittenImage,
};

/// What to build, and as which engine. `None` fields take a default, reported as
/// [`Assumed`].
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The Dockerfile.
    pub dockerfile: PathBuf,
    /// The build context [default: the Dockerfile's folder, [`model::default_context`]].
    pub context: Option<PathBuf>,
    /// Build arguments (`--build-arg`).
    pub build_args: BTreeMap<String, String>,
    /// The layer profile.
    pub profile: &'static Profile,
    /// The engine whose config shape is written [default: the profile's].
    pub engine: Option<Engine>,
    /// The builder [default: BuildKit from Docker 23.0 on, classic before].
    pub builder: Option<BuilderKind>,
    /// The target platform [default: this machine's, as `docker build`].
    pub platform: Option<Platform>,
    /// The build's wall clock, stamped on directories the tarball does not list [default: the
    /// epoch].
    pub build_time: Option<GoTime>,
    /// The `created` time of the image and of every history entry [default: the build time].
    pub created: Option<GoTime>,
    /// Classic builder: the `docker_version` written [default: the profile engine's].
    pub docker_version: Option<String>,
    /// A published image config to take every run-dependent value from (it overrides
    /// `created` and `docker_version`).
    pub run_values_from: Option<PathBuf>,
    /// Where uid/gid names come from, for profiles that look them up.
    pub names_from: NamesFrom,
    /// Where to write the image, if anywhere.
    pub output: Option<Target>,
    /// How an OCI layout stores layers.
    pub compression: LayerCompression,
    /// Tag recorded in the output.
    pub tag: Option<String>,
    /// Resource limits for reading the source.
    pub limits: source::Options,
}

impl BuildRequest {
    /// A request with every optional value left to its default.
    pub fn new(dockerfile: impl Into<PathBuf>, profile: &'static Profile) -> BuildRequest {
        BuildRequest {
            dockerfile: dockerfile.into(),
            context: None,
            build_args: BTreeMap::new(),
            profile,
            engine: None,
            builder: None,
            platform: None,
            build_time: None,
            created: None,
            docker_version: None,
            run_values_from: None,
            names_from: NamesFrom::Rootfs,
            output: None,
            compression: LayerCompression::None,
            tag: None,
            limits: source::Options::default(),
        }
    }
}

/// Where a profile that looks uid/gid names up (docker-20.10-debian) finds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamesFrom {
    /// The tarball's own /etc/passwd and /etc/group.
    Rootfs,
    /// This machine's /etc/passwd and /etc/group, as the daemon read its own.
    Host,
}

/// Why a rebuild failed (a refusal is not an error: see [`BuildOutcome::Refused`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Dockerfile cannot be read.
    #[error("{}: cannot read the Dockerfile", path.display())]
    ReadDockerfile {
        /// The Dockerfile.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The builder would refuse the Dockerfile.
    #[error("{}", path.display())]
    Dockerfile {
        /// The Dockerfile.
        path: PathBuf,
        /// Why.
        source: dockerfile::Error,
    },
    /// The build context cannot be read.
    #[error("{}: cannot read the build context", dir.display())]
    Context {
        /// The context directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A step is outside what is rebuilt.
    #[error("{}:{line}: {instruction}: not rebuilt: {reason}", path.display())]
    NotRebuilt {
        /// The Dockerfile.
        path: PathBuf,
        /// The step's line.
        line: usize,
        /// The step as written.
        instruction: String,
        /// Why.
        reason: String,
    },
    /// The target stage builds no image.
    #[error("{}: the target stage is not built", path.display())]
    TargetNotBuilt {
        /// The Dockerfile.
        path: PathBuf,
    },
    /// More than one layer step.
    #[error(
        "{}: {count} layers; layerproof rebuilds images with one ADD/COPY layer (lines {lines})",
        path.display()
    )]
    SeveralLayers {
        /// The Dockerfile.
        path: PathBuf,
        /// How many.
        count: usize,
        /// Their lines, comma-separated.
        lines: String,
    },
    /// A file cannot be read.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// This machine's user or group file cannot be read.
    #[error("reading {path}")]
    HostNames {
        /// `/etc/passwd` or `/etc/group`.
        path: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The source cannot be read or unpacked.
    #[error("{}", path.display())]
    Source {
        /// The source file.
        path: PathBuf,
        /// Why.
        source: crate::rebuild::Error,
    },
    /// The tarball's /etc/passwd or /etc/group cannot be read.
    #[error("{}: /etc/passwd", path.display())]
    Names {
        /// The source file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing the layer failed.
    #[error(transparent)]
    Layer(#[from] crate::rebuild::Error),
    /// The published config given for the run values is not usable.
    #[error("{}", path.display())]
    PublishedConfig {
        /// The config file.
        path: PathBuf,
        /// Why.
        source: crate::config::Error,
    },
    /// The published history and the Dockerfile's differ in length.
    #[error(
        "{}: the published history has {published} entries, the Dockerfile makes {ours}",
        path.display()
    )]
    HistoryLength {
        /// The config file.
        path: PathBuf,
        /// Entries in the published history.
        published: usize,
        /// Entries the Dockerfile makes.
        ours: usize,
    },
    /// Writing the config failed.
    #[error(transparent)]
    Config(#[from] crate::config::Error),
    /// The output cannot be created (named as the `--output` option of `layerproof rebuild`
    /// names it, as `Assumed::set_with` names options).
    #[error("--output {target}")]
    Output {
        /// Where.
        target: Target,
        /// Why.
        source: layerproof_image::Error,
    },
    /// Writing the image failed.
    #[error(transparent)]
    Image(#[from] layerproof_image::Error),
}

/// Rebuilds the image `req` describes: its layer, config and image ID, written to
/// `req.output` when given.
pub fn rebuild(req: &BuildRequest) -> Result<BuildReport, Error> {
    let mut assumed = Vec::new();
    let settled = settle::Settled::new(req, &mut assumed);
    let context = req
        .context
        .clone()
        .unwrap_or_else(|| model::default_context(&req.dockerfile));
    let (model, sources) = plan(req, &settled, &context)?;
    let mut report = BuildReport {
        schema: report::SCHEMA,
        dockerfile: req.dockerfile.display().to_string(),
        context: context.display().to_string(),
        builder: settled.builder,
        profile: req.profile.name,
        engine: format!("docker-{}.{}", settled.engine.major, settled.engine.minor),
        platform: settled.platform.to_string(),
        outcome: BuildOutcome::Built,
        refusal: None,
        layers: Vec::new(),
        image_id: None,
        output: None,
        assumed,
    };
    let mut writer = None;
    for src in &sources {
        match layer::build(req, &settled, src, &mut writer, &mut report.assumed)? {
            layer::Step::Built(l) => report.layers.push(l),
            layer::Step::Refused(r) => {
                report.outcome = BuildOutcome::Refused;
                report.refusal = Some(r);
                return Ok(report);
            }
        }
    }
    let diff_ids: Vec<String> = report.layers.iter().map(|l| l.diff_id.clone()).collect();
    let source_hashes: Vec<Option<String>> = report
        .layers
        .iter()
        .map(|l| l.source_hash.clone())
        .collect();
    let config = config::image_config(
        req,
        &settled,
        &model,
        &diff_ids,
        &source_hashes,
        &mut report.assumed,
    )?;
    report.image_id = Some(crate::config::image_id(&config));
    if let Some(target) = &req.output {
        // with no layer, the writer is created only now
        let writer = match writer {
            Some(w) => w,
            None => ImageWriter::create(target).map_err(|e| Error::Output {
                target: target.clone(),
                source: e,
            })?,
        };
        let written = writer.finish(&config, &settled.platform, req.tag.as_deref())?;
        report.output = Some(WrittenImage {
            kind: target.kind(),
            path: written.path.display().to_string(),
            manifest: written.manifest.map(|m| m.digest.to_string()),
        });
    }
    Ok(report)
}

/// The image model of the Dockerfile and the source of its one layer step.
fn plan(
    req: &BuildRequest,
    settled: &settle::Settled,
    context: &std::path::Path,
) -> Result<(dockerfile::ImageModel, Vec<model::StepSource>), Error> {
    let path = || req.dockerfile.clone();
    let text = std::fs::read_to_string(&req.dockerfile).map_err(|e| Error::ReadDockerfile {
        path: path(),
        source: e,
    })?;
    let df = dockerfile::parse(&text).map_err(|e| Error::Dockerfile {
        path: path(),
        source: e,
    })?;
    let ctx = Context::read_dir(context).map_err(|e| Error::Context {
        dir: context.to_path_buf(),
        source: e,
    })?;
    let opts = BuildOptions {
        builder: settled.builder,
        build_args: req.build_args.clone(),
        platform: settled.platform.clone(),
        build_platform: None,
        target: None,
    };
    let image = model::image_model(&df, &opts, &ctx).map_err(|e| match e {
        model::ModelError::Evaluate(e) => Error::Dockerfile {
            path: path(),
            source: e,
        },
        model::ModelError::OutOfScope {
            line,
            instruction,
            reason,
        } => Error::NotRebuilt {
            path: path(),
            line,
            instruction,
            reason,
        },
        model::ModelError::NotBuilt => Error::TargetNotBuilt { path: path() },
    })?;
    let sources = image
        .layers
        .iter()
        .map(|s| model::step_source(s, context))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::NotRebuilt {
            path: path(),
            line: e.line,
            instruction: e.instruction,
            reason: e.reason,
        })?;
    if sources.len() > 1 {
        return Err(Error::SeveralLayers {
            path: path(),
            count: sources.len(),
            lines: sources
                .iter()
                .map(|s| s.line.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok((image, sources))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(rel: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(rel)
    }

    fn request(dockerfile: &str) -> BuildRequest {
        let profile = Profile::preferred();
        let mut req = BuildRequest::new(repo(dockerfile), profile);
        req.platform = Some(Platform::parse("linux/amd64").expect("a platform"));
        req
    }

    #[test]
    fn defaults_are_reported_as_assumed() {
        let r = rebuild(&request("examples/tiny/Dockerfile")).unwrap();
        assert_eq!(r.outcome, BuildOutcome::Built);
        assert_eq!(r.layers.len(), 1);
        assert!(r.image_id.is_some());
        let names: Vec<&str> = r.assumed.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(&names[..2], ["builder", "build_time"]);
        assert_eq!(r.assumed[1].source, AssumedSource::Default);
    }

    #[test]
    fn a_refusal_is_a_report_not_an_error() {
        let r = rebuild(&request("testdata/oracle/dir-replaced-by-file/Dockerfile")).unwrap();
        assert_eq!(r.outcome, BuildOutcome::Refused);
        assert!(r.layers.is_empty() && r.image_id.is_none());
        assert!(r.refusal.is_some());
    }

    #[test]
    fn a_missing_dockerfile_is_an_error_naming_it() {
        let e = rebuild(&request("no/such/Dockerfile")).unwrap_err();
        assert!(matches!(e, Error::ReadDockerfile { .. }), "{e}");
        assert!(e.to_string().contains("no/such/Dockerfile"), "{e}");
    }
}
