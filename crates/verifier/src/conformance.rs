//! Compare layerproof's rebuild with what a real engine did for one `ADD <file> /` build.
//!
//! Shared by the hermetic conformance test (recorded fixtures) and `cargo xtask oracle` (live
//! engines). Only the free parameters are taken from Docker's layer, by the same rule as
//! `verify` ([`crate::infer::apply`]); everything else must come from the input.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use layerproof_archive::unpack::RefusalKind;
use layerproof_layer::Profile;

use crate::infer;
use crate::rebuild::{self, Outcome, Params};

/// What the engine did.
#[derive(Debug, Clone, Copy)]
pub enum Docker<'a> {
    /// It built the image; these are the exact layer bytes from `docker save`.
    Layer(&'a [u8]),
    /// It refused; this is its error message.
    Refused(&'a str),
}

/// The comparison's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Same bytes, or the same refusal.
    Match(String),
    /// Different; the text names the first difference (field by field for headers).
    Mismatch(String),
}

/// The shipped profile that models an engine, from its version as `docker version` reports it
/// (`20.10.24+dfsg1`, the Debian build the oracle machine runs, → its own profile): the
/// [`Profile::for_docker_version`] lookup, for callers that do not depend on the layer crate.
pub fn profile_for_version(docker_version: &str) -> Option<&'static Profile> {
    Profile::for_docker_version(docker_version)
}

/// The reason in a Docker build error: the last line carrying one of the builders' error
/// prefixes (`failed to copy files: `, `ERROR: failed to solve: `, `Error processing tar file`),
/// without the prefix. Works on a recorded `refusal.txt` and on a whole build log.
pub fn docker_reason(text: &str) -> &str {
    const PREFIXES: [&str; 3] = [
        "failed to copy files: ",
        "ERROR: failed to solve: ",
        "Error processing tar file",
    ];
    let line = text
        .lines()
        .rev()
        .find(|l| PREFIXES.iter().any(|p| l.contains(p)))
        .or_else(|| text.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("")
        .trim();
    PREFIXES
        .iter()
        .find_map(|p| line.rsplit_once(p).map(|(_, r)| r))
        .unwrap_or(line)
}

/// Rebuild `input` (the ADD source, named `source_name` in the build context) under `profile`
/// and compare with what Docker did.
pub fn check(input: &Path, source_name: &str, profile: &Profile, docker: Docker<'_>) -> Verdict {
    let mut params = Params::new(profile, source_name.as_bytes().to_vec());
    // a copied source keeps the permissions it has in the build context, as in verify
    if let Ok(meta) = std::fs::metadata(input) {
        use std::os::unix::fs::PermissionsExt;
        params.plain_file.perm = meta.permissions().mode() & 0o7777;
    }
    if let Docker::Layer(layer) = docker {
        match infer::from_layer(layer) {
            Ok(published) => infer::apply(&published, profile, &mut params),
            Err(e) => return Verdict::Mismatch(format!("cannot read Docker's layer: {e}")),
        }
    }
    let open =
        || -> io::Result<Box<dyn Read + Send>> { Ok(Box::new(BufReader::new(File::open(input)?))) };
    let result = rebuild::rebuild(&open, &params, Vec::new());
    let p = profile.name;
    match (result, docker) {
        (Err(e), _) => Verdict::Mismatch(format!("[{p}] rebuild failed: {e}")),
        (Ok((ours, Outcome::Built(layer))), Docker::Layer(theirs)) => {
            if ours == theirs {
                Verdict::Match(format!("[{p}] identical, {}", layer.summary.diff_id))
            } else {
                let diff = layerproof_layer::compare::first_difference(&ours[..], theirs)
                    .map(|d| d.map(|d| d.to_string()).unwrap_or_default())
                    .unwrap_or_else(|e| format!("(cannot compare: {e})"));
                Verdict::Mismatch(format!("[{p}] layer differs\n{diff}"))
            }
        }
        (Ok((_, Outcome::Refused(r))), Docker::Refused(text)) => {
            let reason = docker_reason(text);
            if reason.contains(&r.message) || r.kind == RefusalKind::CorruptArchive {
                Verdict::Match(format!("[{p}] both refuse: {reason}"))
            } else {
                Verdict::Mismatch(format!(
                    "[{p}] both refuse, for different reasons:\n  docker: {reason}\n  ours:   {}",
                    r.message
                ))
            }
        }
        (Ok((_, Outcome::Refused(r))), Docker::Layer(_)) => {
            Verdict::Mismatch(format!("[{p}] Docker built it, we refuse: {r}"))
        }
        (Ok((_, Outcome::Built(_))), Docker::Refused(text)) => Verdict::Mismatch(format!(
            "[{p}] Docker refused ({}), we build it",
            docker_reason(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::docker_reason;

    #[test]
    fn reason_is_found_in_each_builders_output() {
        let classic = "Sending build context to Docker daemon  4.608kB\nStep 2/3 : ADD x.tar /\n\
                       failed to copy files: link /d /hl: operation not permitted\n";
        assert_eq!(
            docker_reason(classic),
            "link /d /hl: operation not permitted"
        );
        let buildkit = "#1 [internal] load build definition\n#5 ERROR: link /d /hl\n\
                        ERROR: failed to solve: link /d /hl: operation not permitted\n";
        assert_eq!(
            docker_reason(buildkit),
            "link /d /hl: operation not permitted"
        );
        let old = "Error processing tar file(exit status 1): unexpected EOF\n";
        assert_eq!(docker_reason(old), "(exit status 1): unexpected EOF");
    }
}
