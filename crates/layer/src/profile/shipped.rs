//! The shipped profiles and the evidence behind each switch.

use layerproof_archive::unpack::NameRules;

use super::{
    Capability, DockerEngine, DockerRelease, ImageStore, OnUnencodable, OpaqueDir, OwnerNames,
    Profile, WhiteoutDevice, WriterKind, inferred, observed, source,
};

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
        engine: Some(DockerEngine {
            first: None,
            until: Some(DockerRelease::new(21, 0)),
            debian: false,
            image_store: ImageStore::Graphdriver,
            docker_version: "20.10.24",
        }),
        preference: 4,
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
        engine: Some(DockerEngine {
            first: Some(DockerRelease::new(20, 0)),
            until: Some(DockerRelease::new(21, 0)),
            debian: true,
            image_store: ImageStore::Graphdriver,
            docker_version: "20.10.24+dfsg1",
        }),
        preference: 5,
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
        engine: Some(DockerEngine {
            first: Some(DockerRelease::new(23, 0)),
            until: Some(DockerRelease::new(24, 0)),
            debian: false,
            image_store: ImageStore::Graphdriver,
            docker_version: "23.0.0",
        }),
        preference: 3,
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
        engine: Some(DockerEngine {
            first: Some(DockerRelease::new(24, 0)),
            until: Some(DockerRelease::new(28, 0)),
            debian: false,
            image_store: ImageStore::Graphdriver,
            docker_version: "26.1.5",
        }),
        preference: 0,
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
        engine: Some(DockerEngine {
            first: Some(DockerRelease::new(28, 0)),
            until: Some(DockerRelease::new(29, 7)),
            debian: false,
            image_store: ImageStore::Graphdriver,
            docker_version: "28.5.0",
        }),
        preference: 1,
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
        engine: Some(DockerEngine {
            first: Some(DockerRelease::new(29, 7)),
            until: None,
            debian: false,
            image_store: ImageStore::Graphdriver,
            docker_version: "29.7.0",
        }),
        preference: 2,
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
        engine: None,
        preference: 6,
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
        engine: None,
        preference: 7,
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
        engine: Some(DockerEngine {
            first: Some(DockerRelease::new(29, 7)),
            until: None,
            debian: false,
            image_store: ImageStore::Containerd,
            docker_version: "29.7.0",
        }),
        preference: 8,
    },
];
