//! `layerproof inspect TARBALL`.
use std::path::PathBuf;

use crate::Outcome;

/// Report what Docker's `ADD` would make of a rootfs tarball, and every reproducibility hazard.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The rootfs tarball (tar, .tar.gz, .tar.bz2, .tar.xz, .tar.zst).
    pub tarball: PathBuf,
}

/// Run the subcommand.
pub fn run(_args: Args) -> anyhow::Result<Outcome> {
    anyhow::bail!("inspect is not implemented yet")
}
