//! Read-only file access inside an OCI layout directory or a tar archive, with symlinks resolved
//! strictly inside it: an absolute link, or a `..` that climbs above the root, is an error.
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Bound;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// What a path is, one component at a time.
enum Kind {
    Other,
    Symlink(String),
    Missing,
}

const MAX_HOPS: usize = 40;

/// Resolves `path` (relative to the root) through symlinks without ever leaving the root.
fn resolve(
    path: &str,
    what: &str,
    container: &'static str,
    lookup: &dyn Fn(&str) -> Result<Kind, Error>,
) -> Result<String, Error> {
    let escape = |p: &str| Error::PathEscape {
        what: what.to_string(),
        path: p.to_string(),
        container,
    };
    if path.starts_with('/') {
        return Err(escape(path));
    }
    let mut todo: Vec<String> = path.split('/').rev().map(str::to_string).collect();
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                if done.pop().is_none() {
                    return Err(escape(path));
                }
                continue;
            }
            _ => {}
        }
        done.push(c);
        let cur = done.join("/");
        match lookup(&cur)? {
            Kind::Symlink(target) => {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(Error::Layout {
                        what: what.to_string(),
                        reason: format!("too many symlinks resolving {path:?}"),
                    });
                }
                if target.starts_with('/') {
                    return Err(escape(&target));
                }
                done.pop();
                todo.extend(target.split('/').rev().map(str::to_string));
            }
            Kind::Missing => {
                return Err(Error::NotFound {
                    what: format!("{path} in {what}"),
                });
            }
            Kind::Other => {}
        }
    }
    Ok(done.join("/"))
}

/// A reader that can also seek: a file of a layout or archive.
pub trait SeekRead: Read + Seek + Send {}

impl<T: Read + Seek + Send> SeekRead for T {}

/// One member of a tar archive on disk: `len` bytes from `start`, positioned at `start + pos`.
struct Section {
    file: File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Section {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Section {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        }
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        // past the end reads nothing, as for a file
        let at = self.start.saturating_add(target.min(self.len));
        self.file.seek(SeekFrom::Start(at))?;
        self.pos = target;
        Ok(target)
    }
}

/// Opens a file of a layout, or an archive, for reading: only a regular file. The open itself
/// does not block (`O_NONBLOCK`), so a FIFO or a device planted in a layout is refused by the
/// type check on the open descriptor instead of hanging in `open(2)` until a writer appears;
/// checking the type before opening would leave a window to swap the file.
pub(crate) fn open_regular(path: &Path) -> Result<(File, u64), Error> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(path, e.into()))?;
    let f = File::from(fd);
    let meta = f.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::Layout {
            what: path.display().to_string(),
            reason: format!("not a regular file ({})", file_kind(&meta.file_type())),
        });
    }
    Ok((f, meta.len()))
}

fn file_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a file"
    }
}

/// Files of a layout or archive.
pub(crate) trait Store: Send + Sync {
    /// The directory or archive (for messages).
    fn name(&self) -> String;
    /// Opens a file by its path inside, returning a reader (that seeks within the file) and
    /// the length.
    fn open(&self, path: &str) -> Result<(Box<dyn SeekRead>, u64), Error>;
    /// Whether a regular file exists at the path (after resolving links).
    fn exists(&self, path: &str) -> bool;
}

/// An OCI layout on disk.
pub(crate) struct DirStore {
    root: PathBuf,
}

impl DirStore {
    pub(crate) fn new(root: &Path) -> Result<DirStore, Error> {
        let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
        if !meta.is_dir() {
            return Err(Error::Layout {
                what: root.display().to_string(),
                reason: "not a directory".into(),
            });
        }
        Ok(DirStore {
            root: root.to_path_buf(),
        })
    }

    fn resolve(&self, path: &str) -> Result<PathBuf, Error> {
        let name = self.root.display().to_string();
        let lookup = |p: &str| -> Result<Kind, Error> {
            let full = self.root.join(p);
            match std::fs::symlink_metadata(&full) {
                Ok(m) if m.file_type().is_symlink() => {
                    let t = std::fs::read_link(&full).map_err(|e| Error::io(&full, e))?;
                    Ok(Kind::Symlink(t.to_string_lossy().into_owned()))
                }
                Ok(_) => Ok(Kind::Other),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Kind::Missing),
                Err(e) => Err(Error::io(full, e)),
            }
        };
        Ok(self.root.join(resolve(path, &name, "layout", &lookup)?))
    }
}

impl Store for DirStore {
    fn name(&self) -> String {
        self.root.display().to_string()
    }

    fn open(&self, path: &str) -> Result<(Box<dyn SeekRead>, u64), Error> {
        let full = self.resolve(path)?;
        let (f, len) = open_regular(&full)?;
        Ok((Box::new(f), len))
    }

    fn exists(&self, path: &str) -> bool {
        self.resolve(path).is_ok_and(|p| p.is_file())
    }
}

use crate::tarindex::Member as TarItem;

/// A tar archive (oci-archive, docker-archive), indexed once; file data is read by seeking.
pub(crate) struct TarStore {
    path: PathBuf,
    items: HashMap<String, TarItem>,
    /// The members' names in order, to find whether a name is an implied directory (some name
    /// starts with it and a `/`) in logarithmic time; scanning every name per path component
    /// was quadratic. Sets of every prefix would be quadratic in memory for a deep name.
    sorted: BTreeSet<String>,
}

fn clean(name: &str) -> String {
    name.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

impl TarStore {
    pub(crate) fn open(path: &Path) -> Result<TarStore, Error> {
        let (mut f, len) = open_regular(path)?;
        let what = path.display().to_string();
        let mut items = HashMap::new();
        for (name, item) in crate::tarindex::index(&mut f, len, &what)? {
            let name = clean(&name);
            if name.is_empty() {
                continue;
            }
            let item = match item {
                TarItem::Hardlink(t) => TarItem::Hardlink(clean(&t)),
                other => other,
            };
            items.insert(name, item);
        }
        let sorted = items.keys().cloned().collect();
        Ok(TarStore {
            path: path.to_path_buf(),
            items,
            sorted,
        })
    }

    /// The regular file `path` names once symlinks and hard links are followed: its own name in
    /// the archive (the same for every path that leads to it), the offset of its data and its
    /// size.
    pub(crate) fn member(&self, path: &str) -> Result<(String, u64, u64), Error> {
        let mut p = self.resolve(path)?;
        for _ in 0..MAX_HOPS {
            match self.items.get(&p) {
                Some(TarItem::File { offset, size }) => return Ok((p, *offset, *size)),
                Some(TarItem::Hardlink(t)) => p = self.resolve(t)?,
                Some(TarItem::Dir) | Some(TarItem::Symlink(_)) | None => break,
            }
        }
        Err(Error::NotFound {
            what: format!("file {path} in {}", self.path.display()),
        })
    }

    /// Whether a member's name lies below `dir` (directories need not have their own entry).
    fn implies_dir(&self, dir: &str) -> bool {
        let below = format!("{dir}/");
        self.sorted
            .range::<str, _>((Bound::Included(below.as_str()), Bound::Unbounded))
            .next()
            .is_some_and(|k| k.starts_with(&below))
    }

    fn resolve(&self, path: &str) -> Result<String, Error> {
        let name = self.path.display().to_string();
        let lookup = |p: &str| -> Result<Kind, Error> {
            Ok(match self.items.get(p) {
                Some(TarItem::Symlink(t)) => Kind::Symlink(t.clone()),
                Some(_) => Kind::Other,
                // directories need not have their own entry
                None if self.implies_dir(p) => Kind::Other,
                None => Kind::Missing,
            })
        };
        resolve(path, &name, "archive", &lookup)
    }
}

impl Store for TarStore {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn open(&self, path: &str) -> Result<(Box<dyn SeekRead>, u64), Error> {
        let (_, offset, size) = self.member(path)?;
        let (mut f, _) = open_regular(&self.path)?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(&self.path, e))?;
        let section = Section {
            file: f,
            start: offset,
            len: size,
            pos: 0,
        };
        Ok((Box::new(section), size))
    }

    fn exists(&self, path: &str) -> bool {
        self.resolve(path).is_ok_and(|p| {
            matches!(
                self.items.get(&p),
                Some(TarItem::File { .. } | TarItem::Hardlink(_))
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tar_member_reads_and_seeks_within_itself() {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [("first", &b"0123456789"[..]), ("second", b"abcdefghij")] {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, data).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tar");
        std::fs::write(&path, b.into_inner().unwrap()).unwrap();
        let store = TarStore::open(&path).unwrap();
        let (mut r, len) = store.open("second").unwrap();
        assert_eq!(len, 10);
        let mut got = String::new();
        r.read_to_string(&mut got).unwrap();
        assert_eq!(got, "abcdefghij");
        r.seek(SeekFrom::Start(3)).unwrap();
        let mut two = [0u8; 2];
        r.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"de");
        assert_eq!(r.seek(SeekFrom::Current(-4)).unwrap(), 1);
        r.read_exact(&mut two).unwrap();
        assert_eq!(&two, b"bc");
        assert_eq!(r.seek(SeekFrom::End(-1)).unwrap(), 9);
        got.clear();
        r.read_to_string(&mut got).unwrap();
        assert_eq!(got, "j");
        // past the end reads nothing (the next member is not reached); before the start fails
        assert_eq!(r.seek(SeekFrom::Current(100)).unwrap(), 110);
        assert_eq!(r.read(&mut two).unwrap(), 0);
        assert!(r.seek(SeekFrom::End(-11)).is_err());
    }

    #[test]
    fn resolution_stays_inside() {
        let links: HashMap<&str, &str> = [
            ("blobs/sha256/a", "../../rootfs.tar.gz"),
            ("blobs/sha256/out", "../../../etc/passwd"),
            ("blobs/sha256/abs", "/etc/passwd"),
            ("loop", "loop"),
        ]
        .into_iter()
        .collect();
        let lookup = |p: &str| -> Result<Kind, Error> {
            Ok(match links.get(p) {
                Some(t) => Kind::Symlink(t.to_string()),
                None => Kind::Other,
            })
        };
        assert_eq!(
            resolve("blobs/sha256/a", "t", "layout", &lookup).unwrap(),
            "rootfs.tar.gz"
        );
        assert!(matches!(
            resolve("blobs/sha256/out", "t", "layout", &lookup),
            Err(Error::PathEscape { .. })
        ));
        assert!(matches!(
            resolve("blobs/sha256/abs", "t", "layout", &lookup),
            Err(Error::PathEscape { .. })
        ));
        assert!(matches!(
            resolve("../x", "t", "layout", &lookup),
            Err(Error::PathEscape { .. })
        ));
        assert!(matches!(
            resolve("loop", "t", "layout", &lookup),
            Err(Error::Layout { .. })
        ));
    }
}
