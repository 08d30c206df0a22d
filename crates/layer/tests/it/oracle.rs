//! The verifier's fast path against real engines: for every `testdata/oracle/<case>/` whose
//! input is a plain `<case>.tar` and whose engine folder holds a `layer.tar`, the skeleton of
//! the layer written from a digest-only tree under the matching profile equals the skeleton of
//! Docker's bytes. That the layer bytes themselves are Docker's is the verifier's
//! `oracle_conformance` test, over every recorded build (a superset of these).
//!
//! Engine → profile: the profile of the recorded `docker version` (`Profile::for_docker_version`):
//! Debian's 20.10 → `docker-20.10-debian` (its uid/gid → name table is the oracle host's,
//! recovered from the recorded layer with `NameTable::from_layer`), 26.1 → `docker-24-27`. Inputs that are not archives (Docker copies them) are skipped,
//! and so are cases with implied directories (wall-clock mtimes; the verifier's tests take
//! them from the recorded layer). The fixtures come from the shared walker, which checks them
//! against their PROVENANCE.json first.

use layerproof_archive::read::Reader as TarReader;
use layerproof_archive::skeleton::{Skeleton, SkeletonHasher};
use layerproof_archive::tree::Origin;
use layerproof_archive::unpack::Unpacker;
use layerproof_archive::{Timestamp, Tree};
use layerproof_layer::{LayerOptions, NameTable, Profile, skeleton_layer, write_layer};
use layerproof_testkit::oracle;
use sha2::{Digest as _, Sha256};

/// One recorded engine layer with its input and the profile of the engine that wrote it.
struct Recorded {
    label: String,
    profile: &'static Profile,
    input: Vec<u8>,
    layer: Vec<u8>,
}

fn recorded() -> Vec<Recorded> {
    let oracle = oracle::committed().unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    for (case, build) in oracle.builds() {
        let Ok(input) = std::fs::read(case.dir.join(format!("{}.tar", case.name))) else {
            continue;
        };
        let profile = Profile::for_docker_version(&build.engine_version).unwrap_or_else(|| {
            panic!(
                "no profile for the recorded Docker {}",
                build.engine_version
            )
        });
        let Some(layer) = build.layer() else {
            continue;
        };
        out.push(Recorded {
            label: format!("{} / {} ({profile})", case.name, build.name),
            profile,
            input,
            layer,
        });
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
