//! GNU gzip's output, byte for byte: what `gzip -n -<level> < file` writes (gzip 1.x).
//!
//! The stream is a gzip member (RFC 1952) with the header GNU gzip writes for standard input
//! under `-n`: no flags, MTIME 0, XFL 2 at `-9` and 4 at `-1` (else 0), OS 3 (Unix); then
//! GNU gzip's own deflate ([`Flavour::GnuGzip`]), then CRC-32 and the size mod 2³².
//!
//! ```
//! use layerproof_compress::gnu_gzip;
//!
//! let gz = gnu_gzip::compress(&b"hello\n"[..], Vec::new(), 9).unwrap();
//! assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
//! ```
//!
//! Input is read as gzip reads a regular file (whole reads of the free window space); see the
//! [`zlib`](super::zlib) module for what that means for pipes.

use std::io::{self, Read, Write};

use super::zlib::{Deflater, Flavour, gzip_member};

/// The gzip header GNU gzip writes for standard input with `-n` at `level`.
pub fn header(level: u32) -> [u8; 10] {
    let xfl = match level {
        1 => 4,
        9 => 2,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]
}

/// GNU gzip settings that change the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// `-1` … `-9` (default 6).
    pub level: u32,
    /// `--rsyncable`: byte-aligned block ends where the rolling sum of the last 4096 bytes is a
    /// multiple of 4096 (Ubuntu's `livecd-rootfs` makes its rootfs tarballs with
    /// `gzip -9 --rsyncable`).
    pub rsyncable: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            level: 6,
            rsyncable: false,
        }
    }
}

/// Compress `input` as `gzip -n -<level>` does from standard input, into `out`.
pub fn compress<R: Read, W: Write>(input: R, out: W, level: u32) -> io::Result<W> {
    compress_with(
        input,
        out,
        &Options {
            level,
            rsyncable: false,
        },
    )
}

/// Compress `input` as `gzip -n` does from standard input with `opts`, into `out`.
pub fn compress_with<R: Read, W: Write>(input: R, out: W, opts: &Options) -> io::Result<W> {
    let invalid = |e| io::Error::new(io::ErrorKind::InvalidInput, e);
    let mut d = Deflater::new(opts.level, Flavour::GnuGzip).map_err(invalid)?;
    if opts.rsyncable {
        d.set_rsyncable().map_err(invalid)?;
    }
    gzip_member(input, out, &header(opts.level), d)
}
