//! Image index, manifest and config parsing, and digest strings.
#![no_main]

use layerproof_image::manifest::ConfigSummary;
use layerproof_image::{Digest, Manifest};
use libfuzzer_sys::fuzz_target;

const HINTS: [Option<&str>; 5] = [
    None,
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, data)) = data.split_first() else {
        return;
    };
    let hint = HINTS[usize::from(sel) % HINTS.len()];
    let _ = Manifest::parse(data, hint, "fuzz");
    let _ = ConfigSummary::parse(data, "fuzz");
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(d) = Digest::parse(s)
    {
        let _ = (d.hex(), d.algorithm(), d.to_string());
    }
});
