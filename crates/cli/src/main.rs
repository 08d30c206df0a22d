//! The `layerproof` command line: parsing, progress and output only.
//!
//! Each subcommand lives in `cmd/<name>.rs` with a clap `Args` struct and a
//! `run(args) -> anyhow::Result<Outcome>` function that turns the arguments into a library
//! request, calls the library function that owns the workflow and renders its result.
//! Exit codes: 0 proven / buildable, 1 a negative verdict (different, refused), 2 an error
//! (bad invocation or unreadable input).
#![forbid(unsafe_code)]

mod cmd;
mod limits;
mod util;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Prove — or disprove, with a precise explanation — that a container image was built from a
/// given rootfs tarball.
///
/// layerproof rebuilds the layer that `docker build` writes for `FROM scratch` + `ADD
/// rootfs.tar.gz /`, byte for byte and without a Docker daemon, and compares it with a
/// published image.
#[derive(Debug, Parser)]
#[command(
    name = "layerproof",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Explain(cmd::explain::Args),
    Inspect(cmd::inspect::Args),
    Profiles(cmd::profiles::Args),
    Rebuild(cmd::rebuild::Args),
    Unpack(cmd::unpack::Args),
    Verify(cmd::verify::Args),
}

/// What a subcommand concluded; mapped onto the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Proven, reproduced or buildable: exit 0.
    Success,
    /// A negative answer (different, not buildable): exit 1.
    Negative,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain(args) => cmd::explain::run(args),
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Profiles(args) => cmd::profiles::run(args),
        Command::Rebuild(args) => cmd::rebuild::run(args),
        Command::Unpack(args) => cmd::unpack::run(args),
        Command::Verify(args) => cmd::verify::run(args),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Negative) => ExitCode::from(1),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("layerproof: error: {}", error_text(&err));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes joined by `: `, leaving out a cause whose text the message already
/// contains (library errors often embed their source in their own message).
fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let c = cause.to_string();
        if text.contains(&c) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&c);
    }
    text
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
