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

use layerproof_archive::Timestamp;
use layerproof_archive::read::Reader as TarReader;
use layerproof_archive::tree::Origin;
use layerproof_archive::unpack::Unpacker;
use layerproof_layer::compare::first_difference;
use layerproof_layer::{LayerOptions, NameTable, Profile, write_layer};

fn profile_for(engine: &str) -> Option<&'static str> {
    if engine.starts_with("docker-20.10-") {
        Some("docker-20.10-debian")
    } else if engine.starts_with("docker-26.1-") {
        Some("docker-24-27")
    } else {
        None
    }
}

#[test]
fn recorded_engine_layers_are_reproduced() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/oracle");
    let Ok(cases) = fs::read_dir(&root) else {
        return; // no oracle fixtures committed yet
    };
    let mut names = NameTable::new();
    names.insert_user(0, "root");
    names.insert_group(0, "root");
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in cases.flatten() {
        let dir = case.path();
        let case_name = case.file_name().to_string_lossy().into_owned();
        let input = dir.join(format!("{case_name}.tar"));
        let Ok(input_bytes) = fs::read(&input) else {
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
            let Ok(want) = fs::read(engine.path().join("layer.tar")) else {
                continue;
            };
            let mut unpacker = Unpacker::new(profile.unpack_options(Timestamp::EPOCH));
            let mut reader = TarReader::new(&input_bytes[..]);
            // Not an archive (no first header): Docker copies the file; not this test's job.
            if !matches!(TarReader::new(&input_bytes[..]).next_header(), Ok(Some(_))) {
                continue;
            }
            let mut ok = true;
            while let Some(hdr) = reader.next_header().expect("readable input") {
                if unpacker.apply(&hdr, &mut reader.body()).is_err() {
                    ok = false;
                    break;
                }
            }
            if !ok {
                continue;
            }
            let Ok(unpacked) = unpacker.finish() else {
                continue;
            };
            let tree = &unpacked.tree;
            if tree
                .walk()
                .any(|w| tree.node(w.node).origin == Origin::Implied)
            {
                continue;
            }
            // Debian's 20.10 looked names up on the oracle host: recover that table from the
            // recorded layer itself (the verifier's "inferred from a published layer" path).
            let inferred = NameTable::from_layer(&want[..]).expect("recorded layer parses");
            let names = if inferred.is_empty() {
                &names
            } else {
                &inferred
            };
            let opts = LayerOptions::new(profile).with_names(names);
            let (got, _) = write_layer(tree, &opts, Vec::new()).expect("write");
            checked += 1;
            if let Some(d) = first_difference(&got[..], &want[..]).unwrap() {
                failures.push(format!("{case_name} / {engine_name} ({profile}):\n{d}"));
            }
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
