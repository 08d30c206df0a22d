//! What `ADD <file> /` does with one local source file (spec §2).
//!
//! Docker first asks `IsArchivePath`: decompress by magic, then "does the first tar header
//! parse?" (`tr.Next()` without error — so an empty stream, or a tar that is nothing but its
//! end-of-archive blocks, is *not* an archive). A non-archive is copied as a plain file named
//! after the source. An archive is unpacked entry by entry; a stream that breaks after the first
//! header fails the build.

use std::io::{self, Read};

use crate::ahead::{self, ReadAhead};
use crate::compression::{self, Compression, DecompressOptions, LimitExceeded};
use crate::read;
use crate::tar::{Formats, Header};
use crate::unpack::{self, Refusal, RefusalKind, Unpacked, Unpacker};

/// Everything that shapes how a source is read and unpacked.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Which compressions are recognised, and the decompression bound.
    pub decompress: DecompressOptions,
    /// Tar reader limits.
    pub read: read::Options,
    /// ADD unpack rules.
    pub unpack: unpack::Options,
}

/// The archive side of an `ADD`.
#[derive(Debug)]
pub struct Archive {
    /// The compression Docker detected.
    pub compression: Compression,
    /// Union of the header formats seen across entries.
    pub formats: Formats,
    /// Decompressed tar bytes consumed.
    pub tar_bytes: u64,
    /// The tree, or the reason Docker would fail the build.
    pub outcome: Result<Unpacked, Refusal>,
}

/// What `ADD` does with the source.
#[derive(Debug)]
pub enum Added {
    /// It is an archive and was unpacked (or refused).
    Archive(Box<Archive>),
    /// It is not an archive: Docker copies the file itself to `/<basename>`.
    PlainFile {
        /// The compression the magic bytes suggested (the copy is verbatim regardless).
        compression: Compression,
        /// Why the first header did not parse.
        reason: String,
    },
}

/// Failures of our own input (not Docker refusals).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the source failed before anything could be decided.
    #[error("reading the source: {0}")]
    Io(#[from] io::Error),
    /// A configured limit was exceeded. Docker itself might accept the archive: raise the limit
    /// to go on.
    #[error("{0}")]
    Limit(LimitError),
    /// Storing a file body failed (spill file I/O).
    #[error(transparent)]
    Unpack(unpack::Error),
}

/// A limit of ours stopped the `ADD`: which one, its value, and where.
///
/// The message names the limit, its value and the command-line flag that raises it, e.g.
/// `entry 3 "a/b": the name has 1025 components: over the max-depth limit of 1024 (raise it
/// with --max-depth)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LimitError {
    /// The limit's name, which is also the `layerproof` flag that sets it: `max-entries`,
    /// `max-depth`, `max-path-len`, `max-meta-bytes`, `max-data-bytes`, `max-lookups`,
    /// `max-decompressed-bytes`, `max-pax-size`, `max-long-name-size`.
    pub limit: &'static str,
    /// The limit's value.
    pub value: u64,
    /// The full message (entry, measured value, limit, flag).
    pub message: String,
}

impl LimitError {
    fn decompressed(e: LimitExceeded) -> LimitError {
        LimitError {
            limit: "max-decompressed-bytes",
            value: e.limit,
            message: e.to_string(),
        }
    }

    /// The limit inside a reader error, if that is what stopped the reader. A PAX or GNU
    /// long-name body over Go's own 1 MiB limit is not one: Docker refuses those too.
    fn from_read(e: &read::Error) -> Option<LimitError> {
        match &e.kind {
            read::ErrorKind::DecompressionLimit(l) => Some(LimitError::decompressed(*l)),
            read::ErrorKind::Limit { limit, option, .. } => Some(LimitError {
                limit: option,
                value: *limit,
                message: e.to_string(),
            }),
            read::ErrorKind::FieldTooLong { limit, option, .. }
                if *limit < crate::tar::MAX_SPECIAL_FILE_SIZE =>
            {
                Some(LimitError {
                    limit: option,
                    value: *limit,
                    message: e.to_string(),
                })
            }
            _ => None,
        }
    }

    /// The unpack model's limits come as refusals of kind [`RefusalKind::Limit`].
    fn from_refusal(r: &Refusal) -> Option<LimitError> {
        let RefusalKind::Limit { limit, value } = r.kind else {
            return None;
        };
        Some(LimitError {
            limit,
            value,
            message: match r.entry {
                Some(i) => format!("entry {i} {}: {}", quoted(&r.name), r.message),
                None => r.message.clone(),
            },
        })
    }

    /// The limit behind an entry body's read error, if any.
    fn from_io(e: &io::Error) -> Option<LimitError> {
        if let Some(l) = LimitExceeded::find(e) {
            return Some(LimitError::decompressed(l));
        }
        read::Error::from_io(e).and_then(LimitError::from_read)
    }
}

/// Sees each entry's body as the unpacker reads it, and what the unpacker stored ([`add_tapped`]).
pub trait Tap {
    /// Entry `index` (counted as in refusals) with this header is about to be applied.
    fn entry(&mut self, index: u64, header: &Header);
    /// Bytes of its data, as the unpacker reads them (expanded, for sparse entries).
    fn data(&mut self, bytes: &[u8]);
    /// The entry was applied; `stored` is the [`crate::ContentRef::id`] and length of the body
    /// it added to the content store, if any.
    fn applied(&mut self, stored: Option<(u32, u64)>);
}

/// A tap that sees nothing ([`add`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTap;

impl Tap for NoTap {
    fn entry(&mut self, _: u64, _: &Header) {}
    fn data(&mut self, _: &[u8]) {}
    fn applied(&mut self, _: Option<(u32, u64)>) {}
}

/// A body reader that shows what passes to a [`Tap`].
struct Tee<'a, B> {
    body: B,
    tap: &'a mut dyn Tap,
}

impl<B: Read> Read for Tee<'_, B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.body.read(buf)?;
        self.tap.data(&buf[..n]);
        Ok(n)
    }
}

/// A source already being decompressed on a thread of its own ([`Started::spawn`]), for
/// [`add_started`].
///
/// A caller with other work to do before it can unpack (the verifier reads the published
/// layer's headers first) starts the source early, so that its decompression — the longest
/// part of unpacking a gzip rootfs — runs on the other core meanwhile.
#[derive(Debug)]
pub struct Started {
    ahead: ReadAhead,
    opened: compression::Opened,
}

impl Started {
    /// Open `source` as [`add`] does and start decompressing it on a thread of `scope`, at
    /// most `depth` chunks of [`ahead::CHUNK`] bytes ahead of the reader. Fails only as
    /// [`compression::open`] does. Dropping the result stops the thread.
    pub fn spawn<'scope, R: Read + Send + 'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        source: R,
        decompress: &DecompressOptions,
        depth: usize,
    ) -> io::Result<Started> {
        let decompressed = compression::open(source, decompress)?;
        let opened = decompressed.opened();
        Ok(Started {
            ahead: ReadAhead::spawn(scope, decompressed, depth),
            opened,
        })
    }

    /// Whether [`add_started`] with `decompress` reads what [`add`] with it reads: the stream
    /// was opened with options that decompress it the same way.
    pub fn fits(&self, decompress: &DecompressOptions) -> bool {
        self.opened.same_for(decompress)
    }
}

/// Run `ADD` on one source stream.
pub fn add<R: Read + Send>(source: R, opts: &Options) -> Result<Added, Error> {
    add_tapped(source, opts, &mut NoTap)
}

/// [`add`], showing every entry's body to `tap` as it is read: a caller can hash or compare
/// the bodies in one pass with the unpack, without the content store keeping them.
pub fn add_tapped<R: Read + Send>(
    source: R,
    opts: &Options,
    tap: &mut dyn Tap,
) -> Result<Added, Error> {
    // decompression runs a thread of its own, a few chunks ahead of the tar reader and the
    // unpack model: on a gzip rootfs the two halves cost about the same
    std::thread::scope(|scope| {
        let started = Started::spawn(scope, source, &opts.decompress, ahead::DEPTH)?;
        add_started(started, opts, tap)
    })
}

/// [`add_tapped`] on a source whose decompression has already started. `opts.decompress` is
/// not consulted: the caller checked [`Started::fits`].
pub fn add_started(started: Started, opts: &Options, tap: &mut dyn Tap) -> Result<Added, Error> {
    add_decompressed(started.ahead, started.opened.compression(), opts, tap)
}

/// [`add_tapped`] on the decompressed stream (`compression` is what was detected).
fn add_decompressed(
    decompressed: impl Read,
    compression: Compression,
    opts: &Options,
    tap: &mut dyn Tap,
) -> Result<Added, Error> {
    let mut reader = read::Reader::with_options(decompressed, opts.read.clone());
    let first = match reader.next_header() {
        Ok(Some(h)) => h,
        Ok(None) => {
            return Ok(Added::PlainFile {
                compression,
                reason: "the tar stream ends before its first header".into(),
            });
        }
        Err(e) => {
            if let Some(limit) = LimitError::from_read(&e) {
                return Err(Error::Limit(limit));
            }
            return Ok(Added::PlainFile {
                compression,
                reason: e.to_string(),
            });
        }
    };
    let mut unpacker = Unpacker::new(opts.unpack.clone());
    let mut formats = Formats::default();
    let mut header = first;
    let mut index = 0u64;
    let outcome = loop {
        merge_formats(&mut formats, &header.formats);
        tap.entry(index, &header);
        let stored_before = unpacker.tree().content().len();
        let applied = unpacker.apply(
            &header,
            &mut Tee {
                body: reader.body(),
                tap: &mut *tap,
            },
        );
        index += 1;
        match applied {
            Ok(()) => {
                // an entry stores at most one body, under the next id
                let content = unpacker.tree().content();
                let stored = u32::try_from(stored_before)
                    .ok()
                    .and_then(|id| Some((id, content.body_len(id)?)));
                tap.applied(stored);
            }
            Err(unpack::Error::Refused(r)) => match LimitError::from_refusal(&r) {
                Some(limit) => return Err(Error::Limit(limit)),
                None => break Err(r),
            },
            Err(unpack::Error::Content {
                source,
                entry,
                name,
            }) => {
                // A body that ends early or fails to decompress is a broken stream.
                if let crate::content::Error::Source(io) = &source
                    && let Some(limit) = LimitError::from_io(io)
                {
                    return Err(Error::Limit(limit));
                }
                if matches!(source, crate::content::Error::Spill(_)) {
                    return Err(Error::Unpack(unpack::Error::Content {
                        source,
                        entry,
                        name,
                    }));
                }
                break Err(Refusal {
                    entry: Some(entry),
                    name,
                    kind: RefusalKind::CorruptArchive,
                    message: source.to_string(),
                });
            }
        }
        match reader.next_header() {
            Ok(Some(h)) => header = h,
            Ok(None) => {
                let finished = unpacker.finish().map_err(|e| match e {
                    unpack::Error::Refused(r) => r,
                    other => Refusal {
                        entry: None,
                        name: String::new(),
                        kind: RefusalKind::CorruptArchive,
                        message: other.to_string(),
                    },
                });
                if let Err(r) = &finished
                    && let Some(limit) = LimitError::from_refusal(r)
                {
                    return Err(Error::Limit(limit));
                }
                break finished;
            }
            Err(e) => {
                if let Some(limit) = LimitError::from_read(&e) {
                    return Err(Error::Limit(limit));
                }
                break Err(Refusal {
                    entry: None,
                    name: String::new(),
                    kind: RefusalKind::CorruptArchive,
                    message: e.to_string(),
                });
            }
        }
    };
    Ok(Added::Archive(Box::new(Archive {
        compression,
        formats,
        tar_bytes: reader.position(),
        outcome,
    })))
}

/// A name, quoted, for a one-line message: names over 120 characters (a limit is often about
/// them) keep their start and end around an ellipsis and say how long they are.
fn quoted(name: &str) -> String {
    let n = name.chars().count();
    if n <= 120 {
        return format!("{name:?}");
    }
    let head: String = name.chars().take(60).collect();
    let tail: String = name.chars().skip(n - 40).collect();
    format!("{:?} ({} bytes)", format!("{head}…{tail}"), name.len())
}

fn merge_formats(into: &mut Formats, from: &Formats) {
    into.v7 |= from.v7;
    into.ustar |= from.ustar;
    into.pax |= from.pax;
    into.gnu |= from.gnu;
    into.star |= from.star;
}
