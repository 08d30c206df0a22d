//! The image config (and history) exactly as an engine writes it, and a field-by-field check
//! of a published config against an [`ImageModel`].
//!
//! [`image_config`] turns an [`ImageModel`] (what the Dockerfile says), the builder and engine,
//! the rebuilt diff_ids, the classic builder's source hashes ([`crate::classic_hash`]) and the
//! [`RunValues`] (what only the run decides) into the config bytes the engine would have
//! written; its sha256 is the image ID ([`image_id`]). [`check_config`] compares a published
//! config with the model and reports every field with a [`CheckStatus`].
//!
//! The writers are `buildkit` and `classic`; both build a `gojson` value that the engine's
//! Go version encodes, with times from [`GoTime`]. [`Engine`] says what a Docker version
//! changes; `check` compares, reading its expected values from the same `gojson` encoders.
//!
//! # Run-dependent fields (never predicted; supplied as [`RunValues`] or only reported)
//! | field | builder | what decides it |
//! |---|---|---|
//! | `created`, `history[].created` | both | the wall clock at each step (ns); BuildKit: the layer's snapshot time, copied to later empty-layer entries |
//! | `container`, `container_config.Hostname` | classic | ID of the container the last step was committed from (absent when the last step is ADD/COPY) |
//! | `config.Image`, `container_config.Image` | classic | ID of the previous step's image: computed here when every earlier step is ADD/COPY, otherwise it needs the earlier steps' container IDs |
//! | `docker_version` | classic | the daemon's version string (`20.10.24+dfsg1`) |
//!
//! [`RunValues::from_published`] takes all of them from a published config.
//!
//! # Shapes (read in moby and vendored BuildKit; the observed ones are proven byte for byte
//! against `testdata/oracle/*/docker-{20.10,26.1}-{classic,buildkit}/config.json`)
//! * **Classic builder** (`image.Image.MarshalJSON`): top-level keys sorted (the struct is
//!   marshalled, read back into a map and marshalled again); `config` and `container_config`
//!   are moby's `container.Config` in struct order with every non-`omitempty` field present
//!   (`Hostname`, `Domainname`, … `Image`, `Volumes`, `WorkingDir`, `Entrypoint`, `OnBuild`,
//!   `Labels`, `null` when unset); `container_config` is the run config with the last step's
//!   command (`["/bin/sh","-c","#(nop) ","CMD [\"/bin/sh\"]"]` for a metadata step,
//!   `["/bin/sh","-c","#(nop) ADD file:… in / "]` for ADD/COPY/WORKDIR); a step committed
//!   from a container also gets `Hostname` = the container ID's first 12 characters and
//!   `Labels` = `{}` instead of `null` (the daemon's `merge` on create); history entries are
//!   `{created, author, created_by, comment, empty_layer}` with `omitempty` (Docker ≥ 25:
//!   image-spec's order, `{created, created_by, author, comment, empty_layer}`); a layer whose
//!   diff is empty is marked `empty_layer` and left out of `rootfs.diff_ids`
//!   (`image.NewChildImage`). `--chown` in the ADD/COPY line is followed by a space from
//!   Docker 25 on (`--chown=1:1 file:…`), and glued to the hash before (`--chown=1:1file:…`).
//! * **BuildKit** (inside dockerd): top-level keys sorted (`patchImageConfig` goes through a
//!   map), `config` in struct order, every field `omitempty` except as noted:
//!   Docker ≤ 24 (BuildKit ≤ 0.11, `dockerfile2llb.ImageConfig`): `User`, `ExposedPorts`,
//!   `Env`, `Entrypoint`, `Cmd`, `Volumes`, `WorkingDir`, `Labels`, `StopSignal`,
//!   `Healthcheck`, `ArgsEscaped`, `OnBuild` (always, `null` when unset), `Shell`;
//!   Docker 25 (BuildKit 0.12): `ArgsEscaped` moves after `StopSignal` (image-spec 1.1);
//!   Docker ≥ 26 (BuildKit ≥ 0.13, `dockerspec.DockerOCIImageConfig`): as 25 but `OnBuild`
//!   is `omitempty`. History entries are image-spec's `{created, created_by, author, comment,
//!   empty_layer}`; `rootfs.diff_ids` is `null` when there are no layers.
//! * JSON is Go's `encoding/json`: `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c` …;
//!   control characters as `\u00XX`, except `\n`, `\r`, `\t`, and from Go 1.22 on `\b`, `\f`;
//!   times as RFC 3339 with trailing zeros of the fraction trimmed.
//!
//! # Deviations
//! * Only engine-embedded builders with the graphdriver image store are modelled (Docker's
//!   default before 29). The containerd image store writes a different config (struct order,
//!   no `container_config`), and so may buildx's `docker-container` driver.
//! * Docker 23, 24, 25, 27–29 shapes are read in source, not observed.
//! * The Go version an engine was built with (for `\b`, `\f`) is taken from the upstream
//!   release table; Debian's 26.1 build (Go 1.24) is recognised by its `+dfsg` version.

use serde_json::Value;
use sha2::{Digest, Sha256};

use layerproof_dockerfile::SOURCE_HASH_PLACEHOLDER;
use layerproof_dockerfile::{BuilderKind, ImageModel};

mod builder;
mod buildkit;
mod check;
mod classic;
mod engine;
mod gojson;
mod gotime;

pub use builder::{BuilderMark, builder_of, detect_builder};
pub use check::{CheckOptions, CheckStatus, ConfigCheck, check_config};
pub use engine::Engine;
pub use gotime::GoTime;

/// The diff_id of a layer with no entries (two zero blocks): the classic builder marks such a
/// step `empty_layer` and leaves it out of `rootfs.diff_ids`.
pub const EMPTY_LAYER_DIFF_ID: &str =
    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

/// Errors of [`image_config`] and [`RunValues::from_published`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A list does not have one entry per step.
    #[error("{what}: expected {expected} entries, got {actual}")]
    Count {
        /// Which list.
        what: &'static str,
        /// Entries needed.
        expected: usize,
        /// Entries given.
        actual: usize,
    },
    /// A run-dependent value is needed and was not supplied.
    #[error("missing run-dependent value: {0}")]
    MissingRunValue(String),
    /// A time that is not RFC 3339, or outside the years Go can write.
    #[error("invalid time {input:?}: {reason}")]
    Time {
        /// The text.
        input: String,
        /// Why.
        reason: String,
    },
    /// The model does not have the shape this builder writes.
    #[error("the image model does not fit the builder: {0}")]
    Model(String),
    /// The published config cannot be read.
    #[error("cannot read the published config: {0}")]
    Published(String),
}

/// The values only the run decides (see the module docs). Build them with
/// [`RunValues::uniform`] or take them from a published image with
/// [`RunValues::from_published`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunValues {
    /// `created` of each history entry, oldest first (one per `ImageModel::history` entry).
    pub history_created: Vec<GoTime>,
    /// Top-level `created`, when it is not the last history entry's.
    pub created: Option<GoTime>,
    /// Classic: `docker_version`.
    pub docker_version: String,
    /// Classic: ID of the container the last step was committed from (any step but ADD/COPY).
    pub container: Option<String>,
    /// Classic: `config.Image`, the previous step's image ID. `None`: computed, which works
    /// when every earlier step is ADD/COPY (or there is none).
    pub parent_image: Option<String>,
}

impl RunValues {
    /// Every history entry stamped `time`; the container ID, when one is needed, is invented
    /// from `seed` (a stable sha256) and reported as assumed by the caller.
    pub fn uniform(
        history_len: usize,
        time: GoTime,
        docker_version: &str,
        seed: &str,
    ) -> RunValues {
        RunValues {
            history_created: vec![time; history_len],
            created: None,
            docker_version: docker_version.to_string(),
            container: Some(hex::encode(Sha256::digest(
                format!("layerproof container {seed}").as_bytes(),
            ))),
            parent_image: None,
        }
    }

    /// The run-dependent values of a published config (classic or BuildKit).
    pub fn from_published(config: &[u8]) -> Result<RunValues, Error> {
        let v: Value =
            serde_json::from_slice(config).map_err(|e| Error::Published(e.to_string()))?;
        let time = |x: Option<&Value>, what: &str| -> Result<GoTime, Error> {
            let s = x
                .and_then(Value::as_str)
                .ok_or_else(|| Error::Published(format!("{what} is missing")))?;
            GoTime::parse(s)
        };
        let mut history_created = Vec::new();
        for (i, h) in v["history"].as_array().into_iter().flatten().enumerate() {
            history_created.push(time(h.get("created"), &format!("history[{i}].created"))?);
        }
        let created = match v.get("created") {
            None | Some(Value::Null) => None,
            c => {
                let t = time(c, "created")?;
                (history_created.last() != Some(&t)).then_some(t)
            }
        };
        let s = |x: &Value| x.as_str().map(str::to_string);
        Ok(RunValues {
            history_created,
            created,
            docker_version: s(&v["docker_version"]).unwrap_or_default(),
            container: s(&v["container"]),
            parent_image: s(&v["config"]["Image"]),
        })
    }
}

/// What the Dockerfile and the rebuild decided.
#[derive(Debug, Clone, Copy)]
pub struct ConfigInputs<'a> {
    /// The evaluated image (for this builder).
    pub model: &'a ImageModel,
    /// The builder the model was evaluated for.
    pub builder: BuilderKind,
    /// The engine whose shape is written.
    pub engine: Engine,
    /// One `sha256:<hex>` diff_id per `model.layers` entry.
    pub diff_ids: &'a [String],
    /// Classic builder: the source hash (`file:<hex>`, see [`crate::classic_hash`]) of each
    /// `model.layers` entry that is an ADD/COPY (`None` for WORKDIR). Ignored for BuildKit.
    pub source_hashes: &'a [Option<String>],
}

/// The image ID of a config: `sha256:` + the sha256 of its bytes.
pub fn image_id(config: &[u8]) -> String {
    layerproof_archive::Digest::of(config).to_string()
}

/// The config bytes the engine writes for this build.
pub fn image_config(inputs: &ConfigInputs<'_>, run: &RunValues) -> Result<Vec<u8>, Error> {
    let m = inputs.model;
    if inputs.diff_ids.len() != m.layers.len() {
        return Err(Error::Count {
            what: "diff_ids",
            expected: m.layers.len(),
            actual: inputs.diff_ids.len(),
        });
    }
    if run.history_created.len() != m.history.len() {
        return Err(Error::Count {
            what: "history created times",
            expected: m.history.len(),
            actual: run.history_created.len(),
        });
    }
    let config = match inputs.builder {
        BuilderKind::Buildkit => buildkit::image(inputs, run)?,
        BuilderKind::Classic => classic::image(inputs, run)?,
    };
    Ok(inputs.engine.encoder().encode(&config).into_bytes())
}

/// The history `created_by` lines this builder and engine write, with the classic source
/// hashes filled in (`None` where a hash is unknown: the placeholder stays).
pub fn created_by_lines(
    model: &ImageModel,
    builder: BuilderKind,
    engine: Option<Engine>,
    source_hashes: &[Option<String>],
) -> Vec<String> {
    let mut lines: Vec<String> = model.history.iter().map(|h| h.created_by.clone()).collect();
    if builder == BuilderKind::Classic {
        for (i, step) in model.layers.iter().enumerate() {
            let Some(line) = lines.get_mut(step.history_index) else {
                continue;
            };
            if let (Some(c), Some(e)) = (&step.chown, engine)
                && !e.classic_chown_space()
            {
                *line = line.replace(
                    &format!("--chown={c} {SOURCE_HASH_PLACEHOLDER}"),
                    &format!("--chown={c}{SOURCE_HASH_PLACEHOLDER}"),
                );
            }
            if let Some(Some(h)) = source_hashes.get(i) {
                *line = line.replace(SOURCE_HASH_PLACEHOLDER, h);
            }
        }
    }
    lines
}
