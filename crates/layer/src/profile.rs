//! Engine profiles: the switches that make one engine's layer bytes differ from another's.
//!
//! A [`Profile`] is plain data. Every switch carries its [`Evidence`]: observed on a real engine
//! (`oracle-notes.md`), read in a named source file, or inferred. The writer switches are used by
//! [`crate::write_layer`]; the unpack switches ([`Profile::zstd_unpack`], [`Profile::name_rules`],
//! [`Profile::bound_symlink_times`]) are handed to the archive crate through
//! [`Profile::unpack_options`].
//!
//! To add an engine version: copy the closest profile in [`PROFILES`], change the switches that
//! differ, and cite the evidence for each change.

use std::fmt;

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
        fn v<T: fmt::Debug>(
            key: &'static str,
            side: &'static str,
            s: &Switch<T>,
            value: String,
            meaning: &'static str,
        ) -> SwitchView {
            SwitchView {
                key,
                side,
                value,
                meaning,
                evidence: s.evidence,
            }
        }
        vec![
            v(
                "writer",
                "layer",
                &self.writer,
                kebab(&self.writer.value),
                match self.writer.value {
                    WriterKind::MobyOverlay2 => "moby Tarballer on overlay2 (pipelines A, C)",
                    WriterKind::ContainerdWalking => {
                        "containerd ChangeWriter, walking differ (pipelines B, D)"
                    }
                    WriterKind::BuildkitOverlay => {
                        "BuildKit overlay differ + containerd ChangeWriter (pipeline D, overlayfs)"
                    }
                },
            ),
            v(
                "type_bits",
                "layer",
                &self.type_bits,
                self.type_bits.value.to_string(),
                if self.type_bits.value {
                    "mode field carries file-type bits (0100644, 040755, 0120777)"
                } else {
                    "mode field is permissions + setuid/setgid/sticky only"
                },
            ),
            v(
                "owner_names",
                "layer",
                &self.owner_names,
                kebab(&self.owner_names.value),
                match self.owner_names.value {
                    OwnerNames::Empty => "uname/gname empty",
                    OwnerNames::Lookup => "uname/gname looked up from a uid/gid name table",
                },
            ),
            v(
                "capability",
                "layer",
                &self.capability,
                kebab(&self.capability.value),
                match self.capability.value {
                    Capability::V3ToV2 => "security.capability v3 rewritten to v2 (20 bytes)",
                    Capability::Raw => "security.capability written raw",
                },
            ),
            v(
                "whiteout_device",
                "layer",
                &self.whiteout_device,
                kebab(&self.whiteout_device.value),
                match self.whiteout_device.value {
                    WhiteoutDevice::WhiteoutFile => {
                        "char device 0:0 becomes regular DIR/.wh.NAME, mode 0600"
                    }
                    WhiteoutDevice::DeviceEntry => "char device 0:0 written as a device",
                    WhiteoutDevice::Omit => "char device 0:0 left out",
                },
            ),
            v(
                "opaque_dir",
                "layer",
                &self.opaque_dir,
                kebab(&self.opaque_dir.value),
                match self.opaque_dir.value {
                    OpaqueDir::WhiteoutFile => {
                        "dir with trusted.overlay.opaque=y gets DIR/.wh..wh..opq after it"
                    }
                    OpaqueDir::Ignore => "opaque xattr has no effect",
                },
            ),
            v(
                "on_unencodable",
                "layer",
                &self.on_unencodable,
                kebab(&self.on_unencodable.value),
                match self.on_unencodable.value {
                    OnUnencodable::OmitEntry => "entry Go cannot encode is logged and left out",
                    OnUnencodable::Abort => "entry Go cannot encode fails the build",
                },
            ),
            v(
                "zstd_unpack",
                "unpack",
                &self.zstd_unpack,
                self.zstd_unpack.value.to_string(),
                if self.zstd_unpack.value {
                    "ADD unpacks zstd archives"
                } else {
                    "ADD copies a zstd archive verbatim"
                },
            ),
            v(
                "name_rules",
                "unpack",
                &self.name_rules,
                kebab(&self.name_rules.value),
                match self.name_rules.value {
                    NameRules::Moby => {
                        "filepath.Clean + chroot (moby pkg/archive, go-archive <=0.2)"
                    }
                    NameRules::GoArchive03 => {
                        "go-archive 0.3 os.Root rules; non-local names refused"
                    }
                },
            ),
            v(
                "bound_symlink_times",
                "unpack",
                &self.bound_symlink_times,
                self.bound_symlink_times.value.to_string(),
                if self.bound_symlink_times.value {
                    "symlink times bounded like other entries"
                } else {
                    "symlink times set raw (not bounded)"
                },
            ),
        ]
    }
}

/// A short stable label for a switch value (what `--format json` also prints).
trait Label {
    fn label(&self) -> &'static str;
}

fn kebab<T: Label>(v: &T) -> String {
    v.label().to_string()
}

impl Label for WriterKind {
    fn label(&self) -> &'static str {
        match self {
            WriterKind::MobyOverlay2 => "moby-overlay2",
            WriterKind::ContainerdWalking => "containerd-walking",
            WriterKind::BuildkitOverlay => "buildkit-overlay",
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
}

impl Label for Capability {
    fn label(&self) -> &'static str {
        match self {
            Capability::V3ToV2 => "v3-to-v2",
            Capability::Raw => "raw",
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
}

impl Label for OpaqueDir {
    fn label(&self) -> &'static str {
        match self {
            OpaqueDir::WhiteoutFile => "whiteout-file",
            OpaqueDir::Ignore => "ignore",
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
}

impl Label for NameRules {
    fn label(&self) -> &'static str {
        match self {
            NameRules::Moby => "moby",
            NameRules::GoArchive03 => "go-archive-0.3",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

// ---- Evidence texts shared by several profiles -------------------------------------------------

const MOBY_WRITER: &str = "moby pkg/archive (<=27) / go-archive (>=28) archive.go Tarballer.Do + \
    addTarFile; overlay2 Diff = TarWithOptions(WhiteoutFormat: Overlay) (spec §1)";
const MOBY_CAP: &str = "archive.go ReadSecurityXattrToTarHeader: VFS_CAP_REVISION_3 -> 2, cut to 20 bytes \
    (moby v20.10.24 ... go-archive v0.3.3)";
const MOBY_WHITEOUT_SRC: &str = "archive_linux.go overlayWhiteoutConverter.ConvertWrite: rename to .wh.NAME, Mode=0600, TypeReg, Size=0";
const MOBY_WHITEOUT_OBS: &str = "oracle-notes: char device 0:0 became regular dir/.wh.NAME (0600) \
    in the overlay2 layer";
const MOBY_OPAQUE: &str = "archive_linux.go ConvertWrite: trusted.overlay.opaque=y adds DIR/.wh..wh..opq \
    (unreachable for FROM scratch: overlayfs refuses trusted.overlay.* through the mount)";
const MOBY_OMIT: &str =
    "Tarballer.Do: addTarFile errors are logged ('Can't add file') and the walk continues";
const MOBY_NAMES_CLEAN: &str =
    "pkg/archive / go-archive <=0.2 Unpack: filepath.Clean(hdr.Name) + breakout check (spec §3.3)";
const CTRD_WRITER: &str =
    "containerd pkg/archive/tar.go ChangeWriter.HandleChange via plugins/diff/walking Compare";
const CTRD_TYPEBITS: &str =
    "containerd pkg/archive/tar.go HandleChange: chmodTarEntry only, no Go 1.8 type bits";
const CTRD_NAMES: &str = "containerd HandleChange: tarheader.FileInfoHeaderNoLookups";
const CTRD_CAP: &str = "containerd HandleChange: getxattr security.capability copied raw";
const CTRD_DEVICE: &str =
    "containerd HandleChange: any char device is a '3' entry (setHeaderForSpecialDevice)";
const CTRD_OPAQUE: &str = "containerd ChangeWriter has no opaque-directory conversion";
const CTRD_ABORT: &str =
    "containerd HandleChange returns 'failed to write file header' and the diff fails";
const BK_ZSTD: &str = "go-archive compression/compression.go DecompressStream handles zstd";
const GOARCHIVE_SYMLINK: &str =
    "go-archive archive.go createTarFile: lchtimes(boundTime(...)) for symlinks";

/// Every shipped profile.
pub static PROFILES: &[Profile] = &[
    Profile {
        name: "docker-20.10",
        summary: "Docker 20.10.x upstream binaries, overlay2 graphdriver, classic builder or BuildKit",
        writer: source(WriterKind::MobyOverlay2, MOBY_WRITER),
        type_bits: source(
            true,
            "moby v20.10.24 pkg/archive/archive.go FileInfoHeader -> fillGo18FileTypeBits (spec §5.10)",
        ),
        owner_names: source(
            OwnerNames::Empty,
            "moby v20.10.24 vendor/archive/tar/stat_unix.go: patched stdlib copy without user/group lookups",
        ),
        capability: source(Capability::V3ToV2, MOBY_CAP),
        whiteout_device: source(WhiteoutDevice::WhiteoutFile, MOBY_WHITEOUT_SRC),
        opaque_dir: source(OpaqueDir::WhiteoutFile, MOBY_OPAQUE),
        on_unencodable: source(OnUnencodable::OmitEntry, MOBY_OMIT),
        zstd_unpack: inferred(
            false,
            "same pkg/archive as Debian's 20.10.24 build, which copied a .tar.zst verbatim",
        ),
        name_rules: source(NameRules::Moby, MOBY_NAMES_CLEAN),
        bound_symlink_times: inferred(
            false,
            "pkg/system Chtimes bounds, LUtimesNano does not (read in v27; assumed for 20.10)",
        ),
    },
    Profile {
        name: "docker-20.10-debian",
        summary: "Debian bookworm docker.io 20.10.24 (Go 1.19 stdlib archive/tar): the oracle machine's engine",
        writer: observed(
            WriterKind::MobyOverlay2,
            "oracle-notes: classic builder and BuildKit wrote identical layers on overlay2",
        ),
        type_bits: observed(
            true,
            "oracle-notes: mode fields 0040755, 0100644, 0120777, 0010644",
        ),
        owner_names: observed(
            OwnerNames::Lookup,
            "oracle-notes: uname/gname filled from the daemon host's user/group database",
        ),
        capability: source(Capability::V3ToV2, MOBY_CAP),
        whiteout_device: observed(WhiteoutDevice::WhiteoutFile, MOBY_WHITEOUT_OBS),
        opaque_dir: source(OpaqueDir::WhiteoutFile, MOBY_OPAQUE),
        on_unencodable: source(OnUnencodable::OmitEntry, MOBY_OMIT),
        zstd_unpack: observed(
            false,
            "oracle-notes: 20.10 copied a .tar.zst ADD source verbatim",
        ),
        name_rules: observed(
            NameRules::Moby,
            "oracle-notes: ../x and /abs/x were cleaned to paths under the root",
        ),
        bound_symlink_times: inferred(
            false,
            "pkg/system LUtimesNano does not bound (read in v27; assumed for 20.10)",
        ),
    },
    Profile {
        name: "docker-23.0",
        summary: "Docker 23.0.x, overlay2 graphdriver (last release with type bits)",
        writer: source(WriterKind::MobyOverlay2, MOBY_WRITER),
        type_bits: source(
            true,
            "moby v23.0.6 pkg/archive/archive.go fillGo18FileTypeBits (removed in cddaa84777 for 24.0)",
        ),
        owner_names: source(
            OwnerNames::Empty,
            "moby v23.0.6 pkg/archive FileInfoHeaderNoLookups",
        ),
        capability: source(Capability::V3ToV2, MOBY_CAP),
        whiteout_device: source(WhiteoutDevice::WhiteoutFile, MOBY_WHITEOUT_SRC),
        opaque_dir: source(OpaqueDir::WhiteoutFile, MOBY_OPAQUE),
        on_unencodable: source(OnUnencodable::OmitEntry, MOBY_OMIT),
        zstd_unpack: inferred(
            true,
            "pkg/archive DecompressStream has zstd since about v23 (spec §2.3)",
        ),
        name_rules: source(NameRules::Moby, MOBY_NAMES_CLEAN),
        bound_symlink_times: inferred(
            false,
            "pkg/system LUtimesNano does not bound (read in v27; assumed for 23.0)",
        ),
    },
    Profile {
        name: "docker-24-27",
        summary: "Docker 24.0-27.x (26.1.5 observed), overlay2 graphdriver, classic builder or BuildKit",
        writer: observed(
            WriterKind::MobyOverlay2,
            "oracle-notes: 26.1.5 classic and BuildKit layers identical, overlay2",
        ),
        type_bits: observed(false, "oracle-notes: 26.1.5 wrote 0000755 (no type bits)"),
        owner_names: observed(
            OwnerNames::Empty,
            "oracle-notes: 26.1.5 wrote empty uname/gname",
        ),
        capability: source(Capability::V3ToV2, MOBY_CAP),
        whiteout_device: source(WhiteoutDevice::WhiteoutFile, MOBY_WHITEOUT_SRC),
        opaque_dir: source(OpaqueDir::WhiteoutFile, MOBY_OPAQUE),
        on_unencodable: source(OnUnencodable::OmitEntry, MOBY_OMIT),
        zstd_unpack: observed(true, "oracle-notes: 26.1 unpacked a .tar.zst ADD source"),
        name_rules: observed(
            NameRules::Moby,
            "oracle-notes: ../x and /abs/x were cleaned to paths under the root",
        ),
        bound_symlink_times: source(
            false,
            "moby v27 pkg/archive createTarFile -> system.LUtimesNano with raw times (spec §3.14)",
        ),
    },
    Profile {
        name: "docker-28-29.6",
        summary: "Docker 28.x and 29.0-29.6 (go-archive v0.1.0), overlay2 graphdriver",
        writer: source(WriterKind::MobyOverlay2, MOBY_WRITER),
        type_bits: source(
            false,
            "go-archive v0.1.0 archive.go FileInfoHeader: chmodTarEntry only",
        ),
        owner_names: source(
            OwnerNames::Empty,
            "go-archive v0.1.0 tarheader/tarheader.go FileInfoHeaderNoLookups",
        ),
        capability: source(Capability::V3ToV2, MOBY_CAP),
        whiteout_device: source(WhiteoutDevice::WhiteoutFile, MOBY_WHITEOUT_SRC),
        opaque_dir: source(OpaqueDir::WhiteoutFile, MOBY_OPAQUE),
        on_unencodable: source(OnUnencodable::OmitEntry, MOBY_OMIT),
        zstd_unpack: source(true, BK_ZSTD),
        name_rules: source(NameRules::Moby, MOBY_NAMES_CLEAN),
        bound_symlink_times: source(true, GOARCHIVE_SYMLINK),
    },
    Profile {
        name: "docker-29.7",
        summary: "Docker 29.7+ (go-archive 0.3 os.Root rules), overlay2 graphdriver",
        writer: source(WriterKind::MobyOverlay2, MOBY_WRITER),
        type_bits: source(
            false,
            "go-archive v0.3.3 archive.go FileInfoHeader: chmodTarEntry only",
        ),
        owner_names: source(
            OwnerNames::Empty,
            "go-archive v0.3.3 tarheader/tarheader.go FileInfoHeaderNoLookups",
        ),
        capability: source(Capability::V3ToV2, MOBY_CAP),
        whiteout_device: source(WhiteoutDevice::WhiteoutFile, MOBY_WHITEOUT_SRC),
        opaque_dir: source(OpaqueDir::WhiteoutFile, MOBY_OPAQUE),
        on_unencodable: source(OnUnencodable::OmitEntry, MOBY_OMIT),
        zstd_unpack: source(true, BK_ZSTD),
        name_rules: source(
            NameRules::GoArchive03,
            "go-archive v0.3.3 archive.go Unpack: path.Clean(TrimLeft(name, \"/\")), filepath.IsLocal",
        ),
        bound_symlink_times: source(true, GOARCHIVE_SYMLINK),
    },
    Profile {
        name: "buildkit-containerd",
        summary: "BuildKit (go-archive v0.2 FileOp) or classic builder with the containerd image store, walking differ",
        writer: source(WriterKind::ContainerdWalking, CTRD_WRITER),
        type_bits: source(false, CTRD_TYPEBITS),
        owner_names: source(OwnerNames::Empty, CTRD_NAMES),
        capability: source(Capability::Raw, CTRD_CAP),
        whiteout_device: source(WhiteoutDevice::DeviceEntry, CTRD_DEVICE),
        opaque_dir: source(OpaqueDir::Ignore, CTRD_OPAQUE),
        on_unencodable: source(OnUnencodable::Abort, CTRD_ABORT),
        zstd_unpack: source(true, BK_ZSTD),
        name_rules: source(
            NameRules::Moby,
            "buildkit solver/llbsolver/file/unpack.go -> go-archive v0.2.0 chrootarchive.Untar",
        ),
        bound_symlink_times: source(true, GOARCHIVE_SYMLINK),
    },
    Profile {
        name: "buildkit-overlayfs",
        summary: "BuildKit with the containerd overlayfs snapshotter (overlay differ), go-archive v0.2 FileOp",
        writer: source(
            WriterKind::BuildkitOverlay,
            "buildkit cache/blobs_linux.go tryComputeOverlayBlob -> util/overlay WriteUpperdir",
        ),
        type_bits: source(false, CTRD_TYPEBITS),
        owner_names: source(OwnerNames::Empty, CTRD_NAMES),
        capability: source(Capability::Raw, CTRD_CAP),
        whiteout_device: source(
            WhiteoutDevice::Omit,
            "buildkit util/overlay/overlay_linux.go Changes/checkDelete: whiteout for a path absent from base is skipped",
        ),
        opaque_dir: source(
            OpaqueDir::Ignore,
            "buildkit util/overlay: opaque only matters when the path exists in base (never for scratch)",
        ),
        on_unencodable: source(OnUnencodable::Abort, CTRD_ABORT),
        zstd_unpack: source(true, BK_ZSTD),
        name_rules: source(
            NameRules::Moby,
            "buildkit solver/llbsolver/file/unpack.go -> go-archive v0.2.0 chrootarchive.Untar",
        ),
        bound_symlink_times: source(true, GOARCHIVE_SYMLINK),
    },
    Profile {
        name: "docker-29.7-buildkit-overlayfs",
        summary: "Docker 29.7+ default install: BuildKit + containerd overlayfs snapshotter, go-archive 0.3 FileOp",
        writer: source(
            WriterKind::BuildkitOverlay,
            "moby master vendors buildkit v0.32.2: cache/blobs_linux.go tryComputeOverlayBlob",
        ),
        type_bits: source(false, CTRD_TYPEBITS),
        owner_names: source(OwnerNames::Empty, CTRD_NAMES),
        capability: source(Capability::Raw, CTRD_CAP),
        whiteout_device: source(
            WhiteoutDevice::Omit,
            "buildkit util/overlay/overlay_linux.go Changes/checkDelete",
        ),
        opaque_dir: source(
            OpaqueDir::Ignore,
            "buildkit util/overlay: opaque only matters when the path exists in base",
        ),
        on_unencodable: source(OnUnencodable::Abort, CTRD_ABORT),
        zstd_unpack: source(true, BK_ZSTD),
        name_rules: inferred(
            NameRules::GoArchive03,
            "moby master vendors one go-archive (v0.3.3), so BuildKit's FileOp uses the 0.3 rules",
        ),
        bound_symlink_times: source(true, GOARCHIVE_SYMLINK),
    },
];

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
