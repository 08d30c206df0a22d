//! The fields of a header block and their codec: numbers (octal or base-256) and
//! NUL-terminated strings, parsed as Go's reader does and formatted as Go's writer does
//! (`strconv.go`, `format.go`).

use std::ops::Range;

use super::BLOCK;

/// One fixed field of a header block: its name (as POSIX and Go call it), offset and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The field's name, e.g. `"mode"`.
    pub name: &'static str,
    /// Offset of its first byte in the block.
    pub at: usize,
    /// Its length in bytes.
    pub len: usize,
}

impl Field {
    const fn new(name: &'static str, at: usize, len: usize) -> Field {
        Field { name, at, len }
    }

    /// The byte range of the field in a block.
    #[inline]
    pub const fn range(self) -> Range<usize> {
        self.at..self.at + self.len
    }

    /// The field's bytes in `blk`.
    #[inline]
    pub fn of(self, blk: &[u8; BLOCK]) -> &[u8] {
        &blk[self.range()]
    }

    /// The field's bytes in `blk`, to write.
    #[inline]
    pub fn of_mut(self, blk: &mut [u8; BLOCK]) -> &mut [u8] {
        &mut blk[self.range()]
    }
}

/// Entry name (V7).
pub const NAME: Field = Field::new("name", 0, 100);
/// Mode (V7).
pub const MODE: Field = Field::new("mode", 100, 8);
/// Numeric owner (V7).
pub const UID: Field = Field::new("uid", 108, 8);
/// Numeric group (V7).
pub const GID: Field = Field::new("gid", 116, 8);
/// Data size (V7).
pub const SIZE: Field = Field::new("size", 124, 12);
/// Modification time in seconds (V7).
pub const MTIME: Field = Field::new("mtime", 136, 12);
/// Header checksum (V7).
pub const CHKSUM: Field = Field::new("chksum", 148, 8);
/// Typeflag (V7's link flag).
pub const TYPEFLAG: Field = Field::new("typeflag", 156, 1);
/// Link target (V7).
pub const LINKNAME: Field = Field::new("linkname", 157, 100);
/// Magic: `ustar\0` (USTAR, PAX, STAR) or `ustar ` (GNU).
pub const MAGIC: Field = Field::new("magic", 257, 6);
/// Version: `00` (USTAR) or ` \0` (GNU).
pub const VERSION: Field = Field::new("version", 263, 2);
/// Owner name (USTAR).
pub const UNAME: Field = Field::new("uname", 265, 32);
/// Group name (USTAR).
pub const GNAME: Field = Field::new("gname", 297, 32);
/// Device major number (USTAR).
pub const DEVMAJOR: Field = Field::new("devmajor", 329, 8);
/// Device minor number (USTAR).
pub const DEVMINOR: Field = Field::new("devminor", 337, 8);
/// Name prefix (USTAR).
pub const PREFIX: Field = Field::new("prefix", 345, 155);
/// Unused tail of a USTAR block.
pub const PAD: Field = Field::new("pad", 500, 12);

/// The fields of a USTAR block, in order; together they cover the block.
pub const FIELDS: [Field; 17] = [
    NAME, MODE, UID, GID, SIZE, MTIME, CHKSUM, TYPEFLAG, LINKNAME, MAGIC, VERSION, UNAME, GNAME,
    DEVMAJOR, DEVMINOR, PREFIX, PAD,
];

/// Name prefix of a STAR block.
pub const STAR_PREFIX: Field = Field::new("prefix", 345, 131);
/// Access time of a STAR block.
pub const STAR_ATIME: Field = Field::new("atime", 476, 12);
/// Change time of a STAR block.
pub const STAR_CTIME: Field = Field::new("ctime", 488, 12);
/// The `tar\0` trailer that tells a STAR block from a USTAR one.
pub const STAR_TRAILER: Field = Field::new("trailer", 508, 4);
/// Access time of a GNU block.
pub const GNU_ATIME: Field = Field::new("atime", 345, 12);
/// Change time of a GNU block.
pub const GNU_CTIME: Field = Field::new("ctime", 357, 12);
/// Sparse map of an old GNU `'S'` block: four 24-byte (offset, length) pairs, then the
/// "is extended" byte.
pub const GNU_SPARSE: Field = Field::new("sparse", 386, 97);
/// Expanded size of an old GNU `'S'` block.
pub const GNU_REALSIZE: Field = Field::new("realsize", 483, 12);

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
#[inline]
pub fn cstr(b: &[u8]) -> &[u8] {
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

/// Numeric-field parser that remembers the first field that failed, like Go's `parser`.
#[derive(Debug, Default)]
pub(crate) struct Numbers {
    /// The first field that did not parse.
    pub(crate) failed: Option<&'static str>,
    /// A field was base-256 (a GNU extension).
    pub(crate) base256: bool,
}

impl Numbers {
    /// The number in `field` of `blk` (0 if it does not parse).
    #[inline]
    pub(crate) fn field(&mut self, blk: &[u8; BLOCK], field: Field) -> i64 {
        self.num(field.name, field.of(blk))
    }

    /// The number in `bytes`, the field `name` (0 if it does not parse).
    pub(crate) fn num(&mut self, name: &'static str, bytes: &[u8]) -> i64 {
        if bytes.first().is_some_and(|&c| c & 0x80 != 0) {
            self.base256 = true;
        }
        match parse_numeric(bytes) {
            Some(v) => v,
            None => {
                self.failed.get_or_insert(name);
                0
            }
        }
    }
}

/// Go's `fitsInOctal` for a field of `len` bytes (one byte is kept for the NUL).
#[inline]
pub fn fits_in_octal(len: usize, x: i64) -> bool {
    let bits = (len as u32 - 1) * 3;
    x >= 0 && (len >= 22 || x < 1i64 << bits)
}

/// Go's `fitsInBase256` for a field of `len` bytes.
#[inline]
pub fn fits_in_base256(len: usize, x: i64) -> bool {
    if len >= 9 {
        return true;
    }
    let bits = (len as u32 - 1) * 8;
    x >= -(1i64 << bits) && x < 1i64 << bits
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
