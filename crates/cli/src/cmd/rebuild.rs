//! `layerproof rebuild` (being written).
use crate::Outcome;

/// (being written)
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run the subcommand.
pub fn run(_args: Args) -> anyhow::Result<Outcome> {
    anyhow::bail!("`layerproof rebuild` is not implemented yet")
}
