//! Tree → layer entries → tar bytes, hashing as they stream (spec §5, §7).
//!
//! [`entries`] turns a [`Tree`] into the sequence of [`Entry`] headers an engine's writer would
//! hand to Go's `tar.Writer` (walk order, names, hardlink groups, modes, owners, whiteouts).
//! [`write_layer`] encodes them with [`crate::tarheader::encode`], copies file bodies from the
//! tree's content store, appends the two zero blocks, and returns the diff_id computed on the way.
//! [`hash_layer`] does the same into a sink that only hashes.

use std::collections::HashMap;
use std::io::{self, Write};

pub use layerproof_archive::hashing::HashingWriter;
use layerproof_archive::skeleton::{Skeleton, SkeletonHasher};
use layerproof_archive::tree::{Inode, InodeId, Kind, WalkEntry};
use layerproof_archive::{ContentRef, Digest, Timestamp, Tree};

use crate::names::NameTable;
use crate::profile::{Capability, OnUnencodable, OpaqueDir, OwnerNames, Profile, WhiteoutDevice};
use layerproof_archive::tar::pax::Records;
use layerproof_archive::tar::{BLOCK, END_OF_ARCHIVE, Header, typeflag};

use crate::tarheader::{self, HeaderError, WantFormat};

/// The PAX record key moby and containerd use for file capabilities.
pub const CAPABILITY_KEY: &[u8] = b"SCHILY.xattr.security.capability";
/// The overlay whiteout prefix.
pub const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// The overlay opaque-directory marker file name.
pub const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";

/// Go 1.8 file-type bits (`c_ISREG` …), added by moby 17.07–23.0 (spec §5.10).
pub fn type_bits(kind: Kind) -> i64 {
    match kind {
        Kind::File => 0o100000,
        Kind::Dir => 0o040000,
        Kind::Symlink => 0o120000,
        Kind::CharDevice => 0o020000,
        Kind::BlockDevice => 0o060000,
        Kind::Fifo => 0o010000,
    }
}

/// What to write, besides the tree.
#[derive(Debug, Clone, Copy)]
pub struct LayerOptions<'a> {
    /// The engine's switches.
    pub profile: &'a Profile,
    /// uid/gid → name table, used when the profile looks names up. `None` = every lookup misses.
    pub names: Option<&'a NameTable>,
    /// containerd `WithModTimeUpperBound` (SOURCE_DATE_EPOCH passed to the differ): later mtimes
    /// are clamped to this many seconds. Docker never sets it for `docker build` layers (spec §5.8).
    pub mtime_upper_bound: Option<i64>,
    /// The name of the xattr that marks an opaque directory (`trusted.overlay.opaque`; moby uses
    /// `user.overlay.opaque` when the daemon runs in a user namespace).
    pub opaque_xattr: &'a [u8],
}

impl<'a> LayerOptions<'a> {
    /// Options for `profile` with no name table, no clamp, and `trusted.overlay.opaque`.
    pub fn new(profile: &'a Profile) -> Self {
        LayerOptions {
            profile,
            names: None,
            mtime_upper_bound: None,
            opaque_xattr: b"trusted.overlay.opaque",
        }
    }

    /// Use this name table for uname/gname look-ups.
    pub fn with_names(mut self, names: &'a NameTable) -> Self {
        self.names = Some(names);
        self
    }
}

/// One header the engine's writer hands to Go's `tar.Writer`, with its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The header.
    pub header: Header,
    /// The format the engine asks Go's writer for (`Header.Format`).
    pub format: WantFormat,
    /// The body of a regular file with data (`None` for everything else, hardlinks included).
    pub body: Option<ContentRef>,
}

/// Errors from building or writing a layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Go's `WriteHeader` rejected an entry and the profile aborts (containerd), or the error is
    /// fatal for Go's writer in any profile.
    #[error("entry {path:?}: {source}")]
    Header {
        /// Entry name, lossy UTF-8.
        path: String,
        /// Why the header could not be encoded.
        #[source]
        source: HeaderError,
    },
    /// A `security.capability` value shorter than 4 bytes: moby indexes byte 3 and would panic.
    /// (The kernel never stores such a value, so a tree with one is not what Docker saw.)
    #[error("entry {path:?}: security.capability of {len} bytes (moby would panic)")]
    ShortCapability {
        /// Entry name, lossy UTF-8.
        path: String,
        /// Value length.
        len: usize,
    },
    /// Reading a file body from the content store failed.
    #[error("reading the body of {path:?}: {source}")]
    Content {
        /// Entry name, lossy UTF-8.
        path: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Writing to the output failed.
    #[error("writing the layer: {0}")]
    Write(#[source] io::Error),
}

/// An entry left out of the layer because Go could not encode it (moby logs and skips).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Omitted {
    /// Entry name, lossy UTF-8.
    pub path: String,
    /// Why.
    pub reason: HeaderError,
}

/// What [`write_layer`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSummary {
    /// The digest of every byte written, trailer included.
    pub diff_id: Digest,
    /// Bytes written.
    pub size: u64,
    /// Entries written (main headers; PAX `x` headers not counted).
    pub entries: u64,
    /// Entries left out (moby profiles only).
    pub omitted: Vec<Omitted>,
}

/// The layer entries for `tree` under `opts`, in the order the engine writes them.
pub fn entries<'a>(tree: &'a Tree, opts: &LayerOptions<'a>) -> Entries<'a> {
    Entries {
        tree,
        opts: *opts,
        walk: tree.walk(),
        seen: HashMap::new(),
        pending: None,
    }
}

/// Iterator returned by [`entries`].
#[derive(Debug)]
pub struct Entries<'a> {
    tree: &'a Tree,
    opts: LayerOptions<'a>,
    walk: layerproof_archive::tree::Walk<'a>,
    /// Hardlink groups: inode → tar name of the first path written (moby `SeenFiles`,
    /// containerd `inodeSrc`). Recorded before encoding, as moby does.
    seen: HashMap<InodeId, Vec<u8>>,
    /// The `.wh..wh..opq` header that follows an opaque directory.
    pending: Option<Entry>,
}

impl Iterator for Entries<'_> {
    type Item = Result<Entry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            return Some(Ok(e));
        }
        loop {
            let w = self.walk.next()?;
            match self.entry_for(&w) {
                Ok(Some(e)) => return Some(Ok(e)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl Entries<'_> {
    fn entry_for(&mut self, w: &WalkEntry) -> Result<Option<Entry>, Error> {
        let p = self.opts.profile;
        let node = self.tree.node(w.node);
        let inode_id = node.inode;
        let inode = self.tree.inode(inode_id);
        let is_whiteout_dev =
            inode.kind == Kind::CharDevice && inode.devmajor == 0 && inode.devminor == 0;
        if is_whiteout_dev && p.whiteout_device.value == WhiteoutDevice::Omit {
            // BuildKit's overlay differ never reports it, so no hardlink bookkeeping either.
            return Ok(None);
        }

        let mut name = w.path.clone();
        if inode.kind == Kind::Dir {
            name.push(b'/');
        }
        let perm = if inode.kind == Kind::Symlink {
            0o777
        } else {
            i64::from(inode.perm & 0o7777)
        };
        let mut mode = perm;
        if p.type_bits.value {
            mode |= type_bits(inode.kind);
        }
        let mtime = header_mtime(inode.mtime, self.opts.mtime_upper_bound);
        let (uname, gname) = match (p.owner_names.value, self.opts.names) {
            (OwnerNames::Lookup, Some(t)) => (
                t.user(inode.uid).unwrap_or_default().to_vec(),
                t.group(inode.gid).unwrap_or_default().to_vec(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        let (flag, size, body) = match inode.kind {
            Kind::Dir => (typeflag::DIR, 0, None),
            Kind::File => (
                typeflag::REG,
                inode.size() as i64,
                inode.content.filter(|c| c.len > 0),
            ),
            Kind::Symlink => (typeflag::SYMLINK, 0, None),
            Kind::CharDevice => (typeflag::CHAR, 0, None),
            Kind::BlockDevice => (typeflag::BLOCK, 0, None),
            Kind::Fifo => (typeflag::FIFO, 0, None),
        };
        let (devmajor, devminor) = match inode.kind {
            Kind::CharDevice | Kind::BlockDevice => (inode.devmajor, inode.devminor),
            _ => (0, 0),
        };
        let pax_records = capability_records(p, inode, &name)?;
        let mut h = Header {
            name,
            linkname: if inode.kind == Kind::Symlink {
                inode.link_target.clone()
            } else {
                Vec::new()
            },
            typeflag: flag,
            mode,
            uid: inode.uid,
            gid: inode.gid,
            uname,
            gname,
            size,
            mtime,
            atime: None,
            ctime: None,
            devmajor,
            devminor,
            pax_records,
            ..Header::default()
        };
        let mut body = body;

        // Hardlink groups (spec §5.3): non-directories with more than one name.
        if inode.kind != Kind::Dir && inode.nlink > 1 {
            if let Some(first) = self.seen.get(&inode_id) {
                h.typeflag = typeflag::LINK;
                h.linkname = first.clone();
                h.size = 0;
                body = None;
            } else {
                self.seen.insert(inode_id, h.name.clone());
            }
        }

        if is_whiteout_dev && p.whiteout_device.value == WhiteoutDevice::WhiteoutFile {
            to_whiteout_file(&mut h);
            body = None;
        }

        if inode.kind == Kind::Dir
            && p.opaque_dir.value == OpaqueDir::WhiteoutFile
            && inode.xattrs.get(self.opts.opaque_xattr).map(Vec::as_slice) == Some(b"y")
        {
            let mut wname = h.name.clone();
            wname.extend_from_slice(WHITEOUT_OPAQUE);
            self.pending = Some(Entry {
                header: Header {
                    name: wname,
                    typeflag: typeflag::REG,
                    mode: h.mode & 0o777,
                    uid: h.uid,
                    gid: h.gid,
                    uname: h.uname.clone(),
                    gname: h.gname.clone(),
                    ..Header::default()
                },
                format: WantFormat::Unknown,
                body: None,
            });
        }
        Ok(Some(Entry {
            header: h,
            format: WantFormat::Pax,
            body,
        }))
    }
}

/// The mtime the engine writes: clamped to the upper bound if there is one (containerd's
/// `WithModTimeUpperBound`), then Go's `Truncate(time.Second)`.
fn header_mtime(mtime: Timestamp, upper_bound: Option<i64>) -> Timestamp {
    let mut mtime = mtime;
    if let Some(bound) = upper_bound
        && mtime > Timestamp::from_secs(bound)
    {
        mtime = Timestamp::from_secs(bound);
    }
    // the floor, since nsec is never negative
    Timestamp::from_secs(mtime.sec)
}

/// The PAX records of an entry: its `security.capability`, as the profile's engine stores it.
fn capability_records(p: &Profile, inode: &Inode, name: &[u8]) -> Result<Records, Error> {
    let mut pax_records = Records::new();
    if let Some(cap) = inode.xattrs.get(b"security.capability".as_slice()) {
        let mut cap = cap.clone();
        if p.capability.value == Capability::V3ToV2 {
            if cap.len() < 4 {
                return Err(Error::ShortCapability {
                    path: lossy(name),
                    len: cap.len(),
                });
            }
            if cap[3] == 3 {
                cap[3] = 2;
                // Go slices within the 128-byte read buffer, so a short value is zero-padded.
                cap.resize(20, 0);
            }
        }
        if !cap.is_empty() || p.capability.value == Capability::V3ToV2 {
            pax_records.insert(CAPABILITY_KEY.to_vec(), cap);
        }
    }
    Ok(pax_records)
}

/// moby's `ConvertWrite` for a whiteout device: rename to `DIR/.wh.NAME`, regular, 0600, size 0.
/// Owner, mtime, records and (for a hardlinked whiteout) the link name are left as they were.
fn to_whiteout_file(h: &mut Header) {
    let cut = h.name.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
    let mut renamed = h.name[..cut].to_vec();
    renamed.extend_from_slice(WHITEOUT_PREFIX);
    renamed.extend_from_slice(&h.name[cut..]);
    h.name = renamed;
    h.mode = 0o600;
    h.typeflag = typeflag::REG;
    h.size = 0;
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Where [`emit_layer`] puts a layer: bytes outside file bodies, and file bodies.
///
/// The writer ([`write_layer`]) copies bodies from the tree's content store; the skeleton
/// ([`skeleton_layer`]) counts them by digest; a caller can compare a layer with another
/// piece by piece without producing it.
pub trait LayerSink {
    /// Bytes outside file bodies (headers, padding, the end-of-archive blocks), in order.
    fn raw(&mut self, bytes: &[u8]) -> Result<(), Error>;
    /// The body of the entry at `path`, stored in `tree`'s content store as `body`.
    fn body(&mut self, tree: &Tree, body: &ContentRef, path: &[u8]) -> Result<(), Error>;
}

/// The real bytes, into a hashing writer.
impl<W: Write> LayerSink for HashingWriter<W> {
    fn raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.write_all(bytes).map_err(Error::Write)
    }

    fn body(&mut self, tree: &Tree, body: &ContentRef, path: &[u8]) -> Result<(), Error> {
        tree.content()
            .copy_to(body, self)
            .map_err(|source| Error::Content {
                path: lossy(path),
                source,
            })
    }
}

/// Only the skeleton: bodies count by the digest the content store took.
impl LayerSink for SkeletonHasher {
    fn raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        SkeletonHasher::raw(self, bytes);
        Ok(())
    }

    fn body(&mut self, _tree: &Tree, body: &ContentRef, _path: &[u8]) -> Result<(), Error> {
        SkeletonHasher::body(self, body.len, &body.sha256);
        Ok(())
    }
}

/// Encode every entry of `tree` into `out` as `opts.profile` writes the layer; returns the
/// number of entries written and those omitted.
pub fn emit_layer(
    tree: &Tree,
    opts: &LayerOptions<'_>,
    out: &mut dyn LayerSink,
) -> Result<(u64, Vec<Omitted>), Error> {
    let mut count = 0u64;
    let mut omitted = Vec::new();
    let mut entries = entries(tree, opts);
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let encoded = match tarheader::encode(&entry.header, entry.format) {
            Ok(e) => e,
            Err(err) => {
                let path = lossy(&entry.header.name);
                if err.is_fatal() || opts.profile.on_unencodable.value == OnUnencodable::Abort {
                    return Err(Error::Header { path, source: err });
                }
                // moby: the directory's failure also loses its `.wh..wh..opq` follower.
                if entry.header.typeflag == typeflag::DIR {
                    entries.pending = None;
                }
                omitted.push(Omitted { path, reason: err });
                continue;
            }
        };
        out.raw(&encoded.blocks)?;
        count += 1;
        if encoded.data_len > 0 {
            match entry.body {
                Some(body) if body.len == encoded.data_len => {
                    out.body(tree, &body, &entry.header.name)?;
                }
                _ => {
                    return Err(Error::Content {
                        path: lossy(&entry.header.name),
                        source: io::Error::other("body length differs from the header size"),
                    });
                }
            }
            out.raw(&[0u8; BLOCK][..encoded.padding()])?;
        }
    }
    out.raw(&END_OF_ARCHIVE)?;
    Ok((count, omitted))
}

/// Write the layer tar for `tree` into `out`, hashing as it goes. Nothing is buffered beyond one
/// header; give a buffered writer for files.
pub fn write_layer<W: Write>(
    tree: &Tree,
    opts: &LayerOptions<'_>,
    out: W,
) -> Result<(W, LayerSummary), Error> {
    let mut out = HashingWriter::new(out);
    let (count, omitted) = emit_layer(tree, opts, &mut out)?;
    out.flush().map_err(Error::Write)?;
    let (inner, diff_id, size) = out.finish();
    Ok((
        inner,
        LayerSummary {
            diff_id,
            size,
            entries: count,
            omitted,
        },
    ))
}

/// What [`skeleton_layer`] tells of the layer it did not write.
#[derive(Debug, Clone, PartialEq)]
pub struct SkeletonSummary {
    /// The layer's skeleton: equal to a published layer's exactly when the bytes are equal.
    pub skeleton: Skeleton,
    /// Entries written (extended headers not counted).
    pub entries: u64,
    /// Entries the engine would skip (unencodable, logged and not written).
    pub omitted: Vec<Omitted>,
}

/// The [`Skeleton`] of the layer [`write_layer`] would write: headers are encoded and hashed,
/// bodies count by the digest the tree's content store took when they were read. Works on a
/// digest-only tree ([`layerproof_archive::ContentStore::digest_only`]); costs a few
/// megabytes of hashing where writing costs the whole layer.
pub fn skeleton_layer(tree: &Tree, opts: &LayerOptions<'_>) -> Result<SkeletonSummary, Error> {
    let mut out = SkeletonHasher::new();
    let (entries, omitted) = emit_layer(tree, opts, &mut out)?;
    Ok(SkeletonSummary {
        skeleton: out.finish(),
        entries,
        omitted,
    })
}

/// Compute the diff_id without keeping any output (a sink that only hashes).
pub fn hash_layer(tree: &Tree, opts: &LayerOptions<'_>) -> Result<LayerSummary, Error> {
    write_layer(tree, opts, io::sink()).map(|(_, s)| s)
}
