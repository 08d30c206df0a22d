//! `layerproof rebuild`: `docker build` of a `FROM scratch` + `ADD rootfs.tar.gz /` Dockerfile,
//! without Docker — the layer, the config and the image, as a chosen engine writes them.
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use layerproof_archive::Timestamp;
use layerproof_archive::unpack::Hazard;
use layerproof_image::write::{DockerArchiveWriter, LayerCompression, LayerWriter, OciWriter};
use layerproof_layer::profile::OwnerNames;
use layerproof_layer::{NameTable, Profile};
use layerproof_verifier::classic_hash::{self, ContextFile};
use layerproof_verifier::config::{self, ConfigInputs, Engine, GoTime, RunValues};
use layerproof_verifier::dockerfile::{
    self, BuildOptions, BuilderKind, Context, CopyStep, Platform, StageOutcome,
};
use layerproof_verifier::rebuild::{self, Params, PlainFileMeta, Treatment, Unpacked};
use serde::Serialize;

use crate::Outcome;
use crate::util::Format;

/// The profile used when `--profile` is not given: the newest Docker engine.
const DEFAULT_PROFILE: &str = "docker-29.7";

/// Rebuild the image `docker build` makes of a `FROM scratch` Dockerfile whose one layer is
/// `ADD rootfs.tar.gz /` (or `COPY`), byte for byte, without Docker.
///
/// The layer is written as the chosen engine profile writes it (`layerproof profiles`), and the
/// image config and history as that engine's classic builder or BuildKit writes them. It prints
/// the diff_id, the image ID (the sha256 of the config) and every value that only a real run
/// decides, with the value assumed for it:
///
/// * the build time, stamped on directories the tarball does not list (--build-time);
/// * the `created` times of the image and of each history entry (--created);
/// * classic builder: the daemon's version string (--docker-version), the ID of the container
///   the last step ran in and of the previous step's image (invented unless taken from a
///   published config with --run-values-from).
///
/// With --run-values-from CONFIG.json (a published image's config) every run-dependent value is
/// taken from it, so the image ID equals the published one when everything else matches.
///
/// Exit status: 0 built, 1 Docker would refuse the ADD (its reason is printed), 2 bad
/// invocation or unreadable input.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  # the example shipped in the repository, as Docker 20.10's classic builder, loadable by docker
  layerproof rebuild --dockerfile examples/tiny/Dockerfile --profile docker-20.10-debian \\
      --builder classic --output docker-archive:tiny.tar
  docker load -i tiny.tar          # prints the image ID layerproof printed

  # an OCI layout, BuildKit on Docker 26.1, build time taken from a published layer
  layerproof rebuild --profile docker-24-27 --builder buildkit \\
      --build-time 2024-05-01T12:00:00Z --output oci:out

  # reproduce a published image's ID: take created times, container ID and docker_version
  # from its config
  layerproof rebuild --run-values-from published-config.json --profile docker-20.10-debian \\
      --builder classic --format json

Profiles: `layerproof profiles` lists them. Engine versions: the config shape follows the
profile's engine (docker-20.10*, 23.0, 26.1 for docker-24-27, 28.5, 29.7) unless
--engine-version is given.")]
pub struct Args {
    /// The Dockerfile.
    #[arg(long, value_name = "FILE", default_value = "Dockerfile")]
    pub dockerfile: PathBuf,
    /// The build context [default: the Dockerfile's folder].
    #[arg(long, value_name = "DIR")]
    pub context: Option<PathBuf>,
    /// A build argument, as `docker build --build-arg` (repeatable).
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// The engine profile (see `layerproof profiles`).
    #[arg(long, value_name = "NAME", default_value = DEFAULT_PROFILE)]
    pub profile: String,
    /// The builder whose config and history are written [default: buildkit for engines from
    /// 23.0 on, classic before].
    #[arg(long, value_enum)]
    pub builder: Option<BuilderArg>,
    /// The engine version whose config shape is written (`26.1`, or a full `docker_version`
    /// such as `26.1.5+dfsg1`) [default: the profile's].
    #[arg(long, value_name = "VERSION")]
    pub engine_version: Option<String>,
    /// The build's wall clock: RFC 3339 (`2024-05-01T12:00:00Z`) or Unix seconds. Stamped on
    /// directories the tarball does not list, and (unless --created) on `created`.
    #[arg(long, value_name = "TIME", default_value = "0")]
    pub build_time: String,
    /// The `created` time of the image and of every history entry [default: --build-time].
    #[arg(long, value_name = "TIME")]
    pub created: Option<String>,
    /// Classic builder: the `docker_version` written [default: the profile engine's].
    #[arg(long, value_name = "VERSION")]
    pub docker_version: Option<String>,
    /// Take every run-dependent value (created times, container ID, previous image ID,
    /// docker_version) from a published image config (JSON file).
    #[arg(long, value_name = "CONFIG.json", conflicts_with_all = ["created", "docker_version"])]
    pub run_values_from: Option<PathBuf>,
    /// Uid/gid names for profiles that look them up (docker-20.10-debian): `rootfs` (the
    /// tarball's /etc/passwd and /etc/group) or `host` (this machine's, as the daemon did).
    #[arg(long, value_enum, default_value_t = NamesFrom::Rootfs)]
    pub names_from: NamesFrom,
    /// The target platform (os/arch[/variant]) [default: this machine's, as docker build].
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// Write the image: `oci:DIR` (an OCI layout; DIR must not exist or be empty) or
    /// `docker-archive:FILE` (what `docker save` writes and `docker load` reads).
    #[arg(long, short = 'o', value_name = "oci:DIR|docker-archive:FILE")]
    pub output: Option<String>,
    /// OCI output: store layers gzip-compressed (flate2; not Docker's own gzip bytes) instead
    /// of as plain tar.
    #[arg(long)]
    pub gzip: bool,
    /// Tag recorded in the output (`RepoTags` of a docker-archive, ref name of an OCI layout).
    #[arg(long, value_name = "NAME")]
    pub tag: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    #[command(flatten)]
    pub limits: crate::limits::Limits,
}

/// `--builder`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BuilderArg {
    /// The classic builder (`DOCKER_BUILDKIT=0`).
    Classic,
    /// BuildKit.
    Buildkit,
}

/// `--names-from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NamesFrom {
    /// The tarball's own /etc/passwd and /etc/group.
    Rootfs,
    /// This machine's /etc/passwd and /etc/group.
    Host,
}

/// The JSON report (`layerproof.rebuild/v1`).
#[derive(Debug, Serialize)]
struct Report {
    schema: &'static str,
    dockerfile: String,
    context: String,
    builder: BuilderKind,
    profile: &'static str,
    engine: String,
    platform: String,
    /// `built` or `refused`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<RefusalOut>,
    layers: Vec<LayerOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<OutputOut>,
    /// Every value a real run decides, with the value used.
    assumed: Vec<Assumed>,
}

#[derive(Debug, Serialize)]
struct RefusalOut {
    line: usize,
    source: String,
    reason: String,
}

#[derive(Debug, Serialize)]
struct LayerOut {
    line: usize,
    instruction: String,
    source: String,
    /// `unpacked (gzip)` or `copied (not an archive: …)`.
    treatment: String,
    diff_id: String,
    size: u64,
    entries: u64,
    /// Directories the tarball does not list: they carry the build time.
    implied_directories: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    blob: Option<BlobOut>,
    /// Classic builder: the `file:<hash>` in the history line.
    #[serde(skip_serializing_if = "Option::is_none")]
    source_hash: Option<String>,
}

#[derive(Debug, Serialize)]
struct BlobOut {
    digest: String,
    size: u64,
    media_type: String,
}

#[derive(Debug, Serialize)]
struct OutputOut {
    kind: &'static str,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<String>,
}

#[derive(Debug, Serialize)]
struct Assumed {
    /// What it is (`build_time`, `history[0].created`, `container`, …).
    name: String,
    value: String,
    /// `option`, `default`, `derived`, `invented`, `published-config` or `context` (the build
    /// context decides it, not the run).
    source: &'static str,
    /// How to set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    set_with: Option<&'static str>,
}

enum Output {
    Oci(PathBuf),
    DockerArchive(PathBuf),
}

enum Writer {
    Oci(OciWriter),
    DockerArchive(DockerArchiveWriter),
}

fn parse_output(s: &str) -> anyhow::Result<Output> {
    if let Some(p) = s.strip_prefix("oci:").filter(|p| !p.is_empty()) {
        Ok(Output::Oci(PathBuf::from(p)))
    } else if let Some(p) = s.strip_prefix("docker-archive:").filter(|p| !p.is_empty()) {
        Ok(Output::DockerArchive(PathBuf::from(p)))
    } else {
        bail!("--output {s:?}: expected oci:DIR or docker-archive:FILE")
    }
}

/// RFC 3339 or Unix seconds (with an optional fraction).
fn parse_time(opt: &str, s: &str) -> anyhow::Result<GoTime> {
    let s = s.trim();
    if let Some(t) = parse_unix(s) {
        return Ok(t);
    }
    GoTime::parse(s).with_context(|| format!("{opt} {s:?}: expected RFC 3339 or Unix seconds"))
}

fn parse_unix(s: &str) -> Option<GoTime> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 9
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some(if neg {
        // -1.5 is 1.5 seconds before the epoch
        if nanos == 0 {
            GoTime::utc(-secs, 0)
        } else {
            GoTime::utc(-secs - 1, 1_000_000_000 - nanos)
        }
    } else {
        GoTime::utc(secs, nanos)
    })
}

/// The `docker_version` an engine of this profile writes (the observed builds where known).
fn default_docker_version(profile: &str, engine: &Engine) -> String {
    match profile {
        "docker-20.10-debian" => "20.10.24+dfsg1".into(),
        "docker-20.10" => "20.10.24".into(),
        "docker-24-27" if engine.major == 26 && engine.minor == 1 => "26.1.5".into(),
        _ => format!("{}.{}.0", engine.major, engine.minor),
    }
}

/// The ADD/COPY step this command rebuilds, resolved in the context.
struct Source {
    step: CopyStep,
    /// Path relative to the context root.
    rel: String,
    path: PathBuf,
}

fn check_step(dockerfile: &Path, ctx: &Path, step: &CopyStep) -> anyhow::Result<Source> {
    let at = format!("{}:{}", dockerfile.display(), step.span.start_line);
    let what = format!(
        "{} {} {}",
        step.instruction,
        step.sources.join(" "),
        step.dest
    );
    let unsupported = |why: &str| anyhow::anyhow!("{at}: {what}: not rebuilt: {why}");
    let one = layerproof_verifier::rebuild::single_source(step).map_err(|why| unsupported(&why))?;
    Ok(Source {
        step: step.clone(),
        rel: one.path.clone(),
        path: ctx.join(&one.path),
    })
}

/// The client's tar header of a context file: permission bits and, if set,
/// `security.capability`.
fn context_file(path: &Path, rel: &str) -> anyhow::Result<ContextFile> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    let mut f = ContextFile::new(rel, meta.permissions().mode() & 0o7777, meta.len());
    let mut buf = [0u8; 512];
    if let Ok(n) = rustix::fs::lgetxattr(path, "security.capability", &mut buf) {
        f.xattrs
            .insert("security.capability".into(), buf[..n.min(512)].to_vec());
    }
    Ok(f)
}

fn mtime_of(path: &Path) -> anyhow::Result<Timestamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
    Ok(Timestamp::from_secs(m.mtime()))
}

fn host_names() -> anyhow::Result<NameTable> {
    let read = |p: &str| std::fs::read(p).with_context(|| format!("reading {p}"));
    Ok(NameTable::from_passwd_group(
        &read("/etc/passwd")?,
        &read("/etc/group")?,
    ))
}

/// Run the subcommand.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    // --- what to build, and as which engine
    let profile = Profile::by_name(&args.profile).ok_or_else(|| {
        let names: Vec<&str> = Profile::all().iter().map(|p| p.name).collect();
        anyhow::anyhow!(
            "--profile {:?}: unknown; one of: {}",
            args.profile,
            names.join(", ")
        )
    })?;
    let mut assumed = Vec::new();
    let engine = match &args.engine_version {
        Some(v) => Engine::from_docker_version(v)
            .or_else(|| Engine::from_docker_version(&format!("{v}.0")))
            .with_context(|| format!("--engine-version {v:?}: expected MAJOR.MINOR[.PATCH]"))?,
        None => match Engine::for_profile(profile.name) {
            Some(e) => e,
            None => {
                let e = Engine::new(29, 7);
                assumed.push(Assumed {
                    name: "engine".into(),
                    value: format!(
                        "docker-29.7 (profile {} is not a Docker engine's own)",
                        profile.name
                    ),
                    source: "default",
                    set_with: Some("--engine-version"),
                });
                e
            }
        },
    };
    let builder = match args.builder {
        Some(BuilderArg::Classic) => BuilderKind::Classic,
        Some(BuilderArg::Buildkit) => BuilderKind::Buildkit,
        None => {
            let b = if engine.major >= 23 {
                BuilderKind::Buildkit
            } else {
                BuilderKind::Classic
            };
            assumed.push(Assumed {
                name: "builder".into(),
                value: format!("{b:?}").to_lowercase(),
                source: "default",
                set_with: Some("--builder"),
            });
            b
        }
    };
    let platform_text = match &args.platform {
        Some(p) => p.clone(),
        None => {
            let h = layerproof_image::Platform::host();
            let t = match &h.variant {
                Some(v) => format!("{}/{}/{v}", h.os, h.architecture),
                None => format!("{}/{}", h.os, h.architecture),
            };
            assumed.push(Assumed {
                name: "platform".into(),
                value: t.clone(),
                source: "default",
                set_with: Some("--platform"),
            });
            t
        }
    };
    layerproof_image::Platform::parse(&platform_text)
        .with_context(|| format!("--platform {platform_text:?}"))?;
    let platform = Platform::parse(&platform_text)
        .with_context(|| format!("--platform {platform_text:?}: expected os/arch[/variant]"))?;
    let output = args.output.as_deref().map(parse_output).transpose()?;
    if args.gzip && !matches!(output, Some(Output::Oci(_))) {
        bail!("--gzip applies to --output oci:DIR only");
    }
    let build_time = parse_time("--build-time", &args.build_time)?;
    assumed.push(Assumed {
        name: "build_time".into(),
        value: build_time.to_string(),
        source: if args.build_time.trim() == "0" {
            "default"
        } else {
            "option"
        },
        set_with: Some("--build-time"),
    });

    // --- the Dockerfile
    let text = std::fs::read_to_string(&args.dockerfile)
        .with_context(|| format!("{}: cannot read the Dockerfile", args.dockerfile.display()))?;
    let df = dockerfile::parse(&text).with_context(|| format!("{}", args.dockerfile.display()))?;
    let ctx_dir = args.context.clone().unwrap_or_else(|| {
        args.dockerfile
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), PathBuf::from)
    });
    let ctx = Context::read_dir(&ctx_dir)
        .with_context(|| format!("{}: cannot read the build context", ctx_dir.display()))?;
    let opts = BuildOptions {
        builder,
        build_args: crate::util::parse_build_args(&args.build_args)?,
        platform: platform.clone(),
        build_platform: None,
        target: None,
    };
    let ev = dockerfile::evaluate(&df, &opts, Some(&ctx))
        .with_context(|| format!("{}", args.dockerfile.display()))?;
    let model = match ev.stages.get(ev.target).map(|s| &s.outcome) {
        Some(StageOutcome::Image(m)) => (**m).clone(),
        Some(StageOutcome::OutOfScope(o)) => bail!(
            "{}:{}: {}: not rebuilt: {}",
            args.dockerfile.display(),
            o.span.start_line,
            o.instruction,
            o.reason
        ),
        _ => bail!(
            "{}: the target stage is not built",
            args.dockerfile.display()
        ),
    };
    let sources: Vec<Source> = model
        .layers
        .iter()
        .map(|s| check_step(&args.dockerfile, &ctx_dir, s))
        .collect::<anyhow::Result<_>>()?;
    if sources.len() > 1 {
        bail!(
            "{}: {} layers; layerproof rebuilds images with one ADD/COPY layer (lines {})",
            args.dockerfile.display(),
            sources.len(),
            sources
                .iter()
                .map(|s| s.step.span.start_line.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    let mut report = Report {
        schema: "layerproof.rebuild/v1",
        dockerfile: args.dockerfile.display().to_string(),
        context: ctx_dir.display().to_string(),
        builder,
        profile: profile.name,
        engine: format!("docker-{}.{}", engine.major, engine.minor),
        platform: platform.format(),
        outcome: "built",
        refusal: None,
        layers: Vec::new(),
        image_id: None,
        output: None,
        assumed,
    };

    // --- the layer
    let mut limits = layerproof_archive::source::Options::default();
    args.limits.apply(&mut limits);
    let mut writer: Option<Writer> = None;
    let mut diff_ids = Vec::new();
    let mut source_hashes = Vec::new();
    for src in &sources {
        let path = src.path.clone();
        let open = move || -> io::Result<Box<dyn Read + Send>> {
            Ok(Box::new(BufReader::with_capacity(
                1 << 16,
                File::open(&path)?,
            )))
        };
        let name = src.rel.rsplit('/').next().unwrap_or(&src.rel).to_string();
        let cf = context_file(&src.path, &src.rel)?;
        let mut params = Params::new(profile, name.as_bytes().to_vec());
        params.build_time = Timestamp::from_secs(build_time.unix);
        params.limits = limits.clone();
        params.memory_budget = limits.unpack.memory_budget;
        params.unpack = src.step.unpack;
        params.plain_file = PlainFileMeta {
            perm: cf.mode,
            mtime: mtime_of(&src.path)?,
        };
        let mut prepared = match rebuild::unpack(&open, &params)
            .with_context(|| format!("{}", src.path.display()))?
        {
            Unpacked::Refused(r) => {
                report.outcome = "refused";
                report.refusal = Some(RefusalOut {
                    line: src.step.span.start_line,
                    source: src.rel.clone(),
                    reason: r.message.clone(),
                });
                return finish(&args, &report, Outcome::Negative);
            }
            Unpacked::Tree(p) => p,
        };
        if profile.owner_names.value == OwnerNames::Lookup {
            let (names, from) = match args.names_from {
                NamesFrom::Rootfs => (
                    NameTable::from_tree(&prepared.tree)
                        .with_context(|| format!("{}: /etc/passwd", src.path.display()))?,
                    "the tarball's /etc/passwd and /etc/group",
                ),
                NamesFrom::Host => (host_names()?, "this machine's /etc/passwd and /etc/group"),
            };
            report.assumed.push(Assumed {
                name: "uid/gid names".into(),
                value: format!("{from}: {}", names.describe()),
                source: if args.names_from == NamesFrom::Rootfs {
                    "default"
                } else {
                    "option"
                },
                set_with: Some("--names-from"),
            });
            params.names = Some(names);
        }
        let implied = prepared
            .hazards
            .iter()
            .filter(|h| matches!(h, Hazard::ImpliedDirectory { .. }))
            .count();
        let treatment = match &prepared.treatment {
            Treatment::Unpacked(c) => format!("unpacked ({c})"),
            Treatment::Copied { reason } => {
                // a copied file keeps its mode and mtime from the build context
                report.assumed.push(Assumed {
                    name: format!("mode and mtime of the copied {}", src.rel),
                    value: format!(
                        "{:04o}, {}",
                        params.plain_file.perm,
                        GoTime::utc(params.plain_file.mtime.sec, 0)
                    ),
                    source: "context",
                    set_with: None,
                });
                format!("copied ({reason})")
            }
        };
        if writer.is_none() {
            writer = match &output {
                None => None,
                Some(Output::Oci(d)) => Some(Writer::Oci(
                    OciWriter::create(d)
                        .with_context(|| format!("--output oci:{}", d.display()))?,
                )),
                Some(Output::DockerArchive(f)) => Some(Writer::DockerArchive(
                    DockerArchiveWriter::create(f)
                        .with_context(|| format!("--output docker-archive:{}", f.display()))?,
                )),
            };
        }
        let compression = if args.gzip {
            LayerCompression::Gzip
        } else {
            LayerCompression::None
        };
        let (summary, blob) = match &mut writer {
            None => {
                let (_, s) = rebuild::write(&mut prepared, &params, io::sink())?;
                (s, None)
            }
            Some(w) => {
                let lw: LayerWriter = match w {
                    Writer::Oci(o) => o.layer(compression)?,
                    Writer::DockerArchive(d) => d.layer()?,
                };
                let (lw, s) = rebuild::write(&mut prepared, &params, lw)?;
                let b = match w {
                    Writer::Oci(o) => o.add_layer(lw)?,
                    Writer::DockerArchive(d) => d.add_layer(lw)?,
                };
                (s, Some(b))
            }
        };
        if builder == BuilderKind::Classic {
            report.assumed.push(Assumed {
                name: format!("mode of {} in the context (source hash)", src.rel),
                value: format!("{:04o}", cf.mode),
                source: "context",
                set_with: None,
            });
        }
        let source_hash = if builder == BuilderKind::Classic {
            let f = File::open(&src.path).with_context(|| format!("{}", src.path.display()))?;
            Some(
                classic_hash::file_hash(&cf, engine.context_tar(), BufReader::new(f))
                    .with_context(|| format!("{}", src.path.display()))?,
            )
        } else {
            None
        };
        if implied > 0 {
            report.assumed.push(Assumed {
                name: format!("mtime of {implied} implied directories"),
                value: Timestamp::from_secs(build_time.unix).sec.to_string(),
                source: "derived",
                set_with: Some("--build-time"),
            });
        }
        diff_ids.push(summary.diff_id.clone());
        source_hashes.push(source_hash.clone());
        report.layers.push(LayerOut {
            line: src.step.span.start_line,
            instruction: src.step.instruction.clone(),
            source: src.rel.clone(),
            treatment,
            diff_id: summary.diff_id.clone(),
            size: summary.size,
            entries: summary.entries,
            implied_directories: implied,
            blob: blob.map(|b| BlobOut {
                digest: b.digest.to_string(),
                size: b.size,
                media_type: b.media_type,
            }),
            source_hash,
        });
    }

    // --- the config
    let run = run_values(
        &args,
        &model,
        builder,
        profile.name,
        &engine,
        build_time,
        &mut report,
    )?;
    let inputs = ConfigInputs {
        model: &model,
        builder,
        engine,
        diff_ids: &diff_ids,
        source_hashes: &source_hashes,
    };
    let config = match config::image_config(&inputs, &run) {
        Ok(c) => c,
        Err(config::Error::MissingRunValue(what)) if what.starts_with("config.Image") => {
            // the previous step ran in a container whose ID only a real build knows
            let mut run = run;
            let invented = format!(
                "sha256:{}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                    format!("layerproof parent image {}", diff_ids.join(",")).as_bytes()
                ))
            );
            report.assumed.push(Assumed {
                name: "config.Image (previous step's image ID)".into(),
                value: invented.clone(),
                source: "invented",
                set_with: Some("--run-values-from"),
            });
            run.parent_image = Some(invented);
            config::image_config(&inputs, &run)?
        }
        Err(e) => return Err(e.into()),
    };
    let image_id = config::image_id(&config);
    report.image_id = Some(image_id);

    // --- the image
    let writer = match writer.take() {
        Some(w) => Some(w),
        // no layer: the writer is created only now
        None => match &output {
            Some(Output::Oci(d)) => Some(Writer::Oci(
                OciWriter::create(d).with_context(|| format!("--output oci:{}", d.display()))?,
            )),
            Some(Output::DockerArchive(f)) => Some(Writer::DockerArchive(
                DockerArchiveWriter::create(f)
                    .with_context(|| format!("--output docker-archive:{}", f.display()))?,
            )),
            None => None,
        },
    };
    if let Some(w) = writer {
        let written = match w {
            Writer::Oci(o) => {
                let p = layerproof_image::Platform::parse(&platform_text)?;
                o.finish(&config, Some(&p), args.tag.as_deref())?
            }
            Writer::DockerArchive(d) => {
                let tags: Vec<String> = args.tag.iter().cloned().collect();
                d.finish(&config, &tags)?
            }
        };
        report.output = Some(OutputOut {
            kind: match &output {
                Some(Output::Oci(_)) => "oci",
                _ => "docker-archive",
            },
            path: written.path.display().to_string(),
            manifest: written.manifest.map(|m| m.digest.to_string()),
        });
    }
    finish(&args, &report, Outcome::Success)
}

/// The run-dependent values: from a published config, or assumed (and reported).
fn run_values(
    args: &Args,
    model: &dockerfile::ImageModel,
    builder: BuilderKind,
    profile: &str,
    engine: &Engine,
    build_time: GoTime,
    report: &mut Report,
) -> anyhow::Result<RunValues> {
    if let Some(p) = &args.run_values_from {
        let bytes = std::fs::read(p).with_context(|| format!("{}", p.display()))?;
        let run = RunValues::from_published(&bytes).with_context(|| format!("{}", p.display()))?;
        if run.history_created.len() != model.history.len() {
            bail!(
                "{}: the published history has {} entries, the Dockerfile makes {}",
                p.display(),
                run.history_created.len(),
                model.history.len()
            );
        }
        for (i, t) in run.history_created.iter().enumerate() {
            report.assumed.push(Assumed {
                name: format!("history[{i}].created"),
                value: t.to_string(),
                source: "published-config",
                set_with: Some("--run-values-from"),
            });
        }
        if builder == BuilderKind::Classic {
            for (name, v) in [
                ("docker_version", Some(run.docker_version.clone())),
                ("container", run.container.clone()),
                ("config.Image", run.parent_image.clone()),
            ] {
                if let Some(v) = v {
                    report.assumed.push(Assumed {
                        name: name.into(),
                        value: v,
                        source: "published-config",
                        set_with: Some("--run-values-from"),
                    });
                }
            }
        }
        return Ok(run);
    }
    let (created, how) = match &args.created {
        Some(c) => (parse_time("--created", c)?, "option"),
        None => (build_time, "derived"),
    };
    report.assumed.push(Assumed {
        name: "created (image and every history entry)".into(),
        value: created.to_string(),
        source: how,
        set_with: Some("--created"),
    });
    let docker_version = if builder == BuilderKind::Classic {
        let (v, how) = match &args.docker_version {
            Some(v) => (v.clone(), "option"),
            None => (default_docker_version(profile, engine), "default"),
        };
        report.assumed.push(Assumed {
            name: "docker_version".into(),
            value: v.clone(),
            source: how,
            set_with: Some("--docker-version"),
        });
        v
    } else {
        String::new()
    };
    let seed = format!("{created} {}", model.history.len());
    let mut run = RunValues::uniform(model.history.len(), created, &docker_version, &seed);
    let last_is_layer = model
        .layers
        .iter()
        .any(|l| l.history_index + 1 == model.history.len() && l.instruction != "WORKDIR");
    if builder == BuilderKind::Classic && !model.history.is_empty() && !last_is_layer {
        if let Some(c) = &run.container {
            report.assumed.push(Assumed {
                name: "container (the last step's build container)".into(),
                value: c.clone(),
                source: "invented",
                set_with: Some("--run-values-from"),
            });
        }
    } else {
        run.container = None;
    }
    Ok(run)
}

fn finish(args: &Args, report: &Report, outcome: Outcome) -> anyhow::Result<Outcome> {
    let mut out = io::stdout().lock();
    match args.format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(report)?;
            text.push('\n');
            out.write_all(text.as_bytes())?;
        }
        Format::Human => human(&mut out, report)?,
    }
    out.flush()?;
    Ok(outcome)
}

fn human(out: &mut impl Write, r: &Report) -> io::Result<()> {
    let builder = match r.builder {
        BuilderKind::Classic => "classic builder",
        BuilderKind::Buildkit => "BuildKit",
    };
    writeln!(
        out,
        "{} as {} on {} (profile {}), {}",
        r.dockerfile, builder, r.engine, r.profile, r.platform
    )?;
    if let Some(f) = &r.refusal {
        writeln!(
            out,
            "refused: Docker would refuse the step on line {} ({}): {}",
            f.line, f.source, f.reason
        )?;
        return Ok(());
    }
    for (i, l) in r.layers.iter().enumerate() {
        writeln!(
            out,
            "layer {}: {} {} (line {}), {}",
            i + 1,
            l.instruction,
            l.source,
            l.line,
            l.treatment
        )?;
        writeln!(out, "  diff_id   {}", l.diff_id)?;
        writeln!(out, "  size      {} bytes, {} entries", l.size, l.entries)?;
        if let Some(b) = &l.blob {
            writeln!(
                out,
                "  blob      {} ({}, {} bytes)",
                b.digest, b.media_type, b.size
            )?;
        }
        if let Some(h) = &l.source_hash {
            writeln!(out, "  source    {h}")?;
        }
        if l.implied_directories > 0 {
            writeln!(
                out,
                "  note      {} directories are not in the tarball: they carry the build time",
                l.implied_directories
            )?;
        }
    }
    if r.layers.is_empty() {
        writeln!(out, "no layer")?;
    }
    if let Some(id) = &r.image_id {
        writeln!(out, "image ID  {id}")?;
    }
    if let Some(o) = &r.output {
        write!(out, "written   {}:{}", o.kind, o.path)?;
        if let Some(m) = &o.manifest {
            write!(out, " (manifest {m})")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "assumed (a real build decides these):")?;
    for a in &r.assumed {
        write!(out, "  {:<44} {} [{}", a.name, a.value, a.source)?;
        if let Some(s) = a.set_with {
            write!(out, "; {s}")?;
        }
        writeln!(out, "]")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_both_spellings() {
        assert_eq!(parse_time("t", "0").unwrap(), GoTime::utc(0, 0));
        assert_eq!(
            parse_time("t", "1700000000.25").unwrap(),
            GoTime::utc(1_700_000_000, 250_000_000)
        );
        assert_eq!(
            parse_time("t", "-1.5").unwrap(),
            GoTime::utc(-2, 500_000_000)
        );
        assert_eq!(
            parse_time("t", "2023-11-14T22:13:20Z").unwrap(),
            GoTime::utc(1_700_000_000, 0)
        );
        assert!(parse_time("t", "yesterday").is_err());
        assert!(parse_time("t", "1.").is_ok());
        assert!(parse_time("t", ".5").is_err());
    }

    #[test]
    fn outputs_parse() {
        assert!(matches!(parse_output("oci:x"), Ok(Output::Oci(_))));
        assert!(matches!(
            parse_output("docker-archive:x.tar"),
            Ok(Output::DockerArchive(_))
        ));
        assert!(parse_output("x.tar").is_err());
        assert!(parse_output("oci:").is_err());
    }
}
