//! `layerproof verify --image REF [--dockerfile F]`: the main job.
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context as _, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use layerproof_image::{ImageRef, OpenOptions, PlatformSelector};
use layerproof_verifier::report::{self, Style};
use layerproof_verifier::verify::{self, ProfileChoice, Request, Verdict};
use layerproof_verifier::{build, import};

use crate::Outcome;

/// Output format of `verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyFormat {
    /// Readable text: the verdict and its cause first.
    #[value(alias = "text")]
    Human,
    /// JSON, schema `layerproof.verify/v1` (docs/verify-json.md).
    Json,
    /// JUnit XML: one test case per platform × layer.
    Junit,
}

/// Prove — or disprove, with the reasons — that a published image was built from a Dockerfile
/// and the rootfs tarball it ADDs.
///
/// layerproof evaluates the Dockerfile the way the image's builder did (classic or BuildKit,
/// told from the image's history), rebuilds each ADD layer byte for byte as a Docker engine
/// writes it, without a daemon, and compares it with the published layer.
///
/// Verdicts, strongest first: reproduced (level blob: the published blob digest is ours;
/// level diff_id: the uncompressed layer is ours), content-equivalent (same files, owners,
/// modes, contents; only tar encoding differs), different (with every differing file named),
/// not-buildable (Docker itself would refuse the ADD).
///
/// Exit status: 0 reproduced, 1 any other verdict, 2 bad invocation or unreadable input.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  # the example shipped in the repository (an image saved by Docker 20.10)
  layerproof verify --dockerfile examples/tiny/Dockerfile \\
      --image docker-archive:examples/tiny/image-docker-20.10.tar

  # an image in a registry, every platform of its index, JSON for a nightly job
  layerproof verify --dockerfile Dockerfile --image docker://registry.example/ubuntu:24.04 \\
      --all-platforms --format json --output report.json

  # pin the engine instead of trying every profile (see `layerproof profiles`)
  layerproof verify --image oci:out:latest --profile docker-24-27")]
pub struct Args {
    /// The published image: docker-archive:PATH, oci:DIR[:TAG|@DIGEST], oci-archive:PATH,
    /// docker://HOST/REPO[:TAG][@DIGEST], or a bare name such as ubuntu:24.04.
    #[arg(long, value_name = "REF", required_unless_present = "rootfs")]
    pub image: Option<String>,
    /// The Dockerfile.
    #[arg(long, value_name = "FILE", default_value = "Dockerfile")]
    pub dockerfile: PathBuf,
    /// oci-import mode (today's ubuntu and debian images): the image's layer is this rootfs
    /// tarball's own tar stream, recompressed — no Dockerfile, no Docker re-tar. A
    /// `<TARBALL>.sha256` or `SHA256SUMS` beside it is checked first. Also accepts a
    /// debuerreotype-style directory (rootfs.tar.* and oci/; --image defaults to its oci/).
    #[arg(long, value_name = "TARBALL|DIR", conflicts_with_all = ["context", "build_args"])]
    pub rootfs: Option<PathBuf>,
    /// The build context [default: the Dockerfile's folder].
    #[arg(long, value_name = "DIR")]
    pub context: Option<PathBuf>,
    /// A build argument, as `docker build --build-arg` (repeatable). Per-platform arguments
    /// such as TARGETARCH are set from each platform automatically.
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// The platform to verify (os/arch[/variant]) [default: the host's, as docker pull].
    #[arg(long, value_name = "PLATFORM", conflicts_with = "all_platforms")]
    pub platform: Option<String>,
    /// Verify every platform of an index, in parallel.
    #[arg(long)]
    pub all_platforms: bool,
    /// The engine profile: `auto` tries every profile, most plausible first, and names the one
    /// that matches; or a name from `layerproof profiles`.
    #[arg(long, value_name = "auto|NAME", default_value = "auto")]
    pub profile: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = VerifyFormat::Human)]
    pub format: VerifyFormat,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Registry host reachable over plain HTTP (loopback hosts always are). Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
    /// Do not use or fill the local blob cache (each blob is still downloaded once: it is kept
    /// in a temporary directory removed when the run ends).
    #[arg(long)]
    pub no_cache: bool,
    /// Do not re-encode compressed layers to reach level blob: the verdict then stops at level
    /// diff_id. The re-encoding is one compression pass per layer — for a gzip blob written by
    /// Docker (Go's compress/flate), most of a registry verify's CPU time.
    #[arg(long)]
    pub skip_blob: bool,
    /// Read every published layer whole. By default a layer stored uncompressed in a local
    /// image (docker-archive, OCI layout) is proved by hashing our rebuild, with its bodies
    /// taken from the source as it streams, against the digest the manifest lists: the
    /// published file's headers are read and its bodies skipped. This flag reads and hashes
    /// them too, which also checks the local file against its digest.
    #[arg(long)]
    pub read_whole_layer: bool,
    /// Hide the progress display.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    // Last: its help heading applies to the options after it.
    #[command(flatten)]
    pub limits: crate::limits::Limits,
    #[command(flatten)]
    pub image_limits: crate::limits::ImageLimits,
}

/// Progress on standard error: a spinner per step, a bar per blob download.
struct Bars {
    multi: MultiProgress,
    step: ProgressBar,
    bytes: Mutex<BTreeMap<String, ProgressBar>>,
}

impl Bars {
    fn new() -> Bars {
        let multi = MultiProgress::new();
        let step = multi.add(ProgressBar::new_spinner());
        step.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        step.enable_steady_tick(Duration::from_millis(120));
        Bars {
            multi,
            step,
            bytes: Mutex::new(BTreeMap::new()),
        }
    }

    fn clear(&self) {
        if let Ok(mut m) = self.bytes.lock() {
            for (_, b) in std::mem::take(&mut *m) {
                b.finish_and_clear();
            }
        }
        self.step.finish_and_clear();
        let _ = self.multi.clear();
    }
}

impl verify::Progress for Bars {
    fn step(&self, platform: &str, message: &str) {
        if platform.is_empty() {
            self.step.set_message(message.to_string());
        } else {
            self.step.set_message(format!("{platform}: {message}"));
        }
    }

    fn bytes(&self, what: &str, done: u64, total: Option<u64>) {
        let Ok(mut m) = self.bytes.lock() else { return };
        let bar = m.entry(what.to_string()).or_insert_with(|| {
            let b = self.multi.add(ProgressBar::new(total.unwrap_or(0)));
            b.set_style(
                ProgressStyle::with_template(
                    "  {msg:24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_message(what.to_string());
            b
        });
        bar.set_position(done);
    }

    fn finished(&self, what: &str) {
        if let Ok(mut m) = self.bytes.lock()
            && let Some(b) = m.remove(what)
        {
            b.finish_and_clear();
        }
    }
}

/// Run the subcommand.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    // Held until the run ends: the blobs of this run only, when the user's cache is not used.
    let (req, run_cache) = request(&args)?;
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let report = if show_progress {
        let bars = Bars::new();
        let r = verify::verify(&req, &bars);
        bars.clear();
        r?
    } else {
        verify::verify(&req, &verify::NoProgress)?
    };
    drop(run_cache);
    render(&args, &report)?;
    Ok(if report.verdict == Verdict::Reproduced {
        Outcome::Success
    } else {
        Outcome::Negative
    })
}

/// The library's request from the arguments, and the temporary blob directory of --no-cache.
fn request(args: &Args) -> anyhow::Result<(Request, Option<tempfile::TempDir>)> {
    // a debuerreotype-style directory: the tarball and its oci/ layout side by side
    let (rootfs, layout) = match &args.rootfs {
        Some(p) => match import::locate(p) {
            Ok(found) => (Some(found.tarball), found.layout),
            Err(import::Error::Read { dir, source }) => {
                return Err(source).with_context(|| format!("--rootfs {}", dir.display()));
            }
            Err(e) => bail!("--rootfs {e}"),
        },
        None => (None, None),
    };
    let image_text = match (&args.image, &layout) {
        (Some(i), _) => i.clone(),
        (None, Some(oci)) => format!("oci:{}", oci.display()),
        (None, None) => {
            bail!("--image is required (and the --rootfs directory has no oci/ layout)")
        }
    };
    let image: ImageRef = image_text
        .parse()
        .with_context(|| format!("--image {image_text:?}"))?;
    let platforms = if args.all_platforms {
        PlatformSelector::All
    } else if let Some(p) = &args.platform {
        PlatformSelector::parse(p).with_context(|| format!("--platform {p:?}"))?
    } else {
        PlatformSelector::Host
    };
    let profile = if args.profile == "auto" {
        ProfileChoice::Auto
    } else {
        ProfileChoice::Named(crate::util::profile_by_name(
            &args.profile,
            "use auto or one of",
        )?)
    };
    if rootfs.is_none() && !args.dockerfile.is_file() {
        bail!(
            "{}: no such Dockerfile (give one with --dockerfile)",
            args.dockerfile.display()
        );
    }
    let context = args
        .context
        .clone()
        .unwrap_or_else(|| build::model::default_context(&args.dockerfile));
    let mut open = OpenOptions::default();
    open.registry.insecure_registries = args.insecure_registry.clone();
    open.limits = args.image_limits.get();
    let run_cache = if args.no_cache {
        let dir = tempfile::Builder::new()
            .prefix("layerproof-blobs-")
            .tempdir()
            .context("creating a temporary blob directory for --no-cache")?;
        open.registry.cache = Some(layerproof_image::BlobCache::new(dir.path()));
        Some(dir)
    } else {
        None
    };
    let mut limits = layerproof_archive::source::Options::default();
    args.limits.apply(&mut limits);
    let req = Request {
        dockerfile: args.dockerfile.clone(),
        context,
        build_args: crate::util::parse_build_args(&args.build_args)?,
        image,
        open,
        platforms,
        profile,
        blob_level: !args.skip_blob,
        streamed: !args.read_whole_layer,
        rootfs,
        limits,
    };
    Ok((req, run_cache))
}

/// Writes the report in the chosen format to --output or standard output.
fn render(args: &Args, report: &verify::Report) -> anyhow::Result<()> {
    let text = match args.format {
        VerifyFormat::Human => {
            let color = args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            report::human(report, Style::new(color))
        }
        VerifyFormat::Json => {
            let mut s = serde_json::to_string_pretty(report)?;
            s.push('\n');
            s
        }
        VerifyFormat::Junit => report::junit(report),
    };
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("writing the report to {}", path.display()))?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}
