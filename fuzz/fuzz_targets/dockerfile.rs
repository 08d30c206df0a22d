//! The Dockerfile frontend: parse, then evaluate for both builders.
#![no_main]

use layerproof_dockerfile::{self as dockerfile, BuildOptions, BuilderKind, Platform};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(df) = dockerfile::parse(src) else {
        return;
    };
    for builder in [BuilderKind::Buildkit, BuilderKind::Classic] {
        let opts = BuildOptions {
            builder,
            build_args: [("A".to_string(), "x".to_string())].into_iter().collect(),
            platform: Platform::parse("linux/arm/v7").expect("valid platform"),
            build_platform: None,
            target: None,
        };
        let _ = dockerfile::evaluate(&df, &opts, None);
    }
});
