//! The verification report: what `layerproof verify` found, as data (`layerproof.verify/v1`).
//!
//! [`crate::verify::verify`] produces a [`Report`]; [`super::human`] and [`super::junit`] render
//! it, and its [`serde::Serialize`] form is the JSON schema documented in `docs/verify-json.md`.

use layerproof_archive::Digest;
use layerproof_dockerfile::BuilderKind;
use serde::Serialize;

use crate::blob::BlobReport;
use crate::config::ConfigCheck;
use crate::explain::Differences;
pub use crate::infer::Inferred;

/// The JSON schema name of a [`Report`].
pub const SCHEMA: &str = "layerproof.verify/v1";

/// A verdict, strongest first (the derived order makes the worst of several the maximum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Our layer is the published one (see [`Level`]).
    Reproduced,
    /// Same files, owners, modes, contents, link targets and kept xattrs; only tar-level
    /// metadata differs.
    ContentEquivalent,
    /// The layers differ in content.
    Different,
    /// Docker itself would refuse the `ADD`.
    NotBuildable,
}

impl Verdict {
    /// The name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::ContentEquivalent => "content-equivalent",
            Verdict::Different => "different",
            Verdict::NotBuildable => "not-buildable",
        }
    }
}

/// How far a reproduction reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Level {
    /// The published blob's digest equals ours (what people pin).
    #[serde(rename = "blob")]
    Blob,
    /// The uncompressed layer equals ours (the config's diff_id).
    #[serde(rename = "diff_id")]
    DiffId,
}

/// What an input is to the verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The Dockerfile.
    Dockerfile,
    /// The source file of a step.
    Source,
    /// The published image.
    Image,
    /// The tarball of an oci-import.
    Rootfs,
    /// The checksum file beside the rootfs tarball that vouches for it.
    Checksum,
}

impl Role {
    /// The name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Dockerfile => "dockerfile",
            Role::Source => "source",
            Role::Image => "image",
            Role::Rootfs => "rootfs",
            Role::Checksum => "checksum",
        }
    }
}

/// One input and its digest.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    /// What it is.
    pub role: Role,
    /// Path or reference.
    pub name: String,
    /// `sha256:<hex>` of the file, or the digest the reference resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// The published layer.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedLayer {
    /// Blob digest (what the manifest lists).
    pub digest: String,
    /// The config's diff_id for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<String>,
    /// sha256 of the decompressed blob, as we computed it. Absent when the blob's bodies were
    /// not read: the streamed comparison ([`crate::streamed`]) hashes our layer instead and
    /// finds the digest the manifest lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computed_diff_id: Option<Digest>,
    /// Media type.
    pub media_type: String,
    /// Blob size.
    pub size: u64,
    /// Compression detected from the blob's bytes.
    pub compression: String,
    /// Uncompressed size.
    pub uncompressed_size: u64,
    /// Entries in the layer.
    pub entries: usize,
}

/// Our layer.
#[derive(Debug, Clone, Serialize)]
pub struct RebuiltLayer {
    /// sha256 of the layer tar we wrote.
    pub diff_id: String,
    /// Our blob digest, when we produced the published encoding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_digest: Option<String>,
    /// Size of the tar.
    pub size: u64,
    /// Entries written.
    pub entries: u64,
    /// How the source was treated (`unpacked gzip`, `copied: …`).
    pub treatment: String,
}

/// How a profile tried fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CandidateOutcome {
    /// Its layer is the published one.
    Match,
    /// Its layer differs.
    Differs,
    /// It refuses the source, as its engine would.
    Refused,
}

impl CandidateOutcome {
    /// The name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateOutcome::Match => "match",
            CandidateOutcome::Differs => "differs",
            CandidateOutcome::Refused => "refused",
        }
    }
}

/// How a candidate's layer was compared with the published one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compared {
    /// Headers encoded and compared with the published ones, bodies hashed in layer order as
    /// they streamed from the source ([`crate::streamed`]).
    Streamed,
    /// Headers encoded, bodies by the digests taken while reading; equal skeletons are equal
    /// bytes.
    Skeleton,
    /// The whole layer written and hashed: when skeletons differ, or the published layer has
    /// none.
    Bytes,
}

/// One profile tried.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Profile name.
    pub profile: &'static str,
    /// How it fared.
    pub outcome: CandidateOutcome,
    /// The diff_id it produced (not known for a layer that was only compared by skeleton and
    /// differs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<Digest>,
    /// How it was compared (none for a refusal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<Compared>,
    /// Refusal reason, or a difference count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The `ADD`/`COPY` step a layer comes from.
#[derive(Debug, Clone, Serialize)]
pub struct StepInfo {
    /// `ADD` or `COPY`.
    pub instruction: String,
    /// Dockerfile line.
    pub line: usize,
    /// Source path in the context.
    pub source: String,
    /// Destination.
    pub dest: String,
}

/// Docker's refusal.
#[derive(Debug, Clone, Serialize)]
pub struct RefusalInfo {
    /// Entry index in the tarball.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u64>,
    /// Entry name.
    pub name: String,
    /// Docker's message.
    pub message: String,
}

/// The verification of one layer.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    /// Position among the image's layers (0-based).
    pub index: usize,
    /// The Dockerfile step.
    pub step: StepInfo,
    /// The verdict.
    pub verdict: Verdict,
    /// For `reproduced`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// The published layer.
    pub published: PublishedLayer,
    /// Our layer (the matching or the closest profile's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebuilt: Option<RebuiltLayer>,
    /// The profile that reproduced it, or came closest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<&'static str>,
    /// Values taken from the published side.
    pub inferred: Vec<Inferred>,
    /// Every profile tried, in order.
    pub candidates: Vec<Candidate>,
    /// Why Docker would refuse (for `not-buildable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<RefusalInfo>,
    /// What differs (for `content-equivalent` and `different`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub differences: Option<Differences>,
    /// The first differing tar header, field by field (when the entries alone do not explain
    /// the difference).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_header_difference: Option<String>,
    /// The blob level: fingerprint of the published compressor and our re-encodings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob: Option<BlobReport>,
    /// Notes (e.g. a blob digest mismatch with an equal diff_id).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Hazards of the tarball (implied directories, cleaned names, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hazards: Vec<layerproof_archive::unpack::Hazard>,
}

impl LayerReport {
    /// A report of layer `index` from `step` with this verdict and published side, and nothing
    /// else known yet.
    pub fn new(index: usize, step: StepInfo, verdict: Verdict, published: PublishedLayer) -> Self {
        LayerReport {
            index,
            step,
            verdict,
            level: None,
            published,
            rebuilt: None,
            profile: None,
            inferred: Vec::new(),
            candidates: Vec::new(),
            refusal: None,
            differences: None,
            first_header_difference: None,
            blob: None,
            notes: Vec::new(),
            hazards: Vec::new(),
        }
    }
}

/// What built an image, as told from its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Builder {
    /// BuildKit.
    Buildkit,
    /// The classic builder.
    Classic,
    /// `docker import` of a rootfs tarball (`--rootfs`).
    OciImport,
}

impl From<BuilderKind> for Builder {
    fn from(kind: BuilderKind) -> Self {
        match kind {
            BuilderKind::Buildkit => Builder::Buildkit,
            BuilderKind::Classic => Builder::Classic,
        }
    }
}

impl Builder {
    /// The name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Builder::Buildkit => "buildkit",
            Builder::Classic => "classic",
            Builder::OciImport => "oci-import",
        }
    }
}

/// The image of one platform.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// Manifest digest (absent in legacy docker-archives).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// Config digest: the image ID.
    pub config: String,
    /// `created` from the config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The builder, told from the history.
    pub builder: Builder,
    /// Why we think so.
    pub builder_evidence: String,
}

/// The verification of one platform.
#[derive(Debug, Clone, Serialize)]
pub struct PlatformReport {
    /// `os/arch[/variant]`.
    pub platform: String,
    /// Worst of the layers.
    pub verdict: Verdict,
    /// Weakest level of the layers (when reproduced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// The image.
    pub image: ImageInfo,
    /// One per layer.
    pub layers: Vec<LayerReport>,
    /// The published config checked field by field against the Dockerfile.
    pub config: Vec<ConfigCheck>,
    /// Image-level findings (layer count mismatches and the like).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Milliseconds spent.
    pub elapsed_ms: u64,
}

/// Tool identification.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    /// `layerproof`.
    pub name: &'static str,
    /// Its version.
    pub version: &'static str,
}

/// Timings.
#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    /// Whole run, milliseconds.
    pub total_ms: u64,
}

/// The whole answer (`layerproof.verify/v1`).
///
/// Its JSON has two shapes: one platform's `image`, `layers`, `config` and `notes` at the top
/// level, or, when `multi_platform`, every platform under `platforms`.
#[derive(Debug, Clone)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// Who wrote it.
    pub tool: Tool,
    /// Worst verdict over every platform and layer.
    pub verdict: Verdict,
    /// Weakest level (when reproduced).
    pub level: Option<Level>,
    /// The inputs with their digests.
    pub inputs: Vec<Input>,
    /// The platform verified, or every platform joined by `,`.
    pub platform: String,
    /// Every platform verified (one, unless `multi_platform`).
    pub platforms: Vec<PlatformReport>,
    /// Whether several platforms were asked for (`--all-platforms`) or verified.
    pub multi_platform: bool,
    /// Timings.
    pub timings: Timings,
}

/// The JSON form of a [`Report`], in either shape.
#[derive(Serialize)]
struct ReportJson<'a> {
    schema: &'static str,
    tool: &'a Tool,
    verdict: Verdict,
    level: Option<Level>,
    inputs: &'a [Input],
    platform: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a ImageInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layers: Option<&'a [LayerReport]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<&'a [ConfigCheck]>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    platforms: Option<&'a [PlatformReport]>,
    timings: &'a Timings,
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let one = if self.multi_platform {
            None
        } else {
            self.platforms.last()
        };
        ReportJson {
            schema: self.schema,
            tool: &self.tool,
            verdict: self.verdict,
            level: self.level,
            inputs: &self.inputs,
            platform: &self.platform,
            image: one.map(|p| &p.image),
            layers: one.map(|p| p.layers.as_slice()),
            config: one.map(|p| p.config.as_slice()),
            notes: one.map_or(&[], |p| p.notes.as_slice()),
            platforms: self.multi_platform.then_some(self.platforms.as_slice()),
            timings: &self.timings,
        }
        .serialize(serializer)
    }
}

/// The worst verdict of `items` and the weakest level (a level only when every item is
/// reproduced); no items is `different`.
pub fn worst(
    items: impl IntoIterator<Item = (Verdict, Option<Level>)>,
) -> (Verdict, Option<Level>) {
    let mut v = Verdict::Reproduced;
    let mut level = Some(Level::Blob);
    let mut any = false;
    for (verdict, l) in items {
        any = true;
        v = v.max(verdict);
        level = match (level, l) {
            (Some(Level::Blob), Some(Level::Blob)) => Some(Level::Blob),
            (Some(_), Some(_)) => Some(Level::DiffId),
            _ => None,
        };
    }
    if !any {
        return (Verdict::Different, None);
    }
    if v != Verdict::Reproduced {
        level = None;
    }
    (v, level)
}
