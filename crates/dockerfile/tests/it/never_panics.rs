//! Parsing and evaluating never panic, whatever the text.

use std::collections::BTreeMap;

use layerproof_dockerfile::{self as dockerfile, BuildOptions, BuilderKind, Platform};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn parse_never_panics(s in "(?s).{0,300}") {
        let _ = dockerfile::parse(&s);
    }

    #[test]
    fn parse_and_evaluate_never_panic_on_dockerfile_like_text(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("FROM scratch".to_string()),
                Just("FROM scratch AS b".to_string()),
                "(ADD|COPY|ENV|LABEL|ARG|CMD|ENTRYPOINT|WORKDIR|USER|EXPOSE|VOLUME|STOPSIGNAL|HEALTHCHECK|ONBUILD|SHELL|MAINTAINER|RUN) [-a-z$={}:#%/?*\\[\\]\"' \\\\`]{0,30}",
                Just("# escape=`".to_string()),
                Just("\\".to_string()),
            ],
            0..12,
        )
    ) {
        let src = lines.join("\n");
        if let Ok(df) = dockerfile::parse(&src) {
            for builder in [BuilderKind::Buildkit, BuilderKind::Classic] {
                let opts = BuildOptions {
                    builder,
                    build_args: BTreeMap::new(),
                    platform: Platform::parse("linux/arm/v7").unwrap(),
                    build_platform: None,
                    target: None,
                };
                let _ = dockerfile::evaluate(&df, &opts, None);
            }
        }
    }
}
