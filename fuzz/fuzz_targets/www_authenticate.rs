//! The registry's `WWW-Authenticate` challenge parser.
#![no_main]

use layerproof_image::registry::auth::parse_challenge;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_challenge(s);
    }
});
