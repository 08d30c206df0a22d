//! Hermetic conformance: every case recorded from real Docker engines under `testdata/oracle/`
//! is rebuilt by layerproof and compared byte for byte (or refusal for refusal).
//!
//! Only the free parameters are taken from Docker's output (implied directories' wall-clock
//! mtimes, uname/gname of the Debian 20.10 build, the metadata of a plain-copied source); every
//! other byte must come from the input tarball. Fixture hashes are checked against each case's
//! PROVENANCE.json first, so a hand-edited fixture fails.

use std::fs;
use std::path::{Path, PathBuf};

use layerproof_verifier::conformance::{self, Docker, Verdict};
use sha2::{Digest, Sha256};

fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/oracle")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

struct Case {
    dir: PathBuf,
    name: String,
    input: String,
    builds: Vec<String>,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let root = oracle_dir();
    let mut dirs: Vec<_> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("PROVENANCE.json").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let prov: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("PROVENANCE.json")).unwrap()).unwrap();
        // Hand-edited fixtures fail here.
        let files = prov["files"]
            .as_object()
            .expect("PROVENANCE.json maps each file to its sha256");
        for (f, want) in files {
            let bytes =
                fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{}: {f}: {e}", dir.display()));
            assert_eq!(
                Some(sha256_hex(&bytes).as_str()),
                want.as_str(),
                "{}/{f} does not match PROVENANCE.json (fixtures are never edited by hand)",
                dir.display()
            );
        }
        out.push(Case {
            name: prov["case"].as_str().unwrap().to_string(),
            input: prov["input"]["file"].as_str().unwrap().to_string(),
            builds: prov["builds"]
                .as_object()
                .expect("PROVENANCE.json has builds")
                .keys()
                .cloned()
                .collect(),
            dir,
        });
    }
    out
}

#[test]
fn every_recorded_case_is_reproduced_byte_for_byte() {
    let cases = cases();
    assert!(
        !cases.is_empty(),
        "no oracle cases under {}",
        oracle_dir().display()
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &cases {
        let input = case.dir.join(&case.input);
        if !input.is_file() {
            // Large cases (the real Debian rootfs) are not committed; the live oracle covers them.
            continue;
        }
        for build in &case.builds {
            let out = case.dir.join(build);
            let engine = build.rsplit_once('-').map_or(build.as_str(), |(e, _)| e);
            let profile = conformance::profile_for_engine(engine)
                .unwrap_or_else(|| panic!("no profile mapped for recorded engine {engine}"));
            let layer = fs::read(out.join("layer.tar")).ok();
            let refusal = fs::read_to_string(out.join("refusal.txt")).ok();
            let docker = match (&layer, &refusal) {
                (Some(l), _) => Docker::Layer(l),
                (None, Some(r)) => Docker::Refused(r),
                (None, None) => {
                    failures.push(format!(
                        "{}/{build}: neither layer.tar nor refusal.txt",
                        case.name
                    ));
                    continue;
                }
            };
            checked += 1;
            if let Verdict::Mismatch(why) = conformance::check(&input, &case.input, profile, docker)
            {
                failures.push(format!("{}/{build}: {why}", case.name));
            }
        }
    }
    eprintln!(
        "oracle conformance: {checked} recorded builds checked over {} cases",
        cases.len()
    );
    assert!(checked > 0);
    assert!(
        failures.is_empty(),
        "{} of {checked} recorded builds not reproduced:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
