//! One pass over a layer tar: every entry's metadata and content digest, the free parameters a
//! rebuild may take from it, and the diff_id of the whole stream.
//!
//! Both sides of a comparison go through this scanner — the published layer and, when they
//! differ, our own — so that every difference [`crate::explain`] reports is measured with one
//! ruler. Hard links are resolved to their target's content, so "same files" does not depend
//! on which path of a hard-link group a writer chose to store in full.

use std::collections::BTreeMap;
use std::io::{self, Read};

use layerproof_archive::hashing::{Hasher, HashingReader};
use layerproof_archive::skeleton::{Observer, Shape, ShapeRecorder, Skeleton, SkeletonHasher};
use layerproof_archive::tar::{Header, typeflag};
use layerproof_archive::{Digest, read};
use serde::Serialize;

use crate::infer::Published;
pub use crate::paths::{display_path, normalise};

/// The kind of a layer entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// Regular file (or a hard link to one: see [`ScannedEntry::hardlink_to`]).
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// Character device (0:0 is an overlay whiteout on disk).
    Char,
    /// Block device.
    Block,
    /// FIFO.
    Fifo,
    /// Anything else (the typeflag is kept in the entry's [`Header::typeflag`]).
    Other,
}

impl EntryKind {
    fn of(flag: u8) -> EntryKind {
        match flag {
            typeflag::REG | typeflag::REGA | typeflag::CONT | typeflag::LINK => EntryKind::File,
            typeflag::DIR => EntryKind::Dir,
            typeflag::SYMLINK => EntryKind::Symlink,
            typeflag::CHAR => EntryKind::Char,
            typeflag::BLOCK => EntryKind::Block,
            typeflag::FIFO => EntryKind::Fifo,
            _ => EntryKind::Other,
        }
    }

    /// Lower-case name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "directory",
            EntryKind::Symlink => "symlink",
            EntryKind::Char => "character device",
            EntryKind::Block => "block device",
            EntryKind::Fifo => "fifo",
            EntryKind::Other => "other",
        }
    }
}

/// One entry of a layer, as the tar header and body say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedEntry {
    /// Position in the archive (0-based, extended headers not counted).
    pub index: u64,
    /// The header as the reader presents it (raw typeflag, the full mode field, owner, names,
    /// mtime, link target, device numbers, PAX records).
    pub header: Header,
    /// Path without a trailing `/` (and without a leading `./` or `/`).
    pub path: Vec<u8>,
    /// The kind, with hard links counted as files.
    pub kind: EntryKind,
    /// Set for a hard link: the path (normalised) it links to.
    pub hardlink_to: Option<Vec<u8>>,
    /// Content length and sha256 (regular files; for hard links, the target's once resolved).
    pub content: Option<(u64, [u8; 32])>,
    /// Header encoding: `ustar`, `pax`, `gnu`, `v7` (first one that applies, PAX winning).
    pub format: &'static str,
}

impl ScannedEntry {
    /// The path for messages: `/`-rooted, lossy UTF-8.
    pub fn display_path(&self) -> String {
        display_path(&self.path)
    }

    /// Permission bits (`07777`).
    pub fn perm(&self) -> u32 {
        self.header.perm()
    }

    /// The `SCHILY.xattr.*` records, name → value.
    pub fn xattrs(&self) -> BTreeMap<&[u8], &[u8]> {
        self.header.xattrs().collect()
    }
}

/// Everything one pass over a layer tells.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Entries in archive order.
    pub entries: Vec<ScannedEntry>,
    /// Path → index into `entries` (the last entry of a path wins, as on extraction).
    pub by_path: BTreeMap<Vec<u8>, usize>,
    /// The free parameters a rebuild may take from this layer.
    pub published: Published,
    /// The digest of the whole uncompressed stream (`None` for a [`scan_shape`]).
    pub diff_id: Option<Digest>,
    /// Length of the uncompressed stream.
    pub size: u64,
    /// The stream's skeleton: a layer with an equal skeleton is byte-identical (see
    /// [`layerproof_archive::skeleton`]).
    pub skeleton: Option<Skeleton>,
    /// Whether bodies and the stream were hashed: false for a [`scan_shape`], whose entries
    /// have no content digests and which has no `diff_id`.
    pub digests: bool,
}

/// Why a scan failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The tar stream is malformed.
    #[error(transparent)]
    Tar(#[from] read::Error),
    /// Reading failed (or the blob did not verify).
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Scan an uncompressed layer tar to its end (the diff_id covers every byte, trailing ones too).
pub fn scan<R: Read>(layer: R, options: read::Options) -> Result<Scan, ScanError> {
    let mut tee = HashingReader::new(layer);
    let reader = read::Reader::with_options(&mut tee, options).observe(SkeletonHasher::new());
    let (mut out, skeleton, _) = walk(reader)?;
    out.skeleton = skeleton.map(SkeletonHasher::finish);
    io::copy(&mut tee, &mut io::sink())?;
    let (diff_id, size) = tee.finish();
    out.diff_id = Some(diff_id);
    out.size = size;
    out.digests = true;
    Ok(out)
}

/// A layer's headers and the place of its bodies, read without hashing anything
/// ([`scan_shape`]).
#[derive(Debug, Clone)]
pub struct ShapeScan {
    /// The entries, without content digests ([`Scan::digests`] is false, no `diff_id`).
    pub scan: Scan,
    /// Every byte outside file bodies, and where each body sits.
    pub shape: Shape,
    /// For each body of `shape`, the index into `scan.entries` of the entry it belongs to.
    pub body_entries: Vec<usize>,
}

/// Scan an uncompressed layer tar for its headers only: bodies are skipped by seeking and
/// nothing is hashed. `Ok(None)` when the bytes outside bodies exceed `limit` (they are kept).
pub fn scan_shape<R: Read + io::Seek>(
    layer: R,
    options: read::Options,
    limit: usize,
) -> Result<Option<ShapeScan>, ScanError> {
    // small bodies are skipped inside the buffer, larger ones by seeking; the read after a
    // seek only needs the body's last byte and the next header: 4 KiB of it, not 64 (minbase's
    // headers: ≈ 31 instead of ≈ 40 ms, with the source decompressing on the other core)
    let layer = ShortAfterSeek {
        inner: layer,
        seeked: false,
    };
    let mut reader =
        read::Reader::with_capacity(layer, options, 64 << 10).observe(ShapeRecorder::new(limit));
    reader.skip_by_seeking();
    let (mut scan, recorder, body_entries) = walk(reader)?;
    let Some(shape) = recorder.and_then(ShapeRecorder::finish) else {
        return Ok(None);
    };
    scan.size = shape.size();
    Ok(Some(ShapeScan {
        scan,
        shape,
        body_entries,
    }))
}

/// Bytes the first read after a seek asks for ([`ShortAfterSeek`]).
const AFTER_SEEK: usize = 4 << 10;

/// A seekable stream whose first read after a seek asks for at most [`AFTER_SEEK`] bytes: the
/// shape scan seeks to a body's last byte, then needs that byte and the next header, not a
/// whole buffer of the next body (which it would mostly seek past again).
struct ShortAfterSeek<R> {
    inner: R,
    seeked: bool,
}

impl<R: Read> Read for ShortAfterSeek<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = if std::mem::take(&mut self.seeked) {
            buf.len().min(AFTER_SEEK)
        } else {
            buf.len()
        };
        self.inner.read(&mut buf[..n])
    }
}

impl<R: io::Seek> io::Seek for ShortAfterSeek<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.seeked = true;
        self.inner.seek(pos)
    }
}

/// One pass over the entries of an observed reader: bodies are hashed and given to the
/// observer, or, when it skips them, left unread and noted (for each body the observer is told
/// of, the index of its entry). Returns the observer unless it lost track.
fn walk<R: Read, O: Observer>(
    mut reader: read::Reader<R, O>,
) -> Result<(Scan, Option<O>, Vec<usize>), ScanError> {
    let mut out = Scan::default();
    let mut body_entries = Vec::new();
    let mut index = 0u64;
    while let Some(h) = reader.next_header()? {
        if h.typeflag == typeflag::XGLOBAL {
            continue;
        }
        let file = matches!(h.typeflag, typeflag::REG | typeflag::REGA | typeflag::CONT);
        let content = if O::SKIPS_BODIES {
            if reader.splits_body() {
                body_entries.push(out.entries.len());
            }
            None
        } else if file {
            let mut hasher = Hasher::new();
            io::copy(&mut reader.body(), &mut hasher).map_err(|e| {
                read::Error::from_io(&e)
                    .cloned()
                    .map_or_else(|| ScanError::Io(e), ScanError::Tar)
            })?;
            let (digest, n) = hasher.finish();
            let digest = *digest.as_bytes();
            reader.body_digest(&digest);
            Some((n, digest))
        } else {
            None
        };
        out.published.note_header(&h);
        let entry = entry_of(index, h, content);
        out.by_path.insert(entry.path.clone(), out.entries.len());
        out.entries.push(entry);
        index += 1;
    }
    let observer = reader.finish_observer()?;
    resolve_hardlinks(&mut out);
    Ok((out, observer, body_entries))
}

fn entry_of(index: u64, h: Header, content: Option<(u64, [u8; 32])>) -> ScannedEntry {
    let format = if h.formats.pax {
        "pax"
    } else if h.formats.gnu {
        "gnu"
    } else if h.formats.ustar {
        "ustar"
    } else {
        "v7"
    };
    ScannedEntry {
        index,
        path: normalise(&h.name),
        kind: EntryKind::of(h.typeflag),
        hardlink_to: (h.typeflag == typeflag::LINK).then(|| normalise(&h.linkname)),
        content,
        format,
        header: h,
    }
}

/// Give every hard link its target's content (following chains, bounded).
fn resolve_hardlinks(scan: &mut Scan) {
    for i in 0..scan.entries.len() {
        let mut target = scan.entries[i].hardlink_to.clone();
        let mut hops = 0;
        while let Some(t) = target {
            hops += 1;
            let Some(&j) = scan.by_path.get(&t) else {
                break;
            };
            if hops > 64 || j == i {
                break;
            }
            let e = &scan.entries[j];
            if e.hardlink_to.is_none() {
                scan.entries[i].content = e.content;
                break;
            }
            target = e.hardlink_to.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar of regular files with bodies of these sizes.
    fn layer_of(sizes: &[usize]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (i, &n) in sizes.iter().enumerate() {
            let mut h = tar::Header::new_ustar();
            h.set_mode(0o644);
            h.set_size(n as u64);
            b.append_data(&mut h, format!("f{i}"), &vec![i as u8; n][..])
                .unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn shape_by_seeking_and_short_reads_is_the_shape_by_reading() {
        // bodies around a block, the 4 KiB read after a seek and the 64 KiB buffer
        let sizes = [
            0, 1, 511, 512, 513, 3, 4095, 4096, 4097, 10, 5000, 65535, 65536, 65537, 2, 70000,
            200_000, 1, 1,
        ];
        let layer = layer_of(&sizes);
        let by_seeking = scan_shape(io::Cursor::new(&layer), Default::default(), 1 << 20)
            .unwrap()
            .unwrap();
        let reader = read::Reader::new(&layer[..]).observe(ShapeRecorder::new(1 << 20));
        let (scan, recorder, body_entries) = walk(reader).unwrap();
        let shape = recorder.and_then(ShapeRecorder::finish).unwrap();
        assert_eq!(by_seeking.shape, shape);
        assert_eq!(by_seeking.body_entries, body_entries);
        assert_eq!(by_seeking.scan.entries.len(), scan.entries.len());
        // a layer cut inside a body it seeks past is an error, as when reading
        let layer = layer_of(&[10, 200_000]);
        let cut = &layer[..layer.len() - 1024 - 50_000];
        assert!(scan_shape(io::Cursor::new(cut), Default::default(), 1 << 20).is_err());
    }

    #[test]
    fn normalise_strips_dot_slash_and_trailing_slashes() {
        assert_eq!(normalise(b"./a/b/"), b"a/b");
        assert_eq!(normalise(b"/a"), b"a");
        assert_eq!(normalise(b"./"), b"");
        assert_eq!(normalise(b"a//"), b"a");
    }
}
