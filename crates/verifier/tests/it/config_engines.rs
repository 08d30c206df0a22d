//! Image configs recorded from Docker 20.10.24 and 26.1.5 (classic builder and BuildKit) for
//! Dockerfiles that use every metadata instruction (`tests/config_engines/`, made by its
//! `make.sh` on real engines).
//!
//! 1. The config writer reproduces every recording byte for byte from the evaluated model, the
//!    diff_ids and the run-dependent values, with the history lines taken from the recording
//!    (so this checks the writer's shape on its own: field order, nulls, escaping, author,
//!    ExposedPorts, Healthcheck, OnBuild, Shell, variant, two-layer parent chains).
//! 2. The classic source hash is right for ADD of an archive and COPY of a plain file.
//! 3. `check_config` on the un-retouched model reports exactly the frontend's known
//!    deviations from these engines (listed below), so a fix or a regression shows up here.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use layerproof_verifier::classic_hash::{self, ContextFile};
use layerproof_verifier::config::{
    self, CheckOptions, CheckStatus, ConfigInputs, Engine, RunValues,
};
use layerproof_verifier::dockerfile::{
    self, BuildOptions, BuilderKind, Context, ImageModel, Platform, StageOutcome,
};
use sha2::{Digest, Sha256};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config_engines")
}

struct Rec {
    case: String,
    combo: String,
    engine: Engine,
    builder: BuilderKind,
    config: Vec<u8>,
}

fn recordings() -> Vec<Rec> {
    let prov: serde_json::Value =
        serde_json::from_slice(&fs::read(dir().join("PROVENANCE.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for (f, want) in prov["files"].as_object().unwrap() {
        let bytes = fs::read(dir().join(f)).unwrap();
        assert_eq!(
            Some(hex::encode(Sha256::digest(&bytes)).as_str()),
            want.as_str(),
            "{f} does not match PROVENANCE.json (recordings are never edited by hand)"
        );
        let Some((case, name)) = f.split_once('/') else {
            continue;
        };
        let Some(combo) = name.strip_suffix(".json") else {
            continue;
        };
        let (engine, builder) = combo.rsplit_once('-').unwrap();
        let version = prov["engines"][engine].as_str().unwrap();
        out.push(Rec {
            case: case.to_string(),
            combo: combo.to_string(),
            engine: Engine::from_docker_version(version).unwrap(),
            builder: if builder == "classic" {
                BuilderKind::Classic
            } else {
                BuilderKind::Buildkit
            },
            config: bytes,
        });
    }
    assert_eq!(out.len(), 16, "4 cases x 4 engine/builder combinations");
    out
}

fn platform(case: &str) -> &'static str {
    if case == "arm-variant" {
        "linux/arm/v7"
    } else {
        "linux/amd64"
    }
}

fn model(r: &Rec) -> ImageModel {
    let d = dir().join(&r.case);
    let df = dockerfile::parse(&fs::read_to_string(d.join("Dockerfile")).unwrap()).unwrap();
    let ctx = Context::read_dir(&d).unwrap();
    let opts = BuildOptions {
        builder: r.builder,
        build_args: Default::default(),
        platform: Platform::parse(platform(&r.case)).unwrap(),
        build_platform: None,
        target: None,
    };
    let ev = dockerfile::evaluate(&df, &opts, Some(&ctx)).unwrap();
    match &ev.stages[ev.target].outcome {
        StageOutcome::Image(m) => (**m).clone(),
        other => panic!("{}: {other:?}", r.case),
    }
}

/// The classic source hash of each layer step's (single) context file, mode 0644 as recorded.
fn source_hashes(r: &Rec, m: &ImageModel) -> Vec<Option<String>> {
    m.layers
        .iter()
        .map(|l| {
            let src = l.resolved.as_ref()?.first()?;
            let bytes = fs::read(dir().join(&r.case).join(&src.path)).ok()?;
            let f = ContextFile::new(src.path.clone(), 0o644, bytes.len() as u64);
            classic_hash::file_hash(&f, r.engine.context_tar(), &bytes[..]).ok()
        })
        .collect()
}

fn published(r: &Rec) -> serde_json::Value {
    serde_json::from_slice(&r.config).unwrap()
}

fn diff_ids(r: &Rec) -> Vec<String> {
    published(r)["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_writer_reproduces_every_recording() {
    let mut failures = Vec::new();
    let mut derived = 0;
    for r in recordings() {
        let mut m = model(&r);
        let p = published(&r);
        let ph = p["history"].as_array().unwrap();
        assert_eq!(ph.len(), m.history.len(), "{}/{}", r.case, r.combo);
        for (h, ph) in m.history.iter_mut().zip(ph) {
            h.created_by = ph["created_by"].as_str().unwrap().to_string();
        }
        let hashes = source_hashes(&r, &m);
        let diffs = diff_ids(&r);
        let inputs = ConfigInputs {
            model: &m,
            builder: r.builder,
            engine: r.engine,
            diff_ids: &diffs,
            source_hashes: &hashes,
        };
        let mut run = RunValues::from_published(&r.config).unwrap();
        let mut attempts = vec![("recorded config.Image", run.clone())];
        if r.builder == BuilderKind::Classic {
            run.parent_image = None;
            attempts.push(("derived config.Image", run));
        }
        for (how, run) in attempts {
            match config::image_config(&inputs, &run) {
                Ok(ours) if ours == r.config => {
                    if how.starts_with("derived") {
                        derived += 1;
                    }
                }
                Ok(ours) => failures.push(format!(
                    "{}/{} ({how}):\n  docker: {}\n  ours:   {}",
                    r.case,
                    r.combo,
                    String::from_utf8_lossy(&r.config),
                    String::from_utf8_lossy(&ours)
                )),
                // only a chain through a container step cannot be derived
                Err(config::Error::MissingRunValue(w))
                    if how.starts_with("derived") && w.starts_with("config.Image") => {}
                Err(e) => failures.push(format!("{}/{} ({how}): {e}", r.case, r.combo)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // two-layers and arm-variant on both engines: ADD (and COPY) before the last step
    assert_eq!(derived, 4, "classic parent chains derived");
}

#[test]
fn classic_source_hashes_of_add_and_copy() {
    let mut checked = 0;
    for r in recordings()
        .into_iter()
        .filter(|r| r.builder == BuilderKind::Classic)
    {
        let m = model(&r);
        let hashes = source_hashes(&r, &m);
        let lines = config::created_by_lines(&m, r.builder, Some(r.engine), &hashes);
        let p = published(&r);
        for l in m.layers.iter().filter(|l| l.instruction != "WORKDIR") {
            assert_eq!(
                p["history"][l.history_index]["created_by"].as_str(),
                Some(lines[l.history_index].as_str()),
                "{}/{}",
                r.case,
                r.combo
            );
            checked += 1;
        }
    }
    assert_eq!(
        checked, 10,
        "ADD in every case, COPY in two-layers, on both engines"
    );
}

/// Where the Dockerfile frontend's model (`dockerfile::eval`, not this crate's config writer)
/// differs from these engines, as `check_config` reports it. Each entry: case,
/// engine-builder, field. Both are history wording:
/// * `HEALTHCHECK`: both builders write Go's `%q` of the `*HealthConfig`
///   (`&{["CMD" "/bin/true"] "30s" "5s" "2s" '\x03'}`, 26.1 adds `"0s"` for StartInterval,
///   and the retry count is a quoted rune); the model writes `%+v`.
/// * BuildKit `EXPOSE`: `%v` of the port set, a Go map (`map[443/udp:{} 80/tcp:{}]`); the
///   model writes a list.
const KNOWN_FRONTEND_DEVIATIONS: &[(&str, &str, &str)] = &[
    (
        "metadata",
        "docker-20.10-buildkit",
        "history[10].created_by",
    ),
    ("metadata", "docker-20.10-buildkit", "history[7].created_by"),
    ("metadata", "docker-20.10-classic", "history[10].created_by"),
    ("metadata", "docker-26.1-buildkit", "history[10].created_by"),
    ("metadata", "docker-26.1-buildkit", "history[7].created_by"),
    ("metadata", "docker-26.1-classic", "history[10].created_by"),
];

#[test]
fn check_config_reports_only_the_known_frontend_deviations() {
    let mut seen = BTreeSet::new();
    for r in recordings() {
        let m = model(&r);
        let hashes = source_hashes(&r, &m);
        let diffs = diff_ids(&r);
        let checks = config::check_config(
            &r.config,
            &m,
            &CheckOptions {
                builder: None,
                source_hashes: &hashes,
                diff_ids: Some(&diffs),
            },
        );
        for c in checks {
            match c.status {
                CheckStatus::Match => {}
                CheckStatus::NotChecked { .. } => assert!(
                    c.field.ends_with("created")
                        || [
                            "docker_version",
                            "container",
                            "container_config",
                            "config.Image"
                        ]
                        .contains(&c.field.as_str()),
                    "{}/{}: {c:?}",
                    r.case,
                    r.combo
                ),
                CheckStatus::Differ => {
                    seen.insert((r.case.clone(), r.combo.clone(), c.field.clone()));
                    eprintln!(
                        "{}/{} {}: expected {} published {}",
                        r.case,
                        r.combo,
                        c.field,
                        c.expected.unwrap_or_default(),
                        c.published.unwrap_or_default()
                    );
                }
            }
        }
    }
    let known: BTreeSet<(String, String, String)> = KNOWN_FRONTEND_DEVIATIONS
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(seen, known);
}
