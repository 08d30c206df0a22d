//! `layerproof explain --image REF`.
use std::io::Write;

use anyhow::Context as _;
use layerproof_image::{ImageRef, OpenOptions, PlatformSelector, chain};

use crate::Outcome;
use crate::util::Format;

/// Show an image's digest chain: index → per-platform manifests → config (image ID) → layer
/// blobs → diff_ids, and which digest `docker pull`, `docker image ls --digests` and a registry
/// web page each show.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: docker-archive:PATH, oci:DIR[:TAG|@DIGEST], oci-archive:PATH,
    /// docker://HOST/REPO[:TAG][@DIGEST], or a bare name such as ubuntu:24.04.
    #[arg(long)]
    pub image: String,
    /// Platform: os/arch[/variant], `host` (default) or `all`.
    #[arg(long, default_value = "host")]
    pub platform: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Registry host reachable over plain HTTP (loopback hosts always are). Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
    /// Do not use or fill the local blob cache.
    #[arg(long)]
    pub no_cache: bool,
    // Last: its help heading applies to the options after it.
    #[command(flatten)]
    pub image_limits: crate::limits::ImageLimits,
}

/// Run the subcommand.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let r: ImageRef = args.image.parse()?;
    let sel = PlatformSelector::parse(&args.platform)?;
    let mut opts = OpenOptions::default();
    opts.registry.insecure_registries = args.insecure_registry.clone();
    opts.limits = args.image_limits.get();
    if args.no_cache {
        opts.registry.cache = None;
    }
    let src = layerproof_image::open(&r, &opts).with_context(|| format!("opening {r}"))?;
    let mut c = chain::resolve(src.as_ref(), &sel, layerproof_image::DEFAULT_MAX_MANIFEST)
        .with_context(|| format!("reading {r}"))?;
    c.reference = r.to_string();
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Human => out.write_all(chain::render_text(&c).as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &c)?;
            writeln!(out)?;
        }
    }
    Ok(Outcome::Success)
}
