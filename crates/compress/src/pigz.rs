//! pigz's output, byte for byte (pigz 2.x over zlib 1.2.9+), e.g. `pigz --best --no-time`,
//! which is how debuerreotype makes Debian's official layer blobs.
//!
//! How pigz frames its output (from `pigz.c`, `put_header`, `compress_thread`,
//! `single_compress`, `put_trailer`):
//!
//! * **Header.** `1f 8b 08`, FLG = FNAME (8) if a name is stored + FCOMMENT (16) if a comment
//!   is, MTIME (0 under `--no-time`/`-n`), XFL 2 at levels ≥ 9 and 4 at level 1 (else 0),
//!   OS 3, then the name and comment, each NUL-terminated. `--no-time` (`-m`) keeps the name:
//!   `pigz --best --no-time rootfs.tar` stores `rootfs.tar`; from standard input there is none.
//! * **Blocks.** The input is cut into `block_size` pieces (128 KiB by default, `-b` in KiB).
//!   Each piece is compressed by its own raw zlib stream at the chosen level whose preset
//!   dictionary is the 32 KiB of input before it — so pieces compress independently, in
//!   parallel, and the result does not depend on the number of threads (`-p`): with one thread
//!   pigz keeps a single stream instead, whose history is the same 32 KiB.
//! * **Joins.** A piece other than the last ends with `Z_BLOCK`; if that leaves an odd number of
//!   bits in the last byte, a `Z_SYNC_FLUSH` adds an empty stored block (`00 00 ff ff`); an
//!   even, non-zero number is topped up with empty fixed-code blocks (10 bits each) until the
//!   byte is full; zero needs nothing. The last piece ends with `Z_FINISH`.
//! * **Trailer.** CRC-32 and the length mod 2³², little-endian.
//!
//! Not modelled: `--independent`, `--rsyncable`, levels 0 and 11 (zopfli), zlib/zip framing.
//!
//! ```
//! use layerproof_compress::pigz::{self, Options};
//!
//! let gz = pigz::compress(&b"hello\n"[..], Vec::new(), &Options::best()).unwrap();
//! assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
//! ```
//!
//! Pieces are compressed with rayon, a bounded number at a time (twice the thread count), so
//! memory stays at a few MiB whatever the input size.

use std::io::{self, Read, Write};

use rayon::prelude::*;

use super::zlib::{Deflater, Flavour};

/// pigz's preset dictionary size (`DICT`).
const DICT: usize = 32 * 1024;

/// pigz settings that change the output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Compression level 1–9 (`--best` = 9, default 6).
    pub level: u32,
    /// Bytes per independently compressed piece (`-b`, KiB × 1024; default 128 KiB, at least
    /// 32 KiB).
    pub block_size: usize,
    /// MTIME field: 0 with `--no-time` or `--no-name`, or when reading standard input with
    /// those; otherwise the input file's modification time.
    pub mtime: u32,
    /// File name stored in the header (pigz stores the input file's base name unless `-n`);
    /// `None` from standard input.
    pub name: Option<Vec<u8>>,
    /// Comment stored in the header (`-C`).
    pub comment: Option<Vec<u8>>,
    /// `-p 1`: pigz then keeps one deflate stream across pieces instead of starting each piece
    /// afresh with a 32 KiB dictionary. Same bytes at levels 4–9; at levels 1–3 they differ,
    /// because zlib's greedy parser does not hash the inside of long matches while a preset
    /// dictionary hashes every position (measured: `pigz -1 -p1` ≠ `pigz -1 -p2` = `-p4`).
    pub single_thread: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            level: 6,
            block_size: 128 * 1024,
            mtime: 0,
            name: None,
            comment: None,
            single_thread: false,
        }
    }
}

impl Options {
    /// `pigz --best --no-time` reading standard input.
    pub fn best() -> Options {
        Options {
            level: 9,
            ..Options::default()
        }
    }

    /// `pigz --best --no-time FILE`: as [`Options::best`], with `FILE`'s base name stored.
    pub fn best_named(name: &[u8]) -> Options {
        Options {
            name: Some(name.to_vec()),
            ..Options::best()
        }
    }

    /// The gzip header pigz writes with these options.
    pub fn header(&self) -> Vec<u8> {
        let flags =
            if self.name.is_some() { 8 } else { 0 } | if self.comment.is_some() { 16 } else { 0 };
        let xfl = if self.level >= 9 {
            2
        } else if self.level == 1 {
            4
        } else {
            0
        };
        let mut h = vec![0x1f, 0x8b, 8, flags];
        h.extend_from_slice(&self.mtime.to_le_bytes());
        h.extend_from_slice(&[xfl, 3]);
        for field in [&self.name, &self.comment].into_iter().flatten() {
            h.extend_from_slice(field);
            h.push(0);
        }
        h
    }

    fn check(&self) -> io::Result<()> {
        let bad = |what: String| Err(io::Error::new(io::ErrorKind::InvalidInput, what));
        if !(1..=9).contains(&self.level) {
            return bad(format!(
                "pigz level {} is not modelled (1–9 are)",
                self.level
            ));
        }
        if self.block_size < DICT || self.block_size > 1 << 29 {
            return bad(format!("pigz block size {} out of range", self.block_size));
        }
        for field in [&self.name, &self.comment].into_iter().flatten() {
            if field.contains(&0) {
                return bad("a gzip header name or comment cannot contain NUL".into());
            }
        }
        Ok(())
    }
}

/// One piece of input with what it needs to be compressed on its own.
struct Piece {
    dict: Vec<u8>,
    data: Vec<u8>,
    last: bool,
}

/// Compress one piece as a pigz worker does; the result ends on a byte boundary.
fn compress_piece(level: u32, piece: &Piece) -> Vec<u8> {
    // Level and flavour are valid (checked by `Options::check`), so these cannot fail.
    let Ok(mut d) = Deflater::new(level, Flavour::Zlib) else {
        return Vec::new();
    };
    let _ = d.set_dictionary(&piece.dict);
    d.write(&piece.data);
    if piece.last {
        return d.finish();
    }
    end_piece(&mut d);
    d.take_output()
}

/// After a piece other than the last: `Z_BLOCK`, then reach a byte boundary the way pigz does.
fn end_piece(d: &mut Deflater) {
    let _ = d.end_block();
    if d.pending_bits() & 1 == 1 {
        let _ = d.sync_flush();
    } else {
        while d.pending_bits() & 7 != 0 {
            let _ = d.prime(10, 2); // BFINAL 0, BTYPE 01, end-of-block code 0000000
        }
    }
}

/// Read until `buf` is full or the input ends; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Compress `input` into `out` exactly as pigz does with `opts`.
pub fn compress<R: Read, W: Write>(mut input: R, mut out: W, opts: &Options) -> io::Result<W> {
    opts.check()?;
    out.write_all(&opts.header())?;
    if opts.single_thread {
        return compress_single(input, out, opts);
    }
    let in_flight = (rayon::current_num_threads() * 2).max(2);
    let mut crc = crc32fast::Hasher::new();
    let mut size: u64 = 0;
    let mut history: Vec<u8> = Vec::new();

    let mut next = vec![0u8; opts.block_size];
    let n = read_full(&mut input, &mut next)?;
    next.truncate(n);
    let mut done = false;
    while !done {
        // Gather a batch of pieces, reading one ahead to know which piece is the last.
        let mut batch = Vec::with_capacity(in_flight);
        while batch.len() < in_flight && !done {
            let data = std::mem::take(&mut next);
            let mut ahead = vec![0u8; opts.block_size];
            let n = if data.is_empty() {
                0
            } else {
                read_full(&mut input, &mut ahead)?
            };
            ahead.truncate(n);
            let last = n == 0;
            crc.update(&data);
            size += data.len() as u64;
            let dict = history.clone();
            history.extend_from_slice(&data);
            if history.len() > DICT {
                history.drain(..history.len() - DICT);
            }
            batch.push(Piece { dict, data, last });
            next = ahead;
            done = last;
        }
        let outputs: Vec<Vec<u8>> = batch
            .par_iter()
            .map(|p| compress_piece(opts.level, p))
            .collect();
        for o in outputs {
            out.write_all(&o)?;
        }
    }
    out.write_all(&crc.finalize().to_le_bytes())?;
    out.write_all(&(size as u32).to_le_bytes())?;
    Ok(out)
}

/// `pigz -p 1`: one stream, a block end and byte alignment after every piece.
fn compress_single<R: Read, W: Write>(mut input: R, mut out: W, opts: &Options) -> io::Result<W> {
    let invalid = |e| io::Error::new(io::ErrorKind::InvalidInput, e);
    let mut d = Deflater::new(opts.level, Flavour::Zlib).map_err(invalid)?;
    let mut crc = crc32fast::Hasher::new();
    let mut size: u64 = 0;
    let mut cur = vec![0u8; opts.block_size];
    let n = read_full(&mut input, &mut cur)?;
    cur.truncate(n);
    loop {
        let mut ahead = vec![0u8; opts.block_size];
        let n = if cur.is_empty() {
            0
        } else {
            read_full(&mut input, &mut ahead)?
        };
        ahead.truncate(n);
        crc.update(&cur);
        size += cur.len() as u64;
        d.write(&cur);
        if n == 0 {
            break;
        }
        end_piece(&mut d);
        out.write_all(&d.take_output())?;
        cur = ahead;
    }
    out.write_all(&d.finish())?;
    out.write_all(&crc.finalize().to_le_bytes())?;
    out.write_all(&(size as u32).to_le_bytes())?;
    Ok(out)
}
