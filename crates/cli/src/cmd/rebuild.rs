//! `layerproof rebuild`: `docker build` of a `FROM scratch` + `ADD rootfs.tar.gz /` Dockerfile,
//! without Docker. The workflow is `layerproof_verifier::build::rebuild`; this file parses the
//! arguments into its request and renders its report.
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use layerproof_image::Platform;
use layerproof_image::write::{LayerCompression, Target};
use layerproof_layer::Profile;
use layerproof_verifier::build::{self, BuildOutcome, BuildReport, BuildRequest};
use layerproof_verifier::config::{Engine, GoTime};
use layerproof_verifier::dockerfile::BuilderKind;

use crate::Outcome;
use crate::util::Format;

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
    #[arg(long, value_name = "NAME", default_value = Profile::newest().name)]
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

fn parse_output(s: &str) -> anyhow::Result<Target> {
    if let Some(p) = s.strip_prefix("oci:").filter(|p| !p.is_empty()) {
        Ok(Target::Oci(PathBuf::from(p)))
    } else if let Some(p) = s.strip_prefix("docker-archive:").filter(|p| !p.is_empty()) {
        Ok(Target::DockerArchive(PathBuf::from(p)))
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

/// `--engine-version`: `26.1` or a full `docker_version`.
fn parse_engine(v: &str) -> anyhow::Result<Engine> {
    Engine::from_docker_version(v)
        .or_else(|| Engine::from_docker_version(&format!("{v}.0")))
        .with_context(|| format!("--engine-version {v:?}: expected MAJOR.MINOR[.PATCH]"))
}

/// The library's request from the arguments.
fn request(args: &Args) -> anyhow::Result<BuildRequest> {
    let profile = crate::util::profile_by_name(&args.profile, "one of")?;
    let mut req = BuildRequest::new(&args.dockerfile, profile);
    req.engine = args
        .engine_version
        .as_deref()
        .map(parse_engine)
        .transpose()?;
    req.builder = args.builder.map(|b| match b {
        BuilderArg::Classic => BuilderKind::Classic,
        BuilderArg::Buildkit => BuilderKind::Buildkit,
    });
    req.platform = match &args.platform {
        Some(p) => Some(Platform::parse(p).with_context(|| format!("--platform {p:?}"))?),
        None => None,
    };
    req.output = args.output.as_deref().map(parse_output).transpose()?;
    if args.gzip && !matches!(req.output, Some(Target::Oci(_))) {
        bail!("--gzip applies to --output oci:DIR only");
    }
    if args.gzip {
        req.compression = LayerCompression::Gzip;
    }
    // the default is reported as such, not as an option
    if args.build_time.trim() != "0" {
        req.build_time = Some(parse_time("--build-time", &args.build_time)?);
    }
    req.created = args
        .created
        .as_deref()
        .map(|c| parse_time("--created", c))
        .transpose()?;
    req.context = args.context.clone();
    req.build_args = crate::util::parse_build_args(&args.build_args)?;
    req.docker_version = args.docker_version.clone();
    req.run_values_from = args.run_values_from.clone();
    req.names_from = match args.names_from {
        NamesFrom::Rootfs => build::NamesFrom::Rootfs,
        NamesFrom::Host => build::NamesFrom::Host,
    };
    req.tag = args.tag.clone();
    args.limits.apply(&mut req.limits);
    Ok(req)
}

/// Run the subcommand.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let report = build::rebuild(&request(&args)?)?;
    let mut out = io::stdout().lock();
    match args.format {
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&report)?;
            text.push('\n');
            out.write_all(text.as_bytes())?;
        }
        Format::Human => human(&mut out, &report)?,
    }
    out.flush()?;
    Ok(match report.outcome {
        BuildOutcome::Built => Outcome::Success,
        BuildOutcome::Refused => Outcome::Negative,
    })
}

fn human(out: &mut impl Write, r: &BuildReport) -> io::Result<()> {
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
        assert!(matches!(parse_output("oci:x"), Ok(Target::Oci(_))));
        assert!(matches!(
            parse_output("docker-archive:x.tar"),
            Ok(Target::DockerArchive(_))
        ));
        assert!(parse_output("x.tar").is_err());
        assert!(parse_output("oci:").is_err());
    }
}
