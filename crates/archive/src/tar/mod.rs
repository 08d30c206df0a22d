//! The tar vocabulary shared by every reader and writer in the workspace (spec §3 step 1, §6).
//!
//! One [`Header`] value mirrors Go's `tar.Header`: [`crate::read`] produces it, the layer
//! writer (`layerproof_layer::tarheader`) encodes it, the raw differ (`layerproof_layer::compare`)
//! and the verifier's layer scan present entries with it. Around it stand the codecs both
//! directions need, each written once:
//!
//! * [`field`]: the 512-byte block's fields ([`field::FIELDS`]) and the numeric and string
//!   field codec (octal and base-256 numbers, NUL-terminated strings), parsing and formatting;
//! * [`pax`]: PAX records and PAX times, parsing and formatting, and how records apply to a
//!   header;
//! * here: the block size, the end-of-archive marker, padding, the header checksum and the
//!   typeflags without data.
//!
//! Every rule is Go's `archive/tar` (`reader.go`, `writer.go`, `strconv.go`, `format.go`,
//! `common.go`), restated in our own terms.

pub mod field;
mod header;
pub mod pax;

pub use header::{BlockFormat, Formats, Header, Timestamp, XATTR_PREFIX, typeflag};

/// Size of a tar block.
pub const BLOCK: usize = 512;

/// The end-of-archive marker Go's `Writer.Close` writes: exactly two zero blocks (spec §5.6).
pub const END_OF_ARCHIVE: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

/// The largest PAX header or GNU long name/link body Go reads or writes (`maxSpecialFileSize`,
/// 1 MiB).
pub const MAX_SPECIAL_FILE_SIZE: u64 = 1 << 20;

/// Zero bytes needed after `len` bytes of data to reach a block boundary.
#[inline]
pub fn padding(len: u64) -> usize {
    ((BLOCK as u64 - len % BLOCK as u64) % BLOCK as u64) as usize
}

/// True for typeflags whose entries never carry data, whatever their size field says (Go's
/// `isHeaderOnlyType`).
#[inline]
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

/// The header checksums of a block: the unsigned and the signed byte sum, with the checksum
/// field counted as eight spaces. Go's writer stores the unsigned one; its reader accepts
/// either.
#[inline]
pub fn checksums(blk: &[u8; BLOCK]) -> (i64, i64) {
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for &c in blk {
        unsigned += i64::from(c);
        signed += i64::from(c as i8);
    }
    for &c in &blk[field::CHKSUM.range()] {
        unsigned += i64::from(b' ') - i64::from(c);
        signed += i64::from(b' ') - i64::from(c as i8);
    }
    (unsigned, signed)
}

#[cfg(test)]
mod tests;
