//! Engine profiles: the switches that make one engine's layer bytes differ from another's.
//!
//! A [`Profile`] is plain data. Every switch carries its [`Evidence`]: observed on a real engine
//! (`oracle-notes.md`), read in a named source file, or inferred. The writer switches are used by
//! [`crate::write_layer`]; the unpack switches ([`Profile::zstd_unpack`], [`Profile::name_rules`],
//! [`Profile::bound_symlink_times`]) are handed to the archive crate through
//! [`Profile::unpack_options`].
//!
//! A profile also says which Docker Engine it stands for ([`DockerEngine`]: the releases it
//! covers, Debian's build or upstream's, the image store, the `docker_version` it writes) and
//! where it stands in the tie order ([`Profile::preference`]); every engine ↔ profile lookup
//! ([`Profile::for_docker_version`], [`Profile::newest`], [`Profile::by_preference`]) reads that
//! data, so no other code names a profile.
//!
//! To add an engine version: copy the closest profile in [`PROFILES`], change the switches that
//! differ and cite the evidence for each change, give it its [`DockerEngine`] (and narrow the
//! range of the profile it splits from), and a place in the preference order.

use std::fmt;

mod shipped;

pub use shipped::PROFILES;

use layerproof_archive::Timestamp;
use layerproof_archive::unpack::{NameRules, Options as UnpackOptions};
use serde::Serialize;

/// How a switch value is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceKind {
    /// Seen in the bytes a real engine wrote on this machine kind (`oracle-notes.md`).
    Observed,
    /// Read in the engine's source code.
    Source,
    /// Follows from the code or from a neighbouring observation, not checked directly.
    Inferred,
}

impl EvidenceKind {
    /// Short label for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Observed => "observed",
            EvidenceKind::Source => "source",
            EvidenceKind::Inferred => "inferred",
        }
    }
}

/// Where a switch value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// Observed, read in source, or inferred.
    pub kind: EvidenceKind,
    /// What was observed, or which file/function was read.
    pub detail: &'static str,
}

/// A switch value with its evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Switch<T> {
    /// The value.
    pub value: T,
    /// Why we believe it.
    pub evidence: Evidence,
}

const fn observed<T>(value: T, detail: &'static str) -> Switch<T> {
    Switch {
        value,
        evidence: Evidence {
            kind: EvidenceKind::Observed,
            detail,
        },
    }
}

const fn source<T>(value: T, detail: &'static str) -> Switch<T> {
    Switch {
        value,
        evidence: Evidence {
            kind: EvidenceKind::Source,
            detail,
        },
    }
}

const fn inferred<T>(value: T, detail: &'static str) -> Switch<T> {
    Switch {
        value,
        evidence: Evidence {
            kind: EvidenceKind::Inferred,
            detail,
        },
    }
}

/// Which code writes the layer tar (spec §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriterKind {
    /// moby's `Tarballer` on the overlay2 graphdriver (`archive.TarWithOptions` with the overlay
    /// whiteout converter): pipelines A and C.
    MobyOverlay2,
    /// containerd's `ChangeWriter` behind the walking differ: pipelines B and D (non-overlayfs).
    ContainerdWalking,
    /// BuildKit's overlay differ (`overlay.WriteUpperdir`) feeding containerd's `ChangeWriter`:
    /// pipeline D on overlayfs.
    BuildkitOverlay,
}

/// Where `Uname`/`Gname` come from (spec §5.4, oracle notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OwnerNames {
    /// Always empty.
    Empty,
    /// Looked up from a uid → name / gid → name table ([`crate::NameTable`]); unknown ids give
    /// an empty name.
    Lookup,
}

/// What happens to `security.capability` (spec §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// A v3 value (byte 3 = 3) is rewritten to v2 and cut to 20 bytes (moby).
    V3ToV2,
    /// The raw value (containerd).
    Raw,
}

/// What becomes of a character device 0:0 (an overlay whiteout) (spec §5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WhiteoutDevice {
    /// Rewritten to a regular file `DIR/.wh.NAME`, mode 0600, size 0, owner and mtime kept.
    WhiteoutFile,
    /// Written as the character device it is.
    DeviceEntry,
    /// Left out of the layer.
    Omit,
}

/// What a directory with `trusted.overlay.opaque=y` produces (spec §5.5, §5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpaqueDir {
    /// The directory entry, then a regular file `DIR/.wh..wh..opq` (mode `dir & 0777`, the
    /// directory's owner, mtime 0).
    WhiteoutFile,
    /// Only the directory entry.
    Ignore,
}

/// What happens when Go's `WriteHeader` rejects an entry (spec §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnUnencodable {
    /// The error is logged and the entry left out (moby `Tarballer.Do`).
    OmitEntry,
    /// The whole diff fails (containerd `HandleChange`).
    Abort,
}

/// A Docker Engine release, `major.minor` (`26.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DockerRelease {
    /// Major version (20, 23, 24, …).
    pub major: u32,
    /// Minor version (20.10 → 10).
    pub minor: u32,
}

impl DockerRelease {
    /// `major.minor`.
    pub const fn new(major: u32, minor: u32) -> DockerRelease {
        DockerRelease { major, minor }
    }

    /// The release a `docker_version` string names (`20.10.24+dfsg1` → 20.10, `26.1.5` →
    /// 26.1); `None` when it does not start with `MAJOR.MINOR`.
    pub fn of_docker_version(v: &str) -> Option<DockerRelease> {
        let mut it = v.split(['.', '+', '-', '~']);
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        Some(DockerRelease { major, minor })
    }
}

impl fmt::Display for DockerRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Where a Docker Engine keeps its images, which decides the code that writes a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageStore {
    /// The overlay2 graphdriver (the default before Docker 29): moby writes the layers.
    Graphdriver,
    /// The containerd image store with its snapshotter (the default from Docker 29 on).
    Containerd,
}

/// The Docker Engine a profile stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DockerEngine {
    /// The first release covered; `None`: every earlier release too (the oldest profile stands
    /// for engines older than any modelled).
    pub first: Option<DockerRelease>,
    /// The first release no longer covered; `None`: every later release.
    pub until: Option<DockerRelease>,
    /// Only Debian's builds (`+dfsg` in the version), whose stdlib `archive/tar` differs.
    pub debian: bool,
    /// The image store the profile's layers come from.
    pub image_store: ImageStore,
    /// The `docker_version` this engine writes, used when no other is known: the observed build
    /// where there is one, else `MAJOR.MINOR.0` of the release whose config shape stands for
    /// the profile.
    pub docker_version: &'static str,
}

impl DockerEngine {
    /// Whether `release` lies in this engine's range (a Debian-only engine is asked about
    /// Debian builds only: see [`Profile::for_docker_version`]).
    pub fn covers(&self, release: DockerRelease) -> bool {
        self.first.is_none_or(|f| f <= release) && self.until.is_none_or(|u| release < u)
    }
}

/// One engine's switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// Stable identifier (`docker-24-27`).
    pub name: &'static str,
    /// One line: which engines and pipelines this covers.
    pub summary: &'static str,
    /// Which code writes the layer.
    pub writer: Switch<WriterKind>,
    /// Mode field carries file-type bits (`0100644`, `040755`, …): moby 17.07–23.0.
    pub type_bits: Switch<bool>,
    /// Where uname/gname come from.
    pub owner_names: Switch<OwnerNames>,
    /// security.capability handling.
    pub capability: Switch<Capability>,
    /// Character device 0:0.
    pub whiteout_device: Switch<WhiteoutDevice>,
    /// Opaque directories.
    pub opaque_dir: Switch<OpaqueDir>,
    /// Entries Go cannot encode.
    pub on_unencodable: Switch<OnUnencodable>,
    /// Unpack side: a zstd-compressed `ADD` source is unpacked (otherwise copied verbatim).
    pub zstd_unpack: Switch<bool>,
    /// Unpack side: name-cleaning generation.
    pub name_rules: Switch<NameRules>,
    /// Unpack side: symlink times are bounded like other times (before 1970 / after 2262 → 0).
    pub bound_symlink_times: Switch<bool>,
    /// The Docker Engine this profile stands for; `None` for BuildKit on its own (containerd).
    pub engine: Option<DockerEngine>,
    /// Place in the tie order when nothing else tells profiles apart, lowest first: today's
    /// most common engines first.
    pub preference: u8,
}

/// One switch of a profile, flattened for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchView {
    /// Field name (`type_bits`).
    pub key: &'static str,
    /// Writer-side or unpack-side.
    pub side: &'static str,
    /// The value, as a short string.
    pub value: String,
    /// What the value does.
    pub meaning: &'static str,
    /// Why we believe it.
    pub evidence: Evidence,
}

impl Profile {
    /// Look a shipped profile up by name.
    pub fn by_name(name: &str) -> Option<&'static Profile> {
        PROFILES.iter().find(|p| p.name == name)
    }

    /// All shipped profiles.
    pub fn all() -> &'static [Profile] {
        PROFILES
    }

    /// All shipped profiles in the tie order ([`Profile::preference`]), most preferred first.
    pub fn by_preference() -> Vec<&'static Profile> {
        let mut v: Vec<&'static Profile> = PROFILES.iter().collect();
        v.sort_by_key(|p| p.preference);
        v
    }

    /// The first profile in the tie order: today's most common engine.
    pub fn preferred() -> &'static Profile {
        PROFILES
            .iter()
            .min_by_key(|p| p.preference)
            .unwrap_or(&PROFILES[0])
    }

    /// The graphdriver profile of the Docker Engine that writes this `docker_version` (a
    /// classic config's `docker_version`, a daemon's server version): a Debian build's own
    /// profile where there is one, else the upstream one of its release. `None` when the
    /// string names no release or no shipped profile covers it.
    pub fn for_docker_version(docker_version: &str) -> Option<&'static Profile> {
        let release = DockerRelease::of_docker_version(docker_version)?;
        let debian = docker_version.contains("dfsg");
        let covering = |want_debian: bool| {
            PROFILES.iter().find(|p| {
                p.engine.is_some_and(|e| {
                    e.image_store == ImageStore::Graphdriver
                        && e.debian == want_debian
                        && e.covers(release)
                })
            })
        };
        debian
            .then(|| covering(true))
            .flatten()
            .or_else(|| covering(false))
    }

    /// The profile of the newest Docker Engine on its graphdriver, upstream's build: what a
    /// rebuild writes when no profile is named.
    pub fn newest() -> &'static Profile {
        PROFILES
            .iter()
            .find(|p| {
                p.engine.is_some_and(|e| {
                    e.image_store == ImageStore::Graphdriver && !e.debian && e.until.is_none()
                })
            })
            .unwrap_or(&PROFILES[0])
    }

    /// The unpack options this engine implies, with the build's wall-clock time for implied
    /// directories. Fields the profile says nothing about keep the archive crate's defaults.
    pub fn unpack_options(&self, build_time: Timestamp) -> UnpackOptions {
        UnpackOptions {
            name_rules: self.name_rules.value,
            implied_dir_mtime: build_time,
            bound_symlink_times: self.bound_symlink_times.value,
            ..UnpackOptions::default()
        }
    }

    /// Every switch, flattened, in a fixed order.
    pub fn switches(&self) -> Vec<SwitchView> {
        vec![
            view("writer", "layer", &self.writer),
            flag(
                "type_bits",
                "layer",
                &self.type_bits,
                "mode field carries file-type bits (0100644, 040755, 0120777)",
                "mode field is permissions + setuid/setgid/sticky only",
            ),
            view("owner_names", "layer", &self.owner_names),
            view("capability", "layer", &self.capability),
            view("whiteout_device", "layer", &self.whiteout_device),
            view("opaque_dir", "layer", &self.opaque_dir),
            view("on_unencodable", "layer", &self.on_unencodable),
            flag(
                "zstd_unpack",
                "unpack",
                &self.zstd_unpack,
                "ADD unpacks zstd archives",
                "ADD copies a zstd archive verbatim",
            ),
            view("name_rules", "unpack", &self.name_rules),
            flag(
                "bound_symlink_times",
                "unpack",
                &self.bound_symlink_times,
                "symlink times bounded like other entries",
                "symlink times set raw (not bounded)",
            ),
        ]
    }
}

/// A switch whose value is one of the enums above.
fn view<T: Label>(key: &'static str, side: &'static str, s: &Switch<T>) -> SwitchView {
    SwitchView {
        key,
        side,
        value: s.value.label().to_string(),
        meaning: s.value.meaning(),
        evidence: s.evidence,
    }
}

/// A yes/no switch, with what each value means.
fn flag(
    key: &'static str,
    side: &'static str,
    s: &Switch<bool>,
    if_true: &'static str,
    if_false: &'static str,
) -> SwitchView {
    SwitchView {
        key,
        side,
        value: s.value.to_string(),
        meaning: if s.value { if_true } else { if_false },
        evidence: s.evidence,
    }
}

/// A short stable label for a switch value (what `--format json` also prints), and what the
/// value does.
trait Label {
    fn label(&self) -> &'static str;
    fn meaning(&self) -> &'static str;
}

impl Label for WriterKind {
    fn label(&self) -> &'static str {
        match self {
            WriterKind::MobyOverlay2 => "moby-overlay2",
            WriterKind::ContainerdWalking => "containerd-walking",
            WriterKind::BuildkitOverlay => "buildkit-overlay",
        }
    }

    fn meaning(&self) -> &'static str {
        match self {
            WriterKind::MobyOverlay2 => "moby Tarballer on overlay2 (pipelines A, C)",
            WriterKind::ContainerdWalking => {
                "containerd ChangeWriter, walking differ (pipelines B, D)"
            }
            WriterKind::BuildkitOverlay => {
                "BuildKit overlay differ + containerd ChangeWriter (pipeline D, overlayfs)"
            }
        }
    }
}

impl Label for OwnerNames {
    fn label(&self) -> &'static str {
        match self {
            OwnerNames::Empty => "empty",
            OwnerNames::Lookup => "lookup",
        }
    }

    fn meaning(&self) -> &'static str {
        match self {
            OwnerNames::Empty => "uname/gname empty",
            OwnerNames::Lookup => "uname/gname looked up from a uid/gid name table",
        }
    }
}

impl Label for Capability {
    fn label(&self) -> &'static str {
        match self {
            Capability::V3ToV2 => "v3-to-v2",
            Capability::Raw => "raw",
        }
    }

    fn meaning(&self) -> &'static str {
        match self {
            Capability::V3ToV2 => "security.capability v3 rewritten to v2 (20 bytes)",
            Capability::Raw => "security.capability written raw",
        }
    }
}

impl Label for WhiteoutDevice {
    fn label(&self) -> &'static str {
        match self {
            WhiteoutDevice::WhiteoutFile => "whiteout-file",
            WhiteoutDevice::DeviceEntry => "device-entry",
            WhiteoutDevice::Omit => "omit",
        }
    }

    fn meaning(&self) -> &'static str {
        match self {
            WhiteoutDevice::WhiteoutFile => {
                "char device 0:0 becomes regular DIR/.wh.NAME, mode 0600"
            }
            WhiteoutDevice::DeviceEntry => "char device 0:0 written as a device",
            WhiteoutDevice::Omit => "char device 0:0 left out",
        }
    }
}

impl Label for OpaqueDir {
    fn label(&self) -> &'static str {
        match self {
            OpaqueDir::WhiteoutFile => "whiteout-file",
            OpaqueDir::Ignore => "ignore",
        }
    }

    fn meaning(&self) -> &'static str {
        match self {
            OpaqueDir::WhiteoutFile => {
                "dir with trusted.overlay.opaque=y gets DIR/.wh..wh..opq after it"
            }
            OpaqueDir::Ignore => "opaque xattr has no effect",
        }
    }
}

impl Label for OnUnencodable {
    fn label(&self) -> &'static str {
        match self {
            OnUnencodable::OmitEntry => "omit-entry",
            OnUnencodable::Abort => "abort",
        }
    }

    fn meaning(&self) -> &'static str {
        match self {
            OnUnencodable::OmitEntry => "entry Go cannot encode is logged and left out",
            OnUnencodable::Abort => "entry Go cannot encode fails the build",
        }
    }
}

impl Label for NameRules {
    fn label(&self) -> &'static str {
        match self {
            NameRules::Moby => "moby",
            NameRules::GoArchive03 => "go-archive-0.3",
        }
    }

    fn meaning(&self) -> &'static str {
        match self {
            NameRules::Moby => "filepath.Clean + chroot (moby pkg/archive, go-archive <=0.2)",
            NameRules::GoArchive03 => "go-archive 0.3 os.Root rules; non-local names refused",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_resolvable() {
        for (i, p) in PROFILES.iter().enumerate() {
            assert!(PROFILES[..i].iter().all(|q| q.name != p.name), "{}", p.name);
            assert_eq!(Profile::by_name(p.name), Some(p));
            assert_eq!(p.switches().len(), 10);
        }
        assert!(Profile::by_name("nope").is_none());
    }

    #[test]
    fn preference_is_a_total_order() {
        let ranks: Vec<u8> = Profile::by_preference()
            .iter()
            .map(|p| p.preference)
            .collect();
        assert_eq!(ranks, (0..PROFILES.len() as u8).collect::<Vec<_>>());
        assert_eq!(Profile::by_preference()[0].name, "docker-24-27");
        assert_eq!(Profile::preferred().name, "docker-24-27");
    }

    #[track_caller]
    fn check_version(docker_version: &str, profile: Option<&str>) {
        assert_eq!(
            Profile::for_docker_version(docker_version).map(|p| p.name),
            profile,
            "{docker_version}"
        );
    }

    #[test]
    fn docker_versions_name_their_profile() {
        check_version("20.10.24+dfsg1", Some("docker-20.10-debian"));
        check_version("20.10.24", Some("docker-20.10"));
        check_version("19.03.13+dfsg1", Some("docker-20.10"));
        check_version("23.0.6", Some("docker-23.0"));
        check_version("24.0.0", Some("docker-24-27"));
        check_version("26.1.5+dfsg1", Some("docker-24-27"));
        check_version("27.5.1", Some("docker-24-27"));
        check_version("28.0.4", Some("docker-28-29.6"));
        check_version("29.6.9", Some("docker-28-29.6"));
        check_version("29.7.0", Some("docker-29.7"));
        check_version("31.0.0", Some("docker-29.7"));
        check_version("22.06.0-beta.0", None);
        check_version("dev", None);
        check_version("", None);
        assert_eq!(Profile::newest().name, "docker-29.7");
    }

    #[test]
    fn engine_data_is_consistent() {
        for p in PROFILES {
            let Some(e) = p.engine else { continue };
            let release = DockerRelease::of_docker_version(e.docker_version);
            assert!(release.is_some_and(|r| e.covers(r)), "{}", p.name);
            if e.image_store == ImageStore::Graphdriver {
                assert_eq!(Profile::for_docker_version(e.docker_version), Some(p));
            }
        }
        // graphdriver ranges do not overlap, among upstream builds and among Debian's
        for major in 0..40 {
            for minor in 0..20 {
                let r = DockerRelease::new(major, minor);
                for debian in [false, true] {
                    let n = PROFILES
                        .iter()
                        .filter_map(|p| p.engine)
                        .filter(|e| e.image_store == ImageStore::Graphdriver)
                        .filter(|e| e.debian == debian && e.covers(r))
                        .count();
                    assert!(n <= 1, "{r} (debian: {debian}) is covered {n} times");
                }
            }
        }
    }

    #[test]
    fn switch_values_render_kebab_case() {
        let p = Profile::by_name("docker-20.10-debian").unwrap();
        let s = p.switches();
        assert_eq!(s[0].value, "moby-overlay2");
        assert_eq!(s[1].value, "true");
        assert_eq!(s[2].value, "lookup");
        assert_eq!(s[2].evidence.kind, EvidenceKind::Observed);
        assert_eq!(s[8].value, "moby");
    }

    #[test]
    fn unpack_options_follow_the_profile() {
        let p = Profile::by_name("docker-29.7").unwrap();
        let o = p.unpack_options(Timestamp::from_secs(42));
        assert_eq!(o.name_rules, NameRules::GoArchive03);
        assert_eq!(o.implied_dir_mtime, Timestamp::from_secs(42));
        assert!(o.bound_symlink_times);
        let p = Profile::by_name("docker-24-27").unwrap();
        assert!(!p.unpack_options(Timestamp::EPOCH).bound_symlink_times);
    }
}
