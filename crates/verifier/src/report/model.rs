//! The verification report: what `layerproof verify` found, as data (`layerproof.verify/v1`).
//!
//! [`crate::verify::verify`] produces a [`Report`]; [`super::human`] and [`super::junit`] render
//! it, and its [`serde::Serialize`] form is the JSON schema documented in `docs/verify-json.md`.

use serde::Serialize;

use crate::blob::BlobReport;
use crate::config::ConfigCheck;
use crate::explain::Differences;

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

/// One input and its digest.
#[derive(Debug, Clone, Serialize)]
pub struct Input {
    /// `dockerfile`, `source` or `image`.
    pub role: &'static str,
    /// Path or reference.
    pub name: String,
    /// `sha256:<hex>` of the file, or the digest the reference resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// A value taken from the published side, and why that is legitimate.
#[derive(Debug, Clone, Serialize)]
pub struct Inferred {
    /// The parameter.
    pub parameter: String,
    /// Its value.
    pub value: String,
    /// Why it may be taken from the published image.
    pub why: String,
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
    pub computed_diff_id: Option<String>,
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

/// One profile tried.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Profile name.
    pub profile: &'static str,
    /// `match`, `differs` or `refused`.
    pub outcome: &'static str,
    /// The diff_id it produced (not known for a layer that was only compared by skeleton and
    /// differs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<String>,
    /// How the candidate was compared: `streamed` (headers encoded and compared with the
    /// published ones, bodies hashed in layer order as they streamed from the source:
    /// [`crate::streamed`]), `skeleton` (headers encoded, bodies by the digests taken while
    /// reading; equal skeletons are equal bytes) or `bytes` (the whole layer written and
    /// hashed: when skeletons differ, or the published layer has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compared: Option<&'static str>,
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
    pub builder: &'static str,
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
#[derive(Debug, Clone, Serialize)]
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
    /// The image (one platform).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageInfo>,
    /// The layers (one platform).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<LayerReport>>,
    /// The config checks (one platform).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Vec<ConfigCheck>>,
    /// Image-level findings (one platform).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Every platform (with `--all-platforms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platforms: Option<Vec<PlatformReport>>,
    /// Timings.
    pub timings: Timings,
}

impl Report {
    /// Every platform report, whether one or many.
    pub fn platform_reports(&self) -> Vec<PlatformReport> {
        if let Some(p) = &self.platforms {
            return p.clone();
        }
        match (&self.image, &self.layers) {
            (Some(image), Some(layers)) => vec![PlatformReport {
                platform: self.platform.clone(),
                verdict: self.verdict,
                level: self.level,
                image: image.clone(),
                layers: layers.clone(),
                config: self.config.clone().unwrap_or_default(),
                notes: self.notes.clone(),
                elapsed_ms: self.timings.total_ms,
            }],
            _ => Vec::new(),
        }
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
