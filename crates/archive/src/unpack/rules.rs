//! The rules of go-archive's `createTarFile`, one method each, with the spec section it
//! implements: name cleaning, the root entry, implied parents, replacing what exists, creating
//! the object, hard links, owner, xattrs, mode and times, and hard-link direction flips.

use std::collections::BTreeMap;
use std::io::Read;

use super::path::{
    Resolved, bound_time, clean_components, clean_lexical_is_dot, climbs_above_root, display_path,
};
use super::{Errno, Error, Hazard, NameRules, RefusalKind, Unpacker, typeflag_name};
use crate::tar::{Header, typeflag};
use crate::tree::{Inode, InodeId, Kind, NodeId, Origin, ROOT, Tree};

impl Unpacker {
    /// §3.3: clean the name per the engine generation. `None` means "skip this entry".
    pub(super) fn clean_name(
        &mut self,
        hdr: &Header,
        index: u64,
    ) -> Result<Option<Vec<Vec<u8>>>, Error> {
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
    pub(super) fn apply_to_root(&mut self, hdr: &Header, index: u64) -> Result<(), Error> {
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
    pub(super) fn create_implied_directories(
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
    pub(super) fn remove_existing(
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
    pub(super) fn create_tar_file(
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
                let ino = self.new_inode(hdr, index, components, display, body)?;
                let ino = self.tree.add_inode(ino);
                if t == typeflag::REG {
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
        self.set_mode_and_times(hdr, index, ino, display);
        Ok(node)
    }

    /// §3.10: the object a header creates (directory, file with its body stored, symlink,
    /// device, FIFO); any other type is refused as Docker refuses it.
    fn new_inode(
        &mut self,
        hdr: &Header,
        index: u64,
        components: &[Vec<u8>],
        display: &str,
        body: &mut dyn Read,
    ) -> Result<Inode, Error> {
        let kind = match hdr.typeflag {
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
                let content =
                    self.tree
                        .content_mut()
                        .put(body, len)
                        .map_err(|source| Error::Content {
                            entry: index,
                            name: hdr.display_name(),
                            source,
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
        Ok(ino)
    }

    /// §3.13–§3.14: mode and times. A hard link gets them only when `lstat(linkname)` is not a
    /// symlink; a symlink gets only its time, bounded unless the engine leaves symlink times
    /// alone.
    fn set_mode_and_times(&mut self, hdr: &Header, index: u64, ino: InodeId, display: &str) {
        let t = hdr.typeflag;
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
    pub(super) fn detect_hardlink_flips(&mut self) {
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

fn count_subtree(tree: &Tree, node: NodeId) -> u64 {
    let mut n = 0;
    let mut stack = vec![node];
    while let Some(id) = stack.pop() {
        n += 1;
        stack.extend(tree.node(id).children.values().copied());
    }
    n
}
