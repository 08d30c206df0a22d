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
//!   [`crate::header::Formats`]), not Go's single best-guess `Format`.
//! * `atime`/`ctime` are `None` where Go has the zero `time.Time`; the `g` header's `mtime` is
//!   the Unix epoch where Go has the zero `time.Time`.
//! * Go's optional `GODEBUG=tarinsecurepath=0` check is not implemented (Docker never sets it).
//! * [`Options`] adds limits Go does not have (entry count, path length); their defaults never
//!   trigger before Go's own limits do, except `max_entries` which is off by default.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use crate::compression::{self, DecompressOptions, LimitExceeded};
use crate::header::{Formats, Header, Timestamp, typeflag};
use crate::skeleton::{Shape, ShapeRecorder, Skeleton, SkeletonHasher};

const BLOCK: usize = 512;

/// Go's `maxSpecialFileSize`: the largest PAX header or GNU long name/link body (1 MiB).
pub const GO_MAX_SPECIAL_FILE_SIZE: u64 = 1 << 20;

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
            max_pax_size: GO_MAX_SPECIAL_FILE_SIZE,
            max_gnu_long_name: GO_MAX_SPECIAL_FILE_SIZE,
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
// Field parsing (strconv.go)
// ---------------------------------------------------------------------------------------------

/// Parse a header number field as Go's `parseNumeric`: base-256 if the top bit of the first
/// byte is set, otherwise octal ([`parse_octal`]). `None` where Go sets `ErrHeader`.
pub fn parse_numeric(field: &[u8]) -> Option<i64> {
    match field.first() {
        Some(&b0) if b0 & 0x80 != 0 => {
            let inv: u8 = if b0 & 0x40 != 0 { 0xff } else { 0 };
            let mut x: u64 = 0;
            for (i, &c) in field.iter().enumerate() {
                let mut c = c ^ inv;
                if i == 0 {
                    c &= 0x7f;
                }
                if x >> 56 > 0 {
                    return None;
                }
                x = (x << 8) | u64::from(c);
            }
            if x >> 63 > 0 {
                return None;
            }
            let v = x as i64;
            Some(if inv == 0xff { !v } else { v })
        }
        _ => parse_octal(field),
    }
}

/// Parse an octal header field as Go's `parseOctal`: trim leading and trailing spaces and NULs,
/// an empty field is 0, cut at the first remaining NUL, then every byte must be an octal digit
/// and the value must fit 64 bits (it is then reinterpreted as `i64`, as Go does).
pub fn parse_octal(field: &[u8]) -> Option<i64> {
    let trimmed = trim(field, |c| c == b' ' || c == 0);
    if trimmed.is_empty() {
        return Some(0);
    }
    let digits = cstr(trimmed);
    if digits.is_empty() {
        return None;
    }
    let mut x: u64 = 0;
    for &c in digits {
        if !(b'0'..=b'7').contains(&c) {
            return None;
        }
        x = x.checked_mul(8)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(x as i64)
}

fn trim(b: &[u8], pred: impl Fn(u8) -> bool) -> &[u8] {
    let start = b.iter().position(|&c| !pred(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !pred(c)).map_or(start, |i| i + 1);
    &b[start..end.max(start)]
}

/// Go's `parseString`: the bytes up to the first NUL (or all of them).
fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`: optional `+`/`-`, at least one ASCII digit, no other
/// characters, in range.
pub fn parse_decimal(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut x: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        x = x.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if x > 1u64 << 63 {
            None
        } else {
            Some((x as i64).wrapping_neg())
        }
    } else {
        i64::try_from(x).ok()
    }
}

/// Go's `time.Unix(sec, nsec)` normalisation for `|nsec| < 1e9`, with Go's wrapping arithmetic.
fn unix(sec: i64, nsec: i64) -> Timestamp {
    let (mut sec, mut nsec) = (sec, nsec);
    if !(0..1_000_000_000).contains(&nsec) {
        let n = nsec / 1_000_000_000;
        sec = sec.wrapping_add(n);
        nsec -= n * 1_000_000_000;
        if nsec < 0 {
            nsec += 1_000_000_000;
            sec = sec.wrapping_sub(1);
        }
    }
    Timestamp {
        sec,
        nsec: nsec as u32,
    }
}

/// Parse a PAX time value as Go's `parsePAXTime`: `SECONDS[.FRACTION]`, seconds a decimal
/// `int64` (sign allowed), the fraction digits only, right-padded or truncated to 9 digits, and
/// for a negative seconds string the fraction counts towards minus infinity
/// (`-1.5` = 1.5 s before the epoch).
pub fn parse_pax_time(s: &[u8]) -> Option<Timestamp> {
    let (ss, sn) = match s.iter().position(|&c| c == b'.') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &s[s.len()..]),
    };
    let secs = parse_decimal(ss)?;
    if sn.is_empty() {
        return Some(unix(secs, 0));
    }
    if !sn.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut nsecs: i64 = 0;
    for i in 0..9 {
        nsecs = nsecs * 10 + sn.get(i).map_or(0, |&c| i64::from(c - b'0'));
    }
    if ss.first() == Some(&b'-') {
        Some(unix(secs, -nsecs))
    } else {
        Some(unix(secs, nsecs))
    }
}

const PAX_PATH: &[u8] = b"path";
const PAX_LINKPATH: &[u8] = b"linkpath";
const PAX_UNAME: &[u8] = b"uname";
const PAX_GNAME: &[u8] = b"gname";
const PAX_UID: &[u8] = b"uid";
const PAX_GID: &[u8] = b"gid";
const PAX_SIZE: &[u8] = b"size";
const PAX_MTIME: &[u8] = b"mtime";
const PAX_ATIME: &[u8] = b"atime";
const PAX_CTIME: &[u8] = b"ctime";
const SPARSE_NUMBLOCKS: &[u8] = b"GNU.sparse.numblocks";
const SPARSE_OFFSET: &[u8] = b"GNU.sparse.offset";
const SPARSE_NUMBYTES: &[u8] = b"GNU.sparse.numbytes";
const SPARSE_MAP: &[u8] = b"GNU.sparse.map";
const SPARSE_NAME: &[u8] = b"GNU.sparse.name";
const SPARSE_MAJOR: &[u8] = b"GNU.sparse.major";
const SPARSE_MINOR: &[u8] = b"GNU.sparse.minor";
const SPARSE_SIZE: &[u8] = b"GNU.sparse.size";
const SPARSE_REALSIZE: &[u8] = b"GNU.sparse.realsize";

/// Parse one PAX record (`"%d %s=%s\n"`) at the start of `s` as Go's `parsePAXRecord`,
/// returning `(key, value, rest)`; `None` where Go returns `ErrHeader`.
pub fn parse_pax_record(s: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let sp = s.iter().position(|&c| c == b' ')?;
    let n = parse_decimal(&s[..sp])?;
    if n < 5 || n > s.len() as i64 {
        return None;
    }
    let n = usize::try_from(n).ok()?.checked_sub(sp + 1)?;
    if n == 0 {
        return None;
    }
    let rest = &s[sp + 1..];
    let (rec, nl, rem) = (&rest[..n - 1], rest[n - 1], &rest[n..]);
    if nl != b'\n' {
        return None;
    }
    let eq = rec.iter().position(|&c| c == b'=')?;
    let (k, v) = (&rec[..eq], &rec[eq + 1..]);
    let valid = !k.is_empty()
        && match k {
            PAX_PATH | PAX_LINKPATH | PAX_UNAME | PAX_GNAME => !v.contains(&0),
            _ => !k.contains(&0),
        };
    valid.then_some((k, v, rem))
}

/// Parse a whole PAX header body as Go's `parsePAX`: later records win, GNU sparse 0.0
/// `offset`/`numbytes` pairs are collected (in order, without commas) into `GNU.sparse.map`.
pub fn parse_pax_records(mut s: &[u8]) -> Option<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut records = BTreeMap::new();
    let mut sparse_map: Vec<&[u8]> = Vec::new();
    while !s.is_empty() {
        let (k, v, rest) = parse_pax_record(s)?;
        s = rest;
        if k == SPARSE_OFFSET || k == SPARSE_NUMBYTES {
            let expect = if sparse_map.len().is_multiple_of(2) {
                SPARSE_OFFSET
            } else {
                SPARSE_NUMBYTES
            };
            if k != expect || v.contains(&b',') {
                return None;
            }
            sparse_map.push(v);
        } else {
            records.insert(k.to_vec(), v.to_vec());
        }
    }
    if !sparse_map.is_empty() {
        records.insert(SPARSE_MAP.to_vec(), sparse_map.join(&b','));
    }
    Some(records)
}

// ---------------------------------------------------------------------------------------------
// Blocks (format.go)
// ---------------------------------------------------------------------------------------------

/// What the magic of a (checksum-valid) block says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockFormat {
    V7,
    Ustar,
    Star,
    Gnu,
}

fn block_format(blk: &[u8; BLOCK]) -> Option<BlockFormat> {
    let stored = parse_octal(&blk[148..156])?;
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &c) in blk.iter().enumerate() {
        let c = if (148..156).contains(&i) { b' ' } else { c };
        unsigned += i64::from(c);
        signed += i64::from(c as i8);
    }
    if stored != unsigned && stored != signed {
        return None;
    }
    let magic = &blk[257..263];
    let version = &blk[263..265];
    let trailer = &blk[508..512];
    Some(if magic == b"ustar\0" && trailer == b"tar\0" {
        BlockFormat::Star
    } else if magic == b"ustar\0" {
        BlockFormat::Ustar
    } else if magic == b"ustar " && version == b" \0" {
        BlockFormat::Gnu
    } else {
        BlockFormat::V7
    })
}

/// Numeric-field parser that remembers failure, like Go's `parser`.
#[derive(Default)]
struct Numbers {
    failed: bool,
    base256: bool,
}

impl Numbers {
    fn num(&mut self, field: &[u8]) -> i64 {
        if field.first().is_some_and(|&c| c & 0x80 != 0) {
            self.base256 = true;
        }
        match parse_numeric(field) {
            Some(v) => v,
            None => {
                self.failed = true;
                0
            }
        }
    }
}

/// The fields of one header block, as Go's `readHeader` fills them.
struct RawHeader {
    format: BlockFormat,
    typeflag: u8,
    name: Vec<u8>,
    linkname: Vec<u8>,
    size: i64,
    mode: i64,
    uid: i64,
    gid: i64,
    mtime: i64,
    uname: Vec<u8>,
    gname: Vec<u8>,
    devmajor: i64,
    devminor: i64,
    atime: Option<i64>,
    ctime: Option<i64>,
    base256: bool,
}

fn parse_block(blk: &[u8; BLOCK]) -> Result<RawHeader> {
    let format = block_format(blk).ok_or(ErrorKind::InvalidHeader(
        "checksum mismatch or unparsable checksum field",
    ))?;
    let mut p = Numbers::default();
    let mut h = RawHeader {
        format,
        typeflag: blk[156],
        name: cstr(&blk[0..100]).to_vec(),
        linkname: cstr(&blk[157..257]).to_vec(),
        size: p.num(&blk[124..136]),
        mode: p.num(&blk[100..108]),
        uid: p.num(&blk[108..116]),
        gid: p.num(&blk[116..124]),
        mtime: p.num(&blk[136..148]),
        uname: Vec::new(),
        gname: Vec::new(),
        devmajor: 0,
        devminor: 0,
        atime: None,
        ctime: None,
        base256: false,
    };
    if format != BlockFormat::V7 {
        h.uname = cstr(&blk[265..297]).to_vec();
        h.gname = cstr(&blk[297..329]).to_vec();
        h.devmajor = p.num(&blk[329..337]);
        h.devminor = p.num(&blk[337..345]);
        let prefix: &[u8] = match format {
            BlockFormat::Ustar => cstr(&blk[345..500]),
            BlockFormat::Star => {
                h.atime = Some(p.num(&blk[476..488]));
                h.ctime = Some(p.num(&blk[488..500]));
                cstr(&blk[345..476])
            }
            BlockFormat::Gnu => {
                let mut p2 = Numbers::default();
                if blk[345] != 0 {
                    h.atime = Some(p2.num(&blk[345..357]));
                }
                if blk[357] != 0 {
                    h.ctime = Some(p2.num(&blk[357..369]));
                }
                p.base256 |= p2.base256;
                if p2.failed {
                    // Pre-Go-1.8 writers put a USTAR prefix here.
                    h.atime = None;
                    h.ctime = None;
                    let s = cstr(&blk[345..500]);
                    if s.is_ascii() { s } else { &[] }
                } else {
                    &[]
                }
            }
            BlockFormat::V7 => &[],
        };
        if !prefix.is_empty() {
            let mut name = Vec::with_capacity(prefix.len() + 1 + h.name.len());
            name.extend_from_slice(prefix);
            name.push(b'/');
            name.extend_from_slice(&h.name);
            h.name = name;
        }
    }
    if p.failed {
        return Err(ErrorKind::InvalidHeader("invalid numeric field"));
    }
    h.base256 = p.base256;
    Ok(h)
}

fn is_header_only(flag: u8) -> bool {
    matches!(
        flag,
        typeflag::LINK
            | typeflag::SYMLINK
            | typeflag::CHAR
            | typeflag::BLOCK
            | typeflag::DIR
            | typeflag::FIFO
    )
}

fn note_block(formats: &mut Formats, h: &RawHeader) {
    match h.format {
        BlockFormat::V7 => formats.v7 = true,
        BlockFormat::Ustar => formats.ustar = true,
        BlockFormat::Star => formats.star = true,
        BlockFormat::Gnu => formats.gnu = true,
    }
    if h.base256 {
        formats.gnu = true;
    }
}

fn padding(n: u64) -> u64 {
    (BLOCK as u64 - n % BLOCK as u64) % BLOCK as u64
}

// ---------------------------------------------------------------------------------------------
// Sparse maps (common.go)
// ---------------------------------------------------------------------------------------------

/// `(offset, length)` fragment.
type Fragment = (i64, i64);

fn validate_sparse(sp: &[Fragment], size: i64) -> bool {
    if size < 0 {
        return false;
    }
    let mut pre: Fragment = (0, 0);
    for &(off, len) in sp {
        if off < 0 || len < 0 || off > i64::MAX - len || off + len > size {
            return false;
        }
        if pre.0 + pre.1 > off {
            return false;
        }
        pre = (off, len);
    }
    true
}

/// Data fragments → hole fragments (or back); the last fragment ends at `size`.
fn invert_sparse(src: &[Fragment], size: i64) -> Vec<Fragment> {
    let mut dst = Vec::with_capacity(src.len() + 1);
    let mut pre: Fragment = (0, 0);
    for &(off, len) in src {
        if len == 0 {
            continue;
        }
        pre.1 = off - pre.0;
        if pre.1 > 0 {
            dst.push(pre);
        }
        pre.0 = off + len;
    }
    pre.1 = size - pre.0;
    dst.push(pre);
    dst
}

fn push_fragment(spd: &mut Vec<Fragment>, f: Fragment) -> Result<()> {
    if spd.len() >= GO_MAX_SPARSE_ENTRIES {
        return Err(ErrorKind::SparseTooLong);
    }
    spd.push(f);
    Ok(())
}

/// State of a sparse entry's expanded reader (Go's `sparseFileReader`).
struct Sparse {
    holes: Vec<Fragment>,
    idx: usize,
    pos: i64,
}

impl Sparse {
    fn logical_remaining(&self) -> i64 {
        self.holes.last().map_or(0, |h| h.0 + h.1) - self.pos
    }
}

// ---------------------------------------------------------------------------------------------
// The reader
// ---------------------------------------------------------------------------------------------

/// What a reader tracks of the bytes outside file bodies.
enum Split {
    /// Their hash ([`Reader::track_skeleton`]).
    Skeleton(SkeletonHasher),
    /// The bytes themselves ([`Reader::track_shape`]).
    Shape(ShapeRecorder),
}

impl Split {
    fn raw(&mut self, bytes: &[u8]) {
        match self {
            Split::Skeleton(h) => h.raw(bytes),
            Split::Shape(r) => r.raw(bytes),
        }
    }

    fn body(&mut self, len: u64, sha256: &[u8; 32]) {
        match self {
            Split::Skeleton(h) => h.body(len, sha256),
            Split::Shape(r) => r.body(len),
        }
    }
}

/// Moves a buffered stream forward by that many bytes.
type SeekBy<R> = fn(&mut BufReader<R>, i64) -> io::Result<()>;

/// The underlying stream, with the count of bytes consumed.
struct Source<R> {
    r: BufReader<R>,
    pos: u64,
    /// The skeleton or shape, when tracked.
    tap: Option<Split>,
    /// Bytes read now are outside file bodies (fed to `tap` as raw bytes).
    raw_pass: bool,
    /// Skips forward without reading, when the stream can seek ([`Reader::skip_by_seeking`]).
    seek: Option<SeekBy<R>>,
}

impl<R: Read> Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.r.read(buf) {
                Ok(n) => {
                    self.pos += n as u64;
                    if self.raw_pass
                        && let Some(tap) = &mut self.tap
                    {
                        tap.raw(&buf[..n]);
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ErrorKind::from_io(&e)),
            }
        }
    }

    /// Fill `buf` unless EOF comes first; returns the number of bytes read.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.read(&mut buf[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    }

    /// Skip `n` bytes outside the tracked split: by seeking when the stream can (a body
    /// skipped past the end shows as a short read at the next header), else by reading.
    fn skip(&mut self, n: u64) -> Result<u64> {
        if n > 0
            && let (Some(seek), Ok(by)) = (self.seek, i64::try_from(n - 1))
        {
            // seek to the last byte and read it: a stream that ends before it is short
            seek(&mut self.r, by).map_err(|e| ErrorKind::from_io(&e))?;
            self.pos += n - 1;
            let at_end = loop {
                match self.r.fill_buf() {
                    Ok(b) => break b.is_empty(),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(ErrorKind::from_io(&e)),
                }
            };
            if at_end {
                return Ok(n - 1);
            }
            self.r.consume(1);
            self.pos += 1;
            return Ok(n);
        }
        self.discard(n)
    }

    /// Skip up to `n` bytes; returns how many were skipped (fewer only at EOF).
    fn discard(&mut self, n: u64) -> Result<u64> {
        let mut left = n;
        while left > 0 {
            let avail = match self.r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ErrorKind::from_io(&e)),
            };
            if avail.is_empty() {
                break;
            }
            let k = usize::try_from(left).unwrap_or(usize::MAX).min(avail.len());
            if self.raw_pass
                && let Some(tap) = &mut self.tap
            {
                tap.raw(&avail[..k]);
            }
            self.r.consume(k);
            self.pos += k as u64;
            left -= k as u64;
        }
        Ok(n - left)
    }
}

impl<R: Read + io::Seek> Reader<R> {
    /// Skip the bodies a tracked [`Shape`] leaves unread by seeking instead of reading
    /// ([`Reader::track_shape`]): reading a layer's headers then costs the headers.
    ///
    /// Headers then come in small reads between seeks: give the reader a small buffer
    /// ([`Reader::with_capacity`]), or each read fetches that much of the next body.
    pub fn skip_by_seeking(&mut self) {
        self.src.seek = Some(|r, by| r.seek_relative(by));
    }
}

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
pub struct Reader<R> {
    src: Source<R>,
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

impl<R> fmt::Debug for Reader<R> {
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

    /// Track the stream's [`Skeleton`]: every byte outside regular files' data is hashed as
    /// it passes; the caller reads each regular file's body whole (through [`Reader::body`])
    /// and hands its sha256 to [`Reader::body_digest`]. Call before the first header.
    pub fn track_skeleton(&mut self) {
        self.skeleton_broken |= self.src.pos > 0;
        self.src.tap = Some(Split::Skeleton(SkeletonHasher::new()));
    }

    /// Track the stream's [`Shape`]: every byte outside regular files' data is kept (up to
    /// `limit` bytes), and each regular file's body is skipped unread by the next
    /// [`Reader::next_header`] and noted by its place and length. Call before the first header.
    pub fn track_shape(&mut self, limit: usize) {
        self.skeleton_broken |= self.src.pos > 0;
        self.src.tap = Some(Split::Shape(ShapeRecorder::new(limit)));
    }

    /// The sha256 of the current entry's body, which the caller read whole. Ignored unless
    /// the skeleton is tracked and the entry is a regular file with data (not sparse).
    pub fn body_digest(&mut self, sha256: &[u8; 32]) {
        let Some(len) = self.split_len.take() else {
            return;
        };
        match &mut self.src.tap {
            Some(tap) if self.physical == 0 => tap.body(len, sha256),
            _ => self.skeleton_broken = true,
        }
    }

    /// After the end of the archive: read the rest of the stream and return its skeleton
    /// (`None` unless tracked from the start with every body's digest given).
    pub fn finish_skeleton(&mut self) -> Result<Option<Skeleton>, Error> {
        Ok(match self.finish_split()? {
            Some(Split::Skeleton(h)) => Some(h.finish()),
            _ => None,
        })
    }

    /// After the end of the archive: read the rest of the stream and return its shape (`None`
    /// unless tracked from the start, or when the raw bytes went over the limit).
    pub fn finish_shape(&mut self) -> Result<Option<Shape>, Error> {
        Ok(match self.finish_split()? {
            Some(Split::Shape(r)) => r.finish(),
            _ => None,
        })
    }

    fn finish_split(&mut self) -> Result<Option<Split>, Error> {
        if self.src.tap.is_none() {
            return Ok(None);
        }
        if !self.done {
            self.skeleton_broken = true;
        }
        self.src.raw_pass = true;
        let mut buf = [0u8; BLOCK * 16];
        loop {
            match self.src.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(kind) => return Err(self.fail(kind, self.returned)),
            }
        }
        let tap = self.src.tap.take().expect("checked above");
        Ok((!self.skeleton_broken).then_some(tap))
    }

    /// Whether the current entry's data counts as a file body in the tracked skeleton or
    /// shape (a regular file with data, not sparse). Meaningful right after
    /// [`Reader::next_header`].
    pub fn splits_body(&self) -> bool {
        self.split_len.is_some()
    }

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
            if matches!(self.src.tap, Some(Split::Shape(_))) && self.physical == len {
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
    pub fn body(&mut self) -> Body<'_, R> {
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

    /// Go's `regFileReader.Read` over the current data section.
    fn read_physical(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.physical == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.physical)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        self.src.raw_pass = self.split_len.is_none();
        let n = self.src.read(&mut buf[..want]);
        self.src.raw_pass = true;
        let n = n?;
        if n == 0 {
            return Err(ErrorKind::UnexpectedEof);
        }
        self.physical -= n as u64;
        Ok(n)
    }

    /// Fill `buf` from the data section; `Ok(false)` if the section ends first (Go's `tryReadFull`
    /// returning `io.EOF`), an error if the stream does.
    fn read_physical_full(&mut self, buf: &mut [u8]) -> Result<bool> {
        let mut n = 0;
        while n < buf.len() {
            match self.read_physical(&mut buf[n..])? {
                0 => return Ok(false),
                k => n += k,
            }
        }
        Ok(true)
    }

    /// Go's `handleRegularFile`.
    fn set_data_section(&mut self, flag: u8, size: i64) -> Result<()> {
        let nb = if is_header_only(flag) { 0 } else { size };
        if nb < 0 {
            return Err(ErrorKind::InvalidHeader("negative size"));
        }
        self.physical = nb as u64;
        self.pad = padding(nb as u64);
        self.sparse = None;
        Ok(())
    }

    /// Go's `readSpecialFile` over the current data section.
    fn read_special(
        &mut self,
        limit: u64,
        what: &'static str,
        option: &'static str,
    ) -> Result<Vec<u8>> {
        let want = self.physical.min(limit.saturating_add(1));
        let mut buf = vec![0u8; usize::try_from(want).unwrap_or(usize::MAX)];
        if !self.read_physical_full(&mut buf)? {
            return Err(ErrorKind::UnexpectedEof);
        }
        if want > limit {
            return Err(ErrorKind::FieldTooLong {
                what,
                limit,
                option,
            });
        }
        Ok(buf)
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
        let mut pax: Option<BTreeMap<Vec<u8>, Vec<u8>>> = None;
        let mut long_name: Vec<u8> = Vec::new();
        let mut long_link: Vec<u8> = Vec::new();
        let mut formats = Formats::default();
        let mut first_offset: Option<u64> = None;
        loop {
            // Discard the rest of the current data section, then its padding.
            self.ctx_offset = self.src.pos;
            let skip = std::mem::take(&mut self.physical);
            self.sparse = None;
            if self.src.discard(skip)? < skip {
                self.ctx_offset = self.src.pos;
                return Err(ErrorKind::UnexpectedEof);
            }
            let pad = std::mem::take(&mut self.pad);
            if self.src.discard(pad)? < pad {
                return Ok(None); // Go: EOF inside padding is a clean end.
            }

            let offset = self.src.pos;
            self.ctx_offset = offset;
            first_offset.get_or_insert(offset);
            let mut blk = [0u8; BLOCK];
            match self.src.read_full(&mut blk)? {
                0 => return Ok(None),
                BLOCK => {}
                _ => return Err(ErrorKind::UnexpectedEof),
            }
            if blk.iter().all(|&c| c == 0) {
                self.ctx_offset = self.src.pos;
                match self.src.read_full(&mut blk)? {
                    0 => return Ok(None),
                    BLOCK => {}
                    _ => return Err(ErrorKind::UnexpectedEof),
                }
                if blk.iter().all(|&c| c == 0) {
                    return Ok(None);
                }
                return Err(ErrorKind::InvalidHeader(
                    "a zero block followed by a non-zero block",
                ));
            }
            let raw = parse_block(&blk)?;
            self.ctx_name = Some(String::from_utf8_lossy(&raw.name).into_owned());
            self.set_data_section(raw.typeflag, raw.size)?;
            note_block(&mut formats, &raw);

            match raw.typeflag {
                typeflag::XHEADER | typeflag::XGLOBAL => {
                    formats.pax = true;
                    let data = self.read_special(
                        self.options.max_pax_size,
                        "PAX extended header",
                        "max-pax-size",
                    )?;
                    let records = parse_pax_records(&data)
                        .ok_or(ErrorKind::InvalidHeader("malformed PAX record"))?;
                    if raw.typeflag == typeflag::XGLOBAL {
                        let mut name = raw.name;
                        if let Some(p) = records.get(PAX_PATH).filter(|p| !p.is_empty()) {
                            name = p.clone();
                        }
                        let h = Header {
                            name,
                            typeflag: typeflag::XGLOBAL,
                            pax_records: records,
                            formats,
                            offset: first_offset.unwrap_or(offset),
                            ..Header::default()
                        };
                        self.check_path_limits(&h)?;
                        return Ok(Some(h));
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
                    if raw.typeflag == typeflag::GNU_LONGNAME {
                        long_name = value;
                    } else {
                        long_link = value;
                    }
                }
                _ => {
                    let mut h = Header {
                        name: raw.name,
                        linkname: raw.linkname,
                        typeflag: raw.typeflag,
                        mode: raw.mode,
                        uid: raw.uid,
                        gid: raw.gid,
                        uname: raw.uname,
                        gname: raw.gname,
                        size: raw.size,
                        mtime: unix(raw.mtime, 0),
                        atime: raw.atime.map(|t| unix(t, 0)),
                        ctime: raw.ctime.map(|t| unix(t, 0)),
                        devmajor: raw.devmajor,
                        devminor: raw.devminor,
                        pax_records: BTreeMap::new(),
                        formats: Formats::default(),
                        offset: first_offset.unwrap_or(offset),
                    };
                    if let Some(records) = pax {
                        merge_pax(&mut h, &records)?;
                        h.pax_records = records;
                    }
                    if !long_name.is_empty() {
                        h.name = long_name;
                    }
                    if !long_link.is_empty() {
                        h.linkname = long_link;
                    }
                    if h.typeflag == typeflag::REGA {
                        h.typeflag = if h.name.ends_with(b"/") {
                            typeflag::DIR
                        } else {
                            typeflag::REG
                        };
                    }
                    self.ctx_name = Some(h.display_name());
                    self.set_data_section(h.typeflag, h.size)?;
                    self.handle_sparse(&mut h, &blk, raw.format, &mut formats)?;
                    h.formats = formats;
                    self.ctx_name = Some(h.display_name());
                    self.check_path_limits(&h)?;
                    return Ok(Some(h));
                }
            }
        }
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

    /// Go's `handleSparseFile`.
    fn handle_sparse(
        &mut self,
        h: &mut Header,
        blk: &[u8; BLOCK],
        format: BlockFormat,
        formats: &mut Formats,
    ) -> Result<()> {
        let spd = if h.typeflag == typeflag::GNU_SPARSE {
            formats.gnu = true;
            Some(self.read_old_gnu_sparse_map(h, blk, format)?)
        } else {
            self.read_pax_sparse(h)?
        };
        if let Some(spd) = spd {
            if is_header_only(h.typeflag) || !validate_sparse(&spd, h.size) {
                return Err(ErrorKind::InvalidHeader("invalid sparse map"));
            }
            self.sparse = Some(Sparse {
                holes: invert_sparse(&spd, h.size),
                idx: 0,
                pos: 0,
            });
        }
        Ok(())
    }

    /// Go's `readOldGNUSparseMap`. Extension blocks are read from the raw stream.
    fn read_old_gnu_sparse_map(
        &mut self,
        h: &mut Header,
        blk: &[u8; BLOCK],
        format: BlockFormat,
    ) -> Result<Vec<Fragment>> {
        if format != BlockFormat::Gnu {
            return Err(ErrorKind::InvalidHeader(
                "old GNU sparse entry without GNU magic",
            ));
        }
        let mut p = Numbers::default();
        h.size = p.num(&blk[483..495]);
        if p.failed {
            return Err(ErrorKind::InvalidHeader("invalid numeric field"));
        }
        let mut area: Vec<u8> = blk[386..483].to_vec();
        let mut total = area.len() as u64;
        let mut spd = Vec::new();
        while total < GO_MAX_SPECIAL_FILE_SIZE {
            let entries = area.len() / 24;
            for i in 0..entries {
                let e = &area[i * 24..i * 24 + 24];
                if e[0] == 0 {
                    break;
                }
                let off = p.num(&e[..12]);
                let len = p.num(&e[12..]);
                if p.failed {
                    return Err(ErrorKind::InvalidHeader(
                        "invalid numeric field in sparse map",
                    ));
                }
                push_fragment(&mut spd, (off, len))?;
            }
            if area[entries * 24] > 0 {
                let mut ext = [0u8; BLOCK];
                self.ctx_offset = self.src.pos;
                if self.src.read_full(&mut ext)? < BLOCK {
                    return Err(ErrorKind::UnexpectedEof);
                }
                area = ext.to_vec();
                total += BLOCK as u64;
                continue;
            }
            return Ok(spd);
        }
        Err(ErrorKind::SparseTooLong)
    }

    /// Go's `readGNUSparsePAXHeaders`.
    fn read_pax_sparse(&mut self, h: &mut Header) -> Result<Option<Vec<Fragment>>> {
        let rec = |k: &[u8]| -> Vec<u8> { h.pax_records.get(k).cloned().unwrap_or_default() };
        let (major, minor) = (rec(SPARSE_MAJOR), rec(SPARSE_MINOR));
        let is_1x0 = match (major.as_slice(), minor.as_slice()) {
            (b"0", b"0" | b"1") => false,
            (b"1", b"0") => true,
            (a, b) if !a.is_empty() || !b.is_empty() => return Ok(None),
            _ if !rec(SPARSE_MAP).is_empty() => false,
            _ => return Ok(None),
        };
        let name = rec(SPARSE_NAME);
        let mut size = rec(SPARSE_SIZE);
        if size.is_empty() {
            size = rec(SPARSE_REALSIZE);
        }
        let map = rec(SPARSE_MAP);
        let numblocks = rec(SPARSE_NUMBLOCKS);
        if !name.is_empty() {
            h.name = name;
        }
        if !size.is_empty() {
            h.size =
                parse_decimal(&size).ok_or(ErrorKind::InvalidHeader("invalid GNU.sparse size"))?;
        }
        if is_1x0 {
            self.read_sparse_map_1x0().map(Some)
        } else {
            read_sparse_map_0x1(&numblocks, &map).map(Some)
        }
    }

    /// Go's `readGNUSparseMap1x0`: newline-separated decimals at the start of the data section.
    fn read_sparse_map_1x0(&mut self) -> Result<Vec<Fragment>> {
        let mut buf: Vec<u8> = Vec::new();
        let mut cursor = 0usize;
        let mut newlines: i64 = 0;
        let mut total: u64 = 0;
        let mut feed = |this: &mut Self, buf: &mut Vec<u8>, newlines: &mut i64, want: i64| {
            while *newlines < want {
                total += BLOCK as u64;
                if total > GO_MAX_SPECIAL_FILE_SIZE {
                    return Err(ErrorKind::SparseTooLong);
                }
                let mut blk = [0u8; BLOCK];
                if !this.read_physical_full(&mut blk)? {
                    return Err(ErrorKind::UnexpectedEof);
                }
                buf.extend_from_slice(&blk);
                *newlines += blk.iter().filter(|&&c| c == b'\n').count() as i64;
            }
            Ok(())
        };
        let token = |buf: &Vec<u8>, newlines: &mut i64, cursor: &mut usize| -> Option<i64> {
            *newlines -= 1;
            let rest = buf.get(*cursor..).unwrap_or_default();
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            let tok = &rest[..end];
            *cursor += (end + 1).min(rest.len());
            parse_decimal(tok)
        };
        feed(self, &mut buf, &mut newlines, 1)?;
        let n = token(&buf, &mut newlines, &mut cursor)
            .filter(|&n| n >= 0 && n.checked_mul(2).is_some())
            .ok_or(ErrorKind::InvalidHeader("invalid GNU sparse 1.0 map"))?;
        feed(self, &mut buf, &mut newlines, 2 * n)?;
        let mut spd = Vec::new();
        for _ in 0..n {
            let off = token(&buf, &mut newlines, &mut cursor);
            let len = token(&buf, &mut newlines, &mut cursor);
            match (off, len) {
                (Some(off), Some(len)) => push_fragment(&mut spd, (off, len))?,
                _ => return Err(ErrorKind::InvalidHeader("invalid GNU sparse 1.0 map")),
            }
        }
        Ok(spd)
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

    /// Go's `sparseFileReader.Read`: returns the bytes produced and a deferred error.
    fn read_sparse(&mut self, buf: &mut [u8]) -> Result<(usize, Option<ErrorKind>)> {
        let Some(sp) = self.sparse.as_ref() else {
            return Ok((0, None));
        };
        let remaining = sp.logical_remaining().max(0);
        let len = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let buf = &mut buf[..len];
        let mut n = 0usize;
        let mut err = None;
        while n < buf.len() {
            let Some(sp) = self.sparse.as_ref() else {
                break;
            };
            let Some(&(hole_start, hole_len)) = sp.holes.get(sp.idx) else {
                break;
            };
            let (pos, hole_end) = (sp.pos, hole_start + hole_len);
            let room = buf.len() - n;
            let nf = if pos < hole_start {
                let want = usize::try_from(hole_start - pos)
                    .unwrap_or(usize::MAX)
                    .min(room);
                match self.read_physical_full(&mut buf[n..n + want]) {
                    Ok(true) => want,
                    Ok(false) => {
                        err = Some(ErrorKind::SparseMissingData);
                        0
                    }
                    Err(e) => return Err(e),
                }
            } else {
                let want = usize::try_from(hole_end - pos)
                    .unwrap_or(usize::MAX)
                    .min(room);
                buf[n..n + want].fill(0);
                want
            };
            if err.is_some() {
                break;
            }
            if nf == 0 {
                return Err(ErrorKind::InvalidHeader("sparse map makes no progress"));
            }
            n += nf;
            if let Some(sp) = self.sparse.as_mut() {
                sp.pos += nf as i64;
                if sp.pos >= hole_end && sp.idx + 1 < sp.holes.len() {
                    sp.idx += 1;
                }
            }
        }
        if err.is_none()
            && self
                .sparse
                .as_ref()
                .is_some_and(|s| s.logical_remaining() == 0)
            && self.physical > 0
        {
            err = Some(ErrorKind::SparseUnreferencedData);
        }
        Ok((n, err))
    }
}

/// Go's `readGNUSparseMap0x1`: the map is in the `GNU.sparse.map` record.
fn read_sparse_map_0x1(numblocks: &[u8], map: &[u8]) -> Result<Vec<Fragment>> {
    let bad = || ErrorKind::InvalidHeader("invalid GNU sparse 0.x map");
    let n = parse_decimal(numblocks)
        .filter(|&n| n >= 0)
        .and_then(|n| n.checked_mul(2))
        .ok_or_else(bad)?;
    let parts: Vec<&[u8]> = if map.is_empty() {
        Vec::new()
    } else {
        map.split(|&c| c == b',').collect()
    };
    if parts.len() as i64 != n {
        return Err(bad());
    }
    let mut spd = Vec::new();
    for pair in parts.chunks_exact(2) {
        match (parse_decimal(pair[0]), parse_decimal(pair[1])) {
            (Some(off), Some(len)) => push_fragment(&mut spd, (off, len))?,
            _ => return Err(bad()),
        }
    }
    Ok(spd)
}

/// Go's `mergePAX`: apply the records to the header (empty values keep the header's value).
fn merge_pax(h: &mut Header, records: &BTreeMap<Vec<u8>, Vec<u8>>) -> Result<()> {
    for (k, v) in records {
        if v.is_empty() {
            continue;
        }
        let bad = |what| ErrorKind::InvalidHeader(what);
        match k.as_slice() {
            PAX_PATH => h.name = v.clone(),
            PAX_LINKPATH => h.linkname = v.clone(),
            PAX_UNAME => h.uname = v.clone(),
            PAX_GNAME => h.gname = v.clone(),
            PAX_UID => h.uid = parse_decimal(v).ok_or(bad("invalid PAX uid"))?,
            PAX_GID => h.gid = parse_decimal(v).ok_or(bad("invalid PAX gid"))?,
            PAX_SIZE => h.size = parse_decimal(v).ok_or(bad("invalid PAX size"))?,
            PAX_MTIME => h.mtime = parse_pax_time(v).ok_or(bad("invalid PAX mtime"))?,
            PAX_ATIME => h.atime = Some(parse_pax_time(v).ok_or(bad("invalid PAX atime"))?),
            PAX_CTIME => h.ctime = Some(parse_pax_time(v).ok_or(bad("invalid PAX ctime"))?),
            _ => {}
        }
    }
    Ok(())
}

/// An entry's data; see [`Reader::body`].
pub struct Body<'a, R> {
    reader: &'a mut Reader<R>,
}

impl<R> fmt::Debug for Body<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("reader", &self.reader)
            .finish()
    }
}

impl<R: Read> Read for Body<'_, R> {
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
