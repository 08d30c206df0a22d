//! Re-encode a layer exactly as the program that published its gzip blob did, and tell from a
//! blob which program that was.
//!
//! A layer's `diff_id` is the sha256 of its tar; the digest people pin is the sha256 of the
//! compressed blob. Deflate output is not unique — every encoder picks its own matches, block
//! ends and codes — so proving a blob digest from a rebuilt tar needs the very encoder that
//! wrote the blob. This crate has our own implementations of the ones that write layer blobs,
//! each byte-identical to the real program at every level it models:
//!
//! * [`go`]: Go's `compress/gzip` over `compress/flate` (what Docker engines push), every
//!   level, as Go ≤ 1.26 writes it (checked against go1.19, go1.24 and real pushes), and a
//!   parallel check of a published Go blob ([`go::check_parallel`]).
//! * [`zlib`]: one deflate engine with two flavours, zlib 1.2.9–1.3.1 and GNU gzip 1.x, levels
//!   1–9 (lazy/greedy matching, `trees.c` codes, each program's block rules), with zlib's
//!   stream controls (preset dictionary, `Z_BLOCK`, `Z_SYNC_FLUSH`, `deflatePrime`).
//! * [`pigz`]: pigz's framing over zlib (`--best --no-time`: 128 KiB pieces with a 32 KiB
//!   dictionary, byte-aligned joins; rayon-parallel; `-p 1`'s single stream too).
//! * [`gnu_gzip`]: GNU gzip `-n` at levels 1–9, with or without `--rsyncable`.
//! * [`fingerprint`]: one streaming pass over a published gzip blob: diff_id, header, block
//!   structure, and the ranked compressors it points to (with its own inflater).
//!
//! ```
//! use layerproof_compress::{fingerprint, go};
//!
//! let layer = b"a layer tar, in practice".repeat(100);
//! let blob = go::gzip(go::DEFAULT_COMPRESSION, &layer);
//! let fp = fingerprint::fingerprint(&blob[..]).unwrap();
//! assert_eq!(fp.uncompressed_size, layer.len() as u64);
//! assert_eq!(fp.best(), &fingerprint::Compressor::GoGzip { level: None });
//! ```
//!
//! **Invariants.** No I/O beyond the reader and writer it is given; no clock, host or
//! environment is consulted (the gzip headers carry MTIME 0 or what the caller passes). Output
//! depends only on the input bytes and the options, never on write sizes or thread count. It
//! knows nothing of tar, layers or images. A blob, however hostile, never makes
//! [`fingerprint`] or [`go::check_parallel`] panic: they return typed errors or a verdict.
//! Fingerprint scores only order the re-encoders to try; the proof is the re-encoded digest.
//!
//! **Deviations from the real programs** (documented in each module):
//! * Go: the encoder of Go ≤ 1.26; Go 1.27's new encoder is not implemented. Go's output can
//!   depend on write sizes in one corner (a write that leaves matching paused at offset
//!   65 274); we always give what 32 KiB writes give, as Docker's `io.Copy` does. Go's `Flush`,
//!   `Reset`, preset dictionaries and gzip header fields are not implemented.
//! * zlib and GNU gzip: levels 1–9 only; level 0, `Z_FILTERED`, `Z_RLE`, `Z_HUFFMAN_ONLY`,
//!   `Z_FIXED` and memLevel other than 8 are not modelled. GNU gzip's input is read as from a
//!   regular file (see [`zlib`] for pipes).
//! * pigz: `--independent`, `--rsyncable`, levels 0 and 11 (zopfli) and zlib/zip framing are
//!   not modelled.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod fingerprint;
pub mod gnu_gzip;
pub mod go;
pub mod pigz;
pub mod zlib;
