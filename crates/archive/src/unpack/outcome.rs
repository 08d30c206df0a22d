//! What an unpack ends with: the tree, hazards and counters ([`Unpacked`]), or the reason Docker
//! would refuse the archive ([`Refusal`]) or our own failure ([`Error`]).

use std::collections::BTreeMap;
use std::fmt;

use crate::content;
use crate::tar::{Timestamp, typeflag};
use crate::tree::Tree;

/// The error number a real extraction would have hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Errno {
    /// No such file or directory.
    Enoent,
    /// Not a directory.
    Enotdir,
    /// Too many levels of symbolic links.
    Eloop,
    /// File exists.
    Eexist,
    /// Operation not permitted.
    Eperm,
    /// Invalid argument.
    Einval,
}

impl Errno {
    /// The text Go's `syscall.Errno.Error()` prints.
    pub fn message(self) -> &'static str {
        match self {
            Errno::Enoent => "no such file or directory",
            Errno::Enotdir => "not a directory",
            Errno::Eloop => "too many levels of symbolic links",
            Errno::Eexist => "file exists",
            Errno::Eperm => "operation not permitted",
            Errno::Einval => "invalid argument",
        }
    }
}

/// Why Docker would refuse the `ADD`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum RefusalKind {
    /// A system call failed (`op` is Go's operation name: `mkdir`, `open`, `link`, `chtimes`…).
    Syscall {
        /// Operation.
        op: &'static str,
        /// Error number.
        errno: Errno,
    },
    /// `unhandled tar header type N` (old-GNU sparse `S`, contiguous `7`, unknown types).
    UnhandledType {
        /// The typeflag byte.
        typeflag: u8,
    },
    /// go-archive 0.3: `invalid entry name` (a name that climbs above the root).
    InvalidEntryName,
    /// The entry would replace the extraction root itself with a non-directory.
    ReplacesRoot,
    /// `security.capability` with a length the kernel rejects.
    BadCapability,
    /// The stream breaks after the first header (truncated, bad checksum, decompression error):
    /// Docker's `Untar` returns the error and the build fails (spec §2.4).
    CorruptArchive,
    /// The archive is larger than a configured limit of ours (not something Docker refuses:
    /// [`crate::source::add`] turns it into [`crate::source::Error::Limit`]).
    Limit {
        /// Which limit (`max-entries`, `max-depth`, `max-path-len`, `max-meta-bytes`,
        /// `max-data-bytes`, `max-lookups`): also the command-line flag that raises it.
        limit: &'static str,
        /// Its value.
        value: u64,
    },
}

/// A reason Docker itself would fail the build, with the entry that triggered it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Refusal {
    /// Index of the entry in the archive (0-based, headers after PAX/GNU merging), if any.
    pub entry: Option<u64>,
    /// Entry name as stored, lossy UTF-8.
    pub name: String,
    /// Machine-readable reason.
    pub kind: RefusalKind,
    /// Docker-style message, e.g. `link /usr/bin/missing /usr/bin/hl: no such file or directory`.
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.entry {
            Some(i) => write!(f, "entry {i} {:?}: {}", self.name, self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// What can stop an unpack: Docker's refusal, or a failure of our own input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Docker would refuse the archive.
    #[error("Docker would refuse this ADD: {0}")]
    Refused(Refusal),
    /// Storing a file body failed.
    #[error("entry {entry} {name:?}: {source}")]
    Content {
        /// Entry index.
        entry: u64,
        /// Entry name.
        name: String,
        /// Underlying error.
        #[source]
        source: content::Error,
    },
}

/// Something that makes the layer depend on more than the tarball's bytes, or that a reviewer
/// should know about. Each names the rule it comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "hazard")]
pub enum Hazard {
    /// A parent directory the archive never lists: Docker creates it with 0755, 0:0 and the
    /// build's wall-clock time as mtime, so the layer depends on when it was built (§3.6).
    ImpliedDirectory {
        /// Path of the created directory.
        path: String,
    },
    /// The root entry (`./`) carries metadata that Docker never applies (§3.4).
    RootEntryIgnored {
        /// Entry index.
        entry: u64,
        /// Mode in the header.
        mode: i64,
        /// Owner in the header.
        uid: i64,
        /// Group in the header.
        gid: i64,
    },
    /// The stored name is not canonical; Docker cleans it (`../x`, `/x`, `a/./b`) (§3.3).
    NameCleaned {
        /// Entry index.
        entry: u64,
        /// Name as stored.
        from: String,
        /// Where Docker puts it.
        to: String,
    },
    /// A path appears more than once; the later entry wins (§3.7).
    DuplicatePath {
        /// Entry index of the later entry.
        entry: u64,
        /// The path.
        path: String,
    },
    /// A directory was replaced by a non-directory; its whole subtree is gone (§3.7).
    SubtreeReplaced {
        /// Entry index.
        entry: u64,
        /// The path.
        path: String,
        /// Names removed with it (the directory included).
        removed: u64,
    },
    /// A character device 0:0: the overlay2 writer turns it into a `.wh.` whiteout file, the
    /// BuildKit overlay differ omits it (§5.9).
    CharDeviceZero {
        /// The path.
        path: String,
    },
    /// A name starting with `.wh.`: extracted as an ordinary file, but read as a whiteout when
    /// the layer is applied (§3.9).
    WhiteoutName {
        /// The path.
        path: String,
    },
    /// An xattr that no engine writes into the layer (only `security.capability` survives).
    XattrDropped {
        /// The path.
        path: String,
        /// Attribute name.
        name: String,
    },
    /// A v3 (namespaced) file capability: the moby writers convert it to v2, containerd and
    /// BuildKit keep it (§5.4).
    CapabilityV3 {
        /// The path.
        path: String,
    },
    /// A modification time before 1970 or after 2262: Docker stores the epoch instead (§3.14).
    MtimeOutOfRange {
        /// Entry index.
        entry: u64,
        /// The path.
        path: String,
        /// The time in the header.
        mtime: Timestamp,
    },
    /// A hard link whose header carries different metadata from its target's: the last header
    /// that touched the inode wins for both names (§3 consequences).
    HardlinkMetadataOverride {
        /// Entry index of the link.
        entry: u64,
        /// The link's path.
        path: String,
        /// The target's path.
        target: String,
    },
    /// A hard-link group whose first name in the archive is not the first in Docker's walk
    /// order: the layer writes the other name as the file and this one as the link (§5.3).
    HardlinkDirectionFlip {
        /// The name the archive wrote as the file.
        archive_file: String,
        /// The name the layer will write as the file.
        layer_file: String,
    },
    /// A symlink whose relative target climbs above the root. Docker extracts it (the chroot
    /// clamps `..`), but it points outside the image's root when read literally.
    SymlinkClimbsAboveRoot {
        /// The symlink.
        path: String,
        /// Its target.
        target: String,
    },
    /// A PAX global header: Docker skips it.
    GlobalHeaderIgnored {
        /// Entry index.
        entry: u64,
    },
    /// A directory's header time was re-applied at the end to whatever the path names by then,
    /// which is not a directory any more (§3.15).
    DirTimeAppliedToNonDir {
        /// The path.
        path: String,
    },
}

/// Counters for `inspect`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Entries seen (after PAX/GNU merging), global headers included.
    pub entries: u64,
    /// Entries by typeflag as a printable name.
    pub by_type: BTreeMap<String, u64>,
    /// Bytes of file data stored.
    pub data_bytes: u64,
}

/// The result of a successful unpack.
#[derive(Debug)]
pub struct Unpacked {
    /// The filesystem Docker would leave.
    pub tree: Tree,
    /// Reproducibility hazards, in the order they were met.
    pub hazards: Vec<Hazard>,
    /// Counters.
    pub stats: Stats,
}

/// A printable name for a typeflag.
pub fn typeflag_name(t: u8) -> String {
    match t {
        typeflag::REG | typeflag::REGA => "file".into(),
        typeflag::LINK => "hardlink".into(),
        typeflag::SYMLINK => "symlink".into(),
        typeflag::CHAR => "char-device".into(),
        typeflag::BLOCK => "block-device".into(),
        typeflag::DIR => "directory".into(),
        typeflag::FIFO => "fifo".into(),
        typeflag::XGLOBAL => "pax-global-header".into(),
        t if t.is_ascii_graphic() => format!("type-{}", t as char),
        t => format!("type-{t}"),
    }
}
