//! Every image config recorded from real engines under `testdata/oracle/` is reproduced byte
//! for byte (so its image ID too) from the Dockerfile, the input file and only the
//! run-dependent values the config itself carries (`history[].created`, `container`,
//! `docker_version`); `config.Image` of the classic builder is derived, not taken.
//!
//! The classic builder's `ADD file:<hash> in / ` is computed from the input file as the
//! recording put it into the build context (`xtask/src/oracle.rs` pins it to mode 0644).
//! Fixture hashes are checked against PROVENANCE.json first, so a hand-edited fixture fails.

use std::fs;
use std::path::PathBuf;

use layerproof_testkit::oracle;
use layerproof_verifier::classic_hash::{self, ContextFile};
use layerproof_verifier::config::{
    self, CheckOptions, CheckStatus, ConfigInputs, Engine, RunValues,
};
use layerproof_verifier::dockerfile::{
    self, BuildOptions, BuilderKind, ImageModel, Platform, StageOutcome,
};
use sha2::{Digest, Sha256};

/// Mode of the ADD source in the recordings' build context (`xtask/src/oracle.rs`).
const CONTEXT_MODE: u32 = 0o644;

struct Build {
    case: String,
    combo: String,
    dir: PathBuf,
    input: String,
    /// The input file is in the repository (the large real rootfs is not).
    committed: bool,
    engine: Engine,
    builder: BuilderKind,
}

fn builds() -> Vec<Build> {
    let oracle = oracle::committed().unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    for (case, build) in oracle.builds() {
        if build.config().is_none() {
            continue; // the engine refused the build
        }
        out.push(Build {
            case: case.name.clone(),
            combo: build.name.clone(),
            dir: case.dir.clone(),
            input: case.input.clone(),
            committed: case.provenance["input"]["committed"]
                .as_bool()
                .unwrap_or(true),
            engine: Engine::from_docker_version(&build.engine_version).unwrap(),
            builder: match build.builder {
                oracle::Builder::Classic => BuilderKind::Classic,
                oracle::Builder::Buildkit => BuilderKind::Buildkit,
            },
        });
    }
    out
}

fn model(b: &Build) -> ImageModel {
    let text = fs::read_to_string(b.dir.join("Dockerfile")).unwrap();
    let df = dockerfile::parse(&text).unwrap();
    let opts = BuildOptions {
        builder: b.builder,
        build_args: Default::default(),
        platform: Platform::parse("linux/amd64").unwrap(),
        build_platform: None,
        target: None,
    };
    let ev = dockerfile::evaluate(&df, &opts, None).unwrap();
    match &ev.stages[ev.target].outcome {
        StageOutcome::Image(m) => (**m).clone(),
        other => panic!("{}: stage is not a modelled image: {other:?}", b.case),
    }
}

/// The classic source hash of the build's input, one per layer step.
fn source_hashes(b: &Build, m: &ImageModel) -> Vec<Option<String>> {
    if b.builder == BuilderKind::Buildkit {
        return vec![None; m.layers.len()];
    }
    let path = b.dir.join(&b.input);
    let bytes = fs::read(&path).unwrap();
    let file = ContextFile::new(b.input.clone(), CONTEXT_MODE, bytes.len() as u64);
    let h = classic_hash::file_hash(&file, b.engine.context_tar(), &bytes[..]).unwrap();
    vec![Some(h); m.layers.len()]
}

fn diff_ids(b: &Build) -> Vec<String> {
    let text = fs::read_to_string(b.dir.join(&b.combo).join("diff_id")).unwrap();
    text.split_whitespace().map(str::to_string).collect()
}

/// Which builds cannot be fully checked here: a classic build whose input file is not in the
/// repository has no computable source hash.
fn needs_input(b: &Build) -> bool {
    b.builder == BuilderKind::Classic && !b.committed
}

#[test]
fn every_classic_source_hash_matches_the_recorded_history() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for b in builds()
        .iter()
        .filter(|b| b.builder == BuilderKind::Classic)
    {
        if needs_input(b) {
            continue;
        }
        let m = model(b);
        let hashes = source_hashes(b, &m);
        let published: serde_json::Value =
            serde_json::from_slice(&fs::read(b.dir.join(&b.combo).join("config.json")).unwrap())
                .unwrap();
        let lines = config::created_by_lines(&m, b.builder, Some(b.engine), &hashes);
        for step in &m.layers {
            let want = published["history"][step.history_index]["created_by"].as_str();
            if want != Some(lines[step.history_index].as_str()) {
                failures.push(format!(
                    "{}/{}: docker wrote {want:?}, we computed {:?}",
                    b.case, b.combo, lines[step.history_index]
                ));
            }
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let all = builds();
    let classic = all
        .iter()
        .filter(|b| b.builder == BuilderKind::Classic)
        .count();
    let skipped = all.iter().filter(|b| needs_input(b)).count();
    assert_eq!(checked + skipped, classic);
    assert!(checked >= 100, "only {checked} classic builds found");
}

#[test]
fn every_recorded_config_is_reproduced_byte_for_byte() {
    let all = builds();
    let mut checked = 0;
    let mut derived_parent = 0;
    let mut failures = Vec::new();
    for b in &all {
        if needs_input(b) {
            continue;
        }
        let published = fs::read(b.dir.join(&b.combo).join("config.json")).unwrap();
        let m = model(b);
        let hashes = source_hashes(b, &m);
        let diffs = diff_ids(b);
        let inputs = ConfigInputs {
            model: &m,
            builder: b.builder,
            engine: b.engine,
            diff_ids: &diffs,
            source_hashes: &hashes,
        };
        let mut run = RunValues::from_published(&published).unwrap();
        let mut attempts = vec![("config.Image taken from the recording", run.clone())];
        if b.builder == BuilderKind::Classic {
            run.parent_image = None;
            attempts.push(("config.Image derived", run));
        }
        for (how, run) in attempts {
            match config::image_config(&inputs, &run) {
                Ok(ours) if ours == published => {
                    assert_eq!(
                        config::image_id(&ours),
                        format!("sha256:{}", hex::encode(Sha256::digest(&published)))
                    );
                    if run.parent_image.is_none() && b.builder == BuilderKind::Classic {
                        derived_parent += 1;
                    }
                }
                Ok(ours) => failures.push(format!(
                    "{}/{} ({how}):\n  docker: {}\n  ours:   {}",
                    b.case,
                    b.combo,
                    String::from_utf8_lossy(&published),
                    String::from_utf8_lossy(&ours)
                )),
                Err(e) => failures.push(format!("{}/{} ({how}): {e}", b.case, b.combo)),
            }
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {} configs differ:\n{}",
        failures.len(),
        checked,
        failures.join("\n")
    );
    let skipped = all.iter().filter(|b| needs_input(b)).count();
    assert_eq!(checked + skipped, all.len());
    assert!(checked >= 200, "only {checked} configs found");
    let classic_checked = all
        .iter()
        .filter(|b| b.builder == BuilderKind::Classic && !needs_input(b))
        .count();
    assert_eq!(derived_parent, classic_checked);
}

#[test]
fn every_recorded_config_passes_the_field_checks() {
    let mut failures = Vec::new();
    for b in builds() {
        let published = fs::read(b.dir.join(&b.combo).join("config.json")).unwrap();
        let m = model(&b);
        let hashes = if needs_input(&b) {
            vec![None; m.layers.len()]
        } else {
            source_hashes(&b, &m)
        };
        let diffs = diff_ids(&b);
        assert_eq!(
            config::detect_builder(&published),
            Some(b.builder),
            "{}/{}",
            b.case,
            b.combo
        );
        let checks = config::check_config(
            &published,
            &m,
            &CheckOptions {
                builder: None,
                source_hashes: &hashes,
                diff_ids: Some(&diffs),
            },
        );
        let unhashed: Vec<String> = m
            .layers
            .iter()
            .map(|l| format!("history[{}].created_by", l.history_index))
            .collect();
        for c in &checks {
            let expect_not_checked = c.field.ends_with("created")
                || matches!(
                    c.field.as_str(),
                    "docker_version" | "container" | "container_config" | "config.Image"
                )
                || (needs_input(&b) && unhashed.contains(&c.field));
            match (&c.status, expect_not_checked) {
                (CheckStatus::Match, false) | (CheckStatus::NotChecked { .. }, true) => {}
                _ => failures.push(format!("{}/{}: {c:?}", b.case, b.combo)),
            }
        }
        assert!(checks.iter().any(|c| c.field == "config.Cmd"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The checks see real differences: a published config altered in memory.
#[test]
fn field_checks_report_differences() {
    let b = builds()
        .into_iter()
        .find(|b| b.case == "block-device" && b.combo == "docker-26.1-classic")
        .expect("the block-device case");
    let m = model(&b);
    let hashes = source_hashes(&b, &m);
    let text = fs::read_to_string(b.dir.join(&b.combo).join("config.json")).unwrap();
    let h = hashes[0].clone().unwrap();
    let altered = text
        .replace("\"Cmd\":[\"/bin/sh\"]", "\"Cmd\":[\"/bin/bash\"]")
        .replace(&h, &format!("file:{}", "0".repeat(64)))
        .replace("\"os\":\"linux\"", "\"os\":\"windows\"");
    assert_ne!(altered, text);
    let checks = config::check_config(
        altered.as_bytes(),
        &m,
        &CheckOptions {
            builder: Some(BuilderKind::Classic),
            source_hashes: &hashes,
            diff_ids: None,
        },
    );
    let differ: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Differ)
        .map(|c| c.field.as_str())
        .collect();
    assert_eq!(differ, ["os", "config.Cmd", "history[0].created_by"]);
    let json = serde_json::to_value(&checks).unwrap();
    assert!(
        json.as_array()
            .unwrap()
            .iter()
            .any(|c| c["status"] == "not-checked" && c["field"] == "docker_version")
    );
    let bad = config::check_config(b"not json", &m, &CheckOptions::default());
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].status, CheckStatus::Differ);
}
