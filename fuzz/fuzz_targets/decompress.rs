//! Compression detection and every decoder, under a small output limit (1 MiB: executions stay fast).
#![no_main]

use std::io::{self, Read};

use layerproof_archive::compression::{self, DecompressOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = compression::detect(data);
    let opts = DecompressOptions {
        zstd: data.first().is_none_or(|b| b & 1 == 0),
        max_decompressed_bytes: Some(1 << 20),
    };
    if let Ok(mut d) = compression::open(data, &opts) {
        let _ = io::copy(&mut d.by_ref(), &mut io::sink());
        assert!(d.bytes_out() <= (1 << 20) + 1);
    }
    let _ = layerproof_archive::read::is_archive(data, &DecompressOptions::default());
});
