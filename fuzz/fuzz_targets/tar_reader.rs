//! The Go-compatible tar reader on arbitrary (uncompressed) bytes: every header, every body.
#![no_main]

use std::io::Read;

use layerproof_archive::read::{Options, Reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        max_entries: Some(10_000),
        ..Options::default()
    };
    let mut reader = Reader::with_options(data, opts);
    let mut buf = [0u8; 4096];
    for _ in 0..10_000 {
        match reader.next_header() {
            Ok(Some(h)) => {
                let _ = h.display_name();
                let _ = h.perm();
                let _ = h.xattrs().count();
                // Sparse entries can expand far beyond the input; read a bounded amount.
                let mut body = reader.body();
                for _ in 0..256 {
                    match body.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
});
