//! Compressors that reproduce published layer blobs byte for byte, and fingerprinting of the
//! compressor that made a published blob.
//!
//! * [`go`]: Go's `compress/gzip` over `compress/flate` (what Docker engines push).
//! * [`zlib`]: the zlib / GNU gzip deflate family (`deflate.c` lazy matching, `trees.c` codes).
//! * [`pigz`]: pigz's parallel framing (`--best --no-time`, 128 KiB blocks with a 32 KiB
//!   dictionary) over the zlib deflate.
//! * [`gnu_gzip`]: GNU gzip `-n` at levels 1–9.
//! * [`fingerprint`]: what a published gzip blob says about the program that wrote it.

pub mod fingerprint;
pub mod gnu_gzip;
pub mod go;
pub mod pigz;
pub mod zlib;
