//! The target platform: `layerproof-platform`'s `Platform`, as the image reader has it.

use layerproof_dockerfile::{
    self as dockerfile, BuildOptions, BuilderKind, Evaluation, Platform, StageOutcome,
};

fn evaluate(builder: BuilderKind, platform: Platform) -> Evaluation {
    let df =
        dockerfile::parse("FROM scratch\nARG TARGETPLATFORM\nENV P=$TARGETPLATFORM\n").unwrap();
    let opts = BuildOptions {
        builder,
        build_args: Default::default(),
        platform,
        build_platform: None,
        target: None,
    };
    dockerfile::evaluate(&df, &opts, None).unwrap()
}

fn image(ev: &Evaluation) -> &dockerfile::ImageModel {
    match &ev.stages[0].outcome {
        StageOutcome::Image(img) => img,
        other => panic!("not an image: {other:?}"),
    }
}

/// `--platform Linux/ARM64/v8` is lower-cased, as BuildKit's containerd parser does: the
/// config and TARGETPLATFORM say `linux/arm64/v8`.
#[test]
fn parsed_platform_is_lower_cased() {
    let ev = evaluate(
        BuilderKind::Buildkit,
        Platform::parse("Linux/ARM64/V8").unwrap(),
    );
    let img = image(&ev);
    assert_eq!(
        (
            img.os.as_str(),
            img.architecture.as_str(),
            img.variant.as_str()
        ),
        ("linux", "arm64", "v8")
    );
    assert!(
        ev.global_args
            .contains(&"TARGETPLATFORM=linux/arm64/v8".to_string())
    );
    assert!(img.config.env.contains(&"P=linux/arm64/v8".to_string()));
}

/// Empty parts and characters outside containerd's specifier syntax are refused.
#[test]
fn malformed_platforms_are_refused() {
    for bad in [
        "linux/amd64/",
        "linux//v7",
        "/amd64",
        "linux/amd 64",
        "linux",
    ] {
        assert!(Platform::parse(bad).is_err(), "{bad}");
    }
}

/// An image config may say `"variant": ""`: that is no variant, for both builders.
#[test]
fn empty_variant_is_none() {
    let platform = Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: Some(String::new()),
    };
    for builder in [BuilderKind::Buildkit, BuilderKind::Classic] {
        let ev = evaluate(builder, platform.clone());
        assert_eq!(image(&ev).variant, "");
        if builder == BuilderKind::Buildkit {
            assert!(
                ev.global_args
                    .contains(&"TARGETPLATFORM=linux/amd64".to_string())
            );
            assert!(ev.global_args.contains(&"TARGETVARIANT=".to_string()));
        }
    }
}
