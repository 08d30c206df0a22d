//! The tree Docker's `ADD` would produce, written to a directory (`layerproof unpack`), and
//! the report of what the current user could not apply (JSON schema `layerproof.unapplied/v1`).
//!
//! Safety: every name comes from the unpack model, which has already resolved symlinks and
//! `..` the way Docker does, so each name is a plain component. Objects are created in walk
//! order beneath a directory the caller made empty, with exclusive creation
//! (`O_CREAT|O_EXCL`, `mkdir`, `symlinkat`, `mknodat`) relative to an open directory handle, so
//! no existing name — in particular no symlink — is ever followed. Nothing is written outside
//! the directory.
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use layerproof_archive::Timestamp;
use layerproof_archive::source::{self, Added};
use layerproof_archive::tree::{Inode, Kind, NodeId, ROOT, Tree};
use layerproof_archive::unpack::Refusal;
use rustix::fs::{AtFlags, Mode, OFlags, Timespec, Timestamps};
use serde::Serialize;

/// The schema name written in [`Unapplied::schema`].
pub const SCHEMA: &str = "layerproof.unapplied/v1";

/// What could not be applied as this user: owners, device nodes, extended attributes.
#[derive(Debug, Clone, Serialize)]
pub struct Unapplied {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Entries whose owner could not be set (`want` is `uid:gid`).
    pub owners: Vec<Item>,
    /// Device nodes that could not be created (`want` is `kind major,minor`).
    pub devices: Vec<Item>,
    /// Extended attributes that could not be set (`want` is the attribute's name).
    pub xattrs: Vec<Item>,
}

impl Unapplied {
    /// How many items, of all kinds.
    pub fn len(&self) -> usize {
        self.owners.len() + self.devices.len() + self.xattrs.len()
    }

    /// Whether everything was applied.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One thing not applied.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// The path in the tree.
    pub path: String,
    /// What it should have been.
    pub want: String,
    /// Why it is not.
    pub error: String,
}

/// What [`unpack`] did.
#[derive(Debug)]
pub enum Unpacked {
    /// The tree was written; this is what could not be applied.
    Written(Unapplied),
    /// Docker would refuse the `ADD`; nothing was written.
    Refused(Refusal),
    /// The file is not an archive: Docker would copy it as it is; nothing was written.
    NotAnArchive,
}

/// Failures while reading the tarball or writing the tree (what the user may not do is
/// [`Unapplied`] instead).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The tarball cannot be read or unpacked, or a limit was reached.
    #[error(transparent)]
    Source(#[from] source::Error),
    /// The destination is not a directory.
    #[error("{} exists and is not a directory", dir.display())]
    NotADirectory {
        /// The destination.
        dir: PathBuf,
    },
    /// The destination has entries.
    #[error("{} is not empty; unpack needs an empty directory", dir.display())]
    NotEmpty {
        /// The destination.
        dir: PathBuf,
    },
    /// The destination cannot be created.
    #[error("cannot create {}", dir.display())]
    CreateDir {
        /// The destination.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The destination cannot be examined.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The destination cannot be opened.
    #[error("cannot open {}", dir.display())]
    Open {
        /// The destination.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// An object of the tree cannot be created or filled.
    #[error("cannot create {path}")]
    Create {
        /// The destination and the path in the tree.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// Permissions cannot be set.
    #[error("cannot chmod {path}")]
    Chmod {
        /// The path in the tree.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// Times cannot be set.
    #[error("cannot set times of {path}")]
    Times {
        /// The path in the tree.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// A directory handle was not open when a child needed it (a bug).
    #[error("internal: {0}")]
    Internal(&'static str),
}

/// `layerproof unpack`: the tree Docker's `ADD` makes of the tarball `reader` reads, written
/// below `dir` (created, or an empty directory).
pub fn unpack(
    reader: impl Read + Send,
    opts: &source::Options,
    dir: &Path,
) -> Result<Unpacked, Error> {
    let tree = match source::add(reader, opts)? {
        Added::PlainFile { .. } => return Ok(Unpacked::NotAnArchive),
        Added::Archive(a) => match a.outcome {
            Ok(u) => u.tree,
            Err(refusal) => return Ok(Unpacked::Refused(refusal)),
        },
    };
    prepare_dir(dir)?;
    Ok(Unpacked::Written(materialise(&tree, dir)?))
}

/// Creates `dir`, or checks that it is an empty directory.
pub fn prepare_dir(dir: &Path) -> Result<(), Error> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = std::fs::symlink_metadata(dir)?;
            if !meta.is_dir() {
                return Err(Error::NotADirectory {
                    dir: dir.to_path_buf(),
                });
            }
            if std::fs::read_dir(dir)?.next().is_some() {
                return Err(Error::NotEmpty {
                    dir: dir.to_path_buf(),
                });
            }
            Ok(())
        }
        Err(e) => Err(Error::CreateDir {
            dir: dir.to_path_buf(),
            source: e,
        }),
    }
}

/// Open directory handles by node, the first path of each hard-linked inode, and what was not
/// applied.
struct Writer<'a> {
    tree: &'a Tree,
    dir: &'a Path,
    is_root: bool,
    dirs: HashMap<NodeId, Rc<OwnedFd>>,
    first_path: HashMap<u32, NodeId>,
    dir_times: Vec<(NodeId, Vec<u8>)>,
    unapplied: Unapplied,
}

/// Writes `tree` below `dir`, which must be empty ([`prepare_dir`]).
pub fn materialise(tree: &Tree, dir: &Path) -> Result<Unapplied, Error> {
    let root = rustix::fs::open(
        dir,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Open {
        dir: dir.to_path_buf(),
        source: e.into(),
    })?;
    let mut w = Writer {
        tree,
        dir,
        is_root: rustix::process::geteuid().is_root(),
        dirs: HashMap::from([(ROOT, Rc::new(root))]),
        first_path: HashMap::new(),
        dir_times: Vec::new(),
        unapplied: Unapplied {
            schema: SCHEMA,
            owners: Vec::new(),
            devices: Vec::new(),
            xattrs: Vec::new(),
        },
    };
    for entry in tree.walk() {
        w.entry(entry.node, &entry.path)?;
    }
    // Directory times last, deepest first, so creating children does not bump them.
    for (node, path) in w.dir_times.iter().rev() {
        let n = tree.node(*node);
        let parent_fd = w
            .dirs
            .get(&n.parent)
            .ok_or(Error::Internal("parent directory handle missing"))?;
        set_times(
            parent_fd,
            OsStr::from_bytes(&n.name),
            tree.inode(n.inode).mtime,
        )
        .map_err(|e| Error::Times {
            path: String::from_utf8_lossy(path).into_owned(),
            source: e,
        })?;
    }
    Ok(w.unapplied)
}

impl Writer<'_> {
    /// Creates one object of the walk, then applies its metadata.
    fn entry(&mut self, node_id: NodeId, path: &[u8]) -> Result<(), Error> {
        let tree = self.tree;
        let node = tree.node(node_id);
        let parent_fd = Rc::clone(
            self.dirs
                .get(&node.parent)
                .ok_or(Error::Internal("parent directory handle missing"))?,
        );
        let parent_fd = &*parent_fd;
        let name = OsStr::from_bytes(&node.name);
        let ino = tree.inode(node.inode);
        let shown = String::from_utf8_lossy(path).into_owned();
        let dir = self.dir;
        let create = |e: io::Error| Error::Create {
            path: format!("{}/{}", dir.display(), shown),
            source: e,
        };
        if ino.nlink > 1 && ino.kind != Kind::Dir {
            if let Some(first_node) = self.first_path.get(&node.inode) {
                let first = tree.node(*first_node);
                let first_parent = self
                    .dirs
                    .get(&first.parent)
                    .ok_or(Error::Internal("directory handle missing"))?;
                let first_name = OsStr::from_bytes(&first.name);
                rustix::fs::linkat(first_parent, first_name, parent_fd, name, AtFlags::empty())
                    .map_err(|e| create(e.into()))?;
                return Ok(());
            }
            self.first_path.insert(node.inode, node_id);
        }
        match self.create(parent_fd, name, ino, &shown).map_err(create)? {
            Created::Dir(fd) => {
                self.dirs.insert(node_id, Rc::new(fd));
                self.dir_times.push((node_id, path.to_vec()));
            }
            Created::Other => {}
            Created::NotPermitted => return Ok(()),
        }
        self.apply_metadata(parent_fd, name, ino, &shown)
    }

    /// Creates the object itself: its kind, and a file's contents.
    fn create(
        &mut self,
        parent_fd: &OwnedFd,
        name: &OsStr,
        ino: &Inode,
        shown: &str,
    ) -> io::Result<Created> {
        let mode = Mode::from_raw_mode(ino.perm & 0o7777);
        match ino.kind {
            Kind::Dir => {
                rustix::fs::mkdirat(parent_fd, name, Mode::from_raw_mode(0o700))?;
                let fd = rustix::fs::openat(
                    parent_fd,
                    name,
                    OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                return Ok(Created::Dir(fd));
            }
            Kind::File => {
                let fd = rustix::fs::openat(
                    parent_fd,
                    name,
                    OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::WRONLY
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )?;
                let mut f = File::from(fd);
                if let Some(c) = ino.content {
                    self.tree.content().copy_to(&c, &mut f)?;
                }
            }
            Kind::Symlink => {
                rustix::fs::symlinkat(OsStr::from_bytes(&ino.link_target), parent_fd, name)?;
            }
            Kind::Fifo => {
                rustix::fs::mknodat(parent_fd, name, rustix::fs::FileType::Fifo, mode, 0)?;
            }
            Kind::CharDevice | Kind::BlockDevice => {
                let ft = if ino.kind == Kind::CharDevice {
                    rustix::fs::FileType::CharacterDevice
                } else {
                    rustix::fs::FileType::BlockDevice
                };
                let dev = rustix::fs::makedev(ino.devmajor as u32, ino.devminor as u32);
                if let Err(e) = rustix::fs::mknodat(parent_fd, name, ft, mode, dev) {
                    self.unapplied.devices.push(Item {
                        path: shown.to_string(),
                        want: format!("{} {},{}", ino.kind.as_str(), ino.devmajor, ino.devminor),
                        error: e.to_string(),
                    });
                    return Ok(Created::NotPermitted);
                }
            }
        }
        Ok(Created::Other)
    }

    /// Owner, permissions, extended attributes and (but for directories) times.
    fn apply_metadata(
        &mut self,
        parent: &OwnedFd,
        name: &OsStr,
        ino: &Inode,
        shown: &str,
    ) -> Result<(), Error> {
        let (uid, gid) = (ino.uid, ino.gid);
        let chown = rustix::fs::chownat(
            parent,
            name,
            Some(rustix::fs::Uid::from_raw(uid as u32)),
            Some(rustix::fs::Gid::from_raw(gid as u32)),
            AtFlags::SYMLINK_NOFOLLOW,
        );
        if let Err(e) = chown {
            // As non-root only our own ids are possible; record the wanted owner.
            if self.is_root || uid != i64::from(rustix::process::geteuid().as_raw()) || gid != 0 {
                self.unapplied.owners.push(Item {
                    path: shown.to_string(),
                    want: format!("{uid}:{gid}"),
                    error: e.to_string(),
                });
            }
        }
        if ino.kind != Kind::Symlink {
            rustix::fs::chmodat(
                parent,
                name,
                Mode::from_raw_mode(ino.perm),
                AtFlags::empty(),
            )
            .map_err(|e| Error::Chmod {
                path: shown.to_string(),
                source: e.into(),
            })?;
        }
        for (k, v) in &ino.xattrs {
            if let Err(error) = set_xattr(parent, name, ino.kind, k, v) {
                self.unapplied.xattrs.push(Item {
                    path: shown.to_string(),
                    want: String::from_utf8_lossy(k).into_owned(),
                    error,
                });
            }
        }
        if ino.kind != Kind::Dir {
            set_times(parent, name, ino.mtime).map_err(|e| Error::Times {
                path: shown.to_string(),
                source: e,
            })?;
        }
        Ok(())
    }
}

/// What [`Writer::create`] made.
enum Created {
    /// A directory, open for its children.
    Dir(OwnedFd),
    /// Another object.
    Other,
    /// Nothing: this user may not create it (recorded as unapplied).
    NotPermitted,
}

/// Sets an extended attribute through a descriptor of this exact object (opened without
/// following), so the attribute cannot land anywhere else. Only files and directories can be
/// opened safely.
fn set_xattr(parent: &OwnedFd, name: &OsStr, kind: Kind, k: &[u8], v: &[u8]) -> Result<(), String> {
    if !matches!(kind, Kind::File | Kind::Dir) {
        return Err(format!(
            "not set on a {} by layerproof unpack",
            kind.as_str()
        ));
    }
    rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .and_then(|fd| {
        rustix::fs::fsetxattr(
            &fd,
            OsStr::from_bytes(k),
            v,
            rustix::fs::XattrFlags::empty(),
        )
    })
    .map_err(|e| e.to_string())
}

fn set_times(parent: &OwnedFd, name: &OsStr, t: Timestamp) -> io::Result<()> {
    let ts = Timespec {
        tv_sec: t.sec,
        tv_nsec: i64::from(t.nsec),
    };
    rustix::fs::utimensat(
        parent,
        name,
        &Timestamps {
            last_access: ts,
            last_modification: ts,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_of(tar_bytes: &[u8]) -> Tree {
        match source::add(tar_bytes, &source::Options::default()).unwrap() {
            Added::Archive(a) => a.outcome.unwrap().tree,
            Added::PlainFile { reason, .. } => panic!("not a tar: {reason}"),
        }
    }

    fn tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o640);
        h.set_mtime(1_700_000_000);
        h.set_size(5);
        b.append_data(&mut h, "d/f", &b"hello"[..]).unwrap();
        let mut l = tar::Header::new_ustar();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        b.append_link(&mut l, "d/l", "f").unwrap();
        let mut hl = tar::Header::new_ustar();
        hl.set_entry_type(tar::EntryType::Link);
        // a hard link's header metadata is applied to the shared inode too, as Docker does
        hl.set_mode(0o640);
        hl.set_mtime(1_700_000_000);
        hl.set_size(0);
        b.append_link(&mut hl, "g", "d/f").unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn the_tree_is_written_with_links_modes_and_times() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        prepare_dir(&dir).unwrap();
        materialise(&tree_of(&tar()), &dir).unwrap();
        assert_eq!(std::fs::read(dir.join("d/f")).unwrap(), b"hello");
        assert_eq!(std::fs::read_link(dir.join("d/l")).unwrap(), Path::new("f"));
        use std::os::unix::fs::MetadataExt;
        let (f, g) = (
            std::fs::metadata(dir.join("d/f")).unwrap(),
            std::fs::metadata(dir.join("g")).unwrap(),
        );
        assert_eq!(f.ino(), g.ino());
        assert_eq!(f.mode() & 0o7777, 0o640);
        assert_eq!(f.mtime(), 1_700_000_000);
    }

    #[test]
    fn unpack_writes_nothing_for_a_plain_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let opts = source::Options::default();
        let r = unpack(&b"not a tar"[..], &opts, &dir).unwrap();
        assert!(matches!(r, Unpacked::NotAnArchive));
        assert!(!dir.exists());
        let r = unpack(&tar()[..], &opts, &dir).unwrap();
        assert!(matches!(r, Unpacked::Written(_)));
        assert!(dir.join("g").is_file());
    }

    #[test]
    fn the_destination_must_be_an_empty_directory() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("x"), b"").unwrap();
        assert!(matches!(
            prepare_dir(tmp.path()),
            Err(Error::NotEmpty { .. })
        ));
        assert!(matches!(
            prepare_dir(&tmp.path().join("x")),
            Err(Error::NotADirectory { .. })
        ));
    }
}
