//! The one place where the live oracle meets layerproof: given what Docker wrote for a case on
//! one engine/builder, ask the library to produce the same thing and say whether it did.
//!
//! The library side (`layerproof_archive::unpack` → `layerproof_layer::write_layer(tree, profile, out)`)
//! is being written concurrently. Until it is wired here, [`compare`] returns
//! [`Verdict::NotWired`], which the oracle counts as a failure: a missing comparison must never
//! look like a pass.

use crate::oracle::{Build, DockerResult, Input};

/// Outcome of comparing layerproof's rebuild with Docker's result.
#[allow(
    dead_code,
    reason = "Match/Mismatch are produced once the layer library is wired in"
)]
pub enum Verdict {
    /// Same bytes (or the same refusal reason).
    Match(String),
    /// Different: the text names the first differing header, field by field.
    Mismatch(String),
    /// The library API needed for the comparison does not exist yet.
    NotWired,
}

/// Compares layerproof with Docker for one case × engine × builder.
///
/// `engine` is `docker-20.10` or `docker-26.1`, `builder` is `classic` or `buildkit`; `docker` is
/// the layer bytes Docker wrote (or its refusal) and the build's wall-clock window, which is the
/// only legitimate source for implied directories' mtimes.
pub fn compare(input: &Input, engine: &str, builder: &str, docker: &Build) -> Verdict {
    let _ = (input, engine, builder);
    match &docker.result {
        DockerResult::Built { .. } | DockerResult::Refused { .. } => Verdict::NotWired,
    }
}
