//! A Go `archive/tar` `Writer`, exactly: header value → 512-byte blocks (spec §6).
//!
//! [`encode`] is a pure function from a [`TarHeader`] (the fields of Go's `tar.Header` that
//! Docker's writers set) to the bytes `tar.Writer.WriteHeader` emits: either one USTAR block, or
//! a PAX `x` header (block + records padded to 512) followed by the main block. The rules were
//! learned from Go's `archive/tar` (`writer.go`, `common.go:allowedFormats`, `format.go`,
//! `strconv.go`; unchanged in substance from Go 1.10 to 1.27) and are restated here in our own
//! terms:
//!
//! * **Format choice** ([`TarHeader::format`] = [`WantFormat::Pax`], what Docker passes): USTAR
//!   whenever every field fits, PAX otherwise, never GNU. A name longer than 100 bytes may still
//!   be USTAR through the prefix split ([`split_ustar_path`]).
//! * **PAX records** are sorted by key (byte order), each `"%d %s=%s\n"` with a self-counting
//!   length ([`format_pax_record`]).
//! * The `x` header is named `path.Join(dir, "PaxHeaders.0", base)` of the real name, non-ASCII
//!   dropped, cut to 100 bytes, trailing `/` trimmed; its mode/uid/gid/mtime are octal zero and its
//!   uname/gname/devmajor/devminor are all NUL.
//! * The main PAX header drops non-ASCII bytes from its string fields ([`to_ascii`]) and writes
//!   numbers that overflow as zero.
//! * [`format_string`]: truncation without NUL, and a trailing-`/` run cut at the field end is
//!   replaced by a NUL. [`format_octal`]: zero-padded, NUL-terminated, zero when it overflows.
//! * Checksum: unsigned byte sum with the field as spaces, written `%06o\0 `.
//!
//! Failures follow Go: a header Go cannot encode yields [`HeaderError`]; for every variant except
//! [`HeaderError::PaxTooLarge`] Go's writer wrote nothing and stays usable (the error is
//! "non-fatal"), which is why moby's Tarballer can log and skip the entry (spec §5.1).

use std::collections::BTreeMap;

use layerproof_archive::Timestamp;

/// Size of a tar block.
pub const BLOCK: usize = 512;

/// The end-of-archive marker Go's `Writer.Close` writes: exactly two zero blocks (spec §5.6).
pub const END_OF_ARCHIVE: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

/// The largest PAX extended-header body Go's writer accepts (`maxSpecialFileSize`, 1 MiB).
pub const MAX_PAX_DATA: usize = 1 << 20;

const NAME_SIZE: usize = 100;
const PREFIX_SIZE: usize = 155;

/// Tar typeflags used by the writer.
pub mod typeflag {
    pub use layerproof_archive::tar::typeflag::*;
}

/// The format the caller asks for (Go's `Header.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WantFormat {
    /// `FormatUnknown`: Go rounds the mtime to the nearest second, drops atime/ctime, and may pick
    /// USTAR, PAX or GNU. Used by moby for the overlay `.wh..wh..opq` header.
    Unknown,
    /// `FormatPAX`: what Docker's `FileInfoHeader` and containerd set. USTAR is still used when
    /// everything fits and no sub-second time is present.
    #[default]
    Pax,
}

/// The encoding actually chosen for a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// One USTAR block.
    Ustar,
    /// A PAX `x` header, then a PAX main block.
    Pax,
}

/// The fields of Go's `tar.Header` that layer writers set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TarHeader {
    /// Entry name (`Name`), bytes as on disk.
    pub name: Vec<u8>,
    /// Link target (`Linkname`).
    pub linkname: Vec<u8>,
    /// Typeflag byte. `'\0'` is promoted to `'0'` or `'5'` like Go does.
    pub typeflag: u8,
    /// Mode field, including file-type bits if the engine adds them.
    pub mode: i64,
    /// Numeric owner.
    pub uid: i64,
    /// Numeric group.
    pub gid: i64,
    /// Owner name (empty for most engines).
    pub uname: Vec<u8>,
    /// Group name.
    pub gname: Vec<u8>,
    /// Data size.
    pub size: i64,
    /// Modification time. Go's "zero time" is represented by the epoch; both encode the same.
    pub mtime: Timestamp,
    /// Access time (`None` = Go's zero time, never written).
    pub atime: Option<Timestamp>,
    /// Change time (`None` = Go's zero time, never written).
    pub ctime: Option<Timestamp>,
    /// Device major number.
    pub devmajor: i64,
    /// Device minor number.
    pub devminor: i64,
    /// `PAXRecords`: extra records, e.g. `SCHILY.xattr.security.capability`.
    pub pax_records: BTreeMap<Vec<u8>, Vec<u8>>,
    /// `Format`.
    pub format: WantFormat,
}

/// Why Go's `WriteHeader` refused a header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// No allowed format can hold the header (e.g. a NUL in the name, a mode or device number
    /// that does not fit in 7 octal digits). Go writes nothing; the writer stays usable.
    #[error("archive/tar: cannot encode header: {0}")]
    Unencodable(String),
    /// A regular file, device or fifo whose name ends in `/`.
    #[error("archive/tar: cannot encode header: filename may not have trailing slash")]
    TrailingSlash,
    /// Typeflag `x`, `g`, `L` or `K` given directly (not supported here).
    #[error("archive/tar: cannot encode header: typeflag {0:#04x} cannot be written directly")]
    SpecialType(u8),
    /// A negative size on a type that carries data.
    #[error("archive/tar: cannot encode header: negative size on header-only type")]
    NegativeSize,
    /// A record that PAX cannot carry (NUL in a key, or in a path/linkpath/uname/gname value).
    #[error("archive/tar: cannot encode header: invalid PAX record: {key:?}")]
    InvalidPaxRecord {
        /// The offending key, lossy UTF-8.
        key: String,
    },
    /// Only GNU could hold the header (wanted format unknown); we never write GNU.
    #[error("archive/tar: header needs the GNU format, which layerproof does not write")]
    NeedsGnu,
    /// The PAX records exceed 1 MiB. Unlike the other variants this error is **sticky** in Go:
    /// the writer is dead afterwards and the archive is never closed.
    #[error("archive/tar: PAX extended header of {0} bytes exceeds 1 MiB (fatal)")]
    PaxTooLarge(usize),
}

impl HeaderError {
    /// True if Go's writer is unusable after this error (no further entries, no trailer).
    pub fn is_fatal(&self) -> bool {
        matches!(self, HeaderError::PaxTooLarge(_))
    }
}

/// The bytes `WriteHeader` emits for one header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Header blocks: `x` header + padded records + main block for PAX, one block for USTAR.
    pub blocks: Vec<u8>,
    /// The encoding chosen.
    pub chosen: Chosen,
    /// How many data bytes must follow (0 for header-only typeflags whatever the size field says).
    pub data_len: u64,
}

impl Encoded {
    /// Zero bytes needed after `data_len` data bytes to reach a block boundary.
    pub fn padding(&self) -> usize {
        padding(self.data_len)
    }

    /// The main (last) header block.
    pub fn main_block(&self) -> &[u8] {
        &self.blocks[self.blocks.len() - BLOCK..]
    }
}

/// Zero bytes needed after `len` bytes of data to reach a 512-byte boundary.
pub fn padding(len: u64) -> usize {
    ((BLOCK as u64 - len % BLOCK as u64) % BLOCK as u64) as usize
}

/// True for typeflags whose entries never carry data (Go's `isHeaderOnlyType`).
pub fn is_header_only(flag: u8) -> bool {
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

/// Go's `isASCII`: every byte is below 0x80 and not NUL. (Go iterates runes, but every byte of a
/// multi-byte or invalid UTF-8 sequence is ≥ 0x80, so a byte test is equivalent.)
pub fn is_ascii(s: &[u8]) -> bool {
    s.iter().all(|&c| c != 0 && c < 0x80)
}

/// Go's `toASCII`: drop every byte that is NUL or ≥ 0x80 (spec §6.1: `opt/ü.txt` → `opt/.txt`).
pub fn to_ascii(s: &[u8]) -> Vec<u8> {
    s.iter().copied().filter(|&c| c != 0 && c < 0x80).collect()
}

/// Go's `formatString`: copy `s` into `field`, NUL-terminated if there is room, truncated
/// otherwise; if the truncated field ends in `/`, the run of trailing slashes is cut by a NUL at
/// its first slash (spec §6.2).
pub fn format_string(field: &mut [u8], s: &[u8]) {
    let n = s.len().min(field.len());
    field[..n].copy_from_slice(&s[..n]);
    if s.len() < field.len() {
        field[s.len()] = 0;
    }
    if s.len() > field.len() && field.last() == Some(&b'/') {
        let kept = s[..field.len()]
            .iter()
            .rposition(|&c| c != b'/')
            .map_or(0, |i| i + 1);
        field[kept] = 0;
    }
}

/// Go's `fitsInOctal` for a field of `len` bytes (one byte is kept for the NUL).
pub fn fits_in_octal(len: usize, x: i64) -> bool {
    let bits = (len as u32 - 1) * 3;
    x >= 0 && (len >= 22 || x < 1i64 << bits)
}

fn fits_in_base256(len: usize, x: i64) -> bool {
    if len >= 9 {
        return true;
    }
    let bits = (len as u32 - 1) * 8;
    x >= -(1i64 << bits) && x < 1i64 << bits
}

/// Go's `formatOctal`: octal digits left-padded with `0` to `len-1`, then NUL; a value that does
/// not fit is written as zero (`0000000\0`).
pub fn format_octal(field: &mut [u8], x: i64) {
    let x = if fits_in_octal(field.len(), x) { x } else { 0 };
    // x >= 0 here: at most 21 octal digits
    let mut buf = [0u8; 22];
    let mut at = buf.len();
    let mut v = x.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (v & 7) as u8;
        v >>= 3;
        if v == 0 {
            break;
        }
    }
    let digits = &buf[at..];
    // zero-padded to len - 1 digits, then the NUL; a value that fits always leaves room for
    // them but for a zero in a one-byte field, which is "0" without its NUL
    match field.len().checked_sub(1 + digits.len()) {
        Some(pad) => {
            field[..pad].fill(b'0');
            field[pad..pad + digits.len()].copy_from_slice(digits);
            field[pad + digits.len()] = 0;
        }
        None => format_string(field, digits),
    }
}

/// Go's `formatPAXTime`: seconds, plus `.` and up to nine digits without trailing zeros.
pub fn format_pax_time(t: Timestamp) -> Vec<u8> {
    if t.nsec == 0 {
        return t.sec.to_string().into_bytes();
    }
    let (sign, secs, nsecs) = if t.sec < 0 {
        // Go: secs = -(secs+1), nsecs = 1e9 - nsecs.
        ("-", -(t.sec + 1), 1_000_000_000 - t.nsec)
    } else {
        ("", t.sec, t.nsec)
    };
    let s = format!("{sign}{secs}.{nsecs:09}");
    s.trim_end_matches('0').as_bytes().to_vec()
}

/// Go's `validPAXRecord`: keys may not contain NUL; the values of `path`, `linkpath`, `uname`
/// and `gname` may not either.
pub fn valid_pax_record(key: &[u8], value: &[u8]) -> bool {
    match key {
        b"path" | b"linkpath" | b"uname" | b"gname" => !value.contains(&0),
        _ => !key.contains(&0),
    }
}

/// Go's `formatPAXRecord`: `"<len> <key>=<value>\n"` where `<len>` counts the whole record,
/// itself included.
pub fn format_pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let base = key.len() + value.len() + 3;
    let mut size = base + base.to_string().len();
    if base + size.to_string().len() != size {
        size = base + size.to_string().len();
    }
    let mut rec = Vec::with_capacity(size);
    rec.extend_from_slice(size.to_string().as_bytes());
    rec.push(b' ');
    rec.extend_from_slice(key);
    rec.push(b'=');
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

/// Go's `splitUSTARPath`: split a name longer than 100 bytes into a prefix (≤ 155 bytes) and a
/// name (≤ 100 bytes) at a `/`. `None` if the name is short, non-ASCII, or cannot be split.
pub fn split_ustar_path(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut length = name.len();
    if length <= NAME_SIZE || !is_ascii(name) {
        return None;
    }
    if length > PREFIX_SIZE + 1 {
        length = PREFIX_SIZE + 1;
    } else if name[length - 1] == b'/' {
        length -= 1;
    }
    let i = name[..length].iter().rposition(|&c| c == b'/')?;
    let suffix_len = name.len() - i - 1;
    if i == 0 || suffix_len > NAME_SIZE || suffix_len == 0 || i > PREFIX_SIZE {
        return None;
    }
    Some((&name[..i], &name[i + 1..]))
}

/// Go's `path.Clean` on bytes.
fn clean_path(p: &[u8]) -> Vec<u8> {
    if p.is_empty() {
        return b".".to_vec();
    }
    let rooted = p[0] == b'/';
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in p.split(|&c| c == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|l| *l != b"..") {
                    parts.pop();
                } else if !rooted {
                    parts.push(comp);
                }
            }
            _ => parts.push(comp),
        }
    }
    let mut out = Vec::with_capacity(p.len());
    if rooted {
        out.push(b'/');
    }
    out.extend_from_slice(&parts.join(&b'/'));
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

/// The name of the PAX `x` header for an entry: `path.Join(dir, "PaxHeaders.0", base)` where
/// `dir`/`base` is Go's `path.Split` of the real name.
pub fn pax_header_name(real_name: &[u8]) -> Vec<u8> {
    let cut = real_name
        .iter()
        .rposition(|&c| c == b'/')
        .map_or(0, |i| i + 1);
    let (dir, base) = real_name.split_at(cut);
    // path.Join ignores empty elements, then cleans.
    let mut joined = Vec::new();
    for part in [dir, b"PaxHeaders.0".as_slice(), base] {
        if part.is_empty() {
            continue;
        }
        if !joined.is_empty() {
            joined.push(b'/');
        }
        joined.extend_from_slice(part);
    }
    clean_path(&joined)
}

/// Which formats remain possible (Go's `Format` bit set, restricted to what matters here).
#[derive(Debug, Clone, Copy)]
struct Allowed {
    ustar: bool,
    pax: bool,
    gnu: bool,
}

const BASIC_KEYS: [&[u8]; 10] = [
    b"path",
    b"linkpath",
    b"size",
    b"uid",
    b"gid",
    b"uname",
    b"gname",
    b"mtime",
    b"atime",
    b"ctime",
];

/// Go's `allowedFormats`: which encodings can hold `h`, and the PAX records it would need.
/// PAX records by key.
type Records = BTreeMap<Vec<u8>, Vec<u8>>;

fn allowed_formats(h: &TarHeader) -> Result<(Allowed, Records), HeaderError> {
    let mut f = Allowed {
        ustar: true,
        pax: true,
        gnu: true,
    };
    let mut pax: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut prefer_pax = false;
    let mut why: Vec<String> = Vec::new();

    let mut verify_string = |s: &[u8],
                             size: usize,
                             name: &str,
                             key: &'static [u8],
                             f: &mut Allowed,
                             pax: &mut BTreeMap<Vec<u8>, Vec<u8>>| {
        let too_long = s.len() > size;
        let allow_long_gnu = key == b"path" || key == b"linkpath";
        if s.contains(&0) || (too_long && !allow_long_gnu) {
            f.gnu = false;
        }
        if !is_ascii(s) || too_long {
            let can_split = key == b"path";
            if !can_split || split_ustar_path(s).is_none() {
                why.push(format!(
                    "USTAR cannot encode {name}={:?}",
                    String::from_utf8_lossy(s)
                ));
                f.ustar = false;
            }
            pax.insert(key.to_vec(), s.to_vec());
        }
        if h.pax_records.get(key).is_some_and(|v| v == s) {
            pax.insert(key.to_vec(), s.to_vec());
        }
    };
    verify_string(&h.name, NAME_SIZE, "Name", b"path", &mut f, &mut pax);
    verify_string(
        &h.linkname,
        NAME_SIZE,
        "Linkname",
        b"linkpath",
        &mut f,
        &mut pax,
    );
    verify_string(&h.uname, 32, "Uname", b"uname", &mut f, &mut pax);
    verify_string(&h.gname, 32, "Gname", b"gname", &mut f, &mut pax);

    let mut verify_numeric = |n: i64,
                              size: usize,
                              name: &str,
                              key: Option<&'static [u8]>,
                              f: &mut Allowed,
                              pax: &mut BTreeMap<Vec<u8>, Vec<u8>>| {
        if !fits_in_base256(size, n) {
            f.gnu = false;
        }
        if !fits_in_octal(size, n) {
            f.ustar = false;
            match key {
                None => {
                    why.push(format!("PAX cannot encode {name}={n}"));
                    f.pax = false;
                }
                Some(k) => {
                    pax.insert(k.to_vec(), n.to_string().into_bytes());
                }
            }
        }
        if let Some(k) = key
            && h.pax_records
                .get(k)
                .is_some_and(|v| *v == n.to_string().into_bytes())
        {
            pax.insert(k.to_vec(), n.to_string().into_bytes());
        }
    };
    verify_numeric(h.mode, 8, "Mode", None, &mut f, &mut pax);
    verify_numeric(h.uid, 8, "Uid", Some(b"uid"), &mut f, &mut pax);
    verify_numeric(h.gid, 8, "Gid", Some(b"gid"), &mut f, &mut pax);
    verify_numeric(h.size, 12, "Size", Some(b"size"), &mut f, &mut pax);
    verify_numeric(h.devmajor, 8, "Devmajor", None, &mut f, &mut pax);
    verify_numeric(h.devminor, 8, "Devminor", None, &mut f, &mut pax);

    let mut verify_time = |ts: Option<Timestamp>,
                           key: &'static [u8],
                           f: &mut Allowed,
                           pax: &mut BTreeMap<Vec<u8>, Vec<u8>>| {
        let Some(ts) = ts else { return };
        // 12-byte fields always fit base-256.
        let is_mtime = key == b"mtime";
        let fits = fits_in_octal(12, ts.sec);
        if !is_mtime || !fits {
            f.ustar = false;
        }
        if !is_mtime || !fits || ts.nsec != 0 {
            prefer_pax = true;
            pax.insert(key.to_vec(), format_pax_time(ts));
        }
        if h.pax_records
            .get(key)
            .is_some_and(|v| *v == format_pax_time(ts))
        {
            pax.insert(key.to_vec(), format_pax_time(ts));
        }
    };
    verify_time(Some(h.mtime), b"mtime", &mut f, &mut pax);
    verify_time(h.atime, b"atime", &mut f, &mut pax);
    verify_time(h.ctime, b"ctime", &mut f, &mut pax);

    match h.typeflag {
        typeflag::REG
        | typeflag::CHAR
        | typeflag::BLOCK
        | typeflag::FIFO
        | typeflag::GNU_SPARSE
            if h.name.last() == Some(&b'/') =>
        {
            return Err(HeaderError::TrailingSlash);
        }
        typeflag::XHEADER | typeflag::GNU_LONGNAME | typeflag::GNU_LONGLINK | typeflag::XGLOBAL => {
            return Err(HeaderError::SpecialType(h.typeflag));
        }
        _ => {}
    }
    if !is_header_only(h.typeflag) && h.size < 0 {
        return Err(HeaderError::NegativeSize);
    }

    if !h.pax_records.is_empty() {
        for (k, v) in &h.pax_records {
            if pax.contains_key(k) {
                continue;
            }
            if !BASIC_KEYS.contains(&k.as_slice()) && !k.starts_with(b"GNU.sparse") {
                pax.insert(k.clone(), v.clone());
            }
        }
        f.ustar = false;
        f.gnu = false;
    }
    for (k, v) in &pax {
        if !valid_pax_record(k, v) {
            return Err(HeaderError::InvalidPaxRecord {
                key: String::from_utf8_lossy(k).into_owned(),
            });
        }
    }

    if h.format == WantFormat::Pax {
        // PAX implies USTAR allowed too, unless a sub-second or extra time wants PAX.
        f.ustar &= !prefer_pax;
        f.gnu = false;
    }
    if !f.ustar && !f.pax {
        if f.gnu {
            return Err(HeaderError::NeedsGnu);
        }
        return Err(HeaderError::Unencodable(why.join("; ")));
    }
    Ok((f, pax))
}

/// Fill the V7 + USTAR-shared fields (Go's `templateV7Plus`). `ascii_only` applies `toASCII` to
/// the strings first (the PAX main header does this).
fn template(h: &TarHeader, ascii_only: bool) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    let s = |x: &[u8]| if ascii_only { to_ascii(x) } else { x.to_vec() };
    b[156] = h.typeflag;
    format_string(&mut b[0..100], &s(&h.name));
    format_string(&mut b[157..257], &s(&h.linkname));
    format_octal(&mut b[100..108], h.mode);
    format_octal(&mut b[108..116], h.uid);
    format_octal(&mut b[116..124], h.gid);
    format_octal(&mut b[124..136], h.size);
    format_octal(&mut b[136..148], h.mtime.sec);
    format_string(&mut b[265..297], &s(&h.uname));
    format_string(&mut b[297..329], &s(&h.gname));
    format_octal(&mut b[329..337], h.devmajor);
    format_octal(&mut b[337..345], h.devminor);
    b
}

/// Set the `ustar\0` `00` magic and the checksum (Go's `setFormat` for USTAR/PAX).
fn finish_block(b: &mut [u8; BLOCK]) {
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    let sum = checksum(b);
    format_octal(&mut b[148..155], sum);
    b[155] = b' ';
}

/// Unsigned byte sum of a header block with the checksum field counted as eight spaces.
pub fn checksum(b: &[u8; BLOCK]) -> i64 {
    b.iter()
        .enumerate()
        .map(|(i, &c)| if (148..156).contains(&i) { b' ' } else { c } as i64)
        .sum()
}

/// Round to the nearest second, halves up (Go `time.Round(time.Second)`).
fn round_second(t: Timestamp) -> Timestamp {
    if t.nsec >= 500_000_000 {
        Timestamp::from_secs(t.sec.saturating_add(1))
    } else {
        Timestamp::from_secs(t.sec)
    }
}

/// Encode one header exactly as Go's `tar.Writer.WriteHeader` does.
pub fn encode(header: &TarHeader) -> Result<Encoded, HeaderError> {
    let mut h = header.clone();
    if h.typeflag == typeflag::REGA {
        h.typeflag = if h.name.last() == Some(&b'/') {
            typeflag::DIR
        } else {
            typeflag::REG
        };
    }
    if h.format == WantFormat::Unknown {
        h.mtime = round_second(h.mtime);
        h.atime = None;
        h.ctime = None;
    }
    let (allowed, pax) = allowed_formats(&h)?;
    let data_len = if is_header_only(h.typeflag) {
        0
    } else {
        h.size.max(0) as u64
    };

    if allowed.ustar {
        let mut prefix: &[u8] = b"";
        let mut main = h.clone();
        if let Some((p, s)) = split_ustar_path(&h.name) {
            prefix = p;
            main.name = s.to_vec();
        }
        let mut b = template(&main, false);
        format_string(&mut b[345..500], prefix);
        finish_block(&mut b);
        return Ok(Encoded {
            blocks: b.to_vec(),
            chosen: Chosen::Ustar,
            data_len,
        });
    }

    // PAX: the extended header (records sorted by key; BTreeMap iterates in byte order).
    let mut blocks = Vec::new();
    if !pax.is_empty() {
        let mut data = Vec::new();
        for (k, v) in &pax {
            data.extend_from_slice(&format_pax_record(k, v));
        }
        if data.len() > MAX_PAX_DATA {
            return Err(HeaderError::PaxTooLarge(data.len()));
        }
        let mut name = to_ascii(&pax_header_name(&h.name));
        name.truncate(NAME_SIZE);
        while name.last() == Some(&b'/') {
            name.pop();
        }
        let mut x = [0u8; BLOCK];
        x[156] = typeflag::XHEADER;
        format_string(&mut x[0..100], &name);
        format_octal(&mut x[100..108], 0);
        format_octal(&mut x[108..116], 0);
        format_octal(&mut x[116..124], 0);
        format_octal(&mut x[124..136], data.len() as i64);
        format_octal(&mut x[136..148], 0);
        finish_block(&mut x);
        blocks.extend_from_slice(&x);
        let pad = padding(data.len() as u64);
        blocks.extend_from_slice(&data);
        blocks.resize(blocks.len() + pad, 0);
    }
    let mut b = template(&h, true);
    finish_block(&mut b);
    blocks.extend_from_slice(&b);
    Ok(Encoded {
        blocks,
        chosen: Chosen::Pax,
        data_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(name: &str, flag: u8, mode: i64) -> TarHeader {
        TarHeader {
            name: name.as_bytes().to_vec(),
            typeflag: flag,
            mode,
            ..TarHeader::default()
        }
    }

    fn field(b: &[u8], range: std::ops::Range<usize>) -> &[u8] {
        &b[range]
    }

    #[test]
    fn octal_fields() {
        let mut f = [0xffu8; 8];
        format_octal(&mut f, 0o755);
        assert_eq!(&f, b"0000755\0");
        format_octal(&mut f, 0o40755);
        assert_eq!(&f, b"0040755\0");
        // 8^7 does not fit: written as zero.
        format_octal(&mut f, 2_097_152);
        assert_eq!(&f, b"0000000\0");
        format_octal(&mut f, 2_097_151);
        assert_eq!(&f, b"7777777\0");
        format_octal(&mut f, -1);
        assert_eq!(&f, b"0000000\0");
        let mut s = [0u8; 12];
        format_octal(&mut s, 15);
        assert_eq!(&s, b"00000000017\0");
        format_octal(&mut s, 1 << 33);
        assert_eq!(&s, b"00000000000\0");
    }

    #[test]
    fn octal_fields_match_formatted_digits() {
        // the digits Go's formatOctal writes, from Rust's own formatting
        let values = [
            0,
            1,
            7,
            8,
            0o777,
            2_097_151,
            2_097_152,
            1 << 33,
            i64::MAX,
            -1,
            i64::MIN,
        ];
        for len in 1..=30 {
            for &x in &values {
                let x = if fits_in_octal(len, x) { x } else { 0 };
                let mut want = vec![0xaa; len];
                let digits = format!("{:0width$o}", x, width = len - 1);
                format_string(&mut want, digits.as_bytes());
                let mut got = vec![0xaa; len];
                format_octal(&mut got, x);
                assert_eq!(got, want, "len {len}, x {x}");
            }
        }
    }

    #[test]
    fn string_truncation_and_trailing_slash() {
        let mut f = [0xffu8; 5];
        format_string(&mut f, b"ab");
        assert_eq!(&f, b"ab\0\xff\xff");
        format_string(&mut f, b"abcde");
        assert_eq!(&f, b"abcde");
        format_string(&mut f, b"abcdefg");
        assert_eq!(&f, b"abcde");
        // Truncated field ending in a run of slashes: NUL at the first slash of the run.
        format_string(&mut f, b"ab///x");
        assert_eq!(&f, b"ab\0//");
        format_string(&mut f, b"/////x");
        assert_eq!(&f, b"\0////");
        // Not truncated: the trailing slash stays.
        format_string(&mut f, b"abc/");
        assert_eq!(&f, b"abc/\0");
    }

    #[test]
    fn pax_records_count_themselves() {
        assert_eq!(format_pax_record(b"uid", b"3000000"), b"15 uid=3000000\n");
        assert_eq!(format_pax_record(b"gid", b"3000001"), b"15 gid=3000001\n");
        // 9 + 90 + 3 = 102 → 105 with "105"; base 99+... check the re-count boundary.
        let v = vec![b'a'; 93];
        let rec = format_pax_record(b"path", &v);
        assert_eq!(rec.len(), 103);
        assert!(rec.starts_with(b"103 path="));
        let v = vec![b'a'; 94]; // base 101 → "101"+... = 104
        let rec = format_pax_record(b"path", &v);
        assert!(
            rec.starts_with(b"104 path="),
            "{}",
            String::from_utf8_lossy(&rec)
        );
        assert_eq!(rec.len(), 104);
        // The re-check case: base 98 → 100 with 2 digits, but 100 has 3 digits → 101.
        let v = vec![b'a'; 91]; // 4 + 91 + 3 = 98
        let rec = format_pax_record(b"path", &v);
        assert_eq!(rec.len(), 101);
        assert!(rec.starts_with(b"101 "));
    }

    #[test]
    fn pax_time() {
        assert_eq!(format_pax_time(Timestamp::from_secs(5)), b"5");
        let t = Timestamp {
            sec: 1_700_000_000,
            nsec: 500_000_000,
        };
        assert_eq!(format_pax_time(t), b"1700000000.5");
        let t = Timestamp {
            sec: -1,
            nsec: 500_000_000,
        };
        assert_eq!(format_pax_time(t), b"-0.5");
        let t = Timestamp {
            sec: -2,
            nsec: 250_000_000,
        }; // -1.75
        assert_eq!(format_pax_time(t), b"-1.75");
    }

    #[test]
    fn ustar_split() {
        let prefix = format!("opt/{}", "a".repeat(60));
        let name = format!("{prefix}/{}.txt", "b".repeat(60));
        let (p, s) = split_ustar_path(name.as_bytes()).unwrap();
        assert_eq!(p, prefix.as_bytes());
        assert_eq!(s, format!("{}.txt", "b".repeat(60)).as_bytes());
        // Unsplittable: the base is longer than 100.
        let long = format!("opt/{}", "c".repeat(120));
        assert!(split_ustar_path(long.as_bytes()).is_none());
        // Leading slash only: i == 0.
        let lead = format!("/{}", "d".repeat(101));
        assert!(split_ustar_path(lead.as_bytes()).is_none());
        // Directory with trailing slash: the slash is ignored when searching.
        let dir = format!("{}/{}/", "e".repeat(50), "f".repeat(99));
        let (p, s) = split_ustar_path(dir.as_bytes()).unwrap();
        assert_eq!(p, "e".repeat(50).as_bytes());
        assert_eq!(s, format!("{}/", "f".repeat(99)).as_bytes());
        assert!(split_ustar_path(b"short").is_none());
    }

    #[test]
    fn pax_header_names() {
        assert_eq!(pax_header_name(b"opt/x.txt"), b"opt/PaxHeaders.0/x.txt");
        assert_eq!(pax_header_name(b"a/b/"), b"a/b/PaxHeaders.0");
        assert_eq!(pax_header_name(b"x"), b"PaxHeaders.0/x");
        assert_eq!(pax_header_name(b""), b"PaxHeaders.0");
        assert_eq!(pax_header_name(b"a//b"), b"a/PaxHeaders.0/b");
    }

    #[test]
    fn ustar_regular_file_block() {
        let mut h = hdr("etc/passwd", b'0', 0o644);
        h.size = 15;
        h.mtime = Timestamp::from_secs(1_700_000_000);
        let e = encode(&h).unwrap();
        assert_eq!(e.chosen, Chosen::Ustar);
        assert_eq!(e.blocks.len(), 512);
        let b = &e.blocks;
        assert_eq!(field(b, 0..11), b"etc/passwd\0");
        assert_eq!(field(b, 100..108), b"0000644\0");
        assert_eq!(field(b, 108..116), b"0000000\0");
        assert_eq!(field(b, 124..136), b"00000000017\0");
        assert_eq!(field(b, 136..148), b"14524770400\0");
        assert_eq!(b[156], b'0');
        assert_eq!(field(b, 257..265), b"ustar\x0000");
        assert_eq!(field(b, 329..337), b"0000000\0");
        assert_eq!(field(b, 337..345), b"0000000\0");
        assert_eq!(b[155], b' ');
        assert_eq!(b[154], 0);
        let mut blk = [0u8; 512];
        blk.copy_from_slice(b);
        let want = format!("{:06o}\0 ", checksum(&blk));
        assert_eq!(field(b, 148..156), want.as_bytes());
        assert_eq!(e.data_len, 15);
        assert_eq!(e.padding(), 497);
    }

    #[test]
    fn checksum_example_from_spec() {
        // A directory `etc/` 0755 0:0 mtime 0, no type bits: checksum is fixed by the bytes.
        let h = hdr("etc/", b'5', 0o755);
        let e = encode(&h).unwrap();
        let b = &e.blocks;
        let mut sum: i64 = 0;
        for (i, &c) in b.iter().enumerate() {
            sum += if (148..156).contains(&i) {
                32
            } else {
                c as i64
            };
        }
        assert_eq!(field(b, 148..156), format!("{sum:06o}\0 ").as_bytes());
    }

    #[test]
    fn big_ids_use_pax_with_zero_fields() {
        let mut h = hdr("f", b'0', 0o644);
        h.uid = 3_000_000;
        h.gid = 3_000_001;
        let e = encode(&h).unwrap();
        assert_eq!(e.chosen, Chosen::Pax);
        assert_eq!(e.blocks.len(), 3 * 512);
        let x = &e.blocks[..512];
        assert_eq!(field(x, 0..16), b"PaxHeaders.0/f\0\0");
        assert_eq!(x[156], b'x');
        assert_eq!(field(x, 100..108), b"0000000\0");
        assert_eq!(field(x, 124..136), b"00000000036\0");
        assert_eq!(field(x, 136..148), b"00000000000\0");
        // uname, gname, devmajor, devminor, prefix all NUL in the x header.
        assert!(x[265..500].iter().all(|&c| c == 0));
        assert_eq!(
            field(&e.blocks, 512..542),
            b"15 gid=3000001\n15 uid=3000000\n"
        );
        assert!(e.blocks[542..1024].iter().all(|&c| c == 0));
        let m = e.main_block();
        assert_eq!(field(m, 108..116), b"0000000\0");
        assert_eq!(field(m, 116..124), b"0000000\0");
        assert_eq!(field(m, 329..337), b"0000000\0");
        assert_eq!(field(m, 257..265), b"ustar\x0000");
    }

    #[test]
    fn non_ascii_name_is_dropped_in_header_fields() {
        let h = hdr("opt/ü.txt", b'0', 0o644);
        let e = encode(&h).unwrap();
        assert_eq!(e.chosen, Chosen::Pax);
        assert_eq!(field(&e.blocks, 0..21), b"opt/PaxHeaders.0/.txt");
        assert_eq!(field(&e.blocks, 512..531), "19 path=opt/ü.txt\n".as_bytes());
        assert_eq!(field(e.main_block(), 0..9), b"opt/.txt\0");
    }

    #[test]
    fn long_unsplittable_name_truncated_in_main_header() {
        let name = format!("opt/{}", "c".repeat(120));
        assert_eq!(name.len(), 124);
        let h = hdr(&name, b'0', 0o644);
        let e = encode(&h).unwrap();
        assert_eq!(e.chosen, Chosen::Pax);
        let rec = format!("134 path={name}\n");
        assert_eq!(&e.blocks[512..512 + rec.len()], rec.as_bytes());
        assert_eq!(field(e.main_block(), 0..100), &name.as_bytes()[..100]);
        assert_eq!(field(e.main_block(), 345..500), &[0u8; 155][..]);
        // The x header name is cut to 100 bytes.
        let xname = format!("opt/PaxHeaders.0/{}", "c".repeat(120));
        assert_eq!(field(&e.blocks, 0..100), &xname.as_bytes()[..100]);
    }

    #[test]
    fn splittable_name_stays_ustar() {
        let name = format!("opt/{}/{}.txt", "a".repeat(60), "b".repeat(57));
        assert_eq!(name.len(), 126);
        let e = encode(&hdr(&name, b'0', 0o644)).unwrap();
        assert_eq!(e.chosen, Chosen::Ustar);
        let suffix = format!("{}.txt\0", "b".repeat(57));
        assert_eq!(field(&e.blocks, 0..suffix.len()), suffix.as_bytes());
        let prefix = format!("opt/{}\0", "a".repeat(60));
        assert_eq!(field(&e.blocks, 345..345 + prefix.len()), prefix.as_bytes());
    }

    #[test]
    fn xattr_forces_pax() {
        let mut h = hdr("usr/bin/ping", b'0', 0o755);
        let cap: Vec<u8> = (0..20).collect();
        h.pax_records
            .insert(b"SCHILY.xattr.security.capability".to_vec(), cap.clone());
        let e = encode(&h).unwrap();
        assert_eq!(e.chosen, Chosen::Pax);
        let mut want = b"57 SCHILY.xattr.security.capability=".to_vec();
        want.extend_from_slice(&cap);
        want.push(b'\n');
        assert_eq!(&e.blocks[512..512 + 57], &want[..]);
        assert_eq!(
            field(&e.blocks, 0..30),
            b"usr/bin/PaxHeaders.0/ping\0\0\0\0\0"
        );
    }

    #[test]
    fn basic_keys_in_pax_records_are_ignored_unless_equal() {
        let mut h = hdr("f", b'0', 0o644);
        h.pax_records.insert(b"uid".to_vec(), b"7".to_vec());
        h.pax_records.insert(b"gid".to_vec(), b"0".to_vec());
        let e = encode(&h).unwrap();
        // gid matches the field (0) so it is kept; uid=7 conflicts and is dropped.
        assert_eq!(field(&e.blocks, 512..521), b"8 gid=0\n\0");
    }

    #[test]
    fn failures() {
        let mut h = hdr("dev", b'3', 0o600);
        h.devmajor = 1 << 21;
        assert!(matches!(encode(&h), Err(HeaderError::Unencodable(_))));
        let h = hdr("a\0b", b'0', 0o644);
        assert!(matches!(
            encode(&h),
            Err(HeaderError::InvalidPaxRecord { .. })
        ));
        let h = hdr("f", b'0', 1 << 21);
        assert!(matches!(encode(&h), Err(HeaderError::Unencodable(_))));
        let h = hdr("f/", b'0', 0o644);
        assert_eq!(encode(&h), Err(HeaderError::TrailingSlash));
        let mut h = hdr("f", b'0', 0o644);
        h.size = -1;
        assert_eq!(encode(&h), Err(HeaderError::NegativeSize));
        let mut h = hdr("f", b'0', 1 << 21);
        h.format = WantFormat::Unknown;
        assert_eq!(encode(&h), Err(HeaderError::NeedsGnu));
        let mut h = hdr("f", b'0', 0o644);
        h.pax_records
            .insert(b"SCHILY.xattr.big".to_vec(), vec![b'v'; MAX_PAX_DATA]);
        let err = encode(&h).unwrap_err();
        assert!(err.is_fatal(), "{err}");
    }

    #[test]
    fn sub_second_mtime_prefers_pax() {
        let mut h = hdr("f", b'0', 0o644);
        h.mtime = Timestamp { sec: 10, nsec: 5 };
        let e = encode(&h).unwrap();
        assert_eq!(e.chosen, Chosen::Pax);
        assert_eq!(field(&e.blocks, 512..534), b"22 mtime=10.000000005\n");
        // Unknown format rounds instead and stays USTAR.
        h.format = WantFormat::Unknown;
        h.mtime = Timestamp {
            sec: 10,
            nsec: 500_000_000,
        };
        let e = encode(&h).unwrap();
        assert_eq!(e.chosen, Chosen::Ustar);
        assert_eq!(field(&e.blocks, 136..148), b"00000000013\0");
    }

    #[test]
    fn negative_mtime_uses_pax_and_zero_field() {
        let mut h = hdr("f", b'0', 0o644);
        h.mtime = Timestamp::from_secs(-100);
        let e = encode(&h).unwrap();
        assert_eq!(field(&e.blocks, 512..526), b"14 mtime=-100\n");
        assert_eq!(field(e.main_block(), 136..148), b"00000000000\0");
    }

    #[test]
    fn rega_is_promoted() {
        let e = encode(&hdr("d/", 0, 0o755)).unwrap();
        assert_eq!(e.blocks[156], b'5');
        let e = encode(&hdr("f", 0, 0o644)).unwrap();
        assert_eq!(e.blocks[156], b'0');
    }

    #[test]
    fn header_only_types_carry_no_data() {
        let mut h = hdr("l", b'2', 0o777);
        h.size = 99;
        let e = encode(&h).unwrap();
        assert_eq!(e.data_len, 0);
        assert_eq!(field(&e.blocks, 124..136), b"00000000143\0");
    }
}
