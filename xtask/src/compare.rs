//! The one place where the live oracle meets layerproof: given what Docker wrote for a case on
//! one engine/builder, ask the library to produce the same thing and say whether it did.
//!
//! The comparison itself is `layerproof_verifier::conformance::check`, the same code the
//! hermetic `oracle_conformance` test runs over the recorded fixtures.

use crate::oracle::{Build, DockerResult, Input};
use layerproof_verifier::conformance::{self, Docker};

/// Outcome of comparing layerproof's rebuild with Docker's result.
pub enum Verdict {
    /// Same bytes (or the same refusal reason).
    Match(String),
    /// Different: the text names the first differing header, field by field.
    Mismatch(String),
    /// No profile models this engine, so nothing could be compared (counted as a failure).
    NotWired,
}

/// Compares layerproof with Docker for one case × engine × builder.
///
/// `docker_version` is the engine's server version (`26.1.5+dfsg1`), `builder` is `classic` or
/// `buildkit`; `docker` is the layer bytes Docker wrote (or its refusal). Implied directories'
/// mtimes, uname/gname of the Debian 20.10 build, and a plain-copied source's metadata are the
/// only values taken from Docker's output.
pub fn compare(input: &Input, docker_version: &str, builder: &str, docker: &Build) -> Verdict {
    let _ = builder;
    let Some(profile) = conformance::profile_for_version(docker_version) else {
        return Verdict::NotWired;
    };
    let theirs = match &docker.result {
        DockerResult::Built { layer: Some(l), .. } => Docker::Layer(l),
        DockerResult::Built { layer: None, .. } => {
            return Verdict::Mismatch("Docker's image has no layer".into());
        }
        DockerResult::Refused { message } => Docker::Refused(message),
    };
    match conformance::check(&input.bytes_path, &input.file_name, profile, theirs) {
        conformance::Verdict::Match(t) => Verdict::Match(t),
        conformance::Verdict::Mismatch(t) => Verdict::Mismatch(t),
    }
}
