//! Go's `compress/gzip` over `compress/flate`, byte for byte: what Docker engines push.
//!
//! A layer's `diff_id` is the sha256 of the tar; the digest people pin is the sha256 of the
//! *compressed blob*. Docker engines make that blob with Go's standard library at the default
//! level, and Go's deflate output is not zlib's (nor pigz's, nor any Rust crate's), so proving
//! a blob digest needs Go's exact encoder. This module is our own implementation of it, written
//! from Go's documented behaviour and source (see each submodule's docs for the rules it
//! reproduces), not a translation of Go's code.
//!
//! ```
//! use std::io::Write;
//! use layerproof_compress::go::{DEFAULT_COMPRESSION, GzipWriter};
//!
//! let mut w = GzipWriter::new(Vec::new(), DEFAULT_COMPRESSION)?;
//! w.write_all(b"hello\n")?;
//! let blob = w.finish()?;
//! assert_eq!(&blob[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Who writes blobs this way
//!
//! * **moby `docker push`** (classic builder and graphdriver store): `distribution/push.go`
//!   `compress()` wraps the layer in `gzip.NewWriter` (= `DefaultCompression`, level 6) over
//!   a 32 KiB `bufio.Writer` on the *output* side, and feeds it with `io.Copy`, so the write
//!   sizes are whatever the layer reader returns — which does not matter (below).
//! * **containerd** (walking differ, `CompressStream(Gzip)`): `gzip.NewWriter`, default level.
//! * **BuildKit** (`util/compression/gzip.go`): `gzip.NewWriterLevel(dest, level)` with
//!   `DefaultCompression` unless `compression-level` is set; newer BuildKit can also shell out
//!   to `pigz`/`igzip` when that variant is asked for explicitly.
//!
//! # Go versions
//!
//! The encoder implemented here is the one Go shipped up to 1.26 (verified here against
//! go1.19.8 and go1.24.4; `shared/docs/crates.md` §3 also found 1.21–1.23 and a port of 1.25
//! identical). The engines we test are Docker 20.10.24 (Debian bookworm, built with **go1.19.8**) and Docker 26.1.5
//! (Debian trixie, built with **go1.24.4**). Between those two releases `compress/flate` and
//! `compress/gzip` changed only cosmetically (a `diff` of Debian's `golang-1.19-src` and
//! `golang-1.24-src`, comments stripped: `clear()` instead of zeroing loops, redundant
//! `break`s removed, struct fields reordered), and the fixtures below are byte-identical when
//! regenerated with go1.24.4 (`GO=… make.sh --check`). Go 1.27 replaced the encoder with a
//! port of klauspost's (golang/go#75532); its output differs at every level and is **not**
//! implemented here (see `shared/docs/crates.md` §3).
//!
//! # The gzip framing
//!
//! Go's `gzip.Writer` with a zero `Header`: `1f 8b 08 00 00000000 XFL ff` (no name, comment,
//! extra field or mtime; XFL 2 at level 9, 4 at level 1, else 0 — also 0 for `-1`; OS 255),
//! the raw deflate stream, then CRC-32 and the length mod 2³², little-endian. Every Go deflate
//! stream ends with an empty *final stored block* (`Close` writes the last data block as
//! non-final, then `01 00 00 ff ff` after byte alignment).
//!
//! # Levels
//!
//! | level | Go name | matcher | blocks |
//! |---|---|---|---|
//! | −2 | `HuffmanOnly` | none | literals-only Huffman per 65 535 bytes (`block` rules) |
//! | 0 | `NoCompression` | none | stored, 65 535 bytes each |
//! | 1 | `BestSpeed` | single probe, Snappy-like (`fast`) | 65 535-byte blocks, dynamic/Huffman-only/stored |
//! | 2–3 | | greedy hash chains (`chain`) | ≤ 16 384 tokens, fixed/dynamic/stored |
//! | 4–9, −1 = 6 | `DefaultCompression` = 6, `BestCompression` = 9 | lazy hash chains | same |
//!
//! # Chunking
//!
//! Our output depends only on the bytes and the level: we match only when the 64 KiB buffer
//! is full (or at the end). That is what Go does whenever its writes keep bringing the buffer
//! to a full 32 KiB boundary or beyond — in particular for `io.Copy`-sized 32 KiB writes — and
//! Go gave identical bytes for writes of 1, 7, 32 768 and 1 MiB on every fixture.
//!
//! Go itself has one corner where write sizes matter: if a write leaves the buffer short of
//! full and matching pauses at exactly offset 65 274, Go slides the window one step early and
//! loses a match candidate exactly 32 768 bytes back. Verified with Go 1.19 on 100 000 random
//! bytes carrying the same 5 bytes at offsets 32 506 and 65 274: 65 535-byte or 1-byte writes
//! give different bytes from 32 KiB or 1 MiB writes. We always give the latter. A Docker push
//! (whose `io.Copy` write sizes follow the layer reader) can only hit this corner if its
//! writes land that way *and* the data has such a match; we have not seen it happen.

//! # Evidence
//!
//! * `tests/it/go_gzip.rs`: 262 (input, level) cases from `testdata/compress/go/make.sh`
//!   (generated inputs of 0 B – 1 MiB around every threshold, plus a real 2.8 MB tar) are
//!   byte-identical to Go; a proptest shows chunking independence; and the blobs that
//!   Docker 20.10 and 26.1 pushed to a registry for a `FROM scratch`/`ADD` image are
//!   reproduced from the `docker save` layers (`testdata/compress/go/docker-push/`).
//! * `testdata/compress/go/bigcheck.sh` (not in `cargo test`): the 170 MB Debian bookworm
//!   minbase rootfs tar and 100 MiB of random bytes, all twelve levels, byte-identical to Go.
//!
//! # Performance
//!
//! Measured in release mode on this project's machine (2 cores of an AMD EPYC Zen 3 under
//! KVM, shared with other jobs; user CPU seconds from `bigcheck.sh`, committed as
//! `testdata/compress/go/bigcheck.txt`), on the 170 380 800-byte Debian minbase tar:
//!
//! | level | ours | Go 1.19 |
//! |---|---|---|
//! | 1 | 1.11 s (153 MB/s) | 1.56 s |
//! | 6 / default | 4.42 s (38 MB/s) | 5.63 s |
//! | 9 | 20.2 s (8.4 MB/s) | 21.9 s |
//!
//! A profile at level 6 puts ~82 % of the time in the hash-chain walk (`chain`), almost all
//! of it waiting on loads from the chain and window tables; block encoding is ~10 % and
//! CRC-32 ~2 %. A 4-byte candidate prefilter was tried and gained nothing, so the walk stays
//! the simple one.
//!
//! **Checking a blob is parallel.** To prove a published blob, [`check_parallel`] re-encodes
//! it in chunks on several threads, each started at a block that follows a back-reference
//! (where the lazy matcher's state is the data alone; see the `parallel` module). On the
//! minbase tar at level 6, 2 threads checked it in 3.9 s against 6.3 s for one sequential
//! run, fingerprint included; all six lazy levels came out identical
//! (`tests/it/go_gzip.rs`, `parallel_check_big_input`).
//!
//! Memory per writer is fixed: a 64 KiB buffer, the 2¹⁷-entry hash head and 2¹⁵-entry chain
//! tables (640 KiB), ≤ 16 385 tokens, and up to ~130 KiB of pending output.
//!
//! # Not implemented (Docker never uses them)
//!
//! Go's `Flush` (sync-flush blocks), `Reset`, preset dictionaries (`NewWriterDict`), and gzip
//! `Header` fields (name, comment, extra, mtime, OS). [`Write::flush`] here only passes
//! completed bytes on; it never changes the stream.

mod bits;
mod block;
mod chain;
mod crc;
mod fast;
mod huffman;
mod parallel;
mod token;

pub use parallel::{CHUNK_TARGET, NotApplicable, Outcome, ResumeSink, check_parallel};

use std::io::{self, Write};

use bits::BitWriter;
use block::{BlockEncoder, MAX_STORED, stored_block};
use chain::{ChainMatcher, Params};
use crc::Crc32;
use fast::FastMatcher;

/// Go's `HuffmanOnly` level: no matching, literals only.
pub const HUFFMAN_ONLY: i32 = -2;
/// Go's `DefaultCompression` (level 6).
pub const DEFAULT_COMPRESSION: i32 = -1;
/// Go's `NoCompression`: stored blocks.
pub const NO_COMPRESSION: i32 = 0;
/// Go's `BestSpeed`: the separate single-probe matcher.
pub const BEST_SPEED: i32 = 1;
/// Go's `BestCompression`.
pub const BEST_COMPRESSION: i32 = 9;

/// A level Go would reject (it accepts `-2..=9`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid Go compression level {0}: want a value in -2..=9")]
pub struct LevelError(pub i32);

/// Once the pending output reaches this, it is handed to the inner writer.
const DRAIN_AT: usize = 1 << 16;

enum Engine {
    /// Level 0: stored blocks of 65 535 bytes.
    Store(Vec<u8>),
    /// Level −2: literals-only blocks of 65 535 bytes.
    HuffmanOnly(Vec<u8>),
    /// Level 1.
    Fast(Box<FastMatcher>),
    /// Levels 2–9.
    Chain(Box<ChainMatcher>),
}

/// The raw deflate encoder without a sink: input in, bytes accumulate in `bits.out`.
struct Deflater {
    engine: Engine,
    enc: Box<BlockEncoder>,
    bits: BitWriter,
}

/// Feed `data` into a 65 535-byte buffer, calling `emit` on each full buffer before taking
/// more (so a full buffer waits until more input or the end proves it is not the last).
fn fill_blocks(buf: &mut Vec<u8>, mut data: &[u8], mut emit: impl FnMut(&[u8])) {
    while !data.is_empty() {
        if buf.len() == MAX_STORED {
            emit(buf);
            buf.clear();
        }
        let n = data.len().min(MAX_STORED - buf.len());
        let (now, rest) = data.split_at(n);
        buf.extend_from_slice(now);
        data = rest;
    }
}

impl Deflater {
    fn new(level: i32) -> Result<Self, LevelError> {
        let engine = match level {
            HUFFMAN_ONLY => Engine::HuffmanOnly(Vec::with_capacity(MAX_STORED)),
            NO_COMPRESSION => Engine::Store(Vec::with_capacity(MAX_STORED)),
            BEST_SPEED => Engine::Fast(Box::new(FastMatcher::new())),
            DEFAULT_COMPRESSION => Engine::Chain(Box::new(ChainMatcher::new(
                Params::for_level(6).ok_or(LevelError(level))?,
            ))),
            _ => Engine::Chain(Box::new(ChainMatcher::new(
                Params::for_level(level).ok_or(LevelError(level))?,
            ))),
        };
        Ok(Deflater {
            engine,
            enc: Box::new(BlockEncoder::new()),
            bits: BitWriter::new(),
        })
    }

    fn write(&mut self, data: &[u8]) {
        let (enc, w) = (&mut *self.enc, &mut self.bits);
        match &mut self.engine {
            Engine::Store(buf) => fill_blocks(buf, data, |b| stored_block(w, b, false)),
            Engine::HuffmanOnly(buf) => fill_blocks(buf, data, |b| enc.huffman_only_block(w, b)),
            Engine::Fast(m) => m.write(data, enc, w),
            Engine::Chain(m) => m.write(data, enc, w),
        }
    }

    /// Emit everything buffered, then Go's end of stream: an empty final stored block.
    fn finish(&mut self) {
        let (enc, w) = (&mut *self.enc, &mut self.bits);
        match &mut self.engine {
            Engine::Store(buf) => {
                if !buf.is_empty() {
                    stored_block(w, buf, false);
                }
                buf.clear();
            }
            Engine::HuffmanOnly(buf) => {
                if !buf.is_empty() {
                    enc.huffman_only_block(w, buf);
                }
                buf.clear();
            }
            Engine::Fast(m) => m.finish(enc, w),
            Engine::Chain(m) => m.finish(enc, w),
        }
        stored_block(w, &[], true);
    }
}

/// The part shared by [`FlateWriter`] and [`GzipWriter`]: a deflater, its sink, and whether
/// the sink has failed (after which nothing more is written).
struct Sink<W: Write> {
    deflater: Deflater,
    inner: W,
    failed: bool,
}

impl<W: Write> Sink<W> {
    fn drain(&mut self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier write to the underlying writer failed",
            ));
        }
        let out = &mut self.deflater.bits.out;
        if !out.is_empty() {
            if let Err(e) = self.inner.write_all(out) {
                self.failed = true;
                return Err(e);
            }
            out.clear();
        }
        Ok(())
    }

    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if self.failed {
            return self.drain();
        }
        // Bounded steps keep the pending output small whatever the caller's chunk size.
        for chunk in data.chunks(1 << 16) {
            self.deflater.write(chunk);
            if self.deflater.bits.out.len() >= DRAIN_AT {
                self.drain()?;
            }
        }
        Ok(())
    }
}

/// Raw deflate exactly as Go's `flate.NewWriter(w, level)` writes it, then `Close`.
///
/// The output is a pure function of the bytes written and the level: how the input is split
/// into `write` calls does not matter. [`Write::flush`] hands completed bytes to the inner
/// writer and flushes it, but (unlike Go's `Flush`) never ends a block, so it cannot change
/// the stream.
pub struct FlateWriter<W: Write> {
    sink: Sink<W>,
}

impl<W: Write> FlateWriter<W> {
    /// A writer at `level` (`-2..=9`, see the constants in this module).
    pub fn new(inner: W, level: i32) -> Result<Self, LevelError> {
        Ok(FlateWriter {
            sink: Sink {
                deflater: Deflater::new(level)?,
                inner,
                failed: false,
            },
        })
    }

    /// Write the last blocks and return the inner writer (not flushed).
    pub fn finish(mut self) -> io::Result<W> {
        if self.sink.failed {
            return Err(io::Error::other(
                "an earlier write to the underlying writer failed",
            ));
        }
        self.sink.deflater.finish();
        self.sink.drain()?;
        Ok(self.sink.inner)
    }
}

impl<W: Write> Write for FlateWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.write(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.drain()?;
        self.sink.inner.flush()
    }
}

/// A gzip member exactly as Go's `gzip.NewWriterLevel(w, level)` writes it with a zero
/// `Header`, then `Close`: header `1f 8b 08 00 00000000 XFL ff` (no name, comment, extra or
/// modification time; XFL 2 at level 9, 4 at level 1, else 0; OS 255 "unknown"), the deflate
/// stream of [`FlateWriter`], then CRC-32 and length mod 2³² (little-endian).
pub struct GzipWriter<W: Write> {
    sink: Sink<W>,
    crc: Crc32,
    size: u32,
}

impl<W: Write> GzipWriter<W> {
    /// A writer at `level` (`-2..=9`). Nothing is written to `inner` until the first
    /// `write` that fills a buffer, or [`finish`](Self::finish).
    pub fn new(inner: W, level: i32) -> Result<Self, LevelError> {
        let mut deflater = Deflater::new(level)?;
        deflater.bits.put_bytes(&gzip_header(level));
        Ok(GzipWriter {
            sink: Sink {
                deflater,
                inner,
                failed: false,
            },
            crc: Crc32::default(),
            size: 0,
        })
    }

    /// Write the last blocks and the trailer; return the inner writer (not flushed).
    pub fn finish(mut self) -> io::Result<W> {
        if self.sink.failed {
            return Err(io::Error::other(
                "an earlier write to the underlying writer failed",
            ));
        }
        self.sink.deflater.finish();
        let out = &mut self.sink.deflater.bits.out;
        out.extend_from_slice(&self.crc.value().to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        self.sink.drain()?;
        Ok(self.sink.inner)
    }
}

impl<W: Write> Write for GzipWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.write(buf)?;
        self.crc.update(buf);
        self.size = self.size.wrapping_add(buf.len() as u32);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.drain()?;
        self.sink.inner.flush()
    }
}

/// The gzip header Go's `gzip.NewWriterLevel(w, level)` writes with a zero `Header`:
/// `1f 8b 08 00 00000000 XFL ff`, XFL 2 at level 9, 4 at level 1, else 0.
pub fn gzip_header(level: i32) -> [u8; 10] {
    let xfl = match level {
        BEST_COMPRESSION => 2,
        BEST_SPEED => 4,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 0xff]
}

/// `data` gzipped as Go would at `level`; an invalid level gives an empty vector.
pub fn gzip(level: i32, data: &[u8]) -> Vec<u8> {
    let Ok(mut w) = GzipWriter::new(Vec::new(), level) else {
        return Vec::new();
    };
    // Writing to a Vec cannot fail.
    if w.write_all(data).is_err() {
        return Vec::new();
    }
    w.finish().unwrap_or_default()
}

/// `data` raw-deflated as Go would at `level`; an invalid level gives an empty vector.
pub fn deflate(level: i32, data: &[u8]) -> Vec<u8> {
    let Ok(mut w) = FlateWriter::new(Vec::new(), level) else {
        return Vec::new();
    };
    if w.write_all(data).is_err() {
        return Vec::new();
    }
    w.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_streams() {
        // Go: header, then a final empty stored block, then CRC 0 and size 0.
        let want = [
            0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        for level in [-2, -1, 0, 2, 3, 4, 5, 6, 7, 8] {
            assert_eq!(gzip(level, b""), want, "level {level}");
        }
        assert_eq!(gzip(1, b"")[8], 4);
        assert_eq!(gzip(9, b"")[8], 2);
    }

    #[test]
    fn rejects_bad_levels() {
        assert!(GzipWriter::new(Vec::new(), 10).is_err());
        assert!(GzipWriter::new(Vec::new(), -3).is_err());
        assert!(gzip(42, b"x").is_empty());
    }
}
