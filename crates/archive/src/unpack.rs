//! Docker's `ADD` unpack rules, applied to an in-memory [`Tree`] (spec §3–§4).
//!
//! Docker extracts an `ADD`ed archive inside a chroot of the destination (`chrootarchive.Untar`,
//! so the extraction root is `/`) and runs go-archive's `Unpack` there. That has two consequences
//! this module reproduces:
//! * With the go-archive ≤0.2 rules (every engine up to Docker 29.6, and BuildKit) the
//!   "breakout" checks are vacuous — `..` cannot climb above `/` — so failures come from the
//!   kernel instead: writing through a symlink to a missing directory is `ENOENT`, a hard link to
//!   a missing target is `ENOENT`, a hard link to a directory is `EPERM`.
//! * Paths are resolved by the kernel: intermediate symlinks are followed (absolute targets from
//!   the root), `..` moves to the real parent, 40 symlinks at most.
//!
//! Each rule is a named function below, with the spec section it implements. The entry point is
//! [`Unpacker`]: feed it normalised headers and bodies in archive order, then call
//! [`Unpacker::finish`]. A refusal ("Docker would fail this build") is a [`Refusal`] value, not a
//! panic; hazards (things that make a rebuild depend on more than the tarball) are collected as
//! [`Hazard`]s for `inspect` and the verifier.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;

use sha2::Digest as _;

use crate::content;
use crate::header::{Header, Timestamp, typeflag};
use crate::tree::{Inode, InodeId, Kind, NodeId, Origin, ROOT, Tree};

/// Linux follows at most this many symlinks while resolving one path (`MAXSYMLINKS`).
const MAX_SYMLINKS: u32 = 40;

/// Which generation of go-archive's name handling an engine uses (spec §3 step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NameRules {
    /// moby `pkg/archive` and go-archive ≤0.2 (Docker ≤29.6, BuildKit): `filepath.Clean(name)`
    /// joined to the chroot `/`, so `../x` and `/x` both land on `/x`.
    Moby,
    /// go-archive 0.3 (Docker 29.7+): leading `/` trimmed, then `path.Clean`; a name that is not
    /// local (`../x`) is refused with "invalid entry name".
    GoArchive03,
}

/// Knobs of the unpack model. Engine profiles (crate `layerproof-layer`) fill these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Name-cleaning generation.
    pub name_rules: NameRules,
    /// The wall-clock time Docker stamps on directories it has to create (spec §3 step 6).
    pub implied_dir_mtime: Timestamp,
    /// Apply Docker's time bound (before 1970 or after 2262 → epoch) to symlinks as well.
    /// Docker 27's `pkg/system` did not bound symlink times (spec §3 step 14).
    pub bound_symlink_times: bool,
    /// BuildKit `ADD --chown=uid:gid`: every extracted entry gets this owner (spec §2.5).
    /// The classic builder ignores `--chown` for archives, so its profiles leave this `None`.
    pub chown: Option<(i64, i64)>,
    /// In-memory budget of the content store; bodies beyond it spill to a temporary file.
    pub memory_budget: u64,
    /// What the content store keeps of file bodies: the bytes (a tree that can be written
    /// out), or only digests or lengths (see [`content::Bodies`]).
    pub bodies: content::Bodies,
    /// Stop at archives with more entries than this, or whose tree grows more names than this
    /// (implied directories and replaced names count too). Limit `max-entries`.
    pub max_entries: u64,
    /// Stop at names deeper than this many components. Limit `max-depth`.
    pub max_depth: usize,
    /// Stop at a cleaned name or a link target longer than this many bytes. Linux refuses
    /// paths of 4096 bytes or more (`PATH_MAX`), so Docker cannot extract such a name anyway.
    /// Limit `max-path-len`.
    pub max_path_len: usize,
    /// Stop when the names, link targets and extended attributes (names and values) of all
    /// entries add up to more than this many bytes: the unpack model keeps them in memory.
    /// Limit `max-meta-bytes`.
    pub max_meta_bytes: u64,
    /// Stop when regular files' sizes add up to more than this many bytes, checked against
    /// each header before its body is read: a lying size field or a sparse entry whose holes
    /// expand to terabytes ends at once. Limit `max-data-bytes`.
    pub max_data_bytes: u64,
    /// Stop when resolving names (each entry's parents, targets, and the symlinks on the way)
    /// has looked up more than this many path components in all: a few thousand entries whose
    /// names cross long symlink chains would otherwise take hours. Limit `max-lookups`.
    pub max_lookups: u64,
}

/// Default of [`Options::max_entries`].
pub const DEFAULT_MAX_ENTRIES: u64 = 10_000_000;
/// Default of [`Options::max_depth`].
pub const DEFAULT_MAX_DEPTH: usize = 1024;
/// Default of [`Options::max_path_len`]: Linux's `PATH_MAX`.
pub const DEFAULT_MAX_PATH_LEN: usize = 4096;
/// Default of [`Options::max_meta_bytes`]: 1 GiB (a rootfs of a million files has ~100 MB).
pub const DEFAULT_MAX_META_BYTES: u64 = 1 << 30;
/// Default of [`Options::max_lookups`]: 5·10⁸, some 20–50 s of work; a rootfs of a million
/// files needs a few 10⁷.
pub const DEFAULT_MAX_LOOKUPS: u64 = 500_000_000;
/// Default of [`Options::max_data_bytes`]: 64 GiB, the default decompression limit.
pub const DEFAULT_MAX_DATA_BYTES: u64 = crate::compression::DEFAULT_MAX_DECOMPRESSED_BYTES;

impl Default for Options {
    fn default() -> Self {
        Options {
            name_rules: NameRules::Moby,
            implied_dir_mtime: Timestamp::EPOCH,
            bound_symlink_times: true,
            chown: None,
            memory_budget: content::DEFAULT_MEMORY_BUDGET,
            bodies: content::Bodies::Keep,
            max_entries: DEFAULT_MAX_ENTRIES,
            max_depth: DEFAULT_MAX_DEPTH,
            max_path_len: DEFAULT_MAX_PATH_LEN,
            max_meta_bytes: DEFAULT_MAX_META_BYTES,
            max_data_bytes: DEFAULT_MAX_DATA_BYTES,
            max_lookups: DEFAULT_MAX_LOOKUPS,
        }
    }
}

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

/// The outcome of resolving a path in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resolved {
    /// The last component exists.
    Found(NodeId),
    /// Every directory up to the last component exists; the last one does not.
    Missing { parent: NodeId, name: Vec<u8> },
}

/// A directory header whose times are re-applied at the end (§3.15).
#[derive(Debug)]
struct PendingDirTime {
    /// The cleaned path, re-resolved at the end (≤0.2 joins the name again).
    components: Vec<Vec<u8>>,
    display: String,
    mtime: Timestamp,
    entry: u64,
}

/// Applies archive entries one by one, as Docker's `Unpack` does.
#[derive(Debug)]
pub struct Unpacker {
    opts: Options,
    tree: Tree,
    hazards: Vec<Hazard>,
    stats: Stats,
    dirs: Vec<PendingDirTime>,
    /// sha256 of each path already written by some entry (for duplicate detection; hashes keep
    /// memory per entry constant whatever the name's length).
    seen: std::collections::HashSet<[u8; 32]>,
    /// Bytes of names, link targets and xattrs met so far (for `max_meta_bytes`).
    meta_bytes: u64,
    /// Path components looked up so far (for `max_lookups`).
    lookups: std::cell::Cell<u64>,
    /// For each inode created by a regular entry: the path the archive first gave it.
    first_name: BTreeMap<InodeId, Vec<u8>>,
    /// Inodes that gained a hard link.
    linked: Vec<InodeId>,
}

impl Unpacker {
    /// A fresh extraction into an empty root.
    pub fn new(opts: Options) -> Self {
        let tree = Tree::with_store(content::ContentStore::for_bodies(
            opts.bodies,
            opts.memory_budget,
        ));
        Unpacker {
            opts,
            tree,
            hazards: Vec::new(),
            stats: Stats::default(),
            dirs: Vec::new(),
            seen: Default::default(),
            meta_bytes: 0,
            lookups: std::cell::Cell::new(0),
            first_name: BTreeMap::new(),
            linked: Vec::new(),
        }
    }

    /// The tree as it stands.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// Apply one entry: `body` yields the entry's (dense) data for regular files.
    pub fn apply(&mut self, hdr: &Header, body: &mut dyn Read) -> Result<(), Error> {
        let index = self.stats.entries;
        self.stats.entries += 1;
        *self
            .stats
            .by_type
            .entry(typeflag_name(hdr.typeflag))
            .or_default() += 1;
        if self.stats.entries > self.opts.max_entries {
            return Err(self.limit(
                hdr,
                index,
                "max-entries",
                self.opts.max_entries,
                format!(
                    "the archive has more than {} entries",
                    self.opts.max_entries
                ),
            ));
        }
        let xattr_bytes: u64 = hdr.xattrs().map(|(k, v)| (k.len() + v.len()) as u64).sum();
        self.meta_bytes = self
            .meta_bytes
            .saturating_add(hdr.name.len() as u64)
            .saturating_add(hdr.linkname.len() as u64)
            .saturating_add(xattr_bytes);
        if self.meta_bytes > self.opts.max_meta_bytes {
            return Err(self.limit(
                hdr,
                index,
                "max-meta-bytes",
                self.opts.max_meta_bytes,
                format!(
                    "entry names, link targets and xattrs add up to more than {} bytes",
                    self.opts.max_meta_bytes
                ),
            ));
        }
        // §3.2: global headers are skipped before anything else happens.
        if hdr.typeflag == typeflag::XGLOBAL {
            self.hazards
                .push(Hazard::GlobalHeaderIgnored { entry: index });
            return Ok(());
        }
        let Some(components) = self.clean_name(hdr, index)? else {
            return Ok(());
        };
        if components.len() > self.opts.max_depth {
            return Err(self.limit(
                hdr,
                index,
                "max-depth",
                self.opts.max_depth as u64,
                format!("the name has {} components", components.len()),
            ));
        }
        let joined = components.join(&b'/');
        for (what, len) in [("name", joined.len()), ("link target", hdr.linkname.len())] {
            if len > self.opts.max_path_len {
                return Err(self.limit(
                    hdr,
                    index,
                    "max-path-len",
                    self.opts.max_path_len as u64,
                    format!("the {what} is {len} bytes long"),
                ));
            }
        }
        let display = display_path(&components);
        if components.is_empty() {
            return self.apply_to_root(hdr, index);
        }
        if !self.seen.insert(sha2::Sha256::digest(&joined).into()) {
            self.hazards.push(Hazard::DuplicatePath {
                entry: index,
                path: display.clone(),
            });
        }
        match self.opts.name_rules {
            NameRules::Moby => {
                self.create_implied_directories(hdr, index, &components)?;
                self.remove_existing(hdr, index, &components, &display)?;
            }
            NameRules::GoArchive03 => {
                self.remove_existing(hdr, index, &components, &display)?;
                self.create_implied_directories(hdr, index, &components)?;
            }
        }
        self.create_tar_file(hdr, index, &components, &display, body)?;
        if self.tree.node_count() as u64 > self.opts.max_entries {
            return Err(self.limit(
                hdr,
                index,
                "max-entries",
                self.opts.max_entries,
                format!(
                    "the tree has more than {} names (entries, implied directories and \
                     replaced names)",
                    self.opts.max_entries
                ),
            ));
        }
        self.check_lookups(Some(hdr), index)?;
        if hdr.typeflag == typeflag::DIR {
            self.dirs.push(PendingDirTime {
                components,
                display,
                mtime: hdr.mtime,
                entry: index,
            });
        }
        Ok(())
    }

    /// Re-apply directory times in archive order and hand over the tree (§3.15).
    pub fn finish(mut self) -> Result<Unpacked, Error> {
        let dirs = std::mem::take(&mut self.dirs);
        for d in dirs {
            // chtimes follows symlinks; a path that no longer resolves fails the build.
            let node = match self.resolve(&d.components, true) {
                Ok(Resolved::Found(n)) => n,
                other => {
                    // `Missing` is ENOENT; a failed walk carries its own errno.
                    let errno = other.err().unwrap_or(Errno::Enoent);
                    return Err(Error::Refused(Refusal {
                        entry: Some(d.entry),
                        name: d.display.clone(),
                        kind: RefusalKind::Syscall {
                            op: "chtimes",
                            errno,
                        },
                        message: format!("chtimes /{}: {}", d.display, errno.message()),
                    }));
                }
            };
            self.check_lookups(None, d.entry)?;
            let ino = self.tree.node(node).inode;
            if self.tree.inode(ino).kind != Kind::Dir {
                self.hazards.push(Hazard::DirTimeAppliedToNonDir {
                    path: d.display.clone(),
                });
            }
            self.tree.inode_mut(ino).mtime = bound_time(d.mtime);
        }
        self.detect_hardlink_flips();
        for e in self.tree.walk() {
            if self.tree.node(e.node).origin == Origin::Implied {
                self.hazards.push(Hazard::ImpliedDirectory {
                    path: String::from_utf8_lossy(&e.path).into_owned(),
                });
            }
        }
        Ok(Unpacked {
            tree: self.tree,
            hazards: self.hazards,
            stats: self.stats,
        })
    }

    /// A limit of ours was exceeded: `what` says by how much; the message names the limit, its
    /// value and the flag that raises it.
    fn limit(
        &self,
        hdr: &Header,
        index: u64,
        limit: &'static str,
        value: u64,
        what: String,
    ) -> Error {
        self.refuse(
            hdr,
            index,
            RefusalKind::Limit { limit, value },
            format!("{what}: over the {limit} limit of {value} (raise it with --{limit})"),
        )
    }

    fn refuse(&self, hdr: &Header, index: u64, kind: RefusalKind, message: String) -> Error {
        Error::Refused(Refusal {
            entry: Some(index),
            name: hdr.display_name(),
            kind,
            message,
        })
    }

    fn syscall(
        &self,
        hdr: &Header,
        index: u64,
        op: &'static str,
        path: &str,
        errno: Errno,
    ) -> Error {
        self.refuse(
            hdr,
            index,
            RefusalKind::Syscall { op, errno },
            format!("{op} /{path}: {}", errno.message()),
        )
    }

    /// §3.3: clean the name per the engine generation. `None` means "skip this entry".
    fn clean_name(&mut self, hdr: &Header, index: u64) -> Result<Option<Vec<Vec<u8>>>, Error> {
        let name = &hdr.name;
        let components = match self.opts.name_rules {
            NameRules::Moby => {
                // filepath.Clean, then Join("/", name): `..` clamps at the chroot's root.
                // `Clean(".")`/`Clean("./")` is "." and Docker skips it whatever its type; a
                // name that cleans to "/" or ".." reaches the root by a longer way (§3.4).
                clean_components(name, true)
            }
            NameRules::GoArchive03 => {
                let trimmed: &[u8] = {
                    let mut s = name.as_slice();
                    while let [b'/', rest @ ..] = s {
                        s = rest;
                    }
                    s
                };
                match clean_components(trimmed, false) {
                    Some(c) => Some(c),
                    None => {
                        return Err(self.refuse(
                            hdr,
                            index,
                            RefusalKind::InvalidEntryName,
                            format!(
                                "invalid entry name {:?}",
                                String::from_utf8_lossy(&hdr.name)
                            ),
                        ));
                    }
                }
            }
        };
        let components = components.unwrap_or_default();
        let canonical = {
            let mut c = components.join(&b'/');
            if hdr.typeflag == typeflag::DIR && !c.is_empty() {
                c.push(b'/');
            }
            c
        };
        let stored = name.strip_prefix(b"./").unwrap_or(name);
        let stored_dir = stored.strip_suffix(b"/").unwrap_or(stored);
        let canonical_dir = canonical.strip_suffix(b"/").unwrap_or(&canonical);
        if !components.is_empty() && stored_dir != canonical_dir {
            self.hazards.push(Hazard::NameCleaned {
                entry: index,
                from: String::from_utf8_lossy(name).into_owned(),
                to: String::from_utf8_lossy(&canonical).into_owned(),
            });
        }
        Ok(Some(components))
    }

    /// §3.4: the root entry. Directories merge with the root (their metadata is never written
    /// to the layer); `.` is skipped whatever its type; a non-directory that would replace the
    /// root any other way is refused.
    fn apply_to_root(&mut self, hdr: &Header, index: u64) -> Result<(), Error> {
        let is_dot = {
            let n = hdr.name.as_slice();
            clean_lexical_is_dot(n)
        };
        if hdr.typeflag == typeflag::DIR || is_dot || self.opts.name_rules == NameRules::GoArchive03
        {
            self.hazards.push(Hazard::RootEntryIgnored {
                entry: index,
                mode: hdr.mode,
                uid: hdr.uid,
                gid: hdr.gid,
            });
            return Ok(());
        }
        Err(self.refuse(
            hdr,
            index,
            RefusalKind::ReplacesRoot,
            format!(
                "entry {:?} would replace the extraction root with a {}",
                hdr.display_name(),
                typeflag_name(hdr.typeflag)
            ),
        ))
    }

    /// §3.6: make missing parents (0755, root owner, the build's wall-clock time).
    fn create_implied_directories(
        &mut self,
        hdr: &Header,
        index: u64,
        components: &[Vec<u8>],
    ) -> Result<(), Error> {
        let parent = &components[..components.len() - 1];
        // os.Lstat(parent): ENOENT → MkdirAll; any other outcome leaves it alone.
        match self.resolve(parent, false) {
            Ok(Resolved::Found(_)) => Ok(()),
            Err(Errno::Enoent) | Ok(Resolved::Missing { .. }) => self.mkdir_all(hdr, index, parent),
            Err(_) => Ok(()),
        }
    }

    /// `os.MkdirAll` (following symlinks) with Docker's implied-directory metadata.
    fn mkdir_all(&mut self, hdr: &Header, index: u64, path: &[Vec<u8>]) -> Result<(), Error> {
        for depth in 1..=path.len() {
            let prefix = &path[..depth];
            let mkdir_err = |this: &Self, errno| {
                this.syscall(hdr, index, "mkdir", &display_path(prefix), errno)
            };
            match self.resolve(prefix, false) {
                Ok(Resolved::Found(n)) => {
                    let kind = self.tree.inode_of(n).kind;
                    let kind = if kind == Kind::Symlink {
                        // Stat follows it; a dangling one makes Mkdir fail with EEXIST.
                        match self.resolve(prefix, true) {
                            Ok(Resolved::Found(t)) => self.tree.inode_of(t).kind,
                            Ok(Resolved::Missing { .. }) | Err(Errno::Enoent) => {
                                return Err(mkdir_err(self, Errno::Eexist));
                            }
                            Err(errno) => return Err(mkdir_err(self, errno)),
                        }
                    } else {
                        kind
                    };
                    if kind != Kind::Dir {
                        return Err(mkdir_err(self, Errno::Enotdir));
                    }
                }
                Ok(Resolved::Missing { parent, name }) => {
                    let mut ino = Inode::new(Kind::Dir);
                    ino.perm = 0o755;
                    ino.mtime = self.opts.implied_dir_mtime;
                    let ino = self.tree.add_inode(ino);
                    self.tree.link(parent, &name, ino, Origin::Implied);
                }
                Err(errno) => return Err(mkdir_err(self, errno)),
            }
        }
        Ok(())
    }

    /// §3.7: an existing path is removed (`RemoveAll`) unless both are directories.
    fn remove_existing(
        &mut self,
        hdr: &Header,
        index: u64,
        components: &[Vec<u8>],
        display: &str,
    ) -> Result<(), Error> {
        let node = match self.resolve(components, false) {
            Ok(Resolved::Found(n)) => n,
            // Lstat failed: nothing to remove; the create step reports the error if any.
            _ => return Ok(()),
        };
        let existing_is_dir = self.tree.inode_of(node).kind == Kind::Dir;
        if existing_is_dir && hdr.typeflag == typeflag::DIR {
            return Ok(());
        }
        if existing_is_dir {
            let removed = count_subtree(&self.tree, node);
            if removed > 1 {
                self.hazards.push(Hazard::SubtreeReplaced {
                    entry: index,
                    path: display.to_string(),
                    removed,
                });
            }
        }
        self.tree.remove(node);
        Ok(())
    }

    /// §3.10–§3.14: create the object, then owner, xattrs, mode and times.
    fn create_tar_file(
        &mut self,
        hdr: &Header,
        index: u64,
        components: &[Vec<u8>],
        display: &str,
        body: &mut dyn Read,
    ) -> Result<NodeId, Error> {
        let t = hdr.typeflag;
        // Where the new name goes: the parent is resolved following symlinks.
        let target = match self.resolve(components, false) {
            Ok(r) => r,
            Err(errno) => {
                let op = create_op(t);
                return Err(self.syscall(hdr, index, op, display, errno));
            }
        };
        let node = match (t, target) {
            (typeflag::DIR, Resolved::Found(n)) if self.tree.inode_of(n).kind == Kind::Dir => {
                // Merge: keep the directory, apply the header's metadata. An implied directory
                // becomes the entry's own.
                let node = n;
                if self.tree.node(node).origin == Origin::Implied {
                    self.tree.set_origin(node, Origin::Entry { index });
                }
                node
            }
            (_, Resolved::Found(_)) => {
                // Only reachable when removal was impossible (the root); treat as EEXIST.
                let op = create_op(t);
                return Err(self.syscall(hdr, index, op, display, Errno::Eexist));
            }
            (typeflag::LINK, Resolved::Missing { parent, name }) => {
                self.create_hardlink(hdr, index, parent, &name, display)?
            }
            (_, Resolved::Missing { parent, name }) => {
                let kind = match t {
                    typeflag::DIR => Kind::Dir,
                    typeflag::REG => Kind::File,
                    typeflag::SYMLINK => Kind::Symlink,
                    typeflag::CHAR => Kind::CharDevice,
                    typeflag::BLOCK => Kind::BlockDevice,
                    typeflag::FIFO => Kind::Fifo,
                    other => {
                        return Err(self.refuse(
                            hdr,
                            index,
                            RefusalKind::UnhandledType { typeflag: other },
                            format!("unhandled tar header type {other}"),
                        ));
                    }
                };
                let mut ino = Inode::new(kind);
                match kind {
                    Kind::File => {
                        let len = u64::try_from(hdr.size).unwrap_or(0);
                        let total = self.stats.data_bytes.saturating_add(len);
                        if total > self.opts.max_data_bytes {
                            return Err(self.limit(
                                hdr,
                                index,
                                "max-data-bytes",
                                self.opts.max_data_bytes,
                                format!("file sizes add up to {total} bytes"),
                            ));
                        }
                        let content = self.tree.content_mut().put(body, len).map_err(|source| {
                            Error::Content {
                                entry: index,
                                name: hdr.display_name(),
                                source,
                            }
                        })?;
                        self.stats.data_bytes += len;
                        ino.content = Some(content);
                    }
                    Kind::Symlink => {
                        ino.link_target = hdr.linkname.clone();
                        ino.perm = 0o777;
                        if climbs_above_root(components, &hdr.linkname) {
                            self.hazards.push(Hazard::SymlinkClimbsAboveRoot {
                                path: display.to_string(),
                                target: String::from_utf8_lossy(&hdr.linkname).into_owned(),
                            });
                        }
                    }
                    Kind::CharDevice | Kind::BlockDevice => {
                        ino.devmajor = hdr.devmajor;
                        ino.devminor = hdr.devminor;
                        if kind == Kind::CharDevice && hdr.devmajor == 0 && hdr.devminor == 0 {
                            self.hazards.push(Hazard::CharDeviceZero {
                                path: display.to_string(),
                            });
                        }
                    }
                    Kind::Dir | Kind::Fifo => {}
                }
                let ino = self.tree.add_inode(ino);
                if kind == Kind::File {
                    self.first_name.insert(ino, components.join(&b'/'));
                }
                self.tree.link(parent, &name, ino, Origin::Entry { index })
            }
        };
        if components
            .last()
            .is_some_and(|base| base.starts_with(b".wh."))
        {
            self.hazards.push(Hazard::WhiteoutName {
                path: display.to_string(),
            });
        }
        let ino = self.tree.node(node).inode;
        self.lchown(hdr, ino);
        self.set_xattrs(hdr, index, ino, display)?;
        // Mode and times: hard links only when `lstat(linkname)` is not a symlink (§3.13–14).
        let apply_mode_and_times = match t {
            typeflag::SYMLINK => false,
            typeflag::LINK => self.tree.inode(ino).kind != Kind::Symlink,
            _ => true,
        };
        let mtime = hdr.mtime;
        if apply_mode_and_times {
            self.tree.inode_mut(ino).perm = hdr.perm();
        }
        let bounded = if t == typeflag::SYMLINK && !self.opts.bound_symlink_times {
            mtime
        } else {
            bound_time(mtime)
        };
        if bounded != mtime && (t != typeflag::LINK || apply_mode_and_times) {
            self.hazards.push(Hazard::MtimeOutOfRange {
                entry: index,
                path: display.to_string(),
                mtime,
            });
        }
        if apply_mode_and_times || t == typeflag::SYMLINK {
            self.tree.inode_mut(ino).mtime = bounded;
        }
        Ok(node)
    }

    /// §3.10 `'1'`: `link(Join("/", linkname), path)`; the target's last component is not
    /// followed (Linux `link(2)`), intermediate ones are.
    fn create_hardlink(
        &mut self,
        hdr: &Header,
        index: u64,
        parent: NodeId,
        name: &[u8],
        display: &str,
    ) -> Result<NodeId, Error> {
        let target_components = clean_components(&hdr.linkname, true).unwrap_or_default();
        let target_display = display_path(&target_components);
        let link_err = |this: &Self, errno: Errno| {
            this.refuse(
                hdr,
                index,
                RefusalKind::Syscall { op: "link", errno },
                format!("link /{target_display} /{display}: {}", errno.message()),
            )
        };
        let target = match self.resolve(&target_components, false) {
            Ok(Resolved::Found(n)) => n,
            Ok(Resolved::Missing { .. }) => return Err(link_err(self, Errno::Enoent)),
            Err(errno) => return Err(link_err(self, errno)),
        };
        if target == ROOT || self.tree.inode_of(target).kind == Kind::Dir {
            return Err(link_err(self, Errno::Eperm));
        }
        let ino = self.tree.node(target).inode;
        let before = self.tree.inode(ino).clone();
        let node = self.tree.link(parent, name, ino, Origin::Entry { index });
        self.linked.push(ino);
        let differs = before.kind != Kind::Symlink
            && (before.perm != hdr.perm()
                || before.uid != hdr.uid
                || before.gid != hdr.gid
                || before.mtime != bound_time(hdr.mtime));
        if differs {
            self.hazards.push(Hazard::HardlinkMetadataOverride {
                entry: index,
                path: display.to_string(),
                target: target_display,
            });
        }
        Ok(node)
    }

    /// §3.11: `Lchown(path, uid, gid)` — or BuildKit's `--chown` owner.
    fn lchown(&mut self, hdr: &Header, ino: InodeId) {
        let (uid, gid) = self.opts.chown.unwrap_or((hdr.uid, hdr.gid));
        let inode = self.tree.inode_mut(ino);
        // The kernel takes a 32-bit id; -1 (all ones) means "leave unchanged".
        if let Some(u) = chown_id(uid) {
            inode.uid = u;
        }
        if let Some(g) = chown_id(gid) {
            inode.gid = g;
        }
    }

    /// §3.12: every `SCHILY.xattr.*` record is set; errors other than ENOTSUP/EPERM fail.
    fn set_xattrs(
        &mut self,
        hdr: &Header,
        index: u64,
        ino: InodeId,
        display: &str,
    ) -> Result<(), Error> {
        let kind = self.tree.inode(ino).kind;
        for (name, value) in hdr.xattrs() {
            if name == b"security.capability" {
                if value.len() != 20 && value.len() != 24 {
                    return Err(self.refuse(
                        hdr,
                        index,
                        RefusalKind::BadCapability,
                        format!(
                            "lsetxattr /{display} security.capability: {} ({} bytes)",
                            Errno::Einval.message(),
                            value.len()
                        ),
                    ));
                }
                if value.len() == 24 {
                    self.hazards.push(Hazard::CapabilityV3 {
                        path: display.to_string(),
                    });
                }
            } else {
                self.hazards.push(Hazard::XattrDropped {
                    path: display.to_string(),
                    name: String::from_utf8_lossy(name).into_owned(),
                });
            }
            // `user.*` on anything but files and directories is EPERM (ignored).
            if name.starts_with(b"user.") && !matches!(kind, Kind::File | Kind::Dir) {
                continue;
            }
            self.tree
                .inode_mut(ino)
                .xattrs
                .insert(name.to_vec(), value.to_vec());
        }
        Ok(())
    }

    /// §5.3: report hard-link groups whose file name flips between archive and layer.
    fn detect_hardlink_flips(&mut self) {
        let mut linked = std::mem::take(&mut self.linked);
        linked.sort_unstable();
        linked.dedup();
        if linked.is_empty() {
            return;
        }
        let mut first_in_walk: BTreeMap<InodeId, Vec<u8>> = BTreeMap::new();
        for e in self.tree.walk() {
            let ino = self.tree.node(e.node).inode;
            if linked.binary_search(&ino).is_ok() {
                first_in_walk.entry(ino).or_insert(e.path);
            }
        }
        for (ino, layer_first) in first_in_walk {
            if self.tree.inode(ino).nlink < 2 {
                continue;
            }
            if let Some(archive_first) = self.first_name.get(&ino)
                && *archive_first != layer_first
            {
                self.hazards.push(Hazard::HardlinkDirectionFlip {
                    archive_file: String::from_utf8_lossy(archive_first).into_owned(),
                    layer_file: String::from_utf8_lossy(&layer_first).into_owned(),
                });
            }
        }
    }

    /// Kernel-style path resolution from the root. `follow_last` follows a final symlink.
    fn resolve(&self, components: &[Vec<u8>], follow_last: bool) -> Result<Resolved, Errno> {
        let mut walk = Walk {
            symlinks: MAX_SYMLINKS,
            steps: 0,
        };
        let r = resolve_in(&self.tree, ROOT, components, follow_last, &mut walk);
        self.lookups
            .set(self.lookups.get().saturating_add(walk.steps));
        r
    }

    /// `max-lookups`: checked after each entry (and while re-applying directory times), so
    /// one entry's work is bounded by the depth and symlink limits and the total by this.
    fn check_lookups(&self, hdr: Option<&Header>, index: u64) -> Result<(), Error> {
        let max = self.opts.max_lookups;
        if self.lookups.get() <= max {
            return Ok(());
        }
        let what = format!("resolving names took more than {max} path-component lookups");
        Err(Error::Refused(Refusal {
            entry: Some(index),
            name: hdr.map(Header::display_name).unwrap_or_default(),
            kind: RefusalKind::Limit {
                limit: "max-lookups",
                value: max,
            },
            message: format!(
                "{what}: over the max-lookups limit of {max} (raise it with --max-lookups)"
            ),
        }))
    }
}

/// What one path resolution may still do, and what it did.
struct Walk {
    /// Symlinks it may still follow.
    symlinks: u32,
    /// Components looked up so far.
    steps: u64,
}

fn resolve_in(
    tree: &Tree,
    start: NodeId,
    components: &[Vec<u8>],
    follow_last: bool,
    walk: &mut Walk,
) -> Result<Resolved, Errno> {
    let mut cur = start;
    let n = components.len();
    if n == 0 {
        return Ok(Resolved::Found(cur));
    }
    for (i, comp) in components.iter().enumerate() {
        let last = i + 1 == n;
        walk.steps += 1;
        if tree.inode_of(cur).kind != Kind::Dir {
            return Err(Errno::Enotdir);
        }
        if comp.is_empty() || comp == b"." {
            if last {
                return Ok(Resolved::Found(cur));
            }
            continue;
        }
        if comp == b".." {
            cur = tree.node(cur).parent;
            if last {
                return Ok(Resolved::Found(cur));
            }
            continue;
        }
        let Some(child) = tree.child(cur, comp) else {
            if last {
                return Ok(Resolved::Missing {
                    parent: cur,
                    name: comp.clone(),
                });
            }
            return Err(Errno::Enoent);
        };
        let ino = tree.inode_of(child);
        if ino.kind == Kind::Symlink && (!last || follow_last) {
            if walk.symlinks == 0 {
                return Err(Errno::Eloop);
            }
            walk.symlinks -= 1;
            let target = &ino.link_target;
            if target.is_empty() {
                return Err(Errno::Enoent);
            }
            let base = if target.starts_with(b"/") { ROOT } else { cur };
            let parts: Vec<Vec<u8>> = target.split(|&b| b == b'/').map(<[u8]>::to_vec).collect();
            // A dangling symlink (intermediate, or final and followed) is ENOENT.
            let Resolved::Found(t) = resolve_in(tree, base, &parts, true, walk)? else {
                return Err(Errno::Enoent);
            };
            if last {
                return Ok(Resolved::Found(t));
            }
            cur = t;
            continue;
        }
        if last {
            return Ok(Resolved::Found(child));
        }
        cur = child;
    }
    Ok(Resolved::Found(cur))
}

/// Lexically clean a slash-separated name into components (Go's `path.Clean`). With
/// `clamp_at_root`, `..` above the start is dropped (`Join("/", Clean(name))`); without it, such
/// a name gives `None` (it is not `filepath.IsLocal`).
pub fn clean_components(name: &[u8], clamp_at_root: bool) -> Option<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() && !clamp_at_root {
                    return None;
                }
            }
            p => out.push(p.to_vec()),
        }
    }
    Some(out)
}

fn clean_lexical_is_dot(name: &[u8]) -> bool {
    // filepath.Clean(name) == "." : relative and every component cancels out without `..`
    // escaping the start.
    !name.starts_with(b"/") && lexical_depth(0, name) == Some(0)
}

/// Depth reached by walking a relative `path` lexically from depth `start`; `None` as soon as a
/// `..` climbs above depth 0.
fn lexical_depth(start: i64, path: &[u8]) -> Option<i64> {
    let mut depth = start;
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            _ => depth += 1,
        }
    }
    Some(depth)
}

/// Docker's `boundTime`: before the epoch or after Go's maximum `time.Unix(0, 1<<63-1)`
/// (2262-04-11T23:47:16.854775807Z) becomes the epoch (spec §3 step 14).
pub fn bound_time(t: Timestamp) -> Timestamp {
    const MAX_SEC: i64 = 9_223_372_036;
    const MAX_NSEC: u32 = 854_775_807;
    if t.sec < 0 || (t.sec, t.nsec) > (MAX_SEC, MAX_NSEC) {
        Timestamp::EPOCH
    } else {
        t
    }
}

/// The id `chown(2)` ends up with: Go passes an `int`, the kernel reads 32 bits, and all ones
/// means "unchanged".
fn chown_id(id: i64) -> Option<i64> {
    let truncated = id as u32;
    (truncated != u32::MAX).then_some(i64::from(truncated))
}

fn create_op(t: u8) -> &'static str {
    match t {
        typeflag::DIR => "mkdir",
        typeflag::LINK => "link",
        typeflag::SYMLINK => "symlink",
        typeflag::CHAR | typeflag::BLOCK | typeflag::FIFO => "mknod",
        _ => "open",
    }
}

fn display_path(components: &[Vec<u8>]) -> String {
    String::from_utf8_lossy(&components.join(&b'/')).into_owned()
}

fn count_subtree(tree: &Tree, node: NodeId) -> u64 {
    let mut n = 0;
    let mut stack = vec![node];
    while let Some(id) = stack.pop() {
        n += 1;
        stack.extend(tree.node(id).children.values().copied());
    }
    n
}

/// True when a relative symlink target at `components` climbs above the root lexically.
fn climbs_above_root(components: &[Vec<u8>], target: &[u8]) -> bool {
    !target.starts_with(b"/") && lexical_depth(components.len() as i64 - 1, target).is_none()
}
