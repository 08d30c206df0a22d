//! `layerproof unpack TARBALL DIR`.
use std::path::PathBuf;

use crate::Outcome;

/// Materialise the tree Docker's `ADD` would produce, without Docker.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The rootfs tarball.
    pub tarball: PathBuf,
    /// Destination directory (created if missing; nothing is written outside it).
    pub dir: PathBuf,
}

/// Run the subcommand.
pub fn run(_args: Args) -> anyhow::Result<Outcome> {
    anyhow::bail!("unpack is not implemented yet")
}
