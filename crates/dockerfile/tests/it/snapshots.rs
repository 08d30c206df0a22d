//! Snapshot tests: each case is `testdata/dockerfile/<case>.Dockerfile`, with optional
//! `<case>.options` (lines `build-arg K=V`, `platform os/arch[/variant]`,
//! `target NAME`), an optional `<case>.context/` directory, and the expected
//! dump `<case>.expected` holding both builders' evaluation as JSON (or the
//! error). `UPDATE_EXPECT=1 cargo test -p layerproof-dockerfile --test it`
//! rewrites the expected files; review the diff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use layerproof_dockerfile::{self as dockerfile, BuildOptions, BuilderKind, Context, Platform};

/// The number of cases in `testdata/dockerfile`: fewer means cases went missing (a renamed
/// directory or suffix would otherwise pass with nothing checked).
const MIN_CASES: usize = 16;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/dockerfile")
}

fn dump(src: &str, options: &str, ctx: Option<&Context>) -> String {
    let mut build_args = BTreeMap::new();
    let mut platform = Platform::parse("linux/amd64").unwrap();
    let mut target = None;
    for line in options
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (k, v) = line.split_once(' ').expect("option line: KEY VALUE");
        match k {
            "build-arg" => {
                let (a, b) = v.split_once('=').unwrap_or((v, ""));
                build_args.insert(a.to_string(), b.to_string());
            }
            "platform" => platform = Platform::parse(v).expect("platform"),
            "target" => target = Some(v.to_string()),
            other => panic!("unknown option {other}"),
        }
    }
    let mut out = String::new();
    let df = match dockerfile::parse(src) {
        Ok(df) => df,
        Err(e) => return format!("parse error: {e}\n"),
    };
    for builder in [BuilderKind::Buildkit, BuilderKind::Classic] {
        let opts = BuildOptions {
            builder,
            build_args: build_args.clone(),
            platform: platform.clone(),
            build_platform: None,
            target: target.clone(),
        };
        out.push_str(&format!("== {builder:?} ==\n"));
        match dockerfile::evaluate(&df, &opts, ctx) {
            Ok(ev) => out.push_str(&serde_json::to_string_pretty(&ev).unwrap()),
            Err(e) => out.push_str(&format!("error: {e}")),
        }
        out.push('\n');
    }
    out
}

#[track_caller]
fn check(case: &str) {
    let dir = data_dir();
    let src = std::fs::read_to_string(dir.join(format!("{case}.Dockerfile"))).unwrap();
    let options = std::fs::read_to_string(dir.join(format!("{case}.options"))).unwrap_or_default();
    let ctx_dir = dir.join(format!("{case}.context"));
    let ctx = ctx_dir
        .is_dir()
        .then(|| Context::read_dir(&ctx_dir).unwrap());
    let actual = dump(&src, &options, ctx.as_ref());
    let exp_path = dir.join(format!("{case}.expected"));
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&exp_path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&exp_path)
        .unwrap_or_else(|_| panic!("{} missing; run with UPDATE_EXPECT=1", exp_path.display()));
    assert_eq!(
        actual,
        expected,
        "case {case} differs from {}",
        exp_path.display()
    );
}

#[test]
fn all_cases() {
    let mut cases: Vec<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".Dockerfile")
                .map(str::to_string)
        })
        .collect();
    cases.sort();
    assert!(
        cases.len() >= MIN_CASES,
        "{} cases under {}, expected at least {MIN_CASES}: {cases:?}",
        cases.len(),
        data_dir().display()
    );
    for c in cases {
        check(&c);
    }
}

#[test]
fn ubuntu_history_matches_published_config() {
    // Strings quoted from the real ubuntu configs (docker-layer-spec §9.3).
    let src = std::fs::read_to_string(data_dir().join("ubuntu.Dockerfile")).unwrap();
    let df = dockerfile::parse(&src).unwrap();
    let ctx = Context::read_dir(&data_dir().join("ubuntu.context")).unwrap();
    let opts = BuildOptions {
        builder: BuilderKind::Classic,
        build_args: [("RELEASE", "22.04"), ("LAUNCHPAD_BUILD_ARCH", "amd64")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        platform: Platform::parse("linux/amd64").unwrap(),
        build_platform: None,
        target: None,
    };
    let ev = dockerfile::evaluate(&df, &opts, Some(&ctx)).unwrap();
    let dockerfile::StageOutcome::Image(img) = &ev.stages[0].outcome else {
        panic!("not an image")
    };
    let hist: Vec<String> = img
        .history
        .iter()
        .map(|h| h.created_by_with_hash("file:abc"))
        .collect();
    assert_eq!(
        hist,
        vec![
            "/bin/sh -c #(nop)  ARG RELEASE",
            "/bin/sh -c #(nop)  ARG LAUNCHPAD_BUILD_ARCH",
            "/bin/sh -c #(nop)  LABEL org.opencontainers.image.ref.name=ubuntu",
            "/bin/sh -c #(nop)  LABEL org.opencontainers.image.version=22.04",
            "/bin/sh -c #(nop) ADD file:abc in / ",
            "/bin/sh -c #(nop)  CMD [\"/bin/bash\"]",
        ]
    );
    assert_eq!(
        img.layers[0].resolved.as_ref().unwrap()[0].path,
        "ubuntu-jammy-oci-amd64-root.tar.gz"
    );
}
