//! A Go `archive/tar` `Writer`, exactly: header value → 512-byte blocks (spec §6).
//!
//! [`encode`] is a pure function from a [`Header`] (the workspace's one `tar.Header`, of which
//! it encodes the fields Go's writer writes) and the [`WantFormat`] to the bytes
//! `tar.Writer.WriteHeader` emits: either one USTAR block, or
//! a PAX `x` header (block + records padded to 512) followed by the main block. The rules were
//! learned from Go's `archive/tar` (`writer.go`, `common.go:allowedFormats`, `format.go`,
//! `strconv.go`; unchanged in substance from Go 1.10 to 1.27) and are restated here in our own
//! terms:
//!
//! * **Format choice** ([`WantFormat::Pax`], what Docker passes): USTAR
//!   whenever every field fits, PAX otherwise, never GNU. A name longer than 100 bytes may still
//!   be USTAR through the prefix split ([`split_ustar_path`]).
//! * **PAX records** are sorted by key (byte order), each `"%d %s=%s\n"` with a self-counting
//!   length ([`format_pax_record`]).
//! * The `x` header is named `path.Join(dir, "PaxHeaders.0", base)` of the real name, non-ASCII
//!   dropped, cut to 100 bytes, trailing `/` trimmed; its mode/uid/gid/mtime are octal zero and its
//!   uname/gname/devmajor/devminor are all NUL.
//! * The main PAX header drops non-ASCII bytes from its string fields ([`to_ascii`]) and writes
//!   numbers that overflow as zero.
//! * [`field::format_string`]: truncation without NUL, and a trailing-`/` run cut at the field
//!   end is replaced by a NUL. [`field::format_octal`]: zero-padded, NUL-terminated, zero when it
//!   overflows.
//! * Checksum: unsigned byte sum with the field as spaces, written `%06o\0 `.
//!
//! Failures follow Go: a header Go cannot encode yields [`HeaderError`]; for every variant except
//! [`HeaderError::PaxTooLarge`] Go's writer wrote nothing and stays usable (the error is
//! "non-fatal"), which is why moby's Tarballer can log and skip the entry (spec §5.1).
//!
//! The field and PAX codecs are `layerproof_archive::tar`'s, shared with the reader; this module
//! holds only the writer's choices.

use layerproof_archive::Header;
use layerproof_archive::tar::field::{self, format_octal, format_string};
use layerproof_archive::tar::pax::format_pax_record;
use layerproof_archive::tar::{
    BLOCK, MAX_SPECIAL_FILE_SIZE, Timestamp, checksums, is_header_only, padding, typeflag,
};

mod formats;

use formats::allowed_formats;

const NAME_SIZE: usize = field::NAME.len;
const PREFIX_SIZE: usize = field::PREFIX.len;

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

/// Go's `isASCII`: every byte is below 0x80 and not NUL. (Go iterates runes, but every byte of a
/// multi-byte or invalid UTF-8 sequence is ≥ 0x80, so a byte test is equivalent.)
pub fn is_ascii(s: &[u8]) -> bool {
    s.iter().all(|&c| c != 0 && c < 0x80)
}

/// Go's `toASCII`: drop every byte that is NUL or ≥ 0x80 (spec §6.1: `opt/ü.txt` → `opt/.txt`).
pub fn to_ascii(s: &[u8]) -> Vec<u8> {
    s.iter().copied().filter(|&c| c != 0 && c < 0x80).collect()
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

/// Fill the V7 + USTAR-shared fields (Go's `templateV7Plus`), with `name` in the name field.
/// `ascii_only` applies `toASCII` to the strings first (the PAX main header does this).
fn template(h: &Header, name: &[u8], ascii_only: bool) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    let s = |x: &[u8]| if ascii_only { to_ascii(x) } else { x.to_vec() };
    b[field::TYPEFLAG.at] = h.typeflag;
    format_string(field::NAME.of_mut(&mut b), &s(name));
    format_string(field::LINKNAME.of_mut(&mut b), &s(&h.linkname));
    format_octal(field::MODE.of_mut(&mut b), h.mode);
    format_octal(field::UID.of_mut(&mut b), h.uid);
    format_octal(field::GID.of_mut(&mut b), h.gid);
    format_octal(field::SIZE.of_mut(&mut b), h.size);
    format_octal(field::MTIME.of_mut(&mut b), h.mtime.sec);
    format_string(field::UNAME.of_mut(&mut b), &s(&h.uname));
    format_string(field::GNAME.of_mut(&mut b), &s(&h.gname));
    format_octal(field::DEVMAJOR.of_mut(&mut b), h.devmajor);
    format_octal(field::DEVMINOR.of_mut(&mut b), h.devminor);
    b
}

/// Set the `ustar\0` `00` magic and the checksum (Go's `setFormat` for USTAR/PAX): the
/// unsigned sum, written `%06o\0 `.
fn finish_block(b: &mut [u8; BLOCK]) {
    field::MAGIC.of_mut(b).copy_from_slice(b"ustar\0");
    field::VERSION.of_mut(b).copy_from_slice(b"00");
    let (sum, _) = checksums(b);
    let chksum = field::CHKSUM.of_mut(b);
    format_octal(&mut chksum[..7], sum);
    chksum[7] = b' ';
}

/// Round to the nearest second, halves up (Go `time.Round(time.Second)`).
fn round_second(t: Timestamp) -> Timestamp {
    if t.nsec >= 500_000_000 {
        Timestamp::from_secs(t.sec.saturating_add(1))
    } else {
        Timestamp::from_secs(t.sec)
    }
}

/// Encode one header exactly as Go's `tar.Writer.WriteHeader` does when asked for `format`
/// (Go's `Header.Format`). [`Header::formats`] and [`Header::offset`] are not read.
pub fn encode(header: &Header, format: WantFormat) -> Result<Encoded, HeaderError> {
    let mut h = header.clone();
    if h.typeflag == typeflag::REGA {
        h.typeflag = if h.name.last() == Some(&b'/') {
            typeflag::DIR
        } else {
            typeflag::REG
        };
    }
    if format == WantFormat::Unknown {
        h.mtime = round_second(h.mtime);
        h.atime = None;
        h.ctime = None;
    }
    let (allowed, pax) = allowed_formats(&h, format)?;
    let data_len = if is_header_only(h.typeflag) {
        0
    } else {
        h.size.max(0) as u64
    };

    if allowed.ustar {
        let (prefix, name) = split_ustar_path(&h.name).unwrap_or((b"", &h.name));
        let mut b = template(&h, name, false);
        format_string(field::PREFIX.of_mut(&mut b), prefix);
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
        if data.len() as u64 > MAX_SPECIAL_FILE_SIZE {
            return Err(HeaderError::PaxTooLarge(data.len()));
        }
        let mut name = to_ascii(&pax_header_name(&h.name));
        name.truncate(NAME_SIZE);
        while name.last() == Some(&b'/') {
            name.pop();
        }
        let mut x = [0u8; BLOCK];
        x[field::TYPEFLAG.at] = typeflag::XHEADER;
        format_string(field::NAME.of_mut(&mut x), &name);
        format_octal(field::MODE.of_mut(&mut x), 0);
        format_octal(field::UID.of_mut(&mut x), 0);
        format_octal(field::GID.of_mut(&mut x), 0);
        format_octal(field::SIZE.of_mut(&mut x), data.len() as i64);
        format_octal(field::MTIME.of_mut(&mut x), 0);
        finish_block(&mut x);
        blocks.extend_from_slice(&x);
        let pad = padding(data.len() as u64);
        blocks.extend_from_slice(&data);
        blocks.resize(blocks.len() + pad, 0);
    }
    let mut b = template(&h, &h.name, true);
    finish_block(&mut b);
    blocks.extend_from_slice(&b);
    Ok(Encoded {
        blocks,
        chosen: Chosen::Pax,
        data_len,
    })
}

#[cfg(test)]
mod tests;
