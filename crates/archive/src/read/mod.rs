//! A streaming tar reader with Go `archive/tar` reader semantics (spec §3 step 1).
//!
//! Docker unpacks `ADD` tarballs with Go's `archive/tar`, so *what an archive means* is whatever
//! Go's `Reader.Next` says it means. This module re-implements those rules (learned from Go 1.23+
//! `reader.go`, `strconv.go`, `format.go`, `common.go`) and produces normalised
//! [`Header`]s plus a [`Read`]er for each entry's data.
//!
//! # Why not the `tar` crate
//! The `tar` crate reads the common cases, but it differs from Go on exactly the edges this
//! project must reproduce: end-of-archive detection (Go: two zero blocks, a zero block followed
//! by a non-zero block is an error, EOF inside padding is a clean end), number parsing (Go's
//! trimming rules, base-256 overflow), checksum acceptance (signed *or* unsigned sums), PAX
//! record validation, PAX time parsing (negative fractions), GNU long names overriding PAX
//! paths, `'\0'` typeflag promotion, the precedence between PAX, GNU and sparse name fields,
//! header-only typeflags whose size field is ignored, STAR prefixes and Go's 1 MiB
//! special-file limit. Matching all of that through its API would need as much code as parsing
//! the 512-byte blocks ourselves, so the parser here is our own.
//!
//! # Rules (as Go applies them)
//! * **End of archive:** EOF before the first byte of a header → end. One zero block followed
//!   by EOF → end. Two zero blocks → end (anything after them is never read). A zero block
//!   followed by a non-zero block → invalid header. A partial block → unexpected EOF.
//!   EOF while skipping an entry's *padding* → a clean end; EOF inside entry *data* →
//!   unexpected EOF.
//! * **Checksum:** octal field (Go's trimming), compared with both the unsigned and the signed
//!   byte sum (the checksum field counted as spaces).
//! * **Numbers:** base-256 when the first byte has bit 7 set (two's complement, overflow is an
//!   error); otherwise octal after trimming leading/trailing spaces and NULs and cutting at
//!   the first remaining NUL. Any invalid numeric field makes the header invalid — including
//!   devmajor/devminor of any non-V7 header.
//! * **Formats:** USTAR prefix (155 bytes) and STAR prefix (131 bytes, plus atime/ctime) are
//!   joined as `prefix + "/" + name`. GNU atime/ctime are parsed leniently; if they do not
//!   parse, the field is read as a USTAR prefix when it is ASCII (pre-Go-1.8 writer bug).
//! * **Meta entries:** `x` records apply to the next entry only; a later `x` replaces an earlier
//!   one. `L`/`K` (NUL-trimmed) override the name/link **after** PAX `path`/`linkpath`. A `g`
//!   header is **returned as an entry** with typeflag `'g'` (Go does so; Docker skips it);
//!   it drops pending `x`/`L`/`K` state. PAX and long-name bodies are limited to 1 MiB (Go's
//!   `maxSpecialFileSize`, `ErrFieldTooLong`).
//! * **PAX records:** `"%d %s=%s\n"`, validated like Go (`ErrHeader` on a bad length, missing
//!   `=`, empty key, NUL in a key, NUL in a path/linkpath/uname/gname value). Empty values are
//!   kept in [`Header::pax_records`] but do not override header fields. `uid`, `gid`, `size`
//!   parse as decimal `int64`; `mtime`/`atime`/`ctime` as Go's `parsePAXTime`.
//! * **Typeflag `'\0'`** becomes `'5'` if the (final) name ends in `/`, else `'0'`.
//! * **Header-only types** (`1`–`6`) have no data, whatever their size field says.
//! * **Sparse:** PAX GNU sparse 0.0, 0.1 and 1.0 and old GNU `'S'` headers are expanded (holes
//!   read as zeros). `'S'` keeps its typeflag (Docker refuses it). Sparse maps are validated
//!   like Go; a data section that is shorter or longer than the map says fails when the body
//!   is read (Go's `errMissData` / `errUnrefData`).
//! * **Errors are sticky:** after an error, every later call returns the same error.
//!
//! # Deviations from Go
//! * A `g` header whose records contain a malformed `uid`/`size`/time value: Go applies the
//!   records in random map order and stops at the first bad one, so whether a `path` record
//!   renames the returned `g` header is random; here `path` always applies.
//! * [`Header::formats`] records every encoding seen in the entry's blocks (see
//!   [`crate::tar::Formats`]), not Go's single best-guess `Format`.
//! * `atime`/`ctime` are `None` where Go has the zero `time.Time`; the `g` header's `mtime` is
//!   the Unix epoch where Go has the zero `time.Time`.
//! * Go's optional `GODEBUG=tarinsecurepath=0` check is not implemented (Docker never sets it).
//! * [`Options`] adds limits Go does not have (entry count, path length); their defaults never
//!   trigger before Go's own limits do, except `max_entries` which is off by default.

use std::fmt;
use std::io::{self, BufReader, Read};

use crate::compression::{self, DecompressOptions, LimitExceeded};
use crate::skeleton::{Observer, Unobserved};
use crate::tar::pax::{self, Records};
use crate::tar::{BLOCK, Formats, Header, MAX_SPECIAL_FILE_SIZE, field::cstr, typeflag};

mod block;
mod sparse;
mod stream;

use sparse::Sparse;
use stream::Source;

/// Go's `maxSparseFileEntries`.
pub const GO_MAX_SPARSE_ENTRIES: usize = 1 << 20;

/// Read buffer in front of the source.
const READ_BUF: usize = 256 * 1024;

/// Limits for [`Reader`]. The defaults equal Go's own limits where Go has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Largest PAX `x`/`g` header body, in bytes. Default: Go's 1 MiB.
    pub max_pax_size: u64,
    /// Largest GNU `L`/`K` long name or link body, in bytes. Default: Go's 1 MiB.
    pub max_gnu_long_name: u64,
    /// Longest entry name or link target after normalisation, in bytes. Default: 1 MiB
    /// (already implied by Go's special-file limit).
    pub max_path_len: usize,
    /// Most entries (including `g` headers) to return; `None` for no limit (the default, as Go).
    pub max_entries: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_pax_size: MAX_SPECIAL_FILE_SIZE,
            max_gnu_long_name: MAX_SPECIAL_FILE_SIZE,
            max_path_len: 1 << 20,
            max_entries: None,
        }
    }
}

/// What went wrong while reading an archive.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// Go's `archive/tar: invalid tar header` (`ErrHeader`); the text says which rule failed.
    #[error("invalid tar header: {0}")]
    InvalidHeader(&'static str),
    /// Go's `io.ErrUnexpectedEOF`: the stream ends inside a header or an entry's data.
    #[error("unexpected end of stream: the archive is truncated")]
    UnexpectedEof,
    /// Go's `ErrFieldTooLong`: a PAX header or GNU long name/link is larger than the limit.
    #[error(
        "{what} is larger than the {option} limit of {limit} bytes (Go's archive/tar, and \
         so Docker, refuses more than 1048576; raise it with --{option})"
    )]
    FieldTooLong {
        /// Which kind of special entry.
        what: &'static str,
        /// The limit in force, in bytes.
        limit: u64,
        /// The limit's name (kebab case), also the `layerproof` flag that sets it.
        option: &'static str,
    },
    /// Go's `errSparseTooLong`.
    #[error("sparse map too long (more than 1 MiB or 1048576 entries, Go's limit)")]
    SparseTooLong,
    /// Go's `errMissData`: the sparse map references more data than the entry holds.
    #[error("sparse file references non-existent data")]
    SparseMissingData,
    /// Go's `errUnrefData`: the entry holds more data than the sparse map references.
    #[error("sparse file contains unreferenced data")]
    SparseUnreferencedData,
    /// A limit of ours (not Go's) was exceeded.
    #[error("{what} ({actual}) exceeds the {option} limit of {limit} (raise it with --{option})")]
    Limit {
        /// What was counted.
        what: &'static str,
        /// The value found.
        actual: u64,
        /// The limit in force.
        limit: u64,
        /// The limit's name (kebab case), also the `layerproof` flag that sets it.
        option: &'static str,
    },
    /// The decompressor's output limit was reached.
    #[error("{0}")]
    DecompressionLimit(LimitExceeded),
    /// Reading the underlying stream failed (including decompression errors).
    #[error("{message}")]
    Io {
        /// The I/O error kind.
        kind: io::ErrorKind,
        /// The error's message (for decoders it names the format).
        message: String,
    },
}

impl ErrorKind {
    fn from_io(e: &io::Error) -> ErrorKind {
        if let Some(limit) = LimitExceeded::find(e) {
            return ErrorKind::DecompressionLimit(limit);
        }
        ErrorKind::Io {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// A read error, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    /// 0-based index of the entry being read (entries already returned, `g` headers included).
    pub index: u64,
    /// The entry's name (lossy UTF-8), once its header has been parsed.
    pub name: Option<String>,
    /// Byte offset in the decompressed stream: the header block being parsed, or the read
    /// position inside the entry's data.
    pub offset: u64,
    /// What went wrong (already part of this error's message, so not reported as its source).
    pub kind: ErrorKind,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tar entry #{}", self.index)?;
        if let Some(name) = &self.name {
            write!(f, " {name:?}")?;
        }
        write!(f, " at byte offset {}: {}", self.offset, self.kind)
    }
}

impl Error {
    /// The [`Error`] inside an [`io::Error`] returned by an entry body's `read`.
    pub fn from_io(err: &io::Error) -> Option<&Error> {
        err.get_ref()?.downcast_ref::<Error>()
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match &e.kind {
            ErrorKind::UnexpectedEof => io::ErrorKind::UnexpectedEof,
            ErrorKind::Io { kind, .. } => *kind,
            ErrorKind::DecompressionLimit(_) | ErrorKind::Limit { .. } => io::ErrorKind::Other,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

type Result<T, E = ErrorKind> = std::result::Result<T, E>;

// ---------------------------------------------------------------------------------------------
// The reader
// ---------------------------------------------------------------------------------------------
/// A streaming tar reader with Go `archive/tar` semantics.
///
/// ```
/// use layerproof_archive::read::Reader;
/// # fn demo(tar_bytes: &[u8]) -> Result<(), layerproof_archive::read::Error> {
/// let mut reader = Reader::new(tar_bytes);
/// while let Some(header) = reader.next_header()? {
///     let mut data = Vec::new();
///     std::io::Read::read_to_end(&mut reader.body(), &mut data).map_err(|e| {
///         layerproof_archive::read::Error::from_io(&e).cloned().expect("reader error")
///     })?;
///     println!("{} ({} bytes)", header.display_name(), data.len());
/// }
/// # Ok(()) }
/// ```
///
/// An [`Observer`] ([`Reader::observe`]) is told every byte outside file bodies and every
/// body: the [`crate::skeleton`] of the stream, or its shape.
pub struct Reader<R, O = Unobserved> {
    src: Source<R, O>,
    options: Options,
    /// Bytes of the current entry's data section not yet consumed.
    physical: u64,
    /// Padding after the current entry's data section.
    pad: u64,
    sparse: Option<Sparse>,
    /// Sticky error.
    err: Option<Error>,
    /// The end was reached.
    done: bool,
    /// Entries returned so far.
    returned: u64,
    /// Context for errors.
    ctx_name: Option<String>,
    ctx_offset: u64,
    /// The current entry's data is a file body (counted in the skeleton by digest).
    split_len: Option<u64>,
    /// The skeleton lost track (a body was not given by digest, or tracking began late).
    skeleton_broken: bool,
}

impl<R, O> fmt::Debug for Reader<R, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("position", &self.src.pos)
            .field("returned", &self.returned)
            .field("physical", &self.physical)
            .field("done", &self.done)
            .field("err", &self.err)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Reader<R> {
    /// A reader with default [`Options`].
    pub fn new(source: R) -> Self {
        Self::with_options(source, Options::default())
    }

    /// A reader with the given limits.
    pub fn with_options(source: R, options: Options) -> Self {
        Self::with_capacity(source, options, READ_BUF)
    }

    /// A reader with the given limits that reads `capacity` bytes at a time (at least one
    /// block).
    pub fn with_capacity(source: R, options: Options, capacity: usize) -> Self {
        Reader {
            src: Source {
                r: BufReader::with_capacity(capacity.max(BLOCK), source),
                pos: 0,
                tap: None,
                raw_pass: true,
                seek: None,
            },
            options,
            physical: 0,
            pad: 0,
            sparse: None,
            err: None,
            done: false,
            returned: 0,
            ctx_name: None,
            ctx_offset: 0,
            split_len: None,
            skeleton_broken: false,
        }
    }
}

impl<R: Read, O: Observer> Reader<R, O> {
    /// Bytes consumed from the (decompressed) source so far.
    pub fn position(&self) -> u64 {
        self.src.pos
    }

    /// Number of entries returned so far (`g` headers included).
    pub fn entries_returned(&self) -> u64 {
        self.returned
    }

    /// Advance to the next entry, skipping whatever is left of the current one, as Go's
    /// `Reader.Next`. `Ok(None)` at the end of the archive (and on every later call).
    pub fn next_header(&mut self) -> Result<Option<Header>, Error> {
        if let Some(e) = &self.err {
            return Err(e.clone());
        }
        if self.done {
            return Ok(None);
        }
        self.ctx_name = None;
        if let Some(len) = self.split_len.take() {
            if O::SKIPS_BODIES && self.physical == len {
                // a shape skips bodies unread and notes where they were
                self.src.raw_pass = false;
                let skipped = self.src.skip(len);
                self.src.raw_pass = true;
                let skipped = skipped.map_err(|kind| self.fail(kind, self.returned))?;
                self.physical -= skipped;
                match &mut self.src.tap {
                    Some(tap) if skipped == len => tap.body(len, &[0; 32]),
                    _ => self.skeleton_broken = true,
                }
            } else {
                // a body left without its digest: the skeleton no longer describes the stream
                self.skeleton_broken = true;
            }
        }
        self.src.raw_pass = true;
        match self.next_inner() {
            Ok(Some(h)) => {
                if self.src.tap.is_some()
                    && matches!(h.typeflag, typeflag::REG | typeflag::CONT)
                    && self.sparse.is_none()
                    && self.physical > 0
                {
                    self.split_len = Some(self.physical);
                }
                self.returned += 1;
                self.ctx_name = Some(h.display_name());
                Ok(Some(h))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(kind) => Err(self.fail(kind, self.returned)),
        }
    }

    /// The current entry's data: the expanded data for sparse entries, nothing for header-only
    /// types and `g` headers. Unread data is skipped by the next [`Reader::next_header`].
    ///
    /// Errors are [`io::Error`]s wrapping an [`Error`] (see [`Error::from_io`]) and are sticky.
    pub fn body(&mut self) -> Body<'_, R, O> {
        Body { reader: self }
    }

    /// Bytes of the current entry's data section still in the stream (for sparse entries,
    /// the packed data, not the expanded size).
    pub fn physical_remaining(&self) -> u64 {
        self.physical
    }

    fn fail(&mut self, kind: ErrorKind, index: u64) -> Error {
        let e = Error {
            index,
            name: self.ctx_name.clone(),
            offset: self.ctx_offset,
            kind,
        };
        self.err = Some(e.clone());
        e
    }

    fn next_inner(&mut self) -> Result<Option<Header>> {
        if let Some(max) = self.options.max_entries
            && self.returned >= max
        {
            return Err(ErrorKind::Limit {
                what: "number of entries",
                actual: self.returned + 1,
                limit: max,
                option: "max-entries",
            });
        }
        let mut pax: Option<Records> = None;
        let mut long_name: Vec<u8> = Vec::new();
        let mut long_link: Vec<u8> = Vec::new();
        let mut formats = Formats::default();
        let mut first_offset: Option<u64> = None;
        let mut blk = [0u8; BLOCK];
        loop {
            let Some(offset) = self.next_block(&mut blk)? else {
                return Ok(None);
            };
            let offset = *first_offset.get_or_insert(offset);
            let (mut h, format) = block::parse_block(&blk)?;
            self.ctx_name = Some(h.display_name());
            self.set_data_section(h.typeflag, h.size)?;
            formats.add(h.formats);

            match h.typeflag {
                typeflag::XHEADER | typeflag::XGLOBAL => {
                    formats.pax = true;
                    let data = self.read_special(
                        self.options.max_pax_size,
                        "PAX extended header",
                        "max-pax-size",
                    )?;
                    let records = pax::parse_pax_records(&data)
                        .ok_or(ErrorKind::InvalidHeader("malformed PAX record"))?;
                    if h.typeflag == typeflag::XGLOBAL {
                        return self
                            .global_header(h.name, records, formats, offset)
                            .map(Some);
                    }
                    pax = Some(records);
                }
                typeflag::GNU_LONGNAME | typeflag::GNU_LONGLINK => {
                    formats.gnu = true;
                    let data = self.read_special(
                        self.options.max_gnu_long_name,
                        "GNU long name or link",
                        "max-long-name-size",
                    )?;
                    let value = cstr(&data).to_vec();
                    if h.typeflag == typeflag::GNU_LONGNAME {
                        long_name = value;
                    } else {
                        long_link = value;
                    }
                }
                _ => {
                    h.offset = offset;
                    h.apply(pax, long_name, long_link)
                        .map_err(ErrorKind::InvalidHeader)?;
                    self.ctx_name = Some(h.display_name());
                    self.set_data_section(h.typeflag, h.size)?;
                    self.handle_sparse(&mut h, &blk, format, &mut formats)?;
                    h.formats = formats;
                    self.ctx_name = Some(h.display_name());
                    self.check_path_limits(&h)?;
                    return Ok(Some(h));
                }
            }
        }
    }

    /// A `g` header, returned as an entry (Go does so): its name is the `path` record's if
    /// that is not empty.
    fn global_header(
        &self,
        mut name: Vec<u8>,
        records: Records,
        formats: Formats,
        offset: u64,
    ) -> Result<Header> {
        if let Some(p) = records.get(pax::PATH).filter(|p| !p.is_empty()) {
            name = p.clone();
        }
        let h = Header {
            name,
            typeflag: typeflag::XGLOBAL,
            pax_records: records,
            formats,
            offset,
            ..Header::default()
        };
        self.check_path_limits(&h)?;
        Ok(h)
    }

    fn check_path_limits(&self, h: &Header) -> Result<()> {
        let max = self.options.max_path_len;
        for (what, v) in [
            ("entry name length", &h.name),
            ("link target length", &h.linkname),
        ] {
            if v.len() > max {
                return Err(ErrorKind::Limit {
                    what,
                    actual: v.len() as u64,
                    limit: max as u64,
                    option: "max-path-len",
                });
            }
        }
        Ok(())
    }

    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.err {
            return Err(e.clone().into());
        }
        self.ctx_offset = self.src.pos;
        let result = if self.sparse.is_some() {
            self.read_sparse(buf)
        } else {
            self.read_physical(buf).map(|n| (n, None))
        };
        let index = self.returned.saturating_sub(1);
        match result {
            Ok((n, None)) => Ok(n),
            Ok((n, Some(kind))) => {
                // Deliver the bytes now, the error on the next call.
                self.ctx_offset = self.src.pos;
                let e = self.fail(kind, index);
                if n > 0 { Ok(n) } else { Err(e.into()) }
            }
            Err(kind) => {
                self.ctx_offset = self.src.pos;
                Err(self.fail(kind, index).into())
            }
        }
    }
}

/// An entry's data; see [`Reader::body`].
pub struct Body<'a, R, O = Unobserved> {
    reader: &'a mut Reader<R, O>,
}

impl<R, O> fmt::Debug for Body<'_, R, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("reader", &self.reader)
            .finish()
    }
}

impl<R: Read, O: Observer> Read for Body<'_, R, O> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read_body(buf)
    }
}

/// Whether the first header of an (uncompressed) stream parses: the tar half of Docker's
/// `IsArchivePath` (`tar.NewReader(r).Next()` returns no error; an empty archive is not one).
pub fn first_header_parses<R: Read>(source: R) -> bool {
    matches!(Reader::new(source).next_header(), Ok(Some(_)))
}

/// Docker's `IsArchivePath` on an open file: detect and decompress, then check that the first
/// tar header parses. `false` on any error.
pub fn is_archive<R: Read + Send>(source: R, options: &DecompressOptions) -> bool {
    match compression::open(source, options) {
        Ok(d) => first_header_parses(d),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests;
