//! Compressors that reproduce published layer blobs byte for byte, and fingerprinting of the
//! compressor that made a published blob.
//!
//! * [`go`]: Go's `compress/gzip` over `compress/flate` (what Docker engines push), every
//!   level, as Go ≤ 1.26 writes it (checked against go1.19, go1.24 and real pushes).
//! * [`zlib`]: one deflate engine with two flavours, zlib 1.2.9–1.3.1 and GNU gzip 1.x, levels
//!   1–9 (lazy/greedy matching, `trees.c` codes, each program's block rules), with zlib's
//!   stream controls (preset dictionary, `Z_BLOCK`, `Z_SYNC_FLUSH`, `deflatePrime`).
//! * [`pigz`]: pigz's framing over zlib (`--best --no-time`: 128 KiB pieces with a 32 KiB
//!   dictionary, byte-aligned joins; rayon-parallel; `-p 1`'s single stream too).
//! * [`gnu_gzip`]: GNU gzip `-n` at levels 1–9, with or without `--rsyncable`.
//! * [`fingerprint`]: one streaming pass over a published gzip blob: diff_id, header, block
//!   structure, and the ranked compressors it points to (with its own inflater).

pub mod fingerprint;
pub mod gnu_gzip;
pub mod go;
pub mod pigz;
pub mod zlib;
