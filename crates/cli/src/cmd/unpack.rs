//! `layerproof unpack TARBALL DIR`: materialise the tree Docker's `ADD` would produce.
//!
//! Safety: every name comes from the unpack model, which has already resolved symlinks and
//! `..` the way Docker does, so each name is a plain component. Objects are created in walk
//! order beneath a directory this command created itself, with exclusive creation
//! (`O_CREAT|O_EXCL`, `mkdir`, `symlinkat`, `mknodat`) relative to an open directory handle, so
//! no existing name — in particular no symlink — is ever followed. Nothing is written outside
//! DIR.
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context, bail};
use layerproof_archive::source::{self, Added};
use layerproof_archive::tree::{Kind, NodeId, ROOT, Tree};
use rustix::fs::{AtFlags, Mode, OFlags, Timespec, Timestamps};
use serde::Serialize;

use crate::Outcome;

/// Materialise the filesystem Docker's `ADD TARBALL /` would produce, without Docker.
///
/// DIR must not exist or be empty. Owners, device nodes and xattrs that the current user
/// cannot apply are listed in a JSON manifest instead (default: DIR.unapplied.json beside DIR),
/// so nothing is lost. Exit status: 0 when done, 1 when Docker would refuse the tarball, 2 on
/// errors.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The rootfs tarball.
    pub tarball: PathBuf,
    /// Destination directory (created if missing; must be empty).
    pub dir: PathBuf,
    /// Build time (Unix seconds) stamped on directories the tarball does not list, as Docker
    /// stamps its wall-clock time. Default: the epoch.
    #[arg(long, default_value_t = 0)]
    pub build_time: i64,
    /// Where to write the manifest of what could not be applied.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    #[command(flatten)]
    pub limits: crate::limits::Limits,
}

#[derive(Debug, Default, Serialize)]
struct Manifest {
    schema: &'static str,
    /// Entries whose owner could not be set: path → "uid:gid".
    owners: Vec<Unapplied>,
    /// Device nodes that could not be created.
    devices: Vec<Unapplied>,
    /// Extended attributes that could not be set.
    xattrs: Vec<Unapplied>,
}

#[derive(Debug, Serialize)]
struct Unapplied {
    path: String,
    want: String,
    error: String,
}

/// Run the subcommand.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let file = File::open(&args.tarball)
        .with_context(|| format!("cannot open {}", args.tarball.display()))?;
    let mut opts = source::Options::default();
    args.limits.apply(&mut opts);
    opts.unpack.implied_dir_mtime = layerproof_archive::Timestamp::from_secs(args.build_time);
    let added = source::add(BufReader::with_capacity(1 << 20, file), &opts)
        .with_context(|| format!("cannot read {}", args.tarball.display()))?;
    let tree = match added {
        Added::PlainFile { .. } => bail!(
            "{} is not an archive: Docker's ADD would copy it as a plain file",
            args.tarball.display()
        ),
        Added::Archive(a) => match a.outcome {
            Ok(u) => u.tree,
            Err(refusal) => {
                eprintln!("layerproof: Docker would refuse this ADD: {refusal}");
                return Ok(Outcome::Negative);
            }
        },
    };
    prepare_dir(&args.dir)?;
    let manifest = materialise(&tree, &args.dir)?;
    let manifest_path = args.manifest.clone().unwrap_or_else(|| {
        let mut name = args.dir.as_os_str().to_owned();
        name.push(".unapplied.json");
        PathBuf::from(name)
    });
    let unapplied = manifest.owners.len() + manifest.devices.len() + manifest.xattrs.len();
    if unapplied > 0 {
        let mut f = File::create(&manifest_path)
            .with_context(|| format!("cannot write {}", manifest_path.display()))?;
        serde_json::to_writer_pretty(&mut f, &manifest)?;
        writeln!(f)?;
        eprintln!(
            "layerproof: {unapplied} attributes could not be applied as this user; listed in {}",
            manifest_path.display()
        );
    }
    Ok(Outcome::Success)
}

fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = std::fs::symlink_metadata(dir)?;
            if !meta.is_dir() {
                bail!("{} exists and is not a directory", dir.display());
            }
            if std::fs::read_dir(dir)?.next().is_some() {
                bail!(
                    "{} is not empty; unpack needs an empty directory",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
}

fn materialise(tree: &Tree, dir: &Path) -> anyhow::Result<Manifest> {
    let mut manifest = Manifest {
        schema: "layerproof.unapplied/v1",
        ..Manifest::default()
    };
    let root: Rc<OwnedFd> = Rc::new(
        rustix::fs::open(
            dir,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("cannot open {}", dir.display()))?,
    );
    let is_root = rustix::process::geteuid().is_root();
    // Open directory handles by node (the root included), and the first path of each
    // hard-linked inode.
    let mut dirs: HashMap<NodeId, Rc<OwnedFd>> = HashMap::from([(ROOT, root)]);
    let mut first_path: HashMap<u32, (NodeId, Vec<u8>)> = HashMap::new();
    let mut dir_times: Vec<(NodeId, Vec<u8>)> = Vec::new();
    for entry in tree.walk() {
        let node = tree.node(entry.node);
        let parent_fd = Rc::clone(
            dirs.get(&node.parent)
                .context("internal: parent directory handle missing")?,
        );
        let parent_fd = &*parent_fd;
        let name = OsStr::from_bytes(&node.name);
        let ino = tree.inode(node.inode);
        let shown = String::from_utf8_lossy(&entry.path).into_owned();
        let ctx = || format!("cannot create {}/{}", dir.display(), shown);
        if ino.nlink > 1 && ino.kind != Kind::Dir {
            if let Some((first_node, _)) = first_path.get(&node.inode) {
                let first = tree.node(*first_node);
                let first_parent = dirs
                    .get(&first.parent)
                    .context("internal: directory handle missing")?;
                rustix::fs::linkat(
                    first_parent,
                    OsStr::from_bytes(&first.name),
                    parent_fd,
                    name,
                    AtFlags::empty(),
                )
                .with_context(ctx)?;
                continue;
            }
            first_path.insert(node.inode, (entry.node, entry.path.clone()));
        }
        let mode = Mode::from_raw_mode(ino.perm & 0o7777);
        match ino.kind {
            Kind::Dir => {
                rustix::fs::mkdirat(parent_fd, name, Mode::from_raw_mode(0o700))
                    .with_context(ctx)?;
                let fd = rustix::fs::openat(
                    parent_fd,
                    name,
                    OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .with_context(ctx)?;
                dirs.insert(entry.node, Rc::new(fd));
                dir_times.push((entry.node, entry.path.clone()));
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
                )
                .with_context(ctx)?;
                let mut f = File::from(fd);
                if let Some(c) = ino.content {
                    tree.content().copy_to(&c, &mut f).with_context(ctx)?;
                }
            }
            Kind::Symlink => {
                rustix::fs::symlinkat(OsStr::from_bytes(&ino.link_target), parent_fd, name)
                    .with_context(ctx)?;
            }
            Kind::Fifo => {
                rustix::fs::mknodat(parent_fd, name, rustix::fs::FileType::Fifo, mode, 0)
                    .with_context(ctx)?;
            }
            Kind::CharDevice | Kind::BlockDevice => {
                let ft = if ino.kind == Kind::CharDevice {
                    rustix::fs::FileType::CharacterDevice
                } else {
                    rustix::fs::FileType::BlockDevice
                };
                let dev = rustix::fs::makedev(ino.devmajor as u32, ino.devminor as u32);
                if let Err(e) = rustix::fs::mknodat(parent_fd, name, ft, mode, dev) {
                    manifest.devices.push(Unapplied {
                        path: shown.clone(),
                        want: format!("{} {},{}", ino.kind.as_str(), ino.devmajor, ino.devminor),
                        error: e.to_string(),
                    });
                    continue;
                }
            }
        }
        apply_metadata(
            parent_fd,
            name,
            tree,
            entry.node,
            &shown,
            is_root,
            &mut manifest,
        )?;
    }
    // Directory times last, deepest first, so creating children does not bump them.
    for (node, path) in dir_times.iter().rev() {
        let n = tree.node(*node);
        let parent_fd = &dirs[&n.parent];
        set_times(
            parent_fd,
            OsStr::from_bytes(&n.name),
            tree.inode(n.inode).mtime,
        )
        .with_context(|| format!("cannot set times of {}", String::from_utf8_lossy(path)))?;
    }
    Ok(manifest)
}

fn apply_metadata(
    parent: &OwnedFd,
    name: &OsStr,
    tree: &Tree,
    node: NodeId,
    shown: &str,
    is_root: bool,
    manifest: &mut Manifest,
) -> anyhow::Result<()> {
    let ino = tree.inode_of(node);
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
        if is_root || uid != i64::from(rustix::process::geteuid().as_raw()) || gid != 0 {
            manifest.owners.push(Unapplied {
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
        .with_context(|| format!("cannot chmod {shown}"))?;
    }
    for (k, v) in &ino.xattrs {
        // Set through a descriptor of this exact object (opened without following), so the
        // attribute cannot land anywhere else. Only files and directories can be opened safely.
        let result = if matches!(ino.kind, Kind::File | Kind::Dir) {
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
        } else {
            Err(format!(
                "not set on a {} by layerproof unpack",
                ino.kind.as_str()
            ))
        };
        if let Err(error) = result {
            manifest.xattrs.push(Unapplied {
                path: shown.to_string(),
                want: String::from_utf8_lossy(k).into_owned(),
                error,
            });
        }
    }
    if ino.kind != Kind::Dir {
        set_times(parent, name, ino.mtime)
            .with_context(|| format!("cannot set times of {shown}"))?;
    }
    Ok(())
}

fn set_times(parent: &OwnedFd, name: &OsStr, t: layerproof_archive::Timestamp) -> io::Result<()> {
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
