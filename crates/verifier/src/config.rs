//! The image config (and history) exactly as an engine writes it, and a field-by-field check
//! of a published config against an [`ImageModel`].
//!
//! [`image_config`] turns an [`ImageModel`] (what the Dockerfile says), the builder and engine,
//! the rebuilt diff_ids, the classic builder's source hashes ([`crate::classic_hash`]) and the
//! [`RunValues`] (what only the run decides) into the config bytes the engine would have
//! written; its sha256 is the image ID ([`image_id`]). [`check_config`] compares a published
//! config with the model and reports every field with a [`CheckStatus`].
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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::classic_hash::ContextTar;
use crate::dockerfile::SOURCE_HASH_PLACEHOLDER;
use crate::dockerfile::eval::BUILDKIT_COMMENT;
use crate::dockerfile::eval::{BuilderKind, ContainerConfig, HealthConfig, ImageModel};

/// The diff_id of a layer with no entries (two zero blocks): the classic builder marks such a
/// step `empty_layer` and leaves it out of `rootfs.diff_ids`.
pub const EMPTY_LAYER_DIFF_ID: &str =
    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

/// The classic builder's default shell (Linux).
const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

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

// ---------------------------------------------------------------------------------------------
// Engines

/// The engine whose config shape is written: Docker Engine `major.minor` and the Go version it
/// was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Engine {
    /// Docker Engine major version (20, 23, 24, …).
    pub major: u32,
    /// Minor version (20.10 → 10).
    pub minor: u32,
    /// Go 1.x the engine was built with (decides `\b` and `\f` in JSON strings).
    pub go_minor: u32,
}

/// Layout of BuildKit's `config` object (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BuildkitLayout {
    /// BuildKit ≤ 0.11 (Docker ≤ 24).
    Legacy,
    /// BuildKit 0.12 (Docker 25).
    Oci11,
    /// BuildKit ≥ 0.13 (Docker ≥ 26).
    DockerSpec,
}

impl Engine {
    /// Docker `major.minor` built with the Go of its upstream release.
    pub fn new(major: u32, minor: u32) -> Engine {
        let go_minor = match (major, minor) {
            (..=19, _) => 13,
            (20, _) => 19,
            (23, _) => 20,
            (24, _) => 20,
            (25, _) | (26, _) => 21,
            (27, m) if m < 4 => 21,
            (27, _) => 22,
            (28, _) => 23,
            _ => 24,
        };
        Engine {
            major,
            minor,
            go_minor,
        }
    }

    /// The engine a `docker_version` string names (`20.10.24+dfsg1`, `26.1.5`). Debian's
    /// `+dfsg` builds of Docker ≥ 26 use trixie's Go 1.24.
    pub fn from_docker_version(v: &str) -> Option<Engine> {
        let mut it = v.split(['.', '+', '-', '~']);
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        let mut e = Engine::new(major, minor);
        if v.contains("dfsg") && major >= 26 {
            e.go_minor = 24;
        }
        Some(e)
    }

    /// The engine a layer profile (`layerproof profiles`) stands for: 20.10 for `docker-20.10*`,
    /// 23.0, 26.1 (the observed member of `docker-24-27`), 28.5 and 29.7. `None` for profiles
    /// that are not a Docker engine's graphdriver path.
    pub fn for_profile(name: &str) -> Option<Engine> {
        Some(match name {
            "docker-20.10" | "docker-20.10-debian" => Engine::new(20, 10),
            "docker-23.0" => Engine::new(23, 0),
            "docker-24-27" => Engine::new(26, 1),
            "docker-28-29.6" => Engine::new(28, 5),
            "docker-29.7" | "docker-29.7-buildkit-overlayfs" => Engine::new(29, 7),
            _ => return None,
        })
    }

    /// Which mode the context tar of a client of this version carries (classic source hash).
    pub fn context_tar(&self) -> ContextTar {
        ContextTar::for_client_major(self.major)
    }

    fn buildkit_layout(&self) -> BuildkitLayout {
        match self.major {
            ..=24 => BuildkitLayout::Legacy,
            25 => BuildkitLayout::Oci11,
            _ => BuildkitLayout::DockerSpec,
        }
    }

    /// Docker ≥ 25 uses image-spec's `History` (`created`, `created_by`, `author`, …) for the
    /// classic builder too (moby 2a6ff3c24f); before, moby's own (`created`, `author`,
    /// `created_by`, …).
    fn classic_oci_history(&self) -> bool {
        self.major >= 25
    }

    /// Docker ≥ 25 writes `--chown=X ` with a space before the source hash.
    fn classic_chown_space(&self) -> bool {
        self.major >= 25
    }

    fn json(&self) -> Json {
        Json {
            short_bf: self.go_minor >= 22,
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "docker-{}.{} (go1.{})",
            self.major, self.minor, self.go_minor
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Times

/// A point in time with the UTC offset it is written in, formatted as Go's `time.Time` JSON
/// (RFC 3339, nanoseconds with trailing zeros trimmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoTime {
    /// Seconds since the Unix epoch.
    pub unix: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nanos: u32,
    /// Offset from UTC in seconds (0 = `Z`).
    pub offset: i32,
}

impl GoTime {
    /// A UTC time.
    pub fn utc(unix: i64, nanos: u32) -> GoTime {
        GoTime {
            unix: unix.saturating_add(i64::from(nanos / 1_000_000_000)),
            nanos: nanos % 1_000_000_000,
            offset: 0,
        }
    }

    /// Parses RFC 3339 (`2026-11-22T16:25:45.3546451Z`, `…+02:00`).
    pub fn parse(s: &str) -> Result<GoTime, Error> {
        let bad = |reason: &str| Error::Time {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let b = s.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Result<i64, Error> {
            let part = b.get(r).ok_or_else(|| bad("too short"))?;
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                return Err(bad("expected digits"));
            }
            Ok(part.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
        };
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(bad("expected YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)"));
        }
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || min > 59
            || sec > 59
        {
            return Err(bad("field out of range"));
        }
        let mut i = 19;
        let mut nanos = 0u32;
        if b[i] == b'.' {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            let digits = end - start;
            if digits == 0 || digits > 9 {
                return Err(bad("fraction must have 1 to 9 digits"));
            }
            let v = num(start..end)? as u32;
            nanos = v * 10u32.pow(9 - digits as u32);
            i = end;
        }
        let offset = match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
                let (h, m) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
                if h > 23 || m > 59 {
                    return Err(bad("offset out of range"));
                }
                let o = (h * 3600 + m * 60) as i32;
                if *sign == b'-' { -o } else { o }
            }
            _ => return Err(bad("expected Z or ±HH:MM after the seconds")),
        };
        let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec;
        Ok(GoTime {
            unix: local - i64::from(offset),
            nanos,
            offset,
        })
    }

    /// Go's `RFC3339Nano` text. Fails for years Go refuses to write (outside 0..=9999).
    pub fn format(&self) -> Result<String, Error> {
        let local = self.unix.saturating_add(i64::from(self.offset));
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        if !(0..=9999).contains(&y) {
            return Err(Error::Time {
                input: format!("{}s since the epoch", self.unix),
                reason: "year outside [0,9999] (Go's json.Marshal refuses it)".into(),
            });
        }
        let mut s = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        if self.nanos > 0 {
            let frac = format!("{:09}", self.nanos);
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        if self.offset == 0 {
            s.push('Z');
        } else {
            let o = self.offset.unsigned_abs();
            let sign = if self.offset < 0 { '-' } else { '+' };
            let _ = write!(s, "{sign}{:02}:{:02}", o / 3600, o / 60 % 60);
        }
        Ok(s)
    }
}

impl std::fmt::Display for GoTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.format() {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "@{}.{:09}", self.unix, self.nanos),
        }
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

// ---------------------------------------------------------------------------------------------
// Go encoding/json

/// A JSON value written the way Go's `encoding/json` writes it; objects keep the order given.
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
    /// An object with dynamic keys (Go maps: keys sorted by the caller's BTreeMap).
    Map(Vec<(String, J)>),
}

#[derive(Debug, Clone, Copy)]
struct Json {
    /// Go ≥ 1.22 writes `\b` and `\f` short.
    short_bf: bool,
}

impl Json {
    fn write(&self, v: &J, out: &mut String) {
        match v {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Int(i) => {
                let _ = write!(out, "{i}");
            }
            J::Str(s) => self.string(s, out),
            J::Arr(items) => {
                out.push('[');
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.write(it, out);
                }
                out.push(']');
            }
            J::Obj(fields) => self.object(fields.iter().map(|(k, v)| (*k, v)), out),
            J::Map(fields) => self.object(fields.iter().map(|(k, v)| (k.as_str(), v)), out),
        }
    }

    /// `{"k":v,…}` in the order given.
    fn object<'a>(&self, fields: impl Iterator<Item = (&'a str, &'a J)>, out: &mut String) {
        out.push('{');
        for (i, (k, it)) in fields.enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.string(k, out);
            out.push(':');
            self.write(it, out);
        }
        out.push('}');
    }

    fn string(&self, s: &str, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' if self.short_bf => out.push_str("\\b"),
                '\u{c}' if self.short_bf => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                    let b = c as u8;
                    out.push_str("\\u00");
                    out.push(HEX[usize::from(b >> 4)] as char);
                    out.push(HEX[usize::from(b & 15)] as char);
                }
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

fn jstr(s: &str) -> J {
    J::Str(s.to_string())
}

fn jstrs(v: &[String]) -> J {
    J::Arr(v.iter().map(|s| jstr(s)).collect())
}

fn jset(v: &BTreeSet<String>) -> J {
    J::Map(v.iter().map(|k| (k.clone(), J::Obj(Vec::new()))).collect())
}

fn jlabels(v: &BTreeMap<String, String>) -> J {
    J::Map(v.iter().map(|(k, x)| (k.clone(), jstr(x))).collect())
}

fn jhealth(h: &HealthConfig) -> J {
    let mut f = Vec::new();
    if !h.test.is_empty() {
        f.push(("Test", jstrs(&h.test)));
    }
    for (k, v) in [
        ("Interval", h.interval),
        ("Timeout", h.timeout),
        ("StartPeriod", h.start_period),
        ("StartInterval", h.start_interval),
        ("Retries", h.retries),
    ] {
        if v != 0 {
            f.push((k, J::Int(v)));
        }
    }
    J::Obj(f)
}

fn jtime(t: &GoTime) -> Result<J, Error> {
    Ok(J::Str(t.format()?))
}

// ---------------------------------------------------------------------------------------------
// Inputs

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
    format!("sha256:{}", hex::encode(Sha256::digest(config)))
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
    let j = match inputs.builder {
        BuilderKind::Buildkit => buildkit(inputs, run)?,
        BuilderKind::Classic => classic(inputs, run)?,
    };
    let mut out = String::new();
    inputs.engine.json().write(&j, &mut out);
    Ok(out.into_bytes())
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

// ---------------------------------------------------------------------------------------------
// BuildKit

fn buildkit(inputs: &ConfigInputs<'_>, run: &RunValues) -> Result<J, Error> {
    let m = inputs.model;
    let layout = inputs.engine.buildkit_layout();
    let c = &m.config;
    let mut cfg: Vec<(&'static str, J)> = Vec::new();
    let nonempty = |v: &Option<Vec<String>>| v.as_ref().filter(|v| !v.is_empty()).map(|v| jstrs(v));
    if !c.user.is_empty() {
        cfg.push(("User", jstr(&c.user)));
    }
    if !c.exposed_ports.is_empty() {
        cfg.push(("ExposedPorts", jset(&c.exposed_ports)));
    }
    if !c.env.is_empty() {
        cfg.push(("Env", jstrs(&c.env)));
    }
    if let Some(e) = nonempty(&c.entrypoint) {
        cfg.push(("Entrypoint", e));
    }
    if let Some(e) = nonempty(&c.cmd) {
        cfg.push(("Cmd", e));
    }
    if !c.volumes.is_empty() {
        cfg.push(("Volumes", jset(&c.volumes)));
    }
    if !c.working_dir.is_empty() {
        cfg.push(("WorkingDir", jstr(&c.working_dir)));
    }
    if !c.labels.is_empty() {
        cfg.push(("Labels", jlabels(&c.labels)));
    }
    if !c.stop_signal.is_empty() {
        cfg.push(("StopSignal", jstr(&c.stop_signal)));
    }
    let args_escaped = c.args_escaped.then_some(("ArgsEscaped", J::Bool(true)));
    let health = c.healthcheck.as_ref().map(|h| ("Healthcheck", jhealth(h)));
    match layout {
        BuildkitLayout::Legacy => cfg.extend(health.into_iter().chain(args_escaped)),
        BuildkitLayout::Oci11 | BuildkitLayout::DockerSpec => {
            cfg.extend(args_escaped.into_iter().chain(health))
        }
    }
    match (layout, c.on_build.is_empty()) {
        (BuildkitLayout::DockerSpec, true) => {}
        (_, true) => cfg.push(("OnBuild", J::Null)),
        (_, false) => cfg.push(("OnBuild", jstrs(&c.on_build))),
    }
    if !c.shell.is_empty() {
        cfg.push(("Shell", jstrs(&c.shell)));
    }

    let lines = created_by_lines(m, BuilderKind::Buildkit, Some(inputs.engine), &[]);
    let mut history = Vec::new();
    for (i, h) in m.history.iter().enumerate() {
        let mut e = vec![("created", jtime(&run.history_created[i])?)];
        if !lines[i].is_empty() {
            e.push(("created_by", jstr(&lines[i])));
        }
        if let Some(cm) = h.comment.as_deref().filter(|c| !c.is_empty()) {
            e.push(("comment", jstr(cm)));
        }
        if h.empty_layer {
            e.push(("empty_layer", J::Bool(true)));
        }
        history.push(J::Obj(e));
    }
    let diff_ids = if inputs.diff_ids.is_empty() {
        J::Null
    } else {
        jstrs(inputs.diff_ids)
    };
    let mut top: BTreeMap<&'static str, J> = BTreeMap::new();
    top.insert("architecture", jstr(&m.architecture));
    top.insert("os", jstr(&m.os));
    if !m.variant.is_empty() {
        top.insert("variant", jstr(&m.variant));
    }
    if !m.author.is_empty() {
        top.insert("author", jstr(&m.author));
    }
    top.insert("config", J::Obj(cfg));
    if !history.is_empty() {
        top.insert("history", J::Arr(history));
    }
    let created = run.created.or_else(|| run.history_created.last().copied());
    top.insert(
        "created",
        match created {
            Some(t) => jtime(&t)?,
            None => J::Null,
        },
    );
    top.insert(
        "rootfs",
        J::Obj(vec![("type", jstr("layers")), ("diff_ids", diff_ids)]),
    );
    Ok(J::Obj(top.into_iter().collect()))
}

// ---------------------------------------------------------------------------------------------
// Classic builder

/// moby's `container.Config` as the classic builder writes it.
fn classic_container_config(
    c: &ContainerConfig,
    hostname: &str,
    cmd: Option<&[String]>,
    image: &str,
    labels_map: bool,
) -> J {
    let opt =
        |v: Option<&[String]>| v.map_or(J::Null, |v| J::Arr(v.iter().map(|s| jstr(s)).collect()));
    let mut f: Vec<(&'static str, J)> = vec![
        ("Hostname", jstr(hostname)),
        ("Domainname", jstr("")),
        ("User", jstr(&c.user)),
        ("AttachStdin", J::Bool(false)),
        ("AttachStdout", J::Bool(false)),
        ("AttachStderr", J::Bool(false)),
    ];
    if !c.exposed_ports.is_empty() {
        f.push(("ExposedPorts", jset(&c.exposed_ports)));
    }
    f.extend([
        ("Tty", J::Bool(false)),
        ("OpenStdin", J::Bool(false)),
        ("StdinOnce", J::Bool(false)),
        (
            "Env",
            if c.env.is_empty() {
                J::Null
            } else {
                jstrs(&c.env)
            },
        ),
        ("Cmd", opt(cmd)),
    ]);
    if let Some(h) = &c.healthcheck {
        f.push(("Healthcheck", jhealth(h)));
    }
    if c.args_escaped {
        f.push(("ArgsEscaped", J::Bool(true)));
    }
    f.extend([
        ("Image", jstr(image)),
        (
            "Volumes",
            if c.volumes.is_empty() {
                J::Null
            } else {
                jset(&c.volumes)
            },
        ),
        ("WorkingDir", jstr(&c.working_dir)),
        ("Entrypoint", opt(c.entrypoint.as_deref())),
        (
            "OnBuild",
            if c.on_build.is_empty() {
                J::Null
            } else {
                jstrs(&c.on_build)
            },
        ),
        (
            "Labels",
            if c.labels.is_empty() && !labels_map {
                J::Null
            } else {
                jlabels(&c.labels)
            },
        ),
    ]);
    if !c.stop_signal.is_empty() {
        f.push(("StopSignal", jstr(&c.stop_signal)));
    }
    if !c.shell.is_empty() {
        f.push(("Shell", jstrs(&c.shell)));
    }
    J::Obj(f)
}

/// How the classic builder ran a history step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClassicStep {
    /// ADD/COPY: exported without a container (`exportImage`), command is one argument.
    Export,
    /// WORKDIR: committed from a container, command is one argument.
    CommitOneArg,
    /// Every metadata instruction: committed from a container, `"#(nop) "` + the comment.
    CommitNop,
}

fn classic_step(m: &ImageModel, index: usize) -> ClassicStep {
    match m.layers.iter().find(|l| l.history_index == index) {
        Some(l) if l.instruction == "WORKDIR" => ClassicStep::CommitOneArg,
        Some(_) => ClassicStep::Export,
        None => ClassicStep::CommitNop,
    }
}

/// The container command of a step, recovered from its `created_by` line (which is that
/// command joined with spaces).
fn classic_cmd(line: &str, shell: &[String], step: ClassicStep) -> Result<Vec<String>, Error> {
    let prefix = shell.join(" ");
    let (marker, split) = match step {
        ClassicStep::CommitNop => (" #(nop)  ", true),
        ClassicStep::Export | ClassicStep::CommitOneArg => (" #(nop) ", false),
    };
    let rest = line
        .strip_prefix(prefix.as_str())
        .and_then(|r| r.strip_prefix(marker))
        .ok_or_else(|| {
            Error::Model(format!(
                "classic history line {line:?} does not start with {:?}",
                format!("{prefix}{marker}")
            ))
        })?;
    let mut cmd = shell.to_vec();
    if split {
        cmd.push("#(nop) ".to_string());
        cmd.push(rest.to_string());
    } else {
        cmd.push(format!("#(nop) {rest}"));
    }
    Ok(cmd)
}

fn classic_history(
    lines: &[String],
    empty: &[bool],
    created: &[GoTime],
    upto: usize,
    oci_order: bool,
) -> Result<J, Error> {
    let mut out = Vec::new();
    // NewHistory(state.maintainer, …): every entry from a MAINTAINER step on carries the
    // maintainer at that time as `author`.
    let mut author: Option<&str> = None;
    for i in 0..=upto {
        if let Some((_, m)) = lines[i].split_once(" #(nop)  MAINTAINER ") {
            author = Some(m);
        }
        let mut e = vec![("created", jtime(&created[i])?)];
        let author = author
            .filter(|a| !a.is_empty())
            .map(|a| ("author", jstr(a)));
        let by = (!lines[i].is_empty()).then(|| ("created_by", jstr(&lines[i])));
        if oci_order {
            e.extend(by.into_iter().chain(author));
        } else {
            e.extend(author.into_iter().chain(by));
        }
        if empty[i] {
            e.push(("empty_layer", J::Bool(true)));
        }
        out.push(J::Obj(e));
    }
    Ok(J::Arr(out))
}

/// One classic image: the model's final state, or (for `upto` < last) the image an earlier
/// ADD/COPY step exported.
struct ClassicImage<'a> {
    config: &'a ContainerConfig,
    upto: usize,
    image: String,
    container: Option<&'a str>,
}

fn classic(inputs: &ConfigInputs<'_>, run: &RunValues) -> Result<J, Error> {
    let m = inputs.model;
    if m.history.is_empty() {
        return Err(Error::Model(
            "a classic build with no step after FROM is the base image itself".into(),
        ));
    }
    for (i, step) in m.layers.iter().enumerate() {
        if step.instruction != "WORKDIR" && !matches!(inputs.source_hashes.get(i), Some(Some(_))) {
            return Err(Error::MissingRunValue(format!(
                "source hash of {} at {} (classic builder)",
                step.instruction, step.span
            )));
        }
    }
    let lines = created_by_lines(
        m,
        BuilderKind::Classic,
        Some(inputs.engine),
        inputs.source_hashes,
    );
    // A layer whose diff is empty is an empty-layer entry (image.NewChildImage).
    let mut empty: Vec<bool> = m.history.iter().map(|h| h.empty_layer).collect();
    let mut diff_of: BTreeMap<usize, &str> = BTreeMap::new();
    for (step, d) in m.layers.iter().zip(inputs.diff_ids) {
        if d == EMPTY_LAYER_DIFF_ID {
            empty[step.history_index] = true;
        } else {
            diff_of.insert(step.history_index, d);
        }
    }
    let last = m.history.len() - 1;
    let parent = match (&run.parent_image, last) {
        (_, 0) => String::new(),
        (Some(p), _) => p.clone(),
        (None, _) => classic_parent_chain(inputs, run, &lines, &empty, &diff_of, last)?,
    };
    let container = match classic_step(m, last) {
        ClassicStep::Export => None,
        _ => Some(run.container.as_deref().ok_or_else(|| {
            Error::MissingRunValue(
                "the container ID the last step was committed from (`container`)".into(),
            )
        })?),
    };
    classic_image(
        inputs,
        run,
        &lines,
        &empty,
        &diff_of,
        &ClassicImage {
            config: &m.config,
            upto: last,
            image: parent,
            container,
        },
    )
}

/// `config.Image` of the last step: the ID of the image the step before produced, computed
/// when every earlier step was exported without a container.
fn classic_parent_chain(
    inputs: &ConfigInputs<'_>,
    run: &RunValues,
    lines: &[String],
    empty: &[bool],
    diff_of: &BTreeMap<usize, &str>,
    last: usize,
) -> Result<String, Error> {
    let m = inputs.model;
    if let Some(i) = (0..last).find(|&i| classic_step(m, i) != ClassicStep::Export) {
        return Err(Error::MissingRunValue(format!(
            "config.Image: history step {i} ({:?}) ran in a container whose ID only the build \
             knows; take config.Image from the published image",
            m.history[i].created_by
        )));
    }
    // Before any step, the run config of a scratch stage is Env=[PATH] and nothing else.
    let initial = ContainerConfig {
        env: m
            .config
            .env
            .iter()
            .filter(|e| e.starts_with("PATH="))
            .take(1)
            .cloned()
            .collect(),
        ..ContainerConfig::default()
    };
    let mut id = String::new();
    for i in 0..last {
        let j = classic_image(
            inputs,
            run,
            lines,
            empty,
            diff_of,
            &ClassicImage {
                config: &initial,
                upto: i,
                image: id.clone(),
                container: None,
            },
        )?;
        let mut bytes = String::new();
        inputs.engine.json().write(&j, &mut bytes);
        id = image_id(bytes.as_bytes());
    }
    Ok(id)
}

fn classic_image(
    inputs: &ConfigInputs<'_>,
    run: &RunValues,
    lines: &[String],
    empty: &[bool],
    diff_of: &BTreeMap<usize, &str>,
    img: &ClassicImage<'_>,
) -> Result<J, Error> {
    let m = inputs.model;
    let step = classic_step(m, img.upto);
    let shell: Vec<String> = if img.config.shell.is_empty() {
        DEFAULT_SHELL.iter().map(|s| s.to_string()).collect()
    } else {
        img.config.shell.clone()
    };
    let cmd = classic_cmd(&lines[img.upto], &shell, step)?;
    let committed = step != ClassicStep::Export;
    let hostname: String = match img.container {
        Some(c) if committed => c.chars().take(12).collect(),
        _ => String::new(),
    };
    let config =
        classic_container_config(img.config, "", img.config.cmd.as_deref(), &img.image, false);
    let container_config =
        classic_container_config(img.config, &hostname, Some(&cmd), &img.image, committed);
    let diff_ids: Vec<J> = (0..=img.upto)
        .filter_map(|i| diff_of.get(&i).map(|d| jstr(d)))
        .collect();
    let mut rootfs = vec![("type", jstr("layers"))];
    if !diff_ids.is_empty() {
        rootfs.push(("diff_ids", J::Arr(diff_ids)));
    }
    let created = if img.upto == m.history.len() - 1 {
        run.created.unwrap_or(run.history_created[img.upto])
    } else {
        run.history_created[img.upto]
    };
    let mut top: BTreeMap<&'static str, J> = BTreeMap::new();
    top.insert("architecture", jstr(&m.architecture));
    top.insert("os", jstr(&m.os));
    if !m.variant.is_empty() {
        top.insert("variant", jstr(&m.variant));
    }
    if !m.author.is_empty() && img.upto == m.history.len() - 1 {
        top.insert("author", jstr(&m.author));
    }
    top.insert("config", config);
    if let (true, Some(c)) = (committed, img.container) {
        top.insert("container", jstr(c));
    }
    top.insert("container_config", container_config);
    top.insert("created", jtime(&created)?);
    if !run.docker_version.is_empty() {
        top.insert("docker_version", jstr(&run.docker_version));
    }
    top.insert(
        "history",
        classic_history(
            lines,
            empty,
            &run.history_created,
            img.upto,
            inputs.engine.classic_oci_history(),
        )?,
    );
    top.insert("rootfs", J::Obj(rootfs));
    Ok(J::Obj(top.into_iter().collect()))
}

// ---------------------------------------------------------------------------------------------
// Checking a published config

/// The outcome of one field's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum CheckStatus {
    /// Same value (null, absent and empty count as the same).
    Match,
    /// Different values.
    Differ,
    /// Not compared; the published value is only reported.
    NotChecked {
        /// Why (run-dependent, or not known on our side).
        reason: String,
    },
}

/// One field of a published config compared with the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigCheck {
    /// JSON path of the field (`config.Env`, `history[1].created_by`, `rootfs.diff_ids`).
    pub field: String,
    /// What the model says (absent when nothing is expected, e.g. a run-dependent field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    /// What the published config says (absent when the field is absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<Value>,
    /// The verdict for this field.
    #[serde(flatten)]
    pub status: CheckStatus,
}

/// What [`check_config`] knows besides the model.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions<'a> {
    /// The builder the model was evaluated for; `None`: [`detect_builder`] on the published
    /// config (classic when undecidable).
    pub builder: Option<BuilderKind>,
    /// Classic: source hash of each `model.layers` entry, where computed (see
    /// [`crate::classic_hash`]). Without it the rest of the ADD/COPY line is still checked.
    pub source_hashes: &'a [Option<String>],
    /// The rebuilt diff_ids, one per `model.layers` entry, to compare value by value.
    pub diff_ids: Option<&'a [String]>,
}

/// Which builder wrote a config: BuildKit leaves `buildkit.dockerfile.v0` comments in the
/// history and no `container_config`; the classic builder writes `container_config`.
pub fn detect_builder(published: &[u8]) -> Option<BuilderKind> {
    let v: Value = serde_json::from_slice(published).ok()?;
    let bk = v["history"].as_array().is_some_and(|h| {
        h.iter()
            .any(|e| e["comment"].as_str() == Some(BUILDKIT_COMMENT))
    });
    if bk {
        Some(BuilderKind::Buildkit)
    } else if v.get("container_config").is_some() {
        Some(BuilderKind::Classic)
    } else {
        None
    }
}

/// Null, absent, `""`, `false`, `[]` and `{}` all mean "unset".
fn unset(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => !b,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Number(_)) => false,
    }
}

fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    (unset(a) && unset(b)) || a == b
}

fn vstrs(v: &[String]) -> Value {
    Value::Array(v.iter().map(|s| Value::String(s.clone())).collect())
}

fn vset(v: &BTreeSet<String>) -> Value {
    Value::Object(
        v.iter()
            .map(|k| (k.clone(), Value::Object(Default::default())))
            .collect(),
    )
}

/// The model's `config` fields as JSON values, keyed by Docker's field names.
fn expected_config_fields(c: &ContainerConfig) -> Vec<(&'static str, Value)> {
    let opt = |v: &Option<Vec<String>>| v.as_ref().map_or(Value::Null, |v| vstrs(v));
    let health = c.healthcheck.as_ref().map_or(Value::Null, |h| {
        let mut o = serde_json::Map::new();
        if !h.test.is_empty() {
            o.insert("Test".into(), vstrs(&h.test));
        }
        for (k, v) in [
            ("Interval", h.interval),
            ("Timeout", h.timeout),
            ("StartPeriod", h.start_period),
            ("StartInterval", h.start_interval),
            ("Retries", h.retries),
        ] {
            if v != 0 {
                o.insert(k.into(), Value::from(v));
            }
        }
        Value::Object(o)
    });
    vec![
        ("User", Value::String(c.user.clone())),
        ("ExposedPorts", vset(&c.exposed_ports)),
        ("Env", vstrs(&c.env)),
        ("Cmd", opt(&c.cmd)),
        ("Entrypoint", opt(&c.entrypoint)),
        ("WorkingDir", Value::String(c.working_dir.clone())),
        (
            "Labels",
            Value::Object(
                c.labels
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        ),
        ("Volumes", vset(&c.volumes)),
        ("StopSignal", Value::String(c.stop_signal.clone())),
        ("Healthcheck", health),
        ("OnBuild", vstrs(&c.on_build)),
        ("Shell", vstrs(&c.shell)),
        ("ArgsEscaped", Value::Bool(c.args_escaped)),
    ]
}

/// Compares a published config with the model, field by field. Never fails: a config that is
/// not JSON gives one `config` check that differs.
///
/// Compared: `os`, `architecture`, `variant`, `author`, the `config` fields (`User`,
/// `ExposedPorts`, `Env`, `Cmd`, `Entrypoint`, `WorkingDir`, `Labels`, `Volumes`,
/// `StopSignal`, `Healthcheck`, `OnBuild`, `Shell`, `ArgsEscaped`), the number of history
/// entries and each entry's `created_by` (classic: with the source hash when known, else the
/// rest of the line), `empty_layer` and `comment`, and the number of `rootfs.diff_ids` (and
/// their values when [`CheckOptions::diff_ids`] is given). Reported only: the run-dependent
/// fields of the module docs.
pub fn check_config(
    published: &[u8],
    expected: &ImageModel,
    opts: &CheckOptions<'_>,
) -> Vec<ConfigCheck> {
    let mut out = Vec::new();
    let v: Value = match serde_json::from_slice(published) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) | Err(_) => {
            out.push(ConfigCheck {
                field: "config".into(),
                expected: Some(Value::String("a JSON object (image config)".into())),
                published: Some(Value::String(
                    String::from_utf8_lossy(&published[..published.len().min(80)]).into_owned(),
                )),
                status: CheckStatus::Differ,
            });
            return out;
        }
    };
    let builder = opts
        .builder
        .or_else(|| detect_builder(published))
        .unwrap_or(BuilderKind::Classic);
    let engine = v["docker_version"]
        .as_str()
        .and_then(Engine::from_docker_version);
    let cmp = |out: &mut Vec<ConfigCheck>, field: String, exp: Value, publ: Option<&Value>| {
        let status = if same(Some(&exp), publ) {
            CheckStatus::Match
        } else {
            CheckStatus::Differ
        };
        out.push(ConfigCheck {
            field,
            expected: Some(exp),
            published: publ.cloned(),
            status,
        });
    };
    for (k, e) in [
        ("os", &expected.os),
        ("architecture", &expected.architecture),
        ("variant", &expected.variant),
        ("author", &expected.author),
    ] {
        cmp(&mut out, k.to_string(), Value::String(e.clone()), v.get(k));
    }
    let pc = v.get("config");
    for (k, e) in expected_config_fields(&expected.config) {
        cmp(
            &mut out,
            format!("config.{k}"),
            e,
            pc.and_then(|c| c.get(k)),
        );
    }

    let empty = Vec::new();
    let ph = v["history"].as_array().unwrap_or(&empty);
    cmp(
        &mut out,
        "history.length".into(),
        Value::from(expected.history.len()),
        Some(&Value::from(ph.len())),
    );
    let lines = created_by_lines(expected, builder, engine, opts.source_hashes);
    for (i, (h, line)) in expected.history.iter().zip(&lines).enumerate() {
        let p = ph.get(i);
        let pcb = p.and_then(|p| p.get("created_by"));
        if line.contains(SOURCE_HASH_PLACEHOLDER) {
            let (pre, post) = line
                .split_once(SOURCE_HASH_PLACEHOLDER)
                .unwrap_or((line.as_str(), ""));
            let ok = pcb.and_then(Value::as_str).is_some_and(|s| {
                s.len() >= pre.len() + post.len() && s.starts_with(pre) && s.ends_with(post)
            });
            out.push(ConfigCheck {
                field: format!("history[{i}].created_by"),
                expected: Some(Value::String(line.clone())),
                published: pcb.cloned(),
                status: if ok {
                    CheckStatus::NotChecked {
                        reason: "the source hash was not computed; the rest of the line matches"
                            .into(),
                    }
                } else {
                    CheckStatus::Differ
                },
            });
        } else {
            cmp(
                &mut out,
                format!("history[{i}].created_by"),
                Value::String(line.clone()),
                pcb,
            );
        }
        cmp(
            &mut out,
            format!("history[{i}].empty_layer"),
            Value::Bool(h.empty_layer),
            p.and_then(|p| p.get("empty_layer")),
        );
        cmp(
            &mut out,
            format!("history[{i}].comment"),
            h.comment.clone().map_or(Value::Null, Value::String),
            p.and_then(|p| p.get("comment")),
        );
        out.push(ConfigCheck {
            field: format!("history[{i}].created"),
            expected: None,
            published: p.and_then(|p| p.get("created")).cloned(),
            status: CheckStatus::NotChecked {
                reason: "run-dependent: the wall clock of the build step".into(),
            },
        });
    }

    let pd = v["rootfs"]["diff_ids"].as_array().unwrap_or(&empty);
    let layers = expected.history.iter().filter(|h| !h.empty_layer).count();
    cmp(
        &mut out,
        "rootfs.diff_ids.length".into(),
        Value::from(layers),
        Some(&Value::from(pd.len())),
    );
    if let Some(ours) = opts.diff_ids {
        for (i, d) in ours.iter().enumerate() {
            cmp(
                &mut out,
                format!("rootfs.diff_ids[{i}]"),
                Value::String(d.clone()),
                pd.get(i),
            );
        }
    }

    let mut report = |field: &str, reason: &str| {
        if let Some(p) = v.get(field) {
            out.push(ConfigCheck {
                field: field.to_string(),
                expected: None,
                published: Some(p.clone()),
                status: CheckStatus::NotChecked {
                    reason: reason.to_string(),
                },
            });
        }
    };
    report(
        "created",
        "run-dependent: the wall clock of the last build step",
    );
    report(
        "docker_version",
        "run-dependent: the version string of the daemon that built it",
    );
    report(
        "container",
        "run-dependent: ID of the container the last step was committed from",
    );
    report(
        "container_config",
        "run-dependent: the run config with the last step's command; Hostname is the build \
         container's ID",
    );
    if let Some(p) = pc.and_then(|c| c.get("Image")) {
        out.push(ConfigCheck {
            field: "config.Image".into(),
            expected: None,
            published: Some(p.clone()),
            status: CheckStatus::NotChecked {
                reason: "run-dependent: ID of the previous build step's image".into(),
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_time(s: &str) {
        let t = GoTime::parse(s).unwrap();
        assert_eq!(t.format().unwrap(), s);
    }

    #[test]
    fn times_round_trip_in_go_form() {
        check_time("2026-11-22T16:25:45.3546451Z");
        check_time("2026-11-22T16:25:46.010060016Z");
        check_time("1970-01-01T00:00:00Z");
        check_time("2000-02-29T23:59:59.1+05:30");
        check_time("1969-12-31T23:59:59.999999999-08:00");
        check_time("0001-01-01T00:00:00Z");
        assert_eq!(GoTime::parse("1970-01-01T00:00:01Z").unwrap().unix, 1);
        assert_eq!(GoTime::parse("1970-01-01T01:00:00+01:00").unwrap().unix, 0);
        assert_eq!(
            GoTime::parse("2026-11-22T16:25:45.500Z")
                .unwrap()
                .format()
                .unwrap(),
            "2026-11-22T16:25:45.5Z"
        );
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-11-22 16:25:45Z",
            "2026-11-22T16:25:45",
            "2026-11-22T16:25:45.Z",
            "2026-11-22T16:25:45.1234567890Z",
            "2026-11-22T16:25:45+0100",
            "",
        ] {
            assert!(GoTime::parse(bad).is_err(), "{bad}");
        }
        assert!(GoTime::utc(253_402_300_800, 0).format().is_err());
    }

    #[test]
    fn days_agree_with_a_known_calendar() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        for d in [-800_000, -1, 0, 1, 59, 60, 365, 10_000, 2_932_896] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn go_json_escapes() {
        let s = "a\"b\\c\n\t\r<>&\u{8}\u{c}\u{1}\u{7f}\u{2028}é";
        let mut old = String::new();
        Json { short_bf: false }.string(s, &mut old);
        assert_eq!(
            old,
            r#""a\"b\\c\n\t\r\u003c\u003e\u0026\u0008\u000c\u0001"#.to_string()
                + "\u{7f}\\u2028é\""
        );
        let mut new = String::new();
        Json { short_bf: true }.string(s, &mut new);
        assert!(new.contains(r"\b\f\u0001"));
    }

    #[test]
    fn engines_from_versions() {
        let e = Engine::from_docker_version("20.10.24+dfsg1").unwrap();
        assert_eq!((e.major, e.minor, e.go_minor), (20, 10, 19));
        let e = Engine::from_docker_version("26.1.5+dfsg1").unwrap();
        assert_eq!((e.major, e.minor, e.go_minor), (26, 1, 24));
        assert_eq!(Engine::from_docker_version("26.1.5").unwrap().go_minor, 21);
        assert!(Engine::from_docker_version("dev").is_none());
        assert_eq!(
            Engine::for_profile("docker-24-27"),
            Some(Engine::new(26, 1))
        );
        assert_eq!(Engine::for_profile("buildkit-containerd"), None);
    }

    proptest::proptest! {
        #[test]
        fn times_round_trip(
            secs in -62_135_596_800i64..253_402_300_799,
            nanos in 0u32..1_000_000_000,
            offset_min in -1439i32..1439,
        ) {
            let t = GoTime { unix: secs, nanos, offset: offset_min * 60 };
            if let Ok(s) = t.format() {
                proptest::prop_assert_eq!(GoTime::parse(&s).unwrap(), t);
            }
        }

        #[test]
        fn parsing_and_checking_never_panic(s in "(?s).{0,64}", bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = GoTime::parse(&s);
            let _ = RunValues::from_published(&bytes);
            let _ = check_config(&bytes, &ImageModel::default(), &CheckOptions::default());
            let _ = detect_builder(&bytes);
            let _ = Engine::from_docker_version(&s);
        }

        #[test]
        fn checking_config_shaped_json_never_panics(
            hist in proptest::collection::vec("[ -~]{0,20}", 0..4),
            env in proptest::collection::vec("[ -~]{0,12}", 0..3),
        ) {
            let v = serde_json::json!({
                "config": {"Env": env, "Cmd": 3, "Labels": "x"},
                "history": hist.iter().map(|h| serde_json::json!({"created_by": h, "created": h})).collect::<Vec<_>>(),
                "rootfs": {"diff_ids": {"a": 1}},
                "docker_version": "20.10.1",
            });
            let bytes = serde_json::to_vec(&v).unwrap();
            let mut m = ImageModel::default();
            m.history.push(crate::dockerfile::HistoryEntry {
                created_by: format!("/bin/sh -c #(nop) ADD {SOURCE_HASH_PLACEHOLDER} in / "),
                comment: None,
                empty_layer: false,
            });
            let _ = check_config(&bytes, &m, &CheckOptions::default());
            let _ = RunValues::from_published(&bytes);
        }
    }

    #[test]
    fn unset_values_compare_equal() {
        assert!(same(None, Some(&Value::Null)));
        assert!(same(Some(&serde_json::json!([])), None));
        assert!(same(Some(&serde_json::json!({})), Some(&Value::Null)));
        assert!(!same(Some(&serde_json::json!(["a"])), None));
    }
}
