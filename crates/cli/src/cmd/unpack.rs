//! `layerproof unpack TARBALL DIR`: materialise the tree Docker's `ADD` would produce.
//!
//! The workflow is `layerproof_verifier::materialise::unpack`, whose module doc says why writing
//! the tree is safe.
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use layerproof_archive::source;
use layerproof_verifier::materialise::{self, Unpacked};

use crate::Outcome;

/// Materialise the filesystem Docker's `ADD TARBALL /` would produce, without Docker.
///
/// DIR must not exist or be empty. Owners, device nodes and xattrs that the current user
/// cannot apply are listed in a JSON manifest instead (default: DIR.unapplied.json beside DIR),
/// so nothing is lost. Exit status: 0 when done, 1 when Docker would refuse the tarball, 2 on
/// errors.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The rootfs tarball.
    pub tarball: PathBuf,
    /// Destination directory (created if missing; must be empty).
    pub dir: PathBuf,
    /// Build time (Unix seconds) stamped on directories the tarball does not list, as Docker
    /// stamps its wall-clock time. Default: the epoch.
    #[arg(long, default_value_t = 0)]
    pub build_time: i64,
    /// Where to write the manifest of what could not be applied.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    #[command(flatten)]
    pub limits: crate::limits::Limits,
}

/// Run the subcommand.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let file = File::open(&args.tarball)
        .with_context(|| format!("cannot open {}", args.tarball.display()))?;
    let mut opts = source::Options::default();
    args.limits.apply(&mut opts);
    opts.unpack.implied_dir_mtime = layerproof_archive::Timestamp::from_secs(args.build_time);
    let manifest =
        match materialise::unpack(BufReader::with_capacity(1 << 20, file), &opts, &args.dir) {
            Ok(Unpacked::Written(m)) => m,
            Ok(Unpacked::Refused(refusal)) => {
                eprintln!("layerproof: Docker would refuse this ADD: {refusal}");
                return Ok(Outcome::Negative);
            }
            Ok(Unpacked::NotAnArchive) => bail!(
                "{} is not an archive: Docker's ADD would copy it as a plain file",
                args.tarball.display()
            ),
            Err(materialise::Error::Source(e)) => {
                return Err(e).with_context(|| format!("cannot read {}", args.tarball.display()));
            }
            Err(e) => return Err(e.into()),
        };
    let manifest_path = args.manifest.clone().unwrap_or_else(|| {
        let mut name = args.dir.as_os_str().to_owned();
        name.push(".unapplied.json");
        PathBuf::from(name)
    });
    let unapplied = manifest.len();
    if unapplied > 0 {
        let mut f = File::create(&manifest_path)
            .with_context(|| format!("cannot write {}", manifest_path.display()))?;
        serde_json::to_writer_pretty(&mut f, &manifest)?;
        writeln!(f)?;
        eprintln!(
            "layerproof: {unapplied} attributes could not be applied as this user; listed in {}",
            manifest_path.display()
        );
    }
    Ok(Outcome::Success)
}
