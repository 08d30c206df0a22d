//! The report of a rebuild: JSON schema `layerproof.rebuild/v1`.
//!
//! Field names and values are a stable format: add fields, do not rename or remove them.
use std::fmt;

use serde::Serialize;

use layerproof_dockerfile::BuilderKind;

/// The schema name written in [`BuildReport::schema`].
pub const SCHEMA: &str = "layerproof.rebuild/v1";

/// What a rebuild made, and every value a real build would have decided.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The Dockerfile, as given.
    pub dockerfile: String,
    /// The build context directory.
    pub context: String,
    /// The builder whose config and history were written.
    pub builder: BuilderKind,
    /// The layer profile (`layerproof profiles`).
    pub profile: &'static str,
    /// The engine whose config shape was written: `docker-MAJOR.MINOR`.
    pub engine: String,
    /// The target platform, `os/arch[/variant]`.
    pub platform: String,
    /// Built, or refused as Docker would refuse it.
    pub outcome: BuildOutcome,
    /// Why Docker would refuse the build (with [`BuildOutcome::Refused`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<RefusedStep>,
    /// The layers written, in order.
    pub layers: Vec<BuiltLayer>,
    /// The image ID: the sha256 of the config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
    /// Where the image was written, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<WrittenImage>,
    /// Every value a real run decides, with the value used.
    pub assumed: Vec<Assumed>,
}

/// Whether the image was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildOutcome {
    /// The image was built.
    Built,
    /// Docker would refuse a step; nothing was written.
    Refused,
}

/// The step Docker would refuse.
#[derive(Debug, Clone, Serialize)]
pub struct RefusedStep {
    /// Its line in the Dockerfile.
    pub line: usize,
    /// Its source, relative to the context.
    pub source: String,
    /// Docker's reason.
    pub reason: String,
}

/// A layer that was built.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltLayer {
    /// The line of its step in the Dockerfile.
    pub line: usize,
    /// `ADD` or `COPY`.
    pub instruction: String,
    /// The source, relative to the context.
    pub source: String,
    /// `unpacked (gzip)` or `copied (not an archive: …)`.
    pub treatment: String,
    /// sha256 of the uncompressed layer.
    pub diff_id: String,
    /// Size of the uncompressed layer.
    pub size: u64,
    /// Tar entries in the layer.
    pub entries: u64,
    /// Directories the tarball does not list: they carry the build time.
    pub implied_directories: usize,
    /// The stored blob, when the image was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob: Option<StoredBlob>,
    /// Classic builder: the `file:<hash>` in the history line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_hash: Option<String>,
}

/// A layer blob as stored in the written image.
#[derive(Debug, Clone, Serialize)]
pub struct StoredBlob {
    /// Its digest.
    pub digest: String,
    /// Its size.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
}

/// Where the image was written.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenImage {
    /// `oci` or `docker-archive`.
    pub kind: &'static str,
    /// The directory or file.
    pub path: String,
    /// The manifest's digest (OCI layout only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
}

/// A value that a real build decides, and the value this rebuild used.
#[derive(Debug, Clone, Serialize)]
pub struct Assumed {
    /// What it is (`build_time`, `history[0].created`, `container`, …).
    pub name: String,
    /// The value used.
    pub value: String,
    /// Where the value came from.
    pub source: AssumedSource,
    /// The `layerproof rebuild` option that sets it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_with: Option<&'static str>,
}

impl Assumed {
    pub(crate) fn new(
        name: impl Into<String>,
        value: impl Into<String>,
        source: AssumedSource,
        set_with: Option<&'static str>,
    ) -> Assumed {
        Assumed {
            name: name.into(),
            value: value.into(),
            source,
            set_with,
        }
    }
}

/// Where an [`Assumed`] value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AssumedSource {
    /// Given in the request.
    Option,
    /// Nothing given: the default.
    Default,
    /// Derived from another value (`created` from the build time).
    Derived,
    /// Made up, deterministically, where only a real run knows it (container IDs).
    Invented,
    /// Taken from a published image config.
    PublishedConfig,
    /// The build context decides it, not the run.
    Context,
}

impl AssumedSource {
    /// The name written in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            AssumedSource::Option => "option",
            AssumedSource::Default => "default",
            AssumedSource::Derived => "derived",
            AssumedSource::Invented => "invented",
            AssumedSource::PublishedConfig => "published-config",
            AssumedSource::Context => "context",
        }
    }
}

impl fmt::Display for AssumedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assumed_sources_serialise_as_their_names() {
        for s in [
            AssumedSource::Option,
            AssumedSource::Default,
            AssumedSource::Derived,
            AssumedSource::Invented,
            AssumedSource::PublishedConfig,
            AssumedSource::Context,
        ] {
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::from(s.as_str())
            );
        }
        assert_eq!(
            serde_json::to_value(BuildOutcome::Refused).unwrap(),
            serde_json::Value::from("refused")
        );
    }
}
