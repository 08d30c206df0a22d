//! Hermetic conformance: every case recorded from real Docker engines under `testdata/oracle/`
//! is rebuilt by layerproof and compared byte for byte (or refusal for refusal).
//!
//! Only the free parameters are taken from Docker's output (implied directories' wall-clock
//! mtimes, uname/gname of the Debian 20.10 build, the metadata of a plain-copied source); every
//! other byte must come from the input tarball. Fixture hashes are checked against each case's
//! PROVENANCE.json first, so a hand-edited fixture fails.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use layerproof_layer::Profile;
use layerproof_verifier::infer;
use layerproof_verifier::rebuild::{self, Outcome, Params, PlainFileMeta};
use sha2::{Digest, Sha256};

fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/oracle")
}

/// The profile that models each recorded engine (both builders go through the moby overlay2
/// Tarballer on the graphdriver store).
fn profile_for(engine_builder: &str) -> &'static Profile {
    let name = if engine_builder.starts_with("docker-20.10-") {
        "docker-20.10-debian"
    } else if engine_builder.starts_with("docker-26.1-") {
        "docker-24-27"
    } else {
        panic!("no profile mapped for recorded engine {engine_builder}")
    };
    Profile::by_name(name).unwrap_or_else(|| panic!("profile {name} is not shipped"))
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

fn opener(path: PathBuf) -> impl Fn() -> io::Result<Box<dyn Read + Send>> {
    move || Ok(Box::new(io::BufReader::new(fs::File::open(&path)?)) as Box<dyn Read + Send>)
}

/// The first line of Docker's error, without the builder's prefix.
fn docker_reason(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("");
    line.rsplit_once("failed to copy files: ")
        .map(|(_, r)| r)
        .unwrap_or(line)
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
            let profile = profile_for(build);
            let mut params = Params::new(profile, case.input.as_bytes().to_vec());
            let docker_layer = fs::read(out.join("layer.tar")).ok();
            if let Some(layer) = &docker_layer {
                let published = infer::from_layer(&layer[..]).unwrap();
                params.implied_times = published.dir_mtimes.clone();
                if published.has_names {
                    params.names = Some(published.names.clone());
                }
                if let Some((perm, mtime)) = published.files.get(case.input.as_bytes()) {
                    params.plain_file = PlainFileMeta {
                        perm: *perm,
                        mtime: *mtime,
                    };
                }
            }
            let result = rebuild::rebuild(&opener(input.clone()), &params, Vec::new());
            checked += 1;
            match (
                result,
                docker_layer,
                fs::read_to_string(out.join("refusal.txt")).ok(),
            ) {
                (Ok((ours, Outcome::Built(_))), Some(theirs), _) => {
                    if ours != theirs {
                        let diff =
                            layerproof_layer::compare::first_difference(&ours[..], &theirs[..])
                                .map(|d| d.map(|d| d.to_string()).unwrap_or_default())
                                .unwrap_or_else(|e| format!("(cannot compare: {e})"));
                        failures.push(format!(
                            "{}/{build} [{}]: layer differs\n{diff}",
                            case.name, profile.name
                        ));
                    }
                }
                (Ok((_, Outcome::Refused(r))), _, Some(text)) => {
                    let reason = docker_reason(&text);
                    let same = reason.contains(&r.message)
                        || matches!(
                            r.kind,
                            layerproof_archive::unpack::RefusalKind::CorruptArchive
                        );
                    if !same {
                        failures.push(format!(
                            "{}/{build}: both refuse, for different reasons:\n  docker: {reason}\n  ours:   {}",
                            case.name, r.message
                        ));
                    }
                }
                (Ok((_, Outcome::Refused(r))), Some(_), None) => failures.push(format!(
                    "{}/{build}: Docker built it, we refuse: {r}",
                    case.name
                )),
                (Ok((_, Outcome::Built(_))), None, Some(text)) => failures.push(format!(
                    "{}/{build}: Docker refused ({}), we build it",
                    case.name,
                    docker_reason(&text)
                )),
                (Err(e), _, _) => failures.push(format!("{}/{build}: error: {e}", case.name)),
                (_, None, None) => failures.push(format!(
                    "{}/{build}: fixture has neither layer.tar nor refusal.txt",
                    case.name
                )),
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
