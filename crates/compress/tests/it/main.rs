//! The integration tests of `layerproof-compress`, one binary: each encoder against what the real
//! program wrote (`testdata/compress/`), and the fingerprint of real blobs.

mod fingerprint;
mod go_gzip;
mod zlib_family;
