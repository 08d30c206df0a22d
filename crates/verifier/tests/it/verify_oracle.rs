//! `verify` against every image real Docker engines built in `testdata/oracle/`.
//!
//! Each recorded build keeps Docker's own `config.json` and `layer.tar`; the test puts those
//! exact bytes into an OCI layout (the manifest around them is ours: Docker's graphdriver store
//! has none until a push) and verifies the case's Dockerfile and tarball against it. Every build
//! must be `reproduced` at level `blob` (the layer is stored uncompressed) with the profile of
//! the engine that built it, or one byte-identical to it. Tampering one byte of one file turns
//! the verdict into `different` naming that file; a tarball Docker refuses is `not-buildable`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use layerproof_image::{ImageRef, OpenOptions, PlatformSelector};
use layerproof_layer::Profile;
use layerproof_testkit::oracle;
use layerproof_verifier::report::{CandidateOutcome, Compared, PlatformReport};
use layerproof_verifier::verify::{
    self, Level, NoProgress, ProfileChoice, Report, Request, Verdict,
};
use sha2::{Digest, Sha256};

fn oracle_dir() -> PathBuf {
    oracle::committed_dir()
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// An OCI layout holding Docker's config and layer bytes as they are.
fn layout(dir: &Path, config: &[u8], layer: &[u8]) {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |b: &[u8]| {
        let d = digest(b);
        fs::write(blobs.join(&d[7..]), b).unwrap();
        d
    };
    let cd = put(config);
    let ld = put(layer);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": layer.len()}],
    });
    let mb = serde_json::to_vec(&manifest).unwrap();
    let md = put(&mb);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mb.len()}],
    });
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

fn request(dockerfile: &Path, context: &Path, image: &Path) -> Request {
    let mut limits = layerproof_archive::source::Options::default();
    limits.unpack.memory_budget = 16 << 20;
    Request {
        dockerfile: dockerfile.to_path_buf(),
        context: context.to_path_buf(),
        build_args: BTreeMap::new(),
        image: ImageRef::OciDir {
            path: image.to_path_buf(),
            selector: Default::default(),
        },
        open: OpenOptions::default(),
        platforms: PlatformSelector::Host,
        profile: ProfileChoice::Auto,
        blob_level: true,
        streamed: true,
        rootfs: None,
        limits,
    }
}

/// The one platform of a report in the single-platform shape.
fn single(report: &Report) -> Option<&PlatformReport> {
    report.platforms.last().filter(|_| !report.multi_platform)
}

/// `DIR/Dockerfile` with context `DIR` against a docker-archive.
fn archive_request(dir: &Path, archive: &Path) -> Request {
    let mut req = request(&dir.join("Dockerfile"), dir, archive);
    req.image = ImageRef::DockerArchive(archive.to_path_buf());
    req
}

/// Profiles that write the same bytes as the engine's own for a given case are equally right;
/// the engine's profile (that of its recorded `docker version`) must be among those that
/// reproduce it.
fn engine_profile(build: &oracle::Build) -> &'static Profile {
    Profile::for_docker_version(&build.engine_version).unwrap_or_else(|| {
        panic!(
            "no profile for the recorded Docker {}",
            build.engine_version
        )
    })
}

#[test]
fn every_recorded_image_is_reproduced() {
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut streamed = 0;
    let oracle = oracle::committed().unwrap_or_else(|e| panic!("{e}"));
    for (case, build) in oracle.builds() {
        let (Some(config), Some(layer)) = (build.config(), build.layer()) else {
            continue;
        };
        let (dir, name) = (&case.dir, &build.name);
        let case = &case.name;
        let image = tmp.path().join(format!("{case}-{name}"));
        layout(&image, &config, &layer);
        let req = request(&dir.join("Dockerfile"), dir, &image);
        checked += 1;
        // streamed where it applies (uncompressed layers on disk), then with both layers
        // read whole: the skeleton comparison
        let mut whole = req.clone();
        whole.streamed = false;
        let mut failed = false;
        for (req, expect) in [(&req, None), (&whole, Some(Compared::Skeleton))] {
            let report = match verify::verify(req, &NoProgress) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{case}/{name}: error: {e}"));
                    failed = true;
                    break;
                }
            };
            let layers = single(&report).map_or(&[][..], |p| p.layers.as_slice());
            // a fast path decided it: no layer written
            let how = layers.first().and_then(|l| {
                l.candidates
                    .iter()
                    .find(|c| c.outcome == CandidateOutcome::Match)
                    .and_then(|c| c.compared)
            });
            let ok = report.verdict == Verdict::Reproduced
                && report.level == Some(Level::Blob)
                && layers.len() == 1
                && layers[0].profile.is_some()
                && match expect {
                    Some(e) => how == Some(e),
                    None => matches!(how, Some(Compared::Streamed | Compared::Skeleton)),
                };
            if how == Some(Compared::Streamed) {
                streamed += 1;
            }
            if !ok {
                failures.push(format!(
                    "{case}/{name} ({}): {:?} {:?} by {how:?}\n{}",
                    if req.streamed { "streamed" } else { "whole" },
                    report.verdict,
                    report.level,
                    layerproof_verifier::report::human(
                        &report,
                        layerproof_verifier::report::Style::new(false)
                    )
                ));
                failed = true;
                break;
            }
        }
        if failed {
            continue;
        }
        // the engine's own profile reproduces it too
        let mut pinned = req.clone();
        pinned.profile = ProfileChoice::Named(engine_profile(build));
        match verify::verify(&pinned, &NoProgress) {
            Ok(r) if r.verdict == Verdict::Reproduced => {}
            Ok(r) => failures.push(format!(
                "{case}/{name}: the engine's profile {} gives {:?}",
                engine_profile(build),
                r.verdict
            )),
            Err(e) => failures.push(format!("{case}/{name}: pinned: {e}")),
        }
    }
    assert!(checked >= 200, "only {checked} recorded images found");
    // the rest give the streamed comparison up for a reason of their own (a path stored
    // twice, a name that escapes, a source copied as it is) and are decided whole
    assert!(
        streamed * 10 >= checked * 8,
        "only {streamed} of {checked} recorded images compared streamed"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} recorded images not reproduced:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The tiny example: one byte of one file changed in the tarball.
#[test]
fn one_tampered_byte_is_different_and_names_the_file() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tiny");
    let tmp = tempfile::tempdir().unwrap();
    let gz = fs::read(example.join("rootfs.tar.gz")).unwrap();
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut tar).unwrap();
    let at = tar
        .windows(18)
        .position(|w| w == b"Tiny is an example")
        .expect("README body in the example tarball");
    tar[at] ^= 0x20;
    fs::write(tmp.path().join("rootfs.tar.gz"), &tar).unwrap();
    fs::copy(example.join("Dockerfile"), tmp.path().join("Dockerfile")).unwrap();
    for image in ["image-docker-20.10.tar", "image-docker-26.1.tar"] {
        let req = archive_request(tmp.path(), &example.join(image));
        let report = verify::verify(&req, &NoProgress).unwrap();
        assert_eq!(report.verdict, Verdict::Different, "{image}");
        let layer = &single(&report).unwrap().layers[0];
        // skeletons differed, so every candidate was then written and hashed
        assert!(
            layer
                .candidates
                .iter()
                .all(|c| c.compared == Some(Compared::Bytes) && c.diff_id.is_some()),
            "{image}: {:?}",
            layer.candidates
        );
        let diff = layer.differences.as_ref().unwrap();
        assert!(!diff.content_equivalent);
        assert_eq!(diff.entries.len(), 1, "{image}: {:?}", diff.entries);
        assert_eq!(diff.entries[0].path, "/usr/share/doc/tiny/README");
        assert_eq!(diff.entries[0].fields[0].field, "content");
        // the untampered tarball reproduces
        let mut good = req.clone();
        good.dockerfile = example.join("Dockerfile");
        good.context = example.clone();
        let report = verify::verify(&good, &NoProgress).unwrap();
        assert_eq!(report.verdict, Verdict::Reproduced, "{image}");
    }
}

/// A tarball Docker refuses, against an image that claims to come from it.
#[test]
fn a_refused_tarball_is_not_buildable() {
    let case = oracle_dir().join("dir-replaced-by-file");
    let build = case.join("docker-26.1-buildkit");
    assert!(
        build.join("refusal.txt").is_file(),
        "the case records a refusal"
    );
    // any image will do: Docker could not have built one from this tarball
    let other = oracle_dir().join("empty-dirs/docker-26.1-buildkit");
    let tmp = tempfile::tempdir().unwrap();
    layout(
        tmp.path(),
        &fs::read(other.join("config.json")).unwrap(),
        &fs::read(other.join("layer.tar")).unwrap(),
    );
    let req = request(&case.join("Dockerfile"), &case, tmp.path());
    let report = verify::verify(&req, &NoProgress).unwrap();
    assert_eq!(report.verdict, Verdict::NotBuildable);
    let layer = &single(&report).unwrap().layers[0];
    let refusal = layer.refusal.as_ref().unwrap();
    assert!(
        refusal.message.contains("not a directory"),
        "{}",
        refusal.message
    );
}

/// The same layer under a Dockerfile with another CMD: the config check names the field.
#[test]
fn a_changed_cmd_is_different_in_the_config() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tiny");
    let tmp = tempfile::tempdir().unwrap();
    fs::copy(
        example.join("rootfs.tar.gz"),
        tmp.path().join("rootfs.tar.gz"),
    )
    .unwrap();
    let df = fs::read_to_string(example.join("Dockerfile")).unwrap();
    fs::write(
        tmp.path().join("Dockerfile"),
        df.replace("CMD [\"/bin/sh\"]", "CMD [\"/bin/bash\"]"),
    )
    .unwrap();
    for image in ["image-docker-20.10.tar", "image-docker-26.1.tar"] {
        let req = archive_request(tmp.path(), &example.join(image));
        let report = verify::verify(&req, &NoProgress).unwrap();
        assert_eq!(report.verdict, Verdict::Different, "{image}");
        let layer = &single(&report).unwrap().layers[0];
        assert_eq!(
            layer.verdict,
            Verdict::Reproduced,
            "{image}: the layer itself is fine"
        );
        let differ: Vec<&str> = single(&report)
            .unwrap()
            .config
            .iter()
            .filter(|c| c.status == layerproof_verifier::config::CheckStatus::Differ)
            .map(|c| c.field.as_str())
            .collect();
        assert!(differ.contains(&"config.Cmd"), "{image}: {differ:?}");
        assert!(
            single(&report)
                .unwrap()
                .notes
                .iter()
                .any(|n| n.contains("config.Cmd")),
            "{image}"
        );
    }
}
