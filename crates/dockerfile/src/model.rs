//! The values of an evaluation: what it is asked ([`BuildOptions`]) and what it returns
//! ([`Evaluation`]: per stage the [`ImageModel`] a builder would write, its history and its
//! layer-producing [`CopyStep`]s, or why it is out of scope).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use layerproof_platform::Platform;

use crate::context::ResolvedSource;
use crate::{Span, gocompat};

/// Which builder to model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuilderKind {
    /// BuildKit (`docker build` default since 23.0, buildx).
    Buildkit,
    /// The classic builder (`DOCKER_BUILDKIT=0`).
    Classic,
}

/// What the build is run with.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The builder.
    pub builder: BuilderKind,
    /// `--build-arg K=V`.
    pub build_args: BTreeMap<String, String>,
    /// Target platform.
    pub platform: Platform,
    /// Build platform (defaults to the target platform).
    pub build_platform: Option<Platform>,
    /// `--target` stage name (default: last stage).
    pub target: Option<String>,
}

/// The default PATH both builders put into a scratch image's Env.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The history comment BuildKit writes.
pub const BUILDKIT_COMMENT: &str = "buildkit.dockerfile.v0";
/// Placeholder in classic ADD/COPY `created_by` for the builder-cache source
/// hash (`file:<hex>`, `dir:<hex>` or `multi:<hex>`).
pub const SOURCE_HASH_PLACEHOLDER: &str = "<SOURCE_HASH>";

/// Result of evaluating a Dockerfile.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// The builder modelled.
    pub builder: BuilderKind,
    /// Index of the target stage in `stages`.
    pub target: usize,
    /// Global build args after evaluation (`KEY=value`, sorted).
    pub global_args: Vec<String>,
    /// One entry per stage, in file order.
    pub stages: Vec<StageResult>,
}

/// One stage's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct StageResult {
    /// `AS` name.
    pub name: Option<String>,
    /// Expanded base name.
    pub base: String,
    /// What happened.
    pub outcome: StageOutcome,
}

/// A stage outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageOutcome {
    /// A scratch stage whose image we model fully.
    Image(Box<ImageModel>),
    /// Needs something we do not model (running code or a real base image).
    OutOfScope(OutOfScope),
    /// BuildKit does not build stages the target does not need.
    NotBuilt,
}

/// Something layerproof does not model, with its location.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OutOfScope {
    /// The instruction.
    pub span: Span,
    /// The instruction's source text.
    pub instruction: String,
    /// Why.
    pub reason: String,
}

/// The image config a builder would produce (no layer digests or times).
#[derive(Debug, Clone, Serialize, Default)]
pub struct ImageModel {
    /// `os`.
    pub os: String,
    /// `architecture`.
    pub architecture: String,
    /// `variant`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub variant: String,
    /// `author` (from MAINTAINER).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// `config`.
    pub config: ContainerConfig,
    /// `history`, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The layer-producing ADD/COPY steps, in order (inherited ones first).
    pub layers: Vec<CopyStep>,
}

/// The `config` object, in Docker's field names. Empty fields are omitted.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// User.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// ExposedPorts (`80/tcp`).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub exposed_ports: BTreeSet<String>,
    /// Env.
    pub env: Vec<String>,
    /// Cmd (None = null).
    pub cmd: Option<Vec<String>>,
    /// Healthcheck (durations in ns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    /// ArgsEscaped (BuildKit sets it on CMD).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub args_escaped: bool,
    /// Volumes.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub volumes: BTreeSet<String>,
    /// WorkingDir.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// Entrypoint (None = null).
    pub entrypoint: Option<Vec<String>>,
    /// OnBuild triggers (raw text).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub on_build: Vec<String>,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// StopSignal.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    /// Shell.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shell: Vec<String>,
}

/// Docker's HealthConfig (durations in nanoseconds, zero = omitted).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    /// Test.
    pub test: Vec<String>,
    /// Interval (ns).
    #[serde(skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// Timeout (ns).
    #[serde(skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// StartPeriod (ns).
    #[serde(skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// StartInterval (ns).
    #[serde(skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// Retries.
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl HealthConfig {
    /// Go `%+v` of the struct.
    pub(crate) fn go_format(&self) -> String {
        format!(
            "{{Test:{} Interval:{} Timeout:{} StartPeriod:{} StartInterval:{} Retries:{}}}",
            gocompat::plain_slice(&self.test),
            gocompat::format_duration(self.interval),
            gocompat::format_duration(self.timeout),
            gocompat::format_duration(self.start_period),
            gocompat::format_duration(self.start_interval),
            self.retries
        )
    }
}

/// One history entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HistoryEntry {
    /// `created_by`; classic ADD/COPY contain [`SOURCE_HASH_PLACEHOLDER`].
    pub created_by: String,
    /// `comment`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `empty_layer`.
    pub empty_layer: bool,
}

impl HistoryEntry {
    /// `created_by` with the classic source-hash placeholder filled in.
    pub fn created_by_with_hash(&self, hash: &str) -> String {
        self.created_by.replace(SOURCE_HASH_PLACEHOLDER, hash)
    }
}

/// A layer-producing ADD/COPY (or WORKDIR directory creation).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CopyStep {
    /// Where.
    pub span: Span,
    /// The instruction keyword (`ADD`, `COPY`, `WORKDIR`).
    pub instruction: String,
    /// Expanded sources as written.
    pub sources: Vec<String>,
    /// `--from` stage index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_stage: Option<usize>,
    /// Expanded destination as written.
    pub dest: String,
    /// Absolute destination after WORKDIR resolution (trailing `/` kept).
    pub dest_path: String,
    /// `--chown` (classic ignores it for extracted archives; BuildKit applies it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chown: Option<String>,
    /// `--chmod` (BuildKit only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chmod: Option<String>,
    /// `--link`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub link: bool,
    /// Whether local archives are extracted (ADD, unless `--unpack=false`).
    pub unpack: bool,
    /// `--exclude` patterns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Sources resolved against the context, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Vec<ResolvedSource>>,
    /// Index of this step's entry in the stage history.
    pub history_index: usize,
}
