//! Hermetic conformance against real engines: every `testdata/oracle/<case>/` whose input is a
//! plain `.tar` and whose engine folder holds a `layer.tar` is unpacked with the archive crate and
//! rewritten under the matching profile; the bytes must equal Docker's.
//!
//! Engine folder → profile: `docker-20.10-*` → `docker-20.10-debian` (its uid/gid → name table is
//! the oracle host's, recovered from the recorded layer with `NameTable::from_layer`),
//! `docker-26.1-*` → `docker-24-27`. Inputs that are not archives (Docker copies them) are skipped.
//! Cases with implied directories (wall-clock mtimes) are skipped here; the oracle xtask handles
//! them with the recorded build time.

use std::fs;
use std::path::Path;

use layerproof_archive::read::Reader as TarReader;
use layerproof_archive::skeleton::{Skeleton, SkeletonHasher};
use layerproof_archive::tree::Origin;
use layerproof_archive::unpack::Unpacker;
use layerproof_archive::{Timestamp, Tree};
use layerproof_layer::compare::first_difference;
use layerproof_layer::{LayerOptions, NameTable, Profile, skeleton_layer, write_layer};
use sha2::{Digest as _, Sha256};

fn profile_for(engine: &str) -> Option<&'static str> {
    if engine.starts_with("docker-20.10-") {
        Some("docker-20.10-debian")
    } else if engine.starts_with("docker-26.1-") {
        Some("docker-24-27")
    } else {
        None
    }
}

/// One recorded engine layer with its input and the profile of the engine that wrote it.
struct Recorded {
    label: String,
    profile: &'static Profile,
    input: Vec<u8>,
    layer: Vec<u8>,
}

fn recorded() -> Vec<Recorded> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/oracle");
    let Ok(cases) = fs::read_dir(&root) else {
        return Vec::new(); // no oracle fixtures committed yet
    };
    let mut out = Vec::new();
    for case in cases.flatten() {
        let dir = case.path();
        let case_name = case.file_name().to_string_lossy().into_owned();
        let Ok(input) = fs::read(dir.join(format!("{case_name}.tar"))) else {
            continue;
        };
        let Ok(engines) = fs::read_dir(&dir) else {
            continue;
        };
        for engine in engines.flatten() {
            let engine_name = engine.file_name().to_string_lossy().into_owned();
            let Some(profile) = profile_for(&engine_name).and_then(Profile::by_name) else {
                continue;
            };
            let Ok(layer) = fs::read(engine.path().join("layer.tar")) else {
                continue;
            };
            out.push(Recorded {
                label: format!("{case_name} / {engine_name} ({profile})"),
                profile,
                input: input.clone(),
                layer,
            });
        }
    }
    out
}

/// Unpack a recorded input under its profile (bodies kept or digests only); `None` for inputs
/// this test does not cover: not an archive (Docker copies the file), refused, or with implied
/// directories (wall-clock mtimes; the oracle xtask handles them with the recorded build time).
fn unpack(r: &Recorded, keep_content: bool) -> Option<Tree> {
    // Not an archive (no first header): Docker copies the file; not this test's job.
    if !matches!(TarReader::new(&r.input[..]).next_header(), Ok(Some(_))) {
        return None;
    }
    let mut opts = r.profile.unpack_options(Timestamp::EPOCH);
    opts.bodies = if keep_content {
        layerproof_archive::Bodies::Keep
    } else {
        layerproof_archive::Bodies::Digests
    };
    let mut unpacker = Unpacker::new(opts);
    let mut reader = TarReader::new(&r.input[..]);
    while let Some(hdr) = reader.next_header().expect("readable input") {
        unpacker.apply(&hdr, &mut reader.body()).ok()?;
    }
    let tree = unpacker.finish().ok()?.tree;
    let implied = tree
        .walk()
        .any(|w| tree.node(w.node).origin == Origin::Implied);
    (!implied).then_some(tree)
}

/// Debian's 20.10 looked names up on the oracle host: recover that table from the recorded
/// layer itself (the verifier's "inferred from a published layer" path).
fn names_for(r: &Recorded) -> NameTable {
    let inferred = NameTable::from_layer(&r.layer[..]).expect("recorded layer parses");
    if !inferred.is_empty() {
        return inferred;
    }
    let mut names = NameTable::new();
    names.insert_user(0, "root");
    names.insert_group(0, "root");
    names
}

/// The skeleton of a layer's bytes, as the tar reader tracks it.
fn skeleton_of(bytes: &[u8]) -> Option<Skeleton> {
    let mut reader = TarReader::new(bytes).observe(SkeletonHasher::new());
    while let Some(h) = reader.next_header().expect("layer parses") {
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut reader.body(), &mut body).expect("body");
        if h.typeflag != b'1' {
            reader.body_digest(&Sha256::digest(&body).into());
        }
    }
    reader
        .finish_observer()
        .expect("layer ends")
        .map(SkeletonHasher::finish)
}

#[test]
fn recorded_engine_layers_are_reproduced() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for r in recorded() {
        let Some(tree) = unpack(&r, true) else {
            continue;
        };
        let names = names_for(&r);
        let opts = LayerOptions::new(r.profile).with_names(&names);
        let (got, _) = write_layer(&tree, &opts, Vec::new()).expect("write");
        checked += 1;
        if let Some(d) = first_difference(&got[..], &r.layer[..]).unwrap() {
            failures.push(format!("{}:\n{d}", r.label));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{checked} recorded engine layers reproduced");
}

/// The verifier's fast path: a digest-only unpack and the skeleton of the layer we would
/// write equal the skeleton of the bytes real Docker wrote — and a profile that writes other
/// bytes gives another skeleton.
#[test]
fn skeletons_of_digest_only_trees_match_recorded_layers() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for r in recorded() {
        let Some(tree) = unpack(&r, false) else {
            continue;
        };
        assert!(!tree.content().keeps_bodies());
        let names = names_for(&r);
        let want = skeleton_of(&r.layer).expect("a recorded layer has a skeleton");
        let ours = skeleton_layer(&tree, &LayerOptions::new(r.profile).with_names(&names))
            .expect("skeleton");
        checked += 1;
        if ours.skeleton != want {
            failures.push(r.label.clone());
        }
        // the other engine generation writes other headers for the same tree
        let other = Profile::by_name(if r.profile.name == "docker-24-27" {
            "docker-20.10-debian"
        } else {
            "docker-24-27"
        })
        .expect("profile");
        let theirs =
            skeleton_layer(&tree, &LayerOptions::new(other).with_names(&names)).expect("skeleton");
        let other_bytes = write_layer(
            &unpack(&r, true).expect("unpacks"),
            &LayerOptions::new(other).with_names(&names),
            Vec::new(),
        )
        .expect("write")
        .0;
        assert_eq!(
            theirs.skeleton == want,
            other_bytes == r.layer,
            "{}: the skeleton and the bytes disagree under {other}",
            r.label
        );
    }
    assert!(checked > 100, "only {checked} recorded layers covered");
    assert!(
        failures.is_empty(),
        "{} of {checked} skeletons differ: {failures:?}",
        failures.len()
    );
}
