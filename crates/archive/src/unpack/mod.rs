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
//! Each rule is a named method in `rules.rs`, with the spec section it implements. The entry point is
//! [`Unpacker`]: feed it normalised headers and bodies in archive order, then call
//! [`Unpacker::finish`]. A refusal ("Docker would fail this build") is a [`Refusal`] value, not a
//! panic; hazards (things that make a rebuild depend on more than the tarball) are collected as
//! [`Hazard`]s for `inspect` and the verifier.
//!
//! Beside the rules: [`Options`] (`options.rs`: the engine's knobs and our limits), the outcome
//! types (`outcome.rs`: [`Unpacked`], [`Refusal`], [`Hazard`]) and kernel-style path resolution
//! (`path.rs`). This file holds the [`Unpacker`] itself: the order in which each entry meets
//! the rules, our limits, and the end of the archive.

mod options;
mod outcome;
mod path;
mod rules;

use std::collections::BTreeMap;
use std::io::Read;

use sha2::Digest as _;

use crate::content;
use crate::tar::{Header, Timestamp, typeflag};
use crate::tree::{InodeId, Kind, Origin, Tree};

pub use options::{
    DEFAULT_MAX_DATA_BYTES, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ENTRIES, DEFAULT_MAX_LOOKUPS,
    DEFAULT_MAX_META_BYTES, DEFAULT_MAX_PATH_LEN, NameRules, Options,
};
pub use outcome::{Errno, Error, Hazard, Refusal, RefusalKind, Stats, Unpacked, typeflag_name};
pub use path::{bound_time, clean_components};

use path::{Resolved, display_path};

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
